"""The model registry: versions of fitted models in MLflow, with what they learned from."""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from modax.registry._files import ModelError, load_artifact, save_artifact
from modax.registry._store import tracking_store

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["KINDS", "LIVE_ALIAS", "LoadedModel", "ModelVersion", "Registry"]

#: What a registered model does: scores anomalies, or estimates remaining life (h).
KINDS = ("anomaly", "remaining-life")
Kind = Literal["anomaly", "remaining-life"]
#: The alias the advisor runs.
LIVE_ALIAS = "live"
#: The experiment fits are logged to.
FITS_EXPERIMENT = "modax-models"
_QUIET = ("mlflow", "alembic", "sqlalchemy")


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model and what it was trained on.

    Attributes
    ----------
    name, version : str
        The registered model and its version number (``"1"``, ``"2"``…).
    kind : {"anomaly", "remaining-life"}
        What the model does.
    features : list of str
        Telemetry columns it reads, in order.
    training : dict
        ``rows``, ``start``/``end`` (ISO UTC), ``devices`` (count), ``table`` and
        ``table_version`` (the lake table's Delta version it read).
    metrics : dict
        Evaluation figures logged with the fit.
    aliases : list of str
        Aliases pointing at this version (``live`` is what the advisor runs).
    created_ms : int
        Registration time, epoch ms (UTC).
    run_id : str
        The MLflow run of the fit.
    """

    name: str
    version: str
    kind: str
    features: list[str]
    training: dict[str, Any]
    metrics: dict[str, float]
    aliases: list[str] = field(default_factory=list)
    created_ms: int = 0
    run_id: str = ""

    @property
    def label(self) -> str:
        """``name v<version>``, as logs and errors name it."""
        return f"{self.name} v{self.version}"


@dataclass(frozen=True)
class LoadedModel:
    """A registered version's fitted estimator and its file's metadata."""

    estimator: Any
    metadata: dict[str, Any]
    version: ModelVersion


class Registry:
    """Registered models of a lake, in MLflow (a local SQLite store unless told otherwise).

    Parameters
    ----------
    lake_root : str
        The lake whose ``_state/mlflow/`` holds the store (see :func:`tracking_store`).
    tracking_uri : str, optional
        An MLflow tracking URI instead (``MLFLOW_TRACKING_URI`` is read when this is omitted).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from modax.models.anomaly import PCADetector
    >>> det = PCADetector().fit(np.random.default_rng(0).normal(size=(50, 2)))
    >>> registry = Registry(tempfile.mkdtemp())
    >>> v = registry.register(det, name="pca", kind="anomaly", features=["temp_1", "vib_mag"],
    ...                       metrics={"f1": 0.8})
    >>> registry.promote("pca", v.version).aliases
    ['live']
    >>> registry.load("pca").version.label, registry.load("pca").version.metrics
    ('pca v1', {'f1': 0.8})
    """

    def __init__(self, lake_root: str, *, tracking_uri: str | None = None) -> None:
        self.lake_root = lake_root
        store = tracking_store(lake_root)
        self.tracking_uri = tracking_uri or store.uri
        self.artifacts = store.artifacts
        self._client: MlflowClient | None = None

    def __repr__(self) -> str:
        return f"Registry({self.tracking_uri!r})"

    @property
    def client(self) -> MlflowClient:
        """The MLflow client, created (and the local store with it) on first use."""
        if self._client is None:
            os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
            from mlflow import MlflowClient

            for name in _QUIET:  # after the import: mlflow sets its own level when loaded
                logging.getLogger(name).setLevel(logging.WARNING)

            if self.tracking_uri.startswith("sqlite:///"):
                Path(self.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(
                    parents=True, exist_ok=True
                )
            self._client = MlflowClient(self.tracking_uri, registry_uri=self.tracking_uri)
        return self._client

    def experiment(self, name: str) -> str:
        """The id of experiment ``name``, created with its artifacts under the store if new."""
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return str(found.experiment_id)
        return str(self.client.create_experiment(name, artifact_location=self._artifacts(name)))

    def _artifacts(self, experiment: str) -> str:
        if "://" in self.artifacts:
            return f"{self.artifacts}/{experiment}"
        return (Path(self.artifacts) / experiment).as_uri()

    def log_run(
        self,
        experiment: str,
        *,
        run_name: str,
        params: Mapping[str, Any],
        metrics: Mapping[str, float],
        series: Mapping[str, Sequence[float]] | None = None,
        artifacts: Mapping[str, str | Path] | None = None,
    ) -> str:
        """Log one finished run; its id.

        ``series`` are metrics with one value per step (e.g. per seed or per file: step 0, 1…);
        ``artifacts`` maps a file name to its text, or to a path to copy. Non-finite values are
        left out (MLflow cannot store them).
        """
        client = self.client
        run = client.create_run(self.experiment(experiment), run_name=run_name)
        run_id = str(run.info.run_id)
        for key, value in params.items():
            client.log_param(run_id, key, str(value)[:6000])
        steps = {key: [value] for key, value in metrics.items()} | dict(series or {})
        for key, values in steps.items():
            for step, value in enumerate(values):
                if isinstance(value, int | float) and math.isfinite(value):
                    client.log_metric(run_id, key, float(value), step=step)
        with tempfile.TemporaryDirectory() as folder:
            for name, content in (artifacts or {}).items():
                if isinstance(content, Path):
                    client.log_artifact(run_id, str(content))
                else:
                    (Path(folder) / name).write_text(content)
                    client.log_artifact(run_id, str(Path(folder) / name))
        client.set_terminated(run_id)
        return run_id

    def register(
        self,
        estimator: Any,
        *,
        name: str,
        kind: str,
        features: list[str],
        training: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> ModelVersion:
        """Log a fit and register ``estimator`` as a new version of model ``name``.

        Parameters
        ----------
        estimator : object
            The fitted model (skops-serializable: numpy, scipy, scikit-learn, modax types).
        name : str
            Registered model name.
        kind : {"anomaly", "remaining-life"}
            What it does.
        features : list of str
            Telemetry columns it reads, in order.
        training : dict, optional
            ``rows``, ``start``, ``end`` (ISO UTC), ``devices`` (list), ``table``,
            ``table_version``: what it learned from.
        metrics : dict, optional
            Evaluation figures.
        extra : dict, optional
            More metadata for the model file (e.g. the detector's threshold).
        """
        if kind not in KINDS:
            raise ModelError(f"model {name!r}: kind {kind!r} is not one of {list(KINDS)}")
        training = dict(training or {})
        devices = list(training.get("devices") or [])
        summary = {**training, "devices": len(devices)}
        params = estimator.get_params() if hasattr(estimator, "get_params") else {}
        metadata = {
            "name": name,
            "kind": kind,
            "features": list(features),
            "training": {**training, "devices": devices},
            "metrics": dict(metrics or {}),
            "estimator": {"class": type(estimator).__name__, "params": params},
            **(extra or {}),
        }
        client = self.client
        run = client.create_run(self.experiment(FITS_EXPERIMENT), run_name=f"fit {name}")
        run_id = str(run.info.run_id)
        client.log_param(run_id, "kind", kind)
        client.log_param(run_id, "estimator", type(estimator).__name__)
        client.log_param(run_id, "features", ",".join(features)[:6000])
        for key, value in sorted(params.items()):
            client.log_param(run_id, f"param.{key}", str(value)[:6000])
        for key, value in summary.items():
            client.log_param(run_id, f"training.{key}", str(value))
        for key, value in (metrics or {}).items():
            client.log_metric(run_id, key, float(value))
        with tempfile.TemporaryDirectory() as folder:
            save_artifact(estimator, folder, metadata)
            client.log_artifacts(run_id, folder, "model")
        client.set_terminated(run_id)
        try:
            client.get_registered_model(name)
        except Exception:  # (MLflow raises its own RESOURCE_DOES_NOT_EXIST)
            client.create_registered_model(name, tags={"kind": kind})
        tags = {
            "kind": kind,
            "features": json.dumps(list(features)),
            "training": json.dumps(summary, default=str),
        }
        created = client.create_model_version(
            name, source=f"{run.info.artifact_uri}/model", run_id=run_id, tags=tags
        )
        return self.version(name, str(created.version))

    def models(self) -> list[str]:
        """Names of the registered models, sorted."""
        return sorted(m.name for m in self.client.search_registered_models())

    def versions(self, name: str | None = None) -> list[ModelVersion]:
        """Every version of model ``name`` (or of every model), by name then version."""
        names = [name] if name else self.models()
        if name:
            self._require(name)
        found = []
        for model in names:
            for raw in self.client.search_model_versions(f"name='{model}'"):
                found.append(self._describe(raw))
        return sorted(found, key=lambda v: (v.name, int(v.version)))

    def version(self, name: str, ref: str = LIVE_ALIAS) -> ModelVersion:
        """Version ``ref`` of model ``name``: a number, or an alias such as ``live``.

        Raises
        ------
        ModelError
            When the model, the version or the alias does not exist.
        """
        self._require(name)
        client = self.client
        if ref.isdigit():
            try:
                raw = client.get_model_version(name, ref)
            except Exception:
                known = ", ".join(v.version for v in self.versions(name)) or "none"
                raise ModelError(
                    f"model {name!r} version {ref}: no such version (versions: {known})"
                ) from None
        else:
            try:
                raw = client.get_model_version_by_alias(name, ref)
            except Exception:
                raise ModelError(
                    f"model {name!r} alias {ref!r}: not set "
                    f"(modax models promote {name} VERSION --alias {ref})"
                ) from None
        return self._describe(raw)

    def promote(self, name: str, version: str, alias: str = LIVE_ALIAS) -> ModelVersion:
        """Point ``alias`` (default ``live``) of model ``name`` at ``version``; the version."""
        target = self.version(name, str(version))
        self.client.set_registered_model_alias(name, alias, target.version)
        return self.version(name, target.version)

    def live(self, kind: str, alias: str = LIVE_ALIAS) -> ModelVersion | None:
        """The most recently registered model of ``kind`` that has ``alias``; ``None`` if none."""
        candidates = []
        for model in self.client.search_registered_models():
            if alias in (model.aliases or {}) and model.tags.get("kind") == kind:
                candidates.append((model.last_updated_timestamp or 0, model.name))
        if not candidates:
            return None
        return self.version(max(candidates)[1], alias)

    def load(self, name: str, ref: str = LIVE_ALIAS, *, kind: str | None = None) -> LoadedModel:
        """The estimator of version ``ref`` of ``name`` (checked to be of ``kind`` if given).

        Raises
        ------
        ModelError
            One line naming the model, the version and what is wrong: unknown, missing or
            damaged files, untrusted types, another kind.
        """
        described = self.version(name, ref)
        if kind is not None and described.kind != kind:
            raise ModelError(f"model {described.label}: a {described.kind} model, not {kind}")
        with tempfile.TemporaryDirectory() as folder:
            try:
                local = self.client.download_artifacts(described.run_id, "model", folder)
            except Exception as exc:  # (any store: file, S3, HTTP)
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise ModelError(
                    f"model {described.label}: its files are missing ({reason})"
                ) from None
            estimator, metadata = load_artifact(local, f"model {described.label}")
        return LoadedModel(estimator, metadata, described)

    def _require(self, name: str) -> None:
        try:
            self.client.get_registered_model(name)
        except Exception:
            known = ", ".join(self.models()) or "none yet: modax models fit"
            raise ModelError(f"model {name!r}: not registered (models: {known})") from None

    def _describe(self, raw: Any) -> ModelVersion:
        tags = dict(raw.tags or {})
        aliases = raw.aliases or self.client.get_model_version(raw.name, raw.version).aliases
        metrics: dict[str, float] = {}
        if raw.run_id:
            metrics = dict(self.client.get_run(raw.run_id).data.metrics)
        return ModelVersion(
            name=str(raw.name),
            version=str(raw.version),
            kind=tags.get("kind", "anomaly"),
            features=json.loads(tags.get("features", "[]")),
            training=json.loads(tags.get("training", "{}")),
            metrics=metrics,
            aliases=sorted(aliases or []),
            created_ms=int(raw.creation_timestamp or 0),
            run_id=str(raw.run_id or ""),
        )
