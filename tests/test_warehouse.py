"""The warehouse IO manager (``resources/warehouse.py``): a partition's write replaces it exactly or not at all."""

import dagster as dg
import duckdb
import polars as pl
import pytest

from resources.warehouse import warehouse_io_manager

TENANTS = dg.StaticPartitionsDefinition(["acme", "zenith"])


def _materialize(frame, partition: str) -> dg.ExecuteInProcessResult:
    """Materialize one partition of a tenant-partitioned asset ``probe`` whose output is ``frame(partition)``."""

    @dg.asset(partitions_def=TENANTS, io_manager_key="warehouse_io_manager", metadata={"partition_expr": "tenant"})
    def probe(context) -> pl.DataFrame:
        return frame(context.partition_key)

    return dg.materialize([probe], partition_key=partition, raise_on_error=False,
                          resources={"warehouse_io_manager": warehouse_io_manager()})


def _stored(warehouse) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:  # fails if a write left its connection open
        return conn.execute("select * from main.probe order by all").fetchall()


def _columns(warehouse) -> list[str]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return [r[0] for r in conn.execute("describe main.probe").fetchall()]


@pytest.fixture
def stored(warehouse):
    """Two tenants' rows (tenant, revenue USD, channel) in ``main.probe``."""
    for tenant, revenue in (("acme", 10.0), ("zenith", 20.0)):
        assert _materialize(lambda t, r=revenue: pl.DataFrame({"tenant": [t, t], "revenue": [r, r + 1],
                                                               "channel": ["meta", "email"]}), tenant).success
    return warehouse


def test_a_write_that_fails_keeps_the_partition_as_it_was(stored):
    before = _stored(stored)
    result = _materialize(lambda t: pl.DataFrame({"tenant": [t], "revenue": ["not a number"], "channel": ["meta"]}), "acme")
    assert not result.success
    assert "not a number" in str(result.get_step_failure_events()[0].event_specific_data.error)
    assert _stored(stored) == before  # the library had deleted acme's two rows before its insert failed


def test_columns_are_written_by_name_not_by_position(stored):
    assert _materialize(lambda t: pl.DataFrame({"channel": ["google"], "revenue": [7.5], "tenant": [t]}), "acme").success
    assert _stored(stored) == [("acme", 7.5, "google"), ("zenith", 20.0, "meta"), ("zenith", 21.0, "email")]


def test_a_new_column_is_added_to_the_stored_table(stored):
    assert _materialize(lambda t: pl.DataFrame({"tenant": [t], "revenue": [5.0], "channel": ["meta"],
                                                "plan_choice": ["mean"]}), "zenith").success
    assert _columns(stored) == ["tenant", "revenue", "channel", "plan_choice"]
    assert _stored(stored) == [("acme", 10.0, "meta", None), ("acme", 11.0, "email", None), ("zenith", 5.0, "meta", "mean")]


def test_a_column_no_longer_written_is_refused_with_its_name(stored):
    before = _stored(stored)
    result = _materialize(lambda t: pl.DataFrame({"tenant": [t], "revenue": [5.0]}), "acme")
    assert not result.success
    message = str(result.get_step_failure_events()[0].event_specific_data.error)
    assert "table main.probe" in message and "no longer writes the stored column(s) channel" in message
    assert _stored(stored) == before


def test_a_value_its_stored_column_cannot_hold_is_refused_not_rounded(warehouse):
    assert _materialize(lambda t: pl.DataFrame({"tenant": [t], "orders": [3]}), "acme").success  # BIGINT column
    assert _materialize(lambda t: pl.DataFrame({"tenant": [t], "orders": [4.0]}), "zenith").success  # 4.0 is 4 exactly
    result = _materialize(lambda t: pl.DataFrame({"tenant": [t], "orders": [2.5]}), "acme")
    assert not result.success
    message = str(result.get_step_failure_events()[0].event_specific_data.error)
    assert "column orders stores BIGINT" in message and "(2.5)" in message
    assert _stored(warehouse) == [("acme", 3), ("zenith", 4)]


def test_a_column_first_written_all_null_takes_the_type_of_its_first_values(warehouse):
    """A plan without a target ROAS writes a null column, which DuckDB creates as INTEGER; a later target of 2.5
    (for this tenant, or another, whatever the null column's stored rows) is stored, not refused."""
    assert _materialize(lambda t: pl.DataFrame({"tenant": [t], "target_roas": [None]}), "acme").success
    assert _materialize(lambda t: pl.DataFrame({"tenant": [t], "target_roas": [3.0]}), "zenith").success  # 3 fits INTEGER
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        assert conn.execute("select data_type from information_schema.columns where column_name = 'target_roas'").fetchone() \
            == ("INTEGER",)
    assert _materialize(lambda t: pl.DataFrame({"tenant": [t], "target_roas": [2.5]}), "zenith").success  # replaces its 3
    assert _stored(warehouse) == [("acme", None), ("zenith", 2.5)]
    assert _materialize(lambda t: pl.DataFrame({"tenant": [t], "target_roas": [1.5]}), "acme").success
    assert _stored(warehouse) == [("acme", 1.5), ("zenith", 2.5)]


def test_an_empty_output_deletes_its_partition_and_writes_nothing(stored):
    assert _materialize(lambda t: pl.DataFrame(), "acme").success  # no rows, not even columns
    assert _stored(stored) == [("zenith", 20.0, "meta"), ("zenith", 21.0, "email")]
