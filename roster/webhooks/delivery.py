"""Sending webhook events, as Resend sends them: a POST of `{"type", "created_at", "data"}`,
signed with Svix's scheme, so Resend's `webhooks.verify` and the `svix` library accept it:

    svix-id: the delivery's id (the same on every retry: a receiver deduplicates on it)
    svix-timestamp: seconds since the epoch, when this attempt was sent
    svix-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">, keyed with the base64
                    part of the endpoint's secret (after "whsec_")

Run by the daemon (pipelines/webhook_delivery.py), never by an API request. Endpoints are reached
through the outside-fetch guard (roster/safety/outside_fetch.py): public addresses only, pinned against
DNS rebinding, no redirects followed, unless ROSTER_WEBHOOKS_ALLOW_PRIVATE_URLS=1. A 2xx answer
delivers; anything else is retried with exponential backoff (5 s, 10 s, 20 s, ... at most an hour
apart) for ROSTER_WEBHOOKS_RETRY_HOURS (24); then the delivery is `failed` and its endpoint
disabled, with the reason on the endpoint.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from datetime import UTC, timedelta
from typing import Any, TypedDict

import anyio
import anyio.to_thread
import httpx
from sqlalchemy.engine import Engine

from roster.runtime.faults import fault_point
from roster.runtime.settings import get_settings
from roster.safety.outside_fetch import FetchError, NotAllowed, PinnedTransport, check_scheme, resolve_checked
from roster.safety.public_errors import public_text
from roster.store import webhooks

log = logging.getLogger("roster.webhooks")
BATCH = 50  # deliveries claimed at once
CONCURRENCY = 10  # sent at once
FIRST_RETRY_SECONDS = 5
MAX_RETRY_SECONDS = 3600


def allow_private() -> bool:
    return get_settings().webhooks_allow_private_urls


def timeout_seconds() -> float:
    return get_settings().webhooks_timeout


def retry_window() -> timedelta:
    return timedelta(hours=get_settings().webhooks_retry_hours)


def check_endpoint(url: str) -> None:
    """Raises NotAllowed (not http(s), or a private address) for an endpoint the daemon would
    refuse to send to. A name that does not resolve yet is accepted: each send resolves it again
    (and a failing one is retried, then disabled). Blocking (it resolves the host)."""
    parsed = check_scheme(url)
    try:
        resolve_checked(parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80), allow_private())
    except NotAllowed:
        raise
    except FetchError:
        pass


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


class Event(TypedDict):
    """A webhook's payload, Resend's event (GET /webhooks/{id}/events/{event_id} shows it too)."""

    type: str
    created_at: str
    data: dict[str, Any]


class Sent(TypedDict):
    """What deliver_due did."""

    delivered: int
    failed_attempts: int


def envelope(delivery: dict[str, Any]) -> Event:
    """Resend's event: {"type", "created_at", "data"}."""
    created = delivery["created_at"].astimezone(UTC)
    data = delivery["data"]
    if data.get("error"):  # a failed import's reason, in a caller's words (never the server's internals)
        data = {**data, "error": public_text(data["error"])}
    return {
        "type": delivery["type"],
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.") + f"{created.microsecond // 1000:03d}Z",
        "data": data,
    }


def body(delivery: dict[str, Any]) -> bytes:
    return json.dumps(envelope(delivery), ensure_ascii=False, separators=(",", ":")).encode()


def headers(delivery: dict[str, Any], payload: bytes, now: float | None = None) -> dict[str, str]:
    msg_id = f"msg_{delivery['id']}"
    timestamp = int(now if now is not None else time.time())
    return {
        "content-type": "application/json",
        "user-agent": "Roster-Webhooks",
        "svix-id": msg_id,
        "svix-timestamp": str(timestamp),
        "svix-signature": sign(delivery["signing_secret"], msg_id, timestamp, payload),
    }


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), MAX_RETRY_SECONDS))


async def _send(client: httpx.AsyncClient, delivery: dict[str, Any], timeout: float) -> tuple[int | None, str | None, str]:
    """(status, error, response): error is None when the endpoint took the event (2xx)."""
    payload = body(delivery)
    try:
        with anyio.fail_after(timeout):
            resp = await client.post(delivery["endpoint"], content=payload, headers=headers(delivery, payload))
    except TimeoutError:
        return None, f"no answer within {timeout:g} s", ""
    except FetchError as e:
        return None, str(e), ""
    except httpx.HTTPError as e:
        return None, f"the request failed: {type(e).__name__}: {e}", ""
    except Exception as e:  # a name that cannot even be encoded (IDNA), ...: an attempt that failed, recorded
        return None, f"the request failed: {type(e).__name__}: {e}", ""
    text = resp.text[:2000]
    if 200 <= resp.status_code < 300:
        return resp.status_code, None, text
    return resp.status_code, f"answered HTTP {resp.status_code}", text


async def _deliver_batch(engine: Engine, batch: list[dict[str, Any]], timeout: float) -> tuple[int, int]:
    delivered = failed = 0
    limiter = anyio.Semaphore(CONCURRENCY)
    window = retry_window()

    async def one(client: httpx.AsyncClient, delivery: dict[str, Any]) -> None:
        nonlocal delivered, failed
        async with limiter:
            status, error, text = await _send(client, delivery, timeout)
        if error is None:
            await anyio.to_thread.run_sync(webhooks.record_delivered, engine, delivery, status, text)
            delivered += 1
            return
        failed += 1
        disabled = await anyio.to_thread.run_sync(
            webhooks.record_failed_attempt, engine, delivery, status, error, text, backoff(delivery["attempts"]), window
        )
        if disabled:
            log.warning("webhook %s disabled: %s", delivery["webhook_id"], error)

    transport = PinnedTransport(allow_private())
    async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(timeout), follow_redirects=False) as client:
        async with anyio.create_task_group() as tg:
            for delivery in batch:
                tg.start_soon(one, client, delivery)
    return delivered, failed


def deliver_due(engine: Engine, budget_seconds: float = 20.0) -> Sent:
    """Send due deliveries, batch after batch, until none is due or the budget is spent (a sensor
    tick must end). Each attempt is recorded on its delivery."""
    timeout = timeout_seconds()
    # The lease outlives a send (timeout) by a margin: a claim is retried only once its sender is surely gone.
    lease = timeout * 2 + 5
    deadline = time.monotonic() + budget_seconds
    totals: Sent = {"delivered": 0, "failed_attempts": 0}
    while time.monotonic() < deadline:
        batch = webhooks.claim_due(engine, BATCH, lease)
        if not batch:
            break
        fault_point("webhook_send")  # claimed, not yet sent: the tests kill the daemon here
        delivered, failed = anyio.run(_deliver_batch, engine, batch, timeout)
        totals["delivered"] += delivered
        totals["failed_attempts"] += failed
    return totals
