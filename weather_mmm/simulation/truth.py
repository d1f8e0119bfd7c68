"""Ground truth: the daily decomposition of expected revenue and the effects, defined as counterfactuals.

Definitions (the same for the truth and for every model; documented once, here):

* **ROAS** of a channel over a window: expected revenue over the window plus the maximum carryover
  (:data:`~weather_mmm.simulation.simulate.TAIL_DAYS`), minus the same with that channel's spend set
  to zero inside the window, divided by the window's spend. After the calendar's last day no spend is
  observed, so the days past it carry only the window's carryover (spend 0, normal weather).
* **Marginal ROAS**: the same for a 1 % increase of the channel's spend inside the window, divided by
  that extra 1 % of spend.
* **Weather-driven revenue**: expected revenue minus expected revenue under climatological
  (day-of-year normal) weather with the same spend; the **weather share** is its sum over the sum of
  expected revenue.

The decomposition: ``baseline`` = media-free revenue under normal weather; ``channel:<name>`` = the
channel's revenue under normal weather; ``weather`` = everything the actual weather adds (or removes),
including its amplification of media. They add up to expected revenue exactly.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import polars as pl

from weather_mmm.media import HillSaturation, adstock_from_dict
from weather_mmm.simulation.catalog import TenantProfile
from weather_mmm.simulation.contract import (EXPERIMENT_SCHEMA, FORECAST_SCHEMA, HORIZON_DAYS, SALES_COLUMNS, SPEND_COLUMNS,
                                             Simulation, experiment_id)
from weather_mmm.simulation.contract import tenant_stream as _rng

CHANNEL_PREFIX = "channel:"
#: Share of simulated tenants that ran a lift test: one test of their Meta channel (else their first channel)
#: in their largest geo, LIFT_TEST_DAYS long, starting in the first 70 % of the calendar (so on training days).
LIFT_TEST_SHARE = 0.25
LIFT_TEST_DAYS = 28
#: Range of a test readout's relative standard error, drawn per test. Meta's conversion-lift studies report
#: intervals of this order; geo experiments are often wider (Vaver & Koehler 2011, Google).
LIFT_TEST_SE = (0.10, 0.25)


def lift_test_plan(profile: TenantProfile, n: int) -> dict | None:
    """The lift test ``profile``'s tenant ran over a calendar of ``n`` days (channel, geo, first day index,
    relative standard error, standard normal draw of its readout error), or ``None``: its own random stream,
    so it changes no other draw."""
    rng = _rng(profile, "lift_test")
    if rng.uniform() >= LIFT_TEST_SHARE or n < 90:
        return None
    channels = [c.channel for c in profile.channels]
    return {"channel": "meta" if "meta" in channels else channels[0], "geo": max(profile.geos, key=profile.geos.get),
            "start": int(rng.integers(30, int(0.7 * n) - LIFT_TEST_DAYS)), "rel_se": float(rng.uniform(*LIFT_TEST_SE)),
            "z": float(rng.normal())}


def _lift_test(profile: TenantProfile, plan: dict, dates: list[dt.date], ch, spend_T: np.ndarray, media: np.ndarray,
               base: float, beta: float, amp: np.ndarray) -> tuple[dict, float]:
    """(readout row, true lift USD) of ``plan`` on channel ``ch`` in its geo, whose media term under the actual
    spend is ``media``: the true lift is the expected revenue lost, over the test and its carryover, with the
    channel's spend set to zero during the test."""
    s, e = plan["start"], plan["start"] + LIFT_TEST_DAYS
    off = spend_T.copy()
    off[s:e] = 0.0
    true = float(((media - _media(ch, off, base, beta)) * amp).sum())
    se = plan["rel_se"] * true
    return {"tenant": profile.tenant, "experiment": experiment_id(ch.channel, plan["geo"], dates[s]),
            "channel": ch.channel, "geo": plan["geo"], "start": dates[s], "end": dates[e - 1],
            "spend": float(spend_T[s:e].sum()), "lift": true + plan["z"] * se, "lift_se": se}, true


def _media(ch, spend_T: np.ndarray, base: float, beta: float) -> np.ndarray:
    adstocked = adstock_from_dict(ch.adstock).apply(spend_T)
    return beta * HillSaturation(ch.half_saturation_rel * base, ch.slope).apply(adstocked)


