"""The dashboards in real Chromium: mosquitto, a publishing fleet and ``panel serve`` on free ports.

Panel renders inside shadow DOM; Playwright locators pierce it. Screenshots go to
``test-artifacts/``.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import msgspec
import paho.mqtt.client as mqtt
import pyarrow as pa
import pytest
from mqtt_helpers import Publisher, make_certs

from modax.lake import Lake
from modax.local import BrokerProcess
from modax.schema import Advisory, Telemetry, Vibration, topic_for
from modax.testing import free_port, wait_for
from modax.viz import AckStore, default_ack_path

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
OVERLOADED = "web-0002"
#: Markup that runs a handler in the browser if any page parses it as HTML.
HOSTILE = "<img src=x onerror=alert(1)>"
#: A safety event in the lake (read when the server starts) whose device id is that markup.
LAKE_KIND = "<img src=x onerror=alert(2)>"
#: A device a remaining-life model and an anomaly detector speak about (lake history + live).
MODELLED = "web-0004"
#: Its estimates in the lake's ``remaining_life_estimates`` (h): falling, with an interval.
LAKE_RUL = [30.0, 27.0, 24.0, 21.0, 18.0]

pytestmark = pytest.mark.browser


def _status(url: str) -> int:
    """HTTP status of ``url`` (0 when unreachable); HTTPS is not verified (a test's own cert)."""
    request = urllib.request.Request(url)
    unverified = ssl._create_unverified_context()
    opener = urllib.request.build_opener(
        _NoRedirect, urllib.request.HTTPSHandler(context=unverified)
    )
    try:
        with opener.open(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _launch(env: dict[str, str], log: Path, *extra: str) -> tuple[subprocess.Popen, str, Path]:
    """Start ``modax dashboards`` on a free port (without waiting for it)."""
    port = free_port()
    command = [sys.executable, "-m", "modax", "dashboards", "--port", str(port), *extra]
    server = subprocess.Popen(command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    scheme = "https" if "--ssl-certfile" in extra else "http"
    return server, f"{scheme}://127.0.0.1:{port}", log


def _live(launched: tuple[subprocess.Popen, str, Path]) -> str:
    """Wait until a launched server answers ``/liveness``; its base URL."""
    server, base, log = launched
    wait_for(
        lambda: server.poll() is not None or _status(f"{base}/liveness") == 200,
        120,
        "modax dashboards to be live",
    )
    if server.poll() is not None:
        raise AssertionError(f"modax dashboards exited: {log.read_text()[-3000:]}")
    return base


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def env(mosquitto: BrokerProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    lake = tmp_path_factory.mktemp("browser-lake")
    now = pa.scalar(datetime.now(UTC), pa.timestamp("ms", tz="UTC"))
    event = {"device_id": HOSTILE, "ts": now, "kind": LAKE_KIND, "state": "begin"}
    Lake(lake).append("safety_events", pa.table({k: [v] for k, v in event.items()}))
    _model_history(Lake(lake), int(datetime.now(UTC).timestamp() * 1000))
    return {**os.environ, "MODAX_BROKER": mosquitto.url, "MODAX_LAKE": str(lake)}


def _model_history(lake: Lake, now_ms: int) -> None:
    """What the advisor and the simulator leave in a lake for :data:`MODELLED`: remaining-life
    estimates, the twin's true remaining life and anomaly scores of the last minutes.
    """
    times = [now_ms - (len(LAKE_RUL) - i) * 30_000 for i in range(len(LAKE_RUL))]
    ts = pa.array(times, pa.timestamp("ms", tz="UTC"))
    n = len(times)
    estimates = {
        "device_id": [MODELLED] * n,
        "ts": ts,
        "model": ["rul-sim"] * n,
        "version": ["3"] * n,
        "rul_h": LAKE_RUL,
        "rul_low_h": [r * 0.7 for r in LAKE_RUL],
        "rul_high_h": [r * 1.3 for r in LAKE_RUL],
        "rul_cap_h": [1000.0] * n,
        "advisory": [True] * n,
    }
    lake.append("remaining_life_estimates", pa.table(estimates))
    truth = {"device_id": [MODELLED] * n, "ts": ts, "damage": [0.7 + i / 50 for i in range(n)]}
    lake.append("remaining_life", pa.table(truth | {"rul_s": [r * 3300.0 for r in LAKE_RUL]}))
    scores = {"device_id": [MODELLED] * n, "ts": ts, "score": [0.2 * i for i in range(n)]}
    lake.append("scores", pa.table(scores | {"model": ["pca-t2q"] * n, "advisory": [True] * n}))


@pytest.fixture(scope="module")
def fleet_publisher(env: dict[str, str]) -> Iterator[subprocess.Popen]:
    publisher = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "bench" / "fleet_publisher.py"),
            "--broker",
            env["MODAX_BROKER"],
            "--devices",
            "6",
            "--prefix",
            "web",
            "--rate",
            "5",
            "--duration",
            "300",
            "--overload",
            OVERLOADED,
            "--overload-after",
            "6",
        ],
        env=env,
    )
    yield publisher
    _stop(publisher)


@pytest.fixture(scope="module")
def credentials(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("auth") / "credentials.json"
    path.write_text(json.dumps({"operator": "correct horse battery"}))
    return path


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def launched(
    env: dict[str, str], credentials: Path, certs: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, tuple[subprocess.Popen, str, Path]]]:
    """Both servers start at once (open; login over HTTPS): they warm up side by side."""
    logs = tmp_path_factory.mktemp("logs")
    secret_env = {**env, "MODAX_COOKIE_SECRET": os.urandom(16).hex()}
    tls = ["--ssl-certfile", str(certs / "server.crt"), "--ssl-keyfile", str(certs / "server.key")]
    auth = _launch(secret_env, logs / "auth.log", "--basic-auth", str(credentials), *tls)
    servers = {"open": _launch(env, logs / "open.log"), "auth": auth}
    yield servers
    for process, _base, _log in servers.values():
        _stop(process)


@pytest.fixture(scope="module")
def server(launched: dict[str, tuple[subprocess.Popen, str, Path]]) -> str:
    return _live(launched["open"])


def _shot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), timeout=30_000)


