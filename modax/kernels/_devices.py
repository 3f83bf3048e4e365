"""Stable integer codes for device ids, so kernels keep per-device state in flat arrays."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["DeviceCodes"]


class DeviceCodes:
    """Assigns each device id a code 0, 1, 2, ... in order of first appearance, for good.

    Examples
    --------
    >>> codes = DeviceCodes()
    >>> codes.encode(pa.array(["m2", "m1", "m2"])).tolist()
    [0, 1, 0]
    >>> codes.encode(pa.array(["m3", "m1"])).tolist()
    [2, 1]
    >>> codes.names.to_pylist()
    ['m2', 'm1', 'm3']
    """

    def __init__(self) -> None:
        self._index: dict[str, int] = {}
        self._names: list[str] = []
        self._array: pa.Array | None = None

    def __len__(self) -> int:
        return len(self._names)

    def encode(self, device_ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Codes (int32) of ``device_ids``; new ids get new codes."""
        encoded = pc.dictionary_encode(device_ids)
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks() if encoded.num_chunks else pa.array([], pa.string())
            if not isinstance(encoded, pa.DictionaryArray):
                encoded = pc.dictionary_encode(encoded)
        if encoded.null_count:
            raise ValueError("device_id: null device ids cannot be aggregated")
        mapping = np.array(
            [self.code(name) for name in encoded.dictionary.to_pylist()], dtype=np.int32
        )
        return mapping[encoded.indices.to_numpy(zero_copy_only=False)]

    def code(self, name: str) -> int:
        """The code of one device id (assigned on first sight)."""
        found = self._index.get(name)
        if found is None:
            found = self._index[name] = len(self._names)
            self._names.append(name)
            self._array = None
        return found

    @property
    def names(self) -> pa.Array:
        """Device ids by code, as an Arrow string array."""
        if self._array is None:
            self._array = pa.array(self._names, pa.string())
        return self._array

    def decode(self, codes: np.ndarray) -> pa.Array:
        """Device ids (strings) of ``codes``."""
        return self.names.take(pa.array(codes))
