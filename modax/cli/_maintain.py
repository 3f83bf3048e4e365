"""``modax maintain``: compaction, vacuum and 1-minute rollups of the lake, on a schedule."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer

from modax.cli._app import (
    LakeOption,
    MetricsHostOption,
    MetricsPortOption,
    RetentionOption,
    app,
    err_console,
    fail,
    settings_from_env,
    stop_on_signals,
)


@app.command("maintain")
def maintain_command(
    lake: LakeOption = None,
    interval_s: Annotated[
        float, typer.Option(min=0.1, help="Seconds between the starts of two cycles.")
    ] = 600.0,
    vacuum_retention_h: RetentionOption = None,
    once: Annotated[bool, typer.Option("--once", help="Run one cycle, print it, exit.")] = False,
    metrics_port: MetricsPortOption = None,
    metrics_host: MetricsHostOption = "127.0.0.1",
) -> None:
    """Keep the lake fast without anyone remembering to: run until Ctrl-C or SIGTERM.

    Each cycle rewrites closed days clustered by device and time, bin-packs today's small files,
    vacuums files replaced more than the retention window ago (readers' snapshots keep working)
    and extends ``aggregates_1min`` from ``aggregates_1s``.
    """
    from modax.lake import Lake, Maintenance
    from modax.obs import ObsServer, configure_logging

    retention = None if vacuum_retention_h is None else str(vacuum_retention_h)
    settings = settings_from_env(lake=lake, vacuum_retention_h=retention)
    configure_logging(settings.log_format, settings.log_level)
    maintenance = Maintenance(
        Lake(settings.lake, vacuum_retention_hours=settings.vacuum_retention_h), interval_s
    )
    if once:
        print(json.dumps(maintenance.run_once(), default=str))
        return

    def health() -> tuple[bool, dict[str, Any]]:
        last = maintenance.last_cycle
        late = last is not None and time.time() - last > 3 * interval_s + 600
        return not late, {"last_cycle": last, "cycles": maintenance.cycles}

    server = None
    if metrics_port is not None:
        try:
            server = ObsServer(
                maintenance.metrics.registry, health, lambda: (True, {}), metrics_port, metrics_host
            ).start()
        except OSError as exc:
            fail(f"cannot serve metrics on {metrics_host}:{metrics_port}: {exc.strerror or exc}")
    err_console.print(
        f"maintaining {settings.lake} every {interval_s:g} s"
        + (f"; metrics on {server.url}/metrics" if server else ""),
        highlight=False,
    )
    with stop_on_signals() as stop:
        maintenance.run(stop)
    if server is not None:
        server.stop()
    err_console.print("maintenance stopped", highlight=False)
