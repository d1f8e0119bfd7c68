"""Causal evidence for weather effects, without the MMM: two designs whose weather variation no marketing
decision chose, each reported as an effect with its 90 % interval and p-value.

* **Weather shocks across geos** (difference in differences). For a tenant selling in two or more cities, the
  log revenue of geo g on day t is regressed on the shock flag of g's city that day (heatwave, cold snap,
  heavy rain, snowstorm, sustained rain; :mod:`weather_mmm.weather.signals`), with day fixed effects
  (whatever the geos share that day: calendar, promotions, the tenant's budget, news), geo x month fixed
  effects (each city's own season) and the geo's own spend per channel (``log1p`` USD: spend is set before
  the weather happens, on the forecast when it follows one). The effect is the log change of a geo's revenue
  on its shock days against the tenant's other geos on the same days: two-way fixed-effects DiD (Angrist &
  Pischke 2009, "Mostly Harmless Econometrics", ch. 5). A single-geo tenant has no such contrast.
* **Forecast error as an instrument.** A tenant whose spend follows the weather forecast (its
  ``tenant_forecasts``: the forecasts it planned with) spends more on the days the forecast promises its
  weather, so regressing revenue on the observed weather credits the weather with what that spend earned.
  The forecast error (observed minus forecast) moves the weather but no decision made on the forecast:
  two-stage least squares of log revenue on the observed weather, instrumented by the forecast error, with
  the forecast as a control. Because observed = forecast + error exactly, the first stage is exact and the
  2SLS estimate equals OLS of log revenue on the observed weather and the forecast, which is how it is
  computed. The naive estimate (observed weather without the forecast) is reported beside it. Fixed effects
  as above with two or more geos; with one, week fixed effects and weekday dummies.

Both: outcome ``log(revenue + 5 % of the geo's mean revenue)`` (a geo-day may sell nothing; the MMM's
shift), Benjamini-Hochberg q-values over a tenant's rows (statsmodels), and standard errors clustered by ISO
week (geos share each day's weather systems and a week's days share its spells: Cameron & Miller 2015, "A
practitioner's guide to cluster-robust inference", J. Human Resources 50) from the cluster jackknife, CV3:
``(G - 1) / G * sum_g (b_(g) - b)(b_(g) - b)'`` over the G estimates that leave one week out, with t(G - 1)
intervals and p-values (MacKinnon, Nielsen & Webb 2023, "Fast and reliable jackknife and bootstrap methods
for cluster-robust inference", J. Applied Econometrics 38). A shock's spells fall in a few weeks, and with
few treated clusters the usual sandwich (CV1) is too small. On placebo shocks (``bench/evidence.py --placebo
2000``: each city's shock flags shifted circularly, so they fall on days unrelated to its revenue; main-job
data) CV1 found an effect at p < 0.05 in 7.3 % of the tests on voltbox_electronics, 7.4 % on learnly_courses,
8.1 % on deskmate_office and 5.9 % on streamly_media (at p < 0.10: 13.0, 12.3, 13.2, 11.1 %); CV3 in 5.3, 5.5,
6.0 and 4.8 % (10.7, 10.1, 10.5, 9.1 %), and its intervals hold the main job's true effects as often (91 %
of 90 tenant-signals, against 90 %) with the same 18 effects found. A regressor that only one week
varies leaves no estimate when that week is left out, and is not tested.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.stats import t as student_t
from statsmodels.stats.multitest import multipletests

from weather_mmm.simulation.contract import FORECAST_VARIABLES
from weather_mmm.weather.quality import CheckOutcome

SHOCKS = ("heatwave", "cold_snap", "heavy_rain", "snowstorm", "sustained_rain")
#: Share of the tenant-signals whose 90 % interval must hold the true effect (:func:`recovery`), as for ROAS.
COVERAGE_BAR = 0.80
#: Significance after Benjamini-Hochberg at which an effect counts as found (:func:`recovery`).
Q_FOUND = 0.05
#: A true effect smaller than this (log points per unit) counts as none when scoring (:func:`recovery`).
NO_EFFECT = 0.005
#: A shock is tested when at least this many geo-days had it while another of the tenant's geos did not.
MIN_SHOCK_DAYS = 10
#: Share of a geo's mean revenue added to its revenue before the log, as the MMM's likelihood does.
REVENUE_SHIFT = 0.05
INTERVAL = 0.90
#: Columns of the evidence table (besides tenant): (unit, meaning).
EVIDENCE_UNITS = {
    "design": ("text", "geo_shock_did or forecast_surprise"),
    "signal": ("text", "the shock flag, or the forecast variable"),
    "unit": ("text", "one unit of the signal"),
    "effect": ("log points", "change of log revenue per unit of the signal; exp(effect) - 1 is the relative change"),
    "lo90": ("log points", "lower end of the 90 % interval"),
    "hi90": ("log points", "upper end of the 90 % interval"),
    "p_value": ("probability", "two-sided, against no effect"),
    "q_value": ("probability", "Benjamini-Hochberg over the tenant's rows"),
    "naive_effect": ("log points", "forecast design: the estimate without the forecast control; null for the DiD"),
    "treated": ("geo-days", "DiD: shock geo-days with a shock-free geo the same day; null for the forecast design"),
    "observations": ("geo-days", "geo-days in the regression"),
    "geos": ("count", "geos in the panel"),
    "reading": ("text", "the row in words"),
}


def geo_panel(sales: pl.DataFrame, spend: pl.DataFrame, weather: pl.DataFrame, channels: list[str],
              forecasts: pl.DataFrame | None = None) -> pl.DataFrame:
    """One tenant's panel: one row per geo and day with date, geo, revenue (USD), ``outcome`` (log revenue
    shifted by 5 % of the geo's mean), ``spend_<channel>`` (USD), the shock flags of the geo's city and, for
    each variable in ``forecasts``, ``forecast_<variable>`` and ``observed_<variable>`` (``FORECAST_VARIABLES``).

    Args:
        sales: ``tenant_sales`` rows of one tenant (date, geo, revenue).
        spend: its ``tenant_spend`` rows (date, geo, channel, spend).
        weather: ``weather_daily`` rows of its cities (date, city, the shock flags and forecast columns).
        forecasts: its ``tenant_forecasts`` rows (date, geo, variable, forecast), or ``None``.

    Raises:
        ValueError: a geo-day with sales has no weather row, or a revenue is negative (names tenant, geo, date),
            or a forecast variable is not one of :data:`FORECAST_VARIABLES` (names it).
    """
    tenant = sales["tenant"][0] if "tenant" in sales.columns and sales.height else "?"
    if (bad := sales.filter(pl.col("revenue") < 0)).height:
        raise ValueError(f"tenant {tenant}: negative revenue {bad['revenue'][0]} in {bad['geo'][0]} on {bad['date'][0]}")
    wide = (spend.filter(pl.col("channel").is_in(channels))
            .pivot(on="channel", index=["date", "geo"], values="spend", aggregate_function="sum")
            .rename({c: f"spend_{c}" for c in channels}))
    observed = sorted({c for c, _ in FORECAST_VARIABLES.values()})
    panel = (sales.group_by("date", "geo").agg(pl.col("revenue").sum())
             .join(wide, on=["date", "geo"], how="left")
             .join(weather.select("date", pl.col("city").alias("geo"), *SHOCKS, *observed), on=["date", "geo"], how="left")
             .with_columns(pl.col(f"spend_{c}").fill_null(0.0) for c in channels))
    if (missing := panel.filter(pl.col(SHOCKS[0]).is_null())).height:
        raise ValueError(f"tenant {tenant}: no weather_daily row for {missing['geo'][0]} on {missing['date'][0]} "
                         f"({missing.height} geo-day(s)); materialize weather_daily for those days")
    if forecasts is not None and forecasts.height:
        for (variable,), part in forecasts.partition_by("variable", as_dict=True).items():
            if variable not in FORECAST_VARIABLES:
                raise ValueError(f"tenant {tenant}: tenant_forecasts has variable {variable!r}; "
                                 f"known: {', '.join(FORECAST_VARIABLES)}")
            panel = panel.join(part.select("date", "geo", pl.col("forecast").alias(f"forecast_{variable}")),
                               on=["date", "geo"], how="left").with_columns(
                pl.col(FORECAST_VARIABLES[variable][0]).alias(f"observed_{variable}"))
    shift = REVENUE_SHIFT * pl.col("revenue").mean().over("geo")
    return (panel.drop(observed).with_columns(outcome=(pl.col("revenue") + shift).log())
            .with_columns(pl.col(SHOCKS).cast(pl.Float64)).sort("geo", "date"))


def _design(panel: pl.DataFrame, outcome: str, regressors: list[str], spend: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The design of the module docstring with its fixed effects absorbed: (x [N, K], ``regressors`` first and
    in order, then the controls; y [N]; ISO-week cluster [N], 0..G-1), or ``None`` when a regressor has no
    variation left after the fixed effects."""
    geos = panel["geo"].unique().sort().to_list()
    frame = panel.with_columns(week=pl.col("date").dt.iso_year() * 100 + pl.col("date").dt.week())
    controls = [c for c in panel.columns if c.startswith("spend_")] if spend else []
    frame = frame.with_columns(pl.col(controls).log1p())
    if len(geos) > 1:
        absorb = "date"
        cells = [(g, m) for g in geos[1:] for m in range(1, 13)]
        frame = frame.with_columns(**{f"fe_{g}_{m}": ((pl.col("geo") == g) & (pl.col("date").dt.month() == m)).cast(pl.Float64)
                                      for g, m in cells})
        controls += [f"fe_{g}_{m}" for g, m in cells]
    else:
        absorb = "week"
        frame = frame.with_columns(**{f"fe_wd{d}": (pl.col("date").dt.weekday() == d).cast(pl.Float64) for d in range(2, 8)})
        controls += [f"fe_wd{d}" for d in range(2, 8)]
    columns = [outcome, *regressors, *controls]
    demeaned = frame.select((pl.col(columns) - pl.col(columns).mean().over(absorb)), "week")
    x = demeaned.select(*regressors, *controls).to_numpy()
    keep = np.abs(x).max(0) > 1e-12
    if not keep[:len(regressors)].all():
        return None
    groups = np.unique(demeaned["week"].to_numpy(), return_inverse=True)[1]
    return x[:, keep], demeaned[outcome].to_numpy(), groups


