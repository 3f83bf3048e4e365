"""Settings from MODAX_* variables: defaults, validation errors that say what to fix, masking."""

from __future__ import annotations

import pytest

from modax.config import ConfigError, load_settings, parse_broker_url


def test_defaults():
    s = load_settings({})
    assert (s.lake, s.broker, s.log_format) == ("data/lake", "mqtt://localhost:1883", "text")
    assert str(s.broker_url) == "mqtt://localhost:1883"
    assert s.vacuum_retention_h == 168
    assert load_settings({"MODAX_VACUUM_RETENTION_H": "24"}).vacuum_retention_h == 24


def test_environment_overrides_and_cli_overrides_win():
    s = load_settings({"MODAX_LAKE": "/srv/lake", "MODAX_BROKER": "mqtts://b.example:9000"})
    assert s.lake == "/srv/lake"
    assert (s.broker_url.host, s.broker_url.port, s.broker_url.tls) == ("b.example", 9000, True)
    assert s.with_overrides(lake="/other", broker=None).lake == "/other"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"MODAX_BROKER": "http://x"}, "MODAX_BROKER"),
        ({"MODAX_BROKER": "mqtt://"}, "MODAX_BROKER"),
        ({"MODAX_BROKER": "mqtt://host:99999"}, "MODAX_BROKER"),
        ({"MODAX_BROKER": "mqtt://user:pw@host"}, "MODAX_MQTT_PASSWORD"),
        ({"MODAX_LOG_FORMAT": "xml"}, "MODAX_LOG_FORMAT"),
        ({"MODAX_LOG_LEVEL": "loud"}, "MODAX_LOG_LEVEL"),
        ({"MODAX_MQTT_USERNAME": "u"}, "MODAX_MQTT_PASSWORD"),
        ({"MODAX_MQTT_CA_FILE": "/no/such/ca.pem"}, "MODAX_MQTT_CA_FILE"),
        ({"MODAX_MAX_CLOCK_SKEW_S": "a day"}, "MODAX_MAX_CLOCK_SKEW_S"),
        ({"MODAX_MAX_CLOCK_SKEW_S": "-5"}, "MODAX_MAX_CLOCK_SKEW_S"),
        ({"MODAX_MAX_CLOCK_SKEW_S": "inf"}, "MODAX_MAX_CLOCK_SKEW_S"),
        ({"MODAX_MAX_CLOCK_SKEW_S": "nan"}, "MODAX_MAX_CLOCK_SKEW_S"),
        ({"MODAX_VACUUM_RETENTION_H": "7d"}, "MODAX_VACUUM_RETENTION_H='7d': must be a whole"),
        ({"MODAX_VACUUM_RETENTION_H": "-1"}, "MODAX_VACUUM_RETENTION_H='-1': must be a whole"),
    ],
)
def test_invalid_settings_name_the_variable(env, names):
    with pytest.raises(ConfigError, match=names):
        load_settings(env)


def test_clock_skew_is_seconds_with_a_default_of_one_day():
    assert load_settings({}).max_clock_skew_s == 86_400.0
    assert load_settings({"MODAX_MAX_CLOCK_SKEW_S": "90.5"}).max_clock_skew_s == 90.5


def test_secrets_are_masked():
    s = load_settings({"MODAX_MQTT_USERNAME": "ingest", "MODAX_MQTT_PASSWORD": "s3cret"})
    masked = s.masked()
    assert masked["mqtt_password"] == "***"
    assert "s3cret" not in repr(masked)
    assert masked["mqtt_username"] == "ingest"


def test_default_ports_follow_the_scheme():
    assert parse_broker_url("mqtt://h").port == 1883
    assert parse_broker_url("mqtts://h").port == 8883


def test_the_state_directory_defaults_beside_a_local_lake_and_may_move(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert load_settings({"MODAX_LAKE": "/srv/lake"}).state_path.as_posix() == "/srv/lake/_state"
    s3 = {"MODAX_LAKE": "s3://bucket/lake", "AWS_REGION": "us-east-1"}
    assert load_settings(s3).state_path == tmp_path / "xdg" / "modax"
    moved = load_settings({"MODAX_LAKE": "/srv/lake", "MODAX_STATE_DIR": str(tmp_path / "st")})
    assert moved.state_path == tmp_path / "st"


def test_a_state_directory_that_cannot_hold_sqlite_is_refused(tmp_path):
    (tmp_path / "a-file").write_text("")
    for value, reason in [("s3://bucket/state", "must be a local directory"), ("a-file", "file")]:
        path = value if "://" in value else str(tmp_path / value)
        with pytest.raises(ConfigError, match=f"MODAX_STATE_DIR=.*{reason}"):
            load_settings({"MODAX_STATE_DIR": path})
