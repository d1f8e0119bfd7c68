"""Import a real tenant's daily data into the same tables as the simulation (``tenant_sales``, ``tenant_spend``).

Input: one or more CSV or Parquet files, one row per date and geo, with columns

* ``date`` (ISO date), ``geo`` (a city of the tenant's profile), ``revenue`` (USD), ``orders`` (count);
* ``spend_<channel>`` (USD) for every channel declared in the tenant's profile;
* optional ``impressions_<channel>``, ``clicks_<channel>`` (counts).

Every problem raises :class:`TenantImportError` naming the file, the row (1-based data row; for CSV the
line is row + 1) and the column: text in a numeric column, negative values, duplicate or missing days,
unknown geos, and spend for channels the profile does not declare. Nothing is written unless all files pass.

An imported tenant lives in its own folder under the imports directory (``WEATHER_MMM_IMPORTS``, default
``storage/imports``): ``<tenant>/tenant.json`` declares it and the data files sit beside it::

    {"name": "Acme Outdoor", "tier": "unknown", "industry": "outdoor retail",
     "geos": {"seattle": 0.7, "chicago": 0.3}, "channels": ["meta", "google", "email"]}

``geos`` maps each reference city to its share of revenue (shares are normalised to sum to 1); ``tier`` is
optional (``unknown`` when the sensitivity is not known); an optional ``margin`` (contribution margin, USD
per USD of revenue before advertising, 0 < margin <= 1) makes its allocation maximise contribution
instead of revenue; optional ``experiments`` list the lift tests it ran, which calibrate its MMM::

    "experiments": [{"channel": "meta", "geo": "seattle", "start": "2024-03-04", "end": "2024-03-31",
                     "spend": 12000, "lift": 25000, "lift_se": 5000}]

(``spend``: the channel's spend in the geo during the test, USD; ``lift``: the incremental revenue the test
measured, carryover after it included, USD; ``lift_se``: its standard error, USD). An imported tenant has
no ground truth.

A tenant that planned spend on weather forecasts may also bring them (``weather-mmm import --forecasts``), kept
in ``<tenant>/forecasts/``: CSV or Parquet with one row per date, geo and variable, columns ``date``, ``geo``,
``variable`` (``precipitation`` mm, ``snowfall`` cm, ``heat`` maximum temperature °C, ``cold`` minimum
temperature °C: ``contract.FORECAST_VARIABLES``), ``forecast`` (the forecast it planned on, in that unit) and
optional ``lead_days`` (days before the date it was issued; default 1). They become its ``tenant_forecasts``
rows, which ``weather_evidence`` uses for the forecast-error design.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import polars as pl

from weather_mmm.errors import WeatherMMMError
from weather_mmm.simulation.contract import (EXPERIMENT_SCHEMA, EXPERIMENT_UNITS, FORECAST_SCHEMA, FORECAST_VARIABLES, SALES_COLUMNS,
                                             SPEND_COLUMNS, experiment_id)


class TenantImportError(WeatherMMMError, ValueError):
    """A tenant file that does not match the import schema."""


def _read(path: Path) -> pl.DataFrame:
    try:
        if path.suffix.lower() == ".parquet":
            return pl.read_parquet(path).with_columns(pl.all().cast(pl.Utf8))
        return pl.read_csv(path, infer_schema=False)
    except Exception as exc:  # noqa: BLE001 - any reader failure is the file's fault
        raise TenantImportError(f"{path}: cannot read ({exc.__class__.__name__}: {exc})") from None


def _numeric(frame: pl.DataFrame, column: str, path: Path, integer: bool = False) -> pl.Series:
    raw = frame[column].str.strip_chars()
    values = raw.cast(pl.Float64, strict=False)
    bad = (values.is_null() & raw.is_not_null() & (raw != "")).arg_true()
    if len(bad):
        row = int(bad[0])
        raise TenantImportError(f"{path}: row {row + 1}, column {column!r}: {raw[row]!r} is not a number")
    negative = (values < 0).arg_true()
    if len(negative):
        row = int(negative[0])
        raise TenantImportError(f"{path}: row {row + 1}, column {column!r}: negative value {values[row]}")
    return values.round(0).cast(pl.Int64) if integer else values


def read_tenant_files(files: list[Path], tenant: str, channels: list[str], geos: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Validate and convert a tenant's files into (sales, spend) frames with the simulation's columns.

    Raises:
        TenantImportError: the first problem found, naming file, row and column.
    """
    sales_parts, spend_parts = [], []
    for path in map(Path, files):
        frame = _read(path)
        missing = [c for c in ("date", "geo", "revenue", "orders") if c not in frame.columns]
        if missing:
            raise TenantImportError(f"{path}: missing column(s) {', '.join(missing)}")
        declared = set(channels)
        for column in frame.columns:
            for prefix in ("spend_", "impressions_", "clicks_"):
                if column.startswith(prefix) and column[len(prefix):] not in declared:
                    raise TenantImportError(
                        f"{path}: column {column!r} is for channel {column[len(prefix):]!r}, which tenant {tenant} "
                        f"does not declare (declared: {', '.join(channels)})")
        for ch in channels:
            if f"spend_{ch}" not in frame.columns:
                raise TenantImportError(f"{path}: missing column 'spend_{ch}' for declared channel {ch!r}")
        dates = frame["date"].str.strip_chars().str.to_date("%Y-%m-%d", strict=False)
        bad = dates.is_null().arg_true()
        if len(bad):
            row = int(bad[0])
            raise TenantImportError(f"{path}: row {row + 1}, column 'date': {frame['date'][row]!r} is not an ISO date")
        unknown = frame.filter(~pl.col("geo").is_in(geos))
        if unknown.height:
            row = int((~frame["geo"].is_in(geos)).arg_true()[0])
            raise TenantImportError(f"{path}: row {row + 1}, column 'geo': {frame['geo'][row]!r} is not one of {', '.join(geos)}")
        sales_parts.append(pl.DataFrame({
            "date": dates, "tenant": tenant, "geo": frame["geo"],
            "revenue": _numeric(frame, "revenue", path), "orders": _numeric(frame, "orders", path, integer=True),
            "source_file": str(path), "row": pl.int_range(1, frame.height + 1, eager=True),
        }))
        for ch in channels:
            def optional(name: str) -> pl.Series:
                column = f"{name}_{ch}"
                if column in frame.columns:
                    return _numeric(frame, column, path, integer=True)
                return pl.Series(column, [None] * frame.height, dtype=pl.Int64)

            spend_parts.append(pl.DataFrame({
                "date": dates, "tenant": tenant, "geo": frame["geo"], "channel": ch,
                "spend": _numeric(frame, f"spend_{ch}", path), "impressions": optional("impressions"),
                "clicks": optional("clicks"),
            }))
    sales = pl.concat(sales_parts)
    dup = sales.filter(pl.struct("date", "geo").is_duplicated()).sort("date", "geo", "source_file", "row")
    if dup.height:
        first, second = dup.row(0, named=True), dup.row(1, named=True)
        raise TenantImportError(
            f"{second['source_file']}: row {second['row']}: duplicate day {first['date']} for geo {first['geo']} "
            f"(also {first['source_file']} row {first['row']})")
    for geo in sales["geo"].unique().sort():
        days = sales.filter(pl.col("geo") == geo)["date"].sort()
        expected = pl.date_range(days[0], days[-1], "1d", eager=True)
        gaps = expected.filter(~expected.is_in(days.implode()))
        if len(gaps):
            raise TenantImportError(f"tenant {tenant}: geo {geo} has {len(gaps)} missing day(s) between {days[0]} and {days[-1]}, first {gaps[0]}")
    sales = sales.with_columns(
        orders_new=pl.lit(None, pl.Int64), orders_returning=pl.lit(None, pl.Int64), units=pl.lit(None, pl.Int64),
        margin=pl.lit(None, pl.Float64), promo_depth=pl.lit(None, pl.Float64),
    ).select(SALES_COLUMNS).sort("date", "geo")
    spend = pl.concat(spend_parts).with_columns(
        conversions=pl.lit(None, pl.Int64),
        cpm=pl.when(pl.col("impressions") > 0).then((pl.col("spend") / pl.col("impressions") * 1000).round(3)),
        cpc=pl.when(pl.col("clicks") > 0).then((pl.col("spend") / pl.col("clicks")).round(3)),
    ).select(SPEND_COLUMNS).sort("date", "geo", "channel")
    return sales, spend




