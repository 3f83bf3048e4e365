"""Load what the live views need into a notebook (or a served app), with inline resources."""

from __future__ import annotations

import holoviews as hv
import holoviews.plotting.bokeh
import panel as pn

__all__ = ["extension"]

#: Panel extensions every ``modax.viz`` view may use.
EXTENSIONS = ("tabulator",)


def extension(*extensions: str, **config: object) -> None:
    """Load Panel, HoloViews' Bokeh backend and Tabulator with their JavaScript inline.

    Call it once at the top of a notebook (JupyterLab, VS Code) before displaying a view. The
    JavaScript and CSS go into the notebook itself instead of being fetched from a CDN, so the
    views render on a machine without internet access (Panel's default, CDN resources, leaves
    every output blank there). Displayed views then refresh themselves through the notebook's
    comms until their output is cleared.

    Parameters
    ----------
    *extensions : str
        Further Panel extensions (``"plotly"``, ``"vega"`` …).
    **config : object
        Further ``pn.extension`` settings (``comms="vscode"``, ``sizing_mode`` …).

    Examples
    --------
    >>> extension()
    >>> pn.config.inline, hv.Store.current_backend
    (True, 'bokeh')
    """
    hv.extension.inline = True  # also for later calls, e.g. the one ``import hvplot.pandas`` makes
    hv.extension("bokeh", logo=False)
    pn.extension(*EXTENSIONS, *extensions, inline=True, **config)
