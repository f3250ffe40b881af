"""Fetching URL sources for mirroring: streamed, size-capped, timed out, and SSRF-guarded.

Every address a connection may use comes from GuardedResolver, which refuses non-public
addresses (private, loopback, link-local and so cloud metadata, multicast, reserved) after DNS
resolution, unless BUCKETD_FETCH_ALLOWLIST names the host or a CIDR that holds the address.
Redirects are followed by hand, each hop checked the same way.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urljoin, urlparse

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from bucketd.server.domain.stored import Fetched
from bucketd.server.errors import InvalidArgument, PayloadTooLarge

MAX_REDIRECTS = 5
CHUNK_BYTES = 1024 * 1024
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class FetchRefused(InvalidArgument):
    """The URL may not or cannot be fetched; the message says why."""


@dataclass(frozen=True)
class Allowlist:
    hosts: frozenset[str]
    networks: tuple[IpNetwork, ...]

    @classmethod
    def parse(cls, entries: tuple[str, ...]) -> Allowlist:
        hosts, networks = set(), []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.lower())
        return cls(frozenset(hosts), tuple(networks))

    def allows(self, host: str, address: str) -> bool:
        ip = ipaddress.ip_address(address)
        return host.lower() in self.hosts or any(ip in network for network in self.networks)

    def permits(self, host: str, address: str) -> bool:
        """Whether a fetch of `host` may connect to `address`."""
        return is_public(address) or self.allows(host, address)


def refused_address(host: str) -> FetchRefused:
    return FetchRefused(
        f"host {host!r} is or resolves to a private, loopback or link-local address; "
        "such addresses are refused unless BUCKETD_FETCH_ALLOWLIST allows them"
    )


def _ip_literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class GuardedResolver(AbstractResolver):
    """Resolves, then keeps only the addresses a fetch may connect to."""

    def __init__(self, allowlist: Allowlist) -> None:
        self._allowlist = allowlist
        self._resolver = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            results = await self._resolver.resolve(host, port, family)
        except OSError as error:
            raise FetchRefused(f"cannot resolve host {host!r}: {error}") from error
        allowed = [r for r in results if self._allowlist.permits(host, r["host"])]
        if not allowed:
            raise refused_address(host)
        return allowed

    async def close(self) -> None:
        await self._resolver.close()


class UrlFetcher:
    def __init__(
        self,
        *,
        allowlist: Allowlist,
        max_bytes: int,
        connect_timeout: float,
        read_timeout: float,
    ) -> None:
        self._allowlist = allowlist
        self._max_bytes = max_bytes
        self._timeout = aiohttp.ClientTimeout(sock_connect=connect_timeout, sock_read=read_timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> UrlFetcher:
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(self._allowlist), limit=64)
        self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    @contextlib.asynccontextmanager
    async def open(self, url: str) -> AsyncIterator[Fetched]:
        """Stream the body of `url`, redirects followed; errors say why it cannot be fetched."""
        assert self._session is not None, "use the fetcher inside `async with`"
        response = await self._follow(url)
        try:
            declared = response.content_length
            if declared is not None and declared > self._max_bytes:
                raise self._too_large(url)
            yield Fetched(
                chunks=self._limited(url, response),
                content_type=response.headers.get("Content-Type"),
                filename=urlparse(str(response.url)).path.rsplit("/", 1)[-1] or None,
            )
        finally:
            response.release()

    async def _follow(self, url: str) -> aiohttp.ClientResponse:
        assert self._session is not None
        for _ in range(MAX_REDIRECTS + 1):
            parsed = urlparse(url)
            if parsed.scheme.lower() not in {"http", "https"} or not parsed.hostname:
                raise FetchRefused(f"{url!r}: only http and https URLs with a host are fetched")
            literal = _ip_literal(parsed.hostname)  # aiohttp connects to IP literals unresolved
            if literal is not None and not self._allowlist.permits(parsed.hostname, literal):
                raise refused_address(parsed.hostname)
            try:
                response = await self._session.get(url, allow_redirects=False)
            except FetchRefused:
                raise
            except (aiohttp.ClientError, TimeoutError) as error:
                raise FetchRefused(
                    f"cannot fetch {url!r}: {error or type(error).__name__}"
                ) from error
            if response.status in {301, 302, 303, 307, 308} and "Location" in response.headers:
                url = urljoin(url, response.headers["Location"])
                response.release()
                continue
            if response.status != 200:
                response.release()
                raise FetchRefused(f"fetching {url!r} answered HTTP {response.status}")
            return response
        raise FetchRefused(f"{url!r}: more than {MAX_REDIRECTS} redirects")

    async def _limited(self, url: str, response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
        received = 0
        try:
            async for chunk in response.content.iter_chunked(CHUNK_BYTES):
                received += len(chunk)
                if received > self._max_bytes:
                    raise self._too_large(url)
                yield chunk
        except (aiohttp.ClientError, TimeoutError) as error:
            raise FetchRefused(
                f"reading {url!r} failed: {error or type(error).__name__}"
            ) from error

    def _too_large(self, url: str) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"{url!r} is larger than the fetch limit of {self._max_bytes} bytes",
            details={"limit_bytes": str(self._max_bytes)},
        )
