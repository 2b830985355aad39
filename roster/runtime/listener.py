"""A thread that PostgreSQL wakes: work done the moment a change is notified, no polling.

The daemon's launcher (pipelines/launcher.py: queued imports) and webhook sender
(roster/webhooks/sender.py: due webhook events) are each one of these. A `Listener` connects, LISTENs
on its channel, does its work once (what was there before it listened), then waits: for a
notification (a burst of them counts once), or for as long as its work asked, whichever comes
first, and works again. Its work says how long it may wait: None to wait only for a notification,
or seconds, for work that falls due with nobody telling (a webhook retry's backoff).

A lost connection (a database restart) is logged; the thread connects again shortly and does its
work once more, for whatever was notified meanwhile. Each has a sensor as a slow backstop for
what a listener can still miss (a daemon that was down).
"""

from __future__ import annotations

import logging
import select
import threading

import psycopg
from sqlalchemy.engine import Engine, make_url

# With nothing to wait for but a notification: how long one wait lasts before the thread looks at
# its stop flag (no query).
IDLE_WAIT_SECONDS = 30
# After a database connection is lost: wait this long before connecting again.
RECONNECT_SECONDS = 2
log = logging.getLogger("roster.listener")


class Listener:
    """Subclasses give the channel (a constant of theirs, never input: LISTEN takes no parameter),
    a name, and `work`."""

    channel: str
    name: str

    def __init__(self, url: str):
        self._url = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._stopping = threading.Event()
        # Set once it listens and has done the work that was due then: from here on it works when told.
        self.listening = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name.replace(" ", "-"), daemon=True)

    def work(self, engine: Engine) -> float | None:
        """Do what is due; return how many seconds to wait at most before working again (None:
        until notified)."""
        raise NotImplementedError

    def start(self) -> Listener:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening; the thread ends within a moment (a notification wakes it now)."""
        self._stopping.set()
        try:
            with psycopg.connect(self._url, autocommit=True) as conn:
                conn.execute("SELECT pg_notify(%s, '')", [self.channel])
        except psycopg.Error:
            pass
        self._thread.join(timeout=30)

    def _run(self) -> None:
        from roster.runtime.database import engine_for

        engine = engine_for(self._url)
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True, application_name=self.name) as conn:
                    conn.execute(f"LISTEN {self.channel}")
                    wait = self.work(engine)  # what was there before it listened
                    self.listening.set()
                    while not self._stopping.is_set():
                        timeout = IDLE_WAIT_SECONDS if wait is None else wait
                        # Waiting in the kernel until the connection has something to read: psycopg's own
                        # wait (`notifies(timeout=...)`) wakes every 0.1 s to look for Ctrl-C.
                        told = bool(select.select([conn.fileno()], [], [], timeout)[0]) if timeout > 0 else False
                        if self._stopping.is_set():
                            break
                        if told:
                            # The notification, and the rest of a burst: one round for all. A lost
                            # connection reads as readable too, and raises here.
                            for _ in conn.notifies(timeout=0.01):
                                pass
                        if told or wait is not None:
                            wait = self.work(engine)
            except Exception:  # the database restarted or is unreachable: the sensor covers until it is back
                log.warning("%s: lost its database connection; listening again shortly", self.name, exc_info=True)
                self._stopping.wait(RECONNECT_SECONDS)
