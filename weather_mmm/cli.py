"""Command line: ``weather-mmm`` (or ``python -m weather_mmm``).

Exit codes: 0 success; 1 the pipeline ran but a step or a blocking check failed; 2 a user mistake
(bad setting, bad input file), printed without a traceback; 130 interrupted (Ctrl-C or SIGTERM): the runs
that finished are stored, the interrupted one is marked failed, no later one starts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import sys
import time
from pathlib import Path

from weather_mmm import settings
from weather_mmm.errors import WeatherMMMError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date (YYYY-MM-DD)") from None


def _tell(message: str) -> None:
    print(message, file=sys.stderr)


def _warehouse() -> Path:
    """The warehouse's path; a user error when no run has made it yet."""
    path = settings.warehouse_path()
    if not path.exists():
        raise WeatherMMMError(f"no warehouse at {path}; run `weather-mmm run` first")
    return path


def _instance():
    """The persistent Dagster instance under ``storage/dagster`` (or ``$DAGSTER_HOME``)."""
    os.environ.setdefault("DAGSTER_HOME", str(settings.STORAGE_DIR / "dagster"))
    # A tenant's data run covers 731 date partitions of 4 assets: Dagster writes one "materialization planned"
    # event per partition and asset (2,924, about 22 s) before the run starts, unless told to write one per
    # asset. Dagster's own caveat: a failed run's partitions then show as missing, not failed, in the UI's
    # partition view (the run itself is marked failed, and the command line names the failure). The
    # daemon's runs (./dev ui) keep the per-partition events.
    os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "1")
    Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    import dagster as dg

    return dg.DagsterInstance.get()


