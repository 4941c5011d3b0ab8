"""Databases whose server records the workload: pg_stat_statements preloaded (the
system PostgreSQL of tests/conftest.py), created in the database; hypopg where the
server has it. Elsewhere (pgserver has neither) the tests skip with the reason."""

from __future__ import annotations

import pytest

from pgvitals.testing import missing_requirement
from tests.conftest import Database


def require(database: Database, *extensions: str) -> Database:
    with database.admin() as admin:
        missing = missing_requirement(admin, extensions)
        if missing:
            pytest.skip(missing)
        for name in extensions:
            admin.execute(f"CREATE EXTENSION {name}")
    return database


@pytest.fixture
def stats_database(database: Database) -> Database:
    return require(database, "pg_stat_statements")


@pytest.fixture
def advice_database(database: Database) -> Database:
    return require(database, "pg_stat_statements", "hypopg")