def _fit(panel: pl.DataFrame, outcome: str, regressors: list[str], spend: bool) -> tuple[np.ndarray, np.ndarray, int] | None:
    """(coefficients, CV3 covariance, clusters) of ``regressors`` (in order) in the design of the module
    docstring, or ``None`` when a regressor has no variation left after the fixed effects, or none once one
    week is left out."""
    design = _design(panel, outcome, regressors, spend)
    return None if design is None else _jackknife(*design, len(regressors))


def _jackknife(x: np.ndarray, y: np.ndarray, groups: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, int] | None:
    """OLS of y [N] on x [N, K] and the CV3 covariance of its first ``k`` coefficients over clusters ``groups``
    [N] (0..G-1): (coefficients [k], covariance [k, k], G), or ``None`` when leaving a cluster out leaves one of
    the first ``k`` columns without variation. Controls that lose theirs (a geo-month inside one week) are
    dropped by the least-squares solve."""
    xtx, xty = x.T @ x, x.T @ y
    beta = np.linalg.lstsq(xtx, xty, rcond=None)[0][:k]
    clusters = int(groups.max()) + 1
    left_out = np.empty((clusters, k))
    for g in range(clusters):
        rows = groups == g
        if not (np.abs(x[~rows, :k]).max(0) > 1e-12).all():
            return None
        left_out[g] = np.linalg.lstsq(xtx - x[rows].T @ x[rows], xty - x[rows].T @ y[rows], rcond=None)[0][:k]
    d = left_out - beta
    return beta, (clusters - 1) / clusters * d.T @ d, clusters