def channel_scale(profile: TenantProfile, g: dict, ch) -> tuple[float, float]:
    """(base daily spend USD, beta USD/day) of a channel in one geo: beta makes the channel earn its target
    ROAS at steady base spend under a year of normal weather."""
    shares = np.array([c.share for c in profile.categories])
    shares = shares / shares.sum()
    wbar_ref = shares @ np.exp(g["eff_normal_first_year"])
    base = ch.base_daily * float(np.clip(g["mix"] * len(profile.geos), 0.5, 1.5))
    steady = HillSaturation(ch.half_saturation_rel * base, ch.slope).apply(np.array([base]))[0]
    return base, ch.target_roas * base / (steady * float(np.mean(wbar_ref ** ch.weather_amplification)))


def media_revenue(profile: TenantProfile, g: dict, ch, spend_T: np.ndarray) -> np.ndarray:
    """[T] USD: expected revenue of channel ``ch`` in geo ``g`` (``demand_process`` state) from daily spend
    ``spend_T`` under the actual weather, carryover and weather amplification included."""
    shares = np.array([c.share for c in profile.categories])
    wbar = (shares / shares.sum()) @ np.exp(g["eff"])
    base, beta = channel_scale(profile, g, ch)
    return _media(ch, spend_T, base, beta) * wbar ** ch.weather_amplification


def decompose_and_score(profile: TenantProfile, dates: list[dt.date], T: int, base_index: np.ndarray,
                        depth: np.ndarray, per_geo: dict, forecast_rows: list[pl.DataFrame], replicates: int = 0) -> Simulation:
    n = len(dates)
    if replicates:
        replica_rng = _rng(profile, "replicates")
        tenant_z, revenue_draws = replica_rng.standard_normal((replicates, n)), np.zeros((replicates, n))
    shares = np.array([c.share for c in profile.categories])
    shares = shares / shares.sum()
    # Scale: baseline revenue so that media earns about ``media_share`` of revenue at target ROAS.
    media_rev = sum(ch.target_roas * ch.base_daily * float(np.clip(g["mix"] * len(profile.geos), 0.5, 1.5))
                    for g in per_geo.values() for ch in profile.channels)
    level_total = media_rev * (1 - profile.media_share) / profile.media_share / float(np.mean(base_index[:365]))

    comps, sales, spend_rows, params, tests = [], [], [], [], []
    plan = lift_test_plan(profile, n)
    totals = {ch.channel: {"spend": 0.0, "rev": 0.0, "rev_up": 0.0} for ch in profile.channels}
    er_sum = weather_sum = 0.0
    for geo, g in per_geo.items():
        W = np.exp(g["eff"])
        Wn = np.exp(g["eff_normal"])
        wbar, wbar_n = shares @ W, shares @ Wn
        B = level_total * g["mix"] * base_index[None, :T] * shares[:, None]
        base_actual, base_normal = (B * W).sum(0), (B * Wn).sum(0)
        media_actual = np.zeros(T)
        channel_normal = {}
        for ch in profile.channels:
            base, beta = channel_scale(profile, g, ch)
            spend_T = np.concatenate([g["spend"][ch.channel], np.zeros(T - n)])
            m = _media(ch, spend_T, base, beta)
            m_up = _media(ch, spend_T * 1.01, base, beta)
            amp = wbar**ch.weather_amplification
            if plan and (geo, ch.channel) == (plan["geo"], plan["channel"]):
                row, true = _lift_test(profile, plan, dates, ch, spend_T, m, base, beta, amp)
                tests.append(row)
                params.append(("experiment", row["experiment"], geo, "true_lift", true, ch.channel))
            media_actual += m * amp
            channel_normal[ch.channel] = m * wbar_n**ch.weather_amplification
            totals[ch.channel]["spend"] += spend_T.sum()
            totals[ch.channel]["rev"] += (m * amp).sum()
            totals[ch.channel]["rev_up"] += (m_up * amp).sum()
            params += [
                ("channel", ch.channel, geo, "beta", beta, ""),
                ("channel", ch.channel, geo, "half_saturation", ch.half_saturation_rel * base, ""),
                ("channel", ch.channel, geo, "base_daily_spend", base, ""),
            ]
        expected = base_actual + media_actual
        weather = expected - base_normal - sum(channel_normal.values())
        er_sum += expected[:n].sum()
        weather_sum += weather[:n].sum()
        date_s = pl.Series(dates, dtype=pl.Date)
        comp = {"baseline": base_normal[:n], "weather": weather[:n],
                **{CHANNEL_PREFIX + c: v[:n] for c, v in channel_normal.items()}}
        for name, values in comp.items():
            comps.append(pl.DataFrame({"date": date_s, "tenant": profile.tenant, "geo": geo, "component": name,
                                       "revenue": values}))
        noise_inputs = (B[:, :n] * W[:, :n], media_actual[:n], W[:, :n], wbar[:n], shares, depth[:n])
        sales.append(_realise_sales(profile, geo, date_s, *noise_inputs))
        if replicates:
            revenue_draws += _revenue_replicates(profile, replica_rng, tenant_z, *noise_inputs)
        spend_rows.append(_spend_table(profile, geo, date_s, g["spend"]))

    for ch in profile.channels:
        t = totals[ch.channel]
        roas = t["rev"] / t["spend"] if t["spend"] else float("nan")
        mroas = (t["rev_up"] - t["rev"]) / (0.01 * t["spend"]) if t["spend"] else float("nan")
        params += [
            ("channel", ch.channel, "", "true_roas", roas, ""),
            ("channel", ch.channel, "", "true_marginal_roas", mroas, ""),
            ("channel", ch.channel, "", "target_roas", ch.target_roas, ""),
            ("channel", ch.channel, "", "revenue_share", t["rev"] / er_sum, ""),
            ("channel", ch.channel, "", "slope", ch.slope, ""),
            ("channel", ch.channel, "", "weather_amplification", ch.weather_amplification, ""),
            ("channel", ch.channel, "", "adstock", float("nan"), json.dumps(ch.adstock)),
            ("channel", ch.channel, "", "spend", t["spend"], ""),
        ]
    for cat in profile.categories:
        params += [
            ("category", cat.name, "", "weather_effect", cat.weather_effect, cat.affinity),
            ("category", cat.name, "", "rain_cold_interaction", cat.rain_cold_interaction, ""),
            ("category", cat.name, "", "lag_weights", float("nan"), json.dumps(cat.lag_weights)),
            ("category", cat.name, "", "price", cat.price, ""),
            ("category", cat.name, "", "margin", cat.margin, ""),
            ("category", cat.name, "", "share", cat.share, ""),
        ]
    params += [
        ("tenant", "", "", "weather_share", weather_sum / er_sum, ""),
        ("tenant", "", "", "expected_revenue", er_sum, ""),
        ("tenant", "", "", "media_share", sum(t["rev"] for t in totals.values()) / er_sum, ""),
    ]
    forecasts = pl.concat(forecast_rows) if forecast_rows else pl.DataFrame(schema=FORECAST_SCHEMA)
    spend = pl.concat(spend_rows).sort(["date", "geo", "channel"])
    if forecast_rows:
        fc = forecasts.group_by("date").agg(pl.col("trigger_signal").mean())
        sp = spend.filter(pl.col("channel") != "email").group_by("date").agg(pl.col("spend").sum())
        corr = sp.join(fc, on="date").select(pl.corr("spend", "trigger_signal")).item()
        params.append(("tenant", "", "", "spend_forecast_correlation", corr, profile.weather_trigger["variable"]))
    parameters = pl.DataFrame(
        [dict(zip(("kind", "key", "geo", "parameter", "value", "detail"), p)) for p in params],
        schema={"kind": pl.Utf8, "key": pl.Utf8, "geo": pl.Utf8, "parameter": pl.Utf8, "value": pl.Float64, "detail": pl.Utf8},
    ).with_columns(pl.lit(profile.tenant).alias("tenant")).select(PARAMETER_COLUMNS)
    return Simulation(
        sales=pl.concat(sales).sort(["date", "geo"]).select(SALES_COLUMNS),
        spend=spend.select(SPEND_COLUMNS),
        contributions=pl.concat(comps).sort(["date", "geo", "component"]),
        parameters=parameters,
        forecasts=forecasts.sort(["date", "geo"]),
        experiments=pl.DataFrame(tests, schema=EXPERIMENT_SCHEMA),
        revenue_draws=revenue_draws if replicates else None,
    )