SPEC_FILE = "tenant.json"
FORECASTS_DIR = "forecasts"
DATA_SUFFIXES = (".csv", ".parquet")


def read_forecast_files(files: list[Path], tenant: str, geos: list[str]) -> pl.DataFrame:
    """Validate and convert a tenant's forecast files into ``tenant_forecasts`` rows (:data:`FORECAST_SCHEMA`).

    Raises:
        TenantImportError: the first problem found, naming file, row and column: a missing column, a date that
            is not ISO, a geo or variable the tenant cannot have, a forecast that is not a number, a lead time
            below 1 day, or a date, geo and variable given twice.
    """
    parts = []
    for path in map(Path, files):
        frame = _read(path)
        missing = [c for c in ("date", "geo", "variable", "forecast") if c not in frame.columns]
        if missing:
            raise TenantImportError(f"{path}: missing column(s) {', '.join(missing)} (tenant {tenant}'s forecasts)")
        dates = frame["date"].str.strip_chars().str.to_date("%Y-%m-%d", strict=False)
        for column, bad, what in (("date", dates.is_null(), "is not an ISO date"),
                                  ("geo", ~frame["geo"].is_in(geos), f"is not one of the tenant's geos {geos}"),
                                  ("variable", ~frame["variable"].is_in(list(FORECAST_VARIABLES)),
                                   f"is not one of {', '.join(FORECAST_VARIABLES)}")):
            if (rows := bad.fill_null(True).arg_true()).len():
                row = int(rows[0])
                raise TenantImportError(f"{path}: row {row + 1}, column {column!r}: {frame[column][row]!r} {what}")
        forecast = frame["forecast"].str.strip_chars().cast(pl.Float64, strict=False)
        if (rows := forecast.is_null().arg_true()).len():
            row = int(rows[0])
            raise TenantImportError(f"{path}: row {row + 1}, column 'forecast': {frame['forecast'][row]!r} is not a number")
        lead = (_numeric(frame, "lead_days", path, integer=True) if "lead_days" in frame.columns
                else pl.Series("lead_days", [1] * frame.height, pl.Int64))
        if (rows := (lead < 1).arg_true()).len():
            row = int(rows[0])
            raise TenantImportError(f"{path}: row {row + 1}, column 'lead_days': a forecast is issued at least 1 day ahead")
        parts.append(pl.DataFrame({"date": dates, "tenant": tenant, "geo": frame["geo"], "variable": frame["variable"],
                                   "lead_days": lead, "forecast": forecast, "observed": None, "trigger_signal": None},
                                  schema=FORECAST_SCHEMA))
    forecasts = pl.concat(parts) if parts else pl.DataFrame(schema=FORECAST_SCHEMA)
    twice = forecasts.filter(pl.struct("date", "geo", "variable").is_duplicated())
    if twice.height:
        raise TenantImportError(f"tenant {tenant}: forecasts give {twice['variable'][0]} in {twice['geo'][0]} on "
                                f"{twice['date'][0]} more than once")
    return forecasts.sort("variable", "geo", "date")


