"""numba kernels: the hot numeric work, over contiguous numpy arrays.

- :mod:`modax.kernels.aggregate` — streaming per-device tumbling-window statistics
  (:class:`~modax.kernels.aggregate.WindowAggregator`) and rolling statistics.
- :mod:`modax.kernels.safety` — the deterministic, stateful safety rules of
  ``docs/safety-rules.md`` (:class:`~modax.kernels.safety.SafetyChecker`).
- :mod:`modax.kernels.features` — per-window features for models
  (:class:`~modax.kernels.features.WindowFeatures`, a scikit-learn transformer).

Every kernel has a plain-Python reference twin in ``modax.kernels._reference`` that the tests hold
it equal to. Kernels are compiled on first use and cached on disk (``cache=True``).
"""

__all__ = ["aggregate", "features", "safety"]
