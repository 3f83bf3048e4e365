"""From kernel buffers to tables: one chunk's telemetry, safety messages, ground truth, wear.

Vectorised over all rows of a chunk (numpy and Arrow compute); only corrupt readings (rare,
deliberate) are encoded one by one to learn the contract's rejection reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from numba import njit

from modax.schema import (
    DEVICE_SAFETY_SCHEMA,
    QUARANTINE_SCHEMA,
    TELEMETRY_SCHEMA,
    MessageError,
    decode,
    quarantine_rows,
    topic_for,
)
from simulator._faults import FaultEvents, FaultKind
from simulator._kernel import (
    FLAG_DOOR_OPEN,
    FLAG_ESTOP,
    FLAG_OVERLOAD,
    FLAG_TEMPERATURE,
    LIFE_EVERY,
    LIFE_FAILED,
    T_C1,
    T_C2,
    T_T1,
    T_T2,
    T_VMAG,
    T_VX,
    T_VY,
    T_VZ,
    TELEMETRY_EVERY,
    ChunkBuffers,
)
from simulator._network import Delivery
from simulator._result import SimResult, Wire
from simulator._rows import Grid, dates, keep, timestamps
from simulator._sensors import CHANNELS
from simulator._tables import GROUND_TRUTH_SCHEMA, REMAINING_LIFE_SCHEMA
from simulator._validity import CHECKS

__all__ = ["Chunk", "assemble", "emitted", "first_life"]

_COLUMNS = {
    "current_1": T_C1,
    "current_2": T_C2,
    "vib_x": T_VX,
    "vib_y": T_VY,
    "vib_z": T_VZ,
    "vib_mag": T_VMAG,
    "temp_1": T_T1,
    "temp_2": T_T2,
}
_KINDS = tuple(FaultKind)
_STEP_MS = 50


@dataclass
class Chunk:
    """What :func:`assemble` needs to know about the chunk that just ran."""

    device_ids: pa.Array
    grid: Grid
    keys: np.ndarray
    start_ms: int
    k0: int
    n_steps: int
    safety_before: np.ndarray
    damage_rate: np.ndarray
    replace_after_s: float | None

    @property
    def t0_s(self) -> float:
        """Chunk start, simulation seconds."""
        return self.k0 * _STEP_MS / 1000

    @property
    def t1_s(self) -> float:
        """Chunk end (exclusive), simulation seconds."""
        return (self.k0 + self.n_steps) * _STEP_MS / 1000


def seq_base(start_ms: int) -> int:
    """First ``seq`` of a run: the fleet's start (epoch s) as the boot count, times 2³².

    Firmware sends ``seq = boot_count × 2³² + n`` so that ``seq`` never repeats across reboots
    (docs/decisions/0003); a simulated fleet started at another time is another boot, so its
    readings are never taken for duplicates of an earlier run's.

    Examples
    --------
    >>> seq_base(1_767_225_600_000) >> 32
    1767225600
    """
    return ((start_ms // 1000) & 0x7FFFFFFF) << 32


def first_life(start_ms: int, k0: int) -> int:
    """The first reading of the chunk from step ``k0`` with a remaining-life row.

    Remaining-life rows are the readings whose ``seq`` is a multiple of ``LIFE_EVERY`` (1 Hz).

    Examples
    --------
    >>> first_life(1_767_225_600_000, 0), first_life(1_767_225_600_000, 2)
    (0, 9)
    """
    return -(seq_base(start_ms) + k0 // TELEMETRY_EVERY) % LIFE_EVERY


def _telemetry(chunk: Chunk, buffers: ChunkBuffers, events: FaultEvents) -> tuple:
    grid = chunk.grid
    n_tel = chunk.n_steps // TELEMETRY_EVERY
    steps = chunk.k0 + TELEMETRY_EVERY * grid.reading
    delivery = Delivery.of(grid.device, steps, chunk.start_ms, chunk.keys)
    delivery.apply(events, salt=0)
    cols = {name: buffers.telemetry[c].ravel() for name, c in _COLUMNS.items()}
    sent = delivery.delivered
    check = buffers.check.ravel()
    valid = check < 0
    first_seq = seq_base(chunk.start_ms) + chunk.k0 // TELEMETRY_EVERY
    floats = {name: pa.array(values) for name, values in cols.items()}
    key = {
        "device_id": grid.ids,
        "seq": pa.array(first_seq + grid.reading),
        "timestamp": pa.array(delivery.timestamp),
    }
    wire = keep(
        pa.table(
            {
                **key,
                "received_ms": pa.array(delivery.received_ms),
                "copies": pa.array(delivery.copies),
                **floats,
            }
        ),
        sent,
    )
    nulls = dict.fromkeys(("current_3", "current_4", "temp_3", "temp_4"), grid.nulls)
    lake = pa.Table.from_pydict(
        {
            **key,
            "ts": timestamps(delivery.event_ms),
            "received_at": timestamps(delivery.received_ms),
            **floats,
            **nulls,
            "date": dates(delivery.event_ms),
        },
        schema=TELEMETRY_SCHEMA,
    )
    telemetry = keep(lake, sent & valid)
    first_life = buffers.first_life
    life_rows = (
        np.arange(len(chunk.keys), dtype=np.int64)[:, None] * n_tel
        + np.arange(first_life, n_tel, LIFE_EVERY)
    ).ravel()
    life = (grid.device[life_rows], delivery.true_ms[life_rows])
    damage = buffers.wear[0].ravel()
    stress = buffers.wear[1].ravel()
    return telemetry, wire, check if sent.all() else check[sent], life, damage, stress


def _quarantine(wire: pa.Table, check: np.ndarray) -> pa.Table:
    """Corrupt readings with the contract's reason: one decode per distinct failure.

    ``check`` is :func:`~simulator._validity.reading_check` of the wire rows. Readings that fail
    the same check with the same value (and sign of ``timestamp``) get the same reason, field and
    detail, so only the first of each is decoded.
    """
    corrupt = check >= 0
    rows = wire.filter(pa.array(corrupt))
    payloads = Wire(rows, pa.table({})).telemetry_payloads()
    ids = rows["device_id"].to_pylist()
    topic_of = {device: topic_for(device, "telemetry") for device in set(ids)}
    topics = [topic_of[device] for device in ids]
    failed = check[corrupt].astype(np.int64)
    values = np.choose(failed, [rows[name].to_numpy() for name in CHECKS])
    negative = rows["timestamp"].to_numpy() < 0
    keys = np.stack([failed, values.view(np.int64), negative.astype(np.int64)], axis=1)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    known = []
    for row in first.tolist():
        try:
            decode(topics[row], payloads[row])
        except MessageError as err:
            known.append((err.reason.value, err.field, err.detail))
        else:  # pragma: no cover - reading_check mirrors the contract
            raise AssertionError(f"payload marked corrupt passes the contract: {payloads[row]!r}")
    which = pa.array(inverse.reshape(-1), pa.int64())
    reasons, fields, details = (
        pa.array([found[i] for found in known], pa.string()).take(which) for i in range(3)
    )
    received = rows["received_ms"].to_numpy()
    table = quarantine_rows(
        topics,
        payloads,
        reasons.to_pylist(),
        fields.to_pylist(),
        details.to_pylist(),
        received.tolist(),
    )
    return table.append_column(QUARANTINE_SCHEMA.field("date"), dates(received))


@njit(cache=True)
def emitted(
    emit: np.ndarray, flags: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The safety messages of a chunk, device by device in time order.

    Parameters
    ----------
    emit : numpy.ndarray of bool, shape (n_steps, n_devices)
        Where a device publishes (:attr:`ChunkBuffers.emit`, step by step).
    flags : numpy.ndarray of uint8, shape (n_steps, n_devices)
        The safety flags after every check.

    Returns
    -------
    device, step, rank : numpy.ndarray of int64
        Per message: device index, step within the chunk, and how many messages the device sent
        before it in the chunk.
    flags : numpy.ndarray of uint8
        Per message: its flags.
    """
    n_steps, n_devices = emit.shape
    first = np.zeros(n_devices + 1, np.int64)
    for i in range(n_steps):
        for d in range(n_devices):
            first[d + 1] += emit[i, d]
    for d in range(n_devices):
        first[d + 1] += first[d]
    device = np.empty(first[n_devices], np.int64)
    step = np.empty(first[n_devices], np.int64)
    rank = np.empty(first[n_devices], np.int64)
    sent = np.empty(first[n_devices], np.uint8)
    at = first[:n_devices].copy()
    for i in range(n_steps):
        for d in range(n_devices):
            if emit[i, d]:
                e = at[d]
                device[e] = d
                step[e] = i
                rank[e] = e - first[d]
                sent[e] = flags[i, d]
                at[d] = e + 1
    return device, step, rank, sent


