"""Causal evidence for weather effects per tenant, without the MMM (``weather_mmm.causal``), and its check
against the ground truth."""

from pathlib import Path

import dagster as dg
import polars as pl
import polars.selectors as cs
from dagster_duckdb import DuckDBResource

from assets.check_results import check_result, read_tables
from assets.models import BY_TENANT
from assets.partitions import tenant_partitions
from assets.simulation import TENANT, one_tenant, tenant_sales_and_spend
from assets.tables import column_schema
from assets.versions import EVIDENCE_CODE, evidence_inputs, versioned
from assets.weather import weather_daily
from resources import WAREHOUSE_POOL
from resources.warehouse import tenant_forecasts, tenant_tables
from weather_mmm import causal
from weather_mmm.models import mmm, store
from weather_mmm.reports import read_sql, table_names
from weather_mmm.tables import markdown_table


def _panel(conn, tenant: str) -> tuple[pl.DataFrame, dict, pl.DataFrame | None]:
    """(the tenant's geo panel over every stored day, its tables, its forecasts) read on a warehouse connection."""
    tables, forecasts = tenant_tables(conn, tenant), tenant_forecasts(conn, tenant)
    if tables["sales"].is_empty():
        raise ValueError(f"tenant {tenant}: no tenant_sales rows; materialize its sales first")
    return causal.geo_panel(tables["sales"], tables["spend"], tables["weather"], tables["channels"], forecasts), tables, forecasts


@dg.asset(
    io_manager_key="warehouse_io_manager",
    metadata={**TENANT, "dagster/column_schema": column_schema(["tenant", *causal.EVIDENCE_UNITS], causal.EVIDENCE_UNITS)},
    kinds={"duckdb", "statsmodels"},
    code_version=EVIDENCE_CODE,
    partitions_def=tenant_partitions,
    deps=[dg.AssetDep(k, partition_mapping=BY_TENANT) for k in tenant_sales_and_spend.keys]
    + [dg.AssetDep(weather_daily, partition_mapping=dg.AllPartitionMapping()), "tenant_catalog", "tenant_forecasts"],
    pool=WAREHOUSE_POOL,
    group_name="models",
)
def weather_evidence(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.Output:
    """Causal evidence for one tenant's weather effects, without the MMM (``weather_mmm.causal``): weather shocks
    across its geos (difference in differences with day and geo x month fixed effects) and, when its spend
    followed the weather forecast (``tenant_forecasts``), the forecast error as an instrument, beside the naive
    regression. One row per design and signal: effect in log points with its 90 % interval, p-value, q-value
    and the row in words. No rows for a single-city tenant that planned on no forecast."""
    tenant = one_tenant(context.partition_keys)
    with duckdb.get_connection() as conn:
        panel, tables, forecasts = _panel(conn, tenant)
    evidence = causal.weather_evidence(panel)
    found = evidence.filter(pl.col("q_value") < causal.Q_FOUND)
    context.add_output_metadata({
        "dagster/row_count": evidence.height, "found": found.height,
        "evidence": dg.MetadataValue.md(markdown_table(evidence.select(
            "design", "signal", "unit", cs.by_name("effect", "lo90", "hi90").round(4), cs.by_name("p_value", "q_value").round(4))))
        if evidence.height else "no design applies: one city and no forecast",
        "readings": dg.MetadataValue.json(evidence["reading"].to_list()),
    })
    return versioned(evidence.select(pl.lit(tenant).alias("tenant"), pl.all()), "result", EVIDENCE_CODE,
                     evidence_inputs(tables, forecasts))


@dg.asset_check(asset="weather_evidence", additional_deps=["tenant_true_contributions", "tenant_sales", "tenant_spend",
                                                           "weather_daily", "tenant_forecasts", "tenant_catalog"],
                pool=WAREHOUSE_POOL,
                description=f"Simulated tenants: the 90 % intervals hold the effect each design finds on the true outcome "
                            f"for at least {causal.COVERAGE_BAR:.0%} of tenant-signals; no effect found with the wrong sign.")
def weather_evidence_recovers_the_truth(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    (evidence,) = read_tables(duckdb, "weather_evidence")
    truths = []
    with duckdb.get_connection() as conn:
        if "tenant_true_contributions" in table_names(conn):
            simulated = set(read_sql(conn, "select distinct tenant from main.tenant_true_contributions")["tenant"])
            for tenant in sorted(set(evidence["tenant"]) & simulated):
                panel, _, _ = _panel(conn, tenant)
                contributions = read_sql(conn, "select * from main.tenant_true_contributions where tenant = ?", tenant)
                truth = causal.weather_evidence(causal.true_outcome(panel, contributions))
                truths.append(truth.select(pl.lit(tenant).alias("tenant"), "design", "signal", truth="effect"))
    if not truths:
        return dg.AssetCheckResult(passed=True, description="no simulated tenant with weather evidence: nothing to score")
    return check_result(causal.recovery(evidence, pl.concat(truths)))


@dg.asset_check(asset="weather_evidence", additional_deps=["mmm_diagnostics", "tenant_sales", "tenant_spend", "weather_daily",
                                                           "tenant_forecasts", "tenant_catalog"],
                pool=WAREHOUSE_POOL,
                description="Every tenant with a usable MMM fit: the weather effect the MMM implies through each design has "
                            "the sign of every effect the evidence found (q < 0.05); how many lie inside its interval.")
def mmm_weather_agrees_with_evidence(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    (evidence,) = read_tables(duckdb, "weather_evidence")
    implied = []
    with duckdb.get_connection() as conn:
        for tenant in sorted(evidence.filter(pl.col("q_value") < causal.Q_FOUND)["tenant"].unique()):
            version = store.usable_version(conn, tenant)
            if version is None:
                continue
            fit = store.load_fit(Path(version["path"]))
            panel, _, _ = _panel(conn, tenant)
            outcome = causal.model_outcome(panel, fit.inputs.dates, fit.inputs.geos, *mmm.geo_weather_draws(fit))
            implied.append(causal.weather_evidence(outcome).select(pl.lit(tenant).alias("tenant"), "design", "signal",
                                                                   model_effect="effect"))
    if not implied:
        return dg.AssetCheckResult(passed=True, description="no tenant with both an effect found and a usable MMM fit")
    return check_result(causal.agreement(evidence, pl.concat(implied)), severity=dg.AssetCheckSeverity.WARN)
