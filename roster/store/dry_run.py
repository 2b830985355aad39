"""A dry run's decision: what merge() would do with the staged rows, counted with SELECTs only.

The same rules as the merge (roster/store/merge.py), against the team's contacts as they are now:
one contact per lower(email), the last row of a file's duplicates wins, `skip` leaves existing
contacts alone, consent is kept unless `resubscribe`. Nothing is written but the import's own
row: its counts, and `merged_at`, which here means "decided" (a retried run decides once).
Reading is cheaper than writing: no index updates, no WAL, no row locks.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from roster.store import staging
from roster.store.cancel import Cancelled
from roster.store.merge import StageLost, _check_targets, counts, record_counts
from schemas import tables as t
from schemas.import_options import ImportOptions

ci = t.contact_imports


def decide(
    engine: Engine, import_id: str, team_id: int, options: ImportOptions, maps_unsubscribed: bool, new_properties: list[str]
) -> dict[str, Any]:
    """Count what the import would create, update, skip and keep (consent), and the memberships
    and subscriptions it would write; record them on the import. `new_properties`: the keys the
    team lacks, which the import would create. Raises StageLost as merge() does."""
    stage = staging.stage_table(import_id)
    upsert = options.on_conflict == "upsert"
    opt_in_topics = [tp["id"] for tp in options.topics if tp.get("subscription", "opt_in") == "opt_in"]
    params = {
        "team": team_id,
        "segments": list(options.segments),
        "resubscribe": options.resubscribe,
        "topic_ids": [tp["id"] for tp in options.topics],
        "topic_subs": [tp.get("subscription", "opt_in") for tp in options.topics],
        "opt_in_topics": opt_in_topics,
    }
    kept_unsubscribed = (
        "(SELECT count(*) FROM hit WHERE contact_id IS NOT NULL AND was_unsubscribed AND unsubscribed IS FALSE)"
        if maps_unsubscribed and upsert and not options.resubscribe
        else "0"
    )
    kept_topic_opt_outs = (
        "(SELECT count(*) FROM contact_topics ct JOIN m ON ct.contact_id = m.contact_id "
        "WHERE ct.topic_id = ANY(CAST(:opt_in_topics AS uuid[])) AND ct.subscription = 'opt_out')"
        if opt_in_topics and not options.resubscribe
        else "0"
    )
    # hit: each distinct email of the file and the contact it would update (NULL: it would create one);
    # m: the contacts the merge would write (upsert: all of them; skip: the new ones only).
    sql = f"""
        WITH src AS (
          SELECT DISTINCT ON (email_key) lkey, unsubscribed
          FROM (SELECT lower(email) COLLATE "C" AS email_key, lower(email) AS lkey, unsubscribed, row_number FROM {stage}) staged
          ORDER BY email_key, row_number DESC
        ), hit AS (
          SELECT src.unsubscribed, c.id AS contact_id, c.unsubscribed AS was_unsubscribed
          FROM src LEFT JOIN contacts c ON c.team_id = :team AND lower(c.email) = src.lkey
        ), m AS (
          SELECT contact_id FROM hit {"" if upsert else "WHERE contact_id IS NULL"}
        ), segs AS (
          SELECT id FROM segments WHERE team_id = :team AND id = ANY(CAST(:segments AS uuid[]))
        ), wanted AS (
          SELECT tp.id, w.subscription
          FROM unnest(CAST(:topic_ids AS uuid[]), CAST(:topic_subs AS text[])) AS w(id, subscription)
          JOIN topics tp ON tp.id = w.id AND tp.team_id = :team
        )
        SELECT (SELECT count(*) FROM hit WHERE contact_id IS NULL) AS created,
               (SELECT count(*) FROM m WHERE contact_id IS NOT NULL) AS updated,
               (SELECT count(*) FROM m CROSS JOIN segs
                WHERE m.contact_id IS NULL OR NOT EXISTS (
                  SELECT 1 FROM contact_segments cs WHERE cs.contact_id = m.contact_id AND cs.segment_id = segs.id)) AS segments,
               (SELECT count(*) FROM m CROSS JOIN wanted
                LEFT JOIN contact_topics ct ON ct.contact_id = m.contact_id AND ct.topic_id = wanted.id
                WHERE ct.contact_id IS NULL OR :resubscribe OR ct.subscription <> 'opt_out'
                   OR wanted.subscription = 'opt_out') AS topics,
               {kept_unsubscribed} AS kept_unsubscribed,
               {kept_topic_opt_outs} AS kept_topic_opt_outs
    """
    with engine.begin() as conn:
        state = conn.execute(
            sa.select(ci.c.merged_at, ci.c.staged_rows, ci.c.cancelled_at).where(ci.c.id == import_id).with_for_update()
        ).one()
        if state.merged_at is not None:  # decided by an earlier attempt
            return counts(conn, import_id)
        if state.cancelled_at is not None:  # a cancel took this lock first, as for the merge
            raise Cancelled(import_id)
        if not staging.intact(conn, import_id, state.staged_rows):
            raise StageLost(f"the staged rows of import {import_id} are gone")
        _check_targets(conn, team_id, options)  # a segment or topic deleted since: the import would fail
        conn.execute(sa.text("SET LOCAL work_mem = '256MB'"))
        would = conn.execute(sa.text(sql), params).one()
        record_counts(conn, import_id, state.staged_rows, would, new_properties if would.created + would.updated else [])
        return counts(conn, import_id)
