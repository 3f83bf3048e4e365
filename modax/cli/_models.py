"""``modax models fit|list|show|compare|promote``: the model registry from the command line."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from modax.cli._app import (
    EXIT_USAGE,
    LakeOption,
    ReportFormat,
    app,
    console,
    fail,
    settings_from_env,
)

if TYPE_CHECKING:
    from modax.registry import ModelVersion, Registry

models_app = typer.Typer(
    help="Registered models (MLflow): fit, list, show, compare, promote to `live`.",
    no_args_is_help=True,
)
app.add_typer(models_app, name="models")

FormatOption = Annotated[
    ReportFormat, typer.Option("--format", help="table, or json (one object, last line).")
]


class ModelKind(StrEnum):
    """What ``modax models fit`` trains."""

    anomaly = "anomaly"
    remaining_life = "remaining-life"


def utc_option(value: str | None, option: str) -> datetime | None:
    """An ISO date/time option as an aware UTC datetime (naive means UTC); exits when invalid."""
    if value is None:
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option}: {value!r} is not an ISO date or time (e.g. 2026-11-23T08:00:00Z)")
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def open_registry(lake: str | None) -> Registry:
    """The registry of the lake (``--lake`` or ``MODAX_LAKE``), or ``MLFLOW_TRACKING_URI``."""
    from modax.registry import Registry

    return Registry(settings_from_env(lake=lake).lake)


def fit_command(
    *,
    kind: Annotated[ModelKind, typer.Option(help="What to fit.")] = ModelKind.anomaly,
    detector: Annotated[
        str, typer.Option(help="Anomaly detector (see `modax eval sim` / `modax eval skab`).")
    ] = "level-shift-fleet",
    model: Annotated[
        str, typer.Option(help="Remaining-life model (see modax.models.wear.fit_remaining_life).")
    ] = "gbm-quantile",
    name: Annotated[
        str | None, typer.Option(help="Registered name (default: the detector or model).")
    ] = None,
    device: Annotated[
        list[str] | None, typer.Option(help="Train on this device (repeatable; default all).")
    ] = None,
    since: Annotated[str | None, typer.Option(help="First event time, ISO (UTC).")] = None,
    until: Annotated[
        str | None, typer.Option(help="End event time (exclusive), ISO (UTC).")
    ] = None,
    feature: Annotated[
        list[str] | None,
        typer.Option(help="Anomaly: telemetry column to use (repeatable; default all complete)."),
    ] = None,
    promote: Annotated[
        bool, typer.Option(help="Point the `live` alias at the new version.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Also save an anomaly model to this folder.")
    ] = None,
    lake: LakeOption = None,
    fmt: FormatOption = ReportFormat.table,
) -> None:
    """Fit a model on the lake's history and register it as a new version (with its metrics)."""
    from modax.lake import Lake
    from modax.registry import ModelError

    settings = settings_from_env(lake=lake)
    start, end = utc_option(since, "--since"), utc_option(until, "--until")
    registry = open_registry(lake)
    source = Lake(settings.lake)
    try:
        with console.status(f"fitting {kind.value} model on {settings.lake} …"):
            if kind is ModelKind.anomaly:
                version = _fit_anomaly(
                    registry, source, detector, name, device, start, end, feature, out
                )
            else:
                version = _fit_remaining_life(registry, source, model, name, device, start, end)
        if promote:
            version = registry.promote(version.name, version.version)
    except (ModelError, ValueError) as exc:
        fail(str(exc))
    _report([version], fmt, f"registered [bold]{version.label}[/]")


def _fit_anomaly(
    registry: Registry,
    lake: Any,
    detector: str,
    name: str | None,
    devices: list[str] | None,
    start: datetime | None,
    end: datetime | None,
    features: list[str] | None,
    out: Path | None,
) -> ModelVersion:
    from modax.advisory import save_model, train_from_lake
    from modax.advisory._model import detector_metadata

    fitted = train_from_lake(
        lake, detector, devices=devices, start=start, end=end, features=features
    )
    training = fitted.metadata["training"]
    if out is not None:
        save_model(
            fitted.detector,
            out,
            name=name or fitted.name,
            features=fitted.features,
            training=training,
            metrics=fitted.metadata["metrics"],
        )
    from modax.registry import iso_utc

    return registry.register(
        fitted.detector,
        name=name or fitted.name,
        kind="anomaly",
        features=fitted.features,
        training={**training, "start": iso_utc(training["start"]), "end": iso_utc(training["end"])},
        metrics=fitted.metadata["metrics"],
        extra=detector_metadata(fitted.detector),
    )


