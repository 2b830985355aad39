"""An import's undo record goes with the import (0067_undo_cascade_trigger: a trigger, not foreign
keys, since a key's check on every row cost a big merge about 10 s), whether the import row is
deleted itself or with its team; other imports' records stay."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from roster.store.teams import ensure as ensure_team

UNDO = ("import_undo", "import_undo_segments", "import_undo_topics")


def _import_with_record(engine, team_id: int) -> str:
    import_id = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO contact_imports (id, team_id, file_path) VALUES (:i, :t, 'x.csv')"),
            {"i": import_id, "t": team_id},
        )
        ids = {"i": import_id, "c": str(uuid.uuid4()), "o": str(uuid.uuid4())}
        conn.execute(
            sa.text(
                "INSERT INTO import_undo (import_id, contact_id, email, created, version_after, exact) "
                "VALUES (:i, :c, 'a@example.com', true, 1, true)"
            ),
            ids,
        )
        conn.execute(sa.text("INSERT INTO import_undo_segments (import_id, contact_id, segment_id) VALUES (:i, :c, :o)"), ids)
        conn.execute(sa.text("INSERT INTO import_undo_topics (import_id, contact_id, topic_id) VALUES (:i, :c, :o)"), ids)
    return import_id


def _rows(engine, import_id: str) -> list[int]:
    with engine.connect() as conn:
        return [
            conn.execute(sa.text(f"SELECT count(*) FROM {t} WHERE import_id = :i"), {"i": import_id}).scalar_one() for t in UNDO
        ]


def test_the_record_goes_with_its_import_and_its_team(engine, team):
    _, team_id = team
    gone, kept = _import_with_record(engine, team_id), _import_with_record(engine, team_id)
    other_team = ensure_team(engine, f"team-{uuid.uuid4().hex[:8]}")
    with_team = _import_with_record(engine, other_team)
    assert _rows(engine, gone) == _rows(engine, kept) == _rows(engine, with_team) == [1, 1, 1]

    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM contact_imports WHERE id = :i"), {"i": gone})
        conn.execute(sa.text("DELETE FROM teams WHERE id = :t"), {"t": other_team})

    assert _rows(engine, gone) == _rows(engine, with_team) == [0, 0, 0]
    assert _rows(engine, kept) == [1, 1, 1]
