"""Versioned model store: every MMM fit saved as a file artifact, with a row in a DuckDB table of versions.

Artifacts live under ``WEATHER_MMM_MODELS`` (default ``storage/models``) as
``<tenant>/<version>.npz``: the posterior draws (``samples/<site>``, arrays ``[chains, draws, ...]``), the
model inputs (``inputs/<field>``) and a JSON header (engine, settings, fit time, divergences). Loading one
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

from weather_mmm.models.mmm import CODE_VERSION, MMMFit, MMMInputs, MMMSettings

VERSIONS_DDL = """
create table if not exists main.model_versions (
    tenant varchar, version varchar, engine varchar, data_fingerprint varchar, code_version varchar,
    settings varchar, created_at timestamp, path varchar, holdout_r2 double, holdout_mape double,
    status varchar, reason varchar)"""
STATUSES = ("usable", "not_converged", "drifted", "rolled_back")


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
                  "revenue_scale", "train", "holdout"):
        arrays[f"inputs/{field}"] = getattr(x, field)
    header = {"engine": fit.settings.engine, "code_version": CODE_VERSION, "tenant": tenant, "settings": asdict(fit.settings),
              "fit_seconds": fit.fit_seconds, "divergences": fit.divergences, "channels": x.channels, "geos": x.geos,
              "dates": [d.isoformat() for d in x.dates],
              "lift_tests": [{**t, "start": t["start"].isoformat(), "end": t["end"].isoformat()} for t in x.lift_tests]}
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
            **{k.split("/", 1)[1]: z[k] for k in z.files if k.startswith("inputs/")})
        samples = {k.split("/", 1)[1]: z[k] for k in z.files if k.startswith("samples/")}
    return MMMFit(inputs, samples, MMMSettings(**header["settings"]), header["fit_seconds"], header["divergences"])


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


def rollback(conn, tenant: str) -> dict:
    """Mark the newest usable version ``rolled_back``, so the one before it is used again.

    Returns the version now in use. Raises ValueError when the tenant has no earlier usable version.
    """
    usable = _usable(conn, tenant)
    if usable.height < 2:
        raise ValueError(f"tenant {tenant}: {usable.height} usable model version(s); nothing to roll back to")
    conn.execute("update main.model_versions set status = 'rolled_back', reason = 'rolled back by hand' "
                 "where tenant = ? and version = ?", [tenant, usable["version"][0]])
    return usable.row(1, named=True)
