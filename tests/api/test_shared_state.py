"""The API behaves as one service however many processes serve it (issue 16): idempotency keys and
rate limits hold across two real API processes (`uvicorn roster.api.app:app`) on one database,
a process that dies does not lock a key for a day, expired state is deleted, and rotating bogus
API keys buy no free database lookups (issue 11).

Imports stay `queued` here (ROSTER_LAUNCH=sensor, no daemon): what counts is how many are created.
Each test talks from a loopback source address of its own (127.0.0.N), so the per-address buckets
of one test never meet another's."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest
import sqlalchemy as sa

from tests.api.conftest import REPO, csv_bytes, free_port, serve
from tests.helpers import WAIT_SECONDS, wait_for
from tests.processes import api_server_command

GOOD_CSV = csv_bytes(["email", "first_name"], [["a@example.com", "A"], ["b@example.com", "B"]])
RATE = 5
LEASE = 2.0


def _wait_listening(port: int, proc: subprocess.Popen, log, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"uvicorn exited with {proc.returncode}: {log.read().decode()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("uvicorn did not start listening")


@contextmanager
def api_processes(n: int, **env_extra: str):
    """n real API server processes on the test database, as production runs them."""
    env = {**os.environ, "ROSTER_LAUNCH": "sensor", **env_extra}
    procs = []
    try:
        for _ in range(n):
            port = free_port()
            log = tempfile.TemporaryFile()
            proc = subprocess.Popen(
                api_server_command(port, "--no-access-log", "--log-level", "warning"),
                cwd=REPO,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
            procs.append((proc, port))
            _wait_listening.logs[proc.pid] = log
        for proc, port in procs:
            _wait_listening(port, proc, _wait_listening.logs[proc.pid])
        yield [(proc, f"http://127.0.0.1:{port}") for proc, port in procs]
    finally:
        for proc, _ in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc, _ in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
            _wait_listening.logs.pop(proc.pid).close()


_wait_listening.logs = {}


@pytest.fixture(scope="module")
def pair(database):
    """Two API processes, 5 requests/s per team, a 2 s idempotency lease."""
    with api_processes(2, ROSTER_RATE_LIMIT=str(RATE), ROSTER_IDEMPOTENCY_LEASE=str(LEASE)) as procs:
        yield [url for _, url in procs]


_next_address = iter(range(10, 250))


@pytest.fixture
def source_address() -> str:
    return f"127.0.0.{next(_next_address)}"


def client(url: str, source: str, key: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=url, headers=headers, timeout=60, transport=httpx.HTTPTransport(local_address=source))


def imports_of(engine, key: str) -> int:
    from roster.store.keys import hash_token

    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT count(*) FROM contact_imports i JOIN api_keys k ON k.team_id = i.team_id WHERE k.token_hash = :h"),
            {"h": hash_token(key)},
        ).scalar_one()


def post_import(c: httpx.Client, idem: str, data: bytes = GOOD_CSV) -> httpx.Response:
    return c.post("/contacts/imports", files={"file": ("c.csv", data, "text/csv")}, headers={"Idempotency-Key": idem})


def slow_upload(data: bytes, pause: float):
    """A multipart body that stops half-way for `pause` seconds: the request is in progress meanwhile.
    The same parts as httpx sends for post_import's upload (another boundary: the same request)."""
    boundary = b"slowboundary"
    head = (
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="c.csv"\r\nContent-Type: text/csv\r\n\r\n'
    )
    tail = b"\r\n--" + boundary + b"--\r\n"
    half = len(data) // 2

    def body():
        yield head + data[:half]
        time.sleep(pause)
        yield data[half:] + tail

    return body(), {"content-type": "multipart/form-data; boundary=slowboundary"}


def test_a_retry_on_the_other_process_replays_the_first_response(pair, make_key, engine, source_address):
    key = make_key()
    a, b = (client(u, source_address, key) for u in pair)
    idem = str(uuid.uuid4())
    first = post_import(a, idem)
    assert first.status_code == 201, first.text
    again = post_import(b, idem)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = post_import(b, idem, GOOD_CSV + b"c@example.com,C\r\n")
    assert other.status_code == 409 and other.json()["name"] == "invalid_idempotent_request"
    assert imports_of(engine, key) == 1


