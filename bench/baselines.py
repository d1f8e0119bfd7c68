"""Benchmark: baselines on every simulated tenant (730 days of real weather), the per-tenant table and the bars.

Run: ``WEATHER_MMM_WEATHER_SEEDS=../shared/data/weather/open_meteo .venv/bin/python bench/baselines.py``
Prints per tenant: tier, holdout R² of each model, best model's holdout MAPE and the naive's, CV R² std,
weather importance rank, and the noise ceiling (``quality.noise_ceiling``: the simulation's expected revenue
scored on the same split for R² and CV R² std, the truth's MAPE-optimal forecast for MAPE) holdout R², MAPE and
CV R² std: the best any model could do under the simulation's noise. Then, for the extreme and high tenants, how
much each of the truth's own daily components (weather, baseline, each channel) varies over the holdout, and the
four quality checks' outcomes, with the noise ceiling.
"""

import datetime as dt
import os
import sys
import time
from pathlib import Path

import polars as pl
import polars.selectors as cs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from weather_mmm.features.build import build_features, model_matrix  # noqa: E402
from weather_mmm.models import quality  # noqa: E402
from weather_mmm.models.baselines import design, fit_baselines  # noqa: E402
from weather_mmm.models.validation import mape_point  # noqa: E402
from weather_mmm.settings import CALENDAR_START, PROJECT_ROOT  # noqa: E402
from weather_mmm.simulation.catalog import build_catalog  # noqa: E402
from weather_mmm.simulation.oracle import REPLICATES  # noqa: E402
from weather_mmm.simulation.simulate import simulate_tenant  # noqa: E402
from weather_mmm.weather.climatology import load_climatology  # noqa: E402
from weather_mmm.weather.sources import load_weather_daily  # noqa: E402

END = dt.date(2024, 12, 31)


def main() -> None:
    seeds = os.environ.get("WEATHER_MMM_WEATHER_SEEDS", str(PROJECT_ROOT.parent / "shared/data/weather/open_meteo"))
    weather = load_weather_daily(CALENDAR_START, END, mode="seeds", seeds_dir=Path(seeds), calendar_end=END).frame
    clim = load_climatology()
    rows, summaries, importances, predictions, expected, spread, tiers = [], [], [], [], [], [], {}
    t0 = time.perf_counter()
    for profile in build_catalog():
        tenant, channels = profile.tenant, [c.channel for c in profile.channels]
        tiers[tenant] = profile.tier
        sim = simulate_tenant(profile, weather, clim, END, replicates=REPLICATES)
        features, media = build_features(tenant, sim.sales, sim.spend, weather, profile.geos, channels)
        data = design(model_matrix(features, media), channels)
        result = fit_baselines(data, channels)
        s = result.summary.with_columns(tenant=pl.lit(tenant))
        summaries.append(s)
        importances.append(result.importance.with_columns(tenant=pl.lit(tenant)))
        r2 = dict(s.select("model", "holdout_r2").iter_rows())
        mape = dict(s.select("model", "holdout_mape").iter_rows())
        predictions.append(result.predictions.select("date", "actual").with_columns(tenant=pl.lit(tenant)))
        expected.append(sim.contributions.group_by("date").agg(expected=pl.col("revenue").sum()).sort("date")
                        .with_columns(tenant=pl.lit(tenant), mape_point=mape_point(sim.revenue_draws)))
        holdout = result.predictions.filter("in_holdout").select("date")
        spread.append(sim.contributions.join(holdout, on="date").group_by("date", "component").agg(pl.col("revenue").sum())
                      .group_by("component").agg(pl.col("revenue").std()).with_columns(tenant=pl.lit(tenant), tier=pl.lit(profile.tier)))
        rows.append({"tenant": tenant, "tier": profile.tier, "best": result.best,
                     **{f"r2_{m}": round(v, 3) for m, v in r2.items()},
                     "mape_best": round(mape[result.best], 3), "mape_naive": round(mape["seasonal_naive"], 3),
                     "cv_r2_std": round(s.filter(pl.col("best"))["cv_r2_std"][0], 3),
                     "weather_rank": int(result.importance.filter(pl.col("group") == "weather")["rank"][0])})
    elapsed = time.perf_counter() - t0
    ceiling = quality.noise_ceiling(pl.concat(predictions), pl.concat(expected).select("tenant", "date", "expected", "mape_point"))
    pl.Config.set_tbl_rows(100), pl.Config.set_tbl_cols(30), pl.Config.set_tbl_width_chars(400)
    print(pl.DataFrame(rows).join(ceiling.select("tenant", cs.float().round(3).name.prefix("ceiling_")), on="tenant"))
    print("the truth's own daily components on the holdout, standard deviation in USD/day (weather: what the actual "
          "weather added against normal weather; baseline: trend, season, weekday, holidays, promotions):")
    print(pl.concat(spread).filter(pl.col("tier").is_in(["extreme", "high"]))
          .pivot("component", index=["tenant", "tier"], values="revenue").select("tenant", "tier", cs.float().round(0)))
    summary, importance = pl.concat(summaries), pl.concat(importances)
    for outcome in (quality.holdout_r2_by_tier(summary, tiers, ceiling), quality.mape_and_naive(summary, ceiling),
                    quality.cv_spread(summary, ceiling), quality.weather_importance(summary, importance, tiers)):
        print(("PASS " if outcome.passed else "FAIL ") + outcome.summary)
    print(f"{len(rows)} tenants simulated, featurised and fitted in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
