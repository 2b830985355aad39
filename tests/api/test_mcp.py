"""The MCP server through the real `mcp` client over stdio (`roster mcp` as a subprocess)."""

from __future__ import annotations

import json
import os
import time

import anyio
import pytest

from tests.api.conftest import VENV_BIN, csv_bytes
from tests.helpers import WAIT_SECONDS


def _payload(result) -> dict:
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


@pytest.fixture
def mcp_env(api_url, api_key, tmp_path):
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    return allowed, {
        "ROSTER_API_KEY": api_key,
        "ROSTER_API_URL": api_url,
        "ROSTER_MCP_ALLOWED_DIRS": str(allowed),
        "DATABASE_URL": "",
        "PATH": os.environ.get("PATH", ""),
    }


def test_mcp_tools_over_stdio(mcp_env, tmp_path):
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    allowed, env = mcp_env
    (allowed / "people.csv").write_bytes(csv_bytes(["Email", "Name"], [["a@example.com", "A"], ["b@example.com", "B"]]))
    outside = tmp_path / "secret.csv"
    outside.write_bytes(csv_bytes(["email"], [["s@example.com"]]))
    params = StdioServerParameters(command=os.path.join(VENV_BIN, "roster"), args=["mcp"], env=env, cwd=str(tmp_path))

    async def main():
        async with Client(params) as client:
            try:
                with anyio.fail_after(150):
                    await scenario(client)
            except BaseException as e:  # surface it: leaving the client with an error pending can hang
                import traceback

                traceback.print_exc()
                errors.append(e)

    errors: list = []

    async def scenario(client):
        if True:
            names = {t.name for t in (await client.list_tools()).tools}
            assert {
                "create-contact-import",
                "get-contact-import",
                "list-contact-imports",
                "list-segments",
                "create-segment",
                "list-contact-properties",
                "create-contact-property",
                "list-topics",
                "create-topic",
            } <= names
            topic = _payload(await client.call_tool("create-topic", {"name": "Launches", "defaultSubscription": "opt_out"}))
            assert [t["id"] for t in _payload(await client.call_tool("list-topics", {}))["data"]] == [topic["id"]]

            seg = _payload(await client.call_tool("create-segment", {"name": "From MCP"}))
            prop = _payload(await client.call_tool("create-contact-property", {"key": "plan", "type": "string"}))
            assert prop["object"] == "contact_property"
            assert [s["id"] for s in _payload(await client.call_tool("list-segments", {}))["data"]] == [seg["id"]]
            assert [p["key"] for p in _payload(await client.call_tool("list-contact-properties", {}))["data"]] == ["plan"]

            # Resend's MCP shape: camelCase columnMap keys, filename, topics
            created = _payload(
                await client.call_tool(
                    "create-contact-import",
                    {
                        "filePath": str(allowed / "people.csv"),
                        "filename": "from-agent.csv",
                        "columnMap": {"email": "Email", "firstName": "Name"},
                        "onConflict": "upsert",
                        "segmentIds": [seg["id"]],
                        "topics": [{"id": topic["id"], "subscription": "opt_in"}],
                    },
                )
            )
            from_text = _payload(await client.call_tool("create-contact-import", {"content": "email\nc@example.com\n"}))
            for import_id, created_count in ((created["id"], 2), (from_text["id"], 1)):
                deadline = time.monotonic() + WAIT_SECONDS
                while True:
                    got = _payload(await client.call_tool("get-contact-import", {"id": import_id}))
                    if got["status"] in ("completed", "failed") or time.monotonic() > deadline:
                        break
                    await anyio.sleep(0.3)
                assert got["status"] == "completed" and got["counts"]["created"] == created_count
            listed = _payload(await client.call_tool("list-contact-imports", {"limit": 10}))
            assert {i["id"] for i in listed["data"]} == {created["id"], from_text["id"]}
            newer = _payload(await client.call_tool("list-contact-imports", {"before": created["id"]}))
            assert [i["id"] for i in newer["data"]] == [from_text["id"]]
            both = await client.call_tool("list-contact-imports", {"before": created["id"], "after": created["id"]})
            assert both.is_error and "Cannot use both" in both.content[0].text
            # An error of the API comes back as the tool's error, with its status and name.
            missing = await client.call_tool("get-contact-import", {"id": "00000000-0000-4000-8000-000000000000"})
            assert missing.is_error and "404 not_found: Contact import not found" in missing.content[0].text, missing.content
            from roster.client import AsyncRoster

            async with AsyncRoster(api_key=env["ROSTER_API_KEY"], base_url=env["ROSTER_API_URL"]) as sdk:
                a = await sdk.contacts.get("a@example.com")
                assert a.first_name == "A"
                assert [(t.name, t.subscription) for t in await sdk.contacts.topics("a@example.com")] == [("Launches", "opt_in")]
                assert [(t.name, t.subscription) for t in await sdk.contacts.topics("c@example.com")] == [("Launches", "opt_out")]
                with anyio.fail_after(5):
                    from sqlalchemy import text

                    from roster.runtime.database import get_engine

                    with get_engine().connect() as conn:
                        name = conn.execute(
                            text("SELECT filename FROM contact_imports WHERE id = :i"), {"i": created["id"]}
                        ).scalar()
                assert name == "from-agent.csv"

            refusals = [
                ({"filePath": str(outside)}, "outside the allowed directories"),
                ({"filePath": str(allowed / ".." / "secret.csv")}, "outside the allowed directories"),
                ({"content": "email\na@b.co\n", "url": "https://example.com/x.csv"}, "exactly one"),
                ({}, "exactly one"),
                ({"url": "http://127.0.0.1:1/contacts.csv"}, "private address"),
                ({"url": "http://169.254.169.254/latest/meta-data"}, "private address"),
                ({"url": "file:///etc/passwd"}, "http(s)"),
                ({"content": "name\nAnn\n"}, "missing required email column"),
            ]
            for args, message in refusals:
                result = await client.call_tool("create-contact-import", args)
                assert result.is_error and message in result.content[0].text, (args, result.content)

    anyio.run(main)
    assert not errors, errors


