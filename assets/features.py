"""Feature tables per tenant x date, and their leakage checks."""

import datetime as dt

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from assets.check_results import check_result
from assets.partitions import tenant_date_partitions
from assets.simulation import TENANT_DATE, one_tenant, tenant_catalog, tenant_sales_and_spend
from assets.tables import column_schema
from assets.versions import FEATURES_CODE, tenant_data_inputs, versioned
from assets.weather import weather_daily
from resources import WAREHOUSE_POOL, WeatherSource
from resources.warehouse import tenant_tables
from weather_mmm.features import quality
from weather_mmm.features.build import (FEATURE_COLUMNS, FEATURE_UNITS, MEDIA_COLUMNS, MEDIA_UNITS, WARMUP_DAYS, build_features,
                                        rebuild_rows)


def tenant_inputs(duckdb: DuckDBResource, tenant: str, first: dt.date | None = None, last: dt.date | None = None) -> dict:
    """``resources.warehouse.tenant_tables`` on a connection of ``duckdb``."""
    with duckdb.get_connection() as conn:
        return tenant_tables(conn, tenant, first, last)


@dg.multi_asset(
    outs={
        "tenant_features": dg.AssetOut(io_manager_key="warehouse_io_manager",
                                       metadata={**TENANT_DATE, "dagster/column_schema": column_schema(FEATURE_COLUMNS, FEATURE_UNITS)}, kinds={"duckdb", "polars"},
                                       code_version=FEATURES_CODE),
        "tenant_media_features": dg.AssetOut(io_manager_key="warehouse_io_manager",
                                             metadata={**TENANT_DATE, "dagster/column_schema": column_schema(MEDIA_COLUMNS, MEDIA_UNITS)}, kinds={"duckdb"},
                                             code_version=FEATURES_CODE),
    },
    partitions_def=tenant_date_partitions,
    deps=[dg.AssetDep(weather_daily, partition_mapping=dg.AllPartitionMapping()), tenant_catalog,
          *tenant_sales_and_spend.keys],
    pool=WAREHOUSE_POOL,
    group_name="features",
)
def tenant_features(context: dg.AssetExecutionContext, duckdb: DuckDBResource, weather_source: WeatherSource):
    """The model matrix of one tenant-day (calendar, geo-weighted weather with lags, 7-day means, degree days,
    anomalies and shock flags, targets) and its media (spend, impressions, clicks, adstock per channel).
    Columns and units: ``weather_mmm.features.build.FEATURE_UNITS`` and ``MEDIA_UNITS``. Built from data
    dated on or before each day; 14 days before the range are read so every trailing window is full."""
    keys = context.partition_keys
    tenant = one_tenant(keys)
    dates = sorted(dt.date.fromisoformat(k.split("|")[0]) for k in keys)
    data = tenant_inputs(duckdb, tenant, dates[0] - dt.timedelta(days=WARMUP_DAYS), dates[-1])
    features, media = build_features(tenant, data["sales"], data["spend"], data["weather"], data["geos"], data["channels"])
    in_range = pl.col("date").is_between(dates[0], dates[-1])
    features, media = features.filter(in_range), media.filter(in_range)
    with duckdb.get_connection() as conn:
        inputs = tenant_data_inputs(conn, tenant, weather_source.end_date())
    context.add_output_metadata({"dagster/row_count": features.height}, output_name="tenant_features")
    context.add_output_metadata({"dagster/row_count": media.height}, output_name="tenant_media_features")
    return versioned(features, "tenant_features", FEATURES_CODE, inputs), versioned(media, "tenant_media_features", FEATURES_CODE, inputs)


@dg.asset_check(asset="tenant_features", additional_deps=["tenant_media_features", "tenant_sales"], pool=WAREHOUSE_POOL,
                description="Rebuilds the first, middle and last stored day of every tenant from data truncated at that "
                            "day and asserts the rows are identical (no feature reads the future).")
def features_have_no_future_data(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as conn:
        tenants = [r[0] for r in conn.execute("select distinct tenant from main.tenant_features order by 1").fetchall()]
        stored = {name: pl.from_arrow(conn.execute(f"select * from main.{name}").to_arrow_table())
                  for name in ("tenant_features", "tenant_media_features")}
    problems, checked = {}, 0
    for tenant in tenants:
        data = tenant_inputs(duckdb, tenant)
        mine = {k: v.filter(pl.col("tenant") == tenant) for k, v in stored.items()}
        days = quality.sample_days(mine["tenant_features"]["date"])
        problems[tenant] = rebuild_rows(tenant, mine["tenant_features"], mine["tenant_media_features"], data["sales"],
                                        data["spend"], data["weather"], data["geos"], data["channels"], days)
        checked += len(days)
    return check_result(quality.no_future_data(problems, checked))


@dg.asset_check(asset="tenant_features", additional_deps=["tenant_media_features"], pool=WAREHOUSE_POOL,
                description="No feature correlates with revenue above 0.99 (target leakage).")
def no_feature_tracks_the_target(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as conn:
        features, media = (pl.from_arrow(conn.execute(f"select * from main.{n}").to_arrow_table())
                           for n in ("tenant_features", "tenant_media_features"))
    return check_result(quality.no_target_proxies(features, media))
