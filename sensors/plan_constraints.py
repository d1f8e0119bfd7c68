"""Sensor: a tenant's standing planning constraints changed (``WEATHER_MMM_PLAN_CONSTRAINTS``) -> that tenant's
budget allocation is planned again, from its current model version, without waiting for the weekly schedule.

The cursor (JSON) keeps, for each tenant with standing constraints, the hash of its entry
(``weather_mmm.allocation.standing.fingerprints``), and a count of the changes seen. A tenant whose entry was
added, changed or removed gets one run of ``budget_allocation``; its run key is the change's count and the
tenant, so a restarted daemon (same cursor) does not plan twice, and a later change back to an earlier entry is
planned again. An entry that is not valid is planned too: that run fails and says what is wrong (the failure
recorder keeps it). The first look only records the file.
"""

import hashlib
import json

import dagster as dg

from assets.allocation import budget_allocation
from sensors.jobs import tenant_model_job
from weather_mmm import settings
from weather_mmm.allocation.standing import PlanConstraintsError, fingerprints
from weather_mmm.simulation.catalog import build_catalog, catalog_table
from weather_mmm.simulation.importer import imported_tenants
from weather_mmm.weather.cities import load_cities

@dg.sensor(jobs=[tenant_model_job], minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="A tenant's standing planning constraints changed (WEATHER_MMM_PLAN_CONSTRAINTS): plan its "
                       "budget allocation again.")
def plan_constraints_sensor(context: dg.SensorEvaluationContext):
    path = settings.plan_constraints_path()
    try:
        entries = fingerprints(path)
    except PlanConstraintsError as error:
        return dg.SkipReason(f"{error}; plans keep their constraints until the file is mended")
    state = json.loads(context.cursor) if context.cursor else None
    now = {t: hashlib.sha256(f.encode()).hexdigest()[:12] for t, f in entries.items() if f}
    if state is None:
        context.update_cursor(json.dumps({"changes": 0, "tenants": now}))
        return dg.SkipReason(f"first look at {path}: {len(now)} tenant(s) with standing constraints")
    before = state["tenants"]
    changed = sorted(t for t in set(now) | set(before) if now.get(t) != before.get(t))
    if not changed:
        return dg.SkipReason(f"no tenant's standing constraints changed in {path}")
    change = state["changes"] + 1
    context.update_cursor(json.dumps({"changes": change, "tenants": now}))
    known = set(catalog_table(build_catalog(), imported_tenants(settings.imports_dir(), set(load_cities())))["tenant"])
    if unknown := [t for t in changed if t not in known]:
        context.log.warning(f"{path} names tenant(s) not in the catalog, left out: {', '.join(unknown)}")
    return [dg.RunRequest(run_key=f"constraints:{change}:{t}", job_name=tenant_model_job.name, partition_key=t,
                          asset_selection=list(budget_allocation.keys), tags={"weather_mmm/trigger": "plan_constraints"})
            for t in changed if t in known]
