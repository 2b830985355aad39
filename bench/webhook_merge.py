"""The merge alone (the one statement where per-contact webhook events are written), with and
without an endpoint that wants one event per contact: N staged rows merged into a fresh team as a
first load, then merged again (every row an update). Runs alternate, so a busy machine slows both
alike; the merge is where the events cost, so its ratio bounds the whole import's.

Usage: python bench/webhook_merge.py [--rows 100000] [--repeat 3]
Needs the local PostgreSQL (socket /var/run/postgresql); uses its own database, roster_bench_webhook_merge.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
import uuid

SOCKET = "/var/run/postgresql"
DB = "roster_bench_webhook_merge"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    for sql in (f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", f"CREATE DATABASE {DB}"):
        subprocess.run(["psql", "-qX", "-h", SOCKET, "-d", "postgres", "-c", sql], check=True, capture_output=True)
    os.environ["DATABASE_URL"] = f"postgresql:///{DB}?host={SOCKET}"
    import sqlalchemy as sa

    from roster.runtime.database import get_engine
    from roster.store import imports, merge, staging, webhooks
    from roster.store.teams import ensure as ensure_team
    from schemas.import_options import ImportOptions

    engine = get_engine()
    times: dict[str, dict[str, list[float]]] = {m: {"create": [], "update": []} for m in ("none", "each_contact")}
    for run in range(args.repeat):
        for mode in ("none", "each_contact"):
            team = ensure_team(engine, f"bench-{mode}-{run}")
            if mode != "none":
                webhooks.create(engine, team, "https://example.com/h", ["contact.created", "contact.updated"], mode)
            for kind in ("create", "update"):
                import_id = str(uuid.uuid4())
                imports.create(engine, import_id, team, "bench", "b.csv", "b.csv", {}, launched=True)
                stage = staging.stage_table(import_id)
                with engine.begin() as conn:
                    conn.execute(
                        sa.text(
                            f"CREATE UNLOGGED TABLE {stage} (row_number bigint NOT NULL, email text NOT NULL, "
                            "first_name text, last_name text, unsubscribed boolean, id uuid NOT NULL DEFAULT gen_random_uuid(), "
                            "properties text NOT NULL DEFAULT '{}')"
                        )
                    )
                    conn.execute(
                        sa.text(
                            f"INSERT INTO {stage} (row_number, email, first_name, last_name, unsubscribed) SELECT g, 'user' || g || '@example.com', 'First' || g, 'Last', g % 10 = 0 "
                            "FROM generate_series(1, :n) g"
                        ),
                        {"n": args.rows},
                    )
                    conn.execute(sa.text(f"ANALYZE {stage}"))
                imports.update(engine, import_id, staged_rows=args.rows)
                t0 = time.perf_counter()
                merge.merge(engine, import_id, team, ImportOptions(), maps_unsubscribed=True)
                seconds = time.perf_counter() - t0
                times[mode][kind].append(seconds)
                with engine.begin() as conn:
                    conn.execute(sa.text(staging.drop_sql(import_id)))
                print(f"{mode:>12} {kind}: {seconds:6.2f} s", flush=True)
    print(f"\nthe merge of {args.rows:,} rows, medians of {args.repeat}:")
    base = {k: statistics.median(times["none"][k]) for k in ("create", "update")}
    for mode, row in times.items():
        med = {k: statistics.median(v) for k, v in row.items()}
        ratio = " / ".join(f"{med[k] / base[k]:.2f}x" for k in ("create", "update"))
        print(f"  {mode:>12}: create {med['create']:.2f} s, update {med['update']:.2f} s ({ratio})")
    engine.dispose()
    subprocess.run(
        ["psql", "-qX", "-h", SOCKET, "-d", "postgres", "-c", f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"], check=True
    )


if __name__ == "__main__":
    main()
