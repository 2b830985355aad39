"""One bad row fails one row, and consent is never reversed by accident (issue: hostile files).

Each case failed a whole import, or silently resubscribed people, before."""

from __future__ import annotations

import random
import string

import sqlalchemy as sa

from tests.helpers import contacts, failures, run, write_csv


def test_an_email_too_long_for_the_index_fails_its_row_only(engine, team, tmp_path):
    _, team_id = team
    random.seed(7)
    monster = "".join(random.choices(string.ascii_letters, k=3000)) + "@x.example"  # incompressible
    rows = [[monster]] + [[f"ok{i}@x.example"] for i in range(1000)]
    for on_conflict in ("upsert", "skip"):
        r = run(
            engine,
            team_id,
            write_csv(tmp_path / f"long-{on_conflict}.csv", ["email"], rows),
            {"email": "email"},
            on_conflict=on_conflict,
        )
        assert r["status"] == "completed", r.get("error")
        assert r["counts"]["failed"] == 1 and r["counts"]["total"] == 1001
        [bad] = failures(engine, r["id"])
        assert bad["row_number"] == 1 and "longer than 320" in bad["reason"]
    assert len(contacts(engine, team_id)) == 1000


def test_emails_only_postgresql_folds_together_are_one_contact(engine, team, tmp_path):
    """Python's and polars' lower-casing differ from PostgreSQL's for a final sigma and a dotted
    capital I: the import dedups by the database's own lower(), the unique index's rule."""
    _, team_id = team
    rows = [["aΣ@sig.example", "first"], ["aσ@sig.example", "second"], ["ΑΣ@look.example", "x"]]
    path = write_csv(tmp_path / "sigma.csv", ["email", "first_name"], rows)
    r = run(engine, team_id, path, {"email": "email", "first_name": "first_name"})
    assert r["status"] == "completed", r.get("error")
    with engine.connect() as conn:
        distinct = conn.execute(
            sa.text("SELECT count(DISTINCT lower(e)) FROM unnest(CAST(:e AS text[])) AS e"), {"e": [row[0] for row in rows]}
        ).scalar_one()
    assert r["counts"]["created"] == distinct and r["counts"]["skipped"] == len(rows) - distinct
    again = run(engine, team_id, path, {"email": "email", "first_name": "first_name"})
    assert again["status"] == "completed" and again["counts"]["updated"] == distinct


def test_a_number_that_would_overflow_postgresql_fails_its_row_only(engine, team, tmp_path):
    _, team_id = team
    rows = [["a@x.example", "1e999999"], ["b@x.example", "9" * 200], ["c@x.example", "12.5e3"]]
    cmap = {"email": "email", "properties": {"score": {"column": "score", "type": "number"}}}
    r = run(engine, team_id, write_csv(tmp_path / "n.csv", ["email", "score"], rows), cmap)
    assert r["status"] == "completed", r.get("error")
    assert r["counts"] == {"total": 3, "created": 1, "updated": 0, "skipped": 0, "failed": 2}
    assert float(contacts(engine, team_id)["c@x.example"]["properties"]["score"]) == 12500


def test_a_number_in_other_scripts_digits_fails_its_row_only(engine, team, tmp_path):
    """Python's and polars' `\\d` take any script's digits; PostgreSQL's numeric and JSON only ASCII."""
    _, team_id = team
    rows = [
        ["a@x.example", "\u0661\u0662\u0663"],
        ["b@x.example", "\uff11\uff12"],
        ["c@x.example", "$1,234.50"],
        ["d@x.example", "7"],
    ]
    cmap = {"email": "email", "properties": {"score": {"column": "score", "type": "number"}}}
    r = run(engine, team_id, write_csv(tmp_path / "digits.csv", ["email", "score"], rows), cmap)
    assert r["status"] == "completed", r.get("error")
    assert r["counts"] == {"total": 4, "created": 2, "updated": 0, "skipped": 0, "failed": 2}
    stored = contacts(engine, team_id)
    assert set(stored) == {"c@x.example", "d@x.example"}
    assert float(stored["c@x.example"]["properties"]["score"]) == 1234.5


def _topic(engine, team_id: int, name: str) -> str:
    with engine.begin() as conn:
        return str(
            conn.execute(
                sa.text("INSERT INTO topics (team_id, name) VALUES (:t, :n) RETURNING id"), {"t": team_id, "n": name}
            ).scalar_one()
        )


def test_an_import_never_resubscribes_unless_asked(engine, team, tmp_path):
    _, team_id = team
    news = _topic(engine, team_id, "news")
    cmap = {"email": "email", "unsubscribed": "unsubscribed"}
    first = write_csv(tmp_path / "first.csv", ["email", "unsubscribed"], [["out@x.example", "true"], ["in@x.example", "false"]])
    assert run(engine, team_id, first, cmap, topics=[{"id": news, "subscription": "opt_out"}])["status"] == "completed"

    # The next file says everyone is subscribed and opted in to the topic.
    again = write_csv(tmp_path / "again.csv", ["email", "unsubscribed"], [["OUT@x.example", "false"], ["in@x.example", "false"]])
    r = run(engine, team_id, again, cmap, topics=[{"id": news, "subscription": "opt_in"}])
    assert r["status"] == "completed"
    people = contacts(engine, team_id)
    assert people["out@x.example"]["unsubscribed"] is True
    details = r["row"]["merge_details"]
    assert details["kept_unsubscribed"] == 1 and details["kept_topic_opt_outs"] == 2
    with engine.connect() as conn:
        subs = set(conn.execute(sa.text("SELECT subscription FROM contact_topics WHERE topic_id = :t"), {"t": news}).scalars())
    assert subs == {"opt_out"}

    # Asked explicitly for this import: it resubscribes, and says nothing was kept.
    r = run(engine, team_id, again, cmap, topics=[{"id": news, "subscription": "opt_in"}], resubscribe=True)
    assert contacts(engine, team_id)["out@x.example"]["unsubscribed"] is False
    assert r["row"]["merge_details"]["kept_unsubscribed"] == 0
    with engine.connect() as conn:
        subs = set(conn.execute(sa.text("SELECT subscription FROM contact_topics WHERE topic_id = :t"), {"t": news}).scalars())
    assert subs == {"opt_in"}
