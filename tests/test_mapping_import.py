"""Column mapping in the import job, remembered mappings, `roster mapping suggest` and the service."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from roster.mapping import memory
from roster.mapping.service import head_of, suggest_for_file
from tests.helpers import contacts, run, write_csv
from tests.mapping.fake_openai import FakeOpenAI, item

BIN = Path(sys.executable).parent
HEADERS = ["Email Address", "First Name", "Surname", "Plan", "Favourite Colour", "Accepts Marketing"]
ROWS = [
    ["ada@example.com", "Ada", "Lovelace", "pro", "green", "yes"],
    ["alan@example.com", "Alan", "Turing", "free", "blue", "no"],
    ["grace@example.com", "Grace", "Hopper", "pro", "red", "Yes"],
]


@pytest.fixture(autouse=True)
def no_model(monkeypatch):
    """The job must work without a key; a test that wants the model sets one."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ROSTER_MAPPING_ENGINE", raising=False)


def add_property(engine, team_id, key, ptype):
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO contact_properties (team_id, key, type) VALUES (:t, :k, :y)"),
            {"t": team_id, "k": key, "y": ptype},
        )


def properties(engine, team_id) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT key, type FROM contact_properties WHERE team_id = :t"), {"t": team_id}).all())


def mapping_metadata(result) -> dict:
    [mat] = result["run"].asset_materializations_for_node("column_mapping")
    return {k: v.value for k, v in mat.metadata.items()}


def test_no_map_maps_core_fields_and_existing_properties_only(engine, team, tmp_path):
    _, team_id = team
    add_property(engine, team_id, "plan", "string")
    path = write_csv(tmp_path / "people.csv", HEADERS, ROWS)
    result = run(engine, team_id, path)
    assert result["status"] == "completed", result["row"]["error"]
    assert result["row"]["column_map"] == {
        "email": "Email Address",
        "first_name": "First Name",
        "last_name": "Surname",
        "unsubscribed": {"column": "Accepts Marketing", "invert": True},
        "properties": {"plan": {"column": "Plan", "type": "string"}},
    }
    people = contacts(engine, team_id)
    assert people["ada@example.com"]["last_name"] == "Lovelace"
    assert people["ada@example.com"]["properties"] == {"plan": "pro"}
    # "Accepts Marketing" means the opposite of unsubscribed.
    assert [people[e]["unsubscribed"] for e in ("ada@example.com", "alan@example.com", "grace@example.com")] == [
        False,
        True,
        False,
    ]
    assert properties(engine, team_id) == {"plan": "string"}  # no new property, unreviewed

    meta = mapping_metadata(result)
    assert meta["mapping_engine"] == "offline"
    decisions = {d["column"]: d for d in meta["decisions"]}
    assert set(decisions) == set(HEADERS)
    for d in decisions.values():
        assert {"column", "target", "confidence", "reason", "engine", "applied"} <= set(d)
    colour = decisions["Favourite Colour"]
    assert colour["target"] == "property" and colour["applied"] is False and "auto_create_properties" in colour["not_applied"]
    assert decisions["Accepts Marketing"]["invert"] is True and decisions["Accepts Marketing"]["applied"]


def test_auto_create_properties_creates_the_new_ones(engine, team, tmp_path):
    _, team_id = team
    path = write_csv(tmp_path / "people.csv", HEADERS, ROWS)
    result = run(engine, team_id, path, auto_create_properties=True)
    assert result["status"] == "completed", result["row"]["error"]
    assert properties(engine, team_id) == {"plan": "string", "favourite_colour": "string"}
    assert contacts(engine, team_id)["alan@example.com"]["properties"] == {"plan": "free", "favourite_colour": "blue"}


