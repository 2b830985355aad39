"""Resend's Webhooks API against a real server, and its events received by a real HTTP endpoint:
created by Resend's Python SDK, signed so that the `svix` library and Resend's own
`Webhooks.verify` accept them, retried with backoff, in order per contact, shown per delivery.

The daemon's delivery function (roster.webhook_delivery.deliver_due, what the sensor runs) is
called here directly; tests/compat runs it inside `roster serve`."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from tests.api.conftest import csv_bytes, wait_done
from tests.helpers import WAIT_SECONDS, wait_for


class Receiver:
    """An HTTP endpoint on 127.0.0.1 that records every request and answers the statuses it is
    told to (then 200)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.answers: list[int] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver.lock:
                    status = receiver.answers.pop(0) if receiver.answers else 200
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body.decode(), "status": status}
                    )
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def received(self) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["status"] == 200]


@pytest.fixture
def receiver(monkeypatch):
    monkeypatch.setenv("ROSTER_WEBHOOKS_ALLOW_PRIVATE_URLS", "1")
    r = Receiver()
    yield r
    r.server.shutdown()


def deliver_until(engine, done, timeout: float = 240):
    from roster.webhooks.delivery import deliver_due

    deadline = time.monotonic() + timeout
    while not done():
        deliver_due(engine, budget_seconds=5)
        if time.monotonic() > deadline:
            with engine.connect() as conn:
                rows = conn.execute(sa.text("SELECT type, status, attempts, error, data FROM webhook_deliveries")).all()
            raise AssertionError(f"the events were not delivered in time: {rows}")
        time.sleep(0.2)


def verified(request: dict, secret: str) -> dict:
    """The event, as the svix library and Resend's SDK verify it (each raises when it does not)."""
    import resend
    from svix.webhooks import Webhook

    h = {k.lower(): v for k, v in request["headers"].items()}
    Webhook(secret).verify(request["body"], h)  # raises WebhookVerificationError when it does not verify
    by_resend = resend.Webhooks.verify(
        {
            "payload": request["body"],
            "headers": {"id": h["svix-id"], "timestamp": h["svix-timestamp"], "signature": h["svix-signature"]},
            "webhook_secret": secret,
        }
    )
    assert by_resend == json.loads(request["body"])
    return by_resend


@pytest.fixture
def resend_sdk(api_url, api_key):
    import resend

    resend.api_key = api_key
    resend.api_url = api_url
    return resend


def test_webhooks_crud_with_resends_sdk(resend_sdk, receiver, http):
    resend = resend_sdk
    created = resend.Webhooks.create({"endpoint": receiver.url, "events": ["contact.created", "contact.deleted"]})
    assert created["object"] == "webhook" and created["signing_secret"].startswith("whsec_")
    got = resend.Webhooks.get(created["id"])
    assert got["endpoint"] == receiver.url and got["status"] == "enabled"
    assert got["events"] == ["contact.created", "contact.deleted"] and got["signing_secret"] == created["signing_secret"]
    assert [w["id"] for w in resend.Webhooks.list()["data"]] == [created["id"]]
    updated = resend.Webhooks.update({"webhook_id": created["id"], "events": ["contact.updated"], "status": "disabled"})
    assert updated["id"] == created["id"]
    got = resend.Webhooks.get(created["id"])
    assert got["events"] == ["contact.updated"] and got["status"] == "disabled"
    rotated = http.post(f"/webhooks/{created['id']}/signing-secret/rotate").json()
    assert rotated["signing_secret"] != created["signing_secret"]
    removed = resend.Webhooks.remove(created["id"])
    assert removed == {"object": "webhook", "id": created["id"], "deleted": True} or removed["deleted"] is True
    assert http.get(f"/webhooks/{created['id']}").status_code == 404


def test_endpoints_are_checked_like_outside_fetches(http, monkeypatch):
    monkeypatch.delenv("ROSTER_WEBHOOKS_ALLOW_PRIVATE_URLS", raising=False)
    for url in (
        "http://127.0.0.1:9/hook",
        "http://10.0.0.1/x",
        "http://169.254.169.254/latest",
        "ftp://example.com/x",
        "http://a..b/x",
    ):
        r = http.post("/webhooks", json={"endpoint": url, "events": ["contact.created"]})
        assert r.status_code == 422, (url, r.text)
    r = http.post("/webhooks", json={"endpoint": "https://example.com/hook", "events": ["email.sent"]})
    assert r.status_code == 422 and "email.sent" in r.json()["message"]


