"""The ``weather_daily`` table: one row per city and calendar day, every variable flagged.

For each city the whole series, from a fixed origin before the calendar start up to the requested end,
is built from the city's own random streams and then sliced, so any date range reproduces exactly the
rows of a longer one. Steps: weather-year mapping onto real years (:mod:`.weather_years`); observed
values from the real record; physics where it allows (mean temperature from max and min, snowfall and
rain from precipitation and temperature, apparent temperature, shortwave radiation); the climatology
generator for what is still missing; derived signals (:mod:`.signals`).
"""

from __future__ import annotations

import datetime as dt
import zlib

import numpy as np
import polars as pl

from weather_mmm.settings import CALENDAR_START
from weather_mmm.weather.cities import City
from weather_mmm.weather.climatology import CityClimatology, day_of_year, months
from weather_mmm.weather.seeds import WeatherRecord
from weather_mmm.weather.signals import SIGNAL_UNITS, add_signals
from weather_mmm.weather.variables import DERIVED, FILLED, OBSERVED, VARIABLES, flag_column
from weather_mmm.weather.weather_years import map_weather_years, source_dates

#: The generated series starts this many days before the calendar, so lags and spells exist on day one.
SPIN_UP_DAYS = 31
SERIES_ORIGIN = CALENDAR_START - dt.timedelta(days=SPIN_UP_DAYS)
DEFAULT_SEED = 20230101
#: Snow-to-liquid ratio 10:1 (US NWS rule of thumb): 1 mm of precipitation is 1 cm of snow.
SNOW_CM_PER_MM = 1.0
SNOW_MAX_TEMP_C = 0.0
_STREAMS = ("temperature", "diurnal_range", "precip_occurrence", "precip_amount", "humidity", "wind")

COLUMNS: list[str] = (
    ["date", "city", "source", "source_date"]
    + list(VARIABLES)
    + [flag_column(v) for v in VARIABLES]
    + list(SIGNAL_UNITS)
)
COLUMN_UNITS: dict[str, str] = {**VARIABLES, **SIGNAL_UNITS}


def _streams(seed: int, city: str, n: int) -> dict[str, np.ndarray]:
    """Per-variable random draws for ``n`` days from the city's own streams (prefix-stable in ``n``)."""
    out = {}
    for i, name in enumerate(_STREAMS):
        rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(city.encode())], spawn_key=(i,)))
        out[name] = rng.random(n) if name.startswith("precip") else rng.standard_normal(n)
    return out


def _combine(*flags: np.ndarray) -> np.ndarray:
    """Flag of a value derived from inputs with these flags: filled if any input was filled."""
    any_filled = np.zeros(len(flags[0]), dtype=bool)
    for f in flags:
        any_filled |= f == FILLED
    return np.where(any_filled, FILLED, DERIVED)


def _extraterrestrial_radiation(lat_deg: float, doy: np.ndarray) -> np.ndarray:
    """Daily extraterrestrial radiation Ra, MJ/m²/day (FAO-56, Allen et al. 1998, eq. 21-25)."""
    phi = np.radians(lat_deg)
    dr = 1 + 0.033 * np.cos(2 * np.pi * doy / 365)
    delta = 0.409 * np.sin(2 * np.pi * doy / 365 - 1.39)
    ws = np.arccos(np.clip(-np.tan(phi) * np.tan(delta), -1, 1))
    return 24 * 60 / np.pi * 0.0820 * dr * (ws * np.sin(phi) * np.sin(delta) + np.cos(phi) * np.cos(delta) * np.sin(ws))


def apparent_temperature(t_c: np.ndarray, rh_pct: np.ndarray, wind_kmh: np.ndarray) -> np.ndarray:
    """Apparent temperature, °C (Steadman 1994, as used by the Australian Bureau of Meteorology):
    AT = T + 0.33 e - 0.70 v - 4.00, e = RH/100 * 6.105 exp(17.27 T / (237.7 + T)) hPa, v in m/s."""
    e = rh_pct / 100 * 6.105 * np.exp(17.27 * t_c / (237.7 + t_c))
    return t_c + 0.33 * e - 0.70 * (wind_kmh / 3.6) - 4.00


