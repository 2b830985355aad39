"""Boolean contact properties (Roster's before issue 22, unknown to Resend's clients) become
string properties whose values are "true" and "false": the migration converts what exists, and a
yes/no column imported from now on is stored the same way."""

from __future__ import annotations

import uuid

import psycopg
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from schemas.migrate import MIGRATIONS


def _migrate(engine, revision: str) -> None:
    with engine.begin() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def _before(revision: str) -> str:
    """The revision this one follows (whatever the chain it was merged into)."""
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_revision(revision).down_revision


def test_the_migration_turns_boolean_properties_into_strings(database):
    admin = make_url(database).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    name = f"roster_migr_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    engine = sa.create_engine(make_url(database).set(database=name))
    try:
        _migrate(engine, _before("0062_webhooks"))
        with engine.begin() as conn:
            team = conn.execute(sa.text("INSERT INTO teams (name) VALUES ('t') RETURNING id")).scalar()
            conn.execute(
                sa.text(
                    "INSERT INTO contact_properties (team_id, key, type, fallback_value) VALUES "
                    "(:t, 'vip', 'boolean', 'false'), (:t, 'plan', 'string', '\"free\"'), (:t, 'n', 'number', NULL)"
                ),
                {"t": team},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO contacts (team_id, email, properties) VALUES "
                    '(:t, \'a@example.com\', \'{"vip": true, "plan": "pro", "n": 2}\'), '
                    "(:t, 'b@example.com', '{\"vip\": false}'), (:t, 'c@example.com', '{}')"
                ),
                {"t": team},
            )
        _migrate(engine, "head")
        with engine.connect() as conn:
            props = {
                r.key: (r.type, r.fallback_value)
                for r in conn.execute(sa.text("SELECT key, type, fallback_value FROM contact_properties"))
            }
            people = dict(conn.execute(sa.text("SELECT email, properties FROM contacts")).all())
        assert props == {"vip": ("string", "false"), "plan": ("string", "free"), "n": ("number", None)}
        assert people == {
            "a@example.com": {"vip": "true", "plan": "pro", "n": 2},
            "b@example.com": {"vip": "false"},
            "c@example.com": {},
        }
    finally:
        engine.dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
