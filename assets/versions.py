"""Code versions of the asset families, and the fingerprint of what each run reads.

Every materialization carries Dagster's ``dagster/code_version`` (a fingerprint of the sources that compute
it) and a logical ``dagster/data_version``: a fingerprint of that code version and of everything the run
read (weather source, weather rows, catalog row, model matrix, settings), as Dagster derives data versions
from code and input versions when none is given
(https://docs.dagster.io/guides/build/assets/asset-versioning-and-caching). A partition is up to date when
its latest materialization has the data version a run would give it now; ``sensors.jobs`` skips runs whose
partitions are all up to date.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import dagster as dg
import polars as pl

from weather_mmm import settings
from weather_mmm.allocation import standing
from weather_mmm.models import priors
from weather_mmm.versions import fingerprint, source_version
from weather_mmm.weather.climatology import CLIMATOLOGY_FILE

#: What every family's values can depend on: the settings' constants and the warehouse's readers and IO manager.
#: Not the fingerprint code (``weather_mmm/versions.py``, this module): a change there that matters changes the
#: data versions it computes, and one that does not (a new helper) should not rerun every asset. Nor the
#: console logger or the Dagster instance's set-up, which compute no value.
_COMMON = ("weather_mmm/settings.py", "resources/warehouse.py")
WEATHER_CODE = source_version(*_COMMON, "weather_mmm/weather", "resources/weather.py", "assets/weather.py")
TENANT_DATA_CODE = source_version(*_COMMON, "weather_mmm/weather", "weather_mmm/simulation",
                                  "assets/simulation.py")
FEATURES_CODE = source_version(*_COMMON, "weather_mmm/features", "assets/features.py")
#: The baselines and the MMM read the models package but for each other's modules, so that a change to the
#: baselines does not refit every MMM (about 18 minutes in the main job), nor one to the MMM refit the baselines.
_BASELINES_ONLY = ("weather_mmm/models/baselines.py", "weather_mmm/models/quality.py", "weather_mmm/models/bike_demand.py")
_MMM_ONLY = ("weather_mmm/models/mmm.py", "weather_mmm/models/lightweight.py", "weather_mmm/models/mmm_quality.py",
             "weather_mmm/models/priors.py", "weather_mmm/models/store.py")
BASELINES_CODE = source_version(*_COMMON, "weather_mmm/features", "weather_mmm/models", "assets/models.py",
                                exclude=_MMM_ONLY)
MMM_CODE = source_version(*_COMMON, "weather_mmm/features", "weather_mmm/models", "weather_mmm/tenant_files.py",
                          "assets/models.py", "assets/mmm.py", exclude=_BASELINES_ONLY)
EVIDENCE_CODE = source_version(*_COMMON, "weather_mmm/causal.py", "assets/causal.py")
ALLOCATION_CODE = source_version(*_COMMON, "weather_mmm/models", "weather_mmm/allocation", "weather_mmm/weather",
                                 "weather_mmm/tenant_files.py", "assets/allocation.py", exclude=_BASELINES_ONLY)


def data_version(code_version: str, input_version: str) -> str:
    """The logical data version of an output computed by ``code_version`` from inputs ``input_version``."""
    return fingerprint(code_version, input_version)


def versioned(value: pl.DataFrame, output_name: str, code_version: str, input_version: str) -> dg.Output:
    """``value`` as the output ``output_name``, with its logical data version."""
    return dg.Output(value, output_name, data_version=dg.DataVersion(data_version(code_version, input_version)))


def tenant_data_inputs(conn, tenant: str, end: dt.date) -> str:
    """Fingerprint of what a tenant's sales, spend and features read: its catalog row, the weather of its
    cities from the calendar start to ``end``, its imported files (if any) and ``end``."""
    catalog = pl.from_arrow(conn.execute("select * from main.tenant_catalog where tenant = ?", [tenant]).to_arrow_table())
    if catalog.is_empty():
        raise ValueError(f"tenant {tenant} is not in tenant_catalog; materialize the catalog first")
    geos = list(json.loads(catalog["geos"][0]))
    weather = pl.from_arrow(conn.execute(
        "select * from main.weather_daily where city in (select unnest(?::varchar[])) and date between ? and ? "
        "order by city, date", [geos, settings.CALENDAR_START, end]).to_arrow_table())
    return fingerprint(catalog, weather, settings.imports_dir() / tenant, end.isoformat(), CLIMATOLOGY_FILE)


def tenant_model_inputs(matrix: pl.DataFrame, data: dict) -> str:
    """Fingerprint of what a tenant's models read: its model matrix (the baselines), its geos' sales, spend and
    weather over the matrix's days (``data``: ``assets.models.model_tables``; the MMM is fitted per geo, so
    moving sales between geos changes it even when the tenant's totals do not), its geos and the MMM settings
    (``WEATHER_MMM_MMM_*`` variables). The MMM also reads the tenant's lift tests and stated priors: :func:`mmm_inputs`."""
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith("WEATHER_MMM_MMM_"))
    return fingerprint(matrix.sort("date"), data["sales"], data["spend"], data["weather"],
                       json.dumps(data["geos"], sort_keys=True), json.dumps(env), CLIMATOLOGY_FILE)


