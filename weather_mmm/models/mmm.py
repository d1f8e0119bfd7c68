"""Bayesian marketing-mix model with weather (NumPyro, NUTS): one model per tenant, fitted on its geos' daily
revenue with partial pooling across geos (a single-geo tenant is the special case G = 1).

Expected revenue in geo g on day t (USD, divided by the geo's mean training revenue inside the model):

    mu(g, t) = C(t) * (exp(a_g) * W_g(t) + sum_c beta_gc * hill_c(adstock_c(g, t)) * W_g(t) ** alpha_c)

* geos share the calendar, the shape of every curve (adstock, Hill saturation relative to the geo's own mean
  spend, weather responses) and the weather amplification; each geo has its own baseline and noise, and its
  own ROAS drawn around the channel's: ``roas_gc = roas_c * exp(0.2 * z_gc)``, ``z ~ N(0, 1)`` (partial
  pooling at a stated spread, ``ROAS_GEO_SD``, rather than a learned one: see there). Measured by fitting simulated expected revenue
  (no noise, 400 + 400 draws): fitted on tenant totals, the sum of saturating curves of geos with different spend and
  weather biased ROAS by 17 % (median, 3 multi-geo tenants; Meta 4.96 against a true 0.58 on streamly_media);
  per geo the error was 5 %, and each geo's weather acts through its own city's degree days, not an average
  of Phoenix and Chicago;
* the baseline is what media leaves of the geo's level of demand: ``a_g = l_g - m_g``, with ``l_g ~ N(l, 0.2)``
  (``l ~ N(0, 0.3)``, near 0 because each geo's revenue is over its own mean; centred, because the data pin
  each geo's level and would otherwise leave ``l`` and the geo departures on a ridge) the log of
  baseline plus media revenue per training day, and ``m_g = sum_c roas_gc * spend_gc / days / exp(l_g)`` the
  channels' share of it (``log(1 - m_g)`` to first order, without its pole at ``m_g = 1``);
  ``a_g ~ N(-0.3, 0.5)`` stays as a prior on the baseline. The data pin the level, so more media and less
  baseline lie along the ROAS axes instead of on a ridge between ROAS and an intercept that NUTS has to cross
  with short steps. Measured (``mmm-7`` sampled ``a_g`` directly; 500 + 1000 draws,
  2 chains): pageturner_books 31-34 leapfrog steps per draw against 109-116; mainstreet_general R-hat 1.003 in
  62 s against 1.453 in 105 s; the main job's 23 fits took 21.9 min against 25.1, and their median ROAS error
  fell from 40 % to 30 %. The prior's own ROAS, sampled with no data, keeps medians of 1.91-1.99 (stated: 2) on
  4 tenants, so that gain is not a moved prior. On pysimmmulator data 1 fit of 5 met the convergence bars
  against 2 (``bench/engines.py``). Tried on pageturner_books: the exact ``log(exp(l_g) - media)``, floored by
  a softplus, diverged near the floor (8 to 14 divergences); without the prior on ``a_g`` the chains wandered
  where media is nearly all the demand (7 divergences; 6 at target acceptance 0.95);
* the calendar ``C(t) = exp(controls(t) . b)`` scales all demand, media-driven included (weekdays, seasons
  and holidays shape when people buy, whatever brought them). Measured: with the calendar on the baseline
  only, a large media term that shrank the baseline also widened the posterior of the ~40 calendar
  coefficients, and that volume won the posterior (meta ROAS 13.1 against a true 3.22 on layerup_apparel,
  with a lower joint density than the truth's region); with ``C`` on all demand it is 4.9 [2.1, 8.6]. Controls:
  trend, yearly Fourier (3 harmonics), weekday (the weekly cycle's 3 harmonics), one flag
  per named holiday (Christmas Day and Black Friday move demand in opposite directions, and channels such
  as email go dark on holidays, so a shared holiday flag would hand the holidays' dips to media), gift season, paydays, month end, promotion depth and its 7-day hangover;
* weather ``W_g(t) = exp(sum_s gamma_s f_s(g, t) + gamma_rc f_precip f_hdd)``, over its mean on the geo's
  training days (:func:`log_weather`), acts on demand
  multiplicatively (weather scales how many people want the product; an additive term on a multiplicative
  world overstates the weather share, see ``docs/field.md``). For each signal s (heating and cooling degree
  days, precipitation, snowfall of the geo's city) ``x_s`` is its lag-weighted value over the day and the 3 before (geometric
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
  between 0.75 and 5.4) unless the tenant's team stated its own 90 % interval for the channel
  (:mod:`weather_mmm.models.priors`), turned into ``beta_gc`` by the channel's training spend and saturation in
  the geo, so the prior scales with each channel's spend (the lesson of the field table: spend-scaled priors cut
  ROAS error from 207 % to 45 %);
* likelihood: log-normal on revenue shifted by 5 % of the geo's mean, ``log(y + d) ~ N(log(mu + d) -
  v/2, v)``, so that ``mu`` is the mean: daily revenue is a count of orders times prices, its noise grows
  with the level and it is never negative; the shift admits a geo-day that sold nothing (a small geo selling
  laptops). Across geos the log residuals share a tenant-wide daily shock (a brand's news, a site outage):
  ``v = diag(s_g^2) + s^2 11'`` (in closed form, :func:`_log_likelihood`), so G geos are not counted as G
  independent observations of the same day. Measured against a Normal likelihood whose variance grows
  with the mean (count noise plus demand swings): the same ROAS on layerup_apparel, at half the speed.

Effects are the ground truth's counterfactuals (``weather_mmm.simulation.truth``): ROAS over the whole
calendar is the revenue lost when the channel's spend is set to zero (its carryover past the end
included), over the spend; marginal ROAS the same for a 1 % increase; weather-driven revenue is expected
revenue minus expected revenue under day-of-year normal weather with the same spend.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from dataclasses import dataclass, field

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import numpyro  # noqa: E402
import numpyro.distributions as dist  # noqa: E402
import polars as pl  # noqa: E402
from numpyro.diagnostics import effective_sample_size, split_gelman_rubin  # noqa: E402
from numpyro.infer import MCMC, NUTS, init_to_median  # noqa: E402

from weather_mmm.features.build import geo_model_matrix, holiday_events  # noqa: E402
from weather_mmm.features.normals import geo_normal_features  # noqa: E402
from weather_mmm.models import priors  # noqa: E402
from weather_mmm.models.mmm_quality import DIVERGENT_BAR, ESS_BAR, RHAT_BAR  # noqa: E402
from weather_mmm.models.validation import mape_point, metrics, time_split  # noqa: E402
from weather_mmm.settings import jax_cache_dir  # noqa: E402

# Compiling the NUTS kernel takes about 16 s a fit; from JAX's persistent cache it loads in about 2 s
# (measured on pulse_fitness, 2 chains). Every fit of a tenant's shape (days, geos) after the first reuses it.
# Every program is cached, not only those that take JAX's default second to compile: after each fit's
# ``jax.clear_caches()`` the effects, curves, decomposition and allocator would compile dozens of small ones again.
# Measured on pageturner_books, cache warm: ``fit_mmm`` 6.9 s against 7.9-8.3 s, what follows it 1.0 s against
# 2.4-2.5 s (88 programs, 1.8 MB of cache); the main job's allocations 0.75 min against 1.2.
jax.config.update("jax_compilation_cache_dir", str(jax_cache_dir()))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)

#: Bumped whenever the model changes what it estimates; stored with every fit and used as Dagster code version.
CODE_VERSION = "mmm-9"
MAX_LAG = 12
HARMONICS = 3
WEATHER_SIGNALS = ("hdd", "cdd", "precip", "snow")
WEATHER_LAGS = 4  # the day and the 3 before
#: Model weather input -> feature column, signal-major: hdd, hdd_lag1, ..., snow_lag3.
WEATHER_INPUTS = {(f"{s}_lag{k}" if k else s): (f"{s}_lag{k}" if k else s) for s in WEATHER_SIGNALS for k in range(WEATHER_LAGS)}
#: The weekday enters as the weekly cycle's 3 harmonics, which span every weekday contrast as 6 dummies would but
#: are orthogonal on whole weeks, so NUTS does not have to trade 6 correlated dummy coefficients against each other.
CONTROLS = ["trend", *[f"{fn}{k}" for k in range(1, HARMONICS + 1) for fn in ("sin", "cos")],
            *[f"week_{fn}{k}" for k in range(1, 4) for fn in ("sin", "cos")], "gift_season", "payday", "month_end",
            "promo_depth", "promo_depth_7d"]  # plus one flag per named holiday (features.build.holiday_events)
#: The geos' log-ROAS spread around the channel's, stated, not learned. With two to five geos a tenant the spread is
#: barely identified, and a learned one (``tau ~ HalfNormal(0.2)``, ``roas_gc = roas_c * exp(tau * z_gc)``) made a
#: funnel that NUTS crossed in short steps. Measured through :func:`fit_mmm` on the 23 main-job tenants' stored
#: inputs (bf51661's fits, one after the other, the same cache), against the learned spread with non-centred geo levels:
#: 8.7 min of fits against 16.4, every fit converged, median ROAS error 27.7 % against 27.6 % and coverage 82 % of
#: 45 tenant-channels for both. Centring the geo levels alone (11.0 min) left petpals_supply unconverged: 46
#: divergences at target acceptance 0.95, its divergent draws at a learned spread of 0.41 (mean 0.19).
ROAS_GEO_SD = 0.2
INTERVAL = (5.0, 95.0)
REVENUE_SHIFT = 0.05  # share of a geo's mean revenue added before the log: a geo-day may sell nothing
#: Sites whose posteriors lie along ridges a diagonal mass matrix crosses in short steps: the calendar ``b`` and the
#: weather terms (a hot summer and the yearly Fourier terms explain the same days), and the level against ROAS and
#: weather amplification. NUTS adapts one dense mass-matrix block for them during warmup (NumPyro's ``dense_mass``
#: as a list of site tuples; Stan's "dense_e" metric on a block). Measured through :func:`fit_mmm` with the
#: default settings, against the diagonal matrix: pysimmmulator datasets (``bench/engines.py``), seeds 0-17, 10 of
#: 18 fits met the convergence bars against 7 (seed 16: max R-hat 1.043 against 1.665; seeds 0-4: 3 of 5 against
#: 1); pageturner_books max R-hat 1.004 against 1.018 in ``bench/engines.py`` (8.7 s against 12.0 s); the main
#: job's 23 tenants converged either way, 3 fits extended against 6, 20.6 min of fits against 20.3. Which seeds
#: converge moves with the block's order (another order met the bars on seeds 0-3, not 4). The whole matrix dense
#: (about 60 parameters, 70 with geos) diverged more: 17 to 69 divergences in 2000 draws on seeds 1-2 and
#: pageturner_books. Tried at b037550 and left out: ``gamma_rain_cold`` (its posterior correlation with
#: precipitation's ``gamma`` is -0.93 on pageturner_books), which lifted the step size there from 0.12 to 0.17,
#: but through :func:`fit_mmm` on pageturner_books, pixelpro_software and pysimmmulator seeds 0-4 left 3 of 7
#: fits unconverged against 2 and took about 150 s against 124 s; ``level_geo`` as well (-0.92 with ``level_tenant``
#: on petpals_supply), which cut the leapfrog steps of hammerline_home and layerup_apparel from about 90 to 31
#: but brought up to 103 divergences in 2000 draws (petpals_supply); the geo levels are now centred instead
#: (``ROAS_GEO_SD``).
DENSE_BLOCK = ("b", "gamma", "weather_scale", "level_tenant", "roas_prior_scale", "alpha")


@dataclass(frozen=True)
class MMMSettings:
    """Sampler settings. ``chains`` run in parallel on separate CPU cores when the host has them.

    ``engine``: ``numpyro`` (this module's model) or ``lightweight_mmm`` (the reference,
    :mod:`weather_mmm.models.lightweight`, fitted on the tenant's totals), both scored through the same functions.
    """

    warmup: int = 500
    draws: int = 1000
    chains: int = 2
    seed: int = 0
    target_accept: float = 0.9
    #: NUTS trajectories of at most 2^8 leapfrog steps (NumPyro's default 2^10 is rarely needed here). Measured at
    #: 500 + 1000 draws: depth 8 against 6, petpals_supply R-hat 1.006 vs 1.045 and ROAS ESS/s 9.8 vs 3.0 (70 s vs
    #: 43 s), pageturner_books 1.008 vs 1.015 (33 s vs 23 s); depth 10 took about 3x longer than 6 on 5 geos.
    max_tree_depth: int = 8
    #: Blocks of ``draws`` more per chain that NUTS may add, continuing from its last state (same step size and
    #: mass matrix, no new warmup), while the fit misses the convergence bars (:func:`converged`). Measured
    #: on hammerline_home (R-hat 1.016, ROAS ESS 222 at 1000 draws): 1.010 and 460 after one more block; in the main
    #: job at 871dc9e, freshbox_meals had a ROAS ESS of 360 after one more block.
    extensions: int = 2
    #: A fit whose divergent transitions exceed their bar is sampled again once, from a new warmup, at this target
    #: acceptance (smaller steps: Stan's advice for divergences, "raise adapt_delta"); None: never. Measured on
    #: petpals_supply with its lift tests: at 0.9, R-hat 1.016 and 0.60 % divergences in the main job; retried at
    #: 0.95 in the main job, R-hat 1.010 and 2 divergences in 2000 draws; both runs together took 100 s.
    divergence_retry_accept: float | None = 0.95
    #: Adapt one dense block of the mass matrix for :data:`DENSE_BLOCK` (the rest stays diagonal); False: all diagonal.
    dense_block: bool = True
    engine: str = "numpyro"

    def __post_init__(self):
        if self.engine not in ENGINES:
            raise ValueError(f"unknown MMM engine {self.engine!r}; one of {ENGINES}")


ENGINES = ("numpyro", "lightweight_mmm")


@dataclass
class MMMInputs:
    """Arrays of one tenant (T days, G geos, C channels, W weather inputs); built by :func:`prepare`."""

    dates: list
    channels: list[str]
    geos: list[str]
    revenue: np.ndarray  # [T, G] USD
    spend: np.ndarray  # [T, G, C] USD
    controls: np.ndarray  # [T, K] standardised on training days
    weather: np.ndarray  # [T, G, W] signals x lags 0-3 (WEATHER_INPUTS) of the geo's city, over the typical value
    weather_normal: np.ndarray  # [T, G, W] the same inputs under the city's normal weather, same scaling
    spend_scale: np.ndarray  # [G, C] mean training spend, USD/day
    weather_center: np.ndarray  # [W] zeros (kept so stored fits say how inputs were scaled)
    weather_scale: np.ndarray  # [W] typical non-zero training value of the input's signal over all geos (°C·day, mm, cm)
    revenue_scale: np.ndarray  # [G] mean training revenue, USD/day
    train: np.ndarray
    holdout: np.ndarray
    #: Lift-test readouts the fit is calibrated with (``tenant_experiments`` rows as dicts: experiment, channel,
    #: geo, start, end, spend, lift, lift_se; dates as ``datetime.date``, USD); empty: not calibrated.
    lift_tests: tuple = ()
    #: Lift tests left out, each with the reason (it did not end by the last training day).
    lift_tests_unused: tuple = ()
    #: [C, 2] the prior on each channel's ROAS, log-normal: (log median, log-scale sd); None: the default for every
    #: channel (``priors.DEFAULT_ROAS_PRIOR``). :func:`with_roas_priors` sets the ones a marketer stated.
    roas_prior: np.ndarray | None = None
    #: Channels whose ROAS prior was stated (``weather_mmm.models.priors``), not the default.
    roas_prior_stated: tuple = ()

    def __post_init__(self):
        if self.roas_prior is None:
            self.roas_prior = priors.roas_prior(self.channels, {}, "")

    def geo_weights(self) -> np.ndarray:
        """[G] each geo's share of training revenue."""
        return self.revenue_scale / self.revenue_scale.sum()

    def totals(self, spend: np.ndarray, weather: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tenant-level views of geo arrays: spend [T, G, C] summed over geos, weather [T, G, W] averaged with
        :meth:`geo_weights` (the tenant-total engine's inputs)."""
        return spend.sum(1), np.einsum("tgw,g->tw", weather, self.geo_weights())


def _weather_block(frame: pl.DataFrame) -> np.ndarray:
    return np.column_stack([np.maximum(frame[column].fill_null(strategy="backward").fill_null(0.0).to_numpy().astype(float), 0.0)
                            for column in WEATHER_INPUTS.values()])


def model_weather(inputs: MMMInputs, frames: dict[str, pl.DataFrame]) -> np.ndarray:
    """The model's weather inputs [rows, G, W] from one frame per geo (city -> frame with the feature columns
    of :data:`WEATHER_INPUTS`, the same dates in each: observed, normal or forecast weather), scaled as in
    training.

    Raises:
        KeyError: a geo of the fit has no frame (names it).
    """
    missing = [g for g in inputs.geos if g not in frames]
    if missing:
        raise KeyError(f"no weather for geo {missing[0]!r}; the fit has geos {', '.join(inputs.geos)}")
    return np.stack([(_weather_block(frames[g]) - inputs.weather_center) / inputs.weather_scale for g in inputs.geos], 1)


def _typical(values: np.ndarray) -> float:
    positive = values[values > 0]
    return float(positive.mean()) if positive.size else 1.0


def prepare(frame: pl.DataFrame, normals: pl.DataFrame, channels: list[str], skip_days: int = 14) -> MMMInputs:
    """Model inputs from a tenant's geo model matrix (:func:`weather_mmm.features.build.geo_model_matrix`: one
    row per date and geo) and its geos' normal weather.

    Args:
        normals: one row per date and geo with the weather feature columns of :data:`WEATHER_INPUTS` under
            the city's day-of-year normal weather (``features.normals.geo_normal_features``).
        skip_days: warm-up days dropped from the start (partial trailing windows).

    Raises:
        ValueError: negative or missing revenue (names the geo and date), geos with different days, or too few days
            for the time split.
    """
    frame = frame.sort("geo", "date")
    geos = frame["geo"].unique(maintain_order=True).to_list()
    per_geo = [frame.filter(pl.col("geo") == g).slice(skip_days) for g in geos]
    dates = per_geo[0]["date"].to_list()
    for g, part in zip(geos, per_geo):
        if part["date"].to_list() != dates:
            raise ValueError(f"tenant {frame['tenant'][0]}: geo {g} has {part.height} days from {part['date'].min()}, "
                             f"geo {geos[0]} {len(dates)} from {dates[0]}; every geo needs the same days")
    calendar = pl.concat(per_geo).group_by("date").agg(pl.col("promo_depth", "promo_depth_7d").mean()).sort("date")
    first = per_geo[0].with_columns(promo_depth=calendar["promo_depth"], promo_depth_7d=calendar["promo_depth_7d"])
    doy = 2 * np.pi * first["day_of_year"].to_numpy() / 365.25
    week = 2 * np.pi * first["weekday"].to_numpy() / 7
    extra = {**{f"sin{k}": np.sin(k * doy) for k in range(1, HARMONICS + 1)},
             **{f"cos{k}": np.cos(k * doy) for k in range(1, HARMONICS + 1)},
             **{f"week_sin{k}": np.sin(k * week) for k in range(1, 4)},
             **{f"week_cos{k}": np.cos(k * week) for k in range(1, 4)}}
    events = holiday_events(dates)
    controls = np.column_stack([extra[c] if c in extra else first[c].to_numpy().astype(float) for c in CONTROLS]
                               + list(events.values()))
    revenue = np.column_stack([part["revenue"].fill_null(-1.0).to_numpy().astype(float) for part in per_geo])
    if (revenue < 0).any():
        t, g = np.argwhere(revenue < 0)[0]
        raise ValueError(f"tenant {frame['tenant'][0]}: revenue {'missing' if revenue[t, g] == -1 else revenue[t, g]} "
                         f"in {geos[g]} on {dates[t]}; the MMM needs revenue of at least 0 every day in every geo")
    split = time_split(len(dates))
    train = split.train
    spend = np.stack([np.column_stack([part[f"spend_{c}"].fill_null(0.0).to_numpy().astype(float) for c in channels])
                      for part in per_geo], 1)
    weather = np.stack([_weather_block(part) for part in per_geo], 1)
    normal = np.stack([_weather_block(part.select("date").join(normals.filter(pl.col("geo") == g), on="date", how="left"))
                       for g, part in zip(geos, per_geo)], 1)
    mean = np.zeros(weather.shape[2])  # weather stays non-negative: each signal divided by its typical value
    sd = np.repeat([_typical(weather[train][:, :, i * WEATHER_LAGS]) for i in range(len(WEATHER_SIGNALS))], WEATHER_LAGS)
    cmean, csd = controls[train].mean(0), controls[train].std(0)
    csd = np.where(csd > 1e-9, csd, 1.0)
    return MMMInputs(
        dates=dates, channels=channels, geos=geos, revenue=revenue, spend=spend,
        controls=(controls - cmean) / csd, weather=(weather - mean) / sd, weather_normal=(normal - mean) / sd,
        spend_scale=np.maximum(spend[train].mean(0), 1e-9), weather_center=mean, weather_scale=sd,
        revenue_scale=revenue[train].mean(0), train=train, holdout=split.holdout,
    )


def tenant_inputs(tenant: str, sales: pl.DataFrame, spend: pl.DataFrame, weather: pl.DataFrame, geos: dict[str, float],
                  channels: list[str], climatology: dict, experiments: pl.DataFrame | None = None) -> MMMInputs:
    """:func:`prepare` from a tenant's stored tables: ``tenant_sales`` and ``tenant_spend`` rows (date x geo),
    ``weather_daily`` rows of its cities, its geos and channels, the cities' climatology, and its lift tests
    (``tenant_experiments`` rows, :func:`with_lift_tests`). Raises as :func:`prepare`, :func:`with_lift_tests`
    and ``features.build.geo_model_matrix``."""
    frame = geo_model_matrix(tenant, sales, spend, weather, geos, channels)
    inputs = prepare(frame, geo_normal_features(geos, climatology, frame["date"].unique().sort().to_list()), channels)
    return with_lift_tests(inputs, experiments) if experiments is not None and experiments.height else inputs


def with_roas_priors(inputs: MMMInputs, stated: dict[str, tuple[float, float]], where: str) -> MMMInputs:
    """``inputs`` with the ROAS priors a marketer stated: channel -> 90 % interval (low, high) of its ROAS, each
    turned into the log-normal with that central interval (``priors.roas_prior``); other channels keep the default.

    Raises:
        PriorsError: a stated channel the tenant does not advertise on (``where``, which names the file and
            tenant, starts the message).
    """
    return dataclasses.replace(inputs, roas_prior=priors.roas_prior(inputs.channels, stated, where),
                               roas_prior_stated=tuple(c for c in inputs.channels if c in stated))


def with_lift_tests(inputs: MMMInputs, experiments: pl.DataFrame) -> MMMInputs:
    """``inputs`` calibrated with lift tests: one row per test with the columns of
    ``simulation.contract.EXPERIMENT_UNITS`` (channel, geo, start, end, spend USD, lift USD, lift_se USD).
    A test that does not end by the last training day is left out (``lift_tests_unused`` says so): the model
    is fitted on training days only, and the holdout must stay unseen.

    Raises:
        ValueError: a test names a channel or geo the tenant does not have, starts before the first model day,
            has no spend on the channel in the geo, or a standard error that is not positive (names the
            experiment).
    """
    train_days = [inputs.dates[i] for i in inputs.train]
    tests, unused = [], []
    for row in experiments.sort("start").iter_rows(named=True):
        name = row.get("experiment") or f"{row['channel']} in {row['geo']} from {row['start']}"
        if row["end"] > train_days[-1]:
            unused.append(f"lift test {name} ends on {row['end']}, after the last training day {train_days[-1]}")
            continue
        where = (f"lift test {name}: channel {row['channel']!r} is not one of {inputs.channels}" if row["channel"] not in inputs.channels
                 else f"lift test {name}: geo {row['geo']!r} is not one of {inputs.geos}" if row["geo"] not in inputs.geos
                 else f"lift test {name}: starts on {row['start']}, before the first model day {train_days[0]}"
                 if not train_days[0] <= row["start"] <= row["end"]
                 else f"lift test {name}: standard error {row['lift_se']} USD is not positive" if not row["lift_se"] > 0
                 else None)
        if where is None:
            s, e = inputs.dates.index(row["start"]), inputs.dates.index(row["end"])
            g, c = inputs.geos.index(row["geo"]), inputs.channels.index(row["channel"])
            if inputs.spend[s:e + 1, g, c].sum() <= 0:
                where = f"lift test {name}: no {row['channel']} spend in {row['geo']} during the test"
        if where:
            raise ValueError(where)
        tests.append({k: row[k] for k in ("channel", "geo", "start", "end", "spend", "lift", "lift_se")} | {"experiment": name})
    return dataclasses.replace(inputs, lift_tests=tuple(tests), lift_tests_unused=tuple(unused))


def _lift_test_arrays(inputs: MMMInputs, train_days: int) -> dict | None:
    """The model's view of ``inputs.lift_tests`` (E tests, D = the longest test plus MAX_LAG days of carryover,
    cut at the last training day): ``days`` [E, D] day indices, ``mask`` [E, D], ``geo`` [E],
    ``lagged_off`` [C, L+1, D, E] each test's geo's lagged spend (over its mean) with the channel off during
    the test, ``lift`` and ``se`` [E] over the geo's mean revenue; ``None`` without tests."""
    if not inputs.lift_tests:
        return None
    spans = [(inputs.dates.index(t["start"]), inputs.dates.index(t["end"])) for t in inputs.lift_tests]
    width = max(min(e + MAX_LAG, train_days - 1) - s + 1 for s, e in spans)
    days, mask, lagged_off, geo, lift, se = [], [], [], [], [], []
    for t, (s, e) in zip(inputs.lift_tests, spans):
        g, c = inputs.geos.index(t["geo"]), inputs.channels.index(t["channel"])
        off = inputs.spend.copy()
        off[s:e + 1, g, c] = 0.0
        d = np.minimum(np.arange(s, s + width), train_days - 1)
        days.append(d)
        mask.append((np.arange(s, s + width) <= min(e + MAX_LAG, train_days - 1)).astype(float))
        lagged_off.append(np.asarray(_lagged(jnp.asarray(off[:train_days] / inputs.spend_scale)))[:, :, d, g])
        geo.append(g)
        lift.append(t["lift"] / inputs.revenue_scale[g])
        se.append(t["lift_se"] / inputs.revenue_scale[g])
    return {"days": np.array(days), "mask": np.array(mask), "geo": np.array(geo), "lagged_off": np.stack(lagged_off, -1),
            "lift": np.array(lift), "se": np.array(se)}


def _lagged(spend: jnp.ndarray) -> jnp.ndarray:
    """[T, G, C] -> [C, L+1, T, G]: spend on t, t-1, ..., t-MAX_LAG (zeros before the first day), channel-major.

    The model's arrays put the small parameter axes (channel, lag; weather signal, lag) before the days and geos, so
    that XLA reads each parameter's days contiguously: the gradient of a parameter sums over days and geos. With
    that, Hill saturation as a sigmoid (:func:`_media`) and the weather's lags summed slice by slice, one gradient
    of the log density (inside a compiled loop, 2 cores) took 221 µs on layerup_apparel (574 days, 5 geos) against
    455 µs with the days first, 43 µs against 73 µs on pageturner_books (1 geo); a fit of layerup_apparel (500 +
    1000 draws, its kernel loaded from the compilation cache) 44 s against 113 s."""
    padded = jnp.concatenate([jnp.zeros((MAX_LAG,) + spend.shape[1:]), spend], axis=0)
    lagged = jnp.stack([padded[MAX_LAG - lag: MAX_LAG - lag + spend.shape[0]] for lag in range(MAX_LAG + 1)])
    return jnp.moveaxis(lagged, -1, 0)


def _media(params: dict, lagged: jnp.ndarray) -> jnp.ndarray:
    """Hill-saturated adstock per channel, day and geo, [..., C, T, G] (dimensionless, 0..1), for params with
    leading dims [...] and lagged spend [C, L+1, T, G] (:func:`_lagged`) relative to each geo's mean spend.

    Hill saturation ``x^n / (x^n + k^n)`` is computed as the equal ``sigmoid(n (log x - log k))``, whose gradient
    needs no further powers (this function's gradient on layerup_apparel: 82 µs against 165 µs). ``x`` is floored
    at 1e-9: on a day with no adstock (a dark geo-day) the gradient of ``0 ** n`` in ``n`` is NaN."""
    w = params["decay"][..., :, None] ** jnp.arange(MAX_LAG + 1)  # [..., C, L+1]
    w = w / w.sum(-1, keepdims=True)
    ad = jnp.einsum("cltg,...cl->...ctg", lagged, w)
    k, n = params["half_saturation"][..., None, None], params["slope"][..., None, None]
    return jax.nn.sigmoid(n * (jnp.log(jnp.maximum(ad, 1e-9)) - jnp.log(k)))


def _weather_lags(weather) -> jnp.ndarray:
    """Scaled weather inputs [T, G, S * 4] -> [S, 4, T, G] (signal-major, as :func:`_lagged`)."""
    weather = jnp.asarray(weather)
    x = weather.reshape(weather.shape[0], weather.shape[1], len(WEATHER_SIGNALS), WEATHER_LAGS)
    return jnp.transpose(x, (2, 3, 0, 1))


def log_weather(params: dict, weather, reference=None) -> jnp.ndarray:
    """Log weather multiplier of demand, [..., T, G] for params with leading dims [...] (``weather_decay``,
    ``weather_scale``, ``gamma`` [..., S], ``gamma_rain_cold``) and scaled weather inputs [T, G, S * 4].

    With ``reference`` (scaled weather inputs [R, G, S * 4]: the fit's training days), the multiplier is
    relative to the reference days' mean per geo, as the model is fitted: the intercept then carries demand
    under the average training weather and the weather terms only its variation, so the two do not trade
    against each other in the posterior (centred predictors: Gelman & Hill 2007, "Data Analysis Using
    Regression and Multilevel/Hierarchical Models", section 4.2).
    Without it, relative to a day with none of the signals (the weather response curves)."""
    if reference is not None:
        return log_weather(params, weather) - log_weather(params, reference).mean(-2, keepdims=True)
    return _log_weather(params, _weather_lags(weather))


def _log_weather(params: dict, x: jnp.ndarray) -> jnp.ndarray:
    """:func:`log_weather` without reference, of weather inputs [S, 4, T, G] (:func:`_weather_lags`)."""
    w = params["weather_decay"][..., :, None] ** jnp.arange(WEATHER_LAGS)  # [..., S, L]
    w = w / w.sum(-1, keepdims=True)
    lagged = sum(x[:, lag] * w[..., :, lag, None, None] for lag in range(WEATHER_LAGS))  # 2.6x faster than an einsum
    k = params["weather_scale"][..., None, None]
    f = (1 - jnp.exp(-lagged / k)) / (1 - jnp.exp(-1 / k))  # [..., S, T, G]
    rain_cold = f[..., WEATHER_SIGNALS.index("precip"), :, :] * f[..., WEATHER_SIGNALS.index("hdd"), :, :]
    return (f * params["gamma"][..., None, None]).sum(-3) + params["gamma_rain_cold"][..., None, None] * rain_cold


WEATHER_PARAMS = ("weather_decay", "weather_scale", "gamma", "gamma_rain_cold")


def _model(lagged, controls, weather, train_spend_sum, roas_prior, y=None, tests=None):
    """lagged [C, L+1, T, G] (:func:`_lagged`), controls [T, K], weather [S, 4, T, G] (:func:`_weather_lags`),
    train_spend_sum [G, C] (in units of each geo's mean revenue), roas_prior [C, 2] (log-normal: log median,
    log-scale sd), y [T, G] (revenue over each geo's mean), tests: lift tests (:func:`_lift_test_arrays`)."""
    c_dim, n_geos = lagged.shape[0], lagged.shape[-1]
    params = {
        "decay": numpyro.sample("decay", dist.Beta(2.0, 2.0).expand([c_dim])),
        "half_saturation": numpyro.sample("half_saturation", dist.LogNormal(0.0, 0.6).expand([c_dim])),
        "slope": numpyro.sample("slope", dist.LogNormal(np.log(1.5), 0.4).expand([c_dim])),
    }
    roas = numpyro.sample("roas_prior_scale", dist.LogNormal(roas_prior[:, 0], roas_prior[:, 1]))
    if n_geos > 1:
        roas = roas * jnp.exp(ROAS_GEO_SD * numpyro.sample("roas_geo_z", dist.Normal(0.0, 1.0).expand([n_geos, c_dim])))
    hill = _media(params, lagged)  # [C, T, G]
    beta = numpyro.deterministic("beta", roas * train_spend_sum / jnp.maximum(hill.sum(1).T, 1e-6))  # [G, C]
    # The baseline is what media leaves of the level of demand (module docstring). Each geo's revenue is over
    # its own mean, so the geos' levels sit close together: a tenant level and small geo departures from it.
    level = numpyro.sample("level_tenant", dist.Normal(0.0, 0.3))
    if n_geos > 1:
        level = numpyro.sample("level_geo", dist.Normal(level, 0.2).expand([n_geos]))
    media_share = (roas * train_spend_sum).sum(-1) / lagged.shape[2] / jnp.exp(level)  # [G]
    intercept = numpyro.deterministic("intercept", jnp.broadcast_to(level - media_share, (n_geos,)))
    numpyro.factor("baseline_prior", dist.Normal(-0.3, 0.5).log_prob(intercept).sum())
    b = numpyro.sample("b", dist.Normal(0.0, 0.3).expand([controls.shape[1]]))
    n_signals = len(WEATHER_SIGNALS)
    log_w = _log_weather({
        "weather_decay": numpyro.sample("weather_decay", dist.Beta(2.0, 2.0).expand([n_signals])),
        "weather_scale": numpyro.sample("weather_scale", dist.LogNormal(0.0, 0.7).expand([n_signals])),
        "gamma": numpyro.sample("gamma", dist.Normal(0.0, 0.5).expand([n_signals])),
        "gamma_rain_cold": numpyro.sample("gamma_rain_cold", dist.Normal(0.0, 0.3)),
    }, weather)
    log_w = log_w - log_w.mean(0)  # [T, G] centred on the training days, as log_weather's reference
    alpha = numpyro.sample("alpha", dist.Normal(0.5, 0.5).expand([c_dim]))
    calendar = jnp.exp(controls @ b)  # [T]
    mu = calendar[:, None] * (jnp.exp(intercept + log_w)
                              + (beta.T[:, None, :] * hill * jnp.exp(alpha[:, None, None] * log_w)).sum(0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(0.3).expand([n_geos]))
    shared = numpyro.sample("shared_sigma", dist.HalfNormal(0.2)) if n_geos > 1 else 0.0
    if y is not None:
        numpyro.factor("y", _log_likelihood(jnp.log(y + REVENUE_SHIFT), jnp.log(mu + REVENUE_SHIFT), sigma, shared))
    if tests is not None:
        # A test's lift: the media revenue its channel's spend in its geo earned, over the test and its carryover,
        # against the same days with that spend off (only that channel's Hill term differs).
        days, geo = tests["days"], tests["geo"]  # [E, D], [E]
        off = jnp.swapaxes(_media(params, tests["lagged_off"]), -1, -2)  # [C, E, D]
        gain = (beta[geo].T[:, :, None] * (hill[:, days, geo[:, None]] - off)
                * jnp.exp(alpha[:, None, None] * log_w[days, geo[:, None]]))  # [C, E, D]
        lift = (tests["mask"] * calendar[days] * gain.sum(0)).sum(-1)
        numpyro.sample("lift_test", dist.Normal(lift, tests["se"]), obs=tests["lift"])


def _log_likelihood(log_y, log_mu, sigma, shared):
    """Sum over days of the multivariate normal log density of ``log_y`` [T, G] with mean ``log_mu - (sigma^2 +
    shared^2) / 2`` and covariance ``diag(sigma^2) + shared^2 11'``, in closed form (Sherman-Morrison and the
    matrix determinant lemma): numpyro's ``LowRankMultivariateNormal`` gives the same density at twice the cost."""
    r = log_y - log_mu + (sigma ** 2 + shared ** 2) / 2
    precision = 1.0 / sigma ** 2
    a = 1.0 + shared ** 2 * precision.sum()
    quad = (r ** 2 * precision).sum(-1) - shared ** 2 * (r * precision).sum(-1) ** 2 / a
    logdet = jnp.log(sigma ** 2).sum() + jnp.log(a)
    return -0.5 * (quad + logdet + r.shape[-1] * jnp.log(2 * jnp.pi)).sum()


@dataclass
class MMMFit:
    """A fitted tenant: posterior draws and the inputs needed to predict and to build response curves."""

    inputs: MMMInputs
    samples: dict  # site -> array [chains, draws, ...]
    settings: MMMSettings
    fit_seconds: float
    divergences: int
    #: :func:`effects` of these draws, once computed (judging convergence computes them; the asset reuses them).
    _effects: dict | None = field(default=None, init=False, repr=False, compare=False)

    def flat(self) -> dict:
        return {k: v.reshape((-1,) + v.shape[2:]) for k, v in self.samples.items()}


def fit_mmm(inputs: MMMInputs, settings: MMMSettings = MMMSettings()) -> MMMFit:
    """NUTS on the training days with ``settings.engine``, calibrated with ``inputs.lift_tests`` (this module's
    model only): each test adds ``lift ~ Normal(model's lift, lift_se)``, the model's lift being the media
    revenue the channel's spend earned in the test's geo over the test and its carryover against the same days
    with that spend off, as in PyMC-Marketing's lift-test calibration and Meridian's ROI calibration, but on
    the whole model (calendar, weather amplification, adstock), not on the saturation curve alone. Chains run
    in parallel when JAX sees as many CPU devices as chains.

    A fit that misses R-hat or ESS gets up to ``settings.extensions`` more blocks of draws. One that ends with too
    many divergent transitions, after its first block or after its extensions, is sampled again (new warmup, then
    its extensions) at ``settings.divergence_retry_accept``; the returned fit's ``settings`` say which target
    acceptance its draws came from."""
    if settings.engine == "lightweight_mmm":  # no calibration, no stated priors: its fit says it had neither
        from weather_mmm.models import lightweight
        return lightweight.fit(dataclasses.replace(inputs, lift_tests=(), roas_prior=None, roas_prior_stated=()), settings)
    # Every compiled XLA executable keeps its own memory mappings until its cache entry goes: a main job fitting
    # 23 tenants in one process added about 2,200 per fit and aborted at the kernel's limit of 65,530
    # (vm.max_map_count; "LLVM ERROR: Unable to allocate section memory"). Dropping the previous tenants'
    # executables keeps it near 4,000; this fit's kernel loads from the persistent compilation cache.
    jax.clear_caches()
    args, y, tests = _training_arrays(inputs)
    t0 = time.perf_counter()
    fit = _sample_and_extend(inputs, settings, args, y, tests)
    if _too_divergent(fit.divergences, fit.samples) and settings.divergence_retry_accept is not None \
            and settings.divergence_retry_accept > settings.target_accept:
        fit = _sample_and_extend(inputs, dataclasses.replace(settings, target_accept=settings.divergence_retry_accept),
                                 args, y, tests)
    fit.fit_seconds = time.perf_counter() - t0  # samples are numpy arrays: the device work is done
    return fit


def _sample_and_extend(inputs: MMMInputs, settings: MMMSettings, args: tuple, y, tests) -> MMMFit:
    """A NUTS run with warmup, then up to ``settings.extensions`` blocks of more draws while the fit misses the
    convergence bars; a fit whose divergent transitions exceed their bar is not extended (more draws cannot bring
    their share under it)."""
    mcmc, samples, divergences = _sample(settings, args, y, tests)
    blocks = [samples]
    fit = MMMFit(inputs, samples, settings, 0.0, divergences)
    while len(blocks) <= settings.extensions and not _too_divergent(divergences, samples) and not converged(fit):
        mcmc.post_warmup_state = mcmc.last_state
        mcmc.run(mcmc.post_warmup_state.rng_key, *args, y=y, tests=tests, extra_fields=("diverging",))
        blocks.append({k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()})
        divergences += int(np.asarray(mcmc.get_extra_fields()["diverging"]).sum())
        samples = {k: np.concatenate([b[k] for b in blocks], axis=1) for k in blocks[0]}
        fit = MMMFit(inputs, samples, settings, 0.0, divergences)
    return fit


def _training_arrays(inputs: MMMInputs) -> tuple[tuple, jnp.ndarray, dict | None]:
    """:func:`_model`'s arguments on the training days: (lagged, controls, weather, train_spend_sum, roas_prior),
    y, tests."""
    train = inputs.train
    lagged = _lagged(jnp.asarray(inputs.spend / inputs.spend_scale))[:, :, train]
    y = jnp.asarray(inputs.revenue[train] / inputs.revenue_scale)
    spend_sum = jnp.asarray((inputs.spend[train] / inputs.revenue_scale[:, None]).sum(0))
    args = (lagged, jnp.asarray(inputs.controls[train]), _weather_lags(inputs.weather[train]), spend_sum,
            jnp.asarray(inputs.roas_prior))
    return args, y, _lift_test_arrays(inputs, len(train))


def _too_divergent(divergences: int, samples: dict) -> bool:
    """More divergent transitions than the convergence bar allows for these draws ([chains, draws, ...])."""
    return divergences > DIVERGENT_BAR * samples["decay"][:, :, 0].size


def _sample(settings: MMMSettings, args: tuple, y, tests) -> tuple[MCMC, dict, int]:
    """A NUTS run of :func:`_model` with warmup: (the sampler, draws as numpy arrays [chains, draws, ...],
    divergent transitions)."""
    method = "parallel" if jax.local_device_count() >= settings.chains else "sequential"
    mcmc = MCMC(NUTS(_model, target_accept_prob=settings.target_accept, init_strategy=init_to_median,
                     max_tree_depth=settings.max_tree_depth, dense_mass=[DENSE_BLOCK] if settings.dense_block else False),
                num_warmup=settings.warmup, num_samples=settings.draws, num_chains=settings.chains, chain_method=method,
                progress_bar=False)
    mcmc.run(jax.random.PRNGKey(settings.seed), *args, y=y, tests=tests, extra_fields=("diverging",))
    samples = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
    return mcmc, samples, int(np.asarray(mcmc.get_extra_fields()["diverging"]).sum())


def _expected(fit: MMMFit, spend: np.ndarray, weather: np.ndarray, controls: np.ndarray, draws: dict,
              by_geo: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(baseline x weather, media per channel) in USD for every draw, summed over geos: [S, T] and [S, T, C]
    (``by_geo``: [S, T, G] and [S, T, G, C]), from spend [T, G, C] and weather [T, G, W]."""
    if fit.settings.engine == "lightweight_mmm":
        from weather_mmm.models import lightweight
        return lightweight.expected(fit, *fit.inputs.totals(spend, weather), controls, draws)
    x = fit.inputs
    params = {k: jnp.asarray(draws[k]) for k in ("decay", "half_saturation", "slope", "b", "intercept", "beta", "alpha",
                                                 *WEATHER_PARAMS)}
    base, media = _expected_jit(params, _lagged(jnp.asarray(spend / x.spend_scale)), jnp.asarray(weather),
                                jnp.asarray(x.weather[x.train]), jnp.asarray(controls), jnp.asarray(x.revenue_scale), by_geo)
    return np.asarray(base, dtype=float), np.asarray(media, dtype=float)


@functools.partial(jax.jit, static_argnames="by_geo")
def _expected_jit(params, lagged, weather, reference, controls, revenue_scale, by_geo):
    """:func:`_expected` of this module's model in one XLA computation: the [S, C, T, G] media terms are summed
    over geos as they are computed, not stored: :func:`effects` of hammerline_home (3 geos, 4000 draws) took 12 s
    instead of 34 s with NumPy arrays, :func:`decomposition` 4.8 s instead of 13.9 s."""
    hill = _media(params, lagged)  # [S, C, T, G]
    log_w = log_weather(params, weather, reference)  # [S, T, G]
    calendar = jnp.exp(params["b"] @ controls.T)[:, :, None]  # [S, T, 1]
    base = calendar * jnp.exp(params["intercept"][:, None, :] + log_w) * revenue_scale
    media = (calendar[:, None] * jnp.swapaxes(params["beta"] * revenue_scale[:, None], 1, 2)[..., None, :] * hill
             * jnp.exp(params["alpha"][..., None, None] * log_w[:, None]))  # [S, C, T, G]
    return (base, jnp.moveaxis(media, 1, -1)) if by_geo else (base.sum(2), jnp.moveaxis(media.sum(3), 1, -1))


def _interval(values: np.ndarray) -> dict:
    lo, hi = np.percentile(values, INTERVAL)
    return {"mean": float(values.mean()), "lo90": float(lo), "hi90": float(hi)}


def effects(fit: MMMFit) -> dict:
    """Posterior effects over the whole calendar and every geo, each with its 90 % interval.

    ``MAX_LAG`` days of zero spend are appended (repeating the last day's controls, under normal weather) so
    that ROAS counts the carryover past the calendar's end, as the ground truth does.

    Returns a dict: ``roas`` and ``mroas`` (channel -> mean, lo90, hi90; USD of revenue per USD of spend),
    ``weather_share`` (share of expected revenue), ``weather_revenue`` (USD), ``weather_effect`` (signal
    hdd | cdd | precip | snow | rain_cold -> ``gamma``: the log multiplier of demand on a typical cold, hot,
    rainy or snowy day, or the extra one of rain on a cold day; empty for ``lightweight_mmm``), ``lift_test``
    (experiment -> the model's ROAS of the test's spend over the test and its carryover, and ``readout``, the
    test's measured lift over its spend; empty when not calibrated), ``ess`` (bulk
    ESS of each channel's ROAS and of the weather share) and ``roas_prior`` (channel -> the prior's median ROAS,
    its 90 % interval, and whether a marketer stated it).
    """
    if fit._effects is None:
        fit._effects = _effects(fit)
    return fit._effects


def _effects(fit: MMMFit) -> dict:
    x, draws, chains = fit.inputs, fit.flat(), fit.settings.chains
    n_days = len(x.dates)

    def pad(a: np.ndarray, tail: np.ndarray) -> np.ndarray:
        return np.concatenate([a, np.repeat(tail[-1:], MAX_LAG, 0)])

    spend = np.concatenate([x.spend, np.zeros((MAX_LAG,) + x.spend.shape[1:])])
    weather, normal = pad(x.weather, x.weather_normal), pad(x.weather_normal, x.weather_normal)
    controls = pad(x.controls, x.controls)

    # A channel's media term depends on its own spend only (both engines), so one pass with every channel
    # off and one with every channel 1 % up give each channel's counterfactual.
    base, media = _expected(fit, spend, weather, controls, draws)  # [S, T + L], [S, T + L, C] USD
    up = spend.copy()
    up[:n_days] *= 1.01
    media_off = _expected(fit, np.zeros_like(spend), weather, controls, draws)[1]
    media_up = _expected(fit, up, weather, controls, draws)[1]
    actual = base + media.sum(-1)
    roas, mroas, ess = {}, {}, {}
    for i, c in enumerate(x.channels):
        spent = max(x.spend[..., i].sum(), 1e-9)
        r = (media[..., i] - media_off[..., i]).sum(1) / spent
        roas[c] = _interval(r)
        mroas[c] = _interval((media_up[..., i] - media[..., i]).sum(1) / (0.01 * spent))
        ess[f"roas_{c}"] = float(effective_sample_size(r.reshape(chains, -1)))
    lift_tests = {}
    for t in x.lift_tests:  # the model's ROAS of each test's spend, to set against the test's readout
        g, c = x.geos.index(t["geo"]), x.channels.index(t["channel"])
        off = spend.copy()
        off[x.dates.index(t["start"]):x.dates.index(t["end"]) + 1, g, c] = 0.0
        lift = (media[..., c] - _expected(fit, off, weather, controls, draws)[1][..., c]).sum(1)
        lift_tests[t["experiment"]] = {**_interval(lift / t["spend"]), "readout": t["lift"] / t["spend"]}
    base_normal, media_normal = _expected(fit, spend, normal, controls, draws)
    driven = (actual - base_normal - media_normal.sum(-1))[:, :n_days].sum(1)
    share = driven / actual[:, :n_days].sum(1)
    ess["weather_share"] = float(effective_sample_size(share.reshape(chains, -1)))
    weather_effect = {}
    if "gamma" in draws:  # this module's multiplicative weather (LightweightMMM's is an additive control)
        weather_effect = {s: _interval(draws["gamma"][:, j]) for j, s in enumerate(WEATHER_SIGNALS)}
        weather_effect["rain_cold"] = _interval(draws["gamma_rain_cold"])
    return {"roas": roas, "mroas": mroas, "weather_share": _interval(share), "weather_revenue": _interval(driven),
            "weather_effect": weather_effect, "lift_test": lift_tests, "ess": ess,
            "roas_prior": {c: {"median": float(np.exp(p[0])), "lo90": lo, "hi90": hi, "stated": c in x.roas_prior_stated}
                           for c, p, (lo, hi) in zip(x.channels, x.roas_prior, map(priors.interval, x.roas_prior))}}


def effects_table(e: dict) -> pl.DataFrame:
    """:func:`effects` as rows: kind (roas | mroas | weather_share | weather_effect | lift_test | stated_prior), key
    (channel, ``all``, weather signal or experiment), mean, lo90, hi90, ess (ROAS and weather share only), prior
    (ROAS rows: the prior's median ROAS; lift_test rows: the test's readout, what the fit was told).
    ``stated_prior`` rows: a ROAS prior a marketer stated, its median (``mean``) and 90 % interval."""
    rows = [{"kind": kind, "key": c, **v, "ess": e["ess"][f"roas_{c}"] if kind == "roas" else None,
             "prior": e["roas_prior"][c]["median"] if kind == "roas" else None}
            for kind in ("roas", "mroas", "weather_effect") for c, v in e[kind].items()]
    rows += [{"kind": "stated_prior", "key": c, "mean": p["median"], "lo90": p["lo90"], "hi90": p["hi90"], "ess": None,
              "prior": None} for c, p in e["roas_prior"].items() if p["stated"]]
    rows += [{"kind": "lift_test", "key": k, **{f: v[f] for f in ("mean", "lo90", "hi90")}, "ess": None, "prior": v["readout"]}
             for k, v in e.get("lift_test", {}).items()]
    rows.append({"kind": "weather_share", "key": "all", **e["weather_share"], "ess": e["ess"]["weather_share"], "prior": None})
    return pl.DataFrame(rows, schema={"kind": pl.Utf8, "key": pl.Utf8, "mean": pl.Float64, "lo90": pl.Float64,
                                      "hi90": pl.Float64, "ess": pl.Float64, "prior": pl.Float64})


def decomposition(fit: MMMFit) -> pl.DataFrame:
    """Posterior-mean daily decomposition of the tenant's revenue (USD, summed over geos): baseline (under
    normal weather), weather, and each channel (under normal weather); the components add up to the expected
    revenue. Columns: date, component, revenue."""
    x, draws = fit.inputs, fit.flat()
    base, media = _expected(fit, x.spend, x.weather, x.controls, draws)
    base_n, media_n = _expected(fit, x.spend, x.weather_normal, x.controls, draws)
    weather = (base + media.sum(-1)) - (base_n + media_n.sum(-1))
    parts = {"baseline": base_n.mean(0), "weather": weather.mean(0),
             **{f"channel:{c}": media_n[:, :, i].mean(0) for i, c in enumerate(x.channels)}}
    return pl.concat([pl.DataFrame({"date": x.dates, "component": name, "revenue": values})
                      for name, values in parts.items()])


def geo_weather_draws(fit: MMMFit, max_draws: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """What the model says the weather did in each geo on each day: posterior draws of the geo's expected revenue
    under the actual weather and under normal weather with the same spend, ([S, T, G], [S, T, G]) USD over
    ``fit.inputs.dates`` and ``fit.inputs.geos``, at most ``max_draws`` draws (evenly thinned). Summed over geos,
    their difference is :func:`decomposition`'s ``weather``. ``weather_mmm.causal.model_outcome`` runs the causal
    designs on them.

    Raises:
        ValueError: a ``lightweight_mmm`` fit (it models tenant totals, not geos).
    """
    if fit.settings.engine == "lightweight_mmm":
        raise ValueError("a lightweight_mmm fit models tenant totals: it has no expected revenue per geo")
    x, draws = fit.inputs, fit.flat()
    n = len(next(iter(draws.values())))
    draws = {k: v[::max(1, -(-n // max_draws))] for k, v in draws.items()}
    actual, normal = (_expected(fit, x.spend, w, x.controls, draws, by_geo=True) for w in (x.weather, x.weather_normal))
    return actual[0] + actual[1].sum(-1), normal[0] + normal[1].sum(-1)


def recent_calendar(fit: MMMFit, days: int = 28) -> np.ndarray:
    """[S] per draw: the mean calendar multiplier ``C(t)`` over the last ``days`` model days (trend and season
    as they stand now), which scales media revenue in response curves and allocations."""
    draws = fit.flat()
    return np.exp(fit.inputs.controls[-days:] @ draws["b"].T).mean(0)


def curves(fit: MMMFit, points: int = 41) -> pl.DataFrame:
    """Posterior curves with 90 % intervals, one row per curve point. Columns: kind, key, x, mean, lo90, hi90.

    * ``response`` (key = channel): x = the tenant's steady daily spend (USD/day, 0 to 2.5 x its mean training
      spend, split across geos as in training), y = incremental revenue per day (USD/day) once carryover
      has built up, under normal weather and the calendar of the last 28 days (:func:`recent_calendar`);
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
                 "beta": draws["coef_media"][:, None, :] * x.revenue_scale.sum()}
    else:
        draws = {**draws, "beta": draws["beta"] * x.revenue_scale[:, None]}  # [S, G, C] USD/day at saturation

    def add(kind, key, grid, values):
        lo, hi = np.percentile(values, INTERVAL, axis=0)
        rows.extend({"kind": kind, "key": key, "x": float(g), "mean": float(m), "lo90": float(a), "hi90": float(b)}
                    for g, m, a, b in zip(grid, values.mean(0), lo, hi))

    rel = np.linspace(0.0, 2.5, points)
    calendar = 1.0 if lwmm else recent_calendar(fit)[:, None]
    for i, c in enumerate(x.channels):
        k, n = draws["half_saturation"][:, i:i + 1], draws["slope"][:, i:i + 1]
        hill = rel ** n / (rel ** n + k ** n)  # steady spend: adstock equals spend (weights sum to 1)
        add("response", c, rel * x.spend_scale[:, i].sum(), calendar * draws["beta"][:, :, i].sum(1, keepdims=True) * hill)
        w = draws["decay"][:, i:i + 1] ** np.arange(MAX_LAG + 1)
        add("adstock", c, np.arange(MAX_LAG + 1), w / w.sum(1, keepdims=True))
    params = {} if lwmm else {k: jnp.asarray(draws[k]) for k in WEATHER_PARAMS}
    for j, signal in enumerate(() if lwmm else WEATHER_SIGNALS):
        held = np.zeros((points, 1, len(WEATHER_INPUTS)))
        held[:, 0, j * WEATHER_LAGS:(j + 1) * WEATHER_LAGS] = rel[:, None]
        multiplier = np.exp(np.asarray(log_weather(params, held), dtype=float)[:, :, 0])
        add("weather", signal, rel * x.weather_scale[j * WEATHER_LAGS], multiplier)
    return pl.DataFrame(rows)


def holdout_scores(fit: MMMFit, rng_seed: int = 0) -> dict:
    """Holdout R², RMSE, MAE and NRMSE of the posterior-mean expected revenue of the tenant (summed over geos);
    MAPE of :func:`mape_point`, the point forecast the MAPE calls for (a right-skewed predictive's mean
    overshoots most days: on the 23 fits of a main job the mean's MAPE was higher for 19 tenants, by up to 18
    points, and lower for 4, by up to 1.4); and the share of holdout days whose actual revenue lies inside the
    90 % posterior predictive interval (``coverage90``)."""
    x, draws = fit.inputs, fit.flat()
    rng = np.random.default_rng(rng_seed)
    actual = x.revenue[x.holdout].sum(1)
    if fit.settings.engine == "lightweight_mmm":  # Normal noise on revenue over its training mean
        base, media = _expected(fit, x.spend, x.weather, x.controls, draws)
        mu = (base + media.sum(-1))[:, x.holdout]
        predictive = mu + rng.normal(0.0, draws["sigma"].reshape(-1, 1) * x.revenue_scale.sum(), mu.shape)
    else:  # the model's likelihood: shifted log-normal per geo with the shared daily shock
        base, media = _expected(fit, x.spend, x.weather, x.controls, draws, by_geo=True)
        mu_geo = (base + media.sum(-1))[:, x.holdout] / x.revenue_scale + REVENUE_SHIFT  # [S, H, G] model units
        sigma = draws["sigma"].reshape(len(mu_geo), 1, -1)
        shared = draws.get("shared_sigma", np.zeros(len(mu_geo))).reshape(-1, 1, 1)
        noise = (sigma * rng.standard_normal(mu_geo.shape) + shared * rng.standard_normal(mu_geo.shape[:2] + (1,))
                 - (sigma ** 2 + shared ** 2) / 2)
        mu = ((mu_geo - REVENUE_SHIFT) * x.revenue_scale).sum(2)
        predictive = ((mu_geo * np.exp(noise) - REVENUE_SHIFT) * x.revenue_scale).sum(2)
    lo, hi = np.percentile(predictive, INTERVAL, axis=0)
    return {**metrics(actual, mu.mean(0)), "mape": metrics(actual, mape_point(predictive))["mape"],
            "coverage90": float(((actual >= lo) & (actual <= hi)).mean())}


def _rhat_ess(samples: dict) -> tuple[float, float]:
    """Max split R-hat and min bulk ESS over the sampled parameters (``beta`` is derived from them)."""
    sites = [k for k in samples if k != "beta"]
    return (max(float(np.nanmax(split_gelman_rubin(samples[k]))) for k in sites),
            min(float(np.nanmin(effective_sample_size(samples[k]))) for k in sites))


def converged(fit: MMMFit) -> bool:
    """Whether a fit meets the R-hat bar over every sampled parameter and the ESS bar on the effects that
    ``mmm_converged`` checks: each channel's ROAS and the weather share (:func:`effects`; bars:
    :mod:`weather_mmm.models.mmm_quality`). Measured on the 13 main-job fits (3189969) that took a second block
    when a proxy, the ESS of the weather coefficients ``gamma``, stood in for the weather share's: 6 of them
    already met these bars after the first block (scoring it takes 0.4 to 2.6 s; their second blocks had
    taken 11 to 40 s)."""
    return _rhat_ess(fit.samples)[0] <= RHAT_BAR and min(effects(fit)["ess"].values()) >= ESS_BAR


def diagnostics(fit: MMMFit) -> dict:
    """Max split R-hat and min bulk ESS over the sampled parameters, divergences and their share of draws
    (all blocks of :func:`fit_mmm`), fit time (s)."""
    rhat, ess = _rhat_ess(fit.samples)
    n = int(np.prod(next(iter(fit.samples.values())).shape[:2]))  # chains x draws, every engine
    return {"max_rhat": rhat, "min_ess": ess, "divergences": fit.divergences, "divergent_share": fit.divergences / n,
            "fit_seconds": fit.fit_seconds, "draws": n}


def review(fit: MMMFit) -> tuple[dict, dict, pl.DataFrame, pl.DataFrame]:
    """Everything the model's tables say of ``fit``: (its effects, :func:`effects`; its :func:`diagnostics` with the
    holdout R², MAPE and 90 % coverage of :func:`holdout_scores` and ``negative_baseline_share``, the share of days
    whose baseline is below zero; the effects' table, :func:`effects_table`; its daily :func:`decomposition`)."""
    e, hold, parts = effects(fit), holdout_scores(fit), decomposition(fit)
    negative = parts.filter((pl.col("component") == "baseline") & (pl.col("revenue") < 0)).height / len(fit.inputs.dates)
    return e, {**diagnostics(fit), "holdout_r2": hold["r2"], "holdout_mape": hold["mape"],
               "coverage90": hold["coverage90"], "negative_baseline_share": negative}, effects_table(e), parts
