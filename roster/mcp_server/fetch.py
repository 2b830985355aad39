"""What create-contact-import may read: files under the allowed directories only, and URLs whose
host is public (unless ROSTER_MCP_ALLOW_PRIVATE_URLS=1), fetched with a size limit and a deadline."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from roster.runtime.settings import get_settings
from roster.safety import allowed_paths, outside_fetch

URL_TIMEOUT = 30.0  # seconds for the whole fetch, redirects included


class Refused(ValueError):
    """The tool's input is not allowed; the message says why."""


def check_path(file_path: str) -> Path:
    try:
        return allowed_paths.check_path(file_path, "ROSTER_MCP_ALLOWED_DIRS")
    except allowed_paths.PathRefused as e:
        raise Refused(str(e)) from None


def _private_allowed() -> bool:
    return get_settings().mcp_allow_private_urls


PRIVATE_HINT = "set ROSTER_MCP_ALLOW_PRIVATE_URLS=1 to allow it"


def check_url(url: str, resolver: outside_fetch.Resolver | None = None) -> None:
    """Refuse a URL that is not http(s) or whose host resolves to a non-public address. (download()
    checks again, and connects to the very address it checked.)"""
    try:
        parsed = outside_fetch.check_scheme(url)
        if not _private_allowed():
            port = parsed.port or (443 if parsed.scheme == "https" else 80)
            outside_fetch.resolve_checked(parsed.raw_host.decode("ascii"), port, False, resolver)
    except outside_fetch.NotAllowed as e:
        raise Refused(f"{e}; {PRIVATE_HINT}" if "private address" in str(e) else str(e)) from None
    except outside_fetch.FetchError as e:
        raise Refused(str(e)) from None


def max_url_bytes() -> int:
    return get_settings().mcp_max_url_bytes


async def download(url: str, head_bytes: int | None = None, resolver: outside_fetch.Resolver | None = None) -> tuple[Path, str]:
    """Fetch the URL into a temporary file (the caller deletes it): public addresses only, pinned,
    every redirect hop checked, size-capped, URL_TIMEOUT seconds in all (roster/safety/outside_fetch.py).
    head_bytes: keep only the first bytes (a column-map suggestion reads no more): no size limit then."""
    fd, tmp = tempfile.mkstemp(prefix="roster-mcp-", suffix=".csv")
    path = Path(tmp)
    try:
        with os.fdopen(fd, "wb") as out:
            got = await outside_fetch.fetch(
                url,
                out,
                max_bytes=None if head_bytes else max_url_bytes(),
                head_bytes=head_bytes,
                total_timeout=URL_TIMEOUT,
                allow_private=_private_allowed(),
                resolver=resolver,
            )
        return path, got.filename or "import.csv"
    except outside_fetch.NotAllowed as e:
        path.unlink(missing_ok=True)
        raise Refused(f"{e}; {PRIVATE_HINT}" if "private address" in str(e) else str(e)) from None
    except outside_fetch.FetchError as e:
        path.unlink(missing_ok=True)
        message = str(e) if isinstance(e, outside_fetch.TooLarge) else f"fetching the url failed: {e}"
        raise Refused(message) from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
