"""Asset jobs, and the in-process runner the command line uses for the main job.

The runner is incremental: before each run it compares the data version of the latest materialization of
every partition the run would write with the one the current code and inputs give (``assets.versions``),
and skips the run when all match.
"""

import datetime as dt
import time
from collections.abc import Callable

import dagster as dg
from dagster._core.definitions.data_version import DATA_VERSION_TAG
from dagster._core.events import DagsterEventType

from assets.allocation import budget_allocation
from assets.causal import weather_evidence
from assets.features import tenant_features
from assets.mmm import mmm_fit
from assets.models import baseline_fit, model_tables, tenant_matrix
from assets.simulation import tenant_catalog, tenant_sales_and_spend, tenant_truth
from assets.versions import (allocation_inputs, data_version, evidence_inputs, mmm_inputs, standing_constraints,
                             stated_priors, tenant_data_inputs, tenant_model_inputs)
from assets.weather import weather_daily
from resources.warehouse import tenant_forecasts, tenant_tables
from weather_mmm import settings
from weather_mmm.errors import WeatherMMMError
from weather_mmm.models import store
from weather_mmm.reports import open_warehouse
from weather_mmm.simulation.importer import tenant_margin

weather_job = dg.define_asset_job("weather_job", selection=[weather_daily], description="weather_daily for a date range.")
catalog_job = dg.define_asset_job("catalog_job", selection=[tenant_catalog], description="The tenant catalog and its partitions.")
# Per-tenant runs leave out the table-wide checks; they run once after all tenants (tenant_checks_job).
tenant_data_job = dg.define_asset_job(
    "tenant_data_job", selection=dg.AssetSelection.assets(tenant_sales_and_spend, tenant_features).without_checks(),
    description="Sales, spend and features of one tenant over a date range.")
tenant_model_job = dg.define_asset_job(
    "tenant_model_job",
    selection=dg.AssetSelection.assets(tenant_truth, baseline_fit, mmm_fit, weather_evidence, budget_allocation).without_checks(),
    description="Ground truth, models, weather evidence and budget allocation of one tenant.")
TENANT_ASSETS = (tenant_sales_and_spend, tenant_truth, tenant_features, baseline_fit, mmm_fit, weather_evidence, budget_allocation)
tenant_checks_job = dg.define_asset_job(
    "tenant_checks_job", selection=dg.AssetSelection.checks_for_assets(*TENANT_ASSETS),
    description="The tenant tables' and models' checks, over every tenant.")

JOBS = [weather_job, catalog_job, tenant_data_job, tenant_model_job, tenant_checks_job]
#: Console logging for command-line runs: warnings and errors only (the UI keeps the full event log).
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def range_tags(start: str, end: str) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}


def stale_partitions(defs: dg.Definitions, instance: dg.DagsterInstance, keys: list[dg.AssetKey],
                     partitions: list[str], input_version: str | None) -> list[str]:
    """The ``partitions`` that some asset of ``keys`` must (re)materialize: never materialized, or its latest
    materialization's data version differs from the one the current code would give it from inputs
    ``input_version`` (``None``: inputs unknown, so everything is stale)."""
    if input_version is None:
        return list(partitions)
    graph = defs.resolve_asset_graph()
    stale = set()
    for key in keys:
        expected = data_version(graph.get(key).code_version, input_version)
        tags = instance.event_log_storage.get_latest_tags_by_partition(
            key, DagsterEventType.ASSET_MATERIALIZATION, [DATA_VERSION_TAG], partitions)
        stale |= {p for p in partitions if tags.get(p, {}).get(DATA_VERSION_TAG) != expected}
    return [p for p in partitions if p in stale]


def _days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


class RunInterrupted(KeyboardInterrupt):
    """An in-process run was stopped by Ctrl-C or SIGTERM (Dagster reports it as a failed run)."""


def execute(defs: dg.Definitions, job: str, instance: dg.DagsterInstance, **kwargs) -> dg.ExecuteInProcessResult:
    """Run ``job`` in process, quietly (``run_config`` adds to that), returning its result even when a step
    fails. With ``asset_selection`` only those assets run, without their checks (the jobs leave checks to
    ``tenant_checks_job``; Dagster's own subset would add the selected assets' checks back).

    Raises:
        RunInterrupted: the run was interrupted. Dagster turns Ctrl-C and SIGTERM inside a run into a failed
            run and returns; without this the main job would go on to the next tenant.
    """
    job_def = defs.resolve_job_def(job)
    if (selection := kwargs.pop("asset_selection", None)) is not None:
        job_def = job_def.get_subset(asset_selection=set(selection), asset_check_selection=set())
    run_config = {**QUIET, **kwargs.pop("run_config", {})}
    result = job_def.execute_in_process(instance=instance, run_config=run_config, raise_on_error=False, **kwargs)
    if interrupted(result):
        raise RunInterrupted(f"{job} run {result.run_id} was interrupted")
    return result


