"""Weather for a planning horizon: what is known at planning time, never what was observed later.

Training uses observed weather (``weather_daily``). A plan for the days after ``issued`` may only use a
forecast issued that day. Three sources give the same frame (one row per city and day: ``city``, ``date``,
``lead_days``, ``temperature_2m_mean`` °C, ``precipitation_sum`` mm, ``snowfall_sum`` cm):

* a forecast file (:func:`read_forecast_file`), CSV with a header ``city,date,temperature_2m_mean,
  precipitation_sum,snowfall_sum`` (dates ISO, one row per city and day, units as above);
* the Open-Meteo forecast API in production (:func:`api_forecast`, through ``open_meteo.ForecastClient``);
* in simulation (:func:`simulated_forecast`), the weather that actually happened plus an error that grows
  with the square root of the lead time, as forecast skill decays (the same error scale the simulation's
  weather-triggered campaigns see);
* with no forecast at all (:func:`normal_forecast`), the cities' climatological normals: the expected weather
  of each day of the year, all that is known of next week without a forecast (WMO's "climatological forecast",
  the reference that forecast skill scores are measured against).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from weather_mmm.errors import WeatherMMMError
from weather_mmm.weather.cities import City
from weather_mmm.weather.climatology import CityClimatology
from weather_mmm.weather.normals import normal_weather
from weather_mmm.weather.open_meteo import ForecastClient
from weather_mmm.weather.seeds import WeatherRecord
from weather_mmm.weather.signals import DEGREE_DAY_BASE_C

FORECAST_VARIABLES = ("temperature_2m_mean", "precipitation_sum", "snowfall_sum")
#: Forecast error SD at one day of lead, growing with sqrt(lead): °C, mm, cm.
ERROR_SD = {"temperature_2m_mean": 1.5, "precipitation_sum": 2.5, "snowfall_sum": 2.0}


class ForecastInputError(WeatherMMMError, ValueError):
    """A forecast file or frame that cannot be used (names the file, city, date or column)."""


def _with_degree_days(frame: pl.DataFrame) -> pl.DataFrame:
    t = pl.col("temperature_2m_mean")
    return frame.with_columns(hdd=(DEGREE_DAY_BASE_C - t).clip(lower_bound=0), cdd=(t - DEGREE_DAY_BASE_C).clip(lower_bound=0))


def read_forecast_file(path: Path, issued: dt.date | None = None) -> pl.DataFrame:
    """Read a forecast CSV (format in the module docstring) issued on ``issued`` (default: the day before its
    first date).

    Raises:
        ForecastInputError: missing file or column, unparsable value, duplicate city-day, a day on or before
            ``issued``, or an impossible value (negative precipitation or snow); names file, column, row.
    """
    path = Path(path)
    if not path.exists():
        raise ForecastInputError(f"forecast file {path} does not exist")
    try:
        raw = pl.read_csv(path, try_parse_dates=True)
    except pl.exceptions.PolarsError as e:
        raise ForecastInputError(f"forecast file {path}: cannot be read as CSV ({e})") from None
    missing = [c for c in ("city", "date", *FORECAST_VARIABLES) if c not in raw.columns]
    if missing:
        raise ForecastInputError(f"forecast file {path}: missing column(s) {', '.join(missing)}")
    try:
        frame = raw.select(pl.col("city").cast(pl.Utf8), pl.col("date").cast(pl.Date),
                           *[pl.col(c).cast(pl.Float64) for c in FORECAST_VARIABLES])
    except pl.exceptions.PolarsError as e:
        raise ForecastInputError(f"forecast file {path}: a value does not parse ({e})") from None
    for column in FORECAST_VARIABLES:
        bad = frame.filter(pl.col(column).is_null() | (pl.col(column) < 0 if column != "temperature_2m_mean" else False))
        if bad.height:
            r = bad.row(0, named=True)
            raise ForecastInputError(f"forecast file {path}: {column} is {r[column]} for {r['city']} on {r['date']}")
    dup = frame.filter(pl.struct("city", "date").is_duplicated())
    if dup.height:
        raise ForecastInputError(f"forecast file {path}: {dup['city'][0]} on {dup['date'][0]} appears twice")
    if issued is None:
        issued = frame["date"].min() - dt.timedelta(days=1)
    early = frame.filter(pl.col("date") <= issued)
    if early.height:
        raise ForecastInputError(f"forecast file {path}: {early['city'][0]} on {early['date'][0]} is not after "
                                 f"the issue day {issued}; a forecast covers future days only")
    return _with_degree_days(frame.with_columns(lead_days=(pl.col("date") - pl.lit(issued)).dt.total_days())).sort("city", "date")


def forecast_frame(records: dict[str, WeatherRecord], issued: dt.date, days: int) -> pl.DataFrame:
    """The forecast frame (module docstring) for the ``days`` days after ``issued`` from forecast records per
    city (Open-Meteo's daily shape).

    Raises:
        ForecastInputError: a city's forecast lacks a day, a variable or a value (names city, date, variable).
    """
    horizon = [issued + dt.timedelta(days=k) for k in range(1, days + 1)]
    frames = []
    for city, record in sorted(records.items()):
        missing = [c for c in FORECAST_VARIABLES if c not in record.frame.columns]
        if missing:
            raise ForecastInputError(f"forecast for {city} ({record.source}): no {', '.join(missing)}")
        rows = record.frame.filter(pl.col("date").is_in(horizon)).select("date", *FORECAST_VARIABLES)
        if rows.height != days:
            absent = sorted(set(horizon) - set(rows["date"]))
            raise ForecastInputError(f"forecast for {city} ({record.source}): no day {absent[0]} of {horizon[0]}..{horizon[-1]}")
        for column in FORECAST_VARIABLES:
            if rows[column].null_count():
                day = rows.filter(pl.col(column).is_null())["date"][0]
                raise ForecastInputError(f"forecast for {city} ({record.source}): {column} is missing on {day}")
        frames.append(rows.with_columns(city=pl.lit(city), lead_days=(pl.col("date") - pl.lit(issued)).dt.total_days()))
    frame = pl.concat(frames).select("city", "date", "lead_days", *FORECAST_VARIABLES)
    return _with_degree_days(frame).sort("city", "date")


def api_forecast(cities: list[City], days: int, client: ForecastClient | None = None,
                 after: dt.date | None = None) -> pl.DataFrame:
    """A forecast from the Open-Meteo forecast API, which answers from today (its first day, in each city's time
    zone): for the ``days`` days after today; or, with ``after`` (the last day with stored data) yesterday, for
    the ``days`` days from today, issued ``after``, so that a plan starts the day after the data ends, as sales
    data usually lag a day. With ``after`` older than yesterday it is issued yesterday; the caller decides.

    Raises:
        WeatherSourceUnavailable: HTTP error, retries exhausted or timeout (names the URL).
        ForecastInputError: an answer without a day, variable or value of the horizon.
    """
    client = client or ForecastClient()
    records = {c.city: client.fetch(c, days + 1) for c in cities}
    today = min(r.frame["date"].min() for r in records.values())
    return forecast_frame(records, today if after is None or after >= today else today - dt.timedelta(days=1), days)


def simulated_forecast(observed: pl.DataFrame, issued: dt.date, days: int, seed: int = 0) -> pl.DataFrame:
    """A forecast issued on ``issued`` for the next ``days`` days: ``observed`` weather (``weather_daily``
    rows covering them) plus Normal(0, ERROR_SD * sqrt(lead)) errors; precipitation and snow kept ≥ 0.

    Raises:
        ForecastInputError: ``observed`` lacks a city-day of the horizon (names them).
    """
    horizon = [issued + dt.timedelta(days=k) for k in range(1, days + 1)]
    rows = observed.filter(pl.col("date").is_in(horizon)).select("city", "date", *FORECAST_VARIABLES).sort("city", "date")
    for city in observed["city"].unique().sort():
        n = rows.filter(pl.col("city") == city).height
        if n != days:
            raise ForecastInputError(f"no observed weather for {city} on {days - n} day(s) of {horizon[0]}..{horizon[-1]}")
    rng = np.random.default_rng(seed)
    lead = rows.select((pl.col("date") - pl.lit(issued)).dt.total_days())["date"].to_numpy()
    noisy = {c: rows[c].fill_null(0.0).to_numpy() + rng.normal(0, ERROR_SD[c], rows.height) * np.sqrt(lead)
             for c in FORECAST_VARIABLES}
    noisy["precipitation_sum"] = np.maximum(noisy["precipitation_sum"], 0.0)
    noisy["snowfall_sum"] = np.maximum(noisy["snowfall_sum"], 0.0)
    return _with_degree_days(rows.select("city", "date").with_columns(lead_days=pl.Series(lead), **noisy))


def normal_forecast(climatology: dict[str, CityClimatology], issued: dt.date, days: int) -> pl.DataFrame:
    """The climatological forecast issued on ``issued`` for the next ``days`` days of each city in
    ``climatology``: its day-of-year normals (:func:`weather_mmm.weather.normals.normal_weather`; degree days are
    expected degree days). Columns as the other sources', plus ``hdd`` and ``cdd`` (°C·day); rows city x day."""
    horizon = [issued + dt.timedelta(days=k) for k in range(1, days + 1)]
    return pl.concat([
        normal_weather(clim, horizon).select("date", *FORECAST_VARIABLES, "hdd", "cdd").with_columns(
            city=pl.lit(city), lead_days=pl.Series(range(1, days + 1)))
        for city, clim in sorted(climatology.items())]).select("city", "date", "lead_days", *FORECAST_VARIABLES, "hdd", "cdd")


def planning_weather(observed: pl.DataFrame, forecast: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Per city, the weather known at planning time: observed days (``weather_daily`` rows) before the
    forecast's first day, then the forecast (columns date, temperature_2m_mean, precipitation_sum, snowfall_sum, hdd, cdd)."""
    first = forecast["date"].min()
    cols = ["date", *FORECAST_VARIABLES, "hdd", "cdd"]
    out = {}
    for city in forecast["city"].unique().sort():
        past = observed.filter((pl.col("city") == city) & (pl.col("date") < first)).select(
            "date", *[pl.col(c).cast(pl.Float64) for c in (*FORECAST_VARIABLES, "hdd", "cdd")])
        out[city] = pl.concat([past.select(cols), forecast.filter(pl.col("city") == city).select(cols)]).sort("date")
    return out
