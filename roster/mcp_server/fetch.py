"""What create-contact-import may read: files under the allowed directories only, and URLs whose
host is public (unless ROSTER_MCP_ALLOW_PRIVATE_URLS=1), fetched with a size limit and a timeout."""
from __future__ import annotations

import ipaddress
import os
import socket
import tempfile
from pathlib import Path
from urllib.parse import urljoin, urlparse

import httpx

DEFAULT_MAX_URL_BYTES = 200 * 1024 * 1024
URL_TIMEOUT = 30.0
MAX_REDIRECTS = 5


class Refused(ValueError):
    """The tool's input is not allowed; the message says why."""


def allowed_dirs() -> list[Path]:
    raw = os.environ.get("ROSTER_MCP_ALLOWED_DIRS")
    dirs = [d for d in raw.split(os.pathsep) if d.strip()] if raw else [os.getcwd()]
    return [Path(d).expanduser().resolve() for d in dirs]


def check_path(file_path: str) -> Path:
    path = Path(file_path).expanduser()
    if not path.is_absolute():
        path = Path(os.getcwd()) / path
    path = path.resolve()  # symlinks and .. resolved before the check
    roots = allowed_dirs()
    if not any(path == root or path.is_relative_to(root) for root in roots):
        raise Refused(f"{file_path} is outside the allowed directories ({os.pathsep.join(map(str, roots))}); "
                      "set ROSTER_MCP_ALLOWED_DIRS to allow another")
    if not path.is_file():
        raise Refused(f"no such file: {file_path}")
    return path


def _private_allowed() -> bool:
    return os.environ.get("ROSTER_MCP_ALLOW_PRIVATE_URLS", "").lower() in ("1", "true", "yes")


def check_url(url: str) -> None:
    parts = urlparse(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("url must be an http(s) URL")
    if _private_allowed():
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                                   type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise Refused(f"cannot resolve {parts.hostname}: {e}") from None
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%")[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast or ip.is_unspecified:
            raise Refused(f"{parts.hostname} resolves to a private address ({ip}); "
                          "set ROSTER_MCP_ALLOW_PRIVATE_URLS=1 to allow it")


def max_url_bytes() -> int:
    return int(os.environ.get("ROSTER_MCP_MAX_URL_BYTES", DEFAULT_MAX_URL_BYTES))


async def download(url: str, head_bytes: int | None = None) -> tuple[Path, str]:
    """Fetch the URL into a temporary file (the caller deletes it). Every redirect hop is checked.
    head_bytes: keep only the first bytes (a column-map suggestion reads no more): no size limit then."""
    limit = max_url_bytes()
    fd, tmp = tempfile.mkstemp(prefix="roster-mcp-", suffix=".csv")
    os.close(fd)
    path = Path(tmp)
    try:
        async with httpx.AsyncClient(timeout=URL_TIMEOUT, follow_redirects=False) as client:
            for _ in range(MAX_REDIRECTS + 1):
                check_url(url)
                async with client.stream("GET", url) as resp:
                    if resp.is_redirect:
                        url = urljoin(url, resp.headers.get("location", ""))
                        continue
                    if resp.status_code >= 400:
                        raise Refused(f"fetching the url failed: HTTP {resp.status_code}")
                    declared = resp.headers.get("content-length")
                    if head_bytes is None and declared and declared.isdigit() and int(declared) > limit:
                        raise Refused(f"the file at the url is larger than {limit} bytes")
                    size = 0
                    with path.open("wb") as out:
                        async for chunk in resp.aiter_bytes():
                            if head_bytes is not None:
                                out.write(chunk[: head_bytes - size])
                                size += len(chunk)
                                if size >= head_bytes:
                                    break
                                continue
                            size += len(chunk)
                            if size > limit:
                                raise Refused(f"the file at the url is larger than {limit} bytes")
                            out.write(chunk)
                    name = Path(urlparse(url).path).name or "import.csv"
                    return path, name
            raise Refused("too many redirects")
    except httpx.HTTPError as e:
        path.unlink(missing_ok=True)
        raise Refused(f"fetching the url failed: {e}") from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
