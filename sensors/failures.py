"""Run-failure sensor: every failed run recorded in the warehouse table ``run_failures``, and a webhook
notification when ``WEATHER_MMM_WEBHOOK_URL`` is set."""

import datetime as dt
import os

import dagster as dg
import requests
from dagster_duckdb import DuckDBResource

FAILURES_DDL = ("create table if not exists main.run_failures (run_id varchar primary key, job varchar, "
                "failed_at timestamp, error varchar)")


def record_failure(conn, run_id: str, job: str, error: str, when: dt.datetime) -> None:
    """Insert one failure row; a run recorded twice keeps its first row."""
    conn.execute(FAILURES_DDL)
    conn.execute("insert into main.run_failures values (?, ?, ?, ?) on conflict do nothing", [run_id, job, when, error])


def notify(url: str, run_id: str, job: str, error: str) -> None:
    """POST ``{"text": ...}`` (Slack-compatible) to ``url``; a webhook error is raised to the sensor's log."""
    requests.post(url, json={"text": f"weather-mmm run {run_id} of {job} failed: {error}"}, timeout=10).raise_for_status()


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING, monitor_all_code_locations=False,
                       description="Records every failed run in run_failures and posts to WEATHER_MMM_WEBHOOK_URL if set.")
def run_failure_recorder(context: dg.RunFailureSensorContext, duckdb: DuckDBResource):
    error = context.failure_event.message or "run failed"
    run = context.dagster_run
    with duckdb.get_connection() as conn:
        record_failure(conn, run.run_id, run.job_name, error, dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
    url = os.environ.get("WEATHER_MMM_WEBHOOK_URL")
    if url:
        notify(url, run.run_id, run.job_name, error)
