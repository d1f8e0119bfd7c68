"""Automation: the weather-files sensor with its cursor, the schedules, the failure recorder, and a backfill run
twice against a temporary warehouse."""

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid

import dagster as dg
import duckdb
import polars as pl
import pytest
import responses
from dagster._core.definitions.partitions.context import partition_loading_context
from dagster._core.storage.dagster_run import DagsterRun

from sensors.failures import notify, record_failure
from sensors.jobs import failure_messages
from sensors.schedules import daily_tenant_data_schedule, daily_weather_schedule, weekly_model_schedule
from sensors.weather_files import EVENT_TAG, weather_files_sensor
from weather_mmm.errors import WeatherMMMError


def _tick(instance, cursor, sensor=weather_files_sensor):
    from weather_mmm.definitions import defs

    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
    with partition_loading_context(dynamic_partitions_store=instance):
        result = sensor.evaluate_tick(context)
    return result, context.cursor


def _succeed(instance, event, stage, job):
    instance.add_run(DagsterRun(job_name=job, run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.SUCCESS,
                                tags={EVENT_TAG: event, "weather_mmm/stage": stage}))


def test_the_weather_sensor_without_a_seed_folder_skips_and_says_why(tmp_path, monkeypatch):
    """``./dev ui`` without WEATHER_MMM_WEATHER_SEEDS (the README's command sets it; before, it did not): the sensor
    skips, in the project's folder or any other, rather than failing each tick on the folder the daemon runs in."""
    instance = dg.DagsterInstance.ephemeral()
    monkeypatch.delenv("WEATHER_MMM_WEATHER_SEEDS", raising=False)
    monkeypatch.delenv("WEATHER_MMM_WEATHER_SOURCE", raising=False)
    for folder in (tmp_path, os.getcwd()):
        monkeypatch.chdir(folder)
        result, cursor = _tick(instance, None)
        assert result.skip_message == "WEATHER_MMM_WEATHER_SEEDS is not set: no seed folder to watch" and cursor is None
    monkeypatch.setenv("WEATHER_MMM_WEATHER_SEEDS", str(tmp_path / "nowhere"))
    result, _ = _tick(instance, None)
    assert result.skip_message == f"WEATHER_MMM_WEATHER_SEEDS ({tmp_path / 'nowhere'}) is not a folder: nothing to watch"


def test_weather_sensor_one_event_one_refresh_in_order(seeds_copy, monkeypatch):
    monkeypatch.setenv("WEATHER_MMM_WEATHER_SEEDS", str(seeds_copy))
    instance = dg.DagsterInstance.ephemeral()
    from weather_mmm.simulation.catalog import simulated_tenants
    instance.add_dynamic_partitions("tenant", sorted(simulated_tenants()))
    first, cursor = _tick(instance, None)
    assert not first.run_requests and "first look" in first.skip_message
    unchanged, cursor = _tick(instance, cursor)
    assert not unchanged.run_requests and unchanged.skip_message == "no seed file changed"

    # a corrected reading in Chicago's 2017 record (the real year behind calendar 2023)
    path = seeds_copy / "chicago.json"
    doc = json.loads(path.read_text())
    i = doc["daily"]["time"].index("2017-07-04")
    doc["daily"]["temperature_2m_max"][i] += 3.0
    path.write_text(json.dumps(doc))
    event, cursor = _tick(instance, cursor)
    (weather,) = event.run_requests
    assert weather.job_name == "weather_job"
    assert weather.tags["dagster/asset_partition_range_start"] == "2023-01-01"
    pending = json.loads(cursor)["pending"]
    assert pending["cities"] == ["chicago"] and pending["tenants"]
    # every tenant selling in Chicago, and only those
    from weather_mmm.simulation.catalog import build_catalog
    assert set(pending["tenants"]) == {p.tenant for p in build_catalog() if "chicago" in p.geos}

    # a restarted daemon (same cursor) neither repeats the weather run nor moves on before it succeeded
    again, same = _tick(instance, cursor)
    assert not again.run_requests and "waiting" in again.skip_message and same == cursor

    _succeed(instance, pending["event"], "weather", "weather_job")
    data, cursor = _tick(instance, cursor)
    assert {r.job_name for r in data.run_requests} == {"tenant_data_job"}
    assert len(data.run_requests) == len(pending["tenants"])
    assert data.run_requests[0].tags["dagster/asset_partition_range_start"] == f"2023-01-01|{pending['tenants'][0]}"
    for _ in pending["tenants"]:
        _succeed(instance, pending["event"], "data", "tenant_data_job")
    models, cursor = _tick(instance, cursor)
    assert sorted(r.partition_key for r in models.run_requests) == pending["tenants"]
    assert {r.job_name for r in models.run_requests} == {"tenant_model_job"}
    for _ in pending["tenants"]:
        _succeed(instance, pending["event"], "models", "tenant_model_job")
    done, cursor = _tick(instance, cursor)
    assert not done.run_requests and json.loads(cursor)["pending"] is None
    quiet, _ = _tick(instance, cursor)
    assert not quiet.run_requests and quiet.skip_message == "no seed file changed"


