"""Scenarios: a fleet's make-up and the faults injected into it, read from readable TOML files.

A scenario file (see ``simulator/scenarios/*.toml``)::

    name = "mixed-faults"
    description = "..."

    [fleet]                       # every range is [low, high], drawn per device
    load_profiles = { steady = 1, cyclic = 1, random = 1, start_stop = 1 }   # weights
    rated_current_a = [2.5, 7.0]
    ambient_c = [18.0, 32.0]
    load_fraction = [0.55, 0.85]
    initial_damage = [0.0, 0.2]
    wear_acceleration = 1.0       # 1 = real time; see simulator/README.md
    replace_after_s = 120         # optional: a failed motor is replaced after this

    [[faults]]
    kind = "overload"             # a FaultKind
    fraction = 0.1                # of the devices (or: devices = [0, 3])
    onset_s = [30, 240]           # a number or a [low, high] range
    duration_s = [60, 180]
    severity = [0.7, 1.0]
    every_s = 600                 # optional: draw again every 600 s of simulated time
    channel = "temp_1"            # sensor faults only

Examples
--------
>>> s = Scenario.load("healthy")
>>> s.name, len(s.faults)
('healthy', 0)
>>> Scenario.from_dict({"name": "x", "faults": [{"kind": "melt"}]})
Traceback (most recent call last):
...
simulator._scenario.ScenarioError: scenario 'x': faults[0].kind: 'melt' is not a fault kind ...
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator._faults import FaultKind
from simulator._load import PROFILES
from simulator._sensors import CHANNELS

__all__ = ["SCENARIO_DIR", "FaultRule", "Scenario", "ScenarioError", "list_scenarios"]

#: Where the built-in scenarios live.
SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
Range = tuple[float, float]


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message names the scenario, the field and the reason."""


