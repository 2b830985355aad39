"""The next batches of a file read, validated and encoded on a thread while the caller stages this one.

Staging is two programs taking turns: Python reads, validates and encodes a batch, then PostgreSQL
(another process) parses and stores it while Python waits on the COPY. With the reading on a
thread of its own, the two run at the same time on two cores: polars and pyarrow do their work
without the GIL, and the COPY waits on its socket without it.

At most `depth` batches wait in between, so memory stays bounded whatever the file's size. The
items come in the order the iterator gives them, and an error it raises (MalformedCsv, say) comes
out of this iterator at the same place, after the items before it: the caller sees what a plain
loop would have seen. Closing the iterator early (an error or a cancel in the caller) stops the
thread before it returns.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
# How long a blocked put waits before it looks again whether the caller has stopped.
_POLL_SECONDS = 0.1


class _End:
    """The iterator ended; `error`: how, if it raised."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


def read_ahead(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """The items of `items`, taken from it on a thread up to `depth` ahead of the caller."""
    waiting: queue.Queue[T | _End] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: T | _End) -> bool:
        while not stop.is_set():
            try:
                waiting.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as e:  # handed to the caller, raised there in its place in the order
            put(_End(e))
        else:
            put(_End())
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # a generator's own cleanup (its open file) on this thread, which ran it

    thread = threading.Thread(target=produce, name="read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = waiting.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        stop.set()
        thread.join()
