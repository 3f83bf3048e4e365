"""The one place an MQTT client is built: paho-mqtt 2.x from the settings.

Every client of modax — the ingester, the dashboards' live feed, the advisor and the simulator's
publisher — comes from a :class:`ClientFactory`, so they agree on the broker URL, credentials,
TLS (a private CA and a client certificate), the protocol version and the reconnect backoff::

    factory = ClientFactory.from_settings(load_settings())  # MODAX_BROKER, MODAX_MQTT_*
    client = factory("modax-notebook")                       # a paho.mqtt.client.Client
    factory.connect(client)                                  # to MODAX_BROKER's host and port

The simulator may import only :mod:`modax.schema`, so its publisher takes the factory as a plain
callable ``client_id → Client`` (``LivePublisher(..., client_factory=factory)``).
"""

from __future__ import annotations

import logging
import ssl
import threading
from dataclasses import dataclass, field
from typing import Literal

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from modax.config import BrokerURL, Settings, parse_broker_url

__all__ = [
    "BrokerAuth",
    "ClientFactory",
    "LastError",
    "MqttError",
    "describe_os_error",
    "describe_refusal",
    "reconnect_delay",
    "subscribe_on_connect",
]

#: CONNACK reason codes worth retrying (the broker is there but cannot take us now).
_TRANSIENT = frozenset({"Server unavailable", "Server busy", "Connection rate exceeded"})


class MqttError(RuntimeError):
    """A client cannot be built or cannot connect (TLS files, refused credentials); says the fix."""


@dataclass(frozen=True)
class BrokerAuth:
    """Credentials and TLS files for a broker connection.

    Examples
    --------
    >>> BrokerAuth(username="ingester", password="s3cret")
    BrokerAuth(username='ingester', password='***', ca_file=None, cert_file=None, key_file=None)
    """

    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    def __repr__(self) -> str:
        password = None if self.password is None else "***"
        return (
            f"BrokerAuth(username={self.username!r}, password={password!r}, "
            f"ca_file={self.ca_file!r}, cert_file={self.cert_file!r}, key_file={self.key_file!r})"
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> BrokerAuth:
        """Take the ``MODAX_MQTT_*`` settings."""
        return cls(
            settings.mqtt_username,
            settings.mqtt_password,
            settings.mqtt_ca_file,
            settings.mqtt_cert_file,
            settings.mqtt_key_file,
        )


@dataclass(frozen=True)
class ClientFactory:
    """Builds paho-mqtt 2.x clients for one broker, all with the same credentials and TLS.

    Parameters
    ----------
    broker : BrokerURL
        Where to connect; ``mqtts://`` turns on verified TLS.
    auth : BrokerAuth
        User name and password, CA file (system store when ``None``), client certificate and key.
    reconnect_min_s, reconnect_max_s : float
        Bounds of paho's automatic reconnect delay, in s (doubling from the first to the second).
    keepalive_s : int
        MQTT keep-alive interval, in s.

    Examples
    --------
    >>> factory = ClientFactory.from_url("mqtt://127.0.0.1:1883")
    >>> client = factory("doc-client", mqtt5=False)
    >>> client.protocol == mqtt.MQTTv311, client.suppress_exceptions
    (True, True)
    """

    broker: BrokerURL
    auth: BrokerAuth = field(default_factory=BrokerAuth)
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 30.0
    keepalive_s: int = 30

    @classmethod
    def from_settings(cls, settings: Settings, broker: str | None = None) -> ClientFactory:
        """A factory for ``MODAX_BROKER`` (or ``broker``) with the ``MODAX_MQTT_*`` credentials."""
        url = settings.broker_url if broker is None else parse_broker_url(broker, name="broker")
        return cls(url, BrokerAuth.from_settings(settings))

    @classmethod
    def from_url(cls, url: str, auth: BrokerAuth | None = None) -> ClientFactory:
        """A factory for broker ``url`` (``mqtt://host:port`` or ``mqtts://host:port``)."""
        return cls(parse_broker_url(url, name="broker"), auth or BrokerAuth())

    def __call__(
        self,
        client_id: str,
        *,
        mqtt5: bool = True,
        persistent: bool = False,
        manual_ack: bool = False,
    ) -> mqtt.Client:
        """A new client, not connected yet.

        Parameters
        ----------
        client_id : str
            The MQTT client id (a persistent session is keyed by it).
        mqtt5 : bool
            MQTT 5, or 3.1.1 for brokers that speak only that (amqtt).
        persistent : bool
            Keep the session (subscriptions, queued QoS 1 messages) across reconnects: MQTT
            3.1.1's ``clean_session=False``; for MQTT 5 pass a session expiry at connect.
        manual_ack : bool
            Acknowledge QoS 1 messages only when told (``client.ack``), not on receipt.

        Raises
        ------
        MqttError
            When a TLS file cannot be loaded (the message names the broker and the file).
        """
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5 if mqtt5 else mqtt.MQTTv311,
            clean_session=None if mqtt5 else not persistent,
            manual_ack=manual_ack,
        )
        client.suppress_exceptions = True  # a failing callback is logged; the network loop goes on
        reconnect_delay(client, self.reconnect_min_s, self.reconnect_max_s)
        if self.auth.username is not None:
            client.username_pw_set(self.auth.username, self.auth.password)
        if self.broker.tls:
            try:
                client.tls_set(
                    ca_certs=self.auth.ca_file,
                    certfile=self.auth.cert_file,
                    keyfile=self.auth.key_file,
                    cert_reqs=ssl.CERT_REQUIRED,
                    tls_version=ssl.PROTOCOL_TLS_CLIENT,
                )
            except (OSError, ssl.SSLError) as exc:
                raise MqttError(f"cannot load the TLS files for {self.broker}: {exc}") from None
        return client

    def connect(
        self,
        client: mqtt.Client,
        *,
        clean_start: bool | Literal[3] = mqtt.MQTT_CLEAN_START_FIRST_ONLY,
        properties: Properties | None = None,
        background: bool = False,
    ) -> None:
        """Connect ``client`` to the broker (in the background with ``background=True``).

        ``clean_start=False`` resumes an MQTT 5 session (with a session expiry in
        ``properties``); MQTT 3.1.1 clients keep theirs with ``persistent=True`` instead.

        Raises
        ------
        OSError
            When the broker cannot be reached (not with ``background=True``: paho retries).
        """
        start = clean_start if client.protocol == mqtt.MQTTv5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY
        connect = client.connect_async if background else client.connect
        connect(
            self.broker.host,
            self.broker.port,
            self.keepalive_s,
            clean_start=start,
            properties=properties,
        )


