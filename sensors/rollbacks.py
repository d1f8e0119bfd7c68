"""Rolling a tenant's model back from the Dagster UI, and planning again after any rollback.

``rollback_model_job`` (partitioned by tenant; run config ``to``: a version, default the usable one before the
newest) puts an earlier model version back in use, as ``weather-mmm rollback --no-plan`` does
(``weather_mmm.models.store.rollback``).

``rolled_back_plans_sensor``: a tenant's stored plan or MMM tables were made from a model version since rolled
back (by this job, the command line or Python) -> the MMM's tables describe the version now in use
(``assets.mmm.MMMFitConfig``: nothing is fitted) and its budget allocation is planned again from it, without
waiting for the weekly schedule.

Each request's run key is the tenant, the version the plan (or else the tables) was made from, the version now in
use and a digest of the rollback's record (which has its time, to the second), so one rollback is planned once
however often the daemon looks, and a later one again. A tenant with no version in use is left out (its plan
would fail for want of one). The warehouse is read only when no run is writing it: a busy warehouse is a skipped tick, looked at
again at the next.
"""

import hashlib

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field

from assets.allocation import budget_allocation
from assets.mmm import mmm_fit
from assets.partitions import tenant_partitions
from sensors.jobs import tenant_model_job
from weather_mmm import settings
from weather_mmm.models import store


class RollbackConfig(dg.Config):
    to: str | None = Field(None, description="The model version to put back in use (a usable one, or a rolled-back "
                                             "one to undo its rollback); default: the usable one before the newest")


@dg.op(description="Put an earlier model version of the tenant back in use; the newer usable ones are marked "
                   "rolled_back and kept.")
def rollback_model_version(context: dg.OpExecutionContext, config: RollbackConfig, duckdb: DuckDBResource) -> str:
    tenant = context.partition_key
    with duckdb.get_connection() as conn:
        before = (store.usable_version(conn, tenant) or {}).get("version")
        try:
            now = store.rollback(conn, tenant, config.to)
        except store.ModelStoreError as error:
            raise dg.Failure(str(error)) from None
    context.log.info(f"{tenant}: model version {now['version']} in use again (was {before}); "
                     "rolled_back_plans_sensor plans the tenant again from it")
    context.add_output_metadata({"in_use": now["version"], "was": before})
    return now["version"]


@dg.job(partitions_def=tenant_partitions, description="Put an earlier model version of a tenant back in use (run "
        "config: to); rolled_back_plans_sensor then plans the tenant again from it.")
def rollback_model_job():
    rollback_model_version()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dg.sensor(jobs=[tenant_model_job], minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="A tenant's plan or MMM tables were made from a model version since rolled back: describe "
                       "the version now in use in the MMM's tables and plan again from it.")
def rolled_back_plans_sensor(context: dg.SensorEvaluationContext):
    path = settings.warehouse_path()
    if not path.exists():
        return dg.SkipReason(f"no warehouse at {path} yet")
    try:
        with duckdb.connect(str(path), read_only=True) as conn:
            stale = store.made_from_rolled_back_versions(conn)
    except duckdb.IOException as exc:
        return dg.SkipReason(f"warehouse busy, looking again at the next tick: {exc}")
    stale = stale.filter(stale["in_use"].is_not_null())
    if stale.is_empty():
        return dg.SkipReason("every stored plan and MMM table was made from a model version still in use")
    for tenant, made_from, rolled_back, in_use in stale.iter_rows():
        context.log.info(f"{tenant}: plan or MMM tables made from {made_from}, {rolled_back}; describing and planning "
                         f"again from {in_use}")
    return [dg.RunRequest(run_key=f"rollback:{tenant}:{made_from}:{in_use}:{_digest(rolled_back)}",
                          job_name=tenant_model_job.name, partition_key=tenant,
                          asset_selection=list(mmm_fit.keys) + list(budget_allocation.keys),
                          run_config={"ops": {"mmm_fit": {"config": {"version": in_use}}}},
                          tags={"weather_mmm/trigger": "rollback"})
            for tenant, made_from, rolled_back, in_use in stale.iter_rows()]
