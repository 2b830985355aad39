"""Resend's official clients, unchanged, against a real `roster serve`: the Python SDK, the Node
SDK, Resend's CLI and Resend's MCP server (the Node ones on Node 22, installed from the npm
registry by tests/compat/node_tools.py). One round trip each (see conftest.py)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import anyio

from tests.compat.conftest import (
    COLUMN_MAP_CAMEL,
    COLUMN_MAP_SNAKE,
    EXTRA_SEGMENTS,
    check_round_trip,
    json_out,
    node_env,
    wait_until_done,
)
from tests.helpers import SERVE_WAIT_SECONDS


def test_python_sdk(roster_server, team_key, people_csv):
    from importlib.metadata import version

    import resend

    assert tuple(int(x) for x in version("resend").split(".")[:2]) >= (2, 52), version("resend")
    saved = resend.api_key, resend.api_url
    resend.api_key, resend.api_url = team_key, roster_server["url"]
    try:
        segment = resend.Segments.create({"name": "Customers"})
        for i in range(EXTRA_SEGMENTS):
            resend.Segments.create({"name": f"Extra {i}"})
        topic = resend.Topics.create({"name": "Launches", "default_subscription": "opt_out"})
        created = resend.Contacts.Imports.create(
            {
                "file": people_csv.read_bytes(),
                "filename": "people.csv",
                "column_map": COLUMN_MAP_SNAKE,
                "on_conflict": "upsert",
                "segments": [{"id": segment["id"]}],
                "topics": [{"id": topic["id"], "subscription": "opt_in"}],
            }
        )
        imported = wait_until_done(lambda: resend.Contacts.Imports.get(created["id"]), log=roster_server["log"])
        contact = resend.Contacts.get(email="ann@example.com")
        before = resend.Contacts.Topics.list(email="ann@example.com")
        resend.Contacts.Topics.update({"email": "ann@example.com", "topics": [{"id": topic["id"], "subscription": "opt_out"}]})
        after = resend.Contacts.Topics.list(contact_id=contact["id"])
        segments = resend.Segments.list()
        members = resend.Contacts.list(segment_id=segment["id"])
    finally:
        resend.api_key, resend.api_url = saved
    check_round_trip(
        {
            "import": imported,
            "contact": contact,
            "topics_before": before,
            "topics_after": after,
            "segments": segments,
            "segment_id": segment["id"],
            "topic_id": topic["id"],
            "members": sorted(c["email"].lower() for c in members["data"]),
        }
    )


def test_node_sdk(node_tools, roster_server, team_key, people_csv, tmp_path):
    assert tuple(int(x) for x in node_tools.version("resend").split(".")[:2]) >= (6, 38)
    script = node_tools.modules.parent / "roundtrip.mjs"  # beside node_modules, so `import 'resend'` resolves
    shutil.copy(__file__.replace("test_resend_clients.py", "node/roundtrip.mjs"), script)
    run = subprocess.run(
        [str(node_tools.node), str(script), str(people_csv), json.dumps(COLUMN_MAP_CAMEL)],
        env=node_env(node_tools, roster_server, team_key, tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    result = json_out(run)
    assert result["plan"] == {"value": "pro", "type": "string"}  # contact.properties.plan.value, as Resend types it
    check_round_trip(result)


def test_resend_cli(node_tools, roster_server, team_key, people_csv, tmp_path):
    assert node_tools.version("resend-cli") >= "2.21"
    env = node_env(node_tools, roster_server, team_key, tmp_path)

    def resend(*args: str) -> dict:
        return json_out(subprocess.run([*node_tools.cli, *args, "--json"], env=env, capture_output=True, text=True, timeout=120))

    segment = resend("segments", "create", "--name", "Customers")
    for i in range(EXTRA_SEGMENTS):
        resend("segments", "create", "--name", f"Extra {i}")
    topic = resend("topics", "create", "--name", "Launches", "--default-subscription", "opt_out")
    created = resend(
        "contacts",
        "imports",
        "create",
        "--file",
        str(people_csv),
        "--column-map",
        json.dumps(COLUMN_MAP_CAMEL),
        "--on-conflict",
        "upsert",
        "--segment-id",
        segment["id"],
        "--topics",
        json.dumps([{"id": topic["id"], "subscription": "opt_in"}]),
    )
    imported = wait_until_done(lambda: resend("contacts", "imports", "get", created["id"]), log=roster_server["log"])
    contact = resend("contacts", "get", "ann@example.com")
    before = resend("contacts", "topics", "ann@example.com")
    updated = resend(
        "contacts", "update-topics", "ann@example.com", "--topics", json.dumps([{"id": topic["id"], "subscription": "opt_out"}])
    )
    assert updated["id"] == contact["id"]
    after = resend("contacts", "topics", contact["id"])
    # Resend's CLI always sends a limit (its --limit defaults to 10), so it pages: 10, then the rest.
    first = resend("segments", "list")
    assert len(first["data"]) == 10 and first["has_more"] is True
    rest = resend("segments", "list", "--after", first["data"][-1]["id"])
    segments = {"object": "list", "has_more": rest["has_more"], "data": first["data"] + rest["data"]}
    members = resend("segments", "contacts", segment["id"])
    newer = resend("contacts", "imports", "list", "--before", created["id"])
    assert newer["data"] == []
    check_round_trip(
        {
            "import": imported,
            "contact": contact,
            "topics_before": before,
            "topics_after": after,
            "segments": segments,
            "segment_id": segment["id"],
            "topic_id": topic["id"],
            "members": sorted(c["email"].lower() for c in members["data"]),
        }
    )


def _texts(result) -> list[str]:
    """Resend's MCP tools answer in text items, one "Key: value" block per object."""
    assert not result.is_error, [c.text for c in result.content]
    return [c.text for c in result.content]


