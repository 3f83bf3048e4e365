"""Alarms for the event feed: active/cleared × acknowledged, bounded, acknowledgements persisted.

An alarm is raised by a safety event (``begin``), a model advisory, or the inactivity check; it
clears when the condition ends. The operator acknowledges it; the acknowledgement is kept in an
:class:`~modax.viz._acks.AckStore`, so after a restart an alarm rebuilt from the lake's
``safety_events`` (same id: device, kind and start time) is still acknowledged.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass

import pyarrow as pa

from modax.viz._acks import AckStore

__all__ = ["Alarm", "AlarmLog", "now_ms"]

_EVENT_COLS = ("device_id", "kind", "state", "value", "threshold")


def now_ms() -> int:
    """The wall clock, epoch ms (UTC)."""
    return time.time_ns() // 1_000_000


@dataclass
class Alarm:
    """One alarm in the feed.

    Attributes
    ----------
    device_id, kind, source : str
        Which device, which rule (``overload``, ``inactive``, ``anomaly``...) and where it came
        from (``safety``, ``device``, ``model``, ``monitor``).
    raised_ms : int
        When the condition began, epoch ms (UTC).
    cleared_ms : int or None
        When it ended; ``None`` while active.
    value, threshold : float or None
        The reading that raised it and the limit, in the rule's unit.
    note : str or None
        What to do (a model's first recommendation).
    acked_by : str or None
        Who acknowledged it.
    acked_ms : int or None
        When, epoch ms.

    Examples
    --------
    >>> a = Alarm("m1", "overload", "safety", 1_700_000_000_000, value=12.5, threshold=10.0)
    >>> a.alarm_id, a.status
    ('m1/overload/1700000000000', 'active · unacknowledged')
    """

    device_id: str
    kind: str
    source: str
    raised_ms: int
    value: float | None = None
    threshold: float | None = None
    note: str | None = None
    cleared_ms: int | None = None
    acked_by: str | None = None
    acked_ms: int | None = None

    @property
    def alarm_id(self) -> str:
        """Stable id: ``device/kind/raised_ms``."""
        return f"{self.device_id}/{self.kind}/{self.raised_ms}"

    @property
    def active(self) -> bool:
        """Whether the condition still holds."""
        return self.cleared_ms is None

    @property
    def acknowledged(self) -> bool:
        """Whether an operator acknowledged it."""
        return self.acked_ms is not None

    @property
    def status(self) -> str:
        """``active``/``cleared`` × ``acknowledged``/``unacknowledged``, as shown in the feed."""
        state = "active" if self.active else "cleared"
        ack = "acknowledged" if self.acknowledged else "unacknowledged"
        return f"{state} · {ack}"


class AlarmLog:
    """The alarms of a fleet, newest first, thread-safe and bounded.

    Parameters
    ----------
    acks : AckStore, optional
        Where acknowledgements persist; without it they last for the process only.
    max_alarms : int
        Most alarms kept; cleared and acknowledged ones are dropped first, then the oldest
        cleared ones. Active alarms are never dropped.

    Examples
    --------
    >>> log = AlarmLog()
    >>> alarm = log.raise_alarm("m1", "overload", "safety", 1_000, value=12.0, threshold=10.0)
    >>> log.clear("m1", "overload", 2_000)
    >>> log.acknowledge(alarm.alarm_id, "ana")
    True
    >>> alarm.status
    'cleared · acknowledged'
    """

    def __init__(self, acks: AckStore | None = None, max_alarms: int = 500) -> None:
        self.acks = acks
        self.max_alarms = max_alarms
        self.version = 0
        self._lock = threading.RLock()
        self._alarms: OrderedDict[str, Alarm] = OrderedDict()
        self._active: dict[str, dict[str, Alarm]] = {}

    def raise_alarm(
        self,
        device_id: str,
        kind: str,
        source: str,
        ts_ms: int,
        *,
        value: float | None = None,
        threshold: float | None = None,
        note: str | None = None,
    ) -> Alarm:
        """Raise an alarm, or return the one already active for this device and kind."""
        with self._lock:
            current = self._active.get(device_id, {}).get(kind)
            if current is not None:
                return current
            alarm = Alarm(device_id, kind, source, int(ts_ms), value, threshold, note)
            if self.acks is not None:
                ack = self.acks.get(alarm.alarm_id)
                if ack is not None:
                    alarm.acked_by, alarm.acked_ms = ack
            self._alarms[alarm.alarm_id] = alarm
            self._active.setdefault(device_id, {})[kind] = alarm
            self._trim()
            self.version += 1
            return alarm

    def clear(self, device_id: str, kind: str, ts_ms: int) -> None:
        """End the active alarm of this device and kind, if there is one."""
        with self._lock:
            alarm = self._active.get(device_id, {}).pop(kind, None)
            if alarm is not None:
                alarm.cleared_ms = int(ts_ms)
                self._trim()
                self.version += 1

    def is_active(self, device_id: str, kind: str) -> bool:
        """Whether this device has an active alarm of this kind."""
        return kind in self._active.get(device_id, ())

    def acknowledge(self, alarm_id: str, user: str, at_ms: int | None = None) -> bool:
        """Acknowledge an alarm (persisted); ``False`` when no such alarm is in the log."""
        at = now_ms() if at_ms is None else at_ms
        with self._lock:
            alarm = self._alarms.get(alarm_id)
            if alarm is None:
                return False
            if not alarm.acknowledged:
                alarm.acked_by, alarm.acked_ms = user, at
                if self.acks is not None:
                    self.acks.acknowledge(alarm_id, user, at)
                self.version += 1
            return True

    def alarms(self) -> list[Alarm]:
        """All kept alarms, newest first."""
        with self._lock:
            return sorted(self._alarms.values(), key=lambda a: a.raised_ms, reverse=True)

    def active_devices_of(self, device_id: str) -> list[tuple[str, str]]:
        """``(kind, source)`` of every active alarm of a device."""
        with self._lock:
            return [(k, a.source) for k, a in self._active.get(device_id, {}).items()]

    def active_by_source(self) -> Counter[str]:
        """Number of active alarms per source (``safety``, ``device``, ``model``...)."""
        with self._lock:
            return Counter(a.source for kinds in self._active.values() for a in kinds.values())

    def load_events(self, events: pa.Table) -> int:
        """Replay ``safety_events`` rows (``device_id, ts, kind, state``...) in time order.

        Used at start so the feed shows what happened before the server (re)started.

        Returns
        -------
        int
            Rows replayed.
        """
        if events.num_rows == 0:
            return 0
        ts = events["ts"].cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64()).to_pylist()
        none = [None] * events.num_rows
        col = {n: events[n].to_pylist() if n in events.column_names else none for n in _EVENT_COLS}
        order = sorted(range(events.num_rows), key=ts.__getitem__)
        for i in order:
            device_id, kind = col["device_id"][i], col["kind"][i]
            if col["state"][i] == "begin":
                value, threshold = col["value"][i], col["threshold"][i]
                self.raise_alarm(device_id, kind, "safety", ts[i], value=value, threshold=threshold)
            else:
                self.clear(device_id, kind, ts[i])
        return len(order)

    def _trim(self) -> None:
        excess = len(self._alarms) - self.max_alarms
        if excess <= 0:
            return
        for predicate in (lambda a: not a.active and a.acknowledged, lambda a: not a.active):
            for alarm_id in [k for k, a in self._alarms.items() if predicate(a)][:excess]:
                del self._alarms[alarm_id]
                excess -= 1
            if excess <= 0:
                return
