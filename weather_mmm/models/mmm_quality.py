"""Checks of the Bayesian MMM: convergence per tenant, recovery of the ground truth over all simulated tenants.

Bars (issue 5): max R-hat ≤ 1.01; bulk ESS ≥ 400 for every ROAS and the weather share; divergences ≤ 0.5 %
of draws. Against the truth (fits without experiment calibration): the true ROAS inside the 90 % interval
for ≥ 80 % of tenant-channels; median |relative ROAS error| ≤ 20 % and ≤ half the prior's own; the weather
share within 2 percentage points of the truth for ≥ 80 % of tenants; the sign of every true weather effect
of the extreme and high tenants recovered; holdout MAPE no worse than the best baseline's.
"""

from __future__ import annotations

import polars as pl

from weather_mmm.weather.quality import CheckOutcome

RHAT_BAR, ESS_BAR, DIVERGENT_BAR = 1.01, 400.0, 0.005
COVERAGE_BAR, ROAS_ERROR_BAR, SHARE_PP_BAR, SHARE_TENANTS_BAR = 0.80, 0.20, 0.02, 0.80


def convergence_misses(max_rhat: float, effect_ess: float, divergent_share: float) -> list[str]:
    """The convergence bars one fit misses, each with its figure (empty when it converged)."""
    why = []
    if max_rhat > RHAT_BAR:
        why.append(f"R-hat {max_rhat:.3f} > {RHAT_BAR}")
    if effect_ess < ESS_BAR:
        why.append(f"ESS {effect_ess:.0f} < {ESS_BAR:.0f}")
    if divergent_share > DIVERGENT_BAR:
        why.append(f"divergences {divergent_share:.2%} > 0.5%")
    return why


def convergence(diagnostics: pl.DataFrame, effects: pl.DataFrame) -> CheckOutcome:
    """Per tenant: R-hat, ESS of the ROAS draws and weather share, divergences. Names every failing tenant."""
    ess = effects.filter(pl.col("kind").is_in(["roas", "weather_share"])).group_by("tenant").agg(min_effect_ess=pl.col("ess").min())
    rows = diagnostics.join(ess, on="tenant", how="left").sort("tenant")
    misses = []
    for r in rows.iter_rows(named=True):
        why = convergence_misses(r["max_rhat"], r["min_effect_ess"] or 0, r["divergent_share"])
        if why:
            misses.append(f"{r['tenant']}: {', '.join(why)}")
    figures = {r["tenant"]: {"max_rhat": round(r["max_rhat"], 4), "min_effect_ess": round(r["min_effect_ess"] or 0, 0),
                             "divergences": r["divergences"]} for r in rows.iter_rows(named=True)}
    return CheckOutcome(not misses, f"{rows.height - len(misses)} of {rows.height} fits converged"
                        + (f"; not: {'; '.join(misses)}" if misses else ""), {"per_tenant": figures})