def _safety(chunk: Chunk, buffers: ChunkBuffers, events: FaultEvents) -> tuple[pa.Table, pa.Table]:
    device, index, rank, flags = emitted(buffers.emit, buffers.flags)
    steps = chunk.k0 + index
    seq = seq_base(chunk.start_ms) + chunk.safety_before[device].astype(np.int64) + rank
    delivery = Delivery.of(device, steps, chunk.start_ms, chunk.keys)
    delivery.apply(events, salt=1)
    rows = np.flatnonzero(delivery.delivered)
    flag_cols = {
        "emergency_stop": pa.array((flags[rows] & FLAG_ESTOP) != 0),
        "door_closed": pa.array((flags[rows] & FLAG_DOOR_OPEN) == 0),
        "overload_detected": pa.array((flags[rows] & FLAG_OVERLOAD) != 0),
        "temperature_ok": pa.array((flags[rows] & FLAG_TEMPERATURE) == 0),
    }
    ids = chunk.device_ids.take(pa.array(device[rows]))
    event_ms = delivery.event_ms[rows]
    lake = pa.Table.from_pydict(
        {
            "device_id": ids,
            "seq": pa.array(seq[rows]),
            "timestamp": pa.array(delivery.timestamp[rows]),
            "ts": timestamps(event_ms),
            "received_at": timestamps(delivery.received_ms[rows]),
            **flag_cols,
            "date": dates(event_ms),
        },
        schema=DEVICE_SAFETY_SCHEMA,
    )
    wire = pa.table(
        {
            "device_id": ids,
            "seq": pa.array(seq[rows]),
            "timestamp": pa.array(delivery.timestamp[rows]),
            "received_ms": pa.array(delivery.received_ms[rows]),
            "copies": pa.array(delivery.copies[rows]),
            **flag_cols,
        }
    )
    return lake, wire


