"""Asset jobs, and the in-process runner the command line uses for the main job."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from assets.weather import weather_daily

weather_job = dg.define_asset_job("weather_job", selection=[weather_daily], description="Materialize weather_daily for a date range.")

JOBS = [weather_job]
#: Console logging for command-line runs: warnings and errors only (the UI keeps the full event log).
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_weather(defs: dg.Definitions, instance: dg.DagsterInstance, start: dt.date, end: dt.date) -> dg.ExecuteInProcessResult:
    """Materialize ``weather_daily`` from ``start`` to ``end`` in one in-process run (with its checks)."""
    job = defs.resolve_job_def("weather_job")
    return job.execute_in_process(
        instance=instance,
        run_config=QUIET,
        tags={
            "dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": end.isoformat(),
        },
        raise_on_error=False,
    )


def failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    """One line per failed step: the step and the root error's own message (not Dagster's wrapper)."""
    lines = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            while error.cause is not None:
                error = error.cause
            lines.append(f"step {event.step_key} failed: {error.message.strip()}")
    return lines
