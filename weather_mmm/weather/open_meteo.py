"""Clients for Open-Meteo's historical (archive) and forecast APIs.

Both ask for the canonical daily variables (:data:`~weather_mmm.weather.variables.API_DAILY_VARIABLES`),
retry with exponential backoff on HTTP 429 and 5xx (urllib3 ``Retry``, honouring ``Retry-After``), time
out, and parse the answer with the same reader as the seed files. The archive client caches each
response, as the API returned it, in a JSON file under the cache folder, so a second run is offline.

API documentation: https://open-meteo.com/en/docs/historical-weather-api and https://open-meteo.com/en/docs
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from weather_mmm.errors import WeatherInputError, WeatherSourceUnavailable
from weather_mmm.weather.cities import City
from weather_mmm.weather.seeds import WeatherRecord, parse_open_meteo
from weather_mmm.weather.variables import API_DAILY_VARIABLES

ARCHIVE_URL = "https://archive-api.open-meteo.com/v1/archive"
FORECAST_URL = "https://api.open-meteo.com/v1/forecast"
#: The archive lags real time by a few days (ERA5T); a day is "complete" once it is this old.
ARCHIVE_DELAY_DAYS = 5


def make_session(retries: int = 4, backoff_factor: float = 1.0) -> requests.Session:
    """A ``requests`` session that retries GETs on 429/500/502/503/504 with exponential backoff."""
    retry = Retry(
        total=retries,
        backoff_factor=backoff_factor,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = requests.Session()
    session.mount("https://", HTTPAdapter(max_retries=retry))
    session.mount("http://", HTTPAdapter(max_retries=retry))
    return session


class _Client:
    url: str

    def __init__(self, session: requests.Session | None = None, timeout: float = 30.0):
        self.session = session or make_session()
        self.timeout = timeout

    def _get(self, params: dict) -> tuple[dict, str]:
        request = requests.Request("GET", self.url, params=params).prepare()
        where = request.url
        try:
            response = self.session.get(self.url, params=params, timeout=self.timeout)
        except requests.Timeout:
            raise WeatherSourceUnavailable(f"{where}: timed out after {self.timeout:.0f} s") from None
        except requests.RequestException as exc:
            raise WeatherSourceUnavailable(f"{where}: request failed ({exc.__class__.__name__}: {exc})") from None
        if response.status_code != 200:
            reason = ""
            try:
                reason = response.json().get("reason", "")
            except ValueError:
                pass
            raise WeatherSourceUnavailable(f"{where}: HTTP {response.status_code} {reason}".rstrip())
        try:
            return response.json(), where
        except ValueError:
            raise WeatherInputError(f"{where}: the answer is not JSON") from None


class ArchiveClient(_Client):
    """Observed daily weather from the Open-Meteo archive API, cached on disk.

    Args:
        cache_dir: folder for cached responses (one JSON file per request, in the API's own shape);
            ``None`` disables the cache.
        session: a ``requests`` session (tests pass one whose HTTP is stubbed).
        timeout: seconds per request.
    """

    url = ARCHIVE_URL

    def __init__(self, cache_dir: Path | None = None, session: requests.Session | None = None, timeout: float = 30.0):
        super().__init__(session, timeout)
        self.cache_dir = Path(cache_dir) if cache_dir else None

    def params(self, city: City, start: dt.date, end: dt.date) -> dict:
        return {
            "latitude": city.latitude,
            "longitude": city.longitude,
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "daily": ",".join(API_DAILY_VARIABLES),
            "timezone": city.timezone,
        }

    def cache_path(self, city: City, start: dt.date, end: dt.date) -> Path | None:
        if self.cache_dir is None:
            return None
        key = hashlib.sha256(json.dumps(self.params(city, start, end), sort_keys=True).encode()).hexdigest()[:12]
        return self.cache_dir / f"{city.city}_{start}_{end}_{key}.json"

    def fetch(self, city: City, start: dt.date, end: dt.date) -> WeatherRecord:
        """Daily weather for ``city`` from ``start`` to ``end`` inclusive.

        Raises:
            WeatherSourceUnavailable: HTTP error, retries exhausted or timeout (names the URL).
            WeatherInputError: the answer is not in Open-Meteo's daily shape (names the URL).
        """
        cached = self.cache_path(city, start, end)
        if cached is not None and cached.exists():
            return parse_open_meteo(json.loads(cached.read_text()), str(cached), city.city)
        doc, where = self._get(self.params(city, start, end))
        record = parse_open_meteo(doc, where, city.city)  # validate before caching
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp")
            tmp.write_text(json.dumps(doc))
            tmp.replace(cached)
        return record

    @staticmethod
    def latest_complete_day(today: dt.date | None = None) -> dt.date:
        """The newest day the archive is expected to hold in full."""
        return (today or dt.date.today()) - dt.timedelta(days=ARCHIVE_DELAY_DAYS)


class ForecastClient(_Client):
    """Daily weather forecast from the Open-Meteo forecast API (not cached: forecasts change hourly)."""

    url = FORECAST_URL

    def fetch(self, city: City, days: int = 7) -> WeatherRecord:
        """Forecast for ``city`` for the next ``days`` days (1..16), starting today in the city's time zone.

        Raises:
            ValueError: ``days`` outside 1..16 (the API's limit).
            WeatherSourceUnavailable, WeatherInputError: as for :meth:`ArchiveClient.fetch`.
        """
        if not 1 <= days <= 16:
            raise ValueError(f"forecast days must be 1..16, got {days}")
        params = {
            "latitude": city.latitude,
            "longitude": city.longitude,
            "daily": ",".join(API_DAILY_VARIABLES),
            "forecast_days": days,
            "timezone": city.timezone,
        }
        doc, where = self._get(params)
        return parse_open_meteo(doc, where, city.city)
