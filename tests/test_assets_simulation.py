"""Tenant assets on a temporary warehouse: catalog -> dynamic partitions, sales/spend ranges, truth, re-runs."""

import dagster as dg
import duckdb

from assets.simulation import (
    sales_and_spend_match_the_contract,
    tenant_catalog,
    tenant_sales_and_spend,
    tenant_truth,
)
from assets.weather import weather_daily
from resources import WeatherSource, warehouse_io_manager, warehouse_resource
from resources.warehouse import tenant_experiments

TENANT = "drizzle_rainwear"


def _resources(seeds):
    return {
        "warehouse_io_manager": warehouse_io_manager(),
        "duckdb": warehouse_resource(),
        "weather_source": WeatherSource(mode="seeds", seeds_dir=str(seeds), calendar_end="2023-04-30"),
    }


def _range(start, end):
    return {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}


def _rows(warehouse, table):
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(f"select * from {table} order by all").fetchall()


def test_catalog_partitions_sales_spend_and_truth(warehouse, seeds_copy):
    instance = dg.DagsterInstance.ephemeral()
    res = _resources(seeds_copy)
    assert dg.materialize([weather_daily], resources=res, instance=instance, tags=_range("2023-01-01", "2023-04-30")).success
    assert dg.materialize([tenant_catalog], resources=res, instance=instance).success
    assert TENANT in instance.get_dynamic_partitions("tenant")

    assets = [tenant_sales_and_spend, sales_and_spend_match_the_contract]
    tags = _range(f"2023-02-01|{TENANT}", f"2023-03-02|{TENANT}")
    first = dg.materialize(assets, resources=res, instance=instance, tags=tags)
    assert first.success
    assert all(e.passed for e in first.get_asset_check_evaluations())
    sales, spend = _rows(warehouse, "tenant_sales"), _rows(warehouse, "tenant_spend")
    assert len(sales) == 30 * 2  # 30 days x 2 geos
    assert len(spend) == 30 * 2 * 3
    # Each of the range's 30 materializations of a table is small: no per-partition copy of the table schema,
    # which the asset definition carries once, with units.
    events = [m for m in first.asset_materializations_for_node("tenant_sales_and_spend") if m.asset_key == dg.AssetKey("tenant_sales")]
    assert len(events) == 30 and all("dataframe_columns" not in e.metadata for e in events)
    schema = tenant_sales_and_spend.specs_by_key[dg.AssetKey("tenant_sales")].metadata["dagster/column_schema"]
    assert {c.name: c.description for c in schema.columns}["revenue"] == "revenue of the geo (USD)"
    # Re-running the same range (a backfill run twice) leaves identical tables.
    assert dg.materialize(assets, resources=res, instance=instance, tags=tags).success
    assert _rows(warehouse, "tenant_sales") == sales and _rows(warehouse, "tenant_spend") == spend

    truth = dg.materialize([tenant_truth], resources=res, instance=instance, partition_key=TENANT)
    assert truth.success
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        n_roas = conn.execute("select count(*) from tenant_ground_truth where parameter = 'true_roas'").fetchone()[0]
        days = conn.execute("select count(distinct date) from tenant_true_contributions").fetchone()[0]
    assert n_roas == 3 and days == 120
    # its lift tests are materialized beside its truth: it ran none, so there are no rows
    assert dg.AssetKey("tenant_experiments") in {m.asset_key for m in truth.asset_materializations_for_node("tenant_truth")}
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        assert tenant_experiments(conn, TENANT).height == 0
