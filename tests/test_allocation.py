"""Budget allocation: the optimiser on a fit with known posterior draws, the forecast inputs, the model store,
and the ground truth of plans on a real simulated tenant."""

import datetime as dt
import re

import duckdb
import numpy as np
import polars as pl
import pytest
import responses

from tests.conftest import OPEN_METEO_DIR
from weather_mmm.allocation.optimize import Constraints, InfeasibleAllocation, ResponseModel, allocate
from weather_mmm.allocation.standing import (PlanConstraintsError, constraints, describe, merged, read_standing,
                                             standing_tenants)
from weather_mmm.allocation.quality import constraints_respected, true_plan_values, truth_outcome
from weather_mmm.models import store
from weather_mmm.models.mmm import CODE_VERSION, MAX_LAG, WEATHER_INPUTS, WEATHER_SIGNALS, MMMFit, MMMInputs, MMMSettings
from weather_mmm.settings import CALENDAR_START
from weather_mmm.simulation.catalog import get_profile
from weather_mmm.simulation.plans import TruePlans
from weather_mmm.tenant_files import entry_fingerprint
from weather_mmm.weather.cities import load_cities
from weather_mmm.weather.climatology import load_climatology
from weather_mmm.weather.daily import build_weather_daily
from weather_mmm.weather.forecast import ForecastInputError, read_forecast_file, simulated_forecast
from weather_mmm.weather.open_meteo import FORECAST_URL
from weather_mmm.weather.seeds import read_seed_folder

H = 7
W, S = len(WEATHER_INPUTS), len(WEATHER_SIGNALS)


def known_fit(half_saturation=(0.2, 3.0), draws=40) -> MMMFit:
    """Two channels with the same spend: 'search' saturates early (half-saturation 0.2 of mean spend), 'social'
    late (3.0), so a dollar moved from search to social earns more. Draws vary a little around these values."""
    rng = np.random.default_rng(0)
    T, C = 60, 2
    inputs = MMMInputs(
        dates=[dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(T)], channels=["search", "social"], geos=["phoenix"],
        revenue=np.full((T, 1), 10_000.0), spend=np.full((T, 1, C), 1_000.0), controls=np.zeros((T, 1)),
        weather=np.zeros((T, 1, W)), weather_normal=np.zeros((T, 1, W)), spend_scale=np.array([[1_000.0, 1_000.0]]),
        weather_center=np.zeros(W), weather_scale=np.ones(W), revenue_scale=np.array([10_000.0]),
        train=np.arange(48), holdout=np.arange(48, T))
    jitter = 1 + 0.05 * rng.standard_normal((1, draws, C))
    samples = {"decay": np.full((1, draws, C), 0.3), "half_saturation": np.array(half_saturation)[None, None] * jitter,
               "slope": np.full((1, draws, C), 1.0), "beta": (np.full((1, draws, C), 0.6) * jitter)[:, :, None, :],
               "alpha": np.zeros((1, draws, C)), "gamma": np.zeros((1, draws, S)), "weather_decay": np.full((1, draws, S), 0.5),
               "weather_scale": np.ones((1, draws, S)), "gamma_rain_cold": np.zeros((1, draws)), "intercept": np.zeros((1, draws, 1)),
               "b": np.zeros((1, draws, 1)), "sigma": np.full((1, draws, 1), 0.1)}
    return MMMFit(inputs, samples, MMMSettings(chains=1, draws=draws), 1.0, 0)


HISTORY = np.full((28, 1, 2), 1_000.0)
DATES = [dt.date(2024, 3, 1) + dt.timedelta(days=i) for i in range(H)]
NORMAL = np.zeros((H + MAX_LAG, 1, W))


