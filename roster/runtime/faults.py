"""Fault points, for the tests that kill and crash things for real.

Each import stage calls `fault_point(name)` where a crash teaches something. Nothing happens
unless a test armed it:

- `ROSTER_CRASH_AT=<name>`: the process kills itself there (SIGKILL, as the OOM killer or a lost
  machine would). For a process the test starts itself (`roster import`).
- `ROSTER_FAULT_DIR=<dir>`, for processes the test does not start itself (run workers under
  `roster serve`), armed once per fault by a file in that directory:
  - `<name>.crash`: the first process to reach the point removes the file and kills itself;
  - `<name>.pause`: the first process to reach the point removes it, writes `<name>.paused`
    (its pid) and waits, up to 10 minutes, until the test removes `<name>.paused`. Meanwhile the
    test does what a fault does (kills processes, crash-restarts the database, takes storage away).
  - `<name>.fail`: the process reaching the point raises InjectedFault (an error it may recover
    from, as a launch that failed); the file says how many times (empty: once; `always`: every
    time, until the test removes it). For a point one process reaches (the daemon's launcher).
"""

import os
import signal
import time
from pathlib import Path

PAUSE_LIMIT_SECONDS = 600


class InjectedFault(RuntimeError):
    """A failure a test armed (`<name>.fail`)."""


def _take(path: Path) -> bool:
    """Removes an arming file; True for the one process that removed it."""
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False


def fault_point(name: str) -> None:
    if os.environ.get("ROSTER_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
    fault_dir = os.environ.get("ROSTER_FAULT_DIR")
    if not fault_dir:
        return
    folder = Path(fault_dir)
    if _take(folder / f"{name}.crash"):
        os.kill(os.getpid(), signal.SIGKILL)
    _fail(folder / f"{name}.fail", name)
    if _take(folder / f"{name}.pause"):
        paused = folder / f"{name}.paused"
        paused.write_text(str(os.getpid()))
        deadline = time.monotonic() + PAUSE_LIMIT_SECONDS
        while paused.exists() and time.monotonic() < deadline:
            time.sleep(0.1)


def _fail(path: Path, name: str) -> None:
    try:
        left = path.read_text().strip()
    except FileNotFoundError:
        return
    if left != "always":
        times = int(left or "1")
        if times <= 1:
            if not _take(path):
                return
        else:
            path.write_text(str(times - 1))
    raise InjectedFault(f"fault point {name}: failed as armed")
