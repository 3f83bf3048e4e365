"""Exact message identities per device as sorted, disjoint intervals (numba), and their file."""

from __future__ import annotations

import numba as nb
import numpy as np
import pyarrow as pa

__all__ = ["IdentitySet", "read_identities", "write_identities"]

#: Tag of identities taken from the timestamp (messages without ``seq``).
TIMESTAMP_TAG = np.uint64(1 << 63)


@nb.njit(cache=True)
def _contains(ptr, lo, hi, devices, values, out):
    """``out[r]``: whether ``values[r]`` lies in one of device ``devices[r]``'s intervals."""
    n_dev = ptr.shape[0] - 1
    for r in range(devices.shape[0]):
        d = devices[r]
        v = values[r]
        out[r] = False
        if d >= n_dev:
            continue
        a, b = ptr[d], ptr[d + 1]
        first = a
        while a < b:  # the last interval starting at or before v
            m = (a + b) // 2
            if lo[m] <= v:
                a = m + 1
            else:
                b = m
        out[r] = a > first and v <= hi[a - 1]


@nb.njit(cache=True)
def _merge(ptr, lo, hi, devices, values, n_dev, new_ptr, new_lo, new_hi):
    """Intervals of ``(ptr, lo, hi)`` with ``values`` (sorted by device, then value) added.

    Adjacent or overlapping intervals are joined. Writes ``new_*`` (sized for the worst case)
    and returns how many intervals they hold.
    """
    old_dev = ptr.shape[0] - 1
    out = 0
    j = 0
    for d in range(n_dev):
        new_ptr[d] = out
        a = ptr[d] if d < old_dev else 0
        b = ptr[d + 1] if d < old_dev else 0
        k = j
        while k < devices.shape[0] and devices[k] == d:
            k += 1
        open_ = False
        cur_lo = cur_hi = np.uint64(0)
        while a < b or j < k:
            if j >= k or (a < b and lo[a] <= values[j]):
                s, e = lo[a], hi[a]
                a += 1
            else:
                s = e = values[j]
                j += 1
            if open_ and (s <= cur_hi or s - np.uint64(1) == cur_hi):
                cur_hi = max(cur_hi, e)
            else:
                if open_:
                    new_lo[out] = cur_lo
                    new_hi[out] = cur_hi
                    out += 1
                cur_lo, cur_hi, open_ = s, e, True
        if open_:
            new_lo[out] = cur_lo
            new_hi[out] = cur_hi
            out += 1
    new_ptr[n_dev] = out
    return out