def evidence_inputs(tables: dict, forecasts: pl.DataFrame | None) -> str:
    """Fingerprint of what a tenant's weather evidence reads: its geos' sales, spend and weather
    (``resources.warehouse.tenant_tables``), its channels and the forecasts its spend was planned on (none: no
    table yet, or no rows for the tenant, alike)."""
    return fingerprint(tables["sales"], tables["spend"], tables["weather"], json.dumps(tables["channels"]),
                       forecasts if forecasts is not None and forecasts.height else "no forecasts")


def mmm_inputs(model_inputs: str, experiments: pl.DataFrame, priors: str) -> str:
    """Fingerprint of what a tenant's MMM reads: the model inputs (:func:`tenant_model_inputs`), its lift
    tests (``tenant_experiments`` rows) and the ROAS priors its team stated (:func:`stated_priors`), which the
    baselines do not read. The model run writes the lift tests before the fit, so the baselines' inputs must not
    depend on them."""
    return fingerprint(model_inputs, experiments, priors)


def stated_priors(tenant: str) -> str:
    """What ``tenant``'s MMM reads of the priors file: ``weather_mmm.models.priors.fingerprints`` of its entry ('' for
    none; a file that cannot be read: its error)."""
    try:
        return priors.fingerprints(settings.priors_path()).get(tenant, "")
    except priors.PriorsError as error:
        return f"invalid: {error}"


def standing_constraints(tenant: str) -> str:
    """What a run without config plans ``tenant`` with: ``weather_mmm.allocation.standing.fingerprints`` of the
    standing-constraints file for it ('' without any; a file that cannot be read: its error)."""
    try:
        return standing.fingerprints(settings.plan_constraints_path()).get(tenant, "")
    except standing.PlanConstraintsError as error:
        return f"invalid: {error}"


def allocation_inputs(model_inputs: str, model_version: str | None, margin: float | None, constraints: str) -> str:
    """Fingerprint of what an allocation reads: the model inputs (``tenant_model_inputs``), the model version
    it plans from, the tenant's contribution margin, the constraints it plans under
    (``weather_mmm.tenant_files.entry_fingerprint``; '' for the defaults), the horizon, the risk aversion and
    the forecast (a file's bytes; the API's forecast is new every day)."""
    forecast = os.environ.get("WEATHER_MMM_FORECAST_FILE")
    source = os.environ.get("WEATHER_MMM_FORECAST_SOURCE", "simulated")
    return fingerprint(model_inputs, model_version or "no usable model version", str(margin), constraints,
                       os.environ.get("WEATHER_MMM_HORIZON_DAYS", "default horizon"),
                       os.environ.get("WEATHER_MMM_RISK_AVERSION", "default risk aversion"),
                       Path(forecast) if forecast else f"api {dt.date.today()}" if source == "api" else source)
