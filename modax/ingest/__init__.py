"""Live MQTT ingestion into the lake: at-least-once, deduplicated, with back-pressure.

Examples
--------
>>> from modax.ingest import Ingester, IngestOptions
>>> opts = IngestOptions(batch_size=1_000, batch_s=0.1, shared_group="modax")
>>> with Ingester("mqtt://localhost:1883", "data/lake", options=opts) as ingester:  # doctest: +SKIP
...     ingester.wait_connected()
"""

from modax.ingest._backoff import Backoff
from modax.ingest._inbox import Batch, Inbox
from modax.ingest._ingester import Ingester, event_payload
from modax.ingest._metrics import IngestMetrics
from modax.ingest._mqtt import DEFAULT_TOPICS, IngestError, shared_topic
from modax.ingest._options import IngestOptions

__all__ = [
    "DEFAULT_TOPICS",
    "Backoff",
    "Batch",
    "Inbox",
    "IngestError",
    "IngestMetrics",
    "IngestOptions",
    "Ingester",
    "event_payload",
    "shared_topic",
]
