"""The ``modax`` command line: one module per command, all registered on one typer app.

Two helpers behind commands are public for notebooks and benchmarks: :func:`build_pipeline` (the
pipeline of ``ingest``, ``replay`` and ``simulate``) and :func:`missing_requirements` (``modax
wokwi run``). The C-MAPSS protocol behind ``modax eval cmapss`` is
:func:`modax.models.wear.cmapss.run_cmapss`.

Importing this package is light (no numba, pandas, DuckDB, Delta Lake nor Panel): each command
imports what it needs when it runs, so ``modax --help`` answers at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modax.cli import (  # noqa: F401  (register commands)
    _advise,
    _broker,
    _config,
    _dashboards,
    _demo,
    _doctor,
    _eval_cmapss,
    _eval_sim_anomaly,
    _eval_skab,
    _ingest,
    _lake,
    _models,
    _query,
    _replay,
    _simulate,
    _twin,
    _wokwi,
)
from modax.cli._app import app, fail
from modax.cli._wokwi import missing_requirements

if TYPE_CHECKING:
    from modax.cli._pipeline import build_pipeline

__all__ = ["app", "build_pipeline", "main", "missing_requirements"]


def __getattr__(name: str) -> Any:
    """Load :func:`build_pipeline` (numba, Delta Lake) on first access."""
    if name == "build_pipeline":
        from modax.cli._pipeline import build_pipeline

        return build_pipeline
    raise AttributeError(f"module 'modax.cli' has no attribute {name!r}")


def main() -> None:
    """Entry point of the ``modax`` executable: a damaged lake is one line, not a traceback."""
    try:
        app()
    except Exception as exc:
        from modax.lake import LakeError  # loaded already by whatever raised one

        if isinstance(exc, LakeError):
            fail(str(exc))
        raise
