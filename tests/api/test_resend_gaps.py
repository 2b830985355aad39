"""The last gaps a Resend client met (issue 22), through Resend's Python SDK where it has the call:
the legacy audience paths, topics (visibility, every topic without a cursor, no null description),
and removing a contact from a segment it is not in."""

from __future__ import annotations

import pytest


@pytest.fixture
def resend_sdk(api_url, api_key):
    import resend

    resend.api_key = api_key
    resend.api_url = api_url
    return resend


def test_legacy_audience_paths_are_segments(resend_sdk, http):
    resend = resend_sdk
    audience = http.post("/segments", json={"name": "Newsletter"}).json()["id"]
    created = resend.Contacts.create({"audience_id": audience, "email": "ann@example.com", "first_name": "Ann"})
    cid = created["id"]
    # The contact is a contact like any other, in the segment the audience is.
    assert http.get(f"/contacts/{cid}").json()["first_name"] == "Ann"
    assert [c["id"] for c in http.get(f"/segments/{audience}/contacts").json()["data"]] == [cid]
    assert resend.Contacts.get(audience_id=audience, email="ann@example.com")["id"] == cid
    assert [c["email"] for c in resend.Contacts.list(audience_id=audience)["data"]] == ["ann@example.com"]
    resend.Contacts.update({"audience_id": audience, "id": cid, "last_name": "Lee"})
    assert http.get(f"/contacts/{cid}").json()["last_name"] == "Lee"
    # An existing contact created again in another audience joins it.
    other = http.post("/segments", json={"name": "Other"}).json()["id"]
    assert resend.Contacts.create({"audience_id": other, "email": "ANN@example.com"})["id"] == cid
    # Not in the audience, or no such audience: 404.
    outsider = http.post("/contacts", json={"email": "bob@example.com"}).json()["id"]
    assert http.get(f"/audiences/{audience}/contacts/{outsider}").status_code == 404
    missing = http.get("/audiences/00000000-0000-4000-8000-000000000000/contacts")
    assert missing.status_code == 404 and missing.json()["name"] == "not_found"
    removed = resend.Contacts.remove(audience_id=audience, id=cid)
    assert removed["deleted"] is True and removed["contact"] == cid
    assert http.get(f"/contacts/{cid}").status_code == 404


def test_topics_as_resends_clients_declare_them(resend_sdk, http):
    resend = resend_sdk
    ids = [http.post("/topics", json={"name": f"T{i}", "default_subscription": "opt_in"}).json()["id"] for i in range(21)]
    public = http.post(
        "/topics", json={"name": "News", "default_subscription": "opt_out", "description": "d", "visibility": "public"}
    ).json()["id"]
    # No cursor, no limit: every topic (Resend's Node SDK, CLI and MCP server cannot ask for more).
    listed = resend.Topics.list()
    assert len(listed["data"]) == 22 and listed["has_more"] is False
    assert {t["id"] for t in listed["data"]} == set(ids) | {public}
    # A page still pages.
    page = http.get("/topics", params={"limit": 20}).json()
    assert len(page["data"]) == 20 and page["has_more"] is True
    # visibility kept and returned (private by default); description absent when there is none.
    got = resend.Topics.get(public)
    assert got["visibility"] == "public" and got["description"] == "d"
    plain = http.get(f"/topics/{ids[0]}").json()
    assert plain["visibility"] == "private" and "description" not in plain
    assert all("description" not in t for t in page["data"] if t["id"] != public)
    http.patch(f"/topics/{ids[0]}", json={"visibility": "public"})
    assert http.get(f"/topics/{ids[0]}").json()["visibility"] == "public"
    assert http.post("/topics", json={"name": "X", "default_subscription": "opt_in", "visibility": "secret"}).status_code == 422
    cid = http.post("/contacts", json={"email": "t@example.com"}).json()["id"]
    mine = http.get(f"/contacts/{cid}/topics", params={"limit": 100}).json()["data"]
    assert all("description" not in t for t in mine if t["id"] != public)
    assert next(t for t in mine if t["id"] == public)["description"] == "d"


def test_removing_a_non_member_from_a_segment_is_not_found(http):
    seg = http.post("/segments", json={"name": "S"}).json()["id"]
    cid = http.post("/contacts", json={"email": "s@example.com"}).json()["id"]
    r = http.delete(f"/contacts/{cid}/segments/{seg}")
    assert r.status_code == 404 and r.json()["name"] == "not_found"
    http.post(f"/contacts/{cid}/segments/{seg}")
    assert http.delete(f"/contacts/{cid}/segments/{seg}").json() == {"id": seg, "deleted": True}
