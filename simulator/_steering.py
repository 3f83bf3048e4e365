"""Steering a live fleet: commands received over MQTT, applied between chunks, each acknowledged.

:class:`Steering` takes raw commands from any thread (:meth:`Steering.receive`, e.g. a paho
callback) and applies them on the thread that runs the fleet (:meth:`Steering.apply`), before
the next chunk is simulated — so a command changes the physics from the next step on and never
in the middle of one. Every command gets a :class:`~modax.schema.CommandAck`: accepted, or
rejected with the reason (:func:`modax.schema.decode_command`'s), in which case nothing changes.

=================  ===================================================================
command            what the twin does
=================  ===================================================================
set_sample_rate    publishes that device's telemetry at most ``rate_hz`` times a second
set_thresholds     its safety flags (overload, temperature_ok) use the new limits
inject_fault       :meth:`Fleet.inject` from now: ground truth records it with its time
set_load           its base load becomes ``load_fraction`` of rated (profile kept)
set_motor          stop: load 0 (the base load is kept for the next start); start: back
reboot             a ``reboot`` fault: silent for 3 s, then timestamps since boot for 10 s
=================  ===================================================================

Examples
--------
>>> from simulator import Fleet
>>> fleet = Fleet(n_devices=1, prefix="m")
>>> steering = Steering(fleet)
>>> steering.receive(
...     "modax/devices/m-0000/command",
...     b'{"type":"set_load","device_id":"m-0000","command_id":"c1","load_fraction":0.5}',
... )
>>> [(a.command_id, a.accepted) for a in steering.apply(now_ms=1)]
[('c1', True)]
>>> float(fleet.params_[0, P_LOAD])
0.5
"""

from __future__ import annotations

import math
import queue

from modax.schema import (
    Command,
    CommandAck,
    InjectFault,
    Kind,
    MessageError,
    Reason,
    Reboot,
    SetLoad,
    SetMotor,
    SetSampleRate,
    SetThresholds,
    decode_command,
    parse_topic,
)
from simulator._fleet import Fleet
from simulator._network import BOOT_S
from simulator._params import P_LOAD, P_MAX_TEMP_C, P_OVERLOAD_A

__all__ = ["MAX_BURST_S", "REBOOT_RESYNC_S", "Steering"]

#: Seconds after a commanded reboot until the device's clock is NTP-synced again.
REBOOT_RESYNC_S = BOOT_S + 7.0
#: Longest burst a command may inject, s: the publisher holds every message of it until its end.
MAX_BURST_S = 600.0


def _check_burst(command: Command) -> None:
    """A burst holds messages in memory until it ends: it must end, within :data:`MAX_BURST_S`."""
    if isinstance(command, InjectFault) and command.kind == "burst":
        duration = math.inf if command.duration_s is None else command.duration_s
        if duration > MAX_BURST_S:
            raise MessageError(
                Reason.OUT_OF_RANGE,
                "duration_s",
                f"a burst holds every message until it ends: at most {MAX_BURST_S:g} s",
            )


class Steering:
    """Commands for the devices of one live :class:`~simulator.Fleet`.

    Parameters
    ----------
    fleet : Fleet
        The fleet the commands act on.

    Attributes
    ----------
    rate_hz : dict
        Telemetry rate set by command, per device id (Hz); absent: every reading (10 Hz).
    """

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.rate_hz: dict[str, float] = {}
        self._inbox: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
        self._stopped: dict[int, float] = {}
        self._index = {device_id: i for i, device_id in enumerate(fleet.device_ids)}

    def receive(self, topic: str, payload: bytes | bytearray) -> None:
        """Queue a raw command (thread-safe); :meth:`apply` decodes and applies it."""
        self._inbox.put((topic, bytes(payload)))

    def _sim_ms(self) -> int:
        return self.fleet.start_ms + round(self.fleet.time_s * 1000)

    def apply(self, now_ms: int) -> list[CommandAck]:
        """Apply every queued command from the fleet's next step on; one ack per command.

        Parameters
        ----------
        now_ms : int
            Wall time of the acks, epoch ms (UTC).
        """
        acks: list[CommandAck] = []
        while True:
            try:
                topic, payload = self._inbox.get_nowait()
            except queue.Empty:
                return acks
            acks.append(self._one(topic, payload, now_ms))

    def _one(self, topic: str, payload: bytes, now_ms: int) -> CommandAck:
        parsed = parse_topic(topic)
        device_id = parsed[1] if parsed is not None and parsed[0] is Kind.COMMAND else None
        try:
            command = decode_command(topic, payload)
            index = self._index.get(command.device_id)
            if index is None:
                raise MessageError(
                    Reason.INVALID_DEVICE_ID, "device_id", "not a device of this twin"
                )
            _check_burst(command)
        except MessageError as err:
            return CommandAck.reject(device_id or "", payload, err, now_ms)
        self._act(command, index)
        return CommandAck.accept(command, now_ms, applies_at=self._sim_ms())

    def _act(self, command: Command, index: int) -> None:
        fleet = self.fleet
        if isinstance(command, SetSampleRate):
            self.rate_hz[command.device_id] = command.rate_hz
        elif isinstance(command, SetThresholds):
            if command.overload_current_a is not None:
                fleet.params_[index, P_OVERLOAD_A] = command.overload_current_a
            if command.max_temperature_c is not None:
                fleet.params_[index, P_MAX_TEMP_C] = command.max_temperature_c
        elif isinstance(command, InjectFault):
            duration = math.inf if command.duration_s is None else command.duration_s
            fleet.inject(
                index,
                command.kind,
                start_s=fleet.time_s,
                duration_s=duration,
                severity=command.severity,
                channel=command.channel,
            )
        elif isinstance(command, SetLoad):
            if index in self._stopped:
                self._stopped[index] = command.load_fraction
            else:
                fleet.params_[index, P_LOAD] = command.load_fraction
        elif isinstance(command, SetMotor):
            if not command.running and index not in self._stopped:
                self._stopped[index] = float(fleet.params_[index, P_LOAD])
                fleet.params_[index, P_LOAD] = 0.0
            elif command.running and index in self._stopped:
                fleet.params_[index, P_LOAD] = self._stopped.pop(index)
        elif isinstance(command, Reboot):
            fleet.inject(index, "reboot", start_s=fleet.time_s, duration_s=REBOOT_RESYNC_S)
