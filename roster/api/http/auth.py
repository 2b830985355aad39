"""`Authorization: Bearer <key>`: missing is 401 missing_api_key, unknown is 403 invalid_api_key.

The rate-limit middleware (roster/api/http/ratelimit.py) resolves the key first, after limiting the
client address, and leaves the answer in the request's state; `require_caller` uses that answer
rather than looking the key up a second time."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from fastapi import Request

from roster.api.http.errors import ApiError
from roster.runtime.database import get_engine
from roster.store import keys
from roster.store.keys import hash_token

CACHE_SECONDS = 10.0
_cache: dict[str, tuple[float, Caller]] = {}
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class Caller:
    team_id: int
    team_name: str
    key_id: str


# The request-state entry the middleware fills: (token hash, Caller or None for an unknown key).
STATE_KEY = "roster_auth"


def bearer_token(request: Request) -> str | None:
    return token_from_header(request.headers.get("authorization"))


def token_from_header(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def cached_caller(token_hash: str) -> Caller | None:
    """The caller for a key this process verified in the last CACHE_SECONDS, without the database."""
    with _cache_lock:
        hit = _cache.get(token_hash)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    return None


def lookup_caller(token_hash: str) -> Caller | None:
    caller = cached_caller(token_hash)
    if caller is not None:
        return caller
    now = time.monotonic()
    found = keys.owner(get_engine(), token_hash)
    if found is None:
        return None
    caller = Caller(team_id=found.team_id, team_name=found.team_name, key_id=found.key_id)
    with _cache_lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[token_hash] = (now + CACHE_SECONDS, caller)
    return caller


def require_caller(request: Request) -> Caller:
    """The FastAPI dependency every resource route uses: the caller's team."""
    token = bearer_token(request)
    if token is None:
        raise ApiError(
            401,
            "missing_api_key",
            "Missing API key in the authorization header. Include the following header in the request: "
            "Authorization: Bearer YOUR_API_KEY",
        )
    token_hash = hash_token(token)
    # (token hash, its Caller or None), left in the scope by the rate limiter (ratelimit.py)
    resolved: tuple[str, Caller | None] | None = request.scope.get("state", {}).get(STATE_KEY)
    if resolved is not None and resolved[0] == token_hash:
        caller = resolved[1]
    else:
        caller = lookup_caller(token_hash)
    if caller is None:
        raise ApiError(403, "invalid_api_key", "API key is invalid")
    request.state.caller = caller
    return caller
