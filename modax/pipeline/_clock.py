"""Event time: device timestamps to UTC, including devices without NTP (ms since boot).

A ``timestamp`` of 10¹² or more is epoch ms from an NTP-synced device and is the event time as
it is. A smaller one is milliseconds since the device booted: the first reading of a boot anchors
it to the receive clock (``offset = received_at - timestamp``), and later readings of that boot
keep the same offset, so their spacing is the device's own. A timestamp that jumps backwards by
more than ``reboot_tolerance_ms`` starts a new boot.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modax.schema import EPOCH_MS_THRESHOLD, UTC_MS

__all__ = ["BootClock"]


class BootClock:
    """Per-device boot anchors that turn ms-since-boot timestamps into UTC event times.

    Parameters
    ----------
    reboot_tolerance_ms : int
        A since-boot timestamp this much below the device's previous one means a reboot.

    Examples
    --------
    >>> clock = BootClock()
    >>> ts = clock.event_time(pa.array(["m1", "m1"]), pa.array([5_000, 5_100]),
    ...                       pa.array([1_700_000_000_000, 1_700_000_000_300]))
    >>> pc.cast(ts, pa.int64()).to_pylist()  # anchored on the first reading, spacing kept
    [1700000000000, 1700000000100]
    """

    def __init__(self, reboot_tolerance_ms: int = 1_000) -> None:
        self.reboot_tolerance_ms = reboot_tolerance_ms
        self._boots: dict[str, tuple[int, int]] = {}

    def event_time(
        self, device_id: pa.Array, timestamp: pa.Array, received_at: pa.Array
    ) -> pa.Array:
        """Event times (``timestamp[ms, UTC]``) for rows in arrival order.

        Parameters
        ----------
        device_id : pyarrow.Array of str
        timestamp : pyarrow.Array of int64
            The devices' raw timestamps (ms).
        received_at : pyarrow.Array
            Receive times, epoch ms (int64 or timestamp).
        """
        raw = pc.cast(timestamp, pa.int64()).to_numpy(zero_copy_only=False).copy()
        since_boot = np.flatnonzero(raw < EPOCH_MS_THRESHOLD)
        if len(since_boot):
            received = pc.cast(received_at, pa.int64()).to_numpy(zero_copy_only=False)
            devices = device_id.to_pylist()
            for i in since_boot:
                dev, t = devices[i], int(raw[i])
                boot = self._boots.get(dev)
                if boot is None or t < boot[1] - self.reboot_tolerance_ms:
                    boot = (int(received[i]) - t, t)
                self._boots[dev] = (boot[0], max(t, boot[1]))
                raw[i] = t + boot[0]
        return pa.array(raw, pa.int64()).cast(UTC_MS)
