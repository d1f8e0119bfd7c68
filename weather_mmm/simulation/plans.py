"""Ground truth of budget plans: what a plan really earns, on the true response functions and the weather
that actually happened, and the truly optimal plan within the same constraints.

A plan is spend per channel and day over a horizon of the calendar (USD/day, [H, C] in catalog channel
order). Each channel's plan is split across geos in proportion to the geo's spend on that channel over the
28 days before the horizon. A plan's true incremental revenue is the expected media revenue over the horizon
and all its carryover, minus the same with no spend in the horizon; spend after the horizon is set to zero
for every plan, so only the horizon's plan differs.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
from scipy.optimize import minimize

from weather_mmm.simulation.catalog import TenantProfile
from weather_mmm.simulation.simulate import demand_process
from weather_mmm.simulation.truth import media_revenue
from weather_mmm.weather.climatology import CityClimatology

HISTORY_DAYS = 28


class TruePlans:
    """The true incremental revenue (USD) of any plan over ``horizon`` for one simulated tenant."""

    def __init__(self, profile: TenantProfile, weather: pl.DataFrame, climatology: dict[str, CityClimatology],
                 end: dt.date, horizon: list[dt.date]):
        dates, T, _, _, per_geo, _ = demand_process(profile, weather, climatology, end)
        if horizon[0] not in dates or horizon[-1] not in dates:
            raise ValueError(f"tenant {profile.tenant}: horizon {horizon[0]}..{horizon[-1]} lies outside the calendar")
        self.h0, self.H = dates.index(horizon[0]), len(horizon)
        self.channels = [ch.channel for ch in profile.channels]
        n = len(dates)
        self._cells = []  # (geo state, channel, spend [T] with zero from the horizon on, share of the plan)
        for g in per_geo.values():
            for ch in profile.channels:
                spend = np.concatenate([g["spend"][ch.channel], np.zeros(T - n)])
                spend[self.h0:] = 0.0
                total = sum(pg["spend"][ch.channel][self.h0 - HISTORY_DAYS:self.h0].sum() for pg in per_geo.values())
                share = g["spend"][ch.channel][self.h0 - HISTORY_DAYS:self.h0].sum() / total if total > 0 else 1 / len(per_geo)
                self._cells.append((g, ch, spend, share))
        self._profile = profile
        self._zero = self._revenue(np.zeros((self.H, len(self.channels))))

    def _revenue(self, plan: np.ndarray) -> np.ndarray:
        total = np.zeros(len(self.channels))
        for g, ch, spend, share in self._cells:
            s = spend.copy()
            j = self.channels.index(ch.channel)
            s[self.h0:self.h0 + self.H] = plan[:, j] * share
            total[j] += float(media_revenue(self._profile, g, ch, s)[self.h0:].sum())
        return total

    def incremental_by_channel(self, plan: np.ndarray) -> np.ndarray:
        """[C] USD: each channel's true incremental revenue under ``plan`` ([H, C] USD/day)."""
        return self._revenue(np.asarray(plan, dtype=float)) - self._zero

    def marginal_roas(self, plan: np.ndarray, step: float = 0.01) -> np.ndarray:
        """[C] USD per USD: each channel's true marginal ROAS at ``plan`` ([H, C] USD/day), the revenue of ``step``
        more of its spend on every horizon day (and its carryover) over that extra spend (the ground truth's
        definition, :mod:`weather_mmm.simulation.truth`, over the horizon)."""
        plan = np.asarray(plan, dtype=float)
        base, out = self.incremental_by_channel(plan), np.zeros(len(self.channels))
        for j in range(len(self.channels)):
            up = plan.copy()
            up[:, j] *= 1 + step
            extra = step * plan[:, j].sum()
            out[j] = (self.incremental_by_channel(up)[j] - base[j]) / extra if extra > 0 else np.nan
        return out

    def incremental(self, plan: np.ndarray) -> float:
        """True incremental revenue (USD) of ``plan`` ([H, C] USD/day)."""
        return float(self.incremental_by_channel(plan).sum())

    def optimal(self, bounds: np.ndarray, budget: float, start: np.ndarray, value=None) -> np.ndarray:
        """The plan maximising ``value`` (a function of a plan [H, C] USD/day; default the true incremental
        revenue, :meth:`incremental`) with total ``budget`` and per-channel daily ``bounds`` [C, 2] (SciPy
        SLSQP from ``start``; never worse than ``start``)."""
        value = value or self.incremental
        scale = np.maximum(bounds[:, 1], 1.0)
        norm = abs(value(start)) or 1.0

        def objective(u):
            return -value(u.reshape(self.H, -1) * scale) / norm

        cons = [{"type": "eq", "fun": lambda u: ((u.reshape(self.H, -1) * scale).sum() - budget) / budget,
                 "jac": lambda u: np.tile(scale, self.H) / budget}]
        u_bounds = [(lo / s, hi / s) for _ in range(self.H) for (lo, hi), s in zip(bounds, scale)]
        result = minimize(objective, (start / scale).ravel(), method="SLSQP", bounds=u_bounds, constraints=cons,
                          options={"maxiter": 300, "ftol": 1e-10})
        plan = np.clip(result.x.reshape(self.H, -1) * scale, bounds[:, 0], bounds[:, 1])
        if abs(plan.sum() - budget) > 1e-3 * max(budget, 1.0) or value(plan) < value(start):
            return start
        return plan
