"""Weather-year mapping: put whole real weather years onto calendar years the real record does not cover.

The method of energy and insurance modelling ("typical/actual weather years"): a calendar year without
real weather takes a whole real year, so seasons, spells and extremes stay as they were observed. Each
calendar year Y is decided on its own, so extending the calendar never changes earlier years:

1. Y itself, when the record covers at least 90 % of its days, or Y is the year in progress (the record's
   last year, covered on at least 90 % of its days up to the record's last day: new days as they arrive);
2. else the latest well-covered real year in the same place of the 4-year leap cycle (Y - 4k), so
   consecutive calendar years take consecutive real years where the record allows, leap onto leap;
3. else the latest well-covered year with the same leap status;
4. else the latest well-covered year (a leap day then has no source and is filled);
5. no well-covered year at all: the calendar year has no real source (all filled).
"""

from __future__ import annotations

import calendar
import datetime as dt

import polars as pl

from weather_mmm.weather.seeds import WeatherRecord

MIN_YEAR_COVERAGE = 0.9


def _observed_days(record: WeatherRecord) -> pl.Series:
    temps = [c for c in ("temperature_2m_mean", "temperature_2m_max", "temperature_2m_min") if c in record.frame.columns]
    if not temps:
        return pl.Series("date", [], dtype=pl.Date)
    return record.frame.filter(pl.any_horizontal([pl.col(c).is_not_null() for c in temps]))["date"]


def year_coverage(record: WeatherRecord) -> dict[int, float]:
    """Share of each year's days with an observed temperature (mean, max or min)."""
    counts = _observed_days(record).dt.year().value_counts()
    return {int(y): n / (366 if calendar.isleap(int(y)) else 365) for y, n in counts.iter_rows()}


def year_in_progress(record: WeatherRecord) -> int | None:
    """The record's last year when it covers at least 90 % of its days up to the last observed one."""
    days = _observed_days(record)
    if days.is_empty():
        return None
    last = days.max()
    share = (days.dt.year() == last.year).sum() / ((last - dt.date(last.year, 1, 1)).days + 1)
    return last.year if share >= MIN_YEAR_COVERAGE else None


def map_weather_years(years: list[int], record: WeatherRecord | None) -> dict[int, int | None]:
    """Real source year for each calendar year (``None``: no real year available)."""
    if record is None:
        return {y: None for y in years}
    complete = sorted(y for y, share in year_coverage(record).items() if share >= MIN_YEAR_COVERAGE)
    current = year_in_progress(record)
    mapping: dict[int, int | None] = {}
    for year in years:
        if year in complete or year == current:
            mapping[year] = year
            continue
        cycle = [r for r in complete if (year - r) % 4 == 0]
        same_leap = [r for r in complete if calendar.isleap(r) == calendar.isleap(year)]
        pool = cycle or same_leap or complete
        mapping[year] = pool[-1] if pool else None
    return mapping


def source_dates(dates: list[dt.date], mapping: dict[int, int | None]) -> list[dt.date | None]:
    """The observed date each calendar date takes its weather from (``None`` for Feb 29 onto a common year)."""
    out: list[dt.date | None] = []
    for d in dates:
        year = mapping.get(d.year)
        if year is None:
            out.append(None)
            continue
        try:
            out.append(d.replace(year=year))
        except ValueError:  # Feb 29 onto a common year
            out.append(None)
    return out
