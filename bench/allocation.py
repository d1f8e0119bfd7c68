"""Benchmark: the allocation objective, valued on the truth, from the fits a main job stored.

Run: ``.venv/bin/python bench/allocation.py [0,1.2816]`` after ``./dev main`` (reads ``storage/``; the argument lists
risk aversions, default 0 and 1.2816). For each simulated tenant with a usable model version it plans the same
horizon as ``budget_allocation`` (the simulated forecast, the spend of the 28 days before) with each risk
aversion (0: the posterior-mean plan; above 0, ``optimize.allocate``'s two-step choice), then prints what ``allocation_beats_current_in_truth`` would say: the plans' true gain over the
current allocation, and the share of the truly optimal uplift they capture (~1 min for 18 tenants per value).
Last, where the plans' uplift goes: per tenant and channel, the fit's marginal ROAS at the current allocation over
the horizon (posterior mean and 90 % interval) against the true one (``TruePlans.marginal_roas``), and which way
the optimal plan and the posterior-mean plan move the channel; an allocator can only move budget the right way
where these agree.
"""

import sys
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assets.allocation import plan_inputs  # noqa: E402
from assets.models import tenant_matrix  # noqa: E402
from weather_mmm.allocation import quality  # noqa: E402
from weather_mmm.allocation.optimize import Constraints, allocate  # noqa: E402
from weather_mmm.models import store  # noqa: E402
from weather_mmm.simulation.catalog import get_profile  # noqa: E402
from weather_mmm.simulation.plans import TruePlans  # noqa: E402
from weather_mmm.settings import warehouse_path  # noqa: E402
from weather_mmm.weather.climatology import load_climatology  # noqa: E402


def main() -> None:
    risks = [float(r) for r in (sys.argv[1] if len(sys.argv) > 1 else "0,1.2816").split(",")]
    clim = load_climatology()  # for valuing plans on the truth
    plans = {r: ([], []) for r in risks}
    marginal = []
    with duckdb.connect(str(warehouse_path()), read_only=True) as conn:
        weather = pl.from_arrow(conn.execute("select * from main.weather_daily").to_arrow_table())
        tenants = [t for (t,) in conn.execute("select distinct tenant from main.model_versions where status = 'usable' "
                                              "and tenant in (select tenant from main.tenant_catalog where source = 'simulated') "
                                              "order by tenant").fetchall()]
        for tenant in tenants:
            fit = store.load_fit(Path(store.usable_version(conn, tenant)["path"]))
            matrix, _, geos = tenant_matrix(conn, tenant)
            dates, horizon, history, _, _ = plan_inputs(conn, tenant, fit, geos, matrix["date"].max())
            mean_plan = allocate(fit, history, horizon, dates, Constraints(), risk_aversion=0.0)
            for r in risks:
                a = mean_plan if r == 0 else allocate(fit, history, horizon, dates, Constraints(), risk_aversion=r)
                plans[r][0].append(a.table(tenant))
                plans[r][1].append(a.summary(tenant))
            marginal.append(_marginal_rows(tenant, mean_plan, weather, clim))
    for r in risks:
        values = quality.true_plan_values(pl.concat(plans[r][0]), pl.concat(plans[r][1], how="diagonal_relaxed"), weather, clim)
        print(f"risk aversion {r}: {quality.truth_outcome(values).summary}")
        print(values.with_columns(plan_gain=(pl.col("recommended") / pl.col("current") - 1).round(4),
                                  optimal_gain=(pl.col("optimal") / pl.col("current") - 1).round(4))
              .select("tenant", "plan_gain", "optimal_gain"))
    rows = pl.concat(marginal)
    inside = rows.filter(pl.col("true").is_between("lo90", "hi90")).height
    print(f"marginal ROAS at the current allocation, fit against truth: the true one inside the 90 % interval for {inside} "
          f"of {rows.height} tenant-channels; median absolute relative error "
          f"{(rows['mean'] / rows['true'] - 1).abs().median():.0%}; the posterior-mean plan moves a channel the optimal plan's "
          f"way for {rows.filter(pl.col('mean_plan').sign() == pl.col('optimal_plan').sign()).height} of {rows.height}")
    with pl.Config(tbl_rows=-1):
        print(rows.with_columns(pl.col("mean", "lo90", "hi90", "true").round(2), pl.col("mean_plan", "optimal_plan").round(3)))


def _marginal_rows(tenant: str, mean_plan, weather: pl.DataFrame, climatology: dict) -> pl.DataFrame:
    """Per channel of ``tenant``: the fit's marginal ROAS at the current allocation (mean, lo90, hi90), the true one, and
    the change of its spend (share) in the posterior-mean plan and in the truly optimal plan (same bounds, budget)."""
    truth = TruePlans(get_profile(tenant), weather, climatology, weather["date"].max(), mean_plan.dates)
    order = [mean_plan.channels.index(c) for c in truth.channels]  # the fit's channel order -> the catalog's
    current = np.tile(mean_plan.current[order], (len(mean_plan.dates), 1))
    optimal = truth.optimal(mean_plan.bounds[order], mean_plan.budget, current).mean(0) / current[0] - 1
    true = truth.marginal_roas(current)
    return pl.DataFrame([{"tenant": tenant, "channel": c, **mean_plan.mroas_current[c], "true": true[k],
                          "mean_plan": mean_plan.recommended[:, mean_plan.channels.index(c)].mean() / current[0, k] - 1,
                          "optimal_plan": optimal[k]} for k, c in enumerate(truth.channels)])


if __name__ == "__main__":
    main()
