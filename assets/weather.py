"""``weather_daily``: real daily weather per city, filled and flagged, with derived signals; and its checks."""

import datetime as dt

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from assets.check_results import check_result
from assets.partitions import daily_partitions
from assets.tables import column_schema
from assets.versions import WEATHER_CODE, versioned
from resources import WAREHOUSE_POOL, WeatherSource
from weather_mmm.tables import markdown_table
from weather_mmm.weather import quality
from weather_mmm.weather.cities import load_cities
from weather_mmm.weather.daily import COLUMN_UNITS, COLUMNS, flag_summary
from weather_mmm.weather.variables import VARIABLES, flag_column

#: What ``weather_daily``'s provenance columns hold (the UI's Columns tab).
PROVENANCE = {
    "source": "where the day's weather came from: the seed files or the Open-Meteo archive, or the climatology "
              "generator when there is no real record",
    "source_date": "the observed day whose weather this calendar day carries (another year's when the calendar runs "
                   "past the real record); empty for climatology",
    **{flag_column(v): f"how {v} was obtained: observed (a real record), derived (physics from real values) or filled "
                       "(climatology generator)" for v in VARIABLES},
}



@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(days=2), warn_window=dt.timedelta(days=1)),
    pool=WAREHOUSE_POOL,
    io_manager_key="warehouse_io_manager",
    metadata={"partition_expr": "date", "dagster/column_schema": column_schema(COLUMNS, COLUMN_UNITS, PROVENANCE)},
    kinds={"duckdb", "polars"},
    group_name="weather",
    code_version=WEATHER_CODE,
)
def weather_daily(context: dg.AssetExecutionContext, weather_source: WeatherSource) -> dg.Output[pl.DataFrame]:
    """One row per city and day: observed, derived and filled variables (each flagged), the observed date
    each calendar day came from, degree days, anomalies, lags, 7-day means and shock flags."""
    window = context.partition_time_window
    start, end = window.start.date(), window.end.date() - dt.timedelta(days=1)
    loaded = weather_source.load(start, end)
    for warning in loaded.warnings:
        context.log.warning(warning)
    summary = flag_summary(loaded.frame)
    context.add_output_metadata(
        {
            "dagster/row_count": loaded.frame.height,
            "source": loaded.mode,
            "days": (end - start).days + 1,
            "observed_derived_filled": dg.MetadataValue.md(markdown_table(summary)),
            "warnings": "\n".join(loaded.warnings) or "none",
        }
    )
    return versioned(loaded.frame, "result", WEATHER_CODE, weather_source.version() or "open-meteo api")


@dg.asset_check(asset=weather_daily, pool=WAREHOUSE_POOL)
def every_city_present_each_day(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as conn:
        return check_result(quality.every_city_every_day(conn, sorted(load_cities())))


@dg.asset_check(asset=weather_daily, pool=WAREHOUSE_POOL)
def weather_within_physical_ranges(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as conn:
        return check_result(quality.physical_ranges(conn))


@dg.asset_check(asset=weather_daily, pool=WAREHOUSE_POOL)
def no_duplicate_city_days(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as conn:
        return check_result(quality.no_duplicate_city_days(conn))


@dg.asset_check(asset=weather_daily, pool=WAREHOUSE_POOL)
def filled_share_per_city(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as conn:
        return check_result(quality.filled_share(conn), dg.AssetCheckSeverity.WARN)
