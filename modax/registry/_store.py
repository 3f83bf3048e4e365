"""Where MLflow keeps runs, registered models and their files for a lake."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from modax.config import is_uri, state_directory

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

    The SQLite database lives in the lake's state directory (:func:`modax.config.state_directory`:
    ``MODAX_STATE_DIR`` when set, else ``<lake>/_state`` for a local lake and
    ``$XDG_STATE_HOME/modax`` for an object-store one, since SQLite needs a local file), as
    ``mlflow/mlflow.db`` — ``mlflow/<lake hash>.db`` for an object-store lake, whose state
    directory several lakes may share. The artifacts stay with the lake, in
    ``<lake>/_state/mlflow/artifacts`` (an ``s3://`` URI for an object-store lake), so a local
    lake carries its whole registry. ``MLFLOW_TRACKING_URI`` (a tracking server, to share one
    registry between machines) replaces the database.

    Examples
    --------
    >>> tracking_store("/srv/lake", {}).uri
    'sqlite:////srv/lake/_state/mlflow/mlflow.db'
    >>> tracking_store("/srv/lake", {"MODAX_STATE_DIR": "/var/lib/modax"}).uri
    'sqlite:////var/lib/modax/mlflow/mlflow.db'
    >>> tracking_store("s3://plant/lake", {}).artifacts
    's3://plant/lake/_state/mlflow/artifacts'
    >>> tracking_store("/srv/lake", {"MLFLOW_TRACKING_URI": "http://mlflow:5000"}).uri
    'http://mlflow:5000'
    """
    env = os.environ if environ is None else environ
    local = not is_uri(lake_root)
    root = str(Path(lake_root).resolve()) if local else lake_root.rstrip("/")
    state = state_directory(root, env.get("MODAX_STATE_DIR") or None)
    name = "mlflow.db" if local else f"{hashlib.sha256(root.encode()).hexdigest()[:16]}.db"
    artifacts = f"{root}/{STATE_FOLDER}/artifacts"
    uri = env.get("MLFLOW_TRACKING_URI") or f"sqlite:///{state / 'mlflow' / name}"
    return TrackingStore(uri=uri, artifacts=artifacts)
