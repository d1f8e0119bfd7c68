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


def spend_history(spend: pl.DataFrame, geos: list[str], channels: list[str], issued: dt.date) -> np.ndarray:
    """[28, G, C] USD/day: spend per geo and channel on the 28 days up to and including ``issued``, from
    ``tenant_spend`` rows (date, geo, channel, spend; a missing row is no spend).

    Raises:
        ValueError: the rows do not reach back 28 days from ``issued`` (names the tenant and day).
    """
    days = [issued - dt.timedelta(days=k) for k in range(CURRENT_DAYS - 1, -1, -1)]
    rows = spend.filter(pl.col("date").is_between(days[0], issued))
    if rows.is_empty() or rows["date"].min() > days[0] or rows["date"].max() < issued:
        tenant = spend["tenant"][0] if "tenant" in spend.columns and spend.height else "?"
        raise ValueError(f"tenant {tenant}: need {CURRENT_DAYS} days of spend up to {issued}, have "
                         f"{rows['date'].n_unique()}")
    grid = (pl.DataFrame({"date": days}).join(pl.DataFrame({"geo": geos}), how="cross")
            .join(pl.DataFrame({"channel": channels}), how="cross")
            .join(rows.group_by("date", "geo", "channel").agg(pl.col("spend").sum()), on=["date", "geo", "channel"], how="left")
            .sort("date", "geo", "channel"))
    return grid["spend"].fill_null(0.0).to_numpy().reshape(CURRENT_DAYS, len(geos), len(channels))


def horizon_weather(fit: MMMFit, observed: pl.DataFrame, forecast: pl.DataFrame,
                    climatology: dict[str, CityClimatology]) -> tuple[list[dt.date], np.ndarray]:
    """(horizon dates, [H + MAX_LAG, G, W] scaled model weather): each geo's weather features from its city's
    observed days before the horizon and the ``forecast`` on it, then normal weather for the carryover days
    after it. Only what is known at planning time enters."""
    geos = fit.inputs.geos
    dates = sorted(forecast["date"].unique().to_list())
    frames = planning_weather(observed.filter(pl.col("date") >= dates[0] - dt.timedelta(days=14)),
                              forecast.filter(pl.col("city").is_in(geos)))
    tail = [dates[-1] + dt.timedelta(days=k) for k in range(1, MAX_LAG + 1)]
    planned = model_weather(fit.inputs, {g: weighted_weather({g: 1.0}, frames, dates) for g in geos})
    normal = model_weather(fit.inputs, {g: normal_features({g: 1.0}, climatology, tail) for g in geos})
    return dates, np.concatenate([planned, normal])
