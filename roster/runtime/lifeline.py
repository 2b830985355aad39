"""Processes that die with their parent, so `roster serve` stops as one unit whatever kills it.

Two ways, because Linux offers no single one that covers a whole tree:
- `die_with_parent()`: PR_SET_PDEATHSIG, for the processes `roster serve` starts itself (the API,
  the Dagster daemon, the UI): the kernel sends them SIGKILL when `roster serve` dies, even by
  SIGKILL.
- `follow_parent()`: a thread that kills this process once its parent is gone (it waits on a
  pidfd of the parent, `follow()` below: no polling). For what Dagster starts below them, where no preexec hook is ours: code servers
  load `pipelines.definitions`, which calls this when `roster serve` asked for it
  (ROSTER_LIFELINE=1). A worker killed this way is an ordinary dead run: its import is retried.
- `parent_handle()` and `follow()`: the same for a run worker, which is forked by the daemon's fork
  server (pipelines/warm_run.py), not by the daemon: the fork server holds a handle on the daemon
  (a pidfd, no thread: a process that forks must have none), and each worker it forks follows
  the daemon through it, not its own parent.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import threading

PR_SET_PDEATHSIG, PR_GET_PDEATHSIG = 1, 2
ENV = "ROSTER_LIFELINE"


def die_with_parent() -> None:
    """For subprocess.Popen(preexec_fn=...): the child gets SIGKILL when its parent dies."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _kernel_follows_parent() -> bool:
    """This process was started with die_with_parent() (a death signal is set: fork clears it, so
    only the processes `roster serve` starts itself have one): the kernel already does it."""
    signal_number = ctypes.c_int(0)
    ctypes.CDLL(None, use_errno=True).prctl(PR_GET_PDEATHSIG, ctypes.byref(signal_number))
    return signal_number.value != 0


def follow_parent() -> None:
    if _kernel_follows_parent():
        return  # the code server and the daemon under `roster serve`: no thread at all
    handle = parent_handle()
    if handle is not None:  # None: already an orphan or a service of init, nothing to follow
        follow(handle)


def follow_parent_if_asked() -> None:
    if os.environ.get(ENV) == "1":
        follow_parent()


def parent_handle() -> int | None:
    """A pidfd of this process's parent (None if init already is), for workers to `follow()`."""
    parent = os.getppid()
    if parent == 1:
        return None
    handle = os.pidfd_open(parent)
    if os.getppid() != parent:  # it died before the handle was made: the pid may be another's by now
        os.close(handle)
        os.kill(os.getpid(), signal.SIGKILL)
    return handle


def follow(handle: int) -> None:
    """A thread that kills this process once the process behind `handle` (a pidfd) has ended."""

    def watch() -> None:
        select.select([handle], [], [])  # readable when that process ends
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="roster-lifeline", daemon=True).start()
