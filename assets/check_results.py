"""Helpers of the asset checks: whole warehouse tables in, the library's check outcomes out as Dagster results."""

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from weather_mmm.weather.quality import CheckOutcome


def check_result(outcome: CheckOutcome, severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR) -> dg.AssetCheckResult:
    """``outcome`` as an ``AssetCheckResult``; dict and list figures are shown as JSON metadata."""
    return dg.AssetCheckResult(
        passed=outcome.passed,
        severity=severity,
        description=outcome.summary,
        metadata={k: dg.MetadataValue.json(v) if isinstance(v, (dict, list)) else v for k, v in outcome.metadata.items()},
    )


def read_tables(duckdb: DuckDBResource, *names: str) -> list[pl.DataFrame]:
    """Whole warehouse tables (schema ``main``), in the order named."""
    with duckdb.get_connection() as conn:
        return [pl.from_arrow(conn.execute(f"select * from main.{n}").to_arrow_table()) for n in names]
