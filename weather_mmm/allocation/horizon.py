"""Inputs of a plan: the horizon's days, the spend before them and the weather known at planning time."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from weather_mmm.allocation.optimize import CURRENT_DAYS
from weather_mmm.features.normals import normal_features, weighted_weather
from weather_mmm.models.mmm import MAX_LAG, MMMFit, model_weather
from weather_mmm.weather.climatology import CityClimatology
from weather_mmm.weather.forecast import planning_weather

DEFAULT_HORIZON_DAYS = 7


def spend_history(matrix: pl.DataFrame, channels: list[str], issued: dt.date) -> np.ndarray:
    """[28, C] USD/day: spend per channel on the 28 days up to and including ``issued``.

    Raises:
        ValueError: fewer than 28 days of spend up to ``issued`` (names the tenant and day).
    """
    rows = matrix.filter(pl.col("date") <= issued).sort("date").tail(CURRENT_DAYS)
    if rows.height < CURRENT_DAYS or rows["date"][-1] != issued:
        tenant = matrix["tenant"][0] if "tenant" in matrix.columns and matrix.height else "?"
        raise ValueError(f"tenant {tenant}: need {CURRENT_DAYS} days of spend up to {issued}, have {rows.height}")
    return np.column_stack([rows[f"spend_{c}"].fill_null(0.0).to_numpy() for c in channels])


def horizon_weather(fit: MMMFit, geos: dict[str, float], observed: pl.DataFrame, forecast: pl.DataFrame,
                    climatology: dict[str, CityClimatology]) -> tuple[list[dt.date], np.ndarray]:
    """(horizon dates, [H + MAX_LAG, W] scaled model weather): the tenant's geo-weighted weather
    features from observed days before the horizon and the ``forecast`` on it, then normal weather for the
    carryover days after it. Only what is known at planning time enters."""
    dates = sorted(forecast["date"].unique().to_list())
    frames = planning_weather(observed.filter(pl.col("date") >= dates[0] - dt.timedelta(days=14)),
                              forecast.filter(pl.col("city").is_in(list(geos))))
    planned = weighted_weather(geos, frames, dates)
    tail = [dates[-1] + dt.timedelta(days=k) for k in range(1, MAX_LAG + 1)]
    normal = normal_features(geos, climatology, tail)
    return dates, np.vstack([model_weather(fit.inputs, planned), model_weather(fit.inputs, normal)])
