"""Column-map suggestions everywhere: POST /contacts/imports/column-map, overriding a suggestion and
the remembered map, auto_map / auto_create_properties reaching the job, the SDK, the CLI client and
the MCP tool. The offline engine answers (no model is asked)."""

from __future__ import annotations

import copy
import gzip
import json
import os
import subprocess

import anyio
import pytest

from roster.landing import LandingStore
from tests.api.conftest import VENV_BIN, csv_bytes, wait_done

HEADER = ["E-Mail-Adresse", "Vorname", "Nachname", "Accepts Marketing", "Kundennummer", "Stadt"]
ROWS = [
    ["ann@example.com", "Ann", "Smith", "yes", "1001", "Berlin"],
    ["bob@example.com", "Bob", "Jones", "no", "1002", "Hamburg"],
]


@pytest.fixture(autouse=True)
def offline_engine(monkeypatch):
    # The server runs in this process: its mapping engine reads this.
    monkeypatch.setenv("ROSTER_MAPPING_ENGINE", "offline")


def _suggest(http, content: bytes, filename: str = "people.csv", **fields):
    return http.post("/contacts/imports/column-map", files={"file": (filename, content, "text/csv")}, data=fields)


def _by_column(body: dict) -> dict:
    return {s["column"]: s for s in body["suggestions"]}


def _contacts(http) -> dict:
    """The team's contacts by email, each property as its bare value."""
    out = {}
    for c in http.get("/contacts", params={"limit": 100}).json()["data"]:
        assert all(set(v) == {"value", "type"} for v in c["properties"].values()), c
        out[c["email"]] = {**c, "properties": {k: v["value"] for k, v in c["properties"].items()}}
    return out


def _property_keys(http) -> set[str]:
    return {p["key"] for p in http.get("/contact-properties", params={"limit": 100}).json()["data"]}


def _import(http, content: bytes, **fields) -> dict:
    r = http.post("/contacts/imports", files={"file": ("people.csv", content, "text/csv")}, data=fields)
    assert r.status_code == 201, r.text
    return r.json()


def _error(r, status: int, text: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"statusCode", "name", "message"} and body["statusCode"] == status, body
    assert text in body["message"], body