def interrupted(result: dg.ExecuteInProcessResult) -> bool:
    """Whether the run ended because it was interrupted (a signal), not because a step failed on its own."""
    return result.dagster_run.tags.get("dagster/failure_reason") == "UNEXPECTED_TERMINATION" or any(
        e.is_step_failure and e.step_failure_data.error is not None
        and e.step_failure_data.error.cls_name == "DagsterExecutionInterruptedError" for e in result.all_events)


def run_weather(defs: dg.Definitions, instance: dg.DagsterInstance, start: dt.date, end: dt.date,
                progress: Callable[[str], None] = print, force: bool = False) -> dg.ExecuteInProcessResult | None:
    """Materialize the stale ``weather_daily`` partitions between ``start`` and ``end`` (all of them with
    ``force``) in one in-process run with its checks; ``None`` when all were up to date."""
    source = defs.resources["weather_source"]
    days = [d.isoformat() for d in _days(start, end)]
    stale = stale_partitions(defs, instance, [weather_daily.key], days, None if force else source.version())
    if not stale:
        progress(f"weather_daily: {len(days)} days up to date (same sources and code), skipped")
        return None
    if len(stale) < len(days):
        progress(f"weather_daily: {len(stale)} of {len(days)} days stale, materializing {stale[0]}..{stale[-1]}")
    return execute(defs, "weather_job", instance, tags=range_tags(stale[0], stale[-1]))


DATA_KEYS = [*tenant_sales_and_spend.keys, *tenant_features.keys]


def data_work(defs: dg.Definitions, instance: dg.DagsterInstance, tenant: str, start: dt.date, end: dt.date,
              force: bool = False) -> tuple[str, str] | None:
    """The date range of ``tenant``'s sales, spend and features that is stale (all of it with ``force``),
    or ``None``."""
    with open_warehouse(settings.warehouse_path()) as conn:
        inputs = tenant_data_inputs(conn, tenant, defs.resources["weather_source"].end_date())
    keys = [f"{d.isoformat()}|{tenant}" for d in _days(start, end)]
    stale = stale_partitions(defs, instance, DATA_KEYS, keys, None if force else inputs)
    return (stale[0].split("|")[0], stale[-1].split("|")[0]) if stale else None


#: Tag of model runs: the fingerprint of the tenant's allocation inputs without a usable model version, so
#: that an allocation that failed for want of one is not tried again on the same inputs.
NO_MODEL_TAG = "weather_mmm/no_model_inputs"


#: The parts of a tenant's model run, in the order they run, with the assets each materializes; "truth" (its
#: ground truth, lift tests and forecasts) feeds every other part, so a run with it is the whole job.
MODEL_PARTS = {"truth": None, "baselines": baseline_fit.keys, "MMM": mmm_fit.keys,
               "weather evidence": [weather_evidence.key], "allocation": budget_allocation.keys}


def model_work(defs: dg.Definitions, instance: dg.DagsterInstance, tenant: str) -> tuple[list[str], str, bool]:
    """(parts, tag, blocked) for ``tenant``. Parts: the stale ones of :data:`MODEL_PARTS`, in order; a stale MMM
    brings its allocation, which plans from the new fit. Tag: the value of :data:`NO_MODEL_TAG` for the run.
    Blocked: the allocation is stale but there is no usable model version, and a run already failed to allocate
    from these same inputs (it would fail the same way), so it is left out of the parts."""
    with open_warehouse(settings.warehouse_path()) as conn:
        matrix, _, _ = tenant_matrix(conn, tenant)
        tables = model_tables(conn, tenant, matrix)
        model_inputs = tenant_model_inputs(matrix, tables)
        simulated = conn.execute("select source from main.tenant_catalog where tenant = ?", [tenant]).fetchone()[0] == "simulated"
        usable = store.usable_version(conn, tenant)
        data_inputs = tenant_data_inputs(conn, tenant, defs.resources["weather_source"].end_date())
        evidence = evidence_inputs(tenant_tables(conn, tenant), tenant_forecasts(conn, tenant))
    margin, constraints = tenant_margin(settings.imports_dir(), tenant), standing_constraints(tenant)
    no_model = allocation_inputs(model_inputs, None, margin, constraints)
    # an imported tenant's truth run writes only its lift tests (from its tenant.json) and forecasts
    truth_keys = list(tenant_truth.keys) if simulated else [dg.AssetKey("tenant_experiments"), dg.AssetKey("tenant_forecasts")]
    stale = {
        "truth": stale_partitions(defs, instance, truth_keys, [tenant], data_inputs),
        "baselines": stale_partitions(defs, instance, list(baseline_fit.keys), [tenant], model_inputs),
        "MMM": stale_partitions(defs, instance, list(mmm_fit.keys), [tenant],
                                mmm_inputs(model_inputs, tables["experiments"], stated_priors(tenant))),
        "weather evidence": stale_partitions(defs, instance, [weather_evidence.key], [tenant], evidence),
        "allocation": stale_partitions(defs, instance, list(budget_allocation.keys), [tenant], allocation_inputs(
            model_inputs, usable["version"] if usable else None, margin, constraints)),
    }
    blocked = False
    if stale["MMM"]:
        stale["allocation"] = True
    elif stale["allocation"] and usable is None:
        blocked = bool(instance.get_runs(filters=dg.RunsFilter(
            job_name=tenant_model_job.name, statuses=[dg.DagsterRunStatus.FAILURE],
            tags={NO_MODEL_TAG: no_model, "dagster/partition": tenant}), limit=1))
        stale["allocation"] = not blocked
    return [part for part, is_stale in stale.items() if is_stale], no_model, blocked


