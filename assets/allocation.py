"""Budget allocation per tenant from its newest usable MMM version and the weather forecast."""

import datetime as dt
import os
import zlib
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
from dagster_duckdb import DuckDBResource
from pydantic import Field

from assets.check_results import check_result, read_tables
from assets.features import tenant_features
from assets.figures import figure_metadata
from assets.mmm import mmm_fit
from assets.models import BY_TENANT, model_tables, tenant_matrix
from assets.partitions import tenant_partitions
from assets.simulation import TENANT, one_tenant
from assets.weather import weather_daily
from assets.versions import ALLOCATION_CODE, allocation_inputs, tenant_model_inputs, versioned
from resources import WAREHOUSE_POOL
from resources.warehouse import tenant_tables
from weather_mmm.allocation import quality
from weather_mmm.allocation.horizon import DEFAULT_HORIZON_DAYS, horizon_weather, spend_history
from weather_mmm.allocation.optimize import (CURRENT_DAYS, DEFAULT_BOUND_SHARE, DEFAULT_RISK_AVERSION, InfeasibleAllocation,
                                             allocate)
from weather_mmm.allocation.standing import (PlanConstraintsError, constraints, describe, merged, read_standing,
                                             standing_tenants, validate)
from weather_mmm.models import store
from weather_mmm.settings import imports_dir, plan_constraints_path
from weather_mmm.simulation.importer import tenant_margin
from weather_mmm.tables import markdown_table
from weather_mmm.tenant_files import entry_fingerprint
from weather_mmm.weather.climatology import load_climatology
from weather_mmm.weather.cities import load_cities
from weather_mmm.weather.forecast import (ForecastInputError, api_forecast, normal_forecast, read_forecast_file,
                                         simulated_forecast)


def risk_aversion() -> float:
    """``WEATHER_MMM_RISK_AVERSION`` (default ``optimize.DEFAULT_RISK_AVERSION``): how many posterior standard
    deviations above zero the posterior-mean plan's lift over the current allocation must be for it to stand;
    otherwise they are subtracted from the mean in the objective (``optimize.allocate``; 0: the posterior mean)."""
    return float(os.environ.get("WEATHER_MMM_RISK_AVERSION", DEFAULT_RISK_AVERSION))


def horizon_days() -> int:
    """``WEATHER_MMM_HORIZON_DAYS`` (default 7): days planned ahead."""
    return int(os.environ.get("WEATHER_MMM_HORIZON_DAYS", DEFAULT_HORIZON_DAYS))


class PlanConfig(dg.Config):
    """Planning constraints of one run of ``budget_allocation``, set in the Dagster launchpad (or a schedule's
    run config). Each field set replaces the tenant's standing one (``weather_mmm.allocation.standing``); left
    out, it keeps the standing one or else its default: the current allocation's budget, every channel within
    ±``bound_share`` of its current daily spend. Constraints the plan cannot meet fail the run with the reason
    (``InfeasibleAllocation``)."""

    budget_usd: float | None = Field(None, description="Total spend over the horizon, USD; default: the current "
                                                       "allocation's (last 28 days' mean daily spend carried forward)")
    min_daily_usd: dict[str, float] | None = Field(None, description="Channel -> least spend per day, USD")
    max_daily_usd: dict[str, float] | None = Field(None, description="Channel -> most spend per day, USD")
    fixed_daily_usd: dict[str, float] | None = Field(None, description="Channel -> spend per day held fixed, USD")
    target_roas: float | None = Field(None, description="Least incremental revenue per USD spent by the plan; the "
                                                        "budget becomes a cap")
    bound_share: float | None = Field(None, description="Bounds of a channel not given: its current daily spend ± "
                                                        f"this share (default {DEFAULT_BOUND_SHARE})")

    def fields(self) -> dict:
        """The fields this run sets, checked as in the standing file (``PlanConstraintsError`` names the field)."""
        return validate(self.model_dump(), "run config")


