"""Estimators with the scikit-learn API: anomaly detectors, wear and remaining-life models, metrics.

Submodules: ``modax.models.anomaly``, ``modax.models.wear``, ``modax.models.metrics``,
``modax.models.datasets``.
"""