def _row(design: str, signal: str, unit: str, coef: float, se: float, clusters: int, **extra) -> dict:
    df = clusters - 1
    half = student_t.ppf(0.5 + INTERVAL / 2, df) * se
    return {"design": design, "signal": signal, "unit": unit, "effect": coef, "lo90": coef - half, "hi90": coef + half,
            "p_value": float(2 * student_t.sf(abs(coef / se), df)) if se > 0 else float("nan"), **extra}


def shock_did(panel: pl.DataFrame, shock: str, outcome: str = "outcome") -> dict | None:
    """The DiD row of ``shock`` (module docstring; ``effect`` in log points per shock geo-day), or ``None``:
    fewer than two geos, fewer than :data:`MIN_SHOCK_DAYS` shock geo-days with a shock-free geo the same day, or
    all of them in one week (no jackknife estimate without it)."""
    geos = panel["geo"].n_unique()
    if geos < 2:
        return None
    contrast = pl.col(shock).max().over("date") > pl.col(shock).min().over("date")
    treated = panel.filter(contrast & (pl.col(shock) > 0)).height
    if treated < MIN_SHOCK_DAYS:
        return None
    fitted = _fit(panel, outcome, [shock], spend=True)
    if fitted is None:
        return None
    coef, cov, clusters = fitted
    return _row("geo_shock_did", shock, "shock geo-day", float(coef[0]), float(np.sqrt(cov[0, 0])), clusters,
                naive_effect=None, treated=treated, observations=panel.height, geos=geos)


