"""Reader of the NASA C-MAPSS turbofan run-to-failure data set (subsets FD001–FD004).

Each subset is three whitespace-separated text files without header: ``train_FD00x.txt`` (engines
run to failure), ``test_FD00x.txt`` (trajectories cut off before failure) and ``RUL_FD00x.txt``
(the true remaining life, in cycles, after the last test cycle of each engine, in unit order).
Every data line holds 26 numbers: ``unit``, ``cycle``, ``setting_1..3`` and sensors ``s1..s21``.

Reference: A. Saxena, K. Goebel, D. Simon, N. Eklund, "Damage Propagation Modeling for Aircraft
Engine Run-to-Failure Simulation", PHM08, 2008 (NASA PCoE open data).

Examples
--------
>>> data = load_cmapss("data/cmapss", "FD001")  # doctest: +SKIP
>>> data.train.shape, data.test_last().shape, data.rul.shape  # doctest: +SKIP
((20631, 27), (100, 26), (100,))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "COLUMNS",
    "INFORMATIVE_SENSORS",
    "SENSORS",
    "SETTINGS",
    "SUBSETS",
    "CmapssError",
    "CmapssSubset",
    "load_cmapss",
    "read_cmapss_file",
    "read_rul_file",
    "write_synthetic_cmapss",
]

#: The four published subsets: (operating conditions, fault modes) = (1, 1), (6, 1), (1, 2), (6, 2).
SUBSETS = ("FD001", "FD002", "FD003", "FD004")
SETTINGS = ("setting_1", "setting_2", "setting_3")
SENSORS = tuple(f"s{i}" for i in range(1, 22))
COLUMNS = ("unit", "cycle", *SETTINGS, *SENSORS)
#: The 14 sensors that change with degradation (the others are constant within a condition).
INFORMATIVE_SENSORS = (
    "s2", "s3", "s4", "s7", "s8", "s9", "s11", "s12", "s13", "s14", "s15", "s17", "s20", "s21",
)  # fmt: skip


class CmapssError(ValueError):
    """A C-MAPSS file is missing or malformed; the message names the file, line and field."""


@dataclass(frozen=True)
class CmapssSubset:
    """One C-MAPSS subset: training trajectories, test trajectories and the test truth.

    Attributes
    ----------
    name : str
        ``"FD001"`` … ``"FD004"``.
    train : pandas.DataFrame
        Run-to-failure trajectories, columns :data:`COLUMNS` plus ``rul`` (cycles to failure).
    test : pandas.DataFrame
        Truncated trajectories, columns :data:`COLUMNS`.
    rul : numpy.ndarray
        True remaining life (cycles) after the last cycle of each test unit, in unit order.
    """

    name: str
    train: pd.DataFrame
    test: pd.DataFrame
    rul: np.ndarray

    def test_last(self) -> pd.DataFrame:
        """The last cycle of each test unit, in unit order (the rows the protocol scores)."""
        last = self.test.groupby("unit", sort=True).tail(1)
        return last.sort_values("unit").reset_index(drop=True)


def read_cmapss_file(path: str | Path) -> pd.DataFrame:
    """Read one ``train_``/``test_FD00x.txt`` file into a frame with :data:`COLUMNS`.

    Raises
    ------
    CmapssError
        The file is missing or empty, a line does not hold 26 numbers, or a unit's cycles are not
        1, 2, 3, … in order; the message names the file, the line and the column.
    """
    path = Path(path)
    if not path.is_file():
        raise CmapssError(f"{path}: file not found")
    rows: list[list[float]] = []
    with path.open(encoding="ascii", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != len(COLUMNS):
                got = len(fields)
                raise CmapssError(
                    f"{path.name}, line {number}: expected {len(COLUMNS)} numbers, got {got}"
                )
            try:
                rows.append([float(value) for value in fields])
            except ValueError:
                column = next(c for c, v in zip(COLUMNS, fields, strict=True) if not _is_number(v))
                value = fields[COLUMNS.index(column)]
                raise CmapssError(
                    f"{path.name}, line {number}, column {column}: {value!r} is not a number"
                ) from None
    if not rows:
        raise CmapssError(f"{path.name}: no data lines")
    values = np.asarray(rows)
    if not np.isfinite(values).all():
        line, col = np.argwhere(~np.isfinite(values))[0]
        raise CmapssError(f"{path.name}, line {line + 1}, column {COLUMNS[col]}: not finite")
    frame = pd.DataFrame(values, columns=list(COLUMNS))
    frame["unit"] = frame["unit"].astype(np.int64)
    frame["cycle"] = frame["cycle"].astype(np.int64)
    _check_cycles(frame, path.name)
    return frame


def read_rul_file(path: str | Path) -> np.ndarray:
    """Read ``RUL_FD00x.txt``: one non-negative remaining life (cycles) per line."""
    path = Path(path)
    if not path.is_file():
        raise CmapssError(f"{path}: file not found")
    values: list[float] = []
    for number, line in enumerate(path.read_text(encoding="ascii", errors="replace").splitlines()):
        text = line.strip()
        if not text:
            continue
        if not _is_number(text) or float(text) < 0:
            raise CmapssError(f"{path.name}, line {number + 1}: {text!r} is not a remaining life")
        values.append(float(text))
    return np.asarray(values)


def load_cmapss(directory: str | Path, subset: str = "FD001") -> CmapssSubset:
    """Load one subset from ``directory`` and label the training rows with their RUL.

    Parameters
    ----------
    directory : str or Path
        Folder holding ``train_{subset}.txt``, ``test_{subset}.txt`` and ``RUL_{subset}.txt``.
    subset : str
        One of :data:`SUBSETS` (case-insensitive).

    Raises
    ------
    CmapssError
        Unknown subset, missing or malformed file, or as many truths as test units.
    """
    name = subset.upper()
    if name not in SUBSETS:
        raise CmapssError(f"subset: {subset!r} is not one of {', '.join(SUBSETS)}")
    directory = Path(directory)
    if not directory.is_dir():
        raise CmapssError(f"{directory}: directory not found")
    train = read_cmapss_file(directory / f"train_{name}.txt")
    test = read_cmapss_file(directory / f"test_{name}.txt")
    rul = read_rul_file(directory / f"RUL_{name}.txt")
    n_units = test["unit"].nunique()
    if len(rul) != n_units:
        raise CmapssError(
            f"RUL_{name}.txt: {len(rul)} remaining lives for {n_units} test units "
            f"in test_{name}.txt"
        )
    train["rul"] = train.groupby("unit")["cycle"].transform("max") - train["cycle"]
    return CmapssSubset(name=name, train=train, test=test, rul=rul)


#: The six operating points (altitude kft, Mach, throttle angle) of FD002/FD004.
_CONDITIONS = np.array(
    [[0, 0, 100], [10, 0.25, 100], [20, 0.7, 100], [25, 0.62, 60], [35, 0.84, 100], [42, 0.84, 100]]
)


def write_synthetic_cmapss(
    directory: str | Path,
    subset: str = "FD002",
    *,
    n_train: int = 40,
    n_test: int = 30,
    n_conditions: int = 6,
    seed: int = 0,
) -> Path:
    """Write a small C-MAPSS-like subset (same files and format) with known remaining life.

    Each engine runs at a random one of ``n_conditions`` operating points every cycle; every
    sensor has a level per condition far larger than wear moves it, the 14 informative sensors
    drift exponentially towards failure at a random life of 130–280 cycles, the others are constant
    within a condition. Test engines are cut off at a random cycle before failure.

    Returns
    -------
    Path
        ``directory`` (created when missing).
    """
    if not 1 <= n_conditions <= len(_CONDITIONS):
        raise ValueError(f"n_conditions: must be 1–{len(_CONDITIONS)}, got {n_conditions}")
    rng = np.random.default_rng(seed)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    level = rng.uniform(10, 2000, size=(n_conditions, len(SENSORS)))
    level *= 1 + 0.3 * np.arange(n_conditions)[:, None] / max(n_conditions - 1, 1)
    informative = np.isin(SENSORS, INFORMATIVE_SENSORS)
    drift = np.where(informative, rng.choice([-1, 1], len(SENSORS)) * rng.uniform(2, 6, 21), 0)
    noise = np.where(informative, 1.0, 0.0)

    def engine(unit: int, cut: bool) -> tuple[np.ndarray, int]:
        life = int(rng.integers(130, 281))
        last = int(rng.integers(31, life)) if cut else life
        cycles = np.arange(1, last + 1)
        condition = rng.integers(0, n_conditions, size=last)
        wear = np.expm1(3 * cycles / life) / np.expm1(3)
        offset = rng.normal(0, 0.5, len(SENSORS)) * noise
        sensors = level[condition] + offset + wear[:, None] * drift
        sensors += rng.normal(0, 1, sensors.shape) * noise
        settings = _CONDITIONS[condition] + rng.normal(0, 0.002, (last, 3)) * [1, 1, 0]
        rows = np.column_stack([np.full(last, unit), cycles, settings, sensors])
        return rows, life - last

    def save(name: str, rows: list[np.ndarray]) -> None:
        formats = ["%d", "%d", "%.4f", "%.4f", "%.1f"] + ["%.4f"] * len(SENSORS)
        np.savetxt(directory / name, np.vstack(rows), fmt=formats, delimiter=" ")

    save(f"train_{subset}.txt", [engine(u, cut=False)[0] for u in range(1, n_train + 1)])
    test = [engine(u, cut=True) for u in range(1, n_test + 1)]
    save(f"test_{subset}.txt", [rows for rows, _ in test])
    (directory / f"RUL_{subset}.txt").write_text("".join(f"{rul}\n" for _, rul in test))
    return directory


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_cycles(frame: pd.DataFrame, name: str) -> None:
    """Each unit's rows must be contiguous with cycles 1, 2, 3, … (the files' own layout)."""
    unit = frame["unit"].to_numpy()
    cycle = frame["cycle"].to_numpy()
    starts = np.r_[True, unit[1:] != unit[:-1]]
    expected = np.where(starts, 1, np.r_[0, cycle[:-1]] + 1)
    bad = np.flatnonzero(cycle != expected)
    if bad.size:
        row = int(bad[0])
        raise CmapssError(
            f"{name}, line {row + 1}, column cycle: unit {unit[row]} has cycle {cycle[row]} "
            f"where {expected[row]} was expected"
        )
    if pd.Series(unit[starts]).duplicated().any():
        dup = pd.Series(unit[starts])[pd.Series(unit[starts]).duplicated()].iloc[0]
        raise CmapssError(f"{name}, column unit: unit {dup} appears in two separate blocks")
