"""Causal evidence for weather effects on simulated tenants over real weather, scored against the truth."""

import datetime as dt

import numpy as np
import polars as pl
import pytest

from tests.conftest import OPEN_METEO_DIR
from weather_mmm import causal
from weather_mmm.settings import CALENDAR_START
from weather_mmm.simulation.catalog import get_profile
from weather_mmm.simulation.importer import read_forecast_files, read_tenant_files
from weather_mmm.simulation.simulate import simulate_tenant
from weather_mmm.weather.cities import load_cities
from weather_mmm.weather.climatology import load_climatology
from weather_mmm.weather.daily import build_weather_daily
from weather_mmm.weather.seeds import read_seed_folder

END = dt.date(2024, 12, 31)
CLIM = load_climatology()


@pytest.fixture(scope="module")
def weather():
    cities = load_cities()
    return build_weather_daily(list(cities.values()), read_seed_folder(OPEN_METEO_DIR, set(cities)), CLIM, CALENDAR_START, END)


def _evidence(tenant: str, weather: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(evidence, the same designs on the true outcome) of one simulated tenant."""
    profile = get_profile(tenant)
    sim = simulate_tenant(profile, weather, CLIM, END)
    channels = [c.channel for c in profile.channels]
    panel = causal.geo_panel(sim.sales, sim.spend, weather, channels, sim.forecasts)
    truth = causal.weather_evidence(causal.true_outcome(panel, sim.contributions))
    return causal.weather_evidence(panel), truth.select("design", "signal", truth="effect")


def test_heavy_rain_across_geos_is_found_where_it_sells_and_nowhere_else(weather):
    storm, truth = _evidence("stormready_supply", weather)
    rain = storm.join(truth, on=["design", "signal"]).filter(pl.col("signal") == "heavy_rain").row(0, named=True)
    # ponchos and sandbags: a city's sales more than double on its heavy-rain days, against its other cities
    assert rain["design"] == "geo_shock_did" and rain["geos"] == 3 and rain["treated"] >= causal.MIN_SHOCK_DAYS
    assert rain["effect"] > 0.6 and rain["q_value"] < 0.001
    assert rain["lo90"] <= rain["truth"] <= rain["hi90"]
    assert "heavy rain in one of its cities: that city's revenue +" in rain["reading"]
    # laptops do not care about the weather: no effect in truth, none found
    volt, truth = _evidence("voltbox_electronics", weather)
    assert set(volt["signal"]) >= {"heatwave", "heavy_rain"} and (volt["q_value"] > 0.05).all()
    assert truth["truth"].abs().max() < causal.NO_EFFECT


def test_the_forecast_error_separates_the_weather_from_the_spend_it_triggered(weather):
    # sunshield_skincare spends more when the forecast is hot: the naive regression credits heat with that spend
    evidence, truth = _evidence("sunshield_skincare", weather)
    heat = evidence.join(truth, on=["design", "signal"]).filter(pl.col("design") == "forecast_surprise").row(0, named=True)
    assert heat["signal"] == "heat" and heat["unit"] == "°C of maximum temperature"
    assert heat["lo90"] <= heat["truth"] <= heat["hi90"] and heat["p_value"] < 0.01
    assert abs(heat["naive_effect"] - heat["truth"]) > 2 * abs(heat["effect"] - heat["truth"])
    assert heat["naive_effect"] > heat["effect"] > 0
    # in one city alone (no other city the same day), week fixed effects stand in for day fixed effects
    profile = get_profile("sunshield_skincare")
    sim = simulate_tenant(profile, weather, CLIM, END)
    phoenix = [f.filter(pl.col("geo") == "phoenix") for f in (sim.sales, sim.spend, sim.forecasts, sim.contributions)]
    panel = causal.geo_panel(phoenix[0], phoenix[1], weather, ["meta", "google", "email"], phoenix[2])
    alone = causal.weather_evidence(panel).row(0, named=True)
    truth = causal.weather_evidence(causal.true_outcome(panel, phoenix[3]))["effect"][0]
    assert alone["design"] == "forecast_surprise" and alone["geos"] == 1 and alone["lo90"] <= truth <= alone["hi90"]


def test_an_imported_tenant_with_its_forecasts_gets_the_same_evidence(weather, tmp_path):
    """A tenant's files in the import format (daily sales and spend per geo; the forecasts it planned on) give the
    evidence its simulated tables give: real tenants come in through the same tables."""
    profile = get_profile("drizzle_rainwear")
    sim = simulate_tenant(profile, weather, CLIM, END)
    channels = [c.channel for c in profile.channels]
    wide = sim.spend.pivot(on="channel", index=["date", "geo"], values="spend").rename({c: f"spend_{c}" for c in channels})
    data = sim.sales.select("date", "geo", "revenue", "orders").join(wide, on=["date", "geo"])
    data.write_csv(tmp_path / "drizzle.csv")
    sim.forecasts.select("date", "geo", "variable", "forecast", "lead_days").write_csv(tmp_path / "forecasts.csv")
    sales, spend = read_tenant_files([tmp_path / "drizzle.csv"], "drizzle_rainwear", channels, list(profile.geos))
    forecasts = read_forecast_files([tmp_path / "forecasts.csv"], "drizzle_rainwear", list(profile.geos))
    imported = causal.weather_evidence(causal.geo_panel(sales, spend, weather, channels, forecasts))
    simulated = causal.weather_evidence(causal.geo_panel(sim.sales, sim.spend, weather, channels, sim.forecasts))
    assert imported["signal"].to_list() == simulated["signal"].to_list() and "precipitation" in imported["signal"]
    assert imported["effect"].to_list() == pytest.approx(simulated["effect"].to_list(), abs=1e-9)


def test_recovery_scores_coverage_and_wrong_signs(weather):
    frames = [(t, *_evidence(t, weather)) for t in ("stormready_supply", "sunshield_skincare")]
    evidence = pl.concat([e.with_columns(tenant=pl.lit(t)) for t, e, _ in frames])
    truth = pl.concat([tr.with_columns(tenant=pl.lit(t)) for t, _, tr in frames])
    outcome = causal.recovery(evidence, truth)
    assert outcome.passed and outcome.metadata["rows"] == evidence.height and outcome.metadata["coverage"] >= 0.8
    assert "1 of 1 closer to the truth than the naive regression" in outcome.summary
    flipped = evidence.with_columns(
        [pl.when((pl.col("tenant") == "stormready_supply") & (pl.col("signal") == "heavy_rain")).then(-pl.col(c))
         .otherwise(pl.col(c)).alias(c) for c in ("effect", "lo90", "hi90")])
    outcome = causal.recovery(flipped, truth)
    assert not outcome.passed and "1 with the wrong sign (stormready_supply: heavy_rain)" in outcome.summary


def test_a_model_is_set_against_the_evidence_through_the_same_designs(weather):
    profile = get_profile("stormready_supply")
    sim = simulate_tenant(profile, weather, CLIM, END)
    panel = causal.geo_panel(sim.sales, sim.spend, weather, ["meta", "google", "email"], sim.forecasts)
    evidence = causal.weather_evidence(panel).with_columns(tenant=pl.lit("stormready_supply"))
    # a "model" that knows the truth: expected revenue under the actual and under normal weather, one draw
    wide = sim.contributions.group_by("date", "geo").agg(
        expected=pl.col("revenue").sum(), weather=pl.col("revenue").filter(pl.col("component") == "weather").sum())
    dates, geos = sorted(wide["date"].unique()), sorted(wide["geo"].unique())
    grid = {c: wide.pivot(on="geo", index="date", values=c).sort("date").select(geos).to_numpy()[None] for c in ("expected", "weather")}
    truthful = causal.model_outcome(panel, dates, geos, grid["expected"], grid["expected"] - grid["weather"])
    implied = causal.weather_evidence(truthful).select(pl.lit("stormready_supply").alias("tenant"), "design", "signal",
                                                      model_effect="effect")
    truth = causal.weather_evidence(causal.true_outcome(panel, sim.contributions))
    assert implied["model_effect"].to_list() == pytest.approx(truth["effect"].to_list(), abs=1e-9)
    outcome = causal.agreement(evidence, implied)
    assert outcome.passed and outcome.metadata["found"] >= 2 and "has the evidence's sign for" in outcome.summary
    # a model that sees no weather at all contradicts every effect found
    blind = causal.weather_evidence(causal.model_outcome(panel, dates, geos, grid["expected"], grid["expected"]))
    outcome = causal.agreement(evidence, blind.select(pl.lit("stormready_supply").alias("tenant"), "design", "signal",
                                                      model_effect="effect"))
    assert not outcome.passed and "stormready_supply: heavy_rain +0.0 % vs +" in outcome.summary


def test_a_single_city_tenant_without_forecasts_has_no_contrast_to_draw_on(weather):
    evidence, _ = _evidence("pageturner_books", weather)
    assert evidence.is_empty() and set(evidence.columns) == set(causal.EVIDENCE_UNITS)


def test_bad_input_is_named(weather):
    profile = get_profile("drizzle_rainwear")
    sim = simulate_tenant(profile, weather, CLIM, END)
    channels = ["meta", "google", "email"]
    holey = weather.filter(~((pl.col("city") == "seattle") & (pl.col("date") == dt.date(2024, 3, 5))))
    with pytest.raises(ValueError, match="tenant drizzle_rainwear: no weather_daily row for seattle on 2024-03-05"):
        causal.geo_panel(sim.sales, sim.spend, holey, channels)
    with pytest.raises(ValueError, match="tenant drizzle_rainwear: tenant_forecasts has variable 'fog'; known: precipitation"):
        causal.geo_panel(sim.sales, sim.spend, weather, channels, sim.forecasts.with_columns(variable=pl.lit("fog")))


def test_no_forecast_table_and_no_forecast_rows_are_the_same_input(weather):
    """The evidence of a tenant that planned on no forecast stays up to date once another tenant's forecasts
    create the table."""
    from assets.versions import evidence_inputs

    sim = simulate_tenant(get_profile("sunshield_skincare"), weather, CLIM, END)
    tables = {"sales": sim.sales, "spend": sim.spend, "weather": weather, "channels": ["meta", "google", "email"]}
    none = evidence_inputs(tables, None)
    assert evidence_inputs(tables, sim.forecasts.clear()) == none != evidence_inputs(tables, sim.forecasts)


def test_standard_errors_are_the_jackknife_over_weeks(weather):
    """CV3: (G - 1) / G times the sum of squared departures of the estimates that leave one ISO week out,
    recomputed here by refitting the design on the panel without each week; t(G - 1) intervals."""
    from scipy.stats import t as student_t

    sim = simulate_tenant(get_profile("stormready_supply"), weather, CLIM, END)
    panel = causal.geo_panel(sim.sales, sim.spend, weather, ["meta", "google", "email"])
    row = causal.shock_did(panel, "heavy_rain")
    week = pl.col("date").dt.iso_year() * 100 + pl.col("date").dt.week()
    weeks = panel.select(week.unique().sort()).to_series().to_list()
    left_out = np.array([causal._fit(panel.filter(week != w), "outcome", ["heavy_rain"], spend=True)[0][0] for w in weeks])
    G = len(weeks)
    se = np.sqrt((G - 1) / G * ((left_out - row["effect"]) ** 2).sum())
    assert row["hi90"] - row["effect"] == pytest.approx(student_t.ppf(0.95, G - 1) * se, rel=1e-6)
    assert row["p_value"] == pytest.approx(2 * student_t.sf(abs(row["effect"]) / se, G - 1), rel=1e-6)
    # a shock whose days all fall in one week (Seattle and Chicago, not Phoenix) has no estimate once that week
    # is left out: not tested, though it has more shock geo-days than the minimum
    one_week = pl.col("geo").is_in(["seattle", "chicago"]) & pl.col("date").is_between(dt.date(2024, 1, 8), dt.date(2024, 1, 14))
    spell = panel.with_columns(heavy_rain=pl.when(one_week).then(1.0).otherwise(0.0))
    assert spell.filter(pl.col("heavy_rain") > 0).height == 14 > causal.MIN_SHOCK_DAYS
    assert causal.shock_did(spell, "heavy_rain") is None
    two_weeks = one_week | ((pl.col("geo") == "seattle") & pl.col("date").is_between(dt.date(2024, 3, 4), dt.date(2024, 3, 6)))
    assert causal.shock_did(panel.with_columns(heavy_rain=pl.when(two_weeks).then(1.0).otherwise(0.0)), "heavy_rain")
