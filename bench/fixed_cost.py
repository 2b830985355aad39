"""The fixed cost of one import: `roster import` of a 5-row file, start to finish, median of N runs.

Usage: python bench/fixed_cost.py [--runs 5] [--baseline DIR]
With --baseline, a checkout of another commit (`git worktree add --detach DIR COMMIT`) is timed
too, its runs alternating with this checkout's, each with its own database and data directory, so
both see the same machine (on 2 shared cores the load moves more than the change being measured).
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


# `roster` from another checkout with this virtual env: its folder first on the path, and the
# editable install's finder (which would find this checkout's packages) left out.
FROM_SOURCE = (
    "import sys; sys.meta_path = [f for f in sys.meta_path if 'editable' not in type(f).__module__]; "
    "sys.path.insert(0, sys.argv.pop(1)); sys.argv[0] = 'roster'; from roster.cli.app import main; main()"
)


def one_import(env: dict, path: Path, source: Path | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds of one `roster import`, CPU counting the process and its children."""
    roster = (
        [str(ROOT / ".venv" / "bin" / "python"), "-c", FROM_SOURCE, str(source)]
        if source
        else [str(ROOT / ".venv" / "bin" / "roster")]
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([*roster, "import", str(path), "--team", "bench", "--json"], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def fresh(db: str, tmp: Path) -> dict:
    for sql in (f"DROP DATABASE IF EXISTS {db} WITH (FORCE)", f"CREATE DATABASE {db}"):
        subprocess.run(["psql", "-qX", "-h", SOCKET, "-d", "postgres", "-c", sql], check=True, capture_output=True)
    env = {**os.environ, "DATABASE_URL": f"postgresql:///{db}?host={SOCKET}", "ROSTER_DATA_DIR": str(tmp / db)}
    env.pop("DAGSTER_HOME", None)
    env.pop("PYTHONPATH", None)
    # As a user runs it: Python keeps the compiled modules (this session's environment says not
    # to, which would compile all of Roster's own modules from source on every run).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def measure(runs: int = 5, baseline: Path | None = None, log=print) -> dict:
    """Per side ("this checkout", and "baseline" when given): the median wall and CPU seconds over
    `runs` imports and each run's wall seconds."""
    sides = {"this checkout": None}
    if baseline:
        sides["baseline"] = baseline.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "five.csv"
        path.write_text(ROWS)
        envs = {name: fresh(f"roster_fixed_cost_{i}", Path(tmp)) for i, name in enumerate(sides)}
        for name, source in sides.items():
            one_import(envs[name], path, source)  # migrations and the Dagster instance's files: once per installation
        walls: dict[str, list[float]] = {name: [] for name in sides}
        cpus: dict[str, list[float]] = {name: [] for name in sides}
        for run in range(runs):
            for name, source in sides.items():
                wall, cpu = one_import(envs[name], path, source)
                walls[name].append(wall)
                cpus[name].append(cpu)
                log(f"run {run} {name}: {wall:.2f} s wall, {cpu:.2f} s CPU", flush=True)
    return {
        name: {"wall": statistics.median(walls[name]), "cpu": statistics.median(cpus[name]), "walls": walls[name]}
        for name in sides
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--baseline", type=Path, help="a checkout of another commit, timed alternately with this one")
    args = ap.parse_args()
    result = measure(args.runs, args.baseline)
    load = os.getloadavg()
    for name, r in result.items():
        w = r["walls"]
        print(
            f"{name}: median {r['wall']:.2f} s wall, {r['cpu']:.2f} s CPU over {args.runs} runs "
            f"(min {min(w):.2f}, max {max(w):.2f})"
        )
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
