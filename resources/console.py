"""The console logger of every job: Dagster's own colored console logger, except that a step or run that
failed in a way that explains itself (``dagster.Failure``, such as an allocation without a usable model
version, a blocking asset check that failed, or bad input: a ``weather_mmm.errors.WeatherMMMError``, whose
message names the file, tenant, date or column at fault) is told by its message, without Dagster's stack
trace. Every other error keeps its stack trace, and the event log, hence the UI, keeps the whole error either
way."""

import importlib
import logging
import re

import dagster as dg

from weather_mmm.errors import WeatherMMMError

EXPLAINED = ("dagster._core.definitions.events.Failure: ", "dagster._core.errors.DagsterAssetCheckFailedError: ")
STACK = "\n\nStack Trace:"
DOMAIN_ERROR = re.compile(r"^(weather_mmm(?:\.\w+)*)\.(\w+): .*$", re.MULTILINE)


def _user_error(message: str) -> str | None:
    """The first line of ``message`` that tells a :class:`WeatherMMMError` (known by its class's dotted name,
    in the error or in its chain of causes), or None."""
    for match in DOMAIN_ERROR.finditer(message):
        try:
            cls = getattr(importlib.import_module(match[1]), match[2], None)
        except ImportError:  # a line that only looks like an error's
            continue
        if isinstance(cls, type) and issubclass(cls, WeatherMMMError):
            return match[0]
    return None


def _without_stack_trace(record: logging.LogRecord) -> bool:
    message = record.getMessage()
    head = message.split(STACK, 1)[0]
    if record.levelno < logging.ERROR or head == message:
        return True
    if any(e in head for e in EXPLAINED):
        record.msg, record.args = head, None
    elif cause := _user_error(message):
        record.msg, record.args = (head if cause in head else f"{head}\n{cause}"), None
    return True


@dg.logger(dg.colored_console_logger.config_schema, description="Dagster's colored console logger; failures that "
           "explain themselves (dagster.Failure, blocking checks, weather_mmm's input errors) without their stack trace.")
def console_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    log = dg.colored_console_logger.logger_fn(init_context)
    log.addFilter(_without_stack_trace)
    return log
