"""Settings from ``MODAX_*`` environment variables, validated at start.

Every component reads its settings here, so one variable configures the whole workbench:

============================  ==============================================  =====================
variable                      meaning                                         default
============================  ==============================================  =====================
``MODAX_LAKE``                lake root: a local path or an object-store URI  ``data/lake``
``MODAX_BROKER``              MQTT broker URL (``mqtt://`` or ``mqtts://``)   ``mqtt://localhost:1883``
``MODAX_MQTT_USERNAME``       MQTT user name                                  none
``MODAX_MQTT_PASSWORD``       MQTT password (secret: masked when printed)     none
``MODAX_MQTT_CA_FILE``        CA certificate for ``mqtts://``                 system store
``MODAX_MQTT_CERT_FILE``      client certificate for ``mqtts://``             none
``MODAX_MQTT_KEY_FILE``       client key for ``mqtts://``                     none
``MODAX_LOG_FORMAT``          ``text`` or ``json``                            ``text``
``MODAX_LOG_LEVEL``           ``DEBUG``, ``INFO``, ``WARNING``, ``ERROR``      ``INFO``
``MODAX_MAX_CLOCK_SKEW_S``    how far a device's epoch timestamp may be       ``86400`` (1 day)
                              ahead of the receive time, in s; further ahead
                              is quarantined (``timestamp_in_future``)
``MODAX_VACUUM_RETENTION_H``  hours a replaced lake file is kept for readers  ``168`` (7 days)
``MODAX_STATE_DIR``           local directory for operator state (the         ``<lake>/_state``;
                              dashboards' alarm acknowledgements), so the     ``$XDG_STATE_HOME/
                              lake itself may be mounted read-only            modax`` for s3://
============================  ==============================================  =====================
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from modax._errors import ConfigError
from modax.config._storage import storage_options

__all__ = [
    "DEFAULT_VACUUM_RETENTION_H",
    "BrokerURL",
    "ConfigError",
    "Settings",
    "load_settings",
    "parse_broker_url",
    "parse_hours",
    "state_directory",
]

_SECRETS = frozenset({"mqtt_password"})
_LOG_FORMATS = ("text", "json")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
#: Delta Lake's own default for ``delta.deletedFileRetentionDuration``: 7 days.
DEFAULT_VACUUM_RETENTION_H = 168


def parse_hours(raw: str | int, *, name: str = "MODAX_VACUUM_RETENTION_H") -> int:
    """A whole number of hours, 0 or more (``raw`` as text from the environment, or a number).

    Raises
    ------
    ConfigError
        Naming ``name`` and saying what a valid value looks like.

    Examples
    --------
    >>> parse_hours("24")
    24
    """
    try:
        hours = int(str(raw).strip())
    except ValueError:
        hours = -1
    if hours < 0:
        raise ConfigError(
            f"{name}={raw!r}: must be a whole number of hours, 0 or more, e.g. 168 (7 days, "
            "Delta's default): files replaced by compaction or retention stay that long for "
            "readers still on an older snapshot"
        )
    return hours


def state_directory(lake: str, state_dir: str | None = None) -> Path:
    """The directory for local operator state (the dashboards' alarm acknowledgements).

    ``state_dir`` (``MODAX_STATE_DIR``) when given; otherwise a local lake keeps its state beside
    its tables in ``<lake>/_state`` and an object-store lake (``s3://``...) in
    ``$XDG_STATE_HOME/modax`` (default ``~/.local/state/modax``), since SQLite needs a local file.

    Examples
    --------
    >>> state_directory("/srv/lake").as_posix()
    '/srv/lake/_state'
    >>> state_directory("/srv/lake", "/var/lib/modax").as_posix()
    '/var/lib/modax'
    """
    if state_dir:
        return Path(state_dir)
    if "://" in lake:
        state_home = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
        return Path(state_home) / "modax"
    return Path(lake) / "_state"


@dataclass(frozen=True)
class BrokerURL:
    """A parsed broker URL.

    Examples
    --------
    >>> parse_broker_url("mqtts://broker.local")
    BrokerURL(host='broker.local', port=8883, tls=True)
    """

    host: str
    port: int
    tls: bool

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def parse_broker_url(url: str, *, name: str = "MODAX_BROKER") -> BrokerURL:
    """Parse ``mqtt://host[:port]`` or ``mqtts://host[:port]``.

    Raises
    ------
    ConfigError
        Naming ``name`` and saying what a valid value looks like.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ConfigError(
            f"{name}={url!r}: the scheme must be mqtt:// or mqtts://, e.g. mqtt://localhost:1883"
        )
    if not parts.hostname:
        raise ConfigError(f"{name}={url!r}: no host, e.g. mqtt://localhost:1883")
    if parts.username or parts.password:
        raise ConfigError(
            f"{name}: put credentials in MODAX_MQTT_USERNAME / MODAX_MQTT_PASSWORD, not in the URL"
        )
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError:
        raise ConfigError(f"{name}={url!r}: the port must be a number from 1 to 65535") from None
    return BrokerURL(host=parts.hostname, port=port, tls=tls)


@dataclass(frozen=True)
class Settings:
    """The effective settings; build with :func:`load_settings`.

    Examples
    --------
    >>> env = {"MODAX_LAKE": "/tmp/lake", "MODAX_MQTT_USERNAME": "ingester"}
    >>> s = load_settings({**env, "MODAX_MQTT_PASSWORD": "hunter2"})
    >>> s.lake, s.masked()["mqtt_password"]
    ('/tmp/lake', '***')
    """

    lake: str = "data/lake"
    broker: str = "mqtt://localhost:1883"
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    mqtt_ca_file: str | None = None
    mqtt_cert_file: str | None = None
    mqtt_key_file: str | None = None
    log_format: str = "text"
    log_level: str = "INFO"
    max_clock_skew_s: float = 86_400.0
    vacuum_retention_h: int = DEFAULT_VACUUM_RETENTION_H
    state_dir: str | None = None

    @property
    def state_path(self) -> Path:
        """Where operator state lives: ``state_dir``, else :func:`state_directory`'s default."""
        return state_directory(self.lake, self.state_dir)

    @property
    def broker_url(self) -> BrokerURL:
        """``broker`` parsed."""
        return parse_broker_url(self.broker)

    def with_overrides(self, **overrides: Any) -> Settings:
        """Return a copy where every non-``None`` override (e.g. a CLI flag) wins, validated."""
        changed = replace(self, **{k: v for k, v in overrides.items() if v is not None})
        changed.validate()
        return changed

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the variable for the first invalid setting."""
        if not self.lake:
            raise ConfigError("MODAX_LAKE is empty: set it to a directory or an s3:// URI")
        storage_options(self.lake)  # the URI scheme and the AWS_* settings it needs
        parse_broker_url(self.broker)
        if self.log_format not in _LOG_FORMATS:
            raise ConfigError(f"MODAX_LOG_FORMAT={self.log_format!r}: use one of {_LOG_FORMATS}")
        if self.log_level not in _LOG_LEVELS:
            raise ConfigError(f"MODAX_LOG_LEVEL={self.log_level!r}: use one of {_LOG_LEVELS}")
        parse_hours(self.vacuum_retention_h)
        if (self.mqtt_password is None) != (self.mqtt_username is None):
            raise ConfigError(
                "MODAX_MQTT_USERNAME and MODAX_MQTT_PASSWORD must be set together (or neither)"
            )
        for name in ("mqtt_ca_file", "mqtt_cert_file", "mqtt_key_file"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise ConfigError(f"MODAX_{name.upper()}={path!r}: no such file")
        if not (math.isfinite(self.max_clock_skew_s) and self.max_clock_skew_s >= 0):
            raise ConfigError(
                f"MODAX_MAX_CLOCK_SKEW_S={self.max_clock_skew_s!r}: use a number of seconds "
                "of 0 or more, e.g. 86400 (one day)"
            )
        if self.state_dir is not None:
            _validate_state_dir(self.state_dir)
        if (self.mqtt_cert_file is None) != (self.mqtt_key_file is None):
            raise ConfigError(
                "MODAX_MQTT_CERT_FILE and MODAX_MQTT_KEY_FILE must be set together (or neither)"
            )

    def masked(self) -> dict[str, str | int | float | None]:
        """The settings as a dict with secrets replaced by ``***`` (safe to print or log)."""
        return {
            f.name: (
                "***" if f.name in _SECRETS and getattr(self, f.name) else getattr(self, f.name)
            )
            for f in fields(self)
        }


def _validate_state_dir(state_dir: str) -> None:
    """Raise :class:`ConfigError` unless ``state_dir`` can be a local directory."""
    if "://" in state_dir:
        raise ConfigError(
            f"MODAX_STATE_DIR={state_dir!r}: must be a local directory (the state is SQLite, "
            "which needs a local file), e.g. /var/lib/modax"
        )
    if Path(state_dir).exists() and not Path(state_dir).is_dir():
        raise ConfigError(f"MODAX_STATE_DIR={state_dir!r}: is a file, not a directory")


def _typed(name: str, raw: str) -> str | float | int:
    """``raw`` as the type of the setting ``name`` (seconds are floats, hours whole numbers)."""
    if name == "log_level":
        return raw.upper()
    if name.endswith("_h"):
        return parse_hours(raw, name=f"MODAX_{name.upper()}")
    if name.endswith("_s"):
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(
                f"MODAX_{name.upper()}={raw!r}: not a number of seconds, e.g. 86400"
            ) from None
    return raw


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate ``MODAX_*`` variables (``os.environ`` by default).

    Raises
    ------
    ConfigError
        Naming the variable and what to fix.
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(Settings):
        raw = env.get(f"MODAX_{f.name.upper()}")
        if raw is not None and raw != "":
            values[f.name] = _typed(f.name, raw)
    settings = Settings(**values)
    settings.validate()
    return settings
