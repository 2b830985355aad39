"""`Idempotency-Key` on POST: the same key and body returns the first response; the same key with
another body is 409 invalid_idempotent_request; a key whose first request is still running is 409
concurrent_idempotent_requests. Keys are 1-256 characters (else 400 invalid_idempotency_key),
scoped to the API key, and kept 24 hours.

Kept in memory, per process: a restart forgets them, and two server processes do not share them.
(A table would need a migration; see the report of issue 4.)

The body is never buffered: it is hashed as it streams to the route. A multipart body is hashed
part by part (names, part headers, data), so the same upload sent again with another boundary
matches. A response is remembered only if the route read the whole body and the status is not
401/403/429/5xx (those say nothing about the request itself).
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field

from roster.api.errors import error_body

TTL_SECONDS = 24 * 3600
MAX_ENTRIES = 100_000
NOT_REMEMBERED = {401, 403, 429}


@dataclass
class Entry:
    expires: float
    fingerprint: str | None = None
    status: int | None = None
    headers: list = field(default_factory=list)
    body: bytes = b""

    @property
    def done(self) -> bool:
        return self.status is not None


class IdempotencyStore:
    def __init__(self, ttl: float = TTL_SECONDS):
        self.ttl = ttl
        self._entries: dict[tuple[str, str], Entry] = {}
        self._lock = threading.Lock()

    def claim(self, key: tuple[str, str]) -> Entry | None:
        """The finished or running entry for the key, or None after reserving it for this request."""
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry and entry.expires > now:
                return entry
            if len(self._entries) >= MAX_ENTRIES:
                for k in [k for k, e in self._entries.items() if e.expires <= now]:
                    del self._entries[k]
            self._entries[key] = Entry(expires=now + self.ttl)
            return None

    def finish(self, key, fingerprint: str, status: int, headers: list, body: bytes) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                entry.fingerprint, entry.status, entry.headers, entry.body = fingerprint, status, headers, body

    def release(self, key) -> None:
        with self._lock:
            self._entries.pop(key, None)


class Fingerprint:
    """sha256 of the request as its meaning, fed chunk by chunk."""

    def __init__(self, method: str, path: str, query: bytes, content_type: str):
        self.hash = hashlib.sha256(f"{method} {path}?".encode() + query + b"\n")
        self.complete = False
        self._parser = None
        if content_type.lower().startswith("multipart/form-data"):
            from python_multipart.multipart import MultipartParser, parse_options_header

            _, params = parse_options_header(content_type)
            boundary = params.get(b"boundary")
            if boundary:
                h = self.hash
                self._parser = MultipartParser(boundary, {
                    "on_part_begin": lambda: h.update(b"\x00part\x00"),
                    "on_header_field": lambda d, s, e: h.update(d[s:e].lower()),
                    "on_header_value": lambda d, s, e: h.update(b":" + d[s:e]),
                    "on_header_end": lambda: h.update(b"\x00"),
                    "on_part_data": lambda d, s, e: h.update(d[s:e]),
                })
        if self._parser is None:
            self.hash.update(content_type.encode() + b"\n")

    def feed(self, chunk: bytes, more: bool) -> None:
        if chunk:
            if self._parser is not None:
                try:
                    self._parser.write(chunk)
                except Exception:  # a malformed body: hash it raw from here on
                    self._parser = None
                    self.hash.update(chunk)
            else:
                self.hash.update(chunk)
        if not more:
            self.complete = True

    def hexdigest(self) -> str:
        return self.hash.hexdigest()


def _header(scope, name: bytes) -> bytes | None:
    for k, v in scope.get("headers", []):
        if k == name:
            return v
    return None


async def _send_json(send, status: int, payload: dict, extra: list | None = None) -> None:
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(extra or []),
    ]})
    await send({"type": "http.response.body", "body": body})


class IdempotencyMiddleware:
    def __init__(self, app, store: IdempotencyStore | None = None):
        self.app = app
        self.store = store or IdempotencyStore()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        raw_key = _header(scope, b"idempotency-key")
        if raw_key is None:
            return await self.app(scope, receive, send)
        idem = raw_key.decode("latin-1")
        if not 1 <= len(idem) <= 256:
            return await _send_json(send, 400, error_body(
                400, "invalid_idempotency_key", "The Idempotency-Key header must be between 1 and 256 characters."))
        who = hashlib.sha256(_header(scope, b"authorization") or b"").hexdigest()
        key = (who, idem)
        fp = Fingerprint(scope["method"], scope["path"], scope.get("query_string", b""),
                         (_header(scope, b"content-type") or b"").decode("latin-1"))

        entry = self.store.claim(key)
        if entry is not None:
            if not entry.done:
                return await _send_json(send, 409, error_body(
                    409, "concurrent_idempotent_requests",
                    "Another request with the same Idempotency-Key is in progress. Retry after it finishes."))
            while not fp.complete:  # hash the body to compare it; nothing is kept
                message = await receive()
                if message["type"] != "http.request":
                    return
                fp.feed(message.get("body", b""), message.get("more_body", False))
            if fp.hexdigest() != entry.fingerprint:
                return await _send_json(send, 409, error_body(
                    409, "invalid_idempotent_request",
                    "The Idempotency-Key was already used for a request with another body. Use a new key."))
            await send({"type": "http.response.start", "status": entry.status,
                        "headers": [*entry.headers, (b"idempotent-replayed", b"true")]})
            await send({"type": "http.response.body", "body": entry.body})
            return

        async def hashing_receive():
            message = await receive()
            if message["type"] == "http.request":
                fp.feed(message.get("body", b""), message.get("more_body", False))
            return message

        status: dict = {}
        chunks: list[bytes] = []

        async def capturing_send(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["headers"] = [(k, v) for k, v in message.get("headers", [])
                                     if k.lower() not in (b"date", b"server") and not k.lower().startswith(b"ratelimit")]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, hashing_receive, capturing_send)
        except BaseException:
            self.store.release(key)
            raise
        code = status.get("code")
        if code is None or code in NOT_REMEMBERED or code >= 500 or not fp.complete:
            self.store.release(key)
        else:
            self.store.finish(key, fp.hexdigest(), code, status["headers"], b"".join(chunks))
