"""Shared fixtures: real services only (a temp lake, brokers, browsers), no mocks."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from modax.local import (
    BrokerError,
    BrokerProcess,
    LocalS3Server,
    find_mosquitto,
    moto_available,
    start_broker,
)
from modax.testing import free_port, launch_chromium, require

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    """An empty lake root in a temporary directory."""
    return tmp_path / "lake"


# --- MQTT brokers: real processes on free loopback ports (modax.local) ----------------------


def _start_on_free_port(**options: object) -> BrokerProcess:
    """``start_broker`` on a free port, retrying when another process takes the port first."""
    error = BrokerError("no attempt")
    for _ in range(3):
        try:
            return start_broker(free_port(), **options)
        except BrokerError as exc:
            error = exc
    raise error


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """A real mosquitto shared by the whole session: anonymous, persistence on, loopback.

    Yields a ``modax.local.BrokerProcess`` with ``.url``, ``.host`` and ``.port``. It is shared,
    so use client ids and device ids of your own and do not stop or restart it: a test that needs
    a private, restartable or secured broker uses ``mosquitto_factory``.
    """
    require(find_mosquitto(), "mosquitto (apt-get install mosquitto)")
    broker = _start_on_free_port(kind="mosquitto", data_dir=tmp_path_factory.mktemp("mosquitto"))
    with broker:
        yield broker


@pytest.fixture
def mosquitto_factory(tmp_path: Path) -> Iterator[Callable[..., BrokerProcess]]:
    """Start private mosquitto brokers for one test: ``mosquitto_factory(**options)``.

    Options are those of ``modax.local.start_broker`` (``password_file``, ``acl_file``,
    ``tls``, ``max_queued_messages``, ...); the port is a free one. Each broker can be
    ``.restart()``-ed (persistence kept) or ``.kill()``-ed; all are stopped when the test ends.
    """
    require(find_mosquitto(), "mosquitto (apt-get install mosquitto)")
    brokers: list[BrokerProcess] = []

    def start(**options: object) -> BrokerProcess:
        options.setdefault("data_dir", tmp_path / f"mosquitto-{len(brokers)}")
        broker = _start_on_free_port(kind="mosquitto", **options)
        brokers.append(broker)
        return broker

    yield start
    for broker in brokers:
        broker.close()


@pytest.fixture(scope="session")
def amqtt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """The pure-Python amqtt broker (the zero-setup fallback of ``modax broker``), session-wide.

    Only for tests of that fallback: it does not redeliver QoS 1 messages queued for a
    persistent session, so crash-safety tests need ``mosquitto``.
    """
    broker = _start_on_free_port(kind="amqtt", data_dir=tmp_path_factory.mktemp("amqtt"))
    with broker:
        yield broker


# --- S3-compatible object storage: a real moto server on a free loopback port ----------------


@pytest.fixture(scope="session")
def s3_server() -> Iterator[LocalS3Server]:
    """A local S3 endpoint (``moto`` in server mode, ``modax.local``) shared by the session.

    Use a bucket of your own (``s3_server.create_bucket(name)``) or the ``s3_lake`` fixture.
    """
    require(moto_available(), "moto (pip install 'moto[server]')")
    with LocalS3Server() as server:
        yield server


@pytest.fixture
def s3_lake(
    s3_server: LocalS3Server, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> str:
    """An empty lake root ``s3://<bucket of this test>/lake`` with ``AWS_*`` set to reach it.

    The variables are set in this process's environment, so ``Lake(root)``, ``modax.connect``,
    the CLI and child processes all reach the local server exactly as they would reach AWS.
    """
    for name, value in s3_server.environ().items():
        monkeypatch.setenv(name, value)
    bucket = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:50]
    return f"{s3_server.create_bucket(f'{bucket}-{free_port()}')}/lake"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright, one per test module (a context per page)."""
    require(shutil.which("chromium"), "chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context's page (1400 × 1000 px), 30 s to find what a test asks for."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()
