"""The dashboards' login: Panel's basic login with an attempt limit and Secure cookies over TLS.

``modax dashboards --basic-auth USERS.json`` serves the apps with ``panel serve --auth-module``
pointing at this file (Bokeh loads it by path and reads ``get_user``, ``login_url``,
``LoginHandler``, ``logout_url`` and ``LogoutHandler``). It is Panel's own login page and cookies
(``panel.auth.BasicLoginHandler``: the ``user`` cookie ``pn.state.user`` reads) with two changes
Panel's ``--basic-auth`` has no option for:

- after :data:`MAX_FAILURES` wrong passwords from one client address, every login attempt from it
  is refused with HTTP 429 for :data:`LOCKOUT_S` seconds (:class:`LoginLimiter`);
- over TLS (``--ssl-certfile``) every cookie is marked ``Secure``, so a browser never sends the
  login cookie over plain HTTP.

Passwords are compared in constant time; the users file is read at each attempt (edits apply at
once). See ``docs/decisions/0011-dashboard-login-and-hostile-input.md``.
"""

from __future__ import annotations

import hmac
import json
import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tornado.escape
from panel.auth import BasicLoginHandler, LogoutHandler, _validate_next_url
from panel.config import config
from panel.io.state import state

__all__ = [
    "LOCKOUT_S",
    "MAX_FAILURES",
    "USERS_VAR",
    "LoginHandler",
    "LoginLimiter",
    "LogoutHandler",
    "get_user",
    "login_url",
    "logout_url",
]

#: Environment variable with the path of the JSON file of user → password.
USERS_VAR = "MODAX_DASHBOARD_USERS"
#: Wrong passwords from one client address before its attempts are refused.
MAX_FAILURES = 5
#: How long a client is refused after too many wrong passwords, in s.
LOCKOUT_S = 300.0

login_url = "/login"
logout_url = "/logout"


class LoginLimiter:
    """Wrong passwords per client: ``max_failures`` in a row lock the client for ``lockout_s``.

    Thread-safe; memory is bounded (clients seen longer than ``lockout_s`` ago are forgotten
    when more than ``max_clients`` are tracked).

    Parameters
    ----------
    max_failures : int
        Wrong passwords in a row before the lock.
    lockout_s : float
        Length of the lock, in s.
    clock : callable
        Monotonic time in s (``time.monotonic``).
    max_clients : int
        Clients tracked before old ones are forgotten.

    Examples
    --------
    >>> now = [0.0]
    >>> limiter = LoginLimiter(max_failures=2, lockout_s=60.0, clock=lambda: now[0])
    >>> limiter.failed("10.0.0.1"); limiter.failed("10.0.0.1")
    >>> limiter.locked_for("10.0.0.1"), limiter.locked_for("10.0.0.2")
    (60.0, 0.0)
    >>> now[0] = 61.0
    >>> limiter.locked_for("10.0.0.1")
    0.0
    """

    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        lockout_s: float = LOCKOUT_S,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        self.max_failures = max_failures
        self.lockout_s = lockout_s
        self.max_clients = max_clients
        self._clock = clock
        self._lock = threading.Lock()
        #: client → (wrong passwords in a row, time of the last one, locked until)
        self._clients: dict[str, tuple[int, float, float]] = {}

    def locked_for(self, client: str) -> float:
        """Seconds ``client`` is still refused; 0 when it may try."""
        with self._lock:
            _count, _last, until = self._clients.get(client, (0, 0.0, 0.0))
            return max(0.0, until - self._clock())

    def failed(self, client: str) -> None:
        """Record a wrong password; the ``max_failures``-th in a row locks the client."""
        now = self._clock()
        with self._lock:
            count, _last, until = self._clients.get(client, (0, 0.0, 0.0))
            count = 0 if until and until <= now else count  # a lock that ended starts afresh
            count += 1
            until = now + self.lockout_s if count >= self.max_failures else 0.0
            self._clients[client] = (count, now, until)
            if len(self._clients) > self.max_clients:
                self._forget(now)

    def succeeded(self, client: str) -> None:
        """Forget a client's wrong passwords after a right one."""
        with self._lock:
            self._clients.pop(client, None)

    def _forget(self, now: float) -> None:
        old = [
            c
            for c, (_n, last, until) in self._clients.items()
            if max(last, until) < now - self.lockout_s
        ]
        for client in old:
            del self._clients[client]


def _users() -> dict[str, str]:
    path = os.environ.get(USERS_VAR)
    if not path:
        raise RuntimeError(f"{USERS_VAR} is not set: start the dashboards with modax dashboards")
    users = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(users, dict):
        raise RuntimeError(f"{path}: expected a JSON object of user → password")
    return users


class LoginHandler(BasicLoginHandler):
    """Panel's login page with :attr:`limiter` and ``Secure`` cookies over TLS."""

    limiter = LoginLimiter()

    def post(self) -> None:
        """Check the password unless the client is locked (HTTP 429 with ``Retry-After``)."""
        client = self.request.remote_ip or "unknown"
        wait = self.limiter.locked_for(client)
        if wait:
            self.set_status(429)
            self.set_header("Retry-After", str(math.ceil(wait)))
            self.write(
                f"Too many wrong passwords from this address: try again in {math.ceil(wait)} s."
            )
            return
        username = self.get_argument("username", "")
        password = self.get_argument("password", "")
        if self._validate(username, password):
            self.limiter.succeeded(client)
            self.set_current_user(username)
            self.redirect(_validate_next_url(self.get_cookie("next_url", state.base_url)))
            return
        self.limiter.failed(client)
        message = tornado.escape.url_escape("Invalid username or password!")
        self.redirect(f"{self._login_endpoint}?error={message}")

    def _validate(self, username: str, password: str) -> bool:
        expected = _users().get(username)
        if not isinstance(expected, str):
            hmac.compare_digest(password.encode(), password.encode())  # same time either way
            return False
        return hmac.compare_digest(expected.encode(), password.encode())

    def set_cookie(self, name: str, value: str | bytes, *args: Any, **kwargs: Any) -> None:
        """Every cookie, marked ``Secure`` when the request came over TLS."""
        if self.request.protocol == "https":
            kwargs["secure"] = True
        super().set_cookie(name, value, *args, **kwargs)


def get_user(request_handler: Any) -> str | None:
    """The logged-in user of a request (Panel's signed ``user`` cookie), or ``None``."""
    user = request_handler.get_secure_cookie("user", max_age_days=config.oauth_expiry)
    return user.decode("utf-8") if user else None
