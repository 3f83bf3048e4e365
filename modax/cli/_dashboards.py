"""``modax dashboards``: serve the fleet overview, device drill-down and model lab with Panel."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from modax.cli._app import EXIT_USAGE, app, console, fail, settings_from_env

#: The ``panel serve`` scripts, shipped inside the package (a wheel install serves them too).
DASHBOARDS = Path(__file__).resolve().with_name("_serve")
APPS = ("fleet", "device", "lab")
#: The login ``panel serve --auth-module`` loads: Panel's basic login with an attempt limit.
LOGIN_MODULE = Path(__file__).resolve().parents[1] / "viz" / "_login.py"
#: Where ``--basic-auth`` takes the secret that signs login cookies (never a command-line flag,
#: which ``ps`` would show, and never a committed file).
COOKIE_SECRET_VAR = "MODAX_COOKIE_SECRET"


def panel_command(
    port: int,
    address: str,
    origins: list[str],
    basic_auth: Path | None = None,
    ssl: tuple[Path, Path] | None = None,
) -> list[str]:
    """The ``panel serve`` command line for the three apps.

    With ``basic_auth`` the login is :mod:`modax.viz._login` (the users file reaches it through
    ``MODAX_DASHBOARD_USERS``); ``ssl`` is ``(certfile, keyfile)`` to serve HTTPS.
    """
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
        command += ["--auth-module", str(LOGIN_MODULE)]
    if ssl is not None:
        command += ["--ssl-certfile", str(ssl[0]), "--ssl-keyfile", str(ssl[1])]
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
    ssl_certfile: Annotated[
        Path | None,
        typer.Option(
            help="Serve HTTPS with this certificate (PEM); login cookies are then marked Secure.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    ssl_keyfile: Annotated[
        Path | None,
        typer.Option(help="Private key of --ssl-certfile (PEM).", exists=True, dir_okay=False),
    ] = None,
) -> None:
    """Serve the dashboards (fleet, device, lab) on MODAX_BROKER and MODAX_LAKE."""
    settings = settings_from_env()
    env = {**os.environ, "MODAX_BROKER": settings.broker, "MODAX_LAKE": settings.lake}
    if basic_auth is not None:
        secret = os.environ.get(COOKIE_SECRET_VAR, "")
        if len(secret) < 16:
            fail(
                f"--basic-auth needs {COOKIE_SECRET_VAR} set to a random string of 16 or more "
                f'characters, e.g. export {COOKIE_SECRET_VAR}="$(openssl rand -hex 32)"',
                EXIT_USAGE,
            )
        from modax.viz._login import USERS_VAR  # imports Panel: only when serving with a login

        env["PANEL_COOKIE_SECRET"] = secret
        env[USERS_VAR] = str(basic_auth.resolve())
    elif address not in ("127.0.0.1", "localhost", "::1"):
        console.print(
            f"[yellow]warning:[/] serving on {address} without --basic-auth: anyone who can "
            "reach this port sees the fleet"
        )
    if (ssl_certfile is None) != (ssl_keyfile is None):
        fail("--ssl-certfile and --ssl-keyfile go together: give both or neither", EXIT_USAGE)
    ssl = (ssl_certfile, ssl_keyfile) if ssl_certfile and ssl_keyfile else None
    scheme = "https" if ssl else "http"
    console.print(f"dashboards on {scheme}://{address}:{port}/fleet (Ctrl-C stops)")
    command = panel_command(port, address, allow_websocket_origin or [], basic_auth, ssl)
    sys.stdout.flush()
    # Become the server: signals (Ctrl-C, a supervisor's SIGTERM) reach Panel itself.
    os.execve(command[0], command, env)
