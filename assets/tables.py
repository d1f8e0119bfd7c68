"""Column schemas of the warehouse tables, as asset definition metadata (the UI's Columns tab)."""

import dagster as dg

#: The key columns the tables share, with what they hold.
KEYS = {
    "date": "calendar day (a partition key of tenant × date tables)",
    "tenant": "tenant (brand) id, a partition key",
    "city": "city id (storage/seeds/cities.json)",
    "geo": "city the tenant sells in (a weather_daily city)",
    "channel": "ad channel: meta, google or email",
    "experiment": "lift test id: channel, geo and start date",
}


def column_schema(columns: list[str], units: dict[str, str | tuple[str, str]],
                  described: dict[str, str] | None = None) -> dg.TableSchema:
    """``dagster/column_schema`` of a table with ``columns``, each described by ``described`` (the whole
    description), :data:`KEYS` or ``units``, which maps a column to its unit, or to (unit, meaning)."""
    def describe(c: str) -> str | None:
        if text := (described or {}).get(c) or KEYS.get(c):
            return text
        unit = units.get(c)
        if unit is None:
            return None
        return f"{unit[1]} ({unit[0]})" if isinstance(unit, tuple) else f"unit: {unit}"

    return dg.TableSchema(columns=[dg.TableColumn(c, description=describe(c)) for c in columns])