def test_budget_moves_to_the_less_saturated_channel_within_bounds():
    plan = allocate(known_fit(), HISTORY, NORMAL, DATES, risk_aversion=0.0)  # the posterior mean: KKT checked below
    spend = plan.recommended
    assert spend.sum() == pytest.approx(14_000.0, abs=1e-6)  # budget = current allocation's total
    assert np.all(spend >= 700.0 - 1e-6) and np.all(spend <= 1_300.0 + 1e-6)  # ±30 % of current
    assert spend[:, 1].sum() > spend[:, 0].sum() + 400  # social gains, search loses
    assert plan.lift["mean"] > 0 and plan.lift["lo90"] > 0
    # no plan on the feasible set's corners earns more under the model than the optimiser's answer
    model = ResponseModel(known_fit(), HISTORY, NORMAL)
    corner = np.column_stack([np.full(H, 700.0), np.full(H, 1300.0)])
    even = np.full((H, 2), 1000.0)
    best = model.mean_and_grad(spend)[0]
    assert best >= model.mean_and_grad(corner)[0] and best >= model.mean_and_grad(even)[0]
    # optimality (KKT): every channel-day strictly inside its bounds earns the same at the margin
    grad = model.mean_and_grad(spend)[1]
    interior = grad[(spend > 700.5) & (spend < 1_299.5)]
    assert interior.size >= 8 and interior.std() / interior.mean() < 0.01
    assert "social gains" in plan.explanation and "search loses" in plan.explanation
    rows = plan.summary("t").with_columns(budget=pl.when(pl.col("channel") == "all").then(14_000.0))
    assert constraints_respected(plan.table("t"), rows).passed


def unsure_social(half_saturation) -> MMMFit:
    """:func:`known_fit` whose 'social' effect is unsure: the same median, ±60 % between draws."""
    fit = known_fit(half_saturation, draws=200)
    rng = np.random.default_rng(1)
    fit.samples["beta"][..., 1] *= np.exp(0.6 * rng.standard_normal((1, 200, 1)) - 0.18)
    return fit


def mean_plan_lift(fit: MMMFit) -> tuple[np.ndarray, np.ndarray]:
    """(the posterior-mean plan, its lift over the current allocation per draw, USD)."""
    plan = allocate(fit, HISTORY, NORMAL, DATES, risk_aversion=0.0).recommended
    model = ResponseModel(fit, HISTORY, NORMAL)
    return plan, np.asarray(model.incremental(plan) - model.incremental(np.full((H, 2), 1_000.0)))


def test_the_posterior_mean_plan_stands_when_it_surely_beats_the_current_allocation():
    fit = unsure_social((0.2, 3.0))  # search saturates so early that moving into social pays in every draw
    plan, lift = mean_plan_lift(fit)
    assert lift.mean() > 1.2816 * lift.std() > 0
    chosen = allocate(fit, HISTORY, NORMAL, DATES)
    assert np.array_equal(chosen.recommended, plan)
    assert "highest expected revenue beats the current allocation with at least 90% posterior probability" in chosen.explanation
    summary = chosen.summary("t")
    assert summary.filter(pl.col("channel") == "all").select("plan_choice", "risk_aversion").row(0) == ("mean", 1.2816)
    assert summary.schema["target_roas"] == pl.Float64  # without a target too: the stored column holds 1.5 later


def test_an_unsure_posterior_mean_plan_gives_way_to_the_risk_aware_plan():
    fit = unsure_social((0.5, 3.0))
    plan, lift = mean_plan_lift(fit)
    assert 0 < lift.mean() < 1.2816 * lift.std()  # it gains on average but loses in more than 10 % of the draws
    careful = allocate(fit, HISTORY, NORMAL, DATES)
    assert careful.recommended.sum() == pytest.approx(14_000.0, abs=1e-6)
    moved = abs(careful.recommended[:, 1].sum() - 7_000.0)  # USD out of social over the week
    assert moved < abs(plan[:, 1].sum() - 7_000.0) / 5  # a fraction of what the mean plan moves
    assert careful.lift["mean"] < lift.mean() and careful.lift["lo90"] > 0
    assert careful.lift["hi90"] - careful.lift["lo90"] < np.subtract(*np.percentile(lift, [95, 5])) / 10
    assert "with less than 90% posterior probability, so this plan gives up expected lift for certainty" in careful.explanation
    assert careful.summary("t").filter(pl.col("channel") == "all")["plan_choice"].item() == "risk-adjusted"


def test_a_risk_aware_optimum_at_the_status_quo_is_exactly_the_current_allocation():
    fit = known_fit((1.0, 1.0), draws=200)  # both channels alike and unsure: every move costs more risk than it earns
    fit.samples["beta"] *= np.exp(np.random.default_rng(1).standard_normal((1, 200, 1, 2)) - 0.5)
    plan, lift = mean_plan_lift(fit)
    assert 0 < lift.mean() < 1.2816 * lift.std()
    kept = allocate(fit, HISTORY, NORMAL, DATES)
    # SLSQP stops about 0.015 USD/day from the kink of mean - 1.28 sd at the status quo; that is no plan to act on
    assert np.array_equal(kept.recommended, np.full((H, 2), 1_000.0))
    assert kept.lift == {"mean": 0.0, "lo90": 0.0, "hi90": 0.0} and kept.choice == "risk-adjusted"
    assert "search keeps its budget" in kept.explanation and "social keeps its budget" in kept.explanation


