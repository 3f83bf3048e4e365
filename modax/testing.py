"""Helpers for tests and benchmarks: conditions with timeouts, free ports, required services.

``MODAX_REQUIRE_ALL=1`` (set by CI) turns every "skip: X is missing" into a failure, so a CI
machine without mosquitto, Chromium or a data set cannot pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["CHROMIUM_ARGS", "free_port", "launch_chromium", "require", "require_all", "wait_for"]

T = TypeVar("T")


def require_all() -> bool:
    """Whether ``MODAX_REQUIRE_ALL`` is set to a true value (``1``, ``true``, ``yes``)."""
    return os.environ.get("MODAX_REQUIRE_ALL", "").lower() in ("1", "true", "yes")


def require(available: object, what: str) -> None:
    """Skip the calling test when ``available`` is falsy, or fail under ``MODAX_REQUIRE_ALL``.

    Parameters
    ----------
    available : object
        Truthy when the service, program or data set is there.
    what : str
        What is missing and how to get it, e.g. ``"mosquitto (apt-get install mosquitto)"``.
    """
    import pytest

    if available:
        return
    if require_all():
        pytest.fail(f"MODAX_REQUIRE_ALL=1 but {what} is not available")
    pytest.skip(f"{what} is not available")


def wait_for(
    condition: Callable[[], T],
    timeout: float = 10.0,
    what: str = "condition",
    interval: float = 0.02,
) -> T:
    """Poll ``condition`` until it returns a truthy value, and return that value.

    Raises
    ------
    TimeoutError
        Naming ``what`` when ``timeout`` seconds pass first.

    Examples
    --------
    >>> wait_for(lambda: 42, timeout=1.0, what="the answer")
    42
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


#: Flags for Debian's headless Chromium here: no sandbox (root), no GPU, and none of the
#: background connections a closed network refuses.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)


def launch_chromium(playwright: Any) -> Any:
    """Debian's ``chromium`` (Playwright's own browser download does not work here), headless.

    Parameters
    ----------
    playwright : playwright.sync_api.Playwright
        From ``sync_playwright()``.

    Returns
    -------
    playwright.sync_api.Browser
    """
    executable = shutil.which("chromium")
    if executable is None:
        raise RuntimeError("chromium is needed: apt-get install chromium")
    return playwright.chromium.launch(executable_path=executable, args=list(CHROMIUM_ARGS))
