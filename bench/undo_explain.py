"""The merge statement's plan with and without the undo record (EXPLAIN ANALYZE through auto_explain).

Usage: python bench/undo_explain.py [--rows 200000] [--keep]

Sets up bench/undo_cost.py's database (two `roster import`s of the rows-row file; --keep reuses
it), stages a third import, and runs its merge (rolled back at the merge's fault point) with
auto_explain printing each statement's plan with timings and buffers.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import undo_cost
from run import generate, roster_import


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    path = generate(args.rows)
    tmp = tempfile.mkdtemp()
    if args.keep:
        undo_cost.DB, segment = Path("/tmp/undo_explain_segment").read_text().split()
        env = {"DATABASE_URL": f"postgresql:///{undo_cost.DB}?host=/var/run/postgresql", "ROSTER_DATA_DIR": tmp}
    else:
        env, segment = undo_cost.fresh(Path(tmp))
        for _ in range(2):
            s, r, _ = roster_import(path, env, segment)
            print(f"import {s:.2f} s {r['counts']}", flush=True)
        Path("/tmp/undo_explain_segment").write_text(f"{undo_cost.DB} {segment}")  # for --keep
    os.environ.update(DATABASE_URL=env["DATABASE_URL"], ROSTER_DATA_DIR=env["ROSTER_DATA_DIR"])

    import sqlalchemy as sa

    from roster.runtime.database import get_engine

    engine = get_engine()

    @sa.event.listens_for(engine, "begin")
    def explain(conn):
        raw = conn.connection.driver_connection
        if not getattr(raw, "_explained", False):
            raw.add_notice_handler(lambda d: print(d.message_primary, flush=True))
            raw._explained = True
        conn.exec_driver_sql("LOAD 'auto_explain'")
        for k, v in {
            "auto_explain.log_min_duration": "500",
            "auto_explain.log_analyze": "on",
            "auto_explain.log_buffers": "on",
            "auto_explain.log_timing": "on",
            "auto_explain.log_nested_statements": "on",
            "client_min_messages": "log",
        }.items():
            conn.exec_driver_sql(f"SET {k} = '{v}'")

    print(undo_cost.merge_times(path, segment, 1))


if __name__ == "__main__":
    main()