def _row(page: object, device_id: str) -> object:
    link = page.get_by_role("link", name=device_id, exact=True)
    return page.locator(".tabulator-row", has=link).first


def _cell(page: object, device_id: str, field: str) -> str:
    return _row(page, device_id).locator(f'[tabulator-field="{field}"]').inner_text()


def test_overview_lists_devices_with_live_values_and_quarantine(
    page: object, server: str, fleet_publisher: subprocess.Popen, mosquitto: BrokerProcess
) -> None:
    page.goto(f"{server}/fleet")
    for i in range(6):
        _row(page, f"web-{i:04d}").wait_for()
    first = _cell(page, "web-0000", "last_reading")
    wait_for(
        lambda: _cell(page, "web-0000", "last_reading") not in ("", first),
        10,
        "the last reading of web-0000 to change",
    )
    assert float(_cell(page, "web-0000", "current_1")) == pytest.approx(4.0, abs=2.0)

    bad = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="browser-bad")
    bad.connect(mosquitto.host, mosquitto.port)
    bad.loop_start()
    bad.publish("modax/devices/web-0000/telemetry", b'{"device_id": "web-0000", "oops"', 1)
    vib = Vibration(0.0, 0.0, 9.8, 9.8)
    spoofed = msgspec.json.encode(Telemetry(1_800_000_000_000, "not valid!", [4.0], vib, [40.0]))
    bad.publish("modax/devices/web-x/telemetry", spoofed, 1).wait_for_publish()
    bad.loop_stop()
    bad.disconnect()
    page.get_by_text("Quarantined messages").click()
    page.get_by_text("not_json").first.wait_for()
    page.get_by_text("invalid_device_id").first.wait_for()
    assert page.get_by_role("link", name="web-x").count() == 0
    _shot(page, "fleet-quarantine.png")


