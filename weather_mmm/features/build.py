"""Feature tables: one row per tenant-day (``tenant_features``) and per tenant-day-channel (``tenant_media_features``).

Every value for day d is computed from data dated d or earlier: calendar facts (known in advance), the
day's observed weather and trailing windows of it, the day's and earlier spend, and the day's promotion
depth. Nothing reads later rows, so a row rebuilt from data truncated at d is identical to the stored row
(:func:`rebuild_rows` and the ``features_have_no_future_data`` check prove it on a sample of days).

Observed vs forecast weather: these tables hold OBSERVED weather. They train models and score history;
planning the future (``weather_mmm.allocation``) uses only the weather forecast known at planning time.

Trailing windows are sums of explicit shifts (not running sums), so a value depends only on the rows in
its window and is bit-identical however much history was loaded before it. ``WARMUP_DAYS`` of history
before the first day of a range make every window full.
"""

from __future__ import annotations

import datetime as dt

import holidays as holidays_lib
import numpy as np
import polars as pl

from weather_mmm.errors import WeatherMMMError

#: Trailing history that every window needs (adstock 14 days, lags 3, means 7).
WARMUP_DAYS = 14
#: Fixed geometric decay of the ``adstock`` feature (a baseline regressor, not a fitted parameter).
FEATURE_ADSTOCK_DECAY = 0.5
FEATURE_ADSTOCK_LAGS = 13

#: Weather variables weighted by the tenant's geo mix (``weather_daily`` columns).
WEATHER_BASE = {
    "tmean": ("temperature_2m_mean", "°C", "daily mean air temperature at 2 m"),
    "tmax": ("temperature_2m_max", "°C", "daily maximum temperature"),
    "tmin": ("temperature_2m_min", "°C", "daily minimum temperature"),
    "precip": ("precipitation_sum", "mm", "daily precipitation"),
    "snow": ("snowfall_sum", "cm", "daily snowfall"),
    "hdd": ("hdd", "°C·day", "heating degree days, base 18 °C"),
    "cdd": ("cdd", "°C·day", "cooling degree days, base 18 °C"),
    "temp_anomaly": ("temp_anomaly", "°C", "mean temperature minus the day-of-year normal"),
    "precip_anomaly": ("precip_anomaly", "mm", "precipitation minus the day-of-year normal"),
    "heatwave": ("heatwave", "share", "revenue-weighted share of geos in a heatwave"),
    "cold_snap": ("cold_snap", "share", "revenue-weighted share of geos in a cold snap"),
    "heavy_rain": ("heavy_rain", "share", "revenue-weighted share of geos with heavy rain"),
    "snowstorm": ("snowstorm", "share", "revenue-weighted share of geos with a snowstorm"),
    "sustained_rain": ("sustained_rain", "share", "revenue-weighted share of geos in sustained rain"),
}
LAGGED = ("tmean", "precip", "snow", "hdd", "cdd")
LAGS = (1, 2, 3)
ROLLING_7D = ("tmean", "precip", "hdd", "cdd")

CALENDAR_UNITS = {
    "trend": ("years", "years since 2023-01-01"),
    "weekday": ("0=Mon..6=Sun", "day of week"),
    "month": ("1..12", "month"),
    "day_of_year": ("1..366", "day of year"),
    "holiday": ("flag", "US public holiday (`holidays` package) other than the peak days"),
    "holiday_peak": ("flag", "Thanksgiving, Black Friday, Cyber Monday, Christmas Eve or Christmas Day"),
    "gift_season": ("0..1", "linear ramp from Nov 15 (0) to Dec 24 (1), 0 otherwise"),
    "payday": ("flag", "1st-3rd or 15th-16th of the month"),
    "month_end": ("flag", "24th or later"),
    "promo_depth": ("share of price", "revenue-weighted promotion depth of the day (0 = none)"),
    "promo_depth_7d": ("share of price", "mean promotion depth of the previous 7 days (post-promotion hangover)"),
}
TARGET_UNITS = {"revenue": ("USD", "revenue, all geos"), "orders": ("count", "orders, all geos")}
MEDIA_UNITS = {
    "spend": ("USD", "spend, all geos"),
    "impressions": ("count", "impressions (null when not reported)"),
    "clicks": ("count", "clicks (null when not reported)"),
    "adstock": ("USD", f"geometric adstock of spend, decay {FEATURE_ADSTOCK_DECAY}, lags 0-{FEATURE_ADSTOCK_LAGS}, weights sum to 1"),
}


