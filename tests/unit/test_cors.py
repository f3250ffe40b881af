"""Which requests get CORS headers (gateway/cors.py): listed origins, on the API's paths only."""

from __future__ import annotations

from aiohttp.test_utils import make_mocked_request

from bucketd.gateway.cors import Cors
from bucketd.gateway.settings import GatewaySettings


def _origin_of(cors: Cors, path: str, origin: str | None) -> str | None:
    headers = {"Origin": origin} if origin else {}
    return cors.allows(make_mocked_request("GET", path, headers=headers))


def test_unset_allows_no_origin() -> None:
    assert GatewaySettings().cors_origins == ()
    assert _origin_of(Cors(()), "/v1/buckets/list", "https://app.example.com") is None


def test_listed_origins_only_and_on_the_api_only() -> None:
    cors = Cors(("https://App.example.com/", " http://127.0.0.1:8080"))
    assert _origin_of(cors, "/v1/buckets", "https://app.example.com") == "https://app.example.com"
    assert _origin_of(cors, "/v1/buckets", "http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert _origin_of(cors, "/v1/buckets", "http://127.0.0.1:8081") is None
    assert _origin_of(cors, "/v1/buckets", "https://app.example.com.evil.test") is None
    assert _origin_of(cors, "/v1/buckets", None) is None
    assert _origin_of(cors, "/metrics", "https://app.example.com") is None
    assert _origin_of(cors, "/healthz", "https://app.example.com") is None


def test_a_star_allows_every_origin() -> None:
    assert _origin_of(Cors(("*",)), "/v1/buckets", "https://any.test") == "https://any.test"
