"""``modax demo``: the whole workbench on one machine, started and stopped as one.

Starts, in order: a local broker, a batch of simulated history into the lake, the live ingester, a
live simulated fleet and the Panel dashboards; prints the URL; Ctrl-C (or SIGTERM) stops every
process cleanly, newest first, each with SIGINT so it can flush and commit.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Service", "Supervisor", "modax_command", "port_open"]


def port_open(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


@dataclass
class Service:
    """One process of the demo.

    Attributes
    ----------
    name : str
        Shown in messages.
    argv : list of str
        The command.
    ready_port : int or None
        The service is ready when this local port accepts connections; ``None``: when started.
    oneshot : bool
        Runs to completion before the next service starts (e.g. writing history).
    """

    name: str
    argv: Sequence[str]
    ready_port: int | None = None
    oneshot: bool = False
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None


class Supervisor:
    """Starts services in order, waits until each is ready, stops them all in reverse order.

    Parameters
    ----------
    log_dir : Path
        Each service's output goes to ``{log_dir}/{name}.log``.
    ready_timeout_s : float
        How long a service may take to become ready.

    Examples
    --------
    >>> import tempfile, sys
    >>> sup = Supervisor(Path(tempfile.mkdtemp()))
    >>> sup.start(Service("hello", [sys.executable, "-c", "print('hi')"], oneshot=True))
    >>> sup.stop()
    """

    def __init__(self, log_dir: Path, ready_timeout_s: float = 120.0) -> None:
        self.log_dir = log_dir
        self.ready_timeout_s = ready_timeout_s
        self.services: list[Service] = []

    def start(self, service: Service) -> None:
        """Start ``service`` and wait until it is ready (or done, for a one-shot).

        Raises
        ------
        RuntimeError
            When it exits early, fails, or is not ready in time; the message points at its log.
        """
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{service.name}.log"
        log = log_path.open("wb")
        service.process = subprocess.Popen(
            list(service.argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **service.env},
            start_new_session=True,
        )
        self.services.append(service)
        deadline = time.monotonic() + self.ready_timeout_s
        while True:
            code = service.process.poll()
            if service.oneshot and code == 0:
                return
            if code is not None:
                raise RuntimeError(f"{service.name} exited with code {code}; see {log_path}")
            if not service.oneshot and (
                service.ready_port is None or port_open("127.0.0.1", service.ready_port)
            ):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{service.name} not ready after {self.ready_timeout_s:g} s; see {log_path}"
                )
            time.sleep(0.1)

    def exited(self) -> list[str]:
        """Names of long-running services that have exited (empty when all are up)."""
        return [
            s.name
            for s in self.services
            if not s.oneshot and s.process and s.process.poll() is not None
        ]

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop every service, newest first: SIGINT, then SIGKILL after ``timeout_s``."""
        for service in reversed(self.services):
            proc = service.process
            if proc is None or proc.poll() is not None:
                continue
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.services.clear()


def modax_command(*args: str) -> list[str]:
    """The argv that runs ``modax ARGS`` with this interpreter."""
    return [sys.executable, "-m", "modax", *args]
