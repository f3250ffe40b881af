"""Fetching URL sources for mirroring: streamed, size-capped, deadlined, and SSRF-guarded.

The guard sits where a connection is made, not where a URL is read: every socket the fetcher
opens comes from AddressGuard.socket, which judges the address it is about to connect to —
however the URL spelled the host (Unicode digits and dots that yarl maps to ASCII, numeric
forms the resolver reads), whatever hop of a redirect it is — and refuses non-public addresses
(private, loopback, link-local and so cloud metadata, multicast, reserved) before a byte is
sent, unless BUCKETD_FETCH_ALLOWLIST holds the address (a CIDR) or the host it was resolved for
(GuardedResolver vouches for those). An IPv6 address that embeds an IPv4 one (mapped,
compatible, 6to4, Teredo, NAT64) is judged by the IPv4 address. The host is also read as
aiohttp will read it (yarl's IDNA/UTS-46 mapping) to refuse an IP literal early with a clear
message. A whole fetch has one deadline (BUCKETD_FETCH_TIMEOUT_SECONDS, and the call's).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlparse

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from bucketd.server.domain.deadlines import seconds_left
from bucketd.server.domain.stored import Fetched
from bucketd.server.errors import InvalidArgument, PayloadTooLarge, SourceTooSlow

MAX_REDIRECTS = 5
CHUNK_BYTES = 1024 * 1024
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


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
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        return host.lower() in self.hosts or any(ip in network for network in self.networks)

    def permits(self, host: str, address: str) -> bool:
        """Whether a fetch of `host` may connect to `address`."""
        return is_public(address) or self.allows(host, address)


class RefusedAddress(OSError):
    """A socket refused its address (AddressGuard): aiohttp reports it as a connect error."""


class AddressGuard:
    """Every socket the fetcher opens, judged by the address it will connect to."""

    def __init__(self, allowlist: Allowlist) -> None:
        self._allowlist = allowlist
        self._vouched: set[str] = set()  # addresses of allow-listed hosts (GuardedResolver)

    def vouch(self, address: str) -> None:
        self._vouched.add(address)

    def permits(self, address: str) -> bool:
        return (
            is_public(address)
            or self._allowlist.allows("", address)
            or address.split("%", 1)[0] in self._vouched
        )

    def socket(self, addr_info: tuple[Any, ...]) -> socket.socket:
        """aiohttp's socket factory (aiohappyeyeballs calls it with the address to connect)."""
        family, kind, proto, _, sockaddr = addr_info
        address = str(sockaddr[0])
        if not self.permits(address):
            raise RefusedAddress(f"{address} is not a public address")
        return socket.socket(family, kind, proto)


def refused_address(host: str) -> FetchRefused:
    return FetchRefused(
        f"host {host!r} is or resolves to a private, loopback or link-local address; "
        "such addresses are refused unless BUCKETD_FETCH_ALLOWLIST allows them"
    )


def _ip_literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]").split("%", 1)[0]))
    except ValueError:
        return None


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if any (mapped, compatible, 6to4, Teredo,
    NAT64): what a connection to it would reach."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    value = int(ip)
    if value >> 32 == 0 and value > 1:  # ::a.b.c.d, the deprecated IPv4-compatible form
        return ipaddress.IPv4Address(value)
    if any(ip in network for network in _NAT64):
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    return None


def is_public(address: str) -> bool:
    ip: IpAddress = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None:
            ip = inner
    return ip.is_global and not ip.is_multicast


class GuardedResolver(AbstractResolver):
    """Resolves, then keeps only the addresses a fetch may connect to (vouching to the guard
    for those an allow-listed host name resolved to)."""

    def __init__(self, allowlist: Allowlist, guard: AddressGuard) -> None:
        self._allowlist = allowlist
        self._guard = guard
        self._resolver = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            results = await self._resolver.resolve(host, port, family)
        except OSError as error:
            raise FetchRefused(f"cannot resolve host {host!r}: {error.strerror or error}") from None
        allowed = [r for r in results if self._allowlist.permits(host, r["host"])]
        if not allowed:
            raise refused_address(host)
        for result in allowed:
            if self._allowlist.allows(host, result["host"]):
                self._guard.vouch(result["host"])
        return allowed

    async def close(self) -> None:
        await self._resolver.close()


def _reason(error: BaseException) -> str:
    """What went wrong, in words (never an exception class name)."""
    if isinstance(error, TimeoutError):
        return "no answer in time"
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"cannot connect ({error.os_error.strerror or 'refused'})"
    return str(error) or "the connection failed"


