"""Outside fetches (MCP `url`, CRM-sync HTTP sources): public addresses only, the checked address
pinned for the connection, every redirect hop checked, size and total time capped (FAULTS 9).

Every server here is a real HTTP server on this machine. Two loopback addresses stand for the two
sides of the network: 127.0.0.2 plays a public host (the tests tell the policy so), 127.0.0.1 the
inside that must stay out of reach; a fake resolver plays DNS, rebinding included."""

from __future__ import annotations

import http.server
import io
import ipaddress
import os
import threading
import time

import anyio
import pytest

from roster.safety import outside_fetch
from roster.safety.outside_fetch import FetchTimeout, HttpStatus, NotAllowed, TooLarge, fetch_sync, is_public

OUTSIDE, INSIDE = "127.0.0.2", "127.0.0.1"


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "127.0.0.1",
        "0.0.0.0",
        "169.254.169.254",  # metadata (AWS, GCP, Azure)
        "100.64.0.1",
        "100.100.100.200",  # shared address space; Alibaba Cloud's metadata service
        "192.0.0.1",
        "198.18.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "224.0.0.1",
        "239.1.2.3",
        "::1",
        "::",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",  # IPv4-mapped
        "2002:7f00:1::",
        "2002:a00:1::1",
        "2002:a9fe:a9fe::",  # 6to4 around 127.0.0.1, 10.0.0.1, 169.254.169.254
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo
        "64:ff9b::a00:1",
        "64:ff9b::a9fe:a9fe",  # NAT64 to 10.0.0.1 and the metadata service
        "64:ff9b::7f00:1",  # NAT64 to 127.0.0.1
        "64:ff9b:1::a00:1",
        "64:ff9b:1:a00:1::",
        "64:ff9b:1::808:808",  # local-use NAT64 (RFC 8215): refused whatever it embeds
        "::ffff:0:a00:1",
        "::ffff:0:7f00:1",
        "::ffff:0:a9fe:a9fe",  # SIIT (IPv4-translated) around 10.0.0.1, 127.0.0.1, the metadata service
        "::a00:1",
        "::7f00:1",
        "::a9fe:a9fe",  # IPv4-compatible around 10.0.0.1, 127.0.0.1, the metadata service
        "2002:c0a8:101::1",  # 6to4 around 192.168.1.1
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo, client 192.0.2.45 (documentation, not global)
    ],
)
def test_every_non_public_address_is_refused(address):
    assert not is_public(ipaddress.ip_address(address))
    with pytest.raises(NotAllowed, match="private address"):
        outside_fetch.check_address("host.example", ipaddress.ip_address(address), allow_private=False)


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2002:808:808::1", "64:ff9b::808:808", "::ffff:0:808:808"],
)
def test_public_addresses_pass(address):
    assert is_public(ipaddress.ip_address(address))


def test_mcp_check_url_refuses_shared_address_space_and_6to4():
    """FAULTS 9b: `check_url('http://100.100.100.200/latest/meta-data/')` was allowed."""
    from roster.mcp_server.fetch import Refused, check_url

    for url in (
        "http://100.100.100.200/latest/meta-data/",
        "http://[2002:a9fe:a9fe::]/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://100.64.0.1/",
    ):
        with pytest.raises(Refused, match="private address"):
            check_url(url)


