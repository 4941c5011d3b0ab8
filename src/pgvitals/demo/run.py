"""`pgvitals demo`: a private server, the bundled education-platform database with a
workload that leaves realistic statistics, and the full check."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources

import psycopg

from pgvitals.config import Config
from pgvitals.connect import connect, describe_connection
from pgvitals.embedded import EmbeddedServer, interrupt_safe
from pgvitals.engine import LIVE, Analysis, analyse
from pgvitals.snapshot.collect import collect

DEMO_DATABASE = "pgvitals_demo"
# Autovacuum would start cleaning up the workload's traces within a minute; a long
# naptime keeps the demo's report the same on every run (and autovacuum stays "on").
DEMO_SETTINGS = {"autovacuum_naptime": "3600"}
# The workload replays a week of use in seconds: its counters stand for that week, so
# the statistics-based rules judge them instead of waiting for a day's history.
DEMO_CONFIG = Config(min_statistics_hours=0)


def demo_sql(name: str) -> str:
    return resources.files("pgvitals.demo").joinpath(name).read_text(encoding="utf-8")


def load_demo(dsn: str) -> None:
    """Create the demo schema, then run the workload and the maintenance after it in
    a fresh session."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(demo_sql("schema.sql"))
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(demo_sql("workload.sql"))
        # the workload's counters reach the statistics when it ends (flushed now, as
        # the backend goes idle); the maintenance after it must not come before them
        connection.execute("SELECT pg_catalog.pg_stat_force_next_flush()")
        connection.execute(demo_sql("maintenance.sql"))


def run_demo(step: Callable[[str], None]) -> tuple[Analysis, str]:
    with interrupt_safe(EmbeddedServer(settings=DEMO_SETTINGS)) as server:
        step("starting a private PostgreSQL")
        with psycopg.connect(server.dsn(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {DEMO_DATABASE}")
        dsn = server.dsn(DEMO_DATABASE)
        step("loading the demo database and its workload")
        load_demo(dsn)
        connection = connect(dsn)
        try:
            snapshot = collect(connection, progress=step)
            where = describe_connection(connection)
        finally:
            connection.close()
    return analyse(snapshot, DEMO_CONFIG, LIVE), where