def test_mcp_url_fetch_when_private_urls_are_allowed(api_url, mcp_env):
    """A URL on this machine is allowed only with ROSTER_MCP_ALLOW_PRIVATE_URLS=1; the fetch is size-limited."""
    import http.server
    import threading

    from roster.mcp_server import server as mcp

    body = csv_bytes(["email"], [[f"u{i}@example.com"] for i in range(3)])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "text/csv")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/list.csv"
    _, env = mcp_env
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update({k: v for k, v in env.items() if k != "DATABASE_URL"})
    from mcp.server.mcpserver.exceptions import ToolError

    try:
        with pytest.raises(ToolError, match="private address"):
            anyio.run(lambda: mcp.create_contact_import(url=url))
        os.environ["ROSTER_MCP_ALLOW_PRIVATE_URLS"] = "1"
        created = anyio.run(lambda: mcp.create_contact_import(url=url))
        assert created["object"] == "contact_import"
        os.environ["ROSTER_MCP_MAX_URL_BYTES"] = "10"
        with pytest.raises(ToolError, match="larger than 10 bytes"):
            anyio.run(lambda: mcp.create_contact_import(url=url))
    finally:
        httpd.shutdown()
        for k in ("ROSTER_MCP_ALLOW_PRIVATE_URLS", "ROSTER_MCP_MAX_URL_BYTES"):
            os.environ.pop(k, None)
        for k, v in saved.items():
            if k == "DATABASE_URL":
                continue
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_mcp_file_paths_never_reach_roster_s_data_directory(monkeypatch, tmp_path):
    """Issue 19: the allowed folder (by default the working directory) may hold Roster's data
    directory; another team's upload or dashboard draft in it is refused, even through a symlink."""
    from roster.mcp_server.fetch import Refused, check_path

    data, home = tmp_path / "data", tmp_path / "dagster-home"
    monkeypatch.setenv("ROSTER_DATA_DIR", str(data))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("ROSTER_MCP_ALLOWED_DIRS", str(tmp_path))
    inside = [data / "landing" / ".incoming" / "draft-7-0123.csv", data / "landing" / "some-import" / "upload"]
    inside += [data / "pgdata" / "PG_VERSION", home / "storage" / "run.csv", data / "secret.csv"]
    for path in inside:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("email\nvictim@example.com\n")
        with pytest.raises(Refused, match="inside Roster's data directory"):
            check_path(str(path))
    (tmp_path / "link.csv").symlink_to(inside[0])
    with pytest.raises(Refused, match="inside Roster's data directory"):
        check_path(str(tmp_path / "link.csv"))
    (tmp_path / "mine.csv").write_text("email\na@example.com\n")
    assert check_path(str(tmp_path / "mine.csv")) == (tmp_path / "mine.csv").resolve()
