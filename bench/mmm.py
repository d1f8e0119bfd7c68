"""Benchmark: the Bayesian MMM on simulated tenants against their ground truth.

Run: ``.venv/bin/python bench/mmm.py [tenant,tenant,...] [--warmup 500 --draws 1000] [--calibration]``
(default: every tenant). Prints per tenant: fit time, max R-hat, min ESS, divergences, ESS/s of the ROAS
draws, holdout R² and MAPE, and per channel the ROAS estimate with its 90 % interval next to the truth;
then the aggregate recovery figures of the ``mmm_recovers_the_truth`` check, on fits without calibration
(every tenant, as the issue states the bars). With ``--calibration`` every tenant that ran a lift test is
fitted again, calibrated with it, and both fits' ROAS are printed side by side with the test's readout,
then the median ROAS error and 90 % coverage of those tenants' channels with and without calibration.
"""

import argparse
import datetime as dt
import statistics
import sys
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from weather_mmm.models import mmm, mmm_quality  # noqa: E402
from weather_mmm.settings import CALENDAR_START, PROJECT_ROOT  # noqa: E402
from weather_mmm.simulation.catalog import build_catalog  # noqa: E402
from weather_mmm.simulation.simulate import simulate_tenant  # noqa: E402
from weather_mmm.weather.climatology import load_climatology  # noqa: E402
from weather_mmm.weather.sources import load_weather_daily  # noqa: E402

END = dt.date(2024, 12, 31)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("tenants", nargs="?", default="")
    parser.add_argument("--warmup", type=int, default=mmm.MMMSettings.warmup)
    parser.add_argument("--draws", type=int, default=mmm.MMMSettings.draws)
    parser.add_argument("--calibration", action="store_true", help="also fit the tenants that ran lift tests with them")
    args = parser.parse_args()
    settings = mmm.MMMSettings(warmup=args.warmup, draws=args.draws)
    seeds = PROJECT_ROOT.parent / "shared/data/weather/open_meteo"
    weather = load_weather_daily(CALENDAR_START, END, mode="seeds", seeds_dir=seeds, calendar_end=END).frame
    clim = load_climatology()
    wanted = set(args.tenants.split(",")) if args.tenants else None
    effects, truths, diags, tiers, paired = [], [], [], {}, []
    for profile in build_catalog():
        if wanted and profile.tenant not in wanted:
            continue
        tenant, channels = profile.tenant, [c.channel for c in profile.channels]
        tiers[tenant] = profile.tier
        sim = simulate_tenant(profile, weather, clim, END)
        inputs = mmm.tenant_inputs(tenant, sim.sales, sim.spend, weather, profile.geos, channels, clim)
        fit = mmm.fit_mmm(inputs, settings)
        e, d, h = mmm.effects(fit), mmm.diagnostics(fit), mmm.holdout_scores(fit)
        effects.append(mmm.effects_table(e).with_columns(tenant=pl.lit(tenant)))
        truths.append(sim.parameters.with_columns(tenant=pl.lit(tenant)))
        diags.append({"tenant": tenant, **d, "holdout_mape": h["mape"]})
        true = dict(sim.parameters.filter(pl.col("parameter") == "true_roas").select("key", "value").iter_rows())
        share = sim.parameters.filter(pl.col("parameter") == "weather_share")["value"][0]
        ess_s = min(e["ess"][f"roas_{c}"] for c in channels) / d["fit_seconds"]
        print(f"{tenant} ({profile.tier}): {d['fit_seconds']:.1f} s, R-hat {d['max_rhat']:.3f}, min ESS {d['min_ess']:.0f}, "
              f"{d['divergences']} divergences, ROAS ESS/s {ess_s:.1f}, holdout R² {h['r2']:.3f}, MAPE {h['mape']:.1%}, "
              f"90% coverage {h['coverage90']:.0%}", flush=True)
        for c in channels:
            r = e["roas"][c]
            print(f"    {c:7s} ROAS {r['mean']:5.2f} [{r['lo90']:.2f}, {r['hi90']:.2f}]  true {true[c]:.2f}")
        ws = e["weather_share"]
        print(f"    weather share {ws['mean']:+.3f} [{ws['lo90']:+.3f}, {ws['hi90']:+.3f}]  true {share:+.3f}", flush=True)
        if args.calibration and sim.experiments.height:
            calibrated = mmm.fit_mmm(mmm.with_lift_tests(inputs, sim.experiments), settings)
            ec, dc = mmm.effects(calibrated), mmm.diagnostics(calibrated)
            print(f"    calibrated with {sim.experiments.height} lift test(s): {dc['fit_seconds']:.1f} s, R-hat {dc['max_rhat']:.3f}")
            for name, t in ec["lift_test"].items():
                print(f"    lift test {name}: readout ROAS {t['readout']:.2f}, calibrated fit {t['mean']:.2f} [{t['lo90']:.2f}, {t['hi90']:.2f}]")
            for c in channels:
                r, rc = e["roas"][c], ec["roas"][c]
                print(f"    {c:7s} ROAS {r['mean']:5.2f} [{r['lo90']:.2f}, {r['hi90']:.2f}] -> calibrated {rc['mean']:5.2f} "
                      f"[{rc['lo90']:.2f}, {rc['hi90']:.2f}]  true {true[c]:.2f}", flush=True)
                paired.append({"tenant": tenant, "tested": c in sim.experiments["channel"].to_list(), "true": true[c],
                               "plain": r, "calibrated": rc})
    effects_all, truth_all = pl.concat(effects), pl.concat(truths, how="diagonal_relaxed")
    for outcome in (mmm_quality.recovery(effects_all, truth_all, tiers),
                    mmm_quality.convergence(pl.DataFrame(diags), effects_all)):
        print(("PASS " if outcome.passed else "FAIL ") + outcome.summary)
    if paired:
        print(f"tenants with lift tests ({len({p['tenant'] for p in paired})}), {len(paired)} tenant-channels:")
        for fit in ("plain", "calibrated"):
            errors = [abs(p[fit]["mean"] / p["true"] - 1) for p in paired]
            tested = [abs(p[fit]["mean"] / p["true"] - 1) for p in paired if p["tested"]]
            inside = sum(p[fit]["lo90"] <= p["true"] <= p[fit]["hi90"] for p in paired) / len(paired)
            print(f"    {fit:10s} median ROAS error {statistics.median(errors):.0%} (tested channels: "
                  f"{statistics.median(tested):.0%}), 90% coverage {inside:.0%}")


if __name__ == "__main__":
    main()