def _weather_units() -> dict[str, tuple[str, str]]:
    units = {name: (unit, text) for name, (_, unit, text) in WEATHER_BASE.items()}
    for name in LAGGED:
        for k in LAGS:
            units[f"{name}_lag{k}"] = (WEATHER_BASE[name][1], f"{name} {k} day(s) earlier")
    for name in ROLLING_7D:
        units[f"{name}_7d"] = (WEATHER_BASE[name][1], f"mean {name} over the day and the 6 before")
    return units


WEATHER_UNITS = _weather_units()
#: Column -> (unit, meaning) of ``tenant_features``, in column order after date and tenant.
FEATURE_UNITS = {**CALENDAR_UNITS, **WEATHER_UNITS, **TARGET_UNITS}
FEATURE_COLUMNS = ["date", "tenant", *FEATURE_UNITS]
MEDIA_COLUMNS = ["date", "tenant", "channel", *MEDIA_UNITS]
TARGETS = tuple(TARGET_UNITS)
WEATHER_FEATURES = tuple(WEATHER_UNITS)


class FeatureInputError(WeatherMMMError, ValueError):
    """Inputs that cannot make a feature row (missing weather for a tenant's geo and day)."""


def _trailing_mean(col: str, days: int) -> pl.Expr:
    return sum(pl.col(col).shift(k) for k in range(days)) / days


PEAK_DAYS = ("Thanksgiving Day", "Black Friday", "Cyber Monday", "Christmas Eve", "Christmas Day")


def _named_days(years: range) -> dict[dt.date, str]:
    """Day -> event name: every US public holiday of the ``holidays`` package (observed days under the
    holiday's name) plus Black Friday, Cyber Monday and Christmas Eve."""
    named: dict[dt.date, str] = {}
    for day, name in holidays_lib.country_holidays("US", years=years).items():
        named[day] = name.replace(" (observed)", "")
        if name.startswith("Thanksgiving"):
            named[day + dt.timedelta(days=1)] = "Black Friday"
            named[day + dt.timedelta(days=4)] = "Cyber Monday"
    for y in years:
        named[dt.date(y, 12, 24)] = "Christmas Eve"
    return named


def _holidays(dates: pl.Series) -> tuple[pl.Series, pl.Series]:
    """(other public holidays, peak shopping days) flags from the ``holidays`` package's US calendar."""
    named = _named_days(range(dates.min().year, dates.max().year + 1))
    peak = sorted(d for d, name in named.items() if name in PEAK_DAYS)
    other = sorted(d for d, name in named.items() if name not in PEAK_DAYS)
    return dates.is_in(other).cast(pl.Int8), dates.is_in(peak).cast(pl.Int8)


def holiday_events(dates: list[dt.date]) -> dict[str, np.ndarray]:
    """One 0/1 flag per named calendar event over ``dates`` (a list of days), named as :func:`_named_days`.
    Prophet's approach (one regressor per holiday, Taylor & Letham 2018): holidays move demand in opposite
    directions (Christmas Day down, Black Friday up), so one shared flag cannot describe them.
    Returns name -> array [len(dates)] of floats, only for events that occur in ``dates``."""
    named = _named_days(range(min(dates).year, max(dates).year + 1))
    labels = [named.get(d) for d in dates]
    return {name: np.array([lab == name for lab in labels], dtype=float) for name in sorted({x for x in labels if x})}


