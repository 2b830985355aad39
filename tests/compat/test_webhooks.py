"""Resend's webhooks through Resend's own clients against a real `roster serve`, whose daemon
delivers them: the Node SDK registers an endpoint and verifies every event with
`resend.webhooks.verify` (a contact created by an import, one updated, one deleted), plus the
legacy audience paths and 22 topics listed without a cursor. And a daemon killed between an
event's commit and its delivery: after the restart the event arrives, the same message."""

from __future__ import annotations

import json
import os
import shutil
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

from tests.compat.conftest import _free_port, json_out, node_env
from tests.processes import stop_tree

BIN = Path(sys.executable).parent
CSV = b"Email,First Name\r\nann@example.com,Ann\r\nbob@example.com,Bob\r\n"


def test_node_sdk_webhooks(node_tools, roster_server, team_key, tmp_path):
    script = node_tools.modules.parent / "webhooks.mjs"  # beside node_modules, so `import 'resend'` resolves
    shutil.copy(Path(__file__).parent / "node" / "webhooks.mjs", script)
    csv = tmp_path / "people.csv"
    csv.write_bytes(CSV)
    run = subprocess.run(
        [str(node_tools.node), str(script), str(csv)],
        env=node_env(node_tools, roster_server, team_key, tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = json_out(run)
    assert out["rejected"] == []  # every request verified with resend.webhooks.verify
    assert out["got"]["signing_secret"] == out["hook"]["signing_secret"] and out["got"]["status"] == "enabled"
    assert [w["id"] for w in out["listed"]["data"]] == [out["hook"]["id"]]
    assert out["imported"]["status"] == "completed"
    events = [r["event"] for r in out["received"]]
    by_type = {}
    for e in events:
        by_type.setdefault(e["type"], []).append(e)
    created = {e["data"]["email"]: e["data"] for e in by_type["contact.created"]}
    assert created["ann@example.com"]["id"] == out["ann_id"] and created["ann@example.com"]["first_name"] == "Ann"
    assert created["bob@example.com"]["id"] == out["bob_id"]
    updated = [e["data"] for e in by_type["contact.updated"] if e["data"].get("last_name") == "Lee"]
    assert [u["id"] for u in updated] == [out["ann_id"]]
    assert [e["data"]["id"] for e in by_type["contact.deleted"] if e["data"]["id"] == out["bob_id"]] == [out["bob_id"]]
    [summary] = by_type["contact_import.completed"]
    assert summary["data"]["id"] == out["imported"]["id"] and summary["data"]["counts"]["created"] == 2
    # One contact's events in commit order: ann created (import), then updated (PATCH).
    ann = [e["type"] for e in events if e["type"].startswith("contact.") and e["data"]["id"] == out["ann_id"]]
    assert ann[:2] == ["contact.created", "contact.updated"]
    assert len({r["id"] for r in out["received"]}) == len(out["received"])  # no message twice here
    assert {e["status"] for e in out["events"]["data"]} <= {"success", "pending", "attempting"}
    # Legacy audience paths, through the Node SDK.
    audience = out["audience"]
    assert audience["oldGot"]["id"] == audience["old"]["id"] and audience["oldGot"]["first_name"] == "Cy"
    assert audience["oldUpdated"]["last_name"] == "Young"
    assert audience["oldRemoved"]["deleted"] is True
    # 22 topics, all of them, with no cursor.
    assert out["topics"] == 22 and out["topics_has_more"] is False


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


def test_daemon_killed_between_commit_and_delivery(database, engine, tmp_path):
    from roster.store.keys import create_api_key

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
