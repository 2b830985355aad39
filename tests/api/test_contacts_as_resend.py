"""Contacts read back as Resend shows them: properties as {"value", "type"}, a contact's topics,
Resend's list sizes when no limit is given (every object, streamed, where Resend lists all), and
emails found by PostgreSQL's lower(), the rule the unique index uses."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
import sqlalchemy as sa

from tests.api.conftest import csv_bytes, wait_done


def _team_id(engine, http) -> int:
    seg = http.post("/segments", json={"name": "probe"}).json()
    with engine.connect() as conn:
        team_id = conn.execute(sa.text("SELECT team_id FROM segments WHERE id = :i"), {"i": seg["id"]}).scalar_one()
    http.delete(f"/segments/{seg['id']}")
    return team_id


def test_properties_in_resends_shape_and_written_back_either_way(http):
    for key, ptype in (("plan", "string"), ("seats", "number"), ("vip", "string")):
        assert http.post("/contact-properties", json={"key": key, "type": ptype}).status_code == 201
    # Resend's types only (its clients know string and number): a yes/no value is "true"/"false".
    assert http.post("/contact-properties", json={"key": "flag", "type": "boolean"}).status_code == 422
    created = http.post(
        "/contacts", json={"email": "ann@example.com", "properties": {"plan": "pro", "seats": 3, "vip": "true"}}
    ).json()
    got = http.get(f"/contacts/{created['id']}").json()
    assert got["properties"] == {
        "plan": {"value": "pro", "type": "string"},
        "seats": {"value": 3, "type": "number"},
        "vip": {"value": "true", "type": "string"},
    }
    # what GET shows can be written back as it is; a bare value works too; null removes
    r = http.patch("/contacts/ann@example.com", json={"properties": {**got["properties"], "seats": 4.5, "vip": None}})
    assert r.status_code == 200, r.text
    again = http.get("/contacts/ann@example.com").json()["properties"]
    assert again == {"plan": {"value": "pro", "type": "string"}, "seats": {"value": 4.5, "type": "number"}}
    listed = http.get("/contacts").json()["data"]
    assert [c["properties"] for c in listed] == [again]
    bad = http.patch("/contacts/ann@example.com", json={"properties": {"seats": {"value": "many", "type": "string"}}})
    assert bad.status_code == 422 and "must be a number" in bad.json()["message"]


def test_an_imports_topics_read_and_changed_through_the_contact(http):
    news = http.post("/topics", json={"name": "News", "default_subscription": "opt_in", "description": "d"}).json()
    promos = http.post("/topics", json={"name": "Promos", "default_subscription": "opt_out"}).json()
    data = csv_bytes(["email", "first_name"], [["ann@example.com", "Ann"]])
    created = http.post(
        "/contacts/imports",
        files={"file": ("c.csv", data, "text/csv")},
        data={"topics": json.dumps([{"id": news["id"], "subscription": "opt_out"}])},
    ).json()
    assert wait_done(http, created["id"])["status"] == "completed"

    def subscriptions(who="ann@example.com") -> dict:
        body = http.get(f"/contacts/{who}/topics").json()
        assert body["object"] == "list" and body["has_more"] is False
        for t in body["data"]:
            # description: absent when the topic has none (optional in Resend's SDK types, not null)
            assert set(t) - {"description"} == {"id", "name", "subscription"}
        return {t["name"]: t["subscription"] for t in body["data"]}

    # every topic, with the import's choice where it made one, else the topic's default
    assert subscriptions() == {"News": "opt_out", "Promos": "opt_out"}
    r = http.patch(
        "/contacts/ann@example.com/topics",
        json=[{"id": news["id"], "subscription": "opt_in"}, {"id": promos["id"], "subscription": "opt_in"}],
    )
    assert r.status_code == 200 and r.json() == {"id": http.get("/contacts/ann@example.com").json()["id"]}, r.text
    assert subscriptions() == {"News": "opt_in", "Promos": "opt_in"}
    # the SDKs send a bare array; the wrapped form is accepted too; only the named topics change
    assert (
        http.patch(
            "/contacts/ANN@example.com/topics", json={"topics": [{"id": promos["id"], "subscription": "opt_out"}]}
        ).status_code
        == 200
    )
    assert subscriptions() == {"News": "opt_in", "Promos": "opt_out"}
    page = http.get("/contacts/ann@example.com/topics", params={"limit": 1}).json()
    assert page["has_more"] is True and [t["name"] for t in page["data"]] == ["Promos"]  # newest first

    for body, status, name in (
        ([{"id": str(uuid.uuid4()), "subscription": "opt_in"}], 422, "validation_error"),
        ([{"id": "nope", "subscription": "opt_in"}], 422, "invalid_parameter"),
        ([{"id": news["id"], "subscription": "maybe"}], 422, "validation_error"),
        ([], 422, "missing_required_field"),
    ):
        r = http.patch("/contacts/ann@example.com/topics", json=body)
        assert (r.status_code, r.json()["name"]) == (status, name), r.text
    assert http.get("/contacts/nobody@example.com/topics").status_code == 404
    assert (
        http.patch("/contacts/nobody@example.com/topics", json=[{"id": news["id"], "subscription": "opt_in"}]).status_code == 404
    )


def test_another_teams_topic_cannot_be_set(http, api_url, make_key):
    other = httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {make_key()}"})
    theirs = other.post("/topics", json={"name": "Theirs", "default_subscription": "opt_in"}).json()
    http.post("/contacts", json={"email": "bo@example.com"})
    r = http.patch("/contacts/bo@example.com/topics", json=[{"id": theirs["id"], "subscription": "opt_out"}])
    assert r.status_code == 422 and "does not exist" in r.json()["message"]
    assert http.get("/contacts/bo@example.com/topics").json()["data"] == []
    assert other.get("/contacts/bo@example.com/topics").status_code == 404


def test_list_sizes_when_no_limit_is_given(http, engine):
    segments = [http.post("/segments", json={"name": f"s{i}"}).json()["id"] for i in range(12)]
    body = http.get("/segments").json()
    assert body["has_more"] is False and [s["id"] for s in body["data"]] == segments[::-1]  # every one, newest first
    assert len(http.get("/segments", params={"limit": 10}).json()["data"]) == 10
    tail = http.get("/segments", params={"after": segments[5]}).json()  # no limit: everything after the cursor
    assert [s["id"] for s in tail["data"]] == segments[:5][::-1] and tail["has_more"] is False
    for i in range(22):
        http.post("/topics", json={"name": f"t{i}", "default_subscription": "opt_in"})
        http.post("/contact-properties", json={"key": f"k{i}", "type": "string"})
    page = http.get("/contact-properties").json()
    assert len(page["data"]) == 20 and page["has_more"] is True
    # Topics: every one (Resend's Node SDK, CLI and MCP server list them with no cursor at all).
    page = http.get("/topics").json()
    assert len(page["data"]) == 22 and page["has_more"] is False
    contact = http.post("/contacts", json={"email": "many@example.com"}).json()
    for sid in segments:
        http.post(f"/contacts/{contact['id']}/segments/{sid}")
    assert len(http.get(f"/contacts/{contact['id']}/segments").json()["data"]) == 12
    assert len(http.get(f"/contacts/{contact['id']}/topics").json()["data"]) == 22
    with engine.begin() as conn:  # finished imports, without running eleven
        conn.execute(
            sa.text(
                "INSERT INTO contact_imports (team_id, status, file_path, completed_at) "
                "SELECT :t, 'completed', 'x', now() FROM generate_series(1, 11)"
            ),
            {"t": _team_id(engine, http)},
        )
    page = http.get("/contacts/imports").json()
    assert len(page["data"]) == 10 and page["has_more"] is True


def test_every_contact_is_streamed_in_order(http, engine):
    """More contacts than one batch of the stream: all of them, newest first, without a duplicate."""
    from roster.api.http.pagination import STREAM_BATCH_ROWS

    team_id = _team_id(engine, http)
    n = STREAM_BATCH_ROWS * 2 + 37
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO contacts (team_id, email, properties, created_at) "
                "SELECT :t, 'user' || i || '@example.com', jsonb_build_object('n', i), now() - i * interval '1 second' "
                "FROM generate_series(1, :n) i"
            ),
            {"t": team_id, "n": n},
        )
    with http.stream("GET", "/contacts") as r:
        assert r.status_code == 200 and "content-length" not in r.headers  # streamed, not built in memory
        body = json.loads(r.read())
    emails = [c["email"] for c in body["data"]]
    assert body["has_more"] is False and len(emails) == n == len(set(emails))
    assert emails[:2] == ["user1@example.com", "user2@example.com"] and emails[-1] == f"user{n}@example.com"
    assert body["data"][0]["properties"] == {"n": {"value": 1, "type": "number"}}
    page = http.get("/contacts", params={"limit": 100}).json()
    assert len(page["data"]) == 100 and page["has_more"] is True


@pytest.mark.parametrize(
    "stored, asked",
    [
        ("ΑΣ@look.example", "ΑΣ@look.example"),  # Python's lower() makes a final sigma of this one
        ("Straße@Look.example", "STRASSE@look.example"),  # not one contact for PostgreSQL: a 404, as the index says
        ("İsmail@look.example", "İSMAIL@LOOK.EXAMPLE"),
    ],
)
def test_email_identity_is_postgresqls_lower(http, engine, stored, asked):
    created = http.post("/contacts", json={"email": stored})
    assert created.status_code == 201, created.text
    with engine.connect() as conn:
        same = conn.execute(sa.text("SELECT lower(:a) = lower(:b)"), {"a": stored, "b": asked}).scalar()
    got = http.get(f"/contacts/{asked}")
    assert got.status_code == (200 if same else 404), got.text
    if same:
        assert got.json()["id"] == created.json()["id"]
        assert http.patch(f"/contacts/{asked}", json={"first_name": "X"}).status_code == 200
        again = http.post("/contacts", json={"email": asked})
        assert again.status_code == 422 and "already exists" in again.json()["message"]
    # whatever the spelling, the stored one always finds it
    assert http.get(f"/contacts/{stored}").json()["id"] == created.json()["id"]


@pytest.mark.parametrize("email", ["a@b.co", "x" * 320 + "@b.co", "a@b", "a b@c.de", "a@b@c.de", "a@.b.co", "ΑΣ@look.example"])
def test_post_contacts_takes_the_emails_an_import_takes(http, email):
    from schemas.rules import email_problem

    r = http.post("/contacts", json={"email": email})
    assert (r.status_code == 201) == (email_problem(email) is None), r.text
    if r.status_code != 201:
        assert r.status_code == 422 and "email" in r.json()["message"]
