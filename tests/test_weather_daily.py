"""Climatology generator, weather-year mapping, the daily builder and its signals, on the real seeds."""

import datetime as dt

import numpy as np
import polars as pl
import pytest

from weather_mmm.weather.cities import load_cities
from weather_mmm.weather.climatology import fit_city, load_climatology, months
from weather_mmm.weather.daily import build_city_series, build_weather_daily
from weather_mmm.weather.seeds import read_seed_folder
from weather_mmm.weather.signals import add_signals
from weather_mmm.weather.sources import NO_REAL_SOURCE_WARNING, load_weather_daily
from weather_mmm.weather.weather_years import map_weather_years

CITIES = load_cities()


@pytest.fixture(scope="module")
def records():
    from tests.conftest import OPEN_METEO_DIR

    return read_seed_folder(OPEN_METEO_DIR, set(CITIES))


def test_committed_climatology_is_the_fit_of_the_real_seeds(records):
    committed = load_climatology()
    for city in CITIES:
        fitted = fit_city(CITIES[city], records.get(city)).to_dict()
        stored = committed[city].to_dict()
        for var in ("temperature", "diurnal_range", "precipitation", "humidity", "wind"):
            assert fitted[var] == stored[var], f"{city} {var}: refit with `weather-mmm fit-climatology`"


def test_fitted_seasons_are_physical():
    clim = load_climatology()
    jan, jul = np.array([15]), np.array([196])
    assert clim["phoenix"].temperature.normal(jul)[0] > 32 > clim["phoenix"].temperature.normal(jan)[0]
    assert clim["chicago"].temperature.normal(jan)[0] < 0
    seattle = clim["seattle"].precipitation
    assert seattle.normal(np.array([11]))[0] > 3 * seattle.normal(np.array([6]))[0]  # wet Decembers, dry Julys
    assert "normals" in clim["miami"].precipitation.source  # Miami has no real rain record
    assert "fit on" in clim["seattle"].precipitation.source


def test_generator_reproduces_the_fitted_wet_day_frequency_and_monthly_rain(records):
    """200 simulated years of Seattle from climatology alone match the real record's monthly means."""
    clim = load_climatology()["seattle"].precipitation
    dates = [dt.date(1800, 1, 1) + dt.timedelta(days=i) for i in range(365 * 200)]
    m = months(dates)
    rng = np.random.default_rng(1)
    sim = clim.simulate(m, np.full(len(dates), np.nan), rng.random(len(dates)), rng.random(len(dates)))
    real = records["seattle"].frame.with_columns(month=pl.col("date").dt.month() - 1)
    for month in (0, 6, 10):
        real_mean = real.filter(pl.col("month") == month)["precipitation_sum"].mean()
        assert sim[m == month].mean() == pytest.approx(real_mean, rel=0.2)


def test_weather_year_mapping_of_each_reference_city(records):
    years = [2022, 2023, 2024, 2025]
    assert map_weather_years(years, records["phoenix"]) == {2022: 2022, 2023: 2023, 2024: 2024, 2025: 2021}
    assert map_weather_years(years, records["miami"]) == {2022: 2010, 2023: 2011, 2024: 2012, 2025: 2013}
    assert map_weather_years(years, records["seattle"])[2024] == 2012  # leap onto leap
    assert map_weather_years(years, records["seattle"])[2023] == 2015
    assert map_weather_years(years, records["chicago"]) == {2022: 2017, 2023: 2017, 2024: 2016, 2025: 2017}
    assert map_weather_years(years, None) == {y: None for y in years}


def test_daily_table_observed_values_flags_and_source_dates(records):
    df = build_weather_daily(list(CITIES.values()), records, load_climatology(), dt.date(2023, 1, 1), dt.date(2024, 12, 31))
    assert df.height == 5 * 731
    assert df.select(pl.struct("city", "date").is_duplicated().sum()).item() == 0
    # Seattle 2024 comes from 2012, day for day, and carries the real values.
    row = df.filter((pl.col("city") == "seattle") & (pl.col("date") == dt.date(2024, 1, 2))).row(0, named=True)
    assert row["source_date"] == dt.date(2012, 1, 2)
    assert row["temperature_2m_max"] == 10.6 and row["temperature_2m_max_flag"] == "observed"
    assert row["temperature_2m_mean_flag"] == "derived"
    assert row["temperature_2m_mean"] == pytest.approx((10.6 + 2.8) / 2, abs=0.01)
    assert row["relative_humidity_2m_mean_flag"] == "filled"
    # Phoenix 2023 is its own real year.
    phx = df.filter((pl.col("city") == "phoenix") & (pl.col("date") == dt.date(2023, 7, 15))).row(0, named=True)
    assert phx["source_date"] == dt.date(2023, 7, 15) and phx["temperature_2m_max_flag"] == "observed"
    # Physics: min <= mean <= max, snow only at or below 0 °C where derived.
    assert df.filter(pl.col("temperature_2m_min") > pl.col("temperature_2m_mean") + 0.05).height == 0
    assert df.filter(pl.col("temperature_2m_mean") > pl.col("temperature_2m_max") + 0.05).height == 0
    derived_snow = df.filter((pl.col("snowfall_sum_flag") != "observed") & (pl.col("snowfall_sum") > 0))
    assert derived_snow.height > 0 and derived_snow["temperature_2m_mean"].max() <= 0.0
    # Miami has only mean temperature: everything else is filled, never called observed.
    miami = df.filter(pl.col("city") == "miami")
    assert (miami["precipitation_sum_flag"] == "filled").all()
    assert (miami["temperature_2m_mean_flag"] == "observed").mean() > 0.99


