"""Replay a recorded file of MQTT messages through the same pipeline as live ingestion.

Two line formats, mixed freely:

- JSON lines ``{"topic": "...", "payload": "<raw payload string>"}`` with an optional
  ``"received_at"`` (epoch ms, UTC);
- ``mosquitto_sub -v`` output: ``topic payload`` (split at the first space).

A line that is neither still reaches ``quarantine`` (topic empty, the whole line as payload).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec

from modax.pipeline._pipeline import BatchResult, Pipeline

__all__ = ["ReplayLine", "iter_messages", "replay_file"]


class ReplayLine(msgspec.Struct):
    """One JSON line of a replay file.

    Examples
    --------
    >>> msgspec.json.decode(b'{"topic": "t", "payload": "{}"}', type=ReplayLine).topic
    't'
    """

    topic: str
    payload: str
    received_at: int | None = None


_LINE = msgspec.json.Decoder(ReplayLine)


def _parse(line: bytes, now_ms: int) -> tuple[str, bytes, int]:
    if line.startswith(b"{"):
        try:
            rec = _LINE.decode(line)
        except msgspec.DecodeError:
            return "", line, now_ms
        return rec.topic, rec.payload.encode(), rec.received_at or now_ms
    topic, sep, payload = line.partition(b" ")
    if not sep:
        return "", line, now_ms
    return topic.decode("utf-8", "replace"), payload, now_ms


def iter_messages(path: Path) -> Iterator[tuple[str, bytes, int]]:
    """Yield ``(topic, payload, received_at_ms)`` for every non-blank line of ``path``."""
    now_ms = int(time.time() * 1000)
    with path.open("rb") as fh:
        for raw in fh:
            line = raw.rstrip(b"\r\n")
            if line.strip():
                yield _parse(line, now_ms)


def replay_file(
    path: str | Path,
    pipeline: Pipeline,
    batch_size: int = 50_000,
    progress: Callable[[int], None] | None = None,
) -> BatchResult:
    """Run every message of ``path`` through ``pipeline`` in batches; return the totals.

    Parameters
    ----------
    path : str or Path
        The replay file.
    pipeline : Pipeline
        Where messages go (decode → validate → dedupe → derive → lake).
    batch_size : int
        Messages per lake commit.
    progress : callable, optional
        Called with the number of messages of each finished batch.

    Raises
    ------
    OSError
        When the file cannot be read.
    """
    path = Path(path)
    total = BatchResult()
    topics: list[str] = []
    payloads: list[bytes] = []
    received: list[int] = []

    def flush() -> None:
        total.merge(pipeline.process(topics, payloads, received))
        if progress is not None:
            progress(len(topics))
        topics.clear()
        payloads.clear()
        received.clear()

    for topic, payload, received_at in iter_messages(path):
        topics.append(topic)
        payloads.append(payload)
        received.append(received_at)
        if len(topics) >= batch_size:
            flush()
    if topics:
        flush()
    total.merge(pipeline.close())
    return total
