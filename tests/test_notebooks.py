"""The worked notebooks: stored clean, and executed top to bottom with their small parameters."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXPECTED = [
    "01-quickstart",
    "02-live-mqtt",
    "03-aggregation-and-safety",
    "04-anomaly-lab",
    "05-wear-and-rul",
    "06-firmware-and-safety-vectors",
    "07-detector-vs-live-twin",
]
ABSOLUTE_PATH = re.compile(r"(?<![\w.])(/(home|root|work|tmp|Users|mnt)/|[A-Z]:\\\\)")


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def test_the_tour_is_complete():
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs_or_absolute_paths(path):
    for cell in cells(path):
        source = "".join(cell["source"])
        assert not ABSOLUTE_PATH.search(source), f"absolute path in {path.name}: {source[:80]}"
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name} has stored outputs"
            assert cell.get("execution_count") is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_a_parameters_cell_with_a_small_switch(path):
    tagged = [c for c in cells(path) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    assert "SMALL" in "".join(tagged[0]["source"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_names_the_projects_kernel(path):
    """JupyterLab starts the kernel ``make lab`` installs instead of asking for one."""
    assert json.loads(path.read_text())["metadata"]["kernelspec"]["name"] == "modax"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_loads_the_views_inline_before_anything_plots(path):
    """``modax.viz.extension()`` comes first: ``import hvplot.pandas`` and ``hv.extension``
    otherwise load the JavaScript from a CDN, and offline every plot stays blank."""
    sources = ["".join(c["source"]) for c in cells(path) if c["cell_type"] == "code"]
    first = next(i for i, s in enumerate(sources) if "modax.viz.extension()" in s)
    earlier = "\n".join(sources[:first])
    assert not re.search(r"hvplot|holoviews|panel|\.extension\(", earlier), earlier
    assert not any(re.search(r"\b(hv|pn)\.extension\(", s) for s in sources)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_and_its_paired_script_hold_the_same_cells(path):
    import jupytext

    script = path.with_suffix(".py")
    assert script.is_file(), f"{path.name} has no paired {script.name}"

    def shape(notebook) -> list[tuple[str, str, list[str]]]:
        return [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in notebook.cells]

    assert shape(jupytext.read(script)) == shape(jupytext.read(path)), (
        f"{path.name} and {script.name} differ: run `jupytext --sync notebooks/{script.name}`"
    )


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, tmp_path):
    import papermill

    papermill.execute_notebook(
        str(path),
        str(tmp_path / path.name),
        parameters={"SMALL": True, "LAKE": str(tmp_path / "lake")},
        cwd=str(path.parent),
        kernel_name="python3",
        language="python",
        progress_bar=False,
        execution_timeout=240,
    )
