"""The import as people start it: `roster import`, `roster imports failures`, `dagster job execute`."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from pipelines.launch import add_partition
from roster.landing import LandingStore
from schemas.import_options import ImportOptions
from tests.helpers import NAMES_MAP, contacts, create_import, get_import, write_csv

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]


def roster(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "roster"), *args], capture_output=True, text=True, env=os.environ.copy(), timeout=300)


def test_roster_import_json_and_failures(team, tmp_path):
    name, _ = team
    path = write_csv(
        tmp_path / "people.csv",
        ["Email", "First Name", "Last Name", "Score"],
        [
            ["ada@example.com", "Ada", "L", "1"],
            ["nope", "Bad", "Row", "2"],
            ["grace@example.com", "Grace", "H", "x"],
        ],
    )
    cmap = json.dumps({**NAMES_MAP, "properties": {"score": {"column": "Score", "type": "number"}}})
    p = roster("import", str(path), "--column-map", cmap, "--team", name, "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    # Resend's shape, plus Roster's additions its clients ignore: `progress`, and what happened
    # (`outcome`, `summary`, the failures by reason, what a dry run would do).
    resend = {"object", "id", "status", "created_at", "completed_at", "counts"}
    roster_own = {"progress", "outcome", "summary", "dry_run", "failures_by_reason", "properties_created", "consent_kept"}
    assert resend <= set(out) <= resend | roster_own, set(out) - resend - roster_own
    assert out["outcome"] == "completed_with_failures" and out["dry_run"] is False
    assert out["progress"] == {"phase": "done", "rows_read": 3, "rows_staged": 1, "memberships": 0}
    assert out["object"] == "contact_import" and out["status"] == "completed"
    assert out["counts"] == {"total": 3, "created": 1, "updated": 0, "skipped": 0, "failed": 2}

    f = roster("imports", "failures", out["id"], "--team", name)
    assert f.returncode == 0, f.stderr
    rows = list(csv.DictReader(io.StringIO(f.stdout)))
    assert [r["roster_error"].split(":")[0] for r in rows] == ["row 2", "row 3"]
    assert rows[0]["roster_error"] == "row 2: invalid email 'nope'" and rows[0]["First Name"] == "Bad"
    assert rows[1]["Email"] == "grace@example.com" and rows[1]["Score"] == "x" and "number" in rows[1]["roster_error"]


def test_roster_import_refused_file_exits_nonzero_with_one_line(team, tmp_path):
    name, _ = team
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    p = roster("import", str(path), "--team", name, "--json")
    assert p.returncode != 0
    assert p.stdout == ""
    assert "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and "empty" in p.stderr


def test_roster_import_bad_option_exits_nonzero(team, tmp_path):
    name, _ = team
    path = write_csv(tmp_path / "a.csv", ["email"], [["a@x.io"]])
    p = roster("import", str(path), "--team", name, "--on-conflict", "merge")
    assert p.returncode != 0 and "upsert or skip" in p.stderr and "Traceback" not in p.stderr


def test_dagster_job_execute_with_launchpad_config(engine, team, tmp_path):
    """The README's `dagster job execute` command, with run config as the UI launchpad gives it."""
    _, team_id = team
    path = write_csv(tmp_path / "a.csv", ["Email", "First Name", "Last Name"], [["ada@example.com", "Ada", "L"]])
    import_id = create_import(engine, LandingStore(), team_id, path, "a.csv", ImportOptions(), source="cli", check=False)
    add_partition(import_id)
    config = tmp_path / "run.yaml"
    config.write_text(
        json.dumps({"ops": {"import_file": {"config": {"column_map": json.dumps(NAMES_MAP), "on_conflict": "skip"}}}})
    )
    p = subprocess.run(
        [
            str(BIN / "dagster"),
            "job",
            "execute",
            "-m",
            "pipelines.definitions",
            "-j",
            "contact_import",
            "-c",
            str(config),
            "--tags",
            json.dumps({"dagster/partition": import_id}),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=os.environ.copy(),
        timeout=300,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    row = get_import(engine, team_id, import_id)
    assert row["status"] == "completed", row["error"]
    assert row["options"]["on_conflict"] == "skip"
    assert (row["total"], row["created"]) == (1, 1)
    assert contacts(engine, team_id)["ada@example.com"]["first_name"] == "Ada"
    # The run is in the instance's history, as the UI shows it.
    from pipelines.launch import dagster_instance

    runs = dagster_instance().get_runs()
    assert any(r.tags.get("dagster/partition") == import_id for r in runs)


def _execute(*tags_json: str) -> subprocess.CompletedProcess:
    args = [str(BIN / "dagster"), "job", "execute", "-m", "pipelines.definitions", "-j", "contact_import"]
    for t in tags_json:
        args += ["--tags", t]
    return subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=os.environ.copy(), timeout=300)


def test_dagster_job_execute_tags_its_run_and_adds_a_missing_partition(engine, team, tmp_path):
    """An import created without its partition runs as any other: tagged with its team and
    source, its partition added, no import left `in_progress`."""
    name, team_id = team
    path = write_csv(tmp_path / "a.csv", ["email"], [["ada@example.com"]])
    import_id = create_import(
        engine, LandingStore(), team_id, path, "a.csv", ImportOptions(), source="cli", check=False, launched=True
    )
    p = _execute(json.dumps({"dagster/partition": import_id}))
    assert p.returncode == 0, p.stderr[-3000:]
    assert get_import(engine, team_id, import_id)["status"] == "completed"
    from pipelines.launch import dagster_instance

    [run] = [r for r in dagster_instance().get_runs() if r.tags.get("dagster/partition") == import_id]
    assert run.tags["roster/team"] == name and run.tags["roster/source"] == "cli"


def test_dagster_job_execute_without_an_import_says_so_in_one_line(engine):
    import uuid

    unknown = str(uuid.uuid4())
    for tags, words in (
        ([], "a contact_import run imports one import"),
        ([json.dumps({"dagster/partition": unknown})], f"there is no import {unknown}"),
        ([json.dumps({"dagster/partition": "nope"})], "is not an import id"),
    ):
        p = _execute(*tags)
        assert p.returncode != 0
        assert words in p.stderr + p.stdout
        assert "DagsterInvariantViolationError" not in p.stderr + p.stdout
    with engine.connect() as conn:
        import sqlalchemy as sa

        assert conn.execute(sa.text("SELECT count(*) FROM contact_imports WHERE id = :i"), {"i": unknown}).scalar_one() == 0


def test_a_launch_from_the_ui_queues_with_the_import_s_team_tag_or_is_refused(engine, team, tmp_path):
    """The run coordinator (the UI's launches go through it) gives a run the tags the per-team
    limit counts, and refuses one whose partition names no import, with no import row."""
    import uuid

    from dagster import DagsterRunStatus
    from dagster._core.remote_origin import InProcessCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
    from dagster._core.run_coordinator.base import SubmitRunContext
    from dagster._core.test_utils import create_run_for_test
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    from pipelines.launch import dagster_instance

    name, team_id = team
    path = write_csv(tmp_path / "a.csv", ["email"], [["ada@example.com"]])
    import_id = create_import(engine, LandingStore(), team_id, path, "a.csv", ImportOptions(), source="api", check=False)
    instance = dagster_instance()
    coordinator = instance.run_coordinator
    # Where the UI's runs say their code comes from (the queue needs it to launch them later).
    origin = RemoteJobOrigin(
        RemoteRepositoryOrigin(
            InProcessCodeLocationOrigin(LoadableTargetOrigin(module_name="pipelines.definitions")), "__repository__"
        ),
        "contact_import",
    )

    def launch(tags, run_config=None):
        run = create_run_for_test(instance, job_name="contact_import", tags=tags, run_config=run_config, remote_job_origin=origin)
        return coordinator.submit_run(SubmitRunContext(run, workspace=None))

    queued = launch({"dagster/partition": import_id})
    assert queued.status == DagsterRunStatus.QUEUED
    assert queued.tags["roster/team"] == name and queued.tags["roster/source"] == "api"

    new_id = str(uuid.uuid4())
    config = {"ops": {"import_file": {"config": {"file_path": str(path), "team": "launchpad-team"}}}}
    created = launch({"dagster/partition": new_id}, config)
    assert created.tags["roster/team"] == "launchpad-team" and created.tags["roster/source"] == "ui"

    unknown = str(uuid.uuid4())
    refused = launch({"dagster/partition": unknown})
    assert refused.status == DagsterRunStatus.FAILURE
    assert get_import(engine, team_id, unknown) is None
