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
    # Re-running the same range (a backfill run twice) leaves identical tables.
    assert dg.materialize(assets, resources=res, instance=instance, tags=tags).success
    assert _rows(warehouse, "tenant_sales") == sales and _rows(warehouse, "tenant_spend") == spend

    truth = dg.materialize([tenant_truth], resources=res, instance=instance, partition_key=TENANT)
    assert truth.success
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        n_roas = conn.execute("select count(*) from tenant_ground_truth where parameter = 'true_roas'").fetchone()[0]
        days = conn.execute("select count(distinct date) from tenant_true_contributions").fetchone()[0]
    assert n_roas == 3 and days == 120
