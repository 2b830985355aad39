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

from resources.staging import create_stage_sql, drop_sql, merged_table, stage_columns, stage_table
from roster.database import get_engine
from roster.faults import crash_point
from schemas import tables as t
from schemas.rows import PropertyField

# psycopg's COPY format for the failures table; the data column is JSON text.
FAILURE_COLUMNS = ["import_id", "row_number", "email", "reason", "data"]


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
        with self.engine().begin() as conn:
            conn.execute(
                sa.update(t.contact_imports).where(t.contact_imports.c.id == import_id)
                .values(status="completed", error=None, completed_at=sa.func.coalesce(t.contact_imports.c.completed_at, sa.func.now()))
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
        """Mark an import failed when its run died before the import could say so itself."""
        ci = t.contact_imports
        with self.engine().begin() as conn:
            done = conn.execute(
                sa.update(ci).where(ci.c.id == import_id, ci.c.status.in_(["queued", "in_progress"]))
                .values(status="failed", error=message, completed_at=sa.func.now())
            ).rowcount
            if done:
                conn.execute(sa.text(drop_sql(import_id)))
        return bool(done)

    # -- staging ----------------------------------------------------------------------------------
    def reset_failures(self, import_id: str) -> None:
        """Start the rows over: a retried run re-reads the file, so earlier failures go."""
        with self.engine().begin() as conn:
            conn.execute(sa.delete(t.contact_import_failures).where(t.contact_import_failures.c.import_id == import_id))
            conn.execute(sa.update(t.contact_imports).where(t.contact_imports.c.id == import_id).values(rows_read=0))

    @contextlib.contextmanager
    def staging(self, import_id: str, props: list[PropertyField]) -> Iterator[Callable[[pl.DataFrame], None]]:
        """A writer of validated batches into a new staging table, all in one transaction.

        The table is created in the same transaction as its COPYs, so they can use FREEZE: the rows
        are written once, already frozen, instead of being rewritten when first read.
        """
        columns = stage_columns(props)
        copy_sql = f"COPY {stage_table(import_id)} ({', '.join(columns)}) FROM STDIN (FORMAT csv, FREEZE)"
        raw = self.engine().raw_connection()
        try:
            with raw.driver_connection.cursor() as cur:
                cur.execute(create_stage_sql(import_id, props))
                # One COPY for the whole file: psycopg sends each batch from a worker thread while
                # the next batch is read and validated here.
                with cur.copy(copy_sql) as copy:

                    def write(rows: pl.DataFrame) -> None:
                        copy.write(rows.rename({"__row": "row_number"}).select(columns).write_csv(include_header=False, null_value=""))
                        crash_point("staging")

                    yield write
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
    def merge(self, import_id: str, team_id: int, props: list[PropertyField], on_conflict: str, keep_ids: bool) -> dict:
        """One set-based merge of the stage into contacts, and the counts, in one transaction.

        Rows go in email order (byte order: "C" sorts without the locale's cost, and any fixed order
        does), so two imports that touch the same contacts lock them in the same
        order and cannot deadlock. `merged_at` is set in the same transaction: a retry after a
        crash sees the merge either whole or not at all, and never merges twice.
        """
        stage = stage_table(import_id)
        params: dict = {"team": team_id}
        pairs = []
        for i, p in enumerate(props):
            params[f"k{i}"] = p.key
            cast = {"number": "::numeric", "boolean": "::boolean"}.get(p.type, "")
            pairs.append(f"CAST(:k{i} AS text), {p.staged}{cast}")
        properties = f"jsonb_strip_nulls(jsonb_build_object({', '.join(pairs)}))" if pairs else "'{}'::jsonb"
        if on_conflict == "skip":
            conflict = "ON CONFLICT (team_id, lower(email)) DO NOTHING"
        else:
            conflict = (
                "ON CONFLICT (team_id, lower(email)) DO UPDATE SET "
                "first_name = coalesce(excluded.first_name, c.first_name), "
                "last_name = coalesce(excluded.last_name, c.last_name), "
                "unsubscribed = coalesce(excluded.unsubscribed, c.unsubscribed), "
                "properties = c.properties || excluded.properties, updated_at = now()"
            )
        keep = f", kept AS (INSERT INTO {merged_table(import_id)} (id) SELECT id FROM m)" if keep_ids else ""
        sql = f"""
            WITH src AS (
              SELECT DISTINCT ON (email_key COLLATE "C") email, email_key, first_name, last_name, unsubscribed,
                     {properties} AS properties
              FROM {stage} ORDER BY email_key COLLATE "C", row_number DESC
            ), m AS (
              INSERT INTO contacts AS c (team_id, email, first_name, last_name, unsubscribed, properties)
              SELECT :team, email, first_name, last_name, unsubscribed, properties FROM src ORDER BY email_key COLLATE "C"
              {conflict}
              RETURNING id, (xmax = 0) AS inserted
            ){keep}
            SELECT count(*) FILTER (WHERE inserted) AS created, count(*) FILTER (WHERE NOT inserted) AS updated FROM m
        """
        with self.engine().begin() as conn:
            state = conn.execute(
                sa.select(t.contact_imports.c.merged_at).where(t.contact_imports.c.id == import_id).with_for_update()
            ).scalar_one()
            if state is not None:  # merged by an earlier attempt of this import
                return self._counts(conn, import_id)
            if keep_ids:
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {merged_table(import_id)}; "
                                     f"CREATE UNLOGGED TABLE {merged_table(import_id)} (id uuid NOT NULL)"))
            # The dedup sort of a million rows fits in memory with this, instead of spilling to disk.
            conn.execute(sa.text("SET LOCAL work_mem = '256MB'"))
            created, updated = conn.execute(sa.text(sql), params).one()
            crash_point("merge")
            failed = conn.execute(
                sa.select(sa.func.count()).select_from(t.contact_import_failures)
                .where(t.contact_import_failures.c.import_id == import_id)
            ).scalar_one()
            # Every row read was staged or failed (both written by validated_rows before the merge).
            staged = conn.execute(sa.select(t.contact_imports.c.rows_read).where(t.contact_imports.c.id == import_id)).scalar_one() - failed
            # Every staged row not merged was skipped: an earlier duplicate in the file, or (skip) an existing contact.
            skipped = staged - created - updated
            conn.execute(
                sa.update(t.contact_imports).where(t.contact_imports.c.id == import_id).values(
                    total=staged + failed, created=created, updated=updated, skipped=skipped, failed=failed,
                    merged_at=sa.func.now(),
                )
            )
            counts = self._counts(conn, import_id)
        crash_point("merged")
        return counts

    @staticmethod
    def _counts(conn, import_id: str) -> dict:
        c = t.contact_imports.c
        row = conn.execute(
            sa.select(c.total, c.created, c.updated, c.skipped, c.failed).where(c.id == import_id)
        ).mappings().one()
        return dict(row)

    def add_memberships(self, import_id: str, team_id: int, segment_ids: list[str], topics: list[dict]) -> dict:
        """Put the created and updated contacts in the segments and topics asked for. Idempotent."""
        merged = merged_table(import_id)
        added = {"segments": 0, "topics": 0}
        with self.engine().begin() as conn:
            exists = conn.execute(sa.text("SELECT to_regclass(:t)"), {"t": merged}).scalar()
            if exists is None:
                return added
            for segment_id in segment_ids:
                added["segments"] += conn.execute(sa.text(
                    f"INSERT INTO contact_segments (contact_id, segment_id, team_id) "
                    f"SELECT m.id, s.id, :team FROM {merged} m, segments s WHERE s.id = :segment AND s.team_id = :team "
                    f"ORDER BY m.id ON CONFLICT DO NOTHING"
                ), {"team": team_id, "segment": segment_id}).rowcount
            for topic in topics:
                added["topics"] += conn.execute(sa.text(
                    f"INSERT INTO contact_topics (contact_id, topic_id, team_id, subscription) "
                    f"SELECT m.id, tp.id, :team, :sub FROM {merged} m, topics tp WHERE tp.id = :topic AND tp.team_id = :team "
                    f"ORDER BY m.id ON CONFLICT (contact_id, topic_id) DO UPDATE SET subscription = excluded.subscription"
                ), {"team": team_id, "topic": topic["id"], "sub": topic.get("subscription", "opt_in")}).rowcount
            crash_point("memberships")
        return added


def new_import_id() -> str:
    return str(uuid.uuid4())
