"""The console logger of every job: Dagster's own colored console logger, except that a step or run that
failed in a way that explains itself (``dagster.Failure``, such as an allocation without a usable model
version, or a blocking asset check that failed) is told by its message, without Dagster's stack trace. Every
other error keeps its stack trace, and the event log, hence the UI, keeps the whole error either way."""

import logging

import dagster as dg

EXPLAINED = ("dagster._core.definitions.events.Failure: ", "dagster._core.errors.DagsterAssetCheckFailedError: ")
STACK = "\n\nStack Trace:"


def _without_stack_trace(record: logging.LogRecord) -> bool:
    message = record.getMessage()
    head = message.split(STACK, 1)[0]
    if record.levelno >= logging.ERROR and head != message and any(e in head for e in EXPLAINED):
        record.msg, record.args = head, None
    return True


@dg.logger(dg.colored_console_logger.config_schema, description="Dagster's colored console logger; failures that "
           "explain themselves (dagster.Failure, blocking checks) without their stack trace.")
def console_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    log = dg.colored_console_logger.logger_fn(init_context)
    log.addFilter(_without_stack_trace)
    return log
