"""The MCP server: Resend's MCP tool names for contact imports, plus segments and contact
properties. It talks to a Roster server's REST API through the SDK (ROSTER_API_URL,
ROSTER_API_KEY), so it holds no database credentials of its own."""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo

from roster.client import AsyncRoster, ListPage, RosterError
from roster.mcp_server.fetch import Refused, check_path, download
from schemas.import_options import Door, declared
from schemas.rules import PropertyType, StoredType

INSTRUCTIONS = """Import contacts into Roster from a CSV: create-contact-import (a file path, CSV text, or a URL),
then get-contact-import until its status is completed or failed, and show the user its summary. With
dryRun: true an import counts what it would do and writes nothing; show the counts and failures_by_reason,
and if the user agrees, start-contact-import starts it for real. maxFailedRows (100, or "5%") makes an
import with more failed rows fail with nothing written. cancel-contact-import stops one before its
contacts are written; revert-contact-import undoes a completed one. Segments, topics and contact
properties can be listed and created first. suggest-column-mapping says where each column of a CSV should go;
show it to the user, let them change it, and pass the columnMap they accept to create-contact-import."""


def _client() -> AsyncRoster:
    try:
        return AsyncRoster()
    except RosterError as e:
        raise ToolError(e.message) from None


def _error(e: RosterError) -> ToolError:
    return ToolError(f"{e.status_code} {e.name}: {e.message}" if e.status_code else e.message)


@contextlib.asynccontextmanager
async def _calling() -> AsyncIterator[AsyncRoster]:
    """The SDK client for one tool call: an error of Roster's API becomes the tool's error, with
    its status and name, as Resend's MCP server reports them."""
    try:
        async with _client() as client:
            yield client
    except RosterError as e:
        raise _error(e) from None


def _exactly_one(filePath: str | None, content: str | None, url: str | None) -> None:
    given = [n for n, v in (("filePath", filePath), ("content", content), ("url", url)) if v not in (None, "")]
    if len(given) != 1:
        raise ToolError("give exactly one of filePath, content or url" + (f" (got {', '.join(given)})" if given else ""))


async def _source(
    filePath: str | None, content: str | None, url: str | None, head_bytes: int | None = None, filename: str | None = None
) -> tuple[Any, str, Path | None]:
    """(file, filename, a temporary file to delete). Raises Refused. `filename` names the upload
    (Resend's MCP: default contacts.csv), else the file's own name."""
    if filePath:
        path = check_path(filePath)
        return path, filename or path.name, None
    if content:
        return content.encode("utf-8"), filename or "contacts.csv", None
    assert url is not None  # callers checked _exactly_one(): neither of the others, so a url
    tmp, name = await download(url, head_bytes=head_bytes)
    return tmp, filename or name, tmp


class PropertySpec(BaseModel):
    column: str = Field(description="The CSV header whose values fill this property.")
    type: PropertyType | None = Field(default=None, description='Default "string" (or the existing property\'s type).')


class InvertedColumn(BaseModel):
    column: str = Field(description="The CSV header.")
    invert: bool = Field(default=False, description='true when the column means the opposite (e.g. "Accepts Marketing").')


class ColumnMapArg(BaseModel):
    """Resend's MCP shape (camelCase, as its Node SDK takes it); snake_case keys are accepted too."""

    model_config = ConfigDict(extra="allow")
    email: str | None = Field(default=None, description="CSV header that holds the email addresses.")
    firstName: str | None = Field(default=None, description="CSV header that holds first names.")
    lastName: str | None = Field(default=None, description="CSV header that holds last names.")
    unsubscribed: str | InvertedColumn | None = Field(
        default=None, description="CSV header that holds the unsubscribed flag (Roster: or {column, invert})."
    )
    properties: dict[str, PropertySpec] | None = Field(
        default=None, description='{"<key>": {"column": "<header>", "type": "string|number|boolean"}}'
    )

    def wire(self) -> dict[str, Any]:
        """The API's snake_case column_map, as Resend's Node SDK sends it."""
        data = self.model_dump(exclude_none=True)
        for camel, snake in (("firstName", "first_name"), ("lastName", "last_name")):
            if camel in data:
                if data.get(snake) is not None:
                    raise ToolError(f"columnMap: give {camel} or {snake}, not both")
                data[snake] = data.pop(camel)
        return data


