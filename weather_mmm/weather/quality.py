"""Data-quality checks of the stored ``weather_daily`` table, as plain functions over a DuckDB connection.

Each returns a :class:`CheckOutcome`: pass/fail, a one-line summary and figures for the asset check's
metadata. The Dagster asset checks call these; tests call them on a temporary DuckDB file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import polars as pl

from weather_mmm.weather.daily import flag_summary
from weather_mmm.weather.variables import VARIABLES, flag_column

TABLE = "main.weather_daily"
#: Rounding of stored values (0.01) can put a derived mean a hair outside [min, max].
TEMPERATURE_TOLERANCE_C = 0.05


@dataclass
class CheckOutcome:
    passed: bool
    summary: str
    metadata: dict = field(default_factory=dict)


def _table_exists(conn: duckdb.DuckDBPyConnection, table: str = TABLE) -> bool:
    schema, name = table.split(".")
    return bool(conn.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, name]
    ).fetchone()[0])


def _missing() -> CheckOutcome:
    return CheckOutcome(False, f"{TABLE} does not exist yet: materialize weather_daily first")


def every_city_every_day(conn: duckdb.DuckDBPyConnection, cities: list[str]) -> CheckOutcome:
    """Every stored day has a row for each of ``cities`` (and no other city)."""
    if not _table_exists(conn):
        return _missing()
    bad = conn.execute(
        f"select date, list_sort(list(distinct city)) as cities from {TABLE} group by date "
        f"having count(distinct city) <> ? or bool_or(city not in (select unnest(?::varchar[]))) order by date limit 20",
        [len(cities), cities],
    ).fetchall()
    days = conn.execute(f"select count(distinct date) from {TABLE}").fetchone()[0]
    meta = {"days": days, "cities_expected": len(cities), "days_with_wrong_cities": len(bad)}
    if bad:
        first = bad[0]
        return CheckOutcome(False, f"{len(bad)} day(s) lack a city or have an unknown one; first: {first[0]} has {first[1]}", meta)
    return CheckOutcome(True, f"all {len(cities)} cities on each of {days} days", meta)


def physical_ranges(conn: duckdb.DuckDBPyConnection) -> CheckOutcome:
    """min <= mean <= max (within rounding), precipitation, rain, snow and wind >= 0, humidity 0-100 %."""
    if not _table_exists(conn):
        return _missing()
    tol = TEMPERATURE_TOLERANCE_C
    rules = {
        "min_le_mean_le_max": f"temperature_2m_min - {tol} <= temperature_2m_mean and temperature_2m_mean <= temperature_2m_max + {tol}",
        "precipitation_nonnegative": "precipitation_sum >= 0 and rain_sum >= 0 and snowfall_sum >= 0",
        "humidity_0_100": "relative_humidity_2m_mean between 0 and 100",
        "wind_nonnegative": "wind_speed_10m_mean >= 0",
    }
    meta, first_bad = {}, None
    for name, rule in rules.items():
        rows = conn.execute(f"select city, date from {TABLE} where not ({rule}) order by date, city").fetchall()
        meta[f"violations_{name}"] = len(rows)
        if rows and first_bad is None:
            first_bad = f"{name} fails on {len(rows)} row(s); first: {rows[0][0]} {rows[0][1]}"
    if first_bad:
        return CheckOutcome(False, first_bad, meta)
    return CheckOutcome(True, "all values within physical ranges", meta)


def no_duplicate_city_days(conn: duckdb.DuckDBPyConnection) -> CheckOutcome:
    """Exactly one row per city and day."""
    if not _table_exists(conn):
        return _missing()
    dups = conn.execute(
        f"select city, date, count(*) n from {TABLE} group by city, date having n > 1 order by date, city"
    ).fetchall()
    meta = {"duplicate_city_days": len(dups)}
    if dups:
        return CheckOutcome(False, f"{len(dups)} duplicated city-day(s); first: {dups[0][0]} {dups[0][1]} x{dups[0][2]}", meta)
    return CheckOutcome(True, "one row per city-day", meta)


def filled_share(conn: duckdb.DuckDBPyConnection) -> CheckOutcome:
    """Share of filled values per city (over all variables and days); fails if a city has no real value at all."""
    if not _table_exists(conn):
        return _missing()
    flags = ", ".join(flag_column(v) for v in VARIABLES)
    table = flag_summary(pl.from_arrow(conn.execute(f"select city, date, {flags} from {TABLE}").to_arrow_table()))
    table = table.select("city", "days", "filled_share")
    meta = {"filled_share": table.to_dicts()}
    all_filled = table.filter(pl.col("filled_share") >= 1.0)["city"].to_list()
    if all_filled:
        return CheckOutcome(False, f"no real weather at all for {', '.join(all_filled)} (climatology only)", meta)
    worst = table.sort("filled_share").row(-1, named=True)
    return CheckOutcome(True, f"highest filled share: {worst['city']} {worst['filled_share']:.0%}", meta)
