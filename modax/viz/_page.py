"""The one page frame of every dashboard: the same title style, accent and navigation header."""

from __future__ import annotations

from typing import Any, ClassVar

import panel as pn

from modax.viz._cells import html_text

__all__ = ["PAGES", "page"]

#: The dashboards, as (path, link text), in the order the header lists them.
PAGES = (("fleet", "Fleet"), ("device", "Devices"), ("lab", "Model lab"))
ACCENT = "#1565c0"


_LINK = '<a href="{path}"{mark} style="color:#fff;margin:0 10px;font-weight:{weight}">{text}</a>'


def _nav(current: str) -> str:
    links = [
        _LINK.format(path=path, text=text, mark=' aria-current="page"', weight=700)
        if path == current
        else _LINK.format(path=path, text=text, mark="", weight=400)
        for path, text in PAGES
    ]
    return f'<nav class="modax-nav" aria-label="dashboards">{"".join(links)}</nav>'


class Fast(pn.theme.Fast):
    """Panel's Fast design without its web font (Open Sans from Google's CDN).

    Every resource of a page then comes from the dashboard server: plants often have no internet,
    and a browser there waits on the font's host before it draws. (Panel finds a design's files
    by its class name, so the name stays ``Fast``.)
    """

    _resources: ClassVar[dict[str, Any]] = {**pn.theme.Fast._resources, "font": {}}


def page(current: str, title: str, *main: object) -> pn.template.FastListTemplate:
    """A dashboard page: ``modax · <title>``, the navigation header, then ``main``.

    Parameters
    ----------
    current : str
        Which of :data:`PAGES` this is (marked in the header).
    title : str
        The page's title (shown as text, never markup).
    *main
        The page's content.

    Examples
    --------
    >>> template = page("fleet", "fleet", pn.pane.Markdown("hello"))
    >>> template.title, 'aria-current="page"' in template.header[0].object
    ('modax · fleet', True)
    """
    nav = pn.pane.HTML(_nav(current), margin=(0, 10))
    return pn.template.FastListTemplate(
        title=f"modax · {html_text(title)}",
        header=[nav],
        main=list(main),
        accent=ACCENT,
        design=Fast,
        font="system-ui, sans-serif",
    )
