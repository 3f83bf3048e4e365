"""Integrity of a Delta table on storage: its commit log and the data files of its snapshot.

deltalake fails on a garbled commit with a long native traceback that names no file, and reads a
zero-length commit as a commit with no actions (its rows silently vanish, and the next write goes
on top). These checks find the file, so that every lake operation can refuse with one line naming
the table, the file and what to do, and ``modax lake check`` / ``modax lake repair`` can list and
fix it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from urllib.parse import unquote

import pyarrow.fs as pafs

__all__ = [
    "REPAIR_FOLDER",
    "Damage",
    "Problem",
    "added_files",
    "commit_path",
    "commit_problem",
    "log_problems",
    "missing_data_files",
    "move_aside",
]

#: Where ``modax lake repair`` moves a damaged commit, inside the table (Delta readers ignore it).
REPAIR_FOLDER = "_repair"

_COMMIT = re.compile(r"^(\d{20})\.json$")
_CHECKPOINT = re.compile(r"^(\d{20})\.checkpoint(\.\d+\.\d+)?\.parquet$")


class Damage(StrEnum):
    """What is wrong with a file of a table."""

    #: The newest commit cannot be read: it can be moved aside (the table steps back one version).
    last_commit = "last_commit"
    #: A commit before the newest cannot be read: only a backup restores it.
    earlier_commit = "earlier_commit"
    #: A data file of the newest snapshot is gone: its rows are lost, the reference can be dropped.
    missing_data_file = "missing_data_file"
    #: deltalake cannot read the log for a reason none of the checks above found.
    unreadable_log = "unreadable_log"


_ACTIONS = {
    Damage.last_commit: "move this last commit aside (the table steps back one version)",
    Damage.earlier_commit: "restore this file from a backup (only the last commit can be moved "
    "aside)",
    Damage.missing_data_file: "drop the missing files from the table (their rows are lost)",
    Damage.unreadable_log: "inspect the log by hand",
}


@dataclass(frozen=True)
class Problem:
    """A damaged file of a lake table.

    Attributes
    ----------
    table : str
        Table name.
    file : str
        The file's path or URI.
    reason : str
        What is wrong with it, e.g. ``"is empty (0 bytes)"``.
    damage : Damage
        The kind of damage, which decides what ``modax lake repair`` can do.
    """

    table: str
    file: str
    reason: str
    damage: Damage

    @property
    def action(self) -> str:
        """What ``modax lake repair TABLE`` does about it (or what to do by hand)."""
        return _ACTIONS[self.damage]

    def __str__(self) -> str:
        return f"table {self.table!r}: {self.file} {self.reason}"

    def message(self) -> str:
        """One line: the problem and the commands that list and fix it."""
        return (
            f"{self}. Run `modax lake check` to list the damage and "
            f"`modax lake repair {self.table}` to {self.action}"
        )


def commit_path(table_dir: str, version: int) -> str:
    """The commit file of ``version`` under a table directory.

    Examples
    --------
    >>> commit_path("telemetry", 2)
    'telemetry/_delta_log/00000000000000000002.json'
    """
    return f"{table_dir}/_delta_log/{version:020d}.json"


def _defect(data: bytes) -> str | None:
    """Why a commit file's bytes are not a Delta commit (``None`` when they are)."""
    if not data:
        return "is empty (0 bytes)"
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        return f"is not UTF-8 text (byte {exc.start})"
    actions = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            action = json.loads(line)
        except json.JSONDecodeError as exc:
            return f"is not valid JSON (line {number}: {exc.msg})"
        if not isinstance(action, dict):
            return f"is not a Delta commit (line {number} is not a JSON object)"
        actions += 1
    return None if actions else "holds no actions (blank lines only)"


def commit_problem(
    store: pafs.FileSystem, uri: str, table: str, version: int, *, last: bool
) -> Problem | None:
    """Check the commit file of ``version`` of ``table`` (``None`` when it reads as a commit).

    Parameters
    ----------
    store : pyarrow.fs.FileSystem
        Filesystem rooted at the lake root.
    uri : str
        The lake root, to name the file in the problem.
    last : bool
        Whether it is the table's newest commit (which ``modax lake repair`` can move aside).
    """
    path = commit_path(table, version)
    try:
        with store.open_input_stream(path) as stream:
            data = stream.read()
    except FileNotFoundError:
        return None
    reason = _defect(data)
    if reason is None:
        return None
    damage = Damage.last_commit if last else Damage.earlier_commit
    return Problem(table, f"{uri}/{path}", reason, damage)


