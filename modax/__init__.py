"""modax — analytics and digital-twin workbench for ESP32-monitored motor-driven machines.

In a notebook::

    import modax
    con = modax.connect()            # DuckDB over the lake (MODAX_LAKE, default data/lake)
    con.sql("select device_id, count(*) from telemetry group by 1").df()

Subpackages: ``modax.schema`` (the message contract), ``modax.kernels`` (numba kernels),
``modax.lake`` (Delta tables), ``modax.models`` (anomaly and wear estimators), ``modax.viz``
(HoloViews/Panel components). The digital twin is the sibling package ``simulator``.
"""

from importlib.metadata import PackageNotFoundError, version

from modax.config import Settings, load_settings
from modax.lake import connect

try:
    __version__ = version("modax")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["Settings", "__version__", "connect", "load_settings"]
