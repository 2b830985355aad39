"""The merge: the staged rows into the team's contacts, with their segments and topics, counted.

One statement, one transaction (see merge()): the heart of an import, and the reason a crash can
never leave half an import behind. A big import's merge is that statement once per part of its
stage, at once on two connections (roster/store/merge_parts.py says how it stays exactly once).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from roster.runtime.faults import fault_point
from roster.store import failures, merge_parts, staging, undo, webhook_outbox
from roster.store import properties as team_properties
from roster.store.cancel import Cancelled
from schemas import tables as t
from schemas.import_options import ImportOptions

ci = t.contact_imports
DETAILS = ("segments", "topics", "kept_unsubscribed", "kept_topic_opt_outs")


class StageLost(RuntimeError):
    """The staged rows are gone (crash recovery empties UNLOGGED tables): stage the file again."""


class TargetsGone(LookupError):
    """A segment or topic the import adds its contacts to was deleted after the import was queued."""


def _check_targets(conn: Connection, team_id: int, options: ImportOptions, refuse: bool = True) -> None:
    """Inside the merge's transaction: every segment and topic the import names still exists, and
    stays (FOR KEY SHARE: a DELETE waits for the merge to commit). Else TargetsGone, before any
    write, so the import fails saying which one, rather than completing without those memberships.
    refuse=False (the later parts of a merge in parts, once one has committed): lock those that
    exist and go on without the others, since the import has begun writing and must finish."""
    for table, kind, wanted in (
        (t.segments, "segment", list(options.segments)),
        (t.topics, "topic", [tp["id"] for tp in options.topics]),
    ):
        if not wanted:
            continue
        found = conn.execute(
            sa.select(table.c.id)
            .where(table.c.team_id == team_id, table.c.id.in_(wanted))
            # FOR KEY SHARE (key_share alone is FOR NO KEY UPDATE: the two parts of a merge would wait on each other).
            .with_for_update(read=True, key_share=True)
        ).scalars()
        gone = sorted({w.lower() for w in wanted} - {str(f) for f in found})
        if gone and refuse:
            raise TargetsGone(
                f"the {kind}{'s' if len(gone) > 1 else ''} {', '.join(gone)} no longer exist{'' if len(gone) > 1 else 's'} "
                f"(deleted after the import was queued); nothing was imported: import the file again without "
                f"{'them' if len(gone) > 1 else 'it'}, or create the {kind} again first"
            )


def merge(
    engine: Engine,
    import_id: str,
    team_id: int,
    options: ImportOptions,
    maps_unsubscribed: bool,
    new_properties: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The stage into contacts (upsert or skip), the segment memberships and topic
    subscriptions of the contacts it created or updated, and the counts: one statement, one
    transaction. A crash anywhere leaves all of it or none of it, so a retry never has to find
    out which contacts an earlier attempt touched. `merged_at` is set in the same transaction:
    a retry sees the merge done and never merges twice.

    Emails are one contact per `lower(email)`, exactly the unique index's rule (the database's
    own lower(), not Python's or polars', which differ for a few letters such as a final sigma).
    Rows go in that key's byte order, so two imports touching the same contacts lock them in
    the same order and cannot deadlock. Consent is never reversed unless the import says
    `resubscribe`: an unsubscribed contact stays unsubscribed and a topic opt-out stays out,
    and such contacts are counted. Raises StageLost when the stage does not hold the rows
    staging committed (an UNLOGGED table comes back empty after crash recovery).

    `new_properties` ({key: type}): the properties the map needs, created here if the team lacks
    them, in the same transaction, when it writes a contact: an import that writes nothing
    creates nothing.

    From ROSTER_MERGE_PARTS_FROM_ROWS staged rows the statement runs once per part of the stage,
    at once on two connections (_merge_in_parts): each part is all or nothing, the import's
    counts and merged_at come once all parts are done, and a retry merges only the parts left.
    """
    stage = staging.stage_table(import_id)
    opt_in_topics = [tp["id"] for tp in options.topics if tp.get("subscription", "opt_in") == "opt_in"]
    params: dict[str, Any] = {
        "team": team_id,
        "segments": list(options.segments),
        "resubscribe": options.resubscribe,
        "topic_ids": [tp["id"] for tp in options.topics],
        "topic_subs": [tp.get("subscription", "opt_in") for tp in options.topics],
        "opt_in_topics": opt_in_topics,
        "undo_import": import_id,
    }
    if options.on_conflict == "skip":
        conflict = "ON CONFLICT (team_id, lower(email)) DO NOTHING"
    else:
        conflict = (
            "ON CONFLICT (team_id, lower(email)) DO UPDATE SET "
            "first_name = coalesce(excluded.first_name, c.first_name), "
            "last_name = coalesce(excluded.last_name, c.last_name), "
            "unsubscribed = CASE WHEN c.unsubscribed AND excluded.unsubscribed IS FALSE AND NOT :resubscribe THEN true "
            "ELSE coalesce(excluded.unsubscribed, c.unsubscribed) END, "
            "properties = c.properties || excluded.properties, updated_at = now(), version = c.version + 1"
        )
    # Contacts whose opt-out this import kept (the file said subscribed): counted only when it can happen.
    kept_unsubscribed = (
        "(SELECT count(*) FROM m JOIN src USING (email_key) WHERE NOT m.inserted AND m.unsubscribed AND src.unsubscribed IS FALSE)"
        if maps_unsubscribed and options.on_conflict == "upsert" and not options.resubscribe
        else "0"
    )
    # Topic opt-outs the import would have turned into opt-ins (every sub-statement sees the data as it was before).
    kept_topic_opt_outs = (
        "(SELECT count(*) FROM contact_topics ct JOIN m ON ct.contact_id = m.id "
        "WHERE ct.topic_id = ANY(CAST(:opt_in_topics AS uuid[])) AND ct.subscription = 'opt_out')"
        if opt_in_topics and not options.resubscribe
        else "0"
    )

    def statement(events: webhook_outbox.MergeEvents, scan: bool, part: int | None = None) -> str:
        """The merge statement; `part`: only that part of the stage (a merge in parts), else all of it."""
        in_part = f" WHERE {merge_parts.key_filter('email', part)}" if part is not None else ""
        return f"""
        WITH src AS (
          SELECT DISTINCT ON (email_key) id, email, email_key, first_name, last_name, unsubscribed, CAST(properties AS jsonb) AS properties
          FROM (SELECT *, lower(email) COLLATE "C" AS email_key FROM {stage}{in_part}) staged
          ORDER BY email_key, row_number DESC
        ), m AS (
          INSERT INTO contacts AS c (id, team_id, email, first_name, last_name, unsubscribed, properties)
          SELECT id, :team, email, first_name, last_name, unsubscribed, properties FROM src ORDER BY email_key
          {conflict}
          RETURNING id, (xmax = 0) AS inserted, lower(email) COLLATE "C" AS email_key, c.unsubscribed, c.email, c.version,
                    c.first_name, c.last_name, c.properties{events.returning}
        ), in_segments_created AS (
          -- The contacts this statement created have no memberships or topics yet (their ids are new,
          -- from the stage): plain inserts, without ON CONFLICT's look-up and confirmation per row.
          INSERT INTO contact_segments (contact_id, segment_id, team_id)
          SELECT m.id, s.id, :team FROM m CROSS JOIN segments s
          WHERE m.inserted AND s.team_id = :team AND s.id = ANY(CAST(:segments AS uuid[]))
          ORDER BY m.id, s.id
          RETURNING contact_id, segment_id
        ), in_segments_kept AS (
          INSERT INTO contact_segments (contact_id, segment_id, team_id)
          SELECT m.id, s.id, :team FROM m CROSS JOIN segments s
          WHERE NOT m.inserted AND s.team_id = :team AND s.id = ANY(CAST(:segments AS uuid[]))
          ORDER BY m.id, s.id
          ON CONFLICT DO NOTHING
          RETURNING contact_id, segment_id
        ), in_topics_created AS (
          INSERT INTO contact_topics AS ct (contact_id, topic_id, team_id, subscription)
          SELECT m.id, tp.id, :team, wanted.subscription
          FROM m CROSS JOIN unnest(CAST(:topic_ids AS uuid[]), CAST(:topic_subs AS text[])) AS wanted(id, subscription)
          JOIN topics tp ON tp.id = wanted.id AND tp.team_id = :team
          WHERE m.inserted
          ORDER BY m.id, tp.id
          RETURNING contact_id, topic_id
        ), in_topics_kept AS (
          INSERT INTO contact_topics AS ct (contact_id, topic_id, team_id, subscription)
          SELECT m.id, tp.id, :team, wanted.subscription
          FROM m CROSS JOIN unnest(CAST(:topic_ids AS uuid[]), CAST(:topic_subs AS text[])) AS wanted(id, subscription)
          JOIN topics tp ON tp.id = wanted.id AND tp.team_id = :team
          WHERE NOT m.inserted
          ORDER BY m.id, tp.id
          ON CONFLICT (contact_id, topic_id) DO UPDATE SET subscription = excluded.subscription
          WHERE :resubscribe OR ct.subscription <> 'opt_out' OR excluded.subscription = 'opt_out'
          RETURNING contact_id, topic_id
        ){undo.merge_ctes(scan, merge_parts.key_filter("email", part) if part is not None else "")}{events.cte}
        SELECT (SELECT count(*) FILTER (WHERE inserted) FROM m) AS created,
               (SELECT count(*) FILTER (WHERE NOT inserted) FROM m) AS updated,
               (SELECT count(*) FROM in_segments_created) + (SELECT count(*) FROM in_segments_kept) AS segments,
               (SELECT count(*) FROM in_topics_created) + (SELECT count(*) FROM in_topics_kept) AS topics,
               {kept_unsubscribed} AS kept_unsubscribed,
               {kept_topic_opt_outs} AS kept_topic_opt_outs,
               {events.count} AS webhook_events
        """

    with engine.begin() as conn:
        state = conn.execute(
            sa.select(ci.c.merged_at, ci.c.staged_rows, ci.c.cancelled_at).where(ci.c.id == import_id).with_for_update()
        ).one()
        if state.merged_at is not None:  # merged by an earlier attempt of this import
            return counts(conn, import_id)
        if state.cancelled_at is not None:  # a cancel took this lock first: write nothing
            raise Cancelled(import_id)
        if not staging.intact(conn, import_id, state.staged_rows):
            raise StageLost(f"the staged rows of import {import_id} are gone")
        parts = merge_parts.planned(conn, import_id, state.staged_rows)
        if parts == 1:
            result = _merge_whole(conn, import_id, team_id, options, new_properties, state.staged_rows, statement, params)
    if parts > 1:  # the parts take the import's row each (shared), in their own transactions
        return _merge_in_parts(engine, import_id, team_id, options, new_properties, parts, state.staged_rows, statement, params)
    fault_point("merged")
    return result