def forecast_surprise(panel: pl.DataFrame, variable: str, outcome: str = "outcome") -> dict | None:
    """The forecast-error row of ``variable`` (module docstring; ``effect`` in log points per unit of the
    observed weather, :data:`FORECAST_VARIABLES`), or ``None`` when the panel has no forecast of it."""
    observed, forecast = f"observed_{variable}", f"forecast_{variable}"
    if forecast not in panel.columns:
        return None
    data = panel.filter(pl.col(forecast).is_not_null() & pl.col(observed).is_not_null())
    fitted = _fit(data, outcome, [observed, forecast], spend=False)
    if fitted is None:
        return None
    coef, cov, clusters = fitted
    x, y, _ = _design(data, outcome, [observed], spend=False)  # observed varies wherever the fit above found it to
    naive = np.linalg.lstsq(x, y, rcond=None)[0][0]
    return _row("forecast_surprise", variable, FORECAST_VARIABLES[variable][1], float(coef[0]), float(np.sqrt(cov[0, 0])),
                clusters, naive_effect=float(naive), treated=None, observations=data.height, geos=data["geo"].n_unique())


def _reading(row: dict) -> str:
    pct = {k: 100 * np.expm1(row[k]) for k in ("effect", "lo90", "hi90")}
    p = "p < 0.001" if row["p_value"] < 0.001 else f"p = {row['p_value']:.3f}"
    change = f"{pct['effect']:+.1f} % [{pct['lo90']:+.1f}, {pct['hi90']:+.1f}] ({p})"
    if row["design"] == "geo_shock_did":
        return (f"{row['signal'].replace('_', ' ')} in one of its cities: that city's revenue {change} that day, "
                f"against its other cities the same day")
    naive = 100 * np.expm1(row["naive_effect"])
    return (f"each {row['unit']} the forecast did not foresee: revenue {change}; "
            f"regressed on the observed weather alone: {naive:+.1f} %")


def weather_evidence(panel: pl.DataFrame, outcome: str = "outcome") -> pl.DataFrame:
    """Every design the panel allows (:func:`shock_did` for each of :data:`SHOCKS`, :func:`forecast_surprise`
    for each forecast variable): one row per design and signal, columns of :data:`EVIDENCE_UNITS`; no rows
    when none applies (a single-geo tenant without forecasts)."""
    rows = [r for s in SHOCKS if (r := shock_did(panel, s, outcome))]
    rows += [r for v in FORECAST_VARIABLES if (r := forecast_surprise(panel, v, outcome))]
    schema = {"design": pl.Utf8, "signal": pl.Utf8, "unit": pl.Utf8, "effect": pl.Float64, "lo90": pl.Float64,
              "hi90": pl.Float64, "p_value": pl.Float64, "q_value": pl.Float64, "naive_effect": pl.Float64,
              "treated": pl.Int64, "observations": pl.Int64, "geos": pl.Int64, "reading": pl.Utf8}
    if not rows:
        return pl.DataFrame(schema=schema)
    q = multipletests([r["p_value"] for r in rows], method="fdr_bh")[1]
    return pl.DataFrame([{**r, "q_value": float(qi), "reading": _reading(r)} for r, qi in zip(rows, q)],
                        schema=schema)