def _redirect(url: str, location: str) -> str:
    """Where a redirect from `url` leads; a malformed Location is the source's fault."""
    try:
        target = urljoin(url, location)
        urlparse(target).port  # noqa: B018 - reading it checks the host and port
    except ValueError as error:
        raise FetchRefused(
            f"fetching {url!r} redirected to a malformed URL {location!r} ({error}): "
            "give the final URL instead"
        ) from None
    return target


class UrlFetcher:
    def __init__(
        self,
        *,
        allowlist: Allowlist,
        max_bytes: int,
        connect_timeout: float,
        read_timeout: float,
        total_timeout: float,
    ) -> None:
        self._allowlist = allowlist
        self._max_bytes = max_bytes
        self._total = total_timeout
        self._timeout = aiohttp.ClientTimeout(sock_connect=connect_timeout, sock_read=read_timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> UrlFetcher:
        guard = AddressGuard(self._allowlist)
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(self._allowlist, guard),
            socket_factory=guard.socket,
            limit=64,
        )
        self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    @contextlib.asynccontextmanager
    async def open(self, url: str) -> AsyncIterator[Fetched]:
        """Stream the body of `url`, redirects followed; errors say why it cannot be fetched."""
        assert self._session is not None, "use the fetcher inside `async with`"
        budget = seconds_left(self._total)
        deadline = time.monotonic() + budget
        try:
            async with asyncio.timeout(budget):
                response = await self._follow(url)
        except TimeoutError:
            raise self._too_slow(url, budget) from None
        try:
            declared = response.content_length
            if declared is not None and declared > self._max_bytes:
                raise self._too_large(url)
            yield Fetched(
                chunks=self._limited(url, response, deadline, budget),
                content_type=response.headers.get("Content-Type"),
                filename=urlparse(str(response.url)).path.rsplit("/", 1)[-1] or None,
            )
        finally:
            response.release()

    def _check_literal(self, url: str) -> str:
        """The host as aiohttp will connect to it (yarl's IDNA mapping: fullwidth digits and
        dots are 127.0.0.1); an IP literal is refused here, early and clearly (AddressGuard
        would refuse its socket anyway)."""
        try:
            parsed = URL(url)
            host = parsed.host
        except ValueError as error:
            raise FetchRefused(f"{url!r} is not a URL bucketd can fetch: {error}") from None
        if parsed.scheme.lower() not in {"http", "https"} or not host:
            raise FetchRefused(f"{url!r}: only http and https URLs with a host are fetched")
        literal = _ip_literal(host)
        if literal is not None and not self._allowlist.permits(host, literal):
            raise refused_address(host)
        return host

    async def _follow(self, url: str) -> aiohttp.ClientResponse:
        assert self._session is not None
        for _ in range(MAX_REDIRECTS + 1):
            host = self._check_literal(url)
            try:
                response = await self._session.get(url, allow_redirects=False)
            except FetchRefused:
                raise
            except aiohttp.ClientConnectorError as error:
                if isinstance(error.os_error, RefusedAddress):
                    raise refused_address(host) from None
                raise FetchRefused(f"cannot fetch {url!r}: {_reason(error)}") from None
            except (aiohttp.ClientError, OSError) as error:
                raise FetchRefused(f"cannot fetch {url!r}: {_reason(error)}") from None
            if response.status in {301, 302, 303, 307, 308} and "Location" in response.headers:
                response.release()
                url = _redirect(url, response.headers["Location"])
                continue
            if response.status != 200:
                response.release()
                raise FetchRefused(f"fetching {url!r} answered HTTP {response.status}")
            return response
        raise FetchRefused(f"{url!r}: more than {MAX_REDIRECTS} redirects")

    async def _limited(
        self, url: str, response: aiohttp.ClientResponse, deadline: float, budget: float
    ) -> AsyncIterator[bytes]:
        received = 0
        chunks = response.content.iter_chunked(CHUNK_BYTES)
        while True:
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise self._too_slow(url, budget) from None
            except (aiohttp.ClientError, OSError) as error:
                raise FetchRefused(f"reading {url!r} failed: {_reason(error)}") from None
            received += len(chunk)
            if received > self._max_bytes:
                raise self._too_large(url)
            yield chunk

    def _too_large(self, url: str) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"{url!r} is larger than the fetch limit of {self._max_bytes} bytes",
            details={"limit_bytes": str(self._max_bytes)},
        )

    def _too_slow(self, url: str, budget: float) -> SourceTooSlow:
        return SourceTooSlow(
            f"{url!r} was too slow: it did not finish within {budget:.1f} s "
            "(BUCKETD_FETCH_TIMEOUT_SECONDS, or the call's own deadline)",
            details={"limit_seconds": f"{budget:.1f}"},
        )
