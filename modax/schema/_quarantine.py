"""Rows for the ``quarantine`` table: bounded copies of bad input, with size and hash."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pyarrow as pa

from modax.schema._tables import QUARANTINE_RAW_SCHEMA, UTC_MS
from modax.schema._topics import MAX_TOPIC_LENGTH

__all__ = ["QUARANTINE_PAYLOAD_BYTES", "quarantine_rows"]

#: Bytes of a rejected payload that quarantine keeps (the rest is summed up by size and hash).
QUARANTINE_PAYLOAD_BYTES = 4096


def quarantine_rows(
    topics: Sequence[str],
    payloads: Sequence[bytes],
    reasons: Sequence[str],
    fields: Sequence[str | None],
    details: Sequence[str],
    received_at_ms: Sequence[int],
) -> pa.Table:
    """One :data:`~modax.schema.QUARANTINE_RAW_SCHEMA` row per rejected message (``count`` 1).

    Topics are cut to :data:`~modax.schema.MAX_TOPIC_LENGTH` characters and payloads to
    :data:`QUARANTINE_PAYLOAD_BYTES`; ``payload_bytes`` and ``payload_sha256`` describe the
    whole payload.

    Parameters
    ----------
    topics, payloads, reasons, fields, details : sequences
        One entry per message.
    received_at_ms : sequence of int
        Receive times, epoch ms (UTC).

    Examples
    --------
    >>> row = quarantine_rows(["t"], [b"x" * 5000], ["oversized"], [None], ["big"], [0])
    >>> row = row.to_pylist()[0]
    >>> len(row["payload"]), row["payload_bytes"], row["count"], row["payload_sha256"][:8]
    (4096, 5000, 1, 'c59d3c04')
    """
    received = pa.array(received_at_ms, pa.int64()).cast(UTC_MS)
    return pa.Table.from_pydict(
        {
            "topic": [t[:MAX_TOPIC_LENGTH] for t in topics],
            "payload": [p[:QUARANTINE_PAYLOAD_BYTES] for p in payloads],
            "reason": reasons,
            "field": fields,
            "detail": details,
            "received_at": received,
            "payload_bytes": pa.array(map(len, payloads), pa.int64(), size=len(payloads)),
            "payload_sha256": [hashlib.sha256(p).hexdigest() for p in payloads],
            "count": [1] * len(payloads),
            "first_seen": received,
            "last_seen": received,
        },
        schema=QUARANTINE_RAW_SCHEMA,
    )