def _with_outcome(panel: pl.DataFrame, outcome: pl.DataFrame) -> pl.DataFrame:
    """``panel`` on the geo-days of ``outcome`` (date, geo, outcome), its ``outcome`` replaced."""
    return panel.drop("outcome").join(outcome.select("date", "geo", "outcome"), on=["date", "geo"], how="inner")


def _shift(panel: pl.DataFrame) -> dict[str, float]:
    """Each geo's outcome shift (USD): :data:`REVENUE_SHIFT` times its mean revenue in the panel, as the data's."""
    return dict(panel.group_by("geo").agg(REVENUE_SHIFT * pl.col("revenue").mean()).iter_rows())


def true_outcome(panel: pl.DataFrame, contributions: pl.DataFrame) -> pl.DataFrame:
    """``panel`` (:func:`geo_panel`) with ``outcome`` replaced by the simulation's true log weather multiplier,
    shifted as the data are: ``log((expected + shift) / (expected - weather + shift))`` per geo-day, from
    ``tenant_true_contributions`` rows (date, geo, component, revenue USD), where ``weather`` is what the
    actual weather added to expected revenue against normal weather at the same spend. Run through the same
    designs, it gives the effect each design estimates, free of noise: what :func:`recovery` scores against.
    For checks on simulated tenants only; the designs themselves never see the truth."""
    truth = contributions.group_by("date", "geo").agg(
        expected=pl.col("revenue").sum(), weather=pl.col("revenue").filter(pl.col("component") == "weather").sum())
    shift = pl.col("geo").replace_strict(_shift(panel), return_dtype=pl.Float64)
    return _with_outcome(panel, truth.with_columns(
        outcome=((pl.col("expected") + shift) / (pl.col("expected") - pl.col("weather") + shift)).log()))


def model_outcome(panel: pl.DataFrame, dates: list, geos: list[str], actual: np.ndarray, normal: np.ndarray) -> pl.DataFrame:
    """``panel`` on a model's days with ``outcome`` replaced by the posterior mean of the model's log weather
    multiplier, shifted as the data are: ``log((actual + shift) / (normal + shift))`` per draw, geo and day, from
    the model's expected revenue under the actual and under normal weather (``actual``, ``normal``: [S, T, G] USD
    over ``dates`` and ``geos``; ``weather_mmm.models.mmm.geo_weather_draws``). The designs are linear in the
    outcome, so on it they give the posterior mean of the effect the model implies: what :func:`agreement`
    sets against the evidence."""
    shift = np.array([_shift(panel)[g] for g in geos])
    mean = np.log((actual + shift) / (normal + shift)).mean(0)  # [T, G]
    frame = pl.DataFrame({"date": np.repeat(np.array(dates, dtype="datetime64[D]"), len(geos)),
                          "geo": np.tile(geos, len(dates)), "outcome": mean.reshape(-1)}).with_columns(pl.col("date").cast(pl.Date))
    return _with_outcome(panel, frame)


def _labels(rows: pl.DataFrame) -> list[str]:
    return [f"{t}: {s}" for t, s in rows.select("tenant", "signal").rows()]


