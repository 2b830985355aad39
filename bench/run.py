"""Roster against the raw-SQL floor, in the same run, on the same PostgreSQL server.

Usage: python bench/run.py [--rows 1000000] [--memory-rows 0] [--repeat 1] [--no-segment] [--create-only]

1. Generates the data with bench/gen_contacts.py (kept in bench/data/ for the next run).
2. Times the raw-SQL floor, bench/floor.py, on it: a first load, then the same file again (updates
   every row).
3. Times `roster import` the same two ways, into a fresh database on the same server, in a
   fresh data directory, and reads its peak RSS. With --create-only, only the first load (both).
4. Prints each ratio to the floor. With --memory-rows N, also imports an N-row file and prints its
   peak RSS and how its time compares with the 1M-row time (linearity).
Needs the local PostgreSQL (socket /var/run/postgresql, as floor.py does). ROSTER_BENCH_DB names
the database (default roster_bench; when set, the floor uses <name>_floor), so two benches on one
server do not drop each other's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from floor import ensure_database, floor  # bench/ is on sys.path: this script's own folder
from gen_contacts import write_contacts

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"
SOCKET = "/var/run/postgresql"
# Two benches on one server at once (helpers sharing a machine) must not drop each other's database.
BENCH_DB = os.environ.get("ROSTER_BENCH_DB", "roster_bench")
COLUMN_MAP = {
    "email": "Email",
    "first_name": "First Name",
    "last_name": "Last Name",
    "unsubscribed": {"column": "Subscribed", "invert": True},
    "properties": {
        "plan": {"column": "Plan"},
        "company": {"column": "Company"},
        "country": {"column": "Country"},
        "signup_date": {"column": "Signup Date"},
        "ltv": {"column": "Lifetime Value", "type": "number"},
    },
}


def generate(rows: int) -> Path:
    """The rows-row file of gen_contacts.py's defaults, made once and kept in bench/data/."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"contacts_{rows}.csv"
    if not path.exists():
        partial = path.with_suffix(".partial")  # an interrupted run must not leave a short file to reuse
        with partial.open("w", newline="", encoding="utf-8") as out:
            write_contacts(out, rows)
        partial.rename(path)
    return path


def floor_url() -> str | None:
    """The floor's own database beside ROSTER_BENCH_DB's when that is set (floor.py's default otherwise)."""
    if "ROSTER_BENCH_DB" not in os.environ:
        return None
    url = f"postgresql:///{BENCH_DB}_floor?host={SOCKET}"
    ensure_database(url)
    return url


def psql(db: str, sql: str) -> None:
    subprocess.run(["psql", "-qX", "-h", SOCKET, "-d", db, "-c", sql], check=True, capture_output=True)


def roster_import(path: Path, env: dict, segment: str | None) -> tuple[float, dict, int]:
    """Seconds, the import object, and the peak RSS (KiB) of the `roster import` process."""
    cmd = [
        str(ROOT / ".venv" / "bin" / "roster"),
        "import",
        str(path),
        "--team",
        "bench",
        "--json",
        "--column-map",
        json.dumps(COLUMN_MAP),
    ]
    if segment:
        cmd += ["--segment", segment]
    wrapped = ["/usr/bin/time", "-f", "%M", *cmd] if Path("/usr/bin/time").exists() else cmd
    t0 = time.perf_counter()
    p = subprocess.run(wrapped, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"roster import failed: {p.stderr[-2000:]}")
    rss = int(p.stderr.strip().splitlines()[-1]) if wrapped is not cmd else resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, json.loads(p.stdout), rss


