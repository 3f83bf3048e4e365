"""``modax doctor``: check what a set-up needs, and say how to fix each problem.

Each check is a small function returning a :class:`Check`. A failed check that is ``required``
(something the user asked for cannot work) makes the exit code 1; the others are warnings.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NamedTuple

import typer
from rich.markup import escape
from rich.table import Table

from modax.cli._app import EXIT_FAILURE, ReportFormat, app, console, settings_from_env
from modax.config import ConfigError, Settings, is_uri, scheme, storage_options

if TYPE_CHECKING:
    from packaging.requirements import Requirement

    from modax.lake import Lake

__all__ = ["Check", "run_checks"]

#: The lock a source checkout installs from (a wheel install has none beside it).
LOCK_FILE = Path(__file__).resolve().parents[2] / "requirements.lock"
#: Data files under this size are "small": each one costs every query an open and a footer read.
SMALL_FILE_BYTES = 8 * 1024 * 1024
#: More small files than this in one table: time for ``modax compact``.
SMALL_FILES_WARN = 100
#: The port ``modax demo`` serves the dashboards on by default.
DEMO_PORT = 5006
#: Python the project is tested on, and the oldest it supports.
MIN_PYTHON = (3, 11)


class Check(NamedTuple):
    """One verdict: what was checked, whether it is fine, what was seen and how to fix it."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True

    @property
    def status(self) -> str:
        """``ok``, ``fail`` (a required check failed) or ``warn``."""
        return "ok" if self.ok else "fail" if self.required else "warn"


# --- Python and packages ---------------------------------------------------------------------


def check_python() -> Check:
    """The interpreter is CPython 3.11 or newer."""
    version = platform.python_version()
    ok = sys.version_info[:2] >= MIN_PYTHON
    return Check(
        "python",
        ok,
        f"{platform.python_implementation()} {version} ({sys.executable})",
        "" if ok else "install Python 3.11 or newer and make the venv with it",
    )


def _declared() -> list[Requirement]:
    from packaging.requirements import Requirement

    return [Requirement(r) for r in metadata.requires("modax") or []]


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def check_core_packages() -> Check:
    """Every core dependency of modax is installed, within the bounds pyproject.toml declares."""
    bad = []
    core = [r for r in _declared() if r.marker is None or r.marker.evaluate({"extra": ""})]
    for req in core:
        version = _installed(req.name)
        if version is None:
            bad.append(f"{req.name} missing")
        elif not req.specifier.contains(version, prereleases=True):
            bad.append(f"{req.name} {version} (needs {req.specifier})")
    return Check(
        "packages",
        not bad,
        "; ".join(bad) or f"{len(core)} core dependencies installed within their bounds",
        "" if not bad else 'pip install -c requirements.lock -e "."  (or `make venv`)',
    )


def check_extras() -> Check:
    """Which extras are installed: their absence only matters for what they serve."""
    extras: dict[str, list[str]] = {}
    for req in _declared():
        for extra in _extra_names(req):
            extras.setdefault(extra, []).append(req.name)
    missing = {e: [n for n in names if _installed(n) is None] for e, names in extras.items()}
    absent = sorted(e for e, names in missing.items() if names)
    present = sorted(e for e in extras if e not in absent)
    detail = f"installed: {', '.join(present) or 'none'}"
    if absent:
        detail += "; missing: " + ", ".join(f"{e} ({', '.join(missing[e])})" for e in absent)
    return Check(
        "extras",
        not absent,
        detail,
        "" if not absent else f'pip install -c requirements.lock -e ".[{",".join(absent)}]"',
        required=False,
    )


def _extra_names(req: Requirement) -> list[str]:
    if req.marker is None:
        return []
    text = str(req.marker)
    return [part.split('"')[1] for part in text.split(" or ") if part.startswith("extra ==")]


