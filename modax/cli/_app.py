"""The typer application every command module registers on, and shared CLI helpers."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from modax.config import ConfigError, Settings, load_settings

__all__ = [
    "LakeOption",
    "ReportFormat",
    "RetentionOption",
    "app",
    "console",
    "err_console",
    "fail",
    "settings_from_env",
    "stop_on_signals",
]

app = typer.Typer(
    name="modax",
    help="modax — analytics and digital-twin workbench for ESP32-monitored motor machines.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)
eval_app = typer.Typer(help="Benchmark models with the published protocols.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
console = Console()
err_console = Console(stderr=True)

#: Exit codes scripts can rely on.
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_CONFIG = 0, 1, 2, 3


class ReportFormat(StrEnum):
    """How a command prints its report: for people, or one JSON object on the last line."""

    table = "table"
    json = "json"


def _print_version(value: bool) -> None:
    if value:
        from modax._version import __version__

        print(f"modax {__version__}")
        raise typer.Exit


@app.callback()
def _main(
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Options before any command: ``--version``, shell completion."""


def counted_progress(*, quiet: bool = False) -> Progress:
    """A transient progress bar on the console: each task's description, its bar, done/total and
    the time elapsed; ``quiet`` turns it off (e.g. when the report is JSON).
    """
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=quiet,
    )


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    """Print a one-line error to stderr and exit with ``code`` (no traceback)."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(code)


def settings_from_env(**overrides: str | float | None) -> Settings:
    """Load ``MODAX_*`` settings, apply CLI overrides, and exit with a clear message if invalid."""
    try:
        return load_settings().with_overrides(**overrides)
    except ConfigError as exc:
        fail(str(exc), EXIT_CONFIG)


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event that SIGINT (Ctrl-C) or SIGTERM sets while the block runs, for a clean stop.

    The previous handlers come back when the block ends.

    Examples
    --------
    >>> with stop_on_signals() as stop:
    ...     stop.is_set()
    False
    """
    stop = threading.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in signals}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


#: ``--lake``, shared by the commands that read or write the lake.
LakeOption = Annotated[str | None, typer.Option(help="Lake root (default: MODAX_LAKE).")]
#: ``--metrics-port`` and ``--metrics-host``, shared by the services that serve ``/metrics``.
MetricsPortOption = Annotated[
    int | None, typer.Option(help="Serve /metrics, /health and /ready on this port.")
]
MetricsHostOption = Annotated[str, typer.Option(help="Address of the metrics endpoint.")]
#: ``--vacuum-retention-h``, shared by the commands that vacuum.
RetentionOption = Annotated[
    int | None,
    typer.Option(
        "--vacuum-retention-h",
        min=0,
        help="Keep replaced files this many hours for readers on older snapshots "
        "(default: MODAX_VACUUM_RETENTION_H, 168 = 7 days).",
    ),
]
