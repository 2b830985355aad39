"""Every door offers every import option, spelled as the one declaration says
(schemas/import_options.py): the CLI's three import commands, the REST upload form in the OpenAPI
document, the MCP tool, the Dagster launchpad, the SDK and the dashboard's review form. A new
option declared there and missing at a door fails here. Fast: no server, no database."""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from pathlib import Path

import click
import pytest
import typer
from typer.testing import CliRunner

from schemas.import_options import OPTIONS, ImportOptions, OptionsError, declared, parse_options

# One value per option, as a caller means it (not its default), to send through each door.
MEANT = {
    "column_map": {"email": "E-mail", "first_name": "First", "properties": {"plan": {"column": "Plan", "type": "string"}}},
    "on_conflict": "skip",
    "segments": ["6f1c3d1e-0b5f-4a57-9a3e-1c2d3e4f5a6b"],
    "topics": [{"id": "0b3e6c2a-5a4d-4d36-8a3c-7e6f5a4b3c2d", "subscription": "opt_out"}],
    "auto_map": True,
    "auto_create_properties": True,
    "model_mapping": False,
    "resubscribe": True,
    "dry_run": True,
    "max_failed_rows": "5%",
}


def test_every_option_has_a_meant_value_here():
    assert set(MEANT) == set(OPTIONS), "add the new option to MEANT: the tests below send it through every door"


def _command(*path: str) -> click.Command:
    from roster.cli.app import app

    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return command


@pytest.mark.parametrize("path", [("import",), ("imports", "create"), ("contacts", "imports", "create")])
def test_cli_commands_offer_every_option(path):
    flags = {opt for p in _command(*path).params for opt in (*p.opts, *p.secondary_opts)}
    for name, _, door in declared():
        assert door.flag in flags, f"roster {' '.join(path)} lacks {door.flag} ({name})"
        if door.kind == "flag":
            assert f"--no-{door.flag[2:]}" in flags


def test_cli_flags_are_read_by_the_options_parser(tmp_path):
    """The flags, as typed, give the options the other doors give for the same meaning."""
    from roster.cli.common import with_import_options

    got = {}

    @with_import_options
    def command(options: ImportOptions) -> None:
        got["options"] = options

    (tmp_path / "map.json").write_text(json.dumps(MEANT["column_map"]))
    cli = typer.Typer()
    cli.command()(command)
    cli.command("other")(lambda: None)
    args = [
        "command",
        "--column-map",
        f"@{tmp_path / 'map.json'}",
        "--on-conflict",
        "skip",
        "--segment-id",
        MEANT["segments"][0],
        "--topics",
        json.dumps(MEANT["topics"]),
        "--auto-map",
        "--auto-create-properties",
        "--no-model-mapping",
        "--resubscribe",
        "--dry-run",
        "--max-failed-rows",
        "5%",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert got["options"] == parse_options(MEANT)
    result = CliRunner().invoke(cli, ["command", "--on-conflict", "replace"])
    assert result.exit_code == 1 and "--on-conflict must be upsert or skip" in result.output


def test_openapi_upload_form_offers_every_option():
    from roster.api.app import create_app

    spec = create_app().openapi()
    form = spec["paths"]["/contacts/imports"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    for name, field, door in declared():
        assert name in form["properties"], f"the upload form lacks {name}"
        assert form["properties"][name]["description"] == field.description + (
            ' JSON: [{"id": "<id>"}] (or ["<id>"]).' if door.kind == "ids" else ""
        )
        assert form["properties"][name]["type"] == ("boolean" if door.kind == "flag" else "string")


def test_mcp_tool_offers_every_option():
    from roster.mcp_server.server import _sdk_options, build_server

    tools = {t.name: t for t in asyncio.run(build_server().list_tools())}
    arguments = tools["create-contact-import"].input_schema["properties"]
    for name, field, door in declared():
        assert door.camel in arguments, f"create-contact-import lacks {door.camel} ({name})"
        assert arguments[door.camel]["description"] == field.description
    # what the tool hands the SDK is what was meant
    from roster.mcp_server.server import ColumnMapArg, TopicArg

    args = {door.camel: MEANT[name] for name, _, door in declared()}
    args["columnMap"] = ColumnMapArg.model_validate({**MEANT["column_map"], "firstName": "First", "first_name": None})
    args["topics"] = [TopicArg(**t) for t in MEANT["topics"]]
    assert parse_options(_sdk_options(args)) == parse_options(MEANT)


def test_launchpad_config_offers_every_option():
    from assets.import_file import ImportOverrides

    for name, field, _ in declared():
        assert name in ImportOverrides.model_fields
        assert ImportOverrides.model_fields[name].description == field.description
    # JSON options are JSON text in the launchpad's config, as in the API's form
    config = {name: json.dumps(MEANT[name]) if door.kind == "json" else MEANT[name] for name, _, door in declared()}
    launch = ImportOverrides(**config)
    assert parse_options(launch.model_dump(exclude_none=True, exclude={"file_path", "team"})) == parse_options(MEANT)


class _Capture:
    """Stands in for the SDK's client: returns the request instead of sending it."""

    def _run(self, req, after=None):
        if after:
            after()
        return req


def test_sdk_create_takes_every_option_and_sends_it_as_the_form_field():
    from roster.api.routers.imports import options_from_form
    from roster.client.resources import Imports

    params = inspect.signature(Imports.create).parameters
    for name in OPTIONS:
        assert name in params, f"Imports.create lacks {name}"
        assert params[name].default is None, f"Imports.create's {name} must default to None (left to the server)"
    req = Imports(_Capture()).create(file=b"email\na@example.com\n", **MEANT)
    assert options_from_form(req.data) == parse_options(MEANT)
    assert Imports(_Capture()).create(file=b"email\n").data == {}, "options left out are not sent"


# The dashboard's review page decides these itself: the person maps every column on the page
# (the suggestions come from the engines with the team's consent), so the map is always explicit.
DASHBOARD_DECIDES = {"auto_map", "auto_create_properties", "model_mapping"}
# How the review form names the fields it sends for each option it offers.
DASHBOARD_FIELDS = {
    "column_map": r'name="target_',
    "on_conflict": r'name="on_conflict"',
    "segments": r'name="segment"',
    "topics": r'name="topic_',
    "resubscribe": r'name="resubscribe"',
    "dry_run": r'name="dry_run" value="true"',
    "max_failed_rows": r'name="max_failed_rows"',
}


def test_dashboard_review_form_offers_every_option_it_does_not_decide():
    template = (Path(__file__).parents[1] / "roster/dashboard/templates/review.html").read_text()
    assert set(DASHBOARD_FIELDS) | DASHBOARD_DECIDES == set(OPTIONS), "a new option: offer it on the review page"
    for name, field_name in DASHBOARD_FIELDS.items():
        assert re.search(field_name, template), f"the review form lacks {name}"


def test_every_spelling_of_a_name_means_the_same_option():
    for name, _, door in declared():
        for spelling in (name, door.camel, *(a for a in door.aliases if not a.startswith("-"))):
            assert parse_options({spelling: MEANT[name]}) == parse_options({name: MEANT[name]})
    with pytest.raises(OptionsError, match="unknown option `dryrun`"):
        parse_options({"dryrun": True})
