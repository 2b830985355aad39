"""Rate limits, shared by every API process through PostgreSQL (roster/api/http/state.py).

As Resend counts them: per team, across all of the team's API keys (default 10 requests per
second, ROSTER_RATE_LIMIT; a burst of as many). Every response carries ratelimit-limit,
ratelimit-remaining and ratelimit-reset; over the limit is 429 rate_limit_exceeded with
retry-after.

Before a key is looked up, the client address pays: a request whose key this process has not
verified lately (or that has none) takes from the address's bucket (the same rate), so rotating
bogus keys buys no free database lookups. A lookup that fails also takes from the address's
bad-key bucket (ROSTER_BAD_KEY_LIMIT per minute, default 10); once that is spent, the address's
unverified requests get 429 without a lookup for a minute. A signed-in dashboard browser (no key,
a signed session cookie: `signed_in_team`) pays from its team's bucket instead, so wrong keys
from its address never lock out its valid session. IPv6 clients count per /64 (what
one host or subscriber usually holds); behind a proxy, run uvicorn with --forwarded-allow-ips so
the client address is the caller's, not the proxy's.

Buckets use GCRA: one number per bucket (its theoretical arrival time), updated by one atomic
INSERT ... ON CONFLICT per request, on the database's clock. A process that has seen a bucket
refused remembers until when, and answers 429 from memory until then: a client hammering past
its limit costs no database work.
Its SQL stays here, next to the protocol it is a step of (roster/api/http/state.py says why).
"""

from __future__ import annotations

import ipaddress
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roster.api.http import auth, state
from roster.api.http.errors import error_body
from roster.runtime.settings import get_settings
from roster.store.keys import hash_token

MAX_REMEMBERED_REFUSALS = 50_000
EPS = 1e-9


def configured_rate() -> float:
    return get_settings().rate_limit


def configured_bad_keys_per_minute() -> float:
    return get_settings().bad_key_limit


@dataclass(frozen=True)
class Limit:
    rate: float  # requests per second
    capacity: float  # the burst: requests allowed at once from a full bucket

    @classmethod
    def per_second(cls, rate: float) -> Limit:
        if not rate > 0:
            raise ValueError(f"ROSTER_RATE_LIMIT must be a positive number of requests a second, not {rate!r}")
        return cls(float(rate), max(1.0, float(rate)))

    @property
    def interval(self) -> float:
        return 1.0 / self.rate

    @property
    def window(self) -> float:
        """How far ahead of now a bucket's tat may run: a full burst."""
        return self.capacity * self.interval


def limits(rate: float | None = None, bad_keys_per_minute: float | None = None) -> tuple[Limit, Limit]:
    """(the per-team and per-address limit, the bad-key limit), from the arguments or the environment."""
    limit = Limit.per_second(rate if rate is not None else configured_rate())
    per_minute = bad_keys_per_minute if bad_keys_per_minute is not None else configured_bad_keys_per_minute()
    if not per_minute > 0:
        raise ValueError(f"ROSTER_BAD_KEY_LIMIT must be a positive number of lookups a minute, not {per_minute!r}")
    return limit, Limit(per_minute / 60.0, max(1.0, per_minute))


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: Limit
    ahead: float  # the bucket's tat minus now, in seconds: how long until it is full again
    wait: float = 0.0  # refused: seconds until a request would be allowed

    def headers(self) -> list[tuple[bytes, bytes]]:
        lim = self.limit
        remaining = 0 if not self.allowed else max(0, math.floor((lim.window - self.ahead) / lim.interval + EPS))
        out = [
            (b"ratelimit-limit", str(int(lim.capacity)).encode()),
            (b"ratelimit-remaining", str(remaining).encode()),
            (b"ratelimit-reset", str(max(1, math.ceil(self.ahead - EPS))).encode()),
        ]
        if not self.allowed:
            out.append((b"retry-after", str(max(1, math.ceil(self.wait - EPS))).encode()))
        return out


# tat runs `inc` (one request) further, from now if it lies in the past; refused (no row returned)
# when that would put it more than a burst ahead. EXCLUDED.tat is now + inc, so
# greatest(b.tat + inc, EXCLUDED.tat) is greatest(b.tat, now) + inc.
TAKE = sa.text("""
INSERT INTO api_rate_limits AS b (bucket, tat)
VALUES (:bucket, extract(epoch from now())::float8 + :inc)
ON CONFLICT (bucket) DO UPDATE SET tat = greatest(b.tat + :inc, EXCLUDED.tat)
WHERE greatest(b.tat + :inc, EXCLUDED.tat) - EXCLUDED.tat + :inc <= :window
RETURNING tat - extract(epoch from now())::float8
""")
AHEAD = sa.text("SELECT tat - extract(epoch from now())::float8 FROM api_rate_limits WHERE bucket = :bucket")
# Refuse the bucket's requests for :seconds from now (its tat moves, never back).
BLOCK = sa.text("""
INSERT INTO api_rate_limits AS b (bucket, tat)
VALUES (:bucket, extract(epoch from now())::float8 + :ahead)
ON CONFLICT (bucket) DO UPDATE SET tat = greatest(b.tat, EXCLUDED.tat)
""")


