"""The C-MAPSS reader and ``modax eval cmapss`` on FD001 and on a synthetic six-condition subset."""

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from modax.cli import app
from modax.models.datasets.cmapss import (
    COLUMNS,
    CmapssError,
    load_cmapss,
    read_cmapss_file,
    write_synthetic_cmapss,
)
from modax.testing import require

CMAPSS = Path(__file__).resolve().parent.parent / "data" / "cmapss"
runner = CliRunner()


@pytest.fixture(scope="module")
def six_conditions(tmp_path_factory) -> Path:
    return write_synthetic_cmapss(tmp_path_factory.mktemp("cmapss"), "FD004", seed=3)


def test_load_fd001_matches_the_published_shape():
    require((CMAPSS / "train_FD001.txt").exists(), "data/cmapss/train_FD001.txt")
    data = load_cmapss(CMAPSS, "fd001")
    assert data.name == "FD001"
    assert data.train.shape == (20631, len(COLUMNS) + 1)
    assert data.train["unit"].nunique() == 100
    assert data.test["unit"].nunique() == len(data.rul) == 100
    # training label: cycles to the unit's last (failure) cycle
    unit1 = data.train[data.train["unit"] == 1]
    assert unit1["rul"].iloc[0] == len(unit1) - 1 and unit1["rul"].iloc[-1] == 0
    last = data.test_last()
    assert last["unit"].tolist() == list(range(1, 101))
    assert (last["cycle"].to_numpy() == data.test.groupby("unit")["cycle"].max().to_numpy()).all()
    assert data.rul[:3].tolist() == [112.0, 98.0, 69.0]


def test_synthetic_subset_round_trips_through_the_reader(six_conditions):
    data = load_cmapss(six_conditions, "FD004")
    assert data.train["unit"].nunique() == 40
    assert len(data.rul) == data.test["unit"].nunique() == 30
    assert data.test.groupby("unit")["cycle"].max().min() >= 31
    assert data.train.groupby("unit")["rul"].min().eq(0).all()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("1 1 0 0 100" + " 1" * 20, "line 2: expected 26 numbers, got 25"),
        ("1 1 0 0 100 x" + " 1" * 20, "line 2, column s1: 'x' is not a number"),
        ("1 5 0 0 100" + " 1" * 21, "line 2, column cycle: unit 1 has cycle 5 where 2"),
        ("1 2 0 0 100 nan" + " 1" * 20, "line 2, column s1: not finite"),
    ],
)
def test_malformed_line_is_named(tmp_path, line, message):
    path = tmp_path / "train_FD001.txt"
    path.write_text("1 1 0 0 100" + " 1" * 21 + "\n" + line + "\n")
    with pytest.raises(CmapssError, match=message):
        read_cmapss_file(path)


def test_missing_files_and_mismatched_truth_are_clear_errors(tmp_path):
    with pytest.raises(CmapssError, match="directory not found"):
        load_cmapss(tmp_path / "nowhere")
    with pytest.raises(CmapssError, match="FD009"):
        load_cmapss(tmp_path, "FD009")
    write_synthetic_cmapss(tmp_path, "FD003", n_train=3, n_test=4, n_conditions=1)
    (tmp_path / "RUL_FD003.txt").write_text("10\n20\n")
    with pytest.raises(CmapssError, match="2 remaining lives for 4 test units"):
        load_cmapss(tmp_path, "FD003")
    (tmp_path / "RUL_FD003.txt").write_text("10\n-3\n")
    with pytest.raises(CmapssError, match="line 2: '-3' is not a remaining life"):
        load_cmapss(tmp_path, "FD003")
    (tmp_path / "train_FD001.txt").write_text("1 1 0 0 100" + " 1" * 21 + "\n")
    with pytest.raises(CmapssError, match=r"test_FD001\.txt: file not found"):
        load_cmapss(tmp_path, "FD001")


def test_cli_json_on_six_conditions(six_conditions):
    result = runner.invoke(
        app,
        ["eval", "cmapss", str(six_conditions), "--subset", "FD004", "-m", "gbm-window",
         "--seeds", "2", "--format", "json", "--threads", "1", "--no-track"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["subset"] == "FD004" and report["seeds"] == 2
    assert report["n_conditions"] == 6
    scores = report["models"]["gbm-window"]
    assert set(scores) >= {"rmse", "rmse_unclipped", "nasa_score", "rmse_std", "runtime_s"}
    truth = np.minimum(load_cmapss(six_conditions, "FD004").rul, 125)
    naive = float(np.sqrt(np.mean((truth - truth.mean()) ** 2)))
    assert scores["rmse"] < 0.6 * naive  # conditions removed: wear is visible
    assert report["best"] == "gbm-window"


def test_cli_table_on_fd001_reproduces_the_window_floor():
    require((CMAPSS / "train_FD001.txt").exists(), "data/cmapss/train_FD001.txt")
    args = ["eval", "cmapss", str(CMAPSS), "-m", "gbm-window", "--seeds", "1", "--threads", "1",
            "--no-track"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "gbm-window" in line)
    rmse = float(row.split("│")[2].split("±")[0])
    assert 12.5 < rmse < 14.5  # GBM on 30-cycle window features: ≈ 13.3 in the literature


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "nope"], "unknown nope"),
        (["--subset", "FD007"], "FD007"),
    ],
)
def test_cli_user_mistakes_are_one_line_errors(args, message):
    result = runner.invoke(app, ["eval", "cmapss", str(CMAPSS), *args])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_cli_missing_directory(tmp_path):
    result = runner.invoke(app, ["eval", "cmapss", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "directory not found" in result.output
