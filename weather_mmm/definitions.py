"""The code location: ties assets/, resources/ and sensors/ into one ``dg.Definitions``.

The only module of the ``weather_mmm`` package that imports Dagster.
"""

import dagster as dg

import assets.allocation
import assets.causal
import assets.features
import assets.mmm
import assets.models
import assets.simulation
import assets.weather
from resources import WeatherSource, console_logger, warehouse_io_manager, warehouse_resource
from sensors.failures import run_failure_recorder
from sensors.jobs import JOBS
from sensors.rollbacks import rollback_model_job, rolled_back_plans_sensor
from sensors.schedules import daily_tenant_data_schedule, daily_weather_schedule, weekly_model_schedule
from sensors.tenant_files import plan_constraints_sensor, priors_sensor
from sensors.weather_files import weather_files_sensor

MODULES = [assets.weather, assets.simulation, assets.features, assets.models, assets.mmm, assets.causal, assets.allocation]

def build_definitions() -> dg.Definitions:
    """The Definitions with resources read from the environment now (the warehouse path, weather source):
    the command line builds them per call, so a changed setting is never served from a stale module."""
    return dg.Definitions(
        assets=dg.load_assets_from_modules(MODULES),
        asset_checks=dg.load_asset_checks_from_modules(MODULES),
        jobs=[*JOBS, rollback_model_job],
        schedules=[daily_weather_schedule, daily_tenant_data_schedule, weekly_model_schedule],
        sensors=[weather_files_sensor, plan_constraints_sensor, priors_sensor, rolled_back_plans_sensor,
                 run_failure_recorder],
        loggers={"console": console_logger},
        resources={
            "warehouse_io_manager": warehouse_io_manager(),
            "duckdb": warehouse_resource(),
            "weather_source": WeatherSource.from_env(),
        },
    )


defs = build_definitions()