class TopicArg(BaseModel):
    id: str = Field(description="Topic id")
    subscription: Literal["opt_in", "opt_out"] = Field(description="Subscription for this topic")


# The tool's richer types for options the other doors carry as JSON text.
TOOL_TYPES: dict[str, Any] = {"column_map": ColumnMapArg, "topics": list[TopicArg]}


def _tool_type(name: str, field: FieldInfo, door: Door) -> Any:
    if name in TOOL_TYPES:
        return TOOL_TYPES[name]
    return {"flag": bool, "ids": list[str], "choice": field.annotation, "text": int | str}.get(door.kind, str)


def _option_arguments() -> list[inspect.Parameter]:
    """Every import option (schemas/import_options.py) as an argument of create-contact-import,
    named in camelCase as Resend's MCP server and Node SDK name them."""
    return [
        inspect.Parameter(
            door.camel,
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[_tool_type(name, field, door) | None, Field(description=field.description)],
        )
        for name, field, door in declared()
    ]


def _sdk_options(arguments: dict[str, Any]) -> dict[str, Any]:
    """The tool's option arguments as the SDK's keyword arguments (those given)."""
    out = {}
    for name, _, door in declared():
        value = arguments.get(door.camel)
        if value is None:
            continue
        if isinstance(value, ColumnMapArg):
            value = value.wire()
        elif isinstance(value, list):
            value = [v.model_dump() if isinstance(v, BaseModel) else v for v in value]
        out[name] = value
    return out


async def create_contact_import(
    filePath: Annotated[
        str | None, Field(description="Path of a CSV file on this machine (under ROSTER_MCP_ALLOWED_DIRS).")
    ] = None,
    content: Annotated[str | None, Field(description="The CSV itself, as text.")] = None,
    url: Annotated[str | None, Field(description="An http(s) URL to fetch the CSV from.")] = None,
    filename: Annotated[
        str | None, Field(description='Name for the uploaded file. Defaults to "contacts.csv" (or the file\'s own name).')
    ] = None,
    **options: Any,
) -> dict:
    """Import contacts from a CSV: give exactly one of filePath, content or url. Returns the import's id;
    the import runs in the background (see get-contact-import)."""
    _exactly_one(filePath, content, url)
    cleanup: Path | None = None
    try:
        file, filename, cleanup = await _source(filePath, content, url, filename=filename)
        async with _client() as client:
            created = await client.contacts.imports.create(file=file, filename=filename, **_sdk_options(options))
        return {"object": "contact_import", "id": created.id}
    except Refused as e:
        raise ToolError(str(e)) from None
    except RosterError as e:
        raise _error(e) from None
    finally:
        if cleanup is not None:
            cleanup.unlink(missing_ok=True)


_signature = inspect.signature(create_contact_import, eval_str=True)
create_contact_import.__signature__ = _signature.replace(  # type: ignore[attr-defined]
    parameters=[p for p in _signature.parameters.values() if p.kind != p.VAR_KEYWORD] + _option_arguments()
)


async def get_contact_import(id: Annotated[str, Field(description="The import's id.")]) -> dict:
    """An import: status (queued, in_progress, completed, failed), counts (total, created, updated, skipped,
    failed), and what happened: outcome (completed, completed_with_failures, nothing_imported, dry_run,
    guard_tripped, failed), a one-line summary to show the user, failures_by_reason, properties_created,
    consent_kept; a dry run says dry_run: true and what it would do."""
    async with _calling() as client:
        return (await client.contacts.imports.get(id)).raw


async def start_contact_import(id: Annotated[str, Field(description="The id of a completed dry run.")]) -> dict:
    """Start a completed dry run (dryRun: true) for real: a new import of the same file with the same
    options and the column map the dry run decided, without uploading again. Returns the new import's
    id (see get-contact-import)."""
    async with _calling() as client:
        created = await client.contacts.imports.start(id)
    return {"object": "contact_import", "id": created.id, "dry_run_of": id}


def _one_cursor(after: str | None, before: str | None) -> None:
    if after and before:
        raise ToolError('Cannot use both "after" and "before". Use only one for pagination.')


