"""Static HTML reports (no server needed): one page per tenant and a portfolio page, from warehouse tables.

Every plot and number on a page is read from a table named next to it: ``tenant_features`` (actual
revenue), ``mmm_decomposition`` (fitted revenue and contributions), ``mmm_curves`` (response, adstock and
weather curves), ``mmm_effects`` and ``tenant_ground_truth`` (ROAS against the truth), ``mmm_diagnostics``,
``budget_allocation`` and ``allocation_summary`` (the plan), ``weather_evidence`` (the causal designs). Plots are PNG (matplotlib, Agg backend)
embedded in the page, so a page is one self-contained file.
"""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402

from weather_mmm.allocation.standing import describe  # noqa: E402
from weather_mmm.models.priors import DEFAULT_ROAS_PRIOR, interval  # noqa: E402
from weather_mmm.models.validation import time_split  # noqa: E402
from weather_mmm.reports import fit_facts, portfolio_summary, read_sql, table_names  # noqa: E402

TIERS = ["extreme", "high", "medium", "low"]
COLORS = {"baseline": "#9aa5b1", "weather": "#2b8cbe", "channel:meta": "#e6550d", "channel:google": "#31a354",
          "channel:email": "#756bb1"}
STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#1f2933}
h1{margin-bottom:0}.sub{color:#52606d;margin-top:.2em}figure{margin:1.5em 0}figcaption{color:#52606d;font-size:.9em}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #cbd2d9;padding:.3em .6em;text-align:right}
th{background:#f5f7fa}td:first-child,th:first-child{text-align:left}img{max-width:100%}.bad{color:#c0392b}"""

# Marks the body with how many plots the browser decoded (read by the headless-browser test).
RENDERED = ("addEventListener('load',()=>document.body.dataset.imagesRendered="
            "[...document.images].filter(i=>i.complete&&i.naturalWidth>0).length)")


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


@dataclass(frozen=True)
class Figure:
    """A rendered plot: PNG bytes as base64, its alt text and a caption naming its tables."""

    png: str
    alt: str
    caption: str

    @property
    def html(self) -> str:
        return (f'<figure><img alt="{html.escape(self.alt)}" src="data:image/png;base64,{self.png}">'
                f"<figcaption>{html.escape(self.caption)}</figcaption></figure>")

    @property
    def markdown(self) -> str:
        """Markdown with the image inline (rendered by the Dagster UI's Markdown metadata)."""
        return f"![{self.alt}](data:image/png;base64,{self.png})\n\n{self.caption}"


def _figure(fig, alt: str, caption: str) -> Figure:
    return Figure(_png(fig), alt, caption)


def _table(frame: pl.DataFrame, css_id: str) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>" for row in frame.iter_rows())
    return f'<table id="{css_id}"><tr>{head}</tr>{body}</table>'


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def _page(title: str, subtitle: str, body: str) -> str:
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style><script>{RENDERED}</script></head><body><h1>{html.escape(title)}</h1>"
            f'<p class="sub">{html.escape(subtitle)}</p>{body}</body></html>')


def _fit_plot(conn, tenant: str) -> Figure:
    dec = read_sql(conn, "select date, sum(revenue) fitted from main.mmm_decomposition where tenant = ? group by date order by date", tenant)
    actual = read_sql(conn, "select date, revenue from main.tenant_features where tenant = ? order by date", tenant)
    both = dec.join(actual, on="date")
    holdout_start = both["date"][int(time_split(both.height).holdout[0])]
    fig, ax = plt.subplots(figsize=(11, 3.6))
    ax.plot(both["date"], both["revenue"], lw=0.7, color="#52606d", label="actual")
    ax.plot(both["date"], both["fitted"], lw=1.0, color="#e6550d", label="MMM expected revenue")
    ax.axvspan(holdout_start, both["date"][-1], color="#fde0c5", alpha=0.5, label="holdout")
    ax.set_ylabel("revenue (USD/day)")
    ax.legend(loc="upper left", ncol=3, frameon=False)
    return _figure(fig, "actual vs fitted revenue", f"Actual and fitted daily revenue; the shaded part (from {holdout_start}) "
                   "is the holdout the model never saw. Tables: tenant_features, mmm_decomposition.")


def _contribution_plot(conn, tenant: str) -> Figure:
    dec = read_sql(conn, "select date_trunc('week', date) as week_start, component, avg(revenue) revenue from main.mmm_decomposition "
                 "where tenant = ? group by all order by week_start", tenant)
    wide = dec.pivot(on="component", index="week_start", values="revenue").sort("week_start").fill_null(0.0)
    parts = [c for c in ["baseline", *sorted(c for c in wide.columns if c.startswith("channel:"))] if c in wide.columns]
    fig, ax = plt.subplots(figsize=(11, 3.6))
    ax.stackplot(wide["week_start"], *[wide[c] for c in parts], labels=parts, colors=[COLORS.get(c, "#ccc") for c in parts], alpha=0.85)
    if "weather" in wide.columns:
        ax.plot(wide["week_start"], wide.select(pl.sum_horizontal(parts) + pl.col("weather")).to_series(), color=COLORS["weather"],
                lw=1.5, label="with weather")
    ax.set_ylabel("revenue (USD/day, weekly mean)")
    ax.legend(loc="upper left", ncol=5, frameon=False, fontsize=8)
    return _figure(fig, "contributions over time", "Baseline and each channel under normal weather, stacked; the blue line "
                   "adds what the actual weather added or removed. Table: mmm_decomposition.")


def _curve_plots(conn, tenant: str, have: set[str]) -> dict[str, Figure]:
    """``{kind}_curves`` figures for the kinds of curve the tenant has (response, adstock, weather)."""
    curves = read_sql(conn, "select * from main.mmm_curves where tenant = ?", tenant)
    plan = (read_sql(conn, "select channel, avg(current_spend) as current_usd, avg(recommended_spend) as recommended_usd "
                 "from main.budget_allocation where tenant = ? group by channel", tenant)
            if "budget_allocation" in have else pl.DataFrame(schema={"channel": pl.Utf8, "current_usd": pl.Float64,
                                                                     "recommended_usd": pl.Float64}))
    marks = {c: (cur, rec) for c, cur, rec in plan.iter_rows()}
    out = {}
    for kind, xlabel, ylabel, caption in (
        ("response", "steady spend (USD/day)", "incremental revenue (USD/day)",
         "Response curves (posterior mean, 90 % band) under normal weather; dashed: current spend, solid: recommended."),
        ("adstock", "days after spend", "share of the spend's effect", "Adstock (carryover) per channel, 90 % band."),
        ("weather", "signal held for 4 days (°C·day, mm, cm)", "demand multiplier",
         "Weather response: the multiplier of demand as heating/cooling degree days, rain or snow rise, 90 % band."),
    ):
        rows = curves.filter(pl.col("kind") == kind)
        keys = sorted(rows["key"].unique().to_list())
        if not keys:
            continue
        fig, axes = plt.subplots(1, len(keys), figsize=(3.0 * len(keys), 2.8), squeeze=False)
        for ax, key in zip(axes[0], keys):
            r = rows.filter(pl.col("key") == key).sort("x")
            color = COLORS.get(f"channel:{key}", "#2b8cbe")
            ax.fill_between(r["x"], r["lo90"], r["hi90"], color=color, alpha=0.25)
            ax.plot(r["x"], r["mean"], color=color)
            if kind == "response" and key in marks:
                ax.axvline(marks[key][0], color="#52606d", ls="--", lw=1)
                ax.axvline(marks[key][1], color="#1f2933", lw=1.2)
            ax.set_title(key, fontsize=10)
            ax.set_xlabel(xlabel, fontsize=8)
        axes[0][0].set_ylabel(ylabel, fontsize=8)
        fig.tight_layout()
        out[f"{kind}_curves"] = _figure(fig, f"{kind} curves", caption + " Table: mmm_curves.")
    return out


def _roas(conn, tenant: str, have: set[str]) -> tuple[Figure, pl.DataFrame]:
    default = interval(DEFAULT_ROAS_PRIOR)  # a channel without a stated prior has the default
    roas = read_sql(conn, "select r.key channel, r.mean, r.lo90, r.hi90, coalesce(p.lo90, ?) prior_lo90, "
                          "coalesce(p.hi90, ?) prior_hi90 from main.mmm_effects r left join main.mmm_effects p "
                          "on p.tenant = r.tenant and p.key = r.key and p.kind = 'stated_prior' "
                          "where r.tenant = ? and r.kind = 'roas' order by r.key", *default, tenant)
    if "tenant_ground_truth" in have:
        truth = read_sql(conn, "select key channel, value true_roas from main.tenant_ground_truth "
                 "where tenant = ? and parameter = 'true_roas'", tenant)
        roas = roas.join(truth, on="channel", how="left")
    fig, ax = plt.subplots(figsize=(5, 2.8))
    y = range(roas.height)
    ax.hlines([i - 0.25 for i in y], roas["prior_lo90"], roas["prior_hi90"], color="#9aa5b1", lw=3, label="prior, 90 %")
    ax.errorbar(roas["mean"], list(y), xerr=[roas["mean"] - roas["lo90"], roas["hi90"] - roas["mean"]], fmt="o",
                color="#e6550d", label="MMM, 90 % interval")
    if "true_roas" in roas.columns and roas["true_roas"].drop_nulls().len():
        ax.scatter(roas["true_roas"], list(y), marker="x", s=60, color="#1f2933", label="true", zorder=3)
    ax.set_yticks(list(y), roas["channel"].to_list())
    ax.set_xlabel("ROAS (USD revenue per USD spend)")
    ax.legend(frameon=False, fontsize=8)
    return _figure(fig, "ROAS against the truth", "ROAS per channel with its 90 % interval; x marks the simulation's "
                   "true ROAS; grey, the prior's 90 % interval (the team's stated one, or the default), what the fit "
                   "believed before the data. Tables: mmm_effects, tenant_ground_truth."), roas


def _allocation_plot(summary: pl.DataFrame) -> Figure:
    channels = summary.filter(pl.col("channel") != "all").sort("channel")
    fig, ax = plt.subplots(figsize=(5, 2.8))
    x = range(channels.height)
    ax.bar([i - 0.2 for i in x], channels["current_spend"], width=0.4, color="#9aa5b1", label="current")
    ax.bar([i + 0.2 for i in x], channels["recommended_spend"], width=0.4, color="#e6550d", label="recommended")
    ax.set_xticks(list(x), channels["channel"].to_list())
    ax.set_ylabel("spend over the horizon (USD)")
    ax.legend(frameon=False, fontsize=8)
    return _figure(fig, "allocation before and after", "Spend per channel over the planning horizon, current and "
                   "recommended. Tables: budget_allocation, allocation_summary.")


def _allocation_section(conn, tenant: str, have: set[str]) -> str:
    if "allocation_summary" not in have:
        return "<p>No allocation for this tenant yet.</p>"
    summary = read_sql(conn, "select * from main.allocation_summary where tenant = ?", tenant)
    if summary.is_empty():
        return "<p>No allocation for this tenant: its newest fit is not usable (see the diagnostics above).</p>"
    channels = summary.filter(pl.col("channel") != "all").sort("channel")
    total = summary.filter(pl.col("channel") == "all").row(0, named=True)
    constrained = describe(json.loads(total["constraints"])) if total.get("constraints") else ""
    lift = (f"<p id=\"lift\">Expected lift over the current allocation: {total['lift_mean']:,.0f} USD "
            f"(90 % interval {total['lift_lo90']:,.0f} to {total['lift_hi90']:,.0f}) over the horizon.</p>"
            + (f"<p id=\"constraints\">Planned under: {html.escape(constrained)}.</p>" if constrained else "")
            + f"<p>{html.escape(total['explanation'] or '')}</p>")
    table = channels.select("channel", current_usd="current_spend", recommended_usd="recommended_spend",
                            min_usd_day="min_daily", max_usd_day="max_daily",
                            mroas="mroas_mean", saturation="saturation", weather_multiplier="weather_multiplier")
    return _allocation_plot(summary).html + lift + _table(table, "allocation")


def _evidence_section(conn, tenant: str, have: set[str]) -> str:
    if "weather_evidence" not in have:
        return "<p>No weather evidence for this tenant yet.</p>"
    rows = read_sql(conn, "select reading, q_value from main.weather_evidence where tenant = ? order by design, signal", tenant)
    if rows.is_empty():
        return "<p>No design applies: the tenant sells in one city and planned on no forecast.</p>"
    return ("<p>Without the MMM: weather shocks in one city against the tenant's other cities the same day, and the "
            "weather its planning forecast did not foresee. Table: weather_evidence.</p>"
            + _table(rows.select(pl.col("reading").alias("finding"), pl.col("q_value").round(4)), "evidence"))


def tenant_figures(conn: duckdb.DuckDBPyConnection, tenant: str) -> dict[str, Figure]:
    """The tenant page's plots that its tables allow, by name: ``fit``, ``contributions``, ``roas``,
    ``response_curves``, ``adstock_curves``, ``weather_curves``, ``allocation``. Reads the tables the
    captions name from ``conn`` (the warehouse, or an in-memory database holding a run's fresh tables)."""
    have = table_names(conn)
    figures = {}
    if {"mmm_decomposition", "tenant_features"} <= have:
        figures["fit"] = _fit_plot(conn, tenant)
    if "mmm_decomposition" in have:
        figures["contributions"] = _contribution_plot(conn, tenant)
    if "mmm_effects" in have:
        figures["roas"] = _roas(conn, tenant, have)[0]
    if "mmm_curves" in have:
        figures.update(_curve_plots(conn, tenant, have))
    if "allocation_summary" in have:
        figures["allocation"] = _allocation_plot(read_sql(conn, "select * from main.allocation_summary where tenant = ?", tenant))
    return figures


def tenant_report(conn: duckdb.DuckDBPyConnection, tenant: str, out_dir: Path) -> Path:
    """Write ``<out_dir>/<tenant>.html`` and return its path.

    Raises:
        ValueError: the tenant has no MMM fit in the warehouse (``mmm_diagnostics``), naming it.
    """
    facts = fit_facts(conn, tenant)
    have = table_names(conn)
    tier = conn.execute("select tier from main.tenant_catalog where tenant = ?", [tenant]).fetchone()
    roas_plot, roas = _roas(conn, tenant, have)
    curves = "".join(f.html for f in _curve_plots(conn, tenant, have).values()) if "mmm_curves" in have else "<p>No curves yet.</p>"
    body = (f"<h2>Fit</h2>{_table(facts, 'diagnostics')}{_fit_plot(conn, tenant).html}"
            f"<h2>Where revenue comes from</h2>{_contribution_plot(conn, tenant).html}"
            f"<h2>ROAS</h2>{roas_plot.html}{_table(roas, 'roas')}"
            f"<h2>Curves</h2>{curves}"
            f"<h2>Weather evidence</h2>{_evidence_section(conn, tenant, have)}"
            f"<h2>Next week's budget</h2>{_allocation_section(conn, tenant, have)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{tenant}.html"
    path.write_text(_page(f"{tenant}", f"tier {tier[0] if tier else '?'} · weather-mmm report", body), encoding="utf-8")
    return path


def portfolio_report(conn: duckdb.DuckDBPyConnection, out_dir: Path) -> Path:
    """Write ``<out_dir>/index.html``: the portfolio table (``reports.portfolio_summary``), holdout R² and ROAS
    error by tier, weather share (estimated vs true) by tier, and links to the tenant pages."""
    have = table_names(conn)
    summary = portfolio_summary(conn)
    body = ""
    if {"mmm_effects", "mmm_diagnostics", "tenant_catalog"} <= have:
        diag = read_sql(conn, "select d.tenant, c.tier, d.holdout_r2 from main.mmm_diagnostics d join main.tenant_catalog c using (tenant)")
        effects = read_sql(conn, "select e.tenant, e.kind, e.key, e.mean from main.mmm_effects e")
        truth = (read_sql(conn, "select tenant, key, parameter, value from main.tenant_ground_truth where parameter in ('true_roas', 'weather_share')")
                 if "tenant_ground_truth" in have else pl.DataFrame(schema={"tenant": pl.Utf8, "key": pl.Utf8, "parameter": pl.Utf8, "value": pl.Float64}))
        tiers = dict(diag.select("tenant", "tier").iter_rows())
        roas = effects.filter(pl.col("kind") == "roas").join(
            truth.filter(pl.col("parameter") == "true_roas").select("tenant", "key", true="value"), on=["tenant", "key"])
        roas = roas.with_columns(error=((pl.col("mean") - pl.col("true")) / pl.col("true")).abs(),
                                 tier=pl.col("tenant").replace_strict(tiers, default=None))
        share = effects.filter(pl.col("kind") == "weather_share").join(
            truth.filter(pl.col("parameter") == "weather_share").select("tenant", true="value"), on="tenant", how="left"
        ).with_columns(tier=pl.col("tenant").replace_strict(tiers, default=None))
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
        present = [t for t in TIERS if t in set(tiers.values())]
        axes[0].boxplot([diag.filter(pl.col("tier") == t)["holdout_r2"].to_list() for t in present], tick_labels=present)
        axes[0].set_title("MMM holdout R² by tier", fontsize=10)
        if roas.height:
            axes[1].boxplot([roas.filter(pl.col("tier") == t)["error"].to_list() or [float("nan")] for t in present], tick_labels=present)
        axes[1].set_title("|ROAS error| / true ROAS by tier", fontsize=10)
        for i, t in enumerate(present):
            s = share.filter(pl.col("tier") == t)
            axes[2].scatter([i - 0.1] * s.height, 100 * s["mean"], color="#e6550d", label="estimated" if i == 0 else None)
            axes[2].scatter([i + 0.1] * s.height, 100 * s["true"].fill_null(float("nan")), marker="x", color="#1f2933",
                            label="true" if i == 0 else None)
        axes[2].set_xticks(range(len(present)), present)
        axes[2].set_title("weather share of revenue (%) by tier", fontsize=10)
        axes[2].legend(frameon=False, fontsize=8)
        fig.tight_layout()
        body += _figure(fig, "portfolio by tier", "Holdout R², ROAS error and weather share by weather-sensitivity tier. "
                        "Tables: mmm_diagnostics, mmm_effects, tenant_ground_truth, tenant_catalog.").html
    links = "".join(f'<li><a href="{html.escape(t)}.html">{html.escape(t)}</a></li>' for t in summary["tenant"]) if summary.height else ""
    body = (_table(summary, "portfolio") if summary.height else "<p>No tenant has a model yet.</p>") + body + f"<ul>{links}</ul>"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "index.html"
    path.write_text(_page("weather-mmm portfolio", "every simulated and imported tenant with a model", body), encoding="utf-8")
    return path


def write_reports(conn: duckdb.DuckDBPyConnection, out_dir: Path) -> list[Path]:
    """The portfolio page and one page per tenant with an MMM fit; returns the paths written."""
    tenants = (read_sql(conn, "select tenant from main.mmm_diagnostics order by tenant")["tenant"].to_list()
               if "mmm_diagnostics" in table_names(conn) else [])
    return [portfolio_report(conn, out_dir), *(tenant_report(conn, t, out_dir) for t in tenants)]