def test_overload_turns_to_alarm_and_is_acknowledged_in_the_feed(
    page: object, server: str, fleet_publisher: subprocess.Popen, env: dict[str, str]
) -> None:
    page.goto(f"{server}/fleet")
    state = _row(page, OVERLOADED).locator('[tabulator-field="status"]')
    wait_for(lambda: state.inner_text() == "alarm", 30, f"{OVERLOADED} to turn to alarm")
    assert _cell(page, OVERLOADED, "alarms") == "overload"
    assert _cell(page, "web-0001", "status") == "ok"

    feed_row = page.locator(".tabulator-row", has=page.get_by_text("overload", exact=True)).filter(
        has=page.get_by_role("link", name=OVERLOADED)
    )
    feed_row.get_by_text("active · unacknowledged").wait_for()
    feed_row.get_by_role("gridcell", name="Acknowledge", exact=True).click()
    feed_row.get_by_text("active · acknowledged").wait_for()
    store = AckStore(default_ack_path(env["MODAX_LAKE"]))
    acked = wait_for(
        lambda: [a for a in _acks(store) if a.startswith(f"{OVERLOADED}/overload/")],
        10,
        "the acknowledgement in the state file",
    )
    assert len(acked) == 1
    _shot(page, "fleet.png")


def _acks(store: AckStore) -> list[str]:
    with store._lock:
        return [row[0] for row in store._con.execute("select alarm_id from alarm_acks")]


def test_clicking_a_device_opens_its_drill_down_with_streaming_plots(
    page: object, server: str, fleet_publisher: subprocess.Popen
) -> None:
    page.goto(f"{server}/fleet")
    page.get_by_role("link", name="web-0001", exact=True).click()
    page.wait_for_url("**/device?id=web-0001")
    page.locator(".modax-device-id", has_text="web-0001").wait_for()
    points = page.locator(".modax-points")
    points.wait_for()
    before = int(points.inner_text())
    wait_for(lambda: int(points.inner_text()) >= before + 10, 30, "new points in the live plots")
    lengths = page.evaluate(
        """() => {
            const doc = window.Bokeh.documents[0];
            return [...doc.all_models].filter(m => m.data && 'current_1' in m.data)
                .map(m => m.data.current_1.length);
        }"""
    )
    assert lengths and max(lengths) > 0
    _shot(page, "device.png")