def test_fixed_channel_and_explicit_bounds_hold_exactly():
    plan = allocate(known_fit(), HISTORY, NORMAL, DATES,
                    Constraints(budget=13_000.0, fixed={"search": 800.0}, bounds={"social": (0.0, 2_000.0)}))
    assert np.allclose(plan.recommended[:, 0], 800.0)
    assert "search loses (-20%, 7,000 -> 5,600 USD): " in plan.explanation and "; fixed at 800.00 USD/day." in plan.explanation
    assert plan.recommended.sum() == pytest.approx(13_000.0, abs=1e-6)
    assert plan.recommended[:, 1].max() <= 2_000.0 + 1e-9


def test_a_runs_plan_config_bounds_one_end_and_keeps_the_default_elsewhere():
    from assets.allocation import PlanConfig

    def plan_with(config: PlanConfig, standing: dict | None = None):
        return allocate(known_fit(), HISTORY, NORMAL, DATES, constraints(merged(standing or {}, config.fields()), None),
                        risk_aversion=0.0)

    config = PlanConfig(budget_usd=14_000.0, max_daily_usd={"social": 1_100.0})  # as set in the Dagster launchpad
    plan = plan_with(config)
    spend = plan.recommended
    assert spend.sum() == pytest.approx(14_000.0, abs=1e-6)
    free = plan_with(PlanConfig()).recommended
    assert free[:, 1].max() > 1_250.0 and spend[:, 1].max() == pytest.approx(1_100.0)  # the cap binds
    assert spend[:, 0].min() >= 700.0 - 1e-9  # search keeps its default floor, 30 % under current
    days = int(np.isclose(spend[:, 1], 1_100.0).sum())
    assert 0 < days < 7 and f"at its maximum (1,100.00 USD/day) on {days} of 7 days" in plan.explanation
    assert entry_fingerprint(PlanConfig().fields()) == "" and entry_fingerprint(config.fields()) != ""  # defaults: as no config
    with pytest.raises(InfeasibleAllocation, match=r"maximum 500.00 or negative \(the minimum is the default, current spend - 30%"):
        plan_with(PlanConfig(max_daily_usd={"social": 500.0}))
    with pytest.raises(InfeasibleAllocation, match="channel social: minimum 1200.00 USD/day above maximum 1100.00"):
        plan_with(PlanConfig(min_daily_usd={"social": 1_200.0}, max_daily_usd={"social": 1_100.0}))
    with pytest.raises(PlanConstraintsError, match=r"run config.max_daily_usd.social is -5.0; it must be at least 0"):
        PlanConfig(max_daily_usd={"social": -5.0}).fields()

    # A standing cap holds in every run that does not set max_daily_usd, and a run that sets it replaces it.
    standing = {"max_daily_usd": {"social": 1_000.0}, "min_daily_usd": {"search": 900.0}}
    held = plan_with(PlanConfig(), standing).recommended
    assert held[:, 1].max() == pytest.approx(1_000.0) and held[:, 0].min() >= 900.0 - 1e-9
    replaced = plan_with(PlanConfig(max_daily_usd={"social": 1_100.0}), standing).recommended
    assert replaced[:, 1].max() == pytest.approx(1_100.0) and replaced[:, 0].min() == pytest.approx(900.0)


