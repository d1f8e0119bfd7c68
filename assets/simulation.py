"""Synthetic tenants: the catalog, their sales and spend (tenant x date) and their ground truth (tenant)."""

import datetime as dt
import json

import dagster as dg
import polars as pl
import polars.selectors as cs
from dagster_duckdb import DuckDBResource

from assets.check_results import check_result, read_tables
from assets.partitions import tenant_date_partitions, tenant_partitions
from assets.tables import column_schema
from assets.versions import TENANT_DATA_CODE, tenant_data_inputs, versioned
from assets.weather import weather_daily
from resources import WAREHOUSE_POOL, WeatherSource
from weather_mmm.settings import CALENDAR_START, imports_dir
from weather_mmm.tables import markdown_table
from weather_mmm.simulation import quality
from weather_mmm.simulation.catalog import build_catalog, catalog_table, get_profile, simulated_tenants
from weather_mmm.simulation.importer import imported_tenants, read_experiments, read_imported_forecasts, read_imported_tenant
from weather_mmm.simulation.contract import (EXPERIMENT_SCHEMA, EXPERIMENT_UNITS, SALES_COLUMNS, SALES_UNITS, SPEND_COLUMNS,
                                             SPEND_UNITS, Simulation)
from weather_mmm.simulation.simulate import simulate_tenant
from weather_mmm.weather.cities import load_cities
from weather_mmm.weather.climatology import load_climatology

TENANT = {"partition_expr": "tenant"}
TENANT_DATE = {"partition_expr": {"date": "date", "tenant": "tenant"}}


@dg.asset(pool=WAREHOUSE_POOL, io_manager_key="warehouse_io_manager", kinds={"duckdb", "polars"}, group_name="tenants")
def tenant_catalog(context: dg.AssetExecutionContext) -> pl.DataFrame:
    """One row per tenant, simulated and imported (``WEATHER_MMM_IMPORTS``): name, sensitivity tier, industry,
    source, geos, channels, categories. Registers each tenant as a partition of the tenant dimension."""
    table = catalog_table(build_catalog(), imported_tenants(imports_dir(), set(load_cities())))
    new = sorted(set(table["tenant"]) - set(context.instance.get_dynamic_partitions(tenant_partitions.name)))
    if new:
        context.instance.add_dynamic_partitions(tenant_partitions.name, new)
    context.add_output_metadata({"dagster/row_count": table.height, "new_partitions": len(new)})
    return table


def _simulate(tenant: str, duckdb: DuckDBResource, end: dt.date) -> Simulation:
    profile = get_profile(tenant)
    with duckdb.get_connection() as conn:
        weather = pl.from_arrow(conn.execute(
            "select * from main.weather_daily where city in (select unnest(?::varchar[])) and date between ? and ?",
            [list(profile.geos), CALENDAR_START, end]).to_arrow_table())
    return simulate_tenant(profile, weather, load_climatology(), end)


def one_tenant(keys: list[str]) -> str:
    tenants = {k.split("|")[-1] if "|" in k else k for k in keys}
    if len(tenants) != 1:
        raise ValueError(f"a run must cover one tenant (it covers {sorted(tenants)}); backfill one run per tenant")
    return tenants.pop()


