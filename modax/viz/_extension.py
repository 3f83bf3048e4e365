"""Load what the live views need into a notebook (or a served app), with inline resources."""

from __future__ import annotations

from typing import Any

import holoviews as hv
import holoviews.plotting.bokeh  # registers HoloViews' Bokeh renderer
import panel as pn
from holoviews.core.dimension import Dimensioned

__all__ = ["extension"]

#: Panel extensions every ``modax.viz`` view may use.
EXTENSIONS = ("tabulator",)


def extension(*extensions: str, **config: object) -> None:
    """Load Panel, HoloViews' Bokeh backend and Tabulator with their JavaScript inline.

    Call it once at the top of a notebook (JupyterLab, VS Code) before displaying a view. The
    JavaScript and CSS go into the notebook itself instead of being fetched from a CDN, so the
    views render on a machine without internet access (Panel's default, CDN resources, leaves
    every output blank there); HoloViews and hvPlot objects are displayed through Panel, which
    also puts their stylesheets inline. Displayed views then refresh themselves through the
    notebook's comms until their output is cleared.

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
    shell = _ipython()
    if shell is not None:
        shell.display_formatter.mimebundle_formatter.for_type(Dimensioned, _through_panel)


def _ipython() -> Any:
    """The running IPython shell, or None (a script, a served app)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _through_panel(obj: Dimensioned) -> tuple[dict[str, Any], dict[str, Any]]:
    """Display a HoloViews object (hvPlot's too) as Panel does, its stylesheets inline.

    HoloViews' own notebook display links Panel's stylesheets from a CDN even with inline
    resources; offline they fail to load. Panel's display puts them inline.
    """
    return pn.panel(obj)._repr_mimebundle_()
