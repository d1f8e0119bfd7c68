"""Versioned model store: every MMM fit saved as a file artifact, with a row in a DuckDB table of versions.

Artifacts live under ``WEATHER_MMM_MODELS`` (default ``storage/models``) as
``<tenant>/<version>.npz``: the posterior draws (``samples/<site>``, arrays ``[chains, draws, ...]``), the
model inputs (``inputs/<field>``, the ROAS prior included) and a JSON header (engine, settings, fit time,
divergences, lift tests, the channels whose ROAS prior was stated). Loading one
restores an :class:`~weather_mmm.models.mmm.MMMFit` that predicts and builds response curves without the
warehouse. Fits are written outside the warehouse (they run in parallel); the version row is one small
insert into ``model_versions``:

    tenant, version, engine, data_fingerprint, code_version, settings (JSON), created_at, path,
    holdout_r2, holdout_mape, status, reason

``data_fingerprint`` is the fingerprint of everything the fit read (the Dagster layer's
``assets.versions.tenant_model_inputs``).

``status`` is ``usable`` (converged, no drift), ``not_converged``, ``drifted`` or ``rolled_back``.
Allocations use the newest ``usable`` version of this code's model (:func:`usable_version`), so a fit that
fails its checks is kept for inspection while the previous passing version stays in use; a fit of an
earlier model version (``code_version``) is kept but not used, since this code would read its draws wrongly.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import polars as pl

from weather_mmm.errors import WeatherMMMError
from weather_mmm.models import priors
from weather_mmm.models.mmm import CODE_VERSION, MMMFit, MMMInputs, MMMSettings

VERSIONS_DDL = """
create table if not exists main.model_versions (
    tenant varchar, version varchar, engine varchar, data_fingerprint varchar, code_version varchar,
    settings varchar, created_at timestamp, path varchar, holdout_r2 double, holdout_mape double,
    status varchar, reason varchar)"""
STATUSES = ("usable", "not_converged", "drifted", "rolled_back")


class ModelStoreError(WeatherMMMError, ValueError):
    """A model version that cannot be used or rolled back to (names the tenant and version)."""


def save_fit(root: Path, tenant: str, fit: MMMFit) -> tuple[str, Path]:
    """Write ``fit`` as ``root/<tenant>/<version>.npz``; the version is the UTC time to the microsecond.

    Returns (version, path). Never overwrites an existing artifact.
    """
    version = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    folder = root / tenant
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{version}.npz"
    if path.exists():
        raise FileExistsError(f"model artifact {path} exists already")
    x = fit.inputs
    arrays = {f"samples/{k}": v for k, v in fit.samples.items()}
    for field in ("revenue", "spend", "controls", "weather", "weather_normal", "spend_scale", "weather_center", "weather_scale",
                  "revenue_scale", "train", "holdout", "roas_prior"):
        arrays[f"inputs/{field}"] = getattr(x, field)
    header = {"engine": fit.settings.engine, "code_version": CODE_VERSION, "tenant": tenant, "settings": asdict(fit.settings),
              "fit_seconds": fit.fit_seconds, "divergences": fit.divergences, "channels": x.channels, "geos": x.geos,
              "dates": [d.isoformat() for d in x.dates],
              "lift_tests": [{**t, "start": t["start"].isoformat(), "end": t["end"].isoformat()} for t in x.lift_tests],
              "roas_prior_stated": list(x.roas_prior_stated)}
    with open(path, "wb") as f:
        np.savez_compressed(f, header=np.array(json.dumps(header)), **arrays)
    return version, path


def load_fit(path: Path) -> MMMFit:
    """Restore a fit saved by :func:`save_fit`.

    Raises:
        FileNotFoundError: the artifact is missing (names the path).
        ValueError: the artifact was fitted by another version of the model (``CODE_VERSION``, ``mmm-6`` when
            the artifact does not say) and cannot predict with this code.
    """
    if not Path(path).exists():
        raise FileNotFoundError(f"model artifact {path} is missing; refit the tenant or roll back to another version")
    with np.load(path) as z:
        header = json.loads(str(z["header"]))
        fitted_by = header.get("code_version", "mmm-6" if "geos" in header else "mmm-5 or older")
        if fitted_by != CODE_VERSION:
            raise ValueError(f"model artifact {path} was fitted by model {fitted_by}; this code predicts with {CODE_VERSION} "
                             "(its parameters mean something else): refit the tenant")
        inputs = MMMInputs(
            dates=[dt.date.fromisoformat(d) for d in header["dates"]], channels=header["channels"], geos=header["geos"],
            lift_tests=tuple({**t, "start": dt.date.fromisoformat(t["start"]), "end": dt.date.fromisoformat(t["end"])}
                             for t in header.get("lift_tests", [])),
            roas_prior_stated=tuple(header.get("roas_prior_stated", [])),  # an artifact without: the default prior
            **{k.split("/", 1)[1]: z[k] for k in z.files if k.startswith("inputs/")})
        samples = {k.split("/", 1)[1]: z[k] for k in z.files if k.startswith("samples/")}
    return MMMFit(inputs, samples, MMMSettings(**header["settings"]), header["fit_seconds"], header["divergences"])


def stated_priors(path: Path) -> dict[str, tuple[float, float]] | None:
    """The ROAS priors a team stated for the fit saved at ``path``: channel -> 90 % interval (low, high); {} when
    none was stated (an artifact from before priors could be stated has none); None when the artifact is missing.
    Reads the header and one small array, not the draws."""
    if not Path(path).exists():
        return None
    with np.load(path) as z:
        header = json.loads(str(z["header"]))
        stated = header.get("roas_prior_stated", [])
        prior = z["inputs/roas_prior"] if stated else None
    return {c: priors.interval(tuple(prior[header["channels"].index(c)])) for c in stated}


def record_version(conn, row: dict) -> None:
    """Insert one version row (keys as in the module docstring) into ``model_versions``."""
    conn.execute(VERSIONS_DDL)
    if row["status"] not in STATUSES:
        raise ValueError(f"tenant {row['tenant']}: unknown model status {row['status']!r}; one of {STATUSES}")
    cols = ["tenant", "version", "engine", "data_fingerprint", "code_version", "settings", "created_at", "path",
            "holdout_r2", "holdout_mape", "status", "reason"]
    conn.execute(f"insert into main.model_versions ({', '.join(cols)}) values ({', '.join('?' * len(cols))})",
                 [row[c] for c in cols])


def versions(conn, tenant: str) -> pl.DataFrame:
    """Every version of ``tenant``, newest first (empty, without columns, when no fit was ever recorded).
    Works on a read-only connection."""
    if not conn.execute("select count(*) from information_schema.tables where table_schema = 'main' "
                        "and table_name = 'model_versions'").fetchone()[0]:
        return pl.DataFrame()
    return pl.from_arrow(conn.execute("select * from main.model_versions where tenant = ? order by version desc",
                                      [tenant]).to_arrow_table())


def _usable(conn, tenant: str) -> pl.DataFrame:
    rows = versions(conn, tenant)
    return rows.filter((pl.col("status") == "usable") & (pl.col("code_version") == CODE_VERSION)) if rows.height else rows


def usable_version(conn, tenant: str) -> dict | None:
    """The newest ``usable`` version row of ``tenant`` fitted by this code's model (``CODE_VERSION``), or None."""
    rows = _usable(conn, tenant)
    return rows.row(0, named=True) if rows.height else None


