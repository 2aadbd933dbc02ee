"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.pgserver import PgServer, PgUnavailable, start_server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One throwaway PostgreSQL cluster for the whole run, started on first use.

    Where no server can be had the tests that need it are skipped with the reason;
    with HANDOVER_REQUIRE_POSTGRES=1 (as .ci/run sets) they fail instead, so CI cannot
    pass without testing the engine."""
    try:
        server = start_server()
    except PgUnavailable as exc:
        if os.environ.get("HANDOVER_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here but unavailable: {exc}")
        pytest.skip(f"NO POSTGRESQL, the postgres engine is NOT tested: {exc}")
    yield server
    server.stop()


