"""Readers for real daily weather: Open-Meteo's daily JSON shape and NOAA NCEI daily-summaries CSV.

Both return a :class:`WeatherRecord`: one row per date, one Float64 column per canonical variable the
source has (see :mod:`weather_mmm.weather.variables`), converted to canonical units; ``null`` where the
source did not record the day. Variables the platform does not use (dew point, wind max, snow depth) are
ignored. Every problem raises :class:`~weather_mmm.errors.WeatherInputError` naming the file and the fault.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from weather_mmm.errors import WeatherInputError
from weather_mmm.weather.variables import UNIT_CONVERSIONS, VARIABLES


@dataclass(frozen=True)
class WeatherRecord:
    """A real daily record for one city.

    Attributes:
        city: city key (e.g. ``"phoenix"``).
        source: where it came from (file path or URL), carried into each row's ``source`` column.
        frame: columns ``date`` (Date, sorted, unique) and any subset of the canonical variables (Float64).
    """

    city: str
    source: str
    frame: pl.DataFrame

    @property
    def variables(self) -> list[str]:
        return [c for c in self.frame.columns if c != "date"]

    def merge(self, other: "WeatherRecord") -> "WeatherRecord":
        """This record, with days and variables it lacks taken from ``other`` (this one wins where both have a value)."""
        joined = self.frame.join(other.frame, on="date", how="full", coalesce=True, suffix="__other")
        cols = []
        for var in VARIABLES:
            here, there = var in self.frame.columns, var in other.frame.columns
            if here and there:
                cols.append(pl.coalesce(var, f"{var}__other").alias(var))
            elif here or there:
                cols.append(pl.col(var))
        frame = joined.select(["date", *cols]).sort("date")
        return WeatherRecord(self.city, f"{self.source} + {other.source}", frame)


def _parse_dates(values: list, source: str) -> list[dt.date]:
    dates = []
    for i, raw in enumerate(values):
        try:
            dates.append(dt.date.fromisoformat(str(raw)[:10]))
        except ValueError:
            raise WeatherInputError(f"{source}: daily.time[{i}] = {raw!r} is not an ISO date") from None
    for prev, cur in zip(dates, dates[1:]):
        if cur == prev:
            raise WeatherInputError(f"{source}: duplicate date {cur} in daily.time")
        if cur < prev:
            raise WeatherInputError(f"{source}: dates are not sorted: {cur} comes after {prev}")
    return dates


def _convert(values: list, var: str, unit: str, source: str) -> list[float | None]:
    conversions = UNIT_CONVERSIONS[var]
    if unit not in conversions:
        raise WeatherInputError(
            f"{source}: unknown unit {unit!r} for {var}; accepted: {', '.join(conversions)}"
        )
    a, b = conversions[unit]
    out: list[float | None] = []
    for i, v in enumerate(values):
        if v is None:
            out.append(None)
        elif isinstance(v, bool) or not isinstance(v, (int, float)):
            raise WeatherInputError(f"{source}: daily.{var}[{i}] = {v!r} is not a number")
        else:
            out.append(round(v * a + b, 4))
    return out


def parse_open_meteo(doc: object, source: str, city: str) -> WeatherRecord:
    """Parse a decoded Open-Meteo daily response (archive or forecast API, or a seed file of that shape).

    Args:
        doc: the decoded JSON (a dict with ``daily`` and ``daily_units``).
        source: file path or URL, used in error messages and provenance.
        city: the city key the response is for.

    Raises:
        WeatherInputError: no ``daily`` block, no ``daily.time``, arrays of unequal length, duplicate or
            unsorted dates, an unknown unit, or a value that is not a number.
    """
    if not isinstance(doc, dict):
        raise WeatherInputError(f"{source}: expected a JSON object, got {type(doc).__name__}")
    if "error" in doc and doc.get("error"):
        raise WeatherInputError(f"{source}: the API answered with an error: {doc.get('reason', doc)}")
    daily = doc.get("daily")
    if not isinstance(daily, dict):
        raise WeatherInputError(f"{source}: no 'daily' block")
    if "time" not in daily:
        raise WeatherInputError(f"{source}: the 'daily' block has no 'time' array")
    units = doc.get("daily_units") or {}
    n = len(daily["time"])
    for key, values in daily.items():
        if not isinstance(values, list):
            raise WeatherInputError(f"{source}: daily.{key} is not an array")
        if len(values) != n:
            raise WeatherInputError(
                f"{source}: daily.{key} has {len(values)} values but daily.time has {n}"
            )
    dates = _parse_dates(daily["time"], source)
    columns: dict[str, object] = {"date": pl.Series("date", dates, dtype=pl.Date)}
    for var in VARIABLES:
        if var in daily:
            unit = units.get(var, VARIABLES[var])
            columns[var] = pl.Series(var, _convert(daily[var], var, unit, source), dtype=pl.Float64)
    return WeatherRecord(city, source, pl.DataFrame(columns))


def read_open_meteo_json(path: str | Path, city: str | None = None) -> WeatherRecord:
    """Read a seed file in Open-Meteo's daily JSON shape; the city defaults to the file's stem.

    Raises:
        WeatherInputError: the file is missing, truncated or not JSON, or fails :func:`parse_open_meteo`.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WeatherInputError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        what = "truncated JSON" if exc.pos >= len(text.rstrip()) else "not valid JSON"
        raise WeatherInputError(f"{path}: {what} ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    return parse_open_meteo(doc, str(path), city or city_of_file(path))


# NCEI daily summaries: element -> canonical variable.
_NCEI_ELEMENTS = {
    "TMAX": "temperature_2m_max",
    "TMIN": "temperature_2m_min",
    "TAVG": "temperature_2m_mean",
    "PRCP": "precipitation_sum",
    "SNOW": "snowfall_sum",
    "AWND": "wind_speed_10m_mean",
}
_NCEI_UNITS = {"degrees fahrenheit": "°F", "degrees celsius": "°C", "inches": "inch", "millimeters": "mm",
               "mm": "mm", "miles per hour": "mph", "meters per second": "m/s"}
_NCEI_STANDARD = {"TMAX": "°F", "TMIN": "°F", "TAVG": "°F", "PRCP": "inch", "SNOW": "inch", "AWND": "mph"}
_NCEI_METRIC = {"TMAX": "°C", "TMIN": "°C", "TAVG": "°C", "PRCP": "mm", "SNOW": "mm", "AWND": "m/s"}


def read_ncei_csv(path: str | Path, city: str | None = None, units: str = "standard") -> WeatherRecord:
    """Read a NOAA NCEI daily-summaries CSV export.

    Accepts both shapes NCEI produces: the Climate Data Online export (``STATION, NAME, DATE, PRCP, ...``,
    units given by ``units``: ``"standard"`` = °F/inches/mph, ``"metric"`` = °C/mm/m/s) and the station
    page export (a first line with the station name, then ``Date, TAVG (Degrees Fahrenheit), ...`` with the
    unit in each header). Empty cells are missing values.

    Raises:
        WeatherInputError: unreadable file, no date column, an unknown unit, a bad date or number
            (naming the line), duplicate or unsorted dates.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise WeatherInputError(f"{path}: cannot read ({exc.strerror})") from None
    header_at = next((i for i, line in enumerate(lines[:5]) if re.match(r'^"?(DATE|Date)"?,', line)
                      or ',"DATE"' in line or ",DATE," in line), None)
    if header_at is None:
        raise WeatherInputError(f"{path}: no header with a DATE column in the first 5 lines (not an NCEI daily-summaries CSV)")
    reader = csv.reader(io.StringIO("\n".join(lines[header_at:])))
    header = next(reader)
    defaults = _NCEI_METRIC if units == "metric" else _NCEI_STANDARD
    date_col, var_cols = None, {}
    for j, name in enumerate(header):
        m = re.match(r"^\s*([A-Za-z]+)\s*(?:\((.*)\))?\s*$", name)
        element = m.group(1).upper() if m else name.upper()
        if element == "DATE":
            date_col = j
        elif element in _NCEI_ELEMENTS:
            unit_text = m.group(2) if m else None
            if unit_text:
                unit = _NCEI_UNITS.get(unit_text.strip().lower())
                if unit is None:
                    raise WeatherInputError(f"{path}: unknown unit {unit_text!r} in column {name!r}")
            else:
                unit = defaults[element]
            var_cols[j] = (_NCEI_ELEMENTS[element], unit)
    values: dict[int, list] = {j: [] for j in var_cols}
    raw_dates: list[str] = []
    for lineno, row in enumerate(reader, start=header_at + 2):
        if not row:
            continue
        raw_dates.append(row[date_col])
        for j in var_cols:
            cell = row[j].strip() if j < len(row) else ""
            if cell == "":
                values[j].append(None)
                continue
            try:
                values[j].append(float(cell))
            except ValueError:
                raise WeatherInputError(f"{path}: line {lineno}, column {header[j]!r}: {cell!r} is not a number") from None
    dates = _parse_dates(raw_dates, str(path))
    columns: dict[str, object] = {"date": pl.Series("date", dates, dtype=pl.Date)}
    for j, (var, unit) in var_cols.items():
        columns[var] = pl.Series(var, _convert(values[j], var, unit, str(path)), dtype=pl.Float64)
    return WeatherRecord(city or city_of_file(path), str(path), pl.DataFrame(columns))


def city_of_file(path: Path) -> str:
    """City key of a seed file: its stem up to the first underscore (``phoenix_USW...csv`` -> ``phoenix``)."""
    return Path(path).stem.split("_")[0].lower()


def read_seed_folder(folder: str | Path, cities: set[str]) -> dict[str, WeatherRecord]:
    """Read every ``*.json`` (Open-Meteo shape) and ``*.csv`` (NCEI) file in ``folder``, keyed by city.

    Where a city has several files, Open-Meteo JSON takes precedence and NCEI CSV fills the days and
    variables the JSON lacks.

    Raises:
        WeatherInputError: the folder is missing or empty, a file names an unknown city, or a file fails to parse.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise WeatherInputError(f"{folder}: weather seeds folder does not exist")
    files = sorted(folder.glob("*.json")) + sorted(folder.glob("*.csv"))
    if not files:
        raise WeatherInputError(f"{folder}: no *.json or *.csv weather files")
    records: dict[str, WeatherRecord] = {}
    for file in files:
        city = city_of_file(file)
        if city not in cities:
            raise WeatherInputError(
                f"{file}: unknown city {city!r}; known cities: {', '.join(sorted(cities))} "
                "(add one through WEATHER_MMM_CITIES)"
            )
        record = read_open_meteo_json(file, city) if file.suffix == ".json" else read_ncei_csv(file, city)
        records[city] = records[city].merge(record) if city in records else record
    return records
