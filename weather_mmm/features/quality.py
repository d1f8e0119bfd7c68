"""Leakage checks of the feature tables: the future (rebuild from truncated data) and the target (correlation)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from weather_mmm.features.build import model_matrix, target_correlations
from weather_mmm.weather.quality import CheckOutcome

TARGET_CORRELATION_BAR = 0.99


def sample_days(dates: pl.Series, k: int = 3) -> list[dt.date]:
    """``k`` days spread evenly over ``dates`` (first, middle, last for k = 3), deterministic."""
    days = dates.unique().sort()
    return [days[int(round(i * (len(days) - 1) / max(k - 1, 1)))] for i in range(k)] if len(days) else []


def no_future_data(problems: dict[str, list[str]], checked: int) -> CheckOutcome:
    """Pass when no rebuilt row differs from its stored row (``problems``: tenant -> differences)."""
    lines = [line for tenant in sorted(problems) for line in problems[tenant]]
    return CheckOutcome(not lines, f"{checked} tenant-day(s) rebuilt from data truncated at their day: "
                        + ("all identical" if not lines else f"{len(lines)} difference(s), first: {lines[0]}"),
                        {"rows_checked": checked, "differences": lines[:20]})


def no_target_proxies(features: pl.DataFrame, media: pl.DataFrame) -> CheckOutcome:
    """No feature's |correlation| with revenue exceeds 0.99, per tenant."""
    flagged, top = [], {}
    for tenant in features["tenant"].unique().sort():
        corr = target_correlations(model_matrix(features.filter(pl.col("tenant") == tenant),
                                                media.filter(pl.col("tenant") == tenant)))
        if corr.height:
            top[tenant] = {"feature": corr["feature"][0], "abs_corr": round(corr["abs_corr"][0], 3)}
        flagged += [f"{tenant}.{f} {c:.3f}" for f, c in corr.filter(pl.col("abs_corr") > TARGET_CORRELATION_BAR).iter_rows()]
    return CheckOutcome(not flagged, f"{len(flagged)} feature(s) with |corr| > {TARGET_CORRELATION_BAR} with revenue"
                        + (": " + ", ".join(flagged) if flagged else ""), {"most_correlated": top})
