"""Causal evidence for weather effects on simulated tenants over real weather, scored against the truth."""

import datetime as dt

import polars as pl
import pytest

from tests.conftest import OPEN_METEO_DIR
from weather_mmm import causal
from weather_mmm.settings import CALENDAR_START
from weather_mmm.simulation.catalog import get_profile
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


def test_a_single_city_tenant_without_forecasts_has_no_contrast_to_draw_on(weather):
    evidence, _ = _evidence("pageturner_books", weather)
    assert evidence.is_empty() and set(evidence.columns) == set(causal.EVIDENCE_UNITS)


def test_a_geo_day_without_weather_is_named(weather):
    profile = get_profile("drizzle_rainwear")
    sim = simulate_tenant(profile, weather, CLIM, END)
    holey = weather.filter(~((pl.col("city") == "seattle") & (pl.col("date") == dt.date(2024, 3, 5))))
    with pytest.raises(ValueError, match="tenant drizzle_rainwear: no weather_daily row for seattle on 2024-03-05"):
        causal.geo_panel(sim.sales, sim.spend, holey, ["meta", "google", "email"])
