"""`pgvitals demo`: a private server, the bundled education-platform database with a
workload that leaves realistic statistics, and the full check."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

import psycopg
from psycopg import sql

from pgvitals.config import Config
from pgvitals.connect import connect, describe_connection
from pgvitals.embedded import EmbeddedServer, has_extension, interrupt_safe, pgserver_bin_dir
from pgvitals.engine import LIVE, Analysis, analyse
from pgvitals.snapshot.collect import collect

DEMO_DATABASE = "pgvitals_demo"
# Autovacuum would start cleaning up the workload's traces within a minute; a long
# naptime keeps the demo's report the same on every run (and autovacuum stays "on").
DEMO_SETTINGS = {"autovacuum_naptime": "3600"}
# The workload replays a week of use in seconds: its counters stand for that week, so
# the statistics-based rules judge them instead of waiting for a day's history.
DEMO_CONFIG = Config(min_statistics_hours=0)
# Where the server has pg_stat_statements, the demo records its workload (the loops in
# workload.sql are PL/pgSQL: `track = all` counts the statements inside them too) and,
# with hypopg, measures index advice. pgserver's server has neither.
WORKLOAD_SETTINGS = {
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "all",
}


def demo_sql(name: str) -> str:
    return resources.files("pgvitals.demo").joinpath(name).read_text(encoding="utf-8")


def load_demo(dsn: str) -> None:
    """Create the demo schema, then run the workload and the maintenance after it in
    a fresh session."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(demo_sql("schema.sql"))
        forget_statements(connection)
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(demo_sql("workload.sql"))
        # the workload's counters reach the statistics when it ends (flushed now, as
        # the backend goes idle); the maintenance after it must not come before them
        connection.execute("SELECT pg_catalog.pg_stat_force_next_flush()")
        connection.execute(demo_sql("maintenance.sql"))


def forget_statements(connection: psycopg.Connection) -> None:
    """Where the database has pg_stat_statements, forget this database's statements so
    far (the schema's load is not the workload)."""
    row = connection.execute(
        "SELECT n.nspname FROM pg_catalog.pg_extension e"
        " JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace"
        " WHERE e.extname = 'pg_stat_statements'"
    ).fetchone()
    if row:
        reset = sql.Identifier(row[0], "pg_stat_statements_reset")
        connection.execute(
            sql.SQL(
                "SELECT {}(0, (SELECT oid FROM pg_catalog.pg_database"
                " WHERE datname = pg_catalog.current_database()), 0)"
            ).format(reset)
        )


def workload_extensions(bin_dir: Path) -> tuple[str, ...]:
    if not has_extension(bin_dir, "pg_stat_statements"):
        return ()
    return ("pg_stat_statements", *(("hypopg",) if has_extension(bin_dir, "hypopg") else ()))


def run_demo(step: Callable[[str], None], bin_dir: Path | None = None) -> tuple[Analysis, str]:
    """`bin_dir`: the server's programs (default: pgserver's)."""
    extensions = workload_extensions(bin_dir or pgserver_bin_dir())
    settings = {**DEMO_SETTINGS, **(WORKLOAD_SETTINGS if extensions else {})}
    with interrupt_safe(EmbeddedServer(bin_dir, settings=settings)) as server:
        step("starting a private PostgreSQL")
        with psycopg.connect(server.dsn(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {DEMO_DATABASE}")
        dsn = server.dsn(DEMO_DATABASE)
        if extensions:
            with psycopg.connect(dsn, autocommit=True) as connection:
                connection.execute("CREATE SCHEMA extensions")
                for name in extensions:
                    connection.execute(
                        sql.SQL("CREATE EXTENSION {} SCHEMA extensions").format(
                            sql.Identifier(name)
                        )
                    )
        step("loading the demo database and its workload")
        load_demo(dsn)
        connection = connect(dsn)
        try:
            snapshot = collect(connection, progress=step)
            where = describe_connection(connection)
        finally:
            connection.close()
    return analyse(snapshot, DEMO_CONFIG, LIVE), where
