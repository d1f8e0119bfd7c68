"""Summaries people read, built from warehouse tables (every figure traceable to a table)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl
from scipy.stats import norm

from weather_mmm.errors import WeatherMMMError


def open_warehouse(path: Path, read_only: bool = True, wait_seconds: float = 120.0,
                   on_wait: Callable[[str], None] | None = None) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse at ``path``, read-only unless told. DuckDB lets one process write a file and
    no other process open it meanwhile (https://duckdb.org/docs/stable/connect/concurrency), so while a run
    writes (the UI's daemon, another ``weather-mmm run``) this waits, retrying with backoff as dagster-duckdb's
    writers do, up to ``wait_seconds``; ``on_wait`` is told once, with DuckDB's reason, when it starts waiting.

    Raises:
        WeatherMMMError: the file is still locked after ``wait_seconds`` (names it and DuckDB's reason,
            which gives the process holding it)."""
    deadline, delay = time.monotonic() + wait_seconds, 0.1
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() + delay > deadline:
                raise WeatherMMMError(f"cannot {'read' if read_only else 'write'} the warehouse {path}: {exc}") from None
            if on_wait and delay == 0.1:
                on_wait(f"waiting up to {wait_seconds:.0f} s for the warehouse {path}: {exc}")
            time.sleep(delay)
            delay = min(2 * delay, 5.0)