async def list_contact_imports(
    limit: Annotated[int | None, Field(ge=1, le=100, description="1-100, default 10.")] = None,
    after: Annotated[str | None, Field(description="An import id: the page after it (older).")] = None,
    before: Annotated[str | None, Field(description="An import id: the page before it (newer).")] = None,
    status: Annotated[Literal["queued", "in_progress", "completed", "failed"] | None, Field()] = None,
) -> dict:
    """The imports, newest first."""
    _one_cursor(after, before)
    async with _calling() as client:
        page = await client.contacts.imports.list(limit=limit, after=after, before=before, status=status)
    return _as_list(page)


def _as_list(page: ListPage[Any]) -> dict[str, Any]:
    """A page of SDK objects in the API's list shape."""
    return {"object": "list", "has_more": page.has_more, "data": [item.raw for item in page.data]}


async def list_segments(
    limit: Annotated[int | None, Field(ge=1, le=100, description="1-100; left out: every segment.")] = None,
    after: Annotated[str | None, Field(description="A segment id: the page after it.")] = None,
    before: Annotated[str | None, Field(description="A segment id: the page before it.")] = None,
) -> dict:
    """The segments contacts can be imported into."""
    _one_cursor(after, before)
    async with _calling() as client:
        page = await client.segments.list(limit=limit, after=after, before=before)
    return _as_list(page)


async def create_segment(name: Annotated[str, Field(min_length=1, description="The segment's name.")]) -> dict:
    """Create a segment; returns its id."""
    async with _calling() as client:
        return (await client.segments.create(name)).raw


async def list_contact_properties(
    limit: Annotated[int | None, Field(ge=1, le=100, description="1-100, default 20.")] = None,
    after: Annotated[str | None, Field(description="A property id: the page after it.")] = None,
    before: Annotated[str | None, Field(description="A property id: the page before it.")] = None,
) -> dict:
    """The team's contact properties (key, type, fallback value)."""
    _one_cursor(after, before)
    async with _calling() as client:
        page = await client.contact_properties.list(limit=limit, after=after, before=before)
    return _as_list(page)


async def create_contact_property(
    key: Annotated[str, Field(description="Letters, digits and underscores, at most 50.")],
    type: Annotated[
        StoredType, Field(description="The value type: string or number (yes/no values are kept as strings).")
    ] = "string",
    fallbackValue: Annotated[str | float | bool | None, Field(description="The value used when a contact has none.")] = None,
) -> dict:
    """Create a contact property; returns its id."""
    async with _calling() as client:
        return (await client.contact_properties.create(key, type, fallbackValue)).raw


async def list_topics(
    limit: Annotated[int | None, Field(ge=1, le=100, description="1-100, default 20.")] = None,
    after: Annotated[str | None, Field(description="A topic id: the page after it.")] = None,
    before: Annotated[str | None, Field(description="A topic id: the page before it.")] = None,
) -> dict:
    """The team's topics (id, name, description, default_subscription): their ids go to create-contact-import's topics."""
    _one_cursor(after, before)
    async with _calling() as client:
        page = await client.topics.list(limit=limit, after=after, before=before)
    return _as_list(page)


async def create_topic(
    name: Annotated[str, Field(min_length=1, max_length=50, description="The topic's name.")],
    defaultSubscription: Annotated[
        Literal["opt_in", "opt_out"], Field(description="A contact's subscription until one is set.")
    ] = "opt_in",
    description: Annotated[str | None, Field(max_length=200)] = None,
) -> dict:
    """Create a topic; returns its id."""
    async with _calling() as client:
        return (await client.topics.create(name, defaultSubscription, description)).raw


async def cancel_contact_import(id: Annotated[str, Field(description="The import's id.")]) -> dict:
    """Cancel a queued or running import: it ends failed with nothing written (cancelled_at set). Once its
    contacts are written this is refused (409 too_late): use revert-contact-import instead."""
    async with _calling() as client:
        return (await client.contacts.imports.cancel(id)).raw


