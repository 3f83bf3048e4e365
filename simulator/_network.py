"""Network faults: what the broker receives of what a device sends.

Applied to every message a device publishes (telemetry and safety), per message and
deterministically (counter-based noise keyed by the device and the message's 20 Hz step):

==============  ==========================================================================
kind            effect on messages sent in ``[start, end)``, severity ``s``
==============  ==========================================================================
``loss``        each is lost with probability ``0.2 + 0.6 s``
``duplicates``  each is delivered twice with probability ``0.5 s`` (same ``seq``)
``reorder``     each is delayed by ``U(0, 2 s) · s``, so later ones overtake it
``burst``       the device is disconnected and buffers; all arrive at ``end`` in one burst
``clock_skew``  the device clock is off by ``±120 s · s``: ``timestamp`` (and the lake's event
                time, which trusts NTP-synced clocks) is shifted
``reboot``      nothing is sent for 3 s while the device boots; then ``timestamp`` counts ms
                since boot until NTP resyncs at ``end`` (``seq`` is kept in RTC memory)
==============  ==========================================================================

In batch mode the lake gets what ingestion would store: lost messages are absent, duplicates
are removed, ``received_at`` is the arrival time, and ``ts`` is the event time ingestion derives
(``timestamp`` when it is epoch ms, else anchored on the first reading after the boot).

Examples
--------
>>> import numpy as np
>>> from simulator._faults import FaultEvents, FaultKind
>>> ev = FaultEvents()
>>> ev.add([0], FaultKind.BURST, [1.0], [2.0], [1.0])
>>> d = Delivery.of(np.zeros(4, np.int64), np.array([0, 10, 20, 40]), 0, np.array([np.uint64(1)]))
>>> d.apply(ev, salt=0)
>>> d.received_ms.tolist()  # the reading sent during the outage arrives at its end
[0, 500, 2000, 2000]
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from simulator._faults import FaultEvents, FaultKind
from simulator._noise import uniform, uniforms

__all__ = ["BOOT_S", "Delivery"]

#: How long a rebooting device sends nothing, s.
BOOT_S = 3.0
#: Clock skew at severity 1, ms.
SKEW_MS = 120_000
#: Largest reorder delay at severity 1, ms.
REORDER_MS = 2_000
_STEP_MS = 50
_STREAM_LOSS = 200
_STREAM_DUP = 210
_STREAM_DELAY = 220
_STREAM_SKEW = 230
_NETWORK = {
    FaultKind.LOSS.code,
    FaultKind.DUPLICATES.code,
    FaultKind.REORDER.code,
    FaultKind.BURST.code,
    FaultKind.CLOCK_SKEW.code,
    FaultKind.REBOOT.code,
}


@functools.lru_cache(maxsize=4)
def _ones(n: int, dtype: type) -> np.ndarray:
    """A read-only array of ``n`` ones, shared by every undisturbed delivery of that size."""
    ones: np.ndarray = np.ones(n, dtype)
    ones.flags.writeable = False
    return ones


@dataclass
class Delivery:
    """Per message: delivered or not, copies, device timestamp, arrival and event times (ms).

    Rows must be grouped by device and in time order within a device (as chunks produce them).
    Until a network fault acts on them, ``timestamp``, ``received_ms`` and ``event_ms`` are
    ``true_ms`` itself and ``delivered``, ``copies`` shared arrays of ones (no copies); treat them
    as read-only.
    """

    device: np.ndarray
    step: np.ndarray
    true_ms: np.ndarray
    keys: np.ndarray
    delivered: np.ndarray
    copies: np.ndarray
    timestamp: np.ndarray
    received_ms: np.ndarray
    event_ms: np.ndarray

    @classmethod
    def of(cls, device: np.ndarray, step: np.ndarray, start_ms: int, keys: np.ndarray) -> Delivery:
        """Undisturbed delivery of messages sent by ``device`` at 20 Hz ``step``."""
        true_ms = start_ms + step * _STEP_MS
        return cls(
            device=device,
            step=step,
            true_ms=true_ms,
            keys=keys,
            delivered=_ones(len(step), np.bool_),
            copies=_ones(len(step), np.int64),
            timestamp=true_ms,
            received_ms=true_ms,
            event_ms=true_ms,
        )

    def apply(self, events: FaultEvents, salt: int) -> None:
        """Apply the network events in ``events``; ``salt`` separates message kinds' noise."""
        start_ms = int(self.true_ms[0] - self.step[0] * _STEP_MS) if len(self.step) else 0
        network = np.flatnonzero(np.isin(events.kind, list(_NETWORK)))
        bounds = np.searchsorted(self.device, np.arange(len(self.keys) + 1))
        for f in network:
            d = int(events.device[f])
            lo, hi = int(bounds[d]), int(bounds[d + 1])
            s_ms = start_ms + round(events.start_s[f] * 1000)
            e_ms = start_ms + round(min(events.end_s[f], 1e12) * 1000)
            a = lo + int(np.searchsorted(self.true_ms[lo:hi], s_ms))
            b = lo + int(np.searchsorted(self.true_ms[lo:hi], e_ms))
            if a == b:
                continue
            self._own()
            rows = slice(a, b)
            key = self.keys[d]
            sev = float(events.severity[f])
            kind = FaultKind(tuple(FaultKind)[events.kind[f]])
            if kind is FaultKind.LOSS:
                u = uniforms(key, self.step[rows], _STREAM_LOSS + salt)
                self.delivered[rows] &= u >= 0.2 + 0.6 * sev
            elif kind is FaultKind.DUPLICATES:
                u = uniforms(key, self.step[rows], _STREAM_DUP + salt)
                self.copies[rows] += u < 0.5 * sev
            elif kind is FaultKind.REORDER:
                u = uniforms(key, self.step[rows], _STREAM_DELAY + salt)
                self.received_ms[rows] += np.round(u * REORDER_MS * sev).astype(np.int64)
            elif kind is FaultKind.BURST:
                self.received_ms[rows] = np.maximum(self.received_ms[rows], e_ms)
            elif kind is FaultKind.CLOCK_SKEW:
                sign = 1 if uniform(key, int(events.start_s[f] * 1000), _STREAM_SKEW) < 0.5 else -1
                self.timestamp[rows] += sign * round(SKEW_MS * sev)
            elif kind is FaultKind.REBOOT:
                booted_ms = s_ms + round(BOOT_S * 1000)
                c = lo + int(np.searchsorted(self.true_ms[lo:hi], booted_ms))
                self.delivered[a : min(c, b)] = False
                if c < b:
                    self.timestamp[c:b] = self.true_ms[c:b] - s_ms
        if self.timestamp is not self.true_ms:
            self._event_time()

    def _own(self) -> None:
        """Give the delivery its own arrays before a network fault changes them."""
        if self.timestamp is self.true_ms:
            self.delivered = self.delivered.copy()
            self.copies = self.copies.copy()
            self.timestamp = self.true_ms.copy()
            self.received_ms = self.true_ms.copy()

    def _event_time(self) -> None:
        """Event time as ingestion derives it (see :mod:`modax.pipeline`)."""
        since_boot = np.flatnonzero(self.timestamp < 10**12)
        if not len(since_boot):
            self.event_ms = self.timestamp
            return
        self.event_ms = self.timestamp.copy()
        # a boot is a run of since-boot rows of one device; anchor it on its first delivered row
        new_device = np.r_[True, self.device[since_boot][1:] != self.device[since_boot][:-1]]
        starts = np.flatnonzero((np.diff(since_boot, prepend=-2) != 1) | new_device)
        ends = np.r_[starts[1:], len(since_boot)]
        for s, e in zip(starts, ends, strict=True):
            rows = since_boot[s:e]
            shown = rows[self.delivered[rows]]
            first = shown[0] if len(shown) else rows[0]
            offset = self.received_ms[first] - self.timestamp[first]
            self.event_ms[rows] = self.timestamp[rows] + offset
