"""Dry run, start and the outcome through the other doors: our SDK, the client CLI (`--dry-run`,
`start`, `--strict`), the MCP tool, and Resend's own Python SDK (the extra fields break nothing)."""

from __future__ import annotations

import json
import os

import anyio

from tests.api.conftest import VENV_BIN, csv_bytes, wait_done
from tests.api.test_sdk_and_cli import _roster

ROWS = [["ann@example.com", "Ann", "1"], ["bob@example.com", "Bob", "x"], ["carl@example.com", "Carl", "3"]]
COLUMN_MAP = {"email": "Email", "first_name": "Name", "properties": {"seats": {"column": "Seats", "type": "number"}}}


def _file(tmp_path):
    path = tmp_path / "people.csv"
    path.write_bytes(csv_bytes(["Email", "Name", "Seats"], ROWS))
    return path


def test_sdk_dry_run_start_and_guard(api_url, api_key, tmp_path):
    from roster.client import Roster, RosterError

    with Roster(api_key=api_key, base_url=api_url) as client:
        dry = client.contacts.imports.create(file=_file(tmp_path), column_map=COLUMN_MAP, dry_run=True)
        done = client.contacts.imports.wait(dry.id, poll_interval=0.2, timeout=120)
        assert done.status == "completed" and done.outcome == "dry_run" and done.dry_run is True
        assert (done.counts.created, done.counts.failed) == (2, 1) and done.rows_failed
        assert done.properties_created == ["seats"] and done.started_as is None
        assert done.failures_by_reason[0]["reason"] == "property 'seats' (column 'Seats') must be a number"
        assert client.contacts.list().data == [] and client.contact_properties.list().data == []

        real = client.contacts.imports.start(dry.id)
        finished = client.contacts.imports.wait(real.id, poll_interval=0.2, timeout=120)
        assert finished.outcome == "completed_with_failures" and finished.dry_run_of == dry.id
        assert finished.summary == "completed, 1 of 3 rows failed (2 created, 0 updated, 0 skipped)"
        assert client.contacts.imports.get(dry.id).started_as == real.id
        try:
            client.contacts.imports.start(dry.id)
            raise AssertionError("a dry run starts once")
        except RosterError as e:
            assert e.status_code == 409

        guarded = client.contacts.imports.create(file=_file(tmp_path), column_map=COLUMN_MAP, max_failed_rows=0)
        tripped = client.contacts.imports.wait(guarded.id, poll_interval=0.2, timeout=120)
        assert tripped.status == "failed" and tripped.outcome == "guard_tripped" and tripped.counts.failed == 1


def test_client_cli_dry_run_start_and_strict(api_url, api_key, tmp_path):
    env = {"ROSTER_API_KEY": api_key, "ROSTER_API_URL": api_url}
    path = _file(tmp_path)
    r = _roster(
        "contacts",
        "imports",
        "create",
        "--file",
        str(path),
        "--column-map",
        json.dumps(COLUMN_MAP),
        "--dry-run",
        "--wait",
        env_extra=env,
    )
    assert r.returncode == 0, r.stderr
    assert "dry run, nothing written: would create 2, update 0, skip 0; 1 of 3 rows would fail" in " ".join(r.stdout.split())
    dry_id = json.loads(_roster("contacts", "imports", "list", "--limit", "1", "--json", env_extra=env).stdout)["data"][0]["id"]
    r = _roster("contacts", "imports", "start", dry_id, "--wait", "--strict", env_extra=env)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "completed, 1 of 3 rows failed" in " ".join(r.stdout.split()) and "(--strict)" in r.stderr
    r = _roster("contacts", "imports", "start", dry_id, env_extra=env)
    assert r.returncode == 1 and "409" in r.stderr and "started already" in r.stderr
    # without --strict, failed rows are not an error
    r = _roster(
        "contacts",
        "imports",
        "create",
        "--file",
        str(path),
        "--wait",
        "--json",
        "--column-map",
        json.dumps(COLUMN_MAP),
        env_extra=env,
    )
    assert r.returncode == 0 and json.loads(r.stdout)["outcome"] == "completed_with_failures"
    r = _roster("contacts", "imports", "create", "--file", str(path), "--max-failed-rows", "many", env_extra=env)
    assert r.returncode == 1 and "--max-failed-rows must be a number of rows" in r.stderr


def test_mcp_dry_run_and_start(api_url, api_key, tmp_path):
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    env = {"ROSTER_API_KEY": api_key, "ROSTER_API_URL": api_url, "DATABASE_URL": "", "PATH": os.environ.get("PATH", "")}
    params = StdioServerParameters(command=os.path.join(VENV_BIN, "roster"), args=["mcp"], env=env, cwd=str(tmp_path))
    content = csv_bytes(["Email", "Name", "Seats"], ROWS).decode()
    got: dict = {}

    async def call(client, tool, args):
        result = await client.call_tool(tool, args)
        assert not result.is_error, result.content
        return json.loads(result.content[0].text)

    async def main():
        async with Client(params) as client:
            with anyio.fail_after(200):
                created = await call(
                    client,
                    "create-contact-import",
                    {"content": content, "columnMap": COLUMN_MAP, "dryRun": True, "maxFailedRows": "50%"},
                )
                while (imp := await call(client, "get-contact-import", {"id": created["id"]}))["status"] not in (
                    "completed",
                    "failed",
                ):
                    await anyio.sleep(0.3)
                got["dry"] = imp
                started = await call(client, "start-contact-import", {"id": created["id"]})
                got["started"] = started

    anyio.run(main)
    assert got["dry"]["outcome"] == "dry_run" and got["dry"]["counts"]["created"] == 2, got["dry"]
    assert got["started"]["dry_run_of"] == got["dry"]["id"]


def test_resend_sdk_reads_dry_runs_and_guarded_imports(api_url, api_key, http):
    import resend

    old = resend.api_key, resend.api_url
    resend.api_key, resend.api_url = api_key, api_url
    try:
        files = {"file": ("people.csv", csv_bytes(["Email", "Name", "Seats"], ROWS), "text/csv")}
        dry = http.post("/contacts/imports", files=files, data={"dry_run": "true", "column_map": json.dumps(COLUMN_MAP)}).json()
        guarded = http.post(
            "/contacts/imports", files=files, data={"max_failed_rows": "0", "column_map": json.dumps(COLUMN_MAP)}
        ).json()
        wait_done(http, dry["id"]), wait_done(http, guarded["id"])
        got = resend.Contacts.Imports.get(dry["id"])
        assert got["status"] == "completed" and got["counts"]["created"] == 2 and got["outcome"] == "dry_run"
        failed = resend.Contacts.Imports.get(guarded["id"])
        assert failed["status"] == "failed" and failed["counts"]["failed"] == 1
        listed = resend.Contacts.Imports.list({"limit": 10})
        assert {i["id"] for i in listed["data"]} == {dry["id"], guarded["id"]}
    finally:
        resend.api_key, resend.api_url = old
