"""`roster serve` as a user runs it: the API, the Dagster daemon and its sensors, together. An
import posted over HTTP is started by the queued-imports sensor and completes; SIGTERM stops all."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from tests.helpers import SERVE_WAIT_SECONDS, wait_for
from tests.processes import stop_tree

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path, team):
    name, _ = team
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster"), "ROSTER_LAUNCH": "sensor"}
    key = subprocess.run(
        [str(BIN / "roster"), "keys", "create", "--team", name, "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert key.returncode == 0, key.stderr
    token = json.loads(key.stdout)["token"]
    port = _free_port()
    proc = subprocess.Popen(
        [str(BIN / "roster"), "serve", "--port", str(port), "--ui-port", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "serve.log", "w"),
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}

    def answers() -> bool:
        try:
            return httpx.get(f"{base}/contacts/imports", headers=headers, timeout=10).status_code == 200
        except httpx.HTTPError:
            return proc.poll() is not None  # exited: stop waiting, and fail below

    try:
        wait_for(answers, "roster serve to answer", every=0.5)
        assert proc.poll() is None, "roster serve exited"
    except AssertionError as e:
        stop_tree(proc)
        pytest.fail(f"{e}: " + (tmp_path / "serve.log").read_text()[-2000:])
    yield base, headers, proc, tmp_path
    stop_tree(proc)  # after a failed test too: no daemon or code server of ours left behind


def test_serve_runs_imports_posted_over_http_and_stops_on_sigterm(served):
    base, headers, proc, tmp_path = served
    csv = b"email,first_name,last_name\nada@example.com,Ada,Lovelace\nbad,x,y\n"
    r = httpx.post(f"{base}/contacts/imports", headers=headers, files={"file": ("c.csv", csv, "text/csv")}, timeout=30)
    assert r.status_code in (200, 201), r.text
    import_id = r.json()["id"]

    def ended() -> dict | None:
        status = httpx.get(f"{base}/contacts/imports/{import_id}", headers=headers, timeout=30).json()
        return status if status["status"] in ("completed", "failed") else None

    status = wait_for(ended, "the import to end", timeout=SERVE_WAIT_SECONDS, every=0.5)
    assert status["status"] == "completed", (status, (tmp_path / "serve.log").read_text()[-3000:])
    assert status["counts"] == {"total": 2, "created": 1, "updated": 0, "skipped": 0, "failed": 1}
    # Its run ran in a worker the launcher started for it (pipelines/warm_run.py), whose pid it names.
    from dagster import DagsterInstance, RunsFilter

    from pipelines.run_launcher import WORKER_TAG

    with DagsterInstance.from_config(str(tmp_path / "dagster")) as instance:
        [run] = instance.get_runs(RunsFilter(tags={"dagster/partition": import_id}))
    assert run.tags.get(WORKER_TAG, "").isdigit(), run.tags

    # Only the processes this test started: roster serve's own tree.
    children = psutil.Process(proc.pid).children(recursive=True)
    assert len(children) >= 3  # the API, the daemon and its code server at least
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    _, still = psutil.wait_procs(children, timeout=60)
    assert still == []


def test_a_killed_fork_server_is_replaced_and_imports_go_on(served):
    """SIGKILL of the fork server the run launcher forks workers from (pipelines/warm_run.py): the
    next import still completes (through a code server while a new fork server loads, or from the
    new one), and later imports run in workers of the new server."""
    base, headers, proc, tmp_path = served
    from dagster import DagsterInstance, RunsFilter

    from pipelines.run_launcher import WORKER_MODULE, WORKER_TAG

    def post(n: int) -> str:
        csv = f"email\nperson{n}@example.com\n".encode()
        r = httpx.post(f"{base}/contacts/imports", headers=headers, files={"file": ("c.csv", csv, "text/csv")}, timeout=30)
        assert r.status_code in (200, 201), r.text
        return r.json()["id"]

    def completed(import_id: str) -> None:
        def ended() -> dict | None:
            status = httpx.get(f"{base}/contacts/imports/{import_id}", headers=headers, timeout=30).json()
            return status if status["status"] in ("completed", "failed") else None

        status = wait_for(ended, "the import to end", timeout=SERVE_WAIT_SECONDS, every=0.2)
        assert status["status"] == "completed", (status, (tmp_path / "serve.log").read_text()[-3000:])

    def servers() -> list[psutil.Process]:
        """The fork servers under `roster serve` (their workers have the same command line)."""
        found = []
        for p in psutil.Process(proc.pid).children(recursive=True):
            try:
                parent = p.parent()
                if WORKER_MODULE in p.cmdline() and parent is not None and WORKER_MODULE not in parent.cmdline():
                    found.append(p)
            except psutil.Error:  # it ended meanwhile (a worker)
                continue
        return found

    def tags_of(import_id: str) -> dict:
        with DagsterInstance.from_config(str(tmp_path / "dagster")) as instance:
            [run] = instance.get_runs(RunsFilter(tags={"dagster/partition": import_id}))
            return dict(run.tags)

    first = post(0)
    completed(first)
    assert WORKER_TAG in tags_of(first)
    [server] = servers()
    server.kill()
    server.wait()
    completed(post(1))
    [new] = wait_for(servers, "a new fork server")
    assert new.pid != server.pid
    posted = iter(range(2, 100))

    def forked() -> bool:
        """The next import, once the new server has loaded: run in a worker (only a forked worker
        tags its run with its pid; a code server's run has no such tag)."""
        import_id = post(next(posted))
        completed(import_id)
        return WORKER_TAG in tags_of(import_id)

    wait_for(forked, "an import run in a worker of the new server", timeout=SERVE_WAIT_SECONDS, every=0)
    assert servers() == [new], "forked by the new server, the only one"


def test_serve_says_in_one_line_who_holds_its_port(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        p = subprocess.run(
            [str(BIN / "roster"), "serve", "--port", str(port), "--ui-port", "0"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "DAGSTER_HOME": str(tmp_path / "d")},
        )
    assert p.returncode == 1
    [line] = p.stderr.strip().splitlines()
    assert f"port {port} is held by pid {os.getpid()}" in line and "roster serve" in line