def test_basic_auth_refuses_anonymous_requests(
    launched: dict[str, tuple[subprocess.Popen, str, Path]],
    credentials: Path,
    env: dict[str, str],
    browser: object,
) -> None:
    no_secret = {k: v for k, v in env.items() if k != "MODAX_COOKIE_SECRET"}
    refused = subprocess.run(
        [sys.executable, "-m", "modax", "dashboards", "--basic-auth", str(credentials)],
        env=no_secret,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "MODAX_COOKIE_SECRET" in refused.stderr

    base = _live(launched["auth"])
    assert _status(f"{base}/fleet") in (302, 401, 403)
    assert _status(f"{base}/device?id=web-0001") in (302, 401, 403)
    context = browser.new_context(ignore_https_errors=True)  # the test's own CA
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{base}/fleet")
    assert "/login" in page.url
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    assert "/login" in page.url
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    page.get_by_text("Active safety alarms").wait_for()
    [user] = [c for c in context.cookies() if c["name"] == "user"]
    assert user["secure"] and user["httpOnly"]  # never sent over plain HTTP
    context.close()


def test_model_lab_runs_a_detector_and_shows_metrics(page: object, server: str) -> None:
    page.goto(f"{server}/lab")
    page.get_by_role("button", name="Run detector").click()
    page.locator(".modax-lab-done", has_text="level-shift").wait_for(timeout=60_000)
    f1_row = page.locator(".tabulator-row", has=page.get_by_text("F1 (points)", exact=True))
    f1 = float(f1_row.locator('[tabulator-field="value"]').inner_text())
    assert 0.0 < f1 <= 1.0
    page.get_by_text("event recall", exact=True).wait_for()
    _shot(page, "lab.png")


def test_every_page_loads_only_from_the_dashboard_server(page: object, server: str) -> None:
    """Plants often have no internet: a page asking another host (a font CDN) waits on it."""
    here = urlsplit(server).netloc
    elsewhere: list[str] = []

    def note(request: object) -> None:
        url = urlsplit(request.url.removeprefix("blob:"))
        if url.scheme in ("http", "https", "ws", "wss") and url.netloc != here:
            elsewhere.append(request.url)

    page.on("request", note)
    for path in ("fleet", "device?id=web-0000", "lab"):
        page.goto(f"{server}/{path}", wait_until="networkidle")
    assert elsewhere == []


def _no_markup_ran(page: object, dialogs: list[str]) -> None:
    """No hostile element was parsed anywhere (shadow DOM included) and no dialog opened."""
    assert page.locator('img[src="x"]').count() == 0
    assert dialogs == []


def test_a_hostile_device_id_in_the_url_shows_no_such_device(page: object, server: str) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{server}/device?id=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")
    page.locator(".modax-no-device", has_text="no such device").wait_for()
    assert page.title() == "modax · no such device"
    _no_markup_ran(page, dialogs)


def test_hostile_text_from_messages_and_the_lake_is_shown_as_text(
    page: object, server: str, fleet_publisher: subprocess.Popen, mosquitto: BrokerProcess
) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="browser-hostile")
    client.connect(mosquitto.host, mosquitto.port)
    client.loop_start()
    device, ts = "web-0003", 1_800_000_000_000
    advisory = {"device_id": device, "ts": ts, "state": "raised", "score": 9.0}
    advisory["recommendations"] = [{"code": "inspect", "message": HOSTILE}]
    client.publish(topic_for(device, "advisory"), json.dumps(advisory), 1)
    event = {"device_id": device, "ts": ts, "kind": HOSTILE, "state": "begin", "value": 1.0}
    client.publish(topic_for(device, "events"), json.dumps(event), 1)
    client.publish(f"modax/devices/{HOSTILE}/telemetry", HOSTILE, 1).wait_for_publish()
    client.loop_stop()
    client.disconnect()

    page.goto(f"{server}/fleet")
    feed = page.locator(".tabulator-row", has=page.get_by_role("link", name=device, exact=True))
    feed.get_by_text(HOSTILE, exact=True).first.wait_for()  # the kind, as text
    page.get_by_text(LAKE_KIND, exact=True).first.wait_for()  # the lake's event
    page.get_by_role("link", name=HOSTILE, exact=True).first.wait_for()
    page.get_by_text("Quarantined messages").click()
    page.get_by_text(f"modax/devices/{HOSTILE}/telemetry", exact=True).wait_for()
    _no_markup_ran(page, dialogs)

    page.goto(f"{server}/device?id={device}")
    page.locator(".modax-device-id", has_text=device).wait_for()
    page.get_by_text(f"Active alarms: {HOSTILE}").wait_for()
    _no_markup_ran(page, dialogs)
    _shot(page, "device-hostile.png")


def _advise(mosquitto: BrokerProcess, *advisories: Advisory) -> None:
    """Publish advisory messages through the broker, as the advisor does."""
    publisher = Publisher(mosquitto.host, mosquitto.port, client_id="browser-advisor")
    publisher.publish(
        (topic_for(a.device_id, "advisory"), msgspec.json.encode(a)) for a in advisories
    )
    publisher.wait_acked(len(advisories))
    publisher.close()


def _nav(page: object) -> list[str]:
    """The links of the page's header (the same on every page)."""
    page.locator(".modax-nav a").first.wait_for()
    return page.locator(".modax-nav a").all_inner_texts()


def _bokeh_columns(page: object, column: str) -> list[int]:
    """Lengths of every Bokeh data source of the page that has ``column``."""
    return page.evaluate(
        """(column) => window.Bokeh.documents.flatMap(doc => [...doc.all_models])
            .filter(m => m.data && column in m.data).map(m => m.data[column].length)""",
        column,
    )


