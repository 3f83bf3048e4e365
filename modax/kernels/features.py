"""Per-window features for anomaly and wear models (numba moments, numpy FFT).

For each device and tumbling window of event time, every channel gets the window statistics of
:mod:`modax.kernels.aggregate` (mean, std, min, max, rms, p2p) plus crest factor (peak |x| / RMS),
skewness and excess kurtosis (population moments); temperature channels also get their slope
(least squares, °C/s); vibration channels get spectral band energies: the window's samples, mean
removed, through ``numpy.fft.rfft``, power summed over ``n_bands`` equal bands from 0 to the
Nyquist frequency (mean square per band, (m/s²)², so the bands add up to the variance).

:class:`WindowFeatures` wraps this as a scikit-learn transformer: telemetry rows in, one row of
features per (device, window) out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numba as nb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.base import BaseEstimator, TransformerMixin

from modax.schema import TELEMETRY_CHANNELS

__all__ = ["MOMENT_FEATURES", "WindowFeatures", "window_features"]

#: Features computed for every channel, in output order (``<channel>_<feature>`` columns).
MOMENT_FEATURES: tuple[str, ...] = (
    "mean",
    "std",
    "min",
    "max",
    "rms",
    "p2p",
    "crest",
    "skew",
    "kurtosis",
)
_TEMPERATURES = tuple(c for c in TELEMETRY_CHANNELS if c.startswith("temp_"))
_VIBRATION = tuple(c for c in TELEMETRY_CHANNELS if c.startswith("vib_"))


@nb.njit(cache=True)
def _moments(x, starts, ends, out):
    """Two-pass moments of ``x[starts[w]:ends[w]]`` (NaN skipped) into ``out[w, :9]``."""
    for w in range(starts.shape[0]):
        n = 0
        total = 0.0
        lo = np.inf
        hi = -np.inf
        peak = 0.0
        for i in range(starts[w], ends[w]):
            v = x[i]
            if not np.isnan(v):
                n += 1
                total += v
                lo = min(lo, v)
                hi = max(hi, v)
                peak = max(peak, abs(v))
        if n == 0:
            out[w, :] = np.nan
            continue
        mean = total / n
        m2 = 0.0
        m3 = 0.0
        m4 = 0.0
        sq = 0.0
        for i in range(starts[w], ends[w]):
            v = x[i]
            if not np.isnan(v):
                d = v - mean
                d2 = d * d
                m2 += d2
                m3 += d2 * d
                m4 += d2 * d2
                sq += v * v
        rms = math.sqrt(sq / n)
        out[w, 0] = mean
        out[w, 1] = math.sqrt(m2 / (n - 1)) if n > 1 else np.nan
        out[w, 2] = lo
        out[w, 3] = hi
        out[w, 4] = rms
        out[w, 5] = hi - lo
        out[w, 6] = peak / rms if rms > 0.0 else np.nan
        var = m2 / n
        var15 = var**1.5
        var2 = var * var
        out[w, 7] = (m3 / n) / var15 if var15 > 0.0 else np.nan
        out[w, 8] = (m4 / n) / var2 - 3.0 if var2 > 0.0 else np.nan


@nb.njit(cache=True)
def _slope(ts, x, starts, ends, out):
    """Least-squares slope of ``x`` over ``ts`` per window, in units of x per second."""
    for w in range(starts.shape[0]):
        n = 0
        t_sum = 0.0
        x_sum = 0.0
        for i in range(starts[w], ends[w]):
            if not np.isnan(x[i]):
                n += 1
                t_sum += (ts[i] - ts[starts[w]]) / 1000.0
                x_sum += x[i]
        if n < 2:
            out[w] = np.nan
            continue
        t_mean = t_sum / n
        x_mean = x_sum / n
        stt = 0.0
        stx = 0.0
        for i in range(starts[w], ends[w]):
            if not np.isnan(x[i]):
                dt = (ts[i] - ts[starts[w]]) / 1000.0 - t_mean
                stt += dt * dt
                stx += dt * (x[i] - x_mean)
        out[w] = stx / stt if stt > 0.0 else np.nan


def _band_energies(x: np.ndarray, starts: np.ndarray, ends: np.ndarray, n_bands: int) -> np.ndarray:
    """Mean-square power per frequency band of each window (windows batched by length)."""
    out = np.full((len(starts), n_bands), np.nan)
    lengths = ends - starts
    for length in np.unique(lengths):
        if length < 2:
            continue
        rows = np.flatnonzero(lengths == length)
        idx = starts[rows, None] + np.arange(length)
        block = x[idx]
        block = block - np.nanmean(block, axis=1, keepdims=True)
        block = np.nan_to_num(block, nan=0.0)
        power = np.abs(np.fft.rfft(block, axis=1)) ** 2
        # one-sided spectrum scaled so that the bins add up to the mean square (Parseval)
        weight = np.full(power.shape[1], 2.0)
        weight[0] = 1.0
        if length % 2 == 0:
            weight[-1] = 1.0
        power *= weight / (length * length)
        edges = np.linspace(0, power.shape[1], n_bands + 1).round().astype(int)
        for b in range(n_bands):
            out[rows, b] = power[:, edges[b] : edges[b + 1]].sum(axis=1)
    return out


def window_features(
    device_id: np.ndarray,
    ts_ms: np.ndarray,
    values: dict[str, np.ndarray],
    width_ms: int = 10_000,
    n_bands: int = 4,
) -> pd.DataFrame:
    """Features per (device, window) of a batch of readings (any order).

    Parameters
    ----------
    device_id : ndarray
        Device of each row (strings or codes).
    ts_ms : ndarray of int64
        Event time, epoch ms (UTC).
    values : dict of channel name to ndarray
        Readings (NaN = missing). ``temp_*`` channels get a slope, ``vib_*`` channels band energies.
    width_ms : int
        Window width in ms.
    n_bands : int
        Spectral bands for vibration channels.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``(device_id, window_start)`` (UTC timestamps); a ``count`` column and
        ``<channel>_<feature>`` columns.

    Examples
    --------
    >>> import numpy as np
    >>> ts = np.arange(20) * 100
    >>> f = window_features(np.array(["m1"] * 20), ts, {"temp_1": 40 + ts / 1000}, width_ms=1000)
    >>> f["temp_1_slope"].round(6).tolist()
    [1.0, 1.0]
    """
    if width_ms <= 0:
        raise ValueError(f"width_ms={width_ms}: must be a positive number of ms")
    ts = np.asarray(ts_ms, dtype=np.int64)
    codes, devices = pd.factorize(np.asarray(device_id))
    window = np.floor_divide(ts, width_ms)
    order = np.lexsort((ts, window, codes))
    ts, window, codes = ts[order], window[order], codes[order]
    cut = np.flatnonzero((np.diff(codes) != 0) | (np.diff(window) != 0)) + 1
    starts = np.concatenate([[0], cut]).astype(np.int64) if len(ts) else np.zeros(0, np.int64)
    ends = np.concatenate([cut, [len(ts)]]).astype(np.int64) if len(ts) else starts
    columns: dict[str, np.ndarray] = {"count": ends - starts}
    moments = np.empty((len(starts), len(MOMENT_FEATURES)))
    slope = np.empty(len(starts))
    for name, column in values.items():
        x = np.ascontiguousarray(np.asarray(column, dtype=np.float64)[order])
        _moments(x, starts, ends, moments)
        for k, feature in enumerate(MOMENT_FEATURES):
            columns[f"{name}_{feature}"] = moments[:, k].copy()
        if name.startswith("temp_"):
            _slope(ts, x, starts, ends, slope)
            columns[f"{name}_slope"] = slope.copy()
        if name.startswith("vib_"):
            bands = _band_energies(x, starts, ends, n_bands)
            for b in range(n_bands):
                columns[f"{name}_band{b}"] = bands[:, b]
    index = pd.MultiIndex.from_arrays(
        [
            devices[codes[starts]] if len(starts) else devices[:0],
            pd.to_datetime(window[starts] * width_ms, unit="ms", utc=True),
        ],
        names=["device_id", "window_start"],
    )
    return pd.DataFrame(columns, index=index)


class WindowFeatures(TransformerMixin, BaseEstimator):
    """scikit-learn transformer: telemetry rows → one row of window features per device window.

    Parameters
    ----------
    width_ms : int
        Window width in ms of event time.
    channels : sequence of str, optional
        Channels to describe (default: every telemetry channel).
    n_bands : int
        Spectral bands per vibration channel.

    Attributes
    ----------
    feature_names_in_ : ndarray of str
        Input columns seen by :meth:`fit`.
    feature_names_out_ : ndarray of str
        Output feature names, in column order.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rows = pd.DataFrame({"device_id": "m1", "ts": np.arange(40) * 250,
    ...                      "vib_x": np.sin(np.arange(40)), "temp_1": 40.0})
    >>> f = WindowFeatures(width_ms=5000, channels=["vib_x", "temp_1"]).fit_transform(rows)
    >>> f.shape
    (2, 24)
    >>> list(f.columns[:3])
    ['count', 'vib_x_mean', 'vib_x_std']
    """

    def __init__(
        self, width_ms: int = 10_000, channels: Sequence[str] | None = None, n_bands: int = 4
    ) -> None:
        self.width_ms = width_ms
        self.channels = channels
        self.n_bands = n_bands

    def _frame(self, X: pd.DataFrame | pa.Table) -> tuple[pd.DataFrame, list[str]]:
        if isinstance(X, pa.Table):
            if pa.types.is_timestamp(X.schema.field("ts").type):
                X = X.set_column(X.column_names.index("ts"), "ts", pc.cast(X["ts"], pa.int64()))
            X = X.to_pandas()
        if not isinstance(X, pd.DataFrame):
            raise TypeError("X: a pandas DataFrame or pyarrow Table of telemetry rows")
        channels = list(self.channels or [c for c in TELEMETRY_CHANNELS if c in X.columns])
        missing = [c for c in ("device_id", "ts", *channels) if c not in X.columns]
        if missing:
            raise ValueError(f"X: missing column(s) {missing}")
        return X, channels

    def fit(self, X: pd.DataFrame | pa.Table, y: object = None) -> WindowFeatures:
        """Check the input and fix the output feature names (nothing is learned)."""
        frame, channels = self._frame(X)
        self.feature_names_in_ = np.array(list(frame.columns), dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        self.channels_ = channels
        names = ["count"]
        for c in channels:
            names += [f"{c}_{f}" for f in MOMENT_FEATURES]
            if c.startswith("temp_"):
                names.append(f"{c}_slope")
            if c.startswith("vib_"):
                names += [f"{c}_band{b}" for b in range(self.n_bands)]
        self.feature_names_out_ = np.array(names, dtype=object)
        return self

    def transform(self, X: pd.DataFrame | pa.Table) -> pd.DataFrame:
        """Features per ``(device_id, window_start)``, columns :attr:`feature_names_out_`."""
        frame, _ = self._frame(X)
        ts = frame["ts"]
        if pd.api.types.is_datetime64_any_dtype(ts):
            ts = ts.dt.tz_localize(None) if ts.dt.tz is not None else ts
            ts_ms = ts.to_numpy("datetime64[ms]").astype(np.int64)
        else:
            ts_ms = ts.to_numpy(np.int64)
        values = {c: frame[c].to_numpy(np.float64, na_value=np.nan) for c in self.channels_}
        features = window_features(
            frame["device_id"].to_numpy(), ts_ms, values, self.width_ms, self.n_bands
        )
        return features[list(self.feature_names_out_)]

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """Output feature names (scikit-learn API)."""
        return self.feature_names_out_
