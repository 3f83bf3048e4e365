"""``modax simulate``: the digital twin, in batch into the lake or live over MQTT."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from modax.cli._app import (
    EXIT_USAGE,
    ReportFormat,
    app,
    console,
    fail,
    settings_from_env,
    stop_on_signals,
)
from modax.config import ConfigError, parse_broker_url
from modax.mqtt import BrokerAuth, ClientFactory, MqttError

if TYPE_CHECKING:  # the simulator (numba) and the lake load only when the command runs
    from modax.lake import Lake
    from modax.pipeline import BatchResult
    from simulator import Fleet, SimResult

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """``"10m"`` → 600.0 s; units ms, s (default), m, h, d."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"duration {text!r}: expected a number with an optional unit (s, m, h, d)")
    return float(match.group(1)) * _UNIT_S[match.group(2) or "s"]


def _start(text: str | None, live: bool) -> datetime:
    from simulator import DEFAULT_START

    if text is None:
        return datetime.now(UTC).replace(microsecond=0) if live else DEFAULT_START
    if text == "now":
        return datetime.now(UTC).replace(microsecond=0)
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--start {text!r}: expected an ISO 8601 time (2026-01-01T00:00:00Z) or 'now'")
    return start if start.tzinfo else start.replace(tzinfo=UTC)


def _batch(fleet: Fleet, duration_s: float, lake: Lake, quiet: bool) -> dict[str, object]:
    from modax.cli._pipeline import build_pipeline

    rows: dict[str, int] = {}
    pipeline = build_pipeline(lake)

    def store(stored: BatchResult) -> None:
        for name, count in stored.rows.items():
            rows[name] = rows.get(name, 0) + count

    def append(result: SimResult) -> None:
        store(pipeline.store(result.telemetry, result.device_safety, rejected=result.quarantine))

    began = time.perf_counter()
    with Progress(
        TextColumn("simulating"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f} s simulated"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=quiet,
    ) as progress:
        task = progress.add_task("simulate", total=duration_s)
        result = fleet.run(
            duration_s,
            on_chunk=append,
            progress=lambda s: progress.advance(task, s),
            overlap=True,  # store chunk n while chunk n + 1 is simulated
        )
    store(pipeline.close())
    for name in ("ground_truth", "remaining_life"):
        table = result.tables()[name]
        lake.append(name, table)
        rows[name] = table.num_rows
    wall = time.perf_counter() - began
    return {
        "mode": "batch",
        "devices": fleet.n_devices,
        "scenario": fleet.scenario.name,
        "seed": fleet.seed,
        "simulated_s": duration_s,
        "wall_s": round(wall, 3),
        "realtime_factor": round(duration_s / wall, 1),
        "readings_per_s": round(rows.get("telemetry", 0) / wall),
        "rows_written": dict(sorted(rows.items())),
        "lake": lake.root,
    }


def _live(
    fleet: Fleet,
    *,
    duration_s: float | None,
    url: str,
    speed: float,
    qos: int,
    pool: int | None,
    quiet: bool,
    lake: Lake,
) -> dict[str, object]:
    """Publish live until the duration or Ctrl-C; then write the run's ground truth (the
    scenario's faults and every injected one, with its time) to ``lake``.
    """
    try:
        broker = parse_broker_url(url, name="--mqtt")
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    from simulator import LivePublisher

    factory = ClientFactory(broker, BrokerAuth.from_settings(settings_from_env()))
    publisher = LivePublisher(
        fleet,
        broker.host,
        broker.port,
        speed=speed,
        qos=qos,
        pool=pool,
        client_factory=partial(factory, mqtt5=False),
    )
    with stop_on_signals() as stop:
        try:
            publisher.connect()
        except (OSError, ConnectionError, MqttError) as exc:
            fail(f"cannot connect to the broker at {url}: {exc}")
        if not quiet:
            console.print(
                f"publishing {fleet.n_devices} devices to {url} at {speed:g}× real time"
                + (f" for {duration_s:g} s simulated" if duration_s else " until Ctrl-C")
            )
        stats = publisher.run(duration_s, stop=stop)
    truth = publisher.ground_truth
    if truth.num_rows:
        lake.append("ground_truth", truth)
    return {
        "mode": "live",
        "devices": fleet.n_devices,
        "scenario": fleet.scenario.name,
        "seed": fleet.seed,
        "broker": url,
        "speed": speed,
        "qos": qos,
        "pool": pool,
        "simulated_s": round(stats.simulated_s, 3),
        "wall_s": round(stats.wall_s, 3),
        "published": stats.published,
        "messages_per_s": round(stats.messages_per_s),
        "max_late_s": round(stats.max_late_s, 3),
        "ground_truth_rows": truth.num_rows,
    }


