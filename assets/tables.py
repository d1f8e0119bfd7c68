"""Column schemas of the warehouse tables, as asset definition metadata (the UI's Columns tab)."""

import dagster as dg


def column_schema(columns: list[str], units: dict[str, str | tuple[str, str]]) -> dg.TableSchema:
    """``dagster/column_schema`` of a table with ``columns``; ``units`` maps a column to its unit, or to
    (unit, meaning), shown as the column's description."""
    def describe(c: str) -> str | None:
        unit = units.get(c)
        if unit is None:
            return None
        return f"{unit[1]} ({unit[0]})" if isinstance(unit, tuple) else f"unit: {unit}"

    return dg.TableSchema(columns=[dg.TableColumn(c, description=describe(c)) for c in columns])
