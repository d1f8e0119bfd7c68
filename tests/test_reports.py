"""The main job's closing tables (``weather_mmm/reports.py``), from warehouse tables written here."""

import subprocess
import sys

import duckdb
import polars as pl
import pytest

from weather_mmm.errors import WeatherMMMError
from weather_mmm.reports import open_warehouse, portfolio_summary


def _plan(tenant: str, moves: dict[str, float], **all_row) -> list[dict]:
    """allocation_summary rows: per channel current and recommended spend (USD), then the ``all`` row."""
    rows = [{"tenant": tenant, "channel": c, "current_spend": 100.0, "recommended_spend": 100.0 * (1 + m)}
            for c, m in moves.items()]
    return rows + [{"tenant": tenant, "channel": "all", "current_spend": 300.0, "recommended_spend": 300.0,
                    "lift_mean": 12.0, "lift_lo90": 1.0, "lift_hi90": 30.0, **all_row}]


def _warehouse(plans: list[dict]) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    tenants = sorted({p["tenant"] for p in plans})
    frames = {
        "tenant_catalog": pl.DataFrame({"tenant": tenants, "tier": "high"}),
        "mmm_diagnostics": pl.DataFrame({"tenant": tenants, "holdout_r2": 0.7, "status": "usable"}),
        "mmm_effects": pl.DataFrame({"tenant": tenants, "kind": "roas", "key": "meta", "mean": 2.0, "lo90": 1.0,
                                     "hi90": 3.0}),
        "allocation_summary": pl.DataFrame(plans, infer_schema_length=None),
    }
    for name, frame in frames.items():
        conn.register("frame", frame.to_arrow())
        conn.execute(f"create table main.{name} as select * from frame")
    return conn


def test_the_budget_change_says_when_the_risk_adjusted_plan_was_taken_and_which_constraints_were_set():
    moves = {"email": 0.3, "google": -0.2, "meta": -0.1}
    conn = _warehouse(_plan("acme", moves, plan_choice="mean", risk_aversion=1.2816)
                      + _plan("brio", moves, plan_choice="risk-adjusted", risk_aversion=1.2816)
                      + _plan("cato", dict.fromkeys(moves, 0.0), plan_choice="risk-adjusted", risk_aversion=1.2816)
                      + _plan("dune", dict.fromkeys(moves, 0.001), plan_choice="mean", risk_aversion=1.2816)
                      + _plan("eris", moves, plan_choice="mean", risk_aversion=1.2816,
                              constraints='{"budget_usd": 8000.0, "max_daily_usd": {"meta": 400.0}}'))
    change = dict(portfolio_summary(conn).select("tenant", "budget_change").iter_rows())
    assert change == {"eris": "email +30%, google -20%, meta -10%; under set budget_usd, max_daily_usd",
                      "acme": "email +30%, google -20%, meta -10%",
                      "brio": "email +30%, google -20%, meta -10% (risk-adjusted)",
                      "cato": "keep the current allocation (the best plan is less than 90% sure to gain)",
                      "dune": "keep the current allocation"}


def test_the_lift_is_in_whole_usd_and_a_kept_allocation_reads_plus_zero():
    conn = _warehouse(_plan("acme", {"meta": 0.0}, lift_mean=0.0, lift_lo90=-0.4, lift_hi90=0.3)
                      + _plan("brio", {"meta": 0.1}, lift_mean=2548.4, lift_lo90=-441.2, lift_hi90=13272.5))
    lift = dict(portfolio_summary(conn).select("tenant", "lift_usd").iter_rows())
    assert lift == {"acme": "+0 [+0, +0]", "brio": "+2,548 [-441, +13,272]"}


def test_a_warehouse_written_before_plan_choice_still_summarises():
    conn = _warehouse(_plan("acme", {"email": 0.3, "meta": -0.3}))
    row = portfolio_summary(conn).row(0, named=True)
    assert row["budget_change"] == "email +30%, meta -30%" and row["lift_usd"] == "+12 [+1, +30]"


def test_a_reader_waits_for_a_writer_in_another_process_then_names_the_lock(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("create table main.t as select 42 as x")
    hold = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('locked', flush=True); time.sleep(float(sys.argv[2]))"
    writer = subprocess.Popen([sys.executable, "-c", hold, str(path), "1.5"], stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "locked"
    told = []
    with open_warehouse(path, wait_seconds=30, on_wait=told.append) as conn:  # waits out the writer's 1.5 s
        assert conn.execute("select x from main.t").fetchone() == (42,)
    assert len(told) == 1 and told[0].startswith(f"waiting up to 30 s for the warehouse {path}: ")
    writer.wait()
    writer = subprocess.Popen([sys.executable, "-c", hold, str(path), "30"], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "locked"
        with pytest.raises(WeatherMMMError, match=rf"cannot read the warehouse {path}: .*lock.*PID {writer.pid}"):
            open_warehouse(path, wait_seconds=0.5)
    finally:
        writer.kill()
        writer.wait()
