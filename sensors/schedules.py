"""Schedules: the newest complete day every morning (weather, then tenant data), and weekly refits and allocations.

Both target the same jobs as the main job and request one run per tenant (the DB IO manager writes one
partition range per run, see ``docs/architecture.md``); the ``duckdb`` pool keeps writers to one at a time.
"""

import datetime as dt

import dagster as dg

from assets.features import tenant_features
from assets.weather import weather_daily
from sensors.jobs import range_tags, tenant_data_job, tenant_model_job, weather_job
from weather_mmm import settings
from weather_mmm.weather.open_meteo import ARCHIVE_DELAY_DAYS

TENANTS = "tenant"


def newest_complete_day(tick: dt.datetime) -> dt.date:
    """The newest day the Open-Meteo archive has complete at ``tick`` (it lags by ``ARCHIVE_DELAY_DAYS``), and
    not past the calendar's end (``settings.calendar_end``: with seeds, their newest day)."""
    return min(tick.date() - dt.timedelta(days=ARCHIVE_DELAY_DAYS), settings.calendar_end())


@dg.schedule(cron_schedule="0 6 * * *", job=weather_job, execution_timezone="UTC",
             description="Every morning: weather_daily for the newest complete day, unless it is already stored.")
def daily_weather_schedule(context: dg.ScheduleEvaluationContext):
    day = newest_complete_day(context.scheduled_execution_time).isoformat()
    if day in context.instance.get_materialized_partitions(weather_daily.key):
        return dg.SkipReason(f"weather_daily {day} (the newest day the source has) is already stored")
    return dg.RunRequest(run_key=f"weather:{day}", tags=range_tags(day, day))


@dg.schedule(cron_schedule="30 6 * * *", job=tenant_data_job, execution_timezone="UTC",
             description="Every morning after the weather: each tenant's sales, spend and features for that day, "
                         "where not already stored.")
def daily_tenant_data_schedule(context: dg.ScheduleEvaluationContext):
    day = newest_complete_day(context.scheduled_execution_time).isoformat()
    stored = context.instance.get_materialized_partitions(tenant_features.keys_by_output_name["tenant_features"])
    requests = [dg.RunRequest(run_key=f"data:{day}:{t}", tags=range_tags(f"{day}|{t}", f"{day}|{t}"))
                for t in sorted(context.instance.get_dynamic_partitions(TENANTS)) if f"{day}|{t}" not in stored]
    return requests or dg.SkipReason(f"every tenant's data for {day} is already stored")


@dg.schedule(cron_schedule="0 7 * * 1", job=tenant_model_job, execution_timezone="UTC",
             description="Every Monday: refit each tenant's models and refresh its budget allocation.")
def weekly_model_schedule(context: dg.ScheduleEvaluationContext):
    week = context.scheduled_execution_time.date().isoformat()
    return [dg.RunRequest(run_key=f"models:{week}:{t}", partition_key=t)
            for t in sorted(context.instance.get_dynamic_partitions(TENANTS))]
