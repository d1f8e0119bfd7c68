"""The DuckDB warehouse: one file, tables written by ``DuckDBPolarsIOManager``, queries through ``DuckDBResource``.

The file is ``WEATHER_MMM_WAREHOUSE`` (default ``storage/warehouse.duckdb``). DuckDB allows one writer
per file, so every asset that touches it runs in the ``duckdb`` concurrency pool (limit 1, set in
``storage/dagster/dagster.yaml``). Swapping this module for a server-backed IO manager (MotherDuck,
Postgres, Snowflake) needs no change to asset code.
"""

from __future__ import annotations

import datetime as dt
import json
from contextlib import contextmanager

import polars as pl
from dagster._core.definitions.partitions.context import partition_loading_context
from dagster._core.storage.db_io_manager import DbIOManager
from dagster_duckdb import DuckDBResource
from dagster_duckdb_polars import DuckDBPolarsIOManager, DuckDBPolarsTypeHandler

from weather_mmm.settings import warehouse_path

WAREHOUSE_POOL = "duckdb"
SCHEMA = "main"


def _database() -> str:
    path = warehouse_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(path)


class _DynamicAwareDbIOManager(DbIOManager):
    """Dagster 1.13.27's DbIOManager resolves the key range of a multi-partition's dynamic dimension
    (tenant) without the instance and fails ("The instance is not available to load partitions"); give it
    the run's instance. Remove when the DB IO manager passes it itself."""

    def handle_output(self, context, obj) -> None:
        with partition_loading_context(dynamic_partitions_store=context.step_context.instance):
            super().handle_output(context, obj)

    def load_input(self, context):
        with partition_loading_context(dynamic_partitions_store=context.step_context.instance):
            return super().load_input(context)


class _WithoutHandlerMetadata:
    """An output context whose ``add_output_metadata`` does nothing."""

    def __init__(self, context):
        self._context = context

    def __getattr__(self, name):
        return getattr(self._context, name)

    def add_output_metadata(self, metadata) -> None:
        pass


class _RangePolarsTypeHandler(DuckDBPolarsTypeHandler):
    """Writes as ``DuckDBPolarsTypeHandler`` does, with two differences:

    - On a run over a partition range Dagster copies the output's metadata to every partition's
      materialization, so the library's table schema and row count (of the whole range) would be stored 731
      times per table in a tenant's data run, half of what its events weigh. They are kept for
      single-partition outputs; the range's assets carry their column schema in their definition.
    - An empty frame (a tenant without lift tests or forecasts) writes nothing after its partition's rows were
      deleted, as in the library, without the library's warning on the console."""

    def handle_output(self, context, table_slice, obj, connection):
        if obj.is_empty():
            context.add_output_metadata({"row_count": 0})
            return None
        if context.has_asset_partitions and len(context.asset_partition_keys) > 1:
            context = _WithoutHandlerMetadata(context)
        return super().handle_output(context, table_slice, obj, connection)


class WarehouseIOManager(DuckDBPolarsIOManager):
    """``DuckDBPolarsIOManager`` that also handles tenant x date partitions (see ``_DynamicAwareDbIOManager``)
    and stores no per-partition copy of a range's table schema (``_RangePolarsTypeHandler``)."""

    @staticmethod
    def type_handlers():
        return [_RangePolarsTypeHandler()]

    def create_io_manager(self, context) -> DbIOManager:
        base = super().create_io_manager(context)
        manager = _DynamicAwareDbIOManager.__new__(_DynamicAwareDbIOManager)
        manager.__dict__.update(base.__dict__)
        return manager


def warehouse_io_manager() -> DuckDBPolarsIOManager:
    return WarehouseIOManager(database=_database(), schema=SCHEMA)


class WarehouseResource(DuckDBResource):
    """``DuckDBResource`` whose connection is closed even when the block using it raises. dagster-duckdb
    0.29.27 closes it only after a clean exit, so an asset that failed inside ``get_connection()`` left a
    read-write connection open in the process, and the next read-only connection to the file (the main
    job's runner, its summary) failed with "different configuration". Remove when the library closes in a
    ``finally``."""

    @contextmanager
    def get_connection(self):
        with super().get_connection() as conn:
            try:
                yield conn
            finally:
                conn.close()


def warehouse_resource() -> DuckDBResource:
    return WarehouseResource(database=_database())


def tenant_tables(conn, tenant: str, first: dt.date | None = None, last: dt.date | None = None) -> dict:
    """One tenant's public catalog row (tier, geos, channels) and its ``tenant_sales``, ``tenant_spend`` and
    its cities' ``weather_daily`` rows between two dates (all when omitted), each in a fixed row order, read
    on a warehouse connection."""
    first, last = first or dt.date.min, last or dt.date.max

    def read(sql, params):
        return pl.from_arrow(conn.execute(sql + " order by all", params).to_arrow_table())

    row = read("select * from main.tenant_catalog where tenant = ?", [tenant]).row(0, named=True)
    geos, channels = json.loads(row["geos"]), json.loads(row["channels"])
    window = [tenant, first, last]
    return {
        "tenant": tenant, "tier": row["tier"], "geos": geos, "channels": channels,
        "sales": read("select * from main.tenant_sales where tenant = ? and date between ? and ?", window),
        "spend": read("select * from main.tenant_spend where tenant = ? and date between ? and ?", window),
        "weather": read("select * from main.weather_daily where city in (select unnest(?::varchar[])) "
                        "and date between ? and ?", [list(geos), first, last]),
    }


def tenant_experiments(conn, tenant: str) -> pl.DataFrame:
    """One tenant's ``tenant_experiments`` rows (lift-test readouts) by start date; empty, with the table's
    columns, when it has none or the table does not exist yet."""
    from weather_mmm.simulation.contract import EXPERIMENT_SCHEMA

    exists = conn.execute("select count(*) from information_schema.tables where table_schema = ? and "
                          "table_name = 'tenant_experiments'", [SCHEMA]).fetchone()[0]
    if not exists:
        return pl.DataFrame(schema=EXPERIMENT_SCHEMA)
    return pl.from_arrow(conn.execute(f"select * from {SCHEMA}.tenant_experiments where tenant = ? order by start, experiment",
                                      [tenant]).to_arrow_table()).cast(EXPERIMENT_SCHEMA)


def tenant_forecasts(conn, tenant: str) -> pl.DataFrame | None:
    """One tenant's ``tenant_forecasts`` rows (the weather forecasts its spend was planned on: date, geo,
    variable, forecast) by variable, geo and date; ``None`` when the table does not exist yet."""
    exists = conn.execute("select count(*) from information_schema.tables where table_schema = ? and "
                          "table_name = 'tenant_forecasts'", [SCHEMA]).fetchone()[0]
    if not exists:
        return None
    return pl.from_arrow(conn.execute(f"select * from {SCHEMA}.tenant_forecasts where tenant = ? order by variable, geo, date",
                                      [tenant]).to_arrow_table())
