"""Sensor: new or changed weather seed files (or, with the Open-Meteo API as source, a newer complete day in
its archive) -> new weather partitions -> the affected tenants' data, fits and allocations, in that order,
each stage requested once the previous one succeeded.

The cursor (JSON) keeps the folder snapshot (``weather_mmm.weather.watch``) and the refresh in progress:
``{"snapshot": {...}, "pending": {"event", "stage", "start", "end", "tenants"}}``. One change is one event:
its runs carry the tag ``weather_mmm/event`` and run keys made of the event and stage, so a restarted daemon
(same cursor) neither repeats nor misses a stage. The first look records the folder without running anything.
"""

import datetime as dt
import hashlib
import json
import os

import dagster as dg

from sensors.jobs import range_tags, tenant_data_job, tenant_model_job, weather_job
from weather_mmm import settings
from weather_mmm.settings import CALENDAR_START, imports_dir
from weather_mmm.simulation.catalog import build_catalog, catalog_table
from weather_mmm.simulation.importer import imported_tenants
from weather_mmm.weather.cities import load_cities
from weather_mmm.weather.watch import affected_tenants, changes, snapshot

EVENT_TAG = "weather_mmm/event"
STAGES = ("weather", "data", "models")


def _stage_requests(pending: dict) -> list[dg.RunRequest]:
    event, stage, start, end = pending["event"], pending["stage"], pending["start"], pending["end"]
    tags = {EVENT_TAG: event, "weather_mmm/stage": stage}
    if stage == "weather":
        return [dg.RunRequest(run_key=f"{event}:weather", job_name=weather_job.name, tags={**tags, **range_tags(start, end)})]
    if stage == "data":
        return [dg.RunRequest(run_key=f"{event}:data:{t}", job_name=tenant_data_job.name,
                              tags={**tags, **range_tags(f"{start}|{t}", f"{end}|{t}")}) for t in pending["tenants"]]
    return [dg.RunRequest(run_key=f"{event}:models:{t}", job_name=tenant_model_job.name, partition_key=t, tags=tags)
            for t in pending["tenants"]]


def _api_tick(context: dg.SensorEvaluationContext, state: dict):
    """API as source: a newer complete archive day is one event for every city (and so every tenant)."""
    newest = settings.calendar_end()
    if "api_day" not in state:
        context.update_cursor(json.dumps({"api_day": newest.isoformat(), "pending": None}))
        return dg.SkipReason(f"first look at the Open-Meteo archive: newest complete day {newest}")
    last = dt.date.fromisoformat(state["api_day"])
    if newest <= last:
        return dg.SkipReason(f"no newer complete day in the Open-Meteo archive (newest {last})")
    cities = sorted(load_cities())
    catalog = catalog_table(build_catalog(), imported_tenants(imports_dir(), set(cities)))
    pending = {"event": f"api-{newest.isoformat()}", "stage": "weather", "start": (last + dt.timedelta(days=1)).isoformat(),
               "end": newest.isoformat(), "cities": cities, "tenants": affected_tenants(catalog, cities)}
    context.update_cursor(json.dumps({"api_day": newest.isoformat(), "pending": pending}))
    context.log.info(f"event {pending['event']}: new archive days {pending['start']}..{pending['end']}")
    return _stage_requests(pending)


def _stage_status(instance: dg.DagsterInstance, pending: dict) -> str:
    """``done`` (every run of the stage succeeded), ``failed`` or ``waiting``."""
    runs = instance.get_runs(filters=dg.RunsFilter(tags={EVENT_TAG: pending["event"], "weather_mmm/stage": pending["stage"]}))
    expected = 1 if pending["stage"] == "weather" else len(pending["tenants"])
    if any(r.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED) for r in runs):
        return "failed"
    done = sum(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    return "done" if done >= expected else "waiting"


@dg.sensor(jobs=[weather_job, tenant_data_job, tenant_model_job], minimum_interval_seconds=30,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="New or changed weather seed files (with the API as source: a newer complete archive day): "
                       "weather partitions, then the affected tenants' data, fits and allocations.")
def weather_files_sensor(context: dg.SensorEvaluationContext):
    state = json.loads(context.cursor) if context.cursor else {}
    pending = state.get("pending")
    if pending:
        status = _stage_status(context.instance, pending)
        if status == "waiting":
            return dg.SkipReason(f"event {pending['event']}: waiting for its {pending['stage']} runs")
        if status == "failed" or pending["stage"] == STAGES[-1]:
            context.log.info(f"event {pending['event']}: {pending['stage']} {status}; refresh finished")
            state["pending"] = None
            context.update_cursor(json.dumps(state))
            return dg.SkipReason(f"event {pending['event']} finished ({pending['stage']} {status})")
        pending = {**pending, "stage": STAGES[STAGES.index(pending["stage"]) + 1]}
        state["pending"] = pending
        context.update_cursor(json.dumps(state))
        return _stage_requests(pending)
    if os.environ.get("WEATHER_MMM_WEATHER_SOURCE") == "api":
        return _api_tick(context, state)
    if not os.environ.get("WEATHER_MMM_WEATHER_SEEDS"):
        return dg.SkipReason("WEATHER_MMM_WEATHER_SEEDS is not set: no seed folder to watch")
    seeds = settings.env_path("WEATHER_MMM_WEATHER_SEEDS", settings.PROJECT_ROOT)
    if not seeds.is_dir():
        return dg.SkipReason(f"WEATHER_MMM_WEATHER_SEEDS ({seeds}) is not a folder: nothing to watch")
    cities = set(load_cities())
    new = snapshot(seeds, cities)
    if "snapshot" not in state:
        context.update_cursor(json.dumps({"snapshot": new, "pending": None}))
        return dg.SkipReason(f"first look at {seeds}: {len(new)} seed file(s) recorded")
    end = settings.calendar_end()
    changed, start = changes(state["snapshot"], new, CALENDAR_START, end)
    if not changed:
        return dg.SkipReason("no seed file changed")
    catalog = catalog_table(build_catalog(), imported_tenants(imports_dir(), cities))
    event = hashlib.sha256(json.dumps(new, sort_keys=True).encode()).hexdigest()[:12]
    pending = {"event": event, "stage": "weather", "start": start.isoformat(), "end": end.isoformat(),
               "cities": changed, "tenants": affected_tenants(catalog, changed)}
    context.update_cursor(json.dumps({"snapshot": new, "pending": pending}))
    context.log.info(f"event {event}: {', '.join(changed)} changed from {start}; tenants {', '.join(pending['tenants'])}")
    return _stage_requests(pending)
