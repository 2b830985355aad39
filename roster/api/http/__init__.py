"""The HTTP plumbing every router shares: callers and keys, errors in Resend's shape, pagination,
rendering, uploads, idempotency and rate limits (their state in PostgreSQL)."""
