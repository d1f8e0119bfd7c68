"""Content fingerprints: the data versions of tables and the code versions of modules.

The platform records them on every materialization (Dagster's ``code_version`` and ``data_version``, plus
the fingerprint of what a run read) so that a second run over unchanged inputs and code can skip its work.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

import polars as pl

from weather_mmm.settings import PROJECT_ROOT


def fingerprint(*parts: pl.DataFrame | Path | str | None) -> str:
    """SHA-256 (first 16 hex digits) over ``parts`` in order: a frame by its CSV text (column names, values,
    row order), a path by its bytes (a folder by its files' names and bytes, sorted; a missing path by its
    name), a string as is. The same inputs give the same fingerprint in every process."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, pl.DataFrame):
            digest.update(part.write_csv().encode())
        elif isinstance(part, Path):
            files = sorted(p for p in part.rglob("*") if p.is_file()) if part.is_dir() else [part]
            for file in files:
                digest.update(str(file.relative_to(part) if part.is_dir() else file.name).encode())
                digest.update(file.read_bytes() if file.exists() else b"<missing>")
        else:
            digest.update(str(part).encode())
        digest.update(b"\x00")
    return digest.hexdigest()[:16]


def source_version(*relative: str, exclude: tuple[str, ...] = ()) -> str:
    """Code version of the modules and packages at ``relative`` paths under the project root, but for the
    modules at ``exclude``: a fingerprint of what their Python sources do (:func:`code_text`: comments,
    docstrings and layout left out), so a change to their code marks what they compute as stale and a change
    to their documentation does not. A package is read whole, so a module added to it counts until it is
    excluded by name.

    Raises:
        SyntaxError: a module does not parse (names the file and line).
    """
    files, skip = [], {PROJECT_ROOT / rel for rel in exclude}
    for rel in relative:
        path = PROJECT_ROOT / rel
        files += sorted(p for p in path.rglob("*.py") if p not in skip) if path.is_dir() else [path]
    return fingerprint(*(f"{f.relative_to(PROJECT_ROOT)}\n{code_text(f) if f.exists() else '<missing>'}" for f in files))


def code_text(path: Path) -> str:
    """A Python module's code without its comments, docstrings and layout: its syntax tree as ``ast.dump``
    prints it (no line numbers), with the docstring of the module and of every class and function removed.

    Raises:
        SyntaxError: the module does not parse (names the file and line).
    """
    return _tree_text(path.read_bytes(), str(path))


@functools.cache  # by content: the code versions read the shared modules several times at start-up
def _tree_text(source: bytes, filename: str) -> str:
    tree = ast.parse(source, filename=filename)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body \
                and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant) \
                and isinstance(node.body[0].value.value, str):
            node.body = node.body[1:] or [ast.Pass()]
    return ast.dump(tree)
