"""The container deployment works as documented, checked without Docker.

``docker-compose.yml`` and ``deploy/scale/compose.yml`` are validated against the Compose
Specification's JSON schema (vendored in ``deploy/schema/``), the deployment's properties are
checked (login, named origin, read-only lake, writable state, ownership, pinned images, a health
check per service), and each service's command and health check run here, outside a container,
against real processes: mosquitto, ``modax ingest``, ``modax maintain``, ``modax dashboards``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import jsonschema
import pytest
import typer.main
import yaml
from mqtt_helpers import make_certs

from modax.cli import app
from modax.config import S3_VARIABLES, Settings
from modax.local import BrokerProcess, TLSListener, find_mosquitto, start_broker
from modax.testing import free_port, require, wait_for

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
SCALE_COMPOSE = ROOT / "deploy" / "scale" / "compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
SCHEMA = ROOT / "deploy" / "schema" / "compose-spec.json"
#: The services built from deploy/Dockerfile.
MODAX_SERVICES = ("ingester", "maintain", "dashboards")
KNOWN_VARIABLES = {f"MODAX_{f.name.upper()}" for f in fields(Settings)} | set(S3_VARIABLES)
#: The operator's password in the dashboards' users file.
PASSWORD = "a long passphrase"
#: A version tag (``2.0.21``, ``5.8.6``) or a MinIO release tag; never ``latest`` nor ``2``.
PINNED = re.compile(r"\d+\.\d+\.\d+|RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ")
#: Services of deploy/scale/compose.yml that run once and exit (no health to check).
ONE_SHOT = ("create-bucket", "compact")


def services() -> dict[str, dict]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def script(service: dict) -> str:
    """The shell text a service runs (``$$`` is Compose's escape for ``$``)."""
    command = service["command"]
    text = command[-1] if command[:2] == ["sh", "-c"] else shlex.join(command)
    return text.replace("$$", "$")


def healthcheck(service: dict) -> list[str]:
    """The health check as an argument list (``CMD-SHELL`` runs through ``sh -c``)."""
    kind, *rest = service["healthcheck"]["test"]
    words = ["sh", "-c", rest[0]] if kind == "CMD-SHELL" else rest
    return [w.replace("$$", "$") for w in words]


def volume_targets(service: dict) -> dict[str, str]:
    """Mount point → ``rw`` or ``ro`` for each volume of a service."""
    mounts = {}
    for spec in service.get("volumes", []):
        _source, target, *mode = spec.split(":")
        mounts[target] = mode[0] if mode else "rw"
    return mounts


@pytest.mark.parametrize("path", [COMPOSE, SCALE_COMPOSE], ids=lambda p: p.name)
def test_compose_files_follow_the_compose_specification(path: Path) -> None:
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(yaml.safe_load(path.read_text()))
    ]
    assert not errors, errors


def test_the_schema_check_catches_a_mistake() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    compose["services"]["dashboards"]["healthcheck"]["intervall"] = "30s"
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    assert any("intervall" in e.message for e in validator.iter_errors(compose))


@pytest.mark.parametrize("path", [COMPOSE, SCALE_COMPOSE], ids=lambda p: p.name)
def test_images_are_pinned_and_every_service_has_a_health_check(path: Path) -> None:
    for name, service in yaml.safe_load(path.read_text())["services"].items():
        image = service.get("image", "")  # a service built here names its image too
        tag = image.rpartition(":")[2] if ":" in image else ""
        assert PINNED.fullmatch(tag), f"{name}: image {image!r} is not pinned"
        if name not in ONE_SHOT:
            assert service.get("healthcheck", {}).get("test"), f"{name}: no health check"
    base = re.search(r"^FROM (\S+)", DOCKERFILE.read_text(), re.MULTILINE)
    assert base and re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base.group(1)), base


def test_modax_services_run_as_the_user_that_owns_their_volumes() -> None:
    dockerfile = DOCKERFILE.read_text()
    user = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)[-1]
    owned = set(re.findall(r"chown 1000:1000 ([^\n&]+)", dockerfile)[0].split())
    for name in MODAX_SERVICES:
        service = services()[name]
        assert service["user"] == user == "1000:1000", name
        named = {
            target
            for spec in service["volumes"]
            for source, target, *_ in [spec.split(":")]
            if not source.startswith(".")
        }
        assert named <= owned, f"{name}: {named - owned} not owned by the image's user"


def test_the_lake_is_read_only_where_only_read_and_state_is_writable_elsewhere() -> None:
    dashboards = services()["dashboards"]
    mounts = volume_targets(dashboards)
    lake = dashboards["environment"]["MODAX_LAKE"]
    state = dashboards["environment"]["MODAX_STATE_DIR"]
    assert mounts[lake] == "ro"
    assert mounts[state] == "rw" and not Path(state).is_relative_to(lake)
    for writer in ("ingester", "maintain"):
        assert volume_targets(services()[writer])[lake] == "rw", writer