PARAMETER_COLUMNS = ["tenant", "kind", "key", "geo", "parameter", "value", "detail"]


def _orders_to_revenue(mean_orders, gamma, r, upo, price, poisson_orders, poisson_units):
    """(orders, units, revenue USD) of one category: negative-binomial orders (a Poisson count whose mean is
    ``mean_orders`` times a Gamma(r) / r draw ``gamma``), each with 1 + Poisson(upo - 1) units at ``price``."""
    o = poisson_orders(mean_orders * gamma / r)
    u = o + poisson_units(o * (upo - 1))
    return o, u, u * price


def _shock(sd: float, z: np.ndarray) -> np.ndarray:
    """Log-normal demand shock of mean 1 from standard normal draws ``z``."""
    return np.exp(sd * z - sd**2 / 2)


def _categories(profile, base_rev, media_rev, W, wbar, shares, depth):
    """Per category of one geo: (index, category, expected revenue [n] USD, price [n] USD after promotions)."""
    for i, cat in enumerate(profile.categories):
        yield i, cat, base_rev[i] + media_rev * shares[i] * W[i] / wbar, cat.price * (1 - depth)


def _realise_sales(profile, geo, date_s, base_rev, media_rev, W, wbar, shares, depth) -> pl.DataFrame:
    """Over-dispersed orders per category, turned into units, revenue and margin through prices."""
    n = len(date_s)
    rng = _rng(profile, f"sales:{geo}")
    tenant_shock = _rng(profile, "shock").normal(0, 1, HORIZON_DAYS)[:n]
    geo_shock = rng.normal(0, 1, HORIZON_DAYS)[:n]
    mult = _shock(profile.shock_sd, tenant_shock) * _shock(profile.geo_shock_sd, geo_shock)
    upo = profile.units_per_order
    r = profile.nb_dispersion
    orders = np.zeros(n)
    orders_new = np.zeros(n)
    units = np.zeros(n)
    revenue = np.zeros(n)
    margin = np.zeros(n)
    for i, cat, expected, price in _categories(profile, base_rev, media_rev, W, wbar, shares, depth):
        # One stream per draw kind, so a longer calendar only appends draws.
        gamma = _rng(profile, f"orders:{geo}:{cat.name}").standard_gamma(r, HORIZON_DAYS)[:n]
        o, u, rev = _orders_to_revenue(expected * mult / (price * upo), gamma, r, upo, price,
                                       _rng(profile, f"poisson:{geo}:{cat.name}").poisson,
                                       _rng(profile, f"units:{geo}:{cat.name}").poisson)
        p_new = (media_rev * shares[i] * W[i] / wbar * 0.8 + base_rev[i] * (1 - profile.repeat_rate)) / np.maximum(expected, 1e-9)
        orders += o
        orders_new += _rng(profile, f"new:{geo}:{cat.name}").binomial(o.astype(np.int64), np.clip(p_new, 0, 1))
        units += u
        revenue += rev
        margin += rev * cat.margin
    return pl.DataFrame({
        "date": date_s, "tenant": profile.tenant, "geo": geo, "revenue": np.round(revenue, 2),
        "orders": orders.astype(np.int64), "orders_new": orders_new.astype(np.int64),
        "orders_returning": (orders - orders_new).astype(np.int64), "units": units.astype(np.int64),
        "margin": np.round(margin, 2), "promo_depth": np.round(depth, 3),
    })


