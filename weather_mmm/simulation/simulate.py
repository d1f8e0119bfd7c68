"""Simulate a tenant's daily spend and sales on real weather, keeping the ground truth.

One call simulates one tenant over the calendar, every geo at once, and returns the observed tables
(``sales``, ``spend``: what a real shop would have) and the truth (parameters, the daily decomposition
of expected revenue, the forecasts that drove weather-triggered spend).

The demand process per geo g and day t (USD):

    E[R] = sum_c B_c W_c  +  sum_ch M_ch * Wbar ** a_ch

* ``B_c`` baseline revenue of category c: level x trend x weekday x yearly season x public holidays
  (``holidays``) x segments (loyal; bargain hunters with a pay-day cycle and stronger promotion
  response; new customers with a ramp-up) x promotions (depth, lead dip and post-promotion hangover);
* ``W_c = exp(effect_c)`` the weather multiplier of category c: a saturating response (1 - exp(-x/kappa))
  to lag-weighted (days t..t-3) heating/cooling degree days, precipitation or snowfall, plus a rain x cold
  interaction; ``Wbar`` its share-weighted mean;
* ``M_ch = beta_ch * Hill(adstock(spend_ch))`` the channel's media effect, amplified by the weather with
  exponent ``a_ch`` (Meta most, Email least).

Effects are counterfactuals (see :mod:`weather_mmm.simulation.truth`); noise is over-dispersed
(negative-binomial orders with tenant- and geo-wide daily shocks), so realised revenue is at least 10 %
noisy around its expectation.
"""

from __future__ import annotations

import datetime as dt

import holidays as holidays_lib
import numpy as np
import polars as pl

from weather_mmm.settings import CALENDAR_START
from weather_mmm.simulation.catalog import TenantProfile
from weather_mmm.simulation.contract import FORECAST_VARIABLES, HORIZON_DAYS, Simulation, tenant_stream as _rng
from weather_mmm.simulation.truth import decompose_and_score
from weather_mmm.weather.climatology import CityClimatology
from weather_mmm.weather.normals import normal_weather

#: Days simulated past the calendar's end (the longest carryover), with no spend and normal weather.
TAIL_DAYS = 12
KAPPA = {"hdd": 20.0, "cdd": 12.0, "precipitation_sum": 6.0, "snowfall_sum": 4.0}  # saturation scales
AFFINITY_SIGNAL = {"cold": "hdd", "warm": "cdd", "rain": "precipitation_sum", "snow": "snowfall_sum"}
SIGNALS = ("hdd", "cdd", "precipitation_sum", "snowfall_sum")
FORECAST_ERROR_SD = {"precipitation": 2.5, "snowfall": 2.0, "heat": 1.5, "cold": 1.5}  # per sqrt(lead day)
HOLIDAY_EFFECT = {
    "New Year's Day": -0.3, "Martin Luther King Jr. Day": 0.05, "Washington's Birthday": 0.1, "Memorial Day": 0.2,
    "Juneteenth National Independence Day": 0.0, "Independence Day": 0.15, "Labor Day": 0.2, "Columbus Day": 0.05,
    "Veterans Day": 0.1, "Thanksgiving Day": -0.4, "Christmas Day": -0.6,
    "Black Friday": 0.9, "Cyber Monday": 0.7, "Christmas Eve": -0.2,
}
SPEND_WEEKDAY = {
    "meta": [1.0, 1.0, 1.0, 1.0, 1.05, 1.1, 1.1],
    "google": [1.05, 1.05, 1.05, 1.05, 1.0, 0.85, 0.85],
    "email": [0.8, 1.35, 0.85, 1.35, 0.9, 0.75, 0.75],
}




def _saturate(x: np.ndarray, signal: str) -> np.ndarray:
    return 1.0 - np.exp(-np.maximum(x, 0.0) / KAPPA[signal])


