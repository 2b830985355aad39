"""The API's tests run against a real uvicorn server (a thread of the test process) and the real
PostgreSQL of tests/conftest.py. Imports run inline (ROSTER_LAUNCH=inline): a background thread of
the server process, as real Dagster runs."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager

import httpx
import pytest

from tests.helpers import WAIT_SECONDS, wait_for

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(REPO, ".venv", "bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(app):
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True, name=f"uvicorn-{port}")
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + WAIT_SECONDS
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def api_url(database):
    os.environ["ROSTER_LAUNCH"] = "inline"
    from roster.api.app import create_app

    with serve(create_app(rate_limit=10_000)) as url:
        yield url


@pytest.fixture
def make_key(engine):
    from roster.store.keys import create_api_key

    def make(team: str | None = None) -> str:
        return create_api_key(engine, team or f"api-{uuid.uuid4().hex[:8]}")

    return make


@pytest.fixture
def api_key(make_key) -> str:
    return make_key()


@pytest.fixture
def http(api_url, api_key):
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=60) as c:
        yield c


def wait_done(http: httpx.Client, import_id: str, timeout: float = WAIT_SECONDS) -> dict:
    seen: list[dict] = [{}]

    def ended() -> dict | None:
        seen[0] = http.get(f"/contacts/imports/{import_id}").json()
        return seen[0] if seen[0].get("status") in ("completed", "failed") else None

    try:
        return wait_for(ended, f"import {import_id} to end", timeout=timeout, every=0.2)
    except AssertionError as e:
        raise AssertionError(f"{e}: still {seen[0].get('status')}") from None


def csv_bytes(header: list[str], rows: list[list]) -> bytes:
    import csv
    import io

    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode()
