"""What a simulation returns: lake-ready Arrow tables, ground truth, and the wire messages.

Examples
--------
>>> from simulator import Fleet
>>> r = Fleet(n_devices=2, seed=1).run(duration_s=5)
>>> r.telemetry.num_rows, sorted(r.tables())
(100, ['device_safety', 'ground_truth', 'quarantine', 'remaining_life', 'telemetry'])
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modax.schema import DEVICE_SAFETY_SCHEMA, SafetyStatus, Telemetry, Vibration, topic_for

__all__ = ["SimResult", "Wire", "label_rows"]

_ENCODER = msgspec.json.Encoder()
_FLOATS = ("current_1", "current_2", "vib_x", "vib_y", "vib_z", "vib_mag", "temp_1", "temp_2")


@dataclass
class Wire:
    """Messages as sent: one row per delivered message (before duplicates), with arrival times.

    ``telemetry`` has ``device_id, seq, timestamp, received_ms, copies`` and the float channels;
    ``safety`` has ``device_id, seq, timestamp, received_ms, copies`` and the four flags.
    """

    telemetry: pa.Table
    safety: pa.Table

    @staticmethod
    def concat(parts: list[Wire]) -> Wire:
        """One wire from consecutive chunks."""
        return Wire(
            pa.concat_tables([p.telemetry for p in parts]),
            pa.concat_tables([p.safety for p in parts]),
        )

    def telemetry_payloads(self) -> list[bytes]:
        """JSON payloads of the telemetry rows, exactly as the firmware publishes them."""
        t = self.telemetry
        cols = {name: t[name].to_pylist() for name in ("device_id", "seq", "timestamp", *_FLOATS)}
        return [
            _ENCODER.encode(
                Telemetry(
                    timestamp=ts,
                    device_id=dev,
                    motor_currents=[c1, c2],
                    vibration=Vibration(x, y, z, mag),
                    temperatures=[t1, t2],
                    seq=seq,
                )
            )
            for dev, seq, ts, c1, c2, x, y, z, mag, t1, t2 in zip(
                *(cols[n] for n in ("device_id", "seq", "timestamp", *_FLOATS)), strict=True
            )
        ]

    def safety_payloads(self) -> list[bytes]:
        """JSON payloads of the safety rows."""
        s = self.safety
        names = ("device_id", "seq", "timestamp", *DEVICE_SAFETY_SCHEMA.names[5:9])
        cols = [s[n].to_pylist() for n in names]
        return [
            _ENCODER.encode(SafetyStatus(ts, dev, es, door, over, temp, seq))
            for dev, seq, ts, es, door, over, temp in zip(*cols, strict=True)
        ]

    def messages(self) -> list[tuple[int, str, bytes]]:
        """``(received_ms, topic, payload)`` in arrival order, duplicates included.

        Ties (same arrival ms) are ordered by topic, then send order: the list is the same
        however the run was cut into chunks.
        """
        out: list[tuple[int, str, int, int, bytes]] = []
        for kind, table, payloads in (
            ("telemetry", self.telemetry, self.telemetry_payloads()),
            ("safety", self.safety, self.safety_payloads()),
        ):
            devices = table["device_id"].to_pylist()
            received = table["received_ms"].to_pylist()
            copies = table["copies"].to_pylist()
            topics = {d: topic_for(d, kind) for d in set(devices)}
            for i, payload in enumerate(payloads):
                topic = topics[devices[i]]
                out.extend((received[i], topic, i, c, payload) for c in range(copies[i]))
        out.sort(key=lambda m: m[:4])
        return [(m[0], m[1], m[4]) for m in out]


@dataclass
class SimResult:
    """The output of :meth:`simulator.Fleet.run` (or one chunk of :meth:`~simulator.Fleet.stream`).

    Attributes
    ----------
    telemetry : pyarrow.Table
        Valid readings as ingestion stores them (``modax.schema.TELEMETRY_SCHEMA``).
    device_safety : pyarrow.Table
        Safety messages (``DEVICE_SAFETY_SCHEMA``): on every change of the 20 Hz check and at
        least once a second.
    ground_truth : pyarrow.Table
        Fault intervals per device (:data:`~simulator.GROUND_TRUTH_SCHEMA`).
    remaining_life : pyarrow.Table
        True damage and remaining life once a second (:data:`~simulator.REMAINING_LIFE_SCHEMA`).
    quarantine : pyarrow.Table
        Readings a fault deliberately corrupted, with the contract's rejection reason
        (``QUARANTINE_SCHEMA``).
    wire : Wire
        The messages as sent, for replaying through ingestion or publishing.
    """

    telemetry: pa.Table
    device_safety: pa.Table
    ground_truth: pa.Table
    remaining_life: pa.Table
    quarantine: pa.Table
    wire: Wire = field(repr=False)

    def tables(self) -> dict[str, pa.Table]:
        """Lake table name → table, for ``lake.append(name, table)``."""
        return {
            "telemetry": self.telemetry,
            "device_safety": self.device_safety,
            "ground_truth": self.ground_truth,
            "remaining_life": self.remaining_life,
            "quarantine": self.quarantine,
        }

    def without_rows(self) -> SimResult:
        """A shallow copy with only ``ground_truth`` and ``remaining_life`` (others empty)."""
        return SimResult(
            self.telemetry.slice(0, 0),
            self.device_safety.slice(0, 0),
            self.ground_truth,
            self.remaining_life,
            self.quarantine.slice(0, 0),
            Wire(self.wire.telemetry.slice(0, 0), self.wire.safety.slice(0, 0)),
        )

    def messages(self) -> list[tuple[int, str, bytes]]:
        """``(received_ms, topic, payload)`` in arrival order, duplicates and corrupt ones included.

        Hand them to ``modax.pipeline.Pipeline.process`` to test ingestion end to end.
        """
        return self.wire.messages()

    def labels(self) -> pa.Table:
        """Per telemetry row: the fault active at its event time (ground truth), for detectors.

        Returns
        -------
        pyarrow.Table
            Aligned with :attr:`telemetry`: ``device_id``, ``ts``, ``fault`` (the most recently
            started active non-network fault, null if none), ``severity`` and ``anomaly``
            (any such fault active).
        """
        return label_rows(self.telemetry, self.ground_truth)

    @staticmethod
    def concat(parts: list[SimResult]) -> SimResult:
        """Join consecutive chunks into one result."""
        return SimResult(
            telemetry=pa.concat_tables([p.telemetry for p in parts]),
            device_safety=pa.concat_tables([p.device_safety for p in parts]),
            ground_truth=pa.concat_tables([p.ground_truth for p in parts]),
            remaining_life=pa.concat_tables([p.remaining_life for p in parts]),
            quarantine=pa.concat_tables([p.quarantine for p in parts]),
            wire=Wire.concat([p.wire for p in parts]),
        )


def label_rows(telemetry: pa.Table, ground_truth: pa.Table) -> pa.Table:
    """Per telemetry row, the latest-started non-network fault active at its ``ts``."""
    n = telemetry.num_rows
    fault = np.full(n, None, dtype=object)
    severity = np.zeros(n)
    start_of = np.full(n, np.iinfo(np.int64).min)
    gt = ground_truth.filter(pc.not_equal(ground_truth["category"], "network"))
    if n and gt.num_rows:
        devices = telemetry["device_id"].to_numpy(zero_copy_only=False)
        ts = pc.cast(telemetry["ts"], pa.int64()).to_numpy()
        order = np.lexsort((ts, devices))
        sorted_dev = devices[order]
        sorted_ts = ts[order]
        never = np.iinfo(np.int64).max
        starts = pc.cast(gt["start_ts"], pa.int64()).to_numpy()
        ends = pc.cast(gt["end_ts"], pa.int64()).fill_null(never).to_numpy()
        for dev, kind, sev, s, e in zip(
            gt["device_id"].to_pylist(),
            gt["kind"].to_pylist(),
            gt["severity"].to_pylist(),
            starts,
            ends,
            strict=True,
        ):
            lo, hi = np.searchsorted(sorted_dev, dev), np.searchsorted(sorted_dev, dev, "right")
            a = lo + np.searchsorted(sorted_ts[lo:hi], s)
            b = lo + np.searchsorted(sorted_ts[lo:hi], e)
            rows = order[a:b]
            later = rows[start_of[rows] <= s]
            fault[later] = kind
            severity[later] = sev
            start_of[later] = s
    return pa.table(
        {
            "device_id": telemetry["device_id"],
            "ts": telemetry["ts"],
            "fault": pa.array(fault, pa.string()),
            "severity": pa.array(severity),
            "anomaly": pa.array(fault != None),  # noqa: E711  (element-wise on an object array)
        }
    )
