"""Cancel, revert and watch through every other door: the SDK, the client CLI, the local CLI and
MCP (the real `mcp` client over stdio), against a real uvicorn and real Dagster runs."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import uuid

import anyio
import pytest

from tests.api.conftest import VENV_BIN, csv_bytes


def _roster(*args, env_extra=None, timeout=240):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([os.path.join(VENV_BIN, "roster"), *args], capture_output=True, text=True, env=env, timeout=timeout)


def _completed(client, rows: list[list], tmp_path) -> str:
    path = tmp_path / f"{uuid.uuid4().hex[:6]}.csv"
    path.write_bytes(csv_bytes(["email", "first_name"], rows))
    created = client.contacts.imports.create(file=path)
    done = client.contacts.imports.wait(created.id, poll_interval=0.2, timeout=240)
    assert done.status == "completed" and not done.cancelled and not done.reverted
    return created.id


def test_sdk_cancel_revert_and_wait(api_url, api_key, tmp_path, monkeypatch):
    from roster.client import ConflictError, Roster

    with Roster(api_key=api_key, base_url=api_url) as client:
        _completed(client, [["ann@x.io", "Ann"]], tmp_path)
        import_id = _completed(client, [["ann@x.io", "Anna"], ["new@x.io", "New"]], tmp_path)
        with pytest.raises(ConflictError) as refused:
            client.contacts.imports.cancel(import_id)
        assert refused.value.name == "too_late"
        client.contacts.update("new@x.io", first_name="Changed")

        reverted = client.contacts.imports.revert(import_id)
        assert reverted.reverted and reverted.status == "completed"
        assert reverted.revert["restored"] == 1 and reverted.revert["left_unchanged"] == 1
        assert client.contacts.get("ann@x.io").first_name == "Ann"
        assert [(c["email"], c["reason"]) for c in client.contacts.imports.revert_conflicts(import_id)] == [
            ("new@x.io", "changed_since")
        ]
        # wait returns at once on a reverted import (an end state)
        assert client.contacts.imports.wait(import_id, timeout=30).reverted

        monkeypatch.setenv("ROSTER_LAUNCH", "sensor")  # no sensor here: it stays queued
        path = tmp_path / "queued.csv"
        path.write_bytes(csv_bytes(["email"], [["q@x.io"]]))
        queued = client.contacts.imports.create(file=path)
        cancelled = client.contacts.imports.cancel(queued.id)
        assert cancelled.cancelled and cancelled.status == "failed" and "cancelled" in cancelled.error
        waited = client.contacts.imports.wait(queued.id, timeout=30)
        assert waited.cancelled and waited.done


def test_resend_sdk_reads_cancelled_and_reverted_imports(api_url, api_key, tmp_path, monkeypatch):
    """Roster's extra fields (cancelled_at, reverted_at, revert) must not break Resend's own SDK."""
    import resend

    from roster.client import Roster

    with Roster(api_key=api_key, base_url=api_url) as client:
        reverted = _completed(client, [["r@x.io", "R"]], tmp_path)
        client.contacts.imports.revert(reverted)
        monkeypatch.setenv("ROSTER_LAUNCH", "sensor")
        path = tmp_path / "q.csv"
        path.write_bytes(csv_bytes(["email"], [["q@x.io"]]))
        cancelled = client.contacts.imports.create(file=path).id
        client.contacts.imports.cancel(cancelled)
    old = resend.api_key, resend.api_url
    resend.api_key, resend.api_url = api_key, api_url
    try:
        got = resend.Contacts.Imports.get(reverted)
        assert got["status"] == "completed" and got["reverted_at"]
        got = resend.Contacts.Imports.get(cancelled)
        assert got["status"] == "failed" and got["cancelled_at"]
        listed = resend.Contacts.Imports.list({"limit": 10})
        assert {i["id"] for i in listed["data"]} == {reverted, cancelled}
    finally:
        resend.api_key, resend.api_url = old


def test_client_cli_cancel_revert_watch(api_url, api_key, tmp_path):
    from roster.client import Roster

    env = {"ROSTER_API_KEY": api_key, "ROSTER_API_URL": api_url}
    with Roster(api_key=api_key, base_url=api_url) as client:
        _completed(client, [["c@x.io", "C"]], tmp_path)
        import_id = _completed(client, [["c@x.io", "Cee"], ["d@x.io", "D"]], tmp_path)
        client.contacts.update("d@x.io", first_name="Dee")

    watched = _roster("contacts", "imports", "watch", import_id, "--json", env_extra=env)
    assert watched.returncode == 0 and json.loads(watched.stdout)["status"] == "completed"
    late = _roster("contacts", "imports", "cancel", import_id, env_extra=env)
    assert late.returncode != 0 and "too_late" in late.stderr + late.stdout
    left = tmp_path / "left.csv"
    reverted = _roster("contacts", "imports", "revert", import_id, "--conflicts", str(left), "--json", env_extra=env)
    assert reverted.returncode == 0, reverted.stderr
    assert json.loads(reverted.stdout)["revert"]["left_unchanged"] == 1
    assert [r[1:3] for r in list(csv.reader(io.StringIO(left.read_text())))[1:]] == [["d@x.io", "changed_since"]]
    watched = _roster("contacts", "imports", "watch", import_id, env_extra=env)
    assert watched.returncode == 1 and "reverted at" in watched.stdout


def test_local_cli_cancel_revert_watch(api_url, make_key, tmp_path, monkeypatch):
    from roster.client import Roster

    team = f"cli-{uuid.uuid4().hex[:8]}"
    key = make_key(team)
    with Roster(api_key=key, base_url=api_url) as client:
        import_id = _completed(client, [["l@x.io", "L"]], tmp_path)
        monkeypatch.setenv("ROSTER_LAUNCH", "sensor")
        path = tmp_path / "q.csv"
        path.write_bytes(csv_bytes(["email"], [["q@x.io"]]))
        queued = client.contacts.imports.create(file=path).id

    cancelled = _roster("imports", "cancel", queued, "--team", team)
    assert cancelled.returncode == 0 and "cancelled at" in cancelled.stdout, cancelled.stderr
    watched = _roster("imports", "watch", queued, "--team", team)
    assert watched.returncode == 1 and "nothing was imported" in watched.stdout
    late = _roster("imports", "cancel", import_id, "--team", team)
    assert late.returncode != 0 and f"roster imports revert {import_id}" in late.stderr + late.stdout
    reverted = _roster("imports", "revert", import_id, "--team", team, "--json")
    assert reverted.returncode == 0 and json.loads(reverted.stdout)["revert"]["deleted"] == 1
    watched = _roster("imports", "watch", import_id, "--team", team)
    assert watched.returncode == 1 and "reverted at" in watched.stdout
    nothing = _roster("imports", "revert", queued, "--team", team)
    assert nothing.returncode != 0 and "nothing to revert" in nothing.stderr + nothing.stdout


def test_mcp_cancel_and_revert(api_url, api_key, tmp_path):
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    from roster.client import Roster

    with Roster(api_key=api_key, base_url=api_url) as client:
        import_id = _completed(client, [["m@x.io", "M"]], tmp_path)
    env = {"ROSTER_API_KEY": api_key, "ROSTER_API_URL": api_url, "DATABASE_URL": "", "PATH": os.environ.get("PATH", "")}
    params = StdioServerParameters(command=os.path.join(VENV_BIN, "roster"), args=["mcp"], env=env, cwd=str(tmp_path))
    seen: dict = {}

    async def main():
        async with Client(params) as client:
            with anyio.fail_after(150):
                seen["tools"] = {t.name for t in (await client.list_tools()).tools}
                seen["cancel"] = await client.call_tool("cancel-contact-import", {"id": import_id})
                seen["revert"] = await client.call_tool("revert-contact-import", {"id": import_id})

    anyio.run(main)
    assert {"cancel-contact-import", "revert-contact-import"} <= seen["tools"]
    assert seen["cancel"].is_error and "too_late" in seen["cancel"].content[0].text
    assert not seen["revert"].is_error
    reverted = json.loads(seen["revert"].content[0].text)
    assert reverted["reverted_at"] and reverted["revert"]["deleted"] == 1 and reverted["leftUnchanged"] == []
