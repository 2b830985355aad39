"""The contact store: every read and write of an import against PostgreSQL.

Every statement names the import's team: no query can reach another team's contacts.
"""
from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterable, Iterator

import polars as pl
import sqlalchemy as sa
from dagster import ConfigurableResource
from sqlalchemy.engine import Engine

from resources.staging import create_stage_sql, drop_sql, stage_columns, stage_table
from roster.database import get_engine
from roster.faults import fault_point
from schemas import tables as t
from schemas.column_map import ImportOptions
from schemas.rows import PropertyField

# psycopg's COPY format for the failures table; the data column is JSON text.
FAILURE_COLUMNS = ["import_id", "row_number", "email", "reason", "data"]


class StageLost(RuntimeError):
    """The staged rows are gone (crash recovery empties UNLOGGED tables): stage the file again."""


class NotMerged(RuntimeError):
    """An import cannot complete before its merge committed."""


class ContactStore(ConfigurableResource):
    """PostgreSQL, from DATABASE_URL or the embedded server (see roster.database)."""

    def engine(self) -> Engine:
        return get_engine()

    # -- the import row ---------------------------------------------------------------------------
    def get_import(self, import_id: str) -> dict:
        with self.engine().connect() as conn:
            row = conn.execute(sa.select(t.contact_imports).where(t.contact_imports.c.id == import_id)).mappings().first()
        if row is None:
            raise LookupError(f"there is no import {import_id}")
        return dict(row)

    def update_import(self, import_id: str, **values) -> None:
        with self.engine().begin() as conn:
            conn.execute(sa.update(t.contact_imports).where(t.contact_imports.c.id == import_id).values(**values))

    def apply_overrides(self, import_id: str, overrides: dict) -> None:
        """Run config from a launch (the Dagster UI, `dagster job execute`) over the stored options."""
        if not overrides:
            return
        from schemas.column_map import ImportOptions, parse_column_map

        options = self.get_import(import_id)["options"] or {}
        if "column_map" in overrides:
            overrides["column_map"] = parse_column_map(overrides["column_map"])
        merged = ImportOptions.model_validate({**options, **overrides})
        self.update_import(import_id, options=merged.model_dump(mode="json", exclude_unset=True))

    def start(self, import_id: str, run_id: str | None) -> None:
        """in_progress, unless it already ended (a re-executed run must not reopen a result)."""
        with self.engine().begin() as conn:
            conn.execute(
                sa.update(t.contact_imports)
                .where(t.contact_imports.c.id == import_id, t.contact_imports.c.status.in_(["queued", "in_progress", "failed"]))
                .where(t.contact_imports.c.completed_at.is_(None) | (t.contact_imports.c.status == "failed"))
                .values(status="in_progress", run_id=run_id, error=None, completed_at=None,
                        attempts=t.contact_imports.c.attempts + 1,
                        started_at=sa.func.coalesce(t.contact_imports.c.started_at, sa.func.now()))
            )

    def fail(self, import_id: str, message: str) -> None:
        with self.engine().begin() as conn:
            conn.execute(
                # A completed import stays completed: a re-executed run of it cannot undo the result.
                sa.update(t.contact_imports).where(t.contact_imports.c.id == import_id,
                                                   t.contact_imports.c.status != "completed")
                .values(status="failed", error=message, completed_at=sa.func.now())
            )
            conn.execute(sa.text(drop_sql(import_id)))

    def complete(self, import_id: str) -> dict:
        """`completed`, only once the merge committed: nothing half-done is ever reported done."""
        ci = t.contact_imports
        with self.engine().begin() as conn:
            state = conn.execute(sa.select(ci.c.merged_at, ci.c.status).where(ci.c.id == import_id).with_for_update()).one()
            if state.merged_at is None:
                raise NotMerged(f"import {import_id} has not been merged")
            if state.status == "in_progress":  # an import marked failed meanwhile stays failed
                conn.execute(
                    sa.update(ci).where(ci.c.id == import_id)
                    .values(status="completed", error=None, completed_at=sa.func.coalesce(ci.c.completed_at, sa.func.now()))
                )
            conn.execute(sa.text(drop_sql(import_id)))
        return self.get_import(import_id)

    def claim_queued(self, limit: int = 25, stale_after_seconds: int = 120) -> list[dict]:
        """Queued imports nobody has launched (or whose launch got lost), marked launched now."""
        ci = t.contact_imports
        stale = sa.func.now() - sa.text(f"interval '{int(stale_after_seconds)} seconds'")
        with self.engine().begin() as conn:
            rows = conn.execute(
                sa.select(ci.c.id, ci.c.source, t.teams.c.name.label("team"))
                .join(t.teams, t.teams.c.id == ci.c.team_id)
                .where(ci.c.status == "queued", ci.c.launched_at.is_(None) | (ci.c.launched_at < stale))
                .order_by(ci.c.created_at).limit(limit).with_for_update(of=ci, skip_locked=True)
            ).mappings().all()
            if rows:
                conn.execute(sa.update(ci).where(ci.c.id.in_([r["id"] for r in rows])).values(launched_at=sa.func.now()))
        return [{"id": str(r["id"]), "source": r["source"], "team": r["team"]} for r in rows]

    def fail_if_unfinished(self, import_id: str, message: str) -> bool:
        """Mark an import failed when its runs died before the import could say so itself."""
        ci = t.contact_imports
        with self.engine().begin() as conn:
            done = conn.execute(
                sa.update(ci).where(ci.c.id == import_id, ci.c.status.in_(["queued", "in_progress"]))
                .values(status="failed", error=message, completed_at=sa.func.now())
            ).rowcount
            if done:
                conn.execute(sa.text(drop_sql(import_id)))
        return bool(done)

    def requeue(self, import_id: str, note: str) -> bool:
        """Put an in_progress import whose run died back in the queue, for the queued-imports sensor."""
        ci = t.contact_imports
        with self.engine().begin() as conn:
            return bool(conn.execute(
                sa.update(ci).where(ci.c.id == import_id, ci.c.status == "in_progress")
                .values(status="queued", launched_at=None, run_id=None, error=note)
            ).rowcount)

    def unfinished(self) -> list[dict]:
        """Imports a run is (or should be) working on: in_progress, or queued and handed to Dagster."""
        ci = t.contact_imports
        with self.engine().connect() as conn:
            rows = conn.execute(
                sa.select(ci.c.id, ci.c.status, ci.c.run_id, ci.c.attempts, ci.c.merged_at)
                .where(ci.c.status.in_(["in_progress", "queued"]))
            ).mappings().all()
        return [dict(r, id=str(r["id"])) for r in rows]

    def orphaned_stages(self) -> list[str]:
        """Staging tables of imports that ended (or never existed): what a crash left behind."""
        with self.engine().begin() as conn:
            names = conn.execute(sa.text(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'import\\_stage\\_%'"
            )).scalars().all()
            ids = {name: str(uuid.UUID(name.rsplit("_", 1)[1])) for name in names}
            live = set(map(str, conn.execute(
                sa.select(t.contact_imports.c.id).where(
                    t.contact_imports.c.id.in_(list(ids.values())), t.contact_imports.c.status.in_(["queued", "in_progress"]))
            ).scalars().all())) if ids else set()
        return [i for i in ids.values() if i not in live]

    def drop_stage(self, import_id: str) -> None:
        with self.engine().begin() as conn:
            conn.execute(sa.text(drop_sql(import_id)))

    # -- staging ----------------------------------------------------------------------------------
    def reset_failures(self, import_id: str) -> None:
        """Start the rows over: a retried run re-reads the file, so earlier failures go."""
        with self.engine().begin() as conn:
            conn.execute(sa.delete(t.contact_import_failures).where(t.contact_import_failures.c.import_id == import_id))
            conn.execute(sa.update(t.contact_imports).where(t.contact_imports.c.id == import_id).values(rows_read=0, staged_rows=None))

    @contextlib.contextmanager
    def staging(self, import_id: str, props: list[PropertyField]) -> Iterator[Callable[[pl.DataFrame], None]]:
        """A writer of validated batches into a new staging table, all in one transaction.

        The table is created in the same transaction as its COPYs, so they can use FREEZE: the rows
        are written once, already frozen, instead of being rewritten when first read. The number
        of rows staged is recorded in the same transaction, so the merge can tell a stage that
        crash recovery emptied from one that holds what was staged.
        """
        columns = stage_columns(props)
        copy_sql = f"COPY {stage_table(import_id)} ({', '.join(columns)}) FROM STDIN (FORMAT csv, FREEZE)"
        staged = 0
        raw = self.engine().raw_connection()
        try:
            with raw.driver_connection.cursor() as cur:
                cur.execute(create_stage_sql(import_id, props))
                # One COPY for the whole file: psycopg sends each batch from a worker thread while
                # the next batch is read and validated here.
                with cur.copy(copy_sql) as copy:

                    def write(rows: pl.DataFrame) -> None:
                        nonlocal staged
                        copy.write(rows.rename({"__row": "row_number"}).select(columns).write_csv(include_header=False, null_value=""))
                        staged += rows.height
                        fault_point("staging")

                    yield write
                cur.execute("UPDATE contact_imports SET staged_rows = %s WHERE id = %s", (staged, import_id))
            raw.commit()
        except BaseException:
            raw.rollback()
            raise
        finally:
            raw.close()

    def progress(self, import_id: str, rows_read: int) -> None:
        self.update_import(import_id, rows_read=rows_read)

    def record_failures(self, import_id: str, failures: Iterable[dict]) -> int:
        rows = [
            (import_id, f["row"], f.get("email"), f["reason"], json.dumps(f.get("values") or {}, ensure_ascii=False))
            for f in failures
        ]
        if not rows:
            return 0
        raw = self.engine().raw_connection()
        try:
            with raw.driver_connection.cursor() as cur:
                with cur.copy(f"COPY contact_import_failures ({', '.join(FAILURE_COLUMNS)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            raw.commit()
        finally:
            raw.close()
        return len(rows)

    def failures(self, import_id: str, team_id: int) -> list[dict]:
        f = t.contact_import_failures
        with self.engine().connect() as conn:
            rows = conn.execute(
                sa.select(f.c.row_number, f.c.email, f.c.reason, f.c.data)
                .join(t.contact_imports, t.contact_imports.c.id == f.c.import_id)
                .where(f.c.import_id == import_id, t.contact_imports.c.team_id == team_id)
                .order_by(f.c.row_number)
            ).mappings().all()
        return [dict(r) for r in rows]

    # -- properties -------------------------------------------------------------------------------
    def properties(self, team_id: int) -> dict[str, str]:
        p = t.contact_properties
        with self.engine().connect() as conn:
            return dict(conn.execute(sa.select(p.c.key, p.c.type).where(p.c.team_id == team_id)).all())

    def create_properties(self, team_id: int, wanted: dict[str, str]) -> list[str]:
        """Create the keys the team lacks; returns those created. Safe to repeat."""
        from sqlalchemy.dialects.postgresql import insert

        if not wanted:
            return []
        p = t.contact_properties
        with self.engine().begin() as conn:
            created = conn.execute(
                insert(p).values([{"team_id": team_id, "key": k, "type": v} for k, v in sorted(wanted.items())])
                .on_conflict_do_nothing(index_elements=["team_id", "key"]).returning(p.c.key)
            ).scalars().all()
        return sorted(created)

    # -- the merge --------------------------------------------------------------------------------
    def merge(self, import_id: str, team_id: int, props: list[PropertyField], options: ImportOptions,
              maps_unsubscribed: bool) -> dict:
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
        """
        stage = stage_table(import_id)
        opt_in_topics = [tp["id"] for tp in options.topics if tp.get("subscription", "opt_in") == "opt_in"]
        params: dict = {"team": team_id, "segments": list(options.segments), "resubscribe": options.resubscribe,
                        "topic_ids": [tp["id"] for tp in options.topics],
                        "topic_subs": [tp.get("subscription", "opt_in") for tp in options.topics],
                        "opt_in_topics": opt_in_topics}
        pairs = []
        for i, p in enumerate(props):
            params[f"k{i}"] = p.key
            cast = {"number": "::numeric", "boolean": "::boolean"}.get(p.type, "")
            pairs.append(f"CAST(:k{i} AS text), {p.staged}{cast}")
        properties = f"jsonb_strip_nulls(jsonb_build_object({', '.join(pairs)}))" if pairs else "'{}'::jsonb"
        if options.on_conflict == "skip":
            conflict = "ON CONFLICT (team_id, lower(email)) DO NOTHING"
        else:
            conflict = (
                "ON CONFLICT (team_id, lower(email)) DO UPDATE SET "
                "first_name = coalesce(excluded.first_name, c.first_name), "
                "last_name = coalesce(excluded.last_name, c.last_name), "
                "unsubscribed = CASE WHEN c.unsubscribed AND excluded.unsubscribed IS FALSE AND NOT :resubscribe THEN true "
                "ELSE coalesce(excluded.unsubscribed, c.unsubscribed) END, "
                "properties = c.properties || excluded.properties, updated_at = now()"
            )
        # Contacts whose opt-out this import kept (the file said subscribed): counted only when it can happen.
        kept_unsubscribed = (
            "(SELECT count(*) FROM m JOIN src USING (email_key) WHERE NOT m.inserted AND m.unsubscribed AND src.unsubscribed IS FALSE)"
            if maps_unsubscribed and options.on_conflict == "upsert" and not options.resubscribe else "0"
        )
        # Topic opt-outs the import would have turned into opt-ins (every sub-statement sees the data as it was before).
        kept_topic_opt_outs = (
            "(SELECT count(*) FROM contact_topics ct JOIN m ON ct.contact_id = m.id "
            "WHERE ct.topic_id = ANY(CAST(:opt_in_topics AS uuid[])) AND ct.subscription = 'opt_out')"
            if opt_in_topics and not options.resubscribe else "0"
        )
        sql = f"""
            WITH src AS (
              SELECT DISTINCT ON (email_key) email, email_key, first_name, last_name, unsubscribed, {properties} AS properties
              FROM (SELECT *, lower(email) COLLATE "C" AS email_key FROM {stage}) staged
              ORDER BY email_key, row_number DESC
            ), m AS (
              INSERT INTO contacts AS c (team_id, email, first_name, last_name, unsubscribed, properties)
              SELECT :team, email, first_name, last_name, unsubscribed, properties FROM src ORDER BY email_key
              {conflict}
              RETURNING id, (xmax = 0) AS inserted, lower(email) COLLATE "C" AS email_key, c.unsubscribed
            ), in_segments AS (
              INSERT INTO contact_segments (contact_id, segment_id, team_id)
              SELECT m.id, s.id, :team FROM m CROSS JOIN segments s
              WHERE s.team_id = :team AND s.id = ANY(CAST(:segments AS uuid[]))
              ORDER BY m.id, s.id
              ON CONFLICT DO NOTHING
              RETURNING 1
            ), in_topics AS (
              INSERT INTO contact_topics AS ct (contact_id, topic_id, team_id, subscription)
              SELECT m.id, tp.id, :team, wanted.subscription
              FROM m CROSS JOIN unnest(CAST(:topic_ids AS uuid[]), CAST(:topic_subs AS text[])) AS wanted(id, subscription)
              JOIN topics tp ON tp.id = wanted.id AND tp.team_id = :team
              ORDER BY m.id, tp.id
              ON CONFLICT (contact_id, topic_id) DO UPDATE SET subscription = excluded.subscription
              WHERE :resubscribe OR ct.subscription <> 'opt_out' OR excluded.subscription = 'opt_out'
              RETURNING 1
            )
            SELECT (SELECT count(*) FILTER (WHERE inserted) FROM m) AS created,
                   (SELECT count(*) FILTER (WHERE NOT inserted) FROM m) AS updated,
                   (SELECT count(*) FROM in_segments) AS segments,
                   (SELECT count(*) FROM in_topics) AS topics,
                   {kept_unsubscribed} AS kept_unsubscribed,
                   {kept_topic_opt_outs} AS kept_topic_opt_outs
        """
        ci = t.contact_imports
        with self.engine().begin() as conn:
            state = conn.execute(
                sa.select(ci.c.merged_at, ci.c.staged_rows).where(ci.c.id == import_id).with_for_update()
            ).one()
            if state.merged_at is not None:  # merged by an earlier attempt of this import
                return self._counts(conn, import_id)
            if not self._stage_intact(conn, import_id, state.staged_rows):
                raise StageLost(f"the staged rows of import {import_id} are gone")
            # The dedup sort of a million rows fits in memory with this, instead of spilling to disk.
            conn.execute(sa.text("SET LOCAL work_mem = '256MB'"))
            merged = conn.execute(sa.text(sql), params).one()
            fault_point("merge")
            failed = conn.execute(
                sa.select(sa.func.count()).select_from(t.contact_import_failures)
                .where(t.contact_import_failures.c.import_id == import_id)
            ).scalar_one()
            staged = state.staged_rows
            # Every staged row not merged was skipped: an earlier duplicate in the file, or (skip) an existing contact.
            conn.execute(
                sa.update(ci).where(ci.c.id == import_id).values(
                    total=staged + failed, created=merged.created, updated=merged.updated,
                    skipped=staged - merged.created - merged.updated, failed=failed,
                    merge_details={k: merged._mapping[k] for k in ("segments", "topics", "kept_unsubscribed", "kept_topic_opt_outs")},
                    merged_at=sa.func.now(),
                )
            )
            counts = self._counts(conn, import_id)
        fault_point("merged")
        return counts

    @staticmethod
    def _stage_intact(conn, import_id: str, staged_rows: int | None) -> bool:
        if staged_rows is None:
            return False
        if conn.execute(sa.text("SELECT to_regclass(:t)"), {"t": stage_table(import_id)}).scalar() is None:
            return False
        return conn.execute(sa.text(f"SELECT count(*) FROM {stage_table(import_id)}")).scalar_one() == staged_rows

    @staticmethod
    def _counts(conn, import_id: str) -> dict:
        c = t.contact_imports.c
        row = conn.execute(
            sa.select(c.total, c.created, c.updated, c.skipped, c.failed, c.merge_details).where(c.id == import_id)
        ).mappings().one()
        return {**{k: row[k] for k in ("total", "created", "updated", "skipped", "failed")}, **(row["merge_details"] or {})}


def new_import_id() -> str:
    return str(uuid.uuid4())