@app.command("simulate")
def simulate_command(
    devices: Annotated[int, typer.Option(min=1, help="Number of simulated devices.")] = 10,
    duration: Annotated[
        str | None,
        typer.Option(
            help="Simulated time, e.g. 600, 10m, 1h (live mode: omit to run until Ctrl-C)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Same seed ⇒ identical output.")] = 0,
    scenario: Annotated[
        str, typer.Option(help="healthy, mixed-faults, run-to-failure, network-chaos, or a .toml")
    ] = "healthy",
    lake: Annotated[
        str | None,
        typer.Option(help="Lake root (default: MODAX_LAKE); live mode writes ground truth there."),
    ] = None,
    mqtt: Annotated[
        str | None, typer.Option("--mqtt", help="Publish live to this broker (mqtt://host:port).")
    ] = None,
    speed: Annotated[
        float, typer.Option(min=0.001, help="Live mode: simulated seconds per wall second.")
    ] = 1.0,
    qos: Annotated[int, typer.Option(min=0, max=2, help="Live mode: MQTT QoS.")] = 0,
    pool: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Live mode: share this many MQTT connections among the devices (no per-device "
            "last will); default one connection per device.",
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(help="Simulated start (ISO 8601 or 'now'); batch default 2026-01-01T00:00Z."),
    ] = None,
    output: Annotated[
        ReportFormat, typer.Option("--format", help="table, or one JSON summary line.")
    ] = ReportFormat.table,
    json_alias: Annotated[
        bool, typer.Option("--json", hidden=True, help="Same as --format json.")
    ] = False,
) -> None:
    """Simulate an ESP32 motor fleet: batch into the lake, or live over MQTT with --mqtt."""
    json_output = json_alias or output is ReportFormat.json
    from modax.lake import Lake

    try:
        duration_s = parse_duration(duration) if duration is not None else None
    except ValueError as exc:
        fail(f"--duration: {exc}", EXIT_USAGE)
    from simulator import Fleet, Scenario, ScenarioError

    try:
        fleet = Fleet(
            n_devices=devices,
            seed=seed,
            scenario=Scenario.load(scenario),
            start=_start(start, live=mqtt is not None),
        )
        if duration_s is not None:
            Fleet.steps(duration_s)
    except (ScenarioError, ValueError) as exc:
        fail(str(exc), EXIT_USAGE)
    settings = settings_from_env(lake=lake)
    if mqtt is not None:
        summary = _live(
            fleet,
            duration_s=duration_s,
            url=mqtt,
            speed=speed,
            qos=qos,
            pool=pool,
            quiet=json_output,
            lake=Lake(settings.lake),
        )
    else:
        batch_s = 600.0 if duration_s is None else duration_s
        summary = _batch(fleet, batch_s, Lake(settings.lake), json_output)
    if json_output:
        print(json.dumps(summary))
        return
    table = Table(title=f"simulated {fleet.n_devices} devices ({fleet.scenario.name})")
    table.add_column("what")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        if isinstance(value, dict):
            for sub, count in value.items():
                table.add_row(f"{key.replace('_', ' ')}: {sub}", f"{count:,}")
        else:
            table.add_row(key.replace("_", " "), str(value))
    console.print(table)