def added_files(
    store: pafs.FileSystem, table: str, after: int, upto: int
) -> list[tuple[str, dict[str, str], bool]] | None:
    """The data files the commits after version ``after`` up to ``upto`` added to ``table``.

    Parameters
    ----------
    store : pyarrow.fs.FileSystem
        Filesystem rooted at the lake root.

    Returns
    -------
    list of (str, dict, bool), or None
        Each added file's path relative to the table, its partition values and its
        ``dataChange`` flag (``False`` for a compaction's rewrite of rows the table held already);
        ``None`` when a commit file of the range is gone (cleaned up after a checkpoint) or
        unreadable.
    """
    added = []
    for version in range(after + 1, upto + 1):
        try:
            with store.open_input_stream(commit_path(table, version)) as stream:
                lines = stream.read().decode("utf-8").splitlines()
            actions = [json.loads(line) for line in lines if line.strip()]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return None
        for action in actions:
            add = action.get("add") if isinstance(action, dict) else None
            if isinstance(add, dict):
                path = unquote(str(add["path"]))
                added.append((path, add.get("partitionValues") or {}, add.get("dataChange", True)))
    return added


def _commits(store: pafs.FileSystem, table: str) -> tuple[list[int], int]:
    """The table's commit versions in order, and the version of its last checkpoint (or -1)."""
    listed = store.get_file_info(pafs.FileSelector(f"{table}/_delta_log", allow_not_found=True))
    names = [info.base_name for info in listed]
    commits = sorted(int(m[1]) for m in map(_COMMIT.match, names) if m)
    checkpoints = [int(m[1]) for m in map(_CHECKPOINT.match, names) if m]
    return commits, max(checkpoints, default=-1)


def log_problems(store: pafs.FileSystem, uri: str, table: str) -> list[Problem]:
    """Every unreadable commit a reader of ``table`` replays: those after the last checkpoint."""
    commits, start = _commits(store, table)
    found = (
        commit_problem(store, uri, table, version, last=version == commits[-1])
        for version in commits
        if version > start
    )
    return [problem for problem in found if problem is not None]


def missing_data_files(
    store: pafs.FileSystem, uri: str, table: str, snapshot_files: list[str]
) -> list[Problem]:
    """The files of a snapshot (paths relative to the table) that are not on storage."""
    listed = store.get_file_info(pafs.FileSelector(table, recursive=True, allow_not_found=True))
    present = {info.path.removeprefix(f"{table}/") for info in listed}
    return [
        Problem(table, f"{uri}/{table}/{file}", "is missing from storage", Damage.missing_data_file)
        for file in snapshot_files
        if file not in present
    ]


def move_aside(store: pafs.FileSystem, uri: str, problem: Problem, now: datetime) -> str:
    """Move the damaged newest commit of ``problem`` into the table's :data:`REPAIR_FOLDER`.

    The table steps back to the version before it; the data files that commit added stay on
    storage, untracked, until a full vacuum.

    Returns
    -------
    str
        Where the commit file now is.

    Raises
    ------
    ValueError
        When ``problem`` is not a damaged newest commit, or a newer commit appeared since.
    """
    if problem.damage is not Damage.last_commit:
        raise ValueError(f"{problem}: only a damaged last commit can be moved aside")
    path = problem.file.removeprefix(f"{uri}/")
    version = int(path.rsplit("/", 1)[-1].removesuffix(".json"))
    commits, _ = _commits(store, problem.table)
    if not commits or commits[-1] != version:
        raise ValueError(f"{problem}: it is no longer the last commit; run the check again")
    target = f"{problem.table}/{REPAIR_FOLDER}/{version:020d}.json.{now:%Y%m%dT%H%M%SZ}"
    store.create_dir(f"{problem.table}/{REPAIR_FOLDER}")
    store.move(path, target)
    return f"{uri}/{target}"