def test_suggest_endpoint(http, api_url):
    incoming = LandingStore().base() / ".incoming"
    waiting = set(incoming.glob("*"))  # drafts other tests left for the dashboard's review
    r = _suggest(http, csv_bytes(HEADER, ROWS))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "column_map_suggestion"
    s = _by_column(body)
    assert list(s) == HEADER
    assert s["E-Mail-Adresse"]["target"] == "email" and s["Vorname"]["target"] == "first_name"
    assert s["Nachname"]["target"] == "last_name"
    assert s["Accepts Marketing"]["target"] == "unsubscribed" and s["Accepts Marketing"]["invert"] is True
    for sug in body["suggestions"]:
        assert {"column", "target", "property_key", "property_type", "invert", "confidence", "reason", "engine"} <= set(sug)
        assert 0 <= sug["confidence"] <= 1 and sug["reason"] and sug["engine"] == "offline"
    assert body["column_map"]["email"] == "E-Mail-Adresse"
    assert body["column_map"]["unsubscribed"] == {"column": "Accepts Marketing", "invert": True}
    assert http.get("/contact-properties").json()["data"] == []  # nothing stored

    # the caller's properties instead of the team's
    r = _suggest(http, csv_bytes(HEADER, ROWS), existing_properties=json.dumps([{"key": "city", "type": "string"}]))
    city = _by_column(r.json())["Stadt"]
    assert (city["target"], city["property_key"], city["is_new_property"]) == ("property", "city", False)

    # only the head of a large upload is read: plain (> 4 MB) and gzip whose compressed head is cut
    big = csv_bytes(["email", "Vorname"], [[f"u{i}@example.com", f"Name {i}"] for i in range(200_000)])
    assert len(big) > 5 << 20
    r = _suggest(http, big, "big.csv")
    assert r.status_code == 200 and r.json()["column_map"] == {"email": "email", "first_name": "Vorname"}, r.text
    noisy = csv_bytes(["email", "token"], [[f"u{i}@example.com", os.urandom(48).hex()] for i in range(80_000)])
    packed = gzip.compress(noisy, compresslevel=1)
    assert len(packed) > 4 << 20
    r = _suggest(http, packed, "big.csv.gz")
    assert r.status_code == 200 and r.json()["column_map"]["email"] == "email", r.text

    # refusals, in Resend's shape
    _error(_suggest(http, b""), 422, "empty")
    _error(_suggest(http, os.urandom(2000)), 422, "not a CSV")
    _error(http.post("/contacts/imports/column-map", data={"x": "1"}, files={"other": ("a.txt", b"a")}), 422, "`file`")
    _error(_suggest(http, b"email\na@b.co\n", existing_properties="{"), 422, "existing_properties")
    _error(_suggest(http, b"email\na@b.co\n", existing_properties='[{"key": "bad key"}]'), 422, "invalid")
    _error(_suggest(http, b"email\na@b.co\n", existing_properties='[{"key": "k", "type": "date"}]'), 422, "type")

    assert set(incoming.glob("*")) <= waiting  # no upload is left behind

    from roster.api.app import create_app

    op = create_app().openapi()["paths"]["/contacts/imports/column-map"]["post"]
    assert "file" in op["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    assert "/contacts/imports/column-map" in http.get(f"{api_url}/openapi.json").json()["paths"]


def test_override_is_honoured_and_remembered(http):
    suggested = _suggest(http, csv_bytes(HEADER, ROWS)).json()["column_map"]
    assert set(suggested["properties"]) == {"kundennummer", "stadt"}
    # A person rejects Kundennummer, and puts Stadt into a property named `city`.
    accepted = copy.deepcopy(suggested)
    del accepted["properties"]["kundennummer"]
    accepted["properties"]["city"] = accepted["properties"].pop("stadt")
    first = wait_done(http, _import(http, csv_bytes(HEADER, ROWS), column_map=json.dumps(accepted))["id"])
    assert first["status"] == "completed" and first["counts"]["created"] == 2, first
    people = _contacts(http)
    ann, bob = people["ann@example.com"], people["bob@example.com"]
    assert (ann["first_name"], ann["last_name"], ann["unsubscribed"]) == ("Ann", "Smith", False)
    assert bob["unsubscribed"] is True  # "Accepts Marketing: no"
    assert ann["properties"] == {"city": "Berlin"}  # the rejected column is not imported
    assert _property_keys(http) == {"city"}

    # The same headers (another order, other rows), no column map: the accepted map, remembered.
    header2 = ["Stadt", "Kundennummer", "Accepts Marketing", "Nachname", "Vorname", "E-Mail-Adresse"]
    rows2 = [["Köln", "2001", "no", "Weber", "Cleo", "cleo@example.com"]]
    again = _suggest(http, csv_bytes(header2, rows2)).json()
    s = _by_column(again)
    assert {x["engine"] for x in again["suggestions"]} == {"memory"}
    assert s["Kundennummer"]["target"] == "ignore" and s["Stadt"]["property_key"] == "city"
    second = wait_done(http, _import(http, csv_bytes(header2, rows2))["id"])
    assert second["status"] == "completed" and second["counts"]["created"] == 1, second
    cleo = _contacts(http)["cleo@example.com"]
    assert (cleo["first_name"], cleo["last_name"], cleo["unsubscribed"]) == ("Cleo", "Weber", True)
    assert cleo["properties"] == {"city": "Köln"}
    assert _property_keys(http) == {"city"}


def test_auto_map_and_auto_create_properties_reach_the_job(api_url, make_key):
    import httpx

    def client():
        return httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {make_key()}"}, timeout=60)

    header = ["E-Mail-Adresse", "Vorname", "Accepts Marketing", "Stadt"]
    rows = [["dora@example.com", "Dora", "no", "Bonn"]]
    content = csv_bytes(header, rows)
    cases = {
        # no column map: core fields only, new properties only when asked
        "plain": ({}, ("Dora", True, {}), set()),
        "create": ({"auto_create_properties": "true"}, ("Dora", True, {"stadt": "Bonn"}), {"stadt"}),
        # a partial map: the rest only with auto_map (and new properties with auto_create_properties too)
        "partial": ({"column_map": '{"email": "E-Mail-Adresse"}'}, (None, False, {}), set()),
        "auto_map": ({"column_map": '{"email": "E-Mail-Adresse"}', "auto_map": "true"}, ("Dora", True, {}), set()),
        "auto_map_create": (
            {"column_map": '{"email": "E-Mail-Adresse"}', "auto_map": "true", "auto_create_properties": "true"},
            ("Dora", True, {"stadt": "Bonn"}),
            {"stadt"},
        ),
    }
    clients = {name: client() for name in cases}  # a team each: nothing remembered between them
    try:
        ids = {name: _import(clients[name], content, **fields)["id"] for name, (fields, _, _) in cases.items()}
        for name, (_, (first_name, unsubscribed, props), keys) in cases.items():
            c = clients[name]
            done = wait_done(c, ids[name])
            assert done["status"] == "completed" and done["counts"]["created"] == 1, (name, done)
            dora = _contacts(c)["dora@example.com"]
            assert (dora["first_name"], dora["unsubscribed"], dora["properties"]) == (first_name, unsubscribed, props), name
            assert _property_keys(c) == keys, name
    finally:
        for c in clients.values():
            c.close()


def test_sdk_suggest_column_map(api_url, api_key, tmp_path):
    from roster.client import AsyncRoster, ColumnMapSuggestion, ColumnSuggestion, Roster, ValidationError

    path = tmp_path / "leute.csv"
    path.write_bytes(csv_bytes(HEADER, ROWS))
    with Roster(api_key=api_key, base_url=api_url) as client:
        result = client.contacts.imports.suggest_column_map(file=path)
        assert isinstance(result, ColumnMapSuggestion) and all(isinstance(s, ColumnSuggestion) for s in result.suggestions)
        assert result.column_map["email"] == "E-Mail-Adresse" and result.suggestion("Vorname").target == "first_name"
        marketing = result.suggestion("Accepts Marketing")
        assert marketing.target == "unsubscribed" and marketing.invert and 0 < marketing.confidence <= 1
        typed = client.contacts.imports.suggest_column_map(
            file=csv_bytes(HEADER, ROWS), existing_properties=[{"key": "city", "type": "string"}]
        )
        assert typed.suggestion("Stadt").property_key == "city"
        with pytest.raises(ValidationError) as e:
            client.contacts.imports.suggest_column_map(file=b"")
        assert e.value.status_code == 422 and "empty" in e.value.message
        # a file over 4 MB: the SDK sends its head, ended at a line end
        big = tmp_path / "big.csv"
        big.write_bytes(csv_bytes(["Email", "First Name"], [[f"u{i}@example.com", f"N{i}"] for i in range(250_000)]))
        assert client.contacts.imports.suggest_column_map(file=big).column_map == {"email": "Email", "first_name": "First Name"}

    async def main():
        async with AsyncRoster(api_key=api_key, base_url=api_url) as client:
            return await client.contacts.imports.suggest_column_map(file=path)

    assert anyio.run(main).column_map == result.column_map


def _roster(*args, env_extra=None):
    return subprocess.run(
        [os.path.join(VENV_BIN, "roster"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env_extra or {})},
        timeout=120,
    )


def test_cli_column_map(api_url, api_key, tmp_path):
    path = tmp_path / "leute.csv"
    path.write_bytes(csv_bytes(HEADER, ROWS))
    env = {"ROSTER_API_KEY": api_key, "ROSTER_API_URL": api_url, "COLUMNS": "200"}
    r = _roster("contacts", "imports", "column-map", "--file", str(path), "--json", env_extra=env)
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["object"] == "column_map_suggestion" and body["column_map"]["first_name"] == "Vorname"
    assert _by_column(body)["Accepts Marketing"]["invert"] is True

    r = _roster("contacts", "imports", "column-map", "--file", str(path), env_extra=env)
    assert r.returncode == 0, r.stderr
    assert "E-Mail-Adresse" in r.stdout and "unsubscribed (inverted)" in r.stdout and '"email": "E-Mail-Adresse"' in r.stdout

    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    r = _roster("contacts", "imports", "column-map", "--file", str(empty), env_extra=env)
    assert r.returncode != 0 and "empty" in r.stderr
    r = _roster("contacts", "imports", "column-map", "--file", str(path), "--existing-properties", "[", env_extra=env)
    assert r.returncode != 0 and "--existing-properties" in r.stderr


def test_mcp_suggest_column_mapping(api_url, api_key, tmp_path):
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "leute.csv").write_bytes(csv_bytes(HEADER, ROWS))
    env = {
        "ROSTER_API_KEY": api_key,
        "ROSTER_API_URL": api_url,
        "ROSTER_MCP_ALLOWED_DIRS": str(allowed),
        "DATABASE_URL": "",
        "PATH": os.environ.get("PATH", ""),
    }
    params = StdioServerParameters(command=os.path.join(VENV_BIN, "roster"), args=["mcp"], env=env, cwd=str(tmp_path))
    errors: list = []

    async def scenario(client):
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert "suggest-column-mapping" in tools
        assert {"filePath", "content", "url", "existingProperties"} <= set(
            tools["suggest-column-mapping"].input_schema["properties"]
        )

        from_path = await client.call_tool("suggest-column-mapping", {"filePath": str(allowed / "leute.csv")})
        assert not from_path.is_error, from_path.content
        body = json.loads(from_path.content[0].text)
        assert body["column_map"]["email"] == "E-Mail-Adresse"
        assert _by_column(body)["Accepts Marketing"]["invert"] is True
        from_text = await client.call_tool(
            "suggest-column-mapping",
            {"content": csv_bytes(HEADER, ROWS).decode(), "existingProperties": [{"key": "city", "type": "string"}]},
        )
        assert _by_column(json.loads(from_text.content[0].text))["Stadt"]["property_key"] == "city"

        # the map, as a person edits it, goes to create-contact-import
        cmap = body["column_map"]
        cmap.pop("properties", None)
        created = await client.call_tool("create-contact-import", {"filePath": str(allowed / "leute.csv"), "columnMap": cmap})
        assert not created.is_error, created.content

        for args, message in [
            ({}, "exactly one"),
            ({"content": "email\na@b.co\n", "filePath": str(allowed / "leute.csv")}, "exactly one"),
            ({"filePath": str(tmp_path / "leute.csv")}, "outside the allowed directories"),
            ({"url": "http://127.0.0.1:1/x.csv"}, "private address"),
            ({"content": "\x00\x01\x02 binary"}, "not a CSV"),
        ]:
            result = await client.call_tool("suggest-column-mapping", args)
            assert result.is_error and message in result.content[0].text, (args, result.content)

    async def main():
        async with Client(params) as client:
            try:
                with anyio.fail_after(60):
                    await scenario(client)
            except BaseException as e:  # surface it: leaving the client with an error pending can hang
                errors.append(e)

    anyio.run(main)
    assert not errors, errors


def test_mcp_suggest_from_url_reads_only_the_head(api_url, api_key, monkeypatch):
    """A URL (allowed on this machine here): only the first 4 MB are fetched, whatever the size limit."""
    import http.server
    import threading

    from roster.mcp_server import server as mcp

    body = csv_bytes(["Email", "Vorname"], [[f"u{i}@example.com", f"N{i}"] for i in range(300_000)])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "text/csv")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            try:
                for i in range(0, len(body), 1 << 16):
                    self.wfile.write(body[i : i + (1 << 16)])
            except OSError:  # the client stops reading after the head
                pass

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    for k, v in {
        "ROSTER_API_KEY": api_key,
        "ROSTER_API_URL": api_url,
        "ROSTER_MCP_ALLOW_PRIVATE_URLS": "1",
        "ROSTER_MCP_MAX_URL_BYTES": "1000",
    }.items():
        monkeypatch.setenv(k, v)
    try:
        result = anyio.run(lambda: mcp.suggest_column_mapping(url=f"http://127.0.0.1:{httpd.server_address[1]}/leute.csv"))
    finally:
        httpd.shutdown()
    assert result["column_map"] == {"email": "Email", "first_name": "Vorname"}
    assert len(body) > 6 << 20
