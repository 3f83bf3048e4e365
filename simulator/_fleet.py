"""The fleet: N virtual ESP32 motor devices, their faults, and the clock that runs them.

Examples
--------
>>> fleet = Fleet(n_devices=3, seed=7, scenario="healthy")
>>> r = fleet.run(duration_s=10)
>>> r.telemetry.num_rows, fleet.time_s
(300, 10.0)
>>> fleet.inject("sim-0001", "overload", start_s=12, duration_s=30)
>>> r = fleet.run(duration_s=30)
>>> r.ground_truth["kind"].to_pylist()
['overload']
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from simulator._assemble import Chunk, assemble, first_life, remaining_life
from simulator._faults import FaultEvents, FaultKind
from simulator._handoff import Handoff, parallel_kernels_may_overlap
from simulator._kernel import (
    DT_S,
    S_DAMAGE_ADDED,
    S_SAFETY_COUNT,
    TELEMETRY_EVERY,
    ChunkBuffers,
    FaultArrays,
    initial_state,
    run_chunk,
)
from simulator._noise import device_keys
from simulator._params import device_params
from simulator._result import SimResult
from simulator._rows import Grid
from simulator._scenario import FaultRule, Scenario

__all__ = ["DEFAULT_START", "Fleet"]

#: Where simulated time starts unless told otherwise (fixed, so runs are reproducible).
DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)
#: Rows (devices × readings) per chunk that :meth:`Fleet.run` aims at.
CHUNK_ROWS = 1_000_000


def _epoch_ms(start: datetime | int | float) -> int:
    if isinstance(start, datetime):
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware (UTC)")
        return round(start.timestamp() * 1000)
    return int(start)


class Fleet:
    """A simulated fleet of ESP32-monitored motors, deterministic for a seed.

    Parameters
    ----------
    n_devices : int
        Number of devices, ids ``{prefix}-0000`` ….
    seed : int
        Same seed ⇒ identical output, bit for bit, whatever the chunking or mode.
    scenario : str, Path or Scenario
        A built-in scenario name (``healthy``, ``mixed-faults``, ``run-to-failure``,
        ``network-chaos``), a TOML file, or a :class:`Scenario`.
    start : datetime or int
        Simulated time zero, tz-aware or epoch ms (default 2026-01-01T00:00Z).
    prefix : str
        Device id prefix.

    Attributes
    ----------
    device_ids : list of str
    params_ : numpy.ndarray
        Per-device parameters (``simulator._params``).
    state_ : numpy.ndarray
        Per-device physical state, carried between runs.
    faults_ : FaultEvents
        Every fault injected so far (scenario rules are drawn as time advances).

    Examples
    --------
    >>> r = Fleet(n_devices=2, seed=1, scenario="mixed-faults").run(duration_s=60)
    >>> r.telemetry.schema.names[:4]
    ['device_id', 'seq', 'timestamp', 'ts']
    """

    def __init__(
        self,
        n_devices: int = 10,
        seed: int = 0,
        scenario: str | Path | Scenario = "healthy",
        start: datetime | int = DEFAULT_START,
        prefix: str = "sim",
    ) -> None:
        if n_devices < 1:
            raise ValueError(f"n_devices={n_devices}: need at least one device")
        if seed < 0:
            raise ValueError(f"seed={seed}: must be 0 or more")
        self.n_devices = n_devices
        self.seed = seed
        self.scenario = scenario if isinstance(scenario, Scenario) else Scenario.load(scenario)
        self.start_ms = _epoch_ms(start)
        width = max(4, len(str(n_devices - 1)))
        self.device_ids = [f"{prefix}-{i:0{width}d}" for i in range(n_devices)]
        self._ids = pa.array(self.device_ids, pa.string())
        self._index = {d: i for i, d in enumerate(self.device_ids)}
        self._grid: Grid | None = None
        self.keys_ = device_keys(seed, n_devices)
        self.params_ = device_params(self.keys_, self.scenario, DT_S)
        self.state_ = initial_state(self.params_)
        self.faults_ = FaultEvents()
        self._periods = [0] * len(self.scenario.faults)
        self._step = 0

    def __repr__(self) -> str:
        return (
            f"Fleet(n_devices={self.n_devices}, seed={self.seed}, "
            f"scenario={self.scenario.name!r}, time_s={self.time_s:g})"
        )

    @property
    def time_s(self) -> float:
        """Simulated seconds run so far."""
        return self._step * DT_S

    def inject(
        self,
        device: str | int,
        kind: str | FaultKind,
        *,
        start_s: float,
        duration_s: float = math.inf,
        severity: float = 1.0,
        channel: str | None = None,
    ) -> None:
        """Inject a fault into one device (e.g. to drive it into alarm from a dashboard).

        Parameters
        ----------
        device : str or int
            Device id or index.
        kind : str or FaultKind
        start_s, duration_s : float
            Simulated seconds; a start before :attr:`time_s` counts from now.
        severity : float
            0–1.
        channel : str, optional
            For sensor faults: ``current_1``, ``current_2``, ``vibration``, ``temp_1``, ``temp_2``.
        """
        index = self._index.get(device, device) if isinstance(device, str) else device
        if not isinstance(index, int) or not 0 <= index < self.n_devices:
            raise ValueError(f"device {device!r}: not in this fleet of {self.n_devices}")
        rule = FaultRule.from_dict(
            "inject",
            {"kind": str(kind), **({"channel": channel} if channel else {})},
        )
        if not 0.0 <= severity <= 1.0 or duration_s <= 0:
            raise ValueError(f"severity={severity} must be in 0…1 and duration_s={duration_s} > 0")
        start = max(float(start_s), self.time_s)
        self.faults_.add([index], rule.kind, [start], [start + duration_s], [severity], channel)

    def _draw(self, until_s: float) -> None:
        """Materialise scenario fault periods that begin before ``until_s``."""
        batches = []
        for r, rule in enumerate(self.scenario.faults):
            while True:
                p = self._periods[r]
                if rule.every_s is None:
                    if p > 0:
                        break
                    base = 0.0
                else:
                    base = p * rule.every_s
                    if base >= until_s:
                        break
                rng = np.random.default_rng([self.seed, r, p])
                hit = rng.random(self.n_devices) < rule.fraction
                hit[[d for d in rule.devices if d < self.n_devices]] = True
                onset = rng.uniform(*rule.onset_s, self.n_devices)
                duration = rng.uniform(*rule.duration_s, self.n_devices)
                severity = rng.uniform(*rule.severity, self.n_devices)
                devices = np.flatnonzero(hit)
                start = base + onset[devices]
                end = start + duration[devices]
                batches.append((devices, rule.kind, start, end, severity[devices], rule.channel))
                self._periods[r] = p + 1
        if batches:
            self.faults_.extend(batches)

    def _damage_rate(self) -> np.ndarray:
        """Mean damage per second so far, per device (for projected remaining life)."""
        elapsed = max(self.time_s, DT_S)
        return self.state_[:, S_DAMAGE_ADDED] / elapsed

    def _simulate(self, n_steps: int) -> tuple[Chunk, ChunkBuffers, FaultEvents]:
        """Run the kernel for the next chunk; what :func:`assemble` needs to make its tables.

        The fault events are a snapshot: drawing the next chunk's faults does not change them.
        """
        k0 = self._step
        end_s = (k0 + n_steps) * DT_S
        self._draw(end_s)
        buffers = ChunkBuffers.allocate(self.n_devices, n_steps, first_life(self.start_ms, k0))
        safety_before = self.state_[:, S_SAFETY_COUNT].copy()
        replace = self.scenario.replace_after_s
        run_chunk(
            self.params_,
            self.state_,
            self.keys_,
            FaultArrays.of(self.faults_, self.n_devices),
            k0,
            n_steps,
            self.scenario.wear_acceleration,
            -1.0 if replace is None else replace,
            buffers,
        )
        self._step = k0 + n_steps
        n_readings = n_steps // TELEMETRY_EVERY
        if self._grid is None or len(self._grid.reading) != self.n_devices * n_readings:
            self._grid = Grid.of(self._ids, n_readings)
        chunk = Chunk(
            device_ids=self._ids,
            grid=self._grid,
            keys=self.keys_,
            start_ms=self.start_ms,
            k0=k0,
            n_steps=n_steps,
            safety_before=safety_before,
            damage_rate=self._damage_rate(),
            replace_after_s=replace,
        )
        return chunk, buffers, copy.copy(self.faults_)

    def _advance(self, n_steps: int) -> tuple[SimResult, tuple]:
        return assemble(*self._simulate(n_steps))

    @staticmethod
    def steps(duration_s: float) -> int:
        """20 Hz steps in ``duration_s`` (ValueError unless a positive multiple of 0.1 s)."""
        steps = round(duration_s / DT_S)
        if steps <= 0 or steps % TELEMETRY_EVERY or abs(steps * DT_S - duration_s) > 1e-9:
            raise ValueError(f"duration_s={duration_s}: must be a positive multiple of 0.1 s")
        return steps

    def stream(self, chunk_s: float = 1.0) -> Iterator[SimResult]:
        """Endless chunks of ``chunk_s`` simulated seconds (for live publishing).

        ``remaining_life`` in a chunk is projected (``rul_exact`` false) unless the device has
        failed; the numbers are the same as :meth:`run`'s.
        """
        steps = self.steps(chunk_s)
        while True:
            yield self._advance(steps)[0]

    def run(
        self,
        duration_s: float,
        on_chunk: Callable[[SimResult], None] | None = None,
        progress: Callable[[float], None] | None = None,
        chunk_s: float | None = None,
        overlap: bool = False,
    ) -> SimResult:
        """Simulate ``duration_s`` more seconds (a multiple of 0.1 s) and return the tables.

        Parameters
        ----------
        duration_s : float
        on_chunk : callable, optional
            Receives each chunk's result as soon as it is ready (e.g. to append it to a lake);
            then the returned result holds only ``ground_truth`` and ``remaining_life`` (exact),
            and the other tables empty — memory stays bounded for big fleets.
        progress : callable, optional
            Called with the simulated seconds of each finished chunk.
        chunk_s : float, optional
            Simulated seconds per chunk (default: about a million readings per chunk). The
            output does not depend on it.
        overlap : bool
            Pipeline the chunks: while chunk *n + 1* is simulated and its tables made, a worker
            thread calls ``on_chunk`` with chunk *n* (:class:`~simulator._handoff.Handoff`) —
            worth it for a slow consumer such as a Delta Lake append, which releases the GIL.
            The tables are made on the calling thread, after the kernel: the kernel keeps both
            cores busy, so making one chunk's tables beside the next chunk's kernel saved nothing
            and held a third chunk's buffers. The output is the same. Ignored when numba's
            threading layer is ``workqueue``, which cannot run two parallel kernels at once.
        """
        total = self.steps(duration_s)
        per_chunk = (
            self.steps(chunk_s)
            if chunk_s is not None
            else max(1, CHUNK_ROWS // self.n_devices) * TELEMETRY_EVERY
        )
        sizes = [per_chunk] * (total // per_chunk) + [total % per_chunk] * (total % per_chunk > 0)
        overlap = overlap and parallel_kernels_may_overlap()
        parts, lives = [], []
        with Handoff(on_chunk or (lambda _: None), overlap) as handoff:
            for n in sizes:
                result, life = self._advance(n)
                lives.append(life)
                if on_chunk is not None:
                    handoff.put(result)
                parts.append(result if on_chunk is None else result.without_rows())
                if progress is not None:
                    progress(n * DT_S)
        joined = SimResult.concat(parts)
        device, true_ms, damage, stress, fail_dev, fail_ms = (
            np.concatenate([life[i] for life in lives]) for i in range(6)
        )
        joined.remaining_life = remaining_life(
            self._ids,
            device=device,
            true_ms=true_ms,
            damage=damage,
            stress=stress,
            failure_device=fail_dev,
            failure_ms=fail_ms,
            damage_rate=self._damage_rate(),
        )
        return joined