MergeStatement = Callable[[webhook_outbox.MergeEvents, bool, int | None], str]


def _merge_settings(conn: Connection) -> None:
    """For the merge statement, in its transaction only (SET LOCAL)."""
    # The dedup sort of a million rows fits in memory with this, instead of spilling to disk.
    conn.execute(sa.text("SET LOCAL work_mem = '256MB'"))
    # No JIT compiling: the statement's cost estimates mean nothing (a stage has no statistics, and
    # a part's enable_nestloop = off adds 10^10 to them), so PostgreSQL compiled and optimized its
    # expressions for every merge of any size: about 1 s of CPU for each part of a 1M-row merge,
    # more than the compiled code saved (auto_explain, 2026-12-05).
    conn.execute(sa.text("SET LOCAL jit = off"))


def _merge_whole(
    conn: Connection,
    import_id: str,
    team_id: int,
    options: ImportOptions,
    new_properties: dict[str, str] | None,
    staged_rows: int,
    statement: MergeStatement,
    params: dict[str, Any],
) -> dict[str, Any]:
    """The merge as one statement, in the caller's transaction (which holds the import's row)."""
    _check_targets(conn, team_id, options)
    _merge_settings(conn)
    # Per-contact webhook events, in this statement and transaction (an outbox): only when an endpoint wants them.
    sql = statement(webhook_outbox.merge_events(conn, team_id), undo.scan_contacts(conn, staged_rows), None)
    merged = conn.execute(sa.text(sql), params).one()
    # Only an import that wrote a contact creates the properties its map names.
    wrote = merged.created + merged.updated > 0
    created_properties = team_properties.create_missing_in(conn, team_id, new_properties or {}) if wrote else []
    fault_point("merge")
    record_counts(conn, import_id, staged_rows, merged, created_properties)
    undo.mark_kept(conn, import_id)
    return counts(conn, import_id)