def us_holiday_multiplier(dates: list[dt.date], sensitivity: float) -> np.ndarray:
    """Demand multiplier of US public holidays (``holidays`` package) plus Black Friday, Cyber Monday and
    Christmas Eve, scaled by the tenant's sensitivity."""
    years = sorted({d.year for d in dates})
    cal = holidays_lib.country_holidays("US", years=years)
    named: dict[dt.date, str] = {}
    for day, name in cal.items():
        named[day] = name.replace(" (observed)", "")
        if name == "Thanksgiving Day" or name.startswith("Thanksgiving"):
            named[day + dt.timedelta(days=1)] = "Black Friday"
            named[day + dt.timedelta(days=4)] = "Cyber Monday"
    for y in years:
        named[dt.date(y, 12, 24)] = "Christmas Eve"
    return np.array([1.0 + sensitivity * HOLIDAY_EFFECT.get(named.get(d, ""), 0.0) for d in dates])


def _promotions(profile: TenantProfile, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Promotion depth per day and the lead/hangover multiplier (fixed horizon, then sliced)."""
    rng = _rng(profile, "promotions")
    count = rng.poisson(profile.promotions_per_year * HORIZON_DAYS / 365.25)
    starts = np.sort(rng.integers(0, HORIZON_DAYS, count))
    durations = rng.integers(2, 8, count)
    depths = rng.uniform(*profile.promo_depth, count)
    depth = np.zeros(HORIZON_DAYS + 8)
    around = np.ones(HORIZON_DAYS + 8)
    for s, d, x in zip(starts, durations, depths):
        depth[s:s + d] = np.maximum(depth[s:s + d], x)
        around[max(s - 3, 0):s] *= 1 - 0.3 * x  # customers wait for the sale
        around[s + d:s + d + 5] *= 1 - 0.5 * x  # and have bought already after it
    around[depth > 0] = 1.0
    return depth[:n], around[:n]


def _baseline_index(profile: TenantProfile, dates: list[dt.date], depth: np.ndarray, around: np.ndarray) -> np.ndarray:
    """Media-free, weather-free demand index per day (dimensionless, mean near 1)."""
    n = len(dates)
    t_years = np.arange(n) / 365.25
    doy = np.array([d.timetuple().tm_yday for d in dates])
    dow = np.array([d.weekday() for d in dates])
    dom = np.array([d.day for d in dates])
    phase = _rng(profile, "season").uniform(0, 365)
    trend = np.exp(profile.trend_per_year * t_years)
    weekday = np.array(profile.weekday_profile)[dow]
    yearly = 1 + profile.yearly_amplitude * np.cos(2 * np.pi * (doy - phase) / 365.25)
    gift = 1 + profile.gift_season * np.clip((doy - 319) / 38, 0, 1) * (doy <= 358)  # Nov 15 -> Dec 24 ramp
    holiday = us_holiday_multiplier(dates, profile.holiday_sensitivity)
    e = profile.promo_elasticity
    payday = np.where(np.isin(dom, (1, 2, 3, 15, 16)), 1 + profile.payday_strength,
                      np.where(dom >= 24, 1 - profile.payday_strength / 2, 1.0))
    ramp = 1 - np.exp(-(np.arange(n) + 30) / profile.launch_ramp_days) if profile.launch_ramp_days > 1 else np.ones(n)
    seg = profile.segments
    segments = (seg["loyal"] * (1 + 0.5 * e * depth) + seg["bargain"] * payday * (1 + 2 * e * depth)
                + seg["new"] * ramp * (1 + e * depth)) * around
    return trend * weekday * yearly * gift * holiday * segments


def _extended_signals(weather: pl.DataFrame, normals: pl.DataFrame, n: int) -> dict[str, np.ndarray]:
    """Signals over [start - 3, end + TAIL_DAYS]: three lag days from the first row, the calendar, then normals."""
    first = weather.row(0, named=True)
    out = {}
    for s in SIGNALS:
        head = [first[f"{s}_lag3"], first[f"{s}_lag2"], first[f"{s}_lag1"]]
        head = [h if h is not None else first[s] for h in head]
        out[s] = np.concatenate([head, weather[s].to_numpy()[:n], normals[s].to_numpy()[n:]])
    return out


def _lagged(ext: np.ndarray, weights: list[float], length: int) -> np.ndarray:
    return sum(w * ext[3 - k:3 - k + length] for k, w in enumerate(weights))


def _weather_effects(profile: TenantProfile, ext: dict[str, np.ndarray], length: int) -> np.ndarray:
    """Log weather multiplier per category (categories, days)."""
    effects = np.zeros((len(profile.categories), length))
    for i, cat in enumerate(profile.categories):
        if cat.affinity in AFFINITY_SIGNAL:
            s = AFFINITY_SIGNAL[cat.affinity]
            effects[i] += cat.weather_effect * _saturate(_lagged(ext[s], cat.lag_weights, length), s)
        if cat.rain_cold_interaction:
            rain = _saturate(_lagged(ext["precipitation_sum"], cat.lag_weights, length), "precipitation_sum")
            cold = _saturate(_lagged(ext["hdd"], cat.lag_weights, length), "hdd")
            effects[i] += cat.rain_cold_interaction * rain * cold
    return effects


def _trigger_signal(variable: str, forecast: np.ndarray, normal: pl.DataFrame, n: int) -> np.ndarray:
    if variable == "precipitation":
        return np.minimum(forecast / 5.0, 2.0)
    if variable == "snowfall":
        return np.minimum(forecast / 3.0, 2.0)
    if variable == "heat":
        return np.clip((forecast - normal["temperature_2m_max"].to_numpy()[:n]) / 4.0, 0, 2)
    return np.clip((normal["temperature_2m_min"].to_numpy()[:n] - forecast) / 4.0, 0, 2)


def _spend_plan(profile: TenantProfile, geo: str, dates: list[dt.date], trigger: np.ndarray | None) -> dict[str, np.ndarray]:
    """Daily spend per channel in one geo (USD), calendar days only."""
    n = len(dates)
    n_geos = len(profile.geos)
    geo_factor = float(np.clip(profile.geos[geo] * n_geos, 0.5, 1.5))
    dow = np.array([d.weekday() for d in dates])
    months = np.array([d.year * 12 + d.month for d in dates])
    last_days = np.array([(d + dt.timedelta(days=3)).month != d.month for d in dates])
    # Tenant-wide budget changes, shared by all geos and channels.
    rng = _rng(profile, "budget")
    gaps = rng.uniform(45, 120, 80).astype(int)
    steps = np.exp(rng.normal(0, 0.18, 80))
    level = np.ones(HORIZON_DAYS)
    pos, current = 0, 1.0
    for gap, step in zip(gaps, steps):
        pos += gap
        if pos >= HORIZON_DAYS:
            break
        current = float(np.clip(current * step, 0.6, 1.6))
        level[pos:] = current
    us = holidays_lib.country_holidays("US", years=sorted({d.year for d in dates}))
    is_holiday = np.array([d in us for d in dates])
    plan = {}
    for ch in profile.channels:
        r = _rng(profile, f"spend:{geo}:{ch.channel}")
        exponent = r.uniform(0.6, 1.2)
        pace = np.empty(HORIZON_DAYS)
        eps = r.normal(0, 0.08, HORIZON_DAYS)
        prev = 0.0
        for t in range(HORIZON_DAYS):
            prev = 0.5 * prev + eps[t]
            pace[t] = prev
        month_end = r.uniform(0.8, 1.25, 200)
        flights = np.ones(HORIZON_DAYS)
        if ch.channel != "email":
            count = r.poisson(4 * HORIZON_DAYS / 365.25)
            for s, d, lift in zip(r.integers(0, HORIZON_DAYS, count), r.integers(7, 22, count), r.uniform(0.4, 1.0, count)):
                flights[s:s + d] *= 1 + lift
        dark_draw = r.random(HORIZON_DAYS)
        x = (ch.base_daily * geo_factor * level[:n] ** exponent * np.array(SPEND_WEEKDAY[ch.channel])[dow]
             * flights[:n] * np.exp(pace[:n]))
        x = np.where(last_days, x * month_end[(months - months[0]) % 200], x)
        if ch.triggered and trigger is not None:
            x = x * (1 + profile.weather_trigger["strength"] * trigger)
        x = np.clip(x, ch.min_daily, ch.max_daily)
        dark = dark_draw[:n] < (0.03 if ch.channel == "email" else 0.015)
        if ch.channel == "email":
            dark |= is_holiday
        plan[ch.channel] = np.round(np.where(dark, 0.0, x), 2)
    return plan


def simulate_tenant(
    profile: TenantProfile,
    weather: pl.DataFrame,
    climatology: dict[str, CityClimatology],
    end: dt.date,
    replicates: int = 0,
) -> Simulation:
    """Simulate ``profile`` from the calendar start to ``end`` on ``weather``.

    Args:
        weather: ``weather_daily`` rows (any superset) for the tenant's cities and every calendar day.
        climatology: per-city climatology (normal weather for the counterfactual and the tail).
        end: last calendar day.
        replicates: how many times to draw each day's revenue again from its noise process
            (``Simulation.revenue_draws``; from a stream of their own, so the tables are the same with or without).

    Raises:
        ValueError: the weather lacks a city or a day of the tenant's calendar (names them).
    """
    return decompose_and_score(profile, *demand_process(profile, weather, climatology, end), replicates=replicates)


def demand_process(profile: TenantProfile, weather: pl.DataFrame, climatology: dict[str, CityClimatology],
                   end: dt.date) -> tuple:
    """The simulation's inner state before sales are drawn: (dates, T, baseline index, promotion depth,
    per-geo weather effects and spend plans, forecast rows). Same arguments and errors as
    :func:`simulate_tenant`; the ground truth of allocations (``simulation.plans``) reuses it."""
    start = CALENDAR_START
    n = (end - start).days + 1
    T = n + TAIL_DAYS
    dates = [start + dt.timedelta(days=i) for i in range(n)]
    ext_dates = [start + dt.timedelta(days=i) for i in range(-3, T)]
    ref = max(T, 365)  # calibration uses the first year, whatever the calendar's length
    depth, around = _promotions(profile, ref)
    ref_dates = [start + dt.timedelta(days=i) for i in range(ref)]
    base_index = _baseline_index(profile, ref_dates, depth, around)
    ref_ext_dates = [start + dt.timedelta(days=i) for i in range(-3, ref)]

    per_geo = {}
    forecast_rows = []
    for geo, mix in profile.geos.items():
        w = weather.filter((pl.col("city") == geo) & pl.col("date").is_between(start, end)).sort("date")
        if w.height != n:
            missing = sorted(set(dates) - set(w["date"].to_list()))
            raise ValueError(f"tenant {profile.tenant}: weather_daily lacks {geo} on {len(missing)} day(s), "
                             f"first {missing[0] if missing else '?'}; materialize weather_daily for {start}..{end}")
        normals_ext = normal_weather(climatology[geo], ext_dates)
        normals = normals_ext.slice(3)
        ext_actual = _extended_signals(w, normals, n)
        ext_normal = {s: normals_ext[s].to_numpy() for s in SIGNALS}
        eff = _weather_effects(profile, ext_actual, T)
        eff_n = _weather_effects(profile, ext_normal, T)
        trigger = None
        if profile.weather_trigger:
            var, lead = profile.weather_trigger["variable"], profile.weather_trigger["lead_days"]
            observed = w[FORECAST_VARIABLES[var][0]].to_numpy()
            err = _rng(profile, f"forecast:{geo}").normal(0, 1, HORIZON_DAYS)[:n] * FORECAST_ERROR_SD[var] * np.sqrt(lead)
            forecast = observed + err
            if var in ("precipitation", "snowfall"):
                forecast = np.maximum(forecast, 0.0)
            trigger = _trigger_signal(var, forecast, normals, n)
            forecast_rows.append(pl.DataFrame({
                "date": pl.Series(dates, dtype=pl.Date), "tenant": profile.tenant, "geo": geo, "variable": var,
                "lead_days": lead, "forecast": np.round(forecast, 2), "observed": observed,
                "trigger_signal": np.round(trigger, 4),
            }))
        ref_normal = normal_weather(climatology[geo], ref_ext_dates)
        eff_ref = _weather_effects(profile, {s: ref_normal[s].to_numpy() for s in SIGNALS}, 365)
        per_geo[geo] = {"mix": mix, "eff": eff, "eff_normal": eff_n, "eff_normal_first_year": eff_ref,
                        "spend": _spend_plan(profile, geo, dates, trigger)}

    return dates, T, base_index, depth[:T], per_geo, forecast_rows
