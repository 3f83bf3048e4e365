"""``modax dashboards``: serve the fleet overview, device drill-down and model lab with Panel."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from modax.cli._app import EXIT_USAGE, app, console, fail, settings_from_env

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
APPS = ("fleet", "device", "lab")
#: Where ``--basic-auth`` takes the secret that signs login cookies (never a command-line flag,
#: which ``ps`` would show, and never a committed file).
COOKIE_SECRET_VAR = "MODAX_COOKIE_SECRET"


def panel_command(
    port: int, address: str, origins: list[str], basic_auth: Path | None = None
) -> list[str]:
    """The ``panel serve`` command line for the three apps."""
    command = [
        sys.executable,
        "-m",
        "panel",
        "serve",
        *(str(DASHBOARDS / f"{name}.py") for name in APPS),
        "--port",
        str(port),
        "--address",
        address,
        "--index",
        "fleet",
        "--warm",
        "--liveness",
    ]
    for origin in origins or [f"localhost:{port}", f"127.0.0.1:{port}"]:
        command += ["--allow-websocket-origin", origin]
    if basic_auth is not None:
        command += ["--basic-auth", str(basic_auth)]
    return command


@app.command("dashboards")
def dashboards(
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 5006,
    address: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    allow_websocket_origin: Annotated[
        list[str] | None,
        typer.Option(
            help="Host[:port] browsers may connect from (repeat); default localhost and "
            "127.0.0.1 on --port. Name your public host name here when serving beyond localhost."
        ),
    ] = None,
    basic_auth: Annotated[
        Path | None,
        typer.Option(
            help="JSON file of user → password: every page then needs a login. Needs "
            f"{COOKIE_SECRET_VAR} (a long random string) to sign the login cookie.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Serve the dashboards (fleet, device, lab) on MODAX_BROKER and MODAX_LAKE."""
    settings = settings_from_env()
    if not DASHBOARDS.is_dir():
        fail(f"dashboards not found in {DASHBOARDS}: run from a source checkout")
    env = {**os.environ, "MODAX_BROKER": settings.broker, "MODAX_LAKE": settings.lake}
    if basic_auth is not None:
        secret = os.environ.get(COOKIE_SECRET_VAR, "")
        if len(secret) < 16:
            fail(
                f"--basic-auth needs {COOKIE_SECRET_VAR} set to a random string of 16 or more "
                f'characters, e.g. export {COOKIE_SECRET_VAR}="$(openssl rand -hex 32)"',
                EXIT_USAGE,
            )
        env["PANEL_COOKIE_SECRET"] = secret
    elif address not in ("127.0.0.1", "localhost", "::1"):
        console.print(
            f"[yellow]warning:[/] serving on {address} without --basic-auth: anyone who can "
            "reach this port sees the fleet"
        )
    console.print(f"dashboards on http://{address}:{port}/fleet (Ctrl-C stops)")
    command = panel_command(port, address, allow_websocket_origin or [], basic_auth)
    sys.stdout.flush()
    # Become the server: signals (Ctrl-C, a supervisor's SIGTERM) reach Panel itself.
    os.execve(command[0], command, env)
