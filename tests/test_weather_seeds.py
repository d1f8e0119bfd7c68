"""Seed readers on the real files, and every kind of bad input named clearly."""

import json

import polars as pl
import pytest

from tests.conftest import NCEI_CSV
from weather_mmm.errors import WeatherInputError
from weather_mmm.weather.cities import load_cities
from weather_mmm.weather.seeds import read_ncei_csv, read_open_meteo_json, read_seed_folder


def test_reads_every_real_open_meteo_file_with_its_own_subset_of_variables(open_meteo_dir):
    records = read_seed_folder(open_meteo_dir, set(load_cities()))
    assert sorted(records) == ["chicago", "denver", "miami", "phoenix", "seattle"]
    assert records["miami"].variables == ["temperature_2m_mean"]
    assert records["miami"].frame.height == 7037
    assert records["miami"].frame["temperature_2m_mean"].null_count() == 23
    assert "wind_speed_10m_mean" in records["seattle"].variables
    assert records["chicago"].frame["precipitation_sum"].null_count() == 119
    phoenix = records["phoenix"].frame
    assert phoenix["temperature_2m_mean"].null_count() == 1204
    july = phoenix.filter(pl.col("date").dt.month() == 7)["temperature_2m_max"].mean()
    assert 38 < july < 44  # Phoenix July highs, °C


def test_ncei_csv_converts_fahrenheit_and_inches_and_agrees_with_the_json_of_the_same_station(open_meteo_dir):
    csv = read_ncei_csv(NCEI_CSV)
    assert csv.city == "phoenix"
    first = csv.frame.row(0, named=True)
    assert str(first["date"]) == "1933-06-01"
    assert first["temperature_2m_max"] == pytest.approx((97 - 32) * 5 / 9, abs=0.01)
    assert first["temperature_2m_mean"] is None  # empty cell -> missing
    js = read_open_meteo_json(open_meteo_dir / "phoenix.json").frame
    both = js.join(csv.frame, on="date", suffix="_csv")
    assert both.height > 5000
    diff = (both["temperature_2m_max"] - both["temperature_2m_max_csv"]).abs().max()
    assert diff < 0.1
    rain = (both["precipitation_sum"] - both["precipitation_sum_csv"]).abs().max()
    assert rain < 0.2


def test_merge_prefers_json_and_fills_from_csv(open_meteo_dir):
    merged = read_open_meteo_json(open_meteo_dir / "phoenix.json").merge(read_ncei_csv(NCEI_CSV))
    assert str(merged.frame["date"].max()) == "2025-12-13"
    assert merged.frame.filter(pl.col("date").dt.year() == 2025)["temperature_2m_max"].null_count() < 10


def _doc(**daily):
    return {"daily_units": {"time": "iso8601", "temperature_2m_max": "°C"}, "daily": daily}


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"daily": {"time": ["2024-01-01"], "temperature_2m_max": [1.0', "truncated JSON"),
        ("<html>502 Bad Gateway</html>", "not valid JSON"),
        (json.dumps({"latitude": 1}), "no 'daily' block"),
        (json.dumps(_doc(temperature_2m_max=[1.0])), "no 'time' array"),
        (json.dumps(_doc(time=["2024-01-01", "2024-01-02"], temperature_2m_max=[1.0])), "has 1 values but daily.time has 2"),
        (json.dumps(_doc(time=["2024-01-01", "2024-01-01"], temperature_2m_max=[1.0, 2.0])), "duplicate date 2024-01-01"),
        (json.dumps(_doc(time=["2024-01-02", "2024-01-01"], temperature_2m_max=[1.0, 2.0])), "not sorted: 2024-01-01 comes after 2024-01-02"),
        (json.dumps({"daily_units": {"temperature_2m_max": "K"}, "daily": {"time": ["2024-01-01"], "temperature_2m_max": [270.0]}}), "unknown unit 'K' for temperature_2m_max"),
        (json.dumps(_doc(time=["2024-01-01"], temperature_2m_max=["warm"])), "is not a number"),
        (json.dumps(_doc(time=["01/02/2024"], temperature_2m_max=[1.0])), "is not an ISO date"),
    ],
)
def test_bad_json_seed_names_file_and_problem(tmp_path, content, message):
    path = tmp_path / "phoenix.json"
    path.write_text(content)
    with pytest.raises(WeatherInputError) as err:
        read_open_meteo_json(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_unknown_city_in_seed_folder_is_refused(seeds_copy):
    (seeds_copy / "atlantis.json").write_text((seeds_copy / "miami.json").read_text())
    with pytest.raises(WeatherInputError, match=r"atlantis\.json: unknown city 'atlantis'; known cities: chicago"):
        read_seed_folder(seeds_copy, set(load_cities()))


def test_bad_ncei_csv_names_line_and_column(tmp_path):
    path = tmp_path / "phoenix_bad.csv"
    path.write_text('"STATION"\nDate,TMAX (Degrees Fahrenheit),PRCP (Inches)\n2024-01-01,70,0\n2024-01-02,hot,0\n')
    with pytest.raises(WeatherInputError, match=r"line 4, column 'TMAX \(Degrees Fahrenheit\)': 'hot' is not a number"):
        read_ncei_csv(path)
    path.write_text("Date,TMAX (Kelvin)\n2024-01-01,290\n")
    with pytest.raises(WeatherInputError, match="unknown unit 'Kelvin'"):
        read_ncei_csv(path)
