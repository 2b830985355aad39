"""API keys: `re_` + a random token, stored as the sha256 of the token (never the token itself)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from roster.store.teams import ensure as ensure_team
from schemas import tables as t

TOKEN_PREFIX = "re_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    id: str
    token: str
    team_id: int
    name: str


@dataclass(frozen=True)
class KeyOwner:
    key_id: str
    team_id: int
    team_name: str


def issue_api_key(engine: Engine, team_name: str, name: str = "default") -> IssuedKey:
    """Create a key for the team (the team is created if new). The token is only ever shown here."""
    team_id = ensure_team(engine, team_name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        key_id = conn.execute(
            sa.insert(t.api_keys)
            .values(team_id=team_id, name=name, token_hash=hash_token(token), token_prefix=token[:8])
            .returning(t.api_keys.c.id)
        ).scalar_one()
    return IssuedKey(id=str(key_id), token=token, team_id=team_id, name=name)


def create_api_key(engine: Engine, team_name: str, name: str = "default") -> str:
    """Create a key for the team; returns the token."""
    return issue_api_key(engine, team_name, name).token


def owner(engine: Engine, token_hash: str) -> KeyOwner | None:
    """Whose key has this hash (the key and its team), or None for an unknown key."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(t.api_keys.c.id, t.api_keys.c.team_id, t.teams.c.name)
            .join(t.teams, t.teams.c.id == t.api_keys.c.team_id)
            .where(t.api_keys.c.token_hash == token_hash)
        ).first()
    return None if row is None else KeyOwner(key_id=str(row.id), team_id=row.team_id, team_name=row.name)