def _forecast(conn, tenant: str, geos: dict, last_day: dt.date) -> tuple[pl.DataFrame, dt.date, str]:
    """(forecast rows, issue day, source). ``WEATHER_MMM_FORECAST_FILE`` when set (issued the day before its
    first date); else, with ``WEATHER_MMM_FORECAST_SOURCE=api``, the Open-Meteo forecast of the days after today,
    or from today when the tenant's data end yesterday (:func:`api_forecast`). Otherwise a
    simulated tenant plans its last ``horizon_days()`` stored days, on a simulated forecast issued the day before
    them (the weather that then happened plus lead-time error, seeded by tenant), so that the plan can be valued
    on its truth; an imported tenant plans the days after its last one, on its cities' climatological normals."""
    path = os.environ.get("WEATHER_MMM_FORECAST_FILE")
    if path:
        forecast = read_forecast_file(Path(path))
        return forecast, forecast["date"].min() - dt.timedelta(days=1), f"forecast file {path}"
    if os.environ.get("WEATHER_MMM_FORECAST_SOURCE", "simulated") == "api":
        cities = load_cities()
        forecast = api_forecast([cities[c] for c in geos], horizon_days(), after=last_day)
        return forecast, forecast["date"].min() - dt.timedelta(days=1), "Open-Meteo forecast API"
    source = conn.execute("select source from main.tenant_catalog where tenant = ?", [tenant]).fetchone()[0]
    if source != "simulated":
        climatology = load_climatology()
        return normal_forecast({c: climatology[c] for c in geos}, last_day, horizon_days()), last_day, \
            "climatological normals (no forecast: set WEATHER_MMM_FORECAST_FILE or WEATHER_MMM_FORECAST_SOURCE=api)"
    issued = last_day - dt.timedelta(days=horizon_days())
    observed = pl.from_arrow(conn.execute(
        "select * from main.weather_daily where city in (select unnest(?::varchar[])) and date > ? and date <= ?",
        [list(geos), issued, last_day]).to_arrow_table())
    return simulated_forecast(observed, issued, horizon_days(), seed=zlib.crc32(tenant.encode())), issued, \
        "simulated forecast (observed weather + lead-time error)"


def plan_inputs(conn, tenant: str, fit, geos: dict, last_day: dt.date) -> tuple[list[dt.date], np.ndarray, np.ndarray, dt.date, str]:
    """What a plan of ``tenant`` from ``fit`` reads, on a warehouse connection: (horizon dates, [H + MAX_LAG, G, W]
    model weather from the forecast (:func:`_forecast`) and the 21 observed days before it, [28, G, C] spend
    history up to the issue day, issue day, forecast source). ``last_day``: the tenant's last stored day.

    Raises:
        ForecastInputError: the forecast is unreadable, lacks a city the tenant sells in, or is issued after the
            tenant's last stored day (no spend history to plan from); names the tenant, source and days."""
    forecast, issued, source = _forecast(conn, tenant, geos, last_day)
    if missing := sorted(set(geos) - set(forecast["city"])):
        raise ForecastInputError(f"tenant {tenant}: the {source} has no rows for {', '.join(missing)}, where it sells")
    if issued > last_day:
        raise ForecastInputError(
            f"tenant {tenant}: the {source} is issued {issued}, after the tenant's last stored day {last_day}; a plan "
            f"starts from the spend of the {CURRENT_DAYS} days up to its issue day: store the tenant's data up to "
            f"{issued}, or plan on a forecast file of the days after {last_day}")
    observed = pl.from_arrow(conn.execute(
        "select * from main.weather_daily where city in (select unnest(?::varchar[])) and date > ? and date <= ?",
        [list(geos), issued - dt.timedelta(days=21), issued]).to_arrow_table())
    dates, weather = horizon_weather(fit, observed, forecast, load_climatology())
    spend = tenant_tables(conn, tenant, issued - dt.timedelta(days=40), issued)["spend"]
    return dates, weather, spend_history(spend, fit.inputs.geos, fit.inputs.channels, issued), issued, source


