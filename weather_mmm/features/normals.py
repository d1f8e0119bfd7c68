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


def weighted_weather(geos: dict[str, float], frames: dict[str, pl.DataFrame], dates: list[dt.date]) -> pl.DataFrame:
    """Geo-weighted weather features on ``dates`` from one daily frame per city (columns date,
    temperature_2m_mean °C, precipitation_sum mm, snowfall_sum cm, hdd, cdd °C·day, covering the 7 days
    before ``dates`` too): tmean, precip, snow, hdd, cdd, their lags 1 to 3 and the 7-day means of hdd, cdd and
    precip (same units and definitions as ``tenant_features``)."""
    total = sum(geos.values())
    parts = [frames[city].select("date", *[(pl.col(src).cast(pl.Float64) * share / total).alias(name)
                                             for name, src in COLUMNS.items()]) for city, share in geos.items()]
    weighted = pl.concat(parts).group_by("date").agg(pl.all().sum()).sort("date")
    return (weighted.with_columns(**{f"{c}_lag{k}": pl.col(c).shift(k) for c in COLUMNS for k in (1, 2, 3)},
                                  **{f"{c}_7d": sum(pl.col(c).shift(k) for k in range(7)) / 7 for c in ("hdd", "cdd", "precip")})
            .filter(pl.col("date").is_in(dates)))


def normal_features(geos: dict[str, float], climatology: dict[str, CityClimatology], dates: list[dt.date]) -> pl.DataFrame:
    """:func:`weighted_weather` under day-of-year normal weather, one row per date.

    Raises:
        KeyError: a geo of the tenant has no fitted climatology (names the city).
    """
    first = min(dates) - dt.timedelta(days=7)
    span = [first + dt.timedelta(days=i) for i in range((max(dates) - first).days + 1)]
    missing = [city for city in geos if city not in climatology]
    if missing:
        raise KeyError(f"no climatology for city {missing[0]!r}; refit with `weather-mmm fit-climatology`")
    return weighted_weather(geos, {city: normal_weather(climatology[city], span) for city in geos}, dates)


def geo_normal_features(geos: dict[str, float], climatology: dict[str, CityClimatology], dates: list[dt.date]) -> pl.DataFrame:
    """:func:`normal_features` of each geo alone (its city's normal weather), one row per date and geo, with a
    ``geo`` column.

    Raises:
        KeyError: a geo has no fitted climatology (names the city).
    """
    return pl.concat([normal_features({g: 1.0}, climatology, dates).with_columns(geo=pl.lit(g)) for g in geos])
