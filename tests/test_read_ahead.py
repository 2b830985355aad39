"""roster/importing/read_ahead.py: the items in order, an error where the plain loop would meet
it, no more than `depth` batches held in between, and the thread gone once the caller stops."""

from __future__ import annotations

import threading

import pytest

from roster.importing.read_ahead import read_ahead
from tests.helpers import wait_for


def test_items_in_order_then_the_error_in_its_place():
    def items():
        yield from range(5)
        raise ValueError("row 6 is malformed")

    seen = []
    with pytest.raises(ValueError, match="row 6"):
        for item in read_ahead(items(), depth=2):
            seen.append(item)
    assert seen == [0, 1, 2, 3, 4]


def test_reads_no_more_than_depth_ahead_and_stops_with_its_caller():
    taken: list[int] = []
    closed = threading.Event()

    def items():
        try:
            for i in range(1000):
                taken.append(i)
                yield i
        finally:
            closed.set()

    ahead = read_ahead(items(), depth=2)
    assert next(ahead) == 0
    # One handed out, two waiting, one more read and waiting for room: never the whole file.
    wait_for(lambda: len(taken) == 4, "the read-ahead to fill its queue")
    assert len(taken) == 4
    ahead.close()  # the caller stops (an error, a cancel): the thread ends, the source is closed
    assert closed.is_set()
    assert not any(t.name == "read-ahead" for t in threading.enumerate())
