"""The console logger of every job: Dagster's own colored console logger, except that a step or run that
failed with ``dagster.Failure`` (an expected failure that explains itself, such as an allocation without a
usable model version) is told by its message, without Dagster's stack trace. Every other error keeps its
stack trace, and the event log, hence the UI, keeps the whole error either way."""

import logging

import dagster as dg

FAILURE = "dagster._core.definitions.events.Failure: "
STACK = "\n\nStack Trace:"


def _without_stack_trace(record: logging.LogRecord) -> bool:
    message = record.getMessage()
    head = message.split(STACK, 1)[0]
    if record.levelno >= logging.ERROR and FAILURE in head and head != message:
        record.msg, record.args = head, None
    return True


@dg.logger(dg.colored_console_logger.config_schema, description="Dagster's colored console logger; dagster.Failure "
           "errors without their stack trace.")
def console_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    log = dg.colored_console_logger.logger_fn(init_context)
    log.addFilter(_without_stack_trace)
    return log