def recovery(evidence: pl.DataFrame, truth: pl.DataFrame) -> CheckOutcome:
    """Score the evidence of simulated tenants against the same designs run on the true outcome.

    Args:
        evidence: ``weather_evidence`` rows (tenant plus :data:`EVIDENCE_UNITS` columns).
        truth: tenant, design, signal, ``truth`` (log points): :func:`weather_evidence` on :func:`true_outcome`.

    Passes when the 90 % intervals hold the true effect for at least :data:`COVERAGE_BAR` of the tenant-signals
    and no effect found (q < :data:`Q_FOUND`) has the sign opposite to the truth's. Also reported: effects found
    where the truth has none (|truth| < :data:`NO_EFFECT`), and for the forecast design how far the estimate and
    the naive one are from the truth.
    """
    rows = evidence.join(truth, on=["tenant", "design", "signal"], how="inner")
    if rows.is_empty():
        return CheckOutcome(True, "no simulated tenant with weather evidence to score")
    rows = rows.with_columns(covered=pl.col("truth").is_between(pl.col("lo90"), pl.col("hi90")),
                             found=pl.col("q_value") < Q_FOUND)
    coverage = float(rows["covered"].mean())
    found = rows.filter(pl.col("found"))
    wrong = found.filter(pl.col("effect") * pl.col("truth") < 0)
    spurious = found.filter(pl.col("truth").abs() < NO_EFFECT)
    forecast = rows.filter(pl.col("design") == "forecast_surprise").with_columns(
        error=(pl.col("effect") - pl.col("truth")).abs(), naive_error=(pl.col("naive_effect") - pl.col("truth")).abs())
    passed = coverage >= COVERAGE_BAR and wrong.is_empty()
    summary = (f"{'' if passed else 'MISS '}90 % intervals hold the true effect for {coverage:.0%} of {rows.height} "
               f"tenant-signals (bar {COVERAGE_BAR:.0%}); {found.height} found at q < {Q_FOUND}, "
               f"{wrong.height} with the wrong sign" + (f" ({', '.join(_labels(wrong))})" if wrong.height else "")
               + f", {spurious.height} where the truth has none" + (f" ({', '.join(_labels(spurious))})" if spurious.height else ""))
    if forecast.height:
        summary += (f"; forecast-error design: {int((forecast['error'] < forecast['naive_error']).sum())} of "
                    f"{forecast.height} closer to the truth than the naive regression")
    by_design = rows.group_by("design").agg(pl.len().alias("rows"), pl.col("covered").mean().round(3).alias("coverage"),
                                            pl.col("found").sum().alias("found")).sort("design")
    return CheckOutcome(passed, summary, {
        "coverage": round(coverage, 3), "rows": rows.height, "found": found.height, "wrong_sign": _labels(wrong),
        "found_without_true_effect": _labels(spurious), "by_design": by_design.to_dicts(),
        "forecast_design": forecast.select("tenant", "signal", *[pl.col(c).round(5) for c in ("effect", "naive_effect", "truth")]).to_dicts(),
    })


def _pct(log_points: float) -> str:
    return f"{100 * np.expm1(log_points):+.1f} %"


def agreement(evidence: pl.DataFrame, implied: pl.DataFrame) -> CheckOutcome:
    """Whether the MMM's weather effects agree with the evidence, for every effect found (q < :data:`Q_FOUND`): the
    effect the model implies through the same design has the same sign (the pass condition: the evidence is
    significant, so a model that says the opposite is wrong or the design is), and lies inside the evidence's
    90 % interval (reported; the rest are named with both figures). No truth needed, so it speaks for imported
    tenants too. Inside the interval is not asked of every effect: an interval misses the truth one time in ten,
    and effects found are those whose estimates came out large.

    Args:
        evidence: ``weather_evidence`` rows (tenant plus :data:`EVIDENCE_UNITS` columns).
        implied: tenant, design, signal, ``model_effect`` (log points): :func:`weather_evidence` on
            :func:`model_outcome`.
    """
    found = evidence.filter(pl.col("q_value") < Q_FOUND).join(implied, on=["tenant", "design", "signal"], how="inner")
    if found.is_empty():
        return CheckOutcome(True, "no weather effect found by the evidence for a tenant with an MMM fit: nothing to compare")
    found = found.with_columns(inside=pl.col("model_effect").is_between(pl.col("lo90"), pl.col("hi90")),
                               same_sign=pl.col("model_effect") * pl.col("effect") > 0)

    def listed(rows: pl.DataFrame) -> list[str]:
        return [f"{t}: {s} {_pct(m)} vs {_pct(e)} [{_pct(lo)}, {_pct(hi)}]" for t, s, m, e, lo, hi in
                rows.select("tenant", "signal", "model_effect", "effect", "lo90", "hi90").rows()]

    opposite, outside = listed(found.filter(~pl.col("same_sign"))), listed(found.filter(~pl.col("inside")))
    summary = (f"the MMM's weather effect has the evidence's sign for {int(found['same_sign'].sum())} of {found.height} "
               f"effects found" + (f" (not, MMM vs evidence: {'; '.join(opposite)})" if opposite else "")
               + f", and lies inside its 90 % interval for {int(found['inside'].sum())}"
               + (f" (outside, MMM vs evidence: {'; '.join(outside)})" if outside else ""))
    return CheckOutcome(not opposite, summary, {"found": found.height, "same_sign": int(found["same_sign"].sum()),
                                                "inside": int(found["inside"].sum()), "opposite": opposite, "outside": outside})
