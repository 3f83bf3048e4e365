"""Native Arrow filesystems for lake roots: local paths and ``s3://`` URIs.

Arrow datasets read through them directly (parallel range reads, picklable for Dask workers)
instead of through deltalake's Python file handler. The settings come from
:func:`modax.config.storage_options`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow.fs as pafs

from modax.config import is_uri, scheme

__all__ = ["arrow_filesystem"]

# The AWS SDK's default gives up on a response that stalls for 3 s; a busy MinIO (or a big
# compacted file) can, so allow what deltalake's object store allows (30 s).
_REQUEST_TIMEOUT_S = 30.0
_CONNECT_TIMEOUT_S = 10.0


def _s3_filesystem(options: Mapping[str, str]) -> pafs.S3FileSystem:
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
    if scheme(uri) not in ("s3", "s3a"):
        return None
    parts = urlsplit(uri)
    return pafs.SubTreeFileSystem(
        f"{parts.netloc}{parts.path}".rstrip("/"), _s3_filesystem(options)
    )
