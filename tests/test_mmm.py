"""The Bayesian MMM on a small simulated tenant: shapes, the decomposition identity and effects with intervals.

A short chain (few draws) keeps this fast; recovery against the truth at full length is in bench/mmm.py.
"""

import datetime as dt

import numpy as np
import polars as pl
import pytest

from tests.conftest import OPEN_METEO_DIR
from weather_mmm.features.build import build_features, model_matrix
from weather_mmm.features.normals import normal_features
from weather_mmm.models import mmm
from weather_mmm.simulation.catalog import get_profile
from weather_mmm.simulation.simulate import simulate_tenant
from weather_mmm.weather.climatology import load_climatology
from weather_mmm.weather.sources import load_weather_daily

END = dt.date(2024, 12, 31)
TENANT = "sunshield_skincare"


@pytest.fixture(scope="module")
def prepared():
    profile = get_profile(TENANT)
    weather = load_weather_daily(dt.date(2023, 1, 1), END, mode="seeds", seeds_dir=OPEN_METEO_DIR, calendar_end=END).frame
    clim = load_climatology()
    sim = simulate_tenant(profile, weather, clim, END)
    channels = [c.channel for c in profile.channels]
    features, media = build_features(TENANT, sim.sales, sim.spend, weather, profile.geos, channels)
    matrix = model_matrix(features, media)
    return mmm.prepare(matrix, normal_features(profile.geos, clim, matrix["date"].to_list()), channels), sim


@pytest.fixture(scope="module")
def fitted(prepared):
    inputs, sim = prepared
    return mmm.fit_mmm(inputs, mmm.MMMSettings(warmup=150, draws=100, chains=2)), sim


def test_inputs_are_scaled_on_training_days_only(fitted):
    fit, _ = fitted
    x = fit.inputs
    hdd = x.weather[:, 0] * x.weather_scale[0]  # back in °C·day
    assert x.weather_scale[0] == pytest.approx(hdd[x.train][hdd[x.train] > 0].mean())
    assert hdd[x.holdout][hdd[x.holdout] > 0].mean() != pytest.approx(x.weather_scale[0], rel=1e-3)
    assert (x.weather >= 0).all() and set(x.weather_scale[:4]) == {x.weather_scale[0]}
    assert x.spend.shape == (len(x.dates), 3) and len(x.holdout) == round(len(x.dates) * 0.2)


def test_decomposition_adds_up_and_effects_have_intervals(fitted):
    fit, sim = fitted
    parts = mmm.decomposition(fit)
    assert set(parts["component"]) == {"baseline", "weather", "channel:meta", "channel:google", "channel:email"}
    assert parts.filter(pl.col("component") != "weather")["revenue"].min() >= 0
    total = parts.group_by("date").agg(pl.col("revenue").sum()).sort("date")["revenue"].to_numpy()
    assert total.mean() == pytest.approx(fit.inputs.revenue.mean(), rel=0.1)
    e = mmm.effects(fit)
    for c in ("meta", "google", "email"):
        r = e["roas"][c]
        assert 0 <= r["lo90"] <= r["mean"] <= r["hi90"] < 50
        assert e["mroas"][c]["mean"] <= r["mean"] * 1.05  # saturating curves: marginal below average
    # Sunscreen sells more in sunny heat: the model finds positive weather-driven revenue, as the truth has.
    true_share = sim.parameters.filter(pl.col("parameter") == "weather_share")["value"][0]
    assert np.sign(e["weather_share"]["mean"]) == np.sign(true_share)
    diag = mmm.diagnostics(fit)
    assert diag["draws"] == 200 and diag["max_rhat"] > 1.0 and diag["fit_seconds"] > 0
    hold = mmm.holdout_scores(fit)
    assert hold["r2"] > 0.5 and 0.5 <= hold["coverage90"] <= 1.0