def test_standing_constraints_are_read_per_tenant_and_a_bad_entry_names_file_tenant_and_field(tmp_path):
    path = tmp_path / "plan_constraints.yaml"
    assert read_standing(path, "acme") == {} and standing_tenants(path) == []  # no file: no standing constraints
    path.write_text("acme:\n  budget_usd: 8000\n  max_daily_usd: {meta: 400}\n  target_roas: 1.5\n"
                    "globex:\n  min_daily_usd: {meta: -1}\n")
    assert read_standing(path, "acme") == {"budget_usd": 8000.0, "max_daily_usd": {"meta": 400.0}, "target_roas": 1.5}
    assert read_standing(path, "initech") == {} and standing_tenants(path) == ["acme", "globex"]
    assert describe(read_standing(path, "acme")) == "budget 8,000 USD; meta at most 400 USD/day; target ROAS 1.5"
    assert describe({"fixed_daily_usd": {"email": 100.0}, "bound_share": 0.2}) == \
        "email fixed at 100 USD/day; channels not bounded within ±20% of current spend"
    assert describe({"budget_usd": 12000.5, "fixed_daily_usd": {"email": 150.5}}) == "budget 12,000.5 USD; email fixed at 150.5 USD/day"
    with pytest.raises(PlanConstraintsError, match=f"{path}: globex.min_daily_usd.meta is -1; it must be at least 0"):
        read_standing(path, "globex")  # only globex's plans fail
    path.write_text("acme:\n  max_daily: {meta: 400}\n")
    with pytest.raises(PlanConstraintsError, match=r"acme: unknown field\(s\) max_daily; fields are budget_usd, "):
        read_standing(path, "acme")
    path.write_text("acme:\n  target_roas: 0\n  bound_share: 1.5\n")
    with pytest.raises(PlanConstraintsError, match="acme.target_roas is 0; it must be above 0"):
        read_standing(path, "acme")
    path.write_text("- acme\n")
    with pytest.raises(PlanConstraintsError, match="a mapping of tenant -> constraints is expected, got list"):
        read_standing(path, "acme")
    path.write_text("acme: [budget_usd\n")
    with pytest.raises(PlanConstraintsError, match="not YAML"):
        read_standing(path, "acme")


def test_infeasible_budget_is_refused_with_the_reason():
    with pytest.raises(InfeasibleAllocation, match=r"budget 5000.00 USD over 7 days is below the channels' minimums, "
                                                   r"which need 9800.00 USD \(daily bounds: search 700.00..1300.00"):
        allocate(known_fit(), HISTORY, NORMAL, DATES, Constraints(budget=5_000.0))
    with pytest.raises(InfeasibleAllocation, match="above the channels' maximums"):
        allocate(known_fit(), HISTORY, NORMAL, DATES, Constraints(budget=50_000.0))
    with pytest.raises(InfeasibleAllocation, match="unknown channel"):
        allocate(known_fit(), HISTORY, NORMAL, DATES, Constraints(fixed={"tiktok": 10.0}))
    with pytest.raises(InfeasibleAllocation, match=r"target ROAS 50.00 cannot be reached"):
        allocate(known_fit(), HISTORY, NORMAL, DATES, Constraints(target_roas=50.0))


def test_target_roas_caps_spend():
    free = allocate(known_fit(), HISTORY, NORMAL, DATES)
    roas = free.revenue["mean"] / free.recommended.sum()
    capped = allocate(known_fit(), HISTORY, NORMAL, DATES, Constraints(target_roas=roas * 1.05))
    assert capped.recommended.sum() < free.recommended.sum() - 1.0
    assert capped.revenue["mean"] / capped.recommended.sum() >= roas * 1.05 * (1 - 1e-6)
    # the constraint check reads the cap and the target from the stored summary; it fails a plan that misses either
    assert constraints_respected(capped.table("t"), capped.summary("t")).passed
    over = capped.table("t").with_columns(pl.col("recommended_spend") * 1.2)
    assert "earns" in constraints_respected(over, capped.summary("t")).summary
    assert "against a budget cap of 14000" in constraints_respected(
        over.with_columns(pl.col("recommended_spend") * 2), capped.summary("t")).summary


