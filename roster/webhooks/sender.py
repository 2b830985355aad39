"""The webhook sender: a thread in the daemon that sends webhook events the moment they are due.

Every change that makes a delivery due notifies channel `roster_webhooks` (triggers of migration
0065): an event written to the outbox, a delivery replayed, an endpoint enabled again. The thread
listens on that channel and, when told, sends what is due (roster/webhooks/delivery.deliver_due,
the same claims and leases as the webhook_deliveries sensor). A failed attempt is retried with
backoff; nobody is told when a retry falls due, so between two rounds the thread sleeps until the
next due delivery (or a notification, whichever comes first): no polling. The sensor stays, once a
minute, for what the thread missed (a notification lost while it reconnects after a database
restart); the claims make one of them, never both, send a delivery.
"""

from __future__ import annotations

import logging
import threading

import psycopg
from sqlalchemy.engine import Engine, make_url

from roster.store import webhooks
from roster.webhooks.delivery import deliver_due

CHANNEL = "roster_webhooks"
# Nothing pending: the longest sleep before looking again (nothing is due without a notification,
# but a look costs one query).
LONGEST_SLEEP_SECONDS = 300
# A round that sent nothing although something looked due (its claim was another sender's, or its
# contact waits behind an earlier event): the shortest sleep before the next, never a busy loop.
SHORTEST_SLEEP_SECONDS = 1
# After a database connection is lost: wait this long before connecting again.
RECONNECT_SECONDS = 2
log = logging.getLogger("roster.webhooks")


def next_sleep(engine: Engine, sent_anything: bool) -> float:
    """How long to sleep before the next round, unless told sooner."""
    due_in = webhooks.seconds_until_due(engine)
    if due_in is None:
        return LONGEST_SLEEP_SECONDS
    shortest = 0.0 if sent_anything else SHORTEST_SLEEP_SECONDS
    return min(max(due_in, shortest), LONGEST_SLEEP_SECONDS)


class WebhookSender:
    """Started once, in the daemon, with the daemon lock held (pipelines/run_coordinator.py)."""

    def __init__(self, url: str):
        self._url = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._stopping = threading.Event()
        # Set once it listens and has sent what was due then: from here on it sends when told or due.
        self.listening = threading.Event()
        self._thread = threading.Thread(target=self._run, name="roster-webhook-sender", daemon=True)

    def start(self) -> WebhookSender:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening; the thread ends within a moment (a notification wakes it now)."""
        self._stopping.set()
        try:
            with psycopg.connect(self._url, autocommit=True) as conn:
                conn.execute("SELECT pg_notify(%s, '')", [CHANNEL])
        except psycopg.Error:
            pass
        self._thread.join(timeout=30)

    def _run(self) -> None:
        from roster.runtime.database import engine_for

        engine = engine_for(self._url)
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True, application_name="roster webhook sender") as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    while not self._stopping.is_set():
                        totals = deliver_due(engine)  # what was written before it listened, then each round
                        sleep = next_sleep(engine, bool(totals["delivered"] or totals["failed_attempts"]))
                        self.listening.set()
                        if sleep > 0 and any(True for _ in conn.notifies(timeout=sleep, stop_after=1)):
                            for _ in conn.notifies(timeout=0.01):  # the rest of a burst: one round for all
                                pass
            except Exception:  # the database restarted or is unreachable: the sensor covers until it is back
                log.warning("roster webhook sender: lost its database connection; listening again shortly", exc_info=True)
                self._stopping.wait(RECONNECT_SECONDS)
