"""Registered models: fits tracked in MLflow, versions with what they learned from, an alias
(``live``) choosing what the advisor runs, files in skops format that load without running code.

The store is local by default, under the lake (``<lake>/_state/mlflow/``: a SQLite database and
the artifacts); ``MLFLOW_TRACKING_URI`` points at a tracking server instead. Browse it with
``mlflow ui --backend-store-uri sqlite:///<lake>/_state/mlflow/mlflow.db``.

Examples
--------
>>> tracking_store("/srv/lake", {}).uri  # see Registry for a round trip
'sqlite:////srv/lake/_state/mlflow/mlflow.db'
"""

from modax.registry._files import (
    FORMAT_VERSION,
    TRUSTED_PREFIXES,
    ModelError,
    iso_utc,
    load_artifact,
    save_artifact,
)
from modax.registry._registry import KINDS, LIVE_ALIAS, LoadedModel, ModelVersion, Registry
from modax.registry._store import TrackingStore, tracking_store

__all__ = [
    "FORMAT_VERSION",
    "KINDS",
    "LIVE_ALIAS",
    "TRUSTED_PREFIXES",
    "LoadedModel",
    "ModelError",
    "ModelVersion",
    "Registry",
    "TrackingStore",
    "iso_utc",
    "load_artifact",
    "save_artifact",
    "tracking_store",
]
