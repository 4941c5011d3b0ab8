"""The workload rules' claims, shown on a real server: what planning a write locks (why
pgvitals plans writes as SELECTs), that hypopg works in pgvitals' read-only session and
creates nothing, and how pg_stat_statements keeps statements' texts."""

from __future__ import annotations

import psycopg
import pytest

from tests.conftest import Database
from tests.workload.conftest import require

LOCKS = """SELECT l.mode FROM pg_catalog.pg_locks l
            WHERE l.relation = 'public.t'::regclass AND l.pid = pg_catalog.pg_backend_pid()
            ORDER BY l.mode"""


def locks_taken(database: Database, statement: str) -> list[str]:
    with psycopg.connect(database.dsn) as session:  # one transaction, rolled back
        session.execute(statement)
        return [mode for (mode,) in session.execute(LOCKS).fetchall()]


def test_planning_a_write_locks_for_writing_and_a_select_does_not(database: Database) -> None:
    database.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
    assert locks_taken(database, "EXPLAIN UPDATE t SET v = 'x' WHERE id = 1") == [
        "RowExclusiveLock"
    ]
    assert locks_taken(database, "EXPLAIN DELETE FROM t WHERE id = 1") == ["RowExclusiveLock"]
    assert locks_taken(database, "EXPLAIN SELECT * FROM t WHERE id = 1 FOR UPDATE") == [
        "RowShareLock"
    ]
    # what pgvitals plans instead: the rows the write reads, as a plain SELECT
    assert locks_taken(database, "EXPLAIN SELECT t.ctid FROM t WHERE id = 1") == ["AccessShareLock"]


def test_hypopg_works_in_a_read_only_transaction_and_creates_no_index(
    database: Database,
) -> None:
    require(database, "hypopg")
    database.execute(
        "CREATE TABLE t (id int, v text);"
        " INSERT INTO t SELECT g, 'v' FROM generate_series(1, 5000) g; ANALYZE t"
    )
    options = "-c default_transaction_read_only=on"
    with psycopg.connect(database.dsn, autocommit=True, options=options) as session:
        with session.transaction():
            assert session.execute("SHOW transaction_read_only").fetchone() == ("on",)
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction), session.transaction():
                session.execute("CREATE INDEX ON t (id)")
            (oid, name), *_ = session.execute(
                "SELECT indexrelid, indexname FROM hypopg_create_index('CREATE INDEX ON t (id)')"
            ).fetchall()
            plan = session.execute("EXPLAIN SELECT v FROM t WHERE id = 42").fetchall()
            assert any(name in line for (line,) in plan), plan  # the planner uses it
        # it outlives the transaction, in this session's memory only
        assert session.execute("SELECT count(*) FROM hypopg_list_indexes").fetchone() == (1,)
        with psycopg.connect(database.dsn) as other:
            assert other.execute("SELECT count(*) FROM hypopg_list_indexes").fetchone() == (0,)
            assert other.execute(
                "SELECT count(*) FROM pg_index WHERE indrelid = 't'::regclass"
            ).fetchone() == (0,)
        session.execute("SELECT hypopg_drop_index(%s)", [oid])


def test_pg_stat_statements_keeps_the_first_text_it_saw_comment_included(
    database: Database,
) -> None:
    require(database, "pg_stat_statements")
    database.execute("CREATE TABLE t (id int PRIMARY KEY)")
    with database.admin() as session:
        session.execute("/* pgvitals */ SELECT count(*) FROM t WHERE id > 5")
        session.execute("SELECT count(*) FROM t WHERE id > 7")  # same statement, no comment
        rows = session.execute(
            "SELECT query, calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
            " WHERE d.datname = current_database() AND query ~ 'FROM t WHERE'"
        ).fetchall()
    assert rows == [("/* pgvitals */ SELECT count(*) FROM t WHERE id > $1", 2)]


def test_a_plpgsql_loop_is_counted_per_statement_with_its_variables_only_when_tracking_all(
    database: Database,
) -> None:
    require(database, "pg_stat_statements")
    database.execute("CREATE TABLE t (id int PRIMARY KEY)")
    loop = "DO $$ BEGIN FOR i IN 1..5 LOOP PERFORM id FROM t WHERE id = i; END LOOP; END $$"
    with database.admin() as session:
        session.execute(loop)
        session.execute("SET pg_stat_statements.track = 'all'")
        session.execute(loop)
        rows = session.execute(
            "SELECT query, calls, toplevel FROM pg_stat_statements s"
            " JOIN pg_database d ON d.oid = s.dbid"
            " WHERE d.datname = current_database() AND query ~ 'FROM t WHERE'"
            " ORDER BY toplevel"
        ).fetchall()
    assert rows == [
        ("SELECT id FROM t WHERE id = i", 5, False),  # the second loop's, with its variable
        (loop, 2, True),
    ]
