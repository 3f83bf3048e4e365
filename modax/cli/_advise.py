"""``modax advise fit|run``: train a detector on lake history, then score live telemetry."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from modax.cli._app import app, console, fail, settings_from_env, stop_on_signals

advise_app = typer.Typer(
    help="Live advisory scoring (advice only: never changes a safety state).",
    no_args_is_help=True,
)
app.add_typer(advise_app, name="advise")


def _utc(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option}: {value!r} is not an ISO date or time (e.g. 2026-11-23T08:00:00Z)")
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


@advise_app.command("fit")
def fit_command(
    out: Annotated[Path, typer.Argument(help="Folder to write model.joblib + model.json to.")],
    *,
    detector: Annotated[
        str, typer.Option(help="Detector name (see `modax eval sim` / `modax eval skab`).")
    ] = "level-shift-fleet",
    device: Annotated[
        list[str] | None, typer.Option(help="Train on this device (repeatable; default all).")
    ] = None,
    since: Annotated[str | None, typer.Option(help="First event time, ISO (UTC).")] = None,
    until: Annotated[
        str | None, typer.Option(help="End event time (exclusive), ISO (UTC).")
    ] = None,
    feature: Annotated[
        list[str] | None,
        typer.Option(help="Telemetry column to use (repeatable; default all complete ones)."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Model name (default: the detector).")] = None,
    lake: Annotated[str | None, typer.Option(help="Lake root (default: MODAX_LAKE).")] = None,
) -> None:
    """Fit a detector on normal telemetry from the lake and save it for `modax advise run`."""
    from modax.advisory import save_model, train_from_lake
    from modax.lake import Lake

    settings = settings_from_env(lake=lake)
    start, end = _utc(since, "--since"), _utc(until, "--until")
    try:
        model = train_from_lake(
            Lake(settings.lake), detector, devices=device, start=start, end=end, features=feature
        )
    except ValueError as exc:
        fail(str(exc))
    folder = save_model(
        model.detector,
        out,
        name=name or model.name,
        features=model.features,
        training=model.metadata["training"],
    )
    training = model.metadata["training"]
    console.print(
        f"saved [bold]{name or model.name}[/] to {folder}: {training['rows']} rows of "
        f"{len(training['devices'])} device(s), features {', '.join(model.features)}"
    )


@advise_app.command("run")
def run_command(
    model: Annotated[Path, typer.Argument(help="Folder written by `modax advise fit`.")],
    *,
    broker: Annotated[str | None, typer.Option(help="Broker URL (default: MODAX_BROKER).")] = None,
    lake: Annotated[str | None, typer.Option(help="Lake root (default: MODAX_LAKE).")] = None,
    batch_s: Annotated[
        float, typer.Option(min=0.05, help="Seconds between scoring batches.")
    ] = 1.0,
    duration: Annotated[
        float | None, typer.Option(min=0.0, help="Stop after this many seconds (default: run).")
    ] = None,
    context_rows: Annotated[int, typer.Option(min=1, help="History kept per device.")] = 300,
) -> None:
    """Score live telemetry: write `scores` to the lake, publish advisory alerts."""
    from modax.advisory import Advisor, ModelError, load_model, run_live
    from modax.lake import Lake
    from modax.mqtt import ClientFactory, MqttError

    settings = settings_from_env(lake=lake, broker=broker)
    try:
        advisor = Advisor(load_model(model), context_rows=context_rows)
    except ModelError as exc:
        fail(str(exc))
    with stop_on_signals() as stop:
        console.print(
            f"advising with [bold]{advisor.model.name}[/] on {settings.broker} "
            f"(features {', '.join(advisor.model.features)}); Ctrl-C stops",
            highlight=False,
        )
        try:
            stats = run_live(
                advisor,
                ClientFactory.from_settings(settings),
                Lake(settings.lake),
                batch_s=batch_s,
                duration_s=duration,
                stop=stop,
            )
        except (ConnectionError, MqttError) as exc:
            fail(str(exc))
        print(json.dumps(stats.__dict__))
