"""Resend's webhooks through Resend's own clients against a real `roster serve`, whose daemon
delivers them: the Node SDK registers an endpoint and verifies every event with
`resend.webhooks.verify` (a contact created by an import, one updated, one deleted), plus the
legacy audience paths and 22 topics listed without a cursor. And a daemon killed between an
event's commit and its delivery: after the restart the event arrives, the same message."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.compat.conftest import json_out, node_env

BIN = Path(sys.executable).parent
CSV = b"Email,First Name\r\nann@example.com,Ann\r\nbob@example.com,Bob\r\n"


def test_node_sdk_webhooks(node_tools, roster_server, team_key, tmp_path):
    script = node_tools.modules.parent / "webhooks.mjs"  # beside node_modules, so `import 'resend'` resolves
    shutil.copy(Path(__file__).parent / "node" / "webhooks.mjs", script)
    csv = tmp_path / "people.csv"
    csv.write_bytes(CSV)
    run = subprocess.run(
        [str(node_tools.node), str(script), str(csv)],
        env=node_env(node_tools, roster_server, team_key, tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = json_out(run)
    assert out["rejected"] == []  # every request verified with resend.webhooks.verify
    assert out["got"]["signing_secret"] == out["hook"]["signing_secret"] and out["got"]["status"] == "enabled"
    assert [w["id"] for w in out["listed"]["data"]] == [out["hook"]["id"]]
    assert out["imported"]["status"] == "completed"
    events = [r["event"] for r in out["received"]]
    assert events, f"no event arrived: {out['events']}; " + roster_server["log"].read_text()[-3000:]
    by_type = {}
    for e in events:
        by_type.setdefault(e["type"], []).append(e)
    created = {e["data"]["email"]: e["data"] for e in by_type["contact.created"]}
    assert created["ann@example.com"]["id"] == out["ann_id"] and created["ann@example.com"]["first_name"] == "Ann"
    assert created["bob@example.com"]["id"] == out["bob_id"]
    updated = [e["data"] for e in by_type["contact.updated"] if e["data"].get("last_name") == "Lee"]
    assert [u["id"] for u in updated] == [out["ann_id"]]
    assert [e["data"]["id"] for e in by_type["contact.deleted"] if e["data"]["id"] == out["bob_id"]] == [out["bob_id"]]
    [summary] = by_type["contact_import.completed"]
    assert summary["data"]["id"] == out["imported"]["id"] and summary["data"]["counts"]["created"] == 2
    # One contact's events in commit order: ann created (import), then updated (PATCH).
    ann = [e["type"] for e in events if e["type"].startswith("contact.") and e["data"]["id"] == out["ann_id"]]
    assert ann[:2] == ["contact.created", "contact.updated"]
    assert len({r["id"] for r in out["received"]}) == len(out["received"])  # no message twice here
    assert {e["status"] for e in out["events"]["data"]} <= {"success", "pending", "attempting"}
    # Legacy audience paths, through the Node SDK.
    audience = out["audience"]
    assert audience["oldGot"]["id"] == audience["old"]["id"] and audience["oldGot"]["first_name"] == "Cy"
    assert audience["oldUpdated"]["last_name"] == "Young"
    assert audience["oldRemoved"]["deleted"] is True
    # 22 topics, all of them, with no cursor.
    assert out["topics"] == 22 and out["topics_has_more"] is False