def test_a_new_day_of_weather_extends_the_calendar_and_refreshes_its_cities_tenants(seeds_copy, monkeypatch):
    monkeypatch.delenv("WEATHER_MMM_CALENDAR_END", raising=False)
    monkeypatch.setenv("WEATHER_MMM_WEATHER_SEEDS", str(seeds_copy))
    from weather_mmm import settings
    from weather_mmm.simulation.catalog import build_catalog, simulated_tenants
    from weather_mmm.weather.sources import load_weather_daily

    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("tenant", sorted(simulated_tenants()))
    _, cursor = _tick(instance, None)
    assert settings.calendar_end() == dt.date(2024, 12, 31)
    # tomorrow's observation arrives in Phoenix's file
    path = seeds_copy / "phoenix.json"
    doc = json.loads(path.read_text())
    doc["daily"]["time"].append("2025-01-01")
    for var, value in {"temperature_2m_max": 19.4, "temperature_2m_min": 6.1, "temperature_2m_mean": 12.2,
                       "precipitation_sum": 0.0, "snowfall_sum": 0.0}.items():
        doc["daily"][var].append(value)
    path.write_text(json.dumps(doc))
    assert settings.calendar_end() == dt.date(2025, 1, 1)
    event, cursor = _tick(instance, cursor)
    (weather,) = event.run_requests
    assert (weather.tags["dagster/asset_partition_range_start"], weather.tags["dagster/asset_partition_range_end"]) == ("2025-01-01", "2025-01-01")
    pending = json.loads(cursor)["pending"]
    assert pending["cities"] == ["phoenix"]
    assert set(pending["tenants"]) == {p.tenant for p in build_catalog() if "phoenix" in p.geos}
    # and the weather run can now load that day, observed
    day = load_weather_daily(dt.date(2025, 1, 1), dt.date(2025, 1, 1), mode="seeds", seeds_dir=seeds_copy).frame
    phoenix = day.filter(pl.col("city") == "phoenix").row(0, named=True)
    assert phoenix["temperature_2m_max"] == 19.4 and phoenix["temperature_2m_max_flag"] == "observed"


def test_with_the_api_as_source_a_newer_archive_day_refreshes_every_tenant(monkeypatch):
    from weather_mmm.simulation.catalog import simulated_tenants
    from weather_mmm.weather.open_meteo import ArchiveClient

    monkeypatch.delenv("WEATHER_MMM_CALENDAR_END", raising=False)
    monkeypatch.setenv("WEATHER_MMM_WEATHER_SOURCE", "api")
    newest = {"day": dt.date(2026, 11, 16)}
    monkeypatch.setattr(ArchiveClient, "latest_complete_day", staticmethod(lambda today=None: newest["day"]))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("tenant", sorted(simulated_tenants()))
    first, cursor = _tick(instance, None)
    assert not first.run_requests and "newest complete day 2026-11-16" in first.skip_message
    same, cursor = _tick(instance, cursor)
    assert not same.run_requests and "no newer complete day" in same.skip_message
    newest["day"] = dt.date(2026, 11, 17)  # a day later the archive has one more complete day
    event, cursor = _tick(instance, cursor)
    (weather,) = event.run_requests
    assert (weather.tags["dagster/asset_partition_range_start"], weather.tags["dagster/asset_partition_range_end"]) == ("2026-11-17", "2026-11-17")
    assert set(json.loads(cursor)["pending"]["tenants"]) == simulated_tenants()
    again, _ = _tick(instance, cursor)  # a restart with the same cursor waits for that run, requests nothing new
    assert not again.run_requests and "waiting" in again.skip_message


