"""Dry run, start, the failure guard and the outcome fields, through the real server: a dry run
counts exactly what the import then does and writes nothing; the guard fails an import with
nothing written; an import that writes no contact creates no property."""

from __future__ import annotations

import json

import httpx

from tests.api.conftest import csv_bytes, wait_done

HEADER = ["Email", "First", "Subscribed", "Plan", "Amount"]
COLUMN_MAP = {
    "email": "Email",
    "first_name": "First",
    "unsubscribed": {"column": "Subscribed", "invert": True},
    "properties": {"plan": {"column": "Plan", "type": "string"}, "amount": {"column": "Amount", "type": "number"}},
}


def _upload(http: httpx.Client, rows: list[list], **fields) -> str:
    data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
    resp = http.post("/contacts/imports", files={"file": ("people.csv", csv_bytes(HEADER, rows), "text/csv")}, data=data)
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def _state(http: httpx.Client) -> dict:
    """Everything an import may write for the team: contacts (with their segments and topics) and properties."""
    contacts = {}
    for c in http.get("/contacts", params={"limit": 100}).json()["data"]:
        full = http.get(f"/contacts/{c['id']}").json()
        segments = sorted(s["id"] for s in http.get(f"/contacts/{c['id']}/segments").json()["data"])
        topics = sorted((t["id"], t["subscription"]) for t in http.get(f"/contacts/{c['id']}/topics").json()["data"])
        contacts[c["email"].lower()] = (full["first_name"], full["unsubscribed"], full.get("properties"), segments, topics)
    props = sorted(p["key"] for p in http.get("/contact-properties", params={"limit": 100}).json()["data"])
    return {"contacts": contacts, "properties": props}


def test_dry_run_counts_what_the_import_does_and_writes_nothing(http):
    segment = http.post("/segments", json={"name": "Newsletter"}).json()["id"]
    topic = http.post("/topics", json={"name": "Launches", "default_subscription": "opt_in"}).json()["id"]
    # Existing contacts: one unsubscribed (the file says subscribed: kept), one opted out of the topic.
    assert http.post("/contacts", json={"email": "ann@example.com", "first_name": "Ann", "unsubscribed": True}).status_code == 201
    assert (
        http.post("/contacts", json={"email": "bob@example.com", "first_name": "Bob", "segments": [{"id": segment}]}).status_code
        == 201
    )
    assert http.patch("/contacts/bob@example.com/topics", json=[{"id": topic, "subscription": "opt_out"}]).status_code == 200
    rows = [
        ["ANN@example.com", "Annie", "yes", "pro", "10"],
        ["bob@example.com", "Robert", "yes", "free", "4"],  # opted out of the topic: kept out
        ["carl@example.com", "Carl", "no", "", "3"],
        ["carl@EXAMPLE.com", "Carlos", "yes", "team", ""],  # the same contact again: the first is skipped
        ["dora@example.com", "Dora", "yes", "", "12.5"],
        ["not-an-email", "X", "yes", "", ""],  # failed
        ["eve@example.com", "Eve", "maybe", "", ""],  # unsubscribed is not a flag: failed
        ["gil@example.com", "Gil", "yes", "", "abc"],  # amount is not a number: failed
    ]
    options = {"column_map": COLUMN_MAP, "segments": [{"id": segment}], "topics": [{"id": topic, "subscription": "opt_in"}]}
    before = _state(http)

    dry_id = _upload(http, rows, dry_run="true", **options)
    dry = wait_done(http, dry_id)
    assert dry["status"] == "completed" and dry["outcome"] == "dry_run" and dry["dry_run"] is True, dry
    assert dry["counts"] == {"total": 8, "created": 2, "updated": 2, "skipped": 1, "failed": 3}, dry
    assert dry["summary"] == "dry run, nothing written: would create 2, update 2, skip 1; 3 of 8 rows would fail"
    assert dry["properties_created"] == ["amount", "plan"]
    assert dry["consent_kept"] == {"unsubscribed": 1, "topic_opt_outs": 1}
    assert dry["started_as"] is None
    reasons = {r["reason"]: r for r in dry["failures_by_reason"]}
    assert set(reasons) == {
        "invalid email",
        "property 'amount' (column 'Amount') must be a number",
        "unsubscribed must be true/false, yes/no or 1/0",
    }
    assert reasons["invalid email"]["count"] == 1 and reasons["invalid email"]["samples"][0]["row_number"] == 6
    assert reasons["invalid email"]["samples"][0]["data"]["Email"] == "not-an-email"
    # the failed rows download as for any import
    assert http.get(f"/contacts/imports/{dry_id}/failures").text.count("\n") == 4
    assert _state(http) == before, "a dry run writes nothing"

    started = http.post(f"/contacts/imports/{dry_id}/start")
    assert started.status_code == 201, started.text
    real_id = started.json()["id"]
    assert real_id != dry_id and started.json()["dry_run_of"] == dry_id
    real = wait_done(http, real_id)
    assert real["status"] == "completed" and real["outcome"] == "completed_with_failures", real.get("error")
    assert real["dry_run"] is False
    assert real["dry_run_of"] == dry_id
    for same in ("counts", "properties_created", "consent_kept", "failures_by_reason"):
        assert real[same] == dry[same], same
    # ann, carl and dora into the segment (bob is in it), and into the topic (bob's opt-out is kept)
    assert real["progress"]["memberships"] == dry["progress"]["memberships"] == 6
    assert real["summary"] == "completed, 3 of 8 rows failed (2 created, 2 updated, 1 skipped)"
    after = _state(http)
    assert after["properties"] == sorted(before["properties"] + ["amount", "plan"])
    assert after["contacts"]["ann@example.com"][:2] == ("Annie", True)  # consent kept
    assert (topic, "opt_out") in after["contacts"]["bob@example.com"][4]
    assert http.get(f"/contacts/imports/{dry_id}").json()["started_as"] == real_id

    again = http.post(f"/contacts/imports/{dry_id}/start")
    assert again.status_code == 409 and real_id in again.json()["message"]
    not_dry = http.post(f"/contacts/imports/{real_id}/start")
    assert not_dry.status_code == 409 and "not a dry run" in not_dry.json()["message"]
    assert http.post("/contacts/imports/6f1c3d1e-0b5f-4a57-9a3e-1c2d3e4f5a6b/start").status_code == 404


