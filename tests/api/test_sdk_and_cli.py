"""Our SDK (sync and async) and the CLI client commands, end to end against the server."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.api.conftest import VENV_BIN, csv_bytes
from tests.helpers import WAIT_SECONDS

ROWS = [["Ann@example.com", "Ann", "gold"], ["bob@example.com", "Bob", "silver"], ["bad-email", "X", "none"]]
COLUMN_MAP = {"email": "Email", "first_name": "Name", "properties": {"tier": {"column": "Tier"}}}


def test_sync_sdk(api_url, api_key, tmp_path):
    from roster.client import NotFoundError, Roster, ValidationError

    path = tmp_path / "people.csv"
    path.write_bytes(csv_bytes(["Email", "Name", "Tier"], ROWS))
    with Roster(api_key=api_key, base_url=api_url) as client:
        seg = client.segments.create("Customers")
        created = client.contacts.imports.create(file=path, column_map=COLUMN_MAP, on_conflict="upsert", segments=[seg.id])
        seen: list[str] = []
        done = client.contacts.imports.wait(
            created.id, on_progress=lambda i: seen.append(i.status), poll_interval=0.2, timeout=WAIT_SECONDS
        )
        assert done.status == "completed" and seen[-1] == "completed"
        assert (done.counts.total, done.counts.created, done.counts.failed) == (3, 2, 1)
        assert [f.email for f in client.contacts.imports.failures(created.id)] == ["bad-email"]
        assert "bad-email" in client.contacts.imports.failures_csv(created.id)
        page = client.contacts.imports.list(limit=5, status="completed")
        assert [i.id for i in page] == [created.id]
        members = client.contacts.list(segment_id=seg.id)
        assert sorted(c.email.lower() for c in members) == ["ann@example.com", "bob@example.com"]
        ann = client.contacts.get("ann@example.com")
        assert ann.properties == {"tier": {"value": "gold", "type": "string"}} and ann.unsubscribed is False
        assert ann.property_values == {"tier": "gold"}

        # file objects and bytes, the second time every contact is updated
        with path.open("rb") as f:
            again = client.contacts.imports.create(file=f, column_map=COLUMN_MAP)
        assert client.contacts.imports.wait(again.id, poll_interval=0.2).counts.updated == 2

        with pytest.raises(ValidationError) as e:
            client.contacts.imports.create(file=b"name\nAnn\n")
        assert e.value.status_code == 422 and "missing required email column" in e.value.message
        with pytest.raises(NotFoundError):
            client.contacts.imports.get("00000000-0000-0000-0000-000000000000")

        prop = client.contact_properties.create("score", "number", fallback_value=0)
        assert client.contact_properties.get(prop.id).fallback_value == 0
        topic = client.topics.create("News", "opt_out", description="d")
        assert client.topics.get(topic.id).default_subscription == "opt_out"
        c = client.contacts.create("zed@example.com", first_name="Zed", properties={"score": 3})
        client.contacts.update(c.id, unsubscribed=True, properties={"score": None})
        zed = client.contacts.get(c.id)
        assert zed.unsubscribed is True and zed.properties == {}
        assert client.contacts.delete("zed@example.com").deleted


def test_pagination(api_url, api_key):
    from roster.client import Roster

    with Roster(api_key=api_key, base_url=api_url) as client:
        ids = [client.segments.create(f"s{i}").id for i in range(5)]
        first = client.segments.list(limit=2)
        assert [s.id for s in first] == ids[::-1][:2] and first.has_more
        second = client.segments.list(limit=2, after=first.data[-1].id)
        assert [s.id for s in second] == ids[::-1][2:4] and second.has_more
        third = client.segments.list(limit=2, after=second.data[-1].id)
        assert [s.id for s in third] == ids[:1] and not third.has_more
        back = client.segments.list(limit=2, before=third.data[0].id)
        assert [s.id for s in back] == [s.id for s in second]


def test_async_sdk(api_url, api_key):
    import anyio

    from roster.client import AsyncRoster

    async def main():
        async with AsyncRoster(api_key=api_key, base_url=api_url) as client:
            created = await client.contacts.imports.create(file=csv_bytes(["email"], [["x@example.com"], ["y@example.com"]]))
            done = await client.contacts.imports.wait(created.id, poll_interval=0.2, timeout=WAIT_SECONDS)
            assert done.counts.created == 2
            page = await client.contacts.list(limit=1)
            assert len(page) == 1 and page.has_more

    anyio.run(main)


def test_env_configuration(api_url, api_key, monkeypatch):
    from roster import Roster
    from roster.client import ConfigurationError

    monkeypatch.delenv("ROSTER_API_KEY", raising=False)
    with pytest.raises(ConfigurationError):
        Roster()
    monkeypatch.setenv("ROSTER_API_KEY", api_key)
    monkeypatch.setenv("ROSTER_API_URL", api_url)
    assert Roster().segments.list().data == []


def _roster(*args, env_extra=None, timeout=120):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([os.path.join(VENV_BIN, "roster"), *args], capture_output=True, text=True, env=env, timeout=timeout)


def test_cli_create_wait_get_list(api_url, api_key, tmp_path):
    from roster.client import Roster

    path = tmp_path / "people.csv"
    path.write_bytes(csv_bytes(["Email", "Name", "Tier"], ROWS))
    env = {"ROSTER_API_KEY": api_key, "ROSTER_API_URL": api_url}
    sdk = Roster(api_key=api_key, base_url=api_url)
    topic = sdk.topics.create("Launches", "opt_in")
    # camelCase keys, as Resend's CLI takes them; --topics as in Resend's CLI
    camel = {"email": "Email", "firstName": "Name", "properties": {"tier": {"column": "Tier"}}}
    r = _roster(
        "contacts",
        "imports",
        "create",
        "--file",
        str(path),
        "--column-map",
        json.dumps(camel),
        "--on-conflict",
        "upsert",
        "--topics",
        json.dumps([{"id": topic.id, "subscription": "opt_out"}]),
        "--wait",
        "--json",
        env_extra=env,
    )
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["status"] == "completed"
    assert result["counts"] == {"total": 3, "created": 2, "updated": 0, "skipped": 0, "failed": 1}
    assert sdk.contacts.get("ann@example.com").first_name == "Ann"
    assert [(t.name, t.subscription) for t in sdk.contacts.topics("ann@example.com")] == [("Launches", "opt_out")]
    sdk.contacts.update_topics("ann@example.com", [{"id": topic.id, "subscription": "opt_in"}])
    assert [t.subscription for t in sdk.contacts.topics("ann@example.com")] == ["opt_in"]
    r = _roster("contacts", "imports", "create", "--file", str(path), "--topics", "{nope", env_extra=env)
    assert r.returncode != 0 and "--topics is not valid JSON" in r.stderr

    r = _roster("contacts", "imports", "get", result["id"], "--json", "--api-key", api_key, "--api-url", api_url)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["id"] == result["id"]
    r = _roster("contacts", "imports", "list", "--status", "completed", "--limit", "5", "--json", env_extra=env)
    assert [i["id"] for i in json.loads(r.stdout)["data"]] == [result["id"]]
    r = _roster("contacts", "imports", "list", env_extra=env)
    assert r.returncode == 0 and result["id"][:8] in r.stdout
    newer = sdk.contacts.imports.create(file=b"email\nz@example.com\n")  # after the first, so newer
    sdk.contacts.imports.wait(newer.id, poll_interval=0.2)
    r = _roster("contacts", "imports", "list", "--before", result["id"], "--json", env_extra=env)
    assert [i["id"] for i in json.loads(r.stdout)["data"]] == [newer.id]
    r = _roster("contacts", "imports", "list", "--before", result["id"], "--after", result["id"], env_extra=env)
    assert r.returncode != 0 and "cannot be used together" in r.stderr

    # refused: one line on stderr, non-zero exit
    bad = tmp_path / "bad.csv"
    bad.write_text("name\nAnn\n")
    r = _roster("contacts", "imports", "create", "--file", str(bad), env_extra=env)
    assert r.returncode != 0 and "missing required email column" in r.stderr
    r = _roster("contacts", "imports", "get", result["id"], env_extra={"ROSTER_API_KEY": "re_wrong", "ROSTER_API_URL": api_url})
    assert r.returncode != 0 and "invalid_api_key" in r.stderr


def test_cli_keys_create(api_url):
    r = _roster("keys", "create", "--team", "cli-team", "--name", "ci", "--json")
    assert r.returncode == 0, r.stderr
    key = json.loads(r.stdout)
    assert key["token"].startswith("re_") and key["id"]
    r = _roster("contacts", "imports", "list", "--json", env_extra={"ROSTER_API_KEY": key["token"], "ROSTER_API_URL": api_url})
    assert r.returncode == 0 and json.loads(r.stdout)["data"] == []
