"""The ``modax`` command line: one module per command, all registered on one typer app.

Two helpers behind commands are public for notebooks and benchmarks: :func:`build_pipeline` (the
pipeline of ``ingest``, ``replay`` and ``simulate``) and :func:`missing_requirements` (``modax
wokwi run``). The C-MAPSS protocol behind ``modax eval cmapss`` is
:func:`modax.models.wear.cmapss.run_cmapss`.
"""

from modax.cli import (  # noqa: F401  (register commands)
    _advise,
    _broker,
    _config,
    _dashboards,
    _demo,
    _eval_cmapss,
    _eval_sim_anomaly,
    _eval_skab,
    _ingest,
    _lake,
    _query,
    _replay,
    _simulate,
    _wokwi,
)
from modax.cli._app import app, fail
from modax.cli._pipeline import build_pipeline
from modax.cli._wokwi import missing_requirements
from modax.lake import LakeError

__all__ = ["app", "build_pipeline", "main", "missing_requirements"]


def main() -> None:
    """Entry point of the ``modax`` executable: a damaged lake is one line, not a traceback."""
    try:
        app()
    except LakeError as exc:
        fail(str(exc))
