"""The tenant simulator on real weather: truth identities, determinism, and the brief's difficulty floors."""

import dataclasses
import datetime as dt

import polars as pl
import pytest

from tests.conftest import OPEN_METEO_DIR
from weather_mmm.settings import CALENDAR_START
from weather_mmm.simulation import quality
from weather_mmm.simulation.catalog import BRANDS, build_catalog, build_profile
from weather_mmm.simulation.simulate import simulate_tenant
from weather_mmm.simulation.truth import CHANNEL_PREFIX, LIFT_TEST_DAYS, LIFT_TEST_SE
from weather_mmm.weather.cities import load_cities
from weather_mmm.weather.climatology import load_climatology
from weather_mmm.weather.daily import build_weather_daily
from weather_mmm.weather.normals import normal_weather
from weather_mmm.weather.seeds import read_seed_folder

END = dt.date(2024, 12, 31)
CLIM = load_climatology()


@pytest.fixture(scope="module")
def weather():
    cities = load_cities()
    records = read_seed_folder(OPEN_METEO_DIR, set(cities))
    return build_weather_daily(list(cities.values()), records, CLIM, CALENDAR_START, END)


@pytest.fixture(scope="module")
def catalog():
    return build_catalog()


@pytest.fixture(scope="module")
def simulations(weather, catalog):
    return {p.tenant: simulate_tenant(p, weather, CLIM, END) for p in catalog}


def test_catalog_spans_the_tiers_with_brand_profiles(catalog):
    assert len(catalog) >= 20
    assert {p.tier for p in catalog} == {"extreme", "high", "medium", "low"}
    for p in catalog:
        assert 3 <= len(p.categories) <= 8 and 1 <= len(p.geos) <= 5
        assert [c.channel for c in p.channels] == ["meta", "google", "email"]
        assert abs(sum(p.geos.values()) - 1) < 1e-3
    non_geometric = sum(p.channels[0].adstock["kind"] != "geometric" for p in catalog)
    assert non_geometric >= len(catalog) / 4 - 1


def test_components_add_up_to_expected_revenue_which_realised_revenue_scatters_around(simulations):
    sim = simulations["drizzle_rainwear"]
    expected = sim.contributions.group_by("date", "geo").agg(pl.col("revenue").sum().alias("expected"))
    both = sim.sales.join(expected, on=["date", "geo"])
    assert both.height == sim.sales.height
    ratio = both["revenue"].sum() / both["expected"].sum()
    assert ratio == pytest.approx(1.0, abs=0.02)
    components = set(sim.contributions["component"].unique())
    assert components == {"baseline", "weather", *(CHANNEL_PREFIX + c for c in ("meta", "google", "email"))}


def test_weather_component_vanishes_when_the_weather_is_normal(weather):
    """Feed the climatological normal as the 'actual' weather: weather-driven revenue must be exactly zero."""
    profile = build_profile(next(b for b in BRANDS if b.tenant == "hearthglow_heating"))
    end = dt.date(2023, 3, 31)
    frames = []
    for city in profile.geos:
        dates = [CALENDAR_START + dt.timedelta(days=i) for i in range(-3, (end - CALENDAR_START).days + 1)]
        nw = normal_weather(CLIM[city], dates)
        cols = {}
        for s in ("hdd", "cdd", "precipitation_sum", "snowfall_sum"):
            for k in (1, 2, 3):
                cols[f"{s}_lag{k}"] = nw[s].shift(k)
        frames.append(nw.with_columns(**cols, city=pl.lit(city)).slice(3))
    sim = simulate_tenant(profile, pl.concat(frames), CLIM, end)
    weather_part = sim.contributions.filter(pl.col("component") == "weather")["revenue"]
    total = sim.contributions["revenue"].sum()
    assert weather_part.abs().max() < 1e-6 * total


def test_same_seed_same_tables_and_a_longer_calendar_only_appends(weather, catalog):
    profile = catalog[0]
    a = simulate_tenant(profile, weather, CLIM, dt.date(2023, 6, 30))
    b = simulate_tenant(profile, weather, CLIM, dt.date(2023, 6, 30))
    assert a.sales.equals(b.sales) and a.spend.equals(b.spend)
    longer = simulate_tenant(profile, weather, CLIM, dt.date(2023, 9, 30))
    assert longer.sales.filter(pl.col("date") <= dt.date(2023, 6, 30)).equals(a.sales)
    assert longer.spend.filter(pl.col("date") <= dt.date(2023, 6, 30)).equals(a.spend)


