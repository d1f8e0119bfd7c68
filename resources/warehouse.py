"""The DuckDB warehouse: one file, tables written by ``DuckDBPolarsIOManager``, queries through ``DuckDBResource``.

The file is ``WEATHER_MMM_WAREHOUSE`` (default ``storage/warehouse.duckdb``). DuckDB allows one writer
per file, so every asset that touches it runs in the ``duckdb`` concurrency pool (limit 1, set in
``storage/dagster/dagster.yaml``). Swapping this module for a server-backed IO manager (MotherDuck,
Postgres, Snowflake) needs no change to asset code.
"""

from __future__ import annotations

from dagster_duckdb import DuckDBResource
from dagster_duckdb_polars import DuckDBPolarsIOManager

from weather_mmm.settings import warehouse_path

WAREHOUSE_POOL = "duckdb"
SCHEMA = "main"


def _database() -> str:
    path = warehouse_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(path)


def warehouse_io_manager() -> DuckDBPolarsIOManager:
    return DuckDBPolarsIOManager(database=_database(), schema=SCHEMA)


def warehouse_resource() -> DuckDBResource:
    return DuckDBResource(database=_database())
