"""Resend's column rules: every key of a column map is optional, and the standard fields a map
leaves out come from the headers named exactly email, first_name, last_name, unsubscribed. What
Resend would import, Roster imports the same way; Roster's own mapping works only with auto_map or
where Resend would refuse the file."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from roster.importing.errors import ImportRefused
from schemas.column_map import ColumnMapError, parse_column_map
from tests.helpers import contacts, run, write_csv

STANDARD = ["email", "first_name", "last_name", "unsubscribed", "Plan"]
ROWS = [["ada@example.com", "Ada", "Lovelace", "true", "pro"], ["alan@example.com", "Alan", "Turing", "false", "free"]]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def _add_property(engine, team_id, key, ptype="string"):
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO contact_properties (team_id, key, type) VALUES (:t, :k, :y)"),
            {"t": team_id, "k": key, "y": ptype},
        )


@pytest.mark.parametrize("column_map", [None, {}, '{"email": "email"}'])
def test_standard_headers_without_or_with_a_partial_map(engine, team, tmp_path, column_map):
    _, team_id = team
    _add_property(engine, team_id, "plan")  # an existing property is NOT mapped without auto_map (as Resend)
    result = run(engine, team_id, write_csv(tmp_path / "c.csv", STANDARD, ROWS), column_map)
    assert result["status"] == "completed", result["row"]["error"]
    assert result["row"]["column_map"] == {
        "email": "email",
        "first_name": "first_name",
        "last_name": "last_name",
        "unsubscribed": "unsubscribed",
        "properties": {},
    }
    ada = contacts(engine, team_id)["ada@example.com"]
    assert (ada["first_name"], ada["last_name"], ada["unsubscribed"], ada["properties"]) == ("Ada", "Lovelace", True, {})


def test_properties_only_map_keeps_the_standard_columns(engine, team, tmp_path):
    _, team_id = team
    cmap = {"properties": {"plan": {"column": "Plan", "type": "string"}}}
    result = run(engine, team_id, write_csv(tmp_path / "c.csv", STANDARD, ROWS), cmap)
    assert result["status"] == "completed", result["row"]["error"]
    alan = contacts(engine, team_id)["alan@example.com"]
    assert (alan["first_name"], alan["last_name"], alan["unsubscribed"], alan["properties"]) == (
        "Alan",
        "Turing",
        False,
        {"plan": "free"},
    )


def test_auto_map_maps_the_other_columns_too(engine, team, tmp_path):
    _, team_id = team
    _add_property(engine, team_id, "plan")
    result = run(engine, team_id, write_csv(tmp_path / "c.csv", STANDARD, ROWS), auto_map=True)
    assert result["status"] == "completed", result["row"]["error"]
    assert contacts(engine, team_id)["ada@example.com"]["properties"] == {"plan": "pro"}


def test_a_header_the_map_uses_is_not_taken_again(engine, team, tmp_path):
    _, team_id = team
    cmap = {"email": "email", "first_name": "last_name"}  # the file's last_name column feeds first_name only
    result = run(engine, team_id, write_csv(tmp_path / "c.csv", STANDARD, ROWS), cmap)
    assert result["row"]["column_map"]["first_name"] == "last_name" and "last_name" not in result["row"]["column_map"]
    ada = contacts(engine, team_id)["ada@example.com"]
    assert (ada["first_name"], ada["last_name"]) == ("Lovelace", None)


def test_headers_match_exactly_as_resend_matches_them(engine, team, tmp_path):
    """`Email` is not `email` for Resend, which would refuse this file; Roster finds the email column
    (its own mapping) rather than refusing, and maps the core fields it finds."""
    _, team_id = team
    cmap = {"properties": {"plan": {"column": "Plan"}}}
    result = run(
        engine, team_id, write_csv(tmp_path / "c.csv", ["Email", "Vorname", "Plan"], [["cleo@example.com", "Cleo", "pro"]]), cmap
    )
    assert result["status"] == "completed", result["row"]["error"]
    assert result["row"]["column_map"]["email"] == "Email"
    cleo = contacts(engine, team_id)["cleo@example.com"]
    assert cleo["first_name"] == "Cleo" and cleo["properties"] == {"plan": "pro"}


def test_a_partial_map_is_not_remembered_as_the_whole_mapping(engine, team, tmp_path):
    from roster.mapping import memory

    _, team_id = team
    header = ["E-Mail", "Vorname", "Plan"]
    path = write_csv(tmp_path / "c.csv", header, [["eve@example.com", "Eve", "pro"]])
    first = run(engine, team_id, path, {"properties": {"plan": {"column": "Plan"}}})
    assert first["status"] == "completed", first["row"]["error"]
    assert memory.recall(engine, team_id, header) is None
    again = run(engine, team_id, path)  # no map: the engines find the email column again
    assert again["status"] == "completed" and again["row"]["column_map"]["email"] == "E-Mail"


@pytest.mark.parametrize("column_map", [None, {}, {"properties": {"city": {"column": "City"}}}])
def test_no_email_column_anywhere_is_refused(engine, team, tmp_path, column_map):
    _, team_id = team
    with pytest.raises(ImportRefused, match="missing required email column"):
        run(engine, team_id, write_csv(tmp_path / "c.csv", ["Name", "City"], [["Ann", "Oslo"]]), column_map)


def test_camel_case_keys_as_resends_cli_and_mcp_take_them(engine, team, tmp_path):
    _, team_id = team
    cmap = {"email": "Mail", "firstName": "Given", "lastName": "Family"}
    result = run(
        engine,
        team_id,
        write_csv(tmp_path / "c.csv", ["Mail", "Given", "Family"], [["dora@example.com", "Dora", "Explorer"]]),
        cmap,
    )
    assert result["row"]["column_map"] == {"email": "Mail", "first_name": "Given", "last_name": "Family", "properties": {}}
    dora = contacts(engine, team_id)["dora@example.com"]
    assert (dora["first_name"], dora["last_name"]) == ("Dora", "Explorer")
    with pytest.raises(ColumnMapError, match="not both"):
        parse_column_map({"firstName": "A", "first_name": "B"})
