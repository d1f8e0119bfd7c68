"""Climatological (day-of-year normal) weather: the counterfactual "normal weather" of the ground truth
and of every model's weather-driven revenue."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
from scipy.stats import norm

from weather_mmm.weather.climatology import CityClimatology, day_of_year, months
from weather_mmm.weather.signals import DEGREE_DAY_BASE_C


def normal_weather(clim: CityClimatology, dates: list[dt.date]) -> pl.DataFrame:
    """Normal weather for ``dates``: columns date, temperature_2m_mean/max/min (°C), precipitation_sum (mm),
    snowfall_sum (cm), hdd, cdd (°C·day).

    Degree days are expected degree days; precipitation is the expected daily amount; snowfall is that amount times the probability that the
    day's mean temperature is at or below 0 °C under the generator (10:1 snow ratio, as in ``daily``).
    """
    doy, month = day_of_year(dates), months(dates)
    mu, sd = clim.temperature.mean_sd(doy)
    half = clim.diurnal_range.normal(doy) / 2
    precip = clim.precipitation.normal(month)
    snow = precip * norm.cdf((0.0 - mu) / sd)
    # Normal degree days are expected degree days, E[max(base - T, 0)] for T ~ N(mu, sd) (as energy
    # normals average daily degree days), not degree days of the mean temperature.
    z = (DEGREE_DAY_BASE_C - mu) / sd
    hdd = (DEGREE_DAY_BASE_C - mu) * norm.cdf(z) + sd * norm.pdf(z)
    cdd = hdd - (DEGREE_DAY_BASE_C - mu)
    return pl.DataFrame({
        "date": pl.Series(dates, dtype=pl.Date),
        "temperature_2m_mean": mu,
        "temperature_2m_max": mu + half,
        "temperature_2m_min": mu - half,
        "precipitation_sum": precip,
        "snowfall_sum": snow,
        "hdd": hdd,
        "cdd": cdd,
    })
