"""Stopping what a test started, and only that: a process and its own descendants.

Tests never look at the machine's process list: other suites, other checkouts and a developer's
own `roster serve` or `dagster dev` run beside them. A server a test started is stopped with its
tree, so no daemon or code server it spawned outlives the test.
"""

from __future__ import annotations

import subprocess
import sys

import psutil


def stop_tree(proc: subprocess.Popen, timeout: float = 60) -> None:
    """SIGTERM to `proc` (it stops its children itself), then SIGKILL to whatever of its tree is left."""
    try:
        tree = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        tree = []
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
    # psutil refuses to signal a pid that was reused since it was listed, so only our own are killed.
    _, left = psutil.wait_procs(tree, timeout=10)
    for p in left:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass


def api_server_command(port: int, *options: str) -> list[str]:
    """The API as production serves it, `uvicorn roster.api.app:app`, on 127.0.0.1:port, as its own process."""
    return [sys.executable, "-m", "uvicorn", "roster.api.app:app", "--host", "127.0.0.1", "--port", str(port), *options]
