"""The dashboard's Webhooks page, over plain HTTP against the real server process: the team's own
endpoints, why one was disabled, and each event's delivery status."""

from __future__ import annotations

import httpx
import sqlalchemy as sa

from tests.dashboard.conftest import http_sign_in


def test_the_webhooks_page_shows_endpoints_and_deliveries(server, make_team_key, engine):
    from roster.store import contacts, webhooks

    _, team_id, key = make_team_key()
    _, other_team, _ = make_team_key()
    hook = webhooks.create(engine, team_id, "https://example.com/ours", ["contact.created"], "summary")
    webhooks.create(engine, other_team, "https://example.com/theirs", ["contact.created"], "summary")
    contacts.create(engine, team_id, "w@example.com", None, None, False, {}, [], [])
    with engine.begin() as conn:  # one delivery given up on, its endpoint disabled (as the daemon does)
        conn.execute(
            sa.text("UPDATE webhook_deliveries SET status = 'failed', attempts = 7, response_status = 500 WHERE webhook_id = :w"),
            {"w": hook["id"]},
        )
    webhooks.update(engine, team_id, str(hook["id"]), {"status": "disabled"})
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE webhooks SET disabled_reason = 'failing for a day' WHERE id = :w"), {"w": hook["id"]})
    client = httpx.Client(base_url=server, timeout=30)
    assert http_sign_in(client, key).status_code == 303
    html = client.get("/dashboard/webhooks").text
    assert "https://example.com/ours" in html and "https://example.com/theirs" not in html
    assert "failing for a day" in html and "disabled" in html
    assert "contact.created" in html and ">failed<" in html and "500" in html
