"""What the simulated data allow any model to learn: an oracle that knows every true curve.

The oracle is told everything an MMM has to learn except one scale per channel and one for the baseline:
each channel's true media revenue per geo and day (true adstock, Hill saturation and weather amplification,
:func:`weather_mmm.simulation.truth.media_revenue`) and the true baseline-times-weather revenue. It fits only
those scales ``theta`` by weighted least squares on the models' training days (``validation.time_split``),
with weights for noise that grows with the level (two steps: 1 / expected revenue, then each geo's residual
variance). Its ROAS of a channel is ``theta`` times the true ROAS, so ``|theta - 1|`` is the ROAS error the
simulation's noise alone leaves: the best unbiased estimate there is (Gauss-Markov), which a real model, having
to learn the curves too, can only approach. It reads the ground truth and is for scoring, never for fitting.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from weather_mmm.models.validation import mape_point, time_split
from weather_mmm.simulation.catalog import TenantProfile, get_profile, simulated_tenants
from weather_mmm.simulation.plans import TruePlans
from weather_mmm.simulation.simulate import demand_process, simulate_tenant
from weather_mmm.simulation.truth import decompose_and_score, media_revenue
from weather_mmm.weather.climatology import CityClimatology


@dataclass(frozen=True)
class OracleScales:
    """The oracle's fit of one tenant: ``theta`` [C] (true ROAS multiples, catalog channel order) with their
    covariance [C, C], and ``noise``, the relative residual's standard deviation over the geo-days."""

    channels: list[str]
    theta: np.ndarray
    cov: np.ndarray
    noise: float

    def frame(self, tenant: str) -> pl.DataFrame:
        """One row per channel: tenant, key (channel), theta, se, oracle_error (``|theta - 1|``)."""
        return pl.DataFrame({"tenant": tenant, "key": self.channels, "theta": self.theta,
                             "se": np.sqrt(np.diag(self.cov)), "oracle_error": np.abs(self.theta - 1.0)})

    def plan(self, truth: TruePlans, bounds: np.ndarray, budget: float, start: np.ndarray, current: np.ndarray,
             risk_aversion: float) -> np.ndarray:
        """The oracle's plan [H, C] (USD/day) within ``bounds`` [C, 2] and ``budget`` (:meth:`TruePlans.optimal`),
        chosen as the allocator chooses (:func:`weather_mmm.allocation.optimize.allocate`): the plan with the
        highest mean incremental revenue (USD; the true curves scaled by ``theta``) when its mean lift over
        ``current`` is at least ``risk_aversion`` standard deviations (from ``cov``), otherwise the plan with the
        highest mean minus ``risk_aversion`` standard deviations of that lift."""
        at_current = truth.incremental_by_channel(current)

        def estimates(plan: np.ndarray) -> tuple[float, float, float]:
            """(mean incremental revenue, mean lift, sd of the lift), USD."""
            by_channel = truth.incremental_by_channel(plan)
            lift = by_channel - at_current
            return float(self.theta @ by_channel), float(self.theta @ lift), float(np.sqrt(max(lift @ self.cov @ lift, 0.0)))

        def value(risk: float):
            def of(plan: np.ndarray) -> float:
                mean, _, sd = estimates(plan)
                return mean - risk * sd
            return of

        best = truth.optimal(bounds, budget, start, value(0.0))
        _, lift, sd = estimates(best)
        return best if lift >= risk_aversion * sd else truth.optimal(bounds, budget, start, value(risk_aversion))


def weighted_scales(revenue: np.ndarray, columns: np.ndarray, expected: np.ndarray, geo: np.ndarray) -> tuple:
    """Weighted least squares of revenue [N] on columns [N, K] (USD/day), noise sd proportional to
    ``expected`` [N] with a variance per ``geo`` [N] label: (theta [K], covariance [K, K], the relative
    residual's standard deviation)."""
    w = 1.0 / expected
    for _ in range(2):
        theta, *_ = np.linalg.lstsq(columns * w[:, None], revenue * w, rcond=None)
        resid = (revenue - columns @ theta) / expected
        sd = {g: resid[geo == g].std() for g in np.unique(geo)}
        w = 1.0 / (expected * np.array([sd[g] for g in geo]))
    xw = columns * w[:, None]
    return theta, np.linalg.inv(xw.T @ xw), float(resid.std())  # weighted residuals have unit variance


