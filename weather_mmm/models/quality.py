"""The product brief's quality bars for baselines, as check outcomes with the figures behind them.

Inputs are the ``baseline_summary`` and ``baseline_importance`` tables (all tenants) and the tenant tiers
from the catalog. "High-sensitivity" means the extreme and high tiers. Each outcome names every tenant
that misses a bar and by how much; no bar is relaxed.

For simulated tenants the outcomes also give the noise ceiling (:func:`noise_ceiling`): the same figure for
the best forecast the truth allows, the best any model can do under the simulation's noise: the true expected
revenue for R² and its spread over the folds, the MAPE-optimal forecast of the true predictive distribution for
MAPE (``simulation.oracle.mape_optimal_forecast``; the expected revenue's own MAPE is higher where the noise is
right-skewed). A miss where the ceiling misses too is one no model could pass in expectation; it still fails.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from weather_mmm.models.validation import metrics, time_split
from weather_mmm.weather.quality import CheckOutcome

R2_BARS = {"extreme": 0.65, "high": 0.65, "medium": 0.45}
MAPE_BAR = 0.15
NAIVE_IMPROVEMENT = 0.10
CV_R2_STD_BAR = 0.10
WEATHER_TOP_RANK = 3
TIER_ORDER = ("extreme", "high", "medium", "low")


def _best(summary: pl.DataFrame) -> pl.DataFrame:
    return summary.filter(pl.col("best"))


def noise_ceiling(predictions: pl.DataFrame, expected: pl.DataFrame) -> pl.DataFrame:
    """The simulation's expected revenue scored as a forecast on each tenant's baseline split.

    Args:
        predictions: ``baseline_predictions`` rows (tenant, date, actual revenue USD), one per modelled day.
        expected: tenant, date, expected (USD/day): the true expected revenue, ``tenant_true_contributions``
            summed per day; optionally mape_point (USD/day), the truth's MAPE-optimal forecast
            (``simulation.oracle.mape_optimal_forecast``), which then scores the MAPE. Tenants without it
            (imported ones) are left out.

    Returns:
        One row per tenant with both: tenant, holdout_r2, holdout_mape, cv_r2_std (the folds and holdout of
        :func:`.validation.time_split` over the tenant's modelled days, as the baselines were scored).
    """
    rows = []
    joined = predictions.select("tenant", "date", "actual").join(expected, on=["tenant", "date"], how="left")
    for (tenant,), t in joined.sort("tenant", "date").group_by("tenant", maintain_order=True):
        if t["expected"].null_count():
            continue
        y, y_hat = t["actual"].to_numpy(), t["expected"].to_numpy()
        y_mape = t["mape_point"].to_numpy() if "mape_point" in t.columns else y_hat
        split = time_split(len(y))
        hold = metrics(y[split.holdout], y_hat[split.holdout])
        rows.append({"tenant": tenant, "holdout_r2": hold["r2"],
                     "holdout_mape": metrics(y[split.holdout], y_mape[split.holdout])["mape"],
                     "cv_r2_std": float(np.std([metrics(y[test], y_hat[test])["r2"] for _, test in split.folds], ddof=1))})
    return pl.DataFrame(rows, schema={"tenant": pl.Utf8, "holdout_r2": pl.Float64, "holdout_mape": pl.Float64,
                                      "cv_r2_std": pl.Float64})


def _ceiling(ceiling: pl.DataFrame | None, column: str) -> dict[str, float]:
    return {} if ceiling is None else dict(ceiling.select("tenant", column).iter_rows())


def _ceiling_text(misses: list[str], unreachable: int) -> str:
    return f" ({unreachable} of them missed by the noise ceiling too)" if misses and unreachable else ""


def holdout_r2_by_tier(summary: pl.DataFrame, tiers: dict[str, str], ceiling: pl.DataFrame | None = None) -> CheckOutcome:
    """Best model's holdout R² ≥ 0.65 for extreme and high tenants, ≥ 0.45 for medium ones; ``ceiling``
    (:func:`noise_ceiling`) adds the noise ceiling's R² to each miss."""
    misses, figures, unreachable, top = [], {}, 0, _ceiling(ceiling, "holdout_r2")
    for tenant, r2 in _best(summary).select("tenant", "holdout_r2").sort("tenant").iter_rows():
        bar = R2_BARS.get(tiers.get(tenant, "unknown"))
        figures[tenant] = round(r2, 3)
        if bar is not None and r2 < bar:
            misses.append(f"{tenant} ({tiers[tenant]}) {r2:.3f} < {bar} by {bar - r2:.3f}"
                          + (f" (noise ceiling {top[tenant]:.3f})" if tenant in top else ""))
            unreachable += top.get(tenant, np.inf) < bar
    return CheckOutcome(not misses, f"{len(misses)} tenant(s) under their tier's R² bar" + _ceiling_text(misses, unreachable)
                        + (": " + "; ".join(misses) if misses else ""),
                        {"holdout_r2": figures, "noise_ceiling_holdout_r2": {t: round(v, 3) for t, v in top.items()}})


def mape_and_naive(summary: pl.DataFrame, ceiling: pl.DataFrame | None = None) -> CheckOutcome:
    """Every tenant: best holdout MAPE < 15 % and at least 10 % (relative) below the seasonal naive's;
    ``ceiling`` (:func:`noise_ceiling`) adds the noise ceiling's MAPE to each MAPE miss."""
    hold = summary.select("tenant", "model", "holdout_mape", "best")
    naive = hold.filter(pl.col("model") == "seasonal_naive").select("tenant", naive=pl.col("holdout_mape"))
    rows = _best(hold).join(naive, on="tenant").sort("tenant")
    misses, unreachable, top = [], 0, _ceiling(ceiling, "holdout_mape")
    for tenant, model, mape, _, naive_mape in rows.iter_rows():
        if mape >= MAPE_BAR:
            misses.append(f"{tenant} MAPE {mape:.1%} ≥ 15% by {mape - MAPE_BAR:.1%}"
                          + (f" (noise ceiling {top[tenant]:.1%})" if tenant in top else ""))
            unreachable += top.get(tenant, 0.0) >= MAPE_BAR
        if mape > (1 - NAIVE_IMPROVEMENT) * naive_mape:
            misses.append(f"{tenant} MAPE {mape:.1%} not 10% below naive {naive_mape:.1%}")
    figures = {t: {"mape": round(m, 4), "naive_mape": round(n, 4)} | ({"noise_ceiling_mape": round(top[t], 4)} if t in top else {})
               for t, _, m, _, n in rows.iter_rows()}
    return CheckOutcome(not misses, f"{len(misses)} miss(es)" + _ceiling_text(misses, unreachable)
                        + (": " + "; ".join(misses) if misses else ""), {"mape": figures})


def cv_spread(summary: pl.DataFrame, ceiling: pl.DataFrame | None = None) -> CheckOutcome:
    """Every tenant: standard deviation of the best model's R² over the 5 CV folds < 0.1; ``ceiling``
    (:func:`noise_ceiling`) adds the noise ceiling's own spread to each miss."""
    rows = _best(summary).select("tenant", "cv_r2_std").sort("tenant")
    top = _ceiling(ceiling, "cv_r2_std")
    misses = [f"{t} {s:.3f} ≥ 0.1 by {s - CV_R2_STD_BAR:.3f}" + (f" (noise ceiling {top[t]:.3f})" if t in top else "")
              for t, s in rows.iter_rows() if s >= CV_R2_STD_BAR]
    unreachable = sum(top.get(t, 0.0) >= CV_R2_STD_BAR for t, s in rows.iter_rows() if s >= CV_R2_STD_BAR)
    return CheckOutcome(not misses, f"{len(misses)} tenant(s) with CV R² std ≥ 0.1" + _ceiling_text(misses, unreachable)
                        + (": " + "; ".join(misses) if misses else ""),
                        {"cv_r2_std": {t: round(s, 3) for t, s in rows.iter_rows()},
                         "noise_ceiling_cv_r2_std": {t: round(v, 3) for t, v in top.items()}})


def weather_importance(summary: pl.DataFrame, importance: pl.DataFrame, tiers: dict[str, str]) -> CheckOutcome:
    """Weather ranks in the top 3 feature groups for every extreme and high tenant, and the mean weather-only
    holdout R² falls strictly from tier to tier (extreme > high > medium > low)."""
    ranks = dict(importance.filter(pl.col("group") == "weather").select("tenant", "rank").iter_rows())
    misses = [f"{t} ({tiers[t]}) weather rank {ranks.get(t)}" for t in sorted(ranks)
              if tiers.get(t) in ("extreme", "high") and ranks[t] > WEATHER_TOP_RANK]
    wo = (summary.filter(pl.col("model") == "weather_only").select("tenant", "holdout_r2")
          .with_columns(tier=pl.col("tenant").replace_strict(tiers, default="unknown"))
          .filter(pl.col("tier").is_in(TIER_ORDER)).group_by("tier").agg(pl.col("holdout_r2").mean()))
    means = dict(wo.iter_rows())
    present = [t for t in TIER_ORDER if t in means]
    ordered = all(means[a] > means[b] for a, b in zip(present, present[1:]))
    text = " > ".join(f"{t} {means[t]:.3f}" for t in present)
    summary_text = (f"weather in the top {WEATHER_TOP_RANK} groups for {sum(1 for t in ranks if tiers.get(t) in ('extreme', 'high')) - len(misses)}"
                    f" of {sum(1 for t in ranks if tiers.get(t) in ('extreme', 'high'))} high-sensitivity tenants"
                    + (f" (misses: {'; '.join(misses)})" if misses else "")
                    + f"; weather-only R² by tier {'ordered' if ordered else 'NOT ordered'}: {text}")
    return CheckOutcome(not misses and ordered, summary_text,
                        {"weather_rank": ranks, "weather_only_r2_by_tier": {t: round(means[t], 3) for t in present}})