def test_model_store_round_trip_and_rollback(tmp_path):
    fit = known_fit()
    version, path = store.save_fit(tmp_path, "acme", fit)
    loaded = store.load_fit(path)
    assert loaded.inputs.channels == ["search", "social"] and loaded.inputs.dates == fit.inputs.dates
    assert np.array_equal(loaded.samples["half_saturation"], fit.samples["half_saturation"])
    a, b = allocate(fit, HISTORY, NORMAL, DATES), allocate(loaded, HISTORY, NORMAL, DATES)
    assert np.allclose(a.recommended, b.recommended)
    conn = duckdb.connect()
    row = {"tenant": "acme", "engine": "numpyro", "data_fingerprint": "x", "code_version": CODE_VERSION, "settings": "{}",
           "created_at": dt.datetime(2026, 1, 1), "path": str(path), "holdout_r2": 0.7, "holdout_mape": 0.1, "reason": ""}
    store.record_version(conn, {**row, "version": "v0", "status": "usable", "code_version": "mmm-0"})  # an earlier model
    store.record_version(conn, {**row, "version": "v1", "status": "usable"})
    store.record_version(conn, {**row, "version": "v2", "status": "usable"})
    store.record_version(conn, {**row, "version": "v3", "status": "not_converged", "reason": "max R-hat 1.05"})
    assert store.usable_version(conn, "acme")["version"] == "v2"  # the failed v3 is kept but never used
    assert store.made_from_rolled_back_versions(conn).is_empty()  # no allocation_summary yet
    conn.execute("create table main.allocation_summary as select 'acme' tenant, 'all' channel, 'v2' model_version")
    assert store.made_from_rolled_back_versions(conn).is_empty()  # planned from the version in use
    assert store.rollback(conn, "acme")["version"] == "v1"
    assert store.usable_version(conn, "acme")["version"] == "v1"
    assert store.in_use(conn, "acme", "v1")["path"] == str(path)  # the version the MMM's tables may describe now
    with pytest.raises(store.ModelStoreError, match="tenant acme: version v2 is not the model version in use \\(v1\\)"):
        store.in_use(conn, "acme", "v2")
    with pytest.raises(store.ModelStoreError, match="tenant nobody: version v1 is not the model version in use \\(none is\\)"):
        store.in_use(conn, "nobody", "v1")
    status = dict(conn.execute("select version, status from model_versions").fetchall())
    assert status == {"v0": "usable", "v1": "usable", "v2": "rolled_back", "v3": "not_converged"}
    stale = store.made_from_rolled_back_versions(conn)  # to plan again
    assert stale.select("tenant", "made_from", "in_use").rows() == [("acme", "v2", "v1")]
    assert re.fullmatch(r"rolled back by hand on \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC to v1", stale["rolled_back"][0])
    with pytest.raises(ValueError, match="nothing to roll back to"):  # v0 is of an earlier model: never used
        store.rollback(conn, "acme")
    with pytest.raises(store.ModelStoreError, match="version v3 is not_converged: max R-hat 1.05; versions that may be used: v2, v1"):
        store.rollback(conn, "acme", to="v3")
    with pytest.raises(store.ModelStoreError, match="version v0 was fitted by model mmm-0, and this code predicts with mmm-"):
        store.rollback(conn, "acme", to="v0")
    with pytest.raises(store.ModelStoreError, match="version v1 is already the one in use"):
        store.rollback(conn, "acme", to="v1")
    assert store.rollback(conn, "acme", to="v2")["version"] == "v2"  # undone: v2 in use again, v1 stays usable
    status = dict(conn.execute("select version, status from model_versions").fetchall())
    assert status == {"v0": "usable", "v1": "usable", "v2": "usable", "v3": "not_converged"}
    assert store.made_from_rolled_back_versions(conn).is_empty()
    store.record_version(conn, {**row, "version": "v4", "status": "usable"})
    conn.execute("create table main.mmm_diagnostics as select 'acme' tenant, 'v4' model_version")  # the tables: v4's
    assert store.rollback(conn, "acme", to="v1")["version"] == "v1"  # past two newer versions at once
    assert dict(conn.execute("select version, status from model_versions where version in ('v2', 'v4')").fetchall()) \
        == {"v2": "rolled_back", "v4": "rolled_back"}
    stale = store.made_from_rolled_back_versions(conn)  # plan (v2) and tables (v4) both stale: named by the plan's
    assert stale.select("tenant", "made_from", "in_use").rows() == [("acme", "v2", "v1")]
    conn.execute("update main.allocation_summary set model_version = 'v1'")  # planned again from v1 (`weather-mmm run`)
    assert store.made_from_rolled_back_versions(conn).select("made_from", "in_use").rows() == [("v4", "v1")]  # the tables
    assert conn.execute("select reason from model_versions where version = 'v4'").fetchone()[0].endswith(" to v1")
    with pytest.raises(FileNotFoundError, match="missing"):
        store.load_fit(tmp_path / "gone.npz")


