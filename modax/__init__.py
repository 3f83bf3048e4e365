"""modax — analytics and digital-twin workbench for ESP32-monitored motor-driven machines.

In a notebook::

    import modax
    con = modax.connect()            # DuckDB over the lake (MODAX_LAKE, default data/lake)
    con.sql("select device_id, count(*) from telemetry group by 1").df()

Subpackages: ``modax.schema`` (the message contract), ``modax.kernels`` (numba kernels),
``modax.lake`` (Delta tables), ``modax.models`` (anomaly and wear estimators), ``modax.viz``
(HoloViews/Panel components). The digital twin is the sibling package ``simulator``.

``import modax`` is light: :func:`connect` (DuckDB, Delta Lake) loads on first use, so the
command line and :mod:`modax.config` start without the data stack.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from modax._version import __version__
from modax.config import Settings, load_settings

if TYPE_CHECKING:
    from modax.lake import connect

__all__ = ["Settings", "__version__", "connect", "load_settings"]

#: Public names loaded on first access, and the module that holds each.
_LAZY = {"connect": "modax.lake"}


def __getattr__(name: str) -> Any:
    """Load a heavy public name (:data:`_LAZY`) on first access."""
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'modax' has no attribute {name!r}")
