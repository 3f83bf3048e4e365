"""The live MQTT subscription of a dashboard server: one per process, shared by every session.

:class:`LiveFeed` subscribes to every device topic, decodes each message with
:func:`modax.viz.decode_live` (malformed messages are counted as quarantined and never reach a
page) and applies it to a :class:`~modax.viz.FleetState`. :func:`shared_feed` keeps one started
feed in ``pn.state.cache``, so sessions only read the fleet state with periodic callbacks.

The feed never dies silently: no exception leaves a paho callback (paho re-raises it and its
network loop ends, which stopped every session's updates while the feed still said it was
connected); a payload the decoder cannot take is quarantined; :attr:`LiveFeed.health` is true
only while the network thread runs and the broker is connected, and the watchdog restarts a
thread that ended.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pyarrow as pa

from modax.config import Settings, load_settings
from modax.lake import Lake, connect
from modax.mqtt import ClientFactory
from modax.schema import (
    LEGACY_SAFETY_TOPIC,
    LEGACY_TELEMETRY_TOPIC,
    Kind,
    MessageError,
    Reason,
)
from modax.viz._acks import AckStore, default_ack_path
from modax.viz._alarms import AlarmLog, now_ms
from modax.viz._fleet import FleetState
from modax.viz._live_messages import decode_live

__all__ = ["LiveFeed", "recent_events", "shared_feed"]

_log = logging.getLogger(__name__)
#: What a dashboard subscribes to: every per-device topic and the firmware's legacy topics.
TOPICS = ("modax/devices/+/+", LEGACY_TELEMETRY_TOPIC, LEGACY_SAFETY_TOPIC)
_COMMAND_SUFFIX = f"/{Kind.COMMAND}"


class LiveFeed:
    """An MQTT subscription that keeps a :class:`FleetState` current.

    Parameters
    ----------
    settings : Settings, optional
        Broker URL and credentials (``MODAX_BROKER``...); default from the environment.
    fleet : FleetState, optional
        The state to feed; a new one by default.
    check_every_s : float
        How often the inactivity check and the watchdog run, in s.

    Examples
    --------
    >>> feed = LiveFeed(load_settings({"MODAX_BROKER": "mqtt://localhost:1883"}))
    >>> feed.fleet.kpis()["devices"]
    0

    ``feed.start()`` connects in the background and reconnects on its own; ``feed.stop()``
    disconnects. ``feed.health`` says whether messages are flowing in; ``feed.restarts`` counts
    network threads the watchdog had to start again and ``feed.callback_errors`` exceptions the
    callbacks caught (each logged with its traceback).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        fleet: FleetState | None = None,
        check_every_s: float = 1.0,
    ) -> None:
        self.settings = settings if settings is not None else load_settings()
        self.fleet = fleet if fleet is not None else FleetState()
        self.check_every_s = check_every_s
        self.connected = threading.Event()
        self.restarts = 0
        self.callback_errors = 0
        self._stop = threading.Event()
        self._factory = replace(
            ClientFactory.from_settings(self.settings), reconnect_min_s=1.0, reconnect_max_s=10.0
        )
        self._client = self._factory(
            f"modax-dashboard-{os.getpid()}-{uuid.uuid4().hex[:8]}", mqtt5=False
        )
        self._client.on_connect = self._guarded(self._on_connect)
        self._client.on_disconnect = self._guarded(self._on_disconnect)
        self._client.on_message = self._guarded(self._on_message)
        self._network = self._network_thread()
        self._checker = threading.Thread(
            target=self._check_loop, name="modax-inactivity", daemon=True
        )

    @property
    def health(self) -> bool:
        """Whether the feed is live: its network thread runs and the broker is connected."""
        return self._network.is_alive() and self.connected.is_set()

    def start(self) -> LiveFeed:
        """Connect in the background (retrying until the broker is there) and start the checks."""
        self._network.start()
        self._checker.start()
        return self

    def stop(self) -> None:
        """Disconnect and stop the background threads."""
        self._stop.set()
        self._client.disconnect()
        for thread in (self._network, self._checker):
            if thread.is_alive():
                thread.join(10)

    def _network_thread(self) -> threading.Thread:
        return threading.Thread(target=self._run, name="modax-dashboard-mqtt", daemon=True)

    def _run(self) -> None:
        """The network thread: connect (again) unless connected, then loop until stopped."""
        try:
            if not self._client.is_connected():
                self._factory.connect(self._client, background=True)
            self._client.loop_forever(retry_first_connection=True)
        except Exception:
            _log.exception("the dashboard's MQTT network loop failed")
        finally:
            self.connected.clear()

    def _restart_if_dead(self) -> None:
        """Start a new network thread when the last one ended (the watchdog's job)."""
        if self._stop.is_set() or self._network.is_alive():
            return
        self.connected.clear()
        self.restarts += 1
        _log.error("the dashboard's MQTT thread ended; restarting it (restart %d)", self.restarts)
        self._network = self._network_thread()
        self._network.start()

    def _guarded(self, callback: Callable[..., None]) -> Callable[..., None]:
        """``callback`` that logs and counts any exception instead of letting paho re-raise it."""

        def guarded(*args: object) -> None:
            try:
                callback(*args)
            except Exception:
                self.callback_errors += 1
                _log.exception("dashboard feed callback %s failed", callback.__name__)

        return guarded

    def _on_connect(
        self, client: mqtt.Client, _u: object, _f: object, reason: object, _p: object
    ) -> None:
        if getattr(reason, "is_failure", False):
            _log.warning("broker %s refused the dashboard: %s", self.settings.broker_url, reason)
            return
        client.subscribe([(topic, 0) for topic in TOPICS])
        self.connected.set()

    def _on_disconnect(
        self, _c: object, _u: object, _f: object, reason: object, _p: object
    ) -> None:
        self.connected.clear()
        if not self._stop.is_set():
            _log.warning("lost the broker %s (%s); reconnecting", self.settings.broker_url, reason)

    def _on_message(self, _c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        if message.topic.endswith(_COMMAND_SUFFIX):
            return  # an operator's command to a device: neither the fleet's data nor bad input
        received = now_ms()
        try:
            decoded = decode_live(message.topic, message.payload)
        except MessageError as exc:
            self.fleet.reject(message.topic, exc, received)
            return
        except (RecursionError, ValueError, MemoryError) as exc:  # what a hostile payload makes
            detail = f"the decoder could not take it ({type(exc).__name__}: {exc})"
            self.fleet.reject(message.topic, MessageError(Reason.NOT_JSON, None, detail), received)
            return
        self.fleet.apply(decoded, received)

    def _check_loop(self) -> None:
        check = self._guarded(self.fleet.check_inactivity)
        while not self._stop.wait(self.check_every_s):
            self._restart_if_dead()
            check()


def recent_events(lake: Lake, hours: float = 24.0) -> pa.Table | None:
    """The lake's ``safety_events`` of the last ``hours`` hours; ``None`` without that table."""
    since = datetime.now(UTC) - timedelta(hours=hours)
    with connect(lake) as con:
        if "safety_events" not in con.tables:
            return None
        return con.sql(
            f"select * from safety_events where ts >= TIMESTAMPTZ '{since.isoformat()}'"
        ).to_arrow_table()


def shared_feed(settings: Settings | None = None) -> LiveFeed:
    """The process's one started :class:`LiveFeed`, created on first use (``pn.state.cache``).

    Its alarm log keeps acknowledgements in the state directory (``MODAX_STATE_DIR``, default
    ``<lake>/_state``: :func:`~modax.viz._acks.default_ack_path`) and starts with
    the lake's ``safety_events`` of the last 24 hours, so the feed survives a restart.

    Creating it also moves every object the server holds so far (the imported libraries, the
    warm-started apps) out of reach of the garbage collector (:func:`gc.freeze`): they live as
    long as the process, and with them a full collection took seconds — a stall of every
    session's updates whenever the message stream triggered one.
    """
    import panel as pn

    def create() -> LiveFeed:
        s = settings if settings is not None else load_settings()
        lake = Lake(s.lake)
        alarms = AlarmLog(AckStore(default_ack_path(lake.root, s.state_dir)))
        events = recent_events(lake, 24.0)
        if events is not None:
            alarms.load_events(events)
        feed = LiveFeed(s, FleetState(alarms)).start()
        gc.freeze()
        return feed

    return pn.state.as_cached("modax.viz.live_feed", create)