def list_scenarios() -> list[str]:
    """Names of the built-in scenarios."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


def _range(where: str, value: Any, low: float = -math.inf, high: float = math.inf) -> Range:
    if isinstance(value, int | float) and not isinstance(value, bool):
        pair = (float(value), float(value))
    elif (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        pair = (float(value[0]), float(value[1]))
    else:
        raise ScenarioError(f"{where}: {value!r} is neither a number nor a [low, high] pair")
    if pair[0] > pair[1]:
        raise ScenarioError(f"{where}: low {pair[0]:g} is above high {pair[1]:g}")
    if pair[0] < low or pair[1] > high:
        raise ScenarioError(f"{where}: {list(pair)} is outside {low:g}…{high:g}")
    return pair


@dataclass(frozen=True)
class FaultRule:
    """How one kind of fault is injected into a fleet.

    Parameters
    ----------
    kind : FaultKind
    fraction : float
        Share of the devices hit (each drawn independently), used when ``devices`` is empty.
    devices : tuple of int
        Device indices that always get the fault.
    onset_s, duration_s, severity : (low, high)
        Uniform ranges: onset after the start of the period (s), duration (s), severity (0–1).
    every_s : float or None
        Draw again every ``every_s`` simulated seconds (periods ``[p·every_s, (p+1)·every_s)``);
        ``None``: once.
    channel : str or None
        The sensor channel of a sensor fault (``current_1``, ``current_2``, ``vibration``,
        ``temp_1``, ``temp_2``).

    Examples
    --------
    >>> FaultRule(FaultKind.OVERLOAD, devices=(0,), onset_s=(5.0, 5.0)).kind.category
    'electrical'
    """

    kind: FaultKind
    fraction: float = 0.0
    devices: tuple[int, ...] = ()
    onset_s: Range = (0.0, 0.0)
    duration_s: Range = (60.0, 60.0)
    severity: Range = (1.0, 1.0)
    every_s: float | None = None
    channel: str | None = None

    @classmethod
    def from_dict(cls, where: str, raw: dict[str, Any]) -> FaultRule:
        """Parse one ``[[faults]]`` table, naming ``where`` in errors."""
        known = {"kind", "fraction", "devices", "onset_s", "duration_s", "severity"}
        unknown = set(raw) - known - {"every_s", "channel"}
        if unknown:
            raise ScenarioError(f"{where}: unknown key(s) {sorted(unknown)}")
        try:
            kind = FaultKind(str(raw.get("kind")))
        except ValueError:
            choices = ", ".join(k.value for k in FaultKind if k is not FaultKind.FAILURE)
            raise ScenarioError(
                f"{where}.kind: {raw.get('kind')!r} is not a fault kind ({choices})"
            ) from None
        if kind is FaultKind.FAILURE:
            raise ScenarioError(f"{where}.kind: failure comes from wear and cannot be injected")
        fraction = raw.get("fraction", 0.0)
        if not isinstance(fraction, int | float) or not 0.0 <= fraction <= 1.0:
            raise ScenarioError(f"{where}.fraction: {fraction!r} must be a number in 0…1")
        devices = raw.get("devices", [])
        if not isinstance(devices, list) or not all(isinstance(d, int) and d >= 0 for d in devices):
            raise ScenarioError(f"{where}.devices: {devices!r} must be a list of device indices")
        every = raw.get("every_s")
        if every is not None and (not isinstance(every, int | float) or every <= 0):
            raise ScenarioError(f"{where}.every_s: {every!r} must be a positive number")
        channel = raw.get("channel")
        if channel is not None and channel not in CHANNELS:
            raise ScenarioError(f"{where}.channel: {channel!r} is not one of {CHANNELS}")
        if channel is not None and kind.category != "sensor":
            raise ScenarioError(f"{where}.channel: only sensor faults take a channel")
        return cls(
            kind=kind,
            fraction=float(fraction),
            devices=tuple(devices),
            onset_s=_range(f"{where}.onset_s", raw.get("onset_s", 0.0), 0.0),
            duration_s=_range(f"{where}.duration_s", raw.get("duration_s", 60.0), 0.0),
            severity=_range(f"{where}.severity", raw.get("severity", 1.0), 0.0, 1.0),
            every_s=float(every) if every is not None else None,
            channel=channel,
        )


@dataclass(frozen=True)
class Scenario:
    """A fleet's make-up (per-device parameter ranges) and its fault rules.

    Parameters
    ----------
    name, description : str
    load_profiles : dict
        Profile name (``steady``, ``cyclic``, ``random``, ``start_stop``) → weight.
    rated_current_a, ambient_c, load_fraction, initial_damage : (low, high)
        Per-device uniform ranges: rated current (A), ambient temperature (°C), mean load
        (fraction of rated), wear damage at the start (0–1).
    wear_acceleration : float
        Wear runs this many times faster than real time (1 = a 10 000 h nominal life).
    replace_after_s : float or None
        A failed motor is replaced by a new one (damage 0) this long after failing.
    faults : tuple of FaultRule

    Examples
    --------
    >>> Scenario.load("run-to-failure").wear_acceleration > 1
    True
    """

    name: str
    description: str = ""
    load_profiles: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PROFILES, 1.0))
    rated_current_a: Range = (2.5, 7.0)
    ambient_c: Range = (18.0, 32.0)
    load_fraction: Range = (0.55, 0.85)
    initial_damage: Range = (0.0, 0.2)
    wear_acceleration: float = 1.0
    replace_after_s: float | None = None
    faults: tuple[FaultRule, ...] = ()

    @classmethod
    def load(cls, name_or_path: str | Path) -> Scenario:
        """A built-in scenario by name (``healthy``, ...) or a TOML file by path."""
        path = Path(name_or_path)
        if not path.suffix:
            path = SCENARIO_DIR / f"{name_or_path}.toml"
            if not path.is_file():
                raise ScenarioError(
                    f"no scenario {str(name_or_path)!r}: built-in ones are "
                    f"{', '.join(list_scenarios())}, or give a .toml file"
                )
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ScenarioError(f"cannot read scenario {path}: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"scenario {path} is not valid TOML: {exc}") from None
        raw.setdefault("name", path.stem)
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Scenario:
        """Build and validate a scenario from a parsed TOML document."""
        name = str(raw.get("name", "custom"))
        where = f"scenario {name!r}"
        unknown = set(raw) - {"name", "description", "fleet", "faults"}
        if unknown:
            raise ScenarioError(f"{where}: unknown key(s) {sorted(unknown)}")
        fleet = raw.get("fleet", {})
        if not isinstance(fleet, dict):
            raise ScenarioError(f"{where}: fleet must be a table")
        defaults = cls(name=name)
        known = {
            "load_profiles",
            "rated_current_a",
            "ambient_c",
            "load_fraction",
            "initial_damage",
            "wear_acceleration",
            "replace_after_s",
        }
        unknown = set(fleet) - known
        if unknown:
            raise ScenarioError(f"{where}: fleet: unknown key(s) {sorted(unknown)}")
        profiles = fleet.get("load_profiles", defaults.load_profiles)
        if (
            not isinstance(profiles, dict)
            or not profiles
            or any(p not in PROFILES for p in profiles)
            or any(not isinstance(w, int | float) or w < 0 for w in profiles.values())
            or sum(profiles.values()) <= 0
        ):
            raise ScenarioError(
                f"{where}: fleet.load_profiles: {profiles!r} must map some of {PROFILES} "
                "to non-negative weights"
            )
        acceleration = fleet.get("wear_acceleration", 1.0)
        if not isinstance(acceleration, int | float) or acceleration <= 0:
            raise ScenarioError(
                f"{where}: fleet.wear_acceleration: {acceleration!r} must be a positive number"
            )
        replace = fleet.get("replace_after_s")
        if replace is not None and (not isinstance(replace, int | float) or replace < 0):
            raise ScenarioError(f"{where}: fleet.replace_after_s: {replace!r} must be a number ≥ 0")
        faults = raw.get("faults", [])
        if not isinstance(faults, list) or not all(isinstance(f, dict) for f in faults):
            raise ScenarioError(f"{where}: faults must be an array of tables ([[faults]])")

        def rng(key: str, low: float = -math.inf, high: float = math.inf) -> Range:
            return _range(
                f"{where}: fleet.{key}", fleet.get(key, getattr(defaults, key)), low, high
            )

        return cls(
            name=name,
            description=str(raw.get("description", "")),
            load_profiles={k: float(v) for k, v in profiles.items()},
            rated_current_a=rng("rated_current_a", 0.1, 20.0),
            ambient_c=rng("ambient_c", -40.0, 60.0),
            load_fraction=rng("load_fraction", 0.0, 1.5),
            initial_damage=rng("initial_damage", 0.0, 1.0),
            wear_acceleration=float(acceleration),
            replace_after_s=float(replace) if replace is not None else None,
            faults=tuple(
                FaultRule.from_dict(f"{where}: faults[{i}]", f) for i, f in enumerate(faults)
            ),
        )
