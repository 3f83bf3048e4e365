"""Detector defaults chosen by a written rule, and judged by leave-one-file-out (LOFO).

The rule (:func:`select_params`, decision 0018): among the configurations of a small grid
(:data:`SELECTION_GRIDS`), keep those whose false alarm rate, pooled over the selection files
under the SKAB protocol, is within the budget (:data:`FAR_BUDGET`, 10 % of normal points);
of those take the highest pooled F1; ties go to the lower false alarm rate, then to the
earlier configuration in grid order. When no configuration meets the budget, the one with
the fewest false alarms wins.

:func:`leave_one_file_out` tells how well the rule does on a file it did not see: for each
file it applies the rule to the other files only and scores the held-out file with the
choice. Those held-out figures are the honest ones; the rule applied to every file gives the
defaults.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modax.models.anomaly._registry import make_detector
from modax.models.anomaly._skab import SKAB_TRAIN_ROWS, protocol_alarms, run_skab
from modax.models.datasets.skab import SkabFile
from modax.models.metrics import PointMetrics, point_metrics

__all__ = [
    "FAR_BUDGET",
    "SELECTION_GRIDS",
    "LofoFold",
    "LofoResult",
    "Selection",
    "grid_points",
    "leave_one_file_out",
    "select_params",
]

#: False alarm budget of the selection rule: pooled FAR (% of normal points) a choice may have.
FAR_BUDGET = 10.0

#: The grids the rule searches, per detector name: every default of the detector that shapes
#: its alarms, each at its former value and a factor of about two either side.
SELECTION_GRIDS: dict[str, dict[str, tuple[Any, ...]]] = {
    "level-shift": {
        "window": (5, 10, 20),
        "discount": (0.75, 1.5, 3.0),
        "threshold": (2.0, 3.0, 4.0),
        "min_duration": (10, 20, 40),
        "stats": (("mean", "std"), ("mean",)),
    },
}

Grid = Mapping[str, Sequence[Any]]


def grid_points(grid: Grid) -> list[dict[str, Any]]:
    """Every configuration of ``grid`` in grid order (the last parameter varies fastest).

    Examples
    --------
    >>> grid_points({"threshold": (2.0, 3.0), "min_duration": (10, 20)})[:2]
    [{'threshold': 2.0, 'min_duration': 10}, {'threshold': 2.0, 'min_duration': 20}]
    """
    if not grid or any(len(values) == 0 for values in grid.values()):
        raise ValueError(f"grid needs at least one value per parameter, got {dict(grid)}")
    names = list(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())]


@dataclass(frozen=True)
class Selection:
    """The rule's choice on some files and its pooled figures there (F1; FAR, MAR in %).

    Examples
    --------
    >>> Selection({"threshold": 3.0}, 0.8, 9.0, 27.7, True, 2).as_dict()["params"]
    {'threshold': 3.0}
    """

    params: dict[str, Any]
    f1: float
    far: float
    mar: float
    within_budget: bool
    candidates: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (tuples become lists)."""
        return {
            "params": _plain(self.params),
            "f1": self.f1,
            "far": self.far,
            "mar": self.mar,
            "within_budget": self.within_budget,
            "candidates": self.candidates,
        }


@dataclass(frozen=True)
class LofoFold:
    """One held-out file: the rule's choice on the other files, and the held-out figures.

    ``held_out_figures`` is :func:`run_skab` of the choice on the held-out file alone.
    """

    held_out: str
    selection: Selection
    held_out_figures: dict[str, float]
    counts: PointMetrics


