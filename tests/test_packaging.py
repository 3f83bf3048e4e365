"""The project's own files: dependencies in sync, public surface pinned, imports one way."""

from __future__ import annotations

import ast
import graphlib
import re
import tomllib
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import modax

ROOT = Path(__file__).resolve().parent.parent

#: conda-forge's names for the PyPI packages whose names differ there.
CONDA_NAMES = {"duckdb": "python-duckdb", "playwright": "playwright-python"}
CONDA_NAMES["prometheus-client"] = "prometheus_client"
#: What environment.yml installs besides the Python dependencies.
CONDA_ONLY = {"python", "pip", "mosquitto"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower()


def _pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    return {r.replace(" ", "") for r in reqs}


def _conda_requirements() -> set[str]:
    """environment.yml's packages, conda-forge names turned back into PyPI names."""
    pypi_name = {conda: pypi for pypi, conda in CONDA_NAMES.items()}
    reqs = set()
    text = (ROOT / "environment.yml").read_text()
    for line in text.split("\ndependencies:\n", 1)[1].splitlines():
        m = re.match(r"^  (?:    )?- ([\w.\-]+(?:[\[<>=!~][^#]*)?)\s*(?:#.*)?$", line)
        if m and _name(m.group(1)) not in CONDA_ONLY:
            req = m.group(1).replace(" ", "")
            name = _name(req)
            reqs.add(pypi_name.get(name, name) + req[len(name) :])
    return reqs


def test_environment_yml_and_pyproject_name_the_same_dependencies():
    assert _pyproject_requirements() == _conda_requirements()


def test_every_dependency_is_named_once():
    names = [_name(r) for r in _pyproject_requirements()]
    assert len(names) == len(set(names))


def _locked() -> dict[str, list[tuple[str, str]]]:
    """requirements.lock: each package's pinned versions, with the marker of each pin."""
    pins: dict[str, list[tuple[str, str]]] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            req = Requirement(line)
            (version,) = (s.version for s in req.specifier if s.operator == "==")
            pins.setdefault(canonicalize_name(req.name), []).append((version, str(req.marker)))
    return pins


def test_the_lock_pins_every_dependency_within_its_bounds():
    """Each dependency of pyproject.toml (core and extras) has a pin in requirements.lock for
    Linux x86_64 with Python 3.11 that its bounds allow: `make lock` after editing them."""
    env = default_environment() | {
        "python_version": "3.11",
        "python_full_version": "3.11.7",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }
    pins = _locked()
    for line in _pyproject_requirements():
        req = Requirement(line)
        chosen = [
            v
            for v, marker in pins.get(canonicalize_name(req.name), [])
            if marker == "None" or Requirement(f"x; {marker}").marker.evaluate(env)
        ]
        assert len(chosen) == 1, f"{req.name}: not in requirements.lock; run `make lock`"
        assert Version(chosen[0]) in req.specifier, (
            f"{req.name}=={chosen[0]} in requirements.lock is outside {req.specifier}; "
            "run `make lock`"
        )


def test_the_lock_is_what_make_lock_writes():
    header = (ROOT / "requirements.lock").read_text().splitlines()[1]
    makefile = (ROOT / "Makefile").read_text()
    assert "uv pip compile pyproject.toml --all-extras --universal --python-version 3.11" in header
    assert "pip compile pyproject.toml --all-extras --universal --python-version 3.11" in makefile
    for target in ("demo", "test"):
        assert re.search(rf"^{target}: .*STAMP", makefile, re.MULTILINE), target
    assert makefile.count("-c $(LOCK)") == 1 and makefile.count("$(PIP_INSTALL) -e") == 2
    assert "-c requirements.lock" in (ROOT / "deploy" / "Dockerfile").read_text()


def test_public_surface_is_pinned():
    assert sorted(modax.__all__) == sorted(
        [
            "Settings",
            "__version__",
            "connect",
            "load_settings",
        ]
    )


PACKAGES = ("modax", "simulator", "dashboards")


def _import_graph() -> dict[str, set[str]]:
    """Each module of the three packages and the modules of theirs it imports (any depth)."""
    files = {
        ".".join(f.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): f
        for package in PACKAGES
        for f in (ROOT / package).rglob("*.py")
    }

    def ours(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for module, path in files.items():
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {ours(alias.name) for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported |= {ours(f"{node.module}.{alias.name}") for alias in node.names}
        graph[module] = imported - {None, module}
    return graph


def _unit(module: str) -> str:
    """``modax.models.wear.live`` → ``modax.models``; ``simulator._kernel`` → ``simulator``."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "modax" else parts[0]


def test_imports_have_no_cycles():
    graphlib.TopologicalSorter(_import_graph()).prepare()  # raises CycleError with the cycle


#: The layers of ``modax``, bottom first: a unit imports only units of lower layers.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"modax._errors", "modax._version", "modax.schema", "modax.obs", "modax.testing"}),
    frozenset({"modax.config"}),
    frozenset({"modax.kernels", "modax.lake"}),
    frozenset({"modax.pipeline", "modax.mqtt"}),
    frozenset({"modax.ingest", "modax.models", "modax.twin"}),
    frozenset({"modax.registry"}),
    frozenset({"modax.advisory"}),
    frozenset({"modax.viz"}),
    frozenset({"modax.local"}),
    frozenset({"modax.cli"}),
    frozenset({"modax", "modax.__main__"}),
)


def _uses() -> dict[str, set[str]]:
    uses: dict[str, set[str]] = {}
    for module, imported in _import_graph().items():
        uses.setdefault(_unit(module), set()).update(_unit(m) for m in imported)
    return {unit: used - {unit} for unit, used in uses.items()}


def test_every_unit_of_modax_has_a_layer():
    placed = set().union(*LAYERS)
    assert {unit for unit in _uses() if unit.startswith("modax")} <= placed


def test_layers_import_only_downwards():
    """``modax`` in the order of :data:`LAYERS`; ``dashboards → modax.viz → modax``;
    ``simulator → modax.schema``; modax runs the simulator from its CLI only."""
    layer = {unit: i for i, units in enumerate(LAYERS) for unit in units}
    uses = _uses()
    for unit, used in uses.items():
        if unit.startswith("modax"):
            upward = {u for u in used if u.startswith("modax") and layer[u] >= layer[unit]}
            assert not upward, f"{unit} imports {sorted(upward)} of its own or a higher layer"
            assert "dashboards" not in used, unit
            assert "simulator" not in used or unit == "modax.cli", unit
    assert uses["simulator"] - {"simulator"} <= {"modax.schema"}
    assert not any("dashboards" in used for unit, used in uses.items() if unit != "dashboards")


def test_local_services_are_started_only_by_the_cli():
    users = {unit for unit, used in _uses().items() if "modax.local" in used}
    assert users <= {"modax.cli"}
