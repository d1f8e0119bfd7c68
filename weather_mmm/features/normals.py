"""The tenant's weather features under day-of-year normal weather: the counterfactual of weather-driven revenue.

Normals come from the fitted climatology (``storage/seeds/climatology.json``, public knowledge, not ground
truth) through ``weather_mmm.weather.normals.normal_weather``, weighted by the tenant's geo mix like the
observed features. Lags and 7-day means of a normal are the normal itself shifted or averaged.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from weather_mmm.weather.climatology import CityClimatology
from weather_mmm.weather.normals import normal_weather

COLUMNS = {"tmean": "temperature_2m_mean", "precip": "precipitation_sum", "snow": "snowfall_sum", "hdd": "hdd", "cdd": "cdd"}


def normal_features(geos: dict[str, float], climatology: dict[str, CityClimatology], dates: list[dt.date]) -> pl.DataFrame:
    """One row per date: tmean, precip, snow, hdd, cdd, their lag 1 and the 7-day means of hdd, cdd and precip,
    under normal weather (same units as ``tenant_features``).

    Raises:
        KeyError: a geo of the tenant has no fitted climatology (names the city).
    """
    first = min(dates) - dt.timedelta(days=7)
    span = [first + dt.timedelta(days=i) for i in range((max(dates) - first).days + 1)]
    total = sum(geos.values())
    parts = []
    for city, share in geos.items():
        if city not in climatology:
            raise KeyError(f"no climatology for city {city!r}; refit with `weather-mmm fit-climatology`")
        frame = normal_weather(climatology[city], span)
        parts.append(frame.select("date", *[(pl.col(src) * share / total).alias(name) for name, src in COLUMNS.items()]))
    weighted = pl.concat(parts).group_by("date").agg(pl.all().sum()).sort("date")
    return (weighted.with_columns(**{f"{c}_lag1": pl.col(c).shift(1) for c in COLUMNS},
                                  **{f"{c}_7d": sum(pl.col(c).shift(k) for k in range(7)) / 7 for c in ("hdd", "cdd", "precip")})
            .filter(pl.col("date").is_in(dates)))