def cmd_run(args: argparse.Namespace) -> int:
    import polars as pl

    from sensors.jobs import check_lines, failure_messages, run_tenants, run_weather
    from weather_mmm.allocation.standing import PlanConstraintsError, standing_tenants
    from weather_mmm.definitions import build_definitions
    from weather_mmm.models.priors import PriorsError, stated_tenants
    from weather_mmm.reports import evidence_summary, open_warehouse, portfolio_summary, tenant_summary
    from weather_mmm.tables import text_table
    from weather_mmm.weather.daily import flag_summary

    defs = build_definitions()

    start = args.start or settings.CALENDAR_START
    end = args.end or settings.calendar_end()
    if start > end:
        raise WeatherMMMError(f"--start {start} is after --end {end}: no day to run")
    source = defs.resources["weather_source"]
    print(f"weather-mmm: weather for {start}..{end}, source: {source.mode}"
          f"{' (' + source.seeds_dir + ')' if source.seeds_dir else ''}", flush=True)
    for what, path, tenants, error, fails in (
            ("standing planning constraints", settings.plan_constraints_path(), standing_tenants, PlanConstraintsError, "every plan"),
            ("stated ROAS priors", settings.priors_path(), stated_tenants, PriorsError, "every fit")):
        if path.exists():
            try:
                print(f"{what}: {path} ({', '.join(tenants(path)) or 'no tenant'})")
            except error as problem:
                print(f"error: {problem}; {fails} fails until it is mended", file=sys.stderr)
    instance = _instance()
    t0 = time.perf_counter()
    say = functools.partial(print, flush=True)
    weather = run_weather(defs, instance, start, end, say, args.force)
    results, blocked = ([weather] if weather else []), []
    if all(r.success for r in results) and not args.weather_only:
        print("tenants (per tenant: one run of sales, spend and features; one of truth and models; each only when "
              "its code or inputs changed):", flush=True)
        tenants = [args.tenant] if args.tenant else None
        runs, blocked = run_tenants(defs, instance, start, end, tenants, progress=say, force=args.force)
        results += runs
    elapsed = time.perf_counter() - t0
    failed = False
    for result in results:
        for line in failure_messages(result):
            print(f"error: {line}", file=sys.stderr)
        failed |= not result.success
    for result in results:
        for line in check_lines(result):
            print(line)
    if weather and not weather.success:
        return EXIT_FAILED
    with open_warehouse(settings.warehouse_path(), on_wait=_tell) as conn:
        weather = pl.from_arrow(conn.execute(
            "select * from main.weather_daily where date between ? and ?", [start, end]).to_arrow_table())
        summary = None if args.weather_only else tenant_summary(conn)
        portfolio = None if args.weather_only else portfolio_summary(conn)
        evidence = None if args.weather_only else evidence_summary(conn)
    print(f"\nweather_daily: {weather.height} rows (warehouse {settings.warehouse_path()})")
    print("values per city over all variables (observed = real record, derived = physics from real values, "
          "filled = climatology generator):")
    print(text_table(flag_summary(weather)))
    if summary is not None and summary.height:
        print("\ntenants (their data; the truth of the simulated ones):")
        print(text_table(summary))
    if portfolio is not None and "r2_mmm" in portfolio.columns:
        plan_columns = [c for c in ("budget_change", "lift_usd") if c in portfolio.columns]
        print("\nmodels (estimate [90% interval] vs truth):")
        print(text_table(portfolio.drop(plan_columns)))
        print("\nplans for the next horizon (budget change per channel; expected lift, USD [90% interval], against "
              "keeping the current allocation):")
        print(text_table(portfolio.select("tenant", "tier", *plan_columns)))
    if evidence is not None and evidence.height:
        print("\nweather evidence without the MMM (effects found at q < 0.05: revenue change per unit of the signal "
              "[90% interval]; every row in weather_evidence):")
        print(text_table(evidence))
    if portfolio is not None and "r2_mmm" in portfolio.columns:
        from weather_mmm.report_html import write_reports

        with open_warehouse(settings.warehouse_path(), on_wait=_tell) as conn:
            pages = write_reports(conn, settings.reports_dir())
        print(f"\nreports: {pages[0]} (portfolio) and {len(pages) - 1} tenant page(s) beside it")
    runs = sum(1 for r in results if r.dagster_run.job_name != "catalog_job")
    failures = sum(1 for r in results if not r.success)
    print(f"\ndone in {elapsed:.0f} s: {runs} run(s)" + (" (nothing had changed)" if not runs else "")
          + (f", {failures} failed (see the errors above)" if failed else "")
          + (f"; {len(blocked)} tenant(s) without an allocation (no usable model version): {', '.join(blocked)}" if blocked else ""))
    return EXIT_FAILED if failed or blocked else EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    """Print one tenant's results from the warehouse and write its report page."""
    import polars as pl

    from weather_mmm.models import store
    from weather_mmm.report_html import tenant_report
    from weather_mmm.reports import fit_facts, open_warehouse, portfolio_summary, version_figures
    from weather_mmm.tables import text_table

    path = _warehouse()
    if args.version:
        with open_warehouse(path, on_wait=_tell) as conn:
            print(text_table(version_figures(conn, args.tenant, args.version)))
        return EXIT_OK
    with open_warehouse(path, on_wait=_tell) as conn:
        summary = portfolio_summary(conn)
        if summary.is_empty() or args.tenant not in summary["tenant"].to_list():
            known = ", ".join(summary["tenant"].to_list()) if summary.height else "none"
            raise WeatherMMMError(f"tenant {args.tenant} has no model in {path} (tenants with a model: {known})")
        try:
            page = tenant_report(conn, args.tenant, settings.reports_dir())
            facts = fit_facts(conn, args.tenant)
        except ValueError as exc:
            raise WeatherMMMError(str(exc)) from None
        in_use = (store.usable_version(conn, args.tenant) or {}).get("version")
    row = summary.filter(pl.col("tenant") == args.tenant)
    print(text_table(row.transpose(include_header=True, header_name="figure", column_names=["value"])))
    print(text_table(facts.rename({"figure": "fit"})))
    shown = facts.filter(pl.col("figure") == "model version")["value"][0]
    if in_use and in_use != shown:  # the newest fit was rolled back: its plans come from another version
        print(f"these figures are the newest fit's ({shown}); plans use {in_use}: "
              f"`weather-mmm show {args.tenant} --version {in_use}` prints what it says")
    print(f"report: {page}")
    return EXIT_OK


def _channel_usd(text: str) -> tuple[str, float]:
    channel, _, usd = text.partition("=")
    try:
        return channel.strip(), float(usd)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not CHANNEL=USD (for example meta=400)") from None


