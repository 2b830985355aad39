"""Typed contact properties created by an import, and segment memberships."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from roster.importing.errors import ImportRefused
from roster.landing import LandingStore
from schemas.column_map import ColumnMapError, parse_column_map
from schemas.import_options import ImportOptions
from tests.helpers import NAMES_MAP, contacts, create_import, failures, run, write_csv

HEADER = ["Email", "First Name", "Last Name", "Plan", "LTV", "VIP"]
TYPED_MAP = {
    **NAMES_MAP,
    "properties": {
        "plan": {"column": "Plan"},
        "ltv": {"column": "LTV", "type": "number"},
        "vip": {"column": "VIP", "type": "boolean"},
    },
}


def _properties(engine, team_id):
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT key, type FROM contact_properties WHERE team_id = :t"), {"t": team_id}).all())


def test_properties_are_created_typed_and_values_checked(engine, team, tmp_path):
    _, team_id = team
    path = write_csv(
        tmp_path / "a.csv",
        HEADER,
        [
            ["ada@example.com", "Ada", "L", "pro", "12.50", "yes"],
            ["grace@example.com", "Grace", "H", "free", "", "No"],
            ["ken@example.com", "Ken", "T", "team", "lots", "true"],  # not a number: fails
            ["linus@example.com", "Linus", "T", "team", "3", "maybe"],  # not a boolean: fails
        ],
    )
    r = run(engine, team_id, path, TYPED_MAP)
    assert r["counts"] == {"total": 4, "created": 2, "updated": 0, "skipped": 0, "failed": 2}
    # A yes/no column ("boolean" in the map) is a string property of "true"/"false": Resend's types only.
    assert _properties(engine, team_id) == {"plan": "string", "ltv": "number", "vip": "string"}
    got = contacts(engine, team_id)
    assert got["ada@example.com"]["properties"] == {"plan": "pro", "ltv": 12.5, "vip": "true"}
    assert got["grace@example.com"]["properties"] == {"plan": "free", "vip": "false"}
    rows = failures(engine, r["id"])
    assert [f["row_number"] for f in rows] == [3, 4]
    assert "ltv" in rows[0]["reason"] and "'lots'" in rows[0]["reason"]
    assert "vip" in rows[1]["reason"] and rows[1]["data"]["VIP"] == "maybe"
    assert rows[0]["email"] == "ken@example.com"


def test_existing_property_type_is_kept_or_refused(engine, team, tmp_path):
    _, team_id = team
    path = write_csv(tmp_path / "a.csv", HEADER, [["ada@example.com", "Ada", "L", "pro", "7", "1"]])
    run(engine, team_id, path, TYPED_MAP)
    # Without a type, the existing property's type is used.
    r = run(engine, team_id, path, {**NAMES_MAP, "properties": {"ltv": {"column": "LTV"}}})
    assert r["status"] == "completed"
    assert contacts(engine, team_id)["ada@example.com"]["properties"]["ltv"] == 7
    # With another type, it is refused before anything is written.
    options = ImportOptions(
        column_map=parse_column_map({**NAMES_MAP, "properties": {"ltv": {"column": "LTV", "type": "string"}}})
    )
    with pytest.raises(ImportRefused, match="exists as a number"):
        create_import(engine, LandingStore(), team_id, path, "a.csv", options, source="test")


@pytest.mark.parametrize(
    "bad_map, message",
    [
        ({**NAMES_MAP, "properties": {"bad key!": {"column": "Plan"}}}, "property key"),
        ({**NAMES_MAP, "properties": {"plan": {"column": "Plan", "type": "date"}}}, "column_map is invalid"),
        ({**NAMES_MAP, "properties": {"x" * 51: {"column": "Plan"}}}, "property key"),
        ("{not json", "not valid JSON"),
    ],
)
def test_invalid_column_maps_are_refused(bad_map, message):
    with pytest.raises(ColumnMapError, match=message):
        parse_column_map(bad_map)


def test_map_naming_a_missing_header_is_refused(engine, team, tmp_path):
    _, team_id = team
    path = write_csv(tmp_path / "a.csv", HEADER, [["ada@example.com", "Ada", "L", "pro", "7", "1"]])
    options = ImportOptions(column_map=parse_column_map({"email": "E-mail"}))
    with pytest.raises(ImportRefused, match="'E-mail'"):
        create_import(engine, LandingStore(), team_id, path, "a.csv", options, source="test")
    assert contacts(engine, team_id) == {}


def _segment(engine, team_id, name="Newsletter"):
    with engine.begin() as conn:
        return str(
            conn.execute(
                sa.text("INSERT INTO segments (team_id, name) VALUES (:t, :n) RETURNING id"), {"t": team_id, "n": name}
            ).scalar_one()
        )


def _members(engine, segment_id):
    with engine.connect() as conn:
        return set(
            conn.execute(
                sa.text(
                    "SELECT c.email FROM contact_segments cs JOIN contacts c ON c.id = cs.contact_id WHERE cs.segment_id = :s"
                ),
                {"s": segment_id},
            ).scalars()
        )


def test_created_and_updated_contacts_join_segments(engine, team, tmp_path):
    _, team_id = team
    seg = _segment(engine, team_id)
    run(engine, team_id, write_csv(tmp_path / "a.csv", HEADER[:3], [["old@example.com", "Old", "One"]]), NAMES_MAP)
    path = write_csv(
        tmp_path / "b.csv", HEADER[:3], [["old@example.com", "Old", "Two"], ["new@example.com", "New", "One"], ["x", "", ""]]
    )
    r = run(engine, team_id, path, NAMES_MAP, segments=[seg])
    assert r["counts"]["failed"] == 1
    assert _members(engine, seg) == {"old@example.com", "new@example.com"}


def test_skipped_contacts_do_not_join_segments(engine, team, tmp_path):
    _, team_id = team
    seg = _segment(engine, team_id)
    run(engine, team_id, write_csv(tmp_path / "a.csv", HEADER[:3], [["old@example.com", "Old", "One"]]), NAMES_MAP)
    path = write_csv(tmp_path / "b.csv", HEADER[:3], [["old@example.com", "Old", "Two"], ["new@example.com", "New", "One"]])
    run(engine, team_id, path, NAMES_MAP, segments=[seg], on_conflict="skip")
    assert _members(engine, seg) == {"new@example.com"}


def test_unknown_or_foreign_segment_is_refused(engine, team, tmp_path):
    from roster.store.teams import ensure as ensure_team

    _, team_id = team
    other = _segment(engine, ensure_team(engine, "someone-else"))
    path = write_csv(tmp_path / "a.csv", HEADER[:3], [["a@example.com", "A", "B"]])
    for segment_id in (str(uuid.uuid4()), other, "not-a-uuid"):
        with pytest.raises(ImportRefused, match="does not exist"):
            create_import(
                engine,
                LandingStore(),
                team_id,
                path,
                "a.csv",
                ImportOptions(column_map=parse_column_map(NAMES_MAP), segments=[segment_id]),
                source="test",
            )


@pytest.mark.parametrize("deleted", ["segment", "topic"])
def test_a_segment_or_topic_deleted_after_the_import_was_queued_fails_it(engine, team, tmp_path, deleted):
    """Issue 19: the import completed with no membership and said nothing. It now fails, naming
    what is gone, and writes nothing (the check is inside the merge's transaction)."""
    from pipelines.launch import run_import
    from roster.store import segments, topics
    from tests.helpers import get_import

    _, team_id = team
    seg, keep = _segment(engine, team_id), _segment(engine, team_id, "Kept")
    topic = topics.create(engine, team_id, "News", None, "opt_in")
    path = write_csv(tmp_path / "a.csv", HEADER[:3], [["a@example.com", "A", "B"]])
    options = ImportOptions(
        column_map=parse_column_map(NAMES_MAP), segments=[seg, keep], topics=[{"id": topic, "subscription": "opt_in"}]
    )
    import_id = create_import(engine, LandingStore(), team_id, path, "a.csv", options, source="test")
    gone = seg if deleted == "segment" else topic
    assert (segments if deleted == "segment" else topics).delete(engine, team_id, gone)

    result = run_import(import_id, tags={"roster/source": "test"})
    assert not result.success
    row = get_import(engine, team_id, import_id)
    assert row["status"] == "failed"
    assert f"{deleted} {gone} no longer exists" in row["error"] and "nothing was imported" in row["error"]
    assert contacts(engine, team_id) == {} and _members(engine, keep) == set()
    # Asked again (`roster imports run ID`), it fails the same way, still writing nothing.
    run_import(import_id, tags={"roster/source": "test"})
    assert get_import(engine, team_id, import_id)["status"] == "failed" and contacts(engine, team_id) == {}