def test_any_range_is_a_slice_of_the_whole_series(records):
    clim = load_climatology()
    whole = build_weather_daily(list(CITIES.values()), records, clim, dt.date(2023, 1, 1), dt.date(2024, 12, 31))
    part = build_weather_daily(list(CITIES.values()), records, clim, dt.date(2024, 3, 1), dt.date(2024, 3, 10))
    assert part.equals(whole.filter(pl.col("date").is_between(dt.date(2024, 3, 1), dt.date(2024, 3, 10))))
    longer = build_weather_daily(list(CITIES.values()), records, clim, dt.date(2023, 1, 1), dt.date(2025, 6, 30))
    assert longer.filter(pl.col("date") <= dt.date(2024, 12, 31)).equals(whole)


def test_a_city_has_its_own_random_stream(records):
    clim = load_climatology()
    end = dt.date(2023, 3, 1)
    a = build_city_series(CITIES["miami"], records["miami"], clim["miami"], end)
    b = build_city_series(CITIES["miami"], records["miami"], clim["miami"], end, seed=7)
    assert not a["precipitation_sum"].equals(b["precipitation_sum"])  # the seed matters...
    assert a["temperature_2m_mean"].equals(b["temperature_2m_mean"])  # ...but never for observed values


def test_signals_look_only_backwards(records):
    clim = load_climatology()["chicago"]
    series = build_city_series(CITIES["chicago"], records["chicago"], clim, dt.date(2023, 3, 31))
    base = series.select(series.columns[:24])
    poisoned = base.with_columns(
        pl.when(pl.col("date") > dt.date(2023, 3, 15)).then(99.0).otherwise(pl.col("temperature_2m_mean")).alias("temperature_2m_mean"),
        pl.when(pl.col("date") > dt.date(2023, 3, 15)).then(500.0).otherwise(pl.col("precipitation_sum")).alias("precipitation_sum"),
    )
    cut = pl.col("date") <= dt.date(2023, 3, 15)
    assert add_signals(base, clim).filter(cut).equals(add_signals(poisoned, clim).filter(cut))


def test_degree_days_and_spells_by_their_definitions():
    clim = load_climatology()["phoenix"]
    dates = [dt.date(2023, 7, 1) + dt.timedelta(days=i) for i in range(6)]
    hot = [30, 47, 47, 47, 47, 30]
    frame = pl.DataFrame({
        "date": dates, "temperature_2m_max": hot, "temperature_2m_min": [25.0] * 6,
        "temperature_2m_mean": [15.0, 20.0, 36.0, 36.0, 36.0, 20.0],
        "precipitation_sum": [0.0, 2.0, 2.0, 2.0, 0.0, 0.0], "snowfall_sum": [0.0] * 6,
    })
    out = add_signals(frame, clim)
    assert out["hdd"].to_list() == [3.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert out["cdd"].to_list() == [0.0, 2.0, 18.0, 18.0, 18.0, 2.0]
    assert out["heatwave"].to_list() == [False, False, False, True, True, False]  # third hot day on
    assert out["sustained_rain"].to_list() == [False, False, False, True, False, False]
    assert out["temperature_2m_mean_lag1"].to_list()[:3] == [None, 15.0, 20.0]


def test_without_a_real_source_everything_is_flagged_filled_and_said_loudly():
    loaded = load_weather_daily(dt.date(2023, 1, 1), dt.date(2023, 1, 31), mode="climatology")
    assert NO_REAL_SOURCE_WARNING in loaded.warnings
    flags = loaded.frame.select(pl.col("^.*_flag$")).unpivot()["value"].unique().to_list()
    assert flags == ["filled"]
    assert (loaded.frame["source"] == "climatology (no real record)").all()
    assert loaded.frame["source_date"].null_count() == loaded.frame.height


def test_dates_past_the_calendar_end_are_refused():
    from weather_mmm.errors import WeatherInputError

    with pytest.raises(WeatherInputError, match="no weather for 2025-01-05: the calendar ends 2024-12-31"):
        load_weather_daily(dt.date(2025, 1, 1), dt.date(2025, 1, 5), mode="climatology", calendar_end=dt.date(2024, 12, 31))
