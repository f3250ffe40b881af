"""Settings.from_env: defaults, parsing, bounds, and errors that name the variable."""

from __future__ import annotations

import pytest

from bucketd.gateway.settings import GatewaySettings
from bucketd.server.settings import Settings, SettingsError
from scripts import settings_table
from scripts.readme_section import CONFIG_DOC


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
    with pytest.raises(SettingsError, match="BUCKETD_HTTP_MAX_BODY_BYTES must be an integer"):
        GatewaySettings.from_env({"BUCKETD_HTTP_MAX_BODY_BYTES": "lots"})
    with pytest.raises(SettingsError, match="BUCKETD_KEY_CACHE_SECONDS must be a finite"):
        Settings.from_env({"BUCKETD_KEY_CACHE_SECONDS": "nan"})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BUCKETD_MAX_STREAM_CHUNK_BYTES", "4194304", "at most 2097152"),
        ("BUCKETD_MAX_BLOBS_PER_OBJECT", "0", "at least 1"),
        ("BUCKETD_STREAM_IDLE_SECONDS", "-1", "at least 0.001"),
    ],
)
def test_out_of_bounds_is_refused_not_corrected(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=f"{name} must be {message}, got {value}"):
        Settings.from_env({name: value})


def test_values_are_parsed_by_their_declared_type() -> None:
    settings = Settings.from_env(
        {"BUCKETD_MAX_INLINE_BYTES": " 2048 ", "BUCKETD_SHUTDOWN_GRACE_SECONDS": "2.5"}
    )
    assert settings.max_inline_bytes == 2048
    assert settings.shutdown_grace_seconds == 2.5
    gateway = GatewaySettings.from_env({"BUCKETD_GATEWAY_TIMEOUT_SECONDS": "7"})
    assert gateway.gateway_timeout_seconds == 7.0


def test_settings_are_frozen() -> None:
    settings = Settings.from_env({})
    with pytest.raises(AttributeError):
        settings.s3_bucket = "other"  # type: ignore[misc]


def test_readme_configuration_table_is_generated_from_the_declarations() -> None:
    text = CONFIG_DOC.read_text()
    assert settings_table.with_table(text) == text, "run `make docs` and commit docs/operating.md"
    for name in ("MONGODB_URI", "BUCKETD_HTTP_MAX_BODY_BYTES", "BUCKETD_MAX_STREAM_CHUNK_BYTES"):
        assert f"| `{name}` |" in text
