"""The project's own files: dependencies in sync, public surface pinned."""

from __future__ import annotations

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