def cmd_plan(args: argparse.Namespace) -> int:
    """Plan one tenant's next horizon under the given constraints (``budget_allocation`` with that run config),
    check the plan against them and print it."""
    import polars as pl

    from assets.allocation import PlanConfig
    from weather_mmm.allocation.quality import constraints_respected
    from weather_mmm.allocation.standing import describe, read_standing
    from weather_mmm.reports import open_warehouse, read_sql, table_names
    from weather_mmm.tables import text_table

    path = _warehouse()
    with open_warehouse(path, on_wait=_tell) as conn:
        tenants = [t for (t,) in conn.execute("select tenant from main.tenant_catalog order by tenant").fetchall()] \
            if "tenant_catalog" in table_names(conn) else []
    if args.tenant not in tenants:
        raise WeatherMMMError(f"tenant {args.tenant} is not in the catalog of {path} (tenants: {', '.join(tenants) or 'none'})")
    config = PlanConfig(budget_usd=args.budget, min_daily_usd=args.min and dict(args.min),
                        max_daily_usd=args.max and dict(args.max), fixed_daily_usd=args.fixed and dict(args.fixed),
                        target_roas=args.target_roas, bound_share=args.bound_share)
    standing = read_standing(settings.plan_constraints_path(), args.tenant)
    if not _replan(args.tenant, config.model_dump(exclude_none=True)):
        return EXIT_FAILED
    with open_warehouse(path, on_wait=_tell) as conn:
        plans = read_sql(conn, "select * from main.budget_allocation where tenant = ?", args.tenant)
        summary = read_sql(conn, "select * from main.allocation_summary where tenant = ?", args.tenant)
    days = plans["date"].n_unique()
    total = summary.filter(pl.col("channel") == "all").row(0, named=True)
    print(f"{args.tenant}: plan for {plans['date'].min()}..{plans['date'].max()} ({days} days), model {total['model_version']}, "
          f"{total['forecast_source']}")
    print(text_table(summary.filter(pl.col("channel") != "all").select(
        "channel", current_usd_day=(pl.col("current_spend") / days).round(2),
        recommended_usd_day=(pl.col("recommended_spend") / days).round(2),
        change_pct=(100 * (pl.col("recommended_spend") / pl.col("current_spend") - 1)).round(1),
        bounds_usd_day=pl.format("{}..{}", pl.col("min_daily").round(2), pl.col("max_daily").round(2)),
        marginal_roas=pl.format("{} [{}, {}]", *[pl.col(f"mroas_{k}").round(2) for k in ("mean", "lo90", "hi90")]))))
    print(f"budget {total['budget']:,.2f} USD{' (a cap)' if total['budget_cap'] else ''}, recommended "
          f"{total['recommended_spend']:,.2f} USD; expected lift over the current allocation "
          f"{total['lift_mean']:+,.0f} USD [{total['lift_lo90']:+,.0f}, {total['lift_hi90']:+,.0f}] (90 % interval)")
    roas = total["revenue_mean"] / total["recommended_spend"] if total["recommended_spend"] else float("nan")
    print(f"expected incremental revenue {total['revenue_mean']:,.0f} USD [{total['revenue_lo90']:,.0f}, "
          f"{total['revenue_hi90']:,.0f}], ROAS {roas:.2f}"
          + (f" (target {total['target_roas']:g})" if total.get("target_roas") is not None else ""))
    print(total["explanation"])
    print(constraints_respected(plans, summary).summary)
    if standing:
        print(f"standing constraints ({settings.plan_constraints_path()}): {describe(standing)}"
              + (f"; this run replaced {', '.join(sorted(config.fields()))}" if config.fields() else ""))
    if total.get("constraints"):
        print(f"planned under: {describe(json.loads(total['constraints']))}")
    if config.fields():
        print("runs without options (`weather-mmm run`, the schedule) plan this tenant again with "
              + ("its standing constraints" if standing else "the defaults"))
    return EXIT_OK


