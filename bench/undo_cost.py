"""What recording an import's undo costs (issue 20: at most 10% of a 1M upsert's time).

Usage: python bench/undo_cost.py [--rows 1000000] [--repeat 3]

1. In a database of its own (roster_bench_undo_<random>) on the local server, `roster import` the file
   (bench/gen_contacts.py's, as bench/run.py) twice with a segment: a first load, then the upsert
   that updates every contact, timed end to end. That is "the import's time".
2. Then stages the same file once more for a third import (the import's own steps, in this
   process) and times its merge statement alone, --repeat times each, alternating: with the undo
   record (as shipped) and without it (roster.store.undo.merge_ctes replaced by nothing,
   mark_kept by a no-op). Each run updates every contact and is rolled back right after the
   statement (at the merge's fault point), and the tables are vacuumed between runs, so every
   run starts from the same contacts.
3. Prints the medians, the difference, and the difference as a share of the upsert's time; and
   the time of reverting the upsert import. Also the CPU time the merge's PostgreSQL backend
   spent (/proc/PID/stat), which a loaded machine inflates much less than the wall time: on a
   machine shared with other work, the wall-time difference is noise of the same order.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from run import COLUMN_MAP, SOCKET, generate, psql, roster_import

ROOT = Path(__file__).resolve().parents[1]
# A database of this run's own: not bench/run.py's, nor another undo_cost.py's running beside it
# (two runs sharing one name drop each other's database).
DB = f"roster_bench_undo_{uuid.uuid4().hex[:8]}"


def fresh(tmp: Path) -> tuple[dict, str]:
    psql("postgres", f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    psql("postgres", f"CREATE DATABASE {DB}")
    env = {**os.environ, "DATABASE_URL": f"postgresql:///{DB}?host={SOCKET}", "ROSTER_DATA_DIR": str(tmp)}
    env.pop("DAGSTER_HOME", None)
    code = (
        "from roster.runtime.database import get_engine; from roster.store.teams import ensure as ensure_team; import sqlalchemy as sa\n"
        "e = get_engine(); t = ensure_team(e, 'bench')\n"
        "with e.begin() as c: print(c.execute(sa.text(\"INSERT INTO segments (team_id, name) VALUES (:t, 'bench') RETURNING id\"), {'t': t}).scalar())"
    )
    out = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-c", code], env=env, check=True, capture_output=True, text=True
    )
    return env, out.stdout.strip()


def backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) a local process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def merge_times(path: Path, segment: str, repeat: int) -> tuple[list[float], list[float], float, list[float], list[float]]:
    """(merge seconds with undo, without undo, revert seconds, merge backend CPU seconds with
    undo, without), in this process."""
    import sqlalchemy as sa

    from roster.importing.service import ImportService
    from roster.importing.steps import ImportSteps, options_of
    from roster.runtime.database import get_engine
    from roster.store import imports, merge, undo
    from schemas.column_map import parse_column_map
    from schemas.import_options import ImportOptions

    engine = get_engine()
    service = ImportService(engine)
    team_id = service.team("bench")
    options = ImportOptions(column_map=parse_column_map(COLUMN_MAP), segments=[segment])
    import_id = service.create(team_id, path, path.name, options, "cli", launched=True)
    steps = ImportSteps(engine, service.landing, service.mapper, log=lambda _: None)
    steps.open_file(import_id, None, {})
    steps.map_columns(import_id)
    steps.stage_rows(import_id)
    steps.create_properties(import_id)
    row = imports.require(engine, import_id)
    opts = options_of(row)
    shipped = (undo.merge_ctes, undo.mark_kept)

    class Stop(Exception):
        pass

    def stop_at_merge(name: str) -> None:
        if name == "merge":  # right after the merge statement, inside its transaction: roll it back
            raise Stop()

    started: dict = {}

    @sa.event.listens_for(engine, "begin")
    def _cpu_at_begin(conn) -> None:  # the merge's transaction: its backend and its CPU so far
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        started.update(pid=pid, cpu=backend_cpu(pid))

    def one(with_undo: bool, commit: bool = False) -> tuple[float, float]:
        undo.merge_ctes, undo.mark_kept = shipped if with_undo else ((lambda scan=False, part="": ""), (lambda conn, i: None))
        merge.fault_point = (lambda name: None) if commit else stop_at_merge
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM contacts, contact_segments, import_undo"))
        t0 = time.perf_counter()
        try:
            merge.merge(engine, import_id, team_id, opts, maps_unsubscribed=True)
        except Stop:
            pass
        return time.perf_counter() - t0, backend_cpu(started["pid"]) - started["cpu"]

    with_undo, without, cpu_with, cpu_without = [], [], [], []
    for i in range(repeat):
        for kind in (True, False) if i % 2 == 0 else (False, True):
            wall, cpu = one(kind)
            (with_undo if kind else without).append(wall)
            (cpu_with if kind else cpu_without).append(cpu)
            print(f"  merge {'with' if kind else 'without'} undo: {wall:.2f} s (backend CPU {cpu:.2f} s)", flush=True)
    one(True, commit=True)  # the undo the revert below reads
    undo.merge_ctes, undo.mark_kept = shipped
    t0 = time.perf_counter()
    result = undo.revert(engine, team_id, import_id)
    revert = time.perf_counter() - t0
    print(f"  revert: {revert:.2f} s, {result.result}", flush=True)
    return with_undo, without, revert, cpu_with, cpu_without


def measure(rows: int, repeat: int = 3, log=print) -> dict:
    """Seconds of the merge with and without the undo record (medians), of the upsert import and of
    its revert; "share": the undo record's cost as a share of the upsert import's time."""
    path = generate(rows)
    saved = {k: os.environ.get(k) for k in ("DATABASE_URL", "ROSTER_DATA_DIR")}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env, segment = fresh(Path(tmp))
            s1, r1, _ = roster_import(path, env, segment)
            s2, r2, _ = roster_import(path, env, segment)
            assert r1["status"] == r2["status"] == "completed", (r1, r2)
            log(f"roster import: create {s1:.2f} s, upsert {s2:.2f} s ({r2['counts']})", flush=True)
            os.environ.update(DATABASE_URL=env["DATABASE_URL"], ROSTER_DATA_DIR=env["ROSTER_DATA_DIR"])
            with_undo, without, revert, cpu_with, cpu_without = merge_times(path, segment, repeat)
    finally:  # as it was, for a caller that measures more in this process (bench/table.py)
        if "roster.store.merge" in sys.modules:
            from roster.runtime.faults import fault_point

            sys.modules["roster.store.merge"].fault_point = fault_point  # merge_times replaced it
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        psql("postgres", f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    w, wo = statistics.median(with_undo), statistics.median(without)
    return {
        "with_undo": w,
        "without": wo,
        "upsert": s2,
        "share": (w - wo) / s2,
        "revert": revert,
        "cpu_with_undo": statistics.median(cpu_with),
        "cpu_without": statistics.median(cpu_without),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    r = measure(args.rows, args.repeat)
    print(f"rows: {args.rows:,}")
    print(
        f"merge with undo {r['with_undo']:.2f} s, without {r['without']:.2f} s (medians of {args.repeat}): "
        f"undo costs {r['with_undo'] - r['without']:.2f} s"
    )
    print(f"share of the upsert import's {r['upsert']:.2f} s: {r['share']:.1%}; revert of the upsert: {r['revert']:.2f} s")
    cw, cwo = r["cpu_with_undo"], r["cpu_without"]
    print(
        f"merge backend CPU with undo {cw:.2f} s, without {cwo:.2f} s (medians): undo costs {cw - cwo:.2f} s CPU, "
        f"{(cw - cwo) / cwo:.1%} of the merge's CPU, {(cw - cwo) / r['upsert']:.1%} of the upsert import's time"
    )


if __name__ == "__main__":
    main()
