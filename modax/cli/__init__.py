"""The ``modax`` command line: one module per command, all registered on one typer app."""

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
from modax.cli._app import app

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the ``modax`` executable."""
    app()
