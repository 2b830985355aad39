"""`Idempotency-Key` on POST: the same key and body returns the first response; the same key with
another body is 409 invalid_idempotent_request; a key whose first request is still running (in
this process or any other) is 409 concurrent_idempotent_requests. Keys are 1-256 characters (else
400 invalid_idempotency_key), scoped to the caller's team (as Resend's), and kept 24 hours.

They live in PostgreSQL (`idempotency_keys`), so every API process sees them and a restart keeps
them. Claiming a key is one atomic INSERT ... ON CONFLICT: of two requests with the same key on
two processes, exactly one runs. While it runs, its process renews a lease on the key; if the
process dies, the key is free again once the lease has passed (30 s, ROSTER_IDEMPOTENCY_LEASE),
so a retry is not refused for a day. (A request that had already done its work when its process died is then done again:
the response, not the work, is what is kept.) A claim costs one INSERT, a replay two reads, the
first response one durable UPDATE (roster/api/http/state.py says which commits wait for the disk).
Expired keys are deleted by roster/api/http/state.py.
Its SQL stays here, next to the protocol it is a step of (roster/api/http/state.py says why).

The body is never buffered: it is hashed as it streams to the route. A multipart body is hashed
part by part (names, part headers, data), so the same upload sent again with another boundary
matches. A response is remembered only if the route read the whole body, the status is not
401/403/429/5xx (those say nothing about the request itself) and it is at most 64 KiB; otherwise
the key is released and a retry runs the request again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roster.api.http import auth, state
from roster.api.http.errors import ErrorBody, error_body
from roster.runtime.settings import get_settings
from roster.store.keys import hash_token

log = logging.getLogger("roster.api")

TTL_SECONDS = 24 * 3600
MAX_STORED_BODY = 64 * 1024
NOT_REMEMBERED = {401, 403, 429}


@dataclass(frozen=True)
class Entry:
    """A key held by another request: finished (status set) or still running."""

    fingerprint: str | None
    status: int | None
    headers: list[tuple[bytes, bytes]]
    body: bytes

    @property
    def done(self) -> bool:
        return self.status is not None


# New keys: no lock and no WAL when the key exists, so a replay only reads.
CLAIM = sa.text("""
INSERT INTO idempotency_keys (team_id, key_hash, owner, lease_until, expires_at)
VALUES (:team_id, :key_hash, :owner, now() + make_interval(secs => :lease), now() + make_interval(secs => :ttl))
ON CONFLICT (team_id, key_hash) DO NOTHING
RETURNING owner
""")
HELD = sa.text("""
SELECT fingerprint, status, headers, body,
       expires_at <= now() OR (status IS NULL AND lease_until <= now()) AS free
FROM idempotency_keys WHERE team_id = :team_id AND key_hash = :key_hash
""")
# A key whose row expired, or whose owner stopped renewing its lease (died), is taken over.
TAKE_OVER = sa.text("""
UPDATE idempotency_keys
SET owner = :owner, lease_until = now() + make_interval(secs => :lease), expires_at = now() + make_interval(secs => :ttl),
    fingerprint = NULL, status = NULL, headers = NULL, body = NULL
WHERE team_id = :team_id AND key_hash = :key_hash AND (expires_at <= now() OR (status IS NULL AND lease_until <= now()))
RETURNING owner
""")
RENEW = sa.text("""
UPDATE idempotency_keys SET lease_until = now() + make_interval(secs => :lease)
WHERE team_id = :team_id AND key_hash = :key_hash AND owner = :owner AND status IS NULL
""")
FINISH = sa.text("""
UPDATE idempotency_keys SET fingerprint = :fingerprint, status = :status, headers = CAST(:headers AS jsonb), body = :body,
  lease_until = NULL
