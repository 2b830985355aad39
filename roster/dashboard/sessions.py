"""Dashboard sessions: a signed, opaque cookie naming the API key that signed in (by its id,
never the key itself) and a random session id, checked against the database on every request
(roster/store/dashboard_sessions.py): signing out deletes the session's row, so a copied cookie
stops working at once, and a deleted key ends every session it opened.

Signing in is guarded against login CSRF (a page elsewhere posting its own key, to sign the
victim into the attacker's team): the sign-in form carries a token bound to a pre-session cookie
(SIGNIN_COOKIE, set by the sign-in page), which another site can neither read nor set.

The signing secret is ROSTER_SESSION_SECRET, or a random one kept in the data directory (created
once, readable by its owner only), so every server process on the same data directory accepts
the same sessions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from roster.runtime.settings import get_settings

COOKIE = "roster_session"
SIGNIN_COOKIE = "roster_signin"
LIFETIME_SECONDS = 12 * 3600
SIGNIN_LIFETIME_SECONDS = 3600  # a sign-in form left open longer is shown again with a new token


@lru_cache(maxsize=4)
def _secret_for(env_secret: str | None, data_dir: str) -> bytes:
    if env_secret:
        return env_secret.encode()
    path = Path(data_dir) / "dashboard-session-secret"
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        time.sleep(0.05)
        return bytes.fromhex(path.read_text().strip())
    value = secrets.token_bytes(32)
    with os.fdopen(fd, "w") as f:
        f.write(value.hex())
    return value


def secret() -> bytes:
    settings = get_settings()
    configured = settings.session_secret.get_secret_value() if settings.session_secret else None
    return _secret_for(configured, str(settings.data_dir))


def _sign(payload: bytes) -> str:
    return base64.urlsafe_b64encode(hmac.new(secret(), payload, hashlib.sha256).digest()).decode().rstrip("=")


def new_session_id() -> str:
    return secrets.token_urlsafe(24)


def expires_at(now: float | None = None) -> int:
    return int((now or time.time()) + LIFETIME_SECONDS)


def issue(key_id: str, team_id: int, now: float | None = None, session_id: str | None = None) -> str:
    """The cookie's value for a key that just signed in; `n` is the session id its row is stored by."""
    body = {"k": key_id, "t": team_id, "exp": expires_at(now), "n": session_id or new_session_id()}
    payload = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{payload}.{_sign(payload.encode())}"


def read(value: str | None, now: float | None = None) -> dict[str, Any] | None:
    """{"k": key id, "t": team id, ...} of a valid, unexpired cookie; None otherwise."""
    if not value or value.count(".") != 1:
        return None
    payload, signature = value.split(".")
    if not hmac.compare_digest(signature, _sign(payload.encode())):
        return None
    try:
        body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, json.JSONDecodeError):
        return None
    if not isinstance(body, dict) or body.get("exp", 0) < (now or time.time()):
        return None
    return body


def csrf_token(session_value: str) -> str:
    """The token every form of this session carries: SameSite=Lax stops most cross-site posts,
    this stops the rest (a sibling subdomain, an old browser)."""
    return _sign(b"csrf:" + session_value.encode())


def csrf_ok(session_value: str, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(csrf_token(session_value), token)


def new_signin_value() -> str:
    """The pre-session cookie's value: random, only this browser has it."""
    return secrets.token_urlsafe(24)


def signin_token(signin_value: str) -> str:
    """The sign-in form's token, bound to the browser's pre-session cookie."""
    return _sign(b"signin:" + signin_value.encode())


def signin_ok(signin_value: str | None, token: str | None) -> bool:
    return bool(signin_value) and bool(token) and hmac.compare_digest(signin_token(signin_value), token)


def team_of(cookie_header: str | None) -> int | None:
    """The team a request's session cookie was signed for, from its Cookie header, without the
    database (the rate limiter's question: is this a signed-in browser?); None if not signed."""
    if not cookie_header:
        return None
    from http.cookies import CookieError, SimpleCookie

    jar = SimpleCookie()
    try:
        jar.load(cookie_header)
    except CookieError:
        return None
    morsel = jar.get(COOKIE)
    body = read(morsel.value) if morsel is not None else None
    team = body.get("t") if body else None
    return team if isinstance(team, int) else None
