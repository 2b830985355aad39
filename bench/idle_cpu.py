"""CPU that `roster serve` takes doing nothing: the whole process tree (API, Dagster daemon, code
servers, webserver, a waiting run worker), over 60 s, on a fresh database.

Usage: python bench/idle_cpu.py [--seconds 60] [--settle 30] [--no-ui] [--root CHECKOUT]
(`--root`: the checkout whose .venv/bin/roster runs, for a before/after on another branch.)
Starts `roster serve` (with the Dagster UI, as a user runs it, unless --no-ui) against a fresh
database on the local PostgreSQL (socket /var/run/postgresql) and a fresh data dir, waits until the
API answers and then `--settle` seconds more (the daemon's first ticks, the code servers loading),
then sums utime+stime (/proc/<pid>/stat) of every process in the tree at the start and end of the
window. Processes that start or end inside the window count with what they used inside it (a
process that started counts from zero; one that ended counts until its last sample, taken every
second). Prints the total as a share of one core, each process's share, the processes that
started or ended in the window (a code server restarted while idle shows there), and the load.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from run import psql  # bench/ is on sys.path: this script's own folder

ROOT = Path(__file__).resolve().parents[1]
SOCKET = "/var/run/postgresql"
TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, int] | None:
    """(utime+stime in ticks, start time in ticks) of a process, None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12]), int(fields[19])


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(proc.name))
    return tree


def tree_of(root: int) -> list[int]:
    tree, found, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, []))
    return found


def _name(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    words = [a.decode(errors="replace") for a in argv if a]
    text = " ".join(Path(w).name if i == 0 else w for i, w in enumerate(words))
    return text[:90]


def measure(root: int, seconds: float) -> dict:
    """CPU seconds of root's tree over `seconds`, per process (keyed by (pid, start time))."""
    first: dict[tuple[int, int], int] = {}
    last: dict[tuple[int, int], int] = {}
    names: dict[tuple[int, int], str] = {}
    born: set[tuple[int, int]] = set()

    def sample(initial: bool) -> set[tuple[int, int]]:
        seen = set()
        for pid in tree_of(root):
            st = _stat(pid)
            if st is None:
                continue
            key = (pid, st[1])
            seen.add(key)
            if key not in first:
                first[key] = st[0] if initial else 0
                names[key] = _name(pid)
                if not initial:
                    born.add(key)
            last[key] = st[0]
        return seen

    at_start = sample(True)
    end = time.monotonic() + seconds
    seen = set(at_start)
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(1.0, left))
        seen = sample(False)
    ended = set(first) - seen
    used = {k: (last[k] - first[k]) / TICKS for k in first}
    return {"used": used, "names": names, "born": born, "ended": ended}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--settle", type=float, default=30)
    ap.add_argument("--no-ui", action="store_true")
    ap.add_argument("--json", action="store_true", help="one JSON line at the end")
    ap.add_argument("--root", type=Path, default=ROOT)
    args = ap.parse_args()
    bin_dir = args.root / ".venv" / "bin"

    # Its own database: two checkouts measured at once on one PostgreSQL (a before/after pair, two
    # people) must not drop each other's.
    db = f"roster_idle_bench_{os.getpid()}"
    psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    psql("postgres", f"CREATE DATABASE {db}")
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DATABASE_URL": f"postgresql:///{db}?host={SOCKET}", "ROSTER_DATA_DIR": tmp}
        env.pop("DAGSTER_HOME", None)
        key = subprocess.run(
            [str(bin_dir / "roster"), "keys", "create", "--team", "idle", "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        token = json.loads(key.stdout)["token"]
        ports = []
        for _ in range(2):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                ports.append(s.getsockname()[1])
        cmd = [str(bin_dir / "roster"), "serve", "--port", str(ports[0]), "--ui-port", "0" if args.no_ui else str(ports[1])]
        server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=open(Path(tmp) / "serve.log", "w"))
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    if (
                        httpx.get(
                            f"http://127.0.0.1:{ports[0]}/contacts/imports", headers={"Authorization": f"Bearer {token}"}
                        ).status_code
                        == 200
                    ):
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("roster serve did not come up:\n" + (Path(tmp) / "serve.log").read_text()[-3000:])
                time.sleep(0.5)
            time.sleep(args.settle)
            load_before = os.getloadavg()
            result = measure(server.pid, args.seconds)
            load_after = os.getloadavg()
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
            psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    used, names = result["used"], result["names"]
    total = sum(used.values())
    share = 100 * total / args.seconds
    print(f"roster serve{' (no UI)' if args.no_ui else ''}, idle {args.seconds:g} s after {args.settle:g} s settling")
    for k in sorted(used, key=used.get, reverse=True):
        mark = " (started in the window)" if k in result["born"] else " (ended in the window)" if k in result["ended"] else ""
        print(f"  {100 * used[k] / args.seconds:5.1f}%  pid {k[0]:>7}  {names[k]}{mark}")
    print(f"total {share:.1f}% of a core ({total:.2f} s CPU in {args.seconds:g} s)")
    print(f"load average before {load_before[0]:.2f} / after {load_after[0]:.2f} (1 min), {os.cpu_count()} cores")
    if args.json:
        print(
            json.dumps(
                {
                    "idle_cpu_percent": round(share, 2),
                    "seconds": args.seconds,
                    "processes_started": len(result["born"]),
                    "processes_ended": len(result["ended"]),
                    "load": [round(load_before[0], 2), round(load_after[0], 2)],
                }
            )
        )


if __name__ == "__main__":
    main()