def _locked_pins(lock: Path) -> dict[str, str]:
    """The pins of ``lock`` that apply to this interpreter and platform."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins: dict[str, str] = {}
    for line in lock.read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate():
                (pin,) = (s.version for s in req.specifier if s.operator == "==")
                pins[canonicalize_name(req.name)] = pin
    return pins


def check_lock(lock: Path = LOCK_FILE) -> Check:
    """Installed versions are the ones in requirements.lock (the set CI passed with)."""
    if not lock.is_file():
        return Check("lock", True, f"no {lock.name} beside this install (a wheel): not compared")
    drift = []
    pins = _locked_pins(lock)
    for name, pin in sorted(pins.items()):
        version = _installed(name)
        if version is not None and version != pin:
            drift.append(f"{name} {version} (lock {pin})")
    return Check(
        "lock",
        not drift,
        f"{len(drift)} of {len(pins)} locked packages differ: "
        + ", ".join(drift[:8])
        + (" …" if len(drift) > 8 else "")
        if drift
        else f"installed packages match {lock.name} ({len(pins)} pins)",
        "" if not drift else f'pip install -c {lock} -e ".[…]" with your extras (`make venv`)',
        required=False,
    )


# --- the broker ------------------------------------------------------------------------------


class _Probe:
    """One MQTT connection attempt and what the broker said."""

    def __init__(self) -> None:
        self.connected = threading.Event()
        self.reason: str | None = None
        self.refused = False
        self.version: str | None = None
        self.got_version = threading.Event()


def _probe_broker(settings: Settings, mqtt5: bool, timeout_s: float) -> _Probe:
    from modax.mqtt import ClientFactory

    probe = _Probe()
    factory = ClientFactory.from_settings(settings)
    client = factory(f"modax-doctor-{os.getpid()}", mqtt5=mqtt5)

    def on_connect(_c: object, _u: object, _f: object, reason: object, _p: object = None) -> None:
        probe.refused = bool(getattr(reason, "is_failure", False))
        probe.reason = str(reason)
        if not probe.refused:
            client.subscribe("$SYS/broker/version")
        probe.connected.set()

    def on_message(_c: object, _u: object, message: object) -> None:
        probe.version = message.payload.decode(errors="replace")  # type: ignore[attr-defined]
        probe.got_version.set()

    client.on_connect = on_connect
    client.on_message = on_message
    factory.connect(client)
    client.loop_start()
    try:
        if probe.connected.wait(timeout_s) and not probe.refused:
            probe.got_version.wait(min(timeout_s, 1.0))
    finally:
        client.disconnect()
        client.loop_stop()
    return probe


def check_broker(settings: Settings, timeout_s: float = 3.0) -> Check:
    """The broker is reachable with the configured credentials and TLS; which broker it is."""
    from modax.mqtt import BrokerAuth, MqttError, describe_os_error

    url = settings.broker_url
    auth = BrokerAuth.from_settings(settings)
    who = f"user {auth.username!r}" if auth.username else "anonymous"
    tls = ", TLS verified" if url.tls else ""
    fix_reach = (
        f"start a broker at {url} (`modax broker --port {url.port}`, or the mosquitto service), "
        "or point MODAX_BROKER at yours"
    )
    try:
        probe = _probe_broker(settings, mqtt5=True, timeout_s=timeout_s)
        protocol = "MQTT 5"
        if not probe.connected.is_set() or (probe.refused and "protocol" in (probe.reason or "")):
            probe = _probe_broker(settings, mqtt5=False, timeout_s=timeout_s)
            protocol = "MQTT 3.1.1 only"
    except MqttError as exc:
        return Check("broker", False, str(exc), "fix MODAX_MQTT_CA_FILE / _CERT_FILE / _KEY_FILE")
    except OSError as exc:
        _, message = describe_os_error(exc, url, auth)
        fix = "check MODAX_MQTT_CA_FILE and the broker's certificate" if url.tls else fix_reach
        return Check("broker", False, message, fix)
    if not probe.connected.is_set():
        return Check(
            "broker",
            False,
            f"{url} accepted TCP but sent no CONNACK in {timeout_s} s",
            "check that the port is an MQTT listener (TLS on mqtts:// only)",
        )
    if probe.refused:
        return Check(
            "broker",
            False,
            f"{url} refused {who}: {probe.reason}",
            "set MODAX_MQTT_USERNAME / MODAX_MQTT_PASSWORD to an account the broker has",
        )
    kind = probe.version or "unknown broker (no $SYS/broker/version)"
    return Check("broker", True, f"{url}: {kind}, {protocol}, {who}{tls}")


def check_broker_kind(broker: Check) -> Check:
    """mosquitto, not the amqtt fallback: only mosquitto redelivers queued QoS 1 messages."""
    if not broker.ok or "mosquitto" in broker.detail:
        return Check("broker kind", True, "mosquitto" if broker.ok else "not reached")
    return Check(
        "broker kind",
        False,
        "not mosquitto (the amqtt fallback speaks MQTT 3.1.1 and does not redeliver QoS 1 "
        "messages queued for a persistent session): ingestion is not crash-safe",
        "apt-get install mosquitto (or conda install -c conda-forge mosquitto), then restart "
        "`modax broker`",
        required=False,
    )


# --- the lake --------------------------------------------------------------------------------


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _write_probe(directory: Path) -> str | None:
    """``None`` when a file can be created and removed in ``directory``, else why not.

    An actual write, not ``os.access``: root passes every permission check, a read-only mount
    or a full disk does not show in the mode bits.
    """
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".modax-doctor-"):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def check_lake_access(root: str) -> Check:
    """The lake root can be read and written (created on the first write if absent)."""
    if is_uri(root):
        return _check_object_store(root)
    path = Path(root).resolve()
    fix = f"point MODAX_LAKE at a writable directory, or make {path} writable for this user"
    if path.exists() and not path.is_dir():
        return Check("lake", False, f"{path} is a file, not a directory", fix)
    base = _nearest_existing(path)
    if not base.is_dir():
        return Check("lake", False, f"cannot create {path}: {base} is a file", fix)
    if not os.access(base, os.R_OK | os.X_OK):
        return Check("lake", False, f"{base} is not readable", fix)
    why = _write_probe(base)
    if why is not None:
        return Check("lake", False, f"cannot write in {base}: {why}", fix)
    state = "exists" if path.exists() else f"absent (created in {base} on the first write)"
    return Check("lake", True, f"{path}: readable and writable, {state}")


def _check_object_store(root: str) -> Check:
    from modax.lake import arrow_filesystem

    try:
        filesystem = arrow_filesystem(root, storage_options(root))
    except (ConfigError, OSError) as exc:
        return Check("lake", False, f"{root}: {exc}", "fix the AWS_* variables (see `s3` below)")
    if filesystem is None:
        return Check("lake", True, f"{root}: {scheme(root)}:// is read by deltalake, not probed")
    name = f".modax-doctor-{os.getpid()}"
    try:
        filesystem.get_file_info("")
        with filesystem.open_output_stream(name) as out:
            out.write(b"probe")
        filesystem.delete_file(name)
    except OSError as exc:
        return Check(
            "lake",
            False,
            f"{root}: {exc}",
            "check the bucket exists and the credentials may list, put and delete in it",
        )
    return Check("lake", True, f"{root}: readable and writable")


def check_s3(root: str, environ: dict[str, str] | None = None) -> Check | None:
    """For an ``s3://`` lake: the AWS_* settings are valid and name credentials and a region."""
    if not is_uri(root) or scheme(root) not in ("s3", "s3a"):
        return None
    env = dict(os.environ if environ is None else environ)
    try:
        options = storage_options(root, env)
    except ConfigError as exc:
        return Check("s3", False, str(exc), "fix the variable it names")
    missing = [v for v in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if v not in options]
    where = options.get("AWS_ENDPOINT_URL", "AWS")
    region = options.get("AWS_REGION", "none set")
    detail = f"endpoint {where}, region {region}, commit protocol {options['conditional_put']}"
    if missing:
        return Check(
            "s3",
            False,
            f"{detail}; {' and '.join(missing)} not set",
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or use an instance role)",
            required=False,
        )
    return Check("s3", True, detail)


