"""``modax twin``: steer a running digital twin (or a real device) by MQTT command.

Each command waits for the device's acknowledgement and prints it; the exit code is 0 when the
command was accepted, 1 when it was rejected or not acknowledged in time, 2 for bad usage.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from modax.cli._app import EXIT_USAGE, ReportFormat, app, console, fail, settings_from_env
from modax.cli._simulate import parse_duration
from modax.mqtt import ClientFactory

if TYPE_CHECKING:  # the contract (pyarrow) loads only when a command runs
    from modax.schema import CommandAck
    from modax.twin import Twin

twin_app = typer.Typer(
    help="Steer a running digital twin (`modax simulate --mqtt`) or a device: each command "
    "waits for its acknowledgement.",
    no_args_is_help=True,
)
app.add_typer(twin_app, name="twin")

_Broker = Annotated[str | None, typer.Option(help="Broker URL (default: MODAX_BROKER).")]
_Timeout = Annotated[
    float, typer.Option("--timeout", min=0.1, help="Seconds to wait for the acknowledgement.")
]
_Format = Annotated[
    ReportFormat, typer.Option("--format", help="table, or the ack as one JSON line.")
]


class Motor(StrEnum):
    """Start or stop the twin's motor."""

    on = "on"
    off = "off"


def _twin(broker: str | None, timeout: float) -> Twin:
    from modax.twin import Twin

    settings = settings_from_env(broker=broker)
    return Twin(ClientFactory.from_settings(settings), timeout_s=timeout)


def _report(ack: CommandAck, output: ReportFormat) -> None:
    import msgspec

    if output is ReportFormat.json:
        print(json.dumps(msgspec.to_builtins(ack)))
    elif ack.accepted:
        console.print(f"{ack.device_id}: {ack.type} accepted (command {ack.command_id})")
    else:
        where = f"{ack.field}: " if ack.field else ""
        console.print(f"{ack.device_id}: {ack.type} rejected: {ack.reason}: {where}{ack.detail}")
    if not ack.accepted:
        raise typer.Exit(1)


def _send(twin: Twin, output: ReportFormat, action: str, *args: object, **kwargs: object) -> None:
    from modax.twin import TwinError

    try:
        with twin:
            ack = getattr(twin, action)(*args, **kwargs)
    except TwinError as exc:
        fail(str(exc))
    _report(ack, output)


@twin_app.command("inject")
def inject_command(
    device: Annotated[str, typer.Argument(help="Device id, e.g. sim-0001.")],
    kind: Annotated[
        str,
        typer.Argument(
            help="Fault kind (modax.schema.FAULT_KINDS): bearing_wear, imbalance, misalignment, "
            "overload, overheating, phase_imbalance, stuck, drift, spikes, dropout, estop, "
            "door_open, loss, duplicates, reorder, burst, clock_skew, reboot."
        ),
    ],
    severity: Annotated[float, typer.Option(help="0–1.")] = 1.0,
    for_: Annotated[
        str | None,
        typer.Option("--for", help="How long, e.g. 30s, 5m (default: until the twin stops)."),
    ] = None,
    channel: Annotated[
        str | None, typer.Option(help="Sensor faults: current_1, current_2, vibration, temp_1…")
    ] = None,
    broker: _Broker = None,
    timeout: _Timeout = 10.0,
    output: _Format = ReportFormat.table,
) -> None:
    """Inject a fault into a twin device now; ground truth records it with its time."""
    try:
        duration_s = parse_duration(for_) if for_ is not None else None
    except ValueError as exc:
        fail(f"--for: {exc}", EXIT_USAGE)
    _send(
        _twin(broker, timeout),
        output,
        "inject",
        device,
        kind,
        severity=severity,
        duration_s=duration_s,
        channel=channel,
    )


@twin_app.command("set")
def set_command(
    device: Annotated[str, typer.Argument(help="Device id.")],
    rate_hz: Annotated[
        float | None, typer.Option("--rate-hz", help="Telemetry rate, Hz (devices too).")
    ] = None,
    threshold: Annotated[
        list[str] | None,
        typer.Option(
            help="Safety threshold NAME=VALUE: overload_current_a (A), max_temperature_c (°C) "
            "(devices too; repeatable)."
        ),
    ] = None,
    load: Annotated[float | None, typer.Option(help="Twin: load, fraction of rated.")] = None,
    motor: Annotated[Motor | None, typer.Option(help="Twin: start or stop the motor.")] = None,
    broker: _Broker = None,
    timeout: _Timeout = 10.0,
    output: _Format = ReportFormat.table,
) -> None:
    """Set one thing on a device: --rate-hz, --threshold, --load or --motor."""
    given = [rate_hz is not None, bool(threshold), load is not None, motor is not None]
    if sum(given) != 1:
        fail("give exactly one of --rate-hz, --threshold, --load, --motor", EXIT_USAGE)
    twin = _twin(broker, timeout)
    if rate_hz is not None:
        _send(twin, output, "set_sample_rate", device, rate_hz)
    elif threshold:
        _send(twin, output, "set_thresholds", device, **_thresholds(threshold))
    elif load is not None:
        _send(twin, output, "set_load", device, load)
    else:
        _send(twin, output, "set_motor", device, motor is Motor.on)


def _thresholds(items: list[str]) -> dict[str, float]:
    known = ("overload_current_a", "max_temperature_c")
    values = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name not in known:
            fail(f"--threshold {item!r}: expected NAME=VALUE with NAME one of {known}", EXIT_USAGE)
        try:
            values[name] = float(value)
        except ValueError:
            fail(f"--threshold {item!r}: {value!r} is not a number", EXIT_USAGE)
    return values


@twin_app.command("reboot")
def reboot_command(
    device: Annotated[str, typer.Argument(help="Device id.")],
    broker: _Broker = None,
    timeout: _Timeout = 10.0,
    output: _Format = ReportFormat.table,
) -> None:
    """Reboot a twin device (silent for 3 s, then counting time from boot until NTP resyncs)."""
    _send(_twin(broker, timeout), output, "reboot", device)
