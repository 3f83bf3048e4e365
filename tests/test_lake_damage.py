"""A damaged lake: one line naming table, file and fix; nothing written on top; check and repair."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from unittest.mock import patch

import payloads
import pyarrow as pa
import pytest

import modax
from modax.cli import main
from modax.lake import CorruptTableError, Damage, Lake, LakeError
from modax.testing import wait_for
from tests.test_cli import NOW, fill_lake

DAMAGE = {
    "truncated": lambda text: text[: len(text) // 2],
    "garbage": lambda text: "\x00\x07{{not json",
    "empty": lambda text: "",
}


@pytest.fixture
def filled_lake(lake_dir: Path) -> Path:
    return fill_lake(lake_dir)


def commit(lake: Path, table: str, version: int) -> Path:
    return lake / table / "_delta_log" / f"{version:020d}.json"


def damage_last_commit(lake: Path, how: str, table: str = "telemetry") -> Path:
    last = max((lake / table / "_delta_log").glob("*.json"))
    last.write_text(DAMAGE[how](last.read_text()))
    return last


def recording(path: Path, first_seq: int, n: int) -> Path:
    lines = [
        json.dumps(
            {
                "topic": "modax/devices/m0/telemetry",
                "payload": payloads.telemetry(
                    "m0",
                    seq,
                    timestamp=NOW + seq * 100,
                    temperatures=(35.0,),
                    vibration=(0.0, 0.0, 9.8, 9.8),
                ).decode(),
            }
        )
        for seq in range(first_seq, first_seq + n)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def snapshot(lake: Path) -> list[tuple[str, int]]:
    """Every file under the lake with its size: what a write on top would change."""
    return sorted((str(p), p.stat().st_size) for p in lake.rglob("*") if p.is_file())


def run_main(
    capsys: pytest.CaptureFixture[str], *args: str, stdin: str = ""
) -> tuple[int, str, str]:
    """``modax ARGS`` in this process through the executable's entry point: code, stdout, stderr."""
    capsys.readouterr()
    with (
        patch.object(sys, "argv", ["modax", *args]),
        patch.object(sys, "stdin", io.StringIO(stdin)),
        pytest.raises(SystemExit) as exited,
    ):
        main()
    out, err = capsys.readouterr()
    return exited.value.code, out, err


@pytest.mark.parametrize("how", list(DAMAGE))
def test_a_damaged_last_commit_stops_every_operation_with_one_line(
    filled_lake, tmp_path, capsys, how
):
    Lake(tmp_path / "copy").append("telemetry", Lake(filled_lake).read("telemetry"))
    bad = damage_last_commit(filled_lake, how)
    before = snapshot(filled_lake)
    lake = Lake(filled_lake)
    for operation in (
        lambda: lake.read("telemetry"),
        lambda: lake.append("telemetry", Lake(tmp_path / "copy").read("telemetry")),
        lambda: lake.compact("telemetry"),
        lambda: lake.retain(0),
        lambda: modax.connect(filled_lake),
    ):
        with pytest.raises(CorruptTableError) as caught:
            operation()
        assert caught.value.problem.file == str(bad)
        assert caught.value.problem.damage is Damage.last_commit
    replay_input = recording(tmp_path / "more.jsonl", 100, 5)
    for args in (
        ["query", "select count(*) from telemetry"],
        ["replay", str(replay_input)],
        ["compact"],
        ["retention", "--days", "0"],
    ):
        code, _, stderr = run_main(capsys, *args, "--lake", str(filled_lake))
        assert code == 1, args
        (line,) = stderr.splitlines()
        assert line.startswith(f"error: table 'telemetry': {bad} is "), line
        assert "modax lake repair telemetry" in line
    assert snapshot(filled_lake) == before  # nothing written on top, nothing deleted


def test_an_empty_last_commit_is_not_skipped_and_repair_moves_it_aside(filled_lake, capsys):
    lake = Lake(filled_lake)
    rows_before_last = lake.read("telemetry", version=1).num_rows
    bad = damage_last_commit(filled_lake, "empty")
    code, out, _ = run_main(capsys, "lake", "check", "--lake", str(filled_lake))
    assert code == 1
    assert out.splitlines() == [
        f"table 'telemetry': {bad} is empty (0 bytes) → `modax lake repair telemetry` to move "
        "this last commit aside (the table steps back one version)"
    ]
    for answer in ("n\n", ""):  # no, and no one there to answer
        code, out, err = run_main(
            capsys, "lake", "repair", "telemetry", "--lake", lake.root, stdin=answer
        )
        assert code == 1 and "nothing done: answer y, or pass --yes" in err
        assert bad.exists()
    code, out, err = run_main(capsys, "lake", "repair", "telemetry", "--yes", "--lake", lake.root)
    assert code == 0, err
    (moved,) = (filled_lake / "telemetry" / "_repair").iterdir()
    assert f"moved {bad} to {moved}" in out
    assert not bad.exists() and moved.stat().st_size == 0
    assert "no damage left, at version 1" in out
    lake = Lake(filled_lake)
    assert lake.read("telemetry").num_rows == rows_before_last
    assert lake.append("telemetry", lake.read("telemetry")) == 2
    assert run_main(capsys, "lake", "check", "--lake", str(filled_lake))[0] == 0


