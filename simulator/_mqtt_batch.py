"""QoS 0 PUBLISH packets written in batches on a paho client's socket.

paho-mqtt builds and sends every message on its own (one ``send`` system call and about 60 µs
of Python per message), which caps one process at about 10 000 messages/s. QoS 0 messages need no
packet id, acknowledgement or retry, so the live publisher encodes them itself (MQTT 3.1.1 §3.3)
and writes all of a client's messages of a loop iteration in one ``send``. paho keeps the
connection (CONNECT, last will, keep-alive, QoS 1 status messages); :meth:`BatchWriter.flush`
writes only when paho has nothing queued, and drains completely before paho writes again, so
packets never interleave.

Examples
--------
>>> list(publish_packet("a/b", b"hi"))  # PUBLISH QoS 0, 7 bytes follow, topic of length 3
[48, 7, 0, 3, 97, 47, 98, 104, 105]
"""

from __future__ import annotations

import functools
import select
import socket
import ssl
from typing import cast

import paho.mqtt.client as mqtt

__all__ = ["BatchWriter", "client_socket", "publish_packet"]

_PUBLISH_QOS0 = 0x30
_WOULD_BLOCK = (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError)


@functools.lru_cache(maxsize=65536)
def _topic_field(topic: str) -> bytes:
    """The topic as a PUBLISH packet carries it: length (2 bytes, big-endian), UTF-8."""
    name = topic.encode()
    return len(name).to_bytes(2, "big") + name


def publish_packet(topic: str, payload: bytes) -> bytes:
    """An MQTT 3.1.1 PUBLISH packet, QoS 0, not retained."""
    name = _topic_field(topic)
    remaining = len(name) + len(payload)
    header = bytearray([_PUBLISH_QOS0])
    while True:
        byte, remaining = remaining & 0x7F, remaining >> 7
        header.append(byte | (0x80 if remaining else 0))
        if not remaining:
            break
    return b"".join((header, name, payload))


class BatchWriter:
    """Per-client buffers of QoS 0 packets, each written in as few ``send`` calls as possible.

    Parameters
    ----------
    timeout : float
        Longest wait for a full socket to take more, s (then the connection counts as broken).
    """

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._buffers: dict[mqtt.Client, bytearray] = {}

    def add(self, client: mqtt.Client, topic: str, payload: bytes) -> None:
        """Queue one QoS 0 message for ``client``."""
        self._buffers.setdefault(client, bytearray()).extend(publish_packet(topic, payload))

    def flush(self) -> None:
        """Write every client's queued packets, after whatever paho has queued.

        A client whose socket still holds paho's data keeps its packets for the next flush.
        """
        for client, buffer in self._buffers.items():
            if buffer and client.want_write():
                client.loop_write()
            if buffer and not client.want_write():
                self._drain(client, buffer)

    def pending(self) -> bool:
        """Whether any packet waits for a flush."""
        return any(self._buffers.values())

    def _drain(self, client: mqtt.Client, buffer: bytearray) -> None:
        sock = client_socket(client)
        view = memoryview(buffer)
        sent = 0
        try:
            while sent < len(buffer):
                try:
                    sent += sock.send(view[sent:])
                except _WOULD_BLOCK:
                    if not select.select([], [sock], [], self.timeout)[1]:
                        raise ConnectionError(
                            f"broker took no data for {self.timeout:g} s"
                        ) from None
        finally:
            view.release()
            del buffer[:sent]


def client_socket(client: mqtt.Client) -> socket.socket:
    """The socket of a connected paho client (``ConnectionError`` when it has none)."""
    sock = client.socket()
    if sock is None:
        raise ConnectionError("the MQTT client is not connected")
    return cast(socket.socket, sock)