def in_use(conn, tenant: str, version: str) -> dict:
    """The row of ``version``, which must be the version of ``tenant`` in use (:func:`usable_version`).

    Raises:
        ModelStoreError: ``version`` is not the one in use (names it and the one that is, or says none is)."""
    row = usable_version(conn, tenant)
    if row is None or row["version"] != version:
        raise ModelStoreError(f"tenant {tenant}: version {version} is not the model version in use "
                              f"({row['version'] if row else 'none is'})")
    return row


def rollback(conn, tenant: str, to: str | None = None) -> dict:
    """Put an earlier version of ``tenant`` back in use: without ``to``, the usable version before the newest; with
    it, that version (``usable``, or ``rolled_back`` before, which undoes a rollback). Every usable version newer
    than it is marked ``rolled_back`` (kept, never used); it is marked ``usable``. Only versions of this code's
    model (``CODE_VERSION``) qualify: an earlier model's draws mean other things.

    Returns the version row now in use.

    Raises:
        ModelStoreError: nothing to roll back to, or ``to`` is not a version of this tenant that may be used
            (names it, its status and the versions that may).
    """
    rows = versions(conn, tenant)
    eligible = rows.filter(pl.col("status").is_in(["usable", "rolled_back"]) & (pl.col("code_version") == CODE_VERSION)) \
        if rows.height else rows
    usable = eligible.filter(pl.col("status") == "usable") if eligible.height else eligible  # newest first, as rows
    if to is None:
        if usable.height < 2:
            raise ModelStoreError(f"tenant {tenant}: {usable.height} usable model version(s) of model {CODE_VERSION}; "
                                  "nothing to roll back to")
        target = usable.row(1, named=True)
    else:
        found = eligible.filter(pl.col("version") == to)
        if found.is_empty():
            other = rows.filter(pl.col("version") == to) if rows.height else rows
            if other.is_empty():
                why = "is not in model_versions"
            elif other["code_version"][0] != CODE_VERSION:
                why = f"was fitted by model {other['code_version'][0]}, and this code predicts with {CODE_VERSION}"
            else:
                why = f"is {other['status'][0]}: {other['reason'][0]}"
            may = ", ".join(eligible["version"]) or "none"
            raise ModelStoreError(f"tenant {tenant}: version {to} {why}; versions that may be used: {may}")
        target = found.row(0, named=True)
        if usable.height and usable["version"][0] == to:
            raise ModelStoreError(f"tenant {tenant}: version {to} is already the one in use")
    newer = usable.filter(pl.col("version") > target["version"])["version"].to_list()
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    conn.begin()  # both updates or neither
    conn.execute("update main.model_versions set status = 'rolled_back', reason = ? "
                 "where tenant = ? and version in (select unnest(?::varchar[]))",
                 [f"rolled back by hand on {when} to {target['version']}", tenant, newer])
    conn.execute("update main.model_versions set status = 'usable', reason = ? "
                 "where tenant = ? and version = ? and status = 'rolled_back'",
                 [f"put back in use by hand on {when}", tenant, target["version"]])
    conn.commit()
    return usable_version(conn, tenant)