def _field(texts: list[str], name: str) -> str:
    found = re.search(rf"^{name}: (.*)$", "\n".join(texts), re.M)
    assert found, (name, texts)
    return found.group(1).strip()


def _blocks(texts: list[str]) -> list[dict]:
    return [dict(re.findall(r"^([A-Za-z ]+): (.*)$", t, re.M)) for t in texts if re.search(r"^ID: ", t, re.M)]


def test_resend_mcp_server(node_tools, roster_server, team_key, people_csv, tmp_path):
    """Resend's MCP server over stdio, driven by the `mcp` Python client, as an agent would."""
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    assert node_tools.version("resend-mcp") >= "2.22"
    params = StdioServerParameters(
        command=node_tools.mcp[0],
        args=node_tools.mcp[1:],
        env=node_env(node_tools, roster_server, team_key, tmp_path),
        cwd=str(tmp_path),
    )
    seen: dict = {}

    async def call(client, tool: str, args: dict) -> list[str]:
        return _texts(await client.call_tool(tool, args))

    async def scenario(client):
        segment_id = _field(await call(client, "create-segment", {"name": "Customers"}), "ID")
        for i in range(EXTRA_SEGMENTS):
            await call(client, "create-segment", {"name": f"Extra {i}"})
        topic_id = _field(await call(client, "create-topic", {"name": "Launches", "defaultSubscription": "opt_out"}), "ID")
        created = await call(
            client,
            "create-contact-import",
            {
                "filePath": str(people_csv),
                "columnMap": COLUMN_MAP_CAMEL,
                "onConflict": "upsert",
                "segmentIds": [segment_id],
                "topics": [{"id": topic_id, "subscription": "opt_in"}],
            },
        )
        import_id = _field(created, "Import ID")
        with anyio.fail_after(SERVE_WAIT_SECONDS):
            while True:
                got = await call(client, "get-contact-import", {"id": import_id})
                if _field(got, "Status") in ("completed", "failed"):
                    break
                await anyio.sleep(0.5)
        seen["import"] = {
            "status": _field(got, "Status"),
            "counts": {k.lower(): int(_field(got, k)) for k in ("Total", "Created", "Updated", "Skipped", "Failed")},
        }
        contact = await call(client, "get-contact", {"email": "ann@example.com"})
        seen["contact"] = {
            "first_name": _field(contact, "First name"),
            "properties": json.loads(_field(contact, "Properties")),
            "id": _field(contact, "ID"),
        }
        seen["before"] = await call(client, "list-contact-topics", {"email": "ann@example.com"})
        await call(
            client, "update-contact-topics", {"email": "ann@example.com", "topics": [{"id": topic_id, "subscription": "opt_out"}]}
        )
        seen["after"] = await call(client, "list-contact-topics", {"id": seen["contact"]["id"]})
        seen["segments"] = await call(client, "list-segments", {})
        seen["members"] = await call(client, "list-contacts", {"segmentId": segment_id})
        seen["ids"] = (segment_id, topic_id)

    async def main():
        async with Client(params) as client:
            with anyio.fail_after(400):
                await scenario(client)

    anyio.run(main)
    segment_id, topic_id = seen["ids"]

    def topics(texts: list[str]) -> list[dict]:
        return [{"id": b["ID"], "name": b["Name"], "subscription": b["Subscription"]} for b in _blocks(texts)]

    listing = "\n".join(seen["segments"])
    assert f"Found {EXTRA_SEGMENTS + 1} segments:" in listing and "There are more" not in listing
    segment_ids = [b["ID"] for b in _blocks(seen["segments"])]
    check_round_trip(
        {
            "import": seen["import"],
            "contact": seen["contact"],
            "topics_before": {"data": topics(seen["before"])},
            "topics_after": {"data": topics(seen["after"])},
            "segments": {"has_more": False, "data": [{"id": i} for i in segment_ids]},
            "segment_id": segment_id,
            "topic_id": topic_id,
            "members": sorted(b["Email"].lower() for b in _blocks(seen["members"])),
        }
    )


def test_the_node_clients_run_on_node_22(node_tools):
    version = subprocess.run([str(node_tools.node), "--version"], capture_output=True, text=True).stdout.strip()
    assert int(version.lstrip("v").split(".")[0]) >= 22, version
