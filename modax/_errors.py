"""Errors that modules below :mod:`modax.config` raise too (kept here so none imports another).

:class:`ConfigError` is re-exported by :mod:`modax.config`; :mod:`modax.storage` derives its
``StorageError`` from it, and the configuration validates storage settings with it.
"""

from __future__ import annotations

__all__ = ["ConfigError"]


class ConfigError(ValueError):
    """A setting is invalid; the message names the variable and what to fix."""
