"""The mapping engine is pure Python: its tests must not start or need a database.

tests/conftest.py declares a session-wide autouse `database` fixture; redefining it here
replaces it for the tests in this folder only.
"""

import pytest


@pytest.fixture(scope="session", autouse=True)
def database():
    yield None
