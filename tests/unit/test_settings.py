"""Settings.from_env: defaults, parsing, and errors that name the variable."""

from __future__ import annotations

import pytest

from bucketd.server.settings import Settings, SettingsError


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.mongodb_uri is None
    assert settings.mongodb_database == "bucketd"
    assert settings.s3_bucket == "bucketd"
    assert settings.aws_region == "us-east-1"
    assert settings.fetch_allowlist == ()


def test_public_endpoint_defaults_to_the_endpoint() -> None:
    settings = Settings.from_env({"S3_ENDPOINT_URL": "http://s3:9000"})
    assert settings.presign_endpoint_url == "http://s3:9000"
    public = Settings.from_env(
        {"S3_ENDPOINT_URL": "http://s3:9000", "S3_PUBLIC_ENDPOINT_URL": "https://files.example"}
    )
    assert public.presign_endpoint_url == "https://files.example"


def test_allowlist_is_split_and_trimmed() -> None:
    settings = Settings.from_env({"BUCKETD_FETCH_ALLOWLIST": " 127.0.0.1/32, files.local ,,"})
    assert settings.fetch_allowlist == ("127.0.0.1/32", "files.local")


def test_bad_number_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="BUCKETD_HTTP_MAX_BODY_BYTES"):
        Settings.from_env({"BUCKETD_HTTP_MAX_BODY_BYTES": "lots"})


def test_settings_are_frozen() -> None:
    settings = Settings.from_env({})
    with pytest.raises(AttributeError):
        settings.s3_bucket = "other"  # type: ignore[misc]
