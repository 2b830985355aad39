"""The HTTP layer shared by Roster and AsyncRoster: configuration, retries with backoff on 429
(honouring retry-after) and 5xx/connection errors, errors raised as RosterError."""

from __future__ import annotations

import io
import json
import os
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Generic, TypeVar

import httpx

from roster.client.errors import ConfigurationError, ConnectionFailed, error_for

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
RETRY_STATUSES = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 60.0


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("roster")
    except Exception:
        return "0"


T = TypeVar("T")
# What an upload takes: a path, the file's bytes (or its text), or a binary file object.
FileInput = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes]


@dataclass
class Request(Generic[T]):
    """One API call; `parse` makes its result (a T) from the response."""

    method: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    data: dict[str, Any] | None = None
    file: tuple[str, Any, str] | None = None  # (filename, file object, content type)
    headers: dict[str, Any] | None = None
    parse: Callable[[httpx.Response], T] = lambda r: r.json()


class Config:
    def __init__(self, api_key: str | None, base_url: str | None, timeout: float, max_retries: int) -> None:
        self.api_key = api_key or os.environ.get("ROSTER_API_KEY")
        if not self.api_key:
            raise ConfigurationError(0, "missing_api_key", "no API key: pass api_key= or set ROSTER_API_KEY")
        self.base_url = (base_url or os.environ.get("ROSTER_API_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries

    def headers(self) -> dict[str, Any]:
        return {
            "Authorization": f"Bearer {self.api_key}",
            "User-Agent": f"roster-python/{_version()}",
            "Accept": "application/json",
        }


def prepare(req: Request[T]) -> Request[T]:
    """POSTs get an Idempotency-Key so that retrying them is safe."""
    if req.method == "POST":
        req.headers = {"Idempotency-Key": str(uuid.uuid4()), **(req.headers or {})}
    return req


def build_kwargs(req: Request[Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "params": {k: v for k, v in (req.params or {}).items() if v is not None} or None,
        "headers": req.headers,
    }
    if req.file is not None:
        name, fileobj, ctype = req.file
        if hasattr(fileobj, "seek"):
            fileobj.seek(getattr(fileobj, "_roster_start", 0))
        kwargs["files"] = {"file": (name, fileobj, ctype)}
        kwargs["data"] = req.data or {}
    elif req.json is not None:
        kwargs["json"] = req.json
    return kwargs


def raise_for(resp: httpx.Response) -> None:
    if resp.status_code < 400:
        return
    try:
        body = resp.json()
        name, message = body.get("name") or "error", body.get("message") or resp.reason_phrase
    except (json.JSONDecodeError, ValueError, AttributeError):
        name, message = "application_error", resp.text[:200] or resp.reason_phrase
    raise error_for(resp.status_code, name, message, resp.headers)


def backoff(attempt: int, resp: httpx.Response | None) -> float:
    if resp is not None and resp.status_code == 429:
        try:
            return min(MAX_RETRY_AFTER, max(0.0, float(resp.headers.get("retry-after", "1"))))
        except ValueError:
            return 1.0
    return min(10.0, 0.5 * (2.0**attempt)) * (0.5 + random.random() / 2)


def should_retry(attempt: int, max_retries: int, resp: httpx.Response | None) -> bool:
    return attempt < max_retries and (resp is None or resp.status_code in RETRY_STATUSES)


def open_file(file: FileInput, filename: str | None) -> tuple[str, Any, bool]:
    """A path, bytes/str, or a binary file object -> (filename, file object, whether we opened it)."""
    if isinstance(file, (str, os.PathLike)) and not (isinstance(file, str) and "\n" in file):
        path = Path(file)
        if not path.is_file():
            raise ConfigurationError(0, "file_not_found", f"no such file: {path}")
        return filename or path.name, path.open("rb"), True
    if isinstance(file, (bytes, bytearray, memoryview)):
        return filename or "import.csv", io.BytesIO(bytes(file)), True
    if hasattr(file, "read"):
        name = filename or Path(getattr(file, "name", "import.csv") or "import.csv").name
        try:
            file._roster_start = file.tell()  # type: ignore[union-attr]  # a file object, given its own attribute
        except Exception:
            pass
        return name, file, False
    raise ConfigurationError(0, "invalid_file", "file must be a path, bytes or a binary file object")


HEAD_BYTES = 4 << 20  # what the server reads of a file for a column-map suggestion


def read_head(fileobj: IO[bytes] | IO[str], limit: int = HEAD_BYTES) -> io.BytesIO:
    """The file's first `limit` bytes, ended at a line end when the file is longer (a gzip file: as is)."""
    raw = fileobj.read(limit + 1)
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if len(raw) > limit:
        raw = raw[:limit]
        if raw[:2] != b"\x1f\x8b":
            i = raw.rfind(b"\n")
            if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16: a whole two-byte line end
                i = raw.rfind(b"\n\x00" if raw[:2] == b"\xff\xfe" else b"\x00\n")
                while i > 0 and i % 2:
                    i = raw.rfind(raw[i : i + 2], 0, i)
                raw = raw[: i + 2] if i > 0 else raw
            elif i > 0:
                raw = raw[: i + 1]
    return io.BytesIO(raw)


class SyncHTTP:
    def __init__(self, config: Config, client: httpx.Client | None = None) -> None:
        self.config = config
        self.client = client or httpx.Client(base_url=config.base_url, timeout=config.timeout, headers=config.headers())

    def call(self, req: Request[T]) -> T:
        req = prepare(req)
        attempt = 0
        while True:
            resp = None
            try:
                resp = self.client.request(req.method, req.path, **build_kwargs(req))
            except httpx.TransportError as e:
                if not should_retry(attempt, self.config.max_retries, None):
                    raise ConnectionFailed(0, "connection_error", f"cannot reach {self.config.base_url}: {e}") from None
            if resp is not None and not should_retry(attempt, self.config.max_retries, resp):
                raise_for(resp)
                return req.parse(resp)
            time.sleep(backoff(attempt, resp))
            attempt += 1

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def close(self) -> None:
        self.client.close()


class AsyncHTTP:
    def __init__(self, config: Config, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.client = client or httpx.AsyncClient(base_url=config.base_url, timeout=config.timeout, headers=config.headers())

    async def call(self, req: Request[T]) -> T:
        import anyio

        req = prepare(req)
        attempt = 0
        while True:
            resp = None
            try:
                resp = await self.client.request(req.method, req.path, **build_kwargs(req))
            except httpx.TransportError as e:
                if not should_retry(attempt, self.config.max_retries, None):
                    raise ConnectionFailed(0, "connection_error", f"cannot reach {self.config.base_url}: {e}") from None
            if resp is not None and not should_retry(attempt, self.config.max_retries, resp):
                raise_for(resp)
                return req.parse(resp)
            await anyio.sleep(backoff(attempt, resp))
            attempt += 1

    async def sleep(self, seconds: float) -> None:
        import anyio

        await anyio.sleep(seconds)

    async def close(self) -> None:
        await self.client.aclose()
