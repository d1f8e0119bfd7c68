"""The GAM on real demand: daily bike rentals with real weather (UCI Bike Sharing, ``day.csv``).

A check of the GAM baseline on data no simulation made. Columns used (the UCI dataset's own): ``cnt``
(rentals), ``temp`` (normalised: °C = temp x 41, per the dataset's readme), ``hum``, ``windspeed``,
``weathersit`` (1 clear, 2 mist/cloudy, 3 light rain or snow, 4 heavy rain), ``weekday``, ``mnth``,
``holiday``, ``workingday`` and ``instant`` (day index, the trend). Source: Fanaee-T & Gama 2013,
"Event labeling combining ensemble detectors and background knowledge", Progress in AI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from pygam import LinearGAM, f, l, s

from weather_mmm.models.validation import metrics, time_split

TEMP_SCALE_C = 41.0
WEATHER = ["temp_c", "hum", "windspeed", "weathersit"]
CALENDAR = ["weekday", "mnth", "instant", "holiday", "workingday"]


@dataclass
class BikeDemandFit:
    """Holdout metrics of the GAM with and without weather, and the weather responses it found.

    Attributes:
        with_weather, without_weather: holdout metrics (:func:`.validation.metrics`) on rentals.
        temperature: rows of (temp_c, effect) - the partial effect of temperature on log rentals.
        weathersit: weather situation -> partial effect on log rentals (1 = clear).
    """

    with_weather: dict
    without_weather: dict
    temperature: pl.DataFrame
    weathersit: dict[int, float]


def read_day_csv(path: Path) -> pl.DataFrame:
    """``day.csv`` with ``temp_c`` (°C) added.

    Raises:
        ValueError: a required column is missing (names the file and the column).
    """
    frame = pl.read_csv(path)
    for col in ["cnt", "temp", *WEATHER[1:], *CALENDAR]:
        if col not in frame.columns:
            raise ValueError(f"{path}: missing column {col!r}")
    return frame.with_columns(temp_c=pl.col("temp") * TEMP_SCALE_C).sort("instant")


def _vary(row: np.ndarray, column: int, values: np.ndarray) -> np.ndarray:
    grid = np.tile(row, (len(values), 1))
    grid[:, column] = values
    return grid


def fit_bike_demand(path: Path) -> BikeDemandFit:
    """Fit GAMs on log rentals, with and without weather, on the shared split's training days; score the holdout."""
    data = read_day_csv(path)
    y = np.log(data["cnt"].to_numpy().astype(float))
    split = time_split(data.height)
    x_w = data.select(WEATHER + CALENDAR).to_numpy().astype(float)
    x_c = data.select(CALENDAR).to_numpy().astype(float)
    with_weather = LinearGAM(s(0, n_splines=10) + s(1) + s(2) + f(3) + f(4) + f(5) + l(6) + l(7) + l(8))
    without = LinearGAM(f(0) + f(1) + l(2) + l(3) + l(4))
    with_weather.fit(x_w[split.train], y[split.train])
    without.fit(x_c[split.train], y[split.train])
    actual = np.exp(y[split.holdout])
    temps = np.linspace(x_w[split.train, 0].min(), x_w[split.train, 0].max(), 50)
    temperature = pl.DataFrame({"temp_c": temps, "effect": with_weather.partial_dependence(term=0, X=_vary(x_w[0], 0, temps))})
    sits = sorted(int(v) for v in np.unique(x_w[split.train, 3]))
    sit_effect = with_weather.partial_dependence(term=3, X=_vary(x_w[0], 3, np.array(sits, float)))
    return BikeDemandFit(
        with_weather=metrics(actual, np.exp(with_weather.predict(x_w[split.holdout]))),
        without_weather=metrics(actual, np.exp(without.predict(x_c[split.holdout]))),
        temperature=temperature,
        weathersit={k: float(v - sit_effect[0]) for k, v in zip(sits, sit_effect)},
    )
