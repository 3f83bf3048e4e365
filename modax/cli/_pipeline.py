"""The pipeline the commands build: the kernels' derive step plus the live wear estimate."""

from __future__ import annotations

from modax.kernels.deriver import KernelDeriver
from modax.lake import Lake
from modax.models.wear.live import WearDeriver
from modax.pipeline import Pipeline

__all__ = ["build_pipeline"]


def build_pipeline(lake: Lake) -> Pipeline:
    """The pipeline of ``modax ingest``, ``replay`` and ``simulate``: safety, aggregates, wear.

    The safety and aggregation kernels are deterministic; the wear estimate is advisory (a
    model), which is why the pipeline itself does not choose it.

    Examples
    --------
    >>> import tempfile
    >>> [type(d).__name__ for d in build_pipeline(Lake(tempfile.mkdtemp())).derivers]
    ['KernelDeriver', 'WearDeriver']
    """
    return Pipeline(lake, derivers=[KernelDeriver(), WearDeriver(lake)])
