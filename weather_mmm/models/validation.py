"""Time-series validation: the one time split every model uses, and the metrics it is scored with.

Split: the last ``holdout_share`` of days is the final holdout; the days before it are cut into
``folds`` expanding-window folds (scikit-learn ``TimeSeriesSplit``) with ``gap`` days between each
training window and its test window, sized so that the first fold trains on at least ``min_train_days``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import mean_absolute_error, mean_absolute_percentage_error, r2_score, root_mean_squared_error
from sklearn.model_selection import TimeSeriesSplit

FOLDS = 5
GAP_DAYS = 7
MIN_TRAIN_DAYS = 365
HOLDOUT_SHARE = 0.2


@dataclass(frozen=True)
class TimeSplit:
    """Index arrays into a tenant's days (0 = first modelled day).

    Attributes:
        folds: ``(train, test)`` index pairs, expanding training windows.
        train: every day before the holdout (the final fit's training set).
        holdout: the last ``holdout_share`` of days.
    """

    folds: list[tuple[np.ndarray, np.ndarray]]
    train: np.ndarray
    holdout: np.ndarray

    def describe(self) -> dict:
        return {"folds": len(self.folds), "first_fold_train_days": int(len(self.folds[0][0])),
                "fold_test_days": int(len(self.folds[0][1])), "gap_days": GAP_DAYS,
                "train_days": int(len(self.train)), "holdout_days": int(len(self.holdout))}


def time_split(n_days: int, folds: int = FOLDS, gap: int = GAP_DAYS, min_train_days: int = MIN_TRAIN_DAYS,
               holdout_share: float = HOLDOUT_SHARE) -> TimeSplit:
    """The split of ``n_days`` consecutive days.

    Raises:
        ValueError: too few days for ``folds`` test windows of at least 7 days after ``min_train_days``
            (the message gives the days needed).
    """
    n_holdout = int(round(n_days * holdout_share))
    n_cv = n_days - n_holdout
    test_size = (n_cv - min_train_days - gap) // folds
    if test_size < 7:
        need = int(np.ceil((min_train_days + gap + 7 * folds) / (1 - holdout_share)))
        raise ValueError(f"{n_days} days are too few for {folds} folds after a first training window of "
                         f"{min_train_days} days and a {holdout_share:.0%} holdout (need at least {need})")
    splitter = TimeSeriesSplit(n_splits=folds, gap=gap, test_size=test_size)
    return TimeSplit(list(splitter.split(np.arange(n_cv))), np.arange(n_cv), np.arange(n_cv, n_days))


def metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """R², MAPE (share, 0.1 = 10 %), RMSE and MAE (USD), NRMSE (RMSE over the range of ``y_true``, as Robyn)."""
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    rmse = root_mean_squared_error(y_true, y_pred)
    return {
        "r2": float(r2_score(y_true, y_pred)),
        "mape": float(mean_absolute_percentage_error(y_true, y_pred)),
        "rmse": float(rmse),
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "nrmse": float(rmse / max(np.ptp(y_true), 1e-12)),
    }


def mape_point(predictive: np.ndarray) -> np.ndarray:
    """[H] the point forecast that minimises the expected MAPE under predictive draws [S, H] (USD): the median
    of the predictive distribution reweighted by 1 / revenue, its "-1-median" (Gneiting 2011, "Making and
    evaluating point forecasts", JASA 106: the MAPE is consistent for it, not for the mean or the median).
    Draws of zero or less revenue carry no weight."""
    values = np.sort(np.where(predictive > 0, predictive, np.inf), axis=0)
    weights = np.where(np.isfinite(values), 1.0 / values, 0.0)
    cumulative = weights.cumsum(0) / np.maximum(weights.sum(0), 1e-300)
    return values[(cumulative >= 0.5).argmax(0), np.arange(values.shape[1])]
