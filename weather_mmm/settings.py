"""Project paths and settings read from the environment, with their defaults.

Every setting has one environment variable; the Dagster resources read the same names, so a
value set in the shell applies to the UI, the daemon, the command line and the tests alike.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STORAGE_DIR = PROJECT_ROOT / "storage"
SEEDS_DIR = STORAGE_DIR / "seeds"

#: First day of the one calendar shared by all tenants (daily partitions start here).
CALENDAR_START = dt.date(2023, 1, 1)
#: Last day of the default history; later days are added as weather for them arrives.
DEFAULT_CALENDAR_END = dt.date(2024, 12, 31)


def env_path(name: str, default: Path) -> Path:
    """Path from environment variable ``name``, relative paths taken from the project root."""
    raw = os.environ.get(name)
    if not raw:
        return default
    path = Path(raw).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def warehouse_path() -> Path:
    """DuckDB warehouse file: ``WEATHER_MMM_WAREHOUSE`` or ``storage/warehouse.duckdb``."""
    return env_path("WEATHER_MMM_WAREHOUSE", STORAGE_DIR / "warehouse.duckdb")


def cache_dir() -> Path:
    """Open-Meteo response cache: ``WEATHER_MMM_CACHE`` or ``storage/cache/open_meteo``."""
    return env_path("WEATHER_MMM_CACHE", STORAGE_DIR / "cache" / "open_meteo")


def jax_cache_dir() -> Path:
    """JAX's persistent compilation cache (compiled NUTS kernels, reused across runs and processes):
    ``WEATHER_MMM_JAX_CACHE`` or ``storage/cache/jax``."""
    return env_path("WEATHER_MMM_JAX_CACHE", STORAGE_DIR / "cache" / "jax")


def imports_dir() -> Path:
    """Real tenants' data, one folder per tenant: ``WEATHER_MMM_IMPORTS`` or ``storage/imports``."""
    return env_path("WEATHER_MMM_IMPORTS", STORAGE_DIR / "imports")


def plan_constraints_path() -> Path:
    """Tenants' standing planning constraints (``weather_mmm.allocation.standing``):
    ``WEATHER_MMM_PLAN_CONSTRAINTS`` or ``storage/plan_constraints.yaml`` (no file: none)."""
    return env_path("WEATHER_MMM_PLAN_CONSTRAINTS", STORAGE_DIR / "plan_constraints.yaml")


def priors_path() -> Path:
    """ROAS priors stated by tenants' teams (``weather_mmm.models.priors``): ``WEATHER_MMM_PRIORS`` or
    ``storage/mmm_priors.yaml`` (no file: the default prior for every channel)."""
    return env_path("WEATHER_MMM_PRIORS", STORAGE_DIR / "mmm_priors.yaml")


def calendar_end() -> dt.date:
    """Last calendar day: ``WEATHER_MMM_CALENDAR_END`` (ISO date) when set; otherwise 2024-12-31, or, when
    later, the newest day with real weather in the seeds folder (``WEATHER_MMM_WEATHER_SEEDS``) or, with
    ``WEATHER_MMM_WEATHER_SOURCE=api``, the Open-Meteo archive's newest complete day, so the calendar grows
    as new days of weather arrive.

    Raises:
        ValueError: the variable is set but is not an ISO date on or after 2023-01-01.
        WeatherInputError: a seed file cannot be read (names it).
    """
    raw = os.environ.get("WEATHER_MMM_CALENDAR_END")
    if not raw and os.environ.get("WEATHER_MMM_WEATHER_SOURCE") == "api":
        from weather_mmm.weather.open_meteo import ArchiveClient

        return max(DEFAULT_CALENDAR_END, ArchiveClient.latest_complete_day())
    if not raw:
        seeds = os.environ.get("WEATHER_MMM_WEATHER_SEEDS")
        if not seeds:
            return DEFAULT_CALENDAR_END
        from weather_mmm.weather.cities import load_cities
        from weather_mmm.weather.watch import newest_observed_day

        newest = newest_observed_day(env_path("WEATHER_MMM_WEATHER_SEEDS", Path(seeds)), set(load_cities()))
        return max(DEFAULT_CALENDAR_END, newest or DEFAULT_CALENDAR_END)
    try:
        end = dt.date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"WEATHER_MMM_CALENDAR_END={raw!r} is not an ISO date (YYYY-MM-DD)") from None
    if end < CALENDAR_START:
        raise ValueError(f"WEATHER_MMM_CALENDAR_END={raw} is before the calendar start {CALENDAR_START}")
    return end


def reports_dir() -> Path:
    """HTML reports (static pages): ``WEATHER_MMM_REPORTS`` or ``storage/reports``."""
    return env_path("WEATHER_MMM_REPORTS", STORAGE_DIR / "reports")


def models_dir() -> Path:
    """Model store (one artifact per fit): ``WEATHER_MMM_MODELS`` or ``storage/models``."""
    return env_path("WEATHER_MMM_MODELS", STORAGE_DIR / "models")
