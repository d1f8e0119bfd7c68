"""The command line: help, and user mistakes reported without a traceback (exit 2)."""

import pytest

from weather_mmm.cli import EXIT_USAGE, main


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "run" in out and "fit-climatology" in out


def test_fit_climatology_on_a_missing_folder_is_a_clean_error(tmp_path, capsys):
    code = main(["fit-climatology", "--seeds", str(tmp_path / "nowhere"), "--out", str(tmp_path / "c.json")])
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "nowhere: weather seeds folder does not exist" in err
    assert "Traceback" not in err


def test_bad_calendar_end_setting_is_a_clean_error(monkeypatch, capsys):
    monkeypatch.setenv("WEATHER_MMM_CALENDAR_END", "next tuesday")
    with pytest.raises(ValueError, match="WEATHER_MMM_CALENDAR_END='next tuesday' is not an ISO date"):
        from weather_mmm import settings

        settings.calendar_end()


def test_show_without_a_warehouse_is_a_user_error(warehouse, capsys):
    from weather_mmm.cli import EXIT_USAGE, main

    assert main(["show", "stormready_supply"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith(f"error: no warehouse at {warehouse}") and "Traceback" not in err


def test_a_run_whose_start_is_after_its_end_is_a_user_error(warehouse, capsys):
    from weather_mmm.cli import EXIT_USAGE, main

    assert main(["run", "--start", "2024-06-01", "--end", "2024-01-01"]) == EXIT_USAGE
    assert capsys.readouterr().err == "error: --start 2024-06-01 is after --end 2024-01-01: no day to run\n"


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_an_interrupted_run_stops_the_main_job_instead_of_starting_the_next(signal_name, monkeypatch, capsys):
    """Dagster turns Ctrl-C or SIGTERM inside an in-process run into a failed run and returns: the runner
    raises instead, and the command line exits 130."""
    import os
    import signal
    import time

    import dagster as dg

    from sensors.jobs import RunInterrupted, execute
    from weather_mmm import cli

    @dg.op
    def stopped_by_a_signal():
        os.kill(os.getpid(), getattr(signal, signal_name))
        time.sleep(5)

    @dg.op
    def fails_on_its_own():
        raise ValueError("bad input")

    @dg.job
    def stopped():
        stopped_by_a_signal()

    @dg.job
    def failing():
        fails_on_its_own()

    defs = dg.Definitions(jobs=[stopped, failing])
    instance = dg.DagsterInstance.ephemeral()
    started = time.perf_counter()
    with pytest.raises(RunInterrupted, match="stopped run .* was interrupted"):
        execute(defs, "stopped", instance)
    assert time.perf_counter() - started < 4  # the op's sleep was cut short
    assert not execute(defs, "failing", instance).success  # a step's own failure is a result, not a stop

    def interrupted_run(args):
        raise RunInterrupted("tenant_data_job run abc was interrupted")

    monkeypatch.setattr(cli, "cmd_run", interrupted_run)
    assert cli.main(["run"]) == cli.EXIT_INTERRUPTED == 130
    assert "interrupted: tenant_data_job run abc was interrupted" in capsys.readouterr().err


def test_a_failure_that_explains_itself_is_one_line_on_the_console_and_a_bug_keeps_its_stack_trace(capsys):
    """Jobs log to the console through ``resources.console.console_logger``: a ``dagster.Failure`` (for
    example no usable model version to allocate from), a failed blocking check and bad input (a
    ``WeatherMMMError``) without Dagster's stack trace, any other error with it."""
    import dagster as dg

    from resources.console import console_logger
    from sensors.jobs import execute
    from weather_mmm.definitions import build_definitions

    @dg.op
    def no_usable_model():
        raise dg.Failure("tenant acme: no usable model version to allocate from (R-hat 1.042 > 1.01)")

    @dg.op
    def a_bug():
        raise ZeroDivisionError("division by zero in the allocator")

    @dg.op
    def bad_input():
        from weather_mmm.errors import WeatherInputError
        raise WeatherInputError("no weather for 2030-07-01: the calendar ends 2024-12-31")

    @dg.job
    def explained():
        no_usable_model()

    @dg.job
    def buggy():
        a_bug()

    @dg.job
    def misfed():
        bad_input()

    @dg.asset
    def fitted():
        return 1

    @dg.asset_check(asset=fitted, blocking=True)
    def converged():
        return dg.AssetCheckResult(passed=False, description="R-hat 1.042 > 1.01")

    checked = dg.define_asset_job("checked", selection=[fitted])
    defs = dg.Definitions(assets=[fitted], asset_checks=[converged], jobs=[explained, buggy, misfed, checked],
                          loggers={"console": console_logger})
    instance = dg.DagsterInstance.ephemeral()
    assert not execute(defs, "checked", instance).success
    err = capsys.readouterr().err
    assert "blocking asset check failed" in err and "converged" in err and "Stack Trace" not in err
    assert not execute(defs, "explained", instance).success
    err = capsys.readouterr().err
    assert err.count("tenant acme: no usable model version to allocate from (R-hat 1.042 > 1.01)") == 2  # step, run
    assert "Stack Trace" not in err and "File " not in err
    assert not execute(defs, "misfed", instance).success  # told by the step's error, and by the run's as its cause
    err = capsys.readouterr().err
    assert err.count("weather_mmm.errors.WeatherInputError: no weather for 2030-07-01: the calendar ends 2024-12-31") == 2
    assert "Stack Trace" not in err and "File " not in err
    assert not execute(defs, "buggy", instance).success
    err = capsys.readouterr().err
    assert "division by zero in the allocator" in err and "Stack Trace" in err and "a_bug" in err
    assert build_definitions().resolve_job_def("tenant_model_job").loggers["console"] is console_logger
