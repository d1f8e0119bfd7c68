"""ROAS priors a marketer states: what a tenant's team believes each channel earns, before the data.

The file (``WEATHER_MMM_PRIORS``, default ``storage/mmm_priors.yaml``; no file: every channel keeps the default)
maps a tenant to the 90 % interval of each channel's ROAS it has a belief about (USD of revenue per USD of
spend; a channel left out keeps the default)::

    pageturner_books:
      roas:
        email: [2, 12]     # "email earns between 2 and 12 USD a dollar, 9 times in 10"
        meta: [0.5, 3]

The MMM's prior on a channel's ROAS is log-normal (``weather_mmm.models.mmm``, whose default is median 2, 90 %
between 0.75 and 5.4); a stated interval ``[low, high]`` becomes the log-normal whose central 90 % interval it is:
median ``sqrt(low * high)``, log-scale standard deviation ``log(high / low) / (2 * 1.645)``. Meridian takes ROI priors
the same way, as log-normals, for "incrementality experiments, industry benchmarks, or other domain knowledge"
(developers.google.com/meridian/docs/advanced-modeling/roi-mroi-contribution-parameterizations).
Changing a tenant's entry makes its MMM stale: the next run fits it again.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from weather_mmm.errors import WeatherMMMError
from weather_mmm.tenant_files import number, tenant_entries, tenant_fingerprints

#: The MMM's default prior on every channel's ROAS: LogNormal(log 2, 0.6), median 2, 90 % between 0.75 and 5.4.
DEFAULT_ROAS_PRIOR = (float(np.log(2.0)), 0.6)
Z90 = 1.6449  # standard normal 95 % quantile: a central 90 % interval is the median -/+ Z90 log-sd
FIELDS = ("roas",)


class PriorsError(WeatherMMMError, ValueError):
    """A priors file or entry that cannot be used; the message names the file, tenant, channel and field."""


def validate(fields: dict, where: str) -> dict:
    """One tenant's entry checked: ``{"roas": {channel: (low, high)}}`` with ``0 < low < high`` (ROAS, USD per
    USD). ``where`` prefixes every error.

    Raises:
        PriorsError: an unknown field, a channel's interval that is not two numbers, or out of order.
    """
    if not isinstance(fields, dict):
        raise PriorsError(f"{where} is {fields!r}; a mapping with {', '.join(FIELDS)} is expected")
    if unknown := sorted(set(fields) - set(FIELDS)):
        raise PriorsError(f"{where}: unknown field(s) {', '.join(map(str, unknown))}; fields are {', '.join(FIELDS)}")
    roas = fields.get("roas") or {}
    if not isinstance(roas, dict):
        raise PriorsError(f"{where}.roas is {roas!r}; a mapping channel -> [low, high] (90 % interval of ROAS) is expected")
    out = {}
    for channel, interval in roas.items():
        at = f"{where}.roas.{channel}"
        if not isinstance(interval, (list, tuple)) or len(interval) != 2:
            raise PriorsError(f"{at} is {interval!r}; the 90 % interval of its ROAS, [low, high], is expected")
        low, high = (number(at, v, PriorsError, 0.0, low_open=True) for v in interval)
        if not low < high:
            raise PriorsError(f"{at} is [{low:g}, {high:g}]; low must be below high")
        out[str(channel)] = (low, high)
    return {"roas": out} if out else {}


def read_priors(path: Path, tenant: str) -> dict[str, tuple[float, float]]:
    """``tenant``'s stated ROAS intervals in the YAML file at ``path`` (channel -> (low, high)); ``{}`` when the
    file or the entry is missing. Only ``tenant``'s entry is validated.

    Raises:
        PriorsError: the file is not YAML or not a mapping of tenants, or the tenant's entry is invalid.
    """
    return validate(tenant_entries(path, PriorsError, "ROAS priors").get(tenant) or {}, f"{path}: {tenant}").get("roas", {})


def stated_tenants(path: Path) -> list[str]:
    """The tenants the file at ``path`` names (none without a file). Raises as :func:`read_priors`."""
    return list(tenant_entries(path, PriorsError, "ROAS priors"))


def fingerprints(path: Path) -> dict[str, str]:
    """Tenant -> fingerprint of its stated priors ('' for none; an invalid entry: its error), for every tenant the
    file at ``path`` names. Raises :class:`PriorsError` when the file is not YAML or not a mapping of tenants."""
    return tenant_fingerprints(path, validate, PriorsError, "ROAS priors")


def log_normal(interval: tuple[float, float]) -> tuple[float, float]:
    """(log median, log-scale sd) of the log-normal whose central 90 % interval is ``interval`` (low, high)."""
    low, high = interval
    return float(np.log(low * high) / 2), float(np.log(high / low) / (2 * Z90))


def interval(prior: tuple[float, float]) -> tuple[float, float]:
    """The central 90 % interval (low, high) of the log-normal ``prior`` (log median, log-scale sd)."""
    loc, scale = prior
    return float(np.exp(loc - Z90 * scale)), float(np.exp(loc + Z90 * scale))


def roas_prior(channels: list[str], stated: dict[str, tuple[float, float]], where: str) -> np.ndarray:
    """The MMM's ROAS prior per channel, [C, 2] (log median, log-scale sd): the stated interval's log-normal
    (:func:`log_normal`) where ``stated`` has the channel, :data:`DEFAULT_ROAS_PRIOR` elsewhere.

    Raises:
        PriorsError: ``stated`` names a channel the tenant does not advertise on (``where`` names the tenant).
    """
    if unknown := sorted(set(stated) - set(channels)):
        raise PriorsError(f"{where}: ROAS prior for channel(s) {', '.join(unknown)}, which the tenant does not "
                          f"advertise on; its channels are {', '.join(channels)}")
    return np.array([log_normal(stated[c]) if c in stated else DEFAULT_ROAS_PRIOR for c in channels], dtype=float)
