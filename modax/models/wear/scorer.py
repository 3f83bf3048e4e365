"""Remaining life of live devices from a fitted model, as rows of the ``remaining_life_estimates``
table — advisory only, never a safety decision.

Telemetry batches (any devices, any split) are cut into stress windows per device
(:class:`~modax.models.wear.live.StressWindows`); each window a later reading closes gets an
estimate. A windowed model (:class:`RULRegressor`, :class:`QuantileRULRegressor`, e.g. from
:func:`~modax.models.wear.sim.fit_remaining_life`) sees the device's last ``history`` windows, the
MODAX stress model (:class:`StressWearModel`) the hours it accumulated since the scorer started.
Per device the scorer keeps at most ``history`` windows and one open window: bounded state.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pandas as pd
import pyarrow as pa

from modax.models.wear.live import TELEMETRY_COLUMNS, StressWindows, by_device_and_time
from modax.models.wear.quantile import QuantileRULRegressor
from modax.models.wear.regressor import RULRegressor
from modax.models.wear.stress import PRIOR_COLUMN, STRESS_COLUMNS, StressWearModel
from modax.schema import REMAINING_LIFE_ESTIMATES_SCHEMA, UTC_MS

__all__ = ["RemainingLifeScorer"]


class RemainingLifeScorer:
    """Stream telemetry through a fitted remaining-life model, one estimate per closed window.

    Parameters
    ----------
    estimator : RULRegressor or StressWearModel
        A fitted model whose output is in hours: a windowed model on the stress columns
        (:data:`~modax.models.wear.RUL_SENSORS`, unit ``unit``, time ``cycle``); quantile models
        add the interval (their outermost quantiles); the stress model accumulates hours per
        device from the scorer's start and gives no interval.
    name, version : str
        The registered model's name and version, written in every row.
    window_s : float
        Stress window length (s): the one the model was trained on (60 s by default, as in
        :func:`~modax.models.wear.sim.fit_remaining_life`).
    history : int or None
        Windows kept per device for a windowed model; None: the longest window of its features.

    Attributes
    ----------
    features : list of str
        The telemetry columns the scorer needs.

    Examples
    --------
    >>> import simulator
    >>> from modax.models.wear import StressWearModel
    >>> run = simulator.Fleet(n_devices=2, seed=1, scenario="run-to-failure").run(150)
    >>> stress = StressWearModel(nominal_life_h=10_000 / 9000).fit(pd.DataFrame(
    ...     {name: [1.0] for name in STRESS_COLUMNS}))
    >>> scorer = RemainingLifeScorer(stress, name="modax-stress", version="1")
    >>> rows = scorer.update(run.telemetry)  # windows 0 and 1 of each device close
    >>> rows.num_rows, rows.schema == REMAINING_LIFE_ESTIMATES_SCHEMA
    (4, True)
    >>> bool(rows["rul_h"].to_numpy().min() >= 0), rows["rul_low_h"].null_count  # no interval
    (True, 4)
    """

    def __init__(
        self,
        estimator: RULRegressor | StressWearModel,
        *,
        name: str,
        version: str,
        window_s: float = 60.0,
        history: int | None = None,
    ) -> None:
        if not isinstance(estimator, RULRegressor | StressWearModel):
            raise TypeError(
                f"estimator: remaining-life model {name} v{version} is a "
                f"{type(estimator).__name__}, not a RULRegressor or StressWearModel"
            )
        self.estimator = estimator
        self.name = name
        self.version = version
        self.window_s = window_s
        self.history = _history(estimator) if history is None else history
        if self.history < 1:
            raise ValueError(f"history: need at least 1 window, got {self.history}")
        self.features = list(TELEMETRY_COLUMNS)
        self._windows = StressWindows(window_s)
        self._recent: dict[str, deque[tuple[int, np.ndarray]]] = {}
        self._count: dict[str, int] = {}
        self._accumulated_h: dict[str, float] = {}

    def warm_up(self) -> None:
        """Score synthetic readings on a throwaway copy, so first-use costs are paid now.

        The first windows a process closes load (or compile) the window kernels and import what
        the model needs lazily — seconds a live advisor would otherwise add to the readings
        waiting behind them. This scorer's own state is not touched.

        Examples
        --------
        >>> from modax.models.wear import StressWearModel
        >>> stress = StressWearModel().fit(pd.DataFrame({name: [1.0] for name in STRESS_COLUMNS}))
        >>> RemainingLifeScorer(stress, name="modax-stress", version="1").warm_up()
        """
        seconds = np.arange(0, 3 * self.window_s + 1, 1.0)
        readings = {c: np.full(seconds.size, 1.0) for c in TELEMETRY_COLUMNS[2:]}
        start_ms = 1_700_000_000_000
        telemetry = pa.table(
            {
                "device_id": ["warm-up"] * seconds.size,
                "ts": pa.array(start_ms + (seconds * 1000).astype(np.int64)).cast(UTC_MS),
                **readings,
            }
        )
        copy = RemainingLifeScorer(
            self.estimator,
            name=self.name,
            version=self.version,
            window_s=self.window_s,
            history=self.history,
        )
        copy.update(telemetry)

    def update(self, telemetry: pa.Table) -> pa.Table:
        """Estimates of the windows this batch closes (REMAINING_LIFE_ESTIMATES_SCHEMA rows).

        Returns one row per device and closed window, sorted by device and time (live, a batch
        closes at most one window per device); ``ts`` is the window's end. An empty table when no
        window closed.
        """
        missing = [c for c in self.features if c not in telemetry.column_names]
        if missing:
            raise ValueError(
                f"telemetry: remaining-life model {self.name} v{self.version} needs missing "
                f"column(s) {', '.join(missing)}"
            )
        if telemetry.num_rows == 0:
            return REMAINING_LIFE_ESTIMATES_SCHEMA.empty_table()
        closed = self._windows.process(by_device_and_time(telemetry))
        if closed.empty:
            return REMAINING_LIFE_ESTIMATES_SCHEMA.empty_table()
        closed[list(STRESS_COLUMNS)] = closed[list(STRESS_COLUMNS)].fillna(0.0)
        if isinstance(self.estimator, StressWearModel):
            rul, low, high = self._accumulate(closed), None, None
        else:
            rul, low, high = self._windowed(closed)
        cap = getattr(self.estimator, "cap", None)
        frame = pd.DataFrame(
            {
                "device_id": closed["device_id"].astype(str),
                "ts": closed["window_end"],
                "model": self.name,
                "version": self.version,
                "rul_h": rul,
                "rul_low_h": low,
                "rul_high_h": high,
                "rul_cap_h": None if cap is None else float(cap),
                "advisory": True,
            }
        )
        return pa.Table.from_pandas(
            frame, schema=REMAINING_LIFE_ESTIMATES_SCHEMA, preserve_index=False
        )

    def _accumulate(self, closed: pd.DataFrame) -> np.ndarray:
        """The stress model's remaining hours, carrying each device's accumulated hours."""
        model = self.estimator
        inputs = closed[list(STRESS_COLUMNS)].copy()
        inputs[model.device_col] = closed["device_id"].to_numpy()
        inputs[PRIOR_COLUMN] = closed["device_id"].map(self._accumulated_h).fillna(0.0)
        accumulated = model.accumulated_hours(inputs)
        last = pd.Series(accumulated).groupby(closed["device_id"].to_numpy()).last()
        self._accumulated_h.update(last.to_dict())
        return model.predict(inputs)

    def _windowed(
        self, closed: pd.DataFrame
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """A windowed model's estimate (and interval) at each closed window.

        Each closed window is scored on its device's recent windows, stacked as one unit per
        window so that one call scores them all (the features of a unit depend on its rows
        alone, so the figures do not depend on what else the batch holds).
        """
        values = closed[list(STRESS_COLUMNS)].to_numpy(dtype=float)
        frames = []
        for device, row in zip(closed["device_id"].astype(str), values, strict=True):
            recent = self._recent.setdefault(device, deque(maxlen=self.history))
            self._count[device] = self._count.get(device, 0) + 1
            recent.append((self._count[device], row))
            frames.append(list(recent))
        sizes = np.array([len(frame) for frame in frames])
        windows = [window for frame in frames for window in frame]
        stacked = pd.DataFrame(np.vstack([row for _, row in windows]), columns=STRESS_COLUMNS)
        stacked["cycle"] = [cycle for cycle, _ in windows]
        stacked["unit"] = np.repeat(np.arange(len(frames)), sizes)
        matrix = self.estimator.transform_features(stacked)[np.cumsum(sizes) - 1]
        if not isinstance(self.estimator, QuantileRULRegressor):
            return self.estimator.predict_features(matrix), None, None
        bands = self.estimator.quantiles_from_features(matrix)
        levels = np.asarray(self.estimator.quantiles, dtype=float)
        median = int(np.argmin(np.abs(levels - 0.5)))
        low, high = int(np.argmin(levels)), int(np.argmax(levels))
        return bands[:, median], bands[:, low], bands[:, high]


def _history(estimator: RULRegressor | StressWearModel) -> int:
    """Windows a windowed model's features look back (1 for the stress model)."""
    features = getattr(estimator, "features", None)
    if features is None:
        return 1
    spans = [3 * span for span in features.spans]
    return max(features.window, features.long_window or 0, features.baseline or 0, *spans)
