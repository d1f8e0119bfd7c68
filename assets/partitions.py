"""Partition definitions, defined once and imported everywhere."""

import dagster as dg

from weather_mmm.settings import CALENDAR_START

#: One calendar for all tenants: daily from 2023-01-01 with no fixed end.
daily_partitions = dg.DailyPartitionsDefinition(start_date=CALENDAR_START.isoformat())
