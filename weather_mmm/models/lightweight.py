"""LightweightMMM 0.1.9 (Google, archived) as the second engine, ``MMMSettings(engine="lightweight_mmm")``.

It is the reference our model is compared against: it fits the same :class:`~weather_mmm.models.mmm.MMMInputs`
and returns an :class:`~weather_mmm.models.mmm.MMMFit`, so ``effects``, ``decomposition``, ``holdout_scores``
and ``diagnostics`` score both engines the same way (counterfactuals over the whole calendar). It fits the
tenant's totals (revenue and spend summed over geos, weather averaged by the geos' revenue shares), as
LightweightMMM's national model does.

The model is LightweightMMM's ``hill_adstock`` with its default priors (Jin et al. 2017): additive, Normal
likelihood on revenue divided by its training mean, media divided by its training mean, coefficient priors
HalfNormal(scale = each channel's training spend over the mean spend), as in its documentation. Yearly
seasonality (3 harmonics, 365.25-day period) and the weekday are its own terms; the other calendar controls
(holidays, gift season, paydays, promotions) and our 16 weather inputs enter as its linear extra features.

Installation: LightweightMMM pins TensorFlow, matplotlib 3.6.1 and seaborn 0.11.1, none of which work beside a
NumPy-2 JAX, so ``./dev`` installs it with ``pip --no-deps`` and pyproject lists the dependencies it really
imports (absl-py, immutabledict, pandas, statsmodels). :func:`_patch` then fixes, at import, the three things
that break on a current JAX (see ``docs/architecture.md``):

1. ``tensorflow.io.gfile`` (only used by ``utils.save_model``/``load_model`` to open files) is a stub whose
   ``GFile`` is :func:`open`;
2. ``jnp.where(condition=..., x=..., y=...)``: JAX's arguments are positional-only now; the modules that call
   it get a ``jnp`` that accepts the keywords;
3. ``jnp.reshape(a=..., newshape=...)`` (``optimize_media``): the same, mapping ``newshape`` to ``shape``.
"""

from __future__ import annotations

import sys
import time
import types

import jax
import jax.numpy as jnp
import numpy as np

from weather_mmm.models.mmm import CONTROLS, MMMFit, MMMInputs, MMMSettings

#: Controls LightweightMMM models with its own terms (trend, yearly seasonality, weekday).
OWN_TERMS = ("trend", "sin", "cos", "week_")
DEGREES_SEASONALITY = 3
FREQUENCY = 365.25


class _CompatNumpy(types.ModuleType):
    """``jax.numpy`` with the keyword forms LightweightMMM 0.1.9 uses."""

    def __getattr__(self, name):
        return getattr(jnp, name)

    @staticmethod
    def where(condition, x=None, y=None):
        return jnp.where(condition, x, y)

    @staticmethod
    def reshape(a, newshape=None, shape=None, **kwargs):
        return jnp.reshape(a, shape if shape is not None else newshape, **kwargs)


def _patch() -> types.ModuleType:
    """Import ``lightweight_mmm`` with the fixes listed in the module docstring; returns its ``models`` module.

    Raises:
        ImportError: LightweightMMM is not installed (``./dev`` installs it).
    """
    try:
        import tensorflow  # noqa: F401  (a real TensorFlow needs no stub)
    except ImportError:
        gfile = types.ModuleType("tensorflow.io.gfile")
        gfile.GFile = open
        io = types.ModuleType("tensorflow.io")
        io.gfile = gfile
        tf = types.ModuleType("tensorflow")
        tf.io = io
        sys.modules.update({"tensorflow": tf, "tensorflow.io": io, "tensorflow.io.gfile": gfile})
    from lightweight_mmm import media_transforms, models, optimize_media
    from lightweight_mmm.core import core_utils

    compat = _CompatNumpy("jax.numpy")
    for module in (media_transforms, optimize_media, core_utils):
        module.jnp = compat
    return models


