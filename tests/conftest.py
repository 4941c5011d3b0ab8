"""Real PostgreSQL servers for the tests: the embedded PostgreSQL 16 (pgserver) and,
when its binaries are on the machine, the system's PostgreSQL. Each server is
started once per test session; each test gets a fresh database on it."""

from __future__ import annotations

import itertools
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from pgvitals.embedded import EmbeddedServer, has_extension, system_bin_dirs

QUIET_AUTOVACUUM = {"autovacuum_naptime": "3600"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_kinds() -> list[tuple[str, Path | None]]:
    kinds: list[tuple[str, Path | None]] = [("pg16-embedded", None)]
    kinds += [(f"pg{path.parent.name}-system", path) for path in system_bin_dirs()]
    return kinds


@dataclass
class Database:
    server: EmbeddedServer
    name: str

    @property
    def dsn(self) -> str:
        return self.server.dsn(self.name)

    def execute(self, statements: str) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            connection.execute(statements)

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.dsn, autocommit=True)


def workload_settings(bin_dir: Path | None) -> dict[str, str]:
    """pg_stat_statements loaded where the server has it, so that a test database that
    runs CREATE EXTENSION pg_stat_statements records its workload (the workload rules'
    cases); nothing else changes until a database creates the extension."""
    if bin_dir is None or not has_extension(bin_dir, "pg_stat_statements"):
        return {}
    return {"shared_preload_libraries": "pg_stat_statements"}


@pytest.fixture(scope="session", params=server_kinds(), ids=lambda kind: kind[0])
def server(request: pytest.FixtureRequest) -> Iterator[EmbeddedServer]:
    _, bin_dir = request.param
    # autovacuum stays on (a server without it is a finding) but does not visit during
    # the session: the counters the tests build are theirs alone, as in the demo
    settings = {**QUIET_AUTOVACUUM, **workload_settings(bin_dir)}
    embedded = EmbeddedServer(bin_dir, settings, tcp_port=free_port())
    embedded.start()
    yield embedded
    embedded.stop()


_numbers = itertools.count()


@pytest.fixture
def database(server: EmbeddedServer) -> Iterator[Database]:
    name = f"test_{next(_numbers)}"
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield Database(server, name)
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
