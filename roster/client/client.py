"""Roster (sync) and AsyncRoster: the Python SDK for Roster's REST API."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from roster.client._http import AsyncHTTP, Config, Request, SyncHTTP
from roster.client.resources import AsyncContacts, ContactProperties, Contacts, Segments, Topics


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
    ):
        self._http = SyncHTTP(Config(api_key, base_url, timeout, max_retries), http_client)
        self.contacts = Contacts(self)
        self.contact_properties = ContactProperties(self)
        self.segments = Segments(self)
        self.topics = Topics(self)

    @property
    def base_url(self) -> str:
        return self._http.config.base_url

    def _run(self, req: Request, after: Callable[[], None] | None = None):
        try:
            return self._http.call(req)
        finally:
            if after:
                after()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Roster:
        return self

    def __exit__(self, *exc) -> None:
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
    ):
        self._http = AsyncHTTP(Config(api_key, base_url, timeout, max_retries), http_client)
        self.contacts = AsyncContacts(self)
        self.contact_properties = ContactProperties(self)
        self.segments = Segments(self)
        self.topics = Topics(self)

    @property
    def base_url(self) -> str:
        return self._http.config.base_url

    def _run(self, req: Request, after: Callable[[], None] | None = None):
        async def run():
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

    async def __aexit__(self, *exc) -> None:
        await self.aclose()
