"""Recommend spend per channel and day over a planning horizon from a fitted MMM and the weather forecast.

The plan is chosen **risk-aware**, in two steps. First, the plan that maximises the posterior mean of the
incremental revenue (USD) it earns (the media revenue over the horizon and its carryover, ``MAX_LAG`` days after
it under normal weather, minus the same with no spend in the horizon). It stands when its lift over the current
allocation is at least ``risk_aversion`` posterior standard deviations above zero: with the default, 1.2816
(the standard normal's 90 % quantile), when it beats the current allocation with at least 90 % posterior
probability in a normal approximation. Otherwise the plan maximises the posterior mean minus ``risk_aversion``
posterior standard deviations of its lift, the lower end of a one-sided 90 % interval, so that a move into a
channel the fit is unsure of must pay for its risk. Each plan valued on the true response functions
(``bench/allocation.py``), on the fits of two main jobs (cd6021d; 937d4ef):

* the posterior mean alone: 19 of 23 plans earn at least the current allocation (learnly_courses -15.5 %,
  pulse_fitness -4.3 %, clearpath_snow_removal -2.9 %, hearthglow_heating -2.5 %); 61 % and 60 % of the truly
  optimal uplift;
* the risk-adjusted mean alone: 23 of 23; 50 % and 51 %. On an earlier model's 22 fits (c571746), with 1
  standard deviation instead of 1.2816: 20 of 22 (learnly_courses -1.8 %, pulse_fitness -0.3 %) and 52 %; with
  1.645, 37 %;
* the two steps: 23 of 23; 58 % and 59 %. The mean plan stands for 9 tenants; on the 14 others the posterior
  gave it at least a 10 % chance of losing (learnly_courses' Meta ROAS 3.76 [1.44, 7.91]).
* the two steps at 1 standard deviation: 20 and 21 of 23 (learnly_courses -2.7 % and -1.9 %), 59 % and 60 %; at
  1.645: 23 of 23, 46 % and 45 %. Hence the default.

Recent spend enters through the adstock, so a channel still carrying last week's spend saturates sooner.
Weather enters through each channel's weather amplification on the forecast days, and the calendar through
its recent level (``mmm.recent_calendar``: the mean over the last 28 days; weekday swings inside the horizon
are not modelled). Intervals of the plan's revenue, of its lift over the current allocation and of marginal
ROAS are 90 % posterior intervals of the same quantities.

Optimiser: SciPy SLSQP (``scipy.optimize.minimize``), the optimiser LightweightMMM, PyMC-Marketing and
Robyn use, with exact gradients from JAX. The plan it returns is then projected onto the constraints
(bounds clipped, the budget residual spread over channels with room). A plan that does not beat the current
allocation on the objective it was chosen on (for the risk-adjusted plan, that objective is 0 lift at the current
allocation itself) gives way to exactly the current allocation, when the constraints allow it (the defaults do):
the optimiser stops near that kink, a few cents a day away, and such a plan is a change with no reason.

Constraints (:class:`Constraints`): the total budget (USD over the horizon; default the current
allocation's total); per-channel daily minimum and maximum (default ±30 % of the current daily spend);
fixed channels (USD/day); an optional target ROAS (incremental revenue over spend), with which the budget
becomes a cap rather than an amount to spend.

With a known contribution margin ``m`` (USD of margin per USD of revenue, before advertising) the objective
is the expected incremental contribution ``m * revenue - spend`` instead, and the budget is a cap: a dollar
is spent only where ``m`` times its marginal ROAS exceeds 1 (the break-even ROAS is ``1 / m``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import polars as pl
from scipy.optimize import minimize
from scipy.stats import norm

from weather_mmm.models.mmm import INTERVAL, MAX_LAG, WEATHER_PARAMS, MMMFit, _lagged, _media, log_weather, recent_calendar

CURRENT_DAYS = 28
DEFAULT_BOUND_SHARE = 0.30
DEFAULT_RISK_AVERSION = 1.2816  # standard normal 90 % quantile
TOLERANCE_USD = 1e-6


class InfeasibleAllocation(ValueError):
    """The constraints admit no plan; the message says which constraint and by how much."""


@dataclass(frozen=True)
class Constraints:
    """Allocation constraints. Spend in USD; ``bounds`` (minimum, maximum) and ``fixed`` per channel and day; an end
    of ``bounds`` left ``None``, like a channel left out, is the current daily spend -/+ ``bound_share`` of it."""

    budget: float | None = None
    bounds: dict[str, tuple[float | None, float | None]] | None = None
    fixed: dict[str, float] = field(default_factory=dict)
    target_roas: float | None = None
    bound_share: float = DEFAULT_BOUND_SHARE
    margin: float | None = None  # contribution margin per USD of revenue (0 < m <= 1), when known


@dataclass
class Allocation:
    """A recommended plan. ``recommended`` is [H, C] USD/day; ``current`` [C] USD/day carried forward."""

    dates: list[dt.date]
    channels: list[str]
    current: np.ndarray
    recommended: np.ndarray
    bounds: np.ndarray  # [C, 2] USD/day
    budget: float
    revenue: dict  # incremental revenue of the recommended plan, USD: mean, lo90, hi90
    revenue_current: dict
    lift: dict  # recommended minus current, USD
    mroas: dict  # channel -> mean, lo90, hi90 at the recommended spend
    mroas_current: dict
    weather_lift: dict  # channel -> forecast weather's mean multiplier of the channel's response
    saturation: dict  # channel -> Hill saturation (0..1) at the recommended plan's mean adstock
    explanation: str
    margin: float | None = None
    contribution: dict | None = None  # with a margin: m * incremental revenue - spend, USD (mean, lo90, hi90)
    contribution_lift: dict | None = None  # recommended minus current, USD
    #: How the plan was chosen: "mean" (the posterior-mean plan; it stood) or "risk-adjusted" (it did not), and
    #: the risk aversion it was judged at.
    choice: str = "mean"
    risk_aversion: float = 0.0
    target_roas: float | None = None  # least incremental revenue per USD of the plan, when asked for

    def table(self, tenant: str) -> pl.DataFrame:
        """Rows: tenant, date, channel, current_spend, recommended_spend (USD/day), change (share)."""
        rows = [{"tenant": tenant, "date": d, "channel": c, "current_spend": float(self.current[j]),
                 "recommended_spend": float(self.recommended[i, j]),
                 "change": float(self.recommended[i, j] / self.current[j] - 1) if self.current[j] > 0 else None}
                for i, d in enumerate(self.dates) for j, c in enumerate(self.channels)]
        return pl.DataFrame(rows)

    def summary(self, tenant: str) -> pl.DataFrame:
        """Rows per channel plus ``all``: spend over the horizon (current, recommended, USD), marginal ROAS with
        its interval at the recommended spend and its mean at the current, saturation, forecast weather
        multiplier, daily bounds (USD/day); for ``all`` the incremental revenue and lift (USD) with intervals, the
        budget (``budget_cap``: whether it is a cap, with a target ROAS or a margin, or an amount to spend), the
        ``target_roas`` (null without one), the explanation, ``plan_choice`` (``mean`` or ``risk-adjusted``, as
        :func:`allocate` chose) and the ``risk_aversion`` it was judged at (posterior standard deviations)."""
        rows = []
        for j, c in enumerate(self.channels):
            rows.append({"tenant": tenant, "channel": c, "current_spend": float(self.current[j] * len(self.dates)),
                         "recommended_spend": float(self.recommended[:, j].sum()),
                         **{f"mroas_{k}": v for k, v in self.mroas[c].items()},
                         "mroas_current": self.mroas_current[c]["mean"],
                         "saturation": self.saturation[c], "weather_multiplier": self.weather_lift[c],
                         "min_daily": float(self.bounds[j, 0]), "max_daily": float(self.bounds[j, 1])})
        rows.append({"tenant": tenant, "channel": "all", "current_spend": float(self.current.sum() * len(self.dates)),
                     "recommended_spend": float(self.recommended.sum()),
                     **{f"revenue_{k}": v for k, v in self.revenue.items()},
                     "revenue_current_mean": self.revenue_current["mean"],
                     **{f"lift_{k}": v for k, v in self.lift.items()}, "budget": self.budget,
                     "budget_cap": self.target_roas is not None or self.margin is not None, "target_roas": self.target_roas,
                     "explanation": self.explanation, "plan_choice": self.choice, "risk_aversion": self.risk_aversion})
        return pl.DataFrame(rows, infer_schema_length=None).with_columns(pl.col("target_roas").cast(pl.Float64))


def _interval(values: np.ndarray) -> dict:
    lo, hi = np.percentile(values, INTERVAL)
    return {"mean": float(values.mean()), "lo90": float(lo), "hi90": float(hi)}


class ResponseModel:
    """Incremental revenue of a horizon plan under every kept posterior draw (JAX, differentiable).

    A plan is the tenant's spend per channel and day ([H, C] USD/day); each channel's spend is split across
    geos in proportion to the geo's spend on it over the last :data:`CURRENT_DAYS` days of ``history`` (as
    the ground truth of plans splits it, ``simulation.plans``). The arrays are computed once, by compiled
    functions that take them as arguments (:func:`_response_arrays`, :func:`_incremental`), so that a tenant's
    plan compiles a handful of XLA programs, not one per array operation, and a tenant of the same shape
    reuses them.

    Args:
        fit: the tenant's MMM fit.
        history: [≥ MAX_LAG, G, C] USD/day, the spend per geo of the days just before the horizon.
        weather: [H + MAX_LAG, G, W] the model's scaled weather inputs per geo: the forecast for the horizon,
            then normal weather for the carryover days.
        draws: number of posterior draws kept (evenly thinned).

    Raises:
        ValueError: the fit is not from the ``numpyro`` engine.
    """

    def __init__(self, fit: MMMFit, history: np.ndarray, weather: np.ndarray, draws: int = 250):
        if fit.settings.engine != "numpyro":
            raise ValueError(f"allocations need a numpyro fit; this one is {fit.settings.engine} (the reference engine "
                             "is scored, not used to plan)")
        flat = fit.flat()
        n = len(flat["beta"])
        idx = np.linspace(0, n - 1, min(draws, n)).astype(int)
        x = fit.inputs
        self.horizon = weather.shape[0] - MAX_LAG
        self.channels = x.channels
        recent = history[-CURRENT_DAYS:].sum(0)  # [G, C]
        totals = recent.sum(0, keepdims=True)
        self._split = np.where(totals > 0, recent / np.maximum(totals, 1e-9), 1.0 / recent.shape[0])  # [G, C]
        draws_kept = {k: flat[k][idx] for k in ("decay", "half_saturation", "slope", "beta", "alpha", *WEATHER_PARAMS)}
        self._arrays = _response_arrays(draws_kept, recent_calendar(fit)[idx], x.revenue_scale, weather,
                                        x.weather[x.train], history[-MAX_LAG:] / x.spend_scale, self._split / x.spend_scale)

    def incremental(self, plan) -> jax.Array:
        """[S] USD: media revenue of ``plan`` ([H, C] USD/day) minus that of no spend in the horizon."""
        return _incremental(self._arrays, _as_plan(plan))

    def mean_and_grad(self, plan: np.ndarray) -> tuple[float, np.ndarray]:
        """Posterior-mean incremental revenue of ``plan`` (USD) and its gradient ([H, C] USD per USD/day)."""
        return _on_numpy(_mean_value_and_grad(self._arrays, _as_plan(plan)))

    def saturation(self, plan: np.ndarray) -> np.ndarray:
        """[C] posterior-mean Hill saturation (0..1) over the horizon under ``plan``, geos weighted by their spend."""
        hill = np.asarray(_hill_jit(self._arrays, _as_plan(plan)))[:, :, :self.horizon]
        return (hill.mean((0, 2)).T * self._split).sum(0)

    def weather_multiplier(self) -> np.ndarray:
        """[C] posterior-mean multiplier of each channel's response from the forecast weather (1 = normal),
        geos weighted by their spend."""
        return (np.asarray(self._arrays["amp"])[:, :, :self.horizon].mean((0, 2)).T * self._split).sum(0)

    def risk_adjusted(self, reference: np.ndarray, risk_aversion: float):
        """``plan -> (value, grad)`` of the posterior mean of the plan's incremental revenue minus
        ``risk_aversion`` times the posterior standard deviation of its lift over ``reference`` (USD)."""
        base = self.incremental(reference)
        return lambda plan: _on_numpy(_risk_value_and_grad(self._arrays, base, risk_aversion,
                                                           _as_plan(plan)))


def _as_plan(plan) -> jax.Array:
    """A plan ([H, C] USD/day, NumPy or JAX) as the float32 array the compiled functions take."""
    return jnp.asarray(plan, dtype=jnp.float32)


def _hill(arrays: dict, plan) -> jax.Array:
    """[S, C, H + L, G] Hill saturation from the horizon on under ``plan`` ([H, C] USD/day)."""
    history = arrays["history"]
    spend = jnp.concatenate([history, plan[:, None, :] * arrays["per_geo"], jnp.zeros((MAX_LAG,) + history.shape[1:])])
    return _media(arrays["params"], _lagged(spend))[:, :, MAX_LAG:]


_hill_jit = jax.jit(_hill)


def _plan_media(arrays: dict, plan) -> jax.Array:
    """[S] USD: media revenue from the horizon on (and its carryover) under ``plan`` ([H, C] USD/day)."""
    return (arrays["beta"] * _hill(arrays, plan) * arrays["amp"]).sum((1, 2, 3))


@jax.jit
def _response_arrays(draws: dict, calendar, revenue_scale, weather, reference, history, per_geo) -> dict:
    """What :func:`_incremental` needs of S kept draws: Hill and adstock parameters; ``beta`` [S, C, 1, G] USD/day
    at saturation under today's calendar (``calendar`` [S]); ``amp`` [S, C, H + L, G], the weather's
    amplification of each channel; ``history`` [L, G, C] and ``per_geo`` [G, C] (plan USD to each geo's spend
    relative to its mean); ``zero`` [S], the media revenue of no spend in the horizon (USD)."""
    beta = draws["beta"] * calendar[:, None, None] * revenue_scale[:, None]  # [S, G, C]
    log_w = log_weather({k: draws[k] for k in WEATHER_PARAMS}, weather, reference)  # [S, H + L, G]
    arrays = {"params": {k: draws[k] for k in ("decay", "half_saturation", "slope")},
              "beta": jnp.swapaxes(beta, 1, 2)[:, :, None, :],
              "amp": jnp.exp(draws["alpha"][:, :, None, None] * log_w[:, None]),
              "history": history, "per_geo": per_geo}
    arrays["zero"] = _plan_media(arrays, jnp.zeros((weather.shape[0] - MAX_LAG, per_geo.shape[1])))
    return arrays


@jax.jit
def _incremental(arrays: dict, plan) -> jax.Array:
    """[S] USD: media revenue of ``plan`` ([H, C] USD/day) minus that of no spend in the horizon."""
    return _plan_media(arrays, plan) - arrays["zero"]


def _mean_incremental(arrays: dict, plan) -> jax.Array:
    return _incremental(arrays, plan).mean()


def _risk_adjusted_lift(arrays: dict, base, risk_aversion, plan) -> jax.Array:
    inc = _incremental(arrays, plan)
    return inc.mean() - risk_aversion * jnp.sqrt(jnp.var(inc - base) + 1e-6)  # + 1e-6: finite gradient at sd 0


_mean_value_and_grad = jax.jit(jax.value_and_grad(_mean_incremental, argnums=1))
_risk_value_and_grad = jax.jit(jax.value_and_grad(_risk_adjusted_lift, argnums=3))


def _on_numpy(value_and_grad: tuple) -> tuple[float, np.ndarray]:
    """(value, grad) of a compiled ``jax.value_and_grad`` as (float, numpy [H, C])."""
    value, grad = value_and_grad
    return float(value), np.asarray(grad, dtype=float)


def current_allocation(history: np.ndarray) -> np.ndarray:
    """[C] USD/day: the tenant's mean daily spend per channel (summed over geos) over the last
    :data:`CURRENT_DAYS` days of ``history`` ([T, G, C])."""
    return history[-CURRENT_DAYS:].sum(1).mean(0)


def _resolve(constraints: Constraints, channels: list[str], current: np.ndarray, horizon: int) -> tuple[np.ndarray, float]:
    """Per-channel daily bounds [C, 2] and the budget; raises InfeasibleAllocation naming the conflict."""
    unknown = sorted((set(constraints.fixed) | set(constraints.bounds or {})) - set(channels))
    if unknown:
        raise InfeasibleAllocation(f"constraint on unknown channel(s) {', '.join(unknown)}; channels are {', '.join(channels)}")
    share = constraints.bound_share
    bounds = np.column_stack([current * (1 - share), current * (1 + share)])
    for j, c in enumerate(channels):
        given = (constraints.bounds or {}).get(c, (None, None))
        bounds[j] = [default if end is None else end for default, end in zip(bounds[j], given)]
        if c in constraints.fixed:
            bounds[j] = given = (constraints.fixed[c], constraints.fixed[c])
        if bounds[j, 0] < 0 or bounds[j, 0] > bounds[j, 1]:
            default = [name for name, end in zip(("minimum", "maximum"), given) if end is None]
            raise InfeasibleAllocation(f"channel {c}: minimum {bounds[j, 0]:.2f} USD/day above maximum {bounds[j, 1]:.2f} "
                                       "or negative" + (f" (the {default[0]} is the default, current spend "
                                                        f"{'-' if default[0] == 'minimum' else '+'} {share:.0%}; give it too)"
                                                        if default else ""))
    if constraints.margin is not None and not 0 < constraints.margin <= 1:
        raise InfeasibleAllocation(f"contribution margin {constraints.margin} must be in (0, 1] (USD of margin per USD of revenue)")
    budget = float(current.sum() * horizon) if constraints.budget is None else float(constraints.budget)
    low, high = bounds[:, 0].sum() * horizon, bounds[:, 1].sum() * horizon
    detail = ", ".join(f"{c} {lo:.2f}..{hi:.2f}" for c, (lo, hi) in zip(channels, bounds))
    if budget < low - TOLERANCE_USD:
        raise InfeasibleAllocation(f"budget {budget:.2f} USD over {horizon} days is below the channels' minimums, "
                                   f"which need {low:.2f} USD (daily bounds: {detail})")
    if budget > high + TOLERANCE_USD and constraints.target_roas is None and constraints.margin is None:
        raise InfeasibleAllocation(f"budget {budget:.2f} USD over {horizon} days is above the channels' maximums, "
                                   f"which allow {high:.2f} USD (daily bounds: {detail})")
    return bounds, budget


def _project(plan: np.ndarray, bounds: np.ndarray, budget: float | None) -> np.ndarray:
    """Clip to the bounds, then (``budget``) spread the residual over the cells with room, until exact."""
    plan = np.clip(plan, bounds[:, 0], bounds[:, 1])
    if budget is None:
        return plan
    for _ in range(50):
        residual = budget - plan.sum()
        if abs(residual) <= TOLERANCE_USD:
            break
        room = (bounds[:, 1] - plan) if residual > 0 else (plan - bounds[:, 0])
        total = room.sum()
        if total <= 0:
            break
        plan = np.clip(plan + np.sign(residual) * room * min(abs(residual) / total, 1.0), bounds[:, 0], bounds[:, 1])
    return plan


def allocate(fit: MMMFit, history: np.ndarray, weather: np.ndarray, dates: list[dt.date],
             constraints: Constraints = Constraints(), draws: int = 250,
             risk_aversion: float = DEFAULT_RISK_AVERSION) -> Allocation:
    """The plan that maximises posterior-mean incremental revenue (or, with ``constraints.margin``, incremental
    contribution) within ``constraints`` if its lift over the current allocation is at least ``risk_aversion``
    posterior standard deviations above zero; otherwise the plan that maximises that mean minus
    ``risk_aversion`` posterior standard deviations of its lift (0: the posterior-mean plan always).

    Args:
        history: [≥ 28, G, C] USD/day, the observed spend per geo of the days before the horizon (the current
            allocation is its last 28 days' mean; the last MAX_LAG days carry over into the horizon).
        weather: [H + MAX_LAG, G, W] scaled model weather per geo: forecast for the H horizon days, then normal.
        dates: the H horizon days.

    Raises:
        InfeasibleAllocation: the budget lies outside the channels' summed bounds, a bound is inverted or
            names an unknown channel, or the target ROAS cannot be reached (says the best reachable ROAS).
    """
    channels, horizon = fit.inputs.channels, len(dates)
    if weather.shape[0] != horizon + MAX_LAG:
        raise ValueError(f"weather has {weather.shape[0]} rows; need {horizon} horizon days + {MAX_LAG} carryover days")
    current = current_allocation(history)
    bounds, budget = _resolve(constraints, channels, current, horizon)
    model = ResponseModel(fit, history, weather, draws)
    per_cell = np.repeat(bounds[None], horizon, 0)  # [H, C, 2]
    scale = np.maximum(current, 1.0)  # optimise spend relative to the current level: better conditioned
    base_value = abs(model.mean_and_grad(np.tile(current, (horizon, 1)))[0]) or 1.0
    target, margin = constraints.target_roas, constraints.margin
    capped = target is not None or margin is not None  # the budget is a cap, not an amount to spend

    keep = np.tile(current, (horizon, 1))

    def solve(utility) -> np.ndarray:
        def objective(u):
            x = u.reshape(horizon, -1) * scale
            value, grad = utility(x)
            if margin is not None:
                value, grad = margin * value - x.sum(), margin * grad - 1.0
            return -value / base_value, -(grad * scale).ravel() / base_value

        cons = []
        if not capped:
            cons.append({"type": "eq", "fun": lambda u: ((u.reshape(horizon, -1) * scale).sum() - budget) / budget,
                         "jac": lambda u: np.tile(scale, horizon) / budget})
        else:
            cons.append({"type": "ineq", "fun": lambda u: (budget - (u.reshape(horizon, -1) * scale).sum()) / budget,
                         "jac": lambda u: -np.tile(scale, horizon) / budget})
        if target is not None:
            def roas_slack(u):
                x = u.reshape(horizon, -1) * scale
                return (model.mean_and_grad(x)[0] - target * x.sum()) / base_value

            def roas_jac(u):
                grad = model.mean_and_grad(u.reshape(horizon, -1) * scale)[1]
                return ((grad - target) * scale).ravel() / base_value

            cons.append({"type": "ineq", "fun": roas_slack, "jac": roas_jac})
        start = _project(keep, bounds, None if capped else budget)
        u_bounds = [(lo / s, hi / s) for _ in range(horizon) for (lo, hi), s in zip(bounds, scale)]
        result = minimize(objective, (start / scale).ravel(), jac=True, method="SLSQP", bounds=u_bounds, constraints=cons,
                          options={"maxiter": 300, "ftol": 1e-10})
        plan = _project(result.x.reshape(horizon, -1) * scale, bounds, None if capped else budget)
        if capped and plan.sum() > budget:
            plan = _project(plan, bounds, budget)  # back under the cap
        if not capped and abs(plan.sum() - budget) > 1e-3:
            raise InfeasibleAllocation(f"budget {budget:.2f} USD cannot be spent within the channels' bounds")
        return plan

    inc_current = np.asarray(model.incremental(keep), dtype=float)
    plan, choice = solve(model.mean_and_grad), "mean"
    lift = np.asarray(model.incremental(plan), dtype=float) - inc_current  # [S] USD
    if margin is not None:
        lift = margin * lift - (plan.sum() - keep.sum())  # of contribution
    if risk_aversion and lift.mean() < risk_aversion * lift.std():  # not sure enough to beat the current allocation
        plan, choice = solve(model.risk_adjusted(keep, risk_aversion)), "risk-adjusted"
    inc = np.asarray(model.incremental(plan), dtype=float)
    if target is not None:
        if inc.mean() < target * plan.sum() * (1 - 1e-6):
            raise InfeasibleAllocation(f"target ROAS {target:.2f} cannot be reached within the bounds: the best plan "
                                       f"found earns {inc.mean() / max(plan.sum(), 1e-9):.2f} per USD")
    else:
        def value(p, i):
            """The objective the plan was chosen on, USD: at the status quo the lift's deviation is 0."""
            unit = 1.0 if margin is None else margin
            v = unit * i.mean() - (0.0 if margin is None else p.sum())
            return v - (risk_aversion * unit * (i - inc_current).std() if choice == "risk-adjusted" else 0.0)

        fits_budget = keep.sum() <= budget + TOLERANCE_USD if capped else abs(keep.sum() - budget) <= TOLERANCE_USD
        if value(plan, inc) <= value(keep, inc_current) and fits_budget and \
                np.all((keep >= per_cell[..., 0] - TOLERANCE_USD) & (keep <= per_cell[..., 1] + TOLERANCE_USD)):
            plan, inc = keep, inc_current  # never recommend a plan the model itself rates no better than the status quo
    mroas, mroas_current = {}, {}
    for j, c in enumerate(channels):
        for p, out in ((plan, mroas), (keep, mroas_current)):
            up = p.copy()
            up[:, j] *= 1.01
            extra = max(0.01 * p[:, j].sum(), 1e-9)
            base = inc if p is plan else inc_current
            out[c] = _interval((np.asarray(model.incremental(up), dtype=float) - base) / extra)
    saturation = dict(zip(channels, model.saturation(plan).tolist()))
    weather_lift = dict(zip(channels, model.weather_multiplier().tolist()))
    allocation = Allocation(dates, channels, current, plan, bounds, budget, _interval(inc), _interval(inc_current),
                            _interval(inc - inc_current), mroas, mroas_current, weather_lift, saturation, "",
                            choice=choice, risk_aversion=risk_aversion, target_roas=target)
    if margin is not None:
        allocation.margin = margin
        allocation.contribution = _interval(margin * inc - plan.sum())
        allocation.contribution_lift = _interval(margin * (inc - inc_current) - (plan.sum() - keep.sum()))
    allocation.explanation = explain(allocation)
    return allocation


def explain(a: Allocation) -> str:
    """Plain-words reasons: which channel gains and loses, in terms of marginal ROAS, saturation and weather, and
    on how many days each sits at a bound of its daily spend (or is fixed); the expected lift; and whether the
    plan is the posterior-mean one or gives up lift for certainty."""
    horizon = len(a.dates)
    lines = []
    for j, c in enumerate(a.channels):
        before, after = a.current[j] * horizon, a.recommended[:, j].sum()
        change = after / before - 1 if before > 0 else 0.0
        verb = "gains" if change > 0.005 else ("loses" if change < -0.005 else "keeps its budget")
        weather = a.weather_lift[c] - 1
        reason = (f"its next dollar earned {a.mroas_current[c]['mean']:.2f} at the current spend "
                  f"(now {a.mroas[c]['mean']:.2f}), at {a.saturation[c]:.0%} of its saturation ceiling")
        if abs(weather) >= 0.01:
            reason += f"; the forecast weather {'lifts' if weather > 0 else 'lowers'} its response by {abs(weather):.0%}"
        low, high = a.bounds[j]
        if high - low < 1e-6:
            reason += f"; fixed at {low:,.2f} USD/day"
        else:
            for end, usd in (("minimum", low), ("maximum", high)):
                if days := int(np.isclose(a.recommended[:, j], usd, rtol=0.0, atol=1e-6).sum()):
                    reason += f"; at its {end} ({usd:,.2f} USD/day) on {days} of {horizon} days"
        lines.append(f"{c} {verb}" + (f" ({change:+.0%}, {before:,.0f} -> {after:,.0f} USD)" if verb != "keeps its budget" else "")
                     + f": {reason}.")
    lift = a.lift
    lines.append(f"Expected lift over keeping the current allocation: {lift['mean']:+,.0f} USD "
                 f"(90% interval {lift['lo90']:+,.0f} to {lift['hi90']:+,.0f}) on {a.recommended.sum():,.0f} USD of spend.")
    if a.risk_aversion and not (a.choice == "mean" and np.allclose(a.recommended, a.current)):
        sure = norm.cdf(a.risk_aversion)  # the normal approximation's probability of beating the current allocation
        lines.append(f"The plan with the highest expected {'contribution' if a.margin else 'revenue'} "
                     + (f"beats the current allocation with at least {sure:.0%} posterior probability: it is this plan."
                        if a.choice == "mean" else
                        f"would beat the current allocation with less than {sure:.0%} posterior probability, so this plan "
                        f"gives up expected lift for certainty (it maximises the expected lift minus {a.risk_aversion:.2f} "
                        "posterior standard deviations)."))
    if a.contribution_lift is not None:
        c = a.contribution_lift
        lines.append(f"At a {a.margin:.0%} contribution margin (break-even ROAS {1 / a.margin:.2f}) the plan changes "
                     f"contribution by {c['mean']:+,.0f} USD (90% interval {c['lo90']:+,.0f} to {c['hi90']:+,.0f}).")
    return " ".join(lines)