@dg.multi_asset(
    outs={
        name: dg.AssetOut(io_manager_key="warehouse_io_manager", metadata={**TENANT_DATE, "dagster/column_schema": schema},
                          kinds={"duckdb"}, code_version=TENANT_DATA_CODE)
        for name, schema in (("tenant_sales", column_schema(SALES_COLUMNS, SALES_UNITS)),
                             ("tenant_spend", column_schema(SPEND_COLUMNS, SPEND_UNITS)))
    },
    partitions_def=tenant_date_partitions,
    deps=[dg.AssetDep(weather_daily, partition_mapping=dg.AllPartitionMapping()), tenant_catalog],
    pool=WAREHOUSE_POOL,
    group_name="tenants",
)
def tenant_sales_and_spend(context: dg.AssetExecutionContext, duckdb: DuckDBResource, weather_source: WeatherSource):
    """Daily sales per tenant, date and geo, and spend per tenant, date, geo and channel (the table contract
    in ``weather_mmm.simulation.contract``). A simulated tenant's whole series is simulated and sliced to the
    range; an imported tenant's files are validated and sliced the same way."""
    keys = context.partition_keys
    tenant = one_tenant(keys)
    dates = sorted(dt.date.fromisoformat(k.split("|")[0]) for k in keys)
    if tenant in simulated_tenants():
        sim = _simulate(tenant, duckdb, weather_source.end_date())
        sales, spend = sim.sales, sim.spend
    else:
        sales, spend = read_imported_tenant(imports_dir(), tenant, set(load_cities()))
    in_range = pl.col("date").is_between(dates[0], dates[-1])
    sales, spend = sales.filter(in_range), spend.filter(in_range)
    with duckdb.get_connection() as conn:
        inputs = tenant_data_inputs(conn, tenant, weather_source.end_date())
    context.add_output_metadata({"dagster/row_count": sales.height, "revenue_usd": round(float(sales["revenue"].sum()), 2)},
                                output_name="tenant_sales")
    context.add_output_metadata({"dagster/row_count": spend.height, "spend_usd": round(float(spend["spend"].sum()), 2)},
                                output_name="tenant_spend")
    return versioned(sales, "tenant_sales", TENANT_DATA_CODE, inputs), versioned(spend, "tenant_spend", TENANT_DATA_CODE, inputs)


@dg.multi_asset(
    outs={
        **{name: dg.AssetOut(io_manager_key="warehouse_io_manager", metadata=TENANT, kinds={"duckdb"}, is_required=False,
                             code_version=TENANT_DATA_CODE)
           for name in ("tenant_ground_truth", "tenant_true_contributions", "tenant_forecasts")},
        "tenant_experiments": dg.AssetOut(
            io_manager_key="warehouse_io_manager", kinds={"duckdb"}, code_version=TENANT_DATA_CODE,
            metadata={**TENANT, "dagster/column_schema": column_schema(list(EXPERIMENT_SCHEMA), EXPERIMENT_UNITS)}),
    },
    partitions_def=tenant_partitions,
    deps=[dg.AssetDep(weather_daily, partition_mapping=dg.AllPartitionMapping()), tenant_catalog],
    pool=WAREHOUSE_POOL,
    group_name="tenants",
)
def tenant_truth(context: dg.AssetExecutionContext, duckdb: DuckDBResource, weather_source: WeatherSource):
    """True parameters and effects (long format) and the true daily decomposition of expected revenue: read only
    by checks and benchmarks, never by models. An imported tenant has no truth: nothing is written and its
    checks compare nothing.

    And ``tenant_forecasts``, which is not truth: the weather forecasts a tenant with weather-triggered spend
    planned that spend on, what the brand saw when it decided (``weather_evidence`` reads their ``forecast``
    column; ``trigger_signal`` is the simulation's own, behind the truth's ``spend_forecast_correlation``); an
    imported tenant's from its ``forecasts/`` folder (no rows when it brought none).

    And ``tenant_experiments``, which is not truth either: the readouts of the lift tests the tenant ran (one row per
    test, columns in ``weather_mmm.simulation.contract.EXPERIMENT_UNITS``), which calibrate its MMM. A
    simulated tenant's come from the simulation (``simulation.truth.lift_test_plan``: the true lift plus the
    test's error), an imported tenant's from its ``tenant.json``; no rows when it ran none."""
    tenant = one_tenant(context.partition_keys)
    with duckdb.get_connection() as conn:
        inputs = tenant_data_inputs(conn, tenant, weather_source.end_date())
    if tenant not in simulated_tenants():
        context.log.info(f"{tenant} is an imported tenant: it has no ground truth")
        tests = read_experiments(imports_dir() / tenant / "tenant.json", tenant)
        context.add_output_metadata({"lift_tests": tests.height}, output_name="tenant_experiments")
        yield versioned(tests, "tenant_experiments", TENANT_DATA_CODE, inputs)
        forecasts = read_imported_forecasts(imports_dir(), tenant, set(load_cities()))
        context.add_output_metadata({"dagster/row_count": forecasts.height}, output_name="tenant_forecasts")
        yield versioned(forecasts, "tenant_forecasts", TENANT_DATA_CODE, inputs)
        return
    sim = _simulate(tenant, duckdb, weather_source.end_date())
    context.add_output_metadata({"lift_tests": sim.experiments.height}, output_name="tenant_experiments")
    yield versioned(sim.experiments, "tenant_experiments", TENANT_DATA_CODE, inputs)
    p = sim.parameters
    roas = {k: round(v, 3) for k, v in p.filter(pl.col("parameter") == "true_roas").select("key", "value").iter_rows()}
    share = p.filter(pl.col("parameter") == "weather_share")["value"][0]
    context.add_output_metadata({"true_roas": dg.MetadataValue.json(roas), "true_weather_share": round(share, 4)},
                                output_name="tenant_ground_truth")
    yield versioned(sim.parameters, "tenant_ground_truth", TENANT_DATA_CODE, inputs)
    yield versioned(sim.contributions, "tenant_true_contributions", TENANT_DATA_CODE, inputs)
    yield versioned(sim.forecasts, "tenant_forecasts", TENANT_DATA_CODE, inputs)


