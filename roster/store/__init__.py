"""The store: every SQL statement Roster runs lives in this package, one module per family of
tables (imports, staging, merge, failures, leases, teams, contacts, segments, topics, properties,
keys, mappings; pages reads any of their lists a page at a time). Functions take an Engine or a
Connection first, and every query names the caller's team (or the one import it works on): no
statement can reach another team's data. Callers parse and render; they hold no SQL.

One exception: the REST API's own bookkeeping shared between its processes (idempotency keys,
rate-limit buckets, their cleanup) keeps its SQL in roster/api/http, next to the protocols it is
part of (roster/api/http/state.py says why)."""
