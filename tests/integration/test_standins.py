"""The stand-in launchers start real servers and stop them, also when the body fails."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

import pytest
from pymongo import MongoClient

from bucketd.standins.launch import mongo_standin, s3_standin


def _listening(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, port)) == 0


def test_mongo_standin_answers_and_stops_even_on_error() -> None:
    with pytest.raises(RuntimeError, match="boom"), mongo_standin() as uri:
        address = urlparse(uri)
        client: MongoClient[dict[str, object]] = MongoClient(uri, serverSelectionTimeoutMS=3000)
        assert client.admin.command("ping")["ok"] == 1.0
        client.close()
        raise RuntimeError("boom")
    assert address.hostname and address.port
    assert not _listening(address.hostname, address.port)


def test_s3_standin_binds_loopback_only_and_stops() -> None:
    with s3_standin() as endpoint:
        address = urlparse(endpoint)
        assert address.hostname == "127.0.0.1"
        assert address.port and _listening("127.0.0.1", address.port)
    assert not _listening("127.0.0.1", address.port)