def recovery(effects: pl.DataFrame, truth: pl.DataFrame, tiers: dict[str, str], oracle: pl.DataFrame | None = None
             ) -> CheckOutcome:
    """ROAS coverage and error, weather share and the signs of the weather effects, against
    ``tenant_ground_truth`` (simulated tenants only), on fits without lift-test calibration, as the bars are
    stated. Calibrated fits (tenants with ``lift_test`` rows, or ``stated_prior`` rows: a ROAS prior its team
    stated) are left out of every bar; their ROAS error and weather-effect signs are reported beside them. ``oracle``: tenant, key (channel), oracle_error
    (:meth:`weather_mmm.simulation.oracle.OracleScales.frame`); its median over the same tenant-channels is
    reported beside the ROAS error: what the simulation's noise leaves to a model that knows every curve."""
    true_roas = truth.filter(pl.col("parameter") == "true_roas").select("tenant", key="key", true=pl.col("value"))
    calibrated = sorted(effects.filter(pl.col("kind").is_in(["lift_test", "stated_prior"]))["tenant"].unique().to_list())
    roas_calibrated = effects.filter(pl.col("kind") == "roas", pl.col("tenant").is_in(calibrated)).join(true_roas, on=["tenant", "key"])
    calibrated_error = ((roas_calibrated["mean"] - roas_calibrated["true"]) / roas_calibrated["true"]).abs().median()
    is_calibrated = pl.col("tenant").is_in(calibrated)
    signs_calibrated = weather_effect_signs(effects.filter(is_calibrated), truth.filter(is_calibrated), tiers)
    calibrated_note = (f"{len(calibrated)} tenant(s) calibrated with lift tests or stated ROAS priors, left out "
                       f"({', '.join(calibrated)}; "
                       f"their median ROAS error {calibrated_error:.0%}"
                       + (f", weather-effect signs right for {signs_calibrated['right'].sum()} of {signs_calibrated.height}"
                          if signs_calibrated.height else "") + ")") if roas_calibrated.height else ""
    effects, truth = effects.filter(~is_calibrated), truth.filter(~is_calibrated)
    unfitted = sorted(set(truth["tenant"].unique().to_list()) - set(effects["tenant"].unique().to_list()))
    unfitted_note = (f"MISS no fit to score for {', '.join(unfitted)} (the bars are over every simulated tenant)"
                     if unfitted else "")
    roas = effects.filter(pl.col("kind") == "roas").join(true_roas, on=["tenant", "key"])
    if roas.is_empty():
        return CheckOutcome(not unfitted, "; ".join(["no simulated tenant with an uncalibrated MMM fit: nothing to compare",
                                             *filter(None, [unfitted_note, calibrated_note])]))
    roas = roas.with_columns(inside=(pl.col("true") >= pl.col("lo90")) & (pl.col("true") <= pl.col("hi90")),
                             error=((pl.col("mean") - pl.col("true")) / pl.col("true")).abs(),
                             prior_error=((pl.col("prior") - pl.col("true")) / pl.col("true")).abs())
    coverage = float(roas["inside"].mean())
    error, prior_error = float(roas["error"].median()), float(roas["prior_error"].median())
    oracle_error = (float(roas.join(oracle.select("tenant", "key", "oracle_error"), on=["tenant", "key"])["oracle_error"].median())
                    if oracle is not None and oracle.height else None)
    true_share = truth.filter(pl.col("parameter") == "weather_share").select("tenant", true=pl.col("value"))
    share = effects.filter(pl.col("kind") == "weather_share").join(true_share, on="tenant").with_columns(
        off_pp=(pl.col("mean") - pl.col("true")).abs())
    within = float((share["off_pp"] <= SHARE_PP_BAR).mean())
    signs = weather_effect_signs(effects, truth, tiers)
    wrong_sign = [f"{t} {k}" for t, k, right in signs.select("tenant", "key", "right").iter_rows() if not right]
    parts = [
        (coverage >= COVERAGE_BAR, f"true ROAS inside the 90% interval for {coverage:.0%} of {roas.height} tenant-channels (bar 80%)"),
        (error <= ROAS_ERROR_BAR and error <= prior_error / 2,
         f"median ROAS error {error:.0%} (bar 20% and at most half the prior's {prior_error:.0%}"
         + (f"; an oracle that knows every true curve: {oracle_error:.0%}" if oracle_error is not None else "") + ")"),
        (within >= SHARE_TENANTS_BAR, f"weather share within 2 pp for {within:.0%} of {share.height} tenants (bar 80%)"),
        (not wrong_sign, f"sign of {signs.height - len(wrong_sign)} of {signs.height} true weather effects of extreme/high "
                         "tenants recovered" + (f" (wrong: {', '.join(wrong_sign)})" if wrong_sign else "")),
    ]
    table = roas.select("tenant", "key", "mean", "lo90", "hi90", "true", "inside").sort("tenant", "key")
    description = "; ".join([("" if p else "MISS ") + text for p, text in parts]
                            + list(filter(None, [unfitted_note, calibrated_note])))
    return CheckOutcome(all(p for p, _ in parts) and not unfitted, description, {
        "calibrated_tenants_left_out": calibrated, "tenants_without_fit": unfitted,
        "calibrated_median_roas_error": round(float(calibrated_error), 3) if roas_calibrated.height else None,
        "roas_coverage": round(coverage, 3), "median_roas_error": round(error, 3), "prior_median_roas_error": round(prior_error, 3),
        "oracle_median_roas_error": round(oracle_error, 3) if oracle_error is not None else None,
        "weather_share_within_2pp": round(within, 3),
        "roas": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()} for r in table.iter_rows(named=True)],
        "weather_share": {t: {"estimate": round(m, 4), "true": round(tr, 4)} for t, m, tr in share.select("tenant", "mean", "true").iter_rows()},
        "weather_effect_signs": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in signs.iter_rows(named=True)],
    })


