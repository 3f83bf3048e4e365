"""Derived messages: safety events from the ingester, advisories from ``modax advise``.

The ingester publishes one :class:`SafetyEvent` per ``safety_events`` row to
``modax/devices/{id}/events`` (see ``docs/safety-rules.md``); the advisor publishes
:class:`Advisory` alerts, with their :class:`Recommendation` list, to
``modax/devices/{id}/advisory``. Both producers encode these structs and dashboards decode them,
so the field names on the wire are defined here once.
"""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["Advisory", "Recommendation", "SafetyEvent"]


class SafetyEvent(msgspec.Struct):
    """A state change of one safety rule of one device (a ``safety_events`` row).

    Attributes
    ----------
    device_id : str
        The device.
    ts : int
        Event time, epoch ms (UTC).
    kind : str
        The rule: ``overload``, ``overtemp``, ``temp_rise``, ``current_imbalance``,
        ``sensor_stuck``, ``emergency_stop``, ``door_open`` or ``stale``.
    state : {"begin", "end"}
        Whether the condition starts or ends.
    value, threshold : float or None
        The reading that caused the change and the rule's limit (units of the rule).

    Examples
    --------
    >>> SafetyEvent("m1", 1_700_000_000_000, "overload", "begin", 12.5, 10.0).state
    'begin'
    >>> msgspec.json.encode(SafetyEvent("m1", 5, "stale", "end"))
    b'{"device_id":"m1","ts":5,"kind":"stale","state":"end","value":null,"threshold":null}'
    """

    device_id: str
    ts: int
    kind: str
    state: Literal["begin", "end"]
    value: float | None = None
    threshold: float | None = None


class Recommendation(msgspec.Struct, frozen=True):
    """One piece of advice: a stable ``code``, the text, how urgent, and what triggered it.

    Advisory only: nothing here acts on the machine. :func:`modax.advisory.recommend` makes
    them and an :class:`Advisory` carries them.

    Attributes
    ----------
    code : str
        Stable identifier of the rule (``reduce_load``, ``schedule_maintenance``...).
    message : str
        The advice for the operator.
    severity : str
        ``urgent``, ``warning`` or ``info``.
    evidence : dict of str to float or str
        Each measured quantity with its value and the limit it crossed (units in the key,
        e.g. ``mean_current_a``), so an operator can check the reasoning.

    Examples
    --------
    >>> r = Recommendation("reduce_load", "Reduce load", "warning", {"mean_current_a": 7.1})
    >>> msgspec.json.decode(msgspec.json.encode(r), type=Recommendation) == r
    True
    >>> msgspec.to_builtins(r)["evidence"]
    {'mean_current_a': 7.1}
    """

    code: str
    message: str
    severity: str = "info"
    evidence: dict[str, float | str] = msgspec.field(default_factory=dict)


class Advisory(msgspec.Struct):
    """An advisory alert from a model, as ``modax advise`` publishes it (AI is advisory only: it
    never changes a safety state).

    Attributes
    ----------
    device_id : str
        The device.
    ts : int
        Time of the scored reading, epoch ms (UTC).
    state : {"raised", "cleared"} or None
        Whether the model starts or stops alerting; ``None`` for a plain score update.
    kind : str
        What the model says (``advisory`` for anomaly alerts, ``wear``...).
    model : str or None
        The model's name.
    score, threshold : float or None
        Anomaly score and the model's alarm threshold (higher is more anomalous).
    rul_h : float or None
        Estimated remaining useful life, h (the interval's median or point estimate).
    rul_low_h, rul_high_h : float or None
        Bounds of the estimate's interval, h (nominal 80 %: 10 % and 90 % quantiles).
    rul_cap_h : float or None
        The remaining-life model's cap, h: an estimate at the cap means "at least this long"
        (shown as "≥ cap").
    recommendations : list of Recommendation
        Advice for the operator, most urgent first.
    advisory : bool
        Always true: the label that this is model output, not a safety decision.
    safety_effect : str
        Always ``"none"``: an advisory never changes a safety state.
    note : str or None
        A human-readable statement of the above.

    Examples
    --------
    >>> Advisory("m1", 1_700_000_000_000, state="raised", score=0.93, threshold=0.5).state
    'raised'
    """

    device_id: str
    ts: int
    state: Literal["raised", "cleared"] | None = None
    kind: str = "advisory"
    model: str | None = None
    score: float | None = None
    threshold: float | None = None
    rul_h: float | None = None
    rul_low_h: float | None = None
    rul_high_h: float | None = None
    rul_cap_h: float | None = None
    recommendations: list[Recommendation] = msgspec.field(default_factory=list)
    advisory: bool = True
    safety_effect: str = "none"
    note: str | None = None
