"""Scale-out deploy files stay in step with the code: real `modax ingest` flags and settings."""

from __future__ import annotations

import re
import shlex
from dataclasses import fields
from pathlib import Path

import typer.main
import yaml

from modax.cli import app
from modax.config import S3_VARIABLES, Settings

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
KNOWN_VARIABLES = {f"MODAX_{f.name.upper()}" for f in fields(Settings)} | set(S3_VARIABLES)


def ingest_flags() -> set[str]:
    command = typer.main.get_command(app).commands["ingest"]
    return {opt for param in command.params for opt in param.opts}


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "scale" / "compose.yml").read_text())


def manifests() -> list[dict]:
    return list(yaml.safe_load_all((DEPLOY / "k8s" / "ingester.yaml").read_text()))


def test_the_compose_ingesters_use_real_flags_and_settings():
    service = compose()["services"]["ingester"]
    script = service["command"][-1]
    words = shlex.split(script.replace("$$", "$"))
    flags = {w.split("=", 1)[0] for w in words if w.startswith("--")}
    assert {"--shared-group", "--client-id", "--broker"} <= flags <= ingest_flags()
    assert set(service["environment"]) <= KNOWN_VARIABLES
    assert service["environment"]["MODAX_LAKE"].startswith("s3://")


def test_the_kubernetes_ingesters_use_real_flags_and_settings():
    config, statefulset, *_ = manifests()
    container = statefulset["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:2] == ["modax", "ingest"]
    flags = {a.split("=", 1)[0] for a in container["args"][2:]}
    assert flags <= ingest_flags()
    assert "--client-id=$(POD_NAME)" in container["args"]  # a stable session per replica
    assert set(config["data"]) <= KNOWN_VARIABLES
    probes = {container[p]["httpGet"]["path"] for p in ("livenessProbe", "readinessProbe")}
    assert probes == {"/health", "/ready"}


def test_housekeeping_runs_commands_that_exist():
    commands = typer.main.get_command(app).commands
    scripts = [compose()["services"]["compact"]["command"][-1]]
    cron = manifests()[-1]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    scripts.append(cron["command"][-1])
    for script in scripts:
        for name in re.findall(r"modax (\w+)", script):
            assert name in commands
