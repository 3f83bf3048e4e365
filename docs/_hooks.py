"""MkDocs hooks for the modax site (``mkdocs.yml``): pages from outside ``docs/``, folder nav.

- ``notebooks/*.ipynb`` join the site as ``notebooks/NAME.ipynb``; mkdocs-jupyter renders them
  as committed (no outputs), without executing them.
- A nav target that ends in ``/`` (``decisions/``, ``notebooks/``) becomes one entry per page in
  that folder, in name order, so a new decision or notebook needs no edit of ``mkdocs.yml``.
- The docstrings' Sphinx roles (``:class:`Lake```, ``:func:`~modax.config.state_directory```),
  which mkdocstrings leaves as text, are shown as the code they name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
#: A Sphinx role before rendered code: ``:func:<code>~a.b.c</code>``.
_ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc|obj|const):<code>(~[\w.]*\.)?")


def _pages(folder: str, docs_dir: Path) -> list[str]:
    """The pages of a nav folder, relative to ``docs_dir``."""
    if folder == "notebooks/":
        return [f"notebooks/{p.name}" for p in sorted(NOTEBOOKS.glob("*.ipynb"))]
    return sorted(p.relative_to(docs_dir).as_posix() for p in (docs_dir / folder).glob("*.md"))


def _expand(nav: list[Any], docs_dir: Path) -> list[Any]:
    """``nav`` with every folder target replaced by its pages."""
    out: list[Any] = []
    for item in nav:
        if isinstance(item, str) and item.endswith("/"):
            out += _pages(item, docs_dir)
        elif isinstance(item, dict):
            ((title, target),) = item.items()
            if isinstance(target, str) and target.endswith("/"):
                target = _pages(target, docs_dir)
            elif isinstance(target, list):
                target = _expand(target, docs_dir)
            out.append({title: target})
        else:
            out.append(item)
    return out


def on_config(config: Any) -> Any:
    """Expand the folder targets of the nav."""
    config["nav"] = _expand(config["nav"], Path(config["docs_dir"]))
    return config


@event_priority(100)  # before mkdocs-jupyter turns the notebooks into pages
def on_files(files: Files, config: Any) -> Files:
    """Add the worked notebooks to the site."""
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        files.append(
            File(
                f"notebooks/{path.name}",
                str(ROOT),
                config["site_dir"],
                config["use_directory_urls"],
            )
        )
    return files


def on_page_content(html: str, **_: Any) -> str:
    """Drop Sphinx roles (and ``~`` paths) in front of the code they name."""
    return _ROLE.sub("<code>", html)
