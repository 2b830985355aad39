"""The compatibility suite: Resend's official clients, unchanged, against a real `roster serve`
(the API, the Dagster daemon and its sensors, as a user runs them; see tests/test_serve.py).

Each client does one round trip in a team of its own: create a segment and a topic, import a CSV
with a column map that has properties and topics, wait for `completed`, read a contact's
properties (value and type), list and update its topics, and list the segments without a limit
when the team has more than ten."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import httpx
import pytest

from tests.helpers import SERVE_WAIT_SECONDS, wait_for
from tests.processes import stop_tree

BIN = Path(sys.executable).parent
PEOPLE_CSV = (
    b"Email,First Name,Plan,Seats\r\nann@example.com,Ann,pro,3\r\nbob@example.com,Bob,free,1\r\nnot-an-email,X,free,1\r\n"
)
EXPECTED_COUNTS = {"total": 3, "created": 2, "updated": 0, "skipped": 0, "failed": 1}
ANN_PROPERTIES = {"plan": {"value": "pro", "type": "string"}, "seats": {"value": 3, "type": "number"}}
# Resend's own casing for each client: snake_case on the wire (Python SDK), camelCase (Node SDK, CLI, MCP)
COLUMN_MAP_SNAKE = {
    "email": "Email",
    "first_name": "First Name",
    "properties": {"plan": {"column": "Plan", "type": "string"}, "seats": {"column": "Seats", "type": "number"}},
}
COLUMN_MAP_CAMEL = {
    "email": "Email",
    "firstName": "First Name",
    "properties": {"plan": {"column": "Plan", "type": "string"}, "seats": {"column": "Seats", "type": "number"}},
}
EXTRA_SEGMENTS = 11  # with the one the round trip imports into: more than the ten a page would hold


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def node_tools():
    from tests.compat.node_tools import RegistryUnreachable, ensure

    try:
        return ensure(log=lambda m: print(m, file=sys.stderr))
    except RegistryUnreachable as e:
        pytest.skip(f"Resend's Node clients cannot be installed: {e}")


@pytest.fixture(scope="module")
def roster_server(database):
    """`roster serve` on a free port, for this module's tests, stopped with its own process tree
    (the API, the Dagster daemon and its code server) when they are done."""
    home = Path(tempfile.mkdtemp(prefix="roster-compat-"))
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home / "dagster"),
        "ROSTER_LAUNCH": "sensor",
        "ROSTER_RATE_LIMIT": "100",
        # The webhook endpoints the tests listen on are on 127.0.0.1.
        "ROSTER_WEBHOOKS_ALLOW_PRIVATE_URLS": "1",
    }  # the clients poll; the default 10/s is per key and these share none
    port = _free_port()
    log = home / "serve.log"
    proc = subprocess.Popen(
        [str(BIN / "roster"), "serve", "--port", str(port), "--ui-port", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if proc.poll() is not None:
            raise AssertionError("roster serve exited")
        try:
            return httpx.get(f"{base}/openapi.json", timeout=10).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(answers, "roster serve to answer", every=0.5)
    except AssertionError as e:
        stop_tree(proc)
        pytest.fail(f"{e}: " + log.read_text()[-3000:])
    yield {"url": base, "log": log}
    stop_tree(proc)


@pytest.fixture
def team_key(roster_server, engine) -> str:
    """A key of a new team: each client's round trip sees only its own objects."""
    from roster.store.keys import create_api_key

    return create_api_key(engine, f"compat-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def people_csv(tmp_path) -> Path:
    path = tmp_path / "people.csv"
    path.write_bytes(PEOPLE_CSV)
    return path


def node_env(tools, roster_server, key: str, home: Path) -> dict:
    """What Resend's Node clients read: RESEND_BASE_URL, RESEND_API_KEY. No telemetry or update
    checks, and a config directory of the test's own (the CLI stores profiles there)."""
    return {
        "PATH": f"{tools.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "RESEND_BASE_URL": roster_server["url"],
        "RESEND_API_KEY": key,
        "RESEND_TELEMETRY_DISABLED": "1",
        "RESEND_NO_UPDATE_NOTIFIER": "1",
        "DO_NOT_TRACK": "1",
        "CI": "1",
    }


def wait_until_done(get_status, timeout: float = SERVE_WAIT_SECONDS, log: Path | None = None) -> dict:
    seen: list[dict] = []

    def ended() -> dict | None:
        seen[:] = [get_status()]
        return seen[0] if seen[0].get("status") in ("completed", "failed") else None

    try:
        return wait_for(ended, "the import to end", timeout=timeout, every=0.5)
    except AssertionError as e:
        raise AssertionError(f"{e}; it is still {seen[0].get('status')}: " + (log.read_text()[-2000:] if log else "")) from None


def check_round_trip(result: dict) -> None:
    """The same expectations for every client (`result` in the API's JSON shapes)."""
    assert result["import"]["status"] == "completed", result["import"]
    assert result["import"]["counts"] == EXPECTED_COUNTS
    contact = result["contact"]
    assert contact["first_name"] == "Ann" and contact["properties"] == ANN_PROPERTIES, contact
    before = {t["id"]: t for t in result["topics_before"]["data"]}
    after = {t["id"]: t for t in result["topics_after"]["data"]}
    tid = result["topic_id"]
    assert before[tid]["subscription"] == "opt_in" and before[tid]["name"] == "Launches"
    assert after[tid]["subscription"] == "opt_out"
    segments = result["segments"]
    assert segments["has_more"] is False and len(segments["data"]) == EXTRA_SEGMENTS + 1
    assert result["segment_id"] in {s["id"] for s in segments["data"]}
    assert result["members"] == ["ann@example.com", "bob@example.com"]


def json_out(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-2000:]}"
    return json.loads(proc.stdout)