def test_forecast_file_is_read_and_bad_files_are_named(tmp_path):
    good = tmp_path / "forecast.csv"
    good.write_text("city,date,temperature_2m_mean,precipitation_sum,snowfall_sum\n"
                    "phoenix,2025-01-02,12.5,0.0,0\nphoenix,2025-01-03,20.0,3.5,0\n")
    frame = read_forecast_file(good, dt.date(2025, 1, 1))
    assert frame["lead_days"].to_list() == [1, 2] and frame["hdd"].to_list() == [5.5, 0.0]
    bad = tmp_path / "bad.csv"
    bad.write_text("city,date,temperature_2m_mean,precipitation_sum,snowfall_sum\nphoenix,2025-01-02,12.5,-1,0\n")
    with pytest.raises(ForecastInputError, match=r"bad.csv: precipitation_sum is -1.0 for phoenix on 2025-01-02"):
        read_forecast_file(bad, dt.date(2025, 1, 1))
    with pytest.raises(ForecastInputError, match="not after the issue day"):
        read_forecast_file(good, dt.date(2025, 1, 2))


@pytest.fixture(scope="module")
def weather():
    cities = load_cities()
    end = dt.date(2023, 12, 31)
    return build_weather_daily(list(cities.values()), read_seed_folder(OPEN_METEO_DIR, set(cities)), load_climatology(),
                               CALENDAR_START, end)


def test_simulated_forecast_error_grows_with_lead(weather):
    phoenix = weather.filter(pl.col("city") == "phoenix")
    errors = []
    for seed in range(40):
        f = simulated_forecast(phoenix, dt.date(2023, 6, 1), 7, seed=seed).join(
            phoenix.select("date", observed=pl.col("temperature_2m_mean")), on="date")
        errors.append((f["temperature_2m_mean"] - f["observed"]).to_numpy())
    sd = np.std(errors, axis=0)
    assert sd[0] == pytest.approx(1.5, rel=0.3) and sd[6] == pytest.approx(1.5 * np.sqrt(7), rel=0.3)


def test_the_plan_horizon_a_tenant_gets_and_the_forecasts_it_cannot_plan_from(
        weather, monkeypatch, tmp_path):
    from assets.allocation import _forecast

    monkeypatch.delenv("WEATHER_MMM_FORECAST_FILE", raising=False)
    monkeypatch.delenv("WEATHER_MMM_FORECAST_SOURCE", raising=False)
    conn = duckdb.connect()
    conn.register("w", weather.to_arrow())
    conn.execute("create table main.weather_daily as select * from w")
    conn.execute("create table main.tenant_catalog as select * from (values ('sim', 'simulated'), ('real', 'imported')) t(tenant, source)")
    geos, last = {"seattle": 0.6, "chicago": 0.4}, dt.date(2023, 12, 31)
    forecast, issued, source = _forecast(conn, "sim", geos, last)  # valued on the truth of days it has
    assert issued == dt.date(2023, 12, 24) and forecast["date"].max() == last and source.startswith("simulated forecast")
    forecast, issued, source = _forecast(conn, "real", geos, last)  # a real tenant's next week: no truth to value
    assert issued == last and sorted(set(forecast["date"])) == [dt.date(2024, 1, k) for k in range(1, 8)]
    assert source.startswith("climatological normals") and forecast["lead_days"].to_list() == [*range(1, 8)] * 2
    january = weather.filter(pl.col("date").dt.month() == 1).group_by("city").agg(pl.col("temperature_2m_mean").mean())
    for city, observed in january.filter(pl.col("city").is_in(list(geos))).iter_rows():  # normals near the real Januaries
        assert forecast.filter(pl.col("city") == city)["temperature_2m_mean"].mean() == pytest.approx(observed, abs=3.0)
    chicago = forecast.filter(pl.col("city") == "chicago")
    assert (chicago["hdd"] > 15).all() and (chicago["snowfall_sum"] > 0).all()  # a Chicago January: cold, some snow
    from assets.allocation import plan_inputs

    late = tmp_path / "forecast.csv"  # a file for days the tenant has no spend before: nothing to plan from
    late.write_text("city,date,temperature_2m_mean,precipitation_sum,snowfall_sum\n"
                    + "".join(f"{c},2024-03-0{d},1.0,0.0,0.0\n" for c in geos for d in range(1, 8)))
    monkeypatch.setenv("WEATHER_MMM_FORECAST_FILE", str(late))
    with pytest.raises(ForecastInputError, match=rf"tenant real: the forecast file {late} is issued 2024-02-29, after "
                                                 r"the tenant's last stored day 2023-12-31; .*store the tenant's data up to 2024-02-29"):
        plan_inputs(conn, "real", None, geos, last)
    late.write_text(late.read_text().replace("chicago", "phoenix"))
    with pytest.raises(ForecastInputError, match="tenant real: the forecast file .* has no rows for chicago, where it sells"):
        plan_inputs(conn, "real", None, geos, last)
    # the forecast API, answering from 2024-01-01 (today): a tenant whose sales end yesterday plans from today
    monkeypatch.delenv("WEATHER_MMM_FORECAST_FILE")
    monkeypatch.setenv("WEATHER_MMM_FORECAST_SOURCE", "api")
    with responses.RequestsMock() as api:
        for city in ("seattle", "chicago"):  # each city's last 8 days of 2023, served as the API's 8 days from today
            days = weather.filter(pl.col("city") == city).sort("date").tail(8)
            daily = {"time": [f"2024-01-0{k}" for k in range(1, 9)],
                     **{c: days[c].to_list() for c in ("temperature_2m_max", "temperature_2m_min", "temperature_2m_mean",
                                                       "precipitation_sum", "snowfall_sum")}}
            latitude = responses.matchers.query_param_matcher({"latitude": str(load_cities()[city].latitude)}, strict_match=False)
            api.get(FORECAST_URL, json={"daily": daily}, match=[latitude])
        forecast, issued, source = _forecast(conn, "real", geos, last)
        assert issued == last and forecast["date"].min() == dt.date(2024, 1, 1) and source == "Open-Meteo forecast API"
        with pytest.raises(ForecastInputError, match="issued 2023-12-31, after the tenant's last stored day 2023-12-20"):
            plan_inputs(conn, "real", None, geos, dt.date(2023, 12, 20))  # sales 11 days old: nothing to plan from