def build_features(
    tenant: str,
    sales: pl.DataFrame,
    spend: pl.DataFrame,
    weather: pl.DataFrame,
    geos: dict[str, float],
    channels: list[str],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Feature rows of one tenant for every date in ``sales``.

    Args:
        sales: ``tenant_sales`` rows of the tenant (date x geo), consecutive days.
        spend: ``tenant_spend`` rows of the tenant (date x geo x channel).
        weather: ``weather_daily`` rows of the tenant's cities over the same days.
        geos: city -> revenue share (the public catalog's mix); weather is averaged with these weights.
        channels: the tenant's channels (a channel without spend rows gets zero spend).

    Returns:
        (features, media): ``features`` has columns :data:`FEATURE_COLUMNS`, one row per date;
        ``media`` has :data:`MEDIA_COLUMNS`, one row per date and channel. The first ``WARMUP_DAYS`` rows
        have partial trailing windows (lags and adstock start from zero history).

    Raises:
        FeatureInputError: a geo of the tenant has no weather row on a date with sales (names tenant, city, date).
    """
    days = sales.select("date").unique().sort("date")
    total = float(sum(geos.values()))
    w = weather.filter(pl.col("city").is_in(list(geos)) & pl.col("date").is_in(days["date"].implode()))
    have = w.group_by("date").agg(pl.col("city").n_unique().alias("n"))
    short = days.join(have, on="date", how="left").filter(pl.col("n").fill_null(0) < len(geos))
    if short.height:
        day = short["date"][0]
        present = set(w.filter(pl.col("date") == day)["city"])
        missing = sorted(set(geos) - present)
        raise FeatureInputError(f"tenant {tenant}: no weather for {', '.join(missing)} on {day} "
                                f"({short.height} day(s) short); materialize weather_daily first")
    weights = pl.col("city").replace_strict({g: v / total for g, v in geos.items()}, return_dtype=pl.Float64)
    weighted = (w.group_by("date").agg([(pl.col(src).cast(pl.Float64) * weights).sum().alias(name)
                                         for name, (src, _, _) in WEATHER_BASE.items()]).sort("date"))
    sales_day = sales.group_by("date").agg(
        pl.col("revenue").sum(), pl.col("orders").sum(),
        ((pl.col("promo_depth").fill_null(0.0) * pl.col("revenue")).sum()
         / pl.col("revenue").sum().clip(lower_bound=1e-9)).alias("promo_depth"))
    holiday, holiday_peak = _holidays(days["date"])
    features = (
        days.join(sales_day, on="date", how="left").join(weighted, on="date", how="left").sort("date")
        .with_columns(
            tenant=pl.lit(tenant),
            trend=(pl.col("date") - pl.lit(dt.date(2023, 1, 1))).dt.total_days() / 365.25,
            weekday=pl.col("date").dt.weekday() - 1,
            month=pl.col("date").dt.month(),
            day_of_year=pl.col("date").dt.ordinal_day(),
            holiday=holiday,
            holiday_peak=holiday_peak,
            gift_season=((pl.col("date").dt.ordinal_day() - 319) / 38).clip(0, 1) * (pl.col("date").dt.ordinal_day() <= 358),
            payday=pl.col("date").dt.day().is_in([1, 2, 3, 15, 16]).cast(pl.Int8),
            month_end=(pl.col("date").dt.day() >= 24).cast(pl.Int8),
            promo_depth_7d=sum(pl.col("promo_depth").shift(k).fill_null(0.0) for k in range(1, 8)) / 7,
            **{f"{v}_lag{k}": pl.col(v).shift(k) for v in LAGGED for k in LAGS},
            **{f"{v}_7d": _trailing_mean(v, 7) for v in ROLLING_7D},
        )
        .select(FEATURE_COLUMNS)
    )
    decay = FEATURE_ADSTOCK_DECAY ** np.arange(FEATURE_ADSTOCK_LAGS + 1)
    decay = decay / decay.sum()
    grid = days.join(pl.DataFrame({"channel": channels}), how="cross")
    per_day = spend.group_by("date", "channel").agg(
        pl.col("spend").sum(), pl.col("impressions").sum(), pl.col("clicks").sum(), pl.col("impressions").null_count().alias("_ni"), pl.col("clicks").null_count().alias("_nc"))
    media = (
        grid.join(per_day, on=["date", "channel"], how="left")
        .with_columns(
            spend=pl.col("spend").fill_null(0.0),
            impressions=pl.when(pl.col("_ni") == 0).then(pl.col("impressions")),
            clicks=pl.when(pl.col("_nc") == 0).then(pl.col("clicks")),
        )
        .sort("channel", "date")
        .with_columns(adstock=sum(float(decay[k]) * pl.col("spend").shift(k).fill_null(0.0)
                                  for k in range(FEATURE_ADSTOCK_LAGS + 1)).over("channel"))
        .with_columns(tenant=pl.lit(tenant))
        .select(MEDIA_COLUMNS)
        .sort("date", "channel")
    )
    return features, media


def model_matrix(features: pl.DataFrame, media: pl.DataFrame) -> pl.DataFrame:
    """One tenant's features with media pivoted wide: ``spend_<channel>`` and ``adstock_<channel>`` (USD)."""
    wide = media.pivot(on="channel", index="date", values=["spend", "adstock"], separator="_")
    return features.join(wide, on="date", how="left").sort("date")


def geo_model_matrix(tenant: str, sales: pl.DataFrame, spend: pl.DataFrame, weather: pl.DataFrame,
                     geos: dict[str, float], channels: list[str]) -> pl.DataFrame:
    """One row per date and geo: each geo alone through :func:`build_features` and :func:`model_matrix` (its
    revenue, its spend per channel, its own city's weather), with a ``geo`` column. Input for the geo-level MMM.

    Raises:
        FeatureInputError: as :func:`build_features`, for the geo at fault.
    """
    return pl.concat([
        model_matrix(*build_features(tenant, sales.filter(pl.col("geo") == g), spend.filter(pl.col("geo") == g),
                                     weather, {g: 1.0}, channels)).with_columns(geo=pl.lit(g))
        for g in geos], how="diagonal_relaxed")


def target_correlations(matrix: pl.DataFrame, target: str = "revenue") -> pl.DataFrame:
    """|Pearson correlation| of every non-target numeric column with ``target``, largest first.

    Columns: feature, abs_corr. Constant columns are left out (correlation undefined).
    """
    y = matrix[target].to_numpy().astype(float)
    rows = []
    for col in matrix.columns:
        if col in TARGETS or col in ("date", "tenant") or not matrix[col].dtype.is_numeric():
            continue
        x = matrix[col].fill_null(strategy="zero").to_numpy().astype(float)
        if np.std(x) == 0 or np.std(y) == 0:
            continue
        rows.append({"feature": col, "abs_corr": float(abs(np.corrcoef(x, y)[0, 1]))})
    return pl.DataFrame(rows, schema={"feature": pl.Utf8, "abs_corr": pl.Float64}).sort("abs_corr", descending=True)


def rebuild_rows(
    tenant: str,
    stored_features: pl.DataFrame,
    stored_media: pl.DataFrame,
    sales: pl.DataFrame,
    spend: pl.DataFrame,
    weather: pl.DataFrame,
    geos: dict[str, float],
    channels: list[str],
    days: list[dt.date],
    builder=build_features,
) -> list[str]:
    """Rebuild the rows of ``days`` from inputs truncated at each day and compare them to the stored rows.

    Returns one line per difference (empty when every rebuilt row equals the stored one exactly), naming
    tenant, date and column. ``builder`` is :func:`build_features` unless a test passes a leaky one.
    """
    problems = []
    for day in days:
        cut = pl.col("date") <= day
        features, media = builder(tenant, sales.filter(cut), spend.filter(cut), weather.filter(cut), geos, channels)
        for name, rebuilt, stored in (("tenant_features", features, stored_features),
                                      ("tenant_media_features", media, stored_media)):
            new = rebuilt.filter(pl.col("date") == day)
            old = stored.filter(pl.col("date") == day).select(new.columns)
            if "channel" in new.columns:
                new, old = new.sort("channel"), old.sort("channel")
            if new.height != old.height:
                problems.append(f"{name} {tenant} {day}: {old.height} stored row(s), {new.height} rebuilt")
                continue
            for col in new.columns:
                a, b = new[col].to_list(), old[col].to_list()
                if a != b:
                    problems.append(f"{name} {tenant} {day} column {col}: stored {b[:3]} but {a[:3]} from data up to {day}")
    return problems
