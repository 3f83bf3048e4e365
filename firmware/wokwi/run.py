"""Drive the modax field device in the Wokwi simulator and record what it says.

Runs in the Wokwi runner's own virtual environment (``make wokwi``: wokwi-client and paho-mqtt
only), started by ``modax wokwi run``, which checks the prerequisites first and judges the
recording afterwards with ``modax.schema``. Standalone use::

    WOKWI_CLI_TOKEN=... firmware/.wokwi-venv/bin/python firmware/wokwi/run.py \
        --project firmware --out wokwi-run.jsonl

Writes one JSON object per line to ``--out``: ``{"source": "serial", "sim_s": ..., "line": ...}``
for the device's serial output, ``{"source": "mqtt", "topic": ..., "payload": ...}`` for every
message it published, and ``{"source": "scenario", "sim_s": ..., "step": ...}`` for every action.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import time
import tomllib
from pathlib import Path

import paho.mqtt.client as mqtt
from wokwi_client import WokwiClientSync

BANNER = re.compile(r"modax: device (\S+) firmware")
BROKER = re.compile(r"modax: mqtt (\S+):(\d+)")

#: (simulation time in s, part id, control, value, what it stands for). The door button is
#: held from the start (door closed); every fault is held for 2 s, then cleared.
SCENARIO = [
    (0, "door", "pressed", 1, "door closed"),
    (12, "current1", "position", 1.0, "motor current 1 at 16.5 A (overload)"),
    (14, "current1", "position", 0.62, "motor current 1 back to 4 A"),
    (16, "ntc1", "temperature", 100.0, "winding at 100 °C (overtemp)"),
    (18, "ntc1", "temperature", 40.0, "winding back to 40 °C"),
    (20, "estop", "pressed", 1, "e-stop pressed"),
    (22, "estop", "pressed", 0, "e-stop released"),
    (24, "door", "pressed", 0, "door opened"),
    (26, "door", "pressed", 1, "door closed"),
    (28, "imu1", "accelX", 0.5, "vibration 0.5 g on x"),
]


class Recorder:
    """Collects serial lines and MQTT messages, thread-safe, into a JSON-lines file."""

    def __init__(self, out: Path) -> None:
        self._file = out.open("w", encoding="utf-8")
        self._lock = threading.Lock()
        self._partial = b""
        self.sim_s = 0.0
        self.device_id: str | None = None
        self.broker: tuple[str, int] | None = None

    def write(self, record: dict) -> None:
        """Append one record."""
        with self._lock:
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()

    def serial(self, chunk: bytes) -> None:
        """Record the complete lines in a chunk of serial output; learn id and broker."""
        self._partial += chunk
        *lines, self._partial = self._partial.split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace").rstrip("\r")
            print(line, flush=True)
            self.write({"source": "serial", "sim_s": self.sim_s, "line": line})
            if (m := BANNER.search(line)) is not None:
                self.device_id = m.group(1)
            if (m := BROKER.search(line)) is not None:
                self.broker = (m.group(1), int(m.group(2)))

    def mqtt(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        """Record one MQTT message (paho ``on_message`` callback)."""
        self.write(
            {
                "source": "mqtt",
                "topic": message.topic,
                "payload": message.payload.decode("utf-8", "replace"),
                "retain": bool(message.retain),
                "wall_s": time.time(),
            }
        )

    def close(self) -> None:
        """Close the recording."""
        self._file.close()


def subscribe(recorder: Recorder, device_id: str, host: str, port: int) -> mqtt.Client:
    """Listen to everything the device publishes, on the broker it was built for."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"modax-wokwi-{os.getpid()}")
    client.on_message = recorder.mqtt
    client.connect(host, port, keepalive=30)
    client.subscribe(f"modax/devices/{device_id}/#", qos=1)
    client.loop_start()
    return client


def main() -> int:
    """Run the scenario; the exit code is 0 when the simulation ran to the end."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True, help="folder with wokwi.toml")
    parser.add_argument("--out", type=Path, required=True, help="JSON-lines recording")
    parser.add_argument("--duration", type=int, default=32, help="simulated seconds")
    args = parser.parse_args()

    token = os.environ.get("WOKWI_CLI_TOKEN")
    if not token:
        print("WOKWI_CLI_TOKEN is not set", file=sys.stderr)
        return 2
    config = tomllib.loads((args.project / "wokwi.toml").read_text())["wokwi"]
    recorder = Recorder(args.out)
    client = WokwiClientSync(token)
    listener = None
    try:
        client.connect()
        client.upload_file("diagram.json", args.project / "diagram.json")
        client.upload_file("firmware.bin", args.project / config["firmware"])
        client.upload_file("firmware.elf", args.project / config["elf"])
        client.serial_monitor(recorder.serial)
        client.start_simulation(firmware="firmware.bin", elf="firmware.elf")
        for second in range(int(args.duration) + 1):
            client.wait_until_simulation_time(second)
            recorder.sim_s = float(second)
            if listener is None and recorder.device_id and recorder.broker:
                listener = subscribe(recorder, recorder.device_id, *recorder.broker)
            for at, part, control, value, what in SCENARIO:
                if at == second:
                    client.set_control(part, control, value)
                    recorder.write({"source": "scenario", "sim_s": at, "step": what})
        time.sleep(2.0)  # messages still on their way through the gateway and the broker
    finally:
        if listener is not None:
            listener.loop_stop()
            listener.disconnect()
        client.disconnect()
        recorder.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