def test_true_plans_on_a_simulated_tenant(weather):
    profile = get_profile("stormready_supply")
    end = dt.date(2023, 12, 31)
    truth = TruePlans(profile, weather, load_climatology(), end, [end - dt.timedelta(days=6 - k) for k in range(7)])
    current = np.tile([300.0, 150.0, 60.0], (7, 1))
    assert truth.incremental(np.zeros((7, 3))) == 0.0
    more = current.copy()
    more[:, 0] *= 1.2
    assert truth.incremental(more) > truth.incremental(current) > 0
    by_channel = truth.incremental_by_channel(more) - truth.incremental_by_channel(current)
    assert by_channel[0] > 0 and by_channel[1:] == pytest.approx([0.0, 0.0], abs=1e-9)  # only Meta's spend moved
    bounds = np.column_stack([current[0] * 0.7, current[0] * 1.3])
    best = truth.optimal(bounds, float(current.sum()), current)
    assert best.sum() == pytest.approx(current.sum(), rel=1e-6)
    assert truth.incremental(best) >= truth.incremental(current)
    # the check's path: plans and bounds as stored in budget_allocation and allocation_summary
    dates = [end - dt.timedelta(days=6 - k) for k in range(7)]
    plans = pl.DataFrame([{"tenant": "stormready_supply", "date": d, "channel": c, "current_spend": v,
                           "recommended_spend": v * (1.2 if c == "meta" else 1.0)}
                          for d in dates for c, v in zip(("meta", "google", "email"), current[0])])
    summary = pl.DataFrame([{"tenant": "stormready_supply", "channel": c, "min_daily": lo, "max_daily": hi}
                            for c, (lo, hi) in zip(("meta", "google", "email"), bounds)])
    values = true_plan_values(plans, summary, weather, load_climatology()).row(0, named=True)
    assert values["current"] == pytest.approx(truth.incremental(current))
    assert values["recommended"] == pytest.approx(truth.incremental(more))
    assert values["optimal"] >= values["current"]
    outcome = truth_outcome(pl.DataFrame({"tenant": ["a", "b"], "current": [100.0, 100.0], "recommended": [101.0, 99.0],
                                          "optimal": [110.0, 100.5]}))
    assert not outcome.passed and "less for b (-1 USD, -1.00%)" in outcome.summary and "captures 10%" in outcome.summary


