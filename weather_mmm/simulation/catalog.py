"""The tenant catalog: simulated brands with their profiles, each drawn from its own random stream.

A profile is everything the simulator needs and nothing a model may read: it is ground truth. The
catalog is a fixed list of brands (name, tier, categories with their weather affinity, cities); every
number in a profile is drawn from the tenant's own stream (``seed`` and the tenant key), so adding or
changing one brand leaves every other profile byte-identical.

Tiers set the weather sensitivity and a behaviour archetype (order size, repeat rate, weekly and yearly
shape), so tenants differ in how they sell, not only in scale.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, field

import numpy as np

DEFAULT_SEED = 7
CHANNELS = ("meta", "google", "email")
TIERS = ("extreme", "high", "medium", "low")
AFFINITIES = ("cold", "warm", "rain", "snow", "neutral")


@dataclass
class Category:
    """A product category. ``weather_effect``: log-multiplier of demand at a saturated signal (signed);
    ``lag_weights``: weights of the signal on days t, t-1, t-2, t-3; ``rain_cold_interaction``: extra
    log-multiplier when rain and cold are both saturated."""

    name: str
    affinity: str
    price: float  # USD per unit
    margin: float  # contribution margin, share of revenue
    share: float  # share of the tenant's baseline revenue
    weather_effect: float
    lag_weights: list[float]
    rain_cold_interaction: float = 0.0


@dataclass
class Channel:
    """A paid channel in one tenant. Spend figures are USD per day per geo."""

    channel: str
    base_daily: float
    min_daily: float
    max_daily: float
    target_roas: float
    adstock: dict
    half_saturation_rel: float  # half-saturation as a multiple of the channel's base daily spend
    slope: float
    weather_amplification: float  # exponent on the weather multiplier of demand
    cpm: float  # USD per 1000 impressions (email: per 1000 sends)
    ctr: float
    cvr: float
    triggered: bool = False


@dataclass
class TenantProfile:
    tenant: str
    name: str
    tier: str
    industry: str
    categories: list[Category]
    geos: dict[str, float]  # city -> share of baseline revenue
    channels: list[Channel]
    media_share: float  # intended share of revenue driven by media
    trend_per_year: float
    weekend_lift: float
    weekday_profile: list[float]  # Mon..Sun multipliers
    yearly_amplitude: float
    gift_season: float
    holiday_sensitivity: float
    repeat_rate: float
    units_per_order: float
    segments: dict[str, float]  # loyal / bargain / new shares of baseline demand
    payday_strength: float
    launch_ramp_days: float
    promotions_per_year: float
    promo_depth: tuple[float, float]
    promo_elasticity: float
    nb_dispersion: float  # negative-binomial size of daily orders
    shock_sd: float  # sd of the tenant-wide daily demand shock (log scale)
    geo_shock_sd: float
    weather_trigger: dict | None = None  # {"variable", "lead_days", "strength"} for weather-triggered spend
    source: str = "simulated"
    seed: int = DEFAULT_SEED
    notes: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TenantProfile":
        d = dict(d)
        d["categories"] = [Category(**c) for c in d["categories"]]
        d["channels"] = [Channel(**c) for c in d["channels"]]
        d["promo_depth"] = tuple(d["promo_depth"])
        return cls(**d)


@dataclass(frozen=True)
class Brand:
    tenant: str
    name: str
    tier: str
    industry: str
    categories: tuple[tuple[str, str, int, float], ...]  # (name, affinity, sign, price USD)
    geos: tuple[str, ...]
    trigger: str | None = None  # precipitation | snowfall | heat | cold
    adstock: str = "geometric"  # geometric | delayed | weibull
    interaction: tuple[str, ...] = ()  # categories with a rain x cold interaction


BRANDS: tuple[Brand, ...] = (
    # extreme: demand swings several-fold with the weather
    Brand("drizzle_rainwear", "Drizzle Rainwear", "extreme", "rain gear",
          (("rain jackets", "rain", 1, 89), ("umbrellas", "rain", 1, 24), ("rain boots", "rain", 1, 65),
           ("dry bags", "rain", 1, 35), ("socks", "neutral", 1, 12)),
          ("seattle", "chicago"), trigger="precipitation", interaction=("rain boots", "rain jackets")),
    Brand("northpeak_snowtools", "Northpeak Snow Tools", "extreme", "snow tools",
          (("snow shovels", "snow", 1, 39), ("ice melt", "snow", 1, 18), ("snow brushes", "snow", 1, 15),
           ("winter gloves", "cold", 1, 29)),
          ("chicago", "seattle"), trigger="snowfall", adstock="delayed"),
    Brand("sunshield_skincare", "Sunshield Skincare", "extreme", "sunscreen",
          (("sunscreen", "warm", 1, 16), ("after-sun", "warm", 1, 12), ("sunglasses", "warm", 1, 45),
           ("lip balm", "neutral", 1, 6)),
          ("phoenix", "miami"), trigger="heat"),
    Brand("hearthglow_heating", "Hearthglow Heating", "extreme", "heating",
          (("space heaters", "cold", 1, 79), ("electric blankets", "cold", 1, 59), ("humidifiers", "cold", 1, 45),
           ("thermostats", "neutral", 1, 99)),
          ("chicago", "denver", "seattle"), trigger="cold", adstock="weibull"),
    Brand("stormready_supply", "StormReady Supply", "extreme", "storm supplies",
          (("ponchos", "rain", 1, 14), ("sandbags", "rain", 1, 30), ("flashlights", "rain", 1, 22),
           ("batteries", "neutral", 1, 15)),
          ("chicago", "seattle", "phoenix")),
    # high: seasonal apparel, weather services, outdoor recreation, seasonal food and beverage
    Brand("layerup_apparel", "LayerUp Apparel", "high", "seasonal apparel",
          (("coats", "cold", 1, 149), ("sweaters", "cold", 1, 69), ("shorts", "warm", 1, 35),
           ("swimwear", "warm", 1, 49), ("t-shirts", "neutral", 1, 25), ("rain shells", "rain", 1, 99)),
          ("chicago", "denver", "seattle", "phoenix", "miami"), interaction=("coats",)),
    Brand("clearpath_snow_removal", "ClearPath Snow Removal", "high", "snow removal service",
          (("plowing visits", "snow", 1, 120), ("de-icing", "snow", 1, 80), ("gutter cleaning", "rain", 1, 150),
           ("seasonal contracts", "neutral", 1, 400)),
          ("chicago", "seattle"), adstock="delayed"),
    Brand("coolbreeze_hvac", "CoolBreeze HVAC", "high", "HVAC",
          (("AC repair", "warm", 1, 250), ("AC units", "warm", 1, 900), ("furnace service", "cold", 1, 180),
           ("maintenance plans", "neutral", 1, 199)),
          ("phoenix", "miami", "denver"), trigger="heat"),
    Brand("trailhead_outdoor", "Trailhead Outdoor", "high", "outdoor recreation",
          (("hiking gear", "rain", -1, 120), ("camping", "warm", 1, 180), ("bikes", "rain", -1, 650),
           ("kayaks", "warm", 1, 480), ("maps", "neutral", 1, 15)),
          ("denver", "seattle", "phoenix")),
    Brand("icebox_treats", "Icebox Treats", "high", "seasonal food and beverage",
          (("ice cream", "warm", 1, 8), ("frozen drinks", "warm", 1, 6), ("popsicles", "warm", 1, 5),
           ("cones", "neutral", 1, 4)),
          ("phoenix", "miami", "chicago"), adstock="weibull"),
    Brand("cocoa_corner", "Cocoa Corner", "high", "seasonal food and beverage",
          (("hot cocoa", "cold", 1, 12), ("soups", "cold", 1, 9), ("tea", "cold", 1, 14), ("snacks", "neutral", 1, 7)),
          ("chicago", "denver", "seattle"), trigger="cold"),
    # medium: general retail, fitness, home improvement, footwear
    Brand("mainstreet_general", "Mainstreet General", "medium", "general retail",
          (("household", "neutral", 1, 18), ("seasonal decor", "warm", 1, 30), ("cleaning", "rain", 1, 12),
           ("snacks", "neutral", 1, 6), ("toys", "neutral", 1, 25)),
          ("chicago", "phoenix", "miami", "denver")),
    Brand("pulse_fitness", "Pulse Fitness", "medium", "fitness",
          (("home gym", "cold", 1, 220), ("activewear", "neutral", 1, 45), ("supplements", "neutral", 1, 35),
           ("yoga mats", "rain", 1, 30)),
          ("seattle", "denver", "miami"), adstock="delayed"),
    Brand("hammerline_home", "Hammerline Home", "medium", "home improvement",
          (("garden", "warm", 1, 40), ("exterior paint", "rain", -1, 55), ("tools", "neutral", 1, 70),
           ("hardware", "neutral", 1, 15), ("grills", "warm", 1, 350)),
          ("denver", "phoenix", "chicago")),
    Brand("stride_footwear", "Stride Footwear", "medium", "footwear",
          (("sneakers", "neutral", 1, 90), ("sandals", "warm", 1, 40), ("boots", "cold", 1, 130),
           ("running shoes", "rain", -1, 120)),
          ("miami", "seattle", "chicago", "phoenix", "denver")),
    Brand("petpals_supply", "PetPals Supply", "medium", "pet supplies",
          (("pet food", "neutral", 1, 45), ("pet jackets", "cold", 1, 30), ("toys", "neutral", 1, 12),
           ("cooling mats", "warm", 1, 35)),
          ("denver", "miami")),
    Brand("freshbox_meals", "FreshBox Meals", "medium", "meal kits",
          (("meal kits", "rain", 1, 60), ("comfort bundles", "cold", 1, 75), ("salad kits", "warm", 1, 45)),
          ("seattle", "chicago"), adstock="weibull"),
    # low or none: digital products, office supplies, electronics, books
    Brand("pixelpro_software", "PixelPro Software", "low", "digital products",
          (("licenses", "neutral", 1, 299), ("plugins", "neutral", 1, 49), ("subscriptions", "neutral", 1, 120)),
          ("miami",)),
    Brand("deskmate_office", "DeskMate Office", "low", "office supplies",
          (("paper", "neutral", 1, 30), ("chairs", "neutral", 1, 320), ("desks", "neutral", 1, 540),
           ("ink", "neutral", 1, 45)),
          ("chicago", "denver")),
    Brand("voltbox_electronics", "VoltBox Electronics", "low", "electronics",
          (("laptops", "neutral", 1, 1100), ("phones", "neutral", 1, 800), ("headphones", "neutral", 1, 180),
           ("cables", "neutral", 1, 20)),
          ("phoenix", "miami", "seattle"), adstock="delayed"),
    Brand("pageturner_books", "PageTurner Books", "low", "books",
          (("fiction", "rain", 1, 18), ("non-fiction", "neutral", 1, 24), ("children's", "neutral", 1, 14),
           ("e-books", "neutral", 1, 10)),
          ("seattle",)),
    Brand("learnly_courses", "Learnly Courses", "low", "digital products",
          (("courses", "neutral", 1, 199), ("certifications", "neutral", 1, 349), ("workshops", "neutral", 1, 89)),
          ("denver", "chicago")),
    Brand("streamly_media", "Streamly Media", "low", "digital products",
          (("subscriptions", "neutral", 1, 120), ("gift cards", "neutral", 1, 50), ("rentals", "rain", 1, 6)),
          ("phoenix", "seattle", "miami"), adstock="weibull"),
)

# Tier archetypes: (low, high) ranges drawn per tenant.
_TIER = {
    "extreme": dict(weather=(1.1, 1.6), repeat=(0.12, 0.22), weekend=(0.95, 1.05), yearly=(0.02, 0.08),
                    gift=(0.0, 0.05), promos=(3, 5), upo=(1.0, 1.2), media=(0.20, 0.35), loyal=(0.2, 0.3)),
    "high": dict(weather=(0.7, 1.0), repeat=(0.28, 0.38), weekend=(1.2, 1.3), yearly=(0.08, 0.15),
                 gift=(0.05, 0.12), promos=(5, 8), upo=(1.4, 1.7), media=(0.20, 0.35), loyal=(0.3, 0.4)),
    "medium": dict(weather=(0.10, 0.20), repeat=(0.45, 0.55), weekend=(1.4, 1.55), yearly=(0.04, 0.10),
                   gift=(0.10, 0.20), promos=(8, 12), upo=(2.0, 2.5), media=(0.20, 0.35), loyal=(0.4, 0.5)),
    "low": dict(weather=(0.0, 0.03), repeat=(0.62, 0.75), weekend=(0.55, 0.7), yearly=(0.02, 0.06),
                gift=(0.25, 0.40), promos=(4, 6), upo=(2.8, 3.4), media=(0.20, 0.35), loyal=(0.5, 0.6)),
}
# Channel archetypes: base spend per geo (USD/day), CPM (USD), CTR, CVR, weather amplification.
_CHANNEL = {
    "meta": dict(base=(160, 250), cpm=(7, 12), ctr=(0.008, 0.015), cvr=(0.02, 0.04), amp=(0.6, 0.9), decay=(0.3, 0.6)),
    "google": dict(base=(125, 200), cpm=(25, 45), ctr=(0.03, 0.06), cvr=(0.04, 0.08), amp=(0.3, 0.5), decay=(0.1, 0.35)),
    "email": dict(base=(55, 95), cpm=(1.5, 3.0), ctr=(0.015, 0.03), cvr=(0.03, 0.06), amp=(0.05, 0.15), decay=(0.05, 0.25)),
}
_KAPPA_LAG_DECAY = (0.25, 0.65)


def tenant_rng(tenant: str, seed: int, stream: int) -> np.random.Generator:
    """The tenant's own random stream number ``stream`` (independent of every other tenant)."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(tenant.encode())], spawn_key=(stream,)))


