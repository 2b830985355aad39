"""Crash points, for the kill-and-retry tests: with ROSTER_CRASH_AT=<name> in the environment,
the process kills itself (SIGKILL, as the OOM killer or a lost machine would) at that point."""
import os
import signal


def crash_point(name: str) -> None:
    if os.environ.get("ROSTER_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
