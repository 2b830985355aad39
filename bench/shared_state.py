"""What the API's shared state (rate-limit buckets and idempotency keys in PostgreSQL) costs per
request. Not a pytest test.

    TEST_DATABASE_URL=postgresql://... .venv/bin/python bench/shared_state.py [--n 2000]

On a throwaway database of that server:
1. the statements alone, one after another on one thread: a rate-limit take (every request), an
   idempotency claim + finish (a POST with a new key), a replayed key's claim; the same take on
   the general engine (pre-ping, BEGIN/COMMIT), to show why the state has a pool of its own; and,
   when a Redis server answers on REDIS_URL (default redis://localhost:6379), the same GCRA take
   as a Lua script there, for the comparison the README draws;
2. over HTTP, a real uvicorn process (`roster.api.app:app`) against the same app without the two
   middlewares (both running, requests interleaved): GET /segments, and POST /segments with and
   without an Idempotency-Key, one client. The median of the paired differences is the cost per
   request.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def bare_app():
    """`uvicorn --factory`: the API without the rate-limit and idempotency middlewares."""
    from roster.api.app import create_app
    from roster.api.http.idempotency import IdempotencyMiddleware
    from roster.api.http.ratelimit import RateLimitMiddleware

    app = create_app()
    app.user_middleware = [m for m in app.user_middleware if m.cls not in (RateLimitMiddleware, IdempotencyMiddleware)]
    return app


def summary(samples: list[float]) -> str:
    s = sorted(samples)
    p = lambda q: s[min(len(s) - 1, int(q * len(s)))]  # noqa: E731
    return f"median {statistics.median(s) * 1e3:7.3f} ms  p90 {p(0.9) * 1e3:7.3f} ms  p99 {p(0.99) * 1e3:7.3f} ms"


def timed(fn, n: int) -> list[float]:
    for _ in range(min(50, n)):
        fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


GCRA_LUA = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1e6
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local new = math.max(tat, t) + tonumber(ARGV[1])
if new - t <= tonumber(ARGV[2]) then
  redis.call('SET', KEYS[1], tostring(new), 'PX', math.ceil(tonumber(ARGV[2]) * 1000) + 1000)
  return tostring(new - t)
end
return false
"""


class Resp:
    """Just enough of the Redis protocol for EVAL (no client library needed for a comparison)."""

    def __init__(self, host: str, port: int):
        self.sock = socket.create_connection((host, port), timeout=2)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def call(self, *args) -> bytes | None:
        parts = [f"*{len(args)}\r\n".encode()]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(parts))
        line = self._line()
        if line[:1] == b"$":
            n = int(line[1:])
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.sock.recv(65536)
            data, self.buf = self.buf[:n], self.buf[n + 2 :]
            return data
        if line[:1] == b"-":
            raise RuntimeError(line.decode())
        return line[1:]

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line


def statements(n: int) -> None:
    import sqlalchemy as sa

    from roster.api.http import state
    from roster.api.http.idempotency import IdempotencyStore
    from roster.api.http.ratelimit import TAKE, Limit, SharedBuckets
    from roster.runtime.database import get_engine
    from roster.store.teams import ensure as ensure_team

    team_id = ensure_team(get_engine(), "bench")
    limit = Limit.per_second(1e6)
    buckets = SharedBuckets()
    print(f"statements, {n} each, one thread:")
    print(f"  rate-limit take (state pool)          {summary(timed(lambda: buckets.take(f'team:{team_id}', limit), n))}")
    params = {"bucket": f"team:{team_id}", "inc": limit.interval, "window": limit.window}

    def general():
        with get_engine().begin() as conn:
            conn.execute(TAKE, params)

    print(f"  rate-limit take (general engine)      {summary(timed(general, n))}")
    store = IdempotencyStore()

    def new_key():
        key = uuid.uuid4().bytes
        owner, _ = store.claim(team_id, key)
        store.finish(team_id, key, owner, "f" * 64, 201, [(b"content-type", b"application/json")], b'{"id": "x"}' * 4)

    print(f"  idempotency claim + finish (new key)  {summary(timed(new_key, n))}")
    replayed = uuid.uuid4().bytes
    owner, _ = store.claim(team_id, replayed)
    store.finish(team_id, replayed, owner, "f" * 64, 201, [], b"{}")
    print(f"  idempotency claim (replay)            {summary(timed(lambda: store.claim(team_id, replayed), n))}")
    with state.state_engine().connect() as conn:
        rows = conn.execute(sa.text("SELECT count(*) FROM idempotency_keys")).scalar()
    print(f"  ({rows} idempotency keys in the table)")

    url = os.environ.get("REDIS_URL", "redis://localhost:6379")
    host, _, port = url.removeprefix("redis://").partition(":")
    try:
        r = Resp(host or "localhost", int(port or 6379))
        sha = r.call("SCRIPT", "LOAD", GCRA_LUA).decode()
    except (OSError, RuntimeError) as e:
        print(f"  redis: not measured ({e})")
        return
    key = f"bench:team:{team_id}"
    print(
        f"  redis GCRA take (EVALSHA, same logic) {summary(timed(lambda: r.call('EVALSHA', sha, 1, key, limit.interval, limit.window), n))}"
    )
    print(f"  redis PING                            {summary(timed(lambda: r.call('PING'), n))}")


