"""``modax config``: print the effective settings."""

from __future__ import annotations

import json

from modax.cli._app import app, console, settings_from_env


@app.command("config")
def config_command() -> None:
    """Print the effective settings (from MODAX_* variables) as JSON, secrets masked."""
    console.print_json(json.dumps(settings_from_env().masked()))
