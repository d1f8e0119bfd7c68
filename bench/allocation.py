"""Benchmark: the allocation objective, valued on the truth, from the fits a main job stored.

Run: ``.venv/bin/python bench/allocation.py [0,1.2816]`` after ``./dev main`` (reads ``storage/``; the argument lists
risk aversions, default 0 and 1.2816). For each simulated tenant with a usable model version it plans the same
horizon as ``budget_allocation`` (the simulated forecast, the spend of the 28 days before) with each risk
aversion (0: the posterior-mean plan; above 0, ``optimize.allocate``'s two-step choice), then prints what ``allocation_beats_current_in_truth`` would say: the plans' true gain over the
current allocation, and the share of the truly optimal uplift they capture (~1 min for 18 tenants per value).
"""

import sys
from pathlib import Path

import duckdb
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assets.allocation import plan_inputs  # noqa: E402
from assets.models import tenant_matrix  # noqa: E402
from weather_mmm.allocation import quality  # noqa: E402
from weather_mmm.allocation.optimize import Constraints, allocate  # noqa: E402
from weather_mmm.models import store  # noqa: E402
from weather_mmm.settings import warehouse_path  # noqa: E402
from weather_mmm.weather.climatology import load_climatology  # noqa: E402


def main() -> None:
    risks = [float(r) for r in (sys.argv[1] if len(sys.argv) > 1 else "0,1.2816").split(",")]
    clim = load_climatology()  # for valuing plans on the truth
    plans = {r: ([], []) for r in risks}
    with duckdb.connect(str(warehouse_path()), read_only=True) as conn:
        weather = pl.from_arrow(conn.execute("select * from main.weather_daily").to_arrow_table())
        tenants = [t for (t,) in conn.execute("select distinct tenant from main.model_versions where status = 'usable' "
                                              "and tenant in (select tenant from main.tenant_catalog where source = 'simulated') "
                                              "order by tenant").fetchall()]
        for tenant in tenants:
            fit = store.load_fit(Path(store.usable_version(conn, tenant)["path"]))
            matrix, _, geos = tenant_matrix(conn, tenant)
            dates, horizon, history, _, _ = plan_inputs(conn, tenant, fit, geos, matrix["date"].max())
            for r in risks:
                a = allocate(fit, history, horizon, dates, Constraints(), risk_aversion=r)
                plans[r][0].append(a.table(tenant))
                plans[r][1].append(a.summary(tenant))
    for r in risks:
        values = quality.true_plan_values(pl.concat(plans[r][0]), pl.concat(plans[r][1], how="diagonal_relaxed"), weather, clim)
        print(f"risk aversion {r}: {quality.truth_outcome(values).summary}")
        print(values.with_columns(plan_gain=(pl.col("recommended") / pl.col("current") - 1).round(4),
                                  optimal_gain=(pl.col("optimal") / pl.col("current") - 1).round(4))
              .select("tenant", "plan_gain", "optimal_gain"))


if __name__ == "__main__":
    main()