#: The simulation's category affinities (``tenant_ground_truth.detail`` of ``weather_effect``) -> the model's signals.
AFFINITY_SIGNAL = {"cold": "hdd", "warm": "cdd", "rain": "precip", "snow": "snow"}


def weather_effect_signs(effects: pl.DataFrame, truth: pl.DataFrame, tiers: dict[str, str]) -> pl.DataFrame:
    """Every true weather effect of the extreme and high tenants against the fitted one, by sign.

    A tenant's true effect of a signal is its categories' ``weather_effect`` (log multiplier of demand) summed
    with their revenue ``share`` as weights, by affinity (cold, warm, rain, snow: heating and cooling degree days,
    precipitation, snowfall); its rain-on-a-cold-day effect likewise from ``rain_cold_interaction``. Fitted: the
    posterior mean of the ``weather_effect`` rows of :func:`weather_mmm.models.mmm.effects_table`.

    Returns one row per fitted tenant (one with ``effects`` rows) and signal with a non-zero true effect: tenant,
    key (hdd | cdd | precip | snow | rain_cold), true, estimate (null when the fit has no such row: not recovered),
    right (same sign). A tenant without a fit has no rows: :func:`recovery` names it.
    """
    cats = truth.filter(pl.col("kind") == "category")
    share = cats.filter(pl.col("parameter") == "share").select("tenant", "key", share=pl.col("value"))
    main = cats.filter((pl.col("parameter") == "weather_effect") & pl.col("detail").is_in(list(AFFINITY_SIGNAL))).with_columns(
        signal=pl.col("detail").replace_strict(AFFINITY_SIGNAL))
    rain_cold = cats.filter(pl.col("parameter") == "rain_cold_interaction").with_columns(signal=pl.lit("rain_cold"))
    true = (pl.concat([main.select("tenant", "key", "signal", "value"), rain_cold.select("tenant", "key", "signal", "value")])
            .filter(pl.col("tenant").replace_strict(tiers, default="").is_in(["extreme", "high"]),
                    pl.col("tenant").is_in(effects["tenant"].unique().to_list()))
            .join(share, on=["tenant", "key"]).group_by("tenant", "signal")
            .agg(true=(pl.col("value") * pl.col("share")).sum()).filter(pl.col("true") != 0))
    fitted = effects.filter(pl.col("kind") == "weather_effect").select("tenant", signal="key", estimate="mean")
    return (true.join(fitted, on=["tenant", "signal"], how="left").rename({"signal": "key"})
            .with_columns(right=pl.col("estimate").fill_null(0.0).sign() == pl.col("true").sign())
            .select("tenant", "key", "true", "estimate", "right").sort("tenant", "key"))


def mape_vs_baseline(diagnostics: pl.DataFrame, baseline_summary: pl.DataFrame) -> CheckOutcome:
    """Per tenant: the MMM's holdout MAPE is no worse than the best baseline's."""
    best = baseline_summary.filter(pl.col("best")).select("tenant", baseline=pl.col("holdout_mape"))
    rows = diagnostics.select("tenant", mmm=pl.col("holdout_mape")).join(best, on="tenant").sort("tenant")
    misses = [f"{t} {m:.1%} > {b:.1%}" for t, m, b in rows.iter_rows() if m > b]
    return CheckOutcome(not misses, f"MMM holdout MAPE no worse than the best baseline for {rows.height - len(misses)} of {rows.height} tenants"
                        + (f"; worse: {'; '.join(misses)}" if misses else ""),
                        {"mape": {t: {"mmm": round(m, 4), "best_baseline": round(b, 4)} for t, m, b in rows.iter_rows()}})


R2_DROP_BAR, MAPE_RISE_BAR, FEATURE_SHIFT_SD, RECENT_DAYS = 0.10, 0.05, 2.0, 28


