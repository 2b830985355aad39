"""An import's progress names its phase (reading, staging, merging, done) wherever it is shown:
the import object every door renders, and the CLI's progress bar during the merge."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import sqlalchemy as sa

from pipelines.launch import run_import
from roster.importing.progress import describe
from roster.importing.render import render_import
from schemas.column_map import parse_column_map
from schemas.import_options import ImportOptions
from tests.helpers import NAMES_MAP, create_import, get_import, write_csv

BIN = Path(sys.executable).parent
HEADER = ["Email", "First Name", "Last Name"]


def _segment(engine, team_id) -> str:
    with engine.begin() as conn:
        return str(
            conn.execute(
                sa.text("INSERT INTO segments (team_id, name) VALUES (:t, 'progress') RETURNING id"), {"t": team_id}
            ).scalar_one()
        )


def _wait_for(path: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"the run never reached {path.name}"
        time.sleep(0.05)


def test_the_import_object_names_each_phase_as_the_run_passes_it(engine, team, tmp_path, monkeypatch):
    _, team_id = team
    seg = _segment(engine, team_id)
    path = write_csv(tmp_path / "p.csv", HEADER, [["a@example.com", "A", "1"], ["b@example.com", "B", "2"], ["bad", "", ""]])
    options = ImportOptions(column_map=parse_column_map(NAMES_MAP), segments=[seg])
    import_id = create_import(engine, None, team_id, path, "p.csv", options, launched=True)
    assert render_import(get_import(engine, team_id, import_id))["progress"] == {
        "phase": None,
        "rows_read": 0,
        "rows_staged": None,
        "memberships": None,
    }
    faults = tmp_path / "faults"
    faults.mkdir()
    monkeypatch.setenv("ROSTER_FAULT_DIR", str(faults))
    # The run stops at each of these points (roster/runtime/faults.py) until the test lets it go on.
    (faults / "mapping.pause").touch()
    worker = threading.Thread(target=run_import, args=(import_id, {"roster/source": "test"}), daemon=True)
    worker.start()
    seen = []
    for point, then in (("mapping", "staging"), ("staging", "merge"), ("merge", None)):
        _wait_for(faults / f"{point}.paused")
        seen.append(render_import(get_import(engine, team_id, import_id))["progress"])
        if then:
            (faults / f"{then}.pause").touch()
        (faults / f"{point}.paused").unlink()
    worker.join(timeout=120)
    done = render_import(get_import(engine, team_id, import_id))
    assert [p["phase"] for p in seen] == ["reading", "staging", "merging"]
    # The merge's statement has not committed: the staged rows are known, the memberships not yet.
    assert seen[2] == {"phase": "merging", "rows_read": 3, "rows_staged": 2, "memberships": None}
    assert done["status"] == "completed"
    assert done["progress"] == {"phase": "done", "rows_read": 3, "rows_staged": 2, "memberships": 2}


def test_describe_says_what_each_phase_is_doing():
    row = {"status": "in_progress", "phase": "staging", "rows_read": 1500, "options": {}, "merged_at": None}
    assert describe(row) == ("staging", "1,500 rows read and validated")
    merging = {**row, "phase": "merging", "staged_rows": 1490, "options": {"segments": ["s"]}}
    assert describe(merging) == ("merging", "1,490 rows into contacts and their memberships, in one transaction")
    assert describe({**merging, "options": {}})[1] == "1,490 rows into contacts, in one transaction"
    done = {**merging, "phase": "done", "merged_at": 1, "created": 3, "updated": 1, "skipped": 0, "failed": 2}
    done["merge_details"] = {"segments": 4, "topics": 0}
    assert describe(done) == ("done", "created 3 · updated 1 · skipped 0 · failed 2 · 4 memberships")


def test_the_cli_bar_shows_the_merge_while_it_runs(team, tmp_path):
    """`roster import` on a terminal: while the merge statement runs, the bar says so."""
    name, _ = team
    path = write_csv(tmp_path / "bar.csv", HEADER, [[f"u{i}@example.com", "U", str(i)] for i in range(20)])
    faults = tmp_path / "faults"
    faults.mkdir()
    (faults / "merge.pause").touch()
    env = {**os.environ, "ROSTER_FAULT_DIR": str(faults), "TERM": "xterm", "COLUMNS": "160"}
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [str(BIN / "roster"), "import", str(path), "--team", name],
        stdin=subprocess.DEVNULL,
        stdout=secondary,
        stderr=secondary,
        env=env,
    )
    os.close(secondary)
    screen = b""

    def read_for(seconds: float) -> None:
        nonlocal screen
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if select.select([primary], [], [], 0.1)[0]:
                try:
                    screen += os.read(primary, 65536)
                except OSError:  # the terminal closed: the process ended
                    return

    try:
        deadline = time.monotonic() + 180
        while not (faults / "merge.paused").exists():
            assert time.monotonic() < deadline and proc.poll() is None, screen.decode(errors="replace")[-2000:]
            read_for(0.2)
        read_for(1.5)  # a few of the bar's refreshes while the merge holds
        during = screen.decode(errors="replace")
        (faults / "merge.paused").unlink()
        proc.wait(timeout=120)
        read_for(0.5)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(primary)
    assert "merging" in during and "20 rows into contacts, in one transaction" in during, during[-2000:]
    assert proc.returncode == 0, screen.decode(errors="replace")[-2000:]


def test_the_dashboard_names_the_phase_the_api_and_the_cli_name():
    from roster.dashboard.view import progress as dashboard_progress
    from roster.importing.progress import describe

    row = {"status": "in_progress", "options": {}, "file_path": None, "rows_read": 1000}
    assert dashboard_progress({**row, "phase": "staging"})["phase"] == "Reading rows: 1,000 so far"
    merging = {**row, "phase": "merging", "staged_rows": 900}
    assert dashboard_progress(merging) == {"percent": 95, "phase": "Merging: " + describe(merging)[1]}
    assert dashboard_progress({**row, "phase": None})["percent"] == 0  # claimed, not yet reading
