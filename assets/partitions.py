"""Partition definitions, defined once and imported everywhere."""

import dagster as dg

from weather_mmm.settings import CALENDAR_START

#: One calendar for all tenants: daily from 2023-01-01 with no fixed end.
daily_partitions = dg.DailyPartitionsDefinition(start_date=CALENDAR_START.isoformat())

#: Tenants are dynamic: the catalog (or an import) adds them, without a code change.
tenant_partitions = dg.DynamicPartitionsDefinition(name="tenant")

#: Tenant x date. Keys are ordered by dimension name: "2024-01-02|acme".
tenant_date_partitions = dg.MultiPartitionsDefinition({"date": daily_partitions, "tenant": tenant_partitions})