def test_same_key_at_once_on_both_processes_creates_one_import(pair, make_key, engine, source_address):
    key = make_key()
    clients = [client(u, source_address, key) for u in pair]
    for c in clients:  # verify the key in each process first, so the burst below is the team's
        assert c.get("/segments").status_code == 200
    time.sleep(1.0)
    idem = str(uuid.uuid4())
    barrier = threading.Barrier(4)

    def go(i):
        barrier.wait()
        return post_import(clients[i % 2], idem)

    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(go, range(4)))
    statuses = sorted(r.status_code for r in responses)
    created = [r for r in responses if r.status_code == 201]
    assert created, statuses
    assert len({r.json()["id"] for r in created}) == 1, [r.text for r in responses]
    for r in responses:
        assert r.status_code == 201 or (r.status_code == 409 and r.json()["name"] == "concurrent_idempotent_requests"), r.text
    assert imports_of(engine, key) == 1


def test_in_progress_on_one_process_is_409_on_the_other_then_replayed(pair, make_key, engine, source_address):
    """The first request outlives its lease (2 s): renewing it keeps the other process out."""
    key = make_key()
    a, b = (client(u, source_address, key) for u in pair)
    idem = str(uuid.uuid4())
    # The upload stops for 5 leases: the other request comes 1.5 leases after the first has
    # claimed its key (past its first lease, long before its end, however slow the machine).
    body, headers = slow_upload(GOOD_CSV, pause=5 * LEASE)
    result = {}
    first = threading.Thread(
        target=lambda: result.update(r=a.post("/contacts/imports", content=body, headers={**headers, "Idempotency-Key": idem}))
    )
    first.start()
    wait_for(lambda: _key_held(engine, idem), "the first request to claim its key")
    time.sleep(LEASE * 1.5)  # the time a lease lasts is what is tested: one has gone by
    during = post_import(b, idem)
    assert during.status_code == 409, during.text
    assert during.json()["name"] == "concurrent_idempotent_requests"
    first.join(WAIT_SECONDS)
    assert result["r"].status_code == 201, result["r"].text
    after = post_import(b, idem)
    assert after.status_code == 201, after.text
    assert after.json()["id"] == result["r"].json()["id"] and after.headers["idempotent-replayed"] == "true"
    assert imports_of(engine, key) == 1


def test_a_process_that_dies_mid_request_frees_its_key_after_the_lease(pair, make_key, engine, source_address):
    key = make_key()
    idem = str(uuid.uuid4())
    lease = 15.0  # room for the other process's first request to come while the key is held, on a busy machine
    with api_processes(1, ROSTER_IDEMPOTENCY_LEASE=str(lease)) as [(proc, url)]:
        body, headers = slow_upload(GOOD_CSV, pause=30)
        doomed = client(url, source_address, key)
        threading.Thread(
            target=lambda: _ignore(
                lambda: doomed.post("/contacts/imports", content=body, headers={**headers, "Idempotency-Key": idem})
            ),
            daemon=True,
        ).start()
        wait_for(lambda: _key_held(engine, idem), "the request to claim its key")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(WAIT_SECONDS)
    b = client(pair[1], source_address, key)
    held = post_import(b, idem)
    assert held.status_code == 409 and held.json()["name"] == "concurrent_idempotent_requests", held.text
    time.sleep(lease + 0.5)
    taken_over = post_import(b, idem)
    assert taken_over.status_code == 201, taken_over.text
    assert post_import(b, idem).json()["id"] == taken_over.json()["id"]
    assert imports_of(engine, key) == 1


def _ignore(fn):
    try:
        fn()
    except httpx.HTTPError:
        pass


def _key_live(engine, idem: str) -> bool:
    """The key has a row that has not expired."""
    with engine.connect() as conn:
        return bool(
            conn.execute(
                sa.text("SELECT count(*) FROM idempotency_keys WHERE key_hash = :h AND expires_at > now()"),
                {"h": hashlib.sha256(idem.encode()).digest()},
            ).scalar_one()
        )


def _key_held(engine, idem: str) -> bool:
    with engine.connect() as conn:
        return (
            conn.execute(
                sa.text("SELECT count(*) FROM idempotency_keys WHERE key_hash = :h AND status IS NULL"),
                {"h": hashlib.sha256(idem.encode()).digest()},
            ).scalar_one()
            == 1
        )