@dg.multi_asset(
    outs={"budget_allocation": dg.AssetOut(io_manager_key="warehouse_io_manager", metadata=TENANT, kinds={"duckdb", "scipy"},
                                           code_version=ALLOCATION_CODE,
                                           freshness_policy=dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(days=8))),
          "allocation_summary": dg.AssetOut(io_manager_key="warehouse_io_manager", metadata=TENANT, kinds={"duckdb"},
                                            code_version=ALLOCATION_CODE)},
    partitions_def=tenant_partitions,
    deps=[*mmm_fit.keys, *[dg.AssetDep(k, partition_mapping=BY_TENANT) for k in tenant_features.keys],
          dg.AssetDep(weather_daily, partition_mapping=dg.AllPartitionMapping()), "tenant_catalog"],
    pool=WAREHOUSE_POOL,
    group_name="allocation",
)
def budget_allocation(context: dg.AssetExecutionContext, duckdb: DuckDBResource, config: PlanConfig):
    """Recommended spend per channel and day over the planning horizon (``weather_mmm.allocation``), from the
    newest usable model version in ``model_versions``, the tenant's recent spend and the forecast weather,
    within the tenant's standing constraints (``WEATHER_MMM_PLAN_CONSTRAINTS``, ``weather_mmm.allocation.standing``)
    as the run's own (:class:`PlanConfig`) replace them field by field.

    Tables: ``budget_allocation`` (tenant, date, channel, current_spend, recommended_spend USD/day, change),
    ``allocation_summary`` (per channel: spend, marginal ROAS with its 90 % interval, saturation, forecast
    weather multiplier, bounds; ``all``: incremental revenue and lift over the current allocation with 90 %
    intervals, budget, explanation, which way the plan was chosen and at what risk aversion, model version,
    forecast source; every row: ``constraints``, the fields planned under as JSON, '' for the defaults).

    Raises:
        dagster.Failure: the tenant has no usable model version (none converged without drift), its constraints are
            malformed (names the file or run config and the field) or cannot be met (says which).
        ForecastInputError: see :func:`plan_inputs`.
    """
    tenant = one_tenant(context.partition_keys)
    with duckdb.get_connection() as conn:
        matrix, _, geos = tenant_matrix(conn, tenant)
        catalog_tenants = [t for (t,) in conn.execute("select tenant from main.tenant_catalog").fetchall()]
        model_inputs = tenant_model_inputs(matrix, model_tables(conn, tenant, matrix))
        version = store.usable_version(conn, tenant)
        if version is None:
            latest = store.versions(conn, tenant)
            why = f"newest version {latest['version'][0]} is {latest['status'][0]}: {latest['reason'][0]}" if latest.height else "no fit yet"
            raise dg.Failure(f"tenant {tenant}: no usable model version to allocate from ({why}); "
                             "allocations only use fits that converged without drift")
        try:
            fit = store.load_fit(Path(version["path"]))
        except ValueError as error:
            raise dg.Failure(f"tenant {tenant}: {error}") from error
        dates, weather, history, issued, source = plan_inputs(conn, tenant, fit, geos, matrix["date"].max())
    margin = tenant_margin(imports_dir(), tenant)
    try:
        standing, run = read_standing(plan_constraints_path(), tenant), config.fields()
        fields = merged(standing, run)
    except PlanConstraintsError as error:  # from None: the step's failure shows this message, which names the tenant
        raise dg.Failure(f"tenant {tenant}: {error}") from None
    try:
        plan = allocate(fit, history, weather, dates, constraints(fields, margin), risk_aversion=risk_aversion())
    except InfeasibleAllocation as error:
        given = "; ".join(f"{what}: {describe(part)}" for what, part in (
            (f"standing constraints in {plan_constraints_path()}", standing), ("this run's", run)) if part)
        raise dg.Failure(f"tenant {tenant}: {error}" + (f" ({given})" if given else "")) from None
    if unknown := sorted(set(standing_tenants(plan_constraints_path())) - set(catalog_tenants)):
        context.log.warning(f"{plan_constraints_path()} names tenant(s) not in the catalog, whose constraints apply "
                            f"to no plan: {', '.join(unknown)}")
    table = plan.table(tenant)
    summary = plan.summary(tenant).with_columns(model_version=pl.lit(version["version"]), forecast_source=pl.lit(source),
                                                issued=pl.lit(issued), constraints=pl.lit(entry_fingerprint(fields)))
    per_channel = summary.filter(pl.col("channel") != "all").select(
        "channel", current=pl.col("current_spend").round(0), recommended=pl.col("recommended_spend").round(0),
        mroas=pl.col("mroas_mean").round(2), saturation=pl.col("saturation").round(2))
    context.add_output_metadata({
        "lift_usd": dg.MetadataValue.json({k: round(v) for k, v in plan.lift.items()}),
        "explanation": dg.MetadataValue.md(plan.explanation),
        "plan": dg.MetadataValue.md(markdown_table(per_channel)),
        "model_version": version["version"], "forecast": source, "plan_choice": plan.choice,
        "constraints": dg.MetadataValue.json({"standing": standing, "run": run, "used": fields}),
        **({"contribution_margin": margin, "contribution_lift_usd": dg.MetadataValue.json(
            {k: round(v) for k, v in plan.contribution_lift.items()})} if margin is not None else {}),
        **figure_metadata(duckdb, tenant, {"budget_allocation": table, "allocation_summary": summary}, ["mmm_curves"],
                          ["allocation", "response_curves"]),
    }, output_name="budget_allocation")
    inputs = allocation_inputs(model_inputs, version["version"], margin, entry_fingerprint(fields))
    return versioned(table, "budget_allocation", ALLOCATION_CODE, inputs), versioned(summary, "allocation_summary", ALLOCATION_CODE, inputs)


