"""The dashboard's tests: a real uvicorn process serving the API app (and so the dashboard) on the
real PostgreSQL of tests/conftest.py, imports run inline (a process per run, as `roster serve`'s
launches are), and a real headless Chromium driven by Playwright.

Chromium is Debian's (`apt-get install chromium`, as .ci/run does); Playwright is used without its
own browser download (executable_path). Without either, the browser tests skip and say why."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.helpers import WAIT_SECONDS
from tests.processes import api_server_command

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_path() -> str | None:
    configured = os.environ.get("ROSTER_TEST_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="package")
def server(database, tmp_path_factory):
    """The base URL of a real API server process with the dashboard mounted."""
    log_path = tmp_path_factory.mktemp("dashboard-server") / "server.log"
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "ROSTER_LAUNCH": "inline",
        "ROSTER_RATE_LIMIT": "1000",
        "ROSTER_BAD_KEY_LIMIT": "1000",
    }
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            api_server_command(port, "--no-access-log"),
            env=env,
            stdout=log,
            stderr=log,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            if httpx.get(base + "/dashboard/sign-in", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the server did not start: " + log_path.read_text()[-3000:])
        time.sleep(0.3)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


# Package scope, not session: Playwright's sync API keeps an event loop running in this thread
# until it stops, and later tests that call asyncio.run (Dagster's sensors) would fail under it.
@pytest.fixture(scope="package")
def browser():
    path = chromium_path()
    if path is None:
        pytest.skip(
            "no Chromium found (install Debian's `chromium`, or set ROSTER_TEST_CHROMIUM): "
            "the dashboard's browser tests need a real browser"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh browser context per test: its own cookies, as a different person would have."""
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    pg = context.new_page()
    # Every browser test also checks that the pages work under their Content-Security-Policy:
    # Chromium reports each blocked script, style or request on the console.
    blocked: list[str] = []
    pg.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    pg.csp_blocked = blocked  # a test that provokes a refusal on purpose takes it out
    yield pg
    context.close()
    assert blocked == [], blocked


@pytest.fixture
def make_team_key(engine):
    """(team name, team id, API key) of a new team."""
    from roster.store.keys import issue_api_key

    def make() -> tuple[str, int, str]:
        name = f"dash-{uuid.uuid4().hex[:8]}"
        issued = issue_api_key(engine, name)
        return name, issued.team_id, issued.token

    return make


def sign_in(page, server: str, key: str) -> None:
    page.goto(server + "/dashboard/sign-in")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/dashboard/imports")


def axe_findings(page, impacts=("serious", "critical")) -> list[str]:
    """The page's accessibility findings of these impacts, by axe-core (the axe.min.js that the
    PyPI package axe-playwright-python ships, installed with the test extras; nothing is fetched)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
        for v in results.response["violations"]
        if v.get("impact") in impacts
    ]


def upload(page, server: str, path) -> None:
    """Upload a file on the New import page; waits for the review page."""
    page.goto(server + "/dashboard/imports/new")
    page.get_by_label("Choose a file or drop it here").set_input_files(str(path))
    page.get_by_role("button", name="Upload and review").click()
    page.wait_for_url("**/dashboard/imports/review/*")


def http_sign_in(client: httpx.Client, key: str) -> httpx.Response:
    """Sign in as a browser's form does: the sign-in page first (its pre-session cookie and the
    form's token), then the post, from this server's own origin."""
    import re

    form = client.get("/dashboard/sign-in")
    found = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert found, (form.status_code, form.text[:500])
    token = found.group(1)
    return client.post(
        "/dashboard/sign-in", data={"api_key": key, "csrf": token}, headers={"origin": str(client.base_url).rstrip("/")}
    )
