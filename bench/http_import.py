"""Median time for a 1,000-row import created over HTTP to complete, the way a user runs it:
`roster serve` (API + Dagster daemon: the launcher, told by PostgreSQL, submits the run, the run
queue launches it in its own process), POST /contacts/imports, then GET every 100 ms until it ends.

Usage: python bench/http_import.py [--runs 7] [--rows 1000]
Uses a fresh database on the local PostgreSQL (socket /var/run/postgresql) and a fresh data dir.
Each run is a new team's import, one after another, through the instance's run queue with its
limits as shipped (2 at once, 1 per team). Each line also says where the time went, from the
import's own timestamps: until the launcher (or the queued-imports sensor) claimed it, from the claim until the
run's first step started it (run request, queue, launch, worker), and the run itself.
The first run after `roster serve` starts has no worker waiting yet: it starts one then.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
from run import psql  # bench/ is on sys.path: this script's own folder

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
SOCKET = "/var/run/postgresql"


def csv_bytes(rows: int, prefix: str = "user") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["email", "first_name", "last_name"])
    for i in range(rows):
        w.writerow([f"{prefix}{i}@example.com", f"First{i}", f"Last{i}"])
    return buf.getvalue().encode()


@contextmanager
def serve(db: str) -> Iterator[tuple[str, dict]]:
    """`roster serve` on a free port against a fresh database `db` (dropped and made again) and a
    fresh data dir: yields (base URL, environment); SIGTERM on leaving."""
    psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    psql("postgres", f"CREATE DATABASE {db}")
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": f"postgresql:///{db}?host={SOCKET}",
            "ROSTER_DATA_DIR": tmp,
            "ROSTER_RATE_LIMIT": "1000",
        }
        env.pop("DAGSTER_HOME", None)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen(
            [str(BIN / "roster"), "serve", "--port", str(port), "--ui-port", "0"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield f"http://127.0.0.1:{port}", env
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
            psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def client_for(base_url: str, env: dict, team: str) -> httpx.Client:
    """A client with a new key of `team`, once the server answers."""
    key = subprocess.run(
        [str(BIN / "roster"), "keys", "create", "--team", team, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    client = httpx.Client(base_url=base_url, timeout=30, headers={"Authorization": f"Bearer {json.loads(key.stdout)['token']}"})
    for _ in range(120):  # the server may still be starting
        try:
            client.get("/contacts/imports")
            break
        except httpx.HTTPError:
            time.sleep(0.5)
    return client


def wait_ended(client: httpx.Client, import_id: str) -> dict:
    while (body := client.get(f"/contacts/imports/{import_id}").json())["status"] not in ("completed", "failed"):
        time.sleep(0.1)
    return body


def measure(runs: int = 7, rows: int = 1000, log=print) -> dict:
    """Seconds from POST to `completed` of `runs` imports, one after another: each run and the median."""
    data = csv_bytes(rows)
    db = f"roster_http_bench_{os.getpid()}"  # its own: runs at once must not drop each other's
    times = []
    with serve(db) as (base_url, env):
        for run in range(runs):
            client = client_for(base_url, env, f"bench{run}")
            t0 = time.perf_counter()
            import_id = client.post("/contacts/imports", files={"file": ("c.csv", data, "text/csv")}).json()["id"]
            body = wait_ended(client, import_id)
            seconds = time.perf_counter() - t0
            assert body["status"] == "completed" and body["counts"]["created"] == rows, body
            times.append(seconds)
            with psycopg.connect(f"dbname={db} host={SOCKET}") as conn:
                claim, start, work = conn.execute(
                    "SELECT extract(epoch FROM launched_at - created_at), extract(epoch FROM started_at - launched_at), "
                    "extract(epoch FROM completed_at - started_at) FROM contact_imports WHERE id = %s",
                    [import_id],
                ).fetchone()
            log(
                f"run {run}: {seconds:.2f} s (claim {claim:.2f} s, request+queue+launch {start:.2f} s, run {work:.2f} s)",
                flush=True,
            )
    return {"median": statistics.median(times), "times": times}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--rows", type=int, default=1000)
    args = ap.parse_args()
    times = measure(args.runs, args.rows)["times"]
    print(f"median {statistics.median(times):.2f} s over {len(times)} runs (min {min(times):.2f}, max {max(times):.2f})")


if __name__ == "__main__":
    main()
