"""`roster serve` as a user runs it: the API, the Dagster daemon and its sensors, together. An
import posted over HTTP is started at once by the launcher PostgreSQL wakes, within the run queue's
limits, and completes; SIGTERM stops all."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest
import yaml

from tests.helpers import SERVE_WAIT_SECONDS, wait_for
from tests.processes import stop_tree

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _key(env: dict, team: str) -> dict[str, str]:
    key = subprocess.run(
        [str(BIN / "roster"), "keys", "create", "--team", team, "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert key.returncode == 0, key.stderr
    return {"Authorization": f"Bearer {json.loads(key.stdout)['token']}"}


@contextlib.contextmanager
def _own_database(database: str):
    """A database of the test's own: no import an earlier test left queued takes a run slot."""
    import uuid

    from sqlalchemy.engine import make_url

    admin = make_url(database).set(drivername="postgresql")
    name = f"{admin.database}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin.set(database="postgres").render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin.set(database="postgres").render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def _serve(tmp_path: Path, team: str, run_queue: dict | None = None, database: str | None = None, ui_port: int = 0):
    """`roster serve` on the test's database (or `database`), with the shipped instance config (its
    run queue's settings changed by `run_queue`, if given): (base URL, the team's key headers, the
    process, tmp_path, the environment)."""
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster"), "ROSTER_LAUNCH": "sensor"}
    if database:
        env["DATABASE_URL"] = database
    if run_queue:
        from pipelines.launch import SHIPPED_INSTANCE_CONFIG

        config = yaml.safe_load(SHIPPED_INSTANCE_CONFIG.read_text())
        config["run_coordinator"]["config"].update(run_queue)
        (tmp_path / "dagster").mkdir()
        # Its own first line: `roster` keeps it instead of copying the shipped one over it.
        (tmp_path / "dagster" / "dagster.yaml").write_text(f"# tests/test_serve.py: {run_queue}\n" + yaml.safe_dump(config))
    headers = _key(env, team)
    port = _free_port()
    proc = subprocess.Popen(
        [str(BIN / "roster"), "serve", "--port", str(port), "--ui-port", str(ui_port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "serve.log", "w"),
    )
    base = f"http://127.0.0.1:{port}"

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
    try:
        yield base, headers, proc, tmp_path, env
    finally:
        stop_tree(proc)  # after a failed test too: no daemon or code server of ours left behind


@pytest.fixture
def served(tmp_path, team):
    with _serve(tmp_path, team[0]) as (base, headers, proc, tmp_path, _env):
        yield base, headers, proc, tmp_path


def _post(base: str, headers: dict, rows: int = 2, prefix: str = "ada") -> str:
    csv = "email,first_name,last_name\n" + "".join(f"{prefix}{i}@example.com,Ada,Lovelace\n" for i in range(rows))
    r = httpx.post(f"{base}/contacts/imports", headers=headers, files={"file": ("c.csv", csv.encode(), "text/csv")}, timeout=30)
    assert r.status_code in (200, 201), r.text
    return r.json()["id"]


def _ended(base: str, headers: dict, import_id: str, timeout: float = SERVE_WAIT_SECONDS) -> dict:
    def ended() -> dict | None:
        status = httpx.get(f"{base}/contacts/imports/{import_id}", headers=headers, timeout=30).json()
        return status if status["status"] in ("completed", "failed") else None

    return wait_for(ended, f"import {import_id} to end", timeout=timeout, every=0.2)


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


def _fork_servers(proc: subprocess.Popen) -> list[psutil.Process]:
    """The fork servers under `roster serve` (their workers have the same command line)."""
    from pipelines.run_launcher import WORKER_MODULE

    found = []
    for p in psutil.Process(proc.pid).children(recursive=True):
        try:
            parent = p.parent()
            if WORKER_MODULE in p.cmdline() and parent is not None and WORKER_MODULE not in parent.cmdline():
                found.append(p)
        except psutil.Error:  # it ended meanwhile (a worker)
            continue
    return found


def test_a_killed_fork_server_is_replaced_and_imports_go_on(served):
    """SIGKILL of the fork server the run launcher forks workers from (pipelines/warm_run.py): the
    next import still completes (through a code server while a new fork server loads, or from the
    new one), and later imports run in workers of the new server."""
    base, headers, proc, tmp_path = served
    from dagster import DagsterInstance, RunsFilter

    from pipelines.run_launcher import WORKER_TAG

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
        return _fork_servers(proc)

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


def test_an_import_starts_at_once_whatever_the_run_queue_s_interval(tmp_path, database):
    """The launcher starts the run the moment PostgreSQL tells it, not the queue's loop: with the
    loop an hour apart, imports posted one after another still complete (in seconds), each with
    exactly one run, never queued."""
    from dagster import DagsterInstance, RunsFilter

    from pipelines.launcher import LAUNCHER_TAG

    with (
        _own_database(database) as own,
        _serve(tmp_path, "quick", {"dequeue_interval_seconds": 3600}, own) as (base, headers, _proc, tmp_path, _env),
    ):
        # The loop's one round is as the daemon starts: every import after that starts by being told.
        for n in range(3):
            import_id = _post(base, headers, prefix=f"n{n}-")
            status = _ended(base, headers, import_id, timeout=120)
            assert status["status"] == "completed", (status, (tmp_path / "serve.log").read_text()[-3000:])
            with DagsterInstance.from_config(str(tmp_path / "dagster")) as instance:
                # The import is completed by the run's last step; the run itself ends a moment later.
                [run] = wait_for(
                    lambda i=import_id: [
                        r for r in instance.get_runs(RunsFilter(tags={"dagster/partition": i})) if r.is_finished
                    ],
                    "the import's run to end",
                    timeout=120,
                )
                assert len(instance.get_runs(RunsFilter(tags={"dagster/partition": import_id}))) == 1
            assert run.tags[LAUNCHER_TAG] == f"{import_id}:0" and run.status.value == "SUCCESS"


def test_a_retried_run_starts_at_once_whatever_the_run_queue_s_interval(tmp_path, database, monkeypatch):
    """A run whose launch failed is retried by the daemon, and the retry starts as the daemon
    submits it when the limits allow (pipelines/run_coordinator.py), not at the queue's next round:
    with the loop an hour apart, the import still completes, on its second run."""
    from dagster import DagsterInstance, RunsFilter

    from pipelines.run_launcher import WORKER_TAG

    faults = tmp_path / "fault-points"
    faults.mkdir()
    monkeypatch.setenv("ROSTER_FAULT_DIR", str(faults))
    with (
        _own_database(database) as own,
        _serve(tmp_path, "retried", {"dequeue_interval_seconds": 3600}, own) as (base, headers, proc, tmp_path, _env),
    ):
        (faults / "launch.fail").write_text("1")  # the next launch of a contact_import run fails, once
        import_id = _post(base, headers, prefix="retried-")
        status = _ended(base, headers, import_id, timeout=120)
        assert status["status"] == "completed", (status, (tmp_path / "serve.log").read_text()[-3000:])
        assert not (faults / "launch.fail").exists()  # the fault was used
        with DagsterInstance.from_config(str(tmp_path / "dagster")) as instance:

            def two_ended() -> list | None:
                runs = instance.get_runs(RunsFilter(tags={"dagster/partition": import_id}))
                return runs if sum(r.is_finished for r in runs) >= 2 else None

            runs = wait_for(two_ended, "both of the import's runs to end", timeout=120)
        assert sorted(r.status.value for r in runs) == ["FAILURE", "SUCCESS"], [(r.run_id, r.status) for r in runs]
        [retry] = [r for r in runs if r.status.value == "SUCCESS"]
        assert retry.parent_run_id in {r.run_id for r in runs}  # the daemon's retry, not a new launch
        # Forked by the one fork server of the daemon's run launcher, as the launcher's runs are.
        assert WORKER_TAG in retry.tags and len(_fork_servers(proc)) == 1


def test_many_imports_posted_at_once_keep_the_run_queue_s_limits(tmp_path, database):
    """Three teams post two imports each at once: the launcher starts what the limits allow, the
    queue's loop the rest; never more runs at once than max_concurrent_runs, never two of a team,
    and each import exactly one run."""
    from dagster import DagsterInstance, RunsFilter

    from pipelines.launch import SHIPPED_INSTANCE_CONFIG

    limit = yaml.safe_load(SHIPPED_INSTANCE_CONFIG.read_text())["run_coordinator"]["config"]["max_concurrent_runs"]
    with _own_database(database) as own, _serve(tmp_path, "many-0", database=own) as (base, headers, _proc, tmp_path, env):
        keys = [headers] + [_key(env, f"many-{n}") for n in (1, 2)]
        posted = [_post(base, key, rows=300, prefix=f"t{t}i{i}-") for i in range(2) for t, key in enumerate(keys)]
        for n, import_id in enumerate(posted):
            status = _ended(base, keys[n % len(keys)], import_id)
            assert status["status"] == "completed", (status, (tmp_path / "serve.log").read_text()[-3000:])
        with DagsterInstance.from_config(str(tmp_path / "dagster")) as instance:

            def runs_ended() -> list:
                records = [instance.get_run_records(RunsFilter(tags={"dagster/partition": i})) for i in posted]
                return records if all(r.dagster_run.is_finished for rs in records for r in rs) else []

            records = wait_for(runs_ended, "the imports' runs to end", timeout=120)
    for import_id, runs in zip(posted, records):
        assert [r.dagster_run.status.value for r in runs] == ["SUCCESS"], import_id
    spans = [(r.start_time, r.end_time, r.dagster_run.tags["roster/team"]) for [r] in records]
    for start, _, team_name in spans:  # whatever runs at the moment a run starts
        running = [t for s, e, t in spans if s <= start < e]
        assert len(running) <= limit, f"{len(running)} runs at once"
        assert running.count(team_name) == 1, f"two runs of team {team_name} at once"


def test_the_dagster_ui_serves_the_code_location_and_the_daemon_s_health(tmp_path, team):
    """The UI `roster serve` runs (pipelines/ui_server.py: dagster-webserver's app, a quieter loop)."""
    ui_port = _free_port()
    query = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
    with _serve(tmp_path, team[0], ui_port=ui_port):
        ui = f"http://127.0.0.1:{ui_port}"

        def loaded() -> list | None:
            try:
                got = httpx.post(f"{ui}/graphql", json={"query": query}, timeout=30).json()
            except httpx.HTTPError:
                return None
            return got["data"]["workspaceOrError"]["locationEntries"]

        entries = wait_for(loaded, "the Dagster UI to answer", timeout=SERVE_WAIT_SECONDS, every=0.5)
        assert entries == [{"name": "pipelines.definitions", "loadStatus": "LOADED"}]
        page = httpx.get(ui, timeout=30)
        assert page.status_code == 200 and "<html" in page.text.lower()
