"""The import as people start it: `roster import`, `roster imports failures`, `dagster job execute`."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from resources.landing_store import LandingStore
from roster.imports import create_import, get_import
from roster.launch import add_partition
from schemas.column_map import ImportOptions
from tests.helpers import NAMES_MAP, contacts, write_csv

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]


def roster(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "roster"), *args], capture_output=True, text=True, env=os.environ.copy(), timeout=300)


def test_roster_import_json_and_failures(team, tmp_path):
    name, _ = team
    path = write_csv(tmp_path / "people.csv", ["Email", "First Name", "Last Name", "Score"], [
        ["ada@example.com", "Ada", "L", "1"], ["nope", "Bad", "Row", "2"], ["grace@example.com", "Grace", "H", "x"],
    ])
    cmap = json.dumps({**NAMES_MAP, "properties": {"score": {"column": "Score", "type": "number"}}})
    p = roster("import", str(path), "--column-map", cmap, "--team", name, "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert set(out) == {"object", "id", "status", "created_at", "completed_at", "counts"}
    assert out["object"] == "contact_import" and out["status"] == "completed"
    assert out["counts"] == {"total": 3, "created": 1, "updated": 0, "skipped": 0, "failed": 2}

    f = roster("imports", "failures", out["id"], "--team", name)
    assert f.returncode == 0, f.stderr
    rows = list(csv.DictReader(io.StringIO(f.stdout)))
    assert [r["row_number"] for r in rows] == ["2", "3"]
    assert rows[0]["reason"] == "invalid email 'nope'" and rows[0]["First Name"] == "Bad"
    assert rows[1]["email"] == "grace@example.com" and rows[1]["Score"] == "x" and "number" in rows[1]["reason"]


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
    config.write_text(json.dumps({"ops": {"import_file": {"config": {"column_map": json.dumps(NAMES_MAP), "on_conflict": "skip"}}}}))
    p = subprocess.run(
        [str(BIN / "dagster"), "job", "execute", "-m", "pipelines.definitions", "-j", "contact_import",
         "-c", str(config), "--tags", json.dumps({"dagster/partition": import_id})],
        capture_output=True, text=True, cwd=ROOT, env=os.environ.copy(), timeout=300,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    row = get_import(engine, team_id, import_id)
    assert row["status"] == "completed", row["error"]
    assert row["options"]["on_conflict"] == "skip"
    assert (row["total"], row["created"]) == (1, 1)
    assert contacts(engine, team_id)["ada@example.com"]["first_name"] == "Ada"
    # The run is in the instance's history, as the UI shows it.
    from roster.launch import dagster_instance

    runs = dagster_instance().get_runs()
    assert any(r.tags.get("dagster/partition") == import_id for r in runs)