def feature_shift(inputs) -> dict[str, float]:
    """Spend per channel and weather signals whose mean over the last :data:`RECENT_DAYS` days lies more than
    :data:`FEATURE_SHIFT_SD` training standard deviations from the training mean: name -> shift in SD. Weather
    is taken as its anomaly against the city's normal for the day (``weather - weather_normal``), so that a
    winter after a training window that ends in summer is not a shift, a winter far colder than normal is."""
    x = inputs
    from weather_mmm.models.mmm import WEATHER_INPUTS  # noqa: PLC0415 (mmm imports JAX; keep this module light)

    spend, weather = x.totals(x.spend, x.weather - x.weather_normal)  # tenant spend, revenue-weighted anomalies
    blocks = {name: weather[:, i] for i, name in enumerate(WEATHER_INPUTS) if "_lag" not in name}
    blocks.update({f"spend_{c}": spend[:, i] for i, c in enumerate(x.channels)})
    shifted = {}
    for name, values in blocks.items():
        train = values[x.train]
        sd = float(train.std())
        if sd > 1e-9:
            shift = abs(float(values[-RECENT_DAYS:].mean()) - float(train.mean())) / sd
            if shift > FEATURE_SHIFT_SD:
                shifted[name] = round(shift, 2)
    return shifted


def fit_status(diagnostics: dict, effect_ess: float, previous: dict | None) -> tuple[str, str]:
    """Status of a new fit for the model store: (``usable`` | ``not_converged`` | ``drifted``, reason).

    Convergence bars as :func:`convergence_misses`; drift (issue 7) against the ``previous`` usable version (a
    row of ``model_versions``; None for a tenant's first fit): holdout R² down more than 10 % (relative) or
    MAPE up more than 5 points. Inputs that moved away from the training window (:func:`feature_shift`) are
    reported beside the status, never part of it: a growing tenant's recent spend stays above its training
    mean at every refit, so blocking on it would freeze the tenant at its first fit, and the version it would
    fall back to was trained further still from today's inputs.
    """
    why = convergence_misses(diagnostics["max_rhat"], effect_ess, diagnostics["divergent_share"])
    if why:
        return "not_converged", "; ".join(why)
    drift = []
    if previous is not None:
        r2, prev_r2 = diagnostics["holdout_r2"], previous["holdout_r2"]
        if prev_r2 > 0 and r2 < prev_r2 * (1 - R2_DROP_BAR):
            drift.append(f"holdout R² {r2:.3f} dropped more than 10% from {prev_r2:.3f} (version {previous['version']})")
        if diagnostics["holdout_mape"] > previous["holdout_mape"] + MAPE_RISE_BAR:
            drift.append(f"holdout MAPE {diagnostics['holdout_mape']:.1%} rose more than 5 points from "
                         f"{previous['holdout_mape']:.1%} (version {previous['version']})")
    if drift:
        return "drifted", "; ".join(drift)
    return "usable", "converged, no drift" if previous is not None else "converged; first version"


def shift_note(shifted: dict[str, float]) -> str:
    """``shifted`` (:func:`feature_shift`) in words, '' when empty: "spend_meta 2.31 SD, hdd 2.05 SD"."""
    return ", ".join(f"{k} {v:.2f} SD" for k, v in shifted.items())


def drift_report(diagnostics: pl.DataFrame) -> CheckOutcome:
    """Over ``mmm_diagnostics`` (status, status_reason, shifted_inputs per tenant): passes when no fit drifted
    and no input moved more than :data:`FEATURE_SHIFT_SD` SD from its training window; names each."""
    drifted = diagnostics.filter(pl.col("status") == "drifted").select("tenant", "status_reason").sort("tenant").rows()
    shifted = (diagnostics.filter(pl.col("shifted_inputs").fill_null("") != "").select("tenant", "shifted_inputs")
               .sort("tenant").rows())
    parts = [f"{len(drifted)} of {diagnostics.height} fits drifted and are not used"
             + (": " + "; ".join(f"{t}: {r}" for t, r in drifted) if drifted else "")]
    if shifted:
        parts.append(f"{len(shifted)} fit(s) used with inputs whose last {RECENT_DAYS} days lie more than "
                     f"{FEATURE_SHIFT_SD:g} SD from the training mean (the response there is extrapolated): "
                     + "; ".join(f"{t}: {s}" for t, s in shifted))
    return CheckOutcome(not drifted and not shifted, "; ".join(parts),
                        {"status": {t: s for t, s in diagnostics.select("tenant", "status").rows()},
                         "shifted_inputs": dict(shifted)})