def ground_truth(
    chunk: Chunk, events: FaultEvents, failures: tuple[np.ndarray, np.ndarray]
) -> pa.Table:
    """Fault events starting in the chunk, and the wear failures that happened in it."""
    mine = (events.start_s >= chunk.t0_s) & (events.start_s < chunk.t1_s)
    fail_dev, fail_s = failures
    kinds = [_KINDS[k] for k in events.kind[mine]] + [FaultKind.FAILURE] * len(fail_dev)
    ends = np.concatenate(
        [
            events.end_s[mine],
            fail_s + (chunk.replace_after_s if chunk.replace_after_s is not None else np.inf),
        ]
    )
    starts = np.concatenate([events.start_s[mine], fail_s])
    finite = np.isfinite(ends)
    end_ms = np.where(finite, chunk.start_ms + np.round(np.where(finite, ends, 0) * 1000), 0)
    corrupts = np.concatenate([events.corrupts()[mine], np.zeros(len(fail_dev), np.bool_)])
    start_ms = chunk.start_ms + np.round(starts * 1000).astype(np.int64)
    channels = [CHANNELS[c] if c >= 0 else None for c in events.channel[mine]]
    return pa.table(
        {
            "device_id": chunk.device_ids.take(
                pa.array(np.concatenate([events.device[mine], fail_dev]).astype(np.int64))
            ),
            "kind": pa.array([k.value for k in kinds], pa.string()),
            "category": pa.array([k.category for k in kinds], pa.string()),
            "severity": pa.array(np.concatenate([events.severity[mine], np.ones(len(fail_dev))])),
            "channel": pa.array(channels + [None] * len(fail_dev), pa.string()),
            "start_ts": timestamps(start_ms),
            "end_ts": pa.array(end_ms.astype(np.int64), mask=~finite).cast(
                pa.timestamp("ms", tz="UTC")
            ),
            "corrupts_payload": pa.array(corrupts),
            "date": dates(start_ms),
        },
        schema=GROUND_TRUTH_SCHEMA,
    )