def test_explicit_map_leaves_the_rest_alone_unless_auto_map(engine, team, tmp_path):
    _, team_id = team
    add_property(engine, team_id, "plan", "string")
    path = write_csv(tmp_path / "people.csv", HEADERS, ROWS)
    result = run(engine, team_id, path, {"email": "Email Address"})
    assert result["row"]["column_map"] == {"email": "Email Address", "properties": {}}
    assert contacts(engine, team_id)["ada@example.com"]["first_name"] is None

    path2 = write_csv(tmp_path / "people2.csv", HEADERS + ["Extra"], [r + ["x"] for r in ROWS])
    result = run(engine, team_id, path2, {"email": "Email Address", "first_name": "Surname"}, auto_map=True)
    assert result["status"] == "completed", result["row"]["error"]
    cmap = result["row"]["column_map"]
    assert cmap["first_name"] == "Surname"  # the explicit map wins
    assert "last_name" not in cmap  # Surname is taken; nothing else is a last name
    assert cmap["unsubscribed"] == {"column": "Accepts Marketing", "invert": True}
    assert cmap["properties"] == {"plan": {"column": "Plan", "type": "string"}}  # no new properties
    assert properties(engine, team_id) == {"plan": "string"}


@pytest.mark.parametrize(
    "header, values, unsubscribed",
    [
        ("Status", ["SUBSCRIBED", "UNSUBSCRIBED", "CLEANED", "NEVER_SUBSCRIBED"], [False, True, True, True]),
        ("Newsletter", ["ja", "nein", "Ja", "NEIN"], [False, True, False, True]),
        ("Acepta marketing", ["sí", "no", "Sí", "no"], [False, True, False, True]),
        ("Aceita marketing", ["sim", "não", "Sim", "Não"], [False, True, False, True]),
        ("Accepte les emails", ["oui", "non", "Oui", "non"], [False, True, False, True]),
    ],
)
def test_inverted_consent_columns_in_any_language_import(engine, team, tmp_path, header, values, unsubscribed):
    _, team_id = team
    path = write_csv(tmp_path / "c.csv", ["Email", header], [[f"{c}@example.com", v] for c, v in zip("abcd", values)])
    result = run(engine, team_id, path)
    assert result["status"] == "completed" and result["counts"]["failed"] == 0, result["row"]
    assert result["row"]["column_map"]["unsubscribed"] == {"column": header, "invert": True}
    people = contacts(engine, team_id)
    assert [people[f"{c}@example.com"]["unsubscribed"] for c in "abcd"] == unsubscribed


def test_a_file_with_no_email_and_no_map_is_refused(engine, team, tmp_path):
    from roster.importing.errors import ImportRefused

    _, team_id = team
    path = write_csv(tmp_path / "x.csv", ["name", "city"], [["Ann", "Oslo"]])
    with pytest.raises(ImportRefused, match="missing required email column"):
        run(engine, team_id, path)


def test_remembered_mapping_is_preferred_next_time(engine, team, tmp_path):
    _, team_id = team
    cmap = {"email": "Email Address", "last_name": "First Name", "properties": {"tier": {"column": "Plan", "type": "string"}}}
    first = run(engine, team_id, write_csv(tmp_path / "a.csv", HEADERS, ROWS), cmap)
    assert first["status"] == "completed"
    assert memory.recall(engine, team_id, list(reversed(HEADERS))) == cmap  # any order of the same headers

    reordered = [HEADERS[i] for i in (5, 4, 3, 2, 1, 0)]
    rows = [[r[i] for i in (5, 4, 3, 2, 1, 0)] for r in ROWS]
    second = run(engine, team_id, write_csv(tmp_path / "b.csv", reordered, rows))
    assert second["status"] == "completed", second["row"]["error"]
    assert second["row"]["column_map"] == {**cmap, "properties": {"tier": {"column": "Plan", "type": "string"}}}
    meta = mapping_metadata(second)
    assert meta["mapping_engine"] == "memory"
    assert {d["engine"] for d in meta["decisions"]} == {"memory"}
    assert contacts(engine, team_id)["ada@example.com"]["last_name"] == "Ada"

    out = suggest_for_file(engine, team_id, tmp_path / "b.csv")
    assert out["column_map"] == cmap and {s["engine"] for s in out["suggestions"]} == {"memory"}


