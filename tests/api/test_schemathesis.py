"""Property-based requests generated from /openapi.json: whatever they send, no 500. Bounded: a few
examples per operation, authenticated (and a few unauthenticated) requests against the real server."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402

MAX_EXAMPLES = 8


@pytest.fixture(scope="module")
def st_token(database, api_url):
    from roster.runtime.database import get_engine
    from roster.store.keys import create_api_key

    return create_api_key(get_engine(), "schemathesis")


def _schema():
    # The same document the server serves at /openapi.json (test_openapi_is_served checks that).
    from roster.api.app import create_app

    return create_app().openapi()


schema = schemathesis.openapi.from_dict(_schema())


def test_openapi_is_served(api_url):
    import httpx

    served = httpx.get(f"{api_url}/openapi.json").json()
    assert served == _schema()
    assert "/contacts/imports" in served["paths"] and "/topics/{topic_id}" in served["paths"]


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors(case, api_url, st_token):
    headers = {"Authorization": f"Bearer {st_token}"}
    response = case.call(base_url=api_url, headers=headers)
    assert response.status_code < 500, f"{case.method} {case.path}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"statusCode", "name", "message"} and body["statusCode"] == response.status_code, body