def read_imported_forecasts(imports_dir: Path, tenant: str, known_cities: set[str]) -> pl.DataFrame:
    """An imported tenant's forecasts from ``<tenant>/forecasts/`` (no rows when it brought none).

    Raises:
        TenantImportError: as :func:`read_forecast_files`.
    """
    folder = Path(imports_dir) / tenant
    spec = read_tenant_spec(folder / SPEC_FILE, known_cities)
    files = data_files(folder / FORECASTS_DIR) if (folder / FORECASTS_DIR).is_dir() else []
    return read_forecast_files(files, tenant, list(spec["geos"]))


def read_tenant_spec(path: Path, known_cities: set[str]) -> dict:
    """A ``tenant.json`` as a public catalog row (tenant, name, tier, industry, source, geos, channels).

    Raises:
        TenantImportError: unreadable JSON, a missing key, an unknown city or non-positive geo shares.
    """
    path = Path(path)
    try:
        spec = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise TenantImportError(f"{path}: cannot read the tenant declaration ({exc})") from None
    missing = [k for k in ("name", "geos", "channels") if k not in spec]
    if missing:
        raise TenantImportError(f"{path}: missing key(s) {', '.join(missing)}")
    geos = spec["geos"] if isinstance(spec["geos"], dict) else {g: 1.0 for g in spec["geos"]}
    unknown = sorted(set(geos) - known_cities)
    if unknown:
        raise TenantImportError(f"{path}: geos {', '.join(unknown)} are not reference cities ({', '.join(sorted(known_cities))})")
    if not geos or any(float(v) <= 0 for v in geos.values()):
        raise TenantImportError(f"{path}: 'geos' needs at least one city with a positive revenue share")
    total = sum(float(v) for v in geos.values())
    channels = list(spec["channels"])
    if not channels or len(set(channels)) != len(channels):
        raise TenantImportError(f"{path}: 'channels' must be a non-empty list without repeats")
    margin = spec.get("margin")
    if margin is not None and not (isinstance(margin, (int, float)) and 0 < margin <= 1):
        raise TenantImportError(f"{path}: 'margin' is {margin!r}; a contribution margin is a number in (0, 1]")
    read_experiments(path, path.parent.name)
    return {
        "tenant": path.parent.name, "name": str(spec["name"]), "tier": str(spec.get("tier", "unknown")),
        "industry": str(spec.get("industry", "")), "source": "imported",
        "geos": {g: round(float(v) / total, 6) for g, v in geos.items()}, "channels": channels,
        "categories": spec.get("categories", []),
    }


