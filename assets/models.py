"""Per-tenant models: baselines with time-series CV and holdout metrics, and the quality bars as checks."""

import json

import dagster as dg
import polars as pl
import polars.selectors as cs
from dagster_duckdb import DuckDBResource

from assets.check_results import check_result, read_tables
from assets.features import tenant_features
from assets.partitions import tenant_partitions
from assets.simulation import TENANT, one_tenant
from assets.versions import BASELINES_CODE, tenant_model_inputs, versioned
from resources import WAREHOUSE_POOL
from resources.warehouse import tenant_experiments, tenant_tables
from weather_mmm.features.build import model_matrix
from weather_mmm.models import quality
from weather_mmm.models.baselines import design, fit_baselines
from weather_mmm.reports import read_sql, table_names
from weather_mmm.simulation.oracle import mape_optimal_forecast
from weather_mmm.tables import markdown_table
from weather_mmm.weather.climatology import load_climatology

BY_TENANT = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="tenant")


def tenant_matrix(conn, tenant: str) -> tuple[pl.DataFrame, list[str], dict[str, float]]:
    """One tenant's model matrix over every stored day, its channels and its geos (city: revenue share), read
    on a warehouse connection."""
    features, media = (pl.from_arrow(conn.execute(f"select * from main.{n} where tenant = ? order by date", [tenant])
                                     .to_arrow_table()) for n in ("tenant_features", "tenant_media_features"))
    if features.is_empty():
        raise ValueError(f"tenant {tenant}: no tenant_features rows; materialize its features first")
    geos = json.loads(conn.execute("select geos from main.tenant_catalog where tenant = ?", [tenant]).fetchone()[0])
    return model_matrix(features, media), sorted(media["channel"].unique()), geos


def model_tables(conn, tenant: str, matrix: pl.DataFrame) -> dict:
    """The tenant's catalog row and geo-level sales, spend and weather over its model matrix's days
    (``resources.warehouse.tenant_tables``) and its lift tests (``experiments``): what the MMM is fitted on."""
    return {**tenant_tables(conn, tenant, matrix["date"].min(), matrix["date"].max()),
            "experiments": tenant_experiments(conn, tenant)}


