"""Exactly once, whatever dies: each fault at each stage of an import under `roster serve`, and the
end state after recovery compared row for row with an uninterrupted run of the same file.

Faults, all real: SIGKILL of the run worker; SIGKILL of every process of `roster serve` (then
`roster serve` started again on the same ports); an immediate crash-restart of PostgreSQL
(`pg_ctl restart -m immediate`: UNLOGGED tables come back empty); the data directory (landing
files and Dagster's storage) read-only for 20 s. Stages are the fault points of the import
(roster/runtime/faults.py): after landing, after mapping, in the middle of staging, after properties,
inside the merge transaction (contacts, memberships and topics are written, not committed), just
after it commits, and before the report.

Slow (about 20 minutes): `pytest -m "not faults"` skips it. Set ROSTER_FAULT_REPORT=FILE to get
each case's recovery time as JSON lines.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.faults.harness import Team, fault_world, strike

pytestmark = pytest.mark.faults

STAGES = ["landing", "mapping", "staging", "properties", "merge", "merged", "report"]
FAULTS = ["worker", "everything", "database", "storage"]


@pytest.fixture(scope="module")
def world():
    with fault_world("roster-faults-") as world:
        yield world


def _mount(*args: str) -> None:
    out = subprocess.run(["mount", *args], capture_output=True, text=True)
    if out.returncode:
        raise OSError(f"mount {' '.join(args)}: {out.stderr.strip() or out.returncode}")


def _read_only(folder: Path):
    """The folder read-only for everyone, root included: a read-only bind mount over itself, made
    read-only before it is attached (Linux's mount API: open_tree, mount_setattr, move_mount).
    A bind mount attached first and remounted read-only after fails ("mount point is busy") as
    soon as a process has opened a file for writing through it in between, and the daemon and
    run workers write there all the time."""
    _attach_read_only_clone(folder)
    probe = folder / ".write-probe"
    try:
        probe.write_text("")
    except OSError:
        return  # read-only, as wanted
    probe.unlink()
    _writable(folder)
    raise OSError(f"{folder} is still writable after a read-only bind mount")


_OPEN_TREE, _MOVE_MOUNT, _MOUNT_SETATTR = 428, 429, 442  # the same numbers on every architecture
_OPEN_TREE_CLONE, _O_CLOEXEC, _AT_EMPTY_PATH, _AT_FDCWD = 1, 0o2000000, 0x1000, -100
_MOUNT_ATTR_RDONLY, _MOVE_MOUNT_F_EMPTY_PATH = 0x1, 0x4


def _attach_read_only_clone(folder: Path) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    path = os.fsencode(folder)

    def call(*args) -> int:
        result = libc.syscall(*args)
        if result < 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"read-only bind mount of {folder}: {os.strerror(errno)}")
        return result

    tree = call(_OPEN_TREE, _AT_FDCWD, path, _OPEN_TREE_CLONE | _O_CLOEXEC)
    try:
        attr = (ctypes.c_uint64 * 4)(_MOUNT_ATTR_RDONLY, 0, 0, 0)  # struct mount_attr
        call(_MOUNT_SETATTR, tree, b"", _AT_EMPTY_PATH, ctypes.byref(attr), ctypes.sizeof(attr))
        call(_MOVE_MOUNT, tree, b"", _AT_FDCWD, path, _MOVE_MOUNT_F_EMPTY_PATH)
    finally:
        os.close(tree)


def _writable(folder: Path):
    """Writable again, whoever holds files in it. A plain umount fails ("target is busy") when a
    process opened a file through the read-only mount and still holds it (a run worker that
    started while storage was away keeps its SQLite files open): the mount is made writable in
    place, which cannot fail that way, then detached lazily."""
    _mount("-o", "remount,bind,rw", str(folder))
    subprocess.run(["umount", "--lazy", str(folder)], check=True)


def _can_mount(tmp_path: Path) -> bool:
    probe = tmp_path / "mount-probe"
    probe.mkdir()
    try:
        _read_only(probe)
        _writable(probe)
        return True
    except (OSError, subprocess.CalledProcessError):
        return False


def _report(case: dict) -> None:
    if os.environ.get("ROSTER_FAULT_REPORT"):
        with open(os.environ["ROSTER_FAULT_REPORT"], "a") as f:
            f.write(json.dumps(case) + "\n")


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("fault", FAULTS)
def test_fault_at_stage_ends_as_an_uninterrupted_run(world, fault, stage, tmp_path):
    if fault == "storage" and not _can_mount(tmp_path):
        pytest.skip("this machine does not let the test mount a read-only folder (needs root and CAP_SYS_ADMIN)")
    serve, pg, points = world["serve"], world["pg"], world["points"]
    if serve.proc.poll() is not None:
        serve.start()
    team = Team(serve, pg, f"{fault}-{stage}-{uuid.uuid4().hex[:6]}")
    points.arm(stage)
    import_id = team.start_import(world["file"])
    worker = points.wait_paused(stage)
    started = time.monotonic()
    if fault in ("worker", "everything", "database"):
        strike(fault, serve, pg, points, stage, worker)
    elif fault == "storage":
        _read_only(world["data"])
        try:
            points.release(stage)
            time.sleep(20)
        finally:
            _writable(world["data"])
    ended = team.wait_ended(import_id)
    recovery = time.monotonic() - started
    _report({"fault": fault, "stage": stage, "seconds_to_end": round(recovery, 1), "status": ended["status"]})
    assert ended["status"] == "completed", (ended, serve.log.read_text()[-4000:])
    got = team.state(import_id)
    expected = world["expected"]
    for part in ("import", "contacts", "segment", "topics", "failures", "staging_tables"):
        assert got[part] == expected[part], part