def _revenue_replicates(profile, rng, tenant_z, base_rev, media_rev, W, wbar, shares, depth) -> np.ndarray:
    """[S, n] USD: one geo's daily revenue drawn again, S times, from the noise process of :func:`_realise_sales`
    around the same expectation, from ``rng`` (a stream of its own); ``tenant_z`` [S, n] is the tenant-wide shock's
    standard normal draws, shared by the geos of a replicate."""
    mult = _shock(profile.shock_sd, tenant_z) * _shock(profile.geo_shock_sd, rng.standard_normal(tenant_z.shape))
    r, upo = profile.nb_dispersion, profile.units_per_order
    revenue = np.zeros(tenant_z.shape)
    for _, _, expected, price in _categories(profile, base_rev, media_rev, W, wbar, shares, depth):
        revenue += _orders_to_revenue(expected * mult / (price * upo), rng.standard_gamma(r, tenant_z.shape), r, upo,
                                      price, rng.poisson, rng.poisson)[2]
    return revenue


def _spend_table(profile, geo, date_s, plan: dict[str, np.ndarray]) -> pl.DataFrame:
    frames = []
    for ch in profile.channels:
        rng = _rng(profile, f"delivery:{geo}:{ch.channel}")
        n = len(date_s)
        spend = plan[ch.channel]
        cpm = ch.cpm * np.exp(rng.normal(0, 0.12, HORIZON_DAYS)[:n])
        impressions = np.round(spend / cpm * 1000).astype(np.int64)
        ctr = ch.ctr * np.exp(rng.normal(0, 0.1, HORIZON_DAYS)[:n])
        clicks = _rng(profile, f"clicks:{geo}:{ch.channel}").binomial(impressions, np.clip(ctr, 0, 1))
        conversions = _rng(profile, f"conversions:{geo}:{ch.channel}").binomial(clicks, ch.cvr)
        frames.append(pl.DataFrame({
            "date": date_s, "tenant": profile.tenant, "geo": geo, "channel": ch.channel, "spend": spend,
            "impressions": impressions, "clicks": clicks.astype(np.int64), "conversions": conversions.astype(np.int64),
        }))
    return pl.concat(frames).with_columns(
        cpm=pl.when(pl.col("impressions") > 0).then((pl.col("spend") / pl.col("impressions") * 1000).round(3)),
        cpc=pl.when(pl.col("clicks") > 0).then((pl.col("spend") / pl.col("clicks")).round(3)),
    )
