"""Periodic refreshes of live views: served sessions and notebook outputs alike.

Served (``panel serve``)
    A session-scoped background callback: Panel counts an ordinary periodic callback as work
    the user waits for and flips the server's busy state around each run, which every
    session's busy indicator follows — with four live views refreshing several times a second,
    that bookkeeping cost more than the refreshes. Stopped with the session.
Notebook (JupyterLab, VS Code, any live kernel)
    There is no served document, so one background callback per period runs on the kernel's
    event loop and refreshes every registered view whose ``anchor`` (a Panel component of the
    view) is on screen; Panel pushes the changes through the notebook comms. When the output
    is cleared or its cell run again, JupyterLab tells Panel, which removes the anchor's
    rendered models: the view is then skipped, and once nothing else holds it the view and
    its registration are garbage (the registry keeps only a weak reference to the anchor).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import panel as pn
from panel.io.callbacks import PeriodicCallback
from panel.viewable import Viewable

__all__ = ["every", "notebook_refreshes"]

_log = logging.getLogger(__name__)


@dataclass
class _Ticker:
    """The kernel's shared background callback of one period and the views it refreshes."""

    periodic: PeriodicCallback
    loop: asyncio.AbstractEventLoop
    anchors: list[weakref.ref[Viewable]] = field(default_factory=list)


#: The kernel's refreshes, by period (ms).
_TICKERS: dict[int, _Ticker] = {}
#: Where each anchor keeps its refreshes (a strong reference from the view's own component, so
#: the callbacks live exactly as long as the view and its outputs do).
_ATTRIBUTE = "_modax_refreshes"


def _on_screen(anchor: Viewable) -> bool:
    """Whether ``anchor`` is rendered in at least one output (Panel's models of it)."""
    return bool(getattr(anchor, "_models", None))


def _tick(anchors: list[weakref.ref[Viewable]]) -> None:
    """Refresh every displayed view of one period; forget those that were collected."""
    anchors[:] = [ref for ref in anchors if ref() is not None]
    for ref in anchors:
        anchor = ref()
        if anchor is None or not _on_screen(anchor):
            continue
        for callback in getattr(anchor, _ATTRIBUTE, ()):
            try:
                callback()
            except Exception:  # one broken view must not stop the others' refreshes
                _log.exception("refresh %r of a notebook view failed", callback)


def notebook_refreshes() -> dict[str, int]:
    """The kernel's live-view refreshes: registered views and those on screen.

    Returns
    -------
    dict
        ``registered`` (views not yet garbage), ``on_screen`` (views shown in an output, the
        only ones refreshed) and ``tickers`` (shared periodic callbacks, one per period).

    Examples
    --------
    >>> sorted(notebook_refreshes())
    ['on_screen', 'registered', 'tickers']
    """
    anchors = [ref() for ticker in _TICKERS.values() for ref in ticker.anchors]
    live = [a for a in anchors if a is not None]
    return {
        "registered": len(live),
        "on_screen": sum(_on_screen(a) for a in live),
        "tickers": len(_TICKERS),
    }


def _in_kernel(callback: Callable[[], None], period_ms: int, anchor: Viewable) -> PeriodicCallback:
    """Register ``callback`` with the running loop's shared ticker of ``period_ms``."""
    loop = asyncio.get_running_loop()
    ticker = _TICKERS.get(period_ms)
    if ticker is None or ticker.loop is not loop:  # first view, or a new loop (a new kernel)
        anchors = [] if ticker is None else ticker.anchors
        periodic = PeriodicCallback(
            callback=lambda: _tick(anchors), period=period_ms, background=True
        )
        periodic.start()
        ticker = _TICKERS[period_ms] = _Ticker(periodic, loop, anchors)
    callbacks = getattr(anchor, _ATTRIBUTE, None)
    if callbacks is None:
        callbacks = []
        setattr(anchor, _ATTRIBUTE, callbacks)
        ticker.anchors.append(weakref.ref(anchor))
    callbacks.append(callback)
    return ticker.periodic


def every(
    callback: Callable[[], None], period_ms: int, anchor: Viewable | None = None
) -> PeriodicCallback | None:
    """Call ``callback`` every ``period_ms`` ms while its view is shown.

    Parameters
    ----------
    callback : callable
        What to run (on the session's event loop with its document lock, or on the kernel's).
    period_ms : int
        Interval, in ms.
    anchor : Viewable, optional
        A component the view always shows; in a notebook the callback runs only while it is
        on screen. Without it, only served sessions refresh.

    Returns
    -------
    PeriodicCallback or None
        The running callback (a served session's own, or the kernel's shared one for this
        period), or None with no session and no running kernel event loop.

    Examples
    --------
    >>> every(lambda: None, 250, pn.pane.HTML("")) is None  # no session, no kernel loop here
    True
    """
    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
        periodic = PeriodicCallback(callback=callback, period=period_ms, background=True)
        periodic.start()
        pn.state.on_session_destroyed(lambda _context: periodic.stop())
        return periodic
    if anchor is None:
        return None
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return None
    return _in_kernel(callback, period_ms, anchor)
