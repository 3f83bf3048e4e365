"""Where the lake's bytes live: a local path or an object-store URI, and the settings to reach it.

``MODAX_LAKE`` is a directory or a URI. For ``s3://bucket/prefix`` the usual AWS variables apply:

==========================  =====================================================  =============
variable                    meaning                                                default
==========================  =====================================================  =============
``AWS_ENDPOINT_URL``        S3-compatible endpoint (MinIO, Ceph, moto, ...)        AWS
``AWS_ACCESS_KEY_ID``       access key                                             SDK chain
``AWS_SECRET_ACCESS_KEY``   secret key (never printed)                             SDK chain
``AWS_SESSION_TOKEN``       temporary-credential token                             none
``AWS_REGION``              region                                                 SDK chain
``AWS_ALLOW_HTTP``          ``true`` for a plain-HTTP endpoint                     ``false``
``AWS_CONDITIONAL_PUT``     commit protocol: ``etag`` (conditional writes)         ``etag``
==========================  =====================================================  =============

Concurrent writers to one Delta table need an atomic "create the next log entry if absent". modax
uses S3 conditional writes (``conditional_put: etag``) rather than a DynamoDB lock table: see
``docs/decisions/0004-s3-conditional-writes.md``. ``gs://`` and ``az://`` roots pass through to
deltalake, which reads its own ``GOOGLE_*`` / ``AZURE_*`` variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from modax._errors import ConfigError

__all__ = [
    "OBJECT_STORE_SCHEMES",
    "S3_VARIABLES",
    "StorageError",
    "is_uri",
    "scheme",
    "storage_options",
]

#: URI schemes a lake root may use (anything else is a user error).
OBJECT_STORE_SCHEMES = ("s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "file")
#: The environment variables read for ``s3://`` roots.
S3_VARIABLES = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_ALLOW_HTTP",
    "AWS_CONDITIONAL_PUT",
)
_TRUE = ("1", "true", "yes", "on")


class StorageError(ConfigError):
    """A lake root or an object-store setting is invalid; the message names it and the fix."""


def is_uri(root: str) -> bool:
    """Whether ``root`` is a URI (``scheme://...``) rather than a local path."""
    return "://" in root


def scheme(root: str) -> str:
    """The URI scheme of lake ``root``, lower-case; a :class:`StorageError` for an unknown one."""
    name = urlsplit(root).scheme.lower()
    if name not in OBJECT_STORE_SCHEMES:
        raise StorageError(
            f"MODAX_LAKE={root!r}: unsupported scheme {name!r}; use a directory or one of "
            + ", ".join(f"{s}://" for s in OBJECT_STORE_SCHEMES)
        )
    return name


def storage_options(root: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Storage options for deltalake for lake ``root``, from the ``AWS_*`` variables.

    Local roots need none. ``s3://`` roots get every set :data:`S3_VARIABLES` and the
    ``conditional_put`` commit protocol (``etag`` unless ``AWS_CONDITIONAL_PUT`` says otherwise).

    Raises
    ------
    StorageError
        For an unknown URI scheme, an endpoint that is not an ``http(s)://`` URL, or a plain-HTTP
        endpoint without ``AWS_ALLOW_HTTP=true``.

    Examples
    --------
    >>> storage_options("data/lake")
    {}
    >>> env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_ALLOW_HTTP": "true"}
    >>> storage_options("s3://lake/prod", env)["conditional_put"]
    'etag'
    """
    if not is_uri(root) or scheme(root) not in ("s3", "s3a"):
        return {}
    env = os.environ if environ is None else environ
    options = {name: env[name] for name in S3_VARIABLES if env.get(name)}
    endpoint = options.get("AWS_ENDPOINT_URL")
    endpoint_scheme = None if endpoint is None else urlsplit(endpoint).scheme
    if endpoint_scheme is not None and endpoint_scheme not in ("http", "https"):
        raise StorageError(
            f"AWS_ENDPOINT_URL={endpoint!r}: must be an http:// or https:// URL, "
            "e.g. http://127.0.0.1:9000"
        )
    if endpoint_scheme == "http" and options.get("AWS_ALLOW_HTTP", "").lower() not in _TRUE:
        raise StorageError(
            f"AWS_ENDPOINT_URL={endpoint!r} is plain HTTP: set AWS_ALLOW_HTTP=true to allow it"
        )
    options["conditional_put"] = options.pop("AWS_CONDITIONAL_PUT", "etag")
    return options
