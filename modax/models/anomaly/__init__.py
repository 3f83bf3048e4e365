"""Anomaly detectors with the scikit-learn estimator API (``fit``, ``predict`` → 0/1,
``score_samples`` → higher is stranger, ``get_params``/``set_params``, ``clone``, ``Pipeline``).

Rows are samples of one machine in time order. Detectors:

- :class:`ModaxBaseline` — the original MODAX statistical detector (the baseline);
- :class:`PCADetector` — PCA with Hotelling's T² and Q control limits;
- :class:`MSETDetector` — MSET-style similarity-based state estimation;
- :class:`IsolationForestDetector`, :class:`LOFDetector`, :class:`OneClassSVMDetector` —
  scikit-learn models on rolling-window features (:class:`RollingFeatures`);
- :class:`WindowAutoencoder` — a sequence model: MLP autoencoder over sliding windows;
- :class:`StreamingDetector` — online, updated batch by batch with ``partial_fit``;
- :class:`LevelShiftDetector` — drift-discounted level shifts, the default (decision 0018).

:func:`evaluate_skab` runs the SKAB protocol (:func:`run_skab` for one configuration) on SKAB
files or on simulated devices (:func:`device_series`); :func:`make_detector` builds one by name.
:func:`select_params` chooses a detector's defaults by a written rule and
:func:`leave_one_file_out` reports how that rule does on files it did not see (decision 0018).

Examples
--------
>>> import numpy as np
>>> from modax.models.anomaly import PCADetector
>>> rng = np.random.default_rng(1)
>>> detector = PCADetector().fit(rng.normal(size=(400, 3)))
>>> detector.predict(np.array([[0.0, 0.0, 0.0], [9.0, -9.0, 9.0]])).tolist()
[0, 1]
"""

from modax.models.anomaly._autoencoder import WindowAutoencoder
from modax.models.anomaly._base import Detector, min_duration_filter
from modax.models.anomaly._features import RollingFeatures
from modax.models.anomaly._level_shift import LevelShiftDetector
from modax.models.anomaly._modax_baseline import ModaxBaseline
from modax.models.anomaly._mset import MSETDetector
from modax.models.anomaly._pca import PCADetector
from modax.models.anomaly._registry import DETECTORS, DetectorSpec, make_detector
from modax.models.anomaly._selection import (
    FAR_BUDGET,
    SELECTION_GRIDS,
    LofoFold,
    LofoResult,
    Selection,
    grid_points,
    leave_one_file_out,
    select_params,
)
from modax.models.anomaly._sim import SIM_PARAMS, LabelledSeries, device_series
from modax.models.anomaly._skab import (
    SKAB_PARAMS,
    SKAB_TRAIN_ROWS,
    DetectorResult,
    evaluate_skab,
    protocol_alarms,
    run_skab,
)
from modax.models.anomaly._streaming import StreamingDetector
from modax.models.anomaly._window_models import (
    IsolationForestDetector,
    LOFDetector,
    OneClassSVMDetector,
)

__all__ = [
    "DETECTORS",
    "FAR_BUDGET",
    "SELECTION_GRIDS",
    "SIM_PARAMS",
    "SKAB_PARAMS",
    "SKAB_TRAIN_ROWS",
    "Detector",
    "DetectorResult",
    "DetectorSpec",
    "IsolationForestDetector",
    "LOFDetector",
    "LabelledSeries",
    "LevelShiftDetector",
    "LofoFold",
    "LofoResult",
    "MSETDetector",
    "ModaxBaseline",
    "OneClassSVMDetector",
    "PCADetector",
    "RollingFeatures",
    "Selection",
    "StreamingDetector",
    "WindowAutoencoder",
    "device_series",
    "evaluate_skab",
    "grid_points",
    "leave_one_file_out",
    "make_detector",
    "min_duration_filter",
    "protocol_alarms",
    "run_skab",
    "select_params",
]