class SharedBuckets:
    """GCRA buckets in `api_rate_limits`, with this process's memory of refusals in front."""

    def __init__(self) -> None:
        self._refused: dict[str, tuple[float, Limit]] = {}  # bucket -> (monotonic until, limit)
        self._lock = threading.Lock()

    def refused_here(self, bucket: str) -> Decision | None:
        """A refusal this process saw that still holds (no request of the bucket can pass before it ends)."""
        with self._lock:
            hit = self._refused.get(bucket)
        if hit is None:
            return None
        left = hit[0] - time.monotonic()
        if left <= 0:
            return None
        lim = hit[1]
        return Decision(False, lim, ahead=left + lim.window - lim.interval, wait=left)

    def _remember(self, bucket: str, limit: Limit, wait: float) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._refused) >= MAX_REMEMBERED_REFUSALS:
                self._refused = {k: v for k, v in self._refused.items() if v[0] > now}
                if len(self._refused) >= MAX_REMEMBERED_REFUSALS:
                    self._refused.clear()
            self._refused[bucket] = (now + wait, limit)

    def take(self, bucket: str, limit: Limit) -> Decision:
        """One request from the bucket (blocking: call it from a worker thread)."""
        params = {"bucket": bucket, "inc": limit.interval, "window": limit.window}

        def go(conn: Connection) -> Decision:
            ahead = conn.execute(TAKE, params).scalar()
            if ahead is not None:
                return Decision(True, limit, ahead)
            ahead = conn.execute(AHEAD, params).scalar() or 0.0
            return Decision(False, limit, ahead, wait=ahead + limit.interval - limit.window)

        decision = state.run(go)
        if not decision.allowed:
            self._remember(bucket, limit, decision.wait)
        return decision

    def block(self, bucket: str, limit: Limit, seconds: float) -> None:
        """Refuse every request of the bucket for `seconds`, in every process."""
        state.run(lambda conn: conn.execute(BLOCK, {"bucket": bucket, "ahead": seconds + limit.window - limit.interval}))
        self._remember(bucket, limit, seconds)


def client_address(scope: Scope) -> str:
    """The bucket name part for the client: its IPv4 address, or its IPv6 /64."""
    client = scope.get("client")
    if not client:
        return "local"  # a Unix socket: one local client
    host = str(client[0])
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _authorization(scope: Scope) -> str | None:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for name, value in headers:
        if name == b"authorization":
            return value.decode("latin-1")
    return None


async def _refuse(send: Send, decision: Decision) -> None:
    retry = max(1, math.ceil(decision.wait - EPS))
    body = json.dumps(
        error_body(
            429,
            "rate_limit_exceeded",
            f"Too many requests: the limit is {decision.limit.capacity:g} requests per second. Retry after {retry} s.",
        )
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *decision.headers(),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _unavailable(send: Send) -> None:
    state.log.exception("the rate limiter could not reach the database")
    body = json.dumps(error_body(500, "application_error", "an unexpected error occurred; please try again later")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RateLimitMiddleware:
    """Pure ASGI middleware (never buffers bodies). It also resolves the API key, once, after the
    address has paid for the lookup, and leaves the answer for `auth.require_caller`."""

    def __init__(
        self,
        app: ASGIApp,
        rate: float | None = None,
        bad_keys_per_minute: float | None = None,
        exempt: tuple[str, ...] = (),
        janitor: state.Janitor | None = None,
        signed_in_team: Callable[[Scope], int | None] | None = None,
    ) -> None:
        self.app = app
        self.signed_in_team = signed_in_team  # the team of a signed session cookie (the dashboard's), or None
        self.limit, self.bad_key_limit = limits(rate, bad_keys_per_minute)
        self.buckets = SharedBuckets()
        self.exempt = exempt
        self.janitor = janitor or state.Janitor()

    async def _take(self, bucket: str, limit: Limit) -> Decision:
        return self.buckets.refused_here(bucket) or await state.call(self.buckets.take, bucket, limit)  # type: ignore[return-value]  # take() returns a Decision

    async def _check(self, scope: Scope) -> Decision:
        """The decision for this request; fills the request state's auth entry on the way."""
        token = auth.token_from_header(_authorization(scope))
        token_hash = hash_token(token) if token is not None else None
        caller = auth.cached_caller(token_hash) if token_hash is not None else None
        if token_hash is None and self.signed_in_team is not None:
            team = self.signed_in_team(scope)
            if team is not None:  # a signed session (forged ones fail its signature): its team pays
                return await self._take(f"team:{team}", self.limit)
        if caller is None:
            address = client_address(scope)
            decision = await self._take(f"addr:{address}", self.limit)
            if not decision.allowed or token_hash is None:
                return decision  # refused before any lookup; or no key at all (401)
            caller = await state.call(auth.lookup_caller, token_hash)
            scope.setdefault("state", {})[auth.STATE_KEY] = (token_hash, caller)
            if caller is None:
                await self._bad_key(address)
                return decision  # the route answers 403
        return await self._take(f"team:{caller.team_id}", self.limit)

    async def _bad_key(self, address: str) -> None:
        bad = await state.call(self.buckets.take, f"badkey:{address}", self.bad_key_limit)
        if not bad.allowed:
            # Spent: no lookups for this address for a minute (the bad-key window), in any process.
            await state.call(self.buckets.block, f"addr:{address}", self.limit, self.bad_key_limit.window)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.exempt:
            return await self.app(scope, receive, send)
        self.janitor.tick()
        try:
            decision = await self._check(scope)
        except sa.exc.SQLAlchemyError:
            return await _unavailable(send)
        if not decision.allowed:
            return await _refuse(send, decision)
        headers = decision.headers()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
