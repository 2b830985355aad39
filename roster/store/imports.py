"""The contact_imports rows: an import's options, status, counts and where its run is.

Status goes queued -> in_progress -> completed | failed. A function that changes it says from
which states, so a late or repeated call (a retry, the watchdog) can never turn a result back.
"""

from __future__ import annotations

import uuid
from typing import Any, TypedDict

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Engine

from roster.store import undo, webhook_outbox
from roster.store.pages import Listing
from roster.store.staging import drop_sql
from schemas import tables as t

ci = t.contact_imports
UNFINISHED = ("queued", "in_progress")


class NotMerged(RuntimeError):
    """An import cannot complete before its merge committed."""


class AlreadyStarted(RuntimeError):
    """The dry run was started already (by another call)."""


def create(
    engine: Engine,
    import_id: str,
    team_id: int,
    source: str,
    filename: str,
    file_path: str,
    options: dict[str, Any],
    launched: bool,
    dry_run_of: str | None = None,
) -> None:
    """A queued import. `launched`: its creator runs it (the CLI), so the queue sensor leaves it alone.
    `dry_run_of`: the dry run it starts for real; raises AlreadyStarted if one did already."""
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.insert(ci).values(
                    id=import_id,
                    team_id=team_id,
                    status="queued",
                    source=source,
                    filename=filename,
                    file_path=file_path,
                    options=options,
                    launched_at=sa.func.now() if launched else None,
                    dry_run_of=dry_run_of,
                )
            )
    except sa.exc.IntegrityError as e:
        if dry_run_of is not None and "contact_imports_dry_run_of" in str(e.orig):
            raise AlreadyStarted(f"the dry run {dry_run_of} was started already") from None
        raise


def started_as(engine: Engine, dry_run_ids: list[str]) -> dict[str, str]:
    """{dry run id: the import started from it} for those of `dry_run_ids` that were started."""
    if not dry_run_ids:
        return {}
    with engine.connect() as conn:
        rows = conn.execute(sa.select(ci.c.dry_run_of, ci.c.id).where(ci.c.dry_run_of.in_(dry_run_ids))).all()
    return {str(r.dry_run_of): str(r.id) for r in rows}


def trip_guard(
    engine: Engine, import_id: str, total: int, failed: int, guard: dict[str, Any], by_reason: list[dict[str, Any]]
) -> None:
    """The failure guard stopped the import before its merge: the counts it got to, why, and the
    failed rows by cause (it fails next, with nothing written)."""
    update(
        engine,
        import_id,
        total=total,
        failed=failed,
        created=0,
        updated=0,
        skipped=0,
        merge_details={"guard": guard, "failures_by_reason": by_reason},
    )


def record_failed(engine: Engine, import_id: str, team_id: int, source: str, what: str, reason: str) -> None:
    """An import that could not even get its file (a sync source that failed): it shows as failed,
    with the reason, where people look for their imports. Repeating it changes nothing."""
    with engine.begin() as conn:
        recorded = conn.execute(
            insert(ci)
            .values(
                id=import_id,
                team_id=team_id,
                status="failed",
                source=source,
                filename=what,
                file_path=what,
                error=reason,
                completed_at=sa.func.now(),
                launched_at=sa.func.now(),
            )
            .on_conflict_do_nothing(index_elements=["id"])
        ).rowcount
        if recorded:
            webhook_outbox.import_event(conn, import_id, reason)


def _id(import_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(import_id))
    except ValueError:
        return None


def exists(engine: Engine, import_id: str) -> bool:
    key = _id(import_id)
    if key is None:
        return False
    with engine.connect() as conn:
        return conn.execute(sa.select(ci.c.id).where(ci.c.id == key)).first() is not None


def get(engine: Engine, import_id: str, team_id: int | None = None) -> dict[str, Any] | None:
    """The row, or None; with `team_id`, only that team's import (what every caller-facing door asks)."""
    key = _id(import_id)
    if key is None:
        return None
    query = sa.select(ci, _started_as()).where(ci.c.id == key)
    if team_id is not None:
        query = query.where(ci.c.team_id == team_id)
    with engine.connect() as conn:
        row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def _started_as() -> sa.Label[Any]:
    """The import a dry run was started as (NULL for any other import, or a dry run not started)."""
    real = ci.alias("real")
    return sa.select(real.c.id).where(real.c.dry_run_of == ci.c.id).scalar_subquery().label("started_as")


def require(engine: Engine, import_id: str) -> dict[str, Any]:
    """The row of an import a run works on; it must exist."""
    row = get(engine, import_id)
    if row is None:
        raise LookupError(f"there is no import {import_id}")
    return row


