"""Live scoring: a saved detector scores each batch of telemetry, per device, as advice only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modax.advisory._model import AdvisoryModel
from modax.advisory._recommend import RecommendationRules, recommend
from modax.models.anomaly import Detector, min_duration_filter
from modax.schema import EPOCH_MS_THRESHOLD, UTC_MS, Advisory, Kind, topic_for

__all__ = ["SCORES_SCHEMA", "Advisor", "Publish"]

#: The ``scores`` lake table: one row per scored reading. ``advisory`` is always true.
SCORES_SCHEMA = pa.schema(
    [
        pa.field("device_id", pa.string(), nullable=False),
        pa.field("seq", pa.int64()),
        pa.field("ts", UTC_MS),
        pa.field("model", pa.string()),
        pa.field("score", pa.float64()),
        pa.field("threshold", pa.float64()),
        pa.field("alarm", pa.bool_()),
        pa.field("advisory", pa.bool_()),
    ]
)

#: ``publish(topic, payload)``: how alerts leave the process (e.g. an MQTT client's publish).
Publish = Callable[[str, bytes], Any]

_NOTE = "Advisory output of an anomaly model: it never changes a safety state."


def event_ms(telemetry: pa.Table) -> np.ndarray:
    """Event time in epoch ms: ``ts``, else a wall-clock ``timestamp``, else ``received_at``."""
    if "ts" in telemetry.column_names:
        return pc.cast(telemetry["ts"], pa.int64()).to_numpy(zero_copy_only=False)
    stamps = telemetry["timestamp"].to_numpy(zero_copy_only=False)
    if "received_at" not in telemetry.column_names:
        return stamps
    received = pc.cast(telemetry["received_at"], pa.int64()).to_numpy(zero_copy_only=False)
    return np.where(stamps >= EPOCH_MS_THRESHOLD, stamps, received)


def with_event_time(telemetry: pa.Table) -> pa.Table:
    """``telemetry`` with a ``ts`` column (UTC ms) of :func:`event_ms` when it has none (decoded
    messages carry only the device's ``timestamp`` and ``received_at``).
    """
    if "ts" in telemetry.column_names:
        return telemetry
    return telemetry.append_column("ts", pa.array(event_ms(telemetry), pa.int64()).cast(UTC_MS))


class Advisor:
    """Scores telemetry with an :class:`AdvisoryModel` and publishes advisory alerts.

    It fits the pipeline's derive step (``Pipeline(lake, derivers=[KernelDeriver(), advisor])``
    in the ingester: its rows go to the ``scores`` table) and runs on its own in
    ``modax advise run``. For each device it keeps
    the last ``context_rows`` readings, so window detectors see history across batches. When
    a device starts alarming it publishes one ``raised`` alert with recommendations and their
    evidence to ``modax/devices/{id}/advisory``, and one ``cleared`` alert once it has been quiet
    for ``clear_after_s``.
    It only ever writes ``scores`` and advisory topics: safety states are never touched.

    Parameters
    ----------
    model : AdvisoryModel
        The saved detector (see :func:`modax.advisory.load_model`).
    publish : callable, optional
        ``publish(topic, payload_bytes)`` for alerts; none are sent when omitted.
    context_rows : int
        Readings of history kept per device.
    rules : RecommendationRules, optional
        Thresholds of the recommendations.
    clear_after_s : float
        An alert clears once the device has not alarmed for this long (s, event time), so a
        detector that flickers around its threshold raises one alert, not one per flicker.

    Examples
    --------
    >>> import tempfile
    >>> from modax.advisory import load_model, save_model
    >>> from modax.models.anomaly import LevelShiftDetector
    >>> rng = np.random.default_rng(0)
    >>> det = LevelShiftDetector(window=5, min_duration=3).fit(rng.normal(4, 0.1, (100, 1)))
    >>> folder = save_model(det, tempfile.mkdtemp(), name="ls", features=["current_1"])
    >>> sent = []
    >>> advisor = Advisor(load_model(folder), publish=lambda t, p: sent.append(t))
    >>> batch = pa.table({"device_id": ["m1"] * 30, "seq": list(range(30)),
    ...                   "timestamp": [1_763_900_000_000 + 1000 * i for i in range(30)],
    ...                   "current_1": [4.0] * 10 + [9.0] * 20})
    >>> scores = advisor.score(batch)
    >>> scores.num_rows, pc.sum(scores["alarm"]).as_py() > 10, sent
    (30, True, ['modax/devices/m1/advisory'])
    """

    def __init__(
        self,
        model: AdvisoryModel,
        publish: Publish | None = None,
        context_rows: int = 300,
        rules: RecommendationRules | None = None,
        clear_after_s: float = 10.0,
    ) -> None:
        self.model = model
        self.clear_after_s = clear_after_s
        self.publish = publish
        self.context_rows = context_rows
        self.rules = rules or RecommendationRules()
        self._history: dict[str, np.ndarray] = {}
        self._alarming: dict[str, bool] = {}
        self._last_alarm_ms: dict[str, int] = {}
        self._checked = False
        self.alerts_sent = 0

    def replace_model(self, model: AdvisoryModel) -> None:
        """Score with ``model`` from the next batch on (its history starts afresh per device)."""
        self.model = model
        self._history.clear()

    def process(
        self, telemetry: pa.Table, device_safety: pa.Table, now_ms: int
    ) -> dict[str, pa.Table]:
        """The pipeline's derive step: scores of the new readings (safety rows are ignored)."""
        return {"scores": self.score(telemetry)}

    def flush(self) -> dict[str, pa.Table]:
        """Nothing is held back: every batch is scored when it arrives."""
        return {}

    def score(self, telemetry: pa.Table) -> pa.Table:
        """Score a batch of telemetry (any devices, any order); returns ``scores`` rows.

        Readings missing one of the model's features are not scored.
        """
        missing = [f for f in self.model.features if f not in telemetry.column_names]
        if missing:
            raise ValueError(f"telemetry lacks the model's feature column(s) {missing}")
        if telemetry.num_rows == 0:
            return SCORES_SCHEMA.empty_table()
        devices = telemetry["device_id"].to_numpy(zero_copy_only=False)
        seqs = (
            telemetry["seq"].to_numpy(zero_copy_only=False).astype(np.float64)
            if "seq" in telemetry.column_names
            else np.full(telemetry.num_rows, np.nan)
        )
        times = event_ms(telemetry)
        columns = {
            name: telemetry[name].to_numpy(zero_copy_only=False).astype(np.float64)
            for name in set(self.model.features) | _readings(telemetry)
        }
        features = np.column_stack([columns[f] for f in self.model.features])
        self._checked = False
        parts = []
        names, device_of = np.unique(devices, return_inverse=True)
        order = np.lexsort((seqs, times, device_of))  # by device, then event time, then seq
        order = order[np.isfinite(features[order]).all(axis=1)]
        bounds = np.searchsorted(device_of[order], np.arange(names.size + 1))
        for code, device in enumerate(names.tolist()):
            rows = order[bounds[code] : bounds[code + 1]]
            if rows.size == 0:
                continue
            scores, alarms = self._score_device(device, features[rows])
            parts.append((device, rows, scores, alarms))
            self._alert(
                device, times[rows], scores, alarms, {k: v[rows] for k, v in columns.items()}
            )
        if not parts:
            return SCORES_SCHEMA.empty_table()
        rows = np.concatenate([p[1] for p in parts])
        count = rows.size
        return pa.table(
            {
                "device_id": pa.array(np.concatenate([[p[0]] * p[1].size for p in parts])),
                "seq": pa.array(seqs[rows], pa.float64()).cast(pa.int64()),
                "ts": pa.array(times[rows], pa.int64()).cast(UTC_MS),
                "model": pa.array([self.model.name] * count),
                "score": pa.array(np.concatenate([p[2] for p in parts])),
                "threshold": pa.array(np.full(count, self.model.detector.threshold_)),
                "alarm": pa.array(np.concatenate([p[3] for p in parts]).astype(bool)),
                "advisory": pa.array(np.ones(count, dtype=bool)),
            },
            schema=SCORES_SCHEMA,
        )

    def _score_device(self, device: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        history = self._history.get(device, rows[:0])
        full = np.vstack([history, rows])
        detector = self.model.detector
        if self._checked and type(detector).score_samples is Detector.score_samples:
            every = detector.score_matrix(full)  # the batch's first device was checked
        else:
            every = detector.score_samples(full)
            self._checked = True
        if type(detector).predict is Detector.predict:  # its alarms follow from the scores
            alarms = min_duration_filter(every > detector.threshold_, detector.min_duration)
        else:
            alarms = detector.predict(full)
        scores, alarms = every[len(history) :], alarms[len(history) :]
        self._history[device] = full[-self.context_rows :]
        return scores, alarms

    def _alert(
        self,
        device: str,
        times: np.ndarray,
        scores: np.ndarray,
        alarms: np.ndarray,
        readings: dict[str, np.ndarray],
    ) -> None:
        hits = np.flatnonzero(alarms)
        if hits.size:
            self._last_alarm_ms[device] = int(times[hits[-1]])
        was = self._alarming.get(device, False)
        raised = not was and hits.size > 0
        if raised:
            first = int(hits[0])
            self._send(device, "raised", int(times[first]), float(scores[first]), readings)
        alarming = was or raised
        quiet_ms = int(times[-1]) - self._last_alarm_ms.get(device, int(times[-1]))
        if alarming and quiet_ms >= self.clear_after_s * 1000:
            self._send(device, "cleared", int(times[-1]), float(scores[-1]), readings)
            alarming = False
        self._alarming[device] = alarming

    def _send(
        self,
        device: str,
        state: Literal["raised", "cleared"],
        ts_ms: int,
        score: float,
        readings: dict[str, np.ndarray],
    ) -> None:
        if self.publish is None:
            return
        threshold = float(self.model.detector.threshold_)
        ratio = score / threshold if threshold > 0 else float("inf")
        advice = recommend(readings, ratio if state == "raised" else None, rules=self.rules)
        alert = Advisory(
            device,
            ts_ms,
            state=state,
            model=self.model.name,
            score=score,
            threshold=threshold,
            recommendations=advice,
            note=_NOTE,
        )
        self.publish(topic_for(device, Kind.ADVISORY), msgspec.json.encode(alert))
        self.alerts_sent += 1


def _readings(telemetry: pa.Table) -> set[str]:
    """Telemetry channels present in the batch (the evidence for recommendations)."""
    prefixes = ("current_", "vib_", "temp_")
    return {c for c in telemetry.column_names if c.startswith(prefixes)}