def test_failure_guard_fails_the_import_with_nothing_written(http):
    rows = [[f"p{i}@example.com", "P", "yes", "new", "1" if i < 3 else "bad"] for i in range(10)]
    before = _state(http)
    guarded = wait_done(http, _upload(http, rows, column_map=COLUMN_MAP, max_failed_rows="50%"))
    assert guarded["status"] == "failed" and guarded["outcome"] == "guard_tripped", guarded
    assert guarded["counts"] == {"total": 10, "created": 0, "updated": 0, "skipped": 0, "failed": 7}
    assert guarded["summary"] == "failed, nothing was imported: 7 of 10 rows failed, more than max_failed_rows (50%)"
    assert "7 of 10 rows failed" in guarded["error"]
    assert guarded["failures_by_reason"][0]["count"] == 7 and len(guarded["failures_by_reason"][0]["samples"]) == 3
    assert _state(http) == before, "no contact, no property"
    # at the limit: imported
    at_limit = wait_done(http, _upload(http, rows, column_map=COLUMN_MAP, max_failed_rows="7"))
    assert at_limit["outcome"] == "completed_with_failures" and at_limit["counts"]["created"] == 3, at_limit
    bad = http.post(
        "/contacts/imports", files={"file": ("f.csv", b"email\na@example.com\n", "text/csv")}, data={"max_failed_rows": "lots"}
    )
    assert bad.status_code == 422 and "max_failed_rows" in bad.json()["message"]


def test_an_import_whose_every_row_fails_says_so_and_creates_no_property(http):
    """The dashboard story of issue 20: a map that fails every row showed a green Completed and
    created its properties anyway."""
    rows = [[f"q{i}@example.com", "Q", "sometimes", "x", "1"] for i in range(5)]
    before = _state(http)
    done = wait_done(http, _upload(http, rows, column_map=COLUMN_MAP))
    assert done["status"] == "completed" and done["outcome"] == "nothing_imported", done
    assert done["summary"] == "nothing was imported: 5 of 5 rows failed"
    assert done["properties_created"] == []
    assert _state(http) == before


def test_outcomes_of_plain_imports(http):
    done = wait_done(http, _upload(http, [["z@example.com", "Z", "yes", "", ""]]))
    assert done["outcome"] == "completed" and done["summary"] == "completed: 1 created, 0 updated, 0 skipped", done
    assert done["dry_run"] is False and "started_as" not in done and "dry_run_of" not in done
    listed = http.get("/contacts/imports").json()["data"]
    assert listed[0]["outcome"] == "completed" and listed[0]["summary"] == done["summary"]


def test_a_dry_run_whose_file_is_gone_cannot_start(http):
    from roster.landing import landing_store

    dry_id = _upload(http, [["y@example.com", "Y", "yes", "", ""]], dry_run="true")
    assert wait_done(http, dry_id)["outcome"] == "dry_run"
    landing_store().remove(dry_id)  # as the sweep does ROSTER_KEEP_UPLOADS_HOURS after it completed
    r = http.post(f"/contacts/imports/{dry_id}/start")
    assert r.status_code == 410 and r.json()["name"] == "dry_run_expired" and "upload it again" in r.json()["message"]
    assert http.get(f"/contacts/imports/{dry_id}").json()["started_as"] is None


def test_a_dry_run_has_nothing_to_revert(http):
    dry_id = _upload(http, [["w@example.com", "W", "yes", "", ""]], dry_run="true")
    assert wait_done(http, dry_id)["outcome"] == "dry_run"
    r = http.post(f"/contacts/imports/{dry_id}/revert")
    assert r.status_code in (409, 422) and "nothing to revert" in r.json()["message"], r.text
