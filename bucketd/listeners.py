"""What the gRPC and HTTP listeners share: the error of a taken port, and where to dial."""

from __future__ import annotations

import socket


class PortInUse(Exception):
    """A port bucketd must listen on is taken: one line for the operator, naming the flag that
    chooses another, exit status 2."""

    def __init__(self, message: str, *, flag: str) -> None:
        super().__init__(f"{message} (choose another with {flag}, or stop what holds it)")


def check_free(host: str, port: int, *, what: str, flag: str) -> None:
    """Raise PortInUse now if host:port cannot be bound, before a library (gRPC's core) tries
    it and prints lines of its own."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise PortInUse(
                f"cannot listen for {what} on {host}:{port}: {error.strerror}", flag=flag
            ) from None


def dial_host(host: str) -> str:
    """Where to dial a listener bound to `host` from this machine."""
    return "127.0.0.1" if host in {"", "0.0.0.0", "::"} else host
