"""Reader of the SKAB (Skoltech Anomaly Benchmark) CSV files.

Each file is one experiment on a motor-driven water-circulation testbed sampled at 1 Hz:
``;``-separated, a ``datetime`` column, eight sensor columns (:data:`SENSORS`) and, in the
anomaly files, 0/1 columns ``anomaly`` (point labels) and ``changepoint`` (start and end of
each anomaly). ``anomaly-free/anomaly-free.csv`` has no label columns.

Reference: I. D. Katser, V. O. Kozitsin, "Skoltech Anomaly Benchmark (SKAB)", Kaggle, 2020,
doi:10.34740/KAGGLE/DSV/1693952 (GPL-3.0; see ``data/skab/README.md``).

Examples
--------
>>> files = load_skab("data/skab")  # doctest: +SKIP
>>> [f.name for f in files][:2], files[0].data.shape  # doctest: +SKIP
(['valve1/0.csv', 'valve1/1.csv'], (1147, 8))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["LABELS", "SENSORS", "SkabError", "SkabFile", "find_skab", "load_skab", "read_skab"]

#: Sensor columns: vibration RMS (g), motor current (A), pressure (bar), motor temperature (°C),
#: fluid temperature (°C), voltage (V), flow rate (L/min).
SENSORS = (
    "Accelerometer1RMS",
    "Accelerometer2RMS",
    "Current",
    "Pressure",
    "Temperature",
    "Thermocouple",
    "Voltage",
    "Volume Flow RateRMS",
)
LABELS = ("anomaly", "changepoint")


class SkabError(ValueError):
    """A SKAB file is missing or malformed; the message names the file, row and column."""


@dataclass(frozen=True)
class SkabFile:
    """One SKAB experiment.

    Attributes
    ----------
    name : str
        Path relative to the folder it was found under, e.g. ``"valve1/0.csv"``.
    data : pandas.DataFrame
        The :data:`SENSORS` columns, indexed by the naive ``datetime`` (1 Hz).
    anomaly, changepoint : numpy.ndarray or None
        0/1 labels per row (``None`` in the anomaly-free file).
    """

    name: str
    data: pd.DataFrame
    anomaly: np.ndarray | None
    changepoint: np.ndarray | None

    @property
    def labelled(self) -> bool:
        """Whether the file carries anomaly labels (and so counts in the benchmark)."""
        return self.anomaly is not None


def _labels(frame: pd.DataFrame, column: str, where: str) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = ~values.isin((0, 1))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raw = frame[column].iloc[row]
        raise SkabError(f"{where}: row {row + 2}, column {column!r}: expected 0 or 1, got {raw!r}")
    return values.to_numpy(dtype=np.int8)


def read_skab(path: str | Path, name: str | None = None) -> SkabFile:
    """Read one SKAB CSV file, checking its columns and values.

    Raises
    ------
    SkabError
        When the file is missing, a column is missing, or a value is not a number (the message
        names the file, the row as a line number and the column).
    """
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise SkabError(f"{where}: no such file")
    frame = pd.read_csv(path, sep=";")
    missing = [c for c in ("datetime", *SENSORS) if c not in frame.columns]
    if missing:
        raise SkabError(f"{where}: missing column(s) {missing} (is it ';'-separated SKAB data?)")
    data = frame[list(SENSORS)].apply(pd.to_numeric, errors="coerce")
    bad = data.isna().to_numpy()
    if bad.any():
        row, col = (int(v) for v in np.argwhere(bad)[0])
        raw = frame[SENSORS[col]].iloc[row]
        raise SkabError(f"{where}: row {row + 2}, column {SENSORS[col]!r}: not a number: {raw!r}")
    data.index = pd.DatetimeIndex(pd.to_datetime(frame["datetime"]), name="datetime")
    has_labels = all(c in frame.columns for c in LABELS)
    return SkabFile(
        name=name or path.name,
        data=data,
        anomaly=_labels(frame, "anomaly", where) if has_labels else None,
        changepoint=_labels(frame, "changepoint", where) if has_labels else None,
    )


def find_skab(root: str | Path) -> list[Path]:
    """Every ``*.csv`` under ``root`` (recursively), in a stable order.

    Raises
    ------
    SkabError
        When ``root`` does not exist or holds no CSV file.
    """
    root = Path(root)
    if not root.exists():
        raise SkabError(f"{root}: no such file or directory")
    paths = [root] if root.is_file() else sorted(root.rglob("*.csv"))
    if not paths:
        raise SkabError(f"{root}: no SKAB *.csv file found")
    return paths


def load_skab(root: str | Path, labelled_only: bool = True) -> list[SkabFile]:
    """Read every SKAB file under ``root``; by default only the labelled (benchmark) files."""
    root = Path(root)
    files = [
        read_skab(p, name=p.relative_to(root).as_posix() if root.is_dir() else p.name)
        for p in find_skab(root)
    ]
    return [f for f in files if f.labelled or not labelled_only]