def tenant_summary(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Per tenant: tier, source (simulated | imported), days, revenue (USD/day), spend (USD/day), and for a
    simulated tenant its true ROAS per channel and true weather share (null for an imported one).

    Sources: ``tenant_catalog``, ``tenant_sales``, ``tenant_spend``, ``tenant_ground_truth``; empty before
    they exist.
    """
    if not {"tenant_catalog", "tenant_sales", "tenant_spend", "tenant_ground_truth"} <= table_names(conn):
        return pl.DataFrame()
    return pl.from_arrow(conn.execute("""
        with sales as (select tenant, count(distinct date) n_days, sum(revenue) / count(distinct date) revenue_per_day
                       from main.tenant_sales group by tenant),
             spend as (select tenant, sum(spend) / count(distinct date) spend_per_day from main.tenant_spend group by tenant),
             truth as (select tenant,
                              max(value) filter (where parameter = 'true_roas' and key = 'meta') true_roas_meta,
                              max(value) filter (where parameter = 'true_roas' and key = 'google') true_roas_google,
                              max(value) filter (where parameter = 'true_roas' and key = 'email') true_roas_email,
                              max(value) filter (where parameter = 'weather_share') true_weather_share
                       from main.tenant_ground_truth group by tenant)
        select c.tenant, c.tier, c.source, s.n_days as days, round(s.revenue_per_day) revenue_usd_day, round(p.spend_per_day) spend_usd_day,
               round(t.true_roas_meta, 2) roas_meta, round(t.true_roas_google, 2) roas_google,
               round(t.true_roas_email, 2) roas_email, round(100 * t.true_weather_share, 1) weather_share_pct
        from main.tenant_catalog c join sales s using (tenant) join spend p using (tenant) left join truth t using (tenant)
        order by array_position(['extreme', 'high', 'medium', 'low'], c.tier), c.tenant
    """).to_arrow_table())


def table_names(conn: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in conn.execute("select table_name from information_schema.tables where table_schema = 'main'").fetchall()}


def read_sql(conn: duckdb.DuckDBPyConnection, sql: str, *params) -> pl.DataFrame:
    """The result of ``sql`` (with ``?`` placeholders bound to ``params``) as a Polars frame."""
    return pl.from_arrow(conn.execute(sql, list(params)).to_arrow_table())


def portfolio_summary(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The main job's closing table, one row per tenant with a model: tier; holdout R² of the best baseline and
    of the MMM; per channel the MMM's ROAS with its 90 % interval next to the true ROAS; the weather share of
    revenue (estimated vs true, %); the fit's model version's status now (``rolled_back`` once rolled back); the ROAS
    priors its team stated (90 % intervals); the lift tests it was calibrated with (the test's ROAS, then the fit's
    for the same spend); the recommended change of budget per channel ("keep the
    current allocation" when no channel moves by 0.5 %; "no plan" without a usable model version; marked when
    the posterior-mean plan was not sure enough to beat the current allocation and the risk-adjusted plan was
    taken; naming the constraint fields set, standing or the run's) and the expected lift (USD over the horizon, 90 % interval).

    Sources: ``tenant_catalog``, ``baseline_summary``, ``mmm_diagnostics``, ``model_versions``, ``mmm_effects``,
    ``tenant_ground_truth``, ``allocation_summary``. Missing tables leave their columns empty.
    """
    have = table_names(conn)
    if "tenant_catalog" not in have:
        return pl.DataFrame()
    rows = read_sql(conn, "select tenant, tier from main.tenant_catalog")
    if "baseline_summary" in have:
        rows = rows.join(read_sql(conn, "select tenant, round(holdout_r2, 3) r2_best_baseline from main.baseline_summary where best"),
                         on="tenant", how="left")
    if "mmm_diagnostics" not in have:
        return rows
    status = ("coalesce(v.status, d.status)", "left join main.model_versions v on v.tenant = d.tenant and v.version = d.model_version") \
        if "model_versions" in have else ("d.status", "")  # the status now: the fit may have been rolled back since
    rows = rows.join(read_sql(conn, f"select d.tenant, round(d.holdout_r2, 3) r2_mmm, {status[0]} model_status "
                                    f"from main.mmm_diagnostics d {status[1]}"), on="tenant", how="inner")
    effects = read_sql(conn, "select * from main.mmm_effects")
    truth = (read_sql(conn, "select tenant, key, parameter, value from main.tenant_ground_truth "
                         "where parameter in ('true_roas', 'weather_share')")
             if "tenant_ground_truth" in have else pl.DataFrame(schema={"tenant": pl.Utf8, "key": pl.Utf8, "parameter": pl.Utf8, "value": pl.Float64}))
    true_roas = {(t, k): v for t, k, p, v in truth.iter_rows() if p == "true_roas"}
    true_share = {t: v for t, k, p, v in truth.iter_rows() if p == "weather_share"}
    plans = read_sql(conn, "select * from main.allocation_summary") if "allocation_summary" in have else None
    extra = []
    for tenant in rows["tenant"]:
        e = effects.filter(pl.col("tenant") == tenant)
        out = {"tenant": tenant}
        for r in e.filter(pl.col("kind") == "roas").sort("key").iter_rows(named=True):
            true = true_roas.get((tenant, r["key"]))
            out[f"roas_{r['key']}"] = (f"{r['mean']:.2f} [{r['lo90']:.2f}, {r['hi90']:.2f}]"
                                       + (f" vs {true:.2f}" if true is not None else ""))
        stated = e.filter(pl.col("kind") == "stated_prior").sort("key")
        if stated.height:
            out["stated_roas_prior"] = ", ".join(f"{k} [{lo:.2f}, {hi:.2f}]" for k, lo, hi in stated.select("key", "lo90", "hi90").iter_rows())
        tests = e.filter(pl.col("kind") == "lift_test")
        if tests.height:
            out["lift_test_roas"] = ", ".join(f"{k} {p:.2f}, fit {m:.2f}" for k, p, m in tests.select("key", "prior", "mean").iter_rows())
        share = e.filter(pl.col("kind") == "weather_share")
        if share.height:
            out["weather_share_pct"] = f"{100 * share['mean'][0]:+.1f}" + (
                f" vs {100 * true_share[tenant]:+.1f}" if tenant in true_share else "")
        if plans is not None and (p := plans.filter(pl.col("tenant") == tenant)).height:
            moves = [(c, r / cur - 1) for c, cur, r in p.filter(pl.col("channel") != "all").sort("channel")
                     .select("channel", "current_spend", "recommended_spend").iter_rows() if cur > 0]
            a = p.filter(pl.col("channel") == "all").row(0, named=True)
            careful = a.get("plan_choice") == "risk-adjusted"  # a warehouse written before the column has none
            constrained = ", ".join(json.loads(a["constraints"])) if a.get("constraints") else ""
            out["budget_change"] = (
                ", ".join(f"{c} {change:+.0%}" for c, change in moves) + (" (risk-adjusted)" if careful else "")
                if any(abs(change) >= 0.005 for _, change in moves) else "keep the current allocation" + (
                    f" (the best plan is less than {norm.cdf(a['risk_aversion']):.0%} sure to gain)" if careful else "")
            ) + (f"; under set {constrained}" if constrained else "")
            lift = [round(a[k]) for k in ("lift_mean", "lift_lo90", "lift_hi90")]  # whole USD, never "-0"
            out["lift_usd"] = f"{lift[0]:+,} [{lift[1]:+,}, {lift[2]:+,}]"
        else:
            out["budget_change"] = "no plan: no usable model version"
        extra.append(out)
    return rows.join(pl.DataFrame(extra), on="tenant", how="left").sort(
        pl.col("tier").replace_strict({"extreme": 0, "high": 1, "medium": 2, "low": 3}, default=4), "tenant")


def fit_facts(conn: duckdb.DuckDBPyConnection, tenant: str) -> pl.DataFrame:
    """One tenant's fit as two columns, ``figure`` and ``value`` (text with units): holdout R² and MAPE of
    the MMM and of the best baseline, 90 % predictive coverage on the holdout, max R-hat, min bulk ESS (of
    ROAS and the weather share, and of every parameter), divergences, fit seconds, model version, status and
    the inputs whose recent values lie outside the training window.

    Sources: ``mmm_diagnostics``, ``mmm_effects``, ``baseline_summary``, ``model_versions`` (the status now, when
    the version was rolled back since). Raises ``ValueError`` naming the
    tenant when it has no row in ``mmm_diagnostics``."""
    have = table_names(conn)
    found = read_sql(conn, "select * from main.mmm_diagnostics where tenant = ?", tenant) if "mmm_diagnostics" in have else None
    if found is None or found.is_empty():
        raise ValueError(f"tenant {tenant}: no MMM fit in the warehouse; materialize mmm_fit for it first")
    diag = found.row(0, named=True)
    effect_ess = conn.execute("select min(ess) from main.mmm_effects where tenant = ? and kind in ('roas', 'weather_share')",
                              [tenant]).fetchone()[0] if "mmm_effects" in have else None
    best = conn.execute("select model, holdout_r2, holdout_mape from main.baseline_summary where tenant = ? and best",
                        [tenant]).fetchone() if "baseline_summary" in have else None
    status = f"{diag['status']}: {diag['status_reason']}"
    now = conn.execute("select status, reason from main.model_versions where tenant = ? and version = ?",
                       [tenant, diag["model_version"]]).fetchone() if "model_versions" in have else None
    if now and now[0] != diag["status"]:  # rolled back (or put back) since the fit
        status = f"{now[0]}: {now[1]} (at fit time {status})"
    return pl.DataFrame({
        "figure": ["holdout R²", "holdout MAPE", "best baseline: holdout R², MAPE", "90 % predictive coverage", "max R-hat",
                   "min bulk ESS, ROAS and weather share", "min bulk ESS, every parameter", "divergences", "fit seconds",
                   "model version", "status", "inputs outside the training window"],
        "value": [f"{diag['holdout_r2']:.3f}", f"{diag['holdout_mape']:.1%}",
                  f"{best[0]}: {best[1]:.3f}, {best[2]:.1%}" if best else "", f"{diag['coverage90']:.0%}",
                  f"{diag['max_rhat']:.3f}", "" if effect_ess is None else f"{effect_ess:.0f}", f"{diag['min_ess']:.0f}",
                  f"{diag['divergences']} of {diag['draws']} draws", f"{diag['fit_seconds']:.1f}", str(diag["model_version"]),
                  status, diag.get("shifted_inputs") or "none"]})


def version_figures(conn: duckdb.DuckDBPyConnection, tenant: str, version: str) -> pl.DataFrame:
    """One stored model version of ``tenant``, whichever is in use, as two columns, ``figure`` and ``value``: its
    row of ``model_versions`` (fitted when, by which model, on which inputs, holdout R² and MAPE, status) and what
    its draws say, computed from the model store's artifact: ROAS and marginal ROAS per channel with 90 %
    intervals (next to the true ROAS of a simulated tenant, ``tenant_ground_truth``), the weather share, and the
    ROAS priors its team stated. The ``mmm_*`` tables hold the newest fit only; this reads any.

    Raises:
        WeatherMMMError: the tenant has no such version (names the ones it has), or its artifact is missing or was
            fitted by an earlier model (``store.load_fit``'s reason).
    """
    from weather_mmm.models import mmm, store

    rows = store.versions(conn, tenant)
    found = rows.filter(pl.col("version") == version)
    if found.is_empty():
        raise WeatherMMMError(f"tenant {tenant} has no model version {version} (versions: "
                              f"{', '.join(rows['version'].to_list()) or 'none'})")
    row = found.row(0, named=True)
    try:
        effects = mmm.effects_table(mmm.effects(store.load_fit(Path(row["path"]))))
    except (FileNotFoundError, ValueError) as error:
        raise WeatherMMMError(f"tenant {tenant}, version {version}: {error}") from None
    truth = dict(conn.execute("select key, value from main.tenant_ground_truth where tenant = ? and parameter = 'true_roas'",
                              [tenant]).fetchall()) if "tenant_ground_truth" in table_names(conn) else {}
    figures = {"model version": version, "fitted (UTC)": f"{row['created_at']:%Y-%m-%d %H:%M:%S}",
               "model, data fingerprint": f"{row['code_version']}, {row['data_fingerprint'][:8]}",
               "holdout R², MAPE": f"{row['holdout_r2']:.3f}, {row['holdout_mape']:.1%}",
               "status": f"{row['status']}: {row['reason']}"}
    for kind, label in (("roas", "ROAS"), ("mroas", "marginal ROAS"), ("stated_prior", "stated ROAS prior")):
        for key, mean, lo, hi in effects.filter(pl.col("kind") == kind).sort("key").select("key", "mean", "lo90", "hi90").iter_rows():
            figures[f"{label}, {key}"] = f"{mean:.2f} [{lo:.2f}, {hi:.2f}]" + (
                f" vs {truth[key]:.2f}" if kind == "roas" and key in truth else "")
    share = effects.filter(pl.col("kind") == "weather_share").row(0, named=True)
    figures["weather share"] = f"{share['mean']:+.1%} [{share['lo90']:+.1%}, {share['hi90']:+.1%}]"
    return pl.DataFrame({"figure": list(figures), "value": list(figures.values())})


def evidence_summary(conn: duckdb.DuckDBPyConnection, q_found: float = 0.05) -> pl.DataFrame:
    """The weather effects the causal designs found (q-value below ``q_found``), one row per tenant, design and
    signal: tier, the effect as a relative change of revenue per unit of the signal with its 90 % interval (%),
    the p-value and the unit. Source: ``weather_evidence`` (``weather_mmm.causal``), ``tenant_catalog``; empty
    before they exist."""
    if not {"weather_evidence", "tenant_catalog"} <= table_names(conn):
        return pl.DataFrame()
    rows = read_sql(conn, "select e.*, c.tier from main.weather_evidence e join main.tenant_catalog c using (tenant) "
                          "where q_value < ?", q_found)
    change = [f"{e:+.1f} [{lo:+.1f}, {hi:+.1f}]" for e, lo, hi in
              (100 * rows.select(pl.col("effect", "lo90", "hi90").exp() - 1)).iter_rows()]
    return rows.select("tenant", "tier", "design", "signal", pl.Series("revenue_change_pct", change, pl.Utf8),
                       pl.col("p_value").round(4), "unit").sort(
        pl.col("tier").replace_strict({"extreme": 0, "high": 1, "medium": 2, "low": 3}, default=4), "tenant", "design", "signal")
