"""A local S3-compatible server for tests, demos and the fleet-scale run: ``moto`` in server mode.

It is a real HTTP server in a child process, so the lake talks to it exactly as to AWS S3, MinIO
or Ceph (signed requests, conditional writes, multipart uploads); its objects live in the child's
memory and vanish when it stops. ``moto[server]`` is a development dependency (``pip install
'modax[dev]'``).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import urllib.error
import urllib.request
from types import TracebackType

from modax.testing import free_port, wait_for

__all__ = ["LocalS3Server", "moto_available"]

_ACCESS_KEY = "modax"
_SECRET_KEY = "modax-local-secret"  # moto accepts any key: nothing is protected by it


def moto_available() -> bool:
    """Whether ``moto`` (with its server extra) is installed."""
    return all(importlib.util.find_spec(name) is not None for name in ("moto", "flask"))


class LocalS3Server:
    """An S3 endpoint on ``127.0.0.1`` backed by ``moto``, started on a free port.

    Parameters
    ----------
    port : int, optional
        TCP port; a free one when ``None``.
    region : str
        Region reported in :meth:`environ`.

    Examples
    --------
    >>> from modax.lake import Lake
    >>> with LocalS3Server() as s3:  # doctest: +SKIP
    ...     s3.create_bucket("lake")
    ...     lake = Lake("s3://lake/prod", storage_options=s3.environ())
    """

    def __init__(self, port: int | None = None, region: str = "us-east-1") -> None:
        self.port = port if port is not None else free_port()
        self.region = region
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """The server's URL, e.g. ``http://127.0.0.1:40123``."""
        return f"http://127.0.0.1:{self.port}"

    def environ(self) -> dict[str, str]:
        """The ``AWS_*`` variables that point the lake (and any S3 client) at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": _ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": _SECRET_KEY,
            "AWS_REGION": self.region,
            "AWS_ALLOW_HTTP": "true",
        }

    def _answers(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise RuntimeError(
                f"moto server exited with code {self._process.returncode} on port {self.port}"
            )
        try:
            with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1):
                return True
        except (urllib.error.URLError, OSError):
            return False

    def start(self, timeout: float = 30.0) -> LocalS3Server:
        """Start the server and wait until it answers (``timeout`` in s)."""
        if not moto_available():
            raise RuntimeError("moto is not installed: pip install 'moto[server]'")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(self._answers, timeout, f"moto S3 server on port {self.port}", interval=0.1)
        except BaseException:
            self.stop()
            raise
        return self

    def create_bucket(self, name: str) -> str:
        """Create bucket ``name`` and return its ``s3://`` URI."""
        request = urllib.request.Request(f"{self.endpoint}/{name}", method="PUT")
        with urllib.request.urlopen(request, timeout=10):
            return f"s3://{name}"

    def stop(self) -> None:
        """Stop the server (its objects are gone)."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def __enter__(self) -> LocalS3Server:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
