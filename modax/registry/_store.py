"""Where MLflow keeps runs, registered models and their files for a lake."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from modax.config import is_uri

__all__ = ["TrackingStore", "tracking_store"]

#: Folder under the lake root holding the tracking database and the artifacts.
STATE_FOLDER = "_state/mlflow"


@dataclass(frozen=True)
class TrackingStore:
    """An MLflow tracking URI and the root for new experiments' artifacts.

    Attributes
    ----------
    uri : str
        ``MLFLOW_TRACKING_URI`` when set, else a SQLite database (``sqlite:///…``).
    artifacts : str
        Where experiments created by modax keep their files (a folder or an ``s3://`` URI).
    """

    uri: str
    artifacts: str


def tracking_store(lake_root: str, environ: Mapping[str, str] | None = None) -> TrackingStore:
    """The tracking store of the lake at ``lake_root``.

    A local lake keeps both under ``<lake>/_state/mlflow/`` (``mlflow.db`` and ``artifacts/``),
    so they travel with the lake. An object-store lake keeps the artifacts beside it
    (``<lake>/_state/mlflow/artifacts``) and the SQLite file on this machine, in
    ``~/.modax/mlflow/<lake hash>.db`` (SQLite cannot live on an object store): point
    ``MLFLOW_TRACKING_URI`` at a tracking server to share one between machines.

    Examples
    --------
    >>> tracking_store("/srv/lake", {}).uri
    'sqlite:////srv/lake/_state/mlflow/mlflow.db'
    >>> tracking_store("s3://plant/lake", {}).artifacts
    's3://plant/lake/_state/mlflow/artifacts'
    >>> tracking_store("/srv/lake", {"MLFLOW_TRACKING_URI": "http://mlflow:5000"}).uri
    'http://mlflow:5000'
    """
    env = os.environ if environ is None else environ
    if is_uri(lake_root):
        root = lake_root.rstrip("/")
        digest = hashlib.sha256(root.encode()).hexdigest()[:16]
        database = Path.home() / ".modax" / "mlflow" / f"{digest}.db"
        artifacts = f"{root}/{STATE_FOLDER}/artifacts"
    else:
        folder = Path(lake_root).resolve() / STATE_FOLDER
        database = folder / "mlflow.db"
        artifacts = str(folder / "artifacts")
    uri = env.get("MLFLOW_TRACKING_URI") or f"sqlite:///{database}"
    return TrackingStore(uri=uri, artifacts=artifacts)
