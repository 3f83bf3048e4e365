"""Detectors by name, as the ``modax eval`` commands and saved advisory models refer to them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from modax.models.anomaly._autoencoder import WindowAutoencoder
from modax.models.anomaly._base import Detector
from modax.models.anomaly._level_shift import LevelShiftDetector
from modax.models.anomaly._modax_baseline import ModaxBaseline
from modax.models.anomaly._mset import MSETDetector
from modax.models.anomaly._pca import PCADetector
from modax.models.anomaly._streaming import StreamingDetector
from modax.models.anomaly._window_models import (
    IsolationForestDetector,
    LOFDetector,
    OneClassSVMDetector,
)

__all__ = ["DETECTORS", "DetectorSpec", "make_detector"]


@dataclass(frozen=True)
class DetectorSpec:
    """A named detector configuration: how to build it and whether seeds change it."""

    build: Callable[[int | None], Detector]
    stochastic: bool
    description: str


DETECTORS: dict[str, DetectorSpec] = {
    "modax-baseline": DetectorSpec(
        lambda seed: ModaxBaseline(), False, "MODAX z-score vs EWMA baseline + absolute limits"
    ),
    "pca-t2": DetectorSpec(
        lambda seed: PCADetector(statistic="t2"), False, "PCA Hotelling T² (99 % limit)"
    ),
    "pca-t2q": DetectorSpec(
        lambda seed: PCADetector(statistic="t2q"), False, "PCA T² and Q (99 % limits)"
    ),
    "mset": DetectorSpec(
        lambda seed: MSETDetector(), False, "MSET similarity model, 100 remembered states"
    ),
    "iforest": DetectorSpec(
        lambda seed: IsolationForestDetector(random_state=seed),
        True,
        "IsolationForest on 30 s mean/std features",
    ),
    "lof": DetectorSpec(lambda seed: LOFDetector(), False, "LOF (novelty) on 30 s features"),
    "ocsvm": DetectorSpec(
        lambda seed: OneClassSVMDetector(), False, "One-class SVM on 30 s features"
    ),
    "window-ae": DetectorSpec(
        lambda seed: WindowAutoencoder(random_state=seed),
        True,
        "MLP autoencoder over 10 s windows + 20 s alarm filter",
    ),
    "streaming": DetectorSpec(
        lambda seed: StreamingDetector(), False, "online EW z score, learns per batch"
    ),
    "level-shift": DetectorSpec(
        lambda seed: LevelShiftDetector(),
        False,
        "drift-discounted 10 s mean/std shifts + 20 s alarm filter",
    ),
    "level-shift-fleet": DetectorSpec(
        lambda seed: LevelShiftDetector(discount=3.0),
        False,
        "level-shift with the strong drift discount warming motors need (simulated fleets)",
    ),
}


def make_detector(name: str, random_state: int | None = None, **params: Any) -> Detector:
    """A new detector by registry name, seeded, with parameters overridden by ``params``.

    Raises
    ------
    ValueError
        Naming the unknown detector and the known ones.

    Examples
    --------
    >>> make_detector("pca-t2q", margin=1.5).margin
    1.5
    """
    spec = DETECTORS.get(name)
    if spec is None:
        raise ValueError(f"unknown detector {name!r}; known: {', '.join(DETECTORS)}")
    return spec.build(random_state).set_params(**params)
