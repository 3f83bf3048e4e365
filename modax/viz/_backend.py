"""HoloViews' Bokeh backend, loaded once for every component that sets Bokeh options."""

from __future__ import annotations

import functools

import holoviews as hv
import holoviews.plotting.bokeh  # registers HoloViews' Bokeh renderer

__all__ = ["use_bokeh"]


@functools.cache
def use_bokeh() -> None:
    """Select HoloViews' Bokeh backend (once per process; notebooks may have done it).

    In a notebook, where :func:`modax.viz.extension` (or ``hv.extension``) has loaded the
    JavaScript, only the backend is selected: loading it again would put a second copy of the
    scripts in the output, from a CDN unless asked otherwise.

    Examples
    --------
    >>> use_bokeh(); hv.Store.current_backend
    'bokeh'
    """
    hv.Store.set_current_backend("bokeh")