def made_from_rolled_back_versions(conn) -> pl.DataFrame:
    """Tenants whose stored plan (``allocation_summary``) or MMM tables (``mmm_diagnostics``) were made from a version
    since rolled back, with that version (``made_from``; the plan's where both are), when and to what it was rolled
    back (``rolled_back``, its reason) and the version now in use (``in_use``, null when none is). Empty before
    ``model_versions`` and one of the others exist. Works on a read-only connection."""
    tables = {t for (t,) in conn.execute("select table_name from information_schema.tables where table_schema = 'main'").fetchall()}
    made = [f"select tenant, model_version, {rank} as rank from main.{t}" + (" where channel = 'all'" if t == "allocation_summary" else "")
            for rank, t in enumerate(("allocation_summary", "mmm_diagnostics")) if t in tables]
    if "model_versions" not in tables or not made:
        return pl.DataFrame(schema={"tenant": pl.String, "made_from": pl.String, "rolled_back": pl.String,
                                    "in_use": pl.String})
    return pl.from_arrow(conn.execute(f"""
        select a.tenant, arg_min(a.model_version, a.rank) made_from, arg_min(v.reason, a.rank) rolled_back,
               (select max(version) from main.model_versions u where u.tenant = a.tenant and u.status = 'usable'
                  and u.code_version = ?) in_use
        from ({" union all ".join(made)}) a join main.model_versions v on v.tenant = a.tenant and v.version = a.model_version
        where v.status = 'rolled_back' group by a.tenant order by a.tenant""", [CODE_VERSION]).to_arrow_table())