@dg.multi_asset(
    outs={name: dg.AssetOut(io_manager_key="warehouse_io_manager", metadata=TENANT, kinds={"duckdb", "scikitlearn"},
                            code_version=BASELINES_CODE)
          for name in ("baseline_summary", "baseline_scores", "baseline_importance", "baseline_predictions")},
    partitions_def=tenant_partitions,
    deps=[dg.AssetDep(k, partition_mapping=BY_TENANT) for k in tenant_features.keys],
    pool=WAREHOUSE_POOL,
    group_name="models",
)
def baseline_fit(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    """Seasonal naive, OLS and ridge with and without weather, a pygam GAM and a weather-only ridge, fitted on
    one tenant with 5-fold expanding time-series CV and a 20 % holdout (``weather_mmm.models.baselines``).

    Tables: ``baseline_summary`` (model: CV mean/std, holdout R², MAPE, RMSE, MAE, NRMSE, best),
    ``baseline_scores`` (model x fold), ``baseline_importance`` (feature group: holdout R² drop when
    permuted), ``baseline_predictions`` (day: actual and each model's prediction, USD)."""
    tenant = one_tenant(context.partition_keys)
    with duckdb.get_connection() as conn:
        matrix, channels, _ = tenant_matrix(conn, tenant)
        inputs = tenant_model_inputs(matrix, model_tables(conn, tenant, matrix))
    result = fit_baselines(design(matrix, channels), channels)
    context.log.info(f"{tenant}: split {result.split.describe()}")
    show = result.summary.select("model", "cv_r2_mean", "cv_r2_std", "holdout_r2", "holdout_mape", "best")
    context.add_output_metadata({
        "best_model": result.best,
        "holdout_r2": round(float(result.summary.filter(pl.col("best"))["holdout_r2"][0]), 3),
        "holdout_mape": round(float(result.summary.filter(pl.col("best"))["holdout_mape"][0]), 4),
        "models": dg.MetadataValue.md(markdown_table(show.with_columns(cs.float().round(3)))),
        "weather_importance": dg.MetadataValue.md(markdown_table(result.importance.with_columns(cs.float().round(4)))),
        "split": dg.MetadataValue.json(result.split.describe()),
    }, output_name="baseline_summary")
    tag = pl.lit(tenant).alias("tenant")
    tables = {"baseline_summary": result.summary, "baseline_scores": result.scores,
              "baseline_importance": result.importance, "baseline_predictions": result.predictions}
    return tuple(versioned(t.select(tag, pl.all()), name, BASELINES_CODE, inputs) for name, t in tables.items())


def _tiers(catalog: pl.DataFrame) -> dict[str, str]:
    return dict(catalog.select("tenant", "tier").iter_rows())


#: What the checks of the baselines' bars read: the noise ceiling needs the predictions' days and the truth.
CEILING_DEPS = ["baseline_predictions", "tenant_true_contributions"]


def _noise_ceiling(duckdb: DuckDBResource, mape_optimal: bool = False) -> pl.DataFrame | None:
    """``quality.noise_ceiling`` of every simulated tenant with baselines (``None`` without simulated truth); with
    ``mape_optimal``, its MAPE from the truth's MAPE-optimal forecast (``oracle.mape_optimal_forecast``, which
    simulates each tenant again: about 1-3 s a tenant)."""
    with duckdb.get_connection() as conn:
        if "tenant_true_contributions" not in table_names(conn):
            return None
        predictions = read_sql(conn, "select tenant, date, actual from main.baseline_predictions")
        expected = read_sql(conn, "select tenant, date, sum(revenue) as expected from main.tenant_true_contributions "
                                  "group by tenant, date")
        weather = read_sql(conn, "select * from main.weather_daily") if mape_optimal else None
    if mape_optimal:
        forecast = mape_optimal_forecast(expected["tenant"].unique().to_list(), weather, load_climatology())
        expected = expected.join(forecast, on=["tenant", "date"], how="left")
    return quality.noise_ceiling(predictions, expected)


@dg.asset_check(asset="baseline_summary", additional_deps=["tenant_catalog", *CEILING_DEPS], pool=WAREHOUSE_POOL,
                description="Best model's holdout R² ≥ 0.65 for extreme and high tenants, ≥ 0.45 for medium.")
def holdout_r2_meets_tier_bar(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    summary, catalog = read_tables(duckdb, "baseline_summary", "tenant_catalog")
    return check_result(quality.holdout_r2_by_tier(summary, _tiers(catalog), _noise_ceiling(duckdb)))


@dg.asset_check(asset="baseline_summary", additional_deps=[*CEILING_DEPS, "weather_daily"], pool=WAREHOUSE_POOL,
                description="Every tenant: holdout MAPE < 15 % and at least 10 % below the seasonal naive's.")
def mape_under_15_percent_and_beats_naive(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    (summary,) = read_tables(duckdb, "baseline_summary")
    return check_result(quality.mape_and_naive(summary, _noise_ceiling(duckdb, mape_optimal=True)))


@dg.asset_check(asset="baseline_summary", additional_deps=CEILING_DEPS, pool=WAREHOUSE_POOL,
                description="Every tenant: standard deviation of R² over the CV folds < 0.1.")
def cv_r2_spread_under_0_1(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    (summary,) = read_tables(duckdb, "baseline_summary")
    return check_result(quality.cv_spread(summary, _noise_ceiling(duckdb)))


@dg.asset_check(asset="baseline_importance", additional_deps=["baseline_summary", "tenant_catalog"], pool=WAREHOUSE_POOL,
                description="Weather in the top 3 feature groups for extreme and high tenants; weather-only R² ordered by tier.")
def weather_matters_where_it_should(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    summary, importance, catalog = read_tables(duckdb, "baseline_summary", "baseline_importance", "tenant_catalog")
    return check_result(quality.weather_importance(summary, importance, _tiers(catalog)))