def test_each_tenant_has_its_own_stream(catalog):
    changed = [dataclasses.replace(b, name=b.name + " Inc") if b.tenant == "pulse_fitness" else b for b in BRANDS]
    others = {p.tenant: p for p in build_catalog(brands=tuple(b for b in changed if b.tenant != "icebox_treats"))}
    for p in catalog:
        if p.tenant not in ("pulse_fitness", "icebox_treats"):
            assert others[p.tenant] == p


def test_difficulty_floors_and_realistic_noise(simulations, catalog):
    shares = pl.concat([s.parameters for s in simulations.values()]).filter(pl.col("parameter") == "revenue_share")
    assert (shares["value"] < 0.05).sum() >= 3  # some channels earn under 5 % of revenue
    for p in catalog:
        sim = simulations[p.tenant]
        if p.weather_trigger:
            corr = sim.parameters.filter(pl.col("parameter") == "spend_forecast_correlation")["value"][0]
            assert corr >= 0.3, p.tenant
        actual = sim.sales.group_by("date").agg(pl.col("revenue").sum()).sort("date")
        expected = sim.contributions.group_by("date").agg(pl.col("revenue").sum()).sort("date")
        noise = (actual["revenue"] / expected["revenue"] - 1).std()
        assert noise >= 0.10, f"{p.tenant}: day-to-day noise {noise:.3f} below 10 %"
        cvr = sim.spend.filter(pl.col("clicks") > 1000).select(pl.col("conversions").sum() / pl.col("clicks").sum()).item()
        assert 0.02 <= cvr <= 0.08


def test_quality_checks_on_the_full_catalog(simulations, catalog, weather):
    sales = pl.concat([s.sales for s in simulations.values()])
    spend = pl.concat([s.spend for s in simulations.values()])
    params = pl.concat([s.parameters for s in simulations.values()])
    profiles = {p.tenant: p for p in catalog}
    assert quality.schema(sales, spend).passed
    assert quality.missing_and_duplicates(sales, spend).passed
    assert quality.robust_outliers(sales).passed
    spend_check = quality.spend_within_profile(spend, profiles)
    assert spend_check.passed, spend_check.summary
    assert quality.roas_distribution(params).passed
    features = quality.behaviour_features(sales, weather, {p.tenant: p.geos for p in catalog})
    clusters = quality.behaviour_clusters(features, {p.tenant: p.tier for p in catalog})
    assert clusters.passed, clusters.summary
    ordering = quality.weather_correlation_by_tier(features, {p.tenant: p.tier for p in catalog})
    assert ordering.passed, ordering.summary


def test_a_quarter_of_tenants_ran_a_lift_test_whose_readout_scatters_around_the_true_lift(simulations):
    tested = {t: s for t, s in simulations.items() if s.experiments.height}
    assert 0.15 <= len(tested) / len(simulations) <= 0.45
    for tenant, sim in tested.items():
        test = sim.experiments.row(0, named=True)
        truth = sim.parameters.filter(pl.col("parameter") == "true_lift").row(0, named=True)
        assert (truth["key"], truth["geo"], truth["detail"]) == (test["experiment"], test["geo"], test["channel"])
        assert LIFT_TEST_SE[0] <= test["lift_se"] / truth["value"] <= LIFT_TEST_SE[1]
        assert (test["end"] - test["start"]).days == LIFT_TEST_DAYS - 1 and test["end"] < END - dt.timedelta(days=200)
        spend = sim.spend.filter((pl.col("geo") == test["geo"]) & (pl.col("channel") == test["channel"])
                                 & pl.col("date").is_between(test["start"], test["end"]))["spend"].sum()
        assert test["spend"] == pytest.approx(spend)
        # the test's lift over its spend is of the order of the channel's true ROAS over the calendar
        roas = sim.parameters.filter((pl.col("parameter") == "true_roas") & (pl.col("key") == test["channel"]))["value"][0]
        assert 0.4 < truth["value"] / test["spend"] / roas < 2.5
    z = [(s.experiments["lift"][0] - s.parameters.filter(pl.col("parameter") == "true_lift")["value"][0]) / s.experiments["lift_se"][0]
         for s in tested.values()]
    assert max(abs(v) for v in z) < 3.5


