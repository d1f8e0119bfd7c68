"""Sensor: a tenant's stored plan was made from a model version since rolled back (``weather-mmm rollback``,
``weather_mmm.models.store.rollback``) -> its budget allocation is planned again from the version now in use,
without waiting for the weekly schedule.

Each request's run key is the tenant, the version the plan was made from and the version now in use, so one
rollback is planned once however often the daemon looks; rolling back again asks again. A tenant with no version
in use is left out (its plan would fail for want of one). The warehouse is read only when no run is writing it:
a busy warehouse is a skipped tick, looked at again at the next.
"""

import dagster as dg
import duckdb

from assets.allocation import budget_allocation
from sensors.jobs import tenant_model_job
from weather_mmm import settings
from weather_mmm.models.store import plans_from_rolled_back_versions


@dg.sensor(jobs=[tenant_model_job], minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="A tenant's plan was made from a model version since rolled back: plan it again from the "
                       "version now in use.")
def rolled_back_plans_sensor(context: dg.SensorEvaluationContext):
    path = settings.warehouse_path()
    if not path.exists():
        return dg.SkipReason(f"no warehouse at {path} yet")
    try:
        with duckdb.connect(str(path), read_only=True) as conn:
            stale = plans_from_rolled_back_versions(conn)
    except duckdb.IOException as exc:
        return dg.SkipReason(f"warehouse busy, looking again at the next tick: {exc}")
    stale = stale.filter(stale["in_use"].is_not_null())
    if stale.is_empty():
        return dg.SkipReason("every stored plan was made from a model version still in use")
    for tenant, planned, in_use in stale.iter_rows():
        context.log.info(f"{tenant}: plan made from {planned}, rolled back; planning again from {in_use}")
    return [dg.RunRequest(run_key=f"rollback:{tenant}:{planned}:{in_use}", job_name=tenant_model_job.name,
                          partition_key=tenant, asset_selection=list(budget_allocation.keys),
                          tags={"weather_mmm/trigger": "rollback"})
            for tenant, planned, in_use in stale.iter_rows()]