def fresh_roster(tmp: Path) -> tuple[dict, str]:
    """A new database and data directory, migrated, with a team and a segment to import into."""
    db = BENCH_DB
    psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    psql("postgres", f"CREATE DATABASE {db}")
    env = {**os.environ, "DATABASE_URL": f"postgresql:///{db}?host={SOCKET}", "ROSTER_DATA_DIR": str(tmp)}
    env.pop("DAGSTER_HOME", None)
    code = (
        "from roster.runtime.database import get_engine; from roster.store.teams import ensure as ensure_team; import sqlalchemy as sa\n"
        "e = get_engine(); t = ensure_team(e, 'bench')\n"
        "with e.begin() as c: print(c.execute(sa.text(\"INSERT INTO segments (team_id, name) VALUES (:t, 'bench') RETURNING id\"), {'t': t}).scalar())"
    )
    segment = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-c", code], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    return env, segment


def compare(rows: int, repeat: int = 1, segment: bool = True, update: bool = True, log=print) -> dict:
    """The floor and `roster import` on the same rows-row file, `repeat` times (medians): a first load
    and, unless update=False, the same file again. Seconds, ratios to the floor, peak RSS (MiB)."""
    path = generate(rows)
    floors, creates, updates, rss = [], [], [], []
    for _ in range(repeat):
        floors.append(floor(path, floor_url(), update=update))
        with tempfile.TemporaryDirectory() as tmp:
            env, seg = fresh_roster(Path(tmp))
            seg = seg if segment else None
            s1, r1, m1 = roster_import(path, env, seg)
            s2, r2, m2 = roster_import(path, env, seg) if update else (None, r1, m1)
        assert r1["status"] == r2["status"] == "completed", (r1, r2)
        creates.append(s1)
        updates.append(s2)
        rss += [m1, m2]
        done = f"{floors[-1][0]:.2f}" + (f"/{floors[-1][1]:.2f}" if update else "")
        log(f"run: floor {done} s, roster {s1:.2f}" + (f"/{s2:.2f}" if update else "") + f" s, counts {r1['counts']}", flush=True)
    out = {
        "rows": rows,
        "segment": segment,
        "floor_create": statistics.median(f[0] for f in floors),
        "create": statistics.median(creates),
        "rss_mib": max(rss) / 1024,
    }
    out["create_ratio"] = out["create"] / out["floor_create"]
    if update:
        out["floor_update"] = statistics.median(f[1] for f in floors)
        out["update"] = statistics.median(updates)
        out["update_ratio"] = out["update"] / out["floor_update"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--memory-rows", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each measurement; medians are printed")
    ap.add_argument("--no-segment", action="store_true", help="import without adding contacts to a segment")
    ap.add_argument("--create-only", action="store_true", help="the first load only, not the same file again")
    args = ap.parse_args()
    r = compare(args.rows, args.repeat, segment=not args.no_segment, update=not args.create_only)
    print(f"rows: {args.rows:,}  segment: {not args.no_segment}")
    if args.create_only:
        print(f"floor   create {r['floor_create']:6.2f} s")
        print(f"roster  create {r['create']:6.2f} s   peak RSS {r['rss_mib']:.0f} MiB")
        print(f"ratio   create {r['create_ratio']:6.2f}")
    else:
        print(f"floor   create {r['floor_create']:6.2f} s   update {r['floor_update']:6.2f} s")
        print(f"roster  create {r['create']:6.2f} s   update {r['update']:6.2f} s   peak RSS {r['rss_mib']:.0f} MiB")
        print(f"ratio   create {r['create_ratio']:6.2f}     update {r['update_ratio']:6.2f}")
    if args.memory_rows:
        big = generate(args.memory_rows)
        with tempfile.TemporaryDirectory() as tmp:
            env, segment = fresh_roster(Path(tmp))
            s, r_, m = roster_import(big, env, None if args.no_segment else segment)
        print(
            f"memory  {args.memory_rows:,} rows: {s:.2f} s, peak RSS {m / 1024:.0f} MiB, "
            f"time per row vs {args.rows:,}: {(s / args.memory_rows) / (r['create'] / args.rows):.2f}x, counts {r_['counts']}"
        )


if __name__ == "__main__":
    main()
