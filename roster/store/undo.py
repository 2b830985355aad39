"""Undo an import: what its merge changed, recorded in the merge's transaction, and the revert.

The record (tables import_undo*): for each contact the merge created or changed, its values before
and the version the merge left it at; the memberships the merge added and the topic subscriptions it
added or changed (with the one before), for the contacts it did not create (a created contact goes
whole). The merge writes it set-based, in its own statement
(merge_ctes): a sub-statement of a data-modifying WITH sees the table as it was before the
statement, so joining the upserted ids back to `contacts` reads the values before, at the cost of
one join and one insert (no second pass, no row-by-row trigger). That join is the record's main
cost on a big upsert: looked up row by row through an index, each upserted contact is read a
second time at random, after the upsert dirtied the table; so an import about as big as the
table reads the team's contacts once, in order, into a hash instead (see merge_ctes).

The revert (revert()) is one transaction: it locks the import row (a second revert waits, then
finds it done), locks the contacts in the merge's order, and puts back only the contacts whose
version is still the one the import left: any other write since (the API, a later import, a
revert of a later import) added to it. The others are left as they are and listed, with why.
Consent is never reversed by accident: an unsubscribe or topic opt-out the import applied stays
(and an unsubscribed contact it created is kept) unless the caller asks `resubscribe`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from roster.runtime import settings
from roster.runtime.faults import fault_point
from roster.store import merge_parts, webhook_outbox
from schemas import tables as t

ci, u, cp = t.contact_imports, t.import_undo, t.contact_properties

# Why a contact was left as it is (import_undo.outcome), in the order a person reads them.
REASONS = {
    "changed_since": "changed after the import (through the API or by a later import)",
    "deleted_since": "deleted after the import",
    "changed_during_import": "changed by another write while the import was merging",
    "kept_unsubscribed": "created by the import as unsubscribed (or opted out of a topic): kept, revert with resubscribe to delete it",
}


def scan_contacts(conn: Connection, rows: int) -> bool:
    """Whether the merge of `rows` rows reads the values before by one scan of the team's contacts
    (a big import) rather than by a lookup per contact. Reading a contact by a scan into a hash
    costs about a third of a lookup by primary key after the upsert (bench/undo_explain.py, 200k
    contacts all upserted: 0.3-0.4 s against 1.0-1.2 s), so the scan is taken when the import
    has at least ROSTER_UNDO_SCAN_SHARE (0.25) times as many rows as the table's estimated size
    (all teams, so at least the team's); a table never analyzed is taken as small. The tests
    take each path with 0 and inf."""
    share = settings.undo_scan_share()
    if share <= 0:
        return True
    size = conn.execute(sa.text("SELECT reltuples FROM pg_class WHERE oid = 'contacts'::regclass")).scalar_one()
    return bool(rows >= max(size, 1) * share)


def merge_ctes(scan: bool = False, part: str = "") -> str:
    """The merge statement's extra sub-statements that record the undo (binds :undo_import, :team).
    `scan` (see scan_contacts): read the values before by one scan of the team's contacts into a
    hash (OFFSET 0 keeps the planner from turning it back into a lookup per row), else by the
    primary key per upserted contact. `part`: for one part of a merge in parts, SQL true for that
    part's contacts (merge_parts.key_filter on `email`): the scan's hash holds only those.

    Needs from the merge: `m` returning id, inserted, email, version, first_name, last_name,
    unsubscribed, properties (after); `in_segments_kept` returning contact_id, segment_id (the
    memberships added to contacts it did not create); `in_topics_kept` returning contact_id,
    topic_id (the subscriptions of those contacts it added or changed). `exact` is false when another transaction
    wrote the contact between the statement's snapshot and the upsert's row lock (the version
    moved by more than the merge's one): the values read are then not the ones overwritten.
    """
    before = (
        "(SELECT id, team_id, version, first_name, last_name, unsubscribed, properties FROM contacts "
        f"WHERE team_id = :team{f' AND {part}' if part else ''} OFFSET 0)"
        if scan
        else "contacts"
    )
    return f"""
        , undo_contacts AS (
          INSERT INTO import_undo (import_id, contact_id, email, created, version_after, exact,
                                   first_name, last_name, unsubscribed, properties)
          SELECT CAST(:undo_import AS uuid), m.id, m.email, m.inserted, m.version,
                 m.inserted OR coalesce(before.version = m.version - 1, false),
                 before.first_name, before.last_name, before.unsubscribed, before.properties
          FROM m LEFT JOIN {before} before ON NOT m.inserted AND before.id = m.id AND before.team_id = :team
          -- Only what a revert has something to do for: a contact updated to the values it had
          -- (the same file again) needs no record, unless the import added memberships to it.
          WHERE m.inserted OR before.version IS DISTINCT FROM m.version - 1
             OR before.first_name IS DISTINCT FROM m.first_name OR before.last_name IS DISTINCT FROM m.last_name
             OR before.unsubscribed IS DISTINCT FROM m.unsubscribed OR before.properties IS DISTINCT FROM m.properties
             OR m.id IN (SELECT contact_id FROM in_segments_kept) OR m.id IN (SELECT contact_id FROM in_topics_kept)
        ), undo_segments AS (
          -- Only for the contacts it did not create: a revert deletes a created contact with its
          -- memberships and topics, and never reads these (a 1M-row first load: 1M rows less).
          INSERT INTO import_undo_segments (import_id, contact_id, segment_id)
          SELECT CAST(:undo_import AS uuid), contact_id, segment_id FROM in_segments_kept
        ), undo_topics AS (
          INSERT INTO import_undo_topics (import_id, contact_id, topic_id, subscription_before)
          SELECT CAST(:undo_import AS uuid), it.contact_id, it.topic_id, before.subscription
          FROM in_topics_kept it LEFT JOIN contact_topics before ON before.contact_id = it.contact_id AND before.topic_id = it.topic_id
        )"""


def mark_kept(conn: Connection, import_id: str) -> None:
    """The merge recorded the undo (in its transaction): a revert may use it."""
    conn.execute(sa.update(ci).where(ci.c.id == import_id).values(undo_state="kept"))


class RevertRefused(Exception):
    """The import cannot be reverted; the message says why. `code`: a short name for the API."""

    def __init__(self, message: str, code: str = "revert_refused"):
        super().__init__(message)
        self.code = code


@dataclass
class Reverted:
    result: dict[str, Any]
    already: bool  # reverted earlier: this is that revert's result


_CLASSIFY = """
    UPDATE import_undo u SET outcome = x.outcome
    FROM (
      SELECT u.contact_id,
             CASE WHEN c.id IS NULL THEN 'deleted_since'
                  WHEN NOT u.exact THEN 'changed_during_import'
                  WHEN c.version <> u.version_after THEN 'changed_since'
                  WHEN u.created AND NOT :resubscribe AND (c.unsubscribed IS TRUE OR EXISTS (
                       SELECT 1 FROM contact_topics ct WHERE ct.contact_id = c.id AND ct.subscription = 'opt_out'))
                    THEN 'kept_unsubscribed'
             END AS outcome
      FROM import_undo u LEFT JOIN contacts c ON c.id = u.contact_id AND c.team_id = :team
      WHERE u.import_id = :import
    ) x
    WHERE u.import_id = :import AND u.contact_id = x.contact_id AND x.outcome IS NOT NULL
"""

# The contacts it updated and nobody touched since: their values before (unsubscribed only
# where that does not resubscribe someone, unless asked).
_RESTORE_CONTACTS = """
    WITH restored AS (
      UPDATE contacts c SET
        first_name = u.first_name, last_name = u.last_name, properties = u.properties,
        unsubscribed = CASE WHEN c.unsubscribed IS TRUE AND u.unsubscribed IS NOT TRUE AND NOT :resubscribe
                            THEN c.unsubscribed ELSE u.unsubscribed END,
        version = c.version + 1, updated_at = now()
      FROM import_undo u
      WHERE u.import_id = :import AND u.outcome IS NULL AND NOT u.created AND c.id = u.contact_id AND c.team_id = :team
      RETURNING c.unsubscribed IS TRUE AND u.unsubscribed IS NOT TRUE AS kept_unsubscribed
    )
    SELECT count(*) AS restored, count(*) FILTER (WHERE kept_unsubscribed) AS kept_unsubscribed FROM restored
"""

_REVERTED = "u.import_id = :import AND u.outcome IS NULL AND u.contact_id = {alias}.contact_id"

_RESTORE_MEMBERSHIPS = f"""
    DELETE FROM contact_segments cs USING import_undo_segments us, import_undo u
    WHERE us.import_id = :import AND {_REVERTED.format(alias="us")} AND NOT u.created
      AND cs.contact_id = us.contact_id AND cs.segment_id = us.segment_id AND cs.team_id = :team
"""

# Topic subscriptions: an added one goes, a changed one gets its value back, except (unless
# asked) where that would turn an opt-out the import applied back into a subscription.
_KEPT_TOPIC_OPT_OUTS = f"""
    SELECT count(*) FROM contact_topics ct JOIN import_undo_topics ut ON ct.contact_id = ut.contact_id AND ct.topic_id = ut.topic_id
    JOIN import_undo u ON {_REVERTED.format(alias="ut")} AND NOT u.created
    WHERE ut.import_id = :import AND NOT :resubscribe AND ct.subscription = 'opt_out'
      AND coalesce(ut.subscription_before, '') <> 'opt_out'
"""
_RESTORE_TOPICS = f"""
    WITH removed AS (
      DELETE FROM contact_topics ct USING import_undo_topics ut, import_undo u
      WHERE ut.import_id = :import AND {_REVERTED.format(alias="ut")} AND NOT u.created AND ut.subscription_before IS NULL
        AND ct.contact_id = ut.contact_id AND ct.topic_id = ut.topic_id AND ct.team_id = :team
        AND (:resubscribe OR ct.subscription <> 'opt_out')
      RETURNING 1
    ), put_back AS (
      UPDATE contact_topics ct SET subscription = ut.subscription_before
      FROM import_undo_topics ut, import_undo u
      WHERE ut.import_id = :import AND {_REVERTED.format(alias="ut")} AND NOT u.created AND ut.subscription_before IS NOT NULL
        AND ct.contact_id = ut.contact_id AND ct.topic_id = ut.topic_id AND ct.team_id = :team
        AND (:resubscribe OR ct.subscription <> 'opt_out' OR ut.subscription_before = 'opt_out')
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM removed) + (SELECT count(*) FROM put_back)
"""

# The contacts it created and nobody touched since: gone, with their memberships and topics.
_DELETE_CREATED = [
    f"DELETE FROM {table} x USING import_undo u WHERE {_REVERTED.format(alias='x')} AND u.created AND x.team_id = :team"
    for table in ("contact_segments", "contact_topics")
] + [
    "DELETE FROM contacts c USING import_undo u WHERE u.import_id = :import AND u.outcome IS NULL AND u.created AND c.id = u.contact_id AND c.team_id = :team"
]


# Why a property the import created was kept by its revert (properties_kept[].reason).
PROPERTY_REASONS = {
    "in_use": "contacts still have a value for it after the revert (changed since the import, or given one by another write)",
    "created_again_since": "deleted after the import and created again: not the one the import created",
}


def _revert_properties(
    conn: Connection, team_id: int, merged_at: datetime, keys: list[str]
) -> tuple[list[str], list[dict[str, Any]]]:
    """After the contacts are put back, in the revert's transaction: delete the properties the
    import created (merge_details.properties_created, written in the merge's transaction) that
    no contact of the team has a value for any more; keep the others, saying why. The one the
    import created is told by its created_at: now() of the merge's transaction, as merged_at.
    Returns (properties_deleted, properties_kept)."""
    if not keys:
        return [], []
    found = {
        r.key: r
        for r in conn.execute(
            sa.select(cp.c.id, cp.c.key, cp.c.created_at)
            .where(cp.c.team_id == team_id, cp.c.key.in_(keys))
            .order_by(cp.c.key)
            .with_for_update()
        )
    }
    ours = sorted(k for k, r in found.items() if r.created_at == merged_at)
    # One pass over the team's contacts for all the keys.
    used: dict[str, int] = dict(
        conn.execute(
            sa.text(
                "SELECT k.key, count(*) FROM contacts c JOIN unnest(CAST(:keys AS text[])) AS k(key) ON c.properties ? k.key "
                "WHERE c.team_id = :team GROUP BY k.key"
            ),
            {"keys": ours, "team": team_id},
        ).all()
        if ours
        else []
    )
    deleted = [k for k in ours if not used.get(k)]
    if deleted:
        conn.execute(sa.delete(cp).where(cp.c.team_id == team_id, cp.c.id.in_([found[k].id for k in deleted])))
    kept = [
        {"key": k, "reason": "in_use", "contacts": used[k], "why": PROPERTY_REASONS["in_use"]} for k in ours if used.get(k)
    ] + [
        {"key": k, "reason": "created_again_since", "contacts": None, "why": PROPERTY_REASONS["created_again_since"]}
        for k in sorted(found)
        if k not in ours
    ]
    return deleted, kept


def revert(engine: Engine, team_id: int, import_id: str, resubscribe: bool = False) -> Reverted:
    """Put the team's contacts back as they were before the import (see the module's docstring).
    One transaction; repeating it returns the first revert's result. Raises LookupError (no such
    import of this team) or RevertRefused."""
    with engine.begin() as conn:
        state = conn.execute(
            sa.select(
                ci.c.status,
                ci.c.merged_at,
                ci.c.cancelled_at,
                ci.c.reverted_at,
                ci.c.revert_result,
                ci.c.undo_state,
                ci.c.merge_details,
            )
            .where(ci.c.id == import_id, ci.c.team_id == team_id)
            .with_for_update()
        ).first()
        if state is None:
            raise LookupError(import_id)
        if state.reverted_at is not None:
            return Reverted(state.revert_result or {}, already=True)
        _refuse_unless_revertible(state)
        created_properties = (state.merge_details or {}).get("properties_created") or []
        result = _put_back(conn, team_id, import_id, resubscribe, state.merged_at, created_properties)
        fault_point("revert")  # everything above is undone by a crash here: one transaction
        conn.execute(sa.update(ci).where(ci.c.id == import_id).values(reverted_at=sa.func.now(), revert_result=result))
    return Reverted(result, already=False)


def _put_back(
    conn: Connection, team_id: int, import_id: str, resubscribe: bool, merged_at: datetime | None, created_properties: list[str]
) -> dict[str, Any]:
    """The revert's work, in the caller's transaction (which holds the import's row): the contacts
    the import's undo record lists put back, as the module's docstring says. Returns what it did."""
    params = {"import": import_id, "team": team_id, "resubscribe": resubscribe}
    conn.execute(sa.text("SET LOCAL work_mem = '256MB'"))
    # Lock the contacts first, in the merge's order, so a revert and an import cannot deadlock.
    conn.execute(
        sa.text(
            "SELECT count(*) FROM (SELECT c.id FROM contacts c JOIN import_undo u ON u.contact_id = c.id "
            'WHERE u.import_id = :import AND c.team_id = :team ORDER BY lower(c.email) COLLATE "C" FOR UPDATE OF c) locked'
        ),
        params,
    )
    conn.execute(sa.text(_CLASSIFY), params)
    kept_topic_opt_outs = conn.execute(sa.text(_KEPT_TOPIC_OPT_OUTS), params).scalar_one()
    restored = conn.execute(sa.text(_RESTORE_CONTACTS), params).one()
    conn.execute(sa.text(_RESTORE_MEMBERSHIPS), params)
    conn.execute(sa.text(_RESTORE_TOPICS), params)
    webhook_outbox.revert_events(conn, team_id, import_id)  # restored, not yet deleted: in this transaction
    for sql in _DELETE_CREATED[:-1]:
        conn.execute(sa.text(sql), params)
    deleted = conn.execute(sa.text(_DELETE_CREATED[-1]), params).rowcount
    left: dict[str, int] = dict(
        conn.execute(
            sa.select(u.c.outcome, sa.func.count())
            .where(u.c.import_id == import_id, u.c.outcome.is_not(None))
            .group_by(u.c.outcome)
        ).all()
    )
    properties_deleted, properties_kept = (
        _revert_properties(conn, team_id, merged_at, created_properties) if merged_at is not None else ([], [])
    )
    return {
        "deleted": deleted,
        "restored": restored.restored,
        "left_unchanged": sum(left.values()),
        "left_by_reason": {k: left[k] for k in REASONS if k in left},
        "kept_unsubscribed": restored.kept_unsubscribed + left.get("kept_unsubscribed", 0),
        "kept_topic_opt_outs": kept_topic_opt_outs,
        "resubscribe": resubscribe,
        "properties_deleted": properties_deleted,
        "properties_kept": properties_kept,
    }


def revert_unfinished_merge(conn: Connection, import_id: str) -> dict[str, Any] | None:
    """For an import that ends failed (in the transaction that says so, after it has locked the
    import's row, so no part of its merge is in flight): a big import merged in parts
    (roster/store/merge_parts.py) whose run failed for good after some parts committed is put
    back as a revert would (what changed since is left, consent is kept), so a failed import wrote
    nothing, as with the single statement. Its undo record and parts are dropped; what the put
    back did is kept as its revert_result. None when no part had committed."""
    if not merge_parts.begun(conn, import_id):
        return None
    state = conn.execute(sa.select(ci.c.team_id, ci.c.merged_at).where(ci.c.id == import_id)).one()
    if state.merged_at is not None:  # all parts done and counted: a completed import, reverted only on request
        return None
    result = _put_back(conn, state.team_id, import_id, False, None, [])
    for table in (t.import_undo, t.import_undo_segments, t.import_undo_topics):
        conn.execute(sa.delete(table).where(table.c.import_id == import_id))
    merge_parts.clear(conn, import_id)
    conn.execute(sa.update(ci).where(ci.c.id == import_id).values(revert_result=result))
    return result


def _refuse_unless_revertible(state: sa.Row[*tuple[Any, ...]]) -> None:
    if state.merged_at is None:
        if state.cancelled_at is not None or state.status == "failed":
            raise RevertRefused("this import wrote no contacts: there is nothing to revert", "nothing_to_revert")
        raise RevertRefused(
            "this import has not written its contacts yet: cancel it instead (POST /contacts/imports/{id}/cancel)",
            "import_running",
        )
    if state.undo_state == "dropped":
        raise RevertRefused(
            "what this import changed is no longer kept (undo records are kept ROSTER_UNDO_RETENTION_DAYS "
            "days after an import, then dropped): it cannot be reverted",
            "undo_expired",
        )
    if state.undo_state != "kept":
        raise RevertRefused("this import ran before Roster recorded what imports change: it cannot be reverted", "no_undo_record")


def left_unchanged(engine: Engine, team_id: int, import_id: str) -> list[dict[str, Any]]:
    """The contacts a revert left as they are: contact_id, email, reason (code) and why (words)."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(u.c.contact_id, u.c.email, u.c.outcome)
            .join(ci, ci.c.id == u.c.import_id)
            .where(u.c.import_id == import_id, ci.c.team_id == team_id, u.c.outcome.is_not(None))
            .order_by(u.c.email)
        ).all()
    return [{"contact_id": str(r.contact_id), "email": r.email, "reason": r.outcome, "why": REASONS[r.outcome]} for r in rows]


def drop_expired(engine: Engine, keep_days: float) -> list[str]:
    """Drop the undo records of imports merged more than keep_days ago (the retention sweep);
    their revert is refused from then on, with that reason. Returns the imports' ids."""
    expired_at = sa.func.now() - sa.func.make_interval(0, 0, 0, 0, 0, 0, sa.literal(keep_days * 86400.0, sa.Float))
    with engine.connect() as conn:
        ids = [
            str(i)
            for i in conn.execute(
                sa.select(ci.c.id).where(ci.c.undo_state == "kept", ci.c.merged_at < expired_at).order_by(ci.c.merged_at)
            ).scalars()
        ]
    for import_id in ids:  # one import per transaction: a big record does not hold the others up
        with engine.begin() as conn:
            for table in (t.import_undo, t.import_undo_segments, t.import_undo_topics):
                conn.execute(sa.delete(table).where(table.c.import_id == import_id))
            conn.execute(sa.update(ci).where(ci.c.id == import_id).values(undo_state="dropped"))
    return ids
