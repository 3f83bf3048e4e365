"""``modax advise fit|run``: fit and register a detector, then score live telemetry with the
registered models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from modax.cli._app import (
    EXIT_USAGE,
    LakeOption,
    app,
    console,
    fail,
    settings_from_env,
    stop_on_signals,
)
from modax.cli._models import fit_command

advise_app = typer.Typer(
    help="Live advisory scoring (advice only: never changes a safety state).",
    no_args_is_help=True,
)
app.add_typer(advise_app, name="advise")
advise_app.command("fit", help="Alias of `modax models fit`.")(fit_command)


@advise_app.command("run")
def run_command(
    folder: Annotated[
        Path | None,
        typer.Argument(help="A model folder (`--out` of fit) instead of the registry."),
    ] = None,
    *,
    model: Annotated[
        str | None,
        typer.Option(help="Anomaly model NAME[@alias|:version] (default: the one aliased live)."),
    ] = None,
    remaining_life: Annotated[
        str | None,
        typer.Option(help="Remaining-life model NAME[@alias|:version] (default: live, if any)."),
    ] = None,
    broker: Annotated[str | None, typer.Option(help="Broker URL (default: MODAX_BROKER).")] = None,
    lake: LakeOption = None,
    batch_s: Annotated[
        float, typer.Option(min=0.05, help="Seconds between scoring batches.")
    ] = 0.25,
    update_s: Annotated[
        float, typer.Option(min=0.0, help="Least seconds between two updates of a device.")
    ] = 1.0,
    refresh_s: Annotated[
        float, typer.Option(min=0.1, help="Seconds between looks for a new `live` version.")
    ] = 30.0,
    duration: Annotated[
        float | None, typer.Option(min=0.0, help="Stop after this many seconds (default: run).")
    ] = None,
    context_rows: Annotated[int, typer.Option(min=1, help="History kept per device.")] = 300,
) -> None:
    """Score live telemetry with the registered models: write `scores` and
    `remaining_life_estimates`, publish alerts and score/remaining-life updates.
    """
    from modax.advisory import Advisor, LiveModels, ModelError, load_model, run_live
    from modax.lake import Lake
    from modax.mqtt import ClientFactory, MqttError
    from modax.obs import configure_logging
    from modax.registry import Registry

    settings = settings_from_env(lake=lake, broker=broker)
    configure_logging(settings.log_format, settings.log_level)
    try:
        if folder is not None:
            live = LiveModels(Advisor(load_model(folder), context_rows=context_rows))
        else:
            live = LiveModels.from_registry(
                Registry(settings.lake), model, remaining_life, context_rows=context_rows
            )
    except ModelError as exc:
        fail(str(exc), EXIT_USAGE)
    with stop_on_signals() as stop:
        console.print(
            f"advising with {live.describe()} on {settings.broker}; Ctrl-C stops",
            highlight=False,
        )
        try:
            stats = run_live(
                live,
                ClientFactory.from_settings(settings),
                Lake(settings.lake),
                batch_s=batch_s,
                update_s=update_s,
                refresh_s=refresh_s,
                duration_s=duration,
                stop=stop,
            )
        except (ConnectionError, MqttError) as exc:
            fail(str(exc))
        print(json.dumps(stats.__dict__))
