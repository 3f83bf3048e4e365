"""``modax wokwi run``: the ESP32 firmware in the Wokwi simulator, judged against the contract.

The simulation itself is driven by ``firmware/wokwi/run.py`` in its own virtual environment
(``make wokwi``): the Wokwi Python client needs ``websockets<13`` while modax's embedded broker
pins ``websockets==15``. This command checks what the run needs, starts the runner, and then
judges the recording — the device's serial output and every MQTT message it published — with
:func:`modax.schema.decode` and the expected reactions to the scenario (overload, overtemp,
e-stop, door, vibration).
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import subprocess
import tempfile
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from modax.cli._app import app, console, fail

if TYPE_CHECKING:  # the message contract (numpy, Arrow) loads when a recording is judged
    from modax.schema import Telemetry

__all__ = ["Check", "evaluate", "missing_requirements"]

wokwi_app = typer.Typer(
    help="Run the ESP32 firmware in the Wokwi simulator (needs a token and network).",
    no_args_is_help=True,
)
app.add_typer(wokwi_app, name="wokwi")

#: The firmware folder of this checkout.
FIRMWARE_DIR = Path(__file__).resolve().parents[2] / "firmware"
#: Where the simulator's API lives; the run needs to reach it.
WOKWI_HOST = ("wokwi.com", 443)
_NON_FINITE = re.compile(r"(?<![A-Za-z])-?(inf|nan)(?![A-Za-z])", re.IGNORECASE)
_G = 9.80665


@dataclass(frozen=True)
class Check:
    """One verdict on a recording.

    Examples
    --------
    >>> Check("device booted", True, "esp32-240ac4000110")
    Check(name='device booted', ok=True, detail='esp32-240ac4000110')
    """

    name: str
    ok: bool
    detail: str


def _runner_python(firmware: Path) -> Path:
    return firmware / ".wokwi-venv" / "bin" / "python"


def missing_requirements(firmware: Path, environ: dict[str, str] | None = None) -> list[str]:
    """What a Wokwi run needs and does not have here, one sentence each (network not included).

    Parameters
    ----------
    firmware : Path
        The firmware folder (with ``wokwi.toml`` and ``diagram.json``).
    environ : dict, optional
        Environment to look at; default ``os.environ``.

    Returns
    -------
    list of str
        One sentence per missing piece, with how to get it; empty when a run can go.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> needs = missing_requirements(Path(tempfile.mkdtemp()), environ={})
    >>> len(needs), needs[0].split(":")[0]
    (3, 'WOKWI_CLI_TOKEN')
    """
    env = os.environ if environ is None else environ
    missing = []
    if not env.get("WOKWI_CLI_TOKEN"):
        missing.append(
            "WOKWI_CLI_TOKEN: an API token from https://wokwi.com/dashboard/ci in the environment"
        )
    if not _runner_python(firmware).exists():
        missing.append(
            "the Wokwi runner's own virtual environment: run `make wokwi` "
            f"(creates {firmware / '.wokwi-venv'} with wokwi-client and paho-mqtt)"
        )
    toml = firmware / "wokwi.toml"
    if not toml.exists():
        missing.append(f"{toml}: the Wokwi project file")
        return missing
    config = tomllib.loads(toml.read_text())["wokwi"]
    built = [firmware / config[key] for key in ("firmware", "elf")]
    if not all(path.exists() for path in built):
        missing.append(
            f"the firmware built for Wokwi ({built[0].relative_to(firmware)}): "
            f"`cd {firmware} && pio run -e wokwi` (PlatformIO, which downloads its toolchain)"
        )
    return missing


def _network_ok(timeout_s: float = 5.0) -> bool:
    try:
        socket.create_connection(WOKWI_HOST, timeout=timeout_s).close()
    except OSError:
        return False
    return True


def _decoded(records: list[dict]) -> tuple[list, list[str]]:
    from modax.schema import MessageError, decode

    messages, rejected = [], []
    for r in records:
        if r.get("source") != "mqtt":
            continue
        try:
            messages.append(decode(r["topic"], r["payload"].encode()))
        except MessageError as err:
            rejected.append(f"{r['topic']}: {err}")
    return messages, rejected


def _seq_check(messages: list) -> Check:
    from modax.schema import SafetyStatus, Telemetry

    seqs: dict[str, list[int]] = defaultdict(list)
    for m in messages:
        if isinstance(m, Telemetry | SafetyStatus):
            seqs[type(m).__name__].append(m.seq if m.seq is not None else -1)
    bad = [kind for kind, s in seqs.items() if any(b <= a for a, b in pairwise(s))]
    ok = bool(seqs) and not bad and all(min(s) >= 0 for s in seqs.values())
    return Check("seq present and increasing", ok, ", ".join(bad) or f"{len(seqs)} kinds")


def _rate_check(telemetry: list[Telemetry]) -> Check:
    from modax.schema import EPOCH_MS_THRESHOLD

    if len(telemetry) < 20:
        return Check("telemetry at 10 Hz", False, f"only {len(telemetry)} readings")
    # one clock: epoch ms after the NTP sync, else ms since boot
    epoch = [t.timestamp for t in telemetry if t.timestamp >= EPOCH_MS_THRESHOLD]
    stamps = sorted(epoch if len(epoch) >= 20 else [t.timestamp for t in telemetry])
    span_s = (stamps[-1] - stamps[0]) / 1000
    rate = (len(stamps) - 1) / span_s if span_s > 0 else math.inf
    return Check("telemetry at 10 Hz", 8.0 <= rate <= 12.0, f"{rate:.1f} readings/s")


def _seen(name: str, condition: bool, detail: str) -> Check:
    return Check(name, condition, detail if condition else f"not seen: {detail}")


def evaluate(records: list[dict]) -> list[Check]:
    """Judge a recording of ``firmware/wokwi/run.py`` (one dict per JSON line).

    Returns
    -------
    list of Check
        The device booted and connected, every message follows :mod:`modax.schema`, telemetry
        ran at 10 Hz with increasing ``seq``, and the device reacted to each step of the
        scenario: overload, 100 °C (which the original firmware read as -68 °C), e-stop, door,
        vibration; and nothing printed ``inf`` or ``nan``.
    """
    from modax.schema import DEFAULT_SAFETY, DeviceStatus, SafetyStatus, Telemetry

    serial = [r["line"] for r in records if r.get("source") == "serial"]
    messages, rejected = _decoded(records)
    telemetry = [m for m in messages if isinstance(m, Telemetry)]
    safety = [m for m in messages if isinstance(m, SafetyStatus)]
    limits = DEFAULT_SAFETY
    status = [m for m in messages if isinstance(m, DeviceStatus)]
    banner = next((line for line in serial if line.startswith("modax: device ")), None)
    non_finite = [line for line in serial if _NON_FINITE.search(line)]
    non_finite += [r["payload"] for r in records if r.get("source") == "mqtt"]
    non_finite = [text for text in non_finite if _NON_FINITE.search(text)]
    return [
        _seen("device booted", banner is not None, banner or "modax: device ... banner"),
        _seen(
            "connected to the broker",
            any(line.startswith("modax: mqtt connected") for line in serial),
            "modax: mqtt connected",
        ),
        Check(
            "every message follows modax.schema",
            bool(messages) and not rejected,
            rejected[0] if rejected else f"{len(messages)} messages",
        ),
        Check("no inf or nan", not non_finite, non_finite[0] if non_finite else "none"),
        _rate_check(telemetry),
        _seq_check(messages),
        _seen("online status", any(s.online for s in status), "status online=true"),
        _seen(
            "overload at 16.5 A",
            any(max(map(abs, t.motor_currents)) > limits.overload_current_a for t in telemetry)
            and any(s.overload_detected for s in safety)
            and not safety[-1].overload_detected,
            f"a current above {limits.overload_current_a:g} A, overload_detected true, then false "
            "again",
        ),
        _seen(
            "100 °C reads as hot",
            any(max(t.temperatures) >= limits.max_temperature_c for t in telemetry)
            and any(not s.temperature_ok for s in safety)
            and safety[-1].temperature_ok,
            f"a temperature of at least {limits.max_temperature_c:g} °C, temperature_ok false, "
            "then true again",
        ),
        _seen(
            "e-stop", any(s.emergency_stop for s in safety), "emergency_stop true after the press"
        ),
        _seen(
            "door",
            any(not s.door_closed for s in safety) and bool(safety) and safety[-1].door_closed,
            "door_closed false while open, true again",
        ),
        _seen(
            "vibration",
            any(abs(t.vibration.x - 0.5 * _G) < 0.05 for t in telemetry),
            f"vibration.x near {0.5 * _G:.3f} m/s² (0.5 g)",
        ),
    ]


def _report(checks: list[Check]) -> None:
    table = Table(title="Wokwi run")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for c in checks:
        table.add_row(c.name, "[green]ok[/]" if c.ok else "[red]FAILED[/]", c.detail)
    console.print(table)


@wokwi_app.command("run")
def run_command(
    firmware_dir: Annotated[
        Path,
        typer.Option("--firmware-dir", help="Firmware folder with wokwi.toml and diagram.json."),
    ] = FIRMWARE_DIR,
    duration: Annotated[
        int, typer.Option(min=30, help="Simulated seconds to run (the scenario takes 28).")
    ] = 32,
    record: Annotated[
        Path | None, typer.Option(help="Keep the recording (JSON lines) in this file.")
    ] = None,
) -> None:
    """Simulate the device in Wokwi, replay a fault scenario, check serial output and MQTT.

    Needs WOKWI_CLI_TOKEN, network access to wokwi.com and a public MQTT broker, the runner's
    virtual environment (`make wokwi`) and the firmware built with `pio run -e wokwi`.
    """
    missing = missing_requirements(firmware_dir)
    if missing:
        fail(
            "modax wokwi run needs " + "; ".join(missing) + "; and network access to wokwi.com "
            "and to the MQTT broker the firmware was built for"
        )
    if not _network_ok():
        fail(f"modax wokwi run needs network access to {WOKWI_HOST[0]} (not reachable from here)")
    out = record or Path(tempfile.mkdtemp(prefix="modax-wokwi-")) / "run.jsonl"
    with console.status(f"Wokwi: simulating {duration} s of the device ..."):
        done = subprocess.run(
            [
                str(_runner_python(firmware_dir)),
                str(firmware_dir / "wokwi" / "run.py"),
                "--project",
                str(firmware_dir),
                "--out",
                str(out),
                "--duration",
                str(duration),
            ],
            check=False,
        )
    if done.returncode != 0:
        fail(f"the Wokwi runner stopped with exit code {done.returncode} (recording: {out})")
    records = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    checks = evaluate(records)
    _report(checks)
    if not all(c.ok for c in checks):
        fail(f"{sum(not c.ok for c in checks)} of {len(checks)} checks failed (recording: {out})")
