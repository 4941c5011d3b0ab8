"""Real PostgreSQL servers for the tests: the embedded PostgreSQL 16 (pgserver) and,
when its binaries are on the machine, the system's PostgreSQL. Each server is
started once per test session; each test gets a fresh database on it."""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from pgvitals.embedded import EmbeddedServer, has_extension, system_bin_dirs
from tests.corpus import CorpusLoads
from tests.helpers import Run, pgvitals

QUIET_AUTOVACUUM = {"autovacuum_naptime": "3600"}
# Where the test servers keep their files, and the servers that `pgvitals demo`, `review`
# and `--verify-fixes` start too (they follow TMPDIR): every test creates a database, some
# hundred files, which cost ~0.2 s of kernel time per test on an ext4 disk, ~0.02 s here.
MEMORY_TMPDIR = Path("/dev/shm")
# A whole run peaks at ~0.5 GB there (both servers with their WAL, the servers the commands
# start, the tests' tmp_path folders); pytest keeps the last three runs' tmp_path (~60 MB).
MEMORY_NEEDED = 2 << 30


def temporary_files_in_memory() -> None:
    """TMPDIR on a memory file system when there is one with room enough (a container's
    64 MB /dev/shm is not), unless TMPDIR is set already: every file is thrown away."""
    if "TMPDIR" in os.environ or not os.access(MEMORY_TMPDIR, os.W_OK | os.X_OK):
        return
    if shutil.disk_usage(MEMORY_TMPDIR).free >= MEMORY_NEEDED:
        os.environ["TMPDIR"] = str(MEMORY_TMPDIR)  # for the programs the tests run
        tempfile.tempdir = None  # this process reads TMPDIR again


temporary_files_in_memory()


def bytecode_cached_for_subprocesses() -> None:
    """Where PYTHONDONTWRITEBYTECODE is set, every `python -m pgvitals` the tests run (some
    hundreds) compiles pgvitals again, ~0.2 s each: their bytecode goes to a folder of
    this session instead, never beside the sources."""
    if not os.environ.get("PYTHONDONTWRITEBYTECODE") or "PYTHONPYCACHEPREFIX" in os.environ:
        return
    folder = tempfile.mkdtemp(prefix="tests-pycache-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["PYTHONPYCACHEPREFIX"] = folder
    del os.environ["PYTHONDONTWRITEBYTECODE"]


bytecode_cached_for_subprocesses()


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

    def reader(self, granted: bool = False) -> str:
        """The DSN of a new role, no superuser, that reads the statistics and the public
        tables and sequences: its reads count in the statistics, as anyone's, unless
        `granted` SET on track_counts and pg_stat_statements.track (snapshot/uncounted.py)."""
        role = f"{self.name}_x_reader"
        self.execute(
            f"CREATE ROLE {role} LOGIN; GRANT pg_read_all_stats TO {role};"
            f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role};"
            f"GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};"
        )
        if granted:
            self.execute(f"GRANT SET ON PARAMETER track_counts, pg_stat_statements.track TO {role}")
        return self.server.dsn(self.name, user=role)


def workload_settings(bin_dir: Path | None) -> dict[str, str]:
    """pg_stat_statements loaded where the server has it, so that a test database that
    runs CREATE EXTENSION pg_stat_statements records its workload (the workload rules'
    cases); nothing else changes until a database creates the extension. It keeps
    5,000 statements by default, for the whole server: a session's thousands of test
    databases evicted the cases' statements run once (an N+1 case's driving query went
    missing in one full run of three), so it keeps more."""
    if bin_dir is None or not has_extension(bin_dir, "pg_stat_statements"):
        return {}
    return {"shared_preload_libraries": "pg_stat_statements", "pg_stat_statements.max": "50000"}


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


@pytest.fixture(scope="session")
def corpus_loads(tmp_path_factory: pytest.TempPathFactory) -> CorpusLoads:
    return CorpusLoads(tmp_path_factory.mktemp("corpus"))


@pytest.fixture
def corpus_copy(
    server: EmbeddedServer, corpus_loads: CorpusLoads
) -> Iterator[Callable[[str], Database]]:
    """`corpus_copy("pagila")`: a database of this test's own holding that corpus
    schema, as loaded by the corpus's loader (tests/corpus.py)."""
    made: list[Database] = []

    def copy(name: str) -> Database:
        made.append(Database(server, corpus_loads.copy(server, name)))
        return made[-1]

    yield copy
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        for database in made:
            admin.execute(f"DROP DATABASE IF EXISTS {database.name} WITH (FORCE)")


@dataclass
class DemoRun:
    run: Run
    folder: Path  # what it wrote: report.json, .md, .html, .sarif, fix.sql, rollback.sql


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """`pgvitals demo -o FOLDER`, as a new user runs it, once for the tests that read what
    it wrote (a demo starts a server and loads the demo: seconds); none may change it."""
    folder = tmp_path_factory.mktemp("demo") / "report"
    run = pgvitals("demo", "-o", str(folder), timeout=300)
    assert run.exit_code == 0, run.stderr
    return DemoRun(run, folder)
