"""The webhook outbox is written in the change's own transaction: a merge killed before its commit
(real SIGKILL inside the transaction) leaves no event; its retry writes each contact's event
exactly once; an import without a subscribed endpoint writes none."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from roster.store import webhooks
from tests.helpers import get_import, write_csv

BIN = Path(sys.executable).parent


def _events(engine, team_id: int) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [
            (r.type, r.email)
            for r in conn.execute(
                sa.text("SELECT type, data->>'email' AS email FROM webhook_deliveries WHERE team_id = :t ORDER BY seq"),
                {"t": team_id},
            )
        ]


def test_a_rolled_back_merge_has_no_events_and_its_retry_has_each_once(engine, team, tmp_path):
    name, team_id = team
    webhooks.create(engine, team_id, "https://example.com/h", ["contact.created", "contact.updated"], "each_contact")
    webhooks.create(engine, team_id, "https://example.com/s", ["contact_import.completed"], "summary")
    path = write_csv(tmp_path / "p.csv", ["email"], [[f"u{i}@example.com"] for i in range(500)] + [["u1@example.com"]])
    env = {**os.environ, "ROSTER_CRASH_AT": "merge"}  # killed after the merge statement, before its commit
    p = subprocess.run(
        [str(BIN / "roster"), "import", str(path), "--team", name, "--json"], env=env, capture_output=True, text=True, timeout=300
    )
    assert p.returncode == -9, p.stderr[-2000:]
    assert _events(engine, team_id) == []  # the merge rolled back: no contact, no event
    with engine.connect() as conn:
        import_id = str(conn.execute(sa.text("SELECT id FROM contact_imports WHERE team_id = :t"), {"t": team_id}).scalar_one())
    retry = subprocess.run(
        [str(BIN / "roster"), "imports", "run", import_id, "--team", name, "--json"], capture_output=True, text=True, timeout=300
    )
    assert retry.returncode == 0, retry.stderr[-2000:]
    assert json.loads(retry.stdout)["counts"]["created"] == 500
    events = _events(engine, team_id)
    contact_events = [e for e in events if e[0] == "contact.created"]
    assert sorted(contact_events) == sorted(("contact.created", f"u{i}@example.com") for i in range(500))
    assert [e[0] for e in events if e[0] != "contact.created"] == ["contact_import.completed"]
    assert get_import(engine, team_id, import_id)["status"] == "completed"
    # Running the completed import again merges nothing and writes nothing.
    again = subprocess.run(
        [str(BIN / "roster"), "imports", "run", import_id, "--team", name, "--json"], capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(_events(engine, team_id)) == 501


def test_an_import_without_a_subscribed_endpoint_writes_no_event(engine, team, tmp_path):
    name, team_id = team
    # Subscribed to contact events, but a summary endpoint; disabled endpoints get nothing either.
    webhooks.create(engine, team_id, "https://example.com/a", ["contact.created"], "summary")
    off = webhooks.create(engine, team_id, "https://example.com/b", ["contact.created"], "each_contact")
    webhooks.update(engine, team_id, str(off["id"]), {"status": "disabled"})
    path = write_csv(tmp_path / "q.csv", ["email"], [["a@example.com"], ["b@example.com"]])
    p = subprocess.run(
        [str(BIN / "roster"), "import", str(path), "--team", name, "--json"], capture_output=True, text=True, timeout=300
    )
    assert p.returncode == 0, p.stderr[-2000:]
    assert _events(engine, team_id) == []


def test_a_failed_import_sends_one_failed_event_in_a_callers_words(engine, team):
    import uuid

    from roster.store import imports
    from roster.webhooks.delivery import envelope

    _, team_id = team
    hook = webhooks.create(engine, team_id, "https://example.com/f", ["contact_import.failed"], "summary")
    import_id = str(uuid.uuid4())
    imports.create(engine, import_id, team_id, "api", "p.csv", "/nowhere", {}, launched=True)
    imports.start(engine, import_id, "run-1")
    internal = 'psycopg.errors.DiskFull: could not extend file "base/16384/2619"'
    imports.fail(engine, import_id, internal)
    imports.fail(engine, import_id, internal)  # failed again (a late step): no second event
    with engine.connect() as conn:
        rows = (
            conn.execute(sa.select(webhooks.wd).where(webhooks.wd.c.webhook_id == hook["id"]).order_by(webhooks.wd.c.seq))
            .mappings()
            .all()
        )
    assert [r["type"] for r in rows] == ["contact_import.failed"]
    event = envelope(dict(rows[0]))
    assert event["data"]["id"] == import_id and event["data"]["status"] == "failed"
    assert "psycopg" not in event["data"]["error"] and "base/16384" not in event["data"]["error"]
    # Retried and failed again: that ending is an event of its own.
    imports.start(engine, import_id, "run-2")
    imports.fail(engine, import_id, "the file is gone; upload it again")
    with engine.connect() as conn:
        assert (
            conn.execute(sa.text("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = :w"), {"w": hook["id"]}).scalar()
            == 2
        )
