"""A Celery worker's own housekeeping (deploy/README.md): it removes the copies of uploads it no
longer needs from its own folder, at start and hourly (roster/importing/retention.py,
sweep_local_copies). The daemon's hourly landing_sweep sees only the daemon machine's folder; a
worker whose run was killed keeps that run's copy until this sweep finds its import ended.

Imported by the worker through Celery's `include` setting (deploy/dagster_celery_config.py); it
needs Celery, so only a worker (the `scale` extra) imports it.
"""

from __future__ import annotations

import threading
from typing import Any

from celery.signals import worker_ready, worker_shutdown
from celery.utils.log import get_logger

from roster.importing.retention import sweep_local_copies
from roster.runtime.database import get_engine

INTERVAL_SECONDS = 3600
log = get_logger(__name__)
_stop = threading.Event()


def sweep_once() -> None:
    try:
        result = sweep_local_copies(get_engine(migrate=False))
    except Exception:  # a database that is briefly away must not stop the worker: next hour, then
        log.exception("roster: sweeping this worker's upload copies failed")
        return
    log.info("roster: removed %d ended imports' upload copies from this worker", len(result["removed"]))


def _sweep_hourly() -> None:
    sweep_once()
    while not _stop.wait(INTERVAL_SECONDS):
        sweep_once()


@worker_ready.connect
def _start(**_kwargs: Any) -> None:
    # The worker's main process, once it consumes: a thread of its own, so a slow database never
    # holds up taking runs; the pool processes that run imports are not involved.
    threading.Thread(target=_sweep_hourly, name="roster-worker-sweep", daemon=True).start()


@worker_shutdown.connect
def _stop_sweeping(**_kwargs: Any) -> None:
    _stop.set()
