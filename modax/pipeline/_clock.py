"""Event time: device timestamps to UTC, including devices without NTP (ms since boot).

A ``timestamp`` of 10¹² or more is epoch ms from an NTP-synced device and is the event time as
it is. A smaller one is milliseconds since the device booted: event time is the boot's epoch (the
UTC ms at which it booted) plus the timestamp, so a boot's readings keep the device's own spacing.

A boot's epoch is set by its first reading, ``received_at - timestamp``, and never later than
just after the previous boot's last reading (a device boots after its last reading, so two boots'
event times never overlap, even in a file without receive times). The boot is part of the
reading's identity through the event time (decision 0002), so the boots a lake already holds are
loaded with :meth:`BootClock.load` (``epoch = ts - timestamp`` of stored rows): an ingester that
restarts gives readings of a boot it already stored the same epoch, hence the same ``ts``, the
same date partition and the same identity.

Which boot a reading belongs to, per device and stream (telemetry and safety are separate topics,
each delivered in order):

- within a session (one broker connection: :meth:`BootClock.new_session` starts the next), a
  timestamp that goes back more than ``reboot_tolerance_ms`` from the stream's previous one moves
  the stream to the next boot (the other stream may have opened it); MQTT does not deliver a
  topic's messages out of order or twice within a session, so this is a reboot;
- a stream's first reading is placed by time: the newest known boot whose epoch is at or before
  ``received_at - timestamp``. Into the newest boot, a reading below the boot's last timestamp is
  a redelivery when the lake already holds that very reading (``stored``: same time and same
  values), a reading sent before the boot's last one when ``received_at - timestamp`` says so,
  and otherwise the first of a new boot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from modax.lake import Lake
from modax.schema import EPOCH_MS_THRESHOLD, UTC_MS

__all__ = ["BootClock", "Stored", "stored_boots"]

#: ``stored(device_id, ts_ms, row)``: whether the lake already holds the batch's reading ``row``
#: at event time ``ts_ms`` (the same reading, not only the same time).
Stored = Callable[[str, int, int], bool]

#: Boots kept per device (older ones are forgotten).
_MAX_BOOTS = 16


@dataclass
class _Boot:
    epoch: int
    last: int


@dataclass
class _Stream:
    boot: int
    previous: int


def _never(device: str, ts: int, row: int) -> bool:
    return False


_BOOTS_SCHEMA = pa.schema([("device_id", pa.string()), ("epoch", pa.int64()), ("last", pa.int64())])


def stored_boots(lake: Lake, tables: Sequence[str], days: int = 3) -> pa.Table:
    """The boots of devices without NTP that ``tables`` hold in their newest ``days`` dates.

    Returns
    -------
    pyarrow.Table
        ``device_id``, ``epoch`` (``ts - timestamp``, ms UTC) and ``last`` (the boot's largest
        since-boot timestamp, ms), one row per boot: what :meth:`BootClock.load` takes. Only the
        identity columns of since-boot rows are read (row-group statistics skip the others).
    """
    parts = []
    for name in tables:
        if not lake.exists(name):
            continue
        dataset = lake.dataset(name)
        dates = sorted(
            {
                ds.get_partition_keys(f.partition_expression).get("date")
                for f in dataset.get_fragments()
            }
            - {None}
        )
        if not dates:
            continue
        rows = dataset.to_table(
            columns=["device_id", "timestamp", "ts"],
            filter=ds.field("date").isin(dates[-days:])
            & (ds.field("timestamp") < EPOCH_MS_THRESHOLD),
        )
        ts_ms = pc.cast(pc.cast(rows["ts"], UTC_MS), pa.int64())  # the lake stores µs
        epoch = pc.subtract(ts_ms, rows["timestamp"])
        parts.append(pa.table([rows["device_id"], epoch, rows["timestamp"]], schema=_BOOTS_SCHEMA))
    if not parts:
        return _BOOTS_SCHEMA.empty_table()
    grouped = pa.concat_tables(parts).group_by(["device_id", "epoch"]).aggregate([("last", "max")])
    return pa.table(
        [grouped["device_id"], grouped["epoch"], grouped["last_max"]], schema=_BOOTS_SCHEMA
    )


class BootClock:
    """Per-device boots that turn ms-since-boot timestamps into UTC event times.

    Parameters
    ----------
    reboot_tolerance_ms : int
        A since-boot timestamp this much below the stream's previous one means a reboot.

    Examples
    --------
    >>> clock = BootClock()
    >>> ts = clock.event_time(pa.array(["m1", "m1"]), pa.array([5_000, 5_100]),
    ...                       pa.array([1_700_000_000_000, 1_700_000_000_300]))
    >>> pc.cast(ts, pa.int64()).to_pylist()  # anchored on the first reading, spacing kept
    [1700000000000, 1700000000100]
    >>> clock.boots("m1")  # (epoch, last since-boot timestamp)
    [(1699999995000, 5100)]
    """

    def __init__(self, reboot_tolerance_ms: int = 1_000) -> None:
        self.reboot_tolerance_ms = reboot_tolerance_ms
        self._boots: dict[str, list[_Boot]] = {}
        self._streams: dict[tuple[str, str], _Stream] = {}

    def boots(self, device_id: str) -> list[tuple[int, int]]:
        """The device's known boots, oldest first: ``(epoch ms UTC, last since-boot ms)``."""
        return [(b.epoch, b.last) for b in self._boots.get(device_id, [])]

    def load(self, boots: pa.Table) -> None:
        """Take the boots a lake holds: columns ``device_id``, ``epoch`` and ``last`` (int64 ms).

        Known boots of the same epoch are merged; a session's streams start afresh (the next
        reading of each is placed by time).
        """
        for dev, epoch, last in zip(
            boots["device_id"].to_pylist(),
            boots["epoch"].to_pylist(),
            boots["last"].to_pylist(),
            strict=True,
        ):
            known = self._boots.setdefault(dev, [])
            same = [b for b in known if b.epoch == epoch]
            if same:
                same[0].last = max(same[0].last, last)
            else:
                known.append(_Boot(epoch, last))
        for known in self._boots.values():
            known.sort(key=lambda b: b.epoch)
            del known[:-_MAX_BOOTS]
        self.new_session()

    def new_session(self) -> None:
        """A new delivery session: each stream's next reading is placed by time and by the lake.

        Its first readings may be redeliveries (a broker redelivers what was not acknowledged
        after a reconnect), so going back in time is then no sign of a reboot.
        """
        self._streams.clear()

    def event_time(
        self,
        device_id: pa.Array,
        timestamp: pa.Array,
        received_at: pa.Array,
        stream: str = "",
        stored: Stored = _never,
    ) -> pa.Array:
        """Event times (``timestamp[ms, UTC]``) for rows in arrival order.

        Parameters
        ----------
        device_id : pyarrow.Array of str
        timestamp : pyarrow.Array of int64
            The devices' raw timestamps (ms).
        received_at : pyarrow.Array
            Receive times, epoch ms (int64 or timestamp).
        stream : str
            Which of a device's in-order streams the rows are (e.g. the lake table).
        stored : callable, optional
            ``stored(device_id, ts_ms, row)``: whether the lake already holds that reading; tells
            a redelivery from a reboot at a stream's first reading.
        """
        raw = pc.cast(timestamp, pa.int64()).to_numpy(zero_copy_only=False).copy()
        since_boot = np.flatnonzero(raw < EPOCH_MS_THRESHOLD)
        if len(since_boot):
            received = pc.cast(received_at, pa.int64()).to_numpy(zero_copy_only=False)
            devices = device_id.to_pylist()
            for i in since_boot.tolist():
                dev, t = devices[i], int(raw[i])
                raw[i] = t + self._boot_of(dev, stream, t, int(received[i]), stored, i).epoch
        return pa.array(raw, pa.int64()).cast(UTC_MS)

    def _boot_of(
        self, dev: str, stream: str, t: int, received: int, stored: Stored, row: int
    ) -> _Boot:
        boots = self._boots.setdefault(dev, [])
        state = self._streams.get((dev, stream))
        if state is not None and 0 <= state.boot < len(boots):
            if t >= state.previous - self.reboot_tolerance_ms:
                index = state.boot
            elif state.boot + 1 < len(boots):  # the other stream saw this reboot first
                index = state.boot + 1
            else:
                index = self._new_boot(boots, received - t)
        else:
            index = self._place(boots, t, received, lambda ts: stored(dev, ts, row))
        boot = boots[index]
        boot.last = max(boot.last, t)
        self._streams[(dev, stream)] = _Stream(index, t)
        if len(boots) > _MAX_BOOTS:
            del boots[0]
            for key, other in self._streams.items():
                if key[0] == dev:
                    other.boot -= 1
        return boot

    def _place(
        self, boots: list[_Boot], t: int, received: int, stored: Callable[[int], bool]
    ) -> int:
        """The boot of a stream's first reading, by time and by what the lake holds."""
        implied = received - t
        tolerance = self.reboot_tolerance_ms
        index = -1
        for i, boot in enumerate(boots):
            if boot.epoch <= implied + tolerance:
                index = i
        if index < 0:
            return self._new_boot(boots, implied) if not boots else 0
        newest = boots[index]
        if index < len(boots) - 1 or t >= newest.last - tolerance:
            return index
        if stored(newest.epoch + t) or implied < newest.epoch + newest.last - tolerance:
            return index
        return self._new_boot(boots, implied)

    @staticmethod
    def _new_boot(boots: list[_Boot], implied: int) -> int:
        epoch = implied if not boots else max(implied, boots[-1].epoch + boots[-1].last + 1)
        boots.append(_Boot(epoch, 0))
        return len(boots) - 1
