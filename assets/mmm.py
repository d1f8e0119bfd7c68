"""The Bayesian MMM per tenant (NumPyro NUTS): effects with 90 % intervals, daily decomposition, diagnostics."""

import datetime as dt
import json
import os
from pathlib import Path

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource
from pydantic import Field

from assets.check_results import check_result, read_tables
from assets.models import BY_TENANT, model_tables, tenant_matrix
from assets.features import tenant_features
from assets.figures import figure_metadata
from assets.partitions import tenant_partitions
from assets.simulation import TENANT, one_tenant
from assets.versions import MMM_CODE, mmm_inputs, stated_priors, tenant_model_inputs, versioned
from resources import WAREHOUSE_POOL
from weather_mmm.models import mmm, mmm_quality, priors, store
from weather_mmm.settings import models_dir, priors_path
from weather_mmm.simulation.oracle import oracle_errors
from weather_mmm.tables import markdown_table
from weather_mmm.weather.climatology import load_climatology


def mmm_settings() -> mmm.MMMSettings:
    """Sampler settings from ``WEATHER_MMM_MMM_WARMUP``, ``WEATHER_MMM_MMM_DRAWS`` (default 500 and 1000),
    ``WEATHER_MMM_MMM_CHAINS`` (default 2), ``WEATHER_MMM_MMM_EXTENSIONS`` (default 2: blocks of draws added to a
    fit that has not converged) and ``WEATHER_MMM_MMM_ENGINE`` (``numpyro``, or the reference
    ``lightweight_mmm``, whose fits are scored but cannot drive allocations)."""
    return mmm.MMMSettings(warmup=int(os.environ.get("WEATHER_MMM_MMM_WARMUP", mmm.MMMSettings.warmup)),
                           draws=int(os.environ.get("WEATHER_MMM_MMM_DRAWS", mmm.MMMSettings.draws)),
                           chains=int(os.environ.get("WEATHER_MMM_MMM_CHAINS", mmm.MMMSettings.chains)),
                           extensions=int(os.environ.get("WEATHER_MMM_MMM_EXTENSIONS", mmm.MMMSettings.extensions)),
                           engine=os.environ.get("WEATHER_MMM_MMM_ENGINE", mmm.MMMSettings.engine))


class MMMFitConfig(dg.Config):
    """A run of ``mmm_fit`` fits the tenant anew, unless ``version`` names a stored version for its tables to describe:
    the one in use after a rollback (``weather-mmm rollback``, ``rolled_back_plans_sensor``), so that they, the
    reports and the plan speak of the same fit."""

    version: str | None = Field(None, description="A stored model version of the tenant, in use, for the tables to "
                                                  "describe instead of fitting anew (a rollback's)")


@dg.multi_asset(
    outs={name: dg.AssetOut(io_manager_key="warehouse_io_manager", metadata=TENANT, kinds={"duckdb", "jax"},
                            code_version=MMM_CODE)
          for name in ("mmm_effects", "mmm_diagnostics", "mmm_decomposition", "mmm_curves")},
    partitions_def=tenant_partitions,
    deps=[dg.AssetDep(k, partition_mapping=BY_TENANT) for k in tenant_features.keys] + ["tenant_catalog", "tenant_experiments"],
    pool=WAREHOUSE_POOL,
    group_name="models",
)
def mmm_fit(context: dg.AssetExecutionContext, duckdb: DuckDBResource, config: MMMFitConfig):
    """One tenant's Bayesian MMM (``weather_mmm.models.mmm``), fitted per geo (its sales, spend and city weather)
    on the baselines' training days, calibrated with its lift tests (``tenant_experiments``) when it ran any, with
    the ROAS priors its team stated (``WEATHER_MMM_PRIORS``, ``weather_mmm.models.priors``) where it stated any.
    With ``config.version`` (a rollback), the tables describe that stored version instead, and nothing is fitted.

    Tables: ``mmm_effects`` (kind roas | mroas | weather_share | weather_effect | lift_test; ``mmm.effects_table``),
    ``mmm_diagnostics`` (max R-hat, min ESS, divergences, fit seconds, holdout R², MAPE, 90 % coverage,
    share of days with a negative baseline, model version and status), ``mmm_decomposition`` (date x
    component, USD), ``mmm_curves`` (response, adstock and weather curves with 90 % intervals,
    ``mmm.curves``). The fit itself goes to the model store (``weather_mmm.models.store``) with a row in
    ``model_versions``: ``usable`` when it converged without drift, else kept for inspection only."""
    tenant = one_tenant(context.partition_keys)
    with duckdb.get_connection() as conn:
        matrix, channels, geos = tenant_matrix(conn, tenant)
        data = model_tables(conn, tenant, matrix)
        row = store.in_use(conn, tenant, config.version) if config.version else None
    input_version = mmm_inputs(tenant_model_inputs(matrix, data), data["experiments"], stated_priors(tenant))
    if row:
        fit = store.load_fit(Path(row["path"]))
    else:
        inputs = mmm.tenant_inputs(tenant, data["sales"], data["spend"], data["weather"], geos, channels,
                                   load_climatology(), data["experiments"])
        inputs = mmm.with_roas_priors(inputs, priors.read_priors(priors_path(), tenant), f"{priors_path()}: {tenant}")
        for note in inputs.lift_tests_unused:
            context.log.warning(f"{tenant}: {note}; the fit does not use it")
        fit = mmm.fit_mmm(inputs, mmm_settings())
    e, diag, effects, decomposition = mmm.review(fit)
    if row:
        version, status, reason = row["version"], row["status"], row["reason"]
    else:
        version, path = store.save_fit(models_dir(), tenant, fit)
        with duckdb.get_connection() as conn:
            previous = store.usable_version(conn, tenant)
            status, reason = mmm_quality.fit_status(diag, float(effects["ess"].drop_nulls().min()), previous)
            store.record_version(conn, {
                "tenant": tenant, "version": version, "engine": fit.settings.engine, "data_fingerprint": input_version,
                "code_version": mmm.CODE_VERSION, "settings": json.dumps(fit.settings.__dict__),
                "created_at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), "path": str(path),
                "holdout_r2": diag["holdout_r2"], "holdout_mape": diag["holdout_mape"], "status": status, "reason": reason})
    shifted = mmm_quality.shift_note(mmm_quality.feature_shift(fit.inputs))
    diagnostics = pl.DataFrame([{**diag, "model_version": version, "status": status, "status_reason": reason,
                                 "shifted_inputs": shifted}])
    tag = pl.lit(tenant).alias("tenant")
    tables = {name: t.select(tag, pl.all()) for name, t in {
        "mmm_effects": effects, "mmm_diagnostics": diagnostics, "mmm_decomposition": decomposition, "mmm_curves": mmm.curves(fit)}.items()}
    context.add_output_metadata({
        "roas": dg.MetadataValue.md(markdown_table(effects.filter(pl.col("kind").is_in(["roas", "mroas", "weather_share"])).select(
            "kind", "key", *[pl.col(c).round(3) for c in ("mean", "lo90", "hi90")], pl.col("ess").round(0)))),
        "weather_share": round(e["weather_share"]["mean"], 4),
        "max_rhat": round(diag["max_rhat"], 4), "fit_seconds": round(diag["fit_seconds"], 1),
        "holdout_r2": round(diag["holdout_r2"], 3), "holdout_mape": round(diag["holdout_mape"], 4),
        "model_version": version, "status": f"{status}: {reason}", "shifted_inputs": shifted or "none",
        "described": "a stored version, put back in use by a rollback (nothing fitted)" if config.version else "a new fit",
        "lift_tests": dg.MetadataValue.json({"used": [t["experiment"] for t in fit.inputs.lift_tests],
                                             "left_out": list(fit.inputs.lift_tests_unused)}),
        "stated_roas_priors": dg.MetadataValue.json({c: [round(lo, 3), round(hi, 3)] for c, lo, hi in effects.filter(
            pl.col("kind") == "stated_prior").select("key", "lo90", "hi90").iter_rows()}),
        **figure_metadata(duckdb, tenant, tables, ["tenant_features", "tenant_ground_truth"],
                          ["fit", "contributions", "roas", "response_curves", "weather_curves"]),
    }, output_name="mmm_effects")
    return tuple(versioned(t, name, MMM_CODE, input_version) for name, t in tables.items())


