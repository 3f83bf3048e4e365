"""Fitted detectors saved for live use: skops for the estimator, JSON for its metadata."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sklearn

from modax.models.anomaly import Detector
from modax.registry import FORMAT_VERSION, ModelError, iso_utc, load_artifact, save_artifact

__all__ = ["FORMAT_VERSION", "AdvisoryModel", "ModelError", "load_model", "save_model"]


@dataclass(frozen=True)
class AdvisoryModel:
    """A fitted detector and what it was fitted on.

    Attributes
    ----------
    detector : Detector
        The fitted estimator.
    metadata : dict
        ``name``, ``features`` (telemetry columns, in order), ``training`` (``rows``,
        ``start``/``end`` as ISO UTC, ``devices``), ``metrics`` (e.g. SKAB figures),
        ``detector`` (class and parameters), ``created``, ``sklearn`` and ``format``;
        ``version`` when it came from the registry.
    """

    detector: Detector
    metadata: dict[str, Any]

    @property
    def name(self) -> str:
        """The model's name, as written in the ``scores`` table."""
        return str(self.metadata["name"])

    @property
    def features(self) -> list[str]:
        """Telemetry columns the detector reads, in order."""
        return list(self.metadata["features"])


def check_detector(detector: object, features: list[str], what: str) -> Detector:
    """``detector`` if it is a fitted modax detector on ``len(features)`` columns.

    Raises
    ------
    ModelError
        Naming ``what`` and the reason.
    """
    if not isinstance(detector, Detector) or not hasattr(detector, "threshold_"):
        raise ModelError(f"{what}: not a fitted modax detector (fit() it first)")
    if len(features) != detector.n_features_in_:
        raise ModelError(
            f"{what}: features names {len(features)} columns but the detector was fitted on "
            f"{detector.n_features_in_}"
        )
    return detector


def detector_metadata(detector: Detector) -> dict[str, Any]:
    """What a saved or registered detector keeps beside its file."""
    return {
        "detector": {"class": type(detector).__name__, "params": detector.get_params()},
        "threshold": detector.threshold_,
        "sklearn": sklearn.__version__,
        "advisory": True,
    }


def save_model(
    detector: Detector,
    path: str | Path,
    *,
    name: str,
    features: list[str],
    training: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
) -> Path:
    """Save a fitted ``detector`` under the folder ``path`` (``model.skops`` + ``model.json``).

    Parameters
    ----------
    detector : Detector
        A fitted modax detector.
    path : str or Path
        Folder to create or overwrite.
    name : str
        Model name for the ``scores`` table and alerts.
    features : list of str
        Telemetry columns the detector was fitted on, in order.
    training : dict, optional
        ``rows``, ``start``, ``end`` (datetimes, or epoch ms, UTC) and ``devices`` of the
        training data.
    metrics : dict, optional
        Evaluation figures to keep with the model.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from modax.models.anomaly import PCADetector
    >>> det = PCADetector().fit(np.random.default_rng(0).normal(size=(50, 2)))
    >>> folder = save_model(det, tempfile.mkdtemp(), name="pca", features=["temp_1", "vib_mag"])
    >>> load_model(folder).features
    ['temp_1', 'vib_mag']
    """
    if not hasattr(detector, "threshold_"):
        raise ModelError("the detector is not fitted: call fit() before save_model()")
    check_detector(detector, features, f"model {name!r}")
    training = dict(training or {})
    for key in ("start", "end"):
        training[key] = iso_utc(training.get(key))
    metadata = {
        "name": name,
        "kind": "anomaly",
        "features": list(features),
        "training": training,
        "metrics": metrics or {},
        **detector_metadata(detector),
    }
    return save_artifact(detector, path, metadata)


def load_model(path: str | Path) -> AdvisoryModel:
    """Load a model saved by :func:`save_model` (skops: only trusted types are rebuilt).

    Raises
    ------
    ModelError
        When a file is missing or damaged, the metadata lacks a field, the file holds an
        untrusted type, or the estimator is not a fitted modax detector.
    """
    detector, metadata = load_artifact(path)
    check_detector(detector, list(metadata["features"]), str(path))
    return AdvisoryModel(detector=detector, metadata=metadata)
