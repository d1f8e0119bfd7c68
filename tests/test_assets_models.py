"""One tenant through the main job's path: sales, spend, features, baselines and their checks, in a temp warehouse."""

import base64
import re
import shutil
import subprocess
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from weather_mmm.cli import _instance, main

TENANT = "stormready_supply"


def test_run_one_tenant_materializes_features_and_baselines(warehouse, open_meteo_dir, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("WEATHER_MMM_WEATHER_SEEDS", str(open_meteo_dir))
    monkeypatch.setenv("WEATHER_MMM_CALENDAR_END", "2024-06-30")
    monkeypatch.setenv("WEATHER_MMM_MMM_WARMUP", "100")
    monkeypatch.setenv("WEATHER_MMM_MMM_DRAWS", "100")
    monkeypatch.setenv("WEATHER_MMM_MMM_EXTENSIONS", "1")
    stated = tmp_path / "mmm_priors.yaml"  # its team's belief about email, which the fit starts from
    stated.write_text(f"{TENANT}:\n  roas:\n    email: [1.5, 6]\n")
    monkeypatch.setenv("WEATHER_MMM_PRIORS", str(stated))
    code = main(["run", "--tenant", TENANT])
    out, err = capsys.readouterr()
    # 2 x 100 draws cannot converge, nor can 2 x 100 more from where they stopped (one extension): the blocking
    # convergence check fails the run (exit 1), the fit is kept.
    assert code == 1 and "mmm_converged failed" in err, err
    assert "check mmm_converged: FAILED" in out
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        days = conn.execute("select count(*) from tenant_features where tenant = ?", [TENANT]).fetchone()[0]
        media = conn.execute("select count(*) from tenant_media_features where tenant = ?", [TENANT]).fetchone()[0]
        models = dict(conn.execute("select model, holdout_r2 from baseline_summary where tenant = ?", [TENANT]).fetchall())
        best = conn.execute("select model from baseline_summary where best").fetchall()
        folds = conn.execute("select count(distinct fold) from baseline_scores").fetchone()[0]
    assert days == 547 and media == 547 * 3
    assert set(models) == {"seasonal_naive", "ols", "ols_weather", "ridge", "ridge_weather", "gam", "weather_only"}
    assert len(best) == 1 and folds == 6
    assert models["ridge_weather"] > models["ridge"]
    assert "check features_have_no_future_data: passed" in out
    assert "check no_feature_tracks_the_target: passed" in out
    assert "check holdout_r2_meets_tier_bar" in out
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        roas = conn.execute("select count(*) from mmm_effects where kind = 'roas' and lo90 <= mean and mean <= hi90").fetchone()[0]
        draws = conn.execute("select draws from mmm_diagnostics").fetchone()[0]
    assert roas == 3 and draws == 400
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        priors = dict(conn.execute("select key, prior from mmm_effects where kind = 'roas'").fetchall())
        informed = conn.execute("select key, lo90, hi90 from mmm_effects where kind = 'stated_prior'").fetchall()
    assert priors == {"meta": pytest.approx(2.0), "google": pytest.approx(2.0), "email": pytest.approx(3.0)}
    assert informed == [("email", pytest.approx(1.5), pytest.approx(6.0))]
    assert "1 tenant(s) calibrated with lift tests or stated ROAS priors, left out" in out
    # the fit is kept in the model store for inspection, but no allocation is built from it
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        status, path = conn.execute("select status, path from model_versions where tenant = ?", [TENANT]).fetchone()
    assert status == "not_converged" and Path(path).exists()
    assert f"tenant {TENANT}: no usable model version to allocate from" in err
    assert re.search(rf"\| {TENANT} .*\| no plan: no usable model version +\|", out)  # the closing table
    assert "check mmm_converged" in out and "check mmm_recovers_the_truth" in out
    # causal evidence without the MMM: heavy rain in one of its cities lifts that city's sales, as in truth
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        rain = conn.execute("select effect, q_value, geos from weather_evidence where signal = 'heavy_rain'").fetchone()
    assert rain[0] > 0.5 and rain[1] < 0.001 and rain[2] == 3
    assert "check weather_evidence_recovers_the_truth: passed" in out
    assert re.search(rf"{TENANT} +\| extreme +\| geo_shock_did +\| heavy_rain +\| \+\d", out)  # the evidence table
    # the HTML reports, rendered by a real browser: every plot decoded, the figures from the warehouse shown
    assert f"reports: {tmp_path / 'reports' / 'index.html'}" in out
    dom = _render(tmp_path / "reports" / f"{TENANT}.html", tmp_path)
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        r2, version = conn.execute("select holdout_r2, model_version from mmm_diagnostics").fetchone()
        meta = conn.execute("select mean from mmm_effects where kind = 'roas' and key = 'meta'").fetchone()[0]
        curves = dict(conn.execute("select kind, count(*) from mmm_curves group by kind").fetchall())
    assert curves == {"response": 3 * 41, "adstock": 3 * 13, "weather": 4 * 41}
    assert int(re.search(r'data-images-rendered="(\d+)"', dom).group(1)) == 6  # fit, contributions, ROAS, 3 curve panels
    assert f"{r2:.3f}" in dom and version in dom and f"{meta:.3g}" in dom
    assert re.search(r"<td>email</td>(<td>[^<]*</td>){3}<td>1\.5</td><td>6</td>", dom)  # its stated prior beside the fit
    assert re.search(r"<td>meta</td>(<td>[^<]*</td>){3}<td>0\.745</td><td>5\.37</td>", dom)  # the default prior
    assert "No allocation for this tenant" in dom
    assert re.search(r"heavy rain in one of its cities: that city.{1,6}s revenue \+", dom)  # the weather evidence section
    assert main(["show", TENANT]) == 0
    shown = capsys.readouterr().out
    assert f"report: {tmp_path / 'reports' / TENANT}.html" in shown
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        mape, divergences = conn.execute("select holdout_mape, divergences from mmm_diagnostics").fetchone()
        best = conn.execute("select model, holdout_mape from baseline_summary where best").fetchone()
    assert re.search(rf"\| holdout MAPE +\| {100 * mape:.1f}% +\|", shown)  # the fit's figures (reports.fit_facts)
    assert re.search(rf"\| best baseline: holdout R², MAPE +\| {best[0]}: [\d.-]+, {100 * best[1]:.1f}% +\|", shown)
    assert re.search(rf"\| divergences +\| {divergences} of 400 draws +\|", shown)
    assert re.search(r"\| stated_roas_prior +\| email \[1\.50, 6\.00\] +\|", shown)
    assert main(["show", "nobody"]) == 2 and "tenant nobody has no model" in capsys.readouterr().err
    index = _render(tmp_path / "reports" / "index.html", tmp_path)
    assert f'href="{TENANT}.html"' in index and 'data-images-rendered="1"' in index
    # The report's plots are also the fit's metadata in the Dagster UI (Markdown with the PNG inline).
    meta = _instance().get_latest_materialization_event(dg.AssetKey("mmm_effects")).asset_materialization.metadata
    for name in ("plot_fit", "plot_contributions", "plot_roas", "plot_response_curves", "plot_weather_curves"):
        png = base64.b64decode(re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)\)", meta[name].value).group(1))
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000, name
    assert meta["stated_roas_priors"].value == {"email": [1.5, 6.0]}
    # A second run with nothing changed skips the weather, the data, the fit and the allocation (it failed on
    # these same inputs) and says so; the exit code still says a tenant has no allocation.
    assert main(["run", "--tenant", TENANT]) == 1
    out, err = capsys.readouterr()
    assert "weather_daily: 547 days up to date (same sources and code), skipped" in out
    assert f"[1/1] {TENANT}: up to date; no allocation: no usable model version (unchanged since it failed)" in out
    assert "tenant checks: nothing changed since they last ran, skipped" in out
    assert f"0 run(s) (nothing had changed); 1 tenant(s) without an allocation (no usable model version): {TENANT}" in out
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        assert conn.execute("select count(*) from model_versions").fetchone()[0] == 1
    # a changed belief is a new input of the MMM: the next run would fit the tenant again
    from sensors.jobs import model_work
    from weather_mmm.definitions import build_definitions
    parts, _, blocked = model_work(build_definitions(), _instance(), TENANT)
    assert parts == [] and blocked  # as it was: no usable fit, and planning from none failed already
    # baselines of other code (a stored data version this code would not give): they alone run again, not the MMM
    _instance().report_runless_asset_event(dg.AssetMaterialization("baseline_summary", partition=TENANT,
                                                                   tags={"dagster/data_version": "older code"}))
    parts, _, blocked = model_work(build_definitions(), _instance(), TENANT)
    assert parts == ["baselines"] and blocked
    stated.write_text(f"{TENANT}:\n  roas:\n    email: [1.5, 9]\n")
    parts, _, blocked = model_work(build_definitions(), _instance(), TENANT)
    assert parts == ["baselines", "MMM", "allocation"] and not blocked  # a refit is planned from
    stated.write_text(f"{TENANT}:\n  roas:\n    tv: [1, 2]\n")  # a mistake fails the fit in one line, before sampling
    assert main(["run", "--tenant", TENANT]) == 1
    out, err = capsys.readouterr()
    assert f"{stated}: {TENANT}: ROAS prior for channel(s) tv, which the tenant does not advertise on" in err
    assert re.search(rf"\[1/1\] {TENANT}: FAILED \(baselines, MMM and allocation; \d+ s\)", out)
    assert "Traceback" not in err
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        assert conn.execute("select count(*) from model_versions").fetchone()[0] == 1
    stated.unlink()
    # `weather-mmm plan`: the allocation under the tenant's standing constraints (a YAML file) and a user's own (a
    # run config, replacing the standing ones field by field), here from that fit marked usable
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("update model_versions set status = 'usable'")
    standing = tmp_path / "plan_constraints.yaml"
    monkeypatch.setenv("WEATHER_MMM_PLAN_CONSTRAINTS", str(standing))
    standing.write_text(f"{TENANT}:\n  budget_usd: 4500\n  min_daily_usd: {{meta: 150}}\n  max_daily_usd: {{meta: 200}}\n"
                        f"  fixed_daily_usd: {{email: 100}}\nnobody:\n  budget_usd: -1\n")
    assert main(["plan", TENANT, "--max", "meta=250"]) == 0
    out = capsys.readouterr().out
    assert "constraints respected for 1 tenant(s)" in out and re.search(r"\| email +\| [\d.]+ +\| 100\.0 ", out)
    revenue, lo, hi, roas = re.search(r"expected incremental revenue ([\d,]+) USD \[([\d,]+), ([\d,]+)\], ROAS ([\d.]+)\n",
                                      out).groups()
    revenue, lo, hi = (float(v.replace(",", "")) for v in (revenue, lo, hi))
    assert lo <= revenue <= hi and abs(float(roas) - revenue / 4500) < 0.006  # the plan spends its whole budget
    assert f"standing constraints ({standing}): budget 4,500 USD; meta at least 150 USD/day; meta at most 200 USD/day; " \
           "email fixed at 100 USD/day; this run replaced max_daily_usd" in out
    assert "planned under: budget 4,500 USD; meta at least 150 USD/day; meta at most 250 USD/day; email fixed" in out
    assert main(["show", TENANT]) == 0 and "; under set budget_usd, fixed_daily_usd, max_daily_usd, min_daily_usd" \
        in capsys.readouterr().out  # the closing table's budget change
    page = (tmp_path / "reports" / f"{TENANT}.html").read_text()
    assert '<p id="constraints">Planned under: budget 4,500 USD; meta at least 150 USD/day; meta at most 250' in page
    used = _instance().get_latest_materialization_event(dg.AssetKey("budget_allocation")).asset_materialization.metadata
    assert used["constraints"].value["used"] == {"budget_usd": 4500.0, "min_daily_usd": {"meta": 150.0},
                                                 "max_daily_usd": {"meta": 250.0}, "fixed_daily_usd": {"email": 100.0}}
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        spent = conn.execute("select sum(recommended_spend) from budget_allocation").fetchone()[0]
        budget = conn.execute("select budget from allocation_summary where channel = 'all'").fetchone()[0]
        meta = conn.execute("select min(recommended_spend), max(recommended_spend) from budget_allocation "
                            "where channel = 'meta'").fetchone()
    assert budget == 4500 and abs(spent - 4500) < 1e-3 and 150 - 1e-6 <= meta[0] <= meta[1] <= 250 + 1e-6
    assert main(["plan", TENANT, "--min", "meta=300", "--max", "meta=250"]) == 1
    err = capsys.readouterr().err
    assert "channel meta: minimum 300.00 USD/day above maximum 250.00" in err
    assert f"(standing constraints in {standing}: budget 4,500 USD; meta at least 150 USD/day; " in err
    assert "; this run's: meta at least 300 USD/day; meta at most 250 USD/day)" in err
    standing.write_text(f"{TENANT}:\n  max_daily_usd: {{meta: -200}}\n")
    assert main(["plan", TENANT]) == 2
    assert f"{standing}: {TENANT}.max_daily_usd.meta is -200; it must be at least 0" in capsys.readouterr().err
    stated.write_text(f"{TENANT}:\n  roas: {{email: [1.5, 6]}}\nnobody:\n  roas: {{meta: [1, 2]}}\n")
    assert main(["run", "--weather-only"]) == 0  # the main job names the files it plans and fits with
    out = capsys.readouterr().out
    assert f"standing planning constraints: {standing} ({TENANT})" in out
    assert f"stated ROAS priors: {stated} ({TENANT}, nobody)" in out
    stated.unlink()
    standing.write_text(f"{TENANT}: [\n")
    assert main(["run", "--weather-only"]) == 0
    assert f"error: {standing}: not YAML" in capsys.readouterr().err
    assert main(["plan", "nobody"]) == 2 and "tenant nobody is not in the catalog" in capsys.readouterr().err
    # Model versions: the fit is in use and planned from, beside an older version (the same draws); `rollback` puts
    # the older back in use. A plan made from a version rolled back without planning (`--no-plan`, or by hand) is
    # planned again by the daemon's sensor, once; `rollback` without `--no-plan` plans at once.
    standing.unlink()
    older = "20000101T000000000000Z"
    with duckdb.connect(str(warehouse)) as conn:
        fit = conn.execute("select version from model_versions").fetchone()[0]
        conn.execute("insert into model_versions select * replace (? as version) from model_versions", [older])
    assert main(["plan", TENANT]) == 0
    capsys.readouterr()
    assert main(["models", TENANT]) == 0
    listed = capsys.readouterr().out
    assert re.search(rf"\| {fit} .*\| usable: .*\| in use, stored plan \|", listed)
    assert re.search(rf"\| {older} .*\| usable: .*\| +\|", listed)
    assert len(set(re.findall(r"\| mmm-\d+ +\| ([0-9a-f]{8}) +\|", listed))) == 1  # both fitted on the same inputs
    assert listed.count("| email [1.50, 6.00] |") == 2  # the priors each was fitted under (one artifact here)
    assert main(["rollback", TENANT, "--no-plan"]) == 0
    out = capsys.readouterr().out
    assert f"{TENANT}: model version {older} in use again (was {fit})" in out
    assert re.search(rf"\| {fit} .*\| rolled_back: rolled back by hand on .* to {older} +\| stored plan \|", out)
    assert re.search(rf"\| {older} .*\| in use +\|", out)
    assert main(["show", TENANT]) == 0  # the fit's tables, with its status now
    shown = capsys.readouterr().out
    assert re.search(r"\| model_status +\| rolled_back +\|", shown)
    assert re.search(rf"\| status +\| rolled_back: rolled back by hand on .* to {older} \(at fit time not_converged: ", shown)  # set usable by hand above
    assert f"these figures are the newest fit's ({fit}); plans use {older}: `weather-mmm show {TENANT} --version {older}`" in shown
    assert main(["show", TENANT, "--version", older]) == 0  # what the version in use says, from its artifact
    figures = capsys.readouterr().out
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        roas = conn.execute("select mean, lo90, hi90 from mmm_effects where kind = 'roas' and key = 'meta'").fetchone()
    assert f"| ROAS, meta               | {roas[0]:.2f} [{roas[1]:.2f}, {roas[2]:.2f}] vs " in figures  # the same artifact
    assert re.search(rf"\| status +\| usable: ", figures) and "| stated ROAS prior, email | 3.00 [1.50, 6.00]" in figures
    assert main(["show", TENANT, "--version", "nope"]) == 2
    assert f"tenant {TENANT} has no model version nope (versions: {fit}, {older})" in capsys.readouterr().err
    tick = _rollback_tick()
    assert [(r.partition_key, r.run_key.rsplit(":", 1)[0]) for r in tick.run_requests] == [(TENANT, f"rollback:{TENANT}:{fit}:{older}")]
    assert set(tick.run_requests[0].asset_selection) == {dg.AssetKey(k) for k in (
        "budget_allocation", "allocation_summary", "mmm_effects", "mmm_diagnostics", "mmm_decomposition", "mmm_curves")}
    assert tick.run_requests[0].run_config == {"ops": {"mmm_fit": {"config": {"version": older}}}}  # described, not fitted
    assert main(["rollback", TENANT, "--to", fit, "--no-plan"]) == 0  # undone: the plan is from the version in use
    assert f"in use again (was {older})" in capsys.readouterr().out
    assert not _rollback_tick().run_requests
    assert main(["rollback", TENANT]) == 0  # and again, planning from the older version at once
    out = capsys.readouterr().out
    assert re.search(rf"planned again from {older}: expected lift over the current allocation [+-][\d,]+ USD", out)
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        assert conn.execute("select distinct model_version from allocation_summary").fetchall() == [(older,)]
        # the MMM's tables describe the version in use too, from its artifact, and no new version was fitted
        assert conn.execute("select model_version, status from mmm_diagnostics").fetchall() == [(older, "usable")]
        assert conn.execute("select mean, lo90, hi90 from mmm_effects where kind = 'roas' and key = 'meta'").fetchone() == pytest.approx(roas)
        assert conn.execute("select count(*) from model_versions").fetchone()[0] == 2
    assert main(["show", TENANT]) == 0 and "these figures are the newest fit's" not in capsys.readouterr().out
    assert "every stored plan and MMM table was made from a model version still in use" in _rollback_tick().skip_message
    assert main(["rollback", TENANT]) == 2  # the one usable version is in use
    assert "nothing to roll back to" in capsys.readouterr().err
    assert main(["models", "nobody"]) == 2 and "tenant nobody has no model version in" in capsys.readouterr().err


def _rollback_tick():
    from dagster._core.definitions.partitions.context import partition_loading_context

    from sensors.rollbacks import rolled_back_plans_sensor
    from weather_mmm.definitions import build_definitions

    instance = _instance()
    with partition_loading_context(dynamic_partitions_store=instance):
        return rolled_back_plans_sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=build_definitions()))


def _render(page: Path, tmp_path: Path) -> str:
    """The DOM of ``page`` after headless Chromium loaded it (scripts run, images decoded)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (./dev test installs it with apt-get when it can)")
    out = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
                          "--disable-background-networking", "--disable-component-update", f"--user-data-dir={tmp_path / 'chromium'}",
                          "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120, check=True)
    return out.stdout
