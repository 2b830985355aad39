"""Roster (sync) and AsyncRoster: the Python SDK for Roster's REST API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx

from roster.client._http import AsyncHTTP, Config, Request, SyncHTTP
from roster.client.resources import Async, AsyncContacts, ContactProperties, Contacts, Segments, Sync, Topics

T = TypeVar("T")


class Roster:
    """`Roster(api_key=None, base_url=None)`: arguments, else ROSTER_API_KEY / ROSTER_API_URL.

    >>> client = Roster()
    >>> created = client.contacts.imports.create(file="contacts.csv", column_map={"email": "Email"})
    >>> client.contacts.imports.wait(created.id, on_progress=print)
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        http_client: httpx.Client | None = None,
    ) -> None:
        self._http = SyncHTTP(Config(api_key, base_url, timeout, max_retries), http_client)
        self.contacts: Contacts[Sync] = Contacts(self)
        self.contact_properties: ContactProperties[Sync] = ContactProperties(self)
        self.segments: Segments[Sync] = Segments(self)
        self.topics: Topics[Sync] = Topics(self)

    @property
    def base_url(self) -> str:
        return self._http.config.base_url

    def _run(self, req: Request[T], after: Callable[[], None] | None = None) -> T:
        try:
            return self._http.call(req)
        finally:
            if after:
                after()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Roster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncRoster:
    """The same API as Roster, every method awaitable."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._http = AsyncHTTP(Config(api_key, base_url, timeout, max_retries), http_client)
        self.contacts: AsyncContacts = AsyncContacts(self)
        self.contact_properties: ContactProperties[Async] = ContactProperties(self)
        self.segments: Segments[Async] = Segments(self)
        self.topics: Topics[Async] = Topics(self)

    @property
    def base_url(self) -> str:
        return self._http.config.base_url

    def _run(self, req: Request[T], after: Callable[[], None] | None = None) -> Awaitable[T]:
        async def run() -> T:
            try:
                return await self._http.call(req)
            finally:
                if after:
                    after()

        return run()

    async def aclose(self) -> None:
        await self._http.close()

    async def __aenter__(self) -> AsyncRoster:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
