"""Per-city stochastic daily weather generator: seasonal means, day-to-day persistence, wet/dry spells.

The generator is the classic Richardson-type weather generator (Richardson 1981, "Stochastic simulation
of daily precipitation, temperature, and solar radiation", Water Resources Research 17(1); Wilks &
Wilby 1999, "The weather generation game", Progress in Physical Geography 23(3)):

* temperature: daily mean = seasonal mean(day of year) + seasonal sd(day of year) * z, z an AR(1) process;
  the diurnal range (max - min) likewise; max and min are mean +/- range / 2;
* precipitation: a first-order two-state Markov chain for wet/dry days (monthly p01, p11) with gamma
  distributed wet-day amounts (monthly shape, scale); a wet day has at least 0.254 mm (0.01 in, NOAA);
* relative humidity: Gaussian AR(1) around a seasonal mean; wind speed: log-normal AR(1).

Seasonal curves are two-harmonic Fourier series in the day of year. Each variable is fitted on the real
seeds where the city has at least a year of them; otherwise calibrated on the published monthly normals in
``cities.json`` (NOAA 1991-2020), with the spread and persistence below, which are typical mid-latitude
values (Wilks 2011, "Statistical Methods in the Atmospheric Sciences", 3rd ed., ch. 9) and are stated,
not fitted, in the stored parameters.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from weather_mmm.errors import WeatherInputError
from weather_mmm.settings import SEEDS_DIR
from weather_mmm.weather.cities import City
from weather_mmm.weather.seeds import WeatherRecord

CLIMATOLOGY_FILE = SEEDS_DIR / "climatology.json"
WET_DAY_MM = 0.254
MIN_FIT_DAYS = 365
N_HARMONICS = 2

# Assumed when calibrating on normals (see module docstring).
NORMALS_TEMP_SD_C = 3.0
NORMALS_TEMP_PHI = 0.7
NORMALS_RANGE_CV = 0.25
NORMALS_RANGE_PHI = 0.5
NORMALS_WET_PERSISTENCE = 0.3  # lag-1 autocorrelation of wet/dry occurrence, p11 - p01
NORMALS_GAMMA_SHAPE = 0.75
NORMALS_RH_SD = 8.0
NORMALS_RH_PHI = 0.6
NORMALS_LOG_WIND_SD = 0.35
NORMALS_WIND_PHI = 0.5

_MID_MONTH_DOY = np.array([15.5, 45.0, 74.5, 105.0, 135.5, 166.0, 196.5, 227.5, 258.0, 288.5, 319.0, 349.5])


def harmonics(doy: np.ndarray) -> np.ndarray:
    """Design matrix (n, 1 + 2 * N_HARMONICS) of a Fourier series in the day of year (1..366)."""
    w = 2 * np.pi * np.asarray(doy, dtype=float) / 365.25
    cols = [np.ones_like(w)]
    for k in range(1, N_HARMONICS + 1):
        cols += [np.cos(k * w), np.sin(k * w)]
    return np.column_stack(cols)


def day_of_year(dates) -> np.ndarray:
    return np.array([d.timetuple().tm_yday for d in dates])


def months(dates) -> np.ndarray:
    """Month index 0..11 of each date."""
    return np.array([d.month - 1 for d in dates])


@dataclass
class AR1Variable:
    """x = mean(doy) + sd(doy) * z, z_t = phi z_{t-1} + sqrt(1 - phi^2) e_t (on log scale if ``log``)."""

    mean: list[float]
    sd: list[float]
    phi: float
    source: str
    log: bool = False
    lower: float | None = None
    upper: float | None = None

    def mean_sd(self, doy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = harmonics(doy)
        return x @ np.array(self.mean), np.maximum(x @ np.array(self.sd), 1e-3)

    def normal(self, doy: np.ndarray) -> np.ndarray:
        """Day-of-year normal in the variable's unit (the median for log-normal variables)."""
        mu, _ = self.mean_sd(doy)
        return np.exp(mu) if self.log else mu

    def simulate(self, doy: np.ndarray, observed: np.ndarray, eps: np.ndarray) -> np.ndarray:
        """A series that equals ``observed`` where it is not NaN and continues the AR(1) from it elsewhere."""
        mu, sd = self.mean_sd(doy)
        obs = np.log(np.maximum(observed, 1e-6)) if self.log else observed
        z_obs = (obs - mu) / sd
        z = np.empty(len(doy))
        innov = np.sqrt(1 - self.phi**2)
        prev = 0.0
        for t in range(len(doy)):
            prev = z_obs[t] if not np.isnan(z_obs[t]) else self.phi * prev + innov * eps[t]
            z[t] = prev
        x = mu + sd * z
        x = np.exp(x) if self.log else x
        if self.lower is not None or self.upper is not None:
            x = np.clip(x, self.lower, self.upper)
        return np.where(np.isnan(observed), x, observed)


