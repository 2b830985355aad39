"""The API's resources. Each method builds a request and hands it to the client, which performs it
(Roster) or returns an awaitable (AsyncRoster): one definition serves both. For the type checker,
a resource is Roster's (`Sync`: a method returns its result) or AsyncRoster's (`Async`: an
awaitable of it); `endpoint` says so to it, and changes nothing at run time."""

from __future__ import annotations

import builtins
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, cast, overload
from urllib.parse import quote

from roster.client._http import FileInput, Request, open_file, read_head
from roster.client.errors import ImportFailed, WaitTimeout
from roster.client.models import (
    ColumnMapSuggestion,
    Contact,
    ContactImport,
    ContactProperty,
    ContactTopic,
    Created,
    Deleted,
    ImportFailure,
    ListPage,
    Segment,
    Topic,
)

if TYPE_CHECKING:  # for the type checker only: the SDK needs nothing of the server at run time
    from schemas.import_options import OnConflict, Subscription, TopicSubscription
    from schemas.rules import StoredType
    from schemas.tables import ImportStatus

T = TypeVar("T")
P = ParamSpec("P")
M = TypeVar("M")  # Sync or Async


class Sync:
    """Roster's resources: a method returns its result."""


class Async:
    """AsyncRoster's resources: a method returns an awaitable of its result."""


class _Client(Protocol):
    _http: Any

    def _run(self, req: Request[Any], after: Callable[[], None] | None = None) -> Any: ...


def _q(value: str) -> str:
    return quote(str(value), safe="")


def _page(limit: int | None, after: str | None, before: str | None, **extra: Any) -> dict[str, Any]:
    return {"limit": limit, "after": after, "before": before, **extra}


class _Resource(Generic[M]):
    def __init__(self, client: _Client) -> None:
        self._c = client

    def _do(self, req: Request[T], after: Callable[[], None] | None = None) -> T:
        # An awaitable of T for AsyncRoster: `endpoint` tells its callers.
        return cast(T, self._c._run(req, after))


if TYPE_CHECKING:

    class _Endpoint(Generic[P, T]):
        @overload
        def __get__(self, obj: None, owner: type[Any], /) -> Callable[Concatenate[Any, P], T]: ...
        @overload
        def __get__(self, obj: _Resource[Async], owner: type[Any], /) -> Callable[P, Awaitable[T]]: ...
        @overload
        def __get__(self, obj: _Resource[Sync], owner: type[Any], /) -> Callable[P, T]: ...
        def __get__(self, obj: Any, owner: Any, /) -> Any: ...

    def endpoint(method: Callable[Concatenate[Any, P], T]) -> _Endpoint[P, T]: ...

else:

    def endpoint(method):
        """A resource's method: returns T on Roster, an awaitable of T on AsyncRoster (typing only)."""
        return method


