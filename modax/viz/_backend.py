"""HoloViews' Bokeh backend, loaded once for every component that sets Bokeh options."""

from __future__ import annotations

import functools

import holoviews as hv

__all__ = ["use_bokeh"]


@functools.cache
def use_bokeh() -> None:
    """Load and select HoloViews' Bokeh backend (once per process; notebooks may have done it).

    Examples
    --------
    >>> use_bokeh(); hv.Store.current_backend
    'bokeh'
    """
    hv.extension("bokeh", logo=False)
