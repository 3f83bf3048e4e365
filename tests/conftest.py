"""Shared fixtures: real services only (a temp lake, brokers, browsers), no mocks."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    """An empty lake root in a temporary directory."""
    return tmp_path / "lake"