def read_experiments(path: Path, tenant: str) -> pl.DataFrame:
    """The lift tests a ``tenant.json`` declares, as ``tenant_experiments`` rows (``EXPERIMENT_SCHEMA``; empty
    when it declares none).

    Raises:
        TenantImportError: a test misses a key, names a channel or geo the tenant does not declare, has dates
            that are not ISO or end before they start, or amounts that are not numbers (spend and lift_se > 0).
    """
    path = Path(path)
    spec = json.loads(path.read_text())
    rows = []
    for i, test in enumerate(spec.get("experiments", []), 1):
        where = f"{path}: experiments[{i}]"
        missing = [k for k in EXPERIMENT_UNITS if k not in test]
        if missing:
            raise TenantImportError(f"{where}: missing key(s) {', '.join(missing)}")
        if test["channel"] not in spec["channels"]:
            raise TenantImportError(f"{where}: channel {test['channel']!r} is not one of the tenant's {spec['channels']}")
        if test["geo"] not in spec["geos"]:
            raise TenantImportError(f"{where}: geo {test['geo']!r} is not one of the tenant's {list(spec['geos'])}")
        try:
            start, end = dt.date.fromisoformat(test["start"]), dt.date.fromisoformat(test["end"])
            spend, lift, se = float(test["spend"]), float(test["lift"]), float(test["lift_se"])
        except (TypeError, ValueError) as exc:
            raise TenantImportError(f"{where}: {exc}") from None
        if end < start or spend <= 0 or se <= 0:
            raise TenantImportError(f"{where}: needs start <= end, spend > 0 and lift_se > 0 "
                                    f"(got {start}..{end}, spend {spend}, lift_se {se})")
        rows.append({"tenant": tenant, "experiment": experiment_id(test["channel"], test["geo"], start),
                     "channel": test["channel"], "geo": test["geo"], "start": start, "end": end, "spend": spend,
                     "lift": lift, "lift_se": se})
    return pl.DataFrame(rows, schema=EXPERIMENT_SCHEMA)


