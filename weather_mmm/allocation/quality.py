"""Checks of budget allocations: constraints respected exactly, and (simulated tenants) value on the truth.

Bars (issue 6): evaluated with the true response functions on the weather that actually happened, the
recommended plan earns at least as much as the current allocation for every tenant; summed over the tenants
whose truly optimal plan (same constraints) would gain at least 2 %, it reaches at least 90 % of that uplift.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from weather_mmm.allocation.optimize import TOLERANCE_USD
from weather_mmm.simulation.catalog import get_profile
from weather_mmm.simulation.oracle import oracle_scales
from weather_mmm.simulation.plans import TruePlans
from weather_mmm.weather.quality import CheckOutcome

OPTIMAL_GAIN_BAR, CAPTURE_BAR = 0.02, 0.90


def constraints_respected(plans: pl.DataFrame, summary: pl.DataFrame) -> CheckOutcome:
    """Per tenant: every channel-day inside its stored daily bounds; the plan's total equal to the budget (within
    1e-3 USD), or at most the budget where it is a cap (``budget_cap``: with a target ROAS or a margin); its
    expected incremental revenue at least ``target_roas`` times its spend, where one was asked for. ``plans``:
    budget_allocation rows; ``summary``: allocation_summary rows (a warehouse written before ``budget_cap`` and
    ``target_roas`` counts every budget as an amount to spend)."""
    bounds = summary.filter(pl.col("channel") != "all").select("tenant", "channel", "min_daily", "max_daily")
    rows = plans.join(bounds, on=["tenant", "channel"], how="left")
    misses = []
    for r in rows.filter((pl.col("recommended_spend") < pl.col("min_daily") - TOLERANCE_USD)
                         | (pl.col("recommended_spend") > pl.col("max_daily") + TOLERANCE_USD)
                         | pl.col("min_daily").is_null()).head(5).iter_rows(named=True):
        misses.append(f"{r['tenant']} {r['channel']} {r['date']}: {r['recommended_spend']:.2f} outside "
                      f"{r['min_daily']}..{r['max_daily']}")
    totals = plans.group_by("tenant").agg(spent=pl.col("recommended_spend").sum()).join(
        summary.filter(pl.col("channel") == "all").select(
            "tenant", "budget", "revenue_mean",
            *[pl.col(c) if c in summary.columns else pl.lit(None).alias(c) for c in ("budget_cap", "target_roas")]),
        on="tenant")
    for t, spent, budget, revenue, cap, target in totals.iter_rows():
        over = spent - budget if budget is not None else 0.0
        if over > TOLERANCE_USD * 1000 or (not cap and over < -TOLERANCE_USD * 1000):  # 1e-3 USD over ~100 cells
            misses.append(f"{t}: spends {spent:.4f} USD against a budget{' cap' if cap else ''} of {budget:.4f}")
        if target is not None and revenue < target * spent * (1 - 1e-6):
            misses.append(f"{t}: earns {revenue / spent:.4f} USD per USD spent against a target ROAS of {target}")
    return CheckOutcome(not misses, f"constraints respected for {totals.height} tenant(s)" if not misses
                        else "constraints broken: " + "; ".join(misses), {"tenants": totals.height})


def _captured(gaining: pl.DataFrame, plan: str) -> float:
    possible = float((gaining["optimal"] - gaining["current"]).sum())
    return float((gaining[plan] - gaining["current"]).sum()) / possible if possible > 0 else 1.0


def truth_outcome(rows: pl.DataFrame) -> CheckOutcome:
    """``rows``: tenant, current, recommended, optimal and optionally oracle (true incremental revenue in USD of
    each plan; :func:`true_plan_values`). The oracle's capture of the optimal uplift is reported beside ours."""
    if rows.is_empty():
        return CheckOutcome(True, "no simulated tenant with an allocation: nothing to compare")
    rows = rows.with_columns(optimal_gain=pl.col("optimal") / pl.col("current") - 1,
                             recommended_gain=pl.col("recommended") / pl.col("current") - 1)
    worse = rows.filter(pl.col("recommended") < pl.col("current") - 1e-6 * pl.col("current").abs())
    gaining = rows.filter(pl.col("optimal_gain") >= OPTIMAL_GAIN_BAR)
    captured = _captured(gaining, "recommended")
    oracle = _captured(gaining, "oracle") if "oracle" in rows.columns else None
    losses = [f"{t} ({r - c:+,.0f} USD, {g:+.2%})"
              for t, c, r, g in worse.select("tenant", "current", "recommended", "recommended_gain").iter_rows()]
    parts = [
        (worse.is_empty(), f"recommended plan earns at least the current allocation for {rows.height - worse.height} of "
                           f"{rows.height} tenants" + (f"; less for {', '.join(losses)}" if losses else "")),
        (captured >= CAPTURE_BAR, f"captures {captured:.0%} of the truly optimal uplift over the {gaining.height} tenant(s) "
                                  f"where it exceeds 2% (bar 90%"
                                  + (f"; an oracle that knows every true curve, planning at the same risk aversion: "
                                     f"{oracle:.0%}" if oracle is not None else "") + ")"),
    ]
    return CheckOutcome(all(p for p, _ in parts), "; ".join(("" if p else "MISS ") + text for p, text in parts), {
        "captured_share": round(captured, 3),
        "oracle_captured_share": round(oracle, 3) if oracle is not None else None,
        "per_tenant": {t: {"current": round(c), "recommended": round(r), "optimal": round(o), "recommended_gain": round(rg, 4),
                           "optimal_gain": round(og, 4)}
                       for t, c, r, o, og, rg in rows.select("tenant", "current", "recommended", "optimal", "optimal_gain",
                                                             "recommended_gain").iter_rows()}})


