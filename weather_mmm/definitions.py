"""The code location: ties assets/, resources/ and sensors/ into one ``dg.Definitions``.

The only module of the ``weather_mmm`` package that imports Dagster.
"""

import dagster as dg

import assets.allocation
import assets.features
import assets.mmm
import assets.models
import assets.simulation
import assets.weather
from resources import WeatherSource, warehouse_io_manager, warehouse_resource
from sensors.jobs import JOBS

MODULES = [assets.weather, assets.simulation, assets.features, assets.models, assets.mmm, assets.allocation]

def build_definitions() -> dg.Definitions:
    """The Definitions with resources read from the environment now (the warehouse path, weather source):
    the command line builds them per call, so a changed setting is never served from a stale module."""
    return dg.Definitions(
        assets=dg.load_assets_from_modules(MODULES),
        asset_checks=dg.load_asset_checks_from_modules(MODULES),
        jobs=JOBS,
        resources={
            "warehouse_io_manager": warehouse_io_manager(),
            "duckdb": warehouse_resource(),
            "weather_source": WeatherSource.from_env(),
        },
    )


defs = build_definitions()
