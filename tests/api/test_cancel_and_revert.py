"""Cancel and undo through the REST API of a real uvicorn, with imports run as real Dagster runs
(issue 20, items 3 and 4)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.api.conftest import REPO, csv_bytes, wait_done

COLUMN_MAP = json.dumps(
    {
        "email": "email",
        "first_name": "first_name",
        "unsubscribed": "unsubscribed",
        "properties": {"plan": {"column": "plan", "type": "string"}},
    }
)
HEADER = ["email", "first_name", "plan", "unsubscribed"]


def _import(http, rows: list[list], **fields) -> dict:
    data = {"column_map": COLUMN_MAP, **{k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}}
    created = http.post("/contacts/imports", data=data, files={"file": ("f.csv", csv_bytes(HEADER, rows), "text/csv")})
    assert created.status_code == 201, created.text
    done = wait_done(http, created.json()["id"], timeout=240)
    assert done["status"] == "completed", done
    return done


def _contact(http, email: str) -> dict | None:
    r = http.get(f"/contacts/{email}")
    return r.json() if r.status_code == 200 else None


def _segment_ids(http, email: str) -> set[str]:
    return {s["id"] for s in http.get(f"/contacts/{email}/segments").json()["data"]}


def _topic(http, email: str, topic_id: str) -> str:
    return next(t["subscription"] for t in http.get(f"/contacts/{email}/topics").json()["data"] if t["id"] == topic_id)


@pytest.mark.parametrize("read_before", ["scan", "lookup"])
def test_revert_puts_back_what_the_import_changed_and_lists_what_changed_since(http, engine, monkeypatch, read_before):
    # The merge reads the values before by a scan of the team's contacts (big imports) or a lookup
    # per contact (small ones): the import's run, a process of its own, takes the one asked here.
    monkeypatch.setenv("ROSTER_UNDO_SCAN_SHARE", {"scan": "0", "lookup": "inf"}[read_before])
    from roster.store.undo import scan_contacts

    with engine.connect() as conn:
        assert scan_contacts(conn, 10**9) is (read_before == "scan") and scan_contacts(conn, 1) is (read_before == "scan")
    seg = http.post("/segments", json={"name": "Imported"}).json()["id"]
    topic = http.post("/topics", json={"name": "News", "default_subscription": "opt_out"}).json()["id"]
    first = _import(http, [["ann@x.io", "Ann", "free", ""], ["bob@x.io", "Bob", "", ""], ["dan@x.io", "Dan", "", ""]])
    http.patch("/contacts/bob@x.io/topics", json=[{"id": topic, "subscription": "opt_out"}]).raise_for_status()

    second = _import(
        http,
        [
            ["ann@x.io", "Anna", "pro", ""],
            ["BOB@x.io", "Bobby", "", ""],
            ["dan@x.io", "Dan2", "", ""],
            ["new@x.io", "New", "x", ""],
        ],
        segments=[{"id": seg}],
        topics=[{"id": topic, "subscription": "opt_in"}],
    )
    assert second["counts"]["created"] == 1 and second["counts"]["updated"] == 3
    assert _contact(http, "ann@x.io")["first_name"] == "Anna" and _segment_ids(http, "ann@x.io") == {seg}
    assert _topic(http, "ann@x.io", topic) == "opt_in"
    # Changed after the import, through the API: the revert must leave Dan as he is now.
    http.patch("/contacts/dan@x.io", json={"first_name": "Daniel"}).raise_for_status()

    too_late = http.post(f"/contacts/imports/{second['id']}/cancel")
    assert too_late.status_code == 409 and too_late.json()["name"] == "too_late" and "revert" in too_late.json()["message"]

    reverted = http.post(f"/contacts/imports/{second['id']}/revert")
    assert reverted.status_code == 200, reverted.text
    body = reverted.json()
    assert body["status"] == "completed" and body["reverted_at"]
    assert body["revert"]["deleted"] == 1 and body["revert"]["restored"] == 2
    assert body["revert"]["left_unchanged"] == 1 and body["revert"]["left_by_reason"] == {"changed_since": 1}

    ann = _contact(http, "ann@x.io")
    assert (ann["first_name"], ann["properties"]["plan"]["value"]) == ("Ann", "free")
    assert _segment_ids(http, "ann@x.io") == set() and _topic(http, "ann@x.io", topic) == "opt_out"  # the default again
    assert _contact(http, "bob@x.io")["first_name"] == "Bob"
    # The import left Bob's own opt-out as it was (consent kept); the revert keeps it too.
    assert _topic(http, "bob@x.io", topic) == "opt_out"
    assert _contact(http, "new@x.io") is None
    dan = _contact(http, "dan@x.io")
    assert dan["first_name"] == "Daniel" and _segment_ids(http, "dan@x.io") == {seg}

    listed = http.get(f"/contacts/imports/{second['id']}/revert/conflicts", headers={"Accept": "application/json"}).json()
    assert [(r["email"], r["reason"]) for r in listed["data"]] == [("dan@x.io", "changed_since")]
    as_csv = http.get(f"/contacts/imports/{second['id']}/revert/conflicts")
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(as_csv.text)))[1][1:3] == ["dan@x.io", "changed_since"]

    # Exactly once: a second revert changes nothing and answers with the first one's result.
    http.patch("/contacts/ann@x.io", json={"first_name": "Annie"}).raise_for_status()
    again = http.post(f"/contacts/imports/{second['id']}/revert")
    assert again.status_code == 200 and again.json()["revert"] == body["revert"]
    assert _contact(http, "ann@x.io")["first_name"] == "Annie"
    # The earlier import: Ann was changed since (by the API), Bob by the revert of the later import.
    first_revert = http.post(f"/contacts/imports/{first['id']}/revert").json()["revert"]
    assert first_revert["left_by_reason"] == {"changed_since": 3} and first_revert["deleted"] == 0


def test_revert_keeps_consent_unless_asked(http):
    topic = http.post("/topics", json={"name": "Offers", "default_subscription": "opt_in"}).json()["id"]
    _import(http, [["keep@x.io", "Kim", "", "false"], ["back@x.io", "Bea", "", "false"]])
    rows = [["keep@x.io", "", "", "true"], ["back@x.io", "", "", "true"], ["fresh@x.io", "Fay", "", "true"]]
    opt_out = [{"id": topic, "subscription": "opt_out"}]
    kept = _import(http, rows[:1] + rows[2:], topics=opt_out)
    asked = _import(http, rows[1:2], topics=opt_out)

    result = http.post(f"/contacts/imports/{kept['id']}/revert").json()["revert"]
    assert result["kept_unsubscribed"] == 2 and result["kept_topic_opt_outs"] == 1 and result["deleted"] == 0
    assert result["left_by_reason"] == {"kept_unsubscribed": 1}
    assert _contact(http, "keep@x.io")["unsubscribed"] is True and _topic(http, "keep@x.io", topic) == "opt_out"
    assert _contact(http, "fresh@x.io")["unsubscribed"] is True  # an opt-out the import brought is not lost

    result = http.post(f"/contacts/imports/{asked['id']}/revert?resubscribe=true").json()["revert"]
    assert result["kept_unsubscribed"] == 0 and result["restored"] == 1 and result["resubscribe"] is True
    assert _contact(http, "back@x.io")["unsubscribed"] is False and _topic(http, "back@x.io", topic) == "opt_in"


def test_revert_refusals(http, engine):
    imp = _import(http, [["old@x.io", "Old", "", ""]])
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE contact_imports SET merged_at = now() - interval '40 days' WHERE id = :i"), {"i": imp["id"]})
    from roster.store.undo import drop_expired

    assert imp["id"] in drop_expired(engine, 30)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM import_undo WHERE import_id = :i"), {"i": imp["id"]}).scalar() == 0
    refused = http.post(f"/contacts/imports/{imp['id']}/revert")
    assert refused.status_code == 409 and refused.json()["name"] == "undo_expired"
    assert "ROSTER_UNDO_RETENTION_DAYS" in refused.json()["message"]
    assert _contact(http, "old@x.io") is not None
    assert http.post("/contacts/imports/00000000-0000-4000-8000-000000000000/revert").status_code == 404
    assert http.get(f"/contacts/imports/{imp['id']}/revert/conflicts").status_code == 409


def _contacts_of_team(engine, import_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT count(*) FROM contacts WHERE team_id = (SELECT team_id FROM contact_imports WHERE id = :i)"),
            {"i": import_id},
        ).scalar()


def test_cancel_a_queued_import(http, engine, monkeypatch):
    monkeypatch.setenv("ROSTER_LAUNCH", "sensor")  # no sensor runs here: it stays queued
    data = {"column_map": COLUMN_MAP}
    created = http.post(
        "/contacts/imports", data=data, files={"file": ("f.csv", csv_bytes(HEADER, [["q@x.io", "Q", "", ""]]), "text/csv")}
    )
    import_id = created.json()["id"]
    assert http.get(f"/contacts/imports/{import_id}").json()["status"] == "queued"

    cancelled = http.post(f"/contacts/imports/{import_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert body["status"] == "failed" and body["cancelled_at"] and "cancelled" in body["error"]
    assert http.post(f"/contacts/imports/{import_id}/cancel").json()["cancelled_at"] == body["cancelled_at"]
    refused = http.post(f"/contacts/imports/{import_id}/revert")
    assert refused.status_code == 409 and refused.json()["name"] == "nothing_to_revert"

    # A run started for it anyway (a sensor that saw it queued) stops without writing anything.
    run = subprocess.run([sys.executable, "-m", "pipelines.launch", import_id], cwd=REPO, capture_output=True, timeout=300)
    assert run.returncode != 0
    after = http.get(f"/contacts/imports/{import_id}").json()
    assert after["status"] == "failed" and after["cancelled_at"] == body["cancelled_at"] and "cancelled" in after["error"]
    assert _contacts_of_team(engine, import_id) == 0


def test_cancel_while_staging_writes_nothing(http, engine, monkeypatch, tmp_path):
    faults = tmp_path / "faults"
    faults.mkdir()
    monkeypatch.setenv("ROSTER_FAULT_DIR", str(faults))  # the inline run's process inherits it
    (faults / "staging.pause").touch()
    rows = [[f"s{i}@x.io", f"S{i}", "gold", ""] for i in range(500)]
    created = http.post(
        "/contacts/imports", data={"column_map": COLUMN_MAP}, files={"file": ("f.csv", csv_bytes(HEADER, rows), "text/csv")}
    )
    import_id = created.json()["id"]
    paused = faults / "staging.paused"
    deadline = time.monotonic() + 240
    while not paused.exists():
        assert time.monotonic() < deadline, "the run never reached staging"
        time.sleep(0.2)
    pid = int(paused.read_text() or 0)
    assert http.get(f"/contacts/imports/{import_id}").json()["progress"]["phase"] == "staging"

    cancelled = http.post(f"/contacts/imports/{import_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "failed"
    paused.unlink()  # the run goes on, finds the import cancelled, and stops
    deadline = time.monotonic() + 240
    while _alive(pid):
        assert time.monotonic() < deadline, "the run did not stop"
        time.sleep(0.2)
    after = http.get(f"/contacts/imports/{import_id}").json()
    assert after["status"] == "failed" and "cancelled" in after["error"] and after["counts"]["created"] == 0
    assert _contacts_of_team(engine, import_id) == 0
    with engine.connect() as conn:
        team = conn.execute(sa.text("SELECT team_id FROM contact_imports WHERE id = :i"), {"i": import_id}).scalar()
        assert conn.execute(sa.text("SELECT count(*) FROM contact_properties WHERE team_id = :t"), {"t": team}).scalar() == 0
        from roster.store.staging import stage_table

        assert conn.execute(sa.text("SELECT to_regclass(:t)"), {"t": stage_table(import_id)}).scalar() is None


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_openapi_documents_cancel_and_revert(http):
    paths = http.get("/openapi.json").json()["paths"]
    for path in ("/contacts/imports/{import_id}/cancel", "/contacts/imports/{import_id}/revert"):
        assert "post" in paths[path]
    assert "get" in paths["/contacts/imports/{import_id}/revert/conflicts"]
    assert os.environ.get("ROSTER_LAUNCH") == "inline"


def test_the_same_file_again_keeps_no_undo_for_unchanged_contacts(http, engine):
    rows = [["same@x.io", "Sam", "basic", ""], ["also@x.io", "Al", "", ""]]
    _import(http, rows)
    again = _import(http, rows)
    assert again["counts"]["updated"] == 2
    with engine.connect() as conn:
        kept = conn.execute(sa.text("SELECT count(*) FROM import_undo WHERE import_id = :i"), {"i": again["id"]}).scalar()
    assert kept == 0  # nothing to put back: updated to the values they had
    http.patch("/contacts/same@x.io", json={"first_name": "Samuel"}).raise_for_status()
    result = http.post(f"/contacts/imports/{again['id']}/revert").json()["revert"]
    assert (result["restored"], result["deleted"], result["left_unchanged"]) == (0, 0, 0)
    assert _contact(http, "same@x.io")["first_name"] == "Samuel"


def test_revert_deletes_the_properties_the_import_created_unless_still_used(http):
    # `plan` exists before the import; `tier` and `region` are created by it.
    http.post("/contact-properties", json={"key": "plan", "type": "string"}).raise_for_status()
    http.post("/contacts", json={"email": "old@x.io", "properties": {"plan": "free"}}).raise_for_status()
    column_map = {
        "email": "email",
        "properties": {"plan": {"column": "plan"}, "tier": {"column": "tier"}, "region": {"column": "region"}},
    }
    rows = [["ann@x.io", "pro", "gold", "eu"], ["bob@x.io", "", "silver", ""]]
    created = http.post(
        "/contacts/imports",
        data={"column_map": json.dumps(column_map)},
        files={"file": ("f.csv", csv_bytes(["email", "plan", "tier", "region"], rows), "text/csv")},
    )
    assert created.status_code == 201, created.text
    imp = wait_done(http, created.json()["id"], timeout=240)
    assert imp["status"] == "completed" and sorted(imp["properties_created"]) == ["region", "tier"], imp
    # After the import, a contact it did not touch is given a value for `region`: the revert must keep it.
    http.patch("/contacts/old@x.io", json={"properties": {"region": "us"}}).raise_for_status()

    reverted = http.post(f"/contacts/imports/{imp['id']}/revert")
    assert reverted.status_code == 200, reverted.text
    result = reverted.json()["revert"]
    assert result["deleted"] == 2
    assert result["properties_deleted"] == ["tier"]
    assert [(p["key"], p["reason"], p["contacts"]) for p in result["properties_kept"]] == [("region", "in_use", 1)]
    assert "value" in result["properties_kept"][0]["why"]

    keys = {p["key"] for p in http.get("/contact-properties").json()["data"]}
    assert keys == {"plan", "region"}
    old = _contact(http, "old@x.io")
    assert old["properties"]["region"]["value"] == "us" and old["properties"]["plan"]["value"] == "free"
    # Reverting again answers the first revert's result, and deletes nothing more.
    assert http.post(f"/contacts/imports/{imp['id']}/revert").json()["revert"] == result
    assert {p["key"] for p in http.get("/contact-properties").json()["data"]} == {"plan", "region"}