@dataclass
class PrecipitationVariable:
    """Markov-chain occurrence (monthly p01 = P(wet | dry yesterday), p11 = P(wet | wet)) and gamma amounts (mm)."""

    p01: list[float]
    p11: list[float]
    shape: list[float]
    scale: list[float]
    source: str

    def normal(self, month: np.ndarray) -> np.ndarray:
        """Expected daily precipitation (mm) for each month index 0..11."""
        p01, p11 = np.array(self.p01)[month], np.array(self.p11)[month]
        wet = p01 / (1 + p01 - p11)
        return wet * (WET_DAY_MM + np.array(self.shape)[month] * np.array(self.scale)[month])

    def quantile(self, month: np.ndarray, q: float) -> np.ndarray:
        """Quantile ``q`` of wet-day amounts (mm) for each month index."""
        return WET_DAY_MM + stats.gamma.ppf(q, np.array(self.shape)[month], scale=np.array(self.scale)[month])

    def simulate(self, month: np.ndarray, observed: np.ndarray, u_occ: np.ndarray, u_amt: np.ndarray) -> np.ndarray:
        p01, p11 = np.array(self.p01)[month], np.array(self.p11)[month]
        wet = np.empty(len(month), dtype=bool)
        prev = False
        for t in range(len(month)):
            if not np.isnan(observed[t]):
                prev = observed[t] >= WET_DAY_MM
            else:
                prev = u_occ[t] < (p11[t] if prev else p01[t])
            wet[t] = prev
        amount = WET_DAY_MM + stats.gamma.ppf(u_amt, np.array(self.shape)[month], scale=np.array(self.scale)[month])
        x = np.where(wet, np.round(amount, 1), 0.0)
        return np.where(np.isnan(observed), x, observed)


@dataclass
class CityClimatology:
    """Fitted generator for one city. Variables: ``temperature`` (daily mean, °C), ``diurnal_range`` (°C),
    ``precipitation`` (mm), ``humidity`` (%), ``wind`` (km/h)."""

    city: str
    temperature: AR1Variable
    diurnal_range: AR1Variable
    precipitation: PrecipitationVariable
    humidity: AR1Variable
    wind: AR1Variable
    fitted_on: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = {"city": self.city, "fitted_on": self.fitted_on}
        for name in ("temperature", "diurnal_range", "precipitation", "humidity", "wind"):
            out[name] = dict(vars(getattr(self, name)))
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "CityClimatology":
        return cls(
            city=d["city"],
            temperature=AR1Variable(**d["temperature"]),
            diurnal_range=AR1Variable(**d["diurnal_range"]),
            precipitation=PrecipitationVariable(**d["precipitation"]),
            humidity=AR1Variable(**d["humidity"]),
            wind=AR1Variable(**d["wind"]),
            fitted_on=d.get("fitted_on", {}),
        )


def _round(values) -> list[float]:
    return [round(float(v), 5) for v in values]


