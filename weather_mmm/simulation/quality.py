"""Checks of the simulated (or imported) tenant tables, as plain functions over Polars frames.

Each returns a :class:`~weather_mmm.weather.quality.CheckOutcome` with figures for the metadata.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from weather_mmm.simulation.contract import SALES_COLUMNS, SPEND_COLUMNS
from weather_mmm.weather.quality import CheckOutcome

TIER_ORDER = ("extreme", "high", "medium", "low")
CHANNEL_SHARE_RANGES = {"meta": (0.40, 0.50), "google": (0.30, 0.40), "email": (0.10, 0.20)}
SHARE_TOLERANCE = 0.07  # "near" the brief's ranges


def schema(sales: pl.DataFrame, spend: pl.DataFrame) -> CheckOutcome:
    """Both tables have exactly the contract's columns, in order."""
    problems = []
    if sales.columns != SALES_COLUMNS:
        problems.append(f"tenant_sales columns {sales.columns} != {SALES_COLUMNS}")
    if spend.columns != SPEND_COLUMNS:
        problems.append(f"tenant_spend columns {spend.columns} != {SPEND_COLUMNS}")
    return CheckOutcome(not problems, "; ".join(problems) or "both tables match the contract")


def missing_and_duplicates(sales: pl.DataFrame, spend: pl.DataFrame) -> CheckOutcome:
    """Missing values under 5 % per column and no duplicated tenant-date-geo(-channel) rows."""
    worst = max((sales[c].null_count() / max(sales.height, 1), f"tenant_sales.{c}") for c in sales.columns)
    worst_sp = max((spend[c].null_count() / max(spend.height, 1), f"tenant_spend.{c}") for c in ("date", "tenant", "geo", "channel", "spend"))
    dup_sales = sales.select(pl.struct("tenant", "date", "geo").is_duplicated().sum()).item()
    dup_spend = spend.select(pl.struct("tenant", "date", "geo", "channel").is_duplicated().sum()).item()
    meta = {"max_missing_share": round(max(worst[0], worst_sp[0]), 4), "duplicate_sales_rows": dup_sales,
            "duplicate_spend_rows": dup_spend}
    ok = worst[0] < 0.05 and worst_sp[0] < 0.05 and dup_sales == 0 and dup_spend == 0
    return CheckOutcome(ok, f"worst missing {max(worst, worst_sp)[1]} {max(worst[0], worst_sp[0]):.1%}; "
                            f"duplicates {dup_sales} sales, {dup_spend} spend", meta)


def robust_outliers(sales: pl.DataFrame, limit: float = 0.02) -> CheckOutcome:
    """Share of tenant-days whose revenue is more than 5 robust SDs (MAD) from its 28-day rolling median."""
    daily = sales.group_by("tenant", "date").agg(pl.col("revenue").sum()).sort("tenant", "date")
    daily = daily.with_columns(
        med=pl.col("revenue").rolling_median(28, center=True, min_samples=7).over("tenant"))
    daily = daily.with_columns(dev=(pl.col("revenue") - pl.col("med")).abs())
    daily = daily.with_columns(mad=pl.col("dev").median().over("tenant") * 1.4826)
    share = daily.select((pl.col("dev") > 5 * pl.col("mad")).mean()).item() or 0.0
    return CheckOutcome(share < limit, f"robust outliers {share:.2%} of tenant-days (limit {limit:.0%})",
                        {"outlier_share": round(share, 4)})


def spend_within_profile(spend: pl.DataFrame, profiles: dict) -> CheckOutcome:
    """Non-zero daily spend inside each channel's [min, max] per geo; channel shares near 40-50/30-40/10-20 %."""
    problems, shares_meta = [], {}
    for tenant, frame in spend.group_by("tenant"):
        tenant = tenant[0]
        prof = profiles[tenant]
        for ch in prof.channels:
            s = frame.filter((pl.col("channel") == ch.channel) & (pl.col("spend") > 0))["spend"]
            if len(s) and (s.min() < ch.min_daily - 1e-6 or s.max() > ch.max_daily + 1e-6):
                problems.append(f"{tenant} {ch.channel} spend {s.min():.0f}..{s.max():.0f} outside {ch.min_daily:.0f}..{ch.max_daily:.0f}")
        totals = frame.group_by("channel").agg(pl.col("spend").sum())
        total = totals["spend"].sum()
        shares = {c: v / total for c, v in totals.iter_rows()}
        shares_meta[tenant] = {c: round(v, 3) for c, v in shares.items()}
        for c, (lo, hi) in CHANNEL_SHARE_RANGES.items():
            if c in shares and not (lo - SHARE_TOLERANCE <= shares[c] <= hi + SHARE_TOLERANCE):
                problems.append(f"{tenant} {c} share {shares[c]:.0%} not near {lo:.0%}-{hi:.0%}")
    return CheckOutcome(not problems, "; ".join(problems[:5]) or "spend inside every profile", {"channel_shares": shares_meta})