def test_the_dashboards_need_a_login_and_name_their_origin() -> None:
    dashboards = services()["dashboards"]
    words = shlex.split(script(dashboards))
    origins = [words[i + 1] for i, w in enumerate(words) if w == "--allow-websocket-origin"]
    assert origins == ["$MODAX_DASHBOARD_ORIGIN"]
    assert dashboards["environment"]["MODAX_DASHBOARD_ORIGIN"].startswith(
        "${MODAX_DASHBOARD_ORIGIN:?"
    )
    assert not re.search(r"allow-websocket-origin\W+\*", COMPOSE.read_text())
    auth = words[words.index("--basic-auth") + 1]
    secrets = {f"/run/secrets/{s}" for s in dashboards["secrets"]}
    assert auth in secrets and "cat /run/secrets/dashboard_cookie_secret" in script(dashboards)


def test_no_secret_is_written_in_the_compose_file() -> None:
    for name, service in services().items():
        for key, value in service.get("environment", {}).items():
            if re.search(r"PASSWORD|SECRET", key):
                assert re.fullmatch(r"\$\{\w+:\?[^}]*\}", value), f"{name}: {key} in the file"


def test_commands_use_real_flags_and_settings() -> None:
    commands = typer.main.get_command(app).commands
    for name in MODAX_SERVICES:
        service = services()[name]
        words = shlex.split(script(service))
        sub = words[words.index("modax") + 1]
        flags = {w.split("=", 1)[0] for w in words if w.startswith("--")}
        known = {opt for param in commands[sub].params for opt in param.opts}
        assert flags <= known, f"{name}: {flags - known} are not flags of `modax {sub}`"
        variables = set(service["environment"]) - {"MODAX_DASHBOARD_ORIGIN"}
        assert variables <= KNOWN_VARIABLES, name


def test_the_image_ships_the_sample_data_but_not_the_lake() -> None:
    assert re.search(r"^COPY data \./data$", DOCKERFILE.read_text(), re.MULTILINE)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {"data/lake", "deploy/secrets", ".venv"} <= set(ignored)
    assert (ROOT / "data" / "skab").is_dir() and (ROOT / "data" / "cmapss").is_dir()


# --- The services' commands and health checks, run here --------------------------------------

#: Passwords of the deployment's MQTT users in the broker the tests start.
PASSWORDS = {"ingester": "ingest-pw", "dashboard": "dash-pw"}


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BrokerProcess, Path]]:
    """mosquitto as deployed: the deployment's users and ACL, TLS with development certificates.

    Yields the broker and the folder of its certificates.
    """
    require(find_mosquitto(), "mosquitto (apt-get install mosquitto)")
    require(shutil.which("mosquitto_passwd"), "mosquitto_passwd (apt-get install mosquitto)")
    home = tmp_path_factory.mktemp("broker")
    certs = make_certs(tmp_path_factory.mktemp("certs"))
    for i, (user, password) in enumerate(PASSWORDS.items()):
        create = ["-c"] if i == 0 else []
        subprocess.run(
            ["mosquitto_passwd", *create, "-b", home / "passwd", user, password],
            check=True,
            capture_output=True,
        )
    tls = TLSListener(free_port(), certs / "ca.crt", certs / "server.crt", certs / "server.key")
    with start_broker(
        free_port(),
        kind="mosquitto",
        data_dir=home / "data",
        password_file=home / "passwd",
        acl_file=ROOT / "deploy" / "mosquitto" / "acl",
        tls=tls,
    ) as process:
        yield process, certs


def _environment(service: dict, **values: str) -> dict[str, str]:
    """The service's ``environment`` as Compose would pass it, with ``values`` for what names a
    place in the container (the broker's host, files, folders) or comes from the host's
    environment (``${...}``); this interpreter's ``bin/`` first on PATH (``python``, ``modax``).
    """
    declared = {k: values.get(k, v) for k, v in service.get("environment", {}).items()}
    unset = [k for k, v in declared.items() if "${" in v]
    assert not unset, f"give the test a value for {unset}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODAX_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return env | declared


def _modax_environment(
    service: dict, broker: tuple[BrokerProcess, Path], **values: str
) -> dict[str, str]:
    """``_environment`` for a modax service, its broker and CA file those of ``broker``."""
    process, certs = broker
    user = service["environment"].get("MODAX_MQTT_USERNAME")
    if user is not None:
        values |= {
            "MODAX_BROKER": str(process.tls_url),
            "MODAX_MQTT_CA_FILE": str(certs / "ca.crt"),
            "MODAX_MQTT_PASSWORD": PASSWORDS[user],
        }
    return _environment(service, **values)