def _no_allocations(duckdb: DuckDBResource) -> dg.AssetCheckResult | None:
    with duckdb.get_connection() as conn:
        present = conn.execute("select count(*) from information_schema.tables where table_name = 'budget_allocation'").fetchone()[0]
    return None if present else dg.AssetCheckResult(passed=False, description="no tenant has an allocation yet "
                                                    "(see budget_allocation's step errors)")


@dg.asset_check(asset="budget_allocation", additional_deps=["allocation_summary"], pool=WAREHOUSE_POOL, blocking=True,
                description="Every channel-day inside its bounds and the plan's total equal to the budget.")
def allocation_respects_constraints(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    if (missing := _no_allocations(duckdb)) is not None:
        return missing
    plans, summary = read_tables(duckdb, "budget_allocation", "allocation_summary")
    return check_result(quality.constraints_respected(plans, summary))


@dg.asset_check(asset="budget_allocation", additional_deps=["allocation_summary", "tenant_catalog", "weather_daily"],
                pool=WAREHOUSE_POOL,
                description="On the true response functions and actual weather: the plan earns at least the current "
                            "allocation for every simulated tenant and ≥ 90 % of the optimal uplift where that exceeds 2 %; "
                            "beside the capture, what an oracle that knows every true curve captures at the same risk aversion.")
def allocation_beats_current_in_truth(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    if (missing := _no_allocations(duckdb)) is not None:
        return missing
    plans, summary, catalog = read_tables(duckdb, "budget_allocation", "allocation_summary", "tenant_catalog")
    simulated = catalog.filter(pl.col("source") == "simulated")["tenant"].implode()
    with duckdb.get_connection() as conn:
        weather = pl.from_arrow(conn.execute("select * from main.weather_daily").to_arrow_table())
    values = quality.true_plan_values(plans.filter(pl.col("tenant").is_in(simulated)), summary, weather, load_climatology(),
                                      oracle_risk_aversion=risk_aversion())
    return check_result(quality.truth_outcome(values))