class Imports(_Resource[M]):
    """client.contacts.imports"""

    @endpoint
    def create(
        self,
        file: FileInput,
        column_map: dict[str, Any] | str | None = None,
        on_conflict: OnConflict | None = None,
        segments: list[str | dict[str, Any]] | None = None,
        topics: list[TopicSubscription] | None = None,
        filename: str | None = None,
        auto_map: bool | None = None,
        auto_create_properties: bool | None = None,
        idempotency_key: str | None = None,
        model_mapping: bool | None = None,
        resubscribe: bool | None = None,
        dry_run: bool | None = None,
        max_failed_rows: int | str | None = None,
    ) -> Created:
        """Upload a CSV (a path, bytes, or a binary file object). Returns Created (the import's id).
        topics: [{"id", "subscription": "opt_in" | "opt_out"}]. model_mapping: the server's mapping
        model may see this file (None: as the team or server says). resubscribe: this import may
        turn unsubscribed contacts and topic opt-outs back on (default: never). dry_run: count what
        the import would do, writing nothing (start() runs it for real). max_failed_rows: a count,
        or a share ("5%"): past it the import fails with nothing written."""
        data: dict[str, str] = {}
        if column_map is not None:
            data["column_map"] = column_map if isinstance(column_map, str) else json.dumps(column_map)
        if on_conflict is not None:
            data["on_conflict"] = on_conflict
        if segments:
            data["segments"] = json.dumps([s if isinstance(s, dict) else {"id": s} for s in segments])
        if topics:
            data["topics"] = json.dumps(topics)
        if auto_map is not None:
            data["auto_map"] = "true" if auto_map else "false"
        if auto_create_properties is not None:
            data["auto_create_properties"] = "true" if auto_create_properties else "false"
        for flag, value in (("model_mapping", model_mapping), ("resubscribe", resubscribe), ("dry_run", dry_run)):
            if value is not None:
                data[flag] = "true" if value else "false"
        if max_failed_rows is not None:
            data["max_failed_rows"] = str(max_failed_rows)
        name, fileobj, opened = open_file(file, filename)
        req = Request(
            "POST",
            "/contacts/imports",
            data=data,
            file=(name, fileobj, "text/csv"),
            headers={"Idempotency-Key": idempotency_key} if idempotency_key else None,
            parse=lambda r: Created.from_dict(r.json()),
        )
        return self._do(req, fileobj.close if opened else None)

    @endpoint
    def suggest_column_map(
        self,
        file: FileInput,
        existing_properties: list[dict[str, Any]] | None = None,
        filename: str | None = None,
        model_mapping: bool | None = None,
    ) -> ColumnMapSuggestion:
        """Suggest a column map for a CSV (a path, bytes, or a binary file object): only its first 4 MB
        are sent. existing_properties ([{"key", "type"}]) replaces the team's properties. Returns a
        ColumnMapSuggestion; its `column_map` (edited or not) goes to create(column_map=...).
        model_mapping: the server's mapping model may see the file (None: as the team or server says)."""
        data: dict[str, str] = {}
        if model_mapping is not None:
            data["model_mapping"] = "true" if model_mapping else "false"
        if existing_properties is not None:
            data["existing_properties"] = json.dumps(
                [p if isinstance(p, dict) else {"key": p.key, "type": p.type} for p in existing_properties]
            )
        name, fileobj, opened = open_file(file, filename)
        try:
            head = read_head(fileobj)
        finally:
            if opened:
                fileobj.close()
        req = Request(
            "POST",
            "/contacts/imports/column-map",
            data=data,
            file=(name, head, "text/csv"),
            parse=lambda r: ColumnMapSuggestion.from_dict(r.json()),
        )
        return self._do(req)

    @endpoint
    def get(self, import_id: str) -> ContactImport:
        return self._do(Request("GET", f"/contacts/imports/{_q(import_id)}", parse=lambda r: ContactImport.from_dict(r.json())))

    @endpoint
    def start(self, import_id: str) -> Created:
        """Start a completed dry run for real: a new import (Created.id) of the same file, with the
        same options and the column map the dry run decided."""
        return self._do(Request("POST", f"/contacts/imports/{_q(import_id)}/start", parse=lambda r: Created.from_dict(r.json())))

    @endpoint
    def list(
        self, limit: int | None = None, after: str | None = None, before: str | None = None, status: ImportStatus | None = None
    ) -> ListPage[ContactImport]:
        return self._do(
            Request(
                "GET",
                "/contacts/imports",
                params=_page(limit, after, before, status=status),
                parse=lambda r: ListPage.of(ContactImport, r.json()),
            )
        )

    @endpoint
    def failures(self, import_id: str, limit: int | None = None, after: int | None = None) -> ListPage[ImportFailure]:
        """A page of the failed rows (ListPage of ImportFailure, in row order): `limit` rows (server
        default 100, at most 1000) after the row number `after`; `has_more` says whether more follow.
        failures_csv() gives them all in one go."""
        return self._do(
            Request(
                "GET",
                f"/contacts/imports/{_q(import_id)}/failures",
                headers={"Accept": "application/json"},
                params={"limit": limit, "after": after},
                parse=lambda r: ListPage.of(ImportFailure, r.json()),
            )
        )

    @endpoint
    def failures_csv(self, import_id: str) -> str:
        """The failed rows as the CSV text the API serves."""
        return self._do(
            Request("GET", f"/contacts/imports/{_q(import_id)}/failures", headers={"Accept": "text/csv"}, parse=lambda r: r.text)
        )

    @endpoint
    def cancel(self, import_id: str) -> ContactImport:
        """Cancel a queued or running import: it ends `failed` with nothing written (`cancelled`).
        Once its contacts are written, a ConflictError (`too_late`): revert it instead."""
        return self._do(
            Request("POST", f"/contacts/imports/{_q(import_id)}/cancel", parse=lambda r: ContactImport.from_dict(r.json()))
        )

    @endpoint
    def revert(self, import_id: str, resubscribe: bool = False) -> ContactImport:
        """Undo a completed import (`reverted`, with `revert`: what it did). The unsubscribes and
        topic opt-outs it applied stay unless `resubscribe`. Repeating it returns the first result."""
        return self._do(
            Request(
                "POST",
                f"/contacts/imports/{_q(import_id)}/revert",
                json={"resubscribe": bool(resubscribe)},
                parse=lambda r: ContactImport.from_dict(r.json()),
            )
        )

    @endpoint
    def revert_conflicts(self, import_id: str) -> builtins.list[dict[str, Any]]:  # (`list` is the method above)
        """The contacts a revert left as they are: [{"contact_id", "email", "reason", "why"}]."""
        return self._do(
            Request(
                "GET",
                f"/contacts/imports/{_q(import_id)}/revert/conflicts",
                headers={"Accept": "application/json"},
                parse=lambda r: r.json()["data"],
            )
        )

    def wait(
        self: Imports[Sync],
        import_id: str,
        on_progress: Callable[[ContactImport], Any] | None = None,
        poll_interval: float = 0.5,
        timeout: float | None = None,
        raise_on_failure: bool = False,
    ) -> ContactImport:
        """Poll until the import ended: completed (reverted too) or failed (cancelled too);
        on_progress(import) after each poll."""
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            imp = self.get(import_id)
            if on_progress:
                on_progress(imp)
            if imp.done:
                if raise_on_failure and imp.status == "failed":
                    raise ImportFailed(imp)
                return imp
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(imp, cast(float, timeout))  # set: there is a deadline
            self._c._http.sleep(poll_interval)


