"""Baseline models per tenant, validated on the shared time split (:mod:`.validation`).

Models (all predict daily revenue in USD):

* ``seasonal_naive``: the same weekday last week, ``y[t-7]``.
* ``ols`` / ``ols_weather``, ``ridge`` / ``ridge_weather``: scikit-learn ``LinearRegression`` and ``RidgeCV``
  on log revenue (demand is multiplicative, so effects are linear in logs), without and with the weather
  features. Calendar: trend, weekday (one-hot), yearly Fourier terms (3 harmonics), one flag per named
  holiday (``features.build.holiday_events``, as the MMM: Christmas Day and Black Friday move demand in
  opposite directions), gift season, paydays, month end, promotion depth and its 7-day hangover; media:
  ``log1p`` of the fixed-decay adstock per channel. Encoders and scalers sit inside the pipeline, so they
  are fitted on training folds only.
* ``gam``: pygam ``LinearGAM`` on log revenue with smooth terms for temperature (day and 7-day mean),
  precipitation (day and day before) and snowfall, factor terms for weekday and month, linear terms for
  the rest of the calendar and media.
* ``weather_only``: ``RidgeCV`` on the weather features alone; its holdout R² is the share of revenue
  variance weather alone explains.

The best model is the one with the lowest mean CV MAPE (chosen without looking at the holdout).
Weather importance is grouped permutation importance on the holdout: all weather columns are permuted
together (the same shuffle), and the drop in holdout R² is compared with that of the other feature groups
(Breiman 2001, "Random Forests", sec. 10; scikit-learn ``permutation_importance`` per column).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from pygam import LinearGAM, f, l, s
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.linear_model import LinearRegression, RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from weather_mmm.features.build import WARMUP_DAYS, WEATHER_FEATURES, holiday_events
from weather_mmm.models.validation import TimeSplit, metrics, time_split

HARMONICS = 3
#: Calendar inputs besides weekday, plus one ``event_<holiday>`` flag per named holiday in the data (:func:`design`).
CALENDAR = ["trend", *[f"{fn}{k}" for k in range(1, HARMONICS + 1) for fn in ("sin", "cos")],
            "gift_season", "payday", "month_end", "promo_depth", "promo_depth_7d"]
EVENT_PREFIX = "event_"
GROUPS_CALENDAR = {"trend": ["trend"], "season": [c for c in CALENDAR if c[:3] in ("sin", "cos")] + ["month"],
                   "weekday": ["weekday"], "promotions": ["promo_depth", "promo_depth_7d"],
                   "holidays_and_paydays": ["gift_season", "payday", "month_end"]}  # and the event flags
ALPHAS = np.logspace(-2, 4, 13)
MODELS = ("seasonal_naive", "ols", "ols_weather", "ridge", "ridge_weather", "gam", "weather_only")
#: Weather inputs of the regressions: the feature table's weather columns, with its non-negative amounts
#: (precipitation, snowfall, degree days) as ``log1p`` only. In a model of log revenue a raw amount's effect grows
#: exponentially with it, so a snowfall past the training range would multiply the forecast; demand saturates
#: instead. Measured on the 23 default tenants (``bench/baselines.py``):
#: with the raw amounts beside their logs, 20 tenants' CV R² spread was 0.1 or more, against 17; mean CV MAPE of
#: ``ridge_weather`` 19.0 % against 18.9 % (deskmate_office's best model became ``ols_weather``, holdout MAPE
#: 25.9 % against 22.8 %).
SATURATING = [c for c in WEATHER_FEATURES if c.split("_")[0] in ("precip", "snow", "hdd", "cdd") and "anomaly" not in c]
WEATHER_INPUTS = [c for c in WEATHER_FEATURES if c not in SATURATING] + [f"log1p_{c}" for c in SATURATING]
GAM_SMOOTH = ("tmean", "tmean_7d", "precip", "precip_lag1", "snow")


def design(matrix: pl.DataFrame, channels: list[str]) -> pl.DataFrame:
    """Regression inputs of one tenant: the model matrix (``features.build.model_matrix``) without its warm-up
    days, plus Fourier terms, ``event_<holiday>`` flags and ``log_adstock_<channel>``. One row per modelled day."""
    doy = 2 * np.pi * pl.col("day_of_year") / 365.25
    frame = matrix.sort("date").slice(WARMUP_DAYS)
    events = holiday_events(frame["date"].to_list())
    return (frame
            .with_columns(**{f"{EVENT_PREFIX}{name}": pl.Series(flags) for name, flags in events.items()})
            .with_columns(**{f"sin{k}": (k * doy).sin() for k in range(1, HARMONICS + 1)},
                          **{f"cos{k}": (k * doy).cos() for k in range(1, HARMONICS + 1)},
                          **{f"log_adstock_{c}": pl.col(f"adstock_{c}").log1p() for c in channels})
            .with_columns(pl.col(WEATHER_FEATURES).fill_null(0.0))
            .with_columns(**{f"log1p_{c}": pl.col(c).clip(lower_bound=0).log1p() for c in SATURATING}))


def _linear(estimator_factory, numeric: list[str], categorical: list[str]):
    """(factory of a log-target pipeline over numpy columns ``categorical + numeric``, those columns)."""
    def make():
        k = len(categorical)
        columns = ColumnTransformer([("onehot", OneHotEncoder(handle_unknown="ignore"), list(range(k))),
                                     ("scaled", StandardScaler(), list(range(k, k + len(numeric))))])
        return TransformedTargetRegressor(make_pipeline(columns, estimator_factory()), func=np.log, inverse_func=np.exp)
    return make, categorical + numeric


class GAM:
    """pygam ``LinearGAM`` on log revenue over numpy columns ``GAM_SMOOTH + [weekday, month] + linear``."""

    def __init__(self, linear: list[str], lam: float = 3.0):
        n = len(GAM_SMOOTH)
        terms = [s(i, n_splines=8) for i in range(n)] + [f(n), f(n + 1)]
        terms += [l(n + 2 + i) for i in range(len(linear))]
        self.gam = LinearGAM(sum(terms[1:], terms[0]), lam=lam)

    def fit(self, x: np.ndarray, y: np.ndarray) -> "GAM":
        self.gam.fit(x, np.log(y))
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.exp(self.gam.predict(x))


@dataclass
class BaselineResult:
    """Everything the baselines of one tenant produced.

    Attributes:
        scores: one row per model and fold (``cv1``..``cv5``, ``holdout``): r2, mape, rmse, mae, nrmse.
        summary: one row per model: CV mean and std of R² and MAPE, holdout metrics, ``best`` flag.
        importance: one row per feature group: holdout R² drop when permuted, rank (1 = most important).
        predictions: one row per modelled day: date, actual, in_holdout, one column per model (USD;
            null outside the holdout except for the seasonal naive).
        best: the best model's name; split: the time split used.
    """

    scores: pl.DataFrame
    summary: pl.DataFrame
    importance: pl.DataFrame
    predictions: pl.DataFrame
    best: str
    split: TimeSplit


def _events(data: pl.DataFrame) -> list[str]:
    return [c for c in data.columns if c.startswith(EVENT_PREFIX)]


def _specs(channels: list[str], events: list[str]) -> dict:
    """Model name -> (factory of a fresh unfitted model, its input columns)."""
    base = CALENDAR + events + [f"log_adstock_{c}" for c in channels]
    weather = WEATHER_INPUTS
    gam_cols = list(GAM_SMOOTH) + ["weekday", "month"] + base
    return {
        "ols": _linear(LinearRegression, base, ["weekday"]),
        "ols_weather": _linear(LinearRegression, base + weather, ["weekday"]),
        "ridge": _linear(lambda: RidgeCV(alphas=ALPHAS), base, ["weekday"]),
        "ridge_weather": _linear(lambda: RidgeCV(alphas=ALPHAS), base + weather, ["weekday"]),
        "gam": (lambda: GAM(base), gam_cols),
        "weather_only": _linear(lambda: RidgeCV(alphas=ALPHAS), weather, []),
    }


def fit_baselines(data: pl.DataFrame, channels: list[str], permutations: int = 5, seed: int = 0) -> BaselineResult:
    """Fit and validate every baseline on one tenant's design frame (:func:`design`).

    Raises:
        ValueError: too few days for the time split (see :func:`.validation.time_split`), or revenue that is
            not positive (names tenant and date).
    """
    y = data["revenue"].to_numpy().astype(float)
    if (y <= 0).any():
        i = int(np.argmax(y <= 0))
        raise ValueError(f"tenant {data['tenant'][0]}: revenue {y[i]} on {data['date'][i]}; baselines model log revenue")
    split = time_split(len(y))
    specs = _specs(channels, _events(data))
    inputs = {name: data.select(cols).to_numpy().astype(float) for name, (_, cols) in specs.items()}
    naive = np.concatenate([np.full(7, np.nan), y[:-7]])
    windows = [(f"cv{i}", tr, te) for i, (tr, te) in enumerate(split.folds, 1)] + [("holdout", split.train, split.holdout)]
    rows, preds, fitted = [], {}, {}
    for fold, train, test in windows:
        rows.append({"model": "seasonal_naive", "fold": fold, **metrics(y[test], naive[test])})
        for name, (make, _) in specs.items():
            model = make().fit(inputs[name][train], y[train])
            p = model.predict(inputs[name][test])
            rows.append({"model": name, "fold": fold, **metrics(y[test], p)})
            if fold == "holdout":
                preds[name], fitted[name] = p, model
    scores = pl.DataFrame(rows)
    cv = scores.filter(pl.col("fold") != "holdout").group_by("model").agg(
        cv_r2_mean=pl.col("r2").mean(), cv_r2_std=pl.col("r2").std(), cv_mape_mean=pl.col("mape").mean(),
        cv_mape_std=pl.col("mape").std())
    hold = scores.filter(pl.col("fold") == "holdout").drop("fold").rename(
        {m: f"holdout_{m}" for m in ("r2", "mape", "rmse", "mae", "nrmse")})
    best = cv.filter(pl.col("model") != "weather_only").sort("cv_mape_mean")["model"][0]
    order = {m: i for i, m in enumerate(MODELS)}
    summary = (cv.join(hold, on="model").with_columns(best=pl.col("model") == best)
               .sort(pl.col("model").replace_strict(order, return_dtype=pl.Int32)))
    weather_model = best if best in ("ridge_weather", "gam") else "ridge_weather"  # OLS: collinear, unstable when permuted
    importance = _grouped_importance(fitted[weather_model], specs[weather_model][1], inputs[weather_model][split.holdout],
                                     y[split.holdout], channels, _events(data), permutations, seed).with_columns(model=pl.lit(weather_model))
    predictions = data.select("date", actual="revenue").with_columns(
        in_holdout=pl.int_range(pl.len()) >= len(split.train), seasonal_naive=pl.Series(naive))
    for name, p in preds.items():
        predictions = predictions.with_columns(pl.Series(name, np.concatenate([np.full(len(split.train), np.nan), p])))
    return BaselineResult(scores, summary, importance, predictions, best, split)


def _grouped_importance(model, cols: list[str], x: np.ndarray, y: np.ndarray, channels: list[str], events: list[str],
                        permutations: int, seed: int) -> pl.DataFrame:
    groups = {"weather": WEATHER_INPUTS, **GROUPS_CALENDAR,
              "holidays_and_paydays": GROUPS_CALENDAR["holidays_and_paydays"] + events,
              **{f"media:{c}": [f"log_adstock_{c}"] for c in channels}}
    reference = metrics(y, model.predict(x))["r2"]
    rng = np.random.default_rng(seed)
    rows = []
    for group, members in groups.items():
        idx = [cols.index(c) for c in members if c in cols]
        if not idx:
            continue
        drops = []
        for _ in range(permutations):
            shuffled = x.copy()
            shuffled[:, idx] = x[rng.permutation(len(x))][:, idx]
            drops.append(reference - metrics(y, model.predict(shuffled))["r2"])
        rows.append({"group": group, "r2_drop": float(np.mean(drops)), "r2_drop_std": float(np.std(drops))})
    return pl.DataFrame(rows).sort("r2_drop", descending=True).with_row_index("rank", offset=1)
