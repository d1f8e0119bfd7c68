"""The weather source setting as a Dagster resource (a thin shell over ``weather_mmm.weather.sources``)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dagster as dg

from weather_mmm import settings
from weather_mmm.weather.daily import DEFAULT_SEED
from weather_mmm.weather.sources import WeatherLoad, load_weather_daily


class WeatherSource(dg.ConfigurableResource):
    """Where real weather comes from.

    Attributes:
        mode: ``auto`` | ``seeds`` | ``api`` | ``climatology`` (see ``weather_mmm.weather.sources``).
        seeds_dir: folder of Open-Meteo JSON / NCEI CSV files, one city per file (``<city>.json``).
        cache_dir: where Open-Meteo responses are cached.
        calendar_end: last calendar day (ISO); later partitions are refused until weather for them arrives.
        seed: random seed of the climatology generator.
    """

    mode: str = "auto"
    seeds_dir: str = ""
    cache_dir: str = ""
    calendar_end: str = ""
    seed: int = DEFAULT_SEED

    @classmethod
    def from_env(cls) -> "WeatherSource":
        """Settings from ``WEATHER_MMM_WEATHER_SOURCE``, ``WEATHER_MMM_WEATHER_SEEDS``, ``WEATHER_MMM_CACHE``,
        ``WEATHER_MMM_CALENDAR_END``."""
        seeds = os.environ.get("WEATHER_MMM_WEATHER_SEEDS", "")
        return cls(
            mode=os.environ.get("WEATHER_MMM_WEATHER_SOURCE", "auto"),
            seeds_dir=str(settings.env_path("WEATHER_MMM_WEATHER_SEEDS", Path(seeds))) if seeds else "",
            cache_dir=str(settings.cache_dir()),
            calendar_end=settings.calendar_end().isoformat(),
        )

    def end_date(self) -> dt.date:
        return dt.date.fromisoformat(self.calendar_end) if self.calendar_end else settings.calendar_end()

    def version(self) -> str | None:
        """Fingerprint of what ``load`` reads: mode, seed files, fitted climatology, calendar end, seed and the
        city list; ``None`` when it reads the Open-Meteo API (only a fetch tells whether the archive changed)."""
        from weather_mmm.versions import fingerprint
        from weather_mmm.weather.climatology import CLIMATOLOGY_FILE
        from weather_mmm.weather.sources import uses_api

        seeds = Path(self.seeds_dir) if self.seeds_dir else None
        if uses_api(self.mode, seeds):
            return None
        return fingerprint(self.mode, seeds or "no seeds", CLIMATOLOGY_FILE, self.end_date().isoformat(), str(self.seed),
                           os.environ.get("WEATHER_MMM_CITIES", "default cities"))

    def load(self, start: dt.date, end: dt.date) -> WeatherLoad:
        return load_weather_daily(
            start,
            end,
            mode=self.mode,
            seeds_dir=Path(self.seeds_dir) if self.seeds_dir else None,
            cache_dir=Path(self.cache_dir) if self.cache_dir else None,
            calendar_end=self.end_date(),
            seed=self.seed,
        )
