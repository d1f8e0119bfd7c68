"""Sensors on the files a team keeps, one entry per tenant: a tenant whose entry changed is run again without
waiting for the weekly schedule.

- ``plan_constraints_sensor``: the standing planning constraints (``WEATHER_MMM_PLAN_CONSTRAINTS``) -> the
  tenant's ``budget_allocation``, planned again from its current model version;
- ``priors_sensor``: the stated ROAS priors (``WEATHER_MMM_PRIORS``) -> the tenant's MMM, fitted again, and its
  allocation, planned from the new fit.

Each cursor (JSON) keeps, for each tenant with an entry, the hash of it (the file's ``fingerprints``), and a
count of the changes seen. A tenant whose entry was added, changed or removed gets one run; its run key is the
change's count and the tenant, so a restarted daemon (same cursor) does not run it twice, and a later change
back to an earlier entry is run again. An entry that is not valid is run too: that run fails and says what is
wrong (the failure recorder keeps it). The first look only records the file.
"""

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from assets.allocation import budget_allocation
from assets.mmm import mmm_fit
from sensors.jobs import tenant_model_job
from weather_mmm import settings
from weather_mmm.allocation import standing
from weather_mmm.models import priors
from weather_mmm.simulation.catalog import build_catalog, catalog_table
from weather_mmm.simulation.importer import imported_tenants
from weather_mmm.weather.cities import load_cities


def tenant_file_sensor(name: str, what: str, path: Callable[[], Path], fingerprints: Callable[[Path], dict[str, str]],
                       error: type[Exception], assets: list[dg.AssetKey], description: str) -> dg.SensorDefinition:
    """A sensor that runs ``assets`` of ``tenant_model_job`` for each tenant whose entry in the file at ``path()``
    changed (``fingerprints``: tenant -> fingerprint of its entry; ``error``: the file cannot be read). ``what``
    names the entries in its messages ("standing constraints"); the run key's prefix and the trigger tag are
    ``name`` without its ``_sensor``."""
    kind = name.removesuffix("_sensor")

    @dg.sensor(name=name, jobs=[tenant_model_job], minimum_interval_seconds=30,
               default_status=dg.DefaultSensorStatus.RUNNING, description=description)
    def _sensor(context: dg.SensorEvaluationContext):
        file = path()
        try:
            entries = fingerprints(file)
        except error as problem:
            return dg.SkipReason(f"{problem}; tenants keep their {what} until the file is mended")
        state = json.loads(context.cursor) if context.cursor else None
        now = {t: hashlib.sha256(f.encode()).hexdigest()[:12] for t, f in entries.items() if f}
        if state is None:
            context.update_cursor(json.dumps({"changes": 0, "tenants": now}))
            return dg.SkipReason(f"first look at {file}: {len(now)} tenant(s) with {what}")
        before = state["tenants"]
        changed = sorted(t for t in set(now) | set(before) if now.get(t) != before.get(t))
        if not changed:
            return dg.SkipReason(f"no tenant's {what} changed in {file}")
        change = state["changes"] + 1
        context.update_cursor(json.dumps({"changes": change, "tenants": now}))
        known = set(catalog_table(build_catalog(), imported_tenants(settings.imports_dir(), set(load_cities())))["tenant"])
        if unknown := [t for t in changed if t not in known]:
            context.log.warning(f"{file} names tenant(s) not in the catalog, left out: {', '.join(unknown)}")
            if len(unknown) == len(changed):
                return dg.SkipReason(f"only tenant(s) not in the catalog changed in {file}: {', '.join(unknown)}")
        return [dg.RunRequest(run_key=f"{kind}:{change}:{t}", job_name=tenant_model_job.name, partition_key=t,
                              asset_selection=assets, tags={"weather_mmm/trigger": kind})
                for t in changed if t in known]

    return _sensor


plan_constraints_sensor = tenant_file_sensor(
    "plan_constraints_sensor", "standing constraints", settings.plan_constraints_path, standing.fingerprints,
    standing.PlanConstraintsError, list(budget_allocation.keys),
    "A tenant's standing planning constraints changed (WEATHER_MMM_PLAN_CONSTRAINTS): plan its budget allocation again.")
priors_sensor = tenant_file_sensor(
    "priors_sensor", "stated ROAS priors", settings.priors_path, priors.fingerprints, priors.PriorsError,
    [*mmm_fit.keys, *budget_allocation.keys],
    "A tenant's stated ROAS priors changed (WEATHER_MMM_PRIORS): fit its MMM again and plan from the new fit.")
