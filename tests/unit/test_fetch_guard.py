"""The SSRF guard's address rules (the fetching itself is tested end to end)."""

from __future__ import annotations

import pytest

from bucketd.server.storage.fetch import Allowlist, is_public


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00:ec2::254", False),
        ("::ffff:127.0.0.1", False),
        ("::127.0.0.1", False),  # IPv4-compatible: reaches 127.0.0.1
        ("::169.254.169.254", False),
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::1", False),  # 6to4 of 169.254.169.254
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", False),  # Teredo, client 127.0.0.1
        ("fe80::1%eth0", False),
        ("::ffff:93.184.216.34", True),
        ("::", False),
        ("224.0.0.1", False),
        ("2606:4700:4700::1111", True),
    ],
)
def test_only_global_unicast_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(address) is public


def test_allowlist_by_cidr_and_by_host() -> None:
    allowlist = Allowlist.parse(("127.0.0.1/32", "Files.Internal", "10.0.0.0/8"))
    assert allowlist.permits("localhost", "127.0.0.1")
    assert not allowlist.permits("localhost", "127.0.0.2")
    assert allowlist.permits("files.internal", "192.168.5.5")
    assert allowlist.permits("anything", "10.9.9.9")
    assert not allowlist.permits("anything", "169.254.169.254")
    assert allowlist.permits("example.com", "93.184.216.34")