def build_city_series(
    city: City,
    record: WeatherRecord | None,
    clim: CityClimatology,
    end: dt.date,
    seed: int = DEFAULT_SEED,
    source_label: str | None = None,
) -> pl.DataFrame:
    """The city's whole daily series from :data:`SERIES_ORIGIN` to ``end``, columns :data:`COLUMNS`."""
    n = (end - SERIES_ORIGIN).days + 1
    dates = [SERIES_ORIGIN + dt.timedelta(days=i) for i in range(n)]
    doy, month = day_of_year(dates), months(dates)
    mapping = map_weather_years(sorted({d.year for d in dates}), record)
    src = source_dates(dates, mapping)

    # Observed values, aligned on the source date.
    obs: dict[str, np.ndarray] = {v: np.full(n, np.nan) for v in VARIABLES}
    if record is not None:
        aligned = pl.DataFrame({"source_date": pl.Series(src, dtype=pl.Date)}).join(
            record.frame.rename({"date": "source_date"}), on="source_date", how="left", maintain_order="left"
        )
        for v in VARIABLES:
            if v in aligned.columns:
                obs[v] = aligned[v].cast(pl.Float64).fill_null(np.nan).to_numpy()
    known = {v: ~np.isnan(obs[v]) for v in VARIABLES}
    flags = {v: np.where(known[v], OBSERVED, FILLED).astype(object) for v in VARIABLES}
    draws = _streams(seed, city.city, n)

    tmax_o, tmin_o = obs["temperature_2m_max"], obs["temperature_2m_min"]
    both = known["temperature_2m_max"] & known["temperature_2m_min"]
    tmean_known = np.where(known["temperature_2m_mean"], obs["temperature_2m_mean"], np.where(both, (tmax_o + tmin_o) / 2, np.nan))
    tmean = clim.temperature.simulate(doy, tmean_known, draws["temperature"])
    flags["temperature_2m_mean"] = np.where(known["temperature_2m_mean"], OBSERVED, np.where(both, DERIVED, FILLED))
    trange = clim.diurnal_range.simulate(doy, np.where(both, tmax_o - tmin_o, np.nan), draws["diurnal_range"])
    tmax = np.where(known["temperature_2m_max"], tmax_o, np.maximum(tmean + trange / 2, tmean))
    tmin = np.where(known["temperature_2m_min"], tmin_o, np.minimum(tmean - trange / 2, tmean))

    precip = clim.precipitation.simulate(month, obs["precipitation_sum"], draws["precip_occurrence"], draws["precip_amount"])
    cold = tmean <= SNOW_MAX_TEMP_C
    snow = np.where(known["snowfall_sum"], obs["snowfall_sum"], np.where(cold, precip * SNOW_CM_PER_MM, 0.0))
    flags["snowfall_sum"] = np.where(known["snowfall_sum"], OBSERVED,
                                     _combine(flags["precipitation_sum"], flags["temperature_2m_mean"]))
    rain = np.where(known["rain_sum"], obs["rain_sum"], np.maximum(precip - snow / SNOW_CM_PER_MM, 0.0))
    flags["rain_sum"] = np.where(known["rain_sum"], OBSERVED, _combine(flags["precipitation_sum"], flags["snowfall_sum"]))

    rh = clim.humidity.simulate(doy, obs["relative_humidity_2m_mean"], draws["humidity"])
    wind = clim.wind.simulate(doy, obs["wind_speed_10m_mean"], draws["wind"])
    at = np.where(known["apparent_temperature_mean"], obs["apparent_temperature_mean"], apparent_temperature(tmean, rh, wind))
    flags["apparent_temperature_mean"] = np.where(
        known["apparent_temperature_mean"], OBSERVED,
        _combine(flags["temperature_2m_mean"], flags["relative_humidity_2m_mean"], flags["wind_speed_10m_mean"]))
    # Hargreaves-Samani radiation, Rs = k sqrt(Tmax - Tmin) Ra (FAO-56 eq. 50; k 0.19 coastal, 0.16 interior).
    k_rs = 0.19 if city.coastal else 0.16
    rs = k_rs * np.sqrt(np.maximum(tmax - tmin, 0.0)) * _extraterrestrial_radiation(city.latitude, doy)
    rs = np.where(known["shortwave_radiation_sum"], obs["shortwave_radiation_sum"], rs)
    flags["shortwave_radiation_sum"] = np.where(
        known["shortwave_radiation_sum"], OBSERVED, _combine(flags["temperature_2m_max"], flags["temperature_2m_min"]))

    values = {
        "temperature_2m_max": tmax, "temperature_2m_min": tmin, "temperature_2m_mean": tmean,
        "apparent_temperature_mean": at, "precipitation_sum": precip, "rain_sum": rain, "snowfall_sum": snow,
        "wind_speed_10m_mean": wind, "relative_humidity_2m_mean": rh, "shortwave_radiation_sum": rs,
    }
    any_observed = np.zeros(n, dtype=bool)
    for v in VARIABLES:
        any_observed |= flags[v] == OBSERVED
    label = source_label or (record.source if record is not None else "climatology")
    frame = pl.DataFrame(
        {
            "date": pl.Series(dates, dtype=pl.Date),
            "city": city.city,
            "source": np.where(any_observed, label, "climatology (no real record)"),
            "source_date": pl.Series([s if o else None for s, o in zip(src, any_observed)], dtype=pl.Date),
            **{v: np.round(values[v], 2) for v in VARIABLES},
            **{flag_column(v): flags[v].astype(str) for v in VARIABLES},
        }
    )
    return add_signals(frame, clim).select(COLUMNS)