def _replan(tenant: str, config: dict, described: str | None = None) -> bool:
    """Materialize ``budget_allocation`` of ``tenant`` in-process with ``config`` (``PlanConfig`` fields) as its run
    config, after (``described``: a model version, the one in use after a rollback) the MMM's tables describing
    that version (``assets.mmm.MMMFitConfig``); print the failure's reasons and return False when it fails."""
    from assets.allocation import budget_allocation
    from assets.mmm import mmm_fit
    from sensors.jobs import execute, failure_messages
    from weather_mmm.definitions import build_definitions

    ops = {"budget_allocation": {"config": config}} | ({"mmm_fit": {"config": {"version": described}}} if described else {})
    result = execute(build_definitions(), "tenant_model_job", _instance(), partition_key=tenant,
                     asset_selection=list(budget_allocation.keys) + (list(mmm_fit.keys) if described else []),
                     run_config={"ops": ops,
                                 "loggers": {"console": {"config": {"log_level": "CRITICAL"}}}})  # failures printed below
    for line in [] if result.success else failure_messages(result):
        print(f"error: {line}", file=sys.stderr)
    return result.success


def _versions_table(conn, tenant: str):
    """``tenant``'s model versions, newest first, as printed by ``models`` and ``rollback``."""
    import polars as pl

    from weather_mmm.models import store
    from weather_mmm.reports import read_sql, table_names

    rows = store.versions(conn, tenant)
    if rows.is_empty():
        return rows
    in_use = (store.usable_version(conn, tenant) or {}).get("version")
    planned = read_sql(conn, "select model_version from main.allocation_summary where tenant = ? and channel = 'all'",
                       tenant)["model_version"].to_list() if "allocation_summary" in table_names(conn) else []
    def priors_in(path: str) -> str:  # a version's stated ROAS priors, from its artifact
        stated = store.stated_priors(Path(path))
        return "artifact missing" if stated is None else ", ".join(f"{c} [{lo:.2f}, {hi:.2f}]" for c, (lo, hi) in stated.items())

    return rows.select(
        "version", created_utc=pl.col("created_at").dt.strftime("%Y-%m-%d %H:%M:%S"), model="code_version",
        data=pl.col("data_fingerprint").str.slice(0, 8),  # equal: fitted on the same inputs
        holdout_r2=pl.col("holdout_r2").round(3), holdout_mape=pl.format("{}%", (100 * pl.col("holdout_mape")).round(1)),
        stated_priors=pl.col("path").map_elements(priors_in, return_dtype=pl.String),
        status=pl.format("{}: {}", "status", "reason"),
        plans=pl.concat_str(pl.when(pl.col("version") == in_use).then(pl.lit("in use")),
                            pl.when(pl.col("version").is_in(planned)).then(pl.lit("stored plan")),
                            separator=", ", ignore_nulls=True))


def cmd_models(args: argparse.Namespace) -> int:
    """Print a tenant's model versions, newest first: when fitted, by which model, on which inputs (the start of the
    data fingerprint), holdout scores, status, and which one its plans use."""
    from weather_mmm.reports import open_warehouse
    from weather_mmm.tables import text_table

    path = _warehouse()
    with open_warehouse(path, on_wait=_tell) as conn:
        table = _versions_table(conn, args.tenant)
    if table.is_empty():
        raise WeatherMMMError(f"tenant {args.tenant} has no model version in {path}")
    print(text_table(table))
    return EXIT_OK