def run_tenants(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    start: dt.date,
    end: dt.date,
    tenants: list[str] | None = None,
    progress: Callable[[str], None] = print,
    checks: bool = True,
    models: bool = True,
    force: bool = False,
) -> tuple[list[dg.ExecuteInProcessResult], list[str]]:
    """The catalog, then per tenant one run of its stale sales, spend and features over ``start``..``end``
    and (``models``) one of the stale parts of its model run (:func:`model_work`: its truth, and with it every
    part; else its baselines, MMM and allocation, weather evidence, allocation alone; all of them with ``force``);
    then (``checks``) the table-wide checks once, if any tenant run happened.

    Returns the runs' results and the tenants whose allocation is blocked (no usable model version; it
    failed on the same inputs before, so it is not tried again).

    Raises:
        WeatherMMMError: a tenant of ``tenants`` is not in the catalog (names it and the catalog's)."""
    results = [execute(defs, "catalog_job", instance)]
    if not results[-1].success:
        return results, []
    known = sorted(instance.get_dynamic_partitions("tenant"))
    if unknown := sorted(set(tenants or ()) - set(known)):
        raise WeatherMMMError(f"tenant(s) {', '.join(unknown)} not in the catalog (tenants: {', '.join(known) or 'none'})")
    names = tenants or known
    ran, blocked = False, []
    for i, tenant in enumerate(names, 1):
        runs, work, started = [], [], time.monotonic()
        if span := data_work(defs, instance, tenant, start, end, force):
            runs.append(execute(defs, "tenant_data_job", instance, tags=range_tags(f"{span[0]}|{tenant}", f"{span[1]}|{tenant}")))
            work.append(f"data {span[0]}..{span[1]}")
        if models and all(r.success for r in runs):
            parts, no_model, is_blocked = model_work(defs, instance, tenant)
            whole = force or "truth" in parts
            if whole or parts:
                runs.append(execute(defs, "tenant_model_job", instance, partition_key=tenant, tags={NO_MODEL_TAG: no_model},
                                    asset_selection=None if whole else [k for p in parts for k in MODEL_PARTS[p]]))
                work.append("models, weather evidence and allocation" if whole else
                            ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1])
            if is_blocked and not whole:
                blocked.append(tenant)
        results += runs
        ran |= bool(runs)
        status = (("ok" if all(r.success for r in runs) else "FAILED") + f" ({', '.join(work)}; {time.monotonic() - started:.0f} s)"
                  if runs else "up to date, skipped")
        if tenant in blocked:
            status = ("up to date" if not runs else status) + "; no allocation: no usable model version (unchanged since it failed)"
        progress(f"  [{i}/{len(names)}] {tenant}: {status}")
    if checks and ran:
        results.append(execute(defs, "tenant_checks_job", instance))
    elif checks:
        progress("tenant checks: nothing changed since they last ran, skipped")
    return results, blocked


def failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    """One line per failed step: the step and the root error's own message (not Dagster's wrapper)."""
    lines = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            while error.cause is not None:
                error = error.cause
            lines.append(f"step {event.step_key} failed: {error.message.strip()}")
    return lines


def check_lines(result: dg.ExecuteInProcessResult) -> list[str]:
    """One line per asset check evaluated in the run."""
    lines = []
    for ev in result.get_asset_check_evaluations():
        status = "passed" if ev.passed else ("FAILED" if ev.severity.value == "ERROR" else "warning")
        lines.append(f"  check {ev.check_name}: {status} - {ev.description}")
    return lines
