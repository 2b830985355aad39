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

from sqlalchemy.engine import Engine

from roster.runtime.listener import Listener
from roster.store import webhooks
from roster.webhooks.delivery import deliver_due

CHANNEL = "roster_webhooks"
# Nothing pending: the longest sleep before looking again (nothing is due without a notification,
# but a look costs one query).
LONGEST_SLEEP_SECONDS = 300
# A round that sent nothing although something looked due (its claim was another sender's, or its
# contact waits behind an earlier event): the shortest sleep before the next, never a busy loop.
SHORTEST_SLEEP_SECONDS = 1


def next_sleep(engine: Engine, sent_anything: bool) -> float:
    """How long to sleep before the next round, unless told sooner."""
    due_in = webhooks.seconds_until_due(engine)
    if due_in is None:
        return LONGEST_SLEEP_SECONDS
    shortest = 0.0 if sent_anything else SHORTEST_SLEEP_SECONDS
    return min(max(due_in, shortest), LONGEST_SLEEP_SECONDS)


class WebhookSender(Listener):
    """Started once, in the daemon, with the daemon lock held (pipelines/run_coordinator.py)."""

    channel = CHANNEL
    name = "roster webhook sender"

    def work(self, engine: Engine) -> float:
        totals = deliver_due(engine)
        return next_sleep(engine, bool(totals["delivered"] or totals["failed_attempts"]))
