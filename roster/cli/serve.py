"""`roster serve`: the API, the Dagster daemon (sensors, run queue, run monitoring), the Dagster
UI and the code server they share, together, in the foreground, on one database; Ctrl-C or
SIGTERM stops them all.

The code location is served by one `dagster api grpc` process that the daemon and the UI both
use (a workspace file naming its socket). Left to themselves, `dagster-daemon -m` and
`dagster-webserver -m` each start a code server of their own, and the daemon replaces its one
with a new process every 60 s (Dagster reloads a workspace it manages that often): seconds of
CPU a minute of loading the code location again while nothing happens.

It is one unit whatever stops it: its children die with it even when it is killed with SIGKILL
(roster/runtime/lifeline.py), and they stay in its process group, so `kill -9 -<pgid>` takes them all.
A run its death interrupts is an ordinary dead run: the next `roster serve` notices it and
retries the import (pipelines/watchdog.py).

In production run the pieces separately (see the README): `uvicorn roster.api.app:app`,
`dagster-daemon run -m pipelines.definitions`, `dagster-webserver -m pipelines.definitions`,
with the same DATABASE_URL, ROSTER_DATA_DIR and DAGSTER_HOME.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from pipelines.launch import dagster_instance
from roster.runtime import lifeline
from roster.runtime.database import database_url
from roster.runtime.settings import get_settings

err = Console(stderr=True)
MAX_CRASHES, CRASH_WINDOW_SECONDS = 5, 120
CODE_SERVER_START_SECONDS = 180


def _environment() -> dict[str, str]:
    """One database and one Dagster home for every process (the embedded server is started here)."""
    env = os.environ.copy()
    env["DATABASE_URL"] = database_url()
    dagster_instance()  # creates DAGSTER_HOME with the shipped instance config
    env["DAGSTER_HOME"] = str(get_settings().dagster_home)
    env["ROSTER_DATA_DIR"] = str(get_settings().data_dir)
    env.setdefault("ROSTER_LAUNCH", "sensor")
    env[lifeline.ENV] = "1"
    return env


CODE_LOCATION = "pipelines.definitions"


def workspace_file(directory: Path) -> Path:
    """A workspace naming the shared code server's socket (under `directory`), by the location name
    `-m pipelines.definitions` gives it, so runs and sensors keep their names."""
    path = directory / "workspace.yaml"
    path.write_text(
        f"load_from:\n  - grpc_server:\n      socket: {directory / 'code.sock'}\n      location_name: {CODE_LOCATION}\n"
    )
    return path


def commands(host: str, port: int, ui_port: int | None, workspace: Path) -> dict[str, list[str]]:
    bin_dir = Path(sys.executable).parent
    socket_path = str(workspace.parent / "code.sock")
    cmds = {
        "code": [sys.executable, "-m", "dagster", "api", "grpc", "-m", CODE_LOCATION, "--socket", socket_path],
        # `uvicorn roster.api.app:app --no-access-log`, its loop ticking once a second (roster/api/quiet_server.py).
        "api": [sys.executable, "-m", "roster.api.quiet_server", "--host", host, "--port", str(port)],
        "daemon": [str(bin_dir / "dagster-daemon"), "run", "-w", str(workspace)],
    }
    if ui_port:
        # `dagster-webserver -w ... -h ... -p ...`, its loop ticking once a second (pipelines/ui_server.py).
        cmds["ui"] = [sys.executable, "-m", "pipelines.ui_server", "-w", str(workspace), "-h", host, "-p", str(ui_port)]
    return cmds


def port_holder(host: str, port: int) -> str | None:
    """None if the port is free, else who holds it, in words (the process, when this user can see it)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return None
        except OSError:
            pass
    pid = _listening_pid(port)
    if pid is None:
        return f"port {port} is in use"
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    return f"port {port} is held by pid {pid} ({cmdline[:120]})"


