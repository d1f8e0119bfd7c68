"""The simulation's shared contract: table columns, the result type and the tenant's random streams."""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass

import numpy as np
import polars as pl

from weather_mmm.simulation.catalog import TenantProfile

#: Random draws are made over this fixed horizon from the calendar start, so a longer calendar only appends.
HORIZON_DAYS = 3653 + 64


@dataclass
class Simulation:
    """Result of :func:`simulate_tenant`.

    Attributes:
        sales: one row per date and geo (calendar days), columns :data:`SALES_COLUMNS`.
        spend: one row per date, geo and channel, columns :data:`SPEND_COLUMNS`.
        contributions: true daily decomposition, one row per date, geo and component
            (``baseline``, ``weather``, ``channel:<name>``); components sum to expected revenue exactly.
        parameters: true parameters and effects, long format (see :mod:`.truth`).
        forecasts: the forecasts weather-triggered spend was planned on (:data:`FORECAST_SCHEMA`; empty for other
            tenants).
        experiments: the lift tests the tenant ran, as their readouts (:data:`EXPERIMENT_UNITS`; empty when none).
        revenue_draws: [replicates, days] USD, the tenant's daily revenue drawn again from the same noise process
            around the same expectation (the true predictive distribution of each day's revenue); None unless
            :func:`~weather_mmm.simulation.simulate.simulate_tenant` was asked for replicates.
    """

    sales: pl.DataFrame
    spend: pl.DataFrame
    contributions: pl.DataFrame
    parameters: pl.DataFrame
    forecasts: pl.DataFrame
    experiments: pl.DataFrame
    revenue_draws: np.ndarray | None = None


#: Column -> (unit, meaning) of ``tenant_sales`` after date, tenant and geo (null where an import lacks it).
SALES_UNITS = {
    "revenue": ("USD", "revenue of the geo"),
    "orders": ("count", "orders"),
    "orders_new": ("count", "orders from new customers"),
    "orders_returning": ("count", "orders from returning customers"),
    "units": ("count", "units sold"),
    "margin": ("USD", "contribution margin before advertising"),
    "promo_depth": ("share of price", "promotion depth (0 = none)"),
}
#: Column -> (unit, meaning) of ``tenant_spend`` after date, tenant, geo and channel.
SPEND_UNITS = {
    "spend": ("USD", "media spend"),
    "impressions": ("count", "impressions (email: sends)"),
    "clicks": ("count", "clicks"),
    "conversions": ("count", "conversions the platform reports"),
    "cpm": ("USD", "cost per 1,000 impressions"),
    "cpc": ("USD", "cost per click"),
}
#: Column -> (unit, meaning) of ``tenant_experiments``, one row per lift test, after tenant and experiment: what a
#: test reports (Meta conversion lift, a geo holdout), never the truth behind it.
EXPERIMENT_UNITS = {
    "channel": ("name", "the channel whose ads were withheld"),
    "geo": ("city", "where the test ran"),
    "start": ("date", "first day of the test"),
    "end": ("date", "last day of the test"),
    "spend": ("USD", "the channel's spend in the geo during the test"),
    "lift": ("USD", "measured incremental revenue of that spend, carryover after the test included"),
    "lift_se": ("USD", "standard error of the measured lift"),
}
SALES_COLUMNS = ["date", "tenant", "geo", *SALES_UNITS]
SPEND_COLUMNS = ["date", "tenant", "geo", "channel", *SPEND_UNITS]
EXPERIMENT_SCHEMA = {"tenant": pl.Utf8, "experiment": pl.Utf8, "channel": pl.Utf8, "geo": pl.Utf8, "start": pl.Date,
                     "end": pl.Date, "spend": pl.Float64, "lift": pl.Float64, "lift_se": pl.Float64}


def experiment_id(channel: str, geo: str, start: dt.date) -> str:
    """The key of a lift test in ``tenant_experiments``: channel, geo and first day."""
    return f"{channel}-{geo}-{start.isoformat()}"


def tenant_stream(profile: TenantProfile, label: str) -> np.random.Generator:
    """The tenant's own random stream named ``label`` (independent of every other tenant and label)."""
    key = [profile.seed, zlib.crc32(profile.tenant.encode()), zlib.crc32(label.encode())]
    return np.random.default_rng(np.random.SeedSequence(key))


#: Columns of ``tenant_forecasts``: the weather forecasts a tenant planned on, one row per date, geo and variable
#: (``lead_days`` before the date; ``observed`` and ``trigger_signal`` are the simulation's, null for an import).
FORECAST_SCHEMA = {"date": pl.Date, "tenant": pl.Utf8, "geo": pl.Utf8, "variable": pl.Utf8, "lead_days": pl.Int64,
                   "forecast": pl.Float64, "observed": pl.Float64, "trigger_signal": pl.Float64}
#: Forecast variable -> the ``weather_daily`` column it forecasts, and one unit of it in words.
FORECAST_VARIABLES = {"precipitation": ("precipitation_sum", "mm of precipitation"),
                      "snowfall": ("snowfall_sum", "cm of snowfall"),
                      "heat": ("temperature_2m_max", "°C of maximum temperature"),
                      "cold": ("temperature_2m_min", "°C of minimum temperature")}