def remaining_life(
    device_ids: pa.Array,
    *,
    device: np.ndarray,
    true_ms: np.ndarray,
    damage: np.ndarray,
    stress: np.ndarray,
    failure_device: np.ndarray,
    failure_ms: np.ndarray,
    damage_rate: np.ndarray,
) -> pa.Table:
    """The ``remaining_life`` table: exact where a failure follows within the horizon."""
    failed = damage >= 1.0
    span = int(max(true_ms.max(initial=0), failure_ms.max(initial=0))) + 1
    row_key = device * span + true_ms
    fail_key = np.sort(failure_device * span + failure_ms)
    nxt = np.searchsorted(fail_key, row_key)
    has_next = nxt < len(fail_key)
    nxt_key = fail_key[np.minimum(nxt, max(len(fail_key) - 1, 0))] if len(fail_key) else row_key
    exact = has_next & (nxt_key // span == device) if len(fail_key) else np.zeros_like(failed)
    rate = damage_rate[device]
    with np.errstate(divide="ignore", invalid="ignore"):
        projected = np.where(rate > 0, (1.0 - damage) / rate, np.nan)
    rul = np.where(exact, (nxt_key - row_key) / 1000.0, projected)
    rul = np.where(failed, 0.0, rul)
    exact = exact | failed
    return pa.table(
        {
            "device_id": device_ids.take(pa.array(device)),
            "ts": timestamps(true_ms),
            "damage": pa.array(damage),
            "stress_factor": pa.array(stress),
            "failed": pa.array(failed),
            "rul_s": pa.array(rul, from_pandas=True),
            "rul_exact": pa.array(exact),
            "date": dates(true_ms),
        },
        schema=REMAINING_LIFE_SCHEMA,
    )


def assemble(chunk: Chunk, buffers: ChunkBuffers, events: FaultEvents) -> tuple[SimResult, tuple]:
    """Tables for one chunk, plus the raw life rows and failures (for exact RUL after a run).

    Returns
    -------
    result : SimResult
        ``remaining_life`` is projected from the chunk alone.
    life : tuple
        ``(device, true_ms, damage, stress, failure_device, failure_ms)`` numpy arrays.
    """
    telemetry, wire_tel, check, (life_dev, life_ms), damage, stress = _telemetry(
        chunk, buffers, events
    )
    safety, wire_safety = _safety(chunk, buffers, events)
    d, e = np.nonzero(
        (np.arange(buffers.life.shape[1]) < buffers.life_count[:, None])
        & (buffers.life[:, :, 1] == LIFE_FAILED)
    )
    fail_dev = d.astype(np.int64)
    fail_s = buffers.life[d, e, 0]
    fail_ms = chunk.start_ms + np.round(fail_s * 1000).astype(np.int64)
    life = (life_dev, life_ms, damage, stress, fail_dev, fail_ms)
    result = SimResult(
        telemetry=telemetry,
        device_safety=safety,
        ground_truth=ground_truth(chunk, events, (fail_dev, fail_s)),
        remaining_life=remaining_life(
            chunk.device_ids,
            device=life_dev,
            true_ms=life_ms,
            damage=damage,
            stress=stress,
            failure_device=fail_dev,
            failure_ms=fail_ms,
            damage_rate=chunk.damage_rate,
        ),
        quarantine=_quarantine(wire_tel, check),
        wire=Wire(wire_tel, wire_safety),
    )
    return result, life
