"""What the gRPC and HTTP listeners share: the error of a taken port, and where to dial."""

from __future__ import annotations


class PortInUse(Exception):
    """A port bucketd must listen on is taken: one line for the operator, exit status 2."""


def dial_host(host: str) -> str:
    """Where to dial a listener bound to `host` from this machine."""
    return "127.0.0.1" if host in {"", "0.0.0.0", "::"} else host
