"""Benchmark: our MMM against LightweightMMM on the same data, and both on an independent simulator.

Run: ``.venv/bin/python bench/engines.py [--tenant pageturner_books] [--seeds 5] [--warmup 500 --draws 1000]``
(``WEATHER_MMM_JAX_CACHE=$(mktemp -d)`` before it times both engines with cold compilation).

1. One single-geo, 730-day, 3-channel simulated tenant, fitted by both engines with the full model the main
   job uses. Printed side by side: wall time (JAX compilation included, or loaded from the persistent
   compilation cache when an earlier run compiled the same shapes), ESS per second of the ROAS draws (the slowest
   channel), max R-hat, ROAS error against the ground truth, and whether the fit meets the convergence bars
   of ``mmm_converged`` (R-hat, ESS of ROAS and weather share, divergences).
2. ``pysimmmulator`` (PyPI; an independent simulator that reports each channel's true ROI, so true ROAS =
   ROI + 1), ``--seeds`` datasets of 730 days with 3 impression-bought channels whose conversion rates,
   adstock and saturation are drawn per seed. Its revenue has no weather effect; we attach Chicago's real
   weather, so a model that finds weather there is wrong. Printed per engine: ROAS errors, 90 % interval
   coverage (bar: at least 80 % of channels) and the weather share found.

pysimmmulator 0.6.2 quirks worked around here: channels bought by clicks get zero clicks (their impressions
are 0 and clicks are capped by impressions), so all three channels are impression-bought; its date index has
one day more than its data, dropped.
"""

import argparse
import datetime as dt
import logging
import sys
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from weather_mmm.models import mmm, mmm_quality  # noqa: E402
from weather_mmm.settings import PROJECT_ROOT  # noqa: E402
from weather_mmm.simulation.catalog import get_profile  # noqa: E402
from weather_mmm.simulation.contract import SALES_COLUMNS, SPEND_COLUMNS  # noqa: E402
from weather_mmm.simulation.simulate import simulate_tenant  # noqa: E402
from weather_mmm.weather.climatology import load_climatology  # noqa: E402
from weather_mmm.weather.sources import load_weather_daily  # noqa: E402

START, END = dt.date(2023, 1, 1), dt.date(2024, 12, 31)
CHANNELS = ["meta", "google", "email"]
PSM_CITY = "chicago"


def pysimmmulator_config(seed: int) -> dict:
    """A pysimmmulator config whose channel effects are drawn from ``seed``: CPMs 2-8 USD, conversion rates
    set for ROAS between about 0.5 and 5, geometric adstock 0.1-0.6, Hill slope 1-2 at half its peak."""
    rng = np.random.default_rng(seed)
    cpm = {"meta": 8.0, "google": 5.0, "email": 2.0}
    return {
        "basic_params": {"years": 2, "channels_impressions": CHANNELS, "channels_clicks": [], "frequency_of_campaigns": 1,
                         "start_date": START.strftime("%Y/%m/%d"), "revenue_per_conv": 40.0,
                         "true_cvr": {c: float(rng.uniform(0.4, 3.0) * cpm[c] * 7.5e-5) for c in CHANNELS}},
        "baseline_params": {"base_p": 500, "trend_p": 100, "temp_var": 8, "temp_coef_mean": 5, "temp_coef_sd": 2,
                            "error_std": 50},
        "ad_spend_params": {"campaign_spend_mean": 3000, "campaign_spend_std": 900,
                            "max_min_proportion_on_each_channel": {"meta": {"min": 0.3, "max": 0.5},
                                                                   "google": {"min": 0.25, "max": 0.4}}},
        "media_params": {"true_cpm": cpm, "true_cpc": {},
                         "noisy_cpm_cpc": {c: {"loc": 0.0, "scale": cpm[c] / 8} for c in CHANNELS}},
        "cvr_params": {"noisy_cvr": {c: {"loc": 0.0, "scale": 0.1} for c in CHANNELS}},
        "adstock_params": {
            "adstock": {c: {"type": "geometric", "params": {"lambda": float(rng.uniform(0.1, 0.6))}} for c in CHANNELS},
            "saturation": {c: {"type": "hill", "params": {"alpha": float(rng.uniform(1.0, 2.0)), "gamma": 0.5}}
                           for c in CHANNELS}},
        "output_params": {"aggregation_level": "daily"},
    }


def pysimmmulator_tenant(seed: int) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """(sales, spend, true ROAS per channel) of one pysimmmulator dataset in our tenant contract, one geo."""
    from pysimmmulator import Simulate

    logging.getLogger("pysimmmulator").setLevel(logging.ERROR)
    with np.errstate(all="ignore"):
        result = Simulate(random_seed=seed).run_with_config(pysimmmulator_config(seed))
    df = pl.from_pandas(result.df.reset_index()).drop_nulls(f"{CHANNELS[0]}_spend")
    tenant, dates = f"pysimmmulator_{seed}", df["date"].cast(pl.Date)
    sales = pl.DataFrame({"date": dates, "tenant": tenant, "geo": PSM_CITY, "revenue": df["total_revenue"],
                          "orders": (df["total_revenue"] / 40.0).round().cast(pl.Int64)}).with_columns(
        orders_new=pl.lit(None, pl.Int64), orders_returning=pl.lit(None, pl.Int64), units=pl.lit(None, pl.Int64),
        margin=pl.lit(None, pl.Float64), promo_depth=pl.lit(0.0)).select(SALES_COLUMNS)
    spend = pl.concat([pl.DataFrame({
        "date": dates, "tenant": tenant, "geo": PSM_CITY, "channel": c, "spend": df[f"{c}_spend"],
        "impressions": df[f"{c}_impressions"].cast(pl.Int64), "clicks": pl.Series([None] * df.height, dtype=pl.Int64),
        "conversions": pl.Series([None] * df.height, dtype=pl.Int64), "cpm": df[f"{c}_spend"] / df[f"{c}_impressions"] * 1000,
        "cpc": pl.Series([None] * df.height, dtype=pl.Float64)}) for c in CHANNELS]).select(SPEND_COLUMNS)
    return sales, spend, {c: float(result.channel_roi[c]) + 1.0 for c in CHANNELS}


