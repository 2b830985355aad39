"""Memory and time of GET /contacts/imports/{id}/failures for an import with many failed rows
(FAULTS 4: 1M failed rows took the API +2.7 GiB for the CSV, +3.2 GiB for the JSON, and 7.4 GiB
for three GETs at once).

A real `uvicorn roster.api.app:app` process; the failed rows are written straight into the table
(as an import whose every row failed would leave them). Prints the API's peak RSS (VmHWM) before
and after: three concurrent full CSV downloads, then the JSON paged through in pages of 1000
(a sample of pages: the first, the middle, the last). While the downloads run, another team's
`GET /contacts/imports` is timed (median and slowest): the export must not hold up others (FAULTS 4:
another team waited up to 5 s). tests/api/test_failed_rows.py asserts that they are answered at all;
how fast is a number for a quiet machine, measured here.

Usage: python bench/failures_export.py [--rows 1000000]
Uses a fresh database on the local PostgreSQL (socket /var/run/postgresql) and a fresh data dir.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
SOCKET = "/var/run/postgresql"


def vm(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) // 1024  # MiB
    raise LookupError(field)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    db = f"roster_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"postgresql://root@/postgres?host={SOCKET}", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    url = f"postgresql://root@/{db}?host={SOCKET}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "ROSTER_DATA_DIR": tempfile.mkdtemp(prefix="roster-bench-"),
        "ROSTER_RATE_LIMIT": "1000",
        "PYTHONPATH": str(ROOT),
    }
    key = subprocess.run(
        [str(Path(sys.executable).parent / "roster"), "keys", "create", "--team", "bench", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    token = json.loads(key.stdout)["token"]
    other_key = subprocess.run(
        [str(Path(sys.executable).parent / "roster"), "keys", "create", "--team", "bench-other", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    other = {"Authorization": f"Bearer {json.loads(other_key.stdout)['token']}"}
    import_id = str(uuid.uuid4())
    with psycopg.connect(url, autocommit=True) as conn:
        team_id = conn.execute("SELECT id FROM teams WHERE name = 'bench'").fetchone()[0]
        conn.execute(
            "INSERT INTO contact_imports (id, team_id, status, file_path, file_info, completed_at) "
            "VALUES (%s, %s, 'completed', 'x', %s, now())",
            (import_id, team_id, json.dumps({"headers": ["Email", "First Name", "Last Name", "Plan"]})),
        )
        t0 = time.monotonic()
        conn.execute(
            "INSERT INTO contact_import_failures (import_id, row_number, email, reason, data) "
            "SELECT %s, g, 'user' || g || '#example.com', 'invalid email ''user' || g || '#example.com''', "
            "jsonb_build_object('Email', 'user' || g || '#example.com', 'First Name', 'First' || g, "
            "'Last Name', 'Last' || g, 'Plan', 'pro') FROM generate_series(1, %s) g",
            (import_id, args.rows),
        )
        print(f"wrote {args.rows:,} failed rows in {time.monotonic() - t0:.1f} s")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "roster.api.app:app", "--port", str(port), "--log-level", "warning"], env=env, cwd=ROOT
    )
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {token}"}
    try:
        while True:
            try:
                httpx.get(f"{base}/contacts/imports", headers=auth, timeout=5)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        start = vm(proc.pid, "VmHWM")
        print(f"API peak RSS after start: {start} MiB")
        sizes, times = [], []

        def download():
            t = time.monotonic()
            n = 0
            with httpx.stream("GET", f"{base}/contacts/imports/{import_id}/failures", headers=auth, timeout=600) as r:
                for chunk in r.iter_raw(1 << 16):
                    n += len(chunk)
            sizes.append(n)
            times.append(time.monotonic() - t)

        threads = [threading.Thread(target=download) for _ in range(3)]
        httpx.get(f"{base}/contacts/imports", headers=other, timeout=30)  # warm
        for th in threads:
            th.start()
        waits = []
        while any(th.is_alive() for th in threads):
            t = time.monotonic()
            httpx.get(f"{base}/contacts/imports", headers=other, timeout=60).raise_for_status()
            waits.append(time.monotonic() - t)
            time.sleep(0.1)
        for th in threads:
            th.join()
        print(
            f"3 concurrent CSV downloads: {sizes[0] / 1e6:.0f} MB each, {min(times):.1f}-{max(times):.1f} s; "
            f"API peak RSS {vm(proc.pid, 'VmHWM')} MiB (+{vm(proc.pid, 'VmHWM') - start})"
        )
        waits.sort()
        print(
            f"another team meanwhile: {len(waits)} requests, median {waits[len(waits) // 2] * 1000:.0f} ms, "
            f"slowest {waits[-1] * 1000:.0f} ms"
        )
        t = time.monotonic()
        for after in (None, args.rows // 2, args.rows - 1000):
            page = httpx.get(
                f"{base}/contacts/imports/{import_id}/failures",
                params={"limit": 1000, **({"after": after} if after else {})},
                headers={**auth, "Accept": "application/json"},
                timeout=60,
            ).json()
            assert len(page["data"]) == 1000
        print(
            f"JSON pages of 1000 (first, middle, last): {(time.monotonic() - t) / 3 * 1000:.0f} ms each; "
            f"API peak RSS {vm(proc.pid, 'VmHWM')} MiB (+{vm(proc.pid, 'VmHWM') - start})"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        with psycopg.connect(f"postgresql://root@/postgres?host={SOCKET}", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


if __name__ == "__main__":
    main()