def _listening_pid(port: int) -> int | None:
    """The process with a listening socket on the port, from /proc (Linux)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # 0A: LISTEN
                inodes.add(fields[9])
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return int(proc.name)
        except OSError:
            continue
    return None


def serve(host: str, port: int, ui_port: int | None) -> int:
    for each in [port, ui_port] if ui_port else [port]:
        held = port_holder(host, each)
        if held:
            err.print(
                f"[red]roster: {held}[/red]; an earlier `roster serve`? Stop it (kill <pid>, or "
                f"pkill -f 'roster serve') or choose --port/--ui-port.",
                highlight=False,
                soft_wrap=True,
            )
            return 1
    env = _environment()
    if ui_port and host not in ("0.0.0.0", "::"):
        # The dashboard links each import's run in this Dagster UI.
        env.setdefault("ROSTER_DAGSTER_URL", f"http://{host}:{ui_port}")
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # A short path: a Unix socket's name must fit in 108 bytes.
    scratch = Path(tempfile.mkdtemp(prefix="roster-serve-"))
    try:
        return _run(host, port, ui_port, env, procs, workspace_file(scratch), lambda: stopping)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _code_server_ready(sock: Path, proc: subprocess.Popen[bytes], stopping: Callable[[], bool]) -> None:
    """Wait (at start only) until the code server answers on its socket, so the daemon and the UI
    find the code location loaded at once instead of at their next workspace refresh."""
    deadline = time.monotonic() + CODE_SERVER_START_SECONDS
    while proc.poll() is None and not stopping() and time.monotonic() < deadline:
        with socket.socket(socket.AF_UNIX) as s:
            try:
                s.connect(str(sock))
                return
            except OSError:
                pass
        time.sleep(0.2)


def _start(name: str, cmds: dict[str, list[str]], env: dict[str, str], workspace: Path) -> subprocess.Popen[bytes]:
    if name == "code":
        (workspace.parent / "code.sock").unlink(missing_ok=True)  # a dead one's
    return subprocess.Popen(cmds[name], env=env, preexec_fn=lifeline.die_with_parent)


def _run(
    host: str,
    port: int,
    ui_port: int | None,
    env: dict[str, str],
    procs: dict[str, subprocess.Popen[bytes]],
    workspace: Path,
    stopping: Callable[[], bool],
) -> int:
    cmds = commands(host, port, ui_port, workspace)
    procs["code"] = _start("code", cmds, env, workspace)
    procs["api"] = _start("api", cmds, env, workspace)
    _code_server_ready(workspace.parent / "code.sock", procs["code"], stopping)
    for name in cmds:
        if name not in procs:
            procs[name] = _start(name, cmds, env, workspace)
    err.print(
        f"roster: API on http://{host}:{port}"
        + (f", Dagster UI on http://{host}:{ui_port}" if ui_port else "")
        + f"; database {env['DATABASE_URL'].split('@')[-1]}; Ctrl-C stops"
    )
    code, stop_now = 0, False
    crashes: list[float] = []
    while not (stop_now or stopping()):
        for name, p in procs.items():
            if p.poll() is None:
                continue
            # A piece that died (its storage failed for a moment, a bug) is started again, so the rest
            # keeps serving; one that keeps dying stops everything with the reason on screen.
            now = time.monotonic()
            crashes = [t for t in crashes if now - t < CRASH_WINDOW_SECONDS] + [now]
            if len(crashes) > MAX_CRASHES:
                err.print(
                    f"[red]roster: {name} exited with {p.returncode} ({len(crashes)} exits in "
                    f"{CRASH_WINDOW_SECONDS} s); stopping the rest[/red]"
                )
                code, stop_now = 1, True
                break
            err.print(f"[yellow]roster: {name} exited with {p.returncode}; starting it again[/yellow]")
            time.sleep(1)
            procs[name] = _start(name, cmds, env, workspace)
        time.sleep(0.5)
    for p in procs.values():
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + 15
    for p in procs.values():
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return code
