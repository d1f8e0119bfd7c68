"""Asset jobs, and the in-process runner the command line uses for the main job."""

import datetime as dt
from collections.abc import Callable

import dagster as dg

from assets.allocation import budget_allocation
from assets.features import tenant_features
from assets.mmm import mmm_fit
from assets.models import baseline_fit
from assets.simulation import tenant_catalog, tenant_sales_and_spend, tenant_truth
from assets.weather import weather_daily

weather_job = dg.define_asset_job("weather_job", selection=[weather_daily], description="weather_daily for a date range.")
catalog_job = dg.define_asset_job("catalog_job", selection=[tenant_catalog], description="The tenant catalog and its partitions.")
# Per-tenant runs leave out the table-wide checks; they run once after all tenants (tenant_checks_job).
tenant_data_job = dg.define_asset_job(
    "tenant_data_job", selection=dg.AssetSelection.assets(tenant_sales_and_spend, tenant_features).without_checks(),
    description="Sales, spend and features of one tenant over a date range.")
tenant_model_job = dg.define_asset_job(
    "tenant_model_job", selection=dg.AssetSelection.assets(tenant_truth, baseline_fit, mmm_fit, budget_allocation).without_checks(),
    description="Ground truth, models and budget allocation of one tenant.")
TENANT_ASSETS = (tenant_sales_and_spend, tenant_truth, tenant_features, baseline_fit, mmm_fit, budget_allocation)
tenant_checks_job = dg.define_asset_job(
    "tenant_checks_job", selection=dg.AssetSelection.checks_for_assets(*TENANT_ASSETS),
    description="The tenant tables' and models' checks, over every tenant.")

JOBS = [weather_job, catalog_job, tenant_data_job, tenant_model_job, tenant_checks_job]
#: Console logging for command-line runs: warnings and errors only (the UI keeps the full event log).
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def range_tags(start: str, end: str) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}


def run_weather(defs: dg.Definitions, instance: dg.DagsterInstance, start: dt.date, end: dt.date) -> dg.ExecuteInProcessResult:
    """Materialize ``weather_daily`` from ``start`` to ``end`` in one in-process run (with its checks)."""
    return defs.resolve_job_def("weather_job").execute_in_process(
        instance=instance, run_config=QUIET, tags=range_tags(start.isoformat(), end.isoformat()), raise_on_error=False)


def run_tenants(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    start: dt.date,
    end: dt.date,
    tenants: list[str] | None = None,
    progress: Callable[[str], None] = print,
    checks: bool = True,
    models: bool = True,
) -> list[dg.ExecuteInProcessResult]:
    """The catalog, then per tenant one run of sales, spend and features over ``start``..``end`` and one of
    its truth and models; then (``checks``) the table-wide checks once."""
    results = [defs.resolve_job_def("catalog_job").execute_in_process(instance=instance, run_config=QUIET, raise_on_error=False)]
    if not results[-1].success:
        return results
    names = tenants or sorted(instance.get_dynamic_partitions("tenant"))
    for i, tenant in enumerate(names, 1):
        data = defs.resolve_job_def("tenant_data_job").execute_in_process(
            instance=instance, run_config=QUIET, raise_on_error=False,
            tags=range_tags(f"{start.isoformat()}|{tenant}", f"{end.isoformat()}|{tenant}"))
        runs = [data]
        if models and data.success:
            runs.append(defs.resolve_job_def("tenant_model_job").execute_in_process(
                instance=instance, run_config=QUIET, raise_on_error=False, partition_key=tenant))
        results += runs
        progress(f"  [{i}/{len(names)}] {tenant}: {'ok' if all(r.success for r in runs) else 'FAILED'}")
    if checks:
        results.append(defs.resolve_job_def("tenant_checks_job").execute_in_process(
            instance=instance, run_config=QUIET, raise_on_error=False))
    return results


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