def test_schedules_request_the_newest_complete_day_and_weekly_refits(tmp_path, monkeypatch):
    monkeypatch.setenv("WEATHER_MMM_CALENDAR_END", "2026-12-31")
    instance = dg.DagsterInstance.local_temp(str(tmp_path))
    instance.add_dynamic_partitions("tenant", ["acme", "zenith"])
    when = dt.datetime(2026, 11, 21, 6, 0, tzinfo=dt.timezone.utc)
    from weather_mmm.definitions import defs

    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=when, repository_def=defs.get_repository_def())
    with partition_loading_context(dynamic_partitions_store=instance):
        weather = daily_weather_schedule.evaluate_tick(context).run_requests
        data = daily_tenant_data_schedule.evaluate_tick(context).run_requests
        models = weekly_model_schedule.evaluate_tick(context).run_requests
    assert [(r.run_key, r.tags["dagster/asset_partition_range_start"]) for r in weather] == [("weather:2026-11-16", "2026-11-16")]
    assert [r.tags["dagster/asset_partition_range_end"] for r in data] == ["2026-11-16|acme", "2026-11-16|zenith"]
    assert [r.partition_key for r in models] == ["acme", "zenith"]


def test_schedules_follow_the_seeds_calendar_and_skip_stored_days(tmp_path, monkeypatch, open_meteo_dir):
    monkeypatch.delenv("WEATHER_MMM_CALENDAR_END", raising=False)
    monkeypatch.setenv("WEATHER_MMM_WEATHER_SEEDS", str(open_meteo_dir))
    instance = dg.DagsterInstance.local_temp(str(tmp_path))
    instance.add_dynamic_partitions("tenant", ["acme", "zenith"])
    from weather_mmm.definitions import defs

    def tick():
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=dt.datetime(2026, 11, 21, 6, 0, tzinfo=dt.timezone.utc),
                                            repository_def=defs.get_repository_def())
        with partition_loading_context(dynamic_partitions_store=instance):
            return daily_weather_schedule.evaluate_tick(context), daily_tenant_data_schedule.evaluate_tick(context)

    weather, data = tick()  # the seeds end 2024-12-31 (Phoenix): the newest day there is weather for
    assert [r.run_key for r in weather.run_requests] == ["weather:2024-12-31"] and len(data.run_requests) == 2
    instance.report_runless_asset_event(dg.AssetMaterialization("weather_daily", partition="2024-12-31"))
    instance.report_runless_asset_event(dg.AssetMaterialization("tenant_features", partition="2024-12-31|acme"))
    weather, data = tick()
    assert not weather.run_requests and "already stored" in weather.skip_message
    assert [r.tags["dagster/asset_partition_range_start"] for r in data.run_requests] == ["2024-12-31|zenith"]


@responses.activate
def test_failures_are_recorded_once_and_notified():
    conn = duckdb.connect()
    when = dt.datetime(2026, 11, 21, 7)
    record_failure(conn, "r1", "tenant_model_job", "step mmm_fit failed: boom", when)
    record_failure(conn, "r1", "tenant_model_job", "step mmm_fit failed: boom", when)
    assert conn.execute("select count(*), max(error) from run_failures").fetchone() == (1, "step mmm_fit failed: boom")
    responses.post("https://hooks.example.com/x", json={"ok": True})
    notify("https://hooks.example.com/x", "r1", "tenant_model_job", "boom")
    assert json.loads(responses.calls[0].request.body) == {"text": "weather-mmm run r1 of tenant_model_job failed: boom"}


