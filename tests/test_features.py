"""Feature tables on a simulated tenant over real weather: columns, no future data, leakage caught."""

import datetime as dt

import polars as pl
import pytest

from weather_mmm.features import quality
from weather_mmm.features.build import (
    FEATURE_COLUMNS, FEATURE_UNITS, MEDIA_COLUMNS, MEDIA_UNITS, FeatureInputError, build_features, rebuild_rows,
)
from weather_mmm.simulation.catalog import get_profile
from weather_mmm.simulation.simulate import simulate_tenant
from weather_mmm.weather.climatology import load_climatology
from weather_mmm.weather.sources import load_weather_daily

TENANT = "drizzle_rainwear"
END = dt.date(2023, 4, 30)


@pytest.fixture(scope="module")
def tenant_data():
    from tests.conftest import OPEN_METEO_DIR

    weather = load_weather_daily(dt.date(2023, 1, 1), END, mode="seeds", seeds_dir=OPEN_METEO_DIR, calendar_end=END).frame
    profile = get_profile(TENANT)
    sim = simulate_tenant(profile, weather, load_climatology(), END)
    return sim, weather, profile.geos, [c.channel for c in profile.channels]


def test_columns_units_and_aggregates(tenant_data):
    sim, weather, geos, channels = tenant_data
    features, media = build_features(TENANT, sim.sales, sim.spend, weather, geos, channels)
    assert features.columns == FEATURE_COLUMNS and media.columns == MEDIA_COLUMNS
    assert set(FEATURE_COLUMNS[2:]) == set(FEATURE_UNITS) and set(MEDIA_COLUMNS[3:]) == set(MEDIA_UNITS)
    assert features.height == 120 and media.height == 120 * len(channels)
    assert features["revenue"].sum() == pytest.approx(sim.sales["revenue"].sum())
    assert media["spend"].sum() == pytest.approx(sim.spend["spend"].sum())
    # Weather is the revenue-share-weighted mean of the tenant's cities.
    day = dt.date(2023, 3, 1)
    w = weather.filter(pl.col("date") == day)
    expected = sum(share * w.filter(pl.col("city") == c)["temperature_2m_mean"][0] for c, share in geos.items()) / sum(geos.values())
    assert features.filter(pl.col("date") == day)["tmean"][0] == pytest.approx(expected)
    assert features.filter(pl.col("date") == dt.date(2023, 3, 4))["tmean_lag3"][0] == pytest.approx(expected)
    christmas = features.filter(pl.col("date") == dt.date(2023, 12, 25))
    assert christmas.is_empty()  # outside the 120 days
    assert features.filter(pl.col("date") == dt.date(2023, 1, 16))["holiday"][0] == 1  # Martin Luther King Jr. Day


def test_rows_rebuilt_from_truncated_data_are_identical(tenant_data):
    sim, weather, geos, channels = tenant_data
    features, media = build_features(TENANT, sim.sales, sim.spend, weather, geos, channels)
    days = quality.sample_days(features["date"], 4)
    assert rebuild_rows(TENANT, features, media, sim.sales, sim.spend, weather, geos, channels, days) == []
    # A range built with only WARMUP_DAYS of history gives the same rows as one built from the start.
    late = pl.col("date") >= dt.date(2023, 3, 1)
    f2, m2 = build_features(TENANT, sim.sales.filter(late), sim.spend.filter(late), weather.filter(late), geos, channels)
    assert f2.filter(pl.col("date") >= dt.date(2023, 3, 15)).equals(features.filter(pl.col("date") >= dt.date(2023, 3, 15)))


def test_a_leaky_feature_is_caught(tenant_data):
    sim, weather, geos, channels = tenant_data

    def leaky(*args):  # tomorrow's temperature smuggled in as today's
        features, media = build_features(*args)
        return features.with_columns(tmean_7d=pl.col("tmean").shift(-1)), media

    stored, media = leaky(TENANT, sim.sales, sim.spend, weather, geos, channels)
    problems = rebuild_rows(TENANT, stored, media, sim.sales, sim.spend, weather, geos, channels,
                            [dt.date(2023, 2, 10)], builder=leaky)
    assert len(problems) == 1 and "2023-02-10 column tmean_7d" in problems[0]
    outcome = quality.no_future_data({TENANT: problems}, 1)
    assert not outcome.passed and "1 difference" in outcome.summary


def test_a_target_proxy_is_flagged(tenant_data):
    sim, weather, geos, channels = tenant_data
    features, media = build_features(TENANT, sim.sales, sim.spend, weather, geos, channels)
    assert quality.no_target_proxies(features, media).passed
    proxy = features.with_columns(promo_depth=pl.col("revenue") * 1e-6)
    outcome = quality.no_target_proxies(proxy, media)
    assert not outcome.passed and f"{TENANT}.promo_depth 1.000" in outcome.summary


def test_missing_weather_names_tenant_city_and_day(tenant_data):
    sim, weather, geos, channels = tenant_data
    city = sorted(geos)[0]
    holed = weather.filter(~((pl.col("city") == city) & (pl.col("date") == dt.date(2023, 2, 2))))
    with pytest.raises(FeatureInputError, match=f"tenant {TENANT}: no weather for {city} on 2023-02-02"):
        build_features(TENANT, sim.sales, sim.spend, holed, geos, channels)
