"""Fitted detectors saved for live use: joblib for the estimator, JSON for its metadata."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn

from modax.models.anomaly import Detector

__all__ = ["FORMAT_VERSION", "AdvisoryModel", "ModelError", "load_model", "save_model"]

FORMAT_VERSION = 1
_ESTIMATOR = "model.joblib"
_METADATA = "model.json"


class ModelError(ValueError):
    """A saved model is missing, incomplete or does not fit the data; the message says which."""


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
        ``detector`` (class and parameters), ``created``, ``sklearn`` and ``format``.
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


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    is_number = isinstance(value, int | float | np.integer | np.floating)
    stamp = pd.Timestamp(value, unit="ms") if is_number else pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.isoformat()


def save_model(
    detector: Detector,
    path: str | Path,
    *,
    name: str,
    features: list[str],
    training: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
) -> Path:
    """Save a fitted ``detector`` under the folder ``path`` (``model.joblib`` + ``model.json``).

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
    >>> import tempfile
    >>> from modax.models.anomaly import PCADetector
    >>> det = PCADetector().fit(np.random.default_rng(0).normal(size=(50, 2)))
    >>> folder = save_model(det, tempfile.mkdtemp(), name="pca", features=["temp_1", "vib_mag"])
    >>> load_model(folder).features
    ['temp_1', 'vib_mag']
    """
    if not hasattr(detector, "threshold_"):
        raise ModelError("the detector is not fitted: call fit() before save_model()")
    if len(features) != detector.n_features_in_:
        raise ModelError(
            f"features names {len(features)} columns but the detector was fitted on "
            f"{detector.n_features_in_}"
        )
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    training = dict(training or {})
    for key in ("start", "end"):
        training[key] = _iso(training.get(key))
    metadata = {
        "format": FORMAT_VERSION,
        "name": name,
        "features": list(features),
        "training": training,
        "metrics": metrics or {},
        "detector": {"class": type(detector).__name__, "params": detector.get_params()},
        "threshold": detector.threshold_,
        "created": datetime.now(UTC).isoformat(),
        "sklearn": sklearn.__version__,
        "advisory": True,
    }
    joblib.dump(detector, folder / _ESTIMATOR)
    (folder / _METADATA).write_text(json.dumps(_jsonable(metadata), indent=2) + "\n")
    return folder


def load_model(path: str | Path) -> AdvisoryModel:
    """Load a model saved by :func:`save_model`.

    joblib files are pickles: load only models you (or your pipeline) wrote.

    Raises
    ------
    ModelError
        When a file is missing, the metadata lacks a field, or the estimator is not a fitted
        modax detector.
    """
    folder = Path(path)
    for file in (_METADATA, _ESTIMATOR):
        if not (folder / file).is_file():
            raise ModelError(f"{folder}: no {file} (save models with modax.advisory.save_model)")
    try:
        metadata = json.loads((folder / _METADATA).read_text())
    except json.JSONDecodeError as exc:
        raise ModelError(f"{folder / _METADATA}: not JSON ({exc})") from None
    for key in ("name", "features", "format"):
        if key not in metadata:
            raise ModelError(f"{folder / _METADATA}: missing field {key!r}")
    if metadata["format"] != FORMAT_VERSION:
        raise ModelError(
            f"{folder}: format {metadata['format']}, this modax reads {FORMAT_VERSION}"
        )
    detector = joblib.load(folder / _ESTIMATOR)
    if not isinstance(detector, Detector) or not hasattr(detector, "threshold_"):
        raise ModelError(f"{folder / _ESTIMATOR}: not a fitted modax detector")
    return AdvisoryModel(detector=detector, metadata=metadata)