def test_a_damaged_earlier_commit_is_left_for_a_backup(filled_lake, capsys):
    bad = commit(filled_lake, "telemetry", 1)
    bad.write_text("")
    code, out, _ = run_main(capsys, "lake", "check", "telemetry", "--lake", str(filled_lake))
    assert code == 1 and "restore this file from a backup" in out
    code, _, err = run_main(
        capsys, "lake", "repair", "telemetry", "--yes", "--lake", str(filled_lake)
    )
    assert code == 1
    assert f"table 'telemetry': {bad} is empty (0 bytes): cannot be repaired here" in err
    assert bad.exists() and not (filled_lake / "telemetry" / "_repair").exists()


def test_replay_with_a_lake_data_file_gone_names_the_lake_file(filled_lake, tmp_path, capsys):
    lost = sorted((filled_lake / "telemetry").rglob("*.parquet"))[0]
    lost.unlink()
    replay_input = recording(tmp_path / "more.jsonl", 100, 5)
    lake = ("--lake", str(filled_lake))
    code, _, err = run_main(capsys, "replay", str(replay_input), *lake)
    assert code == 1
    (line,) = err.splitlines()
    assert line.startswith(f"error: table 'telemetry': {lost} is missing from storage.")
    assert str(replay_input) not in line
    code, out, _ = run_main(capsys, "lake", "repair", "telemetry", "--yes", *lake)
    assert "dropped 1 missing data files from table 'telemetry'" in out
    assert run_main(capsys, "replay", str(replay_input), *lake)[0] == 0
    assert run_main(capsys, "lake", "check", *lake)[0] == 0


def test_a_healthy_lake_checks_clean(filled_lake, capsys):
    code, out, _ = run_main(capsys, "lake", "check", "--lake", str(filled_lake))
    assert code == 0
    assert out.strip() == "1 tables checked, no damage: telemetry"
    assert run_main(capsys, "lake", "check", "nosuch", "--lake", str(filled_lake))[0] == 1
    with pytest.raises(LakeError, match="no table 'nosuch'"):
        Lake(filled_lake).read("nosuch")


COMPACT = """
import sys
from modax.lake import Lake
Lake(sys.argv[1], vacuum_retention_hours=0).compact("telemetry")
"""


def test_compaction_killed_mid_way_leaves_a_consistent_table(lake_dir):
    lake = Lake(lake_dir)
    for k in range(40):
        lake.append("telemetry", _rows(k))
    rows = lake.read("telemetry").sort_by("seq")
    files = set((lake_dir / "telemetry").rglob("*.parquet"))
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    compaction = subprocess.Popen([sys.executable, "-c", COMPACT, str(lake_dir)], env=env)
    try:
        wait_for(
            lambda: set((lake_dir / "telemetry").rglob("*.parquet")) - files,
            timeout=60,
            interval=0.001,
            what="compaction writing its first new file",
        )
    finally:
        compaction.send_signal(signal.SIGKILL)
        compaction.wait(timeout=30)
    assert compaction.returncode == -signal.SIGKILL
    after = Lake(lake_dir)
    assert after.check() == []
    assert after.read("telemetry").sort_by("seq").equals(rows)
    after.compact("telemetry")  # nothing half-done in the way of the next compaction
    assert len(Lake(lake_dir).dataset("telemetry").files) == 1
    assert Lake(lake_dir).read("telemetry").sort_by("seq").equals(rows)


def _rows(k: int) -> pa.Table:
    n = 20_000
    seq = pa.array(range(k * n, (k + 1) * n), pa.int64())
    ts = pa.array([NOW + i for i in range(k * n, (k + 1) * n)], pa.timestamp("ms", tz="UTC"))
    return pa.table({"ts": ts, "seq": seq, "value": pa.array([float(k)] * n)})
