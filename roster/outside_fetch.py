"""Fetching a file from a URL that someone else named, without letting it reach inside.

One module for every outside fetch: the MCP server's `url` argument and the CRM-sync HTTP sources.

- Only public addresses: every address that is not globally routable is refused (`not
  ip.is_global`: private, loopback, link-local with the cloud metadata service, shared address
  space 100.64.0.0/10 with Alibaba's metadata address, reserved, multicast), and IPv6 addresses
  that carry an IPv4 address inside (IPv4-mapped ::ffff:0:0/96, SIIT's IPv4-translated
  ::ffff:0:0:0/96, the deprecated IPv4-compatible ::/96, 6to4 2002::/16, Teredo, NAT64
  64:ff9b::/96) are judged by that IPv4 address too. The local-use NAT64 prefix 64:ff9b:1::/48
  (RFC 8215) is refused whole: it leads to a translator on the operator's own network, and
  where the IPv4 address sits in it depends on a prefix length only that network knows.
- Pinned: the name is resolved once per request, every answer is checked, and the connection goes
  to the checked address (the URL's host is kept for the Host header, TLS SNI and certificate
  check), so a DNS answer that changes between the check and the connection (rebinding) cannot
  send it elsewhere.
- Every redirect hop is a new request through the same check.
- A size cap while the body streams, and one deadline for the whole fetch, redirects included: a
  server that drips a byte at a time cannot keep it going.

Private addresses are allowed only when the caller says so (ROSTER_MCP_ALLOW_PRIVATE_URLS for the
MCP server; `allow_private` on a CRM-sync source or ROSTER_SYNC_ALLOW_PRIVATE_URLS), for
self-hosters whose CRM is on their own network; the fetch is still pinned and capped then.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urljoin

import anyio
import anyio.to_thread
import httpx

MAX_REDIRECTS = 5
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses it resolves to. Blocking; run in a worker thread.
Resolver = Callable[[str, int], list[str]]
# Prefixes whose last 32 bits are the IPv4 address a packet ends up at. Python's ipaddress
# knows IPv4-mapped (ipv4_mapped), 6to4 and Teredo, and calls the others global.
LAST_32_BITS_IPV4 = (
    ipaddress.ip_network("64:ff9b::/96"),  # NAT64, well-known prefix (RFC 6052)
    ipaddress.ip_network("::ffff:0:0:0/96"),  # SIIT, IPv4-translated (RFC 2765)
    ipaddress.ip_network("::/96"),  # IPv4-compatible (RFC 4291, deprecated)
)
LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: inside a network, never public


class FetchError(Exception):
    """The fetch did not give a file; the message says why in a person's words."""


class NotAllowed(FetchError):
    """The URL, or an address it resolves or redirects to, is not one this fetch may reach."""


class TooLarge(FetchError):
    pass


class HttpStatus(FetchError):
    def __init__(self, status: int):
        super().__init__(f"answered HTTP {status}")
        self.status = status


class FetchTimeout(FetchError):
    pass


@dataclass
class Fetched:
    url: str  # after redirects
    filename: str
    size: int  # bytes written


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise FetchError(f"cannot resolve {host}: {e}") from None
    return [str(info[4][0]).split("%")[0] for info in infos]


