"""Open-Meteo clients with HTTP stubbed by the real seed files: caching, retries, errors."""

import datetime as dt
import json

import pytest
import requests
import responses

from weather_mmm.errors import WeatherInputError, WeatherSourceUnavailable
from weather_mmm.weather.cities import get_city
from weather_mmm.weather.open_meteo import ARCHIVE_URL, FORECAST_URL, ArchiveClient, ForecastClient, make_session

START, END = dt.date(2016, 1, 1), dt.date(2017, 12, 31)


@pytest.fixture
def chicago_body(open_meteo_dir):
    return (open_meteo_dir / "chicago.json").read_text()


def _client(tmp_path, retries=2):
    return ArchiveClient(cache_dir=tmp_path / "cache", session=make_session(retries=retries, backoff_factor=0), timeout=5)


@responses.activate
def test_archive_fetch_parses_and_caches_the_response_in_the_api_shape(tmp_path, chicago_body):
    responses.get(ARCHIVE_URL, body=chicago_body, content_type="application/json")
    client = _client(tmp_path)
    record = client.fetch(get_city("chicago"), START, END)
    assert record.frame.height == 731
    assert record.frame["temperature_2m_max"][0] == pytest.approx(-0.6)
    sent = responses.calls[0].request
    assert "start_date=2016-01-01" in sent.url and "temperature_2m_mean" in sent.url and "latitude=41.9786" in sent.url
    cached = client.cache_path(get_city("chicago"), START, END)
    assert json.loads(cached.read_text())["daily"]["time"][0] == "2016-01-01"
    again = client.fetch(get_city("chicago"), START, END)  # served from the cache: no second call
    assert len(responses.calls) == 1
    assert again.frame.equals(record.frame)


@responses.activate
def test_archive_retries_on_429_and_503_then_succeeds(tmp_path, chicago_body):
    responses.get(ARCHIVE_URL, status=429, json={"error": True, "reason": "rate limited"})
    responses.get(ARCHIVE_URL, status=503)
    responses.get(ARCHIVE_URL, body=chicago_body, content_type="application/json")
    record = _client(tmp_path, retries=3).fetch(get_city("chicago"), START, END)
    assert record.frame.height == 731
    assert len(responses.calls) == 3


@responses.activate
def test_archive_gives_up_with_the_url_and_status(tmp_path):
    responses.get(ARCHIVE_URL, status=500, json={"error": True, "reason": "boom"})
    with pytest.raises(WeatherSourceUnavailable, match=r"archive-api\.open-meteo\.com/v1/archive\?latitude=.*: HTTP 500"):
        _client(tmp_path, retries=1).fetch(get_city("chicago"), START, END)
    assert not (tmp_path / "cache").exists()  # nothing cached from a failure


@responses.activate
def test_archive_400_reports_the_api_reason(tmp_path):
    responses.get(ARCHIVE_URL, status=400, json={"error": True, "reason": "Parameter 'start_date' is out of allowed range"})
    with pytest.raises(WeatherSourceUnavailable, match="HTTP 400 Parameter 'start_date' is out of allowed range"):
        _client(tmp_path).fetch(get_city("chicago"), START, END)


@responses.activate
def test_archive_timeout_is_reported_with_the_url(tmp_path):
    responses.get(ARCHIVE_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(WeatherSourceUnavailable, match=r"v1/archive\?.*: timed out after 5 s"):
        _client(tmp_path, retries=0).fetch(get_city("chicago"), START, END)


@responses.activate
def test_archive_answer_in_the_wrong_shape_is_an_input_error(tmp_path):
    responses.get(ARCHIVE_URL, json={"daily": {"temperature_2m_max": [1.0]}})
    with pytest.raises(WeatherInputError, match="no 'time' array"):
        _client(tmp_path).fetch(get_city("chicago"), START, END)


@responses.activate
def test_forecast_client_asks_for_days_and_parses(open_meteo_dir):
    doc = json.loads((open_meteo_dir / "seattle.json").read_text())
    doc["daily"] = {k: v[:7] for k, v in doc["daily"].items()}
    responses.get(FORECAST_URL, json=doc)
    record = ForecastClient(session=make_session(retries=0)).fetch(get_city("seattle"), days=7)
    assert record.frame.height == 7
    assert "forecast_days=7" in responses.calls[0].request.url
    with pytest.raises(ValueError, match="1..16"):
        ForecastClient().fetch(get_city("seattle"), days=30)


@responses.activate
def test_api_forecast_gives_the_planning_frame_and_names_what_is_missing(open_meteo_dir):
    from weather_mmm.weather.forecast import ForecastInputError, api_forecast

    # Phoenix's last 8 real days, served as the forecast API would (today first, then 7 days ahead)
    doc = json.loads((open_meteo_dir / "phoenix.json").read_text())
    doc["daily"] = {k: v[-8:] for k, v in doc["daily"].items()}
    responses.get(FORECAST_URL, json=doc)
    frame = api_forecast([get_city("phoenix")], 7, ForecastClient(session=make_session(retries=0)))
    assert "forecast_days=8" in responses.calls[0].request.url
    assert frame["date"].to_list() == [dt.date.fromisoformat(d) for d in doc["daily"]["time"][1:]]
    assert frame["lead_days"].to_list() == list(range(1, 8))
    assert frame["temperature_2m_mean"].to_list() == doc["daily"]["temperature_2m_mean"][1:]
    assert (frame["hdd"] - (18 - frame["temperature_2m_mean"]).clip(lower_bound=0)).abs().max() < 1e-9
    # sales stored up to yesterday (they lag a day): the plan's week starts today, issued yesterday
    today = dt.date.fromisoformat(doc["daily"]["time"][0])
    for last, first in ((today - dt.timedelta(days=1), today), (today, today + dt.timedelta(days=1)),
                        (today + dt.timedelta(days=3), today + dt.timedelta(days=1))):
        frame = api_forecast([get_city("phoenix")], 7, ForecastClient(session=make_session(retries=0)), after=last)
        assert frame["date"].min() == first and frame.height == 7 and frame["lead_days"].to_list() == list(range(1, 8))
    stale = api_forecast([get_city("phoenix")], 7, ForecastClient(session=make_session(retries=0)),
                         after=today - dt.timedelta(days=5))  # issued yesterday: the plan refuses it (test_allocation)
    assert stale["date"].min() == today
    # Chicago's record has no snowfall: the forecast is refused, naming city and variable
    chicago = json.loads((open_meteo_dir / "chicago.json").read_text())
    chicago["daily"] = {k: v[-8:] for k, v in chicago["daily"].items()}
    responses.replace(responses.GET, FORECAST_URL, json=chicago)
    with pytest.raises(ForecastInputError, match="forecast for chicago .*: no snowfall_sum"):
        api_forecast([get_city("chicago")], 7, ForecastClient(session=make_session(retries=0)))