def serve(target: list[str], env: dict) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", *target, "--port", str(port), "--no-access-log", "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"http://127.0.0.1:{port}"
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.1)


def http(n: int) -> None:
    """Both servers run at once and each request goes to one, then the other (the order alternating),
    so a busy machine slows both alike; the cost is the median of the paired differences."""
    import httpx

    from roster.runtime.database import get_engine
    from roster.store.keys import create_api_key

    env = {**os.environ, "ROSTER_RATE_LIMIT": "1000000", "ROSTER_LAUNCH": "sensor"}
    variants = {
        "shared state": ["roster.api.app:app"],
        "no rate limit, no idempotency": ["--factory", "--app-dir", os.path.join(ROOT, "bench"), "shared_state:bare_app"],
    }
    servers = {name: serve(target, env) for name, target in variants.items()}
    requests = {
        "GET /segments": lambda c: c.get("/segments?limit=1"),
        "POST /segments": lambda c: c.post("/segments", json={"name": "s"}),
        "POST /segments + Idempotency-Key": lambda c: c.post(
            "/segments", json={"name": "s"}, headers={"Idempotency-Key": str(uuid.uuid4())}
        ),
    }
    samples = {name: {req: [] for req in requests} for name in variants}
    try:
        clients = {
            name: httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {create_api_key(get_engine(), f'bench-{uuid.uuid4().hex[:8]}')}"}
            )
            for name, (_, url) in servers.items()
        }
        names = list(variants)
        for i in range(n + 50):
            for req, send in requests.items():
                for name in names if i % 2 else names[::-1]:
                    t0 = time.perf_counter()
                    r = send(clients[name])
                    dt = time.perf_counter() - t0
                    assert r.status_code in (200, 201), r.text
                    if i >= 50:  # warm-up
                        samples[name][req].append(dt)
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(15)
    print(f"\nHTTP, one uvicorn process per variant, one client, {n} requests each, interleaved:")
    for name, by_request in samples.items():
        print(f"  {name}:")
        for req, xs in by_request.items():
            print(f"    {req:34s} {summary(xs)}")
    print("  cost per request (median of paired differences):")
    shared, base = samples["shared state"], samples["no rate limit, no idempotency"]
    for req in requests:
        diffs = [a - b for a, b in zip(shared[req], base[req])]
        print(f"    {req:34s} {statistics.median(diffs) * 1e3:+.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    import psycopg
    from sqlalchemy.engine import make_url

    base = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not base:
        sys.exit("set TEST_DATABASE_URL (a PostgreSQL server where a throwaway database may be created)")
    admin = make_url(base).set(drivername="postgresql")
    name = f"roster_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = admin.set(database=name).render_as_string(hide_password=False)
    os.environ.setdefault("ROSTER_DATA_DIR", tempfile.mkdtemp(prefix="roster-bench-"))
    try:
        statements(args.n)
        http(args.n)
    finally:
        with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