def tenant_margin(imports_dir: Path, tenant: str) -> float | None:
    """The contribution margin an imported tenant declared in its ``tenant.json`` (``None`` when it did
    not, or the tenant is not imported)."""
    path = Path(imports_dir) / tenant / "tenant.json"
    if not path.exists():
        return None
    margin = json.loads(path.read_text()).get("margin")
    return None if margin is None else float(margin)


def data_files(folder: Path) -> list[Path]:
    """The tenant folder's data files (CSV and Parquet), sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in DATA_SUFFIXES)


def imported_tenants(imports_dir: Path, known_cities: set[str]) -> list[dict]:
    """Catalog rows of every tenant folder (one with a ``tenant.json``) under ``imports_dir``."""
    if not Path(imports_dir).is_dir():
        return []
    return [read_tenant_spec(spec, known_cities) for spec in sorted(Path(imports_dir).glob(f"*/{SPEC_FILE}"))]


def read_imported_tenant(imports_dir: Path, tenant: str, known_cities: set[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(sales, spend) of an imported tenant from its folder.

    Raises:
        TenantImportError: no such folder or no data files, or any problem :func:`read_tenant_files` finds.
    """
    folder = Path(imports_dir) / tenant
    spec = read_tenant_spec(folder / SPEC_FILE, known_cities)
    files = data_files(folder)
    if not files:
        raise TenantImportError(f"{folder}: no .csv or .parquet data files for tenant {tenant}")
    return read_tenant_files(files, tenant, spec["channels"], list(spec["geos"]))


def import_tenant(imports_dir: Path, tenant: str, spec_file: Path, files: list[Path], known_cities: set[str],
                  reserved: set[str], forecasts: list[Path] = ()) -> dict:
    """Validate a tenant's declaration, files and forecast files, then copy them into ``imports_dir/<tenant>/``
    (the forecasts into its ``forecasts/``).

    Nothing is copied unless everything validates; a tenant already imported gets its folder replaced
    whole (the previous files are kept until the new ones are in place).

    Raises:
        TenantImportError: the tenant name clashes with a simulated tenant or is not a plain name, or a file fails.
    """
    if tenant in reserved:
        raise TenantImportError(f"tenant {tenant!r} is a simulated tenant; choose another name")
    if not tenant.replace("_", "").isalnum() or tenant != tenant.lower():
        raise TenantImportError(f"tenant {tenant!r}: use lower-case letters, digits and underscores")
    staging = Path(imports_dir) / f".{tenant}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        shutil.copy(spec_file, staging / SPEC_FILE)
        spec = read_tenant_spec(staging / SPEC_FILE, known_cities)
        read_tenant_files(list(map(Path, files)), tenant, spec["channels"], list(spec["geos"]))
        read_forecast_files(list(map(Path, forecasts)), tenant, list(spec["geos"]))
        for f in files:
            shutil.copy(f, staging / Path(f).name)
        if forecasts:
            (staging / FORECASTS_DIR).mkdir()
            for f in forecasts:
                shutil.copy(f, staging / FORECASTS_DIR / Path(f).name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    target = Path(imports_dir) / tenant
    old = Path(imports_dir) / f".{tenant}.old"
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return {**spec, "tenant": tenant}
