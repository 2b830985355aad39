"""What webhook events cost an import: `roster import` of the same file with no endpoint, with a
summary endpoint (one contact_import.completed) and with an endpoint that wants one event per
contact (`import_events: each_contact`, contact.created / contact.updated), a first load and then
the same file again (every row an update). Modes alternate, run after run, so a busy machine
slows them alike. Only the outbox is measured: no daemon runs, nothing is sent.

Usage: python bench/webhook_events.py [--rows 1000000] [--repeat 1]
Needs the local PostgreSQL (socket /var/run/postgresql); uses its own database, roster_bench_webhooks.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

from run import ROOT, SOCKET, generate, psql, roster_import

DB = "roster_bench_webhooks"
MODES = ("none", "summary", "each_contact")


def fresh(tmp: Path, mode: str) -> tuple[dict, str]:
    psql("postgres", f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    psql("postgres", f"CREATE DATABASE {DB}")
    env = {**os.environ, "DATABASE_URL": f"postgresql:///{DB}?host={SOCKET}", "ROSTER_DATA_DIR": str(tmp)}
    env.pop("DAGSTER_HOME", None)
    code = (
        "from roster.runtime.database import get_engine; from roster.store.teams import ensure as ensure_team; import sqlalchemy as sa\n"
        "from roster.store import webhooks\n"
        "e = get_engine(); t = ensure_team(e, 'bench')\n"
        f"mode = {mode!r}\n"
        "if mode != 'none': webhooks.create(e, t, 'https://example.com/h', "
        "['contact.created', 'contact.updated', 'contact_import.completed'], mode)\n"
        "with e.begin() as c: print(c.execute(sa.text(\"INSERT INTO segments (team_id, name) VALUES (:t, 'bench') RETURNING id\"), {'t': t}).scalar())"
    )
    segment = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-c", code], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    return env, segment


def events(env: dict) -> int:
    out = subprocess.run(
        ["psql", "-qXtA", "-h", SOCKET, "-d", DB, "-c", "SELECT count(*) FROM webhook_deliveries"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(out.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    path = generate(args.rows)
    times: dict[str, dict[str, list[float]]] = {m: {"create": [], "update": []} for m in MODES}
    for _ in range(args.repeat):
        for mode in MODES:
            with tempfile.TemporaryDirectory(prefix="roster-bench-wh-") as tmp:
                env, segment = fresh(Path(tmp), mode)
                for kind in ("create", "update"):
                    seconds, imported, _ = roster_import(path, env, segment)
                    assert imported["status"] == "completed", imported
                    times[mode][kind].append(seconds)
                    print(f"{mode:>12} {kind}: {seconds:6.2f} s  ({events(env):,} events so far)", flush=True)
    base = {k: statistics.median(times["none"][k]) for k in ("create", "update")}
    print(f"\n{args.rows:,} rows, medians of {args.repeat}:")
    for mode in MODES:
        row = {k: statistics.median(times[mode][k]) for k in ("create", "update")}
        ratio = " / ".join(f"{row[k] / base[k]:.3f}x" for k in ("create", "update"))
        print(f"  {mode:>12}: create {row['create']:.2f} s, update {row['update']:.2f} s  ({ratio} of no endpoint)")
    psql("postgres", f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")


if __name__ == "__main__":
    main()