MODEL_ANSWER = {
    "columns": [
        item("Email Address", "email"),
        item("First Name", "first_name"),
        item("Surname", "last_name"),
        item("Accepts Marketing", "unsubscribed", invert=True),
        item("Favourite Colour", "ignore"),
    ]
}


@pytest.fixture
def fake_model(monkeypatch):
    with FakeOpenAI() as fake:
        fake.answer = lambda body: MODEL_ANSWER
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.delenv("ROSTER_MAPPING_MODEL_OPT_IN", raising=False)
        yield fake


def test_the_job_asks_the_model_once_when_the_import_opts_in(engine, team, tmp_path, fake_model):
    _, team_id = team
    path = write_csv(tmp_path / "people.csv", HEADERS, ROWS)
    result = run(engine, team_id, path, model_mapping=True)
    assert result["status"] == "completed", result["row"]["error"]
    assert len(fake_model.requests) == 1  # the preflight check does not ask; the run asks once
    meta = mapping_metadata(result)
    assert meta["mapping_engine"] == "openai"
    engines = {d["column"]: d["engine"] for d in meta["decisions"]}
    assert engines["Email Address"] == "openai" and engines["Plan"] == "offline"  # left out by the model
    assert contacts(engine, team_id)["alan@example.com"]["unsubscribed"] is True


def test_without_consent_no_value_leaves_the_server(engine, team, tmp_path, fake_model, monkeypatch):
    """A key is configured, but nobody opted in: the offline engine maps, the model sees nothing."""
    from roster.mapping.consent import set_team_opt_in

    name, team_id = team
    path = write_csv(tmp_path / "people.csv", HEADERS, ROWS)
    plain = run(engine, team_id, path)
    assert plain["status"] == "completed", plain["row"]["error"]
    assert fake_model.requests == []
    meta = mapping_metadata(plain)
    assert meta["mapping_engine"] == "offline" and any("model_mapping" in n for n in meta["mapping_notes"])
    assert plain["row"]["column_map"]["email"] == "Email Address"
    assert run(engine, team_id, path, auto_map=True)["status"] == "completed"  # auto_map is not consent
    assert fake_model.requests == []

    # The team opts in: its imports ask; an import can still say no.
    set_team_opt_in(engine, team_id, True)
    run(engine, team_id, path, model_mapping=False)
    assert fake_model.requests == []
    assert mapping_metadata(run(engine, team_id, path))["mapping_engine"] == "openai"
    assert len(fake_model.requests) == 1
    # The team opts out; the server's opt-in does not override the team's no.
    set_team_opt_in(engine, team_id, False)
    monkeypatch.setenv("ROSTER_MAPPING_MODEL_OPT_IN", "1")
    run(engine, team_id, path)
    assert len(fake_model.requests) == 1
    # A team that said nothing follows the server.
    set_team_opt_in(engine, team_id, None)
    run(engine, team_id, path)
    assert len(fake_model.requests) == 2

    # The team setting from the command line
    p = roster("teams", "model-mapping", name, "on")
    assert p.returncode == 0 and "may see" in p.stdout, p.stderr
    p = roster("teams", "model-mapping", name, "maybe")
    assert p.returncode != 0 and "on, off or default" in p.stderr


def test_suggestions_ask_the_model_only_with_consent(engine, team, tmp_path, fake_model):
    _, team_id = team
    path = write_csv(tmp_path / "people.csv", HEADERS, ROWS)
    out = suggest_for_file(engine, team_id, path, with_headers=True)
    assert fake_model.requests == [] and {s["engine"] for s in out["suggestions"]} == {"offline"}
    assert any("model_mapping" in n for n in out["notes"])
    out = suggest_for_file(engine, team_id, path, model_mapping=True)
    assert len(fake_model.requests) == 1 and out["suggestions"][0]["engine"] == "openai"


# --- the service and the CLI --------------------------------------------------------------------


