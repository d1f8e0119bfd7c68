"""Shared fixtures: the real data in ../shared (read in place, never copied into the project)."""

import shutil
from pathlib import Path

import pytest

from weather_mmm.settings import PROJECT_ROOT

SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
OPEN_METEO_DIR = SHARED_DATA / "weather" / "open_meteo"
NCEI_CSV = SHARED_DATA / "weather" / "raw" / "phoenix_USW00023183_1933-2025.csv"
DEMAND_CSV = SHARED_DATA / "demand" / "day.csv"


@pytest.fixture
def open_meteo_dir() -> Path:
    if not OPEN_METEO_DIR.is_dir():
        pytest.fail(f"real weather seeds not found at {OPEN_METEO_DIR} (../shared must sit beside the checkout)")
    return OPEN_METEO_DIR


@pytest.fixture
def seeds_copy(tmp_path, open_meteo_dir) -> Path:
    """A temporary copy of the real seed files that a test may change."""
    folder = tmp_path / "seeds"
    shutil.copytree(open_meteo_dir, folder)
    for f in folder.iterdir():
        f.chmod(0o644)
    return folder


@pytest.fixture
def warehouse(tmp_path, monkeypatch) -> Path:
    """A temporary DuckDB warehouse and Dagster home for one test."""
    path = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("WEATHER_MMM_WAREHOUSE", str(path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.setenv("WEATHER_MMM_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("WEATHER_MMM_REPORTS", str(tmp_path / "reports"))
    (tmp_path / "dagster").mkdir()
    return path
