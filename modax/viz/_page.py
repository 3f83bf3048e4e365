"""The one page frame of every dashboard: the same title style, accent and navigation header."""

from __future__ import annotations

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
        title=f"modax · {html_text(title)}", header=[nav], main=list(main), accent=ACCENT
    )
