"""Watching the weather seeds folder: what changed since the last look, and who is affected.

A folder snapshot maps each seed file (``<city>.json`` or ``.csv``) to its SHA-256 and the SHA-256 of each
year of its daily records, so a change is located to the years it touched without keeping the old file.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from pathlib import Path

import polars as pl

from weather_mmm.weather.seeds import city_of_file, read_seed_folder

SEED_SUFFIXES = (".json", ".csv")


def snapshot(folder: Path, cities: set[str]) -> dict[str, dict]:
    """city -> {"sha": SHA-256 of the city's seed files, "years": {year: SHA-256 of that year's merged rows},
    "last_day": ISO date} for every city with seed files in ``folder`` (read as the weather source reads them).

    Raises:
        WeatherInputError: the seed reader's error, naming the file at fault.
    """
    records = read_seed_folder(folder, cities)
    out = {}
    for city, record in records.items():
        files = sorted(p for p in Path(folder).iterdir() if p.suffix in SEED_SUFFIXES and city_of_file(p) == city)
        sha = hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()
        frame = record.frame.sort("date")
        years = {str(y): hashlib.sha256(part.write_csv().encode()).hexdigest()[:16]
                 for (y,), part in frame.group_by(pl.col("date").dt.year(), maintain_order=True)}
        out[city] = {"sha": sha, "years": years, "last_day": frame["date"].max().isoformat()}
    return out


def newest_observed_day(folder: Path, cities: set[str]) -> dt.date | None:
    """The newest day with an observed value in any seed file of ``folder`` (``None`` without seed files).
    Read once per state of the files (names, sizes, modification times).

    Raises:
        WeatherInputError: the seed reader's error, naming the file at fault.
    """
    files = sorted(p for p in Path(folder).iterdir() if p.suffix in SEED_SUFFIXES) if Path(folder).is_dir() else []
    if not files:
        return None
    return _newest(tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files), str(folder), frozenset(cities))


@functools.lru_cache(maxsize=16)
def _newest(_files: tuple, folder: str, cities: frozenset[str]) -> dt.date | None:
    days = [r.frame.filter(pl.any_horizontal(pl.exclude("date").is_not_null()))["date"].max()
            for r in read_seed_folder(folder, set(cities)).values()]
    return max((d for d in days if d is not None), default=None)


def changes(old: dict[str, dict], new: dict[str, dict], first: dt.date, last: dt.date) -> tuple[list[str], dt.date | None]:
    """(changed cities, first calendar day to refresh) between two snapshots, within ``first``..``last``.

    A new city or a changed year refreshes from the first changed year (not before ``first``); an
    unchanged file changes nothing. Returns ([], None) when nothing changed.
    """
    cities, start = [], None
    for city, snap in new.items():
        before = old.get(city)
        if before and before["sha"] == snap["sha"]:
            continue
        years = sorted(int(y) for y, h in snap["years"].items() if not before or before["years"].get(y) != h)
        years += [int(y) for y in (before or {}).get("years", {}) if y not in snap["years"]]  # removed years
        from_day = max(first, dt.date(min(years), 1, 1)) if years else first
        if from_day <= last:
            cities.append(city)
            start = from_day if start is None else min(start, from_day)
    return sorted(cities), start


def affected_tenants(catalog: pl.DataFrame, cities: list[str]) -> list[str]:
    """Tenants of ``catalog`` (``tenant_catalog`` rows: tenant, geos as JSON) selling in any of ``cities``."""
    return sorted(t for t, geos in catalog.select("tenant", "geos").iter_rows() if set(json.loads(geos)) & set(cities))