def _fit_ar1(dates, values: np.ndarray, source: str, log: bool = False, lower=None, upper=None) -> AR1Variable:
    ok = ~np.isnan(values)
    doy = day_of_year(dates)
    y = np.log(np.maximum(values[ok], 1e-3)) if log else values[ok]
    x = harmonics(doy[ok])
    mean, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ mean
    sd, *_ = np.linalg.lstsq(x, np.abs(resid) * np.sqrt(np.pi / 2), rcond=None)
    sd_fit = np.maximum(x @ sd, 0.3 * np.std(resid))
    z = np.full(len(values), np.nan)
    z[ok] = resid / sd_fit
    pairs = ~np.isnan(z[1:]) & ~np.isnan(z[:-1])
    consecutive = np.array([(b - a).days == 1 for a, b in zip(dates[:-1], dates[1:])])
    pairs &= consecutive
    phi = float(np.corrcoef(z[:-1][pairs], z[1:][pairs])[0, 1]) if pairs.sum() > 30 else 0.5
    return AR1Variable(_round(mean), _round(sd), round(min(max(phi, 0.0), 0.95), 4), source, log, lower, upper)


def _ar1_from_monthly(monthly: list[float], sd: float, phi: float, source: str, log=False, lower=None, upper=None,
                      sd_is_cv: bool = False) -> AR1Variable:
    y = np.log(np.array(monthly)) if log else np.array(monthly, dtype=float)
    x = harmonics(_MID_MONTH_DOY)
    mean, *_ = np.linalg.lstsq(x, y, rcond=None)
    sd_coef, *_ = np.linalg.lstsq(x, (np.abs(y) * sd) if sd_is_cv else np.full(12, sd), rcond=None)
    return AR1Variable(_round(mean), _round(sd_coef), phi, source, log, lower, upper)


def _fit_precipitation(dates, values: np.ndarray, source: str) -> PrecipitationVariable:
    m = months(dates)
    ok = ~np.isnan(values)
    wet = values >= WET_DAY_MM
    consecutive = np.array([False] + [(b - a).days == 1 for a, b in zip(dates[:-1], dates[1:])])
    p01, p11, shape, scale = [], [], [], []
    for month in range(12):
        sel = (m == month) & ok
        prev_ok = sel & consecutive & np.concatenate([[False], ok[:-1]])
        prev_wet = np.concatenate([[False], wet[:-1]])
        dry_then = prev_ok & ~prev_wet
        wet_then = prev_ok & prev_wet
        # Add-one smoothing keeps a dry month's probabilities away from exactly 0 or 1.
        p01.append((wet[dry_then].sum() + 0.5) / (dry_then.sum() + 1.0))
        p11.append((wet[wet_then].sum() + 0.5) / (wet_then.sum() + 1.0))
        amounts = values[sel & wet] - WET_DAY_MM
        if len(amounts) >= 8:
            a, _, s = stats.gamma.fit(np.maximum(amounts, 0.05), floc=0)
        else:
            a, s = NORMALS_GAMMA_SHAPE, max(float(np.mean(amounts)) if len(amounts) else 2.0, 0.5) / NORMALS_GAMMA_SHAPE
        shape.append(a)
        scale.append(s)
    return PrecipitationVariable(_round(p01), _round(p11), _round(shape), _round(scale), source)


