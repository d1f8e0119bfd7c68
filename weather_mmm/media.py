"""Media transformations: adstock (carryover) and Hill saturation, as small pure classes.

Each adstock has normalised lag weights (they sum to 1, so adstock keeps total spend) and applies them
as a causal convolution: ``adstocked[t] = sum_l w[l] * spend[t - l]``. Shapes follow the field:

* geometric: ``w[l] ∝ decay**l`` (Jin et al. 2017, "Bayesian Methods for Media Mix Modeling with
  Carryover and Shape Effects", Google);
* delayed peak: ``w[l] ∝ decay**((l - peak)**2)`` (the same paper's carryover function, LightweightMMM);
* Weibull: ``w[l] ∝`` Weibull pdf at ``l + 1`` (Robyn's ``weibull_pdf`` adstock).

Hill saturation: ``x**slope / (x**slope + half_saturation**slope)`` (Jin et al. 2017); slope > 1 gives
S-shaped response curves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _convolve(weights: np.ndarray, spend: np.ndarray) -> np.ndarray:
    """Causal convolution along the first axis of ``spend`` (days, ...)."""
    spend = np.asarray(spend, dtype=float)
    out = np.zeros_like(spend)
    for lag, w in enumerate(weights):
        if lag == 0:
            out += w * spend
        else:
            out[lag:] += w * spend[:-lag]
    return out


class _Adstock:
    def weights(self) -> np.ndarray:
        raise NotImplementedError

    def apply(self, spend: np.ndarray) -> np.ndarray:
        """Adstocked spend (same shape and unit as ``spend``, USD)."""
        return _convolve(self.weights(), spend)


@dataclass(frozen=True)
class GeometricAdstock(_Adstock):
    decay: float
    max_lag: int = 12
    kind: str = "geometric"

    def weights(self) -> np.ndarray:
        w = self.decay ** np.arange(self.max_lag + 1)
        return w / w.sum()


@dataclass(frozen=True)
class DelayedAdstock(_Adstock):
    decay: float
    peak: float
    max_lag: int = 12
    kind: str = "delayed"

    def weights(self) -> np.ndarray:
        lags = np.arange(self.max_lag + 1)
        w = self.decay ** ((lags - self.peak) ** 2)
        return w / w.sum()


@dataclass(frozen=True)
class WeibullAdstock(_Adstock):
    shape: float
    scale: float
    max_lag: int = 12
    kind: str = "weibull"

    def weights(self) -> np.ndarray:
        x = np.arange(1, self.max_lag + 2, dtype=float)
        k, lam = self.shape, self.scale
        w = (k / lam) * (x / lam) ** (k - 1) * np.exp(-((x / lam) ** k))
        return w / w.sum()


Adstock = GeometricAdstock | DelayedAdstock | WeibullAdstock


def adstock_from_dict(d: dict) -> Adstock:
    kind = d["kind"]
    params = {k: v for k, v in d.items() if k != "kind"}
    return {"geometric": GeometricAdstock, "delayed": DelayedAdstock, "weibull": WeibullAdstock}[kind](**params)


@dataclass(frozen=True)
class HillSaturation:
    """Hill curve on adstocked spend; ``half_saturation`` in USD/day, ``slope`` dimensionless."""

    half_saturation: float
    slope: float

    def apply(self, x: np.ndarray) -> np.ndarray:
        x = np.maximum(np.asarray(x, dtype=float), 0.0)
        xs = x**self.slope
        return xs / (xs + self.half_saturation**self.slope)