def _merge_in_parts(
    engine: Engine,
    import_id: str,
    team_id: int,
    options: ImportOptions,
    new_properties: dict[str, str] | None,
    parts: int,
    staged_rows: int,
    statement: MergeStatement,
    params: dict[str, Any],
) -> dict[str, Any]:
    """A big import's merge (roster/store/merge_parts.py): each part of the stage by email key in
    its own transaction on its own connection, all at once, each recording itself done as it
    commits; then, once all are done, the counts and merged_at in one more transaction. A retry
    (this again after a crash) merges only the parts not done. Cancel is refused once a part has
    committed (roster/store/cancel.py): the import then finishes, and a revert undoes it whole."""

    def one(part: int) -> None:
        with engine.begin() as conn:
            # Shared: the parts take it together, a cancel (FOR UPDATE) waits for every part in flight.
            state = conn.execute(
                sa.select(ci.c.merged_at, ci.c.cancelled_at).where(ci.c.id == import_id).with_for_update(read=True)
            ).one()
            if state.merged_at is not None or merge_parts.done(conn, import_id, part):
                return
            if state.cancelled_at is not None:
                raise Cancelled(import_id)
            _check_targets(conn, team_id, options, refuse=not merge_parts.begun(conn, import_id))
            _merge_settings(conn)
            scan = undo.scan_contacts(conn, staged_rows)
            if scan:
                # The undo's scan of the contacts must be hashed: a part of a stage (no statistics) after
                # DISTINCT ON looks like 200 rows to the planner, which then joins it to the part's
                # contacts by a nested loop over the whole scan, per upserted contact (minutes, at 1M).
                conn.execute(sa.text("SET LOCAL enable_nestloop = off"))
            sql = statement(webhook_outbox.merge_events(conn, team_id), scan, part)
            merged = conn.execute(sa.text(sql), params).one()
            merge_parts.record(conn, import_id, part, parts, merged)
            fault_point("merge")
        fault_point("merge_part")

    merge_parts.run_at_once([functools.partial(one, part) for part in range(parts)])
    with engine.begin() as conn:
        state = conn.execute(sa.select(ci.c.merged_at).where(ci.c.id == import_id).with_for_update()).one()
        if state.merged_at is not None:
            return counts(conn, import_id)
        merged = merge_parts.summed(conn, import_id)
        if merged.parts_done != parts:
            raise RuntimeError(f"import {import_id}: {merged.parts_done} of {parts} merge parts done after all ran")
        wrote = merged.created + merged.updated > 0
        created_properties = team_properties.create_missing_in(conn, team_id, new_properties or {}) if wrote else []
        record_counts(conn, import_id, staged_rows, merged, created_properties)
        undo.mark_kept(conn, import_id)
        merge_parts.clear(conn, import_id)
        result = counts(conn, import_id)
    fault_point("merged")
    return result


