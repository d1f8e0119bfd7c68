"""Sensor: a tenant's standing planning constraints changed (``WEATHER_MMM_PLAN_CONSTRAINTS``) -> that tenant's
budget allocation is planned again, from its current model version, without waiting for the weekly schedule.

The cursor (JSON) maps each tenant the file has named to the fingerprint of its entry
(``assets.versions.standing_constraints``). A tenant whose entry was added, changed or removed gets one run of
``budget_allocation``; its run key is the tenant and the new fingerprint, so a restarted daemon does not plan
twice. An entry that is not valid is planned too: that run fails and says what is wrong (the failure recorder
keeps it). The first look only records the file.
"""

import hashlib
import json

import dagster as dg

from assets.allocation import budget_allocation
from assets.versions import standing_constraints
from sensors.jobs import tenant_model_job
from weather_mmm import settings
from weather_mmm.allocation.standing import PlanConstraintsError, standing_tenants
from weather_mmm.simulation.catalog import build_catalog, catalog_table
from weather_mmm.simulation.importer import imported_tenants
from weather_mmm.weather.cities import load_cities

#: The cursor's fingerprint of a tenant without standing constraints (the cursor leaves such tenants out).
NONE = hashlib.sha256(b"").hexdigest()[:12]


@dg.sensor(jobs=[tenant_model_job], minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="A tenant's standing planning constraints changed (WEATHER_MMM_PLAN_CONSTRAINTS): plan its "
                       "budget allocation again.")
def plan_constraints_sensor(context: dg.SensorEvaluationContext):
    path = settings.plan_constraints_path()
    try:
        named = standing_tenants(path)
    except PlanConstraintsError as error:
        return dg.SkipReason(f"{error}; plans keep their constraints until the file is mended")
    before = json.loads(context.cursor) if context.cursor else None
    now = {t: hashlib.sha256(standing_constraints(t).encode()).hexdigest()[:12] for t in named}
    now = {t: h for t, h in now.items() if h != NONE}
    context.update_cursor(json.dumps(now))
    if before is None:
        return dg.SkipReason(f"first look at {path}: {len(now)} tenant(s) with standing constraints")
    changed = sorted(t for t in set(now) | set(before) if now.get(t, NONE) != before.get(t, NONE))
    if not changed:
        return dg.SkipReason(f"no tenant's standing constraints changed in {path}")
    known = set(catalog_table(build_catalog(), imported_tenants(settings.imports_dir(), set(load_cities())))["tenant"])
    if unknown := [t for t in changed if t not in known]:
        context.log.warning(f"{path} names tenant(s) not in the catalog, left out: {', '.join(unknown)}")
    return [dg.RunRequest(run_key=f"constraints:{t}:{now.get(t, NONE)}", job_name=tenant_model_job.name, partition_key=t,
                          asset_selection=list(budget_allocation.keys), tags={"weather_mmm/trigger": "plan_constraints"})
            for t in changed if t in known]
