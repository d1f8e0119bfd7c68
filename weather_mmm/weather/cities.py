"""Reference cities: coordinates, station and the climate normals used where a city has no real record.

The list lives in ``storage/seeds/cities.json`` (committed). More cities are added by configuration:
point ``WEATHER_MMM_CITIES`` at a JSON file of the same shape; its cities are added to (or replace, by
``city`` key) the reference ones.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from weather_mmm.errors import WeatherInputError
from weather_mmm.settings import SEEDS_DIR

CITIES_FILE = SEEDS_DIR / "cities.json"
NORMAL_KEYS = ("tmax_c", "tmin_c", "precip_mm", "wet_days", "snow_cm", "rh_pct", "wind_kmh")


@dataclass(frozen=True)
class City:
    """One city a tenant can sell in.

    Attributes:
        city: key used in every table (lower case, e.g. ``"phoenix"``).
        latitude, longitude: degrees of the reference station; elevation in m.
        coastal: used for the Hargreaves radiation coefficient (0.19 coastal, 0.16 interior).
        normals: monthly normals, each a list of 12 values Jan..Dec (see ``cities.json`` for sources).
    """

    city: str
    name: str
    latitude: float
    longitude: float
    elevation: float
    timezone: str
    coastal: bool = False
    station: str = ""
    normals: dict[str, list[float]] = field(default_factory=dict, hash=False, compare=False)


def _parse(entry: dict, source: Path) -> City:
    try:
        normals = {k: [float(v) for v in vals] for k, vals in entry.get("normals", {}).items()}
        city = City(
            city=str(entry["city"]).lower(),
            name=entry.get("name", entry["city"]),
            latitude=float(entry["latitude"]),
            longitude=float(entry["longitude"]),
            elevation=float(entry.get("elevation", 0.0)),
            timezone=entry.get("timezone", "UTC"),
            coastal=bool(entry.get("coastal", False)),
            station=entry.get("station", ""),
            normals=normals,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise WeatherInputError(f"{source}: city entry {entry!r} is invalid ({exc!r})") from None
    for key, vals in normals.items():
        if len(vals) != 12:
            raise WeatherInputError(f"{source}: normals {key!r} of {city.city} must have 12 monthly values, has {len(vals)}")
    return city


def load_cities(path: Path | None = None) -> dict[str, City]:
    """Cities keyed by ``city``: the reference list plus those in ``WEATHER_MMM_CITIES``.

    Raises:
        WeatherInputError: a file is not JSON or an entry lacks ``city``, ``latitude`` or ``longitude``.
    """
    files = [path or CITIES_FILE]
    extra = os.environ.get("WEATHER_MMM_CITIES")
    if extra and path is None:
        files.append(Path(extra))
    cities: dict[str, City] = {}
    for file in files:
        try:
            doc = json.loads(Path(file).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise WeatherInputError(f"{file}: cannot read city list ({exc})") from None
        for entry in doc.get("cities", []):
            city = _parse(entry, Path(file))
            cities[city.city] = city
    return cities


def get_city(name: str, cities: dict[str, City] | None = None) -> City:
    """The city called ``name`` (case-insensitive).

    Raises:
        WeatherInputError: no such city; the message lists the known ones.
    """
    cities = cities if cities is not None else load_cities()
    try:
        return cities[name.lower()]
    except KeyError:
        raise WeatherInputError(f"unknown city {name!r}; known cities: {', '.join(sorted(cities))}") from None
