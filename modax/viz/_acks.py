"""Operator acknowledgements of alarms, kept in a small SQLite file so they survive restarts.

See ``docs/decisions/0005-alarm-acks-in-sqlite.md`` for why a SQLite state file and not a lake
table: an acknowledgement is one small, frequent, transactional write that several dashboard
server processes may make at once.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from modax.config import state_directory

__all__ = ["AckStore", "default_ack_path"]

_SCHEMA = """
create table if not exists alarm_acks (
    alarm_id text primary key,
    acked_by text not null,
    acked_at_ms integer not null
)
"""


def default_ack_path(lake_root: str, state_dir: str | None = None) -> Path:
    """Where the acknowledgements of a lake live: ``alarm_acks.sqlite3`` in the state directory.

    That is ``state_dir`` (``MODAX_STATE_DIR``) when given, else ``<lake>/_state`` for a local
    lake and ``$XDG_STATE_HOME/modax`` on the dashboard server for an object-store lake
    (``s3://``...), since SQLite needs a local file (:func:`modax.config.state_directory`). A
    dashboard server that mounts the lake read-only sets ``MODAX_STATE_DIR``.

    Examples
    --------
    >>> default_ack_path("/srv/lake").as_posix()
    '/srv/lake/_state/alarm_acks.sqlite3'
    >>> default_ack_path("/srv/lake", "/var/lib/modax").as_posix()
    '/var/lib/modax/alarm_acks.sqlite3'
    """
    return state_directory(lake_root, state_dir) / "alarm_acks.sqlite3"


class AckStore:
    """Acknowledgements by alarm id, in a SQLite file (thread-safe, several processes may share it).

    Parameters
    ----------
    path : str or Path
        The SQLite file; its folder is created.

    Examples
    --------
    >>> import tempfile
    >>> store = AckStore(tempfile.mkdtemp() + "/acks.sqlite3")
    >>> store.acknowledge("m1/overload/1700000000000", "ana", 1_700_000_005_000)
    >>> store.get("m1/overload/1700000000000")
    ('ana', 1700000005000)
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._con = sqlite3.connect(self.path, check_same_thread=False, timeout=10.0)
        with self._lock, self._con:
            self._con.execute("pragma journal_mode=wal")
            self._con.execute(_SCHEMA)

    def acknowledge(self, alarm_id: str, user: str, at_ms: int) -> None:
        """Record that ``user`` acknowledged ``alarm_id`` at ``at_ms`` (epoch ms, UTC); the first
        acknowledgement wins.
        """
        with self._lock, self._con:
            self._con.execute(
                "insert or ignore into alarm_acks values (?, ?, ?)", (alarm_id, user, at_ms)
            )

    def get(self, alarm_id: str) -> tuple[str, int] | None:
        """``(user, acked_at_ms)`` for an acknowledged alarm, else ``None``."""
        with self._lock:
            row = self._con.execute(
                "select acked_by, acked_at_ms from alarm_acks where alarm_id = ?", (alarm_id,)
            ).fetchone()
        return None if row is None else (row[0], row[1])

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._con.close()