def test_plan_plots_for_the_report_and_the_asset_metadata():
    from weather_mmm.models.mmm import curves
    from weather_mmm.report_html import _allocation_section, tenant_figures

    fit = known_fit()
    plan = allocate(fit, HISTORY, NORMAL, DATES)
    tag = pl.lit("t").alias("tenant")
    with duckdb.connect() as conn:
        for name, frame in {"budget_allocation": plan.table("t"), "allocation_summary": plan.summary("t"),
                            "mmm_curves": curves(fit).select(tag, pl.all())}.items():
            conn.register("frame", frame)
            conn.execute(f"create table main.{name} as select * from frame")
            conn.unregister("frame")
        figures = tenant_figures(conn, "t")
        section = _allocation_section(conn, "t", {"allocation_summary"})
    assert {"allocation", "response_curves", "adstock_curves"} <= set(figures)
    assert all(len(f.png) > 5000 and f.markdown.startswith(f"![{f.alt}](data:image/png;base64,") for f in figures.values())
    assert f"{plan.lift['mean']:,.0f} USD" in section


def test_a_known_contribution_margin_spends_only_where_it_pays():
    fit = known_fit()
    model = ResponseModel(fit, HISTORY, NORMAL)
    half = allocate(fit, HISTORY, NORMAL, DATES, Constraints(margin=0.5), risk_aversion=0.0)
    spend = half.recommended
    # at a 50 % margin (break-even ROAS 2) neither channel pays at its current spend: the cap is not used up
    assert spend.sum() < 14_000 - 2_000 and np.all(spend >= 700 - 1e-6)
    gain = 0.5 * model.mean_and_grad(spend)[1] - 1.0  # contribution of one more USD in each channel-day
    low, high = spend <= 700 + 0.5, spend >= 1_300 - 0.5
    assert np.all(gain[low] <= 0.01) and np.all(gain[high] >= -0.01) and np.all(np.abs(gain[~low & ~high]) < 0.02)
    assert half.contribution_lift["mean"] > 0 and "break-even ROAS 2.00" in half.explanation
    assert constraints_respected(half.table("t"), half.summary("t")).passed  # a cap, not an amount to spend
    # at a 100 % margin every channel pays: the whole budget is spent
    assert allocate(fit, HISTORY, NORMAL, DATES, Constraints(margin=1.0)).recommended.sum() == pytest.approx(14_000, abs=1e-3)
    with pytest.raises(InfeasibleAllocation, match=r"contribution margin 1.5 must be in \(0, 1\]"):
        allocate(fit, HISTORY, NORMAL, DATES, Constraints(margin=1.5))


def test_a_fit_split_into_two_identical_half_geos_plans_the_same():
    """The plan is the tenant's spend per channel, split across geos by their recent spend: two geos, each half
    of the known tenant (half its spend and revenue), must earn the same and get the same plan."""
    one = known_fit()
    x = one.inputs
    halves = MMMInputs(
        dates=x.dates, channels=x.channels, geos=["chicago", "phoenix"], revenue=np.repeat(x.revenue / 2, 2, 1),
        spend=np.repeat(x.spend / 2, 2, 1), controls=x.controls, weather=np.repeat(x.weather, 2, 1),
        weather_normal=np.repeat(x.weather_normal, 2, 1), spend_scale=np.repeat(x.spend_scale / 2, 2, 0),
        weather_center=x.weather_center, weather_scale=x.weather_scale, revenue_scale=np.repeat(x.revenue_scale / 2, 2),
        train=x.train, holdout=x.holdout)
    samples = {**one.samples, "beta": np.repeat(one.samples["beta"], 2, 2), "intercept": np.repeat(one.samples["intercept"], 2, 2)}
    two = MMMFit(halves, samples, one.settings, 1.0, 0)
    history = np.repeat(HISTORY / 2, 2, 1)
    weather = np.repeat(NORMAL, 2, 1)
    a, b = allocate(one, HISTORY, NORMAL, DATES), allocate(two, history, weather, DATES)
    assert b.revenue["mean"] == pytest.approx(a.revenue["mean"], rel=1e-4)  # float32 optimiser paths differ a little
    assert np.allclose(a.recommended.sum(0), b.recommended.sum(0), rtol=5e-3)
    # all of a channel's recent spend in one geo: the plan's spend goes there, where its saturation is
    lopsided = history.copy()
    lopsided[:, 0, 1], lopsided[:, 1, 1] = 1_000.0, 0.0
    model = ResponseModel(two, lopsided, weather)
    assert model.saturation(np.tile([1_000.0, 1_000.0], (H, 1)))[1] > ResponseModel(two, history, weather).saturation(
        np.tile([1_000.0, 1_000.0], (H, 1)))[1]