def test_backfill_of_three_tenants_twice_leaves_identical_tables_and_a_third_run_skips(warehouse, open_meteo_dir, monkeypatch):
    from sensors.jobs import run_tenants, run_weather
    from weather_mmm.cli import _instance
    from weather_mmm.definitions import build_definitions

    monkeypatch.setenv("WEATHER_MMM_WEATHER_SEEDS", str(open_meteo_dir))
    monkeypatch.setenv("WEATHER_MMM_CALENDAR_END", "2023-01-30")
    defs, instance = build_definitions(), _instance()
    start, end = dt.date(2023, 1, 1), dt.date(2023, 1, 30)
    tenants = ["pixelpro_software", "stormready_supply", "icebox_treats"]
    snapshots, said = [], []
    for force in (False, True, False):
        weather = run_weather(defs, instance, start, end, said.append, force)
        results, _ = run_tenants(defs, instance, start, end, tenants, progress=said.append, checks=False, models=False, force=force)
        assert all(r.success for r in [*filter(None, [weather]), *results])
        snapshots.append((weather, [r.dagster_run.job_name for r in results]))
        with duckdb.connect(str(warehouse), read_only=True) as conn:
            snapshots[-1] += ({t: pl.from_arrow(conn.execute(f"select * from {t} order by all").to_arrow_table())
                               for t in ("weather_daily", "tenant_sales", "tenant_spend", "tenant_features", "tenant_media_features")},)
    (_, jobs1, first), (forced, jobs2, second), (skipped, jobs3, third) = snapshots
    assert first["tenant_sales"]["tenant"].n_unique() == 3 and first["tenant_features"].height == 3 * 30
    assert forced is not None and jobs1 == jobs2 == ["catalog_job"] + ["tenant_data_job"] * 3
    for table in first:
        assert first[table].equals(second[table]) and first[table].equals(third[table]), table
    # Nothing changed: the third run only refreshed the catalog and says what it skipped.
    assert skipped is None and jobs3 == ["catalog_job"]
    assert "weather_daily: 30 days up to date (same sources and code), skipped" in said
    assert said[-3:] == [f"  [{i}/3] {t}: up to date, skipped" for i, t in enumerate(tenants, 1)]
    ran = [line for line in said if line.startswith("  [1/3] pixelpro_software: ok")]
    assert len(ran) == 2 and all(re.fullmatch(r"  \[1/3\] pixelpro_software: ok \(data 2023-01-01\.\.2023-01-30; \d+ s\)", line)
                                 for line in ran), ran
    with pytest.raises(WeatherMMMError, match=r"tenant\(s\) nobody not in the catalog \(tenants: clearpath_snow_removal, "):
        run_tenants(defs, instance, start, end, ["stormready_supply", "nobody"], progress=said.append, models=False)


def test_moving_sales_between_geos_makes_the_models_stale_even_with_equal_totals_and_a_lift_test_the_mmm():
    from assets.models import model_tables
    from assets.versions import allocation_inputs, mmm_inputs, tenant_model_inputs

    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(3)]
    sales = pl.DataFrame({"date": days * 2, "tenant": "acme", "geo": ["phoenix"] * 3 + ["seattle"] * 3,
                          "revenue": [100.0, 120.0, 90.0, 50.0, 60.0, 40.0]})
    spend = pl.DataFrame({"date": days, "tenant": "acme", "geo": "phoenix", "channel": "meta", "spend": [10.0, 0.0, 5.0]})
    weather = pl.DataFrame({"date": days * 2, "city": ["phoenix"] * 3 + ["seattle"] * 3, "tmax_c": [20.0, 21, 22, 8, 9, 10]})
    matrix = pl.DataFrame({"date": days, "revenue": [150.0, 180.0, 130.0]})
    catalog = pl.DataFrame({"tenant": ["acme"], "tier": ["high"], "geos": [json.dumps({"phoenix": 0.7, "seattle": 0.3})],
                            "channels": [json.dumps(["meta"])]})
    conn = duckdb.connect()
    for name, table in {"tenant_catalog": catalog, "tenant_sales": sales, "tenant_spend": spend, "weather_daily": weather}.items():
        conn.register(f"{name}_view", table.to_arrow())
        conn.execute(f"create table {name} as select * from {name}_view")

    def version():
        return tenant_model_inputs(matrix, model_tables(conn, "acme", matrix))

    before = version()
    # an equal table, rows stored in another order: the same inputs
    conn.execute("create or replace table tenant_sales as select * from tenant_sales_view order by geo desc, date desc")
    assert version() == before
    # 10 USD moved from Phoenix to Seattle on one day: the tenant's totals (and so its matrix) are unchanged
    conn.execute("update tenant_sales set revenue = revenue + case geo when 'phoenix' then -10 else 10 end "
                 "where date = '2024-01-02'")
    after = version()
    assert after != before
    assert allocation_inputs(after, "v1", None, "") != allocation_inputs(before, "v1", None, "")
    # one city's weather outside the window is not read
    conn.execute("insert into weather_daily values ('2024-02-01', 'phoenix', 30.0)")
    assert version() == after
    # a lift test's readout calibrates the MMM: a new one, or a changed one, is a new input of the MMM, not of
    # the baselines
    def mmm_version():
        return mmm_inputs(version(), model_tables(conn, "acme", matrix)["experiments"], "")

    untested = mmm_version()
    conn.execute("create table tenant_experiments as select 'acme' as tenant, 'meta-phoenix' as experiment, 'meta' as channel, "
                 "'phoenix' as geo, date '2024-01-01' as start, date '2024-01-02' as \"end\", 10.0 as spend, 30.0 as lift, 5.0 as lift_se")
    tested = mmm_version()
    assert version() == after and tested != untested
    conn.execute("update tenant_experiments set lift = 31.0")
    assert mmm_version() not in (tested, untested)