def true_plan_values(plans: pl.DataFrame, summary: pl.DataFrame, weather: pl.DataFrame, climatology: dict,
                     oracle_risk_aversion: float | None = None) -> pl.DataFrame:
    """For each tenant in ``plans`` (budget_allocation rows of simulated tenants), the true incremental revenue
    (USD) of its current, recommended and truly optimal plan (same bounds and budget), on the weather that
    happened (``weather_daily`` rows up to the calendar's end). Columns: tenant, current, recommended, optimal;
    with ``oracle_risk_aversion``, also oracle: the plan of an oracle that knows every true curve up to one
    scale per channel (:mod:`weather_mmm.simulation.oracle`), chosen at that risk aversion as the allocator
    chooses (about 1-2 s a tenant)."""
    end, rows = weather["date"].max(), []
    for tenant in sorted(plans["tenant"].unique()):
        p = plans.filter(pl.col("tenant") == tenant)
        profile = get_profile(tenant)
        channels = [c.channel for c in profile.channels]

        def grid(column: str) -> np.ndarray:
            return p.pivot(on="channel", index="date", values=column).sort("date").select(channels).to_numpy()

        s = summary.filter(pl.col("tenant") == tenant)
        bounds = np.array([s.filter(pl.col("channel") == c).select("min_daily", "max_daily").row(0) for c in channels])
        truth = TruePlans(profile, weather, climatology, end, sorted(p["date"].unique().to_list()))
        current, recommended = grid("current_spend"), grid("recommended_spend")
        budget, start = float(recommended.sum()), current * recommended.sum() / current.sum()
        row = {"tenant": tenant, "current": truth.incremental(current), "recommended": truth.incremental(recommended),
               "optimal": truth.incremental(truth.optimal(bounds, budget, start))}
        if oracle_risk_aversion is not None:
            scales = oracle_scales(profile, weather, climatology, end)
            row["oracle"] = truth.incremental(scales.plan(truth, bounds, budget, start, current, oracle_risk_aversion))
        rows.append(row)
    columns = ["tenant", "current", "recommended", "optimal"] + (["oracle"] if oracle_risk_aversion is not None else [])
    return pl.DataFrame(rows, schema={c: pl.Utf8 if c == "tenant" else pl.Float64 for c in columns})
