"""Steer devices over MQTT from Python: the digital twin, and real devices for what they honour.

:class:`Twin` publishes :mod:`modax.schema` commands on ``modax/devices/{id}/command`` (QoS 1,
never retained) and waits for each one's :class:`~modax.schema.CommandAck` on
``.../command/ack``. In a notebook, with ``modax simulate --mqtt …`` running::

    from modax.twin import Twin
    with Twin.from_url("mqtt://127.0.0.1:1883") as twin:
        ack = twin.inject("sim-0001", "overload", severity=0.8, duration_s=300)
        ack.accepted, ack.applies_at

The client comes from :class:`modax.mqtt.ClientFactory` (credentials, TLS): with an ACL, only
an operator account may publish commands (``deploy/mosquitto/acl``); a refused publish raises
:class:`TwinError` saying so.
"""

from __future__ import annotations

import threading
import uuid
from types import TracebackType

import msgspec
import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from modax.mqtt import ClientFactory, subscribe_on_connect
from modax.schema import (
    Command,
    CommandAck,
    InjectFault,
    Kind,
    Reboot,
    SetLoad,
    SetMotor,
    SetSampleRate,
    SetThresholds,
    command_type,
    topic_for,
)

__all__ = ["ACK_FILTER", "Twin", "TwinError"]

#: What :class:`Twin` subscribes to: every device's command acks.
ACK_FILTER = "modax/devices/+/command/ack"
_ENCODER = msgspec.json.Encoder()
_ACK = msgspec.json.Decoder(CommandAck)


class TwinError(RuntimeError):
    """A command could not be delivered or was not acknowledged in time; says why."""


