"""How an ingester subscribes, batches and reconnects: :class:`IngestOptions`."""

from __future__ import annotations

from dataclasses import dataclass

from modax.ingest._mqtt import DEFAULT_TOPICS, shared_topic

__all__ = ["IngestOptions"]


@dataclass(frozen=True)
class IngestOptions:
    """How an :class:`Ingester` subscribes, batches and reconnects.

    Attributes
    ----------
    topics : tuple of str
        Topic filters to subscribe to (QoS 1).
    client_id : str
        Fixed MQTT client id: the broker keeps this session's queue while the ingester is down.
    shared_group : str or None
        Subscribe as ``$share/{group}/...`` so ingesters of one group split the messages.
    batch_size : int
        Commit when this many messages wait...
    batch_s : float
        ... or when the oldest has waited this long, in s (bounds publish-to-queryable latency).
    max_queued : int
        Messages that may wait for a batch; also the MQTT Receive Maximum (≤ 65,535), so the
        broker holds back the rest.
    max_queued_bytes : int
        Bytes of topics and payloads that may wait; past either bound the network thread stops
        reading.
    keepalive_s : int
        MQTT keepalive, in s.
    session_expiry_s : int
        How long the broker keeps the session (and queues for it) while disconnected, in s.
    reconnect_initial_s, reconnect_max_s : float
        Backoff bounds for reconnects and retried lake commits, in s (full jitter).
    publish_events : bool
        Publish derived safety events to ``modax/devices/{id}/events``.
    mqtt_version : str
        ``"5"``, ``"3.1.1"`` or ``"auto"`` (MQTT 5, falling back to 3.1.1 for brokers such as
        amqtt that speak only 3.1.1: no session expiry nor Receive Maximum there).

    Examples
    --------
    >>> IngestOptions(shared_group="modax").subscriptions()[0]
    '$share/modax/modax/devices/+/telemetry'
    """

    topics: tuple[str, ...] = DEFAULT_TOPICS
    client_id: str = "modax-ingest"
    shared_group: str | None = None
    batch_size: int = 5_000
    batch_s: float = 0.2
    max_queued: int = 50_000
    max_queued_bytes: int = 64 * 1024 * 1024
    keepalive_s: int = 30
    session_expiry_s: int = 7 * 24 * 3600
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 30.0
    publish_events: bool = True
    mqtt_version: str = "auto"

    def subscriptions(self) -> list[str]:
        """The topic filters as subscribed (shared when ``shared_group`` is set)."""
        return [shared_topic(t, self.shared_group) for t in self.topics]