def inputs_for(tenant: str, sales, spend, weather, geos, clim) -> mmm.MMMInputs:
    return mmm.tenant_inputs(tenant, sales, spend, weather, geos, CHANNELS, clim)


def score(inputs: mmm.MMMInputs, settings: mmm.MMMSettings, truth: dict) -> dict:
    fit = mmm.fit_mmm(inputs, settings)
    e, d = mmm.effects(fit), mmm.diagnostics(fit)
    roas = e["roas"]
    errors = {c: abs(roas[c]["mean"] / truth[c] - 1) for c in CHANNELS}
    misses = mmm_quality.convergence_misses(d["max_rhat"], min(e["ess"].values()), d["divergent_share"])
    return {"seconds": d["fit_seconds"], "rhat": d["max_rhat"], "divergences": d["divergences"],
            "bars": "converged" if not misses else "; ".join(misses),
            "ess_s": min(e["ess"][f"roas_{c}"] for c in CHANNELS) / d["fit_seconds"], "roas": roas, "errors": errors,
            "covered": {c: roas[c]["lo90"] <= truth[c] <= roas[c]["hi90"] for c in CHANNELS},
            "weather_share": e["weather_share"]["mean"], "r2": mmm.holdout_scores(fit)["r2"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenant", default="pageturner_books")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=mmm.MMMSettings.warmup)
    parser.add_argument("--draws", type=int, default=mmm.MMMSettings.draws)
    args = parser.parse_args()
    engines = {e: mmm.MMMSettings(warmup=args.warmup, draws=args.draws, engine=e) for e in mmm.ENGINES}
    seeds_dir = PROJECT_ROOT.parent / "shared/data/weather/open_meteo"
    weather = load_weather_daily(START, END, mode="seeds", seeds_dir=seeds_dir, calendar_end=END).frame
    clim = load_climatology()

    profile = get_profile(args.tenant)
    if len(profile.geos) != 1:
        raise SystemExit(f"{args.tenant} sells in {len(profile.geos)} geos; the engine comparison wants a single-geo tenant")
    sim = simulate_tenant(profile, weather, clim, END)
    truth = dict(sim.parameters.filter(pl.col("parameter") == "true_roas").select("key", "value").iter_rows())
    inputs = inputs_for(args.tenant, sim.sales, sim.spend, weather, profile.geos, clim)
    print(f"1. {args.tenant}: {len(inputs.dates)} days, {', '.join(profile.geos)}, {args.warmup}+{args.draws} draws x 2 chains")
    print(f"{'engine':16s} {'wall s':>7s} {'ESS/s':>6s} {'R-hat':>6s} {'div':>4s} {'R²':>6s}  "
          + "  ".join(f"{c:>22s}" for c in CHANNELS) + "  median ROAS error")
    for name, settings in engines.items():
        s = score(inputs, settings, truth)
        cells = "  ".join(f"{s['roas'][c]['mean']:5.2f} vs {truth[c]:4.2f} ({s['errors'][c]:4.0%})" for c in CHANNELS)
        print(f"{name:16s} {s['seconds']:7.1f} {s['ess_s']:6.1f} {s['rhat']:6.3f} {s['divergences']:4d} {s['r2']:6.3f}  "
              f"{cells}  {np.median(list(s['errors'].values())):.0%}  ({s['bars']})", flush=True)

    print(f"\n2. pysimmmulator, {args.seeds} datasets x 3 channels, real {PSM_CITY} weather with no effect on sales")
    results = {name: [] for name in engines}
    for seed in range(args.seeds):
        sales, spend, true_roas = pysimmmulator_tenant(seed)
        inputs = inputs_for(f"pysimmmulator_{seed}", sales, spend, weather, {PSM_CITY: 1.0}, clim)
        for name, settings in engines.items():
            s = score(inputs, settings, true_roas)
            results[name].append(s)
            cells = "  ".join(f"{c} {s['roas'][c]['mean']:.2f} [{s['roas'][c]['lo90']:.2f}, {s['roas'][c]['hi90']:.2f}] "
                              f"vs {true_roas[c]:.2f}" for c in CHANNELS)
            print(f"  seed {seed} {name:16s} {s['seconds']:5.1f} s, R-hat {s['rhat']:.3f}, weather share "
                  f"{s['weather_share']:+.3f}: {cells} ({s['bars']})", flush=True)
    for name, runs in results.items():
        errors = [e for s in runs for e in s["errors"].values()]
        covered = [v for s in runs for v in s["covered"].values()]
        share = max(abs(s["weather_share"]) for s in runs)
        print(f"{name:16s} median ROAS error {np.median(errors):.0%}, mean {np.mean(errors):.0%}; 90 % intervals cover "
              f"{np.mean(covered):.0%} of {len(covered)} channels ({'PASS' if np.mean(covered) >= 0.8 else 'FAIL'} "
              f"against 80 %); largest |weather share| {share:.3f} (true 0); {sum(s['bars'] == 'converged' for s in runs)} "
              f"of {len(runs)} fits meet the convergence bars; median {np.median([s['seconds'] for s in runs]):.1f} s a fit")


if __name__ == "__main__":
    main()