def test_api_writes_send_signed_events_in_order(http, receiver, engine):
    hook = http.post(
        "/webhooks", json={"endpoint": receiver.url, "events": ["contact.created", "contact.updated", "contact.deleted"]}
    ).json()
    seg = http.post("/segments", json={"name": "VIP"}).json()["id"]
    cid = http.post("/contacts", json={"email": "Ann@Example.com", "first_name": "Ann", "segments": [{"id": seg}]}).json()["id"]
    assert http.patch(f"/contacts/{cid}", json={"last_name": "Lee", "unsubscribed": True}).status_code == 200
    assert http.delete(f"/contacts/{cid}").status_code == 200
    # A refused write (an email that exists) is no event.
    http.post("/contacts", json={"email": "bob@example.com"})
    assert http.post("/contacts", json={"email": "BOB@example.com"}).status_code == 422
    deliver_until(engine, lambda: len(receiver.received()) == 4)
    events = [verified(r, hook["signing_secret"]) for r in receiver.received()]
    # One contact's events arrive in the order they committed (other contacts' may come between).
    anns = [e for e in events if e["data"]["id"] == cid]
    assert [e["type"] for e in anns] == ["contact.created", "contact.updated", "contact.deleted"]
    assert [e["data"]["email"] for e in events if e["data"]["id"] != cid] == ["bob@example.com"]
    first, second, third = anns
    assert first["data"]["id"] == cid and first["data"]["email"] == "Ann@Example.com"
    assert first["data"]["segment_ids"] == [seg] and first["data"]["unsubscribed"] is False
    assert "last_name" not in first["data"]  # optional in Resend's types: absent, not null
    assert second["data"]["last_name"] == "Lee" and second["data"]["unsubscribed"] is True
    assert third["data"]["id"] == cid
    assert set(first) == {"type", "created_at", "data"} and first["created_at"].endswith("Z")
    # Each delivery's status, in Resend's shape.
    listed = http.get(f"/webhooks/{hook['id']}/events").json()
    assert {e["status"] for e in listed["data"]} == {"success"} and len(listed["data"]) == 4
    one = http.get(f"/webhooks/{hook['id']}/events/{listed['data'][0]['id']}").json()
    assert one["status"] == "success" and one["payload"]["type"] in {e["type"] for e in events}
    attempts = http.get(f"/webhooks/{hook['id']}/events/{one['id']}/attempts").json()["data"]
    assert [a["http_status_code"] for a in attempts] == [200]


def test_a_failing_endpoint_is_retried_with_backoff(http, receiver, engine):
    hook = http.post("/webhooks", json={"endpoint": receiver.url, "events": ["contact.created", "contact.updated"]}).json()
    receiver.answers = [500, 503]
    cid = http.post("/contacts", json={"email": "retry@example.com"}).json()["id"]
    http.patch(f"/contacts/{cid}", json={"first_name": "R"})
    deliver_until(engine, lambda: len(receiver.received()) == 2)
    # The second event waited for the first (same contact): order kept through the retries.
    assert [verified(r, hook["signing_secret"])["type"] for r in receiver.received()] == ["contact.created", "contact.updated"]
    ids = [r["headers"]["svix-id"] for r in receiver.requests]
    assert ids[0] == ids[1] == ids[2] != ids[3]  # a retry is the same message
    first = http.get(f"/webhooks/{hook['id']}/events").json()["data"]
    created = next(e for e in first if e["type"] == "contact.created")
    attempts = http.get(f"/webhooks/{hook['id']}/events/{created['id']}/attempts").json()["data"]
    assert sorted(a["http_status_code"] for a in attempts) == [200, 500, 503]


def test_an_endpoint_failing_past_the_retry_window_is_disabled(http, receiver, engine, monkeypatch):
    monkeypatch.setenv("ROSTER_WEBHOOKS_RETRY_HOURS", "0.0001")  # 0.36 s
    hook = http.post("/webhooks", json={"endpoint": receiver.url, "events": ["contact.created"]}).json()
    receiver.answers = [500] * 100
    http.post("/contacts", json={"email": "gone@example.com"})
    time.sleep(0.5)  # the retry window (0.36 s) must pass before the first attempt, as a day would
    deliver_until(engine, lambda: http.get(f"/webhooks/{hook['id']}").json()["status"] == "disabled")
    got = http.get(f"/webhooks/{hook['id']}").json()
    assert "HTTP 500" in got["disabled_reason"]
    assert [e["status"] for e in http.get(f"/webhooks/{hook['id']}/events").json()["data"]] == ["failed"]