def test_only_a_change_to_a_tenants_own_standing_constraints_makes_its_plan_stale(tmp_path, monkeypatch):
    from assets.versions import standing_constraints

    path = tmp_path / "plan_constraints.yaml"
    monkeypatch.setenv("WEATHER_MMM_PLAN_CONSTRAINTS", str(path))
    assert standing_constraints("acme") == ""  # no file: the defaults, as before standing constraints existed
    path.write_text("acme:\n  max_daily_usd: {meta: 400}\nglobex:\n  budget_usd: 9000\n")
    acme, globex = standing_constraints("acme"), standing_constraints("globex")
    assert acme and globex and acme != globex
    path.write_text("globex:\n  budget_usd: 9500\nacme:\n  max_daily_usd: {meta: 400.0}\n")  # globex's budget moved
    assert standing_constraints("acme") == acme and standing_constraints("globex") != globex
    path.write_text("acme:\n  max_daily_usd: {meta: -400}\n")
    assert standing_constraints("acme").startswith(f"invalid: {path}: acme.max_daily_usd.meta is -400")


def test_a_code_version_moves_with_what_the_code_does_not_with_its_comments_or_docstrings(tmp_path, monkeypatch):
    import weather_mmm.versions as versions

    monkeypatch.setattr(versions, "PROJECT_ROOT", tmp_path)
    (tmp_path / "pkg").mkdir()
    module = tmp_path / "pkg" / "adstock.py"

    def version(source: str) -> str:
        module.write_text(source)
        return versions.source_version("pkg")

    code = 'def decay(x):\n    """Weights of lags 0-3."""\n    return 0.5 ** x\n'
    before = version(code)
    assert version('"""Adstock."""\n# geometric\ndef decay(x):  # per day\n    """Weights of lags 0..3, normalised\n    later."""\n\n'
                   "    return 0.5 ** (x)\n") == before  # comments, docstrings, layout and redundant brackets
    assert version(code.replace("0.5", "0.6")) != before
    assert version(code.replace("Weights", "weights") + "\n\ndef extra():\n    pass\n") != before  # a new function
    assert version(code) == before
    (tmp_path / "pkg" / "saturation.py").write_text("HALF = 1.0\n")
    assert versions.source_version("pkg") != before  # a module added to the package
    assert versions.source_version("pkg", exclude=("pkg/saturation.py",)) == before
    module.write_text("def decay(x):\n    return 0.5 **\n")
    with pytest.raises(SyntaxError, match="adstock.py"):
        versions.source_version("pkg")


def test_the_runner_runs_only_the_stale_parts_of_a_model_run_and_all_of_them_when_forced(monkeypatch):
    import types

    import sensors.jobs as jobs

    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("tenant", ["acme"])
    ran, stale = [], {"parts": []}
    monkeypatch.setattr(jobs, "data_work", lambda *args: None)
    monkeypatch.setattr(jobs, "model_work", lambda *args: (stale["parts"], "tag", False))
    monkeypatch.setattr(jobs, "execute", lambda defs, job, instance, **kw: ran.append((job, kw.get("asset_selection")))
                        or types.SimpleNamespace(success=True))
    said = []

    def run(force=False):
        ran.clear()
        jobs.run_tenants(None, instance, dt.date(2024, 1, 1), dt.date(2024, 1, 2), progress=said.append, checks=False,
                         force=force)
        return ran[1:]  # after the catalog

    assert run() == [] and said[-1] == "  [1/1] acme: up to date, skipped"
    assert run(force=True) == [("tenant_model_job", None)]  # every part, though none is stale
    stale["parts"] = ["baselines"]
    assert run() == [("tenant_model_job", list(jobs.baseline_fit.keys))]
    stale["parts"] = ["MMM", "allocation"]
    assert run() == [("tenant_model_job", [*jobs.mmm_fit.keys, *jobs.budget_allocation.keys])]
    assert said[-1].startswith("  [1/1] acme: ok (MMM and allocation; ")
    stale["parts"] = ["truth", "MMM", "allocation"]
    assert run() == [("tenant_model_job", None)] and "(models, weather evidence and allocation; " in said[-1]