class AsyncImports(Imports[Async]):
    async def wait(  # type: ignore[override]  # Roster's waits, AsyncRoster's is awaited
        self,
        import_id: str,
        on_progress: Callable[[ContactImport], Any] | None = None,
        poll_interval: float = 0.5,
        timeout: float | None = None,
        raise_on_failure: bool = False,
    ) -> ContactImport:
        import inspect
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            imp = await self.get(import_id)
            if on_progress:
                result = on_progress(imp)
                if inspect.isawaitable(result):
                    await result
            if imp.done:
                if raise_on_failure and imp.status == "failed":
                    raise ImportFailed(imp)
                return imp
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(imp, cast(float, timeout))  # set: there is a deadline
            await self._c._http.sleep(poll_interval)


class Contacts(_Resource[M]):
    """client.contacts (and client.contacts.imports)."""

    imports_class: type[Imports[Any]] = Imports
    imports: Imports[M]

    def __init__(self, client: _Client) -> None:
        super().__init__(client)
        self.imports = self.imports_class(client)

    @endpoint
    def create(
        self,
        email: str,
        first_name: str | None = None,
        last_name: str | None = None,
        unsubscribed: bool | None = None,
        properties: dict[str, Any] | None = None,
        segments: list[str | dict[str, Any]] | None = None,
        topics: list[TopicSubscription] | None = None,
    ) -> Created:
        body: dict[str, Any] = {"email": email}
        for k, v in (
            ("first_name", first_name),
            ("last_name", last_name),
            ("unsubscribed", unsubscribed),
            ("properties", properties),
            ("topics", topics),
        ):
            if v is not None:
                body[k] = v
        if segments:
            body["segments"] = [s if isinstance(s, dict) else {"id": s} for s in segments]
        return self._do(Request("POST", "/contacts", json=body, parse=lambda r: Created.from_dict(r.json())))

    @endpoint
    def get(self, id_or_email: str) -> Contact:
        return self._do(Request("GET", f"/contacts/{_q(id_or_email)}", parse=lambda r: Contact.from_dict(r.json())))

    @endpoint
    def list(
        self, limit: int | None = None, after: str | None = None, before: str | None = None, segment_id: str | None = None
    ) -> ListPage[Contact]:
        return self._do(
            Request(
                "GET",
                "/contacts",
                params=_page(limit, after, before, segment_id=segment_id),
                parse=lambda r: ListPage.of(Contact, r.json()),
            )
        )

    @endpoint
    def update(self, /, id_or_email: str, **fields: Any) -> Created:
        """fields: first_name, last_name, unsubscribed, properties (a null value removes it)."""
        return self._do(
            Request("PATCH", f"/contacts/{_q(id_or_email)}", json=fields, parse=lambda r: Created.from_dict(r.json()))
        )

    @endpoint
    def delete(self, id_or_email: str) -> Deleted:
        return self._do(Request("DELETE", f"/contacts/{_q(id_or_email)}", parse=lambda r: Deleted.from_dict(r.json())))

    @endpoint
    def segments(
        self, id_or_email: str, limit: int | None = None, after: str | None = None, before: str | None = None
    ) -> ListPage[Segment]:
        return self._do(
            Request(
                "GET",
                f"/contacts/{_q(id_or_email)}/segments",
                params=_page(limit, after, before),
                parse=lambda r: ListPage.of(Segment, r.json()),
            )
        )

    @endpoint
    def add_segment(self, id_or_email: str, segment_id: str) -> dict[str, Any]:
        return self._do(Request("POST", f"/contacts/{_q(id_or_email)}/segments/{_q(segment_id)}", parse=lambda r: r.json()))

    @endpoint
    def remove_segment(self, id_or_email: str, segment_id: str) -> dict[str, Any]:
        return self._do(Request("DELETE", f"/contacts/{_q(id_or_email)}/segments/{_q(segment_id)}", parse=lambda r: r.json()))

    @endpoint
    def topics(
        self, id_or_email: str, limit: int | None = None, after: str | None = None, before: str | None = None
    ) -> ListPage[ContactTopic]:
        """Every topic with this contact's subscription (no limit: all of them)."""
        return self._do(
            Request(
                "GET",
                f"/contacts/{_q(id_or_email)}/topics",
                params=_page(limit, after, before),
                parse=lambda r: ListPage.of(ContactTopic, r.json()),
            )
        )

    @endpoint
    def update_topics(self, id_or_email: str, topics: builtins.list[TopicSubscription]) -> dict[str, Any]:
        """topics: [{"id": "<topic id>", "subscription": "opt_in" | "opt_out"}]; others are left as they are."""
        return self._do(Request("PATCH", f"/contacts/{_q(id_or_email)}/topics", json=list(topics), parse=lambda r: r.json()))