def _extra_features(controls: np.ndarray, weather: np.ndarray) -> np.ndarray:
    """[T, F]: our calendar controls minus those LightweightMMM models itself, then the weather inputs."""
    names = CONTROLS + [f"event{i}" for i in range(controls.shape[1] - len(CONTROLS))]
    keep = [i for i, name in enumerate(names) if not name.startswith(OWN_TERMS)]
    return np.column_stack([controls[:, keep], weather])


def _media_prior(inputs: MMMInputs) -> np.ndarray:
    spend = inputs.spend[inputs.train].sum((0, 1))
    return spend / spend.mean()


def fit(inputs: MMMInputs, settings: MMMSettings) -> MMMFit:
    """NUTS on the training days with LightweightMMM's ``media_mix_model`` and ``hill_adstock`` transform.

    Uses the same sampler settings as our model (warmup, draws, chains in parallel, target acceptance).
    The deterministic sites (``mu``, ``media_transformed``) are not kept; :func:`expected` recomputes them.
    """
    models = _patch()
    from numpyro.infer import MCMC, NUTS, init_to_median

    train = inputs.train
    spend, weather = inputs.totals(inputs.spend, inputs.weather)
    media = spend[train] / inputs.spend_scale.sum(0)
    y = inputs.revenue[train].sum(1) / inputs.revenue_scale.sum()
    extra = _extra_features(inputs.controls[train], weather[train])
    method = "parallel" if jax.local_device_count() >= settings.chains else "sequential"
    mcmc = MCMC(NUTS(models.media_mix_model, target_accept_prob=settings.target_accept, init_strategy=init_to_median),
                num_warmup=settings.warmup, num_samples=settings.draws, num_chains=settings.chains,
                chain_method=method, progress_bar=False)
    t0 = time.perf_counter()
    mcmc.run(jax.random.PRNGKey(settings.seed), media_data=jnp.asarray(media), extra_features=jnp.asarray(extra),
             target_data=jnp.asarray(y), media_prior=jnp.asarray(_media_prior(inputs)),
             degrees_seasonality=DEGREES_SEASONALITY, frequency=FREQUENCY,
             transform_function=models.transform_hill_adstock, weekday_seasonality=True, custom_priors={},
             extra_fields=("diverging",))
    elapsed = time.perf_counter() - t0
    samples = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()
               if k not in ("mu", "media_transformed")}
    divergences = int(np.asarray(mcmc.get_extra_fields()["diverging"]).sum())
    return MMMFit(inputs, samples, settings, elapsed, divergences)


def expected(fit: MMMFit, spend: np.ndarray, weather: np.ndarray, controls: np.ndarray,
             draws: dict) -> tuple[np.ndarray, np.ndarray]:
    """(baseline incl. weather, media per channel) in USD for every draw, [S, T] and [S, T, C], from
    LightweightMMM's own model run forward (``numpyro.infer.Predictive``) from day 0 on the tenant's total
    spend [T, C] and geo-averaged weather [T, W] (``MMMInputs.totals``)."""
    models = _patch()
    from numpyro.infer import Predictive

    x = fit.inputs
    out = Predictive(models.media_mix_model, posterior_samples={k: jnp.asarray(v) for k, v in draws.items()},
                     return_sites=["mu", "media_transformed"])(
        jax.random.PRNGKey(0), media_data=jnp.asarray(spend / x.spend_scale.sum(0)), target_data=None,
        extra_features=jnp.asarray(_extra_features(controls, weather)), media_prior=jnp.asarray(_media_prior(x)),
        degrees_seasonality=DEGREES_SEASONALITY, frequency=FREQUENCY,
        transform_function=models.transform_hill_adstock, weekday_seasonality=True, custom_priors={})
    media = np.asarray(out["media_transformed"], dtype=float) * draws["coef_media"][:, None, :]
    base = np.asarray(out["mu"], dtype=float) - media.sum(-1)
    return base * x.revenue_scale.sum(), media * x.revenue_scale.sum()