async def revert_contact_import(
    id: Annotated[str, Field(description="The import's id.")],
    resubscribe: Annotated[
        bool, Field(description="Also reverse the unsubscribes and topic opt-outs the import applied (ask the user first).")
    ] = False,
) -> dict:
    """Undo a completed import: contacts it created are deleted, values it overwrote put back, memberships and
    topic subscriptions it added removed. Contacts changed since are left as they are: `revert.left_unchanged`
    counts them and `leftUnchanged` lists them (up to 100). Repeating it returns the first result."""
    async with _calling() as client:
        imp = (await client.contacts.imports.revert(id, resubscribe=resubscribe)).raw
        left = await client.contacts.imports.revert_conflicts(id)
    return {**imp, "leftUnchanged": left[:100]}


TOOLS: dict[str, Callable[..., Any]] = {
    "create-contact-import": create_contact_import,
    "get-contact-import": get_contact_import,
    "start-contact-import": start_contact_import,
    "list-contact-imports": list_contact_imports,
    "cancel-contact-import": cancel_contact_import,
    "revert-contact-import": revert_contact_import,
    "list-segments": list_segments,
    "create-segment": create_segment,
    "list-contact-properties": list_contact_properties,
    "create-contact-property": create_contact_property,
    "list-topics": list_topics,
    "create-topic": create_topic,
}


async def suggest_column_mapping(
    filePath: Annotated[
        str | None, Field(description="Path of a CSV file on this machine (under ROSTER_MCP_ALLOWED_DIRS).")
    ] = None,
    content: Annotated[str | None, Field(description="The CSV itself, as text (the header and a few rows are enough).")] = None,
    url: Annotated[str | None, Field(description="An http(s) URL to fetch the CSV from (only its first 4 MB are read).")] = None,
    existingProperties: Annotated[
        list[dict[str, str]] | None,
        Field(
            description='[{"key": "<key>", "type": "string|number|boolean"}]: map onto these instead of the team\'s properties.'
        ),
    ] = None,
    modelMapping: Annotated[
        bool | None,
        Field(
            description="The server's mapping model may see the file's headers and sample values (default: as the team or server says; no unless opted in)."
        ),
    ] = None,
) -> dict:
    """Suggest where each column of a CSV goes (give exactly one of filePath, content or url): email,
    first_name, last_name, unsubscribed (invert: the column means the opposite, e.g. "Accepts Marketing"),
    a contact property, or ignore; each with a confidence, a reason and the engine. `column_map` is
    ready for create-contact-import's columnMap: show the suggestions to the user and pass the map
    they accept (edited or not). Only the file's first 4 MB are read; nothing is stored."""
    from roster.client._http import HEAD_BYTES

    _exactly_one(filePath, content, url)
    cleanup: Path | None = None
    try:
        # one byte more than the SDK sends: it then sees the file goes on, and ends the head at a line end
        file, filename, cleanup = await _source(filePath, content, url, head_bytes=HEAD_BYTES + 1)
        async with _client() as client:
            result = await client.contacts.imports.suggest_column_map(
                file=file, filename=filename, existing_properties=existingProperties, model_mapping=modelMapping
            )
        return {
            "object": "column_map_suggestion",
            "column_map": result.column_map,
            "suggestions": result.raw.get("suggestions", []),
            "notes": result.notes,
        }
    except Refused as e:
        raise ToolError(str(e)) from None
    except RosterError as e:
        raise _error(e) from None
    finally:
        if cleanup is not None:
            cleanup.unlink(missing_ok=True)


def register_suggest_column_mapping(server: MCPServer) -> None:
    """The `suggest-column-mapping` tool: a CSV (filePath/content/url, as create-contact-import) ->
    suggested columnMap and per-column suggestions, from the server's POST /contacts/imports/column-map."""
    server.add_tool(suggest_column_mapping, name="suggest-column-mapping", description=suggest_column_mapping.__doc__)


def build_server() -> MCPServer:
    server = MCPServer(name="roster", instructions=INSTRUCTIONS, log_level="WARNING")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for name, fn in TOOLS.items():
        server.add_tool(fn, name=name, description=fn.__doc__)
    register_suggest_column_mapping(server)
    return server


def run(http_port: int | None = None, host: str = "127.0.0.1") -> None:
    server = build_server()
    if http_port:
        server.run("streamable-http", host=host, port=http_port)
    else:
        server.run("stdio")
