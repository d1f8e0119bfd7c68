"""Planning constraints: a tenant's standing ones, kept in a YAML file, under the constraints of one run.

The file (``WEATHER_MMM_PLAN_CONSTRAINTS``, default ``storage/plan_constraints.yaml``; none means none) maps a
tenant to the fields of one plan, every field optional::

    voltbox_electronics:
      budget_usd: 8000              # total over the planning horizon, USD
      min_daily_usd: {meta: 150}    # channel -> USD/day
      max_daily_usd: {meta: 400}
      fixed_daily_usd: {email: 100}
      target_roas: 1.5              # incremental revenue per USD spent, at least
      bound_share: 0.3              # a channel not bounded: current daily spend ± this share

Every scheduled and main-job plan of that tenant meets them. A run's own constraints (the launchpad's run
config, ``weather-mmm plan`` options) replace the standing ones field by field: a run that sets
``max_daily_usd`` replaces the whole standing ``max_daily_usd`` and keeps every other standing field.
"""

from __future__ import annotations

from pathlib import Path

from weather_mmm.allocation.optimize import DEFAULT_BOUND_SHARE, Constraints
from weather_mmm.errors import WeatherMMMError
from weather_mmm.tenant_files import number, tenant_entries, tenant_fingerprints

PER_CHANNEL = ("min_daily_usd", "max_daily_usd", "fixed_daily_usd")
FIELDS = ("budget_usd", *PER_CHANNEL, "target_roas", "bound_share")


class PlanConstraintsError(WeatherMMMError, ValueError):
    """A standing-constraints file that cannot be used; the message names the file, tenant and field."""


def validate(fields: dict, where: str) -> dict:
    """``fields`` of one plan checked (names in :data:`FIELDS`; USD ≥ 0; target ROAS > 0; bound share in
    [0, 1)), numbers as floats; ``None`` values dropped (not set). ``where`` prefixes every error."""
    if not isinstance(fields, dict):
        raise PlanConstraintsError(f"{where} is {fields!r}; a mapping of {', '.join(FIELDS)} is expected")
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise PlanConstraintsError(f"{where}: unknown field(s) {', '.join(map(str, unknown))}; fields are {', '.join(FIELDS)}")
    out = {}
    for name, value in fields.items():
        if value is None:
            continue
        if name in PER_CHANNEL:
            if not isinstance(value, dict):
                raise PlanConstraintsError(f"{where}.{name} is {value!r}; a mapping channel -> USD/day is expected")
            out[name] = {str(c): number(f"{where}.{name}.{c}", v, PlanConstraintsError, 0.0) for c, v in value.items()}
        elif name == "budget_usd":
            out[name] = number(f"{where}.budget_usd", value, PlanConstraintsError, 0.0)
        elif name == "target_roas":
            out[name] = number(f"{where}.target_roas", value, PlanConstraintsError, 0.0, low_open=True)
        else:
            out[name] = number(f"{where}.bound_share", value, PlanConstraintsError, 0.0, 1.0)
    return out


def read_standing(path: Path, tenant: str) -> dict:
    """``tenant``'s standing fields (:func:`validate`d) in the YAML file at ``path``; ``{}`` when the file or the
    entry is missing. Only ``tenant``'s entry is validated, so a mistake in another's fails that one's plans alone.

    Raises:
        PlanConstraintsError: the file is not YAML or not a mapping of tenants, or a field of ``tenant`` is unknown
            or out of range (names the file, tenant and field).
    """
    return validate(tenant_entries(path, PlanConstraintsError, "constraints").get(tenant) or {}, f"{path}: {tenant}")


def standing_tenants(path: Path) -> list[str]:
    """The tenants the file at ``path`` names (none without a file). Raises as :func:`read_standing`."""
    return list(tenant_entries(path, PlanConstraintsError, "constraints"))


def merged(standing: dict, run: dict) -> dict:
    """The fields a plan uses: ``standing`` with every field the run sets (not None) replacing it."""
    return {**standing, **{k: v for k, v in run.items() if v is not None}}


def constraints(fields: dict, margin: float | None) -> Constraints:
    """:class:`Constraints` for a plan's ``fields`` (:data:`FIELDS`; any left out takes its default) and the
    tenant's contribution ``margin`` (None when unknown)."""
    lows, highs = fields.get("min_daily_usd", {}), fields.get("max_daily_usd", {})
    bounded = sorted(set(lows) | set(highs))
    return Constraints(budget=fields.get("budget_usd"), fixed=dict(fields.get("fixed_daily_usd", {})),
                       target_roas=fields.get("target_roas"),
                       bounds={c: (lows.get(c), highs.get(c)) for c in bounded} or None,
                       bound_share=fields.get("bound_share", DEFAULT_BOUND_SHARE), margin=margin)


def describe(fields: dict) -> str:
    """A plan's ``fields`` in words, '' for none: "budget 8,000 USD; meta at least 150 USD/day; email fixed at
    100.5 USD/day; target ROAS 1.5"."""
    def usd(value: float) -> str:  # cents only when there are any: 8,000 and 150.5
        return f"{value:,.2f}".rstrip("0").rstrip(".")

    words = [f"budget {usd(fields['budget_usd'])} USD"] if "budget_usd" in fields else []
    for name, what in (("min_daily_usd", "at least"), ("max_daily_usd", "at most"), ("fixed_daily_usd", "fixed at")):
        words += [f"{c} {what} {usd(v)} USD/day" for c, v in sorted(fields.get(name, {}).items())]
    if "target_roas" in fields:
        words.append(f"target ROAS {fields['target_roas']:g}")
    if "bound_share" in fields:
        words.append(f"channels not bounded within ±{fields['bound_share']:.0%} of current spend")
    return "; ".join(words)


def fingerprints(path: Path) -> dict[str, str]:
    """Tenant -> fingerprint of its standing fields ('' for none), for every tenant the file at ``path`` names; an
    invalid entry's value is its error (``weather_mmm.tenant_files.tenant_fingerprints``).

    Raises:
        PlanConstraintsError: the file is not YAML or not a mapping of tenants (names the file).
    """
    return tenant_fingerprints(path, validate, PlanConstraintsError, "constraints")