def check_tables(root: str) -> list[Check]:
    """Each table: its version, how many files it has and how many are small."""
    from modax.lake import Lake

    try:
        lake = Lake(root)
        names = lake.tables()
    except Exception as exc:  # any reader error (deltalake, Arrow, OS) is the finding
        return [
            Check(
                "tables",
                False,
                f"cannot list the tables of {root}: {exc}",
                "check the lake check above",
                required=False,
            )
        ]
    if not names:
        return [Check("tables", True, "no tables yet (`modax simulate` or `modax ingest` writes)")]
    return [_table_check(lake, name) for name in names]


def _table_check(lake: Lake, name: str) -> Check:
    try:
        version = lake.version(name)
        dataset = lake.dataset(name)
        sizes = [info.size or 0 for info in dataset.filesystem.get_file_info(dataset.files)]
    except Exception as exc:  # any reader error (deltalake, Arrow, OS) is the finding
        return Check(
            f"table {name}", False, f"cannot read: {exc}", "see the lake check", required=False
        )
    small = sum(1 for size in sizes if size < SMALL_FILE_BYTES)
    detail = (
        f"version {version}, {len(sizes)} files ({sum(sizes) / 1e6:,.1f} MB), "
        f"{small} under {SMALL_FILE_BYTES // 2**20} MiB"
    )
    ok = small <= SMALL_FILES_WARN
    return Check(f"table {name}", ok, detail, "" if ok else f"modax compact {name}", required=False)


# --- this machine ----------------------------------------------------------------------------


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def check_demo_ports(settings: Settings) -> Check:
    """The ports ``modax demo`` listens on are free (the broker's may be one already running)."""
    busy = [] if _port_free(DEMO_PORT) else [DEMO_PORT]
    if busy:
        return Check(
            "demo ports",
            False,
            f"port {DEMO_PORT} (dashboards) is in use",
            f"stop what serves {DEMO_PORT}, or run `modax demo --port <free port>`",
            required=False,
        )
    return Check(
        "demo ports",
        True,
        f"{DEMO_PORT} free (broker {settings.broker_url.port}: "
        + ("running" if not _port_free(settings.broker_url.port) else "started by the demo")
        + ")",
    )


