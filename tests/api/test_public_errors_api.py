"""The API shows a failed import's `error` as public text only (FAULTS 14, probe 7.05)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from roster.safety.public_errors import GENERIC


def test_the_api_shows_only_public_text(api_url, make_key, engine):
    import httpx

    team = f"err-{uuid.uuid4().hex[:6]}"
    key = make_key(team)
    import_id = str(uuid.uuid4())
    with engine.begin() as conn:
        team_id = conn.execute(sa.text("SELECT id FROM teams WHERE name = :n"), {"n": team}).scalar_one()
        conn.execute(
            sa.text(
                "INSERT INTO contact_imports (id, team_id, status, file_path, error, completed_at) "
                "VALUES (:i, :t, 'failed', 'x', :e, now())"
            ),
            {
                "i": import_id,
                "t": team_id,
                "e": "contacts failed: CardinalityViolation: ON CONFLICT DO UPDATE command cannot affect row a second time",
            },
        )
    got = httpx.get(f"{api_url}/contacts/imports/{import_id}", headers={"Authorization": f"Bearer {key}"}).json()
    assert got["error"] == GENERIC
    listed = httpx.get(f"{api_url}/contacts/imports", headers={"Authorization": f"Bearer {key}"}).json()
    assert listed["data"][0]["error"] == GENERIC
