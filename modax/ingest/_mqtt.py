"""The MQTT side of ingestion: topics, credentials, TLS and a paho-mqtt 2.x client."""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from modax.config import BrokerURL, Settings
from modax.schema import LEGACY_SAFETY_TOPIC, LEGACY_TELEMETRY_TOPIC

__all__ = [
    "DEFAULT_TOPICS",
    "BrokerAuth",
    "IngestError",
    "LastError",
    "connect_properties",
    "describe_os_error",
    "describe_refusal",
    "make_client",
    "shared_topic",
]

#: What ``modax ingest`` subscribes to: per-device telemetry, safety and status, and the MODAX
#: firmware's legacy topics.
DEFAULT_TOPICS = (
    "modax/devices/+/telemetry",
    "modax/devices/+/safety",
    "modax/devices/+/status",
    LEGACY_TELEMETRY_TOPIC,
    LEGACY_SAFETY_TOPIC,
)
#: CONNACK reason codes worth retrying (the broker is there but cannot take us now).
_TRANSIENT = frozenset({"Server unavailable", "Server busy", "Connection rate exceeded"})


class IngestError(RuntimeError):
    """Ingestion cannot go on (refused credentials, TLS verification failed); says what to fix."""


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
        """Take ``MODAX_MQTT_*`` settings."""
        return cls(
            settings.mqtt_username,
            settings.mqtt_password,
            settings.mqtt_ca_file,
            settings.mqtt_cert_file,
            settings.mqtt_key_file,
        )


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
        logger = logging.getLogger(f"modax.ingest.paho.{name}")
        logger.setLevel(logging.ERROR)
        handler = cls()
        logger.handlers[:] = [handler]
        client.enable_logger(logger)
        return handler


def shared_topic(topic: str, group: str | None) -> str:
    """The MQTT 5 shared-subscription form of ``topic`` for ``group`` (``topic`` when ``None``).

    Examples
    --------
    >>> shared_topic("modax/devices/+/telemetry", "modax")
    '$share/modax/modax/devices/+/telemetry'
    """
    return topic if group is None else f"$share/{group}/{topic}"


def connect_properties(session_expiry_s: int, receive_maximum: int) -> Properties:
    """CONNECT properties: session kept ``session_expiry_s`` s, ``receive_maximum`` unacked."""
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = session_expiry_s
    props.ReceiveMaximum = receive_maximum
    return props


def make_client(
    client_id: str, broker: BrokerURL, auth: BrokerAuth, *, manual_ack: bool, mqtt5: bool = True
) -> mqtt.Client:
    """A paho-mqtt 2.x client with credentials and (for ``mqtts://``) verified TLS.

    MQTT 5 by default; with ``mqtt5=False`` MQTT 3.1.1 with a persistent session
    (``clean_session=False``), for brokers that speak only 3.1.1 such as amqtt.

    Raises
    ------
    IngestError
        When a TLS file cannot be loaded.
    """
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5 if mqtt5 else mqtt.MQTTv311,
        clean_session=None if mqtt5 else False,
        manual_ack=manual_ack,
    )
    client.suppress_exceptions = True  # a failing callback is logged; the network loop goes on
    if auth.username is not None:
        client.username_pw_set(auth.username, auth.password)
    if broker.tls:
        try:
            client.tls_set(
                ca_certs=auth.ca_file,
                certfile=auth.cert_file,
                keyfile=auth.key_file,
                cert_reqs=ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        except (OSError, ssl.SSLError) as exc:
            raise IngestError(f"cannot load the TLS files for {broker}: {exc}") from None
    return client


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
