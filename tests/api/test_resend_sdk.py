"""Resend's official Python SDK, pointed at a Roster server, creates an import that completes."""

from __future__ import annotations

import pytest

from tests.api.conftest import csv_bytes, wait_done


@pytest.fixture
def resend_client(api_url, api_key):
    import resend

    old = resend.api_key, resend.api_url
    resend.api_key, resend.api_url = api_key, api_url
    yield resend
    resend.api_key, resend.api_url = old


def test_resend_sdk_import_completes_with_exact_counts(resend_client, http):
    resend = resend_client
    segment = resend.Segments.create({"name": "Newsletter"})
    assert segment["object"] == "segment"
    rows = [
        ["Ann@Example.com", "Ann", "Lee", "pro", "3"],
        ["bob@example.com", "Bob", "", "free", "x"],  # seats is not a number: failed
        ["not-an-email", "Nobody", "", "free", "1"],  # failed
        ["carl@example.com", "Carl", "Diaz", "", ""],
        ["ann@example.com", "Annie", "Lee", "team", "5"],  # the same email again: the first Ann row is skipped
    ]
    data = csv_bytes(["Email", "First Name", "Last Name", "Plan", "Seats"], rows)
    created = resend.Contacts.Imports.create(
        {
            "file": data,
            "filename": "people.csv",
            "column_map": {
                "email": "Email",
                "first_name": "First Name",
                "last_name": "Last Name",
                "properties": {"plan": {"column": "Plan", "type": "string"}, "seats": {"column": "Seats", "type": "number"}},
            },
            "on_conflict": "upsert",
            "segments": [{"id": segment["id"]}],
        }
    )
    assert created["object"] == "contact_import"
    done = wait_done(http, created["id"])
    assert done["status"] == "completed", done
    assert done["counts"] == {"total": 5, "created": 2, "updated": 0, "skipped": 1, "failed": 2}

    got = resend.Contacts.Imports.get(created["id"])
    assert got["status"] == "completed" and got["counts"]["created"] == 2
    assert got["completed_at"] and got["created_at"].endswith("+00")
    listed = resend.Contacts.Imports.list({"limit": 10})
    assert listed["object"] == "list" and [i["id"] for i in listed["data"]] == [created["id"]]
    assert resend.Contacts.Imports.list({"status": "failed"})["data"] == []

    ann = resend.Contacts.get(email="ann@example.com")
    assert ann["first_name"] == "Annie"
    assert ann["properties"] == {"plan": {"value": "team", "type": "string"}, "seats": {"value": 5, "type": "number"}}
    members = resend.Contacts.list(segment_id=segment["id"])
    assert sorted(c["email"].lower() for c in members["data"]) == ["ann@example.com", "carl@example.com"]
    failures = http.get(f"/contacts/imports/{created['id']}/failures", headers={"Accept": "application/json"}).json()
    assert [f["row_number"] for f in failures["data"]] == [2, 3]
    csv_text = http.get(f"/contacts/imports/{created['id']}/failures").text
    assert csv_text.splitlines()[0] == "Email,First Name,Last Name,Plan,Seats,roster_error"


def test_resend_sdk_resources(resend_client):
    resend = resend_client
    prop = resend.ContactProperties.create({"key": "company", "type": "string", "fallback_value": "n/a"})
    assert prop["object"] == "contact_property"
    assert resend.ContactProperties.get(prop["id"])["fallback_value"] == "n/a"
    resend.ContactProperties.update({"id": prop["id"], "fallback_value": "none"})
    assert resend.ContactProperties.get(prop["id"])["fallback_value"] == "none"

    contact = resend.Contacts.create({"email": "dora@example.com", "first_name": "Dora", "properties": {"company": "Acme"}})
    resend.Contacts.update({"email": "dora@example.com", "last_name": "Explorer"})
    got = resend.Contacts.get(id=contact["id"])
    assert (got["last_name"], got["unsubscribed"]) == ("Explorer", False)
    assert got["properties"] == {"company": {"value": "Acme", "type": "string"}}

    seg = resend.Segments.create({"name": "VIP"})
    resend.Contacts.Segments.add({"contact_id": contact["id"], "segment_id": seg["id"]})
    assert [s["id"] for s in resend.Contacts.Segments.list({"contact_id": contact["id"]})["data"]] == [seg["id"]]
    resend.Contacts.Segments.remove({"email": "dora@example.com", "segment_id": seg["id"]})
    assert resend.Contacts.Segments.list({"contact_id": contact["id"]})["data"] == []

    topic = resend.Topics.create({"name": "Product news", "default_subscription": "opt_in"})
    assert resend.Topics.get(topic["id"])["default_subscription"] == "opt_in"
    resend.Topics.update(topic["id"], {"description": "What is new"})
    assert resend.Topics.get(topic["id"])["description"] == "What is new"
    assert resend.Topics.remove(topic["id"])["deleted"] is True

    assert resend.Contacts.remove(id=contact["id"])["deleted"] is True
    assert resend.Segments.remove(seg["id"])["deleted"] is True
    assert resend.ContactProperties.remove(prop["id"])["deleted"] is True
