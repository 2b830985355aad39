"""Python's cycle collector kept off the start-up of a process that runs one import.

Before its first step, `roster import` loads some 2,000 modules (Dagster, polars, SQLAlchemy,
pandera) and makes the Dagster instance: about 250,000 objects that live as long as the process,
next to a few thousand garbage ones (mostly the migration scripts Dagster reads to check its
storages). The collector runs every 700 allocations and walks all the older objects every few
runs: it walked them some 600 times, 0.25 s of CPU in an import that took 1.5 s.

So a command that runs an import pauses the collector (`pause()`) until the run starts
(`resume()`, which pipelines/launch.py calls just before the job executes). Then what was loaded
is frozen (`gc.freeze`: left out of every later collection, the start-up's little garbage with it,
which lives until the process ends) and the collector runs as usual on what the run makes, so a
big import's memory is collected as it always was. Nothing happens unless `pause()` was called:
a test, the daemon or a server that runs imports keeps its collector as it is.
"""

from __future__ import annotations

import gc

_paused = False


def pause() -> None:
    """Stop collecting cycles until `resume()`; for the start-up of a process that runs an import."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """Freeze what the start-up made and collect again, if `pause()` stopped the collector."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