# --- real servers ---------------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    side = "?"
    redirect_to = ""

    def do_GET(self):  # noqa: N802
        if self.path == "/drip":  # a byte at a time, for ever (the test's deadline ends it)
            self.send_response(200)
            self.send_header("content-type", "text/csv")
            self.end_headers()
            try:
                for _ in range(200):
                    self.wfile.write(b"e")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass
            return
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("location", self.redirect_to)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        if self.path.startswith("/big"):
            body = b"email\n" + b"a@b.io\n" * 1000
            self.send_response(200)
            if self.path == "/big":
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:  # chunked: no size announced
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                for i in range(0, len(body), 500):
                    part = body[i : i + 500]
                    self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            return
        if self.path == "/missing":
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        body = f"email\n{self.side}@example.com\n".encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _server(address: str, port: int, side: str):
    handler = type(f"Handler_{side}", (_Handler,), {"side": side})
    server = http.server.ThreadingHTTPServer((address, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, handler


@pytest.fixture
def network(monkeypatch):
    """An 'outside' server on 127.0.0.2 and an 'inside' one on 127.0.0.1, on the same port (as a
    rebinding attack needs); the policy is told that 127.0.0.2 is public."""
    for _ in range(20):
        outside, out_handler = _server(OUTSIDE, 0, "outside")
        port = outside.server_address[1]
        try:
            inside, _ = _server(INSIDE, port, "inside")
            break
        except OSError:
            outside.shutdown()
    else:
        pytest.skip("no port free on both loopback addresses")
    real = outside_fetch.is_public
    monkeypatch.setattr(outside_fetch, "is_public", lambda ip: str(ip) == OUTSIDE or real(ip))
    yield port, out_handler
    outside.shutdown()
    inside.shutdown()


class Resolver:
    """DNS as the test wants it: each name answers from a list, the last answer repeating."""

    def __init__(self, answers: dict[str, list[str]]):
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        seq = self.answers[host]
        return [seq.pop(0) if len(seq) > 1 else seq[0]]


def _get(url: str, **kw) -> tuple[bytes, outside_fetch.Fetched]:
    out = io.BytesIO()
    kw.setdefault("max_bytes", 10_000_000)
    kw.setdefault("total_timeout", 20)
    got = fetch_sync(url, out, **kw)
    return out.getvalue(), got


def test_dns_rebinding_cannot_reach_inside(network):
    """FAULTS 9a: a public answer at the check and 127.0.0.1 at the connection fetched the inside
    server's body. The connection now goes to the address that was checked."""
    port, _ = network
    resolver = Resolver({"rebind.test": [OUTSIDE, INSIDE]})
    body, got = _get(f"http://rebind.test:{port}/list.csv", resolver=resolver)
    assert body == b"email\noutside@example.com\n" and got.filename == "list.csv"
    assert resolver.asked == ["rebind.test"]  # resolved once: no second answer to be fooled by
    # A name whose answer is inside from the start is refused before any connection.
    with pytest.raises(NotAllowed, match=r"inside\.test resolves to a private address \(127\.0\.0\.1\)"):
        _get(f"http://inside.test:{port}/", resolver=Resolver({"inside.test": [INSIDE]}))
    # One private answer among public ones is enough to refuse.
    with pytest.raises(NotAllowed):
        _get(f"http://mixed.test:{port}/", resolver=lambda h, p: [OUTSIDE, INSIDE])


def test_every_redirect_hop_is_checked(network):
    port, handler = network
    for target in (
        f"http://{INSIDE}:{port}/secret",
        f"http://inside.test:{port}/secret",
        f"http://[::ffff:127.0.0.1]:{port}/secret",
        "http://169.254.169.254/latest/meta-data/",
    ):
        handler.redirect_to = target
        resolver = Resolver({"outside.test": [OUTSIDE], "inside.test": [INSIDE]})
        with pytest.raises(NotAllowed, match="private address"):
            _get(f"http://outside.test:{port}/redirect", resolver=resolver)
    handler.redirect_to = "file:///etc/passwd"
    with pytest.raises(NotAllowed, match="http"):
        _get(f"http://{OUTSIDE}:{port}/redirect")
    handler.redirect_to = f"http://outside.test:{port}/ok.csv"
    body, got = _get(f"http://{OUTSIDE}:{port}/redirect", resolver=Resolver({"outside.test": [OUTSIDE]}))
    assert body == b"email\noutside@example.com\n" and got.url.endswith("/ok.csv")


def test_size_is_capped_with_or_without_a_declared_length(network):
    port, _ = network
    for path in ("/big", "/big-chunked"):
        with pytest.raises(TooLarge, match="larger than 1000 bytes"):
            _get(f"http://{OUTSIDE}:{port}{path}", max_bytes=1000)
    body, _ = _get(f"http://{OUTSIDE}:{port}/big", head_bytes=100)
    assert len(body) == 100


def test_a_dripping_server_meets_one_total_deadline(network):
    """FAULTS 9c: URL_TIMEOUT was per read, so a byte a second kept a download going 45 s and on."""
    port, _ = network
    started = time.monotonic()
    with pytest.raises(FetchTimeout, match="timed out after 1.5 s"):
        _get(f"http://{OUTSIDE}:{port}/drip", total_timeout=1.5, read_timeout=30)
    assert time.monotonic() - started < 4


def test_http_errors_and_private_opt_in(network):
    port, _ = network
    with pytest.raises(HttpStatus, match="HTTP 404"):
        _get(f"http://{OUTSIDE}:{port}/missing")
    with pytest.raises(NotAllowed):
        _get(f"http://{INSIDE}:{port}/x.csv")
    body, _ = _get(f"http://{INSIDE}:{port}/x.csv", allow_private=True)
    assert body == b"email\ninside@example.com\n"


def test_mcp_download_is_pinned_and_has_a_deadline(network, monkeypatch):
    from roster.mcp_server import fetch as mcp_fetch

    port, _ = network
    monkeypatch.delenv("ROSTER_MCP_ALLOW_PRIVATE_URLS", raising=False)
    path, name = anyio.run(
        lambda: mcp_fetch.download(f"http://rebind.test:{port}/people.csv", resolver=Resolver({"rebind.test": [OUTSIDE, INSIDE]}))
    )
    try:
        assert path.read_bytes() == b"email\noutside@example.com\n" and name == "people.csv"
    finally:
        os.unlink(path)
    monkeypatch.setattr(mcp_fetch, "URL_TIMEOUT", 1.0)
    with pytest.raises(mcp_fetch.Refused, match="timed out after 1 s"):
        anyio.run(lambda: mcp_fetch.download(f"http://{OUTSIDE}:{port}/drip"))


def test_https_is_pinned_and_still_checks_the_certificate(monkeypatch):
    """The connection goes to the checked address, while TLS still names the URL's host (SNI) and
    checks the certificate against it."""
    import ssl

    import httpx
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("secure.test")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    server = http.server.ThreadingHTTPServer((OUTSIDE, 0), type("H", (_Handler,), {"side": "tls"}))
    server.socket = server_ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    real = outside_fetch.is_public
    monkeypatch.setattr(outside_fetch, "is_public", lambda ip: str(ip) == OUTSIDE or real(ip))
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    try:
        resolver = Resolver({"secure.test": [OUTSIDE, INSIDE], "other.test": [OUTSIDE]})
        body, _ = _get(
            f"https://secure.test:{port}/x.csv", resolver=resolver, transport=httpx.AsyncHTTPTransport(verify=client_ctx)
        )
        assert body == b"email\ntls@example.com\n" and resolver.asked == ["secure.test"]
        # A name the certificate does not carry fails the check, though it resolves to the same address.
        with pytest.raises(outside_fetch.FetchError, match="failed"):
            _get(f"https://other.test:{port}/x.csv", resolver=resolver, transport=httpx.AsyncHTTPTransport(verify=client_ctx))
    finally:
        server.shutdown()