def test_the_oracle_fits_known_scales_within_their_standard_errors(weather):
    import numpy as np

    from weather_mmm.simulation.oracle import oracle_errors, weighted_scales

    rng = np.random.default_rng(0)
    columns = rng.uniform(50, 150, (600, 2))
    expected = columns @ [1.0, 2.0]
    geo = np.repeat(["a", "b"], 300)
    noisy = expected * np.exp(rng.normal(0, np.where(geo == "a", 0.1, 0.3)) - np.where(geo == "a", 0.005, 0.045))
    theta, cov, noise = weighted_scales(noisy, columns, expected, geo)
    assert np.all(np.abs(theta - [1.0, 2.0]) < 3 * np.sqrt(np.diag(cov))) and 0.15 < noise < 0.3
    frame = oracle_errors(["layerup_apparel", "stormready_supply", "an_imported_shop"], weather, CLIM)
    assert sorted(frame["tenant"].unique()) == ["layerup_apparel", "stormready_supply"] and frame.height == 6
    assert ((frame["theta"] - 1) / frame["se"]).abs().max() < 3  # the true scale is 1
    # Meta carries most of layerup_apparel's media revenue: even noisy sales pin its scale to about 7 %
    assert frame.filter(pl.col("tenant") == "layerup_apparel", pl.col("key") == "meta")["se"][0] < 0.1


def test_the_oracle_plans_as_the_allocator_and_the_check_reports_its_capture(weather):
    import numpy as np

    from weather_mmm.allocation.quality import true_plan_values, truth_outcome
    from weather_mmm.simulation.catalog import get_profile
    from weather_mmm.simulation.oracle import OracleScales
    from weather_mmm.simulation.plans import TruePlans

    dates, current = [END - dt.timedelta(days=6 - k) for k in range(7)], {"meta": 300.0, "google": 150.0, "email": 60.0}
    plans = pl.DataFrame([{"tenant": "stormready_supply", "date": d, "channel": c, "current_spend": v, "recommended_spend": v}
                          for d in dates for c, v in current.items()])
    summary = pl.DataFrame([{"tenant": "stormready_supply", "channel": c, "min_daily": 0.7 * v, "max_daily": 1.3 * v}
                            for c, v in current.items()])
    at_mean, risk_averse = (true_plan_values(plans, summary, weather, CLIM, oracle_risk_aversion=r).row(0, named=True)
                            for r in (0.0, 1.2816))
    assert at_mean["recommended"] == at_mean["current"] and at_mean["optimal"] > 1.02 * at_mean["current"]
    # knowing the curves to a few per cent, the oracle's mean plan surely beats the current one: it keeps it
    assert at_mean["optimal"] + 1e-6 >= at_mean["oracle"] == risk_averse["oracle"] > at_mean["current"]
    share = (at_mean["oracle"] - at_mean["current"]) / (at_mean["optimal"] - at_mean["current"])
    assert share > 0.9
    outcome = truth_outcome(pl.DataFrame([at_mean]))
    assert not outcome.passed and "captures 0% of the truly optimal uplift" in outcome.summary
    assert f"planning at the same risk aversion: {share:.0%})" in outcome.summary
    assert outcome.metadata["oracle_captured_share"] == round(share, 3)
    # an oracle unsure of its scales (±40 % each) would not bet on its mean plan: it moves less
    truth = TruePlans(get_profile("stormready_supply"), weather, CLIM, END, dates)
    now = np.tile(list(current.values()), (7, 1))
    bounds = np.column_stack([0.7 * now[0], 1.3 * now[0]])
    unsure = OracleScales(list(current), np.ones(3), np.diag([0.16, 0.16, 0.16]), 0.1)
    careful, bold = (truth.incremental(unsure.plan(truth, bounds, now.sum(), now, now, r)) for r in (1.2816, 0.0))
    assert truth.incremental(now) < careful < bold == pytest.approx(at_mean["optimal"], rel=1e-3)
    # marginal ROAS: the next dollar earns less than the average one on a concave curve, more on a convex start
    marginal, by_channel = truth.marginal_roas(now), truth.incremental_by_channel(now)
    cut = now.copy()
    cut[:, 0] *= 0.5
    assert marginal.shape == (3,) and (marginal > 0).all()
    assert marginal[0] == pytest.approx((by_channel[0] - truth.incremental_by_channel(now * 0.99)[0]) / (0.01 * now[:, 0].sum()),
                                        rel=0.05)  # a step up and a step down agree
    assert truth.marginal_roas(cut)[0] > marginal[0]  # saturation: half the spend, a better next dollar