def outcome_details(conn: Connection, import_id: str, created_properties: list[str]) -> dict[str, Any]:
    """What a person reads besides the counts: the properties created (or, for a dry run, that
    would be), and the failed rows by cause with a few of each."""
    return {"properties_created": created_properties, "failures_by_reason": failures.by_reason(conn, import_id)}


def record_counts(
    conn: Connection, import_id: str, staged: int, decided: sa.Row[*tuple[Any, ...]], properties: list[Any]
) -> None:
    """The counts of a merge (or of what a dry run would do) onto the import row, with `merged_at`
    (decided: a retry never decides again). `decided`: the statement's row (created, updated and
    DETAILS); `properties`: the properties created (or that would be)."""
    failed = failures.count(conn, import_id)
    # Every staged row not merged was skipped: an earlier duplicate in the file, or (skip) an existing contact.
    conn.execute(
        sa.update(ci)
        .where(ci.c.id == import_id)
        .values(
            total=staged + failed,
            created=decided.created,
            updated=decided.updated,
            skipped=staged - decided.created - decided.updated,
            failed=failed,
            merge_details={k: decided._mapping[k] for k in DETAILS} | outcome_details(conn, import_id, properties),
            merged_at=sa.func.now(),
        )
    )


def counts(conn: Connection, import_id: str) -> dict[str, Any]:
    """The import's counts, and what else the merge did (memberships, opt-outs kept)."""
    row = (
        conn.execute(
            sa.select(ci.c.total, ci.c.created, ci.c.updated, ci.c.skipped, ci.c.failed, ci.c.merge_details).where(
                ci.c.id == import_id
            )
        )
        .mappings()
        .one()
    )
    # Not the failed rows' samples: they hold the rows' values, which stay in Roster's tables
    # (contact_import_failures), out of the run's metadata in Dagster's storage.
    details = {k: v for k, v in (row["merge_details"] or {}).items() if k != "failures_by_reason"}
    return {**{k: row[k] for k in ("total", "created", "updated", "skipped", "failed")}, **details}
