"""Benchmark: how well ANY model could recover ROAS from the simulated data, given the simulation's noise.

Run: ``WEATHER_MMM_WEATHER_SEEDS=../shared/data/weather/open_meteo .venv/bin/python bench/roas_bound.py``
(about 1 min, no MCMC).

An oracle is told everything the MMM has to learn except four numbers per tenant: each channel's true media
revenue per geo and day (true adstock, Hill saturation and weather amplification, from
``simulation.truth.media_revenue``) and the true baseline-times-weather revenue. It fits only a scale
``theta`` per channel and one for the baseline, by weighted least squares on the MMM's training days
(``validation.time_split``), with weights for noise that grows with the level (two steps: 1 / expected
revenue, then each geo's residual variance). Its ROAS is ``theta`` times the true ROAS, so its relative ROAS
error is ``|theta - 1|``. It is the best unbiased estimate there is; a real model also has to estimate the
curves, the calendar and the weather, and can only do worse, bar luck.

The Bayesian oracle adds the MMM's own prior on ROAS (``mmm.ROAS_PRIOR``, LogNormal(log 2, 0.6)) to the
oracle's likelihood (Normal in theta, on a grid) and estimates ROAS by its posterior mean, as the MMM does.

Printed per tenant-channel: the tenant's noise (the relative residual's standard deviation over its geo-days),
theta with its standard error, the errors of the prior alone (its median, 2), the
oracle and the Bayesian oracle; then the medians over the tenants the ``mmm_recovers_ground_truth`` check
scores (no lift test) and over all, against that check's bar (median error at most 20 % and at most half the
prior's).
"""

import datetime as dt
import os
import sys
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from weather_mmm.models.mmm import ROAS_PRIOR  # noqa: E402
from weather_mmm.models.mmm_quality import ROAS_ERROR_BAR  # noqa: E402
from weather_mmm.models.validation import time_split  # noqa: E402
from weather_mmm.settings import CALENDAR_START, PROJECT_ROOT  # noqa: E402
from weather_mmm.simulation.catalog import build_catalog  # noqa: E402
from weather_mmm.simulation.simulate import demand_process, simulate_tenant  # noqa: E402
from weather_mmm.simulation.truth import media_revenue  # noqa: E402
from weather_mmm.weather.climatology import load_climatology  # noqa: E402
from weather_mmm.weather.sources import load_weather_daily  # noqa: E402

END = dt.date(2024, 12, 31)


def oracle_theta(revenue: np.ndarray, columns: np.ndarray, expected: np.ndarray, geo: np.ndarray) -> tuple:
    """Weighted least squares of revenue [N] on columns [N, K] (USD/day), noise sd proportional to
    ``expected`` [N] with a variance per ``geo`` [N] label; returns (theta [K], standard errors [K], the relative
    residual's standard deviation)."""
    w = 1.0 / expected
    for _ in range(2):
        xw, yw = columns * w[:, None], revenue * w
        theta, *_ = np.linalg.lstsq(xw, yw, rcond=None)
        resid = (revenue - columns @ theta) / expected
        sd = {g: resid[geo == g].std() for g in np.unique(geo)}
        w = 1.0 / (expected * np.array([sd[g] for g in geo]))
    xw = columns * w[:, None]
    cov = np.linalg.inv(xw.T @ xw)  # residuals now have unit variance
    return theta, np.sqrt(np.diag(cov)), float(resid.std())


def posterior_mean_roas(theta: float, se: float, true_roas: float) -> float:
    """Posterior mean ROAS under the MMM's prior on ROAS and the oracle's Normal likelihood for theta."""
    roas = np.exp(np.linspace(np.log(0.02), np.log(50.0), 4000))
    log_post = (-0.5 * ((np.log(roas) - ROAS_PRIOR[0]) / ROAS_PRIOR[1]) ** 2 - np.log(roas)  # log-normal density
                - 0.5 * ((roas / true_roas - theta) / se) ** 2)
    p = np.exp(log_post - log_post.max())
    weights = p * roas  # the grid is uniform in log ROAS
    return float((weights * roas).sum() / weights.sum())


def main() -> None:
    seeds = os.environ.get("WEATHER_MMM_WEATHER_SEEDS", str(PROJECT_ROOT.parent / "shared/data/weather/open_meteo"))
    weather = load_weather_daily(CALENDAR_START, END, mode="seeds", seeds_dir=Path(seeds), calendar_end=END).frame
    clim = load_climatology()
    prior_median = float(np.exp(ROAS_PRIOR[0]))
    rows = []
    for profile in build_catalog():
        sim = simulate_tenant(profile, weather, clim, END)
        dates, T, _, _, per_geo, _ = demand_process(profile, weather, clim, END)
        n = len(dates)
        train = time_split(n).train
        cols, ys, exp, labels = [], [], [], []
        for geo, g in per_geo.items():
            media = [media_revenue(profile, g, ch, np.concatenate([g["spend"][ch.channel], np.zeros(T - n)]))[:n]
                     for ch in profile.channels]
            expected = (sim.contributions.filter(pl.col("geo") == geo).group_by("date").agg(pl.col("revenue").sum())
                        .sort("date")["revenue"].to_numpy())
            cols.append(np.column_stack([expected - sum(media), *media])[train])
            ys.append(sim.sales.filter(pl.col("geo") == geo).sort("date")["revenue"].to_numpy()[train])
            exp.append(expected[train])
            labels += [geo] * len(train)
        theta, se, noise = oracle_theta(np.concatenate(ys), np.vstack(cols), np.concatenate(exp), np.array(labels))
        truth = sim.parameters.filter(pl.col("parameter") == "true_roas")
        true_roas = dict(zip(truth["key"], truth["value"]))
        for j, ch in enumerate(profile.channels, start=1):
            r = true_roas[ch.channel]
            rows.append({"tenant": profile.tenant, "calibrated": sim.experiments.height > 0, "noise": noise,
                         "channel": ch.channel,
                         "true_roas": r, "theta": theta[j], "se": se[j],
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


if __name__ == "__main__":
    main()