@dg.asset_check(asset="mmm_diagnostics", additional_deps=["mmm_effects"], pool=WAREHOUSE_POOL, blocking=True,
                description="max R-hat ≤ 1.01, bulk ESS ≥ 400 for ROAS and weather share, divergences ≤ 0.5 %.")
def mmm_converged(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    diagnostics, effects = read_tables(duckdb, "mmm_diagnostics", "mmm_effects")
    result = check_result(mmm_quality.convergence(diagnostics, effects))
    negative = diagnostics.filter(pl.col("negative_baseline_share") > 0.05)["tenant"].to_list()
    return dg.AssetCheckResult(passed=result.passed, description=result.description + (
        f"; negative baseline on > 5% of days: {', '.join(negative)}" if negative else "; no negative baselines"),
        metadata=result.metadata)


@dg.asset_check(asset="mmm_effects", additional_deps=["tenant_ground_truth", "tenant_catalog", "weather_daily"],
                pool=WAREHOUSE_POOL,
                description="ROAS coverage and error, and weather share, against the ground truth (simulated tenants); "
                            "beside the ROAS error, what an oracle that knows every true curve reaches.")
def mmm_recovers_the_truth(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    effects, truth, catalog, weather = read_tables(duckdb, "mmm_effects", "tenant_ground_truth", "tenant_catalog",
                                                   "weather_daily")
    oracle = oracle_errors(truth["tenant"].unique().to_list(), weather, load_climatology())
    return check_result(mmm_quality.recovery(effects, truth, dict(catalog.select("tenant", "tier").iter_rows()), oracle))


@dg.asset_check(asset="mmm_diagnostics", additional_deps=["baseline_summary"], pool=WAREHOUSE_POOL,
                description="The MMM's holdout MAPE is no worse than the best baseline's.")
def mmm_mape_no_worse_than_baselines(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    diagnostics, summary = read_tables(duckdb, "mmm_diagnostics", "baseline_summary")
    return check_result(mmm_quality.mape_vs_baseline(diagnostics, summary))


@dg.asset_check(asset="mmm_diagnostics", pool=WAREHOUSE_POOL,
                description="No drift against the previous model version: holdout R² not down > 10 %, MAPE not up > 5 "
                            "points (a drifted fit is not used); no input whose last 28 days moved > 2 SD from its "
                            "training window (named; the fit is still used).")
def mmm_no_drift(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    (diagnostics,) = read_tables(duckdb, "mmm_diagnostics")
    if "shifted_inputs" not in diagnostics.columns:  # every partition stored before the column existed
        diagnostics = diagnostics.with_columns(shifted_inputs=pl.lit(None, pl.String))
    return check_result(mmm_quality.drift_report(diagnostics), severity=dg.AssetCheckSeverity.WARN)
