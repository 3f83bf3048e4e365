"""Write the shared safety vectors firmware/vectors/safety_*.json (format: docs/safety-rules.md).

The firmware's C++ core, the numba kernel modax.kernels.safety and its plain-Python reference twin
are all held to these files. Expected flags and events come from the reference twin, and every
edge the vectors exist for is also asserted here by hand (``expect``), so a wrong twin cannot
write wrong vectors.

    .venv/bin/python firmware/vectors/make_vectors.py          # rewrite the files
    .venv/bin/python firmware/vectors/make_vectors.py --check  # fail if a file differs
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from modax.kernels._reference import ReferenceSafety
from modax.kernels.safety import VECTOR_KINDS, SafetyConfig

HERE = Path(__file__).resolve().parent
DEFAULT = SafetyConfig()


def vib(x: float, y: float, z: float) -> dict[str, float]:
    x, y, z = round(x, 6), round(y, 6), round(z, 6)
    return {"x": x, "y": y, "z": z, "magnitude": round(math.sqrt(x * x + y * y + z * z), 6)}


class Vector:
    """One scenario: readings appended in order; ``expect`` pins flags by hand."""

    def __init__(self, name: str, description: str, **config: float) -> None:
        self.name = name
        self.description = description
        self.config = SafetyConfig(**config)
        self.readings: list[dict] = []
        self.pinned: list[tuple[int, dict[str, bool]]] = []
        self.ts = 0
        self.noise = 0

    def add(
        self,
        currents: list[float],
        temperatures: list[float],
        step_ms: int = 100,
        vibration: dict[str, float] | None = None,
        **flags: bool,
    ) -> int:
        """Append one reading ``step_ms`` after the previous one; returns its index."""
        if self.readings:
            self.ts += step_ms
        if vibration is None:  # a live MEMS sensor: never the same value twice in a row
            self.noise += 1
            n = self.noise
            vibration = vib(0.1 + 0.001 * (n % 7), 0.001 * (n % 5), 9.8 + 0.001 * (n % 3))
        self.readings.append(
            {
                "ts": self.ts,
                "motor_currents": currents,
                "temperatures": temperatures,
                "vibration": vibration,
            }
        )
        index = len(self.readings) - 1
        if flags:
            self.pinned.append((index, flags))
        return index

    def build(self) -> dict:
        twin = ReferenceSafety(self.config)
        expected, events = [], []
        for i, r in enumerate(self.readings):
            v = r["vibration"]
            for _, _, kind, state, value, threshold in twin.reading(
                "v", r["ts"], r["motor_currents"], r["temperatures"], (v["x"], v["y"], v["z"])
            ):
                if kind in VECTOR_KINDS:
                    events.append(
                        {
                            "index": i,
                            "kind": kind,
                            "state": state,
                            "value": value,
                            "threshold": threshold,
                        }
                    )
            flags = twin.flags("v")
            expected.append({k: flags[k] for k in VECTOR_KINDS})
        for index, flags in self.pinned:
            for kind, want in flags.items():
                got = expected[index][kind]
                assert got == want, f"{self.name}: reading {index} {kind} is {got}, pinned {want}"
        config = self.config.to_dict()
        del config["stale_after_ms"]  # not evaluated on the device
        return {
            "name": self.name,
            "description": self.description,
            "config": config,
            "readings": self.readings,
            "expected": expected,
            "events": events,
        }


def overload() -> Vector:
    v = Vector(
        "overload-begin-end", "current crosses 10 A and falls back; exactly 10.0 A is not overload"
    )
    v.add([4.0, 4.1], [40.0], overload=False)
    v.add([9.99, 9.9], [40.0], overload=False)
    v.add([10.0, 9.9], [40.0], overload=False)  # the firmware rule is current > 10.0
    v.add([10.0001, 9.9], [40.0], overload=True)
    v.add([12.5, 12.0], [40.0], overload=True)
    v.add([10.0, 10.0], [40.0], overload=False)
    v.add([-10.5, 4.0], [40.0], overload=True)  # abs(I): a negative phase current counts
    v.add([4.0, 4.0], [40.0], overload=False)
    v.add([4.0, 4.0, 4.0, 10.2], [40.0], overload=True)  # only the 4th channel is high
    v.add([4.0], [40.0], overload=False)
    v.add([], [40.0], overload=False)  # no currents at all
    return v


def overtemp() -> Vector:
    v = Vector("overtemp-edges", "85.0 °C is overtemp (temperature_ok is T < 85), 84.99 is not")
    v.add([4.0], [84.0], overtemp=False)
    v.add([4.0], [84.99], overtemp=False)
    v.add([4.0], [85.0], overtemp=True)
    v.add([4.0], [90.0], overtemp=True)
    v.add([4.0], [84.99], overtemp=False)
    v.add([4.0], [40.0, 85.5], overtemp=True)  # any sensor
    v.add([4.0], [40.0], overtemp=False)  # the hot sensor disappeared
    v.add([4.0], [], overtemp=False)  # no temperature at all
    v.add([4.0], [-10.0, 86.0, 30.0, 20.0], overtemp=True)
    return v


def temp_rise() -> Vector:
    v = Vector(
        "temp-rise-windows",
        "rate of max(T) over >= 10 s windows: slow warm-up, exactly 0.5 °C/s (not above), a fast"
        " rise, readings without temperatures in between, then cooling",
    )
    t = 40.0

    def amps() -> list[float]:  # a live current, so sensor_stuck stays out of this vector
        return [round(4.0 + 0.001 * len(v.readings), 6)]

    v.add(amps(), [t], step_ms=0, temp_rise=False)
    for _ in range(20):  # 0.1 °C/s, one reading per second
        t += 0.1
        v.add(amps(), [round(t, 6)], step_ms=1000, temp_rise=False)
    for _ in range(10):  # exactly 0.5 °C/s: 5.0 °C over the 10 s window, not above
        t += 0.5
        v.add(amps(), [round(t, 6)], step_ms=1000, temp_rise=False)
    for k in range(10):  # 1 °C/s: judged only when the 10 s window is complete
        t += 1.0
        v.add(amps(), [round(t, 6)], step_ms=1000, temp_rise=k == 9)
    v.add(amps(), [], step_ms=1000, temp_rise=True)  # no temperatures: the flag stays
    v.add(amps(), [], step_ms=1000, temp_rise=True)
    for k in range(12):  # flat: the next complete window ends it
        v.add(amps(), [round(t, 6), 20.0], step_ms=1000, temp_rise=k < 7)
    v.add(amps(), [round(t - 30, 6)], step_ms=2500, temp_rise=False)
    return v


def imbalance() -> Vector:
    v = Vector(
        "current-imbalance",
        "(max|I| - min|I|) / mean|I| > 0.25 while mean|I| >= 1 A and at least two currents",
    )
    v.add([5.0, 5.0, 5.0], [40.0], current_imbalance=False)
    v.add([5.0, 5.0, 3.7], [40.0], current_imbalance=True)  # 1.3 / 4.5667 = 0.285
    v.add([4.5, 3.5], [40.0], current_imbalance=False)  # exactly 0.25: not above
    v.add([0.5, 0.1], [40.0], current_imbalance=False)  # ratio 1.33 but mean 0.3 A < 1 A
    v.add([1.5, 0.5], [40.0], current_imbalance=True)  # mean exactly 1.0 A: checked
    v.add([6.0], [40.0], current_imbalance=False)  # one current: undefined
    v.add([6.0, -6.0], [40.0], current_imbalance=False)  # abs(I)
    v.add([6.0, 0.0, 6.0, 6.0], [40.0], current_imbalance=True)  # a dead phase
    v.add([0.0, 0.0], [40.0], current_imbalance=False)  # motor off: mean 0
    return v


def stuck() -> Vector:
    v = Vector(
        "sensor-stuck",
        "a channel repeating the same value for stuck_samples readings; channels that disappear"
        " reset their run, channels that appear start at 1",
        stuck_samples=5,
    )
    for k in range(6):
        v.add([round(4.0 + 0.01 * k, 6)], [55.5], sensor_stuck=k >= 4)  # temp_1 stuck at 55.5
    v.add([4.1], [55.6], sensor_stuck=False)
    for k in range(3):
        v.add([round(4.2 + 0.01 * k, 6)], [round(55.7 + 0.1 * k, 6), 30.0], sensor_stuck=False)
    v.add([4.3], [56.0], sensor_stuck=False)  # temp_2 disappears: its run resets
    v.add([4.3], [56.1, 30.0], sensor_stuck=False)  # ... and starts again at 1
    for k in range(4):
        v.add([round(4.4 + 0.01 * k, 6)], [round(56.2 + 0.1 * k, 6), 30.0], sensor_stuck=k == 3)
    v.add([4.5], [57.0], sensor_stuck=False)
    frozen = vib(0.25, 0.0123, 9.7654)  # values the live noise never takes
    for k in range(5):  # the accelerometer freezes (all axes)
        v.add(
            [round(4.6 + 0.01 * k, 6)],
            [round(57.1 + 0.1 * k, 6)],
            vibration=frozen,
            sensor_stuck=k == 4,
        )
    v.add([4.7], [58.0], sensor_stuck=False)
    for k in range(5):  # a current channel stuck at 0.0 A (a dead ACS712)
        v.add([round(4.8 + 0.01 * k, 6), 0.0], [round(58.1 + 0.1 * k, 6)], sensor_stuck=k == 4)
    return v


def stuck_default() -> Vector:
    v = Vector("sensor-stuck-default", "default stuck_samples = 50: 49 equal readings are fine")
    for k in range(52):
        v.add([round(4.0 + 0.001 * k, 6)], [61.25], sensor_stuck=k >= 49)
    v.add([4.1], [61.3], sensor_stuck=False)
    return v


def channels() -> Vector:
    v = Vector(
        "channels-appear-disappear",
        "currents and temperatures come and go between readings (1 to 4 channels)",
    )
    v.add([4.0], [40.0], overload=False, current_imbalance=False)
    v.add([4.0, 4.1, 4.0], [40.0, 41.0], current_imbalance=False)
    v.add([4.0, 4.1, 4.0, 11.0], [40.0, 41.0, 42.0, 85.0], overload=True, overtemp=True)
    v.add([4.0, 4.1], [40.0], overload=False, overtemp=False)
    v.add([4.0, 2.0], [40.0, 41.0, 42.0], current_imbalance=True)
    v.add([2.0], [], current_imbalance=False)
    v.add([], [], current_imbalance=False, overload=False)
    v.add([4.0, 4.0, 4.0, 4.0], [39.0, 40.0, 41.0, 42.0])
    return v


def combined() -> Vector:
    v = Vector(
        "combined",
        "several rules change on the same reading: events come in rule order",
        stuck_samples=3,
    )
    v.add([4.0, 4.1], [50.0])
    v.add([11.0, 4.0], [86.0], overload=True, overtemp=True, current_imbalance=True)
    v.add([11.0, 4.0], [86.0], step_ms=200)
    v.add([11.0, 4.0], [86.0], step_ms=200, sensor_stuck=True)
    v.add(
        [4.0, 4.2],
        [50.0],
        overload=False,
        overtemp=False,
        current_imbalance=False,
        sensor_stuck=False,
    )
    return v


VECTORS = (overload, overtemp, temp_rise, imbalance, stuck, stuck_default, channels, combined)


def render(vector: dict) -> str:
    lines = ["{"]
    head = {k: vector[k] for k in ("name", "description", "config")}
    for key, value in head.items():
        lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},")
    for key in ("readings", "expected", "events"):
        items = [f"    {json.dumps(item, ensure_ascii=False)}" for item in vector[key]]
        comma = "," if key != "events" else ""
        lines.append(f"  {json.dumps(key)}: [\n" + ",\n".join(items) + f"\n  ]{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for make in VECTORS:
        vector = make().build()
        path = HERE / f"safety_{vector['name']}.json"
        text = render(vector)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
            print(
                f"wrote {path.name}: {len(vector['readings'])} readings, "
                f"{len(vector['events'])} events"
            )
    if stale:
        print(f"out of date (run firmware/vectors/make_vectors.py): {stale}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