def test_model_scores_remaining_life_and_alerts_fill_every_page(
    page: object, server: str, fleet_publisher: subprocess.Popen, mosquitto: BrokerProcess
) -> None:
    now = int(datetime.now(UTC).timestamp() * 1000)
    _advise(
        mosquitto,
        Advisory(MODELLED, now, "raised", model="pca-t2q", score=3.2, threshold=1.0),
        Advisory(MODELLED, now + 100, model="pca-t2q", score=3.4, threshold=1.0),
        Advisory(MODELLED, now + 100, model="rul-sim", rul_h=8.2, rul_low_h=5.0, rul_high_h=12.4),
        Advisory("web-0005", now, model="rul-sim", rul_h=1000.0, rul_high_h=1e3, rul_cap_h=1e3),
    )
    page.goto(f"{server}/fleet")
    assert _nav(page) == ["Fleet", "Devices", "Model lab"]
    wait_for(lambda: _cell(page, MODELLED, "rul") == "8 (5–12)", 30, "the remaining life")
    assert _cell(page, MODELLED, "score") == "3.4"
    assert _cell(page, "web-0005", "rul") == "≥ 1000"
    cells = _row(page, MODELLED).locator(".tabulator-cell")

    def empty() -> list[str | None]:
        return [c.get_attribute("tabulator-field") for c in cells.all() if not c.inner_html()]

    wait_for(lambda: not empty(), 30, "every column of the modelled device to be filled")
    page.get_by_text("8 h (5–12)", exact=True).wait_for()  # the worst remaining life KPI
    alert = page.locator(".tabulator-row", has=page.get_by_text("anomaly", exact=True)).filter(
        has=page.get_by_role("link", name=MODELLED)
    )
    alert.get_by_text("advisory", exact=True).wait_for()
    assert alert.get_by_text("active · unacknowledged").count() == 1
    _shot(page, "fleet-models.png")

    page.goto(f"{server}/device?id={MODELLED}")
    assert _nav(page) == ["Fleet", "Devices", "Model lab"]
    wait_for(lambda: max(_bokeh_columns(page, "score"), default=0) >= 2, 30, "scores plotted")
    page.get_by_text("Wear & remaining life", exact=True).click()
    page.locator(".modax-rul-model", has_text="rul-sim v3").wait_for()
    page.get_by_text("8 h (5–12)", exact=True).wait_for()  # the live estimate
    estimates = len(LAKE_RUL) + 1  # the lake's and the live one
    wait_for(lambda: estimates in _bokeh_columns(page, "rul_h"), 30, "the model's estimates")
    band = page.evaluate(  # the 80 % band: a patch along the low bounds and back the high ones
        """() => window.Bokeh.documents.flatMap(doc => [...doc.all_models])
            .filter(m => m.data && 'x' in m.data && 'y' in m.data).map(m => [...m.data.y])"""
    )
    bounds = sorted([r * k for r in LAKE_RUL for k in (0.7, 1.3)] + [5.0, 12.4])
    assert bounds in [sorted(y) for y in band], band
    assert len(LAKE_RUL) in _bokeh_columns(page, "damage")  # the twin's truth beside it
    _shot(page, "device-wear.png")


def test_the_fleet_keeps_updating_while_the_lab_fits_a_cmapss_model(
    browser: object, server: str, fleet_publisher: subprocess.Popen
) -> None:
    lab_context, fleet_context = browser.new_context(), browser.new_context()
    lab, fleet = lab_context.new_page(), fleet_context.new_page()
    for p in (lab, fleet):
        p.set_default_timeout(60_000)
    fleet.goto(f"{server}/fleet")
    _row(fleet, "web-0000").wait_for()
    lab.goto(f"{server}/lab")
    assert _nav(lab) == ["Fleet", "Devices", "Model lab"]
    # the slowest model on every training unit: a fit of seconds (0.6 s for the defaults, too
    # short to see a fleet table whose last reading moves once a second)
    lab.get_by_label("Remaining-life model").select_option("ensemble")
    lab.get_by_label("Training units").fill("100")
    lab.get_by_role("button", name="Run remaining-life model").click()
    fitting = lab.locator(".modax-lab-progress", has_text="fitting ensemble on 100 units")
    fitting.wait_for()
    seen: set[str] = set()

    def fleet_moved_during_the_fit() -> bool:
        assert fitting.count() == 1, "the fit ended before the fleet page was seen updating"
        seen.add(_cell(fleet, "web-0000", "last_reading"))
        return len(seen) >= 2

    wait_for(fleet_moved_during_the_fit, 30, "the fleet's last readings to change", 0.2)
    lab.get_by_role("button", name="Cancel").click()  # a fit ends when asked, not when done
    lab.locator(".modax-lab-cancelled").wait_for()
    again = lab.get_by_role("button", name="Run remaining-life model")
    wait_for(again.is_enabled, 10, "the lab to take a new run")
    lab_context.close()
    fleet_context.close()