def _fit_remaining_life(
    registry: Registry,
    lake: Any,
    model: str,
    name: str | None,
    devices: list[str] | None,
    start: datetime | None,
    end: datetime | None,
) -> ModelVersion:
    import pyarrow.compute as pc

    from modax.advisory._holdout import remaining_life_holdout
    from modax.models.wear import RemainingLifeScorer, fit_remaining_life
    from modax.registry import iso_utc

    estimator = fit_remaining_life(lake, devices=devices, start=start, end=end, model=model)
    registered = name or f"rul-{model}"
    features = RemainingLifeScorer(estimator, name=registered, version="0").features
    truth = lake.read("remaining_life", columns=["device_id", "ts"])
    used = devices or sorted(set(truth["device_id"].to_pylist()))
    training = {
        "table": "telemetry",
        "table_version": lake.version("telemetry"),
        "truth_version": lake.version("remaining_life"),
        "rows": truth.num_rows,
        "start": iso_utc(start or pc.min(truth["ts"]).as_py()),
        "end": iso_utc(end or pc.max(truth["ts"]).as_py()),
        "devices": used,
        "model": model,
    }
    metrics = remaining_life_holdout(lake, model, used, start=start, end=end)
    return registry.register(
        estimator,
        name=registered,
        kind="remaining-life",
        features=features,
        training=training,
        metrics=metrics,
    )


models_app.command("fit")(fit_command)


def _report(versions: list[ModelVersion], fmt: ReportFormat, title: str | None = None) -> None:
    if fmt is ReportFormat.json:
        print(json.dumps({"versions": [asdict(v) for v in versions]}, default=str))
        return
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in ("model", "version", "kind", "aliases", "trained on", "metrics"):
        table.add_column(column)
    for v in versions:
        trained = v.training
        summary = (
            f"{trained.get('rows', '?')} rows, {trained.get('devices', '?')} device(s), "
            f"{trained.get('table', 'telemetry')} v{trained.get('table_version', '?')}"
        )
        metrics = ", ".join(f"{k} {val:.3g}" for k, val in sorted(v.metrics.items()))
        table.add_row(v.name, v.version, v.kind, ", ".join(v.aliases), summary, metrics or "—")
    console.print(table)


def _guard(call: Any) -> Any:
    from modax.registry import ModelError

    try:
        return call()
    except ModelError as exc:
        fail(str(exc), EXIT_USAGE)


@models_app.command("list")
def list_command(
    name: Annotated[str | None, typer.Argument(help="Only this model.")] = None,
    *,
    lake: LakeOption = None,
    fmt: FormatOption = ReportFormat.table,
) -> None:
    """Registered versions with their kind, aliases, training data and metrics."""
    registry = open_registry(lake)
    _report(_guard(lambda: registry.versions(name)), fmt)


@models_app.command("show")
def show_command(
    name: Annotated[str, typer.Argument(help="Registered model.")],
    version: Annotated[str, typer.Argument(help="Version number or alias.")] = "live",
    *,
    lake: LakeOption = None,
    fmt: FormatOption = ReportFormat.table,
) -> None:
    """One version: features, what it was trained on, metrics."""
    registry = open_registry(lake)
    found = _guard(lambda: registry.version(name, version))
    if fmt is ReportFormat.json:
        print(json.dumps(asdict(found), default=str))
        return
    console.print(f"[bold]{found.label}[/] ({found.kind}), aliases: {found.aliases or 'none'}")
    console.print(f"features: {', '.join(found.features)}", highlight=False)
    console.print(f"trained on: {json.dumps(found.training)}", highlight=False)
    for key, value in sorted(found.metrics.items()):
        console.print(f"  {key}: {value:.4g}", highlight=False)


@models_app.command("compare")
def compare_command(
    name: Annotated[str, typer.Argument(help="Registered model.")],
    first: Annotated[str, typer.Argument(help="Version number or alias.")],
    second: Annotated[str, typer.Argument(help="Version number or alias.")],
    *,
    lake: LakeOption = None,
    fmt: FormatOption = ReportFormat.table,
) -> None:
    """Two versions' metrics side by side, with the difference (second − first)."""
    registry = open_registry(lake)
    a, b = _guard(lambda: (registry.version(name, first), registry.version(name, second)))
    keys = sorted(set(a.metrics) | set(b.metrics))
    rows = {
        k: {
            a.version: a.metrics.get(k),
            b.version: b.metrics.get(k),
            "change": (b.metrics[k] - a.metrics[k]) if k in a.metrics and k in b.metrics else None,
        }
        for k in keys
    }
    if fmt is ReportFormat.json:
        print(json.dumps({"name": name, "versions": [a.version, b.version], "metrics": rows}))
        return
    from rich.table import Table

    table = Table(title=f"{name}: v{a.version} → v{b.version}", title_justify="left")
    for column in ("metric", f"v{a.version}", f"v{b.version}", "change"):
        table.add_column(column)
    for key, row in rows.items():
        table.add_row(key, *(("—" if v is None else f"{v:.4g}") for v in row.values()))
    console.print(table)


@models_app.command("promote")
def promote_command(
    name: Annotated[str, typer.Argument(help="Registered model.")],
    version: Annotated[str, typer.Argument(help="Version number.")],
    *,
    alias: Annotated[str, typer.Option(help="Alias to point at it.")] = "live",
    lake: LakeOption = None,
) -> None:
    """Point an alias (default `live`, what the advisor runs) at a version."""
    registry = open_registry(lake)
    found = _guard(lambda: registry.promote(name, version, alias))
    console.print(f"{alias} → [bold]{found.label}[/] ({found.kind})")
