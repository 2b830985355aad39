"""A team's webhook endpoints, and their deliveries: what the daemon claims, sends and records.

Deliveries are the outbox rows (roster/store/webhook_outbox.py). The daemon claims due ones with a
lease (next_attempt_at moved past the send's timeout), so a daemon that dies mid-send leaves the
delivery to be claimed again once the lease passes: at least once. Per endpoint and contact, only
the oldest pending delivery is ever due, so a contact's events arrive in the order they committed.
"""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from roster.store.pages import Listing
from schemas import tables as t

wh, wd, wa = t.webhooks, t.webhook_deliveries, t.webhook_attempts


def new_secret() -> str:
    """Svix's form: whsec_ and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def create(engine: Engine, team_id: int, endpoint: str, events: list[str], import_events: str) -> dict[str, Any]:
    with engine.begin() as conn:
        row = (
            conn.execute(
                sa.insert(wh)
                .values(
                    team_id=team_id, endpoint=endpoint, events=events, import_events=import_events, signing_secret=new_secret()
                )
                .returning(wh)
            )
            .mappings()
            .one()
        )
    return dict(row)


def get(engine: Engine, team_id: int, webhook_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(wh).where(wh.c.id == webhook_id, wh.c.team_id == team_id)).mappings().first()
    return dict(row) if row else None


def listing(team_id: int) -> Listing:
    return Listing(
        sa.select(wh).where(wh.c.team_id == team_id),
        wh.c.created_at,
        wh.c.id,
        lambda wid: sa.select(wh.c.created_at).where(wh.c.id == wid, wh.c.team_id == team_id),
    )


def update(engine: Engine, team_id: int, webhook_id: str, values: dict[str, Any]) -> bool:
    """Set `values` (endpoint, events, status, import_events). Enabling clears the reason it was
    disabled for. False: the team has no such webhook."""
    if values.get("status") == "enabled":
        values = {**values, "disabled_reason": None}
    with engine.begin() as conn:
        return bool(
            conn.execute(
                sa.update(wh).where(wh.c.id == webhook_id, wh.c.team_id == team_id).values(**values, updated_at=sa.func.now())
            ).rowcount
        )


def delete(engine: Engine, team_id: int, webhook_id: str) -> bool:
    """The webhook and its deliveries (pending ones are never sent)."""
    with engine.begin() as conn:
        return bool(conn.execute(sa.delete(wh).where(wh.c.id == webhook_id, wh.c.team_id == team_id)).rowcount)


def deliveries(team_id: int, webhook_id: str) -> Listing:
    query = sa.select(wd).where(wd.c.webhook_id == webhook_id, wd.c.team_id == team_id)
    return Listing(
        query,
        wd.c.created_at,
        wd.c.id,
        lambda did: sa.select(wd.c.created_at).where(wd.c.id == did, wd.c.team_id == team_id),
    )


def delivery(engine: Engine, team_id: int, webhook_id: str, delivery_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = (
            conn.execute(sa.select(wd).where(wd.c.id == delivery_id, wd.c.webhook_id == webhook_id, wd.c.team_id == team_id))
            .mappings()
            .first()
        )
    return dict(row) if row else None


def attempts(team_id: int, delivery_id: str) -> Listing:
    return Listing(
        sa.select(wa).where(wa.c.delivery_id == delivery_id, wa.c.team_id == team_id),
        wa.c.sent_at,
        wa.c.id,
        lambda aid: sa.select(wa.c.sent_at).where(wa.c.id == aid, wa.c.team_id == team_id),
    )


def replay(engine: Engine, team_id: int, webhook_id: str, delivery_id: str) -> bool:
    """The delivery sent again (whatever its status), as soon as the daemon gets to it."""
    with engine.begin() as conn:
        return bool(
            conn.execute(
                sa.update(wd)
                .where(wd.c.id == delivery_id, wd.c.webhook_id == webhook_id, wd.c.team_id == team_id)
                .values(status="pending", next_attempt_at=sa.func.now(), created_at=sa.func.now())
            ).rowcount
        )


def rotate_secret(engine: Engine, team_id: int, webhook_id: str) -> str | None:
    with engine.begin() as conn:
        return conn.execute(
            sa.update(wh)
            .where(wh.c.id == webhook_id, wh.c.team_id == team_id)
            .values(signing_secret=new_secret(), updated_at=sa.func.now())
            .returning(wh.c.signing_secret)
        ).scalar()


# -- the daemon's side ------------------------------------------------------------------------------
CLAIM_SQL = """
    WITH due AS (
      SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id AND w.status = 'enabled'
      WHERE d.status = 'pending' AND d.next_attempt_at <= now()
        AND NOT EXISTS (
          SELECT 1 FROM webhook_deliveries p
          WHERE p.webhook_id = d.webhook_id AND p.contact_id = d.contact_id AND p.status = 'pending' AND p.seq < d.seq
        )
      ORDER BY d.seq
      LIMIT :limit
      FOR UPDATE OF d SKIP LOCKED
    )
    UPDATE webhook_deliveries d
    SET next_attempt_at = now() + make_interval(secs => :lease), attempts = d.attempts + 1, last_attempt_at = now()
    FROM due, webhooks w
    WHERE d.id = due.id AND w.id = d.webhook_id
    RETURNING d.id, d.seq, d.team_id, d.webhook_id, d.type, d.data, d.created_at, d.attempts, w.endpoint, w.signing_secret
