"""Benchmark: what an oracle that knows every true curve reaches on the simulated data, against the bars of
``mmm_recovers_the_truth`` (ROAS error) and ``allocation_beats_current_in_truth`` (capture).

Run: ``WEATHER_MMM_WEATHER_SEEDS=../shared/data/weather/open_meteo .venv/bin/python bench/oracle.py``
(about 5 s; about 30 s more for the plans when ``storage/`` holds a main job's allocations, whose horizons,
bounds and budgets it reuses).

The oracle (``weather_mmm.simulation.oracle``) knows every true curve and fits only one scale ``theta`` per
channel and one for the baseline, so its ROAS error ``|theta - 1|`` is the simulation's noise's doing alone.
The Bayesian oracle adds the MMM's prior on ROAS (``priors.DEFAULT_ROAS_PRIOR``) to the oracle's likelihood (Normal in
theta, on a grid) and reports the posterior mean, as the MMM does.

Its plans (``allocation.quality.true_plan_values`` with ``oracle_risk_aversion``, as the check
``allocation_beats_current_in_truth`` makes them at the allocator's risk aversion): the true curves scaled by the
oracle's thetas, optimised within the stored plan's bounds and budget on the mean lift (risk aversion 0) and as
the allocator chooses at ``optimize.DEFAULT_RISK_AVERSION`` (the mean plan if its lift is that many standard
deviations, from the thetas' covariance, above zero; else the mean minus that many), then valued on the truth.
"""

import datetime as dt
import os
import sys
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from weather_mmm.allocation import quality  # noqa: E402
from weather_mmm.allocation.optimize import DEFAULT_RISK_AVERSION  # noqa: E402
from weather_mmm.models.mmm_quality import ROAS_ERROR_BAR  # noqa: E402
from weather_mmm.models.priors import DEFAULT_ROAS_PRIOR  # noqa: E402
from weather_mmm.settings import CALENDAR_START, PROJECT_ROOT, warehouse_path  # noqa: E402
from weather_mmm.simulation.catalog import build_catalog  # noqa: E402
from weather_mmm.simulation.oracle import oracle_scales  # noqa: E402
from weather_mmm.simulation.simulate import simulate_tenant  # noqa: E402
from weather_mmm.weather.climatology import load_climatology  # noqa: E402
from weather_mmm.weather.sources import load_weather_daily  # noqa: E402

END = dt.date(2024, 12, 31)


def posterior_mean_roas(theta: float, se: float, true_roas: float) -> float:
    """Posterior mean ROAS under the MMM's prior on ROAS and the oracle's Normal likelihood for theta."""
    roas = np.exp(np.linspace(np.log(0.02), np.log(50.0), 4000))
    log_post = (-0.5 * ((np.log(roas) - DEFAULT_ROAS_PRIOR[0]) / DEFAULT_ROAS_PRIOR[1]) ** 2 - np.log(roas)  # log-normal density
                - 0.5 * ((roas / true_roas - theta) / se) ** 2)
    weights = np.exp(log_post - log_post.max()) * roas  # the grid is uniform in log ROAS
    return float((weights * roas).sum() / weights.sum())


def main() -> None:
    seeds = os.environ.get("WEATHER_MMM_WEATHER_SEEDS", str(PROJECT_ROOT.parent / "shared/data/weather/open_meteo"))
    weather = load_weather_daily(CALENDAR_START, END, mode="seeds", seeds_dir=Path(seeds), calendar_end=END).frame
    clim = load_climatology()
    prior_median = float(np.exp(DEFAULT_ROAS_PRIOR[0]))
    stored = None
    if warehouse_path().exists():
        with duckdb.connect(str(warehouse_path()), read_only=True) as conn:
            if conn.execute("select count(*) from information_schema.tables where table_name = 'budget_allocation'").fetchone()[0]:
                stored = tuple(pl.from_arrow(conn.execute(f"select * from main.{t}").to_arrow_table())
                               for t in ("budget_allocation", "allocation_summary"))
    rows = []
    for profile in build_catalog():
        scales = oracle_scales(profile, weather, clim, END)
        sim = simulate_tenant(profile, weather, clim, END)
        theta, se = scales.theta, np.sqrt(np.diag(scales.cov))
        truth = sim.parameters.filter(pl.col("parameter") == "true_roas")
        true_roas = dict(zip(truth["key"], truth["value"]))
        for j, ch in enumerate(profile.channels):
            r = true_roas[ch.channel]
            rows.append({"tenant": profile.tenant, "calibrated": sim.experiments.height > 0, "noise": scales.noise,
                         "channel": ch.channel, "true_roas": r, "theta": theta[j], "se": se[j],
                         "prior_error": abs(prior_median / r - 1), "oracle_error": abs(theta[j] - 1),
                         "bayes_oracle_error": abs(posterior_mean_roas(theta[j], se[j], r) / r - 1)})
    table = pl.DataFrame(rows)
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200, tbl_hide_dataframe_shape=True,
                   tbl_hide_column_data_types=True, tbl_formatting="ASCII_MARKDOWN", float_precision=3):
        print(table)
    for label, part in (("tenants the check scores (no lift test)", table.filter(~pl.col("calibrated"))), ("all", table)):
        med = {c: float(part[c].median()) for c in ("prior_error", "oracle_error", "bayes_oracle_error", "se")}
        print(f"{label}, {part.height} tenant-channels: median relative SE of the oracle {med['se']:.0%}; "
              f"median ROAS error: prior alone {med['prior_error']:.0%}, oracle {med['oracle_error']:.0%}, "
              f"Bayesian oracle {med['bayes_oracle_error']:.0%}; the check's bar "
              f"{min(ROAS_ERROR_BAR, med['prior_error'] / 2):.1%} (20 % and half the prior's)")
    if stored is None:
        return
    plans = stored[0].filter(pl.col("tenant").is_in(table["tenant"].implode()))
    for risk in (0.0, DEFAULT_RISK_AVERSION):
        values = quality.true_plan_values(plans, stored[1], weather, clim, oracle_risk_aversion=risk)
        losers = values.filter(pl.col("oracle") < pl.col("current") - 1e-6 * pl.col("current").abs())["tenant"].to_list()
        outcome = quality.truth_outcome(values)
        print(f"oracle plans at risk aversion {risk}: {values.height - len(losers)} of {values.height} earn at least the "
              f"current allocation{' (not ' + ', '.join(losers) + ')' if losers else ''}; captured share of the optimal "
              f"uplift {outcome.metadata['oracle_captured_share']:.3f} (the stored plans: {outcome.metadata['captured_share']:.3f})")


if __name__ == "__main__":
    main()