def test_the_rate_limit_is_per_team_across_processes_and_keys(pair, make_key, source_address):
    team = f"rl-{uuid.uuid4().hex[:8]}"
    k1, k2 = make_key(team), make_key(team)
    clients = [client(u, source_address, k) for u in pair for k in (k1, k2)]
    for c in clients:  # verify each key in each process (these requests count too), then let the bucket fill
        c.get("/segments")
    time.sleep(1.5)
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda i: clients[i % 4].get("/segments"), range(32)))
    elapsed = time.monotonic() - started
    allowed = [r for r in responses if r.status_code == 200]
    limited = [r for r in responses if r.status_code == 429]
    assert len(allowed) + len(limited) == 32, [r.status_code for r in responses]
    # One bucket of 5 refilling at 5/s, whichever process or key: each process alone used to allow
    # 5 per key (20 at once here).
    assert len(allowed) <= RATE + RATE * elapsed + 1, (len(allowed), elapsed)
    assert {str(r.url).rsplit(":", 1)[1].split("/")[0] for r in limited} == {u.rsplit(":", 1)[1] for u in pair}
    for r in allowed:
        assert r.headers["ratelimit-limit"] == str(RATE)
        assert 0 <= int(r.headers["ratelimit-remaining"]) < RATE and int(r.headers["ratelimit-reset"]) >= 1
    body = limited[0].json()
    assert limited[0].status_code == 429 and body["name"] == "rate_limit_exceeded", body
    assert limited[0].headers["ratelimit-remaining"] == "0"
    assert int(limited[0].headers["retry-after"]) >= 1 and "ratelimit-reset" in limited[0].headers
    # another team has a bucket of its own
    assert client(pair[0], source_address, make_key()).get("/segments").status_code == 200
    time.sleep(int(limited[0].headers["retry-after"]) + 0.2)
    assert clients[3].get("/segments").status_code == 200


def test_rotating_bogus_keys_are_limited_before_the_lookup(pair, make_key, source_address):
    """Bogus keys, each new, over both processes: a 403 is a key lookup, a 429 is refused before
    it. The address's rate (5/s) throttles the lookups; its bad-key budget (10 a minute) stops them
    for a minute."""
    a, b = (client(u, source_address) for u in pair)

    def bogus(i):
        r = (a, b)[i % 2].get("/segments", headers={"Authorization": f"Bearer re_bogus_{uuid.uuid4().hex}"})
        assert r.status_code in (403, 429), r.text
        if r.status_code == 429:
            assert r.json()["name"] == "rate_limit_exceeded" and int(r.headers["retry-after"]) >= 1
        return r.status_code

    burst = [bogus(i) for i in range(100)]
    assert burst.count(403) <= 11 and burst.count(429) >= 89, burst
    # Slower than the address's rate (after its bucket has refilled), the lookups still stop once
    # 10 keys have failed.
    time.sleep(1.5)
    slow = []
    for i in range(20):
        slow.append(bogus(i))
        if slow[-1] == 429:
            break
        time.sleep(0.3)
    assert slow[-1] == 429, slow
    assert burst.count(403) + slow.count(403) <= 11, (burst, slow)
    # Now the address is refused before any lookup for a minute, on both processes, even with a
    # key it has not shown yet: only a lookup could tell that key from the bogus ones. Other
    # addresses are not refused.
    for c in (a, b):
        refused = c.get("/segments", headers={"Authorization": f"Bearer {make_key()}"})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 45, (burst, slow, refused.headers)
    elsewhere = client(pair[0], f"127.0.0.{next(_next_address)}", make_key())
    assert elsewhere.get("/segments").status_code == 200


def test_unauthenticated_requests_are_limited_per_address(pair, source_address):
    a, b = (client(u, source_address) for u in pair)
    started = time.monotonic()
    statuses = [(a, b)[i % 2].get("/segments").status_code for i in range(30)]
    elapsed = time.monotonic() - started
    assert set(statuses) == {401, 429}, statuses
    assert statuses.count(401) <= RATE + RATE * elapsed + 1, (statuses, elapsed)


