"""Import a real tenant's daily data into the same tables as the simulation (``tenant_sales``, ``tenant_spend``).

Input: one or more CSV or Parquet files, one row per date and geo, with columns

* ``date`` (ISO date), ``geo`` (a city of the tenant's profile), ``revenue`` (USD), ``orders`` (count);
* ``spend_<channel>`` (USD) for every channel declared in the tenant's profile;
* optional ``impressions_<channel>``, ``clicks_<channel>`` (counts).

Every problem raises :class:`TenantImportError` naming the file, the row (1-based data row; for CSV the
line is row + 1) and the column: text in a numeric column, negative values, duplicate or missing days,
unknown geos, and spend for channels the profile does not declare. Nothing is written unless all files pass.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from weather_mmm.errors import WeatherMMMError
from weather_mmm.simulation.contract import SALES_COLUMNS, SPEND_COLUMNS


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


