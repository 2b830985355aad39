"""`GET /contacts` with no limit (Resend's "every contact"), streamed: time, bytes, and the API
process's peak RSS, for a team of N contacts (each with two properties).

Usage: python bench/list_all.py [--contacts 200000] [--runs 3]
Uses a fresh database on the local PostgreSQL (socket /var/run/postgresql), uvicorn in its own
process (its RSS is sampled every 20 ms from /proc while the list streams).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
SOCKET = "/var/run/postgresql"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contacts", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    db = "roster_list_bench"
    psql = ["psql", "-qX", "-h", SOCKET]
    subprocess.run(
        [*psql, "-d", "postgres", "-c", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)", "-c", f"CREATE DATABASE {db}"], check=True
    )
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": f"postgresql:///{db}?host={SOCKET}",
            "ROSTER_DATA_DIR": tmp,
            "ROSTER_RATE_LIMIT": "1000",
        }
        key = json.loads(
            subprocess.run(
                [str(BIN / "roster"), "keys", "create", "--team", "bench", "--json"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )["token"]
        subprocess.run(
            [
                *psql,
                "-d",
                db,
                "-c",
                "INSERT INTO contacts (team_id, email, first_name, properties, created_at) "
                "SELECT t.id, 'user' || i || '@example.com', 'First' || i, "
                "jsonb_build_object('plan', 'pro', 'seats', i % 50), now() - i * interval '1 millisecond' "
                f"FROM generate_series(1, {args.contacts}) i, (SELECT id FROM teams WHERE name = 'bench') t",
                "-c",
                "VACUUM ANALYZE contacts",
            ],
            check=True,
        )
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen(
            [str(BIN / "uvicorn"), "roster.api.app:app", "--port", str(port), "--log-level", "warning"], env=env, cwd=ROOT
        )
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600, headers={"Authorization": f"Bearer {key}"})
        try:
            for _ in range(240):
                try:
                    client.get("/segments")
                    break
                except httpx.HTTPError:
                    time.sleep(0.25)
            client.get("/contacts", params={"limit": 1})  # warm: imports, pool
            base = rss_kib(server.pid)
            times, peaks = [], []
            for run in range(args.runs):
                peak = [0]
                done = threading.Event()

                def sample():
                    while not done.is_set():
                        peak[0] = max(peak[0], rss_kib(server.pid))
                        time.sleep(0.02)

                sampler = threading.Thread(target=sample)
                sampler.start()
                t0 = time.perf_counter()
                size = 0
                with client.stream("GET", "/contacts") as r:
                    for chunk in r.iter_bytes():
                        size += len(chunk)
                seconds = time.perf_counter() - t0
                done.set()
                sampler.join()
                times.append(seconds)
                peaks.append(peak[0])
                print(f"run {run}: {seconds:.2f} s, {size / 1e6:.1f} MB, API RSS peak {peak[0] / 1024:.0f} MiB", flush=True)
            body = json.loads(client.get("/contacts").content)
            assert len(body["data"]) == args.contacts and body["has_more"] is False
            print(
                f"{args.contacts:,} contacts: median {statistics.median(times):.2f} s; API RSS {base / 1024:.0f} MiB "
                f"before, peak {max(peaks) / 1024:.0f} MiB while streaming"
            )
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
