"""HTML pieces: escaped text, state badges, device links and sparklines — real text a screen
reader reads.

Every value that comes from a URL, an MQTT message or the lake reaches HTML only through
:func:`html_text` (or a helper here built on it): a device id, an alarm kind or a note is shown as
text, never parsed as markup.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from urllib.parse import quote

__all__ = ["STATE_COLOURS", "device_link", "html_text", "rul_text", "sparkline", "state_badge"]

#: Background colour of each device state (safety alarm red, model warning amber, offline grey).
STATE_COLOURS = {
    "alarm": "#c62828",
    "warning": "#ef6c00",
    "offline": "#616161",
    "inactive": "#8d6e63",
    "ok": "#2e7d32",
}
_BADGE = (
    "background:{bg};color:#fff;padding:1px 8px;border-radius:9px;font-weight:600;font-size:0.85em"
)


def html_text(value: object) -> str:
    """``value`` as text that is safe inside HTML: element content or a quoted attribute.

    Parameters
    ----------
    value : object
        Anything; ``str(value)`` is escaped (``& < > " '``).

    Examples
    --------
    >>> html_text('<img src=x onerror="alert(1)">')
    '&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'
    """
    return html.escape(str(value), quote=True)


def _given(value: float | None) -> float | None:
    """``value``, or ``None`` when it is missing (``None`` or NaN, as in a table)."""
    return None if value is None or math.isnan(value) else value


def _at_cap(value: float, cap: float | None) -> bool:
    return cap is not None and value >= cap


def rul_text(
    rul_h: float | None,
    low_h: float | None = None,
    high_h: float | None = None,
    cap_h: float | None = None,
    unit: str = "",
) -> str:
    """A remaining-life estimate with its interval: ``812 (640–990)``; ``≥ 1000`` at the cap.

    Parameters
    ----------
    rul_h : float or None
        The estimate, h (``None`` or NaN: no estimate, empty text).
    low_h, high_h : float or None
        Its interval (nominal 80 %), h; left out when either is missing (``None`` or NaN).
    cap_h : float or None
        The model's cap, h: an estimate (or bound) at the cap only says "at least the cap".
    unit : str
        Appended to the estimate (``" h"`` where no column title says the unit).

    Examples
    --------
    >>> rul_text(812.4, 640.0, 990.2, 1000.0)
    '812 (640–990)'
    >>> rul_text(1000.0, 870.0, 1000.0, 1000.0, unit=" h")
    '≥ 1000 h'
    >>> rul_text(812.4, 640.0, 1000.0, 1000.0)
    '812 (640–≥ 1000)'
    >>> rul_text(None)
    ''
    """
    rul_h, low_h, high_h, cap_h = (_given(v) for v in (rul_h, low_h, high_h, cap_h))
    if rul_h is None:
        return ""
    if _at_cap(rul_h, cap_h):
        return f"≥ {cap_h:.0f}{unit}"
    text = f"{rul_h:.0f}{unit}"
    if low_h is None or high_h is None:
        return text
    high = f"≥ {cap_h:.0f}" if _at_cap(high_h, cap_h) else f"{high_h:.0f}"
    return f"{text} ({low_h:.0f}–{high})"


def state_badge(state: str) -> str:
    """A coloured badge with the state as its text.

    Examples
    --------
    >>> "alarm</span>" in state_badge("alarm")
    True
    """
    colour = STATE_COLOURS.get(state, "#455a64")
    style = _BADGE.format(bg=colour)
    text = html_text(state)
    return f'<span class="modax-state" data-state="{text}" style="{style}">{text}</span>'


def device_link(device_id: str, page: str = "device") -> str:
    """A link to a device's drill-down page: ``<page>?id=<device_id>``.

    Examples
    --------
    >>> device_link("m1")
    '<a class="modax-device" href="device?id=m1">m1</a>'
    """
    return (
        f'<a class="modax-device" href="{html_text(page)}?id={quote(device_id, safe="")}">'
        f"{html_text(device_id)}</a>"
    )


def sparkline(values: Sequence[float], width: int = 90, height: int = 18) -> str:
    """An inline SVG polyline of ``values`` (empty string for fewer than two).

    Examples
    --------
    >>> sparkline([1.0, 2.0, 1.5]).startswith("<svg")
    True
    >>> sparkline([1.0])
    ''
    """
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = width / (len(values) - 1)
    points = " ".join(
        f"{i * step:.1f},{height - 1 - (v - low) / span * (height - 2):.1f}"
        for i, v in enumerate(values)
    )
    return (
        f'<svg width="{width}" height="{height}" role="img" aria-label="recent current">'
        f'<polyline fill="none" stroke="#1565c0" stroke-width="1.2" points="{points}"/></svg>'
    )
