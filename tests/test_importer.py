"""Importing a real tenant's files: the same tables as the simulation, and every problem named."""

import datetime as dt
import json

import duckdb
import pytest

from weather_mmm.cli import main
from weather_mmm.simulation.importer import (TenantImportError, import_tenant, imported_tenants, read_experiments,
                                             read_forecast_files, read_imported_forecasts, read_tenant_files, tenant_margin)
from weather_mmm.simulation.contract import FORECAST_SCHEMA, SALES_COLUMNS, SPEND_COLUMNS

HEADER = "date,geo,revenue,orders,spend_meta,spend_google,clicks_meta\n"
GOOD = HEADER + "".join(f"2024-01-0{d},seattle,{1000 + d},{20 + d},100.5,80,{30 + d}\n" for d in range(1, 6))


def _write(tmp_path, text, name="acme.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _read(paths):
    return read_tenant_files(paths, "acme", ["meta", "google"], ["seattle", "chicago"])


def test_good_file_becomes_the_simulation_tables(tmp_path):
    sales, spend = _read([_write(tmp_path, GOOD)])
    assert sales.columns == SALES_COLUMNS and spend.columns == SPEND_COLUMNS
    assert sales.height == 5 and spend.height == 10
    assert sales["revenue"].sum() == 5015
    meta = spend.filter(spend["channel"] == "meta")
    assert meta["cpc"][0] == pytest.approx(100.5 / 31, abs=1e-3)
    assert spend.filter(spend["channel"] == "google")["clicks"].null_count() == 5


@pytest.mark.parametrize(
    "text, message",
    [
        (GOOD.replace("1003,23", "lots,23"), r"row 3, column 'revenue': 'lots' is not a number"),
        (GOOD.replace("2024-01-04,seattle,1004,24,100.5", "2024-01-04,seattle,1004,24,-5"), r"row 4, column 'spend_meta': negative value -5"),
        (GOOD.replace("2024-01-03", "2024-01-02"), r"duplicate day 2024-01-02 for geo seattle"),
        (GOOD.replace("2024-01-03,seattle,1003,23,100.5,80,33\n", ""), r"geo seattle has 1 missing day\(s\).*first 2024-01-03"),
        (GOOD.replace("2024-01-02,seattle", "2024-01-02,atlantis"), r"row 2, column 'geo': 'atlantis' is not one of"),
        (GOOD.replace("spend_google", "spend_tiktok"), r"column 'spend_tiktok' is for channel 'tiktok', which tenant acme does not declare"),
        (GOOD.replace("2024-01-05", "05/01/2024"), r"row 5, column 'date': '05/01/2024' is not an ISO date"),
    ],
)
def test_each_problem_names_file_row_and_column(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(TenantImportError, match=message) as err:
        _read([path])
    assert "acme" in str(err.value)


def _spec(tmp_path, channels=("meta", "google"), **extra):
    path = tmp_path / "tenant.json"
    path.write_text(json.dumps({"name": "Acme", "geos": {"seattle": 3, "chicago": 1}, "channels": list(channels), **extra}))
    return path


def test_import_refuses_bad_files_and_keeps_what_was_stored(tmp_path):
    imports = tmp_path / "imports"
    cities = {"seattle", "chicago"}
    spec = import_tenant(imports, "acme", _spec(tmp_path), [_write(tmp_path, GOOD)], cities, set())
    assert spec["geos"] == {"seattle": 0.75, "chicago": 0.25}
    before = sorted(p.name for p in (imports / "acme").iterdir())
    bad = _write(tmp_path, GOOD.replace("1003,23", "lots,23"), "bad.csv")
    with pytest.raises(TenantImportError, match="bad.csv: row 3, column 'revenue'"):
        import_tenant(imports, "acme", _spec(tmp_path), [bad], cities, set())
    assert sorted(p.name for p in (imports / "acme").iterdir()) == before == ["acme.csv", "tenant.json"]
    assert not list(imports.glob(".*"))
    with pytest.raises(TenantImportError, match="is a simulated tenant"):
        import_tenant(imports, "drizzle_rainwear", _spec(tmp_path), [_write(tmp_path, GOOD)], cities, {"drizzle_rainwear"})
    rows = imported_tenants(imports, cities)
    assert [r["tenant"] for r in rows] == ["acme"] and rows[0]["source"] == "imported"


def test_a_declared_contribution_margin_is_checked_and_read(tmp_path):
    imports, cities = tmp_path / "imports", {"seattle", "chicago"}
    assert tenant_margin(imports, "acme") is None
    import_tenant(imports, "acme", _spec(tmp_path, margin=0.42), [_write(tmp_path, GOOD)], cities, set())
    assert tenant_margin(imports, "acme") == 0.42
    with pytest.raises(TenantImportError, match=r"tenant.json: 'margin' is 42; a contribution margin is a number in \(0, 1\]"):
        import_tenant(imports, "acme", _spec(tmp_path, margin=42), [_write(tmp_path, GOOD)], cities, set())
    assert tenant_margin(imports, "acme") == 0.42  # the stored declaration is untouched


def test_declared_lift_tests_are_read_and_a_bad_one_refuses_the_import(tmp_path):
    imports, cities = tmp_path / "imports", {"seattle", "chicago"}
    test = {"channel": "meta", "geo": "seattle", "start": "2024-01-01", "end": "2024-01-04", "spend": 400, "lift": 900, "lift_se": 150}
    import_tenant(imports, "acme", _spec(tmp_path, experiments=[test]), [_write(tmp_path, GOOD)], cities, set())
    tests = read_experiments(imports / "acme" / "tenant.json", "acme")
    assert tests.rows() == [("acme", "meta-seattle-2024-01-01", "meta", "seattle", dt.date(2024, 1, 1), dt.date(2024, 1, 4),
                             400.0, 900.0, 150.0)]
    for bad, message in [({**test, "channel": "tiktok"}, r"experiments\[1\]: channel 'tiktok' is not one of"),
                         ({**test, "end": "2023-12-01"}, r"experiments\[1\]: needs start <= end"),
                         ({k: v for k, v in test.items() if k != "lift_se"}, r"experiments\[1\]: missing key\(s\) lift_se")]:
        with pytest.raises(TenantImportError, match=message):
            import_tenant(imports, "acme", _spec(tmp_path, experiments=[bad]), [_write(tmp_path, GOOD)], cities, set())
    assert read_experiments(imports / "acme" / "tenant.json", "acme").height == 1  # what was stored is untouched


FORECASTS = "date,geo,variable,forecast,lead_days\n" + "".join(
    f"2024-01-0{d},seattle,precipitation,{d * 1.5},2\n" for d in range(1, 6))


@pytest.mark.parametrize(
    "text, message",
    [
        (FORECASTS.replace("2024-01-03,", "3 Jan,"), r"row 3, column 'date': '3 Jan' is not an ISO date"),
        (FORECASTS.replace("seattle,precipitation,3.0", "seattle,fog,3.0"), r"row 2, column 'variable': 'fog' is not one of precipitation"),
        (FORECASTS.replace("2024-01-05,seattle", "2024-01-05,miami"), r"row 5, column 'geo': 'miami' is not one of the tenant's geos"),
        (FORECASTS.replace("precipitation,4.5", "precipitation,wet"), r"row 3, column 'forecast': 'wet' is not a number"),
        (FORECASTS.replace("4.5,2", "4.5,0"), r"row 3, column 'lead_days': a forecast is issued at least 1 day ahead"),
        (FORECASTS.replace("2024-01-02", "2024-01-01"), r"forecasts give precipitation in seattle on 2024-01-01 more than once"),
        (FORECASTS.replace("forecast,", "value,"), r"missing column\(s\) forecast"),
    ],
)
def test_each_problem_of_a_forecast_file_is_named(tmp_path, text, message):
    with pytest.raises(TenantImportError, match=message):
        read_forecast_files([_write(tmp_path, text, "forecasts.csv")], "acme", ["seattle", "chicago"])


def test_imported_forecasts_are_stored_beside_the_data_and_read_as_tenant_forecasts(tmp_path):
    imports, cities = tmp_path / "imports", {"seattle", "chicago"}
    forecasts = _write(tmp_path, FORECASTS, "forecasts.csv")
    import_tenant(imports, "acme", _spec(tmp_path), [_write(tmp_path, GOOD)], cities, set(), [forecasts])
    assert sorted(p.name for p in (imports / "acme").iterdir()) == ["acme.csv", "forecasts", "tenant.json"]
    rows = read_imported_forecasts(imports, "acme", cities)
    assert rows.columns == list(FORECAST_SCHEMA) and rows.height == 5
    assert rows["forecast"].to_list() == [1.5, 3.0, 4.5, 6.0, 7.5] and set(rows["lead_days"]) == {2}
    assert rows["observed"].null_count() == 5  # the simulation's own columns stay empty for an import
    bad = _write(tmp_path, FORECASTS.replace("4.5,2", "4.5,0"), "bad.csv")
    with pytest.raises(TenantImportError, match="bad.csv: row 3, column 'lead_days'"):
        import_tenant(imports, "acme", _spec(tmp_path), [_write(tmp_path, GOOD)], cities, set(), [bad])
    assert read_imported_forecasts(imports, "acme", cities).height == 5  # what was stored is untouched


def test_cli_import_materializes_an_imported_tenant_without_truth(tmp_path, warehouse, open_meteo_dir, monkeypatch, capsys):
    monkeypatch.setenv("WEATHER_MMM_IMPORTS", str(tmp_path / "imports"))
    monkeypatch.setenv("WEATHER_MMM_WEATHER_SEEDS", str(open_meteo_dir))
    data = _write(tmp_path, GOOD)
    assert main(["import", "acme", "--spec", str(_spec(tmp_path)), str(data)]) == 0, capsys.readouterr().err
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        source = conn.execute("select source from tenant_catalog where tenant = 'acme'").fetchone()[0]
        revenue = conn.execute("select sum(revenue) from tenant_sales where tenant = 'acme'").fetchone()[0]
        spend_rows = conn.execute("select count(*) from tenant_spend where tenant = 'acme'").fetchone()[0]
        tables = {r[0] for r in conn.execute("select table_name from information_schema.tables").fetchall()}
    assert source == "imported" and revenue == 5015 and spend_rows == 10
    # Imported tenants have no ground truth: the truth run writes nothing and fails nothing.
    assert "tenant_ground_truth" not in tables
    bad = _write(tmp_path, GOOD.replace("spend_google", "spend_tiktok"), "bad.csv")
    assert main(["import", "acme", "--spec", str(_spec(tmp_path)), str(bad)]) == 2
    assert "spend_tiktok" in capsys.readouterr().err


def test_an_imported_tenants_lift_tests_are_materialized_and_go_stale_when_its_declaration_changes(
        tmp_path, warehouse, open_meteo_dir, monkeypatch, capsys):
    import dagster as dg

    from assets.versions import tenant_data_inputs
    from resources.warehouse import tenant_experiments
    from sensors.jobs import execute, stale_partitions
    from weather_mmm.cli import _instance
    from weather_mmm.definitions import build_definitions

    monkeypatch.setenv("WEATHER_MMM_IMPORTS", str(tmp_path / "imports"))
    monkeypatch.setenv("WEATHER_MMM_WEATHER_SEEDS", str(open_meteo_dir))
    test = {"channel": "meta", "geo": "seattle", "start": "2024-01-01", "end": "2024-01-04", "spend": 400, "lift": 900, "lift_se": 150}
    forecasts = _write(tmp_path, FORECASTS, "forecasts.csv")
    assert main(["import", "acme", "--spec", str(_spec(tmp_path, experiments=[test])), str(_write(tmp_path, GOOD)),
                 "--forecasts", str(forecasts)]) == 0
    defs, instance, key = build_definitions(), _instance(), dg.AssetKey("tenant_experiments")
    truth = [dg.AssetKey(k) for k in ("tenant_ground_truth", "tenant_true_contributions", "tenant_forecasts", "tenant_experiments")]
    result = execute(defs, "tenant_model_job", instance, partition_key="acme", asset_selection=truth)
    assert result.success and not result.get_asset_check_evaluations()  # checks run once, in tenant_checks_job

    def stale():
        with duckdb.connect(str(warehouse), read_only=True) as conn:
            inputs = tenant_data_inputs(conn, "acme", defs.resources["weather_source"].end_date())
            return stale_partitions(defs, instance, [key], ["acme"], inputs), tenant_experiments(conn, "acme")

    up_to_date, tests = stale()
    assert up_to_date == [] and tests["lift"].to_list() == [900.0]
    with duckdb.connect(str(warehouse), read_only=True) as conn:  # the forecasts it planned on, for weather_evidence
        assert conn.execute("select sum(forecast) from tenant_forecasts where tenant = 'acme'").fetchone()[0] == 22.5
    spec = tmp_path / "imports" / "acme" / "tenant.json"
    spec.write_text(json.dumps({**json.loads(spec.read_text()), "experiments": [{**test, "lift": 950}]}))
    assert stale()[0] == ["acme"]  # the model run (sensors.jobs.model_work) refits the MMM with the new readout
