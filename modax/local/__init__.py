"""Services for one machine with no set-up: the embedded broker, a local S3 server, the demo.

Only the CLI and the tests use these; the library itself never starts a process.
"""

from modax.local._broker import (
    AMQTT_WARNING,
    BrokerError,
    BrokerKind,
    BrokerProcess,
    TLSListener,
    find_mosquitto,
    mosquitto_config,
    start_broker,
)
from modax.local._s3server import LocalS3Server, moto_available
from modax.local._supervisor import Service, Supervisor, modax_command, port_open

__all__ = [
    "AMQTT_WARNING",
    "BrokerError",
    "BrokerKind",
    "BrokerProcess",
    "LocalS3Server",
    "Service",
    "Supervisor",
    "TLSListener",
    "find_mosquitto",
    "modax_command",
    "mosquitto_config",
    "moto_available",
    "port_open",
    "start_broker",
]