def _tenant_file(tmp_path, monkeypatch, variable: str):
    """(path of a tenants' YAML file named by ``variable``, not written yet; an instance knowing the simulated tenants)."""
    from weather_mmm.simulation.catalog import simulated_tenants

    path = tmp_path / "tenants.yaml"
    monkeypatch.setenv(variable, str(path))
    monkeypatch.setenv("WEATHER_MMM_IMPORTS", str(tmp_path / "imports"))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("tenant", sorted(simulated_tenants()))
    return path, instance


def test_a_change_to_standing_constraints_replans_exactly_the_tenants_whose_entry_changed(tmp_path, monkeypatch):
    from sensors.tenant_files import plan_constraints_sensor

    path, instance = _tenant_file(tmp_path, monkeypatch, "WEATHER_MMM_PLAN_CONSTRAINTS")

    def tick(cursor):
        return _tick(instance, cursor, plan_constraints_sensor)

    path.write_text("voltbox_electronics:\n  max_daily_usd: {meta: 400}\ncocoa_corner:\n  budget_usd: 9000\n")
    first, cursor = tick(None)
    assert not first.run_requests and "first look" in first.skip_message and "2 tenant(s)" in first.skip_message
    path.write_text("voltbox_electronics:\n  max_daily_usd: {meta: 400.0}  # the same\ncocoa_corner:\n  budget_usd: 9500\n"
                    "petpals_supply:\n  fixed_daily_usd: {email: 80}\nnobody:\n  budget_usd: 1\n")
    changed, cursor = tick(cursor)
    assert [(r.partition_key, r.job_name) for r in changed.run_requests] == [
        ("cocoa_corner", "tenant_model_job"), ("petpals_supply", "tenant_model_job")]  # nobody is not a tenant
    assert set(changed.run_requests[0].asset_selection) == {dg.AssetKey("budget_allocation"), dg.AssetKey("allocation_summary")}
    again, cursor = tick(cursor)
    assert not again.run_requests and "no tenant's standing constraints changed" in again.skip_message
    path.write_text("voltbox_electronics:\n  max_daily_usd: {meta: 400}\ncocoa_corner:\n  budget_usd: 9500\n")
    removed, cursor = tick(cursor)  # petpals_supply's entry removed: it plans with the defaults again
    assert [r.partition_key for r in removed.run_requests] == ["petpals_supply"]
    path.write_text("voltbox_electronics:\n  max_daily_usd: {meta: 400}\ncocoa_corner:\n  budget_usd: 9000\n")
    back, cursor = tick(cursor)  # cocoa_corner's budget back to its first value: a change like any other
    assert [r.partition_key for r in back.run_requests] == ["cocoa_corner"]
    assert len({r.run_key for r in changed.run_requests + removed.run_requests + back.run_requests}) == 4
    path.write_text("voltbox_electronics: [\n")
    broken, after = tick(cursor)
    assert not broken.run_requests and "not YAML" in broken.skip_message and after == cursor


def test_a_change_to_a_tenants_stated_priors_refits_its_mmm_and_plans_from_the_new_fit(tmp_path, monkeypatch):
    from sensors.tenant_files import priors_sensor

    path, instance = _tenant_file(tmp_path, monkeypatch, "WEATHER_MMM_PRIORS")
    first, cursor = _tick(instance, None, priors_sensor)
    assert not first.run_requests and "first look" in first.skip_message and "0 tenant(s) with stated ROAS priors" in first.skip_message
    path.write_text("cocoa_corner:\n  roas: {email: [2, 8]}\nnobody:\n  roas: {meta: [1, 2]}\n")
    changed, cursor = _tick(instance, cursor, priors_sensor)
    assert [(r.partition_key, r.run_key, r.tags["weather_mmm/trigger"]) for r in changed.run_requests] == [
        ("cocoa_corner", "priors:1:cocoa_corner", "priors")]
    assert set(changed.run_requests[0].asset_selection) == {dg.AssetKey(k) for k in (
        "mmm_effects", "mmm_diagnostics", "mmm_decomposition", "mmm_curves", "budget_allocation", "allocation_summary")}
    path.write_text("cocoa_corner:\n  roas: {email: [2.0, 8]}  # the same belief\nnobody:\n  roas: {meta: [1, 2]}\n")
    same, cursor = _tick(instance, cursor, priors_sensor)
    assert not same.run_requests and "no tenant's stated ROAS priors changed" in same.skip_message
    path.write_text("cocoa_corner:\n  roas: {email: [2.0, 8]}\n")
    unknown, cursor = _tick(instance, cursor, priors_sensor)
    assert not unknown.run_requests and "only tenant(s) not in the catalog changed" in unknown.skip_message
    path.write_text("cocoa_corner:\n  roas: {email: [8, 2]}\n")  # a mistake: the refit runs, fails and says why
    wrong, cursor = _tick(instance, cursor, priors_sensor)
    assert [r.run_key for r in wrong.run_requests] == ["priors:3:cocoa_corner"]


