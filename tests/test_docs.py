"""The documentation site builds with no warnings, offline, and holds what it promises.

``mkdocs build --strict`` (what ``make docs`` runs) into a temporary folder: any warning — a
docstring mkdocstrings cannot parse, a broken link, a missing snippet — fails the build. HTTP
goes to a closed port, so a plugin that fetched at build time would fail too.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from modax.testing import free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    dead = f"http://127.0.0.1:{free_port()}"
    env = os.environ | {"NO_MKDOCS_2_WARNING": "1", "HTTP_PROXY": dead, "HTTPS_PROXY": dead}
    env |= {"http_proxy": dead, "https_proxy": dead, "NO_PROXY": "", "no_proxy": ""}
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-4000:]
    assert not re.search(r"^WARNING", build.stderr, re.MULTILINE), build.stderr[-4000:]
    return out


def _text(page: Path) -> str:
    """The page's text, tags removed (highlighted code is split into many tags)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))


def test_the_api_reference_documents_every_listed_package_from_its_docstrings(site: Path):
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]
    (api,) = [item["API reference"] for item in nav if "API reference" in item]
    pages = {title: page for entry in api[1:] for title, page in entry.items()}
    packages = {p.name for p in (ROOT / "modax").iterdir() if (p / "__init__.py").is_file()}
    assert {f"modax.{p}" for p in packages - {"cli", "local"}} <= set(pages)
    lake = (site / "api" / "lake" / "index.html").read_text()
    assert 'id="modax.lake.Lake"' in lake and 'id="modax.lake.connect"' in lake
    models = (site / "api" / "models" / "index.html").read_text()
    for sub in ("anomaly", "wear", "datasets"):
        assert f'id="modax.models.{sub}"' in models, sub
    assert "Examples" in _text(site / "api" / "kernels" / "index.html")
    for page in (site / "api").glob("*/index.html"):  # Sphinx roles shown as the code they name
        assert not re.search(r":(class|func|meth|mod):`?\w", _text(page)), page


def test_the_notebooks_decisions_and_readme_tour_are_pages(site: Path):
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        page = site / "notebooks" / notebook.stem / "index.html"
        assert "modax" in _text(page), notebook.name
    for decision in (ROOT / "docs" / "decisions").glob("*.md"):
        assert (site / "decisions" / decision.stem / "index.html").is_file(), decision.name
    assert "modax simulate --devices 20" in _text(site / "tour" / "index.html")
    assert "pip install -c requirements.lock" in _text(site / "index.html")
    assert "MODAX_DASHBOARD_ORIGIN" in _text(site / "deploy" / "index.html")