def test_suggest_for_file_reads_only_the_head(engine, team, tmp_path):
    _, team_id = team
    rows = [[f"user{i}@example.com", f"N{i}", "42"] for i in range(20000)]
    path = write_csv(tmp_path / "big.csv", ["Mail", "Name", "Score"], rows)
    head = head_of(path, tmp_path / "work", limit=4096)
    assert head != path and head.stat().st_size <= 4096 and head.read_bytes().endswith(b"\n")
    gz = tmp_path / "big.csv.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    out = suggest_for_file(engine, team_id, gz, existing=[{"key": "score", "type": "number"}])
    assert set(out) == {"column_map", "suggestions"}
    assert out["column_map"]["email"] == "Mail"
    assert out["column_map"]["properties"]["score"] == {"column": "Score", "type": "number"}
    s = out["suggestions"][0]
    assert set(s) >= {"column", "target", "property_key", "property_type", "invert", "confidence", "reason", "engine"}


def roster(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    return subprocess.run([str(BIN / "roster"), *args], input=stdin, capture_output=True, text=True, env=env, timeout=300)


def test_cli_suggest_json(team, tmp_path):
    name, _ = team
    path = write_csv(tmp_path / "people.csv", HEADERS, ROWS)
    props = tmp_path / "props.json"
    props.write_text(json.dumps([{"key": "plan", "type": "string"}]))
    p = roster("mapping", "suggest", str(path), "--existing-properties", str(props), "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["column_map"]["email"] == "Email Address"
    assert out["column_map"]["unsubscribed"] == {"column": "Accepts Marketing", "invert": True}
    # A suggestion, not an import: new properties are suggested.
    assert out["column_map"]["properties"] == {
        "plan": {"column": "Plan", "type": "string"},
        "favourite_colour": {"column": "Favourite Colour", "type": "string"},
    }
    assert [s["column"] for s in out["suggestions"]] == HEADERS
    assert all(s["engine"] == "offline" and 0 <= s["confidence"] <= 1 and s["reason"] for s in out["suggestions"])

    bad = roster("mapping", "suggest", str(tmp_path / "nope.csv"), "--json", "--team", name)
    assert bad.returncode != 0 and "no such file" in bad.stderr and "Traceback" not in bad.stderr


def test_cli_interactive_review_then_import_and_remember(engine, team, tmp_path):
    name, team_id = team
    path = write_csv(tmp_path / "people.csv", HEADERS, ROWS)
    # 4 = Plan -> a new property "tier"; 5 = Favourite Colour rejected; accept; import: yes.
    p = roster("mapping", "suggest", str(path), "--team", name, stdin="c 4 property:tier\nr 5\nbogus\na\ny\n")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Suggested column mapping" in p.stdout and "'Favourite Colour' is left out" in p.stdout
    reviewed = {
        "email": "Email Address",
        "first_name": "First Name",
        "last_name": "Surname",
        "unsubscribed": {"column": "Accepts Marketing", "invert": True},
        "properties": {"tier": {"column": "Plan", "type": "string"}},
    }
    assert json.dumps(reviewed) in p.stdout
    assert memory.recall(engine, team_id, HEADERS) == reviewed
    people = contacts(engine, team_id)
    assert people["ada@example.com"]["properties"] == {"tier": "pro"}
    assert people["alan@example.com"]["unsubscribed"] is True
    assert properties(engine, team_id) == {"tier": "string"}

    again = roster("mapping", "suggest", str(path), "--team", name, "--json")
    out = json.loads(again.stdout)
    assert out["column_map"] == reviewed and {s["engine"] for s in out["suggestions"]} == {"memory"}


def test_cli_review_quit_imports_nothing(engine, team, tmp_path):
    name, team_id = team
    path = write_csv(tmp_path / "people.csv", HEADERS, ROWS)
    answers = tmp_path / "answers.txt"
    answers.write_text("c 1 ignore\na\nq\n")
    p = roster("mapping", "suggest", str(path), "--team", name, "--answers", str(answers))
    assert p.returncode == 1
    assert "no column is mapped to email" in p.stdout and "nothing imported" in p.stdout
    assert contacts(engine, team_id) == {} and memory.recall(engine, team_id, HEADERS) is None
