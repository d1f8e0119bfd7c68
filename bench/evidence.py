"""Benchmark: the causal evidence for weather, the MMM's weather effects through the same designs, and the truth.

Run after ``./dev main`` (it reads that run's warehouse and model store): ``.venv/bin/python bench/evidence.py``
(about 15 s). Per tenant-signal the evidence found (q < 0.05), as a relative change of revenue per unit of the
signal: the evidence's estimate with its 90 % interval (``weather_evidence``), the effect the tenant's usable MMM
fit implies through the same design (``causal.model_outcome``: the check ``mmm_weather_agrees_with_evidence``)
and the effect the design gives on the simulation's true log weather multiplier (``causal.true_outcome``: the
check ``weather_evidence_recovers_the_truth``). Then how far each is from the truth.

``--placebo N [--tenants a,b]``: instead, the size of the shock DiD's tests on placebo shocks: each city's
shock flags shifted circularly by its own random 30 days to a year less 30 days, so that they fall on days
unrelated to its revenue; N tests a tenant (every shock with enough days counts as one), and the share found at
p < 0.01, 0.05 and 0.10, which a test of the right size keeps near 1, 5 and 10 % (about 20 s for 2,000 tests
of a two-city tenant).
"""

import argparse
import sys
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from resources.warehouse import tenant_forecasts, tenant_tables  # noqa: E402
from weather_mmm import causal  # noqa: E402
from weather_mmm.models import mmm, store  # noqa: E402
from weather_mmm.reports import read_sql  # noqa: E402
from weather_mmm.settings import warehouse_path  # noqa: E402


def placebo(tenants: list[str], tests: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    with duckdb.connect(str(warehouse_path()), read_only=True) as conn:
        for tenant in tenants:
            tables = tenant_tables(conn, tenant)
            panel = causal.geo_panel(tables["sales"], tables["spend"], tables["weather"], tables["channels"])
            by_geo = panel.partition_by("geo")
            p = []
            while len(p) < tests:
                shifted = []
                for part in by_geo:
                    k = int(rng.integers(30, part.height - 30))
                    shifted.append(part.with_columns(pl.col(s).shift(k).fill_null(pl.col(s).shift(k - part.height))
                                                     for s in causal.SHOCKS))
                shifted = pl.concat(shifted)
                p += [r["p_value"] for s in causal.SHOCKS if (r := causal.shock_did(shifted, s))]
            p = np.array(p[:tests])
            print(f"{tenant} ({len(by_geo)} geos): {tests} placebo tests found at p < 0.01 / 0.05 / 0.10 in "
                  f"{np.mean(p < 0.01):.1%} / {np.mean(p < 0.05):.1%} / {np.mean(p < 0.10):.1%}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--placebo", type=int, default=0, help="placebo tests a tenant (0: the comparison instead)")
    parser.add_argument("--tenants", default="voltbox_electronics,learnly_courses,deskmate_office,streamly_media")
    args = parser.parse_args()
    if args.placebo:
        return placebo(args.tenants.split(","), args.placebo)
    rows = []
    with duckdb.connect(str(warehouse_path()), read_only=True) as conn:
        evidence = read_sql(conn, "select * from main.weather_evidence")
        for tenant in sorted(evidence.filter(pl.col("q_value") < causal.Q_FOUND)["tenant"].unique()):
            tables = tenant_tables(conn, tenant)
            panel = causal.geo_panel(tables["sales"], tables["spend"], tables["weather"], tables["channels"],
                                     tenant_forecasts(conn, tenant))
            found = evidence.filter((pl.col("tenant") == tenant) & (pl.col("q_value") < causal.Q_FOUND))
            contributions = read_sql(conn, "select * from main.tenant_true_contributions where tenant = ?", tenant)
            truth = causal.weather_evidence(causal.true_outcome(panel, contributions)).select("design", "signal", truth="effect")
            version = store.usable_version(conn, tenant)
            if version is not None:
                fit = store.load_fit(Path(version["path"]))
                outcome = causal.model_outcome(panel, fit.inputs.dates, fit.inputs.geos, *mmm.geo_weather_draws(fit))
                found = found.join(causal.weather_evidence(outcome).select("design", "signal", mmm="effect"),
                                   on=["design", "signal"], how="left")
            rows.append(found.join(truth, on=["design", "signal"], how="left"))
    table = pl.concat(rows, how="diagonal_relaxed")
    pct = [(100 * pl.col(c).exp() - 100).round(1).alias(c) for c in ("effect", "lo90", "hi90", "mmm", "truth")]
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200, tbl_hide_dataframe_shape=True,
                   tbl_hide_column_data_types=True, tbl_formatting="ASCII_MARKDOWN"):
        print(table.select("tenant", "design", "signal", "unit", *pct, pl.col("q_value").round(4)))
    error = {c: (table[c] - table["truth"]).abs() for c in ("effect", "mmm")}
    covered = table["truth"].is_between(table["lo90"], table["hi90"])
    print(f"{table.height} effects found at q < {causal.Q_FOUND}; the evidence's 90 % interval holds the truth for "
          f"{int(covered.sum())}; median distance to the truth (log points): evidence {np.median(error['effect']):.4f}, "
          f"MMM {np.nanmedian(error['mmm']):.4f}; the MMM is closer for {int((error['mmm'] < error['effect']).sum())}")


if __name__ == "__main__":
    main()
