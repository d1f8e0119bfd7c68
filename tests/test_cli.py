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