def _u(rng, lo_hi) -> float:
    return float(rng.uniform(*lo_hi))


def _target_roas(rng, channel: str) -> float:
    """Most true ROAS in 1.5-4.0; a few channels lose money (< 1) or earn above 5 (the brief)."""
    u = rng.random()
    if channel == "email" and u < 0.25:
        return round(float(rng.uniform(5.5, 8.0)), 3)
    if channel == "meta" and u < 0.12:
        return round(float(rng.uniform(0.5, 0.9)), 3)
    return round(float(rng.uniform(1.6, 3.8)), 3)


def build_profile(brand: Brand, seed: int = DEFAULT_SEED) -> TenantProfile:
    """Draw a tenant's profile from its own stream."""
    rng = tenant_rng(brand.tenant, seed, 0)
    tier = _TIER[brand.tier]
    raw_shares = rng.dirichlet(np.full(len(brand.categories), 4.0))
    weather_scale = _u(rng, tier["weather"])
    categories = []
    for (name, affinity, sign, price), share in zip(brand.categories, raw_shares):
        decay = _u(rng, _KAPPA_LAG_DECAY)
        lags = decay ** np.arange(4)
        effect = 0.0 if affinity == "neutral" else sign * weather_scale * _u(rng, (0.8, 1.2))
        categories.append(Category(
            name=name, affinity=affinity, price=float(price), margin=round(_u(rng, (0.25, 0.6)), 3),
            share=round(float(share), 4), weather_effect=round(effect, 4),
            lag_weights=[round(float(x), 4) for x in lags / lags.sum()],
            rain_cold_interaction=round(0.5 * weather_scale * _u(rng, (0.6, 1.0)), 4) if name in brand.interaction else 0.0,
        ))
    mix = rng.dirichlet(np.full(len(brand.geos), 3.0))
    geos = {city: round(float(w), 4) for city, w in zip(brand.geos, mix)}
    channels = []
    for ch in CHANNELS:
        spec = _CHANNEL[ch]
        base = _u(rng, spec["base"])
        if brand.adstock == "geometric" or ch == "email":
            adstock = {"kind": "geometric", "decay": round(_u(rng, spec["decay"]), 3), "max_lag": 12}
        elif brand.adstock == "delayed":
            adstock = {"kind": "delayed", "decay": round(_u(rng, (0.5, 0.8)), 3), "peak": round(_u(rng, (1.0, 3.0)), 2), "max_lag": 12}
        else:
            adstock = {"kind": "weibull", "shape": round(_u(rng, (1.5, 2.5)), 3), "scale": round(_u(rng, (2.0, 4.0)), 3), "max_lag": 12}
        channels.append(Channel(
            channel=ch, base_daily=round(base, 2), min_daily=50.0, max_daily=500.0,
            target_roas=_target_roas(rng, ch), adstock=adstock,
            half_saturation_rel=round(_u(rng, (0.6, 1.6)), 3), slope=round(_u(rng, (0.9, 2.6)), 3),
            weather_amplification=round(_u(rng, spec["amp"]), 3), cpm=round(_u(rng, spec["cpm"]), 2),
            ctr=round(_u(rng, spec["ctr"]), 4), cvr=round(_u(rng, spec["cvr"]), 4),
            triggered=brand.trigger is not None and ch != "email",
        ))
    loyal = _u(rng, tier["loyal"])
    new = _u(rng, (0.15, 0.25))
    weekday = np.ones(7)
    weekday[5:] = _u(rng, tier["weekend"])
    trigger = None
    if brand.trigger:
        trigger = {"variable": brand.trigger, "lead_days": int(rng.integers(1, 4)), "strength": round(_u(rng, (0.8, 1.4)), 3)}
    return TenantProfile(
        tenant=brand.tenant, name=brand.name, tier=brand.tier, industry=brand.industry, categories=categories,
        geos=geos, channels=channels, media_share=round(_u(rng, tier["media"]), 3),
        trend_per_year=round(_u(rng, (-0.05, 0.20)), 4), weekend_lift=round(float(weekday[5]), 4),
        weekday_profile=[round(float(x), 4) for x in weekday / weekday.mean()],
        yearly_amplitude=round(_u(rng, tier["yearly"]), 4), gift_season=round(_u(rng, tier["gift"]), 4),
        holiday_sensitivity=round(_u(rng, (0.5, 1.2)), 3), repeat_rate=round(_u(rng, tier["repeat"]), 3),
        units_per_order=round(_u(rng, tier["upo"]), 3),
        segments={"loyal": round(loyal, 3), "bargain": round(1 - loyal - new, 3), "new": round(new, 3)},
        payday_strength=round(_u(rng, (0.1, 0.3)), 3), launch_ramp_days=round(_u(rng, (0, 120)), 1),
        promotions_per_year=round(_u(rng, tier["promos"]), 2), promo_depth=(0.10, round(_u(rng, (0.25, 0.40)), 3)),
        promo_elasticity=round(_u(rng, (1.0, 2.0)), 3), nb_dispersion=round(_u(rng, (25, 60)), 1),
        shock_sd=round(_u(rng, (0.07, 0.10)), 4), geo_shock_sd=round(_u(rng, (0.04, 0.07)), 4),
        weather_trigger=trigger, seed=seed,
    )


