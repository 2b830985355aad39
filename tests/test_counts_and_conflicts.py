"""What the counts mean, and what upsert and skip do to existing contacts."""

from __future__ import annotations

from tests.helpers import NAMES_MAP, contacts, run, write_csv

HEADER = ["Email", "First Name", "Last Name"]


def _sum(counts):
    return counts["created"] + counts["updated"] + counts["skipped"] + counts["failed"]


def test_first_import_creates_and_counts(engine, team, tmp_path):
    _, team_id = team
    path = write_csv(
        tmp_path / "a.csv",
        HEADER,
        [
            ["ada@example.com", "Ada", "Lovelace"],
            ["grace@example.com", "Grace", "Hopper"],
            ["bad", "No", "Email"],
            ["ADA@example.com", "Ada", "Byron"],  # same email, later: wins, the first is skipped
        ],
    )
    r = run(engine, team_id, path, NAMES_MAP)
    assert r["status"] == "completed"
    assert r["counts"] == {"total": 4, "created": 2, "updated": 0, "skipped": 1, "failed": 1}
    assert contacts(engine, team_id)["ada@example.com"]["last_name"] == "Byron"
    assert r["completed_at"] is not None and r["created_at"].endswith("+00")


def test_upsert_overwrites_given_fields_and_keeps_blank_ones(engine, team, tmp_path):
    _, team_id = team
    first = write_csv(
        tmp_path / "a.csv",
        HEADER + ["Plan", "Unsubscribed"],
        [
            ["ada@example.com", "Ada", "Lovelace", "pro", "yes"],
            ["grace@example.com", "Grace", "Hopper", "free", "no"],
        ],
    )
    cmap = {**NAMES_MAP, "unsubscribed": "Unsubscribed", "properties": {"plan": {"column": "Plan"}}}
    run(engine, team_id, first, cmap)
    second = write_csv(
        tmp_path / "b.csv",
        HEADER + ["Plan", "Unsubscribed"],
        [
            ["Ada@Example.com", "", "King", "", ""],  # blanks leave first name, plan and unsubscribed alone
            ["grace@example.com", "Amazing Grace", "", "team", "1"],
            ["linus@example.com", "Linus", "", "", ""],
        ],
    )
    r = run(engine, team_id, second, cmap, on_conflict="upsert")
    assert r["counts"] == {"total": 3, "created": 1, "updated": 2, "skipped": 0, "failed": 0}
    got = contacts(engine, team_id)
    assert got["ada@example.com"]["first_name"] == "Ada"
    assert got["ada@example.com"]["last_name"] == "King"
    assert got["ada@example.com"]["properties"] == {"plan": "pro"}
    assert got["ada@example.com"]["unsubscribed"] is True
    assert got["ada@example.com"]["email"] == "ada@example.com"  # the stored spelling stays
    assert got["grace@example.com"]["first_name"] == "Amazing Grace"
    assert got["grace@example.com"]["last_name"] == "Hopper"
    assert got["grace@example.com"]["properties"] == {"plan": "team"}
    assert got["grace@example.com"]["unsubscribed"] is True
    assert got["linus@example.com"]["last_name"] is None


def test_skip_leaves_existing_contacts_alone(engine, team, tmp_path):
    _, team_id = team
    run(engine, team_id, write_csv(tmp_path / "a.csv", HEADER, [["ada@example.com", "Ada", "Lovelace"]]), NAMES_MAP)
    r = run(
        engine,
        team_id,
        write_csv(
            tmp_path / "b.csv",
            HEADER,
            [
                ["ada@example.com", "Changed", "Name"],
                ["new@example.com", "New", "Person"],
                ["new@example.com", "New", "Again"],
            ],
        ),
        NAMES_MAP,
        on_conflict="skip",
    )
    assert r["counts"] == {"total": 3, "created": 1, "updated": 0, "skipped": 2, "failed": 0}
    got = contacts(engine, team_id)
    assert got["ada@example.com"]["first_name"] == "Ada"
    assert got["new@example.com"]["last_name"] == "Again"


def test_default_headers_without_a_column_map(engine, team, tmp_path):
    _, team_id = team
    path = write_csv(tmp_path / "a.csv", ["email", "first_name", "last_name", "other"], [["a@x.io", "A", "B", "zzz"]])
    r = run(engine, team_id, path)
    assert r["counts"]["created"] == 1
    assert contacts(engine, team_id)["a@x.io"]["properties"] == {}


def test_email_column_found_by_its_values(engine, team, tmp_path):
    _, team_id = team
    path = write_csv(tmp_path / "a.csv", ["Kontakt", "Name"], [["a@x.io", "A"], ["b@x.io", "B"], ["c@x.io", "C"]])
    r = run(engine, team_id, path)
    assert r["counts"]["created"] == 3


def test_teams_do_not_share_contacts(engine, tmp_path):
    from roster.store.teams import ensure as ensure_team

    one, two = ensure_team(engine, "iso-one"), ensure_team(engine, "iso-two")
    path = write_csv(tmp_path / "a.csv", HEADER, [["ada@example.com", "Ada", "One"]])
    assert run(engine, one, path, NAMES_MAP)["counts"]["created"] == 1
    assert run(engine, two, path, NAMES_MAP)["counts"]["created"] == 1  # not "updated": another team's contact
    assert contacts(engine, one)["ada@example.com"]["team_id"] == one


def test_rerunning_a_finished_import_changes_nothing(engine, team, tmp_path):
    from pipelines.launch import run_import

    _, team_id = team
    r = run(engine, team_id, write_csv(tmp_path / "a.csv", HEADER, [["ada@example.com", "Ada", "L"]]), NAMES_MAP)
    run_import(r["id"])
    from tests.helpers import get_import

    again = get_import(engine, team_id, r["id"])
    assert again["status"] == "completed"
    assert (again["created"], again["updated"], again["total"]) == (1, 0, 1)
