"""``modax broker``: a local MQTT broker with no set-up (mosquitto when installed, else amqtt)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from modax.cli._app import app, console, err_console, fail, stop_on_signals
from modax.local import AMQTT_WARNING, BrokerError, BrokerKind, start_broker


@app.command("broker")
def broker_command(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 1883,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    kind: Annotated[
        BrokerKind, typer.Option(help="auto: mosquitto when installed, else amqtt.")
    ] = BrokerKind.AUTO,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Config, log and persistence directory [default: temp dir per port]."),
    ] = None,
) -> None:
    """Run a local MQTT broker for demos and tests until Ctrl-C (or SIGTERM).

    mosquitto runs with persistence on and no limit on messages queued for a disconnected
    subscriber; without mosquitto the pure-Python amqtt runs, which is not crash-safe.
    """
    with stop_on_signals() as stop:
        directory = data_dir or Path(tempfile.gettempdir()) / f"modax-broker-{port}"
        try:
            broker = start_broker(port, host=host, kind=kind, data_dir=directory)
        except BrokerError as exc:
            fail(str(exc))
        console.print(
            f"[bold]{broker.kind.value}[/] listening on [bold]{broker.url}[/] "
            f"(data and log in {broker.data_dir}); Ctrl-C stops it",
            highlight=False,
        )
        if broker.kind is BrokerKind.AMQTT:
            why = "mosquitto is not installed, so " if kind is BrokerKind.AUTO else ""
            err_console.print(f"[bold yellow]warning:[/] {why}{AMQTT_WARNING}", highlight=False)

        while not stop.wait(0.5) and broker.running:
            pass
        if not stop.is_set():
            code = broker.wait()
            fail(f"{broker.kind.value} exited with code {code}: {broker.log_tail(3)}")
        broker.stop()
        console.print(f"{broker.kind.value} stopped")
