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

import dagster as dg
import polars as pl
from dagster._core.definitions.partitions.context import partition_loading_context
from dagster._core.storage.db_io_manager import DbIOManager, TableSlice
from dagster_duckdb import DuckDBResource
from dagster_duckdb.io_manager import DuckDbClient, _partition_where_clause
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


class _AtomicDuckDbClient(DuckDbClient):
    """``DuckDbClient`` whose writes are atomic. The library deletes a partition's rows (committed at once) and
    then inserts the new ones, so an insert that failed (a value the stored column cannot hold, a column
    the table lacks) lost what had been stored, and its connection stayed open. Here the delete and the insert
    share one transaction, rolled back when either fails, and the connection is always closed."""

    @staticmethod
    @contextmanager
    def connect(context, table_slice):
        with DuckDbClient.connect(context, table_slice) as conn:
            conn.begin()
            try:
                yield conn
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            finally:
                conn.close()  # the library closes only after a clean exit; closing twice is harmless

    @staticmethod
    def delete_table_slice(context, table_slice: TableSlice, connection) -> None:
        """Nothing: :class:`_RangePolarsTypeHandler` deletes the slice after adding any new column to the table
        (DuckDB refuses, at commit, an ``alter table`` on a table the transaction has already changed)."""


def _stored_columns(connection, table_slice: TableSlice) -> dict[str, str]:
    """The stored table's columns and their DuckDB types, in order; none when it does not exist yet."""
    return dict(connection.execute(
        "select column_name, data_type from information_schema.columns where table_schema = ? and table_name = ? "
        "order by ordinal_position", [table_slice.schema, table_slice.table]).fetchall())


def _fit_stored_table(connection, table_slice: TableSlice, stored: dict[str, str], context) -> None:
    """Make the stored table of ``table_slice`` (columns and types ``stored``) take the registered ``_frame`` by
    name: add the frame's new columns; give a stored column the frame's type when the frame's values do not fit
    its own and it holds only nulls outside the slice being replaced (a column first written all null, such as
    a plan's target ROAS before any plan had one, was created with an arbitrary type, and no value that stays
    can change); raise ``ValueError`` (table, column, value) for a stored column the frame lacks or a value the
    stored type cannot hold exactly (``try_cast`` there and back changes it)."""
    asset, table = context.asset_key.to_user_string(), f"{table_slice.schema}.{table_slice.table}"
    staying = f" where not ({_partition_where_clause(table_slice.partition_dimensions)})" \
        if table_slice.partition_dimensions else " where false"
    types = dict(connection.execute("select column_name, column_type from (describe select * from _frame)").fetchall())
    if missing := [c for c in stored if c not in types]:
        raise ValueError(f"table {table}: asset {asset} no longer writes the stored column(s) {', '.join(missing)}; nothing "
                         f"was written and the stored rows are as they were. Drop them (alter table {table} drop column "
                         f"...) to store the new shape")
    for column, kind in stored.items():
        if types[column] != kind and (value := connection.execute(
                f'select "{column}" from _frame where "{column}" is not null and '
                f'try_cast(try_cast("{column}" as {kind}) as {types[column]}) is distinct from "{column}" limit 1').fetchone()):
            if not connection.execute(f'select count("{column}") from {table}{staying}').fetchone()[0]:
                connection.execute(f'alter table {table} alter column "{column}" type {types[column]} '
                                   f'using try_cast("{column}" as {types[column]})')  # the slice's rows go next
                context.log.info(f"table {table}: column {column} ({kind}, only nulls kept) now {types[column]}")
                continue
            raise ValueError(f"table {table}: column {column} stores {kind}, and asset {asset} writes {types[column]} "
                             f"values it cannot hold exactly ({value[0]!r}); nothing was written and the stored rows "
                             f"are as they were")
    for column in [c for c in types if c not in stored]:
        connection.execute(f'alter table {table} add column "{column}" {types[column]}')
        context.log.info(f"table {table}: added column {column} ({types[column]})")


class _RangePolarsTypeHandler(DuckDBPolarsTypeHandler):
    """Writes a Polars frame as ``DuckDBPolarsTypeHandler`` does, with these differences:

    - Columns are inserted by name, not by position, so a frame whose columns come in another order than the
      stored table's cannot put values under the wrong column.
    - A column the stored table lacks (a newer version of the asset writes it) is added to the table first:
      ``alter table ... add column``, null in the rows stored before. A stored column the frame lacks, or a
      value its stored column's type cannot hold exactly (1.5 into a BIGINT, which DuckDB would round), raises
      ``ValueError`` naming the table, the column and the value, and nothing is written
      (:class:`_AtomicDuckDbClient`); unless that column holds nothing but nulls outside the slice being
      replaced, which then takes the frame's type.
    - On a run over a partition range Dagster copies the output's metadata to every partition's
      materialization, so the library's table schema and row count (of the whole range) would be stored 731
      times per table in a tenant's data run, half of what its events weigh. They are kept for
      single-partition outputs; the range's assets carry their column schema in their definition.
    - An empty frame (a tenant without lift tests or forecasts) writes nothing after its partition's rows were
      deleted, as in the library, without the library's warning on the console."""

    def handle_output(self, context, table_slice, obj, connection):
        table = f"{table_slice.schema}.{table_slice.table}"
        stored = _stored_columns(connection, table_slice)
        if obj.is_empty():
            if stored:
                DuckDbClient.delete_table_slice(context, table_slice, connection)
            context.add_output_metadata({"row_count": 0})
            return None
        connection.register("_frame", obj.to_arrow())
        try:
            if stored:
                _fit_stored_table(connection, table_slice, stored, context)
                DuckDbClient.delete_table_slice(context, table_slice, connection)
                connection.execute(f"insert into {table} by name select * from _frame")
            else:
                connection.execute(f"create table {table} as select * from _frame")
        finally:
            connection.unregister("_frame")
        if not (context.has_asset_partitions and len(context.asset_partition_keys) > 1):
            context.add_output_metadata({"row_count": obj.height, "dataframe_columns": dg.TableSchema(
                columns=[dg.TableColumn(name=n, type=str(t)) for n, t in obj.schema.items()])})
        return None


class WarehouseIOManager(DuckDBPolarsIOManager):
    """``DuckDBPolarsIOManager`` that handles tenant x date partitions (``_DynamicAwareDbIOManager``), writes
    each output atomically (``_AtomicDuckDbClient``), by column name, adding new columns to stored tables,
    and stores no per-partition copy of a range's table schema (``_RangePolarsTypeHandler``)."""

    @staticmethod
    def type_handlers():
        return [_RangePolarsTypeHandler()]

    def create_io_manager(self, context) -> DbIOManager:
        return _DynamicAwareDbIOManager(db_client=_AtomicDuckDbClient(), database=self.database, schema=self.schema_,
                                        type_handlers=self.type_handlers(), default_load_type=self.default_load_type(),
                                        io_manager_name="WarehouseIOManager")


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
