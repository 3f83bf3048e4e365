"""The project's own files: dependencies in sync, public surface pinned, imports one way."""

from __future__ import annotations

import ast
import graphlib
import re
import tomllib
from pathlib import Path

import modax

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower()


def _pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    return {r.replace(" ", "") for r in reqs}


def _conda_requirements() -> set[str]:
    reqs = set()
    text = (ROOT / "environment.yml").read_text()
    for line in text.split("\ndependencies:\n", 1)[1].splitlines():
        m = re.match(r"^  (?:    )?- ([A-Za-z0-9_.\-]+.*)$", line)
        if m and not m.group(1).startswith(("python", "pip", "-e")):
            reqs.add(m.group(1).replace(" ", ""))
    return reqs


def test_environment_yml_and_pyproject_name_the_same_dependencies():
    assert _pyproject_requirements() == _conda_requirements()


def test_every_dependency_is_named_once():
    names = [_name(r) for r in _pyproject_requirements()]
    assert len(names) == len(set(names))


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
    frozenset({"modax.ingest", "modax.models"}),
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
