"""Where real weather comes from: a seeds folder, the Open-Meteo archive API, or neither.

Modes (the ``WEATHER_MMM_WEATHER_SOURCE`` setting):

* ``seeds``: files in the seeds folder (``WEATHER_MMM_WEATHER_SEEDS``); an error if it is missing.
* ``api``: the Open-Meteo archive API, cached; an HTTP error or timeout is an error.
* ``auto`` (default): seeds if the folder has files, else the API; if that fails too, the climatology
  generator alone, with a loud warning and every value flagged ``filled``.
* ``climatology``: the generator alone (offline demos); also flagged ``filled``.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from weather_mmm import settings
from weather_mmm.errors import WeatherInputError, WeatherSourceUnavailable
from weather_mmm.weather.cities import City, load_cities
from weather_mmm.weather.climatology import load_climatology
from weather_mmm.weather.daily import DEFAULT_SEED, SERIES_ORIGIN, build_weather_daily
from weather_mmm.weather.open_meteo import ArchiveClient
from weather_mmm.weather.seeds import WeatherRecord, read_seed_folder

log = logging.getLogger(__name__)
MODES = ("auto", "seeds", "api", "climatology")
NO_REAL_SOURCE_WARNING = (
    "NO REAL WEATHER SOURCE: every weather value below comes from the climatology generator and is "
    "flagged 'filled'. Set WEATHER_MMM_WEATHER_SEEDS to a folder of real files or allow the Open-Meteo API."
)


@dataclass
class LoadedRecords:
    """Real records per city, what was used, and warnings to show the user."""

    records: dict[str, WeatherRecord]
    mode: str
    labels: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _has_seed_files(folder: Path | None) -> bool:
    return folder is not None and folder.is_dir() and (any(folder.glob("*.json")) or any(folder.glob("*.csv")))


def uses_api(mode: str, seeds_dir: Path | None) -> bool:
    """Whether ``mode`` reads the Open-Meteo API (``api``, or ``auto`` without seed files)."""
    return mode == "api" or (mode == "auto" and not _has_seed_files(seeds_dir))


def _from_api(cities: list[City], first: dt.date, end: dt.date, client: ArchiveClient) -> LoadedRecords:
    last = min(end, client.latest_complete_day())
    records, labels = {}, {}
    for city in cities:
        chunks = []
        for year in range(first.year, last.year + 1):
            chunks.append(client.fetch(city, max(first, dt.date(year, 1, 1)), min(last, dt.date(year, 12, 31))))
        record = chunks[0]
        for chunk in chunks[1:]:
            record = record.merge(chunk)
        records[city.city] = record
        labels[city.city] = "open-meteo archive"
    return LoadedRecords(records, "api", labels)


def load_records(
    mode: str,
    cities: list[City],
    first: dt.date,
    end: dt.date,
    seeds_dir: Path | None = None,
    client: ArchiveClient | None = None,
) -> LoadedRecords:
    """Real daily records for ``cities`` covering ``first``..``end`` where the source has them.

    Raises:
        WeatherInputError: unknown mode; ``seeds`` mode with a missing or empty folder; a bad seed file.
        WeatherSourceUnavailable: ``api`` mode and the API failed.
    """
    if mode not in MODES:
        raise WeatherInputError(f"WEATHER_MMM_WEATHER_SOURCE={mode!r}: expected one of {', '.join(MODES)}")
    names = {c.city for c in cities}
    if mode == "climatology":
        return LoadedRecords({}, mode, warnings=[NO_REAL_SOURCE_WARNING])
    if not uses_api(mode, seeds_dir):
        if seeds_dir is None:
            raise WeatherInputError("weather source 'seeds' needs WEATHER_MMM_WEATHER_SEEDS (a folder)")
        records = {c: r for c, r in read_seed_folder(seeds_dir, names).items() if c in names}
        labels = {c: f"seeds:{Path(r.source).name}" for c, r in records.items()}
        warnings = [f"no real record for {c}: its weather is generated from climatology normals"
                    for c in sorted(names - set(records))]
        return LoadedRecords(records, "seeds", labels, warnings)
    client = client or ArchiveClient()
    try:
        return _from_api(cities, first, end, client)
    except (WeatherSourceUnavailable, WeatherInputError) as exc:
        if mode == "api":
            raise
        log.warning("Open-Meteo archive unreachable: %s", exc)
        return LoadedRecords({}, "climatology", warnings=[f"Open-Meteo archive unreachable ({exc})", NO_REAL_SOURCE_WARNING])


@dataclass
class WeatherLoad:
    """The ``weather_daily`` rows for a date range, with what the source said."""

    frame: pl.DataFrame
    mode: str
    warnings: list[str]


def load_weather_daily(
    start: dt.date,
    end: dt.date,
    mode: str = "auto",
    seeds_dir: Path | None = None,
    cache_dir: Path | None = None,
    calendar_end: dt.date | None = None,
    seed: int = DEFAULT_SEED,
    client: ArchiveClient | None = None,
) -> WeatherLoad:
    """Weather for every configured city from ``start`` to ``end`` (inclusive), ready for the warehouse.

    Raises:
        WeatherInputError: a date after the calendar's end (it names the date), bad seeds or settings.
        WeatherSourceUnavailable: the API failed in ``api`` mode.
    """
    calendar_end = calendar_end or settings.calendar_end()
    if end > calendar_end:
        raise WeatherInputError(
            f"no weather for {end}: the calendar ends {calendar_end} (WEATHER_MMM_CALENDAR_END); "
            "days are added as weather for them arrives"
        )
    cities = list(load_cities().values())
    client = client or ArchiveClient(cache_dir=cache_dir)
    loaded = load_records(mode, cities, SERIES_ORIGIN, end, seeds_dir, client)
    frame = build_weather_daily(cities, loaded.records, load_climatology(), start, end, seed, loaded.labels)
    return WeatherLoad(frame, loaded.mode, loaded.warnings)