def test_expired_keys_are_replaced_and_deleted(database, make_key, engine):
    from roster.api.app import create_app

    key = make_key()
    # Keys last 10 s: the replay below comes well within that, however slow the machine.
    with serve(create_app(rate_limit=1000, idempotency_ttl=10, cleanup_interval=0.2)) as url:
        c = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        first = c.post("/segments", json={"name": "S"}, headers={"Idempotency-Key": "k"})
        assert c.post("/segments", json={"name": "S"}, headers={"Idempotency-Key": "k"}).json() == first.json()
        with engine.begin() as conn:  # a day's worth of other keys that have expired, and full buckets
            conn.execute(
                sa.text("""
                INSERT INTO idempotency_keys (team_id, key_hash, owner, status, expires_at)
                SELECT (SELECT team_id FROM api_keys LIMIT 1), sha256(('old' || g)::bytea), gen_random_uuid(), 201,
                       now() - interval '1 second' FROM generate_series(1, 12000) g""")
            )
            conn.execute(
                sa.text("""
                INSERT INTO idempotency_keys (team_id, key_hash, owner, status, expires_at)
                SELECT (SELECT team_id FROM api_keys LIMIT 1), sha256(('live' || g)::bytea), gen_random_uuid(), 201,
                       now() + interval '1 hour' FROM generate_series(1, 10) g""")
            )
            conn.execute(
                sa.text("""INSERT INTO api_rate_limits (bucket, tat)
                SELECT 'addr:test' || g, extract(epoch from now()) - 5 FROM generate_series(1, 3000) g""")
            )
        wait_for(lambda: not _key_live(engine, "k"), "the key to expire", every=0.2)
        second = c.post("/segments", json={"name": "S"}, headers={"Idempotency-Key": "k"})
        assert second.status_code == 201 and "idempotent-replayed" not in second.headers
        assert second.json()["id"] != first.json()["id"]  # expired: a new request, not a replay
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            c.get("/segments")  # cleanup runs from requests
            with engine.connect() as conn:
                old = conn.execute(sa.text("SELECT count(*) FROM idempotency_keys WHERE expires_at <= now()")).scalar()
                full = conn.execute(sa.text("SELECT count(*) FROM api_rate_limits WHERE bucket LIKE 'addr:test%'")).scalar()
            if old == 0 and full == 0:
                break
            assert time.monotonic() < deadline, (old, full)
            time.sleep(0.3)
    with engine.connect() as conn:  # what has not expired stays
        assert (
            conn.execute(
                sa.text("SELECT count(*) FROM idempotency_keys WHERE key_hash = ANY(:h)"),
                {"h": [hashlib.sha256(f"live{g}".encode()).digest() for g in range(1, 11)]},
            ).scalar()
            == 10
        )


def test_unauthenticated_requests_never_write_idempotency_keys(api_url, engine, source_address):
    keys = []
    for auth in (None, "Bearer re_not_a_key"):
        keys.append(str(uuid.uuid4()))
        headers = {"Idempotency-Key": keys[-1], **({"Authorization": auth} if auth else {})}
        r = client(api_url, source_address).post("/segments", json={"name": "x"}, headers=headers)
        assert r.status_code in (401, 403), r.text
    with engine.connect() as conn:
        assert (
            conn.execute(
                sa.text("SELECT count(*) FROM idempotency_keys WHERE key_hash = ANY(:h)"),
                {"h": [hashlib.sha256(k.encode()).digest() for k in keys]},
            ).scalar()
            == 0
        )


@pytest.mark.parametrize(
    "env,message",
    [
        ({"ROSTER_RATE_LIMIT": "0"}, "ROSTER_RATE_LIMIT='0': input should be greater than 0"),
        ({"ROSTER_RATE_LIMIT": "ten"}, "ROSTER_RATE_LIMIT='ten': input should be a valid number"),
        ({"ROSTER_BAD_KEY_LIMIT": "-1"}, "ROSTER_BAD_KEY_LIMIT='-1': input should be greater than 0"),
        ({"ROSTER_IDEMPOTENCY_LEASE": "0"}, "ROSTER_IDEMPOTENCY_LEASE='0': input should be greater than 0"),
    ],
)
def test_bad_settings_fail_when_the_app_is_made(monkeypatch, env, message):
    from roster.api.app import create_app

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        create_app()
