"""``modax demo``: broker, simulated fleet, ingester, registered models, advisor and dashboards
in one command.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from modax.cli._app import app, console, fail, settings_from_env, stop_on_signals
from modax.config import parse_broker_url
from modax.local import Service, Supervisor, modax_command, port_open

#: The simulator scenario of the demo's history and live fleet (simulator/scenarios/demo.toml).
SCENARIO = "demo"
#: The demo's anomaly detector: on raw 10 Hz telemetry PCA's T² flags a sustained overload for as
#: long as it lasts (F1 0.78 on the demo's history), where the level-shift detectors, tuned on
#: 1 Hz data, see only its first second (F1 0.38; decision 0016).
DETECTOR = "pca-t2"
#: What the demo fits on its history, by kind: the detector, and the calibrated quantile model
#: (an estimate with its 80 % interval) of modax.models.wear.fit_remaining_life.
FITS = {
    "anomaly": ("--detector", DETECTOR),
    "remaining-life": ("--kind", "remaining-life", "--model", "gbm-quantile"),
}


@app.command("demo")
def demo_command(
    port: Annotated[int, typer.Option(help="Dashboard port.")] = 5006,
    devices: Annotated[int, typer.Option(min=1, help="Simulated devices.")] = 12,
    lake: Annotated[str | None, typer.Option(help="Lake root (default: MODAX_LAKE).")] = None,
    broker: Annotated[str | None, typer.Option(help="Broker URL (default: MODAX_BROKER).")] = None,
    history: Annotated[
        str, typer.Option(help="Simulated history written first, e.g. 10m.")
    ] = "10m",
    logs: Annotated[Path, typer.Option(help="Where each process logs.")] = Path(".demo"),
) -> None:
    """Start a broker, a simulated fleet, the ingester, the models and the dashboards.

    The fleet runs the ``demo`` scenario (faults, and motors wearing 3000x faster than real
    time); an anomaly model is fitted on its simulated history, registered and promoted to
    ``live``, and the advisor scores the live fleet with it. Ctrl-C stops all.
    """
    from modax.lake import Lake
    from modax.registry import Registry

    settings = settings_from_env(lake=lake, broker=broker)
    url = parse_broker_url(settings.broker)
    if port_open("127.0.0.1", port):
        fail(f"port {port} is in use: stop what serves it or pass --port")
    env = {"MODAX_LAKE": settings.lake, "MODAX_BROKER": str(url)}
    sup = Supervisor(logs.resolve(), ready_timeout_s=600.0)  # fits and history on a busy machine
    with stop_on_signals() as stop:
        try:
            if url.host in ("localhost", "127.0.0.1") and not port_open("127.0.0.1", url.port):
                console.print(f"starting a local broker on port {url.port} …")
                sup.start(
                    Service(
                        "broker",
                        modax_command(
                            "broker", "--port", str(url.port), "--data-dir", str(logs / "broker")
                        ),
                        ready_port=url.port,
                    )
                )
            else:
                console.print(f"using the broker at {url}")
            if not Lake(settings.lake).exists("telemetry"):
                console.print(f"writing {history} of simulated history into {settings.lake} …")
                start = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
                sup.start(
                    Service(
                        "history",
                        modax_command(
                            "simulate",
                            "--devices",
                            str(devices),
                            "--duration",
                            history,
                            "--scenario",
                            SCENARIO,
                            "--seed",
                            "7",
                            "--start",
                            start,
                        ),
                        oneshot=True,
                        env=env,
                    )
                )
            registry = Registry(settings.lake)
            for kind, options in FITS.items():
                if registry.live(kind) is None:
                    console.print(f"fitting and registering the {kind} model on that history …")
                    sup.start(
                        Service(
                            f"fit-{kind}",
                            modax_command("models", "fit", *options, "--promote"),
                            oneshot=True,
                            env=env,
                        )
                    )
            console.print("starting the ingester, lake maintenance and a live simulated fleet …")
            sup.start(Service("ingest", modax_command("ingest"), env=env))
            sup.start(
                Service("maintain", modax_command("maintain", "--interval-s", "300"), env=env)
            )
            sup.start(
                Service(
                    "fleet",
                    modax_command(
                        "simulate",
                        "--devices",
                        str(devices),
                        "--mqtt",
                        str(url),
                        "--scenario",
                        SCENARIO,
                        "--seed",
                        "7",
                        "--start",
                        "now",
                    ),
                    env=env,
                )
            )
            sup.start(Service("advise", modax_command("advise", "run"), env=env))
            console.print("starting the dashboards …")
            sup.start(
                Service(
                    "dashboards",
                    modax_command("dashboards", "--port", str(port)),
                    ready_port=port,
                    env=env,
                )
            )
            console.print(
                f"\n[bold green]modax is running:[/] http://localhost:{port}\n"
                f"logs in {logs}/ — press Ctrl-C to stop everything.\n"
            )
            while not stop.wait(0.5):
                dead = sup.exited()
                if dead:
                    console.print(f"[red]{', '.join(dead)} stopped; see {logs}/ — shutting down[/]")
                    break
        except RuntimeError as exc:
            sup.stop()
            fail(str(exc))
        console.print("stopping …")
        sup.stop()
        console.print("stopped cleanly.")
