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
    "source": "where the day's weather came from (seed file, Open-Meteo archive, or climatology when no real record)",
    "source_date": "the observed day whose weather this calendar day carries (another year's when the calendar "
                   "runs past the real record); empty for climatology",
}
FLAG_SUFFIX = "_flag"


def column_schema(columns: list[str], units: dict[str, str | tuple[str, str]]) -> dg.TableSchema:
    """``dagster/column_schema`` of a table with ``columns``; ``units`` maps a column to its unit, or to
    (unit, meaning), shown as the column's description; key columns (:data:`KEYS`) and weather quality flags
    (``<variable>_flag``) are described as such."""
    def describe(c: str) -> str | None:
        if c in KEYS:
            return KEYS[c]
        if c.endswith(FLAG_SUFFIX):
            return f"how {c[:-len(FLAG_SUFFIX)]} was obtained: observed (a real record), derived (physics from real values) or filled (climatology generator)"
        unit = units.get(c)
        if unit is None:
            return None
        return f"{unit[1]} ({unit[0]})" if isinstance(unit, tuple) else f"unit: {unit}"

    return dg.TableSchema(columns=[dg.TableColumn(c, description=describe(c)) for c in columns])
