"""Errors shared by the configuration and the layers below it.

:class:`ConfigError` is re-exported by :mod:`modax.config`, whose ``StorageError`` derives from it.
"""

from __future__ import annotations

__all__ = ["ConfigError"]


class ConfigError(ValueError):
    """A setting is invalid; the message names the variable and what to fix."""