WHERE team_id = :team_id AND key_hash = :key_hash AND owner = :owner
""")
RELEASE = sa.text("DELETE FROM idempotency_keys WHERE team_id = :team_id AND key_hash = :key_hash AND owner = :owner")


class IdempotencyStore:
    """The `idempotency_keys` table. Every method blocks: call them from a worker thread."""

    def __init__(self, ttl: float = TTL_SECONDS, lease: float | None = None):
        self.ttl = float(ttl)
        self.lease = float(lease if lease is not None else get_settings().idempotency_lease)
        if not self.lease > 0:
            raise ValueError(f"ROSTER_IDEMPOTENCY_LEASE must be a positive number of seconds, not {self.lease!r}")

    def claim(self, team_id: int, key_hash: bytes) -> tuple[uuid.UUID | None, Entry | None]:
        """(owner, None) after reserving the key for this request, or (None, the entry that holds it)."""
        owner = uuid.uuid4()
        params = {"team_id": team_id, "key_hash": key_hash, "owner": owner, "lease": self.lease, "ttl": self.ttl}

        def go(conn: Connection) -> tuple[uuid.UUID | None, Entry | None]:
            for _ in range(3):  # the row may expire, be released or be taken over between statements
                if conn.execute(CLAIM, params).scalar() == owner:
                    return owner, None
                row = conn.execute(HELD, params).first()
                if row is None:
                    continue
                if row.free:
                    if conn.execute(TAKE_OVER, params).scalar() == owner:
                        return owner, None
                    continue
                headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (row.headers or [])]
                return None, Entry(row.fingerprint, row.status, headers, bytes(row.body or b""))
            raise RuntimeError("the idempotency key kept changing hands")

        return state.run(go)

    def renew(self, team_id: int, key_hash: bytes, owner: uuid.UUID) -> None:
        params = {"team_id": team_id, "key_hash": key_hash, "owner": owner, "lease": self.lease}
        state.run(lambda conn: conn.execute(RENEW, params))

    def finish(
        self,
        team_id: int,
        key_hash: bytes,
        owner: uuid.UUID,
        fingerprint: str,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        params = {
            "team_id": team_id,
            "key_hash": key_hash,
            "owner": owner,
            "fingerprint": fingerprint,
            "status": status,
            "body": body,
            "headers": json.dumps([[k.decode("latin-1"), v.decode("latin-1")] for k, v in headers]),
        }
        state.run(lambda conn: conn.execute(FINISH, params), durable=True)  # the response to replay: on disk

    def release(self, team_id: int, key_hash: bytes, owner: uuid.UUID) -> None:
        params = {"team_id": team_id, "key_hash": key_hash, "owner": owner}
        state.run(lambda conn: conn.execute(RELEASE, params))


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
                self._parser = MultipartParser(
                    boundary,
                    {
                        "on_part_begin": lambda: h.update(b"\x00part\x00"),
                        "on_header_field": lambda d, s, e: h.update(d[s:e].lower()),
                        "on_header_value": lambda d, s, e: h.update(b":" + d[s:e]),
                        "on_header_end": lambda: h.update(b"\x00"),
                        "on_part_data": lambda d, s, e: h.update(d[s:e]),
                    },
                )
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


def _header(scope: Scope, name: bytes) -> bytes | None:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for k, v in headers:
        if k == name:
            return v
    return None


async def _send_json(send: Send, status: int, payload: ErrorBody, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(extra or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class IdempotencyMiddleware:
    """Inside RateLimitMiddleware, which has resolved the caller: only a known team's requests
    claim keys, so unauthenticated traffic never writes here (the route answers 401/403)."""

    def __init__(self, app: ASGIApp, store: IdempotencyStore | None = None) -> None:
        self.app = app
        self.store = store or IdempotencyStore()

    async def _caller(self, scope: Scope) -> auth.Caller | None:
        raw = _header(scope, b"authorization")
        token = auth.token_from_header(raw.decode("latin-1") if raw is not None else None)
        if token is None:
            return None
        token_hash = hash_token(token)
        resolved: tuple[str, auth.Caller | None] | None = scope.get("state", {}).get(auth.STATE_KEY)
        if resolved is not None and resolved[0] == token_hash:
            return resolved[1]
        return await state.call(auth.lookup_caller, token_hash)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        raw_key = _header(scope, b"idempotency-key")
        if raw_key is None:
            return await self.app(scope, receive, send)
        if not 1 <= len(raw_key.decode("latin-1")) <= 256:
            return await _send_json(
                send,
                400,
                error_body(400, "invalid_idempotency_key", "The Idempotency-Key header must be between 1 and 256 characters."),
            )
        try:
            caller = await self._caller(scope)
            if caller is None:
                return await self.app(scope, receive, send)
            team_id, key_hash = caller.team_id, hashlib.sha256(raw_key).digest()
            owner, entry = await state.call(self.store.claim, team_id, key_hash)
        except (sa.exc.SQLAlchemyError, RuntimeError):
            log.exception("idempotency: the key could not be claimed")
            return await _send_json(
                send, 500, error_body(500, "application_error", "an unexpected error occurred; please try again later")
            )
        fp = Fingerprint(
            scope["method"],
            scope["path"],
            scope.get("query_string", b""),
            (_header(scope, b"content-type") or b"").decode("latin-1"),
        )

        if entry is not None:
            if not entry.done:
                return await _send_json(
                    send,
                    409,
                    error_body(
                        409,
                        "concurrent_idempotent_requests",
                        "Another request with the same Idempotency-Key is in progress. Retry after it finishes.",
                    ),
                )
            while not fp.complete:  # hash the body to compare it; nothing is kept
                message = await receive()
                if message["type"] != "http.request":
                    return
                fp.feed(message.get("body", b""), message.get("more_body", False))
            if fp.hexdigest() != entry.fingerprint:
                return await _send_json(
                    send,
                    409,
                    error_body(
                        409,
                        "invalid_idempotent_request",
                        "The Idempotency-Key was already used for a request with another body. Use a new key.",
                    ),
                )
            await send(
                {
                    "type": "http.response.start",
                    "status": entry.status,
                    "headers": [*entry.headers, (b"idempotent-replayed", b"true")],
                }
            )
            await send({"type": "http.response.body", "body": entry.body})
            return

        async def hashing_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                fp.feed(message.get("body", b""), message.get("more_body", False))
            return message

        status: dict[str, Any] = {}
        chunks: list[bytes] = []
        size = 0
        settled = False

        async def settle() -> None:
            nonlocal settled
            settled = True
            code = status.get("code")
            if code is None or code in NOT_REMEMBERED or code >= 500 or not fp.complete or size > MAX_STORED_BODY:
                await self._settle(self.store.release, team_id, key_hash, owner)
            else:
                await self._settle(
                    self.store.finish, team_id, key_hash, owner, fp.hexdigest(), code, status["headers"], b"".join(chunks)
                )

        async def capturing_send(message: Message) -> None:
            nonlocal size
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["headers"] = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in (b"date", b"server") and not k.lower().startswith(b"ratelimit")
                ]
            elif message["type"] == "http.response.body":
                body = message.get("body", b"")
                size += len(body)
                if size <= MAX_STORED_BODY:
                    chunks.append(body)
                if not message.get("more_body", False) and not settled:
                    # Recorded before the client has the whole response: a retry sent the moment
                    # it arrives finds the key finished, not still running.
                    renewal.cancel()
                    await settle()
            await send(message)

        assert owner is not None  # claim() gives an owner whenever it gives no entry
        renewal = asyncio.create_task(self._renew(team_id, key_hash, owner))
        try:
            await self.app(scope, hashing_receive, capturing_send)
        finally:
            renewal.cancel()
            if not settled:
                status.pop("code", None)  # no complete response: nothing to remember
                await settle()

    async def _renew(self, team_id: int, key_hash: bytes, owner: uuid.UUID) -> None:
        while True:
            await asyncio.sleep(self.store.lease / 3)
            try:
                await state.call(self.store.renew, team_id, key_hash, owner)
            except Exception:
                log.exception("idempotency: could not renew a key's lease")

    async def _settle(self, fn: Callable[..., None], *args: Any) -> None:
        """Record the outcome (once more if the first try fails). The response goes out either way,
        so a failure is only logged: the key's lease then runs out and a retry runs the request again."""
        with anyio.CancelScope(shield=True):
            for attempt in range(2):
                try:
                    return await state.call(fn, *args)
                except Exception:
                    if attempt:
                        log.exception("idempotency: could not record the outcome of a request")