def test_imports_send_a_summary_or_each_contact(http, receiver, engine):
    summary = http.post(
        "/webhooks", json={"endpoint": receiver.url, "events": ["contact.created", "contact_import.completed"]}
    ).json()
    each = http.post(
        "/webhooks",
        json={
            "endpoint": receiver.url + "?each",
            "events": ["contact.created", "contact.updated"],
            "import_events": "each_contact",
        },
    ).json()
    assert http.get(f"/webhooks/{summary['id']}").json()["import_events"] == "summary"
    http.post("/contacts", json={"email": "old@example.com", "first_name": "Old"})
    body = csv_bytes(["email", "first_name"], [["old@example.com", "Older"], ["new@example.com", "New"], ["bad", "x"]])
    imp = http.post("/contacts/imports", files={"file": ("p.csv", body, "text/csv")}).json()
    assert wait_done(http, imp["id"])["status"] == "completed"

    deliver_until(engine, lambda: len(receiver.received()) == 5)
    got = receiver.received()
    each_events = [verified(r, each["signing_secret"]) for r in got if r["path"].endswith("?each")]
    summary_events = [verified(r, summary["signing_secret"]) for r in got if not r["path"].endswith("?each")]
    # The API write's contact.created, then the import's one event per contact it created or updated.
    assert sorted((e["type"], e["data"]["email"]) for e in each_events) == [
        ("contact.created", "new@example.com"),
        ("contact.created", "old@example.com"),
        ("contact.updated", "old@example.com"),
    ]
    updated = next(e for e in each_events if e["type"] == "contact.updated")
    assert updated["data"]["first_name"] == "Older"
    # The summary endpoint: its contact.created for the API write, and the import's one event.
    # (different contacts, or none: no order between them)
    assert sorted(e["type"] for e in summary_events) == ["contact.created", "contact_import.completed"]
    done = next(e for e in summary_events if e["type"] == "contact_import.completed")["data"]
    assert done["id"] == imp["id"] and done["status"] == "completed"
    assert done["counts"] == {"total": 3, "created": 1, "updated": 1, "skipped": 0, "failed": 1}


def test_no_event_without_a_subscribed_endpoint(http, engine):
    before = _deliveries(engine)
    created = http.post(
        "/webhooks", json={"endpoint": "https://example.com/h", "events": ["contact.deleted"], "import_events": "each_contact"}
    )
    assert created.status_code == 201, created.text  # a name that does not resolve yet is taken
    cid = http.post("/contacts", json={"email": "quiet@example.com"}).json()["id"]
    http.patch(f"/contacts/{cid}", json={"first_name": "Q"})
    imp = http.post("/contacts/imports", files={"file": ("p.csv", b"email\nq2@example.com\n", "text/csv")}).json()
    wait_done(http, imp["id"])
    assert _deliveries(engine) == before


def _deliveries(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM webhook_deliveries")).scalar()


def test_a_revert_sends_each_contact_put_back_or_deleted(http, engine):
    hook = http.post(
        "/webhooks",
        json={
            "endpoint": "https://example.com/r",
            "events": ["contact.updated", "contact.deleted"],
            "import_events": "each_contact",
        },
    ).json()
    http.post("/contacts", json={"email": "old@example.com", "first_name": "Old"})
    body = csv_bytes(["email", "first_name"], [["old@example.com", "Changed"], ["new@example.com", "New"]])
    imp = http.post("/contacts/imports", files={"file": ("r.csv", body, "text/csv")}).json()
    assert wait_done(http, imp["id"])["status"] == "completed"
    r = http.post(f"/contacts/imports/{imp['id']}/revert")
    assert r.status_code == 200, r.text
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT type, data FROM webhook_deliveries WHERE webhook_id = :w ORDER BY seq"), {"w": hook["id"]}
        ).all()
    # The import's own contact.updated ("Changed"), then the revert's: old put back ("Old"), new deleted.
    assert rows[0][0] == "contact.updated" and rows[0][1]["first_name"] == "Changed"
    assert sorted((t, d["email"], d.get("first_name")) for t, d in rows[1:]) == [
        ("contact.deleted", "new@example.com", "New"),
        ("contact.updated", "old@example.com", "Old"),
    ]


@pytest.fixture
def sender(engine):
    """The daemon's webhook sender, alone in this process: no sensor and no deliver_until here, so
    whatever arrives was sent because PostgreSQL told the sender, or because a retry fell due."""
    from roster.webhooks.sender import WebhookSender

    s = WebhookSender(engine.url.render_as_string(hide_password=False)).start()
    assert s.listening.wait(WAIT_SECONDS)
    yield s
    s.stop()


def test_the_sender_delivers_an_event_when_told(http, receiver, engine, sender):
    hook = http.post("/webhooks", json={"endpoint": receiver.url, "events": ["contact.created"]}).json()
    http.post("/contacts", json={"email": "told@example.com"})
    got = wait_for(receiver.received, "the event to be delivered by the notified sender")
    assert verified(got[0], hook["signing_secret"])["data"]["email"] == "told@example.com"


def test_the_sender_retries_when_the_retry_is_due_and_sends_a_replay(http, receiver, engine, sender):
    hook = http.post("/webhooks", json={"endpoint": receiver.url, "events": ["contact.created"]}).json()
    receiver.answers = [500]
    http.post("/contacts", json={"email": "later@example.com"})
    # The second attempt, 5 s after the first, is nobody's notification: the sender slept until it was due.
    wait_for(receiver.received, "the retry to be delivered")
    assert [r["status"] for r in receiver.requests] == [500, 200]
    event = http.get(f"/webhooks/{hook['id']}/events").json()["data"][0]
    assert http.post(f"/webhooks/{hook['id']}/events/{event['id']}/replay").status_code in (200, 202)
    wait_for(lambda: len(receiver.received()) == 2, "the replayed event to be delivered")