def embedded_ipv4(ip: Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries, where packets to it would end up."""
    if ip.version != 6:
        return []
    found = [ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None]
    if any(ip in prefix for prefix in LAST_32_BITS_IPV4):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return [a for a in found if a is not None]


def is_public(ip: Address) -> bool:
    if not ip.is_global or ip.is_multicast:
        return False
    if ip.version == 6 and ip in LOCAL_NAT64:
        return False
    return all(v4.is_global and not v4.is_multicast for v4 in embedded_ipv4(ip))


def check_address(host: str, ip: Address, allow_private: bool) -> None:
    if not allow_private and not is_public(ip):
        literal = host.strip("[]") == str(ip) or ipaddress.ip_address(host.strip("[]")) == ip if _is_ip(host) else False
        raise NotAllowed(f"{ip} is a private address" if literal else f"{host} resolves to a private address ({ip})")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


def check_scheme(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as e:
        raise NotAllowed(f"the url is not valid ({e})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise NotAllowed("url must be an http(s) URL")
    return parsed


def resolve_checked(host: str, port: int, allow_private: bool, resolver: Resolver | None = None) -> list[Address]:
    """Every address of `host`, each checked: one private answer refuses the host. Blocking."""
    try:
        addresses = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        addresses = [ipaddress.ip_address(a) for a in (resolver or system_resolver)(host, port)]
        if not addresses:
            raise FetchError(f"cannot resolve {host}") from None
    for ip in addresses:
        check_address(host, ip, allow_private)
    return addresses


class PinnedTransport(httpx.AsyncBaseTransport):
    """Resolves each request's host once, checks the answers, and connects to the first one."""

    def __init__(self, allow_private: bool, resolver: Resolver | None = None, inner: httpx.AsyncBaseTransport | None = None):
        self.allow_private = allow_private
        self.resolver = resolver
        self.inner = inner or httpx.AsyncHTTPTransport(retries=0)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        host = url.raw_host.decode("ascii")
        port = url.port or (443 if url.scheme == "https" else 80)
        [ip, *_] = await anyio.to_thread.run_sync(resolve_checked, host, port, self.allow_private, self.resolver)
        # The Host header was set from the URL when the request was built and stays; TLS gets
        # the name for SNI and the certificate check.
        request.url = url.copy_with(host=str(ip))
        if url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": host}
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def fetch(
    url: str,
    out: BinaryIO,
    *,
    max_bytes: int | None,
    total_timeout: float,
    head_bytes: int | None = None,
    headers: dict[str, str] | None = None,
    allow_private: bool = False,
    resolver: Resolver | None = None,
    read_timeout: float = 30.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Fetched:
    """GET `url` into `out`, following up to MAX_REDIRECTS redirects, each checked.

    max_bytes: refuse a body larger than this (TooLarge). head_bytes: keep only the first bytes
    and stop reading (no size limit then). total_timeout: seconds for everything (FetchTimeout).
    Raises FetchError (NotAllowed, TooLarge, HttpStatus, FetchTimeout) and nothing else from httpx."""
    check_scheme(url)
    timeout = httpx.Timeout(min(read_timeout, total_timeout))
    pinned = PinnedTransport(allow_private, resolver, inner=transport)
    try:
        with anyio.fail_after(total_timeout):
            # identity: the body is stored as it comes (aiter_raw), so a compressed one lands as a
            # .gz file whose inflation the importer bounds, never inflated here without a limit.
            async with httpx.AsyncClient(
                transport=pinned,
                timeout=timeout,
                follow_redirects=False,
                headers={"accept-encoding": "identity", **(headers or {})},
            ) as client:
                for _ in range(MAX_REDIRECTS + 1):
                    async with client.stream("GET", url) as resp:
                        if resp.is_redirect:
                            url = urljoin(url, resp.headers.get("location", ""))
                            check_scheme(url)
                            continue
                        if resp.status_code >= 400:
                            raise HttpStatus(resp.status_code)
                        size = await _body(resp, out, max_bytes, head_bytes)
                        return Fetched(url=url, filename=Path(httpx.URL(url).path).name, size=size)
                raise FetchError(f"too many redirects (more than {MAX_REDIRECTS})")
    except TimeoutError:
        raise FetchTimeout(f"timed out after {total_timeout:g} s") from None
    except httpx.TimeoutException:
        raise FetchTimeout(f"timed out after {min(read_timeout, total_timeout):g} s without an answer") from None
    except httpx.HTTPError as e:
        raise FetchError(f"failed: {e}") from None


async def _body(resp: httpx.Response, out: BinaryIO, max_bytes: int | None, head_bytes: int | None) -> int:
    declared = resp.headers.get("content-length", "")
    if head_bytes is None and max_bytes is not None and declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(f"the file at the url is larger than {max_bytes} bytes")
    size = 0
    async for chunk in resp.aiter_raw():
        if head_bytes is not None:
            out.write(chunk[: head_bytes - size])
            size = min(head_bytes, size + len(chunk))
            if size >= head_bytes:
                break
            continue
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise TooLarge(f"the file at the url is larger than {max_bytes} bytes")
        out.write(chunk)
    return size


def fetch_sync(url: str, out: BinaryIO, **kwargs: Any) -> Fetched:
    """fetch() for synchronous callers (a Dagster schedule tick): its own event loop, this thread."""
    return anyio.run(functools.partial(fetch, url, out, **kwargs))