"""


def claim_due(engine: Engine, limit: int, lease_seconds: float) -> list[dict[str, Any]]:
    """Due deliveries, oldest first, each the oldest pending one of its contact at its endpoint,
    leased for `lease_seconds` (another claim skips them until then)."""
    with engine.begin() as conn:
        rows = conn.execute(sa.text(CLAIM_SQL), {"limit": limit, "lease": lease_seconds}).mappings().all()
    return sorted((dict(r) for r in rows), key=lambda r: r["seq"])


NEXT_DUE_SQL = """
    SELECT EXTRACT(EPOCH FROM min(d.next_attempt_at) - now())
    FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id AND w.status = 'enabled'
    WHERE d.status = 'pending'
      AND NOT EXISTS (
        SELECT 1 FROM webhook_deliveries p
        WHERE p.webhook_id = d.webhook_id AND p.contact_id = d.contact_id AND p.status = 'pending' AND p.seq < d.seq
      )
"""


def seconds_until_due(engine: Engine) -> float | None:
    """Seconds until the next delivery claim_due could claim falls due (0 or less: due now), or
    None when nothing is pending. A delivery waiting behind an earlier one of its contact is not
    counted: it is due only once that one is sent."""
    with engine.connect() as conn:
        seconds = conn.execute(sa.text(NEXT_DUE_SQL)).scalar()
    return None if seconds is None else float(seconds)


def _attempt(conn: Connection, delivery: dict[str, Any], response_status: int | None, response: str) -> None:
    conn.execute(
        sa.insert(wa).values(
            delivery_id=delivery["id"], team_id=delivery["team_id"], http_status_code=response_status, response=response[:2000]
        )
    )


def record_delivered(engine: Engine, delivery: dict[str, Any], response_status: int | None, response: str) -> None:
    delivery_id = delivery["id"]
    with engine.begin() as conn:
        _attempt(conn, delivery, response_status, response)
        conn.execute(
            sa.update(wd)
            .where(wd.c.id == delivery_id, wd.c.status == "pending")
            .values(status="delivered", delivered_at=sa.func.now(), response_status=response_status, error=None)
        )


def record_failed_attempt(
    engine: Engine,
    delivery: dict[str, Any],
    response_status: int | None,
    error: str,
    response: str,
    retry_in: timedelta,
    give_up_after: timedelta,
) -> bool:
    """One more failed attempt: retried in `retry_in`, unless the delivery has been failing for
    `give_up_after` since it was written; then it is `failed` and its endpoint disabled, saying
    why. True when the endpoint was disabled."""
    delivery_id = delivery["id"]
    with engine.begin() as conn:
        _attempt(conn, delivery, response_status, response or error)
        row = conn.execute(
            sa.update(wd)
            .where(wd.c.id == delivery_id, wd.c.status == "pending")
            .values(
                response_status=response_status,
                error=error,
                next_attempt_at=sa.func.now() + retry_in,
                status=sa.case((wd.c.created_at < sa.func.now() - give_up_after, "failed"), else_="pending"),
            )
            .returning(wd.c.status, wd.c.webhook_id)
        ).first()
        if row is None or row.status != "failed":
            return False
        hours = give_up_after.total_seconds() / 3600
        conn.execute(
            sa.update(wh)
            .where(wh.c.id == row.webhook_id, wh.c.status == "enabled")
            .values(
                status="disabled",
                updated_at=sa.func.now(),
                disabled_reason=f"disabled after {hours:g} hours of failed deliveries; the last one: {error}",
            )
        )
    return True
