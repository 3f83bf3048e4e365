"""Settings from ``MODAX_*`` (and, for object-store lakes, ``AWS_*``) environment variables.

Every component reads its settings here, validated at start with an error that names the variable
and what to fix: :func:`load_settings` for the workbench, :func:`storage_options` for where the
lake's bytes live.
"""

from modax._errors import ConfigError
from modax.config._settings import (
    DEFAULT_VACUUM_RETENTION_H,
    BrokerURL,
    Settings,
    load_settings,
    parse_broker_url,
    parse_hours,
    state_directory,
)
from modax.config._storage import (
    OBJECT_STORE_SCHEMES,
    S3_VARIABLES,
    StorageError,
    is_uri,
    scheme,
    storage_options,
)

__all__ = [
    "DEFAULT_VACUUM_RETENTION_H",
    "OBJECT_STORE_SCHEMES",
    "S3_VARIABLES",
    "BrokerURL",
    "ConfigError",
    "Settings",
    "StorageError",
    "is_uri",
    "load_settings",
    "parse_broker_url",
    "parse_hours",
    "scheme",
    "state_directory",
    "storage_options",
]
