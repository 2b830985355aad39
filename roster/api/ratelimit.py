"""Rate limits per API key: an in-memory token bucket per process (default 10 requests/second,
ROSTER_RATE_LIMIT). Every response carries ratelimit-limit/-remaining/-reset; over the limit is
429 rate_limit_exceeded with retry-after."""
from __future__ import annotations

import hashlib
import math
import os
import threading
import time

from roster.api.errors import error_body

DEFAULT_RATE = 10.0
MAX_BUCKETS = 50_000


def configured_rate() -> float:
    return float(os.environ.get("ROSTER_RATE_LIMIT", DEFAULT_RATE))


class TokenBuckets:
    def __init__(self, rate: float, burst: float | None = None):
        self.rate = float(rate)
        self.capacity = float(burst if burst is not None else max(1.0, rate))
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, updated)
        self._lock = threading.Lock()

    def take(self, key: str) -> tuple[bool, float, float]:
        """(allowed, tokens left, seconds until one token is back)."""
        now = time.monotonic()
        with self._lock:
            tokens, updated = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - updated) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            if len(self._buckets) >= MAX_BUCKETS and key not in self._buckets:
                self._prune(now)
            self._buckets[key] = (tokens, now)
        wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate
        return allowed, tokens, wait

    def _prune(self, now: float) -> None:
        """Forget the buckets that are full again (they hold no state worth keeping)."""
        full = [k for k, (tok, upd) in self._buckets.items() if tok + (now - upd) * self.rate >= self.capacity]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= MAX_BUCKETS:
            self._buckets.clear()


def _key(scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            return "k:" + hashlib.sha256(value).hexdigest()
    client = scope.get("client") or ("?", 0)
    return f"ip:{client[0]}"


class RateLimitMiddleware:
    """Pure ASGI middleware (never buffers bodies)."""

    def __init__(self, app, rate: float | None = None, exempt: tuple[str, ...] = ()):
        self.app = app
        self.buckets = TokenBuckets(rate if rate is not None else configured_rate())
        self.exempt = exempt

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("path") in self.exempt:
            return await self.app(scope, receive, send)
        allowed, tokens, wait = self.buckets.take(_key(scope))
        limit = self.buckets.capacity
        headers = [
            (b"ratelimit-limit", str(int(limit)).encode()),
            (b"ratelimit-remaining", str(max(0, math.floor(tokens))).encode()),
            (b"ratelimit-reset", str(max(1, math.ceil((limit - tokens) / self.buckets.rate))).encode()),
        ]
        if not allowed:
            import json

            retry = str(max(1, math.ceil(wait))).encode()
            body = json.dumps(error_body(429, "rate_limit_exceeded",
                                         f"Too many requests: the limit is {limit:g} requests per second. Retry after {retry.decode()} s.")).encode()
            await send({"type": "http.response.start", "status": 429, "headers": [
                (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                (b"retry-after", retry), *headers,
            ]})
            await send({"type": "http.response.body", "body": body})
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