def _precipitation_from_normals(city: City, source: str) -> PrecipitationVariable:
    days = np.array([31, 28.25, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    pi = np.clip(np.array(city.normals["wet_days"]) / days, 0.01, 0.95)
    r = NORMALS_WET_PERSISTENCE
    mean_amount = np.array(city.normals["precip_mm"]) / np.maximum(np.array(city.normals["wet_days"]), 0.1)
    scale = np.maximum(mean_amount - WET_DAY_MM, 0.1) / NORMALS_GAMMA_SHAPE
    return PrecipitationVariable(_round(pi * (1 - r)), _round(pi + r * (1 - pi)), _round([NORMALS_GAMMA_SHAPE] * 12),
                                 _round(scale), source)


def _need_normals(city: City, key: str, variable: str) -> list[float]:
    if key not in city.normals:
        raise WeatherInputError(
            f"city {city.city}: no real record of {variable} and no '{key}' normals in its city entry to calibrate on"
        )
    return city.normals[key]


def fit_city(city: City, record: WeatherRecord | None) -> CityClimatology:
    """Fit the generator for ``city`` on its real record, falling back to normals variable by variable.

    Raises:
        WeatherInputError: a variable has neither a year of real data nor normals.
    """
    frame = record.frame if record is not None else None
    dates = list(frame["date"]) if frame is not None else []
    label = f"fit on {Path(record.source).name}" if record is not None else ""
    normals = "calibrated on NOAA 1991-2020 normals (cities.json)"

    def column(name: str) -> np.ndarray:
        if frame is None or name not in frame.columns:
            return np.full(len(dates), np.nan)
        return frame[name].to_numpy().astype(float)

    tmax, tmin, tmean = column("temperature_2m_max"), column("temperature_2m_min"), column("temperature_2m_mean")
    tmean = np.where(np.isnan(tmean), (tmax + tmin) / 2, tmean)
    trange = tmax - tmin
    n_obs = lambda a: int((~np.isnan(a)).sum())  # noqa: E731
    span = f"{dates[0]}..{dates[-1]}" if dates else ""

    if n_obs(tmean) >= MIN_FIT_DAYS:
        temperature = _fit_ar1(dates, tmean, f"{label} {span} ({n_obs(tmean)} days)")
    else:
        hi, lo = _need_normals(city, "tmax_c", "temperature"), _need_normals(city, "tmin_c", "temperature")
        temperature = _ar1_from_monthly([(a + b) / 2 for a, b in zip(hi, lo)], NORMALS_TEMP_SD_C, NORMALS_TEMP_PHI, normals)
    if n_obs(trange) >= MIN_FIT_DAYS:
        diurnal = _fit_ar1(dates, trange, f"{label} {span} ({n_obs(trange)} days)", lower=0.5)
    else:
        hi, lo = _need_normals(city, "tmax_c", "diurnal range"), _need_normals(city, "tmin_c", "diurnal range")
        diurnal = _ar1_from_monthly([a - b for a, b in zip(hi, lo)], NORMALS_RANGE_CV, NORMALS_RANGE_PHI, normals,
                                    lower=0.5, sd_is_cv=True)
    precip = column("precipitation_sum")
    if n_obs(precip) >= MIN_FIT_DAYS:
        precipitation = _fit_precipitation(dates, precip, f"{label} {span} ({n_obs(precip)} days)")
    else:
        _need_normals(city, "precip_mm", "precipitation")
        _need_normals(city, "wet_days", "precipitation")
        precipitation = _precipitation_from_normals(city, normals)
    rh = column("relative_humidity_2m_mean")
    if n_obs(rh) >= MIN_FIT_DAYS:
        humidity = _fit_ar1(dates, rh, f"{label} {span} ({n_obs(rh)} days)", lower=5.0, upper=100.0)
    else:
        humidity = _ar1_from_monthly(_need_normals(city, "rh_pct", "relative humidity"), NORMALS_RH_SD, NORMALS_RH_PHI,
                                     normals, lower=5.0, upper=100.0)
    ws = column("wind_speed_10m_mean")
    if n_obs(ws) >= MIN_FIT_DAYS:
        wind = _fit_ar1(dates, ws, f"{label} {span} ({n_obs(ws)} days)", log=True)
    else:
        wind = _ar1_from_monthly(_need_normals(city, "wind_kmh", "wind speed"), NORMALS_LOG_WIND_SD, NORMALS_WIND_PHI,
                                 normals, log=True)
    fitted_on = {"record": record.source if record is not None else "none", "fitted": dt.date.today().isoformat()}
    return CityClimatology(city.city, temperature, diurnal, precipitation, humidity, wind, fitted_on)


def save_climatology(climatologies: dict[str, CityClimatology], path: Path = CLIMATOLOGY_FILE) -> None:
    doc = {
        "about": "Per-city weather generator parameters (weather_mmm.weather.climatology). Refit with "
                 "`weather-mmm fit-climatology --seeds DIR`.",
        "cities": {c: clim.to_dict() for c, clim in sorted(climatologies.items())},
    }
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")


def load_climatology(path: Path = CLIMATOLOGY_FILE) -> dict[str, CityClimatology]:
    """The committed climatology, keyed by city.

    Raises:
        WeatherInputError: the file is missing or malformed.
    """
    try:
        doc = json.loads(Path(path).read_text())
        return {c: CityClimatology.from_dict(d) for c, d in doc["cities"].items()}
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise WeatherInputError(f"{path}: cannot load climatology ({exc!r}); refit with `weather-mmm fit-climatology`") from None
