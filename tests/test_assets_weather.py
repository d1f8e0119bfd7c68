"""weather_daily as a Dagster asset on a temporary warehouse: ranges, re-materialization, checks, bad input."""

import datetime as dt

import dagster as dg
import duckdb
import pytest

from assets.weather import (
    every_city_present_each_day,
    filled_share_per_city,
    no_duplicate_city_days,
    weather_daily,
    weather_within_physical_ranges,
)
from sensors.jobs import failure_messages
from resources import WeatherSource, warehouse_io_manager, warehouse_resource

CHECKS = [every_city_present_each_day, weather_within_physical_ranges, no_duplicate_city_days, filled_share_per_city]


def _materialize(seeds, start, end, raise_on_error=True):
    return dg.materialize(
        [weather_daily, *CHECKS],
        resources={
            "warehouse_io_manager": warehouse_io_manager(),
            "duckdb": warehouse_resource(),
            "weather_source": WeatherSource(mode="seeds", seeds_dir=str(seeds), calendar_end="2024-12-31"),
        },
        tags={"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end},
        raise_on_error=raise_on_error,
    )


def _rows(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute("select * from weather_daily order by date, city").fetchall()


def test_range_materializes_rematerializes_exactly_and_checks_pass(warehouse, seeds_copy):
    result = _materialize(seeds_copy, "2024-02-20", "2024-03-05")
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"every_city_present_each_day": True, "weather_within_physical_ranges": True,
                      "no_duplicate_city_days": True, "filled_share_per_city": True}
    first = _rows(warehouse)
    assert len(first) == 5 * 15
    # An overlapping range replaces its days and leaves exactly one row per city-day.
    assert _materialize(seeds_copy, "2024-02-28", "2024-03-01").success
    assert _rows(warehouse) == first


def test_bad_seed_file_fails_the_run_and_leaves_the_warehouse_unchanged(warehouse, seeds_copy):
    assert _materialize(seeds_copy, "2023-01-01", "2023-01-10").success
    before = _rows(warehouse)
    (seeds_copy / "chicago.json").write_text('{"daily": {"time": ["2016-01-01"')
    result = _materialize(seeds_copy, "2023-01-01", "2023-01-10", raise_on_error=False)
    assert not result.success
    (message,) = failure_messages(result)
    assert "chicago.json: truncated JSON" in message
    assert _rows(warehouse) == before


def test_checks_catch_duplicates_and_impossible_values(warehouse, seeds_copy):
    assert _materialize(seeds_copy, "2023-01-01", "2023-01-03").success
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("insert into weather_daily select * from weather_daily where city = 'miami' and date = '2023-01-02'")
        conn.execute("update weather_daily set relative_humidity_2m_mean = 140 where city = 'denver' and date = '2023-01-03'")
    from weather_mmm.weather import quality

    with duckdb.connect(str(warehouse), read_only=True) as conn:
        dup = quality.no_duplicate_city_days(conn)
        ranges = quality.physical_ranges(conn)
    assert not dup.passed and "miami 2023-01-02 x2" in dup.summary
    assert not ranges.passed and ranges.metadata["violations_humidity_0_100"] == 1


def test_definitions_load():
    from weather_mmm.definitions import defs

    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_job_def("weather_job") is not None


def test_a_block_that_fails_still_closes_its_warehouse_connection(warehouse):
    import duckdb

    with pytest.raises(ValueError, match="boom"):
        with warehouse_resource().get_connection() as conn:
            conn.execute("create table t as select 1 as x")
            raise ValueError("boom")
    # the runner's read-only connection in the same process (refused while a read-write one is open)
    with duckdb.connect(str(warehouse), read_only=True) as reader:
        assert reader.execute("select x from t").fetchone() == (1,)
