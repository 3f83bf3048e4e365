"""Where the lake's bytes live: local disk or an S3-compatible object store, and how to reach it.

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
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow.fs as pafs

from modax._errors import ConfigError

__all__ = [
    "OBJECT_STORE_SCHEMES",
    "S3_VARIABLES",
    "StorageError",
    "arrow_filesystem",
    "is_uri",
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
_REQUEST_TIMEOUT_S = 30.0
_CONNECT_TIMEOUT_S = 10.0


class StorageError(ConfigError):
    """A lake root or an object-store setting is invalid; the message names it and the fix."""


def is_uri(root: str) -> bool:
    """Whether ``root`` is a URI (``scheme://...``) rather than a local path."""
    return "://" in root


def _scheme(root: str) -> str:
    scheme = urlsplit(root).scheme.lower()
    if scheme not in OBJECT_STORE_SCHEMES:
        raise StorageError(
            f"MODAX_LAKE={root!r}: unsupported scheme {scheme!r}; use a directory or one of "
            + ", ".join(f"{s}://" for s in OBJECT_STORE_SCHEMES)
        )
    return scheme


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
    if not is_uri(root) or _scheme(root) not in ("s3", "s3a"):
        return {}
    env = os.environ if environ is None else environ
    options = {name: env[name] for name in S3_VARIABLES if env.get(name)}
    endpoint = options.get("AWS_ENDPOINT_URL")
    scheme = None if endpoint is None else urlsplit(endpoint).scheme
    if scheme is not None and scheme not in ("http", "https"):
        raise StorageError(
            f"AWS_ENDPOINT_URL={endpoint!r}: must be an http:// or https:// URL, "
            "e.g. http://127.0.0.1:9000"
        )
    if scheme == "http" and options.get("AWS_ALLOW_HTTP", "").lower() not in _TRUE:
        raise StorageError(
            f"AWS_ENDPOINT_URL={endpoint!r} is plain HTTP: set AWS_ALLOW_HTTP=true to allow it"
        )
    options["conditional_put"] = options.pop("AWS_CONDITIONAL_PUT", "etag")
    return options


def _s3_filesystem(options: Mapping[str, str]) -> pafs.S3FileSystem:
    # The AWS SDK's default gives up on a response that stalls for 3 s; a busy MinIO (or a big
    # compacted file) can, so allow what deltalake's object store allows (30 s).
    kwargs: dict[str, object] = {
        "request_timeout": _REQUEST_TIMEOUT_S,
        "connect_timeout": _CONNECT_TIMEOUT_S,
        "access_key": options.get("AWS_ACCESS_KEY_ID"),
        "secret_key": options.get("AWS_SECRET_ACCESS_KEY"),
        "session_token": options.get("AWS_SESSION_TOKEN"),
        "region": options.get("AWS_REGION"),
    }
    endpoint = options.get("AWS_ENDPOINT_URL")
    if endpoint is not None:
        parts = urlsplit(endpoint)
        kwargs.update(endpoint_override=parts.netloc, scheme=parts.scheme)
    return pafs.S3FileSystem(**{k: v for k, v in kwargs.items() if v is not None})


def arrow_filesystem(uri: str, options: Mapping[str, str]) -> pafs.FileSystem | None:
    """A native Arrow filesystem rooted at ``uri`` (a local path or ``s3://`` URI), or ``None``.

    Arrow datasets read through it directly (parallel range reads, picklable for Dask workers)
    instead of through a Python file handler. ``None`` for schemes Arrow is not set up for here:
    then deltalake's own handler reads them.

    Examples
    --------
    >>> fs = arrow_filesystem("/tmp", {})
    >>> fs.base_path
    '/tmp/'
    """
    if not is_uri(uri):
        return pafs.SubTreeFileSystem(str(Path(uri).resolve()), pafs.LocalFileSystem())
    scheme = _scheme(uri)
    if scheme not in ("s3", "s3a"):
        return None
    parts = urlsplit(uri)
    return pafs.SubTreeFileSystem(
        f"{parts.netloc}{parts.path}".rstrip("/"), _s3_filesystem(options)
    )