def cmd_rollback(args: argparse.Namespace) -> int:
    """Put an earlier model version of a tenant back in use (``weather_mmm.models.store.rollback``), then plan the
    tenant again from it under its standing constraints."""
    from weather_mmm.models import store
    from weather_mmm.reports import open_warehouse
    from weather_mmm.tables import text_table

    path = _warehouse()
    with open_warehouse(path, read_only=False, on_wait=_tell) as conn:
        if store.versions(conn, args.tenant).is_empty():
            raise WeatherMMMError(f"tenant {args.tenant} has no model version in {path}")
        before = (store.usable_version(conn, args.tenant) or {}).get("version")
        now = store.rollback(conn, args.tenant, args.to)
    print(f"{args.tenant}: model version {now['version']} in use again (was {before})")
    if not args.no_plan and not _replan(args.tenant, {}, described=now["version"]):
        return EXIT_FAILED
    with open_warehouse(path, on_wait=_tell) as conn:
        print(text_table(_versions_table(conn, args.tenant)))
        plan = conn.execute("select lift_mean, lift_lo90, lift_hi90 from main.allocation_summary where tenant = ? "
                            "and channel = 'all' and model_version = ?", [args.tenant, now["version"]]).fetchone()
    if plan:
        print(f"planned again from {now['version']}: expected lift over the current allocation {plan[0]:+,.0f} USD "
              f"[{plan[1]:+,.0f}, {plan[2]:+,.0f}] (90 % interval); `weather-mmm plan {args.tenant}` prints the plan")
    if args.no_plan:
        print(f"the stored plan and the MMM's tables stay as they are until the daemon's rolled_back_plans_sensor "
              f"describes and plans {args.tenant} again from {now['version']} (the next `weather-mmm run` plans from it "
              f"too, and leaves the tables)")
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    """Validate and store a real tenant's files, then materialize its catalog row, sales and spend."""
    import polars as pl

    from sensors.jobs import failure_messages, run_tenants, run_weather
    from weather_mmm.definitions import build_definitions

    defs = build_definitions()
    from weather_mmm.simulation.catalog import simulated_tenants
    from weather_mmm.simulation.importer import import_tenant, read_imported_tenant
    from weather_mmm.weather.cities import load_cities

    cities = set(load_cities())
    spec = import_tenant(settings.imports_dir(), args.tenant, args.spec, args.files, cities, simulated_tenants(),
                         args.forecasts)
    sales, _ = read_imported_tenant(settings.imports_dir(), args.tenant, cities)
    first, last = sales["date"].min(), min(sales["date"].max(), settings.calendar_end())
    print(f"imported {args.tenant}: {sales.height} rows, {first}..{sales['date'].max()}, geos {', '.join(spec['geos'])}, "
          f"channels {', '.join(spec['channels'])} -> {settings.imports_dir() / args.tenant}")
    if args.no_run:
        return EXIT_OK
    instance = _instance()
    weather = run_weather(defs, instance, first, last)
    results = [weather] if weather else []
    if all(r.success for r in results):
        results += run_tenants(defs, instance, first, last, [args.tenant], progress=print, checks=False, models=False)[0]
    failed = False
    for result in results:
        for line in failure_messages(result):
            print(f"error: {line}", file=sys.stderr)
        failed |= not result.success
    if not failed:
        print(f"materialized weather, tenant_sales, tenant_spend and tenant_features of {args.tenant} for {first}..{last} "
              f"({pl.date_range(first, last, eager=True).len()} days)")
    return EXIT_FAILED if failed else EXIT_OK