def _numba_cache_dir() -> Path:
    configured = os.environ.get("NUMBA_CACHE_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[1] / "kernels" / "__pycache__"


def check_numba_cache() -> Check:
    """The numba cache is writable (else each start compiles the kernels again, for minutes)."""
    directory = _numba_cache_dir()
    base = _nearest_existing(directory)
    why = _write_probe(base) if base.is_dir() else f"{base} is a file"
    if why is not None:
        return Check(
            "numba cache",
            False,
            f"cannot write {directory}: {why}",
            "set NUMBA_CACHE_DIR to a writable directory, e.g. ~/.cache/modax-numba",
            required=False,
        )
    return Check("numba cache", True, f"{directory} writable")


def check_tool(name: str, finder: Callable[[], str | None], fix: str, required: bool) -> Check:
    """An external program the tests (or the demo) run."""
    found = finder()
    return Check(
        name,
        found is not None,
        found or "not found on PATH",
        "" if found else fix,
        required=required,
    )


def _tool_checks(for_tests: bool) -> Iterator[Check]:
    from modax.local import find_mosquitto

    yield check_tool(
        "mosquitto",
        find_mosquitto,
        "apt-get install mosquitto (without it `modax broker` runs amqtt)",
        for_tests,
    )
    yield check_tool(
        "chromium",
        lambda: shutil.which("chromium"),
        "apt-get install chromium (the browser tests drive Debian's chromium)",
        for_tests,
    )
    yield check_tool(
        "g++",
        lambda: shutil.which("g++"),
        "apt-get install g++ make (the firmware core's host tests)",
        for_tests,
    )


def run_checks(
    settings: Settings, *, for_tests: bool = False, timeout_s: float = 3.0
) -> list[Check]:
    """Every check for ``settings``, in the order they are printed.

    Parameters
    ----------
    settings : Settings
        The broker and lake to check.
    for_tests : bool
        Whether what ``make test`` needs (mosquitto, Chromium, g++) is required, not only noted.
    timeout_s : float
        How long to wait for the broker, in s.
    """
    checks = [check_python(), check_core_packages(), check_extras(), check_lock()]
    broker = check_broker(settings, timeout_s)
    checks += [broker, check_broker_kind(broker)]
    s3 = check_s3(settings.lake)
    if s3 is not None:
        checks.append(s3)
    lake = check_lake_access(settings.lake)
    checks.append(lake)
    if lake.ok:
        checks += check_tables(settings.lake)
    checks += [check_demo_ports(settings), check_numba_cache(), *_tool_checks(for_tests)]
    return checks


_MARK = {"ok": "[green]✓[/]", "warn": "[yellow]![/]", "fail": "[bold red]✗[/]"}


@app.command("doctor")
def doctor_command(
    broker: Annotated[str | None, typer.Option(help="Broker URL (default: MODAX_BROKER).")] = None,
    lake: Annotated[str | None, typer.Option(help="Lake root (default: MODAX_LAKE).")] = None,
    tests: Annotated[
        bool, typer.Option("--tests", help="Also require what `make test` needs.")
    ] = False,
    timeout: Annotated[float, typer.Option(min=0.1, help="Broker timeout, in s.")] = 3.0,
    output: Annotated[
        ReportFormat, typer.Option("--format", help="table, or one JSON object.")
    ] = ReportFormat.table,
) -> None:
    """Check Python, packages, broker, lake, ports and tools; say how to fix each problem.

    Exit code 1 when a required check fails (something asked for cannot work), else 0.
    """
    settings = settings_from_env(broker=broker, lake=lake)
    checks = run_checks(settings, for_tests=tests, timeout_s=timeout)
    healthy = all(c.ok or not c.required for c in checks)
    if output is ReportFormat.json:
        rows = [{**c._asdict(), "status": c.status} for c in checks]
        print(json.dumps({"healthy": healthy, "checks": rows}))
    else:
        table = Table(show_header=False, box=None, pad_edge=False)
        for c in checks:
            line = escape(c.detail) + (f"\n[cyan]fix:[/] {escape(c.fix)}" if c.fix else "")
            table.add_row(_MARK[c.status], escape(c.name), line)
        console.print(table)
        console.print("healthy" if healthy else "[bold red]not healthy[/]: fix the ✗ lines")
    if not healthy:
        raise typer.Exit(EXIT_FAILURE)
