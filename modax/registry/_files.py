"""Model files: the estimator in skops format (safe to load) beside its metadata in JSON.

skops rebuilds an object from a description of its types instead of unpickling it, and refuses
types nobody trusted: :func:`load_artifact` trusts only the classes of numpy, scipy,
scikit-learn and ``modax.models``, so loading a model file cannot run arbitrary code.
"""

from __future__ import annotations

import json
import math
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "ESTIMATOR_FILE",
    "FORMAT_VERSION",
    "METADATA_FILE",
    "TRUSTED_PREFIXES",
    "ModelError",
    "iso_utc",
    "load_artifact",
    "save_artifact",
]

#: Version of the folder layout below; 2 = skops (1 was a joblib pickle).
FORMAT_VERSION = 2
ESTIMATOR_FILE = "model.skops"
METADATA_FILE = "model.json"
#: Modules whose types a model file may contain (anything else is refused at load).
TRUSTED_PREFIXES = ("builtins.", "numpy.", "scipy.", "sklearn.", "modax.models.")


class ModelError(ValueError):
    """A model is missing, damaged, incompatible or unknown; the message says which and why."""


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


def iso_utc(value: Any) -> str | None:
    """``value`` (epoch ms, datetime or text) as ISO 8601 UTC; ``None`` stays ``None``.

    Examples
    --------
    >>> iso_utc(1_763_900_000_000)
    '2025-11-23T12:13:20+00:00'
    """
    if value is None:
        return None
    is_number = isinstance(value, int | float | np.integer | np.floating)
    stamp = pd.Timestamp(value, unit="ms") if is_number else pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.isoformat()


def save_artifact(estimator: Any, path: str | Path, metadata: dict[str, Any]) -> Path:
    """Write ``estimator`` (skops) and ``metadata`` (JSON, with format and time) to folder ``path``.

    Examples
    --------
    >>> import tempfile
    >>> from modax.models.anomaly import PCADetector
    >>> det = PCADetector().fit(np.random.default_rng(0).normal(size=(50, 2)))
    >>> folder = save_artifact(det, tempfile.mkdtemp(), {"name": "pca", "features": ["a", "b"]})
    >>> type(load_artifact(folder)[0]).__name__, load_artifact(folder)[1]["format"]
    ('PCADetector', 2)
    """
    import skops.io as sio

    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT_VERSION, "created": datetime.now(UTC).isoformat(), **metadata}
    sio.dump(estimator, folder / ESTIMATOR_FILE)
    (folder / METADATA_FILE).write_text(json.dumps(_jsonable(meta), indent=2) + "\n")
    return folder


def load_artifact(path: str | Path, what: str | None = None) -> tuple[Any, dict[str, Any]]:
    """The estimator and metadata in folder ``path``, refusing untrusted types.

    ``what`` names the model in errors (default: the folder).

    Raises
    ------
    ModelError
        When a file is missing, the metadata is not JSON or lacks ``name``/``features``/
        ``format``, the format is another one, the estimator file is damaged, or it holds a
        type outside :data:`TRUSTED_PREFIXES`.
    """
    import skops.io as sio

    folder = Path(path)
    label = what or str(folder)
    for file in (METADATA_FILE, ESTIMATOR_FILE):
        if not (folder / file).is_file():
            raise ModelError(f"{label}: no {file} in {folder}")
    try:
        metadata = json.loads((folder / METADATA_FILE).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{label}: {METADATA_FILE} is not JSON ({exc})") from None
    for key in ("name", "features", "format"):
        if key not in metadata:
            raise ModelError(f"{label}: {METADATA_FILE} lacks the field {key!r}")
    if metadata["format"] != FORMAT_VERSION:
        raise ModelError(
            f"{label}: model format {metadata['format']}, this modax reads {FORMAT_VERSION}"
            " (fit and register it again)"
        )
    estimator_file = folder / ESTIMATOR_FILE
    try:
        untrusted = sio.get_untrusted_types(file=estimator_file)
        refused = sorted(t for t in untrusted if not t.startswith(TRUSTED_PREFIXES))
        if refused:
            raise ModelError(f"{label}: {ESTIMATOR_FILE} holds untrusted type(s) {refused}")
        estimator = sio.load(estimator_file, trusted=untrusted)
    except ModelError:
        raise
    except (
        zipfile.BadZipFile,
        ImportError,
        KeyError,
        ValueError,
        TypeError,
        AttributeError,
        OSError,
    ) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(f"{label}: {ESTIMATOR_FILE} cannot be read ({reason})") from None
    return estimator, metadata