@contextlib.contextmanager
def _running(command: str, env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """Run ``command`` with ``sh -c`` as Compose's ``command`` does; stop it (SIGTERM) after."""
    process = subprocess.Popen(
        ["sh", "-c", command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def _healthy(service: dict, env: dict[str, str], port: tuple[str, object]) -> bool:
    """Whether the service's health check passes, its port swapped as ``(old, new)``."""
    check = [w.replace(port[0], str(port[1])) for w in healthcheck(service)]
    return subprocess.run(check, env=env, capture_output=True, timeout=20).returncode == 0


def _wait_healthy(
    name: str, process: subprocess.Popen, env: dict[str, str], port: tuple[str, int]
) -> None:
    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"{name} exited: {process.stderr.read().decode()[-2000:]}")
        return _healthy(services()[name], env, port)

    wait_for(ready, timeout=60, what=f"{name}'s health check", interval=0.5)


def test_the_broker_health_check_passes_against_the_deployed_acl(broker):
    require(shutil.which("mosquitto_sub"), "mosquitto_sub (apt-get install mosquitto-clients)")
    service, port = services()["mosquitto"], ("-p 1883", f"-p {broker[0].port}")
    good = _environment(service, HEALTH_PASSWORD=PASSWORDS["dashboard"])
    assert _healthy(service, good, port)
    assert not _healthy(service, _environment(service, HEALTH_PASSWORD="wrong"), port)


def test_the_ingester_command_connects_and_serves_its_health_check(broker, tmp_path):
    service, port = services()["ingester"], free_port()
    env = _modax_environment(service, broker, MODAX_LAKE=str(tmp_path / "lake"))
    assert not _healthy(service, env, ("9108", port))
    with _running(script(service).replace("9108", str(port)), env) as process:
        _wait_healthy("ingester", process, env, ("9108", port))  # /ready: connected, subscribed


def test_the_maintain_command_serves_its_health_check(tmp_path):
    service, port = services()["maintain"], free_port()
    env = _environment(service, MODAX_LAKE=str(tmp_path / "lake"))
    with _running(script(service).replace("9109", str(port)), env) as process:
        _wait_healthy("maintain", process, env, ("9109", port))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(request, timeout=20) as response:
            return response.status, response.headers.get("Location", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location", "")


def _login(port: int) -> str:
    """Log in as the operator; the ``Cookie`` header of the logged-in browser."""
    body = urllib.parse.urlencode({"username": "operator", "password": PASSWORD}).encode()
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        opener.open(f"http://127.0.0.1:{port}/login", body, timeout=20)
    except urllib.error.HTTPError as exc:  # the 302 to the page asked for
        cookies = exc.headers.get_all("Set-Cookie") or []
    return "; ".join(c.split(";", 1)[0] for c in cookies)


def _websocket_status(port: int, origin: str, cookie: str) -> int:
    """The HTTP status of a websocket handshake to the fleet app from ``origin``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    connection.request(
        "GET",
        "/fleet/ws",
        headers={
            "Cookie": cookie,
            "Origin": f"http://{origin}",
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Protocol": "bokeh, token",
        },
    )
    status = connection.getresponse().status
    connection.close()
    return status


def test_the_dashboards_command_asks_for_a_login_and_keeps_state_off_the_lake(broker, tmp_path):
    service = services()["dashboards"]
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "dashboard_users").write_text(json.dumps({"operator": PASSWORD}))
    (secrets / "dashboard_cookie_secret").write_text("c" * 64)
    lake, state, port = tmp_path / "lake", tmp_path / "state", free_port()
    lake.mkdir()
    origin = f"dashboards.example.com:{port}"
    env = _modax_environment(
        service,
        broker,
        MODAX_LAKE=str(lake),
        MODAX_STATE_DIR=str(state),
        MODAX_DASHBOARD_ORIGIN=origin,
    )
    command = script(service).replace("/run/secrets/", f"{secrets}/").replace("5006", str(port))
    with _running(command, env) as process:
        _wait_healthy("dashboards", process, env, ("5006", port))
        status, location = _get(f"http://127.0.0.1:{port}/fleet")
        assert status == 302 and "login?next=" in location, (status, location)
        cookie = _login(port)
        assert "user=" in cookie
        assert _websocket_status(port, "evil.example.com", cookie) == 403
        assert _websocket_status(port, origin, cookie) == 101
        wait_for((state / "alarm_acks.sqlite3").is_file, 30, "the acknowledgements file")
    assert list(lake.iterdir()) == []  # nothing written under the (read-only) lake