def test_the_instance_event_log_keeps_connections_open_and_stays_readable_by_dagsters_own(tmp_path, monkeypatch):
    """The project's dagster.yaml (PooledSqliteEventLogStorage): a 20-day range run's events land in Dagster's
    own layout, each run shard is checkpointed into its .db file (what the UI's live view watches), commits do
    not wait for an fsync, the step's materializations are stored as one batch, and the index is asked whether
    its tag table exists once, not once per event."""
    import sqlite3

    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    from resources.instance import PooledSqliteEventLogStorage
    from sensors.jobs import range_tags
    from weather_mmm.settings import STORAGE_DIR

    home = tmp_path / "dagster"
    home.mkdir()
    shutil.copy(STORAGE_DIR / "dagster" / "dagster.yaml", home)
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    @dg.asset(partitions_def=dg.DailyPartitionsDefinition("2024-01-01"), backfill_policy=dg.BackfillPolicy.single_run())
    def daily(context: dg.AssetExecutionContext) -> None:
        context.add_output_metadata({"days": len(context.partition_keys)})

    asked, alone = [], []
    dagsters, one_by_one = SqliteEventLogStorage.has_table, SqliteEventLogStorage.store_event
    monkeypatch.setattr(SqliteEventLogStorage, "has_table", lambda self, name: asked.append(name) or dagsters(self, name))
    monkeypatch.setattr(SqliteEventLogStorage, "store_event", lambda self, e: alone.append(e.dagster_event_type) or one_by_one(self, e))
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "")  # then unset: the storage sets its default, undone after the test
    monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE")
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        assert os.environ["DAGSTER_EVENT_BATCH_SIZE"] == "1000"
        result = dg.materialize([daily], instance=instance, tags=range_tags("2024-01-01", "2024-01-20"))
        assert result.success
        assert asked.count("asset_event_tags") == 1
        assert dg.DagsterEventType.ASSET_MATERIALIZATION not in alone and dg.DagsterEventType.RUN_SUCCESS in alone
        assert instance.get_materialized_partitions(daily.key) == {f"2024-01-{d:02d}" for d in range(1, 21)}
        with instance.event_log_storage.index_connection() as conn:  # every materialization's tags were stored
            assert conn.exec_driver_sql("select count(distinct event_id) from asset_event_tags").scalar() == 20
        shard = home / "history" / "runs" / f"{result.run_id}.db"
        with sqlite3.connect(f"file:{shard}?immutable=1", uri=True) as db:  # the .db file alone, not its WAL
            stored = db.execute("select count(*) from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION'").fetchone()[0]
        assert stored == 20
        with instance.event_log_storage.index_connection() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL (SQLite's default is FULL, 2)
        plain = SqliteEventLogStorage(str(home / "history" / "runs"))
        records = plain.fetch_materializations(daily.key, limit=100).records
        assert sorted(r.partition_key for r in records) == [f"2024-01-{d:02d}" for d in range(1, 21)]


def test_the_ui_loads_the_code_location_from_workspace_yaml(tmp_path):
    """What ``./dev ui`` (``dg dev -w workspace.yaml``) loads, validated by Dagster's own command in a fresh
    process on an instance configured as the project's (``storage/dagster/dagster.yaml``: the event log storage
    of ``resources.instance``, the ``duckdb`` pool): the module imports, and every asset, check, job, schedule
    and sensor is well formed."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    shutil.copy(root / "storage" / "dagster" / "dagster.yaml", tmp_path / "dagster.yaml")
    done = subprocess.run([sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"], cwd=root,
                          env={**os.environ, "DAGSTER_HOME": str(tmp_path)}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Validation successful for code location weather_mmm.definitions" in done.stdout + done.stderr


def test_every_declared_column_is_described_in_the_ui():
    """Each table that declares its columns (the UI's Columns tab) describes every one: a unit and meaning, or
    what a key or a weather quality flag holds."""
    from weather_mmm.definitions import build_definitions

    schemas = {s.key.to_user_string(): s.metadata["dagster/column_schema"] for s in build_definitions().resolve_all_asset_specs()
               if "dagster/column_schema" in s.metadata}
    assert {"weather_daily", "tenant_sales", "tenant_spend", "tenant_features", "tenant_media_features"} <= set(schemas)
    bare = {table: [c.name for c in schema.columns if not c.description] for table, schema in schemas.items()}
    assert not any(bare.values()), bare
    weather = {c.name: c.description for c in schemas["weather_daily"].columns}
    assert weather["snowfall_sum_flag"].startswith("how snowfall_sum was obtained: observed")


def test_a_rollback_from_the_ui_puts_the_earlier_version_in_use_and_the_sensor_plans_again_once(warehouse):
    from sensors.rollbacks import rolled_back_plans_sensor
    from weather_mmm.definitions import build_definitions
    from weather_mmm.models import store
    from weather_mmm.models.mmm import CODE_VERSION

    with duckdb.connect(str(warehouse)) as conn:
        for version, status in (("v1", "usable"), ("v2", "usable"), ("v3", "not_converged")):
            store.record_version(conn, {"tenant": "acme", "version": version, "engine": "numpyro", "data_fingerprint": "x",
                                        "code_version": CODE_VERSION, "settings": "{}", "created_at": dt.datetime(2026, 1, 1),
                                        "path": "", "holdout_r2": 0.5, "holdout_mape": 0.1, "status": status, "reason": ""})
        conn.execute("create table main.allocation_summary as select 'acme' tenant, 'all' channel, 'v2' model_version")
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("tenant", ["acme"])
    job = build_definitions().get_job_def("rollback_model_job")

    def tick():
        return _tick(instance, None, rolled_back_plans_sensor)[0]

    assert "every stored plan and MMM table was made from a model version still in use" in tick().skip_message
    failed = job.execute_in_process(partition_key="acme", instance=instance, raise_on_error=False,
                                    run_config={"ops": {"rollback_model_version": {"config": {"to": "v3"}}}})
    assert not failed.success and "tenant acme: version v3 is not_converged" in " ".join(failure_messages(failed))
    done = job.execute_in_process(partition_key="acme", instance=instance)
    assert done.success and done.output_for_node("rollback_model_version") == "v1"
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        assert dict(conn.execute("select version, status from model_versions").fetchall()) == {
            "v1": "usable", "v2": "rolled_back", "v3": "not_converged"}
    requests = tick().run_requests
    assert [(r.job_name, r.partition_key, r.run_key[:len("rollback:acme:v2:v1:")]) for r in requests] == [
        ("tenant_model_job", "acme", "rollback:acme:v2:v1:")]
    assert set(requests[0].asset_selection) == {dg.AssetKey(k) for k in (  # the MMM's tables describe v1, then it plans
        "mmm_effects", "mmm_diagnostics", "mmm_decomposition", "mmm_curves", "budget_allocation", "allocation_summary")}
    assert requests[0].run_config == {"ops": {"mmm_fit": {"config": {"version": "v1"}}}}
    assert tick().run_requests[0].run_key == requests[0].run_key  # the same rollback: Dagster runs its key once
    time.sleep(1.1)  # the rollback's record has its time to the second
    assert job.execute_in_process(partition_key="acme", instance=instance, run_config={
        "ops": {"rollback_model_version": {"config": {"to": "v2"}}}}).success  # undone, and planned from v2 again...
    assert "still in use" in tick().skip_message
    assert job.execute_in_process(partition_key="acme", instance=instance).success  # ...then rolled back again
    again = tick().run_requests
    assert again[0].run_key.startswith("rollback:acme:v2:v1:") and again[0].run_key != requests[0].run_key
    hold = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('locked', flush=True); time.sleep(30)"
    writer = subprocess.Popen([sys.executable, "-c", hold, str(warehouse)], stdout=subprocess.PIPE, text=True)
    try:  # a run in another process writes the warehouse: the tick leaves it to the next
        assert writer.stdout.readline().strip() == "locked"
        assert "warehouse busy, looking again at the next tick" in tick().skip_message
    finally:
        writer.kill()
        writer.wait()
