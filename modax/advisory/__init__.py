"""Live advisory: registered models score telemetry, write ``scores`` and remaining life,
publish advice.

Advisory output is labelled as such (``advisory = true`` in ``scores``, ``"advisory": true``
and ``"safety_effect": "none"`` in every alert on ``modax/devices/{id}/advisory``) and can
never change a safety state: safety decisions stay with the deterministic safety logic.

Examples
--------
>>> import numpy as np, tempfile
>>> from modax.advisory import Advisor, load_model, save_model
>>> from modax.models.anomaly import PCADetector
>>> rng = np.random.default_rng(0)
>>> det = PCADetector().fit(rng.normal(size=(200, 2)))
>>> folder = save_model(det, tempfile.mkdtemp(), name="pca", features=["current_1", "temp_1"])
>>> Advisor(load_model(folder)).model.name
'pca'
"""

from modax.advisory._advisor import SCORES_SCHEMA, Advisor, Publish
from modax.advisory._live import TELEMETRY_FILTER, LiveStats, run_live
from modax.advisory._live_models import LiveModels, RemainingLife, parse_model_ref
from modax.advisory._model import FORMAT_VERSION, AdvisoryModel, ModelError, load_model, save_model
from modax.advisory._recommend import STANDARD_GRAVITY_MS2, RecommendationRules, recommend
from modax.advisory._train import train_from_lake
from modax.advisory._updates import ScoreUpdates
from modax.advisory._writer import LakeWriter

__all__ = [
    "FORMAT_VERSION",
    "SCORES_SCHEMA",
    "STANDARD_GRAVITY_MS2",
    "TELEMETRY_FILTER",
    "Advisor",
    "AdvisoryModel",
    "LakeWriter",
    "LiveModels",
    "LiveStats",
    "ModelError",
    "Publish",
    "RecommendationRules",
    "RemainingLife",
    "ScoreUpdates",
    "load_model",
    "parse_model_ref",
    "recommend",
    "run_live",
    "save_model",
    "train_from_lake",
]
