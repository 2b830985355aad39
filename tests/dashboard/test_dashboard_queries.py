"""The dashboard's store queries see only the team they are asked for."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from roster.store import dashboard_queries as q
from roster.store.teams import ensure


def test_every_query_is_the_teams_own(engine):
    mine, theirs = (ensure(engine, f"q-{uuid.uuid4().hex[:8]}") for _ in range(2))
    for team, status in ((mine, "completed"), (mine, "failed"), (theirs, "completed")):
        with engine.begin() as conn:  # one transaction each: each its own created_at, in this order
            conn.execute(
                sa.text("INSERT INTO contact_imports (team_id, status, file_path, filename) VALUES (:t, :s, 'x', :f)"),
                {"t": team, "s": status, "f": f"{team}-{status}"},
            )
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO topics (team_id, name) VALUES (:t, 'theirs')"), {"t": theirs})
    q.create_segment(engine, theirs, "their segment")
    segment = q.create_segment(engine, mine, "my segment")

    assert q.status_counts(engine, mine) == {"completed": 1, "failed": 1}
    assert [r["filename"] for r in q.imports_page(engine, mine, None, 0, 10)] == [f"{mine}-failed", f"{mine}-completed"]
    assert [r["filename"] for r in q.imports_page(engine, mine, "completed", 0, 10)] == [f"{mine}-completed"]
    assert q.imports_page(engine, mine, None, 1, 1)[0]["filename"] == f"{mine}-completed"
    assert q.segments(engine, mine) == [{"id": segment, "name": "my segment"}]
    assert q.topics(engine, mine) == []
    assert q.key_owner(engine, "not-a-uuid") is None and q.key_owner(engine, str(uuid.uuid4())) is None
