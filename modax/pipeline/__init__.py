"""The one path every message takes: decode → validate → dedupe → event time → derive → lake.

:class:`Pipeline` runs it for live ingestion, replay (:func:`replay_file`) and batch producers;
:class:`DedupeIndex` remembers which messages the lake holds, :class:`BootClock` turns
since-boot device timestamps into UTC event time.
"""

from modax.pipeline._clock import BootClock
from modax.pipeline._dedupe import DedupeIndex
from modax.pipeline._pipeline import BatchResult, Deriver, Pipeline
from modax.pipeline._replay import ReplayLine, iter_messages, replay_file

__all__ = [
    "BatchResult",
    "BootClock",
    "DedupeIndex",
    "Deriver",
    "Pipeline",
    "ReplayLine",
    "iter_messages",
    "replay_file",
]