@dg.asset_check(asset="tenant_sales", additional_deps=["tenant_spend"], pool=WAREHOUSE_POOL)
def sales_and_spend_match_the_contract(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    sales, spend = read_tables(duckdb, "tenant_sales", "tenant_spend")
    schema, missing = quality.schema(sales, spend), quality.missing_and_duplicates(sales, spend)
    return dg.AssetCheckResult(passed=schema.passed and missing.passed, description=f"{schema.summary}; {missing.summary}",
                               metadata=missing.metadata)


@dg.asset_check(asset="tenant_sales", pool=WAREHOUSE_POOL)
def robust_outliers_under_2_percent(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    (sales,) = read_tables(duckdb, "tenant_sales")
    return check_result(quality.robust_outliers(sales))


@dg.asset_check(asset="tenant_spend", pool=WAREHOUSE_POOL)
def spend_inside_profile(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    (spend,) = read_tables(duckdb, "tenant_spend")
    profiles = {t: get_profile(t) for t in spend["tenant"].unique() if t in simulated_tenants()}
    return check_result(quality.spend_within_profile(spend.filter(pl.col("tenant").is_in(list(profiles))), profiles))


@dg.asset_check(asset="tenant_ground_truth", pool=WAREHOUSE_POOL)
def true_roas_mostly_within_1_5_to_4(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    (params,) = read_tables(duckdb, "tenant_ground_truth")
    return check_result(quality.roas_distribution(params))


@dg.asset_check(asset="tenant_sales", pool=WAREHOUSE_POOL)
def behaviour_clusters_by_tier(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    sales, weather, catalog = read_tables(duckdb, "tenant_sales", "weather_daily", "tenant_catalog")
    catalog = catalog.filter(pl.col("source") == "simulated")
    sales = sales.filter(pl.col("tenant").is_in(catalog["tenant"].implode()))
    geos = {t: json.loads(g) for t, g in catalog.select("tenant", "geos").iter_rows()}
    features = quality.behaviour_features(sales, weather, {t: geos[t] for t in sales["tenant"].unique()})
    tiers = dict(catalog.select("tenant", "tier").iter_rows())
    clusters = quality.behaviour_clusters(features, tiers)
    ordering = quality.weather_correlation_by_tier(features, tiers)
    return dg.AssetCheckResult(
        passed=clusters.passed and ordering.passed,
        description=f"{clusters.summary}; {ordering.summary}",
        metadata={**clusters.metadata, **ordering.metadata,
                  "features": dg.MetadataValue.md(markdown_table(features.with_columns(cs.float().round(3))))},
    )