class AsyncContacts(Contacts[Async]):
    imports_class = AsyncImports
    imports: AsyncImports


class ContactProperties(_Resource[M]):
    @endpoint
    def create(self, key: str, type: StoredType = "string", fallback_value: Any = None) -> Created:
        body: dict[str, Any] = {"key": key, "type": type}
        if fallback_value is not None:
            body["fallback_value"] = fallback_value
        return self._do(Request("POST", "/contact-properties", json=body, parse=lambda r: Created.from_dict(r.json())))

    @endpoint
    def get(self, property_id: str) -> ContactProperty:
        return self._do(
            Request("GET", f"/contact-properties/{_q(property_id)}", parse=lambda r: ContactProperty.from_dict(r.json()))
        )

    @endpoint
    def list(self, limit: int | None = None, after: str | None = None, before: str | None = None) -> ListPage[ContactProperty]:
        return self._do(
            Request(
                "GET",
                "/contact-properties",
                params=_page(limit, after, before),
                parse=lambda r: ListPage.of(ContactProperty, r.json()),
            )
        )

    @endpoint
    def update(self, property_id: str, fallback_value: Any) -> Created:
        return self._do(
            Request(
                "PATCH",
                f"/contact-properties/{_q(property_id)}",
                json={"fallback_value": fallback_value},
                parse=lambda r: Created.from_dict(r.json()),
            )
        )

    @endpoint
    def delete(self, property_id: str) -> Deleted:
        return self._do(Request("DELETE", f"/contact-properties/{_q(property_id)}", parse=lambda r: Deleted.from_dict(r.json())))


class Segments(_Resource[M]):
    @endpoint
    def create(self, name: str) -> Created:
        return self._do(Request("POST", "/segments", json={"name": name}, parse=lambda r: Created.from_dict(r.json())))

    @endpoint
    def get(self, segment_id: str) -> Segment:
        return self._do(Request("GET", f"/segments/{_q(segment_id)}", parse=lambda r: Segment.from_dict(r.json())))

    @endpoint
    def list(self, limit: int | None = None, after: str | None = None, before: str | None = None) -> ListPage[Segment]:
        return self._do(
            Request("GET", "/segments", params=_page(limit, after, before), parse=lambda r: ListPage.of(Segment, r.json()))
        )

    @endpoint
    def delete(self, segment_id: str) -> Deleted:
        return self._do(Request("DELETE", f"/segments/{_q(segment_id)}", parse=lambda r: Deleted.from_dict(r.json())))


class Topics(_Resource[M]):
    @endpoint
    def create(self, name: str, default_subscription: Subscription = "opt_in", description: str | None = None) -> Created:
        body = {"name": name, "default_subscription": default_subscription}
        if description is not None:
            body["description"] = description
        return self._do(Request("POST", "/topics", json=body, parse=lambda r: Created.from_dict(r.json())))

    @endpoint
    def get(self, topic_id: str) -> Topic:
        return self._do(Request("GET", f"/topics/{_q(topic_id)}", parse=lambda r: Topic.from_dict(r.json())))

    @endpoint
    def list(self, limit: int | None = None, after: str | None = None, before: str | None = None) -> ListPage[Topic]:
        return self._do(
            Request("GET", "/topics", params=_page(limit, after, before), parse=lambda r: ListPage.of(Topic, r.json()))
        )

    @endpoint
    def update(self, topic_id: str, name: str | None = None, description: str | None = None) -> Created:
        body = {k: v for k, v in (("name", name), ("description", description)) if v is not None}
        return self._do(Request("PATCH", f"/topics/{_q(topic_id)}", json=body, parse=lambda r: Created.from_dict(r.json())))

    @endpoint
    def delete(self, topic_id: str) -> Deleted:
        return self._do(Request("DELETE", f"/topics/{_q(topic_id)}", parse=lambda r: Deleted.from_dict(r.json())))
