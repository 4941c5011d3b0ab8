"""pgvitals' own row reads, kept out of the statistics the rules read.

Its row counts, orphan counts, key-range descents, --analyze-queries' EXPLAIN ANALYZE and
--show-samples' examples count in pg_stat_user_tables and pg_stat_user_indexes, and in
pg_stat_statements, like the application's: the next run read them as the workload (a
table read whole by the row count and by each orphan count looked sequential-scan heavy,
an index the probes descend looked used). A session may switch both off for itself:
track_counts and pg_stat_statements.track are a superuser's settings, or a role's
granted SET ON PARAMETER (PostgreSQL 15 on)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from pgvitals.connect import NoAnswer


@contextmanager
def uncounted(connection: psycopg.Connection) -> Iterator[bool]:
    """Within: this session's reads uncounted where it may (both settings, or neither);
    yields whether they still count. After: the settings as they were, for what is read
    next (the settings themselves: track_counts off says autovacuum cannot work)."""
    untracked = counted = False
    try:
        with connection.transaction():
            connection.execute("SET track_counts = off")
            # set only where the server loads it: set, a setting no library defines
            # stays as a placeholder, and the extension would look loaded
            loaded = connection.execute(
                "SELECT pg_catalog.current_setting('pg_stat_statements.track', true) IS NOT NULL"
            ).fetchone()
            if loaded and loaded[0]:
                connection.execute("SET pg_stat_statements.track = 'none'")
                untracked = True
    except psycopg.Error as error:
        if isinstance(error, NoAnswer) or connection.broken or connection.closed:
            raise
        counted = True  # not allowed (permission denied): counted, as anyone's
    if counted:
        yield True
        return
    try:
        yield False
    finally:
        if not (connection.closed or connection.broken):
            connection.execute("RESET track_counts")
            if untracked:
                connection.execute("RESET pg_stat_statements.track")