def oracle_scales(profile: TenantProfile, weather: pl.DataFrame, climatology: dict[str, CityClimatology],
                  end: dt.date) -> OracleScales:
    """The oracle's fit of a simulated tenant over the calendar up to ``end`` (same arguments and errors as
    :func:`weather_mmm.simulation.simulate.simulate_tenant`; ``ValueError`` too for a calendar shorter than
    the time split needs)."""
    state = demand_process(profile, weather, climatology, end)
    dates, T, _, _, per_geo, _ = state
    sim = decompose_and_score(profile, *state)
    n = len(dates)
    train = time_split(n).train
    cols, ys, exp, labels = [], [], [], []
    for geo, g in per_geo.items():
        media = [media_revenue(profile, g, ch, np.concatenate([g["spend"][ch.channel], np.zeros(T - n)]))[:n]
                 for ch in profile.channels]
        expected = (sim.contributions.filter(pl.col("geo") == geo).group_by("date").agg(pl.col("revenue").sum())
                    .sort("date")["revenue"].to_numpy())
        cols.append(np.column_stack([expected - sum(media), *media])[train])
        ys.append(sim.sales.filter(pl.col("geo") == geo).sort("date")["revenue"].to_numpy()[train])
        exp.append(expected[train])
        labels += [geo] * len(train)
    theta, cov, noise = weighted_scales(np.concatenate(ys), np.vstack(cols), np.concatenate(exp), np.array(labels))
    return OracleScales([ch.channel for ch in profile.channels], theta[1:], cov[1:, 1:], noise)


def oracle_errors(tenants: list[str], weather: pl.DataFrame, climatology: dict[str, CityClimatology]) -> pl.DataFrame:
    """:meth:`OracleScales.frame` rows of every simulated tenant in ``tenants`` (others are skipped) over the
    calendar of ``weather`` (``weather_daily`` rows; its last day ends the calendar)."""
    end = weather["date"].max()
    frames = [oracle_scales(get_profile(t), weather, climatology, end).frame(t)
              for t in sorted(set(tenants) & simulated_tenants())]
    return pl.concat(frames) if frames else pl.DataFrame(schema={"tenant": pl.Utf8, "key": pl.Utf8, "theta": pl.Float64,
                                                                 "se": pl.Float64, "oracle_error": pl.Float64})


#: Draws per day of the true predictive distribution in :func:`mape_optimal_forecast` (about 1-3 s a tenant).
REPLICATES = 1000


def mape_optimal_forecast(tenants: list[str], weather: pl.DataFrame, climatology: dict[str, CityClimatology],
                          replicates: int = REPLICATES) -> pl.DataFrame:
    """The forecast no model can beat on MAPE in expectation: each day's "-1-median" (``validation.mape_point``) of
    the true predictive distribution of the tenant's revenue, its sales drawn ``replicates`` times again from the
    simulation's own noise around the true expectation (``Simulation.revenue_draws``). The true expected revenue is
    the best forecast for R² (squared error), not for MAPE: a right-skewed noise puts the MAPE's optimum below it.

    Returns:
        One row per simulated tenant in ``tenants`` (others are skipped) and calendar day of ``weather``
        (``weather_daily`` rows; its last day ends the calendar): tenant, date, mape_point (USD/day)."""
    end, frames = weather["date"].max(), []
    for tenant in sorted(set(tenants) & simulated_tenants()):
        sim = simulate_tenant(get_profile(tenant), weather, climatology, end, replicates=replicates)
        dates = sim.sales["date"].unique().sort()
        frames.append(pl.DataFrame({"tenant": tenant, "date": dates, "mape_point": mape_point(sim.revenue_draws)}))
    return pl.concat(frames) if frames else pl.DataFrame(schema={"tenant": pl.Utf8, "date": pl.Date, "mape_point": pl.Float64})
