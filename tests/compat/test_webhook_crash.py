"""A daemon killed between an event's commit and its delivery: after `roster serve` starts again,
the event arrives, the same message (its svix-id), once. In a module of its own: it runs its own
`roster serve` (with a fault directory), and only one daemon works on a database at a time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psutil
import pytest
import sqlalchemy as sa

from tests.compat.conftest import _free_port
from tests.processes import stop_tree

BIN = Path(sys.executable).parent


class Receiver:
    def __init__(self):
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.requests.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body.decode()})
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _serve(env: dict, port: int, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [str(BIN / "roster"), "serve", "--port", str(port), "--ui-port", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("a"),
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_tree(proc)
            pytest.fail("roster serve did not answer: " + log.read_text()[-3000:])
        time.sleep(0.5)


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL to roster serve and everything below it at once: a lost machine, not a shutdown."""
    tree = [proc.pid] + [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
    for pid in tree:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    proc.wait(timeout=30)
    psutil.wait_procs([p for p in map(_proc, tree) if p], timeout=30)


def _proc(pid: int):
    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None


@pytest.fixture
def own_database(database):
    """A database of its own: one daemon works on a database at a time (roster/store/daemon_lock.py),
    and this test's daemon must be the one (another test's server may hold the session's)."""
    import psycopg
    from sqlalchemy.engine import make_url

    from roster.runtime.database import engine_for

    admin = make_url(database).set(drivername="postgresql")
    name = f"{admin.database}_wh_crash"
    server = admin.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.set(database=name).render_as_string(hide_password=False)
    engine = engine_for(url)  # migrated
    yield url, engine
    engine.dispose()
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_daemon_killed_between_commit_and_delivery(own_database, tmp_path):
    from roster.store.keys import create_api_key

    url, engine = own_database

    home = Path(tempfile.mkdtemp(prefix="roster-webhook-crash-"))
    faults = home / "faults"
    faults.mkdir()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home / "dagster"),
        "ROSTER_LAUNCH": "sensor",
        "ROSTER_RATE_LIMIT": "100",
        "ROSTER_WEBHOOKS_ALLOW_PRIVATE_URLS": "1",
        "ROSTER_WEBHOOKS_TIMEOUT": "3",  # a claim's lease: 2 x 3 + 5 = 11 s
        "ROSTER_FAULT_DIR": str(faults),
        "DATABASE_URL": url,
    }
    port, log = _free_port(), home / "serve.log"
    receiver = Receiver()
    key = create_api_key(engine, f"crash-{os.getpid()}-{time.monotonic_ns()}")
    proc = _serve(env, port, log)
    try:
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}, timeout=30)
        hook = api.post("/webhooks", json={"endpoint": receiver.url, "events": ["contact.created", "contact.updated"]}).json()
        (faults / "webhook_send.pause").touch()  # the daemon stops once it has claimed the next delivery
        cid = api.post("/contacts", json={"email": "crash@example.com"}).json()["id"]  # committed, with its event
        paused = faults / "webhook_send.paused"
        deadline = time.monotonic() + 120
        while not paused.exists():
            assert time.monotonic() < deadline, "the daemon never claimed the delivery: " + log.read_text()[-3000:]
            time.sleep(0.2)
        _kill_tree(proc)
        assert receiver.requests == []  # claimed, never sent
        with engine.connect() as conn:
            [(delivery_id, attempts)] = conn.execute(
                sa.text("SELECT id, attempts FROM webhook_deliveries WHERE webhook_id = :w"), {"w": hook["id"]}
            ).all()
        assert attempts == 1
        paused.unlink(missing_ok=True)
        proc = _serve(env, port, log)
        deadline = time.monotonic() + 180
        while not receiver.requests:
            assert time.monotonic() < deadline, "the event never arrived after the restart: " + log.read_text()[-3000:]
            time.sleep(0.5)
        time.sleep(3)  # anything sent twice would arrive now
        [got] = receiver.requests
        assert got["headers"]["svix-id"] == f"msg_{delivery_id}"
        event = json.loads(got["body"])
        assert event["type"] == "contact.created" and event["data"]["id"] == cid
        from svix.webhooks import Webhook

        Webhook(hook["signing_secret"]).verify(got["body"], got["headers"])
        status = api.get(f"/webhooks/{hook['id']}/events").json()["data"]
        assert [e["status"] for e in status] == ["success"]
    finally:
        stop_tree(proc)
        receiver.server.shutdown()
