"""Object-store settings: which AWS_* variables reach deltalake and Arrow, and clear errors."""

from __future__ import annotations

import pyarrow.fs as pafs
import pytest

from modax.config import ConfigError, StorageError, load_settings, storage_options
from modax.lake import Lake, arrow_filesystem

MINIO = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
    "AWS_ACCESS_KEY_ID": "modax",
    "AWS_SECRET_ACCESS_KEY": "secret",
    "AWS_REGION": "eu-central-1",
    "AWS_ALLOW_HTTP": "true",
    "HOME": "/root",
}


def test_s3_roots_get_the_aws_variables_and_conditional_put():
    options = storage_options("s3://lake/prod", MINIO)
    assert options == {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        "AWS_ACCESS_KEY_ID": "modax",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_REGION": "eu-central-1",
        "AWS_ALLOW_HTTP": "true",
        "conditional_put": "etag",
    }
    assert (
        storage_options("s3://lake", {**MINIO, "AWS_CONDITIONAL_PUT": "disabled"})[
            "conditional_put"
        ]
        == "disabled"
    )


def test_local_and_other_cloud_roots_need_no_s3_options():
    assert storage_options("/data/lake", MINIO) == {}
    assert storage_options("gs://bucket/lake", MINIO) == {}


@pytest.mark.parametrize(
    ("root", "env", "message"),
    [
        ("ftp://host/lake", {}, "unsupported scheme 'ftp'"),
        ("s3://lake", {"AWS_ENDPOINT_URL": "127.0.0.1:9000"}, "must be an http:// or https:// URL"),
        ("s3://lake", {"AWS_ENDPOINT_URL": "http://minio:9000"}, "set AWS_ALLOW_HTTP=true"),
    ],
)
def test_bad_settings_name_the_variable_and_the_fix(root: str, env: dict, message: str):
    with pytest.raises(StorageError, match=message):
        storage_options(root, env)


def test_settings_validation_rejects_a_bad_lake_uri_as_a_config_error():
    with pytest.raises(ConfigError, match="MODAX_LAKE='ftp://x/lake': unsupported scheme"):
        load_settings({"MODAX_LAKE": "ftp://x/lake"})


def test_arrow_filesystem_is_rooted_at_the_table():
    s3 = arrow_filesystem("s3://lake/prod/telemetry", storage_options("s3://lake", MINIO))
    assert isinstance(s3, pafs.SubTreeFileSystem)
    assert s3.base_path == "lake/prod/telemetry/"
    assert isinstance(s3.base_fs, pafs.S3FileSystem) and s3.base_fs.region == "eu-central-1"
    assert arrow_filesystem("gs://bucket/lake", {}) is None


def test_explicit_lake_options_win_over_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.delenv("AWS_ALLOW_HTTP", raising=False)
    with pytest.raises(StorageError, match="AWS_ALLOW_HTTP"):
        Lake("s3://lake/prod")
    lake = Lake("s3://lake/prod", storage_options={"AWS_ALLOW_HTTP": "true", "timeout": "5s"})
    assert lake.storage_options["AWS_ALLOW_HTTP"] == "true"
    assert lake.storage_options["timeout"] == "5s"
