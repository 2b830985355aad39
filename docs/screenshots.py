"""Screenshots of every dashboard page, for the README: `.venv/bin/python docs/screenshots.py`.

Starts its own API server (uvicorn, imports run inline) on the configured database (DATABASE_URL,
else the embedded one under ROSTER_DATA_DIR, as `roster serve` uses), signs in with a new key of
the team `screenshots`, imports examples/contacts.csv through the dashboard (plus two rows that
fail, so the failed-rows table shows), and writes PNGs to docs/screenshots/. Needs Chromium
(Debian's `chromium`; or --chromium PATH) and Playwright (the test extra).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server() -> tuple[subprocess.Popen, str]:
    from roster.runtime.database import database_url

    env = {**os.environ, "DATABASE_URL": database_url(), "ROSTER_LAUNCH": "inline"}
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "roster.api.app:app", "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
        env=env,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            if httpx.get(base + "/dashboard/sign-in", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the server did not start")


def sample_file(folder: Path) -> Path:
    """The bundled sample with its headers as another tool exports them, two of that tool's
    bookkeeping columns (left out by the review), and two bad rows."""
    lines = (ROOT / "examples" / "contacts.csv").read_text().splitlines()
    lines[0] = "E-mail Address,firstName,Surname,Organisation,Plan,Country,Lifetime Value,Opted In,Record ID,IP Address"
    body = [
        line.replace(",false", ",yes").replace(",true", ",no") + f",{51000 + i},192.0.2.{i % 250}"
        for i, line in enumerate(lines[1:])
    ]
    bad = ["not-an-email,Bad,Row,,free,US,1,yes,1,192.0.2.1", ",No,Email,,free,US,2,yes,2,192.0.2.2"]
    out = folder / "customers-export.csv"
    out.write_text("\n".join([lines[0], *body, *bad]) + "\n")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    args = parser.parse_args()
    if not args.chromium:
        raise SystemExit("no Chromium found: apt-get install chromium, or give --chromium PATH")
    from playwright.sync_api import sync_playwright

    from roster.runtime.database import get_engine
    from roster.store import properties, teams
    from roster.store.keys import create_api_key

    engine = get_engine()
    key = create_api_key(engine, "screenshots", "screenshots")
    properties.create_missing(engine, teams.find(engine, "screenshots"), {"company": "string", "plan": "string"})
    OUT.mkdir(parents=True, exist_ok=True)
    proc, base = start_server()
    try:
        with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(base + "/dashboard/sign-in")
            page.screenshot(path=OUT / "sign-in.png")
            page.get_by_label("API key").fill(key)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/dashboard/imports")
            page.goto(base + "/dashboard/imports/new")
            page.screenshot(path=OUT / "new-import.png")
            page.get_by_label("Choose a file or drop it here").set_input_files(str(sample_file(Path(tmp))))
            page.get_by_role("button", name="Upload and review").click()
            page.wait_for_url("**/dashboard/imports/review/*")
            page.screenshot(path=OUT / "review.png", full_page=True)
            page.get_by_role("button", name="Start the import").click()
            page.wait_for_url("**/dashboard/imports/*-*")
            # Ended, as rendered after the page's reload (no more polling).
            page.wait_for_function(
                "document.readyState === 'complete' && !document.querySelector('#live').dataset.poll"
                " && ['completed', 'failed'].includes(document.querySelector('#status').dataset.status)",
                timeout=180_000,
            )
            page.screenshot(path=OUT / "import.png", full_page=True)
            page.goto(base + "/dashboard/imports")
            page.screenshot(path=OUT / "imports.png")
            phone = browser.new_page(viewport={"width": 390, "height": 800})
            phone.context.add_cookies(page.context.cookies())
            phone.goto(base + "/dashboard/imports")
            phone.screenshot(path=OUT / "imports-phone.png")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    print(f"screenshots in {OUT.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()
