"""Why a channel never connected, in words: certificate not trusted, hostname mismatch, refused.

gRPC reports only the last address it tried: `localhost` resolves to ::1 and 127.0.0.1, so a
server on 127.0.0.1 whose certificate the client does not trust reads as "[::1] Connection
refused", and the certificate failure is hidden. When a call could not connect at all, the
client opens one connection (and TLS handshake) of its own to the same address with the same
trust, and says what failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl

from bucketd.client.errors import ApiError, Unavailable
from bucketd.client.settings import ClientSettings

NEVER_CONNECTED = "failed to connect to all addresses"
PROBE_SECONDS = 5.0
HOSTNAME_MISMATCH = 62  # X509_V_ERR_HOSTNAME_MISMATCH


def _host_port(address: str) -> tuple[str, int] | None:
    """`host:port` (or `[v6]:port`, `dns:///host:port`); None for targets gRPC resolves
    itself (lists, other schemes)."""
    address = address.removeprefix("dns:///")
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or (":" in host and not host.startswith("[")):
        return None
    return host.strip("[]"), int(port)


def _context(settings: ClientSettings) -> ssl.SSLContext:
    """The trust the channel has: the CA file given, else the system's roots."""
    cafile = str(settings.ca_file) if settings.ca_file else None
    return ssl.create_default_context(cafile=cafile)


def _tls_failure(error: ssl.SSLError, host: str) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        if error.verify_code == HOSTNAME_MISMATCH:
            return (
                f"TLS: hostname mismatch: the server's certificate is not valid for {host!r} "
                "(connect by a name the certificate lists)"
            )
        return (
            f"TLS: certificate verification failed ({error.verify_message}): give the CA that "
            "signed the server's certificate (ca_file=, BUCKETD_TLS_CA_FILE, --ca-file)"
        )
    return f"TLS handshake failed ({error.reason or error}): does the server speak TLS?"


async def why_unreachable(settings: ClientSettings) -> str | None:
    """What a fresh connection to the client's address runs into; None when it works (or the
    address is not one host and port)."""
    target = _host_port(settings.address)
    if target is None:
        return None
    host, port = target
    context = _context(settings) if settings.tls else None
    try:
        async with asyncio.timeout(PROBE_SECONDS):
            _, writer = await asyncio.open_connection(
                host, port, ssl=context, server_hostname=host if context else None
            )
    except ssl.SSLError as error:
        return _tls_failure(error, host)
    except ConnectionRefusedError:
        return f"connection refused at {host}:{port} (is bucketd listening there?)"
    except TimeoutError:
        return f"no answer from {host}:{port} within {PROBE_SECONDS:.0f}s"
    except OSError as error:
        return f"cannot connect to {host}:{port}: {error.strerror or error}"
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()
    return None


async def explained(error: ApiError, settings: ClientSettings) -> ApiError:
    """`error`, its message saying what failed when the call never connected."""
    if not isinstance(error, Unavailable) or NEVER_CONNECTED not in error.message:
        return error
    why = await why_unreachable(settings)
    if why is None:
        return error
    return Unavailable(
        f"cannot reach bucketd at {settings.address}: {why} [gRPC: {error.message}]",
        reason=error.reason,
        metadata=error.metadata,
    )
