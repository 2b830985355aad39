"""The fixed cost of one import: `roster import` of a 5-row file, start to finish, median of N runs.

Usage: python bench/fixed_cost.py [--runs 5]
A fresh database on the local PostgreSQL (socket /var/run/postgresql) and a fresh data directory
(so a fresh Dagster home). One untimed run first: it migrates the database and creates the Dagster
instance's files, which a user pays once, not per import. Prints each run's wall and CPU seconds,
then the medians, and the load average, since on 2 cores the figure moves with it.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOCKET = "/var/run/postgresql"
ROWS = "email,first_name,last_name\n" + "".join(f"user{i}@example.com,First{i},Last{i}\n" for i in range(5))


def one_import(env: dict, path: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one `roster import`, CPU counting the process and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "roster"), "import", str(path), "--team", "bench", "--json"],
        env=env,
        check=True,
        capture_output=True,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    db = "roster_fixed_cost"
    for sql in (f"DROP DATABASE IF EXISTS {db} WITH (FORCE)", f"CREATE DATABASE {db}"):
        subprocess.run(["psql", "-qX", "-h", SOCKET, "-d", "postgres", "-c", sql], check=True, capture_output=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "five.csv"
        path.write_text(ROWS)
        env = {**os.environ, "DATABASE_URL": f"postgresql:///{db}?host={SOCKET}", "ROSTER_DATA_DIR": str(Path(tmp) / "data")}
        env.pop("DAGSTER_HOME", None)
        one_import(env, path)  # migrations and the Dagster instance's files: once per installation
        walls, cpus = [], []
        for run in range(args.runs):
            wall, cpu = one_import(env, path)
            walls.append(wall)
            cpus.append(cpu)
            print(f"run {run}: {wall:.2f} s wall, {cpu:.2f} s CPU", flush=True)
    load = os.getloadavg()
    print(
        f"median {statistics.median(walls):.2f} s wall, {statistics.median(cpus):.2f} s CPU over {args.runs} runs "
        f"(min {min(walls):.2f}, max {max(walls):.2f}); load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


if __name__ == "__main__":
    main()
