"""Periodic refreshes of a served session that do not mark the page busy."""

from __future__ import annotations

from collections.abc import Callable

import panel as pn
from panel.io.callbacks import PeriodicCallback

__all__ = ["every"]


def every(callback: Callable[[], None], period_ms: int) -> PeriodicCallback | None:
    """Call ``callback`` every ``period_ms`` ms while the current session lives.

    Panel counts an ordinary periodic callback as work the user waits for: around each run it
    flips the server's busy state, which every session's busy indicator follows — with four live
    views refreshing several times a second, that bookkeeping and the indicator updates it sends
    cost more than the refreshes. A live-data refresh runs as a background callback instead.

    Parameters
    ----------
    callback : callable
        What to run (on the session's event loop, with its document lock).
    period_ms : int
        Interval, in ms.

    Returns
    -------
    PeriodicCallback or None
        The running callback (stopped with the session), or None outside a served session.

    Examples
    --------
    >>> every(lambda: None, 250) is None  # no served session here
    True
    """
    if pn.state.curdoc is None:
        return None
    periodic = PeriodicCallback(callback=callback, period=period_ms, background=True)
    periodic.start()
    pn.state.on_session_destroyed(lambda _context: periodic.stop())
    return periodic
