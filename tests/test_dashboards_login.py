"""The dashboards' login handler in a real Tornado server (HTTP and HTTPS on free ports).

The whole ``modax dashboards --basic-auth --ssl-certfile`` server is driven by Chromium in
``test_dashboards_browser.py``; here the attempt limit is tried with small numbers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import tornado.httpserver
import tornado.ioloop
import tornado.web
from mqtt_helpers import make_certs

from modax.testing import free_port
from modax.viz._login import USERS_VAR, LoginHandler, LoginLimiter

PASSWORD = "correct horse battery"


class _LimitedLogin(LoginHandler):
    limiter = LoginLimiter(max_failures=3, lockout_s=600.0)


@contextlib.contextmanager
def _serve(ssl_options: ssl.SSLContext | None) -> Iterator[str]:
    """Serve ``/login`` on a free port in a thread; yields the base URL."""
    port = free_port()
    started = threading.Event()
    loops: list[tornado.ioloop.IOLoop] = []

    def run() -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        app = tornado.web.Application([(r"/login", _LimitedLogin)], cookie_secret="s" * 32)
        tornado.httpserver.HTTPServer(app, ssl_options=ssl_options).listen(port, "127.0.0.1")
        loops.append(tornado.ioloop.IOLoop.current())
        started.set()
        loops[0].start()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10), "the login server did not start"
    yield f"{'https' if ssl_options else 'http'}://127.0.0.1:{port}"
    loops[0].add_callback(loops[0].stop)
    thread.join(10)


@pytest.fixture
def users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "users.json"
    path.write_text(json.dumps({"operator": PASSWORD}))
    monkeypatch.setenv(USERS_VAR, str(path))


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_certs(tmp_path_factory.mktemp("certs"))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _login(base: str, password: str, context: ssl.SSLContext | None = None) -> tuple[int, object]:
    """POST the login form; the status and the headers of the answer (redirects not followed)."""
    body = urllib.parse.urlencode({"username": "operator", "password": password}).encode()
    opener = urllib.request.build_opener(_NoRedirect, urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(f"{base}/login", body, timeout=10) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as exc:  # a 302 is one here, as redirects are not followed
        return exc.code, exc.headers


def test_after_too_many_wrong_passwords_a_client_is_refused(users: None) -> None:
    _LimitedLogin.limiter = LoginLimiter(max_failures=3, lockout_s=600.0)
    with _serve(None) as base:
        assert _login(base, PASSWORD)[0] == 302  # the right password works
        for _ in range(3):
            status, headers = _login(base, "wrong")
            assert status == 302 and "error=" in headers["Location"]
        status, headers = _login(base, PASSWORD)
        assert status == 429  # refused, even with the right password
        assert 590 <= int(headers["Retry-After"]) <= 600


def test_cookies_are_secure_over_tls_only(users: None, certs: Path) -> None:
    _LimitedLogin.limiter = LoginLimiter(max_failures=3, lockout_s=600.0)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(certs / "server.crt", certs / "server.key")
    client = ssl.create_default_context(cafile=str(certs / "ca.crt"))
    for options, context, secure in ((tls, client, True), (None, None, False)):
        with _serve(options) as base:
            status, headers = _login(base, PASSWORD, context)
        cookies = [c for c in headers.get_all("Set-Cookie") or [] if c.startswith("user=")]
        assert status == 302 and len(cookies) == 1 and "HttpOnly" in cookies[0]
        assert ("Secure" in cookies[0]) is secure, cookies[0]
