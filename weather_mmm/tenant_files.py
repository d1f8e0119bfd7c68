"""YAML files a team keeps beside the platform, one entry per tenant: standing planning constraints
(``weather_mmm.allocation.standing``) and stated ROAS priors (``weather_mmm.models.priors``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import yaml


def tenant_entries(path: Path, error: type[Exception], what: str) -> dict:
    """The file at ``path`` as tenant -> entry (``what``: "constraints"), as written ({} without a file or when
    it is empty).

    Raises:
        error: the file is not YAML, or not a mapping of tenants (names the file).
    """
    if not path.exists():
        return {}
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as problem:
        raise error(f"{path}: not YAML ({problem})") from problem
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise error(f"{path}: a mapping of tenant -> {what} is expected, got {type(raw).__name__}")
    return {str(t): fields for t, fields in raw.items()}


def number(where: str, value, error: type[Exception], low: float, high: float | None = None, low_open: bool = False) -> float:
    """``value`` as a float when it is a number of at least ``low`` (above it, ``low_open``) and below ``high``.

    Raises:
        error: it is not a number or out of range (the message starts with ``where``).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise error(f"{where} is {value!r}; a number is expected")
    if value < low or (low_open and value == low) or (high is not None and value >= high):
        span = f"{'above' if low_open else 'at least'} {low:g}" + (f" and below {high:g}" if high is not None else "")
        raise error(f"{where} is {value!r}; it must be {span}")
    return float(value)


def entry_fingerprint(fields: dict) -> str:
    """What a data version reads of one validated entry: '' for none (no field set)."""
    return json.dumps(fields, sort_keys=True) if fields else ""


def tenant_fingerprints(path: Path, validate: Callable[[dict, str], dict], error: type[Exception], what: str
                        ) -> dict[str, str]:
    """Tenant -> :func:`entry_fingerprint` of its ``validate``d entry, for every tenant the file at ``path`` names;
    an invalid entry's value is its error, "invalid: ...", so that it differs from every valid one and the run
    that reports the error is not skipped. Reads the file once. Raises as :func:`tenant_entries`."""
    out = {}
    for tenant, fields in tenant_entries(path, error, what).items():
        try:
            out[tenant] = entry_fingerprint(validate(fields or {}, f"{path}: {tenant}"))
        except error as problem:
            out[tenant] = f"invalid: {problem}"
    return out