def roas_distribution(parameters: pl.DataFrame) -> CheckOutcome:
    """Most true ROAS in 1.5-4.0 (at least 60 %), and some below 1 and some above 5, as the brief asks."""
    roas = parameters.filter(pl.col("parameter") == "true_roas")["value"]
    if roas.is_empty():
        return CheckOutcome(True, "no ground truth (imported tenants only)")
    inside = float(((roas >= 1.5) & (roas <= 4.0)).mean())
    below, above = int((roas < 1).sum()), int((roas > 5).sum())
    ok = inside >= 0.6 and below >= 1 and above >= 1
    return CheckOutcome(ok, f"{inside:.0%} of {len(roas)} tenant-channels in 1.5-4.0; {below} below 1, {above} above 5",
                        {"share_in_1_5_to_4": round(inside, 3), "below_1": below, "above_5": above,
                         "min": round(roas.min(), 3), "max": round(roas.max(), 3)})


def behaviour_features(sales: pl.DataFrame, weather: pl.DataFrame, geos: dict[str, dict[str, float]]) -> pl.DataFrame:
    """Per tenant: order size (units per order), repeat rate, weekend share, yearly shape and weather correlation.

    The weather correlation is the multiple correlation of de-seasonalised log revenue (the residual of
    a trend, two yearly harmonics and weekday dummies) on the tenant's geo-weighted weather (temperature
    anomaly, precipitation, snowfall; same day and 7-day means), by least squares, adjusted for the number of regressors (so pure noise scores near 0).
    """
    rows = []
    for (tenant,), frame in sales.group_by("tenant"):
        daily = frame.group_by("date").agg(pl.col("revenue", "orders", "orders_returning", "units").sum()).sort("date")
        w = weather.filter(pl.col("city").is_in(list(geos[tenant])))
        w = w.with_columns(weight=pl.col("city").replace_strict(geos[tenant], return_dtype=pl.Float64))
        wx = w.group_by("date").agg(
            [(pl.col(c) * pl.col("weight")).sum().alias(c) for c in ("temp_anomaly", "precipitation_sum", "snowfall_sum")]
        ).sort("date")
        d = daily.join(wx, on="date").sort("date")
        y = np.log(d["revenue"].to_numpy())
        t = np.arange(d.height)
        doy = d["date"].dt.ordinal_day().to_numpy()
        dow = d["date"].dt.weekday().to_numpy()
        season = np.column_stack([np.ones(d.height), t / 365.25]
                                 + [f(2 * np.pi * k * doy / 365.25) for k in (1, 2) for f in (np.cos, np.sin)]
                                 + [(dow == k).astype(float) for k in range(1, 7)])
        resid = y - season @ np.linalg.lstsq(season, y, rcond=None)[0]
        cols = [d[c].rolling_mean(k, min_samples=1).to_numpy() for c in ("temp_anomaly", "precipitation_sum", "snowfall_sum")
                for k in (1, 7)]
        x = np.column_stack([np.ones(d.height)] + [c for c in cols if np.std(c) > 0])
        fitted = x @ np.linalg.lstsq(x, resid, rcond=None)[0]
        r2 = float(np.corrcoef(resid, fitted)[0, 1]) ** 2 if np.std(fitted) > 0 else 0.0
        n_obs, p = x.shape
        multiple_r = float(np.sqrt(max(1 - (1 - r2) * (n_obs - 1) / (n_obs - p), 0.0)))  # adjusted for p regressors
        monthly = daily.group_by(pl.col("date").dt.month()).agg(pl.col("revenue").mean())["revenue"]
        weekend = daily.filter(pl.col("date").dt.weekday() >= 6)["revenue"].mean() / daily["revenue"].mean()
        rows.append({
            "tenant": tenant,
            "order_size": daily["units"].sum() / daily["orders"].sum(),
            "repeat_rate": daily["orders_returning"].sum() / daily["orders"].sum(),
            "weekend_index": float(weekend),
            "yearly_shape": float(np.log(monthly.max() / monthly.min())),
            "weather_correlation": multiple_r,
        })
    return pl.DataFrame(rows).sort("tenant")


def weather_correlation_by_tier(features: pl.DataFrame, tiers: dict[str, str]) -> CheckOutcome:
    """Mean realised revenue-weather correlation strictly rises with the sensitivity tier."""
    by_tier = (features.with_columns(tier=pl.col("tenant").replace_strict(tiers))
               .group_by("tier").agg(pl.col("weather_correlation").mean()))
    means = dict(by_tier.iter_rows())
    present = [t for t in TIER_ORDER if t in means]
    ordered = all(means[a] > means[b] for a, b in zip(present, present[1:]))
    text = ", ".join(f"{t} {means[t]:.2f}" for t in present)
    return CheckOutcome(ordered, f"mean |corr| by tier: {text}", {f"corr_{t}": round(means[t], 3) for t in present})


def behaviour_clusters(features: pl.DataFrame, tiers: dict[str, str], bar: float = 0.4) -> CheckOutcome:
    """Tenants' standardised behaviour features cluster by tier with a silhouette score of at least ``bar``."""
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import StandardScaler

    labels = [tiers[t] for t in features["tenant"]]
    if len(set(labels)) < 2:
        return CheckOutcome(True, "fewer than two tiers: silhouette undefined")
    x = StandardScaler().fit_transform(features.drop("tenant").to_numpy())
    score = float(silhouette_score(x, labels))
    return CheckOutcome(score >= bar, f"silhouette by tier {score:.3f} (bar {bar})", {"silhouette": round(score, 3)})
