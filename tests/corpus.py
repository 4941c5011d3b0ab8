"""The real public schemas nobody here wrote (../shared/corpus), loaded by the corpus's
own loader.

A load takes seconds (psql, the corpus's filter, thousands of statements), and several
test files check every schema on every server. So each schema is loaded once per
server, into a database no test touches, and each test gets a copy of its own
(CREATE DATABASE ... TEMPLATE): whatever a test does to its copy reaches no other test.
A copy is checked as a fresh load is, finding by finding and fix by fix; it lacks only
the load's own statistics counters (each table's sequential scans while loading), which
are not copied and which no corpus test asserts on."""

from __future__ import annotations

import itertools
import os
import subprocess
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from pgvitals.embedded import EmbeddedServer

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
NAMES = ["pagila", "chinook", "openstreetmap", "synapse", "lago", "gisia", "supabase_basejump"]

needs_corpus = pytest.mark.skipif(
    not CORPUS.is_dir(), reason="shared/corpus is not beside the checkout"
)


def load_corpus(server: EmbeddedServer, name: str, database: str, tmp_path: Path) -> None:
    """Load one corpus schema into a fresh database with the corpus's own loader."""
    environment = {
        **os.environ,
        "PATH": f"{server.bin_dir}:{os.environ['PATH']}",
        "CORPUS_REPORT": str(tmp_path / "load-report.txt"),
        "CORPUS_DB": database,
    }
    subprocess.run(
        [str(CORPUS / "load.sh"), name, server.dsn()],
        check=True,
        capture_output=True,
        env=environment,
        timeout=300,
    )


class CorpusLoads:
    """Each schema loaded at most once per server, on first use, and copied from there."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.loaded: set[tuple[Path, str]] = set()
        self.numbers = itertools.count()

    def copy(self, server: EmbeddedServer, name: str) -> str:
        """A new database holding corpus schema `name`; returns its name."""
        loaded = f"loaded_{name}"  # only ever a template: a copy needs it idle
        if (server.base_dir, name) not in self.loaded:
            load_corpus(server, name, loaded, self.folder)
            self.loaded.add((server.base_dir, name))
        database = f"{name}_{next(self.numbers)}"
        with psycopg.connect(server.dsn(), autocommit=True) as admin:
            admin.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(database), sql.Identifier(loaded)
                )
            )
        return database
