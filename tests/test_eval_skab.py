"""`modax eval skab`: the SKAB protocol on a subset of the shipped development files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import Result
from typer.testing import CliRunner

from modax.cli import app
from modax.models.anomaly import (
    FAR_BUDGET,
    SELECTION_GRIDS,
    LevelShiftDetector,
    PCADetector,
    evaluate_skab,
    grid_points,
    leave_one_file_out,
    run_skab,
    select_params,
)
from modax.models.datasets.skab import SkabError, load_skab, read_skab
from modax.testing import require

SKAB = Path(__file__).resolve().parent.parent / "data" / "skab"


@pytest.fixture
def subset(tmp_path: Path) -> Path:
    """Two labelled valve files and the anomaly-free file (which the protocol skips)."""
    require((SKAB / "valve1" / "0.csv").is_file(), "the SKAB sample in data/skab")
    root = tmp_path / "skab"
    (root / "valve1").mkdir(parents=True)
    (root / "anomaly-free").mkdir()
    for name in ("0.csv", "3.csv"):
        shutil.copy(SKAB / "valve1" / name, root / "valve1" / name)
    free = (SKAB / "anomaly-free" / "anomaly-free.csv").read_text().splitlines()[:600]
    (root / "anomaly-free" / "anomaly-free.csv").write_text("\n".join(free) + "\n")
    return root


def modax(*args: str) -> subprocess.CompletedProcess:
    """The real executable, in a new interpreter."""
    return subprocess.run([sys.executable, "-m", "modax", *args], capture_output=True, text=True)


def invoke(*args: str) -> Result:
    """The same typer app in this process (no interpreter start-up)."""
    return CliRunner().invoke(app, list(args))


def test_reader_returns_labelled_files_only_by_default(subset: Path) -> None:
    files = load_skab(subset)
    assert [f.name for f in files] == ["valve1/0.csv", "valve1/3.csv"]
    assert files[0].data.shape == (1147, 8)
    assert int(files[0].anomaly.sum()) == 401
    assert int(files[0].changepoint.sum()) == 4
    everything = load_skab(subset, labelled_only=False)
    assert len(everything) == 3 and everything[0].anomaly is None


def test_reader_names_file_row_and_column_of_bad_values(tmp_path: Path, subset: Path) -> None:
    lines = (subset / "valve1" / "0.csv").read_text().splitlines()
    lines[5] = lines[5].replace(";32.0;", ";n/a;", 1)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines))
    with pytest.raises(SkabError, match=r"bad.csv: row 6, column 'Volume Flow RateRMS'"):
        read_skab(bad)
    no_sep = tmp_path / "commas.csv"
    no_sep.write_text(lines[0].replace(";", ",") + "\n")
    with pytest.raises(SkabError, match="missing column"):
        read_skab(no_sep)


def test_protocol_scores_only_rows_after_training(subset: Path) -> None:
    files = load_skab(subset)
    result = run_skab(LevelShiftDetector(), files)
    # the figures come from a pooled confusion matrix over the ~1,500 scored rows
    assert 0.0 <= result["far"] <= 100.0 and 0.0 < result["f1"] <= 1.0
    with pytest.raises(ValueError, match="1147 rows, need more than 2000"):
        run_skab(PCADetector(), files, train_rows=2000)


def test_level_shift_beats_plain_t2q_on_false_alarms(subset: Path) -> None:
    results = evaluate_skab(load_skab(subset), ["pca-t2q", "level-shift"])
    assert results["level-shift"].mean("far") < results["pca-t2q"].mean("far")
    assert results["level-shift"].mean("f1") > 0.7


def test_stochastic_detectors_report_mean_and_spread_over_seeds(subset: Path) -> None:
    files = load_skab(subset)[:1]
    result = evaluate_skab(files, ["iforest"], seeds=(0, 1, 2))["iforest"]
    assert result.seeds == [0, 1, 2] and len(result.runs) == 3
    f1s = [run["f1"] for run in result.runs]
    assert result.mean("f1") == pytest.approx(np.mean(f1s))
    assert result.std("f1") == pytest.approx(np.std(f1s))
    assert result.mean("f1") < max(f1s) or result.std("f1") == 0


def test_cli_json_leaderboard(subset: Path) -> None:
    proc = modax(
        "eval",
        "skab",
        str(subset),
        "-d",
        "level-shift",
        "-d",
        "pca-t2",
        "--format",
        "json",
        "--no-track",
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["files"] == 2 and report["train_rows"] == 400
    assert set(report["detectors"]) == {"level-shift", "pca-t2"}
    for figures in report["detectors"].values():
        assert {"f1", "far", "mar", "nab", "f1_std"} <= set(figures)
    best = max(report["detectors"], key=lambda name: report["detectors"][name]["f1"])
    assert report["best"] == best


def test_cli_table_and_errors(subset: Path, tmp_path: Path) -> None:
    result = invoke("eval", "skab", str(subset), "-d", "level-shift", "--no-track")
    assert result.exit_code == 0, result.stderr
    assert "level-shift" in result.stdout and "best by F1" in result.stdout
    result = invoke("eval", "skab", str(subset), "-d", "magic")
    assert result.exit_code == 1 and "unknown detector 'magic'" in result.stderr
    result = invoke("eval", "skab", str(tmp_path / "nowhere"))
    assert result.exit_code == 1 and "no such file or directory" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


#: Two configurations the two subset files disagree on (each is best on one file).
DISAGREEING_GRID = {"window": (20,), "threshold": (2.0, 3.0), "min_duration": (20, 40)}


def test_lofo_selects_without_the_held_out_file(subset: Path) -> None:
    files = load_skab(subset)
    alone = [select_params("level-shift", [f], DISAGREEING_GRID).params for f in files]
    assert alone[0] != alone[1], "the grid must make the files disagree, or a leak goes unseen"
    result = leave_one_file_out("level-shift", files, DISAGREEING_GRID)
    # each fold must take the choice of the *other* file: a leak of the held-out file (or
    # selecting on both) would give the held-out file's own best for at least one fold
    assert [fold.selection.params for fold in result.folds] == [alone[1], alone[0]]
    for fold, f in zip(result.folds, files, strict=True):
        assert fold.held_out == f.name
        scored = run_skab(LevelShiftDetector(**fold.selection.params), [f])
        assert fold.held_out_figures == scored
    assert result.defaults == select_params("level-shift", files, DISAGREEING_GRID)


def test_selection_is_deterministic(subset: Path) -> None:
    files = load_skab(subset)
    first = leave_one_file_out("level-shift", files, DISAGREEING_GRID).as_dict()
    again = leave_one_file_out("level-shift", files[::-1], DISAGREEING_GRID).as_dict()
    assert json.dumps(first["folds"]) == json.dumps(again["folds"][::-1])
    assert first["defaults"] == again["defaults"]


def test_shipped_defaults_are_the_rules_choice_within_the_false_alarm_budget() -> None:
    require((SKAB / "valve1" / "5.csv").is_file(), "the SKAB development files in data/skab")
    files = load_skab(SKAB)
    assert len(files) == 6
    rule = select_params("level-shift", files)
    assert rule.within_budget and rule.far <= FAR_BUDGET
    defaults = LevelShiftDetector().get_params()
    assert {name: defaults[name] for name in SELECTION_GRIDS["level-shift"]} == rule.params
    unbounded = select_params("level-shift", files, far_budget=100.0)
    # without the budget, F1 alone picks an alarm-prone configuration (decision 0018)
    assert unbounded.f1 > rule.f1 and unbounded.far > FAR_BUDGET


def test_cli_lofo_json(subset: Path) -> None:
    proc = modax("eval", "skab", str(subset), "--lofo", "--format", "json", "--no-track")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["benchmark"] == "skab-lofo" and report["detector"] == "level-shift"
    assert report["files"] == 2 and report["far_budget"] == FAR_BUDGET
    assert report["grid_size"] == len(grid_points(SELECTION_GRIDS["level-shift"]))
    assert [fold["held_out"] for fold in report["folds"]] == ["valve1/0.csv", "valve1/3.csv"]
    for fold in report["folds"]:
        assert set(fold["selection"]["params"]) == set(SELECTION_GRIDS["level-shift"])
        assert {"f1", "far", "mar", "nab"} <= set(fold["held_out_figures"])
    assert {"f1", "far", "mar"} <= set(report["pooled"]) and "nab" in report["mean"]
    assert set(report["defaults"]["params"]) == set(report["current_defaults"]["params"])
    assert isinstance(report["current_defaults"]["match"], bool)


def test_cli_lofo_table_and_errors(subset: Path) -> None:
    result = invoke("eval", "skab", str(subset), "--lofo", "--no-track")
    assert result.exit_code == 0, result.stderr
    assert "pooled (LOFO)" in result.stdout and "valve1/3.csv" in result.stdout
    result = invoke("eval", "skab", str(subset), "--lofo", "-d", "pca-t2", "--no-track")
    assert result.exit_code == 1 and "no selection grid for detector 'pca-t2'" in result.stderr
    result = invoke("eval", "skab", str(subset), "--lofo", "-d", "level-shift", "-d", "lof")
    assert result.exit_code == 1 and "one detector at a time" in result.stderr
