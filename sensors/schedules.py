"""Schedules: the newest complete day every morning (weather, then tenant data), and weekly refits and allocations.

Both target the same jobs as the main job and request one run per tenant (the DB IO manager writes one
partition range per run, see ``docs/architecture.md``); the ``duckdb`` pool keeps writers to one at a time.
"""

import datetime as dt

import dagster as dg

from sensors.jobs import range_tags, tenant_data_job, tenant_model_job, weather_job
from weather_mmm.weather.open_meteo import ARCHIVE_DELAY_DAYS

TENANTS = "tenant"


def newest_complete_day(tick: dt.datetime) -> dt.date:
    """The newest day the Open-Meteo archive has complete at ``tick`` (it lags by ``ARCHIVE_DELAY_DAYS``)."""
    return tick.date() - dt.timedelta(days=ARCHIVE_DELAY_DAYS)


@dg.schedule(cron_schedule="0 6 * * *", job=weather_job, execution_timezone="UTC",
             description="Every morning: weather_daily for the newest complete day.")
def daily_weather_schedule(context: dg.ScheduleEvaluationContext):
    day = newest_complete_day(context.scheduled_execution_time).isoformat()
    return dg.RunRequest(run_key=f"weather:{day}", tags=range_tags(day, day))


@dg.schedule(cron_schedule="30 6 * * *", job=tenant_data_job, execution_timezone="UTC",
             description="Every morning after the weather: each tenant's sales, spend and features for that day.")
def daily_tenant_data_schedule(context: dg.ScheduleEvaluationContext):
    day = newest_complete_day(context.scheduled_execution_time).isoformat()
    return [dg.RunRequest(run_key=f"data:{day}:{t}", tags=range_tags(f"{day}|{t}", f"{day}|{t}"))
            for t in sorted(context.instance.get_dynamic_partitions(TENANTS))]


@dg.schedule(cron_schedule="0 7 * * 1", job=tenant_model_job, execution_timezone="UTC",
             description="Every Monday: refit each tenant's models and refresh its budget allocation.")
def weekly_model_schedule(context: dg.ScheduleEvaluationContext):
    week = context.scheduled_execution_time.date().isoformat()
    return [dg.RunRequest(run_key=f"models:{week}:{t}", partition_key=t)
            for t in sorted(context.instance.get_dynamic_partitions(TENANTS))]