def listing(team_id: int, status: str | None = None) -> Listing:
    """The team's imports (with this status), for a page of them: newest first by created_at, then id."""
    query = sa.select(ci, _started_as()).where(ci.c.team_id == team_id)
    return Listing(
        query=query.where(ci.c.status == status) if status else query,
        created_at=ci.c.created_at,
        id=ci.c.id,
        cursor=lambda import_id: sa.select(ci.c.created_at).where(ci.c.id == import_id, ci.c.team_id == team_id),
    )


def owner(engine: Engine, import_id: str) -> dict[str, Any] | None:
    """{"team", "source"} of an import: whose it is, for its run's tags."""
    with engine.connect() as conn:
        row = (
            conn.execute(
                sa.select(ci.c.source, t.teams.c.name.label("team"))
                .join(t.teams, t.teams.c.id == ci.c.team_id)
                .where(ci.c.id == import_id)
            )
            .mappings()
            .first()
        )
    return dict(row) if row else None


def update(engine: Engine, import_id: str, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(ci).where(ci.c.id == import_id).values(**values))


def mark_launched(engine: Engine, import_id: str) -> None:
    """Its run was started by someone else than the queued-imports sensor, which leaves it alone."""
    update(engine, import_id, launched_at=sa.func.now())


def start(engine: Engine, import_id: str, run_id: str | None) -> None:
    """in_progress, counting the attempt, unless it completed (a re-executed run must not reopen a result)."""
    with engine.begin() as conn:
        conn.execute(
            sa.update(ci)
            # A cancelled import stays cancelled (roster/store/cancel.py).
            .where(ci.c.id == import_id, ci.c.status.in_(["queued", "in_progress", "failed"]), ci.c.cancelled_at.is_(None))
            .values(
                status="in_progress",
                phase="reading",
                run_id=run_id,
                error=None,
                completed_at=None,
                attempts=ci.c.attempts + 1,
                started_at=sa.func.coalesce(ci.c.started_at, sa.func.now()),
            )
        )


def fail(engine: Engine, import_id: str, message: str) -> None:
    """failed, with the reason (a completed import stays completed, a cancelled one keeps saying
    so); its staging table goes. The parts a big import's merge committed before it failed are
    put back (undo.revert_unfinished_merge): a failed import wrote nothing."""
    with engine.begin() as conn:
        before = conn.execute(sa.select(ci.c.status).where(ci.c.id == import_id).with_for_update()).scalar()
        if before != "completed":
            undo.revert_unfinished_merge(conn, import_id)
        conn.execute(
            sa.update(ci)
            .where(ci.c.id == import_id, ci.c.status != "completed", ci.c.cancelled_at.is_(None))
            .values(status="failed", error=message, completed_at=sa.func.now())
        )
        if before not in ("completed", "failed"):  # it ends now: one contact_import.failed
            webhook_outbox.import_event(conn, import_id, message)
        conn.execute(sa.text(drop_sql(import_id)))


def fail_if_unfinished(engine: Engine, import_id: str, message: str) -> bool:
    """failed, when its runs died before the import could say so itself."""
    with engine.begin() as conn:
        done = conn.execute(
            sa.update(ci)
            .where(ci.c.id == import_id, ci.c.status.in_(UNFINISHED))
            .values(status="failed", error=message, completed_at=sa.func.now())
        ).rowcount
        if done:  # the update waited for any part of a merge in parts still in flight: put back what committed
            undo.revert_unfinished_merge(conn, import_id)
            webhook_outbox.import_event(conn, import_id, message)
            conn.execute(sa.text(drop_sql(import_id)))
    return bool(done)


def complete(engine: Engine, import_id: str) -> dict[str, Any]:
    """completed, only once the merge committed: nothing half-done is ever reported done."""
    with engine.begin() as conn:
        state = conn.execute(sa.select(ci.c.merged_at, ci.c.status).where(ci.c.id == import_id).with_for_update()).one()
        if state.merged_at is None:
            raise NotMerged(f"import {import_id} has not been merged")
        if state.status == "in_progress":  # an import marked failed meanwhile stays failed
            conn.execute(
                sa.update(ci)
                .where(ci.c.id == import_id)
                .values(
                    status="completed",
                    phase="done",
                    error=None,
                    completed_at=sa.func.coalesce(ci.c.completed_at, sa.func.now()),
                )
            )
            webhook_outbox.import_event(conn, import_id)
        conn.execute(sa.text(drop_sql(import_id)))
    return require(engine, import_id)


def requeue(engine: Engine, import_id: str, note: str) -> bool:
    """An in_progress import whose run died, back in the queue for the queued-imports sensor."""
    with engine.begin() as conn:
        return bool(
            conn.execute(
                sa.update(ci)
                .where(ci.c.id == import_id, ci.c.status == "in_progress")
                .values(status="queued", phase=None, launched_at=None, run_id=None, error=note)
            ).rowcount
        )