class Twin:
    """Send commands to devices and wait for their acknowledgements.

    Parameters
    ----------
    factory : ClientFactory
        The broker and credentials (``ClientFactory.from_settings(load_settings())``).
    timeout_s : float
        How long each command waits for its ack, in s.

    Examples
    --------
    >>> twin = Twin.from_url("mqtt://127.0.0.1:1883", timeout_s=5.0)
    >>> twin.timeout_s, twin.connected
    (5.0, False)
    """

    def __init__(self, factory: ClientFactory, *, timeout_s: float = 10.0) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s={timeout_s}: must be above 0")
        self.factory = factory
        self.timeout_s = timeout_s
        self._client: mqtt.Client | None = None
        self._subscribed = threading.Event()
        self._lock = threading.Condition()
        self._waiting: dict[str, CommandAck | None] = {}
        self._refused: dict[int, str] = {}

    @classmethod
    def from_url(cls, url: str, *, timeout_s: float = 10.0) -> Twin:
        """A twin client for broker ``url`` without credentials (a broker on this machine)."""
        return cls(ClientFactory.from_url(url), timeout_s=timeout_s)

    @property
    def connected(self) -> bool:
        """Whether the client is connected and subscribed to the acks."""
        return self._client is not None and self._subscribed.is_set()

    def connect(self) -> Twin:
        """Connect and subscribe to :data:`ACK_FILTER`; ``TwinError`` when that fails."""
        if self._client is not None:
            return self
        client = self.factory(f"modax-twin-{uuid.uuid4().hex[:12]}")

        self._subscribed = subscribe_on_connect(client, ACK_FILTER)
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        try:
            self.factory.connect(client)
        except OSError as exc:
            raise TwinError(f"cannot reach the broker at {self.factory.broker}: {exc}") from None
        client.loop_start()
        self._client = client
        if not self._subscribed.wait(self.timeout_s):
            self.close()
            raise TwinError(
                f"the broker at {self.factory.broker} did not accept the connection and the "
                f"subscription to {ACK_FILTER} within {self.timeout_s:g} s"
            )
        return self

    def close(self) -> None:
        """Disconnect."""
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None
            self._subscribed = threading.Event()

    def __enter__(self) -> Twin:
        return self.connect()

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.close()

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        try:
            ack = _ACK.decode(message.payload)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return  # not an ack of this contract: nobody here waits for it
        with self._lock:
            if ack.command_id in self._waiting:
                self._waiting[ack.command_id] = ack
                self._lock.notify_all()

    def _on_publish(
        self, _c: mqtt.Client, _u: object, mid: int, reason: ReasonCode, _p: object
    ) -> None:
        if reason.is_failure:
            with self._lock:
                self._refused[mid] = str(reason)
                self._lock.notify_all()

    def send(self, command: Command) -> CommandAck:
        """Publish ``command`` and return its ack (accepted or rejected with the reason).

        Raises
        ------
        TwinError
            When the broker refuses the publish (no ACL right) or no ack comes within
            :attr:`timeout_s` (no device or twin listens on that topic).
        """
        client = self.connect()._client
        assert client is not None
        with self._lock:
            self._waiting[command.command_id] = None
        try:
            topic = topic_for(command.device_id, Kind.COMMAND)
            info = client.publish(topic, _ENCODER.encode(command), qos=1, retain=False)
            with self._lock:
                done = self._lock.wait_for(
                    lambda: (
                        self._waiting[command.command_id] is not None or info.mid in self._refused
                    ),
                    self.timeout_s,
                )
                ack = self._waiting[command.command_id]
                refused = self._refused.pop(info.mid, None)
        finally:
            with self._lock:
                self._waiting.pop(command.command_id, None)
        if refused is not None:
            raise TwinError(
                f"the broker refused {command_type(command)} to {command.device_id!r}: {refused} "
                "(commands need an operator account, see deploy/mosquitto/acl)"
            )
        if not done or ack is None:
            raise TwinError(
                f"{command.device_id!r} did not acknowledge {command_type(command)} within "
                f"{self.timeout_s:g} s (is the device or `modax simulate --mqtt` running?)"
            )
        return ack

    @staticmethod
    def _id() -> str:
        return uuid.uuid4().hex[:16]

    def inject(
        self,
        device_id: str,
        kind: str,
        *,
        severity: float = 1.0,
        duration_s: float | None = None,
        channel: str | None = None,
    ) -> CommandAck:
        """Twin only: inject fault ``kind`` (``modax.schema.FAULT_KINDS``) from now.

        ``severity`` 0–1; ``duration_s`` in s (``None``: until the twin stops); ``channel``
        for sensor faults.
        """
        return self.send(
            InjectFault(
                device_id=device_id,
                command_id=self._id(),
                kind=kind,
                severity=severity,
                duration_s=duration_s,
                channel=channel,
            )
        )

    def set_sample_rate(self, device_id: str, rate_hz: float) -> CommandAck:
        """Publish telemetry at ``rate_hz`` (Hz)."""
        return self.send(SetSampleRate(device_id=device_id, command_id=self._id(), rate_hz=rate_hz))

    def set_thresholds(
        self,
        device_id: str,
        *,
        overload_current_a: float | None = None,
        max_temperature_c: float | None = None,
    ) -> CommandAck:
        """Set the safety thresholds: overload in A, over-temperature in °C."""
        return self.send(
            SetThresholds(
                device_id=device_id,
                command_id=self._id(),
                overload_current_a=overload_current_a,
                max_temperature_c=max_temperature_c,
            )
        )

    def set_load(self, device_id: str, load_fraction: float) -> CommandAck:
        """Twin only: drive the motor at ``load_fraction`` of its rated load."""
        return self.send(
            SetLoad(device_id=device_id, command_id=self._id(), load_fraction=load_fraction)
        )

    def set_motor(self, device_id: str, running: bool) -> CommandAck:
        """Twin only: start (``True``) or stop the motor."""
        return self.send(SetMotor(device_id=device_id, command_id=self._id(), running=running))

    def reboot(self, device_id: str) -> CommandAck:
        """Twin only: reboot the device."""
        return self.send(Reboot(device_id=device_id, command_id=self._id()))