def build_catalog(seed: int = DEFAULT_SEED, brands: tuple[Brand, ...] = BRANDS) -> list[TenantProfile]:
    """All simulated tenants (23 brands across the four tiers)."""
    return [build_profile(b, seed) for b in brands]


CATALOG_COLUMNS = ["tenant", "name", "tier", "industry", "source", "geos", "channels", "categories"]


def catalog_table(profiles: list[TenantProfile], imported: list[dict] = ()) -> "pl.DataFrame":
    """The public catalog: what a marketer knows of each tenant (no true parameters).

    One row per tenant (simulated profiles, then ``imported`` rows from
    :func:`weather_mmm.simulation.importer.imported_tenants`). Columns: tenant, name, tier
    (extreme|high|medium|low|unknown), industry, source (simulated|imported), geos (JSON city -> revenue
    share), channels (JSON list), categories (JSON list of name and affinity).

    Raises:
        ValueError: an imported tenant has the name of a simulated one.
    """
    import json

    import polars as pl

    rows = [{
        "tenant": p.tenant, "name": p.name, "tier": p.tier, "industry": p.industry, "source": p.source,
        "geos": p.geos, "channels": [c.channel for c in p.channels],
        "categories": [{"name": c.name, "affinity": c.affinity} for c in p.categories],
    } for p in profiles]
    clash = {r["tenant"] for r in rows} & {r["tenant"] for r in imported}
    if clash:
        raise ValueError(f"imported tenant(s) {', '.join(sorted(clash))} have the name of a simulated tenant")
    rows += list(imported)
    return pl.DataFrame([{**r, **{k: json.dumps(r[k]) for k in ("geos", "channels", "categories")}} for r in rows],
                        schema={c: pl.Utf8 for c in CATALOG_COLUMNS})


def simulated_tenants() -> set[str]:
    """Keys of the simulated brands (every other tenant is imported)."""
    return {b.tenant for b in BRANDS}


def get_profile(tenant: str, seed: int = DEFAULT_SEED) -> TenantProfile:
    """The simulated profile of ``tenant``.

    Raises:
        KeyError: ``tenant`` is not a simulated brand (names the known ones).
    """
    for brand in BRANDS:
        if brand.tenant == tenant:
            return build_profile(brand, seed)
    raise KeyError(f"unknown simulated tenant {tenant!r}; known: {', '.join(b.tenant for b in BRANDS)}")
