"""A local MQTT broker with no set-up, for demos, notebooks and tests.

:func:`start_broker` runs mosquitto when its executable is installed, with a generated config
(persistence on, ``max_queued_messages`` raised from its default of 1000, which silently drops QoS 1
messages queued for a slow or absent subscriber), and otherwise the pure-Python amqtt — which does
not redeliver QoS 1 messages queued for a persistent session and is slow under load, so
crash-safe, high-rate delivery needs mosquitto (:data:`AMQTT_WARNING`).

Production brokers are configured from ``deploy/mosquitto/`` instead (no anonymous access,
password file, ACLs, TLS).
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType

__all__ = [
    "AMQTT_WARNING",
    "MAX_PACKET_BYTES",
    "BrokerError",
    "BrokerKind",
    "BrokerProcess",
    "TLSListener",
    "find_mosquitto",
    "mosquitto_config",
    "start_broker",
]

AMQTT_WARNING = (
    "this is the pure-Python amqtt broker: it speaks only MQTT 3.1.1, does not redeliver "
    "QoS 1 messages queued for a persistent session after a reconnect and manages only a few "
    "thousand messages/s. Crash-safe, high-rate delivery needs mosquitto "
    "(apt-get install mosquitto)."
)
#: Largest MQTT packet the generated mosquitto config accepts, in bytes: 1 MiB, far above
#: modax's 64 KiB payload limit (``modax.schema.MAX_PAYLOAD_BYTES``), so an oversized message
#: still reaches the ingester and its quarantine, while no client makes the broker buffer more.
MAX_PACKET_BYTES = 1024 * 1024
_SBIN = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto")


class BrokerError(RuntimeError):
    """The broker could not start or stop; the message says why (with its log's last lines)."""


class BrokerKind(StrEnum):
    """Which broker implementation runs."""

    AUTO = "auto"
    MOSQUITTO = "mosquitto"
    AMQTT = "amqtt"


@dataclass(frozen=True)
class TLSListener:
    """A TLS listener next to the plain one (mosquitto only).

    Attributes
    ----------
    port : int
        TCP port of the TLS listener.
    cafile, certfile, keyfile : str or Path
        CA certificate (PEM), the broker's certificate and its private key.
    require_certificate : bool
        Whether clients must present a certificate signed by ``cafile``.

    Examples
    --------
    >>> TLSListener(8883, "ca.crt", "server.crt", "server.key").require_certificate
    False
    """

    port: int
    cafile: str | Path
    certfile: str | Path
    keyfile: str | Path
    require_certificate: bool = False


def find_mosquitto() -> str | None:
    """Path of the mosquitto executable (also looked up in ``sbin``), or ``None``."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return next((p for p in _SBIN if os.access(p, os.X_OK)), None)


def mosquitto_config(
    port: int,
    data_dir: str | Path,
    *,
    host: str = "127.0.0.1",
    password_file: str | Path | None = None,
    acl_file: str | Path | None = None,
    tls: TLSListener | None = None,
    max_queued_messages: int = 0,
    max_queued_bytes: int = 0,
    max_packet_size: int = MAX_PACKET_BYTES,
) -> str:
    """The text of a mosquitto 2.x config for a local broker.

    Parameters
    ----------
    port : int
        Plain MQTT listener port.
    data_dir : str or Path
        Where the persistence database ``mosquitto.db`` lives.
    host : str
        Address to listen on.
    password_file, acl_file : str or Path, optional
        Enable authentication (anonymous access is then refused) and topic ACLs.
    tls : TLSListener, optional
        Add a TLS listener.
    max_queued_messages, max_queued_bytes : int
        Per-client bound on QoS 1/2 messages queued beyond the in-flight window (0 = unlimited;
        mosquitto's own default of 1000 silently drops messages for a slow subscriber).
    max_packet_size : int
        Largest MQTT packet accepted, in bytes; a client that sends a larger one is disconnected
        (mosquitto's default takes up to 256 MB, which any client could make it buffer).

    Examples
    --------
    >>> print(mosquitto_config(1883, "/tmp/b").splitlines()[0])
    per_listener_settings false
    """
    lines = [
        "per_listener_settings false",
        f"user {getpass.getuser()}",
        f"listener {port} {host}",
        "persistence true",
        f"persistence_location {Path(data_dir).resolve()}/",
        "autosave_interval 1",
        f"max_queued_messages {max_queued_messages}",
        f"max_queued_bytes {max_queued_bytes}",
        "max_inflight_messages 0",
        f"max_packet_size {max_packet_size}",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "connection_messages true",
        "log_timestamp_format %Y-%m-%dT%H:%M:%S",
    ]
    if password_file is None:
        lines.append("allow_anonymous true")
    else:
        lines += ["allow_anonymous false", f"password_file {Path(password_file).resolve()}"]
    if acl_file is not None:
        lines.append(f"acl_file {Path(acl_file).resolve()}")
    if tls is not None:
        lines += [
            f"listener {tls.port} {host}",
            f"cafile {Path(tls.cafile).resolve()}",
            f"certfile {Path(tls.certfile).resolve()}",
            f"keyfile {Path(tls.keyfile).resolve()}",
            f"require_certificate {'true' if tls.require_certificate else 'false'}",
            "tls_version tlsv1.2",
        ]
    return "\n".join(lines) + "\n"


def _amqtt_config(host: str, port: int) -> str:
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    return json.dumps(config, indent=2)  # JSON is YAML


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class BrokerProcess:
    """A broker running as a child process; use :func:`start_broker` to make one.

    Attributes
    ----------
    kind : BrokerKind
        ``mosquitto`` or ``amqtt``.
    host, port : str, int
        Where its plain listener is.
    data_dir : Path
        Its config, log and persistence database.
    tls : TLSListener or None
        Its TLS listener, if any.

    Examples
    --------
    >>> with start_broker(free_port()) as broker:  # doctest: +SKIP
    ...     print(broker.url)
    mqtt://127.0.0.1:...
    """

    def __init__(
        self,
        kind: BrokerKind,
        host: str,
        port: int,
        data_dir: Path,
        command: list[str],
        *,
        tls: TLSListener | None = None,
        owns_data_dir: bool = False,
    ) -> None:
        self.kind = kind
        self.host = host
        self.port = port
        self.data_dir = data_dir
        self.tls = tls
        self.command = command
        self._owns_data_dir = owns_data_dir
        self._proc: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"BrokerProcess({self.kind.value}, {self.url}, {state})"

    @property
    def url(self) -> str:
        """``mqtt://host:port`` of the plain listener."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def tls_url(self) -> str | None:
        """``mqtts://host:port`` of the TLS listener, if there is one."""
        return None if self.tls is None else f"mqtts://{self.host}:{self.tls.port}"

    @property
    def log_file(self) -> Path:
        """The broker's log (its stderr)."""
        return self.data_dir / "broker.log"

    @property
    def pid(self) -> int | None:
        """Process id while running."""
        return self._proc.pid if self.running and self._proc is not None else None

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 10) -> str:
        """The last ``lines`` lines of the broker's log."""
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def start(self, timeout: float = 10.0) -> BrokerProcess:
        """Start the process and wait until it accepts connections.

        Raises
        ------
        BrokerError
            When it exits or does not listen within ``timeout`` seconds (e.g. the port is taken).
        """
        if self.running:
            return self
        ports = [self.port] + ([self.tls.port] if self.tls is not None else [])
        taken = [p for p in ports if _accepts(self.host, p)]
        if taken:
            raise BrokerError(
                f"cannot start {self.kind.value} on {self.host}:{taken[0]}: the port is in use "
                "(another broker?); choose another with --port"
            )
        with self.log_file.open("ab") as log:
            self._proc = subprocess.Popen(
                self.command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + timeout
        while not all(_accepts(self.host, p) for p in ports):
            if self._proc.poll() is not None:
                raise BrokerError(
                    f"{self.kind.value} exited with code {self._proc.returncode} while starting "
                    f"on {self.host}:{self.port}: {self.log_tail(3) or 'no log'}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise BrokerError(
                    f"{self.kind.value} did not listen on {self.host}:{self.port} within "
                    f"{timeout:g} s: {self.log_tail(3) or 'no log'}"
                )
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop gracefully (mosquitto saves its persistence database), killing after ``timeout``."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT if self.kind is BrokerKind.AMQTT else signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._proc = None

    def kill(self) -> None:
        """``kill -9``: stop at once without saving anything."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def restart(self, timeout: float = 10.0) -> BrokerProcess:
        """Stop gracefully and start again on the same port with the same persistence."""
        self.stop(timeout)
        return self.start(timeout)

    def wait(self) -> int:
        """Block until the process exits; its exit code."""
        if self._proc is None:
            return 0
        return self._proc.wait()

    def close(self) -> None:
        """Stop, and remove the data directory if :func:`start_broker` created it."""
        self.stop()
        if self._owns_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> BrokerProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def start_broker(
    port: int = 1883,
    *,
    host: str = "127.0.0.1",
    kind: BrokerKind | str = BrokerKind.AUTO,
    data_dir: str | Path | None = None,
    password_file: str | Path | None = None,
    acl_file: str | Path | None = None,
    tls: TLSListener | None = None,
    max_queued_messages: int = 0,
    timeout: float = 10.0,
) -> BrokerProcess:
    """Start a local broker and wait until it listens.

    Parameters
    ----------
    port : int
        Plain MQTT port.
    host : str
        Address to listen on (loopback by default).
    kind : BrokerKind or str
        ``auto`` (mosquitto when installed, else amqtt), ``mosquitto`` or ``amqtt``.
    data_dir : str or Path, optional
        Config, log and persistence directory; a temporary one (removed by
        :meth:`BrokerProcess.close`) when ``None``.
    password_file, acl_file, tls, max_queued_messages
        mosquitto only: see :func:`mosquitto_config`.
    timeout : float
        Seconds to wait for the broker to listen.

    Returns
    -------
    BrokerProcess
        Running; stop it with ``.close()`` or use it as a context manager.

    Raises
    ------
    BrokerError
        When mosquitto is asked for but not installed, an option needs mosquitto, or the broker
        does not start (the message quotes its log).

    Examples
    --------
    >>> from modax.testing import free_port
    >>> with start_broker(free_port()) as broker:  # doctest: +SKIP
    ...     broker.kind
    <BrokerKind.MOSQUITTO: 'mosquitto'>
    """
    kind = BrokerKind(kind)
    mosquitto = find_mosquitto()
    if kind is BrokerKind.AUTO:
        kind = BrokerKind.MOSQUITTO if mosquitto else BrokerKind.AMQTT
    owns = data_dir is None
    directory = (
        Path(tempfile.mkdtemp(prefix="modax-broker-")) if data_dir is None else Path(data_dir)
    )
    directory.mkdir(parents=True, exist_ok=True)
    if kind is BrokerKind.MOSQUITTO:
        if mosquitto is None:
            raise BrokerError("mosquitto is not installed (apt-get install mosquitto)")
        config = directory / "mosquitto.conf"
        config.write_text(
            mosquitto_config(
                port,
                directory,
                host=host,
                password_file=password_file,
                acl_file=acl_file,
                tls=tls,
                max_queued_messages=max_queued_messages,
            )
        )
        command = [mosquitto, "-c", str(config)]
    else:
        if password_file is not None or acl_file is not None or tls is not None:
            raise BrokerError("passwords, ACLs and TLS need mosquitto (apt-get install mosquitto)")
        config = directory / "amqtt.yaml"
        config.write_text(_amqtt_config(host, port))
        command = [sys.executable, "-m", "amqtt.scripts.broker_script", "-c", str(config)]
    broker = BrokerProcess(kind, host, port, directory, command, tls=tls, owns_data_dir=owns)
    try:
        return broker.start(timeout)
    except BrokerError:
        broker.close()
        raise
