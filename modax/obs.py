"""Observability: JSON logs; an HTTP endpoint with Prometheus ``/metrics``, ``/health``, ``/ready``.

``/health`` answers whether the process works at all (liveness: restart it when not);
``/ready`` whether it does its job now (readiness: e.g. connected to the broker and committing to
the lake). Both return JSON with the reason, status 200 or 503.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

__all__ = ["Check", "JsonFormatter", "ObsServer", "configure_logging"]

#: A health or readiness check: ``(ok, details)``.
Check = Callable[[], tuple[bool, dict[str, Any]]]

_STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (UTC ISO 8601), ``level``, ``logger``, ``msg`` and extras.

    Examples
    --------
    >>> record = logging.makeLogRecord({"msg": "committed", "rows": 5, "created": 0})
    >>> line = json.loads(JsonFormatter().format(record))
    >>> line["ts"], line["msg"], line["rows"]
    ('1970-01-01T00:00:00.000Z', 'committed', 5)
    """

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as one line of JSON."""
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        out: dict[str, Any] = {
            "ts": ts + "Z",
            "level": record.levelname if record.levelname != "Level None" else "INFO",
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD:
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure_logging(log_format: str = "text", level: str = "INFO") -> None:
    """Send ``modax`` logs to stderr as text or JSON lines (``MODAX_LOG_FORMAT``/``_LEVEL``)."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("modax")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(200, CONTENT_TYPE_LATEST, generate_latest(self.server.registry))
        elif path in ("/health", "/ready"):
            check = self.server.health if path == "/health" else self.server.ready
            ok, details = check()
            body = json.dumps({"ok": ok, **details}, default=str).encode()
            self._send(200 if ok else 503, "application/json", body)
        else:
            self._send(404, "text/plain", b"not found: try /metrics, /health or /ready\n")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request access logs."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], registry: CollectorRegistry, health: Check, ready: Check
    ) -> None:
        super().__init__(address, _Handler)
        self.registry = registry
        self.health = health
        self.ready = ready


class ObsServer:
    """Serve ``/metrics``, ``/health`` and ``/ready`` on a background thread.

    Parameters
    ----------
    registry : prometheus_client.CollectorRegistry
        The metrics to expose.
    health, ready : Check
        Called per request; return ``(ok, details)``.
    port : int
        TCP port (0 picks a free one; see :attr:`port`).
    host : str
        Address to listen on.

    Examples
    --------
    >>> server = ObsServer(CollectorRegistry(), lambda: (True, {}), lambda: (False, {"why": "x"}))
    >>> server.start().port > 0
    True
    >>> server.stop()
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        health: Check,
        ready: Check,
        port: int = 0,
        host: str = "127.0.0.1",
    ) -> None:
        self._server = _Server((host, port), registry, health, ready)
        self.host = host
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="modax-obs", daemon=True
        )

    @property
    def url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> ObsServer:
        """Start serving."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