def test_curves_have_intervals_and_the_expected_shapes(fitted):
    fit, _ = fitted
    c = mmm.curves(fit)
    assert set(c["kind"]) == {"response", "adstock", "weather"}
    assert (c["lo90"] <= c["mean"] + 1e-9).all() and (c["mean"] <= c["hi90"] + 1e-9).all()
    for ch in ("meta", "google", "email"):
        r = c.filter((pl.col("kind") == "response") & (pl.col("key") == ch)).sort("x")
        assert r["mean"][0] == 0 and (np.diff(r["mean"].to_numpy()) >= 0).all()  # no spend, no revenue; rising
        a = c.filter((pl.col("kind") == "adstock") & (pl.col("key") == ch))
        assert a.height == mmm.MAX_LAG + 1 and a["mean"].sum() == pytest.approx(1.0)
    w = c.filter(pl.col("kind") == "weather").group_by("key").agg(pl.col("mean").first(), pl.col("x").max())
    assert set(w["key"]) == set(mmm.WEATHER_SIGNALS) and np.allclose(w["mean"], 1.0)  # no weather, no effect
    # sunscreen: more demand on hot days (cooling degree days)
    cdd = c.filter((pl.col("kind") == "weather") & (pl.col("key") == "cdd")).sort("x")
    assert cdd["mean"][-1] > 1.0


def test_each_named_holiday_is_its_own_control():
    from weather_mmm.features.build import holiday_events

    days = [dt.date(2023, 11, 20) + dt.timedelta(days=i) for i in range(40)]
    events = holiday_events(days)
    assert {"Thanksgiving Day", "Black Friday", "Cyber Monday", "Christmas Eve", "Christmas Day"} <= set(events)
    assert days[int(np.argmax(events["Black Friday"]))] == dt.date(2023, 11, 24)
    assert all(v.sum() == 1 for v in events.values())


def test_lightweight_mmm_engine_fits_behind_the_same_interface(prepared, tmp_path):
    """LightweightMMM 0.1.9 (installed without its pins, patched in models/lightweight.py) on the same inputs."""
    from weather_mmm.allocation.optimize import ResponseModel
    from weather_mmm.models import store

    inputs, sim = prepared
    fit = mmm.fit_mmm(inputs, mmm.MMMSettings(warmup=150, draws=100, chains=2, engine="lightweight_mmm"))
    assert {"coef_media", "lag_weight", "half_max_effective_concentration", "coef_extra_features"} <= set(fit.samples)
    assert fit.samples["coef_media"].shape == (2, 100, 3)
    e = mmm.effects(fit)
    for c in ("meta", "google", "email"):
        r = e["roas"][c]
        assert 0 < r["lo90"] <= r["mean"] <= r["hi90"] < 50
    hold = mmm.holdout_scores(fit)
    assert hold["r2"] > 0.5 and 0.5 <= hold["coverage90"] <= 1.0
    parts = mmm.decomposition(fit)
    total = parts.group_by("date").agg(pl.col("revenue").sum())["revenue"].to_numpy()
    assert total.mean() == pytest.approx(inputs.revenue.mean(), rel=0.1)
    c = mmm.curves(fit)
    assert set(c["kind"]) == {"response", "adstock"}  # its weather is additive: no demand multiplier to draw
    assert c.filter(pl.col("kind") == "response")["mean"].min() == 0
    # The store keeps the engine, and a loaded fit gives the same effects; allocations refuse the reference.
    _, path = store.save_fit(tmp_path, sim.parameters["tenant"][0], fit)
    loaded = store.load_fit(path)
    assert loaded.settings.engine == "lightweight_mmm"
    assert mmm.effects(loaded)["roas"]["meta"]["mean"] == pytest.approx(e["roas"]["meta"]["mean"], rel=1e-6)
    with pytest.raises(ValueError, match="numpyro"):
        ResponseModel(loaded, inputs.spend[-mmm.MAX_LAG:], inputs.weather[-8 - mmm.MAX_LAG:])
    with pytest.raises(ValueError, match="unknown MMM engine 'pymc'"):
        mmm.MMMSettings(engine="pymc")
