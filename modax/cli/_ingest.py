"""``modax ingest``: live MQTT ingestion into the lake until SIGINT/SIGTERM."""

from __future__ import annotations

import logging
import time
from contextlib import nullcontext
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.live import Live

from modax.cli._app import (
    EXIT_CONFIG,
    MetricsHostOption,
    MetricsPortOption,
    app,
    console,
    err_console,
    fail,
    settings_from_env,
    stop_on_signals,
)
from modax.obs import ObsServer, configure_logging

if TYPE_CHECKING:  # the pipeline (numba, Delta Lake) loads only when the command runs
    from modax.ingest import Ingester

log = logging.getLogger("modax.ingest")


class MqttVersion(StrEnum):
    """MQTT protocol version."""

    auto = "auto"
    v5 = "5"
    v311 = "3.1.1"


_PROGRESS_LOG_S = 10.0


def _topics(values: list[str] | None) -> tuple[str, ...]:
    if not values:
        from modax.ingest import DEFAULT_TOPICS

        return DEFAULT_TOPICS
    return tuple(t.strip() for value in values for t in value.split(",") if t.strip())


def _status(ingester: Ingester, started: float) -> str:
    t = ingester.totals
    rate = t.received / max(time.monotonic() - started, 1e-9)
    state = "connected" if ingester.connected else "[yellow]connecting[/]"
    return (
        f"{state} · received {t.received:,} ({rate:,.0f}/s) · stored {t.accepted:,} · "
        f"duplicates {t.duplicates:,} · quarantined {sum(t.quarantined.values()):,} · "
        f"queued {len(ingester.inbox):,}"
    )


@app.command("ingest")
def ingest_command(
    *,
    broker: Annotated[
        str | None, typer.Option(help="mqtt://host:port or mqtts://host:port (MODAX_BROKER).")
    ] = None,
    lake: Annotated[str | None, typer.Option(help="Lake root (MODAX_LAKE).")] = None,
    topics: Annotated[
        list[str] | None,
        typer.Option(
            help="Topic filter to subscribe to (repeat, or comma-separate).", show_default=False
        ),
    ] = None,
    client_id: Annotated[
        str, typer.Option(help="Fixed MQTT client id: the broker queues for it while it is down.")
    ] = "modax-ingest",
    shared_group: Annotated[
        str | None, typer.Option(help="Share the load with other ingesters of this group.")
    ] = None,
    username: Annotated[str | None, typer.Option(help="MQTT user (MODAX_MQTT_USERNAME).")] = None,
    password: Annotated[
        str | None, typer.Option(help="MQTT password; prefer MODAX_MQTT_PASSWORD.")
    ] = None,
    ca_file: Annotated[Path | None, typer.Option(help="CA certificate for mqtts://.")] = None,
    cert_file: Annotated[Path | None, typer.Option(help="Client certificate for mqtts://.")] = None,
    key_file: Annotated[Path | None, typer.Option(help="Client key for mqtts://.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Commit at this many messages...")] = 5_000,
    batch_ms: Annotated[
        int, typer.Option(min=1, help="... or when the oldest waited this long, in ms.")
    ] = 200,
    max_queued: Annotated[
        int, typer.Option(min=1, help="Messages that may wait for a commit (back-pressure).")
    ] = 50_000,
    metrics_port: MetricsPortOption = None,
    metrics_host: MetricsHostOption = "127.0.0.1",
    events: Annotated[
        bool, typer.Option(help="Publish derived safety events to modax/devices/{id}/events.")
    ] = True,
    log_format: Annotated[str | None, typer.Option(help="text or json (MODAX_LOG_FORMAT).")] = None,
    mqtt_version: Annotated[
        MqttVersion, typer.Option(help="auto: MQTT 5, or 3.1.1 for brokers without it (amqtt).")
    ] = MqttVersion.auto,
) -> None:
    """Ingest live MQTT telemetry into the lake, at least once, until Ctrl-C or SIGTERM.

    Every message is acknowledged to the broker only after the lake commit holding it, so a crash
    loses nothing; redelivered messages are stored once. Exit codes: 0 after a clean stop, 1 on
    failure, 3 when the broker refuses the credentials or TLS fails to verify.
    """
    settings = settings_from_env(
        broker=broker,
        lake=lake,
        mqtt_username=username,
        mqtt_password=password,
        mqtt_ca_file=None if ca_file is None else str(ca_file),
        mqtt_cert_file=None if cert_file is None else str(cert_file),
        mqtt_key_file=None if key_file is None else str(key_file),
        log_format=log_format,
    )
    if batch_size > max_queued:
        fail(f"--batch-size {batch_size} is larger than --max-queued {max_queued}")
    from modax.cli._pipeline import build_pipeline
    from modax.ingest import Ingester, IngestOptions

    configure_logging(settings.log_format, settings.log_level)
    options = IngestOptions(
        topics=_topics(topics),
        client_id=client_id,
        shared_group=shared_group,
        batch_size=batch_size,
        batch_s=batch_ms / 1000,
        max_queued=max_queued,
        publish_events=events,
        mqtt_version=mqtt_version.value,
    )
    ingester = Ingester.from_settings(settings, options, pipeline_factory=build_pipeline)
    server = None
    if metrics_port is not None:
        try:
            server = ObsServer(
                ingester.metrics.registry,
                ingester.health,
                ingester.ready,
                metrics_port,
                metrics_host,
            ).start()
        except OSError as exc:
            fail(f"cannot serve metrics on {metrics_host}:{metrics_port}: {exc.strerror or exc}")
    with stop_on_signals() as stop:
        err_console.print(
            f"ingesting {settings.broker} → {settings.lake}"
            + (f" (group {shared_group})" if shared_group else "")
            + (f"; metrics on {server.url}/metrics" if server else ""),
            highlight=False,
        )
        started = time.monotonic()
        ingester.start()
        live = console.is_terminal and settings.log_format == "text"
        with (
            Live(console=console, transient=True, auto_refresh=False)
            if live
            else nullcontext() as view
        ):
            last_log = started
            while not stop.wait(0.5) and ingester.error is None:
                if view is not None:
                    view.update(_status(ingester, started), refresh=True)
                elif time.monotonic() - last_log >= _PROGRESS_LOG_S:
                    last_log = time.monotonic()
                    log.info(_status(ingester, started).replace("[yellow]", "").replace("[/]", ""))
        totals = ingester.stop()
        if server is not None:
            server.stop()
        if ingester.error is not None:
            fail(str(ingester.error), EXIT_CONFIG)
        err_console.print(
            f"stopped cleanly: received {totals.received:,}, stored {totals.accepted:,}, "
            f"duplicates {totals.duplicates:,}, quarantined {sum(totals.quarantined.values()):,}",
            highlight=False,
        )
        if ingester.unacked_at_exit:
            unacked = ingester.unacked_at_exit
            fail(f"{unacked} messages were not committed; the broker redelivers them")
