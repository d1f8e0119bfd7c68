"""Bayesian marketing-mix model with weather (NumPyro, NUTS): one model per tenant on its daily totals.

Expected revenue on day t (USD, divided by the mean training revenue inside the model):

    mu(t) = C(t) * (exp(a) * W(t) + sum_c beta_c * hill_c(adstock_c(t)) * W(t) ** alpha_c)

* the calendar ``C(t) = exp(controls(t) . b)`` scales all demand, media-driven included (weekdays, seasons
  and holidays shape when people buy, whatever brought them). Measured: with the calendar on the baseline
  only, a large media term that shrank the baseline also widened the posterior of the ~40 calendar
  coefficients, and that volume won the posterior (meta ROAS 13.1 against a true 3.22 on layerup_apparel,
  with a lower joint density than the truth's region); with ``C`` on all demand it is 4.9 [2.1, 8.6]. Controls:
  trend, yearly Fourier (3 harmonics), weekday, one flag
  per named holiday (Christmas Day and Black Friday move demand in opposite directions, and channels such
  as email go dark on holidays, so a shared holiday flag would hand the holidays' dips to media), gift season, paydays, month end, promotion depth and its 7-day hangover;
* weather ``W(t) = exp(sum_s gamma_s f_s(t) + gamma_rc f_precip(t) f_hdd(t))`` acts on demand
  multiplicatively (weather scales how many people want the product; an additive term on a multiplicative
  world overstates the weather share, see ``docs/field.md``). For each signal s (heating and cooling degree
  days, precipitation, snowfall) ``x_s`` is its lag-weighted value over the day and the 3 before (geometric
  weights, decay ~ Beta(2, 2)), and ``f_s = (1 - exp(-x_s / k_s)) / (1 - exp(-1 / k_s))`` a saturating
  response (extremes add less and less) with its scale ``k_s ~ LogNormal(0, 0.7)`` in units of the signal's
  typical non-zero training value; ``f_s`` is 1 at that typical value, so ``gamma_s ~ Normal(0, 0.5)`` is
  the log-multiplier of demand on a typical hot, cold, rainy or snowy day, and ``gamma_rc ~ Normal(0, 0.3)``
  the extra effect of rain on a cold day;
* media: geometric adstock (decay ~ Beta(2, 2), lags 0-12, weights normalised) then Hill saturation
  (half-saturation relative to the channel's mean spend ~ LogNormal(0, 0.6); slope ~ LogNormal(log 1.5,
  0.4), so S-shaped curves are allowed) (Jin et al. 2017, Google); effects are non-negative;
* the per-channel weather amplification ``alpha_c ~ Normal(0.5, 0.5)`` lets weather lift a channel's
  response more (Meta) or less (Email) than demand;
* the prior is stated on ROAS, as a marketer would: ``roas_c ~ LogNormal(log 2, 0.6)`` (median 2, 90 %
  between 0.75 and 5.4), turned into ``beta_c`` by the channel's training spend and saturation, so the
  prior scales with each channel's spend (the lesson of the field table: spend-scaled priors cut ROAS
  error from 207 % to 45 %);
* likelihood: log-normal, ``log y ~ Normal(log mu - s^2/2, s)``, so that ``mu`` is the mean: daily revenue
  is a count of orders times prices, its noise grows with the level, and it is never negative.

Effects are the ground truth's counterfactuals (``weather_mmm.simulation.truth``): ROAS over the whole
calendar is the revenue lost when the channel's spend is set to zero (its carryover past the end
included), over the spend; marginal ROAS the same for a 1 % increase; weather-driven revenue is expected
revenue minus expected revenue under day-of-year normal weather with the same spend.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import numpyro  # noqa: E402
import numpyro.distributions as dist  # noqa: E402
import polars as pl  # noqa: E402
from numpyro.diagnostics import effective_sample_size, split_gelman_rubin  # noqa: E402
from numpyro.infer import MCMC, NUTS, init_to_median  # noqa: E402

from weather_mmm.features.build import holiday_events  # noqa: E402
from weather_mmm.models.validation import metrics, time_split  # noqa: E402

#: Bumped whenever the model changes what it estimates; stored with every fit and used as Dagster code version.
CODE_VERSION = "mmm-5"
MAX_LAG = 12
HARMONICS = 3
WEATHER_SIGNALS = ("hdd", "cdd", "precip", "snow")
WEATHER_LAGS = 4  # the day and the 3 before
#: Model weather input -> feature column, signal-major: hdd, hdd_lag1, ..., snow_lag3.
WEATHER_INPUTS = {(f"{s}_lag{k}" if k else s): (f"{s}_lag{k}" if k else s) for s in WEATHER_SIGNALS for k in range(WEATHER_LAGS)}
CONTROLS = ["trend", *[f"{fn}{k}" for k in range(1, HARMONICS + 1) for fn in ("sin", "cos")],
            *[f"weekday_{d}" for d in range(1, 7)], "gift_season", "payday", "month_end", "promo_depth",
            "promo_depth_7d"]  # plus one flag per named holiday (features.build.holiday_events)
ROAS_PRIOR = (np.log(2.0), 0.6)
#: Sites whose posterior is strongly correlated (baseline level against media, ROAS against the Hill curve),
#: for an optional dense mass matrix (numpyro ``dense_mass`` blocks). Off by default: over the 23 tenants it
#: fixed coolbreeze_hvac (R-hat 1.086 -> 1.002) but left hammerline_home stuck (R-hat 1.77), 10 fits
#: converged against 11 with the diagonal (bench/mmm.py, 500 + 1000 draws).
DENSE_BLOCK = ("intercept", "roas_prior_scale", "half_saturation", "slope", "alpha")
INTERVAL = (5.0, 95.0)


@dataclass(frozen=True)
class MMMSettings:
    """Sampler settings. ``chains`` run in parallel on separate CPU cores when the host has them.

    ``engine``: ``numpyro`` (this module's model) or ``lightweight_mmm`` (the reference,
    :mod:`weather_mmm.models.lightweight`), both fitted and scored through the same functions.
    """

    warmup: int = 500  # with 1000 draws: ~29 s median per tenant on 2 cores (bench/mmm.py, 23 tenants)
    draws: int = 1000
    chains: int = 2
    seed: int = 0
    target_accept: float = 0.9
    dense_mass: bool = False  # True: a dense mass matrix over DENSE_BLOCK (see there), diagonal elsewhere
    engine: str = "numpyro"

    def __post_init__(self):
        if self.engine not in ENGINES:
            raise ValueError(f"unknown MMM engine {self.engine!r}; one of {ENGINES}")


ENGINES = ("numpyro", "lightweight_mmm")


@dataclass
class MMMInputs:
    """Arrays of one tenant (T days, C channels); built by :func:`prepare`."""

    dates: list
    channels: list[str]
    revenue: np.ndarray  # [T] USD
    spend: np.ndarray  # [T, C] USD
    controls: np.ndarray  # [T, K] standardised on training days
    weather: np.ndarray  # [T, W] signals x lags 0-3 (WEATHER_INPUTS), each over its typical training value
    weather_normal: np.ndarray  # [T, W] the same inputs under normal weather, same scaling
    spend_scale: np.ndarray  # [C] mean training spend, USD/day
    weather_center: np.ndarray  # [W] zeros (kept so stored fits say how inputs were scaled)
    weather_scale: np.ndarray  # [W] typical non-zero training value of the input's signal (°C·day, mm, cm)
    revenue_scale: float  # mean training revenue, USD/day
    train: np.ndarray
    holdout: np.ndarray


def _weather_block(frame: pl.DataFrame) -> np.ndarray:
    return np.column_stack([np.maximum(frame[column].fill_null(strategy="backward").fill_null(0.0).to_numpy().astype(float), 0.0)
                            for column in WEATHER_INPUTS.values()])


def model_weather(inputs: MMMInputs, frame: pl.DataFrame) -> np.ndarray:
    """The model's weather inputs [rows, W] from any frame with the feature columns of :data:`WEATHER_INPUTS`
    (observed, normal or forecast weather), scaled as in training (each signal by its typical non-zero value)."""
    return (_weather_block(frame) - inputs.weather_center) / inputs.weather_scale


def _typical(values: np.ndarray) -> float:
    positive = values[values > 0]
    return float(positive.mean()) if positive.size else 1.0


def prepare(matrix: pl.DataFrame, normals: pl.DataFrame, channels: list[str], skip_days: int = 14) -> MMMInputs:
    """Model inputs from a tenant's model matrix (``features.build.model_matrix``) and its normal weather.

    Args:
        normals: one row per date with the weather feature columns of :data:`WEATHER_INPUTS` under
            day-of-year normal weather (``features.normals.normal_features``).
        skip_days: warm-up days dropped from the start (partial trailing windows).

    Raises:
        ValueError: non-positive revenue (names the date) or too few days for the time split.
    """
    frame = matrix.sort("date").slice(skip_days)
    doy = 2 * np.pi * frame["day_of_year"].to_numpy() / 365.25
    weekday = frame["weekday"].to_numpy()
    extra = {**{f"sin{k}": np.sin(k * doy) for k in range(1, HARMONICS + 1)},
             **{f"cos{k}": np.cos(k * doy) for k in range(1, HARMONICS + 1)},
             **{f"weekday_{d}": (weekday == d).astype(float) for d in range(1, 7)}}
    events = holiday_events(frame["date"].to_list())
    controls = np.column_stack([extra[c] if c in extra else frame[c].to_numpy().astype(float) for c in CONTROLS]
                               + list(events.values()))
    revenue = frame["revenue"].to_numpy().astype(float)
    if (revenue <= 0).any():
        i = int(np.argmax(revenue <= 0))
        raise ValueError(f"tenant {frame['tenant'][0]}: revenue {revenue[i]} on {frame['date'][i]}; the MMM needs positive revenue")
    split = time_split(len(revenue))
    train = split.train
    spend = np.column_stack([frame[f"spend_{c}"].fill_null(0.0).to_numpy().astype(float) for c in channels])
    weather = _weather_block(frame)
    normal = _weather_block(frame.select("date").join(normals, on="date", how="left"))
    mean = np.zeros(weather.shape[1])  # weather stays non-negative: each signal divided by its typical value
    sd = np.repeat([_typical(weather[train][:, i * WEATHER_LAGS]) for i in range(len(WEATHER_SIGNALS))], WEATHER_LAGS)
    cmean, csd = controls[train].mean(0), controls[train].std(0)
    csd = np.where(csd > 1e-9, csd, 1.0)
    return MMMInputs(
        dates=frame["date"].to_list(), channels=channels, revenue=revenue, spend=spend,
        controls=(controls - cmean) / csd, weather=(weather - mean) / sd, weather_normal=(normal - mean) / sd,
        spend_scale=np.maximum(spend[train].mean(0), 1e-9), weather_center=mean, weather_scale=sd, revenue_scale=float(revenue[train].mean()),
        train=train, holdout=split.holdout,
    )


def _lagged(spend: jnp.ndarray) -> jnp.ndarray:
    """[T, C] -> [T, L+1, C]: spend on t, t-1, ..., t-MAX_LAG (zeros before the first day)."""
    padded = jnp.concatenate([jnp.zeros((MAX_LAG, spend.shape[1])), spend], axis=0)
    return jnp.stack([padded[MAX_LAG - lag: MAX_LAG - lag + spend.shape[0]] for lag in range(MAX_LAG + 1)], axis=1)


def _media(params: dict, lagged: jnp.ndarray) -> jnp.ndarray:
    """Hill-saturated adstock per day and channel, [..., T, C] (dimensionless, 0..1)."""
    decay = params["decay"][..., None, :]  # [..., 1, C]
    w = decay ** jnp.arange(MAX_LAG + 1)[:, None]  # [..., L+1, C]
    w = w / w.sum(-2, keepdims=True)
    ad = jnp.einsum("tlc,...lc->...tc", lagged, w)
    k, n = params["half_saturation"][..., None, :], params["slope"][..., None, :]
    ad_n = jnp.power(jnp.maximum(ad, 0.0), n)
    return ad_n / (ad_n + jnp.power(k, n))


def log_weather(params: dict, weather) -> jnp.ndarray:
    """Log weather multiplier of demand, [..., T] for params with leading dims [...] (``weather_decay``,
    ``weather_scale``, ``gamma`` [..., S], ``gamma_rain_cold``) and scaled weather inputs [T, S * 4]."""
    x = jnp.asarray(weather).reshape(weather.shape[0], len(WEATHER_SIGNALS), WEATHER_LAGS)
    w = params["weather_decay"][..., :, None] ** jnp.arange(WEATHER_LAGS)  # [..., S, L]
    w = w / w.sum(-1, keepdims=True)
    lagged = jnp.einsum("tsl,...sl->...ts", x, w)
    k = params["weather_scale"][..., None, :]
    f = (1 - jnp.exp(-lagged / k)) / (1 - jnp.exp(-1 / k))
    rain_cold = f[..., WEATHER_SIGNALS.index("precip")] * f[..., WEATHER_SIGNALS.index("hdd")]
    return (f * params["gamma"][..., None, :]).sum(-1) + params["gamma_rain_cold"][..., None] * rain_cold


WEATHER_PARAMS = ("weather_decay", "weather_scale", "gamma", "gamma_rain_cold")


def _model(lagged, controls, weather, train_spend_sum, y=None):
    c_dim = lagged.shape[-1]
    params = {
        "decay": numpyro.sample("decay", dist.Beta(2.0, 2.0).expand([c_dim])),
        "half_saturation": numpyro.sample("half_saturation", dist.LogNormal(0.0, 0.6).expand([c_dim])),
        "slope": numpyro.sample("slope", dist.LogNormal(np.log(1.5), 0.4).expand([c_dim])),
    }
    roas = numpyro.sample("roas_prior_scale", dist.LogNormal(*ROAS_PRIOR).expand([c_dim]))
    hill = _media(params, lagged)
    beta = numpyro.deterministic("beta", roas * train_spend_sum / jnp.maximum(hill.sum(0), 1e-6))
    intercept = numpyro.sample("intercept", dist.Normal(-0.3, 0.5))
    b = numpyro.sample("b", dist.Normal(0.0, 0.3).expand([controls.shape[1]]))
    n_signals = len(WEATHER_SIGNALS)
    log_w = log_weather({
        "weather_decay": numpyro.sample("weather_decay", dist.Beta(2.0, 2.0).expand([n_signals])),
        "weather_scale": numpyro.sample("weather_scale", dist.LogNormal(0.0, 0.7).expand([n_signals])),
        "gamma": numpyro.sample("gamma", dist.Normal(0.0, 0.5).expand([n_signals])),
        "gamma_rain_cold": numpyro.sample("gamma_rain_cold", dist.Normal(0.0, 0.3)),
    }, weather)
    alpha = numpyro.sample("alpha", dist.Normal(0.5, 0.5).expand([c_dim]))
    mu = jnp.exp(controls @ b) * (jnp.exp(intercept + log_w) + (beta * hill * jnp.exp(alpha * log_w[:, None])).sum(-1))
    sigma = numpyro.sample("sigma", dist.HalfNormal(0.3))
    numpyro.sample("y", dist.Normal(jnp.log(mu) - sigma ** 2 / 2, sigma), obs=None if y is None else jnp.log(y))


@dataclass
class MMMFit:
    """A fitted tenant: posterior draws and the inputs needed to predict and to build response curves."""

    inputs: MMMInputs
    samples: dict  # site -> array [chains, draws, ...]
    settings: MMMSettings
    fit_seconds: float
    divergences: int

    def flat(self) -> dict:
        return {k: v.reshape((-1,) + v.shape[2:]) for k, v in self.samples.items()}


def fit_mmm(inputs: MMMInputs, settings: MMMSettings = MMMSettings()) -> MMMFit:
    """NUTS on the training days with ``settings.engine``. Chains run in parallel when JAX sees as many CPU
    devices as chains."""
    if settings.engine == "lightweight_mmm":
        from weather_mmm.models import lightweight
        return lightweight.fit(inputs, settings)
    train = inputs.train
    spend = inputs.spend / inputs.spend_scale
    lagged = _lagged(jnp.asarray(spend))[train]
    y = inputs.revenue[train] / inputs.revenue_scale
    spend_sum = jnp.asarray((inputs.spend[train] / inputs.revenue_scale).sum(0))
    method = "parallel" if jax.local_device_count() >= settings.chains else "sequential"
    mcmc = MCMC(NUTS(_model, target_accept_prob=settings.target_accept, init_strategy=init_to_median, dense_mass=[DENSE_BLOCK] if settings.dense_mass else False), num_warmup=settings.warmup,
                num_samples=settings.draws, num_chains=settings.chains, chain_method=method, progress_bar=False)
    t0 = time.perf_counter()
    mcmc.run(jax.random.PRNGKey(settings.seed), lagged, jnp.asarray(inputs.controls[train]),
             jnp.asarray(inputs.weather[train]), spend_sum, y=jnp.asarray(y), extra_fields=("diverging",))
    samples = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
    elapsed = time.perf_counter() - t0
    divergences = int(np.asarray(mcmc.get_extra_fields()["diverging"]).sum())
    return MMMFit(inputs, samples, settings, elapsed, divergences)


def _expected(fit: MMMFit, spend: np.ndarray, weather: np.ndarray, controls: np.ndarray,
              draws: dict) -> tuple[np.ndarray, np.ndarray]:
    """(baseline x weather, media per channel) in USD for every draw: [S, T] and [S, T, C]."""
    if fit.settings.engine == "lightweight_mmm":
        from weather_mmm.models import lightweight
        return lightweight.expected(fit, spend, weather, controls, draws)
    x = fit.inputs
    lagged = _lagged(jnp.asarray(spend / x.spend_scale))
    hill = np.asarray(_media({k: jnp.asarray(draws[k]) for k in ("decay", "half_saturation", "slope")}, lagged))
    log_w = np.asarray(log_weather({k: jnp.asarray(draws[k]) for k in WEATHER_PARAMS}, weather), dtype=float)  # [S, T]
    calendar = np.exp((controls @ draws["b"].T).T)  # [S, T]
    base = calendar * np.exp(draws["intercept"][:, None] + log_w)
    media = calendar[:, :, None] * draws["beta"][:, None, :] * hill * np.exp(draws["alpha"][:, None, :] * log_w[:, :, None])
    return base * x.revenue_scale, media * x.revenue_scale


def _interval(values: np.ndarray) -> dict:
    lo, hi = np.percentile(values, INTERVAL)
    return {"mean": float(values.mean()), "lo90": float(lo), "hi90": float(hi)}


def effects(fit: MMMFit) -> dict:
    """Posterior effects over the whole calendar, each with its 90 % interval.

    ``MAX_LAG`` days of zero spend are appended (repeating the last day's controls, under normal weather) so
    that ROAS counts the carryover past the calendar's end, as the ground truth does.

    Returns a dict: ``roas`` and ``mroas`` (channel -> mean, lo90, hi90; USD of revenue per USD of spend),
    ``weather_share`` (share of expected revenue), ``weather_revenue`` (USD), ``ess`` (bulk ESS of each
    channel's ROAS and of the weather share) and ``roas_prior`` (the prior's median ROAS).
    """
    x, draws, chains = fit.inputs, fit.flat(), fit.settings.chains
    n_days = len(x.dates)

    def pad(a: np.ndarray, tail: np.ndarray) -> np.ndarray:
        return np.vstack([a, np.repeat(tail[-1:], MAX_LAG, 0)])

    spend = np.vstack([x.spend, np.zeros((MAX_LAG, len(x.channels)))])
    weather, normal = pad(x.weather, x.weather_normal), pad(x.weather_normal, x.weather_normal)
    controls = pad(x.controls, x.controls)

    def total(s: np.ndarray, w: np.ndarray) -> np.ndarray:
        base, media = _expected(fit, s, w, controls, draws)
        return base + media.sum(-1)

    actual = total(spend, weather)
    roas, mroas, ess = {}, {}, {}
    for i, c in enumerate(x.channels):
        spent = max(x.spend[:, i].sum(), 1e-9)
        off, up = spend.copy(), spend.copy()
        off[:, i] = 0.0
        up[:n_days, i] *= 1.01
        r = (actual - total(off, weather)).sum(1) / spent
        roas[c] = _interval(r)
        mroas[c] = _interval((total(up, weather) - actual).sum(1) / (0.01 * spent))
        ess[f"roas_{c}"] = float(effective_sample_size(r.reshape(chains, -1)))
    driven = (actual - total(spend, normal))[:, :n_days].sum(1)
    share = driven / actual[:, :n_days].sum(1)
    ess["weather_share"] = float(effective_sample_size(share.reshape(chains, -1)))
    return {"roas": roas, "mroas": mroas, "weather_share": _interval(share), "weather_revenue": _interval(driven),
            "ess": ess, "roas_prior": float(np.exp(ROAS_PRIOR[0]))}


def effects_table(e: dict) -> pl.DataFrame:
    """:func:`effects` as rows: kind (roas | mroas | weather_share), key (channel or ``all``), mean, lo90, hi90,
    ess (ROAS and weather share only), prior (the prior's median ROAS, ROAS rows only)."""
    rows = [{"kind": kind, "key": c, **v, "ess": e["ess"][f"roas_{c}"] if kind == "roas" else None,
             "prior": e["roas_prior"] if kind == "roas" else None}
            for kind in ("roas", "mroas") for c, v in e[kind].items()]
    rows.append({"kind": "weather_share", "key": "all", **e["weather_share"], "ess": e["ess"]["weather_share"], "prior": None})
    return pl.DataFrame(rows, schema={"kind": pl.Utf8, "key": pl.Utf8, "mean": pl.Float64, "lo90": pl.Float64,
                                      "hi90": pl.Float64, "ess": pl.Float64, "prior": pl.Float64})


def decomposition(fit: MMMFit) -> pl.DataFrame:
    """Posterior-mean daily decomposition (USD): baseline (under normal weather), weather, and each channel
    (under normal weather); the components add up to the expected revenue. Columns: date, component, revenue."""
    x, draws = fit.inputs, fit.flat()
    base, media = _expected(fit, x.spend, x.weather, x.controls, draws)
    base_n, media_n = _expected(fit, x.spend, x.weather_normal, x.controls, draws)
    weather = (base + media.sum(-1)) - (base_n + media_n.sum(-1))
    parts = {"baseline": base_n.mean(0), "weather": weather.mean(0),
             **{f"channel:{c}": media_n[:, :, i].mean(0) for i, c in enumerate(x.channels)}}
    return pl.concat([pl.DataFrame({"date": x.dates, "component": name, "revenue": values})
                      for name, values in parts.items()])


def recent_calendar(fit: MMMFit, days: int = 28) -> np.ndarray:
    """[S] per draw: the mean calendar multiplier ``C(t)`` over the last ``days`` model days (trend and season
    as they stand now), which scales media revenue in response curves and allocations."""
    draws = fit.flat()
    return np.exp(fit.inputs.controls[-days:] @ draws["b"].T).mean(0)


def curves(fit: MMMFit, points: int = 41) -> pl.DataFrame:
    """Posterior curves with 90 % intervals, one row per curve point. Columns: kind, key, x, mean, lo90, hi90.

    * ``response`` (key = channel): x = steady daily spend (USD/day, 0 to 2.5 x the mean training spend), y =
      incremental revenue per day (USD/day) once carryover has built up, under normal weather and the
      calendar of the last 28 days (:func:`recent_calendar`);
    * ``adstock`` (key = channel): x = lag (days, 0..MAX_LAG), y = share of a day's spend acting that day;
    * ``weather`` (key = hdd | cdd | precip | snow): x = the signal held on the day and the 3 before (°C·day,
      mm or cm; 0 to 2.5 x its typical non-zero value), y = the multiplier of demand (1 = no effect).

    For ``lightweight_mmm`` fits the response and adstock curves come from its own parameters (its geometric
    adstock truncated at ``MAX_LAG`` days, no calendar scaling) and there are no weather curves: its weather
    terms are linear and additive, not a multiplier of demand.
    """
    x, draws = fit.inputs, fit.flat()
    rows = []
    lwmm = fit.settings.engine == "lightweight_mmm"
    if lwmm:
        draws = {**draws, "decay": draws["lag_weight"], "half_saturation": draws["half_max_effective_concentration"],
                 "beta": draws["coef_media"]}

    def add(kind, key, grid, values):
        lo, hi = np.percentile(values, INTERVAL, axis=0)
        rows.extend({"kind": kind, "key": key, "x": float(g), "mean": float(m), "lo90": float(a), "hi90": float(b)}
                    for g, m, a, b in zip(grid, values.mean(0), lo, hi))

    rel = np.linspace(0.0, 2.5, points)
    calendar = 1.0 if lwmm else recent_calendar(fit)[:, None]
    for i, c in enumerate(x.channels):
        k, n = draws["half_saturation"][:, i:i + 1], draws["slope"][:, i:i + 1]
        hill = rel ** n / (rel ** n + k ** n)  # steady spend: adstock equals spend (weights sum to 1)
        add("response", c, rel * x.spend_scale[i], calendar * draws["beta"][:, i:i + 1] * hill * x.revenue_scale)
        w = draws["decay"][:, i:i + 1] ** np.arange(MAX_LAG + 1)
        add("adstock", c, np.arange(MAX_LAG + 1), w / w.sum(1, keepdims=True))
    params = {} if lwmm else {k: jnp.asarray(draws[k]) for k in WEATHER_PARAMS}
    for j, signal in enumerate(() if lwmm else WEATHER_SIGNALS):
        held = np.zeros((points, len(WEATHER_INPUTS)))
        held[:, j * WEATHER_LAGS:(j + 1) * WEATHER_LAGS] = rel[:, None]
        multiplier = np.exp(np.asarray(log_weather(params, held), dtype=float))
        add("weather", signal, rel * x.weather_scale[j * WEATHER_LAGS], multiplier)
    return pl.DataFrame(rows)


def holdout_scores(fit: MMMFit, rng_seed: int = 0) -> dict:
    """Holdout R², MAPE etc. of the posterior-mean expected revenue, and the share of holdout days whose
    actual revenue lies inside the 90 % posterior predictive interval."""
    x, draws = fit.inputs, fit.flat()
    base, media = _expected(fit, x.spend, x.weather, x.controls, draws)
    mu = (base + media.sum(-1))[:, x.holdout]
    sigma = draws["sigma"].reshape(-1, 1)
    rng = np.random.default_rng(rng_seed)
    if fit.settings.engine == "lightweight_mmm":  # Normal noise on revenue over its training mean
        predictive = mu + rng.normal(0.0, sigma * x.revenue_scale, mu.shape)
    else:
        predictive = mu * np.exp(rng.normal(-sigma ** 2 / 2, sigma, mu.shape))
    lo, hi = np.percentile(predictive, INTERVAL, axis=0)
    actual = x.revenue[x.holdout]
    return {**metrics(actual, mu.mean(0)), "coverage90": float(((actual >= lo) & (actual <= hi)).mean())}


def diagnostics(fit: MMMFit) -> dict:
    """Max split R-hat and min bulk ESS over the sampled parameters, divergences and their share of draws,
    fit time (s)."""
    sites = [k for k in fit.samples if k != "beta"]
    rhat = max(float(np.nanmax(split_gelman_rubin(fit.samples[k]))) for k in sites)
    ess = min(float(np.nanmin(effective_sample_size(fit.samples[k]))) for k in sites)
    n = fit.settings.chains * fit.settings.draws
    return {"max_rhat": rhat, "min_ess": ess, "divergences": fit.divergences, "divergent_share": fit.divergences / n,
            "fit_seconds": fit.fit_seconds, "draws": n}
