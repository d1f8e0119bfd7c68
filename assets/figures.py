"""The tenant report's plots as asset metadata, drawn from the tables a run is about to write."""

import duckdb
import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from weather_mmm.report_html import tenant_figures


def figure_metadata(warehouse: DuckDBResource, tenant: str, fresh: dict[str, pl.DataFrame], stored: list[str],
                    names: list[str]) -> dict[str, dg.MetadataValue]:
    """``plot_<name>`` Markdown metadata (PNG inline) for the figures ``names`` of ``tenant``'s report
    (``weather_mmm.report_html.tenant_figures``), drawn in an in-memory database from the run's ``fresh``
    tables and the tenant's rows of the ``stored`` warehouse tables that exist."""
    with warehouse.get_connection() as conn:
        present = {r[0] for r in conn.execute("select table_name from information_schema.tables").fetchall()}
        tables = {name: pl.from_arrow(conn.execute(f"select * from main.{name} where tenant = ?", [tenant]).to_arrow_table())
                  for name in stored if name in present}
    tables.update(fresh)
    with duckdb.connect() as mem:
        for name, frame in tables.items():
            mem.register("fresh", frame)
            mem.execute(f"create table main.{name} as select * from fresh")
            mem.unregister("fresh")
        figures = tenant_figures(mem, tenant)
    return {f"plot_{name}": dg.MetadataValue.md(figures[name].markdown) for name in names if name in figures}
