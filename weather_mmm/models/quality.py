"""The product brief's quality bars for baselines, as check outcomes with the figures behind them.

Inputs are the ``baseline_summary`` and ``baseline_importance`` tables (all tenants) and the tenant tiers
from the catalog. "High-sensitivity" means the extreme and high tiers. Each outcome names every tenant
that misses a bar and by how much; no bar is relaxed.
"""

from __future__ import annotations

import polars as pl

from weather_mmm.weather.quality import CheckOutcome

R2_BARS = {"extreme": 0.65, "high": 0.65, "medium": 0.45}
MAPE_BAR = 0.15
NAIVE_IMPROVEMENT = 0.10
CV_R2_STD_BAR = 0.10
WEATHER_TOP_RANK = 3
TIER_ORDER = ("extreme", "high", "medium", "low")


def _best(summary: pl.DataFrame) -> pl.DataFrame:
    return summary.filter(pl.col("best"))


def holdout_r2_by_tier(summary: pl.DataFrame, tiers: dict[str, str]) -> CheckOutcome:
    """Best model's holdout R² ≥ 0.65 for extreme and high tenants, ≥ 0.45 for medium ones."""
    misses, figures = [], {}
    for tenant, r2 in _best(summary).select("tenant", "holdout_r2").sort("tenant").iter_rows():
        bar = R2_BARS.get(tiers.get(tenant, "unknown"))
        figures[tenant] = round(r2, 3)
        if bar is not None and r2 < bar:
            misses.append(f"{tenant} ({tiers[tenant]}) {r2:.3f} < {bar} by {bar - r2:.3f}")
    return CheckOutcome(not misses, f"{len(misses)} tenant(s) under their tier's R² bar" + (": " + "; ".join(misses) if misses else ""),
                        {"holdout_r2": figures})


def mape_and_naive(summary: pl.DataFrame) -> CheckOutcome:
    """Every tenant: best holdout MAPE < 15 % and at least 10 % (relative) below the seasonal naive's."""
    hold = summary.select("tenant", "model", "holdout_mape", "best")
    naive = hold.filter(pl.col("model") == "seasonal_naive").select("tenant", naive=pl.col("holdout_mape"))
    rows = _best(hold).join(naive, on="tenant").sort("tenant")
    misses = []
    for tenant, model, mape, _, naive_mape in rows.iter_rows():
        if mape >= MAPE_BAR:
            misses.append(f"{tenant} MAPE {mape:.1%} ≥ 15% by {mape - MAPE_BAR:.1%}")
        if mape > (1 - NAIVE_IMPROVEMENT) * naive_mape:
            misses.append(f"{tenant} MAPE {mape:.1%} not 10% below naive {naive_mape:.1%}")
    figures = {t: {"mape": round(m, 4), "naive_mape": round(n, 4)} for t, _, m, _, n in rows.iter_rows()}
    return CheckOutcome(not misses, f"{len(misses)} miss(es)" + (": " + "; ".join(misses) if misses else ""), {"mape": figures})


def cv_spread(summary: pl.DataFrame) -> CheckOutcome:
    """Every tenant: standard deviation of the best model's R² over the 5 CV folds < 0.1."""
    rows = _best(summary).select("tenant", "cv_r2_std").sort("tenant")
    misses = [f"{t} {s:.3f} ≥ 0.1 by {s - CV_R2_STD_BAR:.3f}" for t, s in rows.iter_rows() if s >= CV_R2_STD_BAR]
    return CheckOutcome(not misses, f"{len(misses)} tenant(s) with CV R² std ≥ 0.1" + (": " + "; ".join(misses) if misses else ""),
                        {"cv_r2_std": {t: round(s, 3) for t, s in rows.iter_rows()}})


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