def build_weather_daily(
    cities: list[City],
    records: dict[str, WeatherRecord],
    climatology: dict[str, CityClimatology],
    start: dt.date,
    end: dt.date,
    seed: int = DEFAULT_SEED,
    source_labels: dict[str, str] | None = None,
) -> pl.DataFrame:
    """Weather for every city and every day from ``start`` to ``end`` inclusive.

    Returns:
        ``len(cities) * days`` rows, columns :data:`COLUMNS` (units in :data:`COLUMN_UNITS`), sorted by
        date then city.

    Raises:
        ValueError: ``start`` before the calendar start or after ``end``.
        KeyError: a city has no climatology (refit it with ``weather-mmm fit-climatology``).
    """
    if start < CALENDAR_START or start > end:
        raise ValueError(f"weather range {start}..{end} must lie on or after the calendar start {CALENDAR_START}")
    labels = source_labels or {}
    frames = [
        build_city_series(c, records.get(c.city), climatology[c.city], end, seed, labels.get(c.city))
        for c in cities
    ]
    out = pl.concat(frames).filter(pl.col("date").is_between(start, end))
    return out.sort(["date", "city"])


def flag_summary(frame: pl.DataFrame) -> pl.DataFrame:
    """Per city: days, and counts of observed / derived / filled values over all variables and days."""
    flags = [flag_column(v) for v in VARIABLES]
    long = frame.select(["city", *flags]).unpivot(index="city", value_name="flag")
    counts = long.group_by("city", "flag").len().pivot(on="flag", index="city", values="len").fill_null(0)
    for f in (OBSERVED, DERIVED, FILLED):
        if f not in counts.columns:
            counts = counts.with_columns(pl.lit(0, dtype=pl.UInt32).alias(f))
    days = frame.group_by("city").agg(pl.col("date").n_unique().alias("days"))
    total = pl.col(OBSERVED) + pl.col(DERIVED) + pl.col(FILLED)
    return (
        days.join(counts, on="city")
        .with_columns((pl.col(FILLED) / total).round(3).alias("filled_share"))
        .select(["city", "days", OBSERVED, DERIVED, FILLED, "filled_share"])
        .sort("city")
    )
