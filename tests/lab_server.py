"""A real ``jupyter lab`` for browser tests: free port, token, the project's kernel, no browser.

:class:`JupyterLab` starts the server on a copy of notebooks with the ``modax`` kernel installed
in a private ``JUPYTER_DATA_DIR`` (and private config, runtime, settings and workspace
directories, so nothing of the machine's own JupyterLab leaks in); :func:`open_notebook` and
:func:`run_cells` open a notebook in Chromium and run it; :data:`PLOTS_JS` looks at what each
output shows.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from modax.testing import free_port, wait_for

KERNEL = "modax"


def small_copy(source: Path, target: Path, lake: Path) -> Path:
    """``source`` with its parameters cell set as papermill would: ``SMALL = True``, ``LAKE``."""
    notebook = json.loads(source.read_text())
    for cell in notebook["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            text = "".join(cell["source"]).replace("SMALL = False", "SMALL = True")
            cell["source"] = f"{text}\nLAKE = {str(lake)!r}\n"
    target.write_text(json.dumps(notebook))
    return target


class JupyterLab:
    """``jupyter lab`` serving ``root`` on a free loopback port, stopped by :meth:`close`.

    Parameters
    ----------
    root : Path
        The server's root directory (the notebooks it serves).
    home : Path
        Where its private Jupyter directories go.
    env : dict, optional
        Further environment of the server and its kernels (``MODAX_BROKER`` …).
    """

    def __init__(self, root: Path, home: Path, env: dict[str, str] | None = None) -> None:
        self.root = root
        self.port = free_port()
        self.token = secrets.token_hex(16)
        dirs = {
            "JUPYTER_DATA_DIR": home / "data",
            "JUPYTER_CONFIG_DIR": home / "config",
            "JUPYTER_RUNTIME_DIR": home / "runtime",
            "JUPYTERLAB_SETTINGS_DIR": home / "settings",
            "JUPYTERLAB_WORKSPACES_DIR": home / "workspaces",
        }
        self.env = {**os.environ, **{k: str(v) for k, v in dirs.items()}, **(env or {})}
        subprocess.run(
            [sys.executable, "-m", "ipykernel", "install", "--user", "--name", KERNEL],
            env=self.env,
            check=True,
            capture_output=True,
        )
        self.log = (home / "jupyter-lab.log").open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                "--ip=127.0.0.1",
                f"--port={self.port}",
                "--allow-root",
                f"--ServerApp.root_dir={root}",
                f"--IdentityProvider.token={self.token}",
                "--LabApp.expose_app_in_browser=True",
                "--LabApp.news_url=",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            ],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for(self._ready, timeout=90, what=f"jupyter lab on port {self.port}", interval=0.3)

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {self.process.returncode}")
        try:
            with urllib.request.urlopen(f"{self.url('api/status')}", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    def url(self, path: str) -> str:
        """The address of ``path`` on the server, with the token."""
        return f"http://127.0.0.1:{self.port}/{path}?token={self.token}"

    def close(self) -> None:
        """Stop the server (and the kernels it started)."""
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


#: JavaScript run in the page: what a notebook's outputs show. For every output with a Bokeh
#: root (Panel, HoloViews, hvPlot), its size, and how many of its canvases (inside shadow roots)
#: have drawn pixels and how many SVGs it holds; plus the rich outputs that show nothing (a
#: stream's lone newline, as tqdm's last write leaves, is text the code printed, not an output).
PLOTS_JS = """
() => {
  const deep = (node, selector, found = []) => {
    node.querySelectorAll(selector).forEach(e => found.push(e));
    node.querySelectorAll('*').forEach(e => {
      if (e.shadowRoot) deep(e.shadowRoot, selector, found);
    });
    return found;
  };
  const drawn = canvas => {
    if (!canvas.width || !canvas.height) return false;
    try {
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
    } catch (e) { return true; }  // a WebGL canvas: it has a context of its own
    return false;
  };
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const outputs = [...panel.querySelectorAll('.jp-OutputArea-output')];
  return {
    empty: outputs.filter(
      o => !(o.getAttribute('data-mime-type') || '').startsWith('application/vnd.jupyter.std')
        && !o.textContent.trim() && !deep(o, 'canvas, svg, img, [data-root-id]').length
    ).map(o => o.getAttribute('data-mime-type') || o.className),
    roots: outputs.filter(o => o.querySelector('[data-root-id]')).map(o => {
      const box = o.getBoundingClientRect();
      const canvases = deep(o, 'canvas');
      return {
        height: box.height,
        plots: deep(o, '.bk-Canvas, .bk-canvas, .bk-Figure, .bk-plot-wrapper').length,
        drawn: canvases.filter(drawn).length,
        svgs: deep(o, 'svg').length,
        text: o.innerText.slice(0, 200),
      };
    }),
  };
}
"""


def open_notebook(page: Any, lab: JupyterLab, name: str) -> None:
    """Open ``name`` in JupyterLab and wait for its kernel, which must be the project's."""
    page.goto(lab.url(f"lab/tree/{name}") + "&reset")  # not the layout of an earlier test
    page.wait_for_function(
        "([name]) => window.jupyterapp?.shell.currentWidget?.context?.path === name"
        " && window.jupyterapp.shell.currentWidget.sessionContext?.session?.kernel"
        "?.status === 'idle'",
        arg=[name],
        timeout=120_000,
    )
    kernel = page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.name"
    )
    assert kernel == KERNEL, f"{name} started kernel {kernel!r}, not the project's {KERNEL!r}"


def run_cells(page: Any, cells: range | None = None) -> None:
    """Run the open notebook's ``cells`` (all by default) one after the other, as Shift-Enter does.

    Fails when a cell raised, naming the error.
    """
    errors = page.evaluate(
        """async ([first, last]) => {
          const panel = window.jupyterapp.shell.currentWidget;
          const notebook = panel.content;
          const end = last < 0 ? notebook.widgets.length : last;
          for (let i = first; i < end; i++) {
            notebook.activeCellIndex = i;
            await window.jupyterapp.commands.execute('notebook:run-cell');
            const failed = notebook.widgets[i].model.type === 'code'
              && notebook.widgets[i].model.outputs.toJSON().filter(o => o.output_type === 'error');
            if (failed && failed.length)
              return failed.map(o => `cell ${i}: ${o.ename}: ${o.evalue}`);
          }
          return [];
        }""",
        [cells.start, cells.stop] if cells is not None else [0, -1],
    )
    assert not errors, f"the notebook raised: {errors}"
