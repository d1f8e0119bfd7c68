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
def fitted():
    profile = get_profile(TENANT)
    weather = load_weather_daily(dt.date(2023, 1, 1), END, mode="seeds", seeds_dir=OPEN_METEO_DIR, calendar_end=END).frame
    clim = load_climatology()
    sim = simulate_tenant(profile, weather, clim, END)
    channels = [c.channel for c in profile.channels]
    features, media = build_features(TENANT, sim.sales, sim.spend, weather, profile.geos, channels)
    matrix = model_matrix(features, media)
    inputs = mmm.prepare(matrix, normal_features(profile.geos, clim, matrix["date"].to_list()), channels)
    return mmm.fit_mmm(inputs, mmm.MMMSettings(warmup=150, draws=100, chains=2)), sim


def test_inputs_are_standardised_on_training_days_only(fitted):
    fit, _ = fitted
    x = fit.inputs
    assert np.allclose(x.weather[x.train].mean(0), 0, atol=1e-9)
    assert not np.allclose(x.weather[x.holdout].mean(0), 0, atol=1e-3)
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