class IdentitySet:
    """A set of ``(device code, value)`` pairs held as intervals of consecutive values.

    Sequence numbers count up one by one within a boot (decision 0003), so a day of one device
    is a handful of intervals: memory follows the gaps, not the messages.

    Examples
    --------
    >>> ids = IdentitySet()
    >>> ids.add(np.array([0, 0, 0, 1]), np.array([5, 6, 7, 5], np.uint64))
    >>> ids.contains(np.array([0, 0, 1, 2]), np.array([6, 8, 5, 5], np.uint64)).tolist()
    [True, False, True, False]
    >>> len(ids)  # intervals: device 0 holds 5..7, device 1 holds 5
    2
    """

    def __init__(self) -> None:
        self._ptr = np.zeros(1, np.int64)
        self._lo = np.empty(0, np.uint64)
        self._hi = np.empty(0, np.uint64)

    def __len__(self) -> int:
        return len(self._lo)

    @property
    def nbytes(self) -> int:
        """Bytes held."""
        return self._ptr.nbytes + self._lo.nbytes + self._hi.nbytes

    @classmethod
    def from_intervals(cls, devices: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> IdentitySet:
        """The set of disjoint, non-adjacent intervals ``[lo[i], hi[i]]`` of ``devices[i]``.

        Each device's intervals come in increasing order (as :meth:`intervals` gives them);
        devices may come in any order.

        Examples
        --------
        >>> ids = IdentitySet.from_intervals(np.array([1, 0, 1]), np.array([5, 2, 12], np.uint64),
        ...                                  np.array([9, 3, 12], np.uint64))
        >>> ids.contains(np.array([0, 1, 1, 1]), np.array([3, 9, 4, 12], np.uint64)).tolist()
        [True, True, False, True]
        """
        devices = devices.astype(np.int64)
        if len(devices) and np.any(devices[1:] < devices[:-1]):
            order = np.argsort(devices, kind="stable")
            devices, lo, hi = devices[order], lo[order], hi[order]
        out = cls()
        n_dev = int(devices[-1]) + 1 if len(devices) else 0
        out._ptr = np.r_[0, np.cumsum(np.bincount(devices, minlength=n_dev))].astype(np.int64)
        out._lo, out._hi = lo.astype(np.uint64, copy=False), hi.astype(np.uint64, copy=False)
        return out

    def intervals(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(devices, lo, hi)``: each interval's device code and inclusive bounds."""
        devices = np.repeat(np.arange(len(self._ptr) - 1), np.diff(self._ptr))
        return devices, self._lo, self._hi

    def contains(self, devices: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Whether each ``(devices[i], values[i])`` is in the set."""
        out = np.empty(len(devices), np.bool_)
        _contains(self._ptr, self._lo, self._hi, devices.astype(np.int64), values, out)
        return out

    def add(self, devices: np.ndarray, values: np.ndarray) -> None:
        """Add the pairs ``(devices[i], values[i])`` (repeats and known pairs are fine)."""
        if len(devices) == 0:
            return
        devices = devices.astype(np.int64)
        order = np.lexsort((values, devices))
        devices, values = devices[order], values[order]
        n_dev = max(len(self._ptr) - 1, int(devices[-1]) + 1)
        size = len(self._lo) + len(values)
        new = (np.empty(n_dev + 1, np.int64), np.empty(size, np.uint64), np.empty(size, np.uint64))
        count = _merge(self._ptr, self._lo, self._hi, devices, values, n_dev, *new)
        self._ptr, self._lo, self._hi = new[0], new[1][:count].copy(), new[2][:count].copy()


def write_identities(
    sink: pa.NativeFile, device_ids: pa.Array, identities: IdentitySet, version: int
) -> None:
    """Write ``identities`` (device codes index ``device_ids``) as an Arrow IPC file.

    One row per interval: ``device_id`` (dictionary-encoded), ``lo``, ``hi``; the table version
    whose files they cover is in the schema metadata. See :func:`read_identities`.
    """
    devices, lo, hi = identities.intervals()
    dictionary = pa.DictionaryArray.from_arrays(pa.array(devices, pa.int32()), device_ids)
    table = pa.table({"device_id": dictionary, "lo": lo, "hi": hi})
    table = table.replace_schema_metadata({"version": str(version)})
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def read_identities(
    source: pa.NativeFile,
) -> tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray, int]:
    """``(device_ids, devices, lo, hi, version)`` of a file written by :func:`write_identities`.

    ``devices`` index ``device_ids`` (each interval's device).

    Examples
    --------
    >>> ids = IdentitySet()
    >>> ids.add(np.array([1, 1, 0]), np.array([5, 6, 9], np.uint64))
    >>> sink = pa.BufferOutputStream()
    >>> write_identities(sink, pa.array(["m1", "m2"]), ids, version=7)
    >>> names, devices, lo, hi, version = read_identities(pa.BufferReader(sink.getvalue()))
    >>> names.to_pylist(), devices.tolist(), lo.tolist(), hi.tolist(), version
    (['m1', 'm2'], [0, 1], [9, 5], [9, 6], 7)
    """
    table = pa.ipc.open_file(source).read_all()
    if table.num_rows == 0:
        empty = np.zeros(0, np.uint64)
        return pa.array([], pa.string()), np.zeros(0, np.int32), empty, empty, _version(table)
    devices = table["device_id"].combine_chunks()
    lo = table["lo"].to_numpy().astype(np.uint64)
    hi = table["hi"].to_numpy().astype(np.uint64)
    codes = devices.indices.to_numpy(zero_copy_only=False)
    return devices.dictionary, codes, lo, hi, _version(table)


def _version(table: pa.Table) -> int:
    return int(table.schema.metadata[b"version"])
