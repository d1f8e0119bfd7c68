"""Derived daily weather signals: degree days, anomalies, lags, rolling means and shock flags.

Every signal for day d uses only days d and earlier (lags and trailing windows), so it can feed models
without leaking the future.

Definitions and sources:

* heating / cooling degree days, base 18 °C: HDD = max(18 - T_mean, 0), CDD = max(T_mean - 18, 0)
  (Eurostat and the UK Met Office use 18 °C as the base; the US 65 °F = 18.3 °C).
* anomaly: value minus the city's day-of-year climatological normal (:mod:`.climatology`).
* heatwave: the third or later consecutive day with T_max above the day-of-year 90th percentile (Perkins &
  Alexander 2013, "On the measurement of heat waves", J. Climate 26: at least 3 days above the 90th pct).
* cold snap: the third or later consecutive day with T_min below the day-of-year 10th percentile (the same
  definition mirrored; ETCCDI cold-spell index).
* heavy rain: precipitation at or above the month's 95th percentile of wet-day amounts (ETCCDI R95p).
* snowstorm: snowfall of 10 cm or more in the day (about 4 in, the low end of US NWS winter storm
  warning criteria).
* sustained rain: the third or later consecutive day with at least 1 mm (ETCCDI wet-day threshold, as in CWD).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from weather_mmm.weather.climatology import CityClimatology, day_of_year, months

DEGREE_DAY_BASE_C = 18.0
Z90 = 1.2815515655446004  # standard normal 90th percentile
SPELL_DAYS = 3
SNOWSTORM_CM = 10.0
WET_DAY_1MM = 1.0
LAGGED = ("temperature_2m_mean", "precipitation_sum", "snowfall_sum", "hdd", "cdd")
LAGS = (1, 2, 3)
ROLLING = ("temperature_2m_mean", "precipitation_sum")

SIGNAL_UNITS: dict[str, str] = {
    "hdd": "°C·day", "cdd": "°C·day", "temp_anomaly": "°C", "precip_anomaly": "mm",
    **{f"{v}_lag{k}": u for v, u in (("temperature_2m_mean", "°C"), ("precipitation_sum", "mm"),
                                      ("snowfall_sum", "cm"), ("hdd", "°C·day"), ("cdd", "°C·day")) for k in LAGS},
    "temperature_2m_mean_7d": "°C", "precipitation_sum_7d": "mm",
    "heatwave": "flag", "cold_snap": "flag", "heavy_rain": "flag", "snowstorm": "flag", "sustained_rain": "flag",
}


def _spell(condition: np.ndarray, days: int) -> np.ndarray:
    """True on the ``days``-th and later consecutive day of ``condition`` (looks back only)."""
    run = np.zeros(len(condition), dtype=int)
    count = 0
    for t, c in enumerate(condition):
        count = count + 1 if c else 0
        run[t] = count
    return run >= days


def add_signals(frame: pl.DataFrame, clim: CityClimatology) -> pl.DataFrame:
    """Append the derived signals to one city's daily series.

    Args:
        frame: one city, one row per consecutive date (sorted), with the canonical variables filled.
        clim: the city's climatology (normals and percentiles).

    Returns:
        ``frame`` plus the columns of :data:`SIGNAL_UNITS`; lags and 7-day means are null where the series
        has no earlier days.
    """
    dates = frame["date"].to_list()
    doy, month = day_of_year(dates), months(dates)
    tmean = frame["temperature_2m_mean"].to_numpy()
    mu, sd = clim.temperature.mean_sd(doy)
    half_range = clim.diurnal_range.normal(doy) / 2
    hot = frame["temperature_2m_max"].to_numpy() > mu + half_range + Z90 * sd
    cold = frame["temperature_2m_min"].to_numpy() < mu - half_range - Z90 * sd
    precip = frame["precipitation_sum"].to_numpy()
    out = frame.with_columns(
        hdd=pl.Series(np.round(np.maximum(DEGREE_DAY_BASE_C - tmean, 0.0), 3)),
        cdd=pl.Series(np.round(np.maximum(tmean - DEGREE_DAY_BASE_C, 0.0), 3)),
        temp_anomaly=pl.Series(np.round(tmean - clim.temperature.normal(doy), 3)),
        precip_anomaly=pl.Series(np.round(precip - clim.precipitation.normal(month), 3)),
    )
    out = out.with_columns(
        [pl.col(v).shift(k).alias(f"{v}_lag{k}") for v in LAGGED for k in LAGS]
        + [pl.col(v).rolling_mean(7).round(3).alias(f"{v}_7d") for v in ROLLING]
    )
    return out.with_columns(
        heatwave=pl.Series(_spell(hot, SPELL_DAYS)),
        cold_snap=pl.Series(_spell(cold, SPELL_DAYS)),
        heavy_rain=pl.Series(precip >= clim.precipitation.quantile(month, 0.95)),
        snowstorm=pl.Series(frame["snowfall_sum"].to_numpy() >= SNOWSTORM_CM),
        sustained_rain=pl.Series(_spell(precip >= WET_DAY_1MM, SPELL_DAYS)),
    )