def subscribe_on_connect(client: mqtt.Client, topic_filter: str, qos: int = 1) -> threading.Event:
    """Subscribe ``client`` to ``topic_filter`` on every successful (re)connect.

    Sets the client's ``on_connect`` and ``on_subscribe`` callbacks.

    Returns
    -------
    threading.Event
        Set once the broker has granted the subscription: from then on it routes the messages.

    Examples
    --------
    >>> client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    >>> subscribe_on_connect(client, "modax/devices/+/telemetry").is_set()  # not connected yet
    False
    """
    granted = threading.Event()

    def on_connect(
        client: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object
    ) -> None:
        if not reason.is_failure:
            client.subscribe(topic_filter, qos=qos)

    def on_subscribe(
        _c: mqtt.Client, _u: object, _mid: int, reasons: list[ReasonCode], _p: object
    ) -> None:
        if not any(r.is_failure for r in reasons):
            granted.set()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    return granted


def reconnect_delay(client: mqtt.Client, min_s: float, max_s: float) -> None:
    """Set paho's automatic reconnect delay: from ``min_s``, doubling up to ``max_s`` (s).

    paho takes any number of seconds, though its hints say ``int``.
    """
    client.reconnect_delay_set(min_s, max_s)  # type: ignore[arg-type]


class LastError(logging.Handler):
    """Keeps the last error paho logs, e.g. a TLS alert the broker sends after the handshake.

    Examples
    --------
    >>> client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    >>> errors = LastError.attach(client, "doc")
    >>> errors.message is None
    True
    """

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.message: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        """Remember ``record``'s message."""
        self.message = record.getMessage()

    @classmethod
    def attach(cls, client: mqtt.Client, name: str) -> LastError:
        """Route ``client``'s errors to a fresh handler, and on to the ``modax`` log.

        Only errors: paho's per-packet debug lines would cost time on the hot path.
        """
        logger = logging.getLogger(f"modax.mqtt.paho.{name}")
        logger.setLevel(logging.ERROR)
        handler = cls()
        logger.handlers[:] = [handler]
        client.enable_logger(logger)
        return handler


def describe_refusal(reason: ReasonCode, broker: BrokerURL, auth: BrokerAuth) -> tuple[bool, str]:
    """Whether a refused CONNACK is worth retrying, and a message saying what to fix."""
    name = reason.getName()
    if name in _TRANSIENT:
        return True, f"broker {broker} refused the connection for now: {name}"
    hint = ""
    if name in ("Bad user name or password", "Not authorized"):
        who = f"user {auth.username!r}" if auth.username else "anonymous access"
        hint = f" ({who}; set --username/--password or MODAX_MQTT_USERNAME/MODAX_MQTT_PASSWORD)"
    return False, f"broker {broker} refused the connection: {name}{hint}"


def describe_os_error(exc: OSError, broker: BrokerURL, auth: BrokerAuth) -> tuple[bool, str]:
    """Whether a failed connect is worth retrying, and a message saying what happened."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        ca = auth.ca_file or "the system CA store"
        return False, (
            f"TLS: the certificate of {broker} does not verify against {ca}: "
            f"{exc.verify_message or exc}"
        )
    if isinstance(exc, ssl.SSLError):
        return False, f"TLS handshake with {broker} failed: {exc.reason or exc}"
    return True, f"cannot reach broker {broker}: {exc.strerror or exc}"