@dataclass(frozen=True)
class LofoResult:
    """Leave-one-file-out figures of the selection rule, and its choice on every file.

    ``pooled`` holds F1, FAR and MAR (%) from the held-out confusion matrices summed over
    folds (SKAB pools); ``mean`` the mean over held-out files of every per-file figure.
    ``defaults`` is the rule applied to all files: what the detector's defaults should be.
    """

    detector: str
    far_budget: float
    grid: dict[str, tuple[Any, ...]]
    folds: list[LofoFold]
    defaults: Selection

    @property
    def pooled(self) -> dict[str, float]:
        """Pooled held-out F1, FAR and MAR (%)."""
        total = sum((fold.counts for fold in self.folds), PointMetrics(0, 0, 0, 0))
        return {"f1": total.f1, "far": total.far, "mar": total.mar}

    @property
    def mean(self) -> dict[str, float]:
        """Mean over held-out files of each per-file figure (NaN ones, e.g. NAB, ignored)."""
        keys = [k for k in self.folds[0].held_out_figures if k not in ("series", "series_skipped")]
        out = {}
        for key in keys:
            values = np.array([fold.held_out_figures.get(key, np.nan) for fold in self.folds])
            out[key] = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
        return out

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: grid, budget, every fold, pooled and mean held-out figures, defaults."""
        return {
            "detector": self.detector,
            "far_budget": self.far_budget,
            "grid": _plain(self.grid),
            "grid_size": len(grid_points(self.grid)),
            "folds": [
                {
                    "held_out": fold.held_out,
                    "selection": fold.selection.as_dict(),
                    "held_out_figures": fold.held_out_figures,
                }
                for fold in self.folds
            ],
            "pooled": self.pooled,
            "mean": self.mean,
            "defaults": self.defaults.as_dict(),
        }


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _score_table(
    detector: str,
    configs: list[dict[str, Any]],
    files: Sequence[SkabFile],
    train_rows: int,
    params: Mapping[str, Any],
    progress: Callable[[], None] | None,
) -> list[list[PointMetrics]]:
    """Confusion counts of every configuration on every file (each file is fitted alone)."""
    table = []
    for config in configs:
        row = []
        model = make_detector(detector, **{**params, **config})
        for f in files:
            alarms = protocol_alarms(model, f, train_rows)
            if alarms is None:
                raise ValueError(
                    f"{f.name}: fewer than half of the first {train_rows} rows are normal; "
                    "leave it out of the selection"
                )
            row.append(point_metrics(np.asarray(f.anomaly)[train_rows:], alarms))
        table.append(row)
        if progress is not None:
            progress()
    return table


def _choose(
    configs: list[dict[str, Any]],
    table: list[list[PointMetrics]],
    use: Sequence[int],
    far_budget: float,
) -> tuple[int, Selection]:
    """The rule on the files at positions ``use`` only (see the module docstring): the
    chosen configuration's index and the selection.
    """
    pooled = [sum((row[j] for j in use), PointMetrics(0, 0, 0, 0)) for row in table]
    far = [np.nan_to_num(m.far, nan=0.0) for m in pooled]
    f1 = [np.nan_to_num(m.f1, nan=0.0) for m in pooled]
    ok = [i for i in range(len(configs)) if far[i] <= far_budget]
    if ok:
        best = max(ok, key=lambda i: (f1[i], -far[i], -i))
    else:
        best = min(range(len(configs)), key=lambda i: (far[i], i))
    chosen = pooled[best]
    return best, Selection(
        dict(configs[best]), chosen.f1, chosen.far, chosen.mar, bool(ok), len(ok)
    )


def _check(detector: str, grid: Grid | None) -> dict[str, tuple[Any, ...]]:
    if grid is None:
        if detector not in SELECTION_GRIDS:
            raise ValueError(
                f"no selection grid for detector {detector!r}; grids exist for "
                f"{', '.join(SELECTION_GRIDS)} (or pass grid=)"
            )
        grid = SELECTION_GRIDS[detector]
    return {name: tuple(values) for name, values in grid.items()}


def select_params(
    detector: str,
    files: Sequence[SkabFile],
    grid: Grid | None = None,
    *,
    far_budget: float = FAR_BUDGET,
    train_rows: int = SKAB_TRAIN_ROWS,
    params: Mapping[str, Any] | None = None,
    progress: Callable[[], None] | None = None,
) -> Selection:
    """Apply the selection rule to ``files``: the grid point with the best pooled F1 whose
    pooled false alarm rate is at most ``far_budget`` (%).

    Parameters
    ----------
    detector : str
        Registry name (:data:`modax.models.anomaly.DETECTORS`).
    files : sequence of SkabFile or LabelledSeries
        Labelled series, each fitted on its first ``train_rows`` rows and scored on the rest.
    grid : mapping of str to sequence, optional
        Parameter values to search (default :data:`SELECTION_GRIDS` ``[detector]``).
    far_budget : float
        Largest pooled false alarm rate (%) a choice may have.
    train_rows : int
        Rows of each series to fit on.
    params : mapping, optional
        Fixed parameters for every configuration (e.g. SKAB column names).
    progress : callable, optional
        Called after each configuration is scored on every file.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from modax.models.anomaly import LabelledSeries
    >>> x = np.random.default_rng(0).normal(size=(400, 1))
    >>> x[300:] += 1.5
    >>> labels = (np.arange(400) >= 300).astype(np.int8)
    >>> series = LabelledSeries("demo", pd.DataFrame(x), labels, np.diff(labels, prepend=0))
    >>> grid = {"threshold": (2.0, 8.0), "min_duration": (5,)}
    >>> select_params("level-shift", [series], grid, train_rows=150).params["threshold"]
    2.0
    """
    space = _check(detector, grid)
    configs = grid_points(space)
    table = _score_table(detector, configs, files, train_rows, params or {}, progress)
    return _choose(configs, table, range(len(files)), far_budget)[1]


def leave_one_file_out(
    detector: str,
    files: Sequence[SkabFile],
    grid: Grid | None = None,
    *,
    far_budget: float = FAR_BUDGET,
    train_rows: int = SKAB_TRAIN_ROWS,
    params: Mapping[str, Any] | None = None,
    progress: Callable[[], None] | None = None,
) -> LofoResult:
    """Held-out figures of the selection rule: each file scored with the choice made on the
    others, plus the rule's choice on every file (the defaults).

    Every configuration is scored once per file (under the SKAB protocol each file is fitted
    on its own rows, so a file's figures do not depend on the others); fold ``k`` then selects
    from the figures of the files other than ``k`` only. Parameters as :func:`select_params`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from modax.models.anomaly import LabelledSeries
    >>> rng = np.random.default_rng(0)
    >>> def series(name, shift):
    ...     x = rng.normal(size=(400, 1))
    ...     x[300:] += shift
    ...     y = (np.arange(400) >= 300).astype(np.int8)
    ...     return LabelledSeries(name, pd.DataFrame(x), y, np.diff(y, prepend=0))
    >>> grid = {"threshold": (2.0, 8.0), "min_duration": (5,)}
    >>> result = leave_one_file_out(
    ...     "level-shift", [series("a", 1.5), series("b", 2.0)], grid, train_rows=150)
    >>> [fold.selection.params["threshold"] for fold in result.folds]
    [2.0, 2.0]
    """
    space = _check(detector, grid)
    if len(files) < 2:
        raise ValueError(f"leave-one-file-out needs at least 2 files, got {len(files)}")
    configs = grid_points(space)
    fixed = dict(params or {})
    table = _score_table(detector, configs, files, train_rows, fixed, progress)
    folds = []
    for k, held_out in enumerate(files):
        others = [j for j in range(len(files)) if j != k]
        best, selection = _choose(configs, table, others, far_budget)
        model = make_detector(detector, **{**fixed, **selection.params})
        figures = run_skab(model, [held_out], train_rows)
        folds.append(LofoFold(held_out.name, selection, figures, table[best][k]))
    defaults = _choose(configs, table, range(len(files)), far_budget)[1]
    return LofoResult(detector, far_budget, space, folds, defaults)