def unfinished(engine: Engine) -> list[dict[str, Any]]:
    """Imports a run is (or should be) working on: in_progress, or queued."""
    with engine.connect() as conn:
        rows = (
            conn.execute(
                sa.select(ci.c.id, ci.c.status, ci.c.run_id, ci.c.attempts, ci.c.merged_at).where(ci.c.status.in_(UNFINISHED))
            )
            .mappings()
            .all()
        )
    return [dict(r, id=str(r["id"])) for r in rows]


def _earlier_unfinished(imp: sa.Table) -> sa.ColumnElement[bool]:
    """An import of the same team posted before `imp` (created_at, then id) and not ended yet."""
    earlier = ci.alias("earlier")
    return sa.exists().where(
        earlier.c.team_id == imp.c.team_id,
        earlier.c.status.in_(UNFINISHED),
        sa.tuple_(earlier.c.created_at, earlier.c.id) < sa.tuple_(imp.c.created_at, imp.c.id),
    )


class Claim(TypedDict):
    """A queued import claimed for launching (claim_queued)."""

    id: str
    source: str  # the door it came in by: api, cli, dashboard, drop_folder, schedule
    team: str  # the team's name


def claim_queued(engine: Engine, limit: int = 25, stale_after_seconds: int = 120) -> list[Claim]:
    """Queued imports nobody has launched (or whose launch got lost), marked launched now; only
    each team's oldest unfinished import, so a team's imports apply in the order they were posted
    even when one of them dies and is retried (an import that ended never holds the next back)."""
    stale = sa.func.now() - sa.text(f"interval '{int(stale_after_seconds)} seconds'")
    with engine.begin() as conn:
        rows = (
            conn.execute(
                sa.select(ci.c.id, ci.c.source, t.teams.c.name.label("team"))
                .join(t.teams, t.teams.c.id == ci.c.team_id)
                .where(ci.c.status == "queued", ci.c.launched_at.is_(None) | (ci.c.launched_at < stale))
                .where(~_earlier_unfinished(ci))
                .order_by(ci.c.created_at)
                .limit(limit)
                .with_for_update(of=ci, skip_locked=True)
            )
            .mappings()
            .all()
        )
        if rows:
            conn.execute(sa.update(ci).where(ci.c.id.in_([r["id"] for r in rows])).values(launched_at=sa.func.now()))
    return [{"id": str(r["id"]), "source": r["source"], "team": r["team"]} for r in rows]


def waits_for(engine: Engine, import_id: str) -> str | None:
    """The team's oldest import posted before this one that has not ended, if any: this one's turn
    comes after it."""
    mine = ci.alias("mine")
    with engine.connect() as conn:
        found = conn.execute(
            sa.select(ci.c.id)
            .select_from(ci.join(mine, mine.c.team_id == ci.c.team_id))
            .where(
                mine.c.id == import_id,
                ci.c.status.in_(UNFINISHED),
                sa.tuple_(ci.c.created_at, ci.c.id) < sa.tuple_(mine.c.created_at, mine.c.id),
            )
            .order_by(ci.c.created_at, ci.c.id)
            .limit(1)
        ).scalar()
    return str(found) if found else None


def back_in_line(engine: Engine, import_id: str, note: str) -> bool:
    """An unfinished import back in the queue, unlaunched: the queued-imports sensor starts it in its turn."""
    with engine.begin() as conn:
        return bool(
            conn.execute(
                sa.update(ci)
                .where(ci.c.id == import_id, ci.c.status.in_(UNFINISHED))
                .values(status="queued", phase=None, launched_at=None, run_id=None, error=note)
            ).rowcount
        )


def live_ids(engine: Engine, import_ids: list[str]) -> set[str]:
    """Which of these imports are still queued or running."""
    if not import_ids:
        return set()
    with engine.connect() as conn:
        return set(
            map(str, conn.execute(sa.select(ci.c.id).where(ci.c.id.in_(import_ids), ci.c.status.in_(UNFINISHED))).scalars())
        )


def retention_states(engine: Engine, import_ids: list[str], keep_hours: float) -> dict[str, tuple[str, bool]]:
    """{import id: (status, ended more than keep_hours ago)} for the landing sweep. A completed dry
    run nobody started yet says "dry_run": its upload waits to be started."""
    expired_at = sa.func.now() - sa.func.make_interval(0, 0, 0, 0, 0, 0, sa.literal(keep_hours * 3600.0, sa.Float))
    started = sa.select(sa.literal(1)).where(t.contact_imports.alias("real").c.dry_run_of == ci.c.id).exists()
    waiting = sa.and_(ci.c.status == "completed", ci.c.options["dry_run"].as_boolean().is_(True), ~started)
    status = sa.case((waiting, sa.literal("dry_run")), else_=ci.c.status)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(ci.c.id, status.label("status"), (ci.c.completed_at < expired_at).label("expired")).where(
                ci.c.id.in_(import_ids)
            )
        ).all()
    return {str(r.id): (r.status, bool(r.expired)) for r in rows}