def cmd_fit_climatology(args: argparse.Namespace) -> int:
    from weather_mmm.weather.cities import load_cities
    from weather_mmm.weather.climatology import CLIMATOLOGY_FILE, fit_city, save_climatology
    from weather_mmm.weather.seeds import read_seed_folder

    cities = load_cities()
    records = read_seed_folder(args.seeds, set(cities))
    fitted = {c: fit_city(city, records.get(c)) for c, city in cities.items()}
    save_climatology(fitted, args.out)
    for c, clim in sorted(fitted.items()):
        print(f"{c}: temperature {clim.temperature.source}; precipitation {clim.precipitation.source}")
    print(f"wrote {args.out} (default {CLIMATOLOGY_FILE})")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="weather-mmm",
        description="Marketing-mix models with weather: run the pipeline, inspect results, manage inputs.",
        epilog="Settings come from the environment: WEATHER_MMM_WEATHER_SOURCE (auto|seeds|api|climatology), "
               "WEATHER_MMM_WEATHER_SEEDS, WEATHER_MMM_WAREHOUSE, WEATHER_MMM_REPORTS, WEATHER_MMM_CALENDAR_END, DAGSTER_HOME.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the main job in-process and print a summary")
    run.add_argument("--start", type=_date, help="first day (default 2023-01-01)")
    run.add_argument("--end", type=_date, help="last day (default the calendar end)")
    run.add_argument("--tenant", help="only this tenant (after the catalog)")
    run.add_argument("--weather-only", action="store_true", help="only materialize weather_daily")
    run.add_argument("--force", action="store_true",
                     help="rematerialize every partition in the range, even those whose code and inputs are unchanged")
    run.set_defaults(func=cmd_run)
    show = sub.add_parser("show", help="print a tenant's results and write its HTML report")
    show.add_argument("tenant")
    show.add_argument("--version", help="print what this stored model version says instead (ROAS, marginal ROAS, weather "
                                        "share, from its artifact; `weather-mmm models` lists the versions)")
    show.set_defaults(func=cmd_show)
    plan = sub.add_parser(
        "plan", help="plan a tenant's next horizon under a budget and constraints, and print the plan",
        description="Materialize budget_allocation for one tenant with these constraints (the run config of the Dagster "
                    "launchpad), from its newest usable model version and the forecast. Each option replaces the "
                    "tenant's standing one (WEATHER_MMM_PLAN_CONSTRAINTS, default storage/plan_constraints.yaml); "
                    "any left out keeps the standing one or else its default: the current allocation's budget, "
                    "each channel within ±30 % of its current daily spend.")
    plan.add_argument("tenant")
    plan.add_argument("--budget", type=float, help="total spend over the horizon, USD")
    for flag, what in (("min", "least"), ("max", "most"), ("fixed", "held")):
        plan.add_argument(f"--{flag}", type=_channel_usd, action="append", metavar="CHANNEL=USD",
                          help=f"a channel's {what} spend per day, USD (repeatable)")
    plan.add_argument("--target-roas", type=float, help="least incremental revenue per USD spent; the budget becomes a cap")
    plan.add_argument("--bound-share", type=float, help="bounds of channels not given: current daily spend ± this share")
    plan.set_defaults(func=cmd_plan)
    models = sub.add_parser("models", help="list a tenant's model versions and which one its plans use")
    models.add_argument("tenant")
    models.set_defaults(func=cmd_models)
    back = sub.add_parser(
        "rollback", help="put an earlier model version of a tenant back in use and plan from it",
        description="Mark the model version in use rolled back, so the usable one before it is used again (with --to, "
                    "that version; a rolled-back one undoes its rollback), then plan the tenant again from it under "
                    "its standing constraints. Rolled-back versions are kept (weather-mmm models lists them).")
    back.add_argument("tenant")
    back.add_argument("--to", metavar="VERSION", help="the version to use (default: the usable one before the newest)")
    back.add_argument("--no-plan", action="store_true", help="do not plan again now")
    back.set_defaults(func=cmd_rollback)
    imp = sub.add_parser(
        "import", help="import a real tenant's daily CSV/Parquet files and materialize its tables",
        description="Validate a real tenant's files (date, geo, revenue, orders, spend_<channel>, optional "
                    "impressions_<channel>, clicks_<channel>), store them under WEATHER_MMM_IMPORTS/<tenant>/ "
                    "and materialize its catalog row, sales and spend. Nothing is stored unless every file passes.")
    imp.add_argument("tenant", help="tenant key: lower-case letters, digits, underscores")
    imp.add_argument("--spec", type=Path, required=True,
                     help='tenant.json: {"name", "geos": {city: revenue share}, "channels": [...], optional "tier", "industry"}')
    imp.add_argument("files", type=Path, nargs="+", help="daily CSV or Parquet files")
    imp.add_argument("--forecasts", type=Path, nargs="+", default=[],
                     help="weather forecasts the tenant planned spend on: CSV or Parquet with date, geo, variable "
                          "(precipitation | snowfall | heat | cold), forecast, optional lead_days")
    imp.add_argument("--no-run", action="store_true", help="only validate and store the files")
    imp.set_defaults(func=cmd_import)
    fit = sub.add_parser("fit-climatology", help="refit storage/seeds/climatology.json from real seed files")
    fit.add_argument("--seeds", type=Path, required=True, help="folder of <city>.json / <city>_*.csv files")
    fit.add_argument("--out", type=Path, default=settings.SEEDS_DIR / "climatology.json")
    fit.set_defaults(func=cmd_fit_climatology)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except WeatherMMMError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as exc:
        print(f"interrupted{': ' + str(exc) if str(exc) else ''}; finished runs are stored, no further run started",
              file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
