"""The maintenance rules' rationale, shown on a real server (see tests/test_rationale.py)."""

from __future__ import annotations

import psycopg


def live_and_dead(connection: psycopg.Connection, table: str) -> tuple[int, int]:
    row = connection.execute(
        "SELECT n_live_tup, n_dead_tup FROM pg_stat_user_tables WHERE relname = %s", [table]
    ).fetchone()
    assert row is not None
    return row


# high-dead-tuple-ratio


def run(connection: psycopg.Connection, *statements: str) -> None:
    """Each statement, then its statistics flushed, so a later reset comes after them."""
    for statement in statements:
        connection.execute(statement)
        connection.execute("SELECT pg_stat_force_next_flush()")


def test_a_statistics_reset_zeroes_n_live_tup_while_the_rows_stay(database) -> None:
    with database.admin() as admin:
        run(
            admin,
            "CREATE TABLE members (id int PRIMARY KEY, seen int) WITH (autovacuum_enabled = off)",
            "INSERT INTO members SELECT g, 0 FROM generate_series(1, 500) g",
            "SELECT pg_stat_reset()",
            "UPDATE members SET seen = 1",
        )
        counters = live_and_dead(admin, "members")
        rows = admin.execute("SELECT count(*) FROM members").fetchone()
    assert counters == (0, 500)  # "100 % dead" by the counters alone
    assert rows == (500,)


# autovacuum-disabled


def test_re_enabling_autovacuum_does_not_wait_for_writers(database) -> None:
    database.execute("CREATE TABLE streaks (id int PRIMARY KEY) WITH (autovacuum_enabled = false)")
    writer = psycopg.connect(database.dsn)
    writer.execute("INSERT INTO streaks VALUES (1)")  # uncommitted: holds ROW EXCLUSIVE
    try:
        with database.admin() as admin:
            admin.execute("SET lock_timeout = '2s'")  # would time out if it conflicted
            admin.execute("ALTER TABLE streaks RESET (autovacuum_enabled)")
            options = admin.execute(
                "SELECT reloptions FROM pg_class WHERE relname = 'streaks'"
            ).fetchone()
    finally:
        writer.rollback()
        writer.close()
    assert options == (None,)


# stale-statistics


def test_a_statistics_reset_forgets_the_analyze_but_not_what_it_gathered(database) -> None:
    with database.admin() as admin:
        run(
            admin,
            "CREATE TABLE lessons (id int PRIMARY KEY, title text)",
            "INSERT INTO lessons SELECT g, 'x' FROM generate_series(1, 100) g",
            "ANALYZE lessons",
            "SELECT pg_stat_reset()",
        )
        analyzed = admin.execute(
            "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'lessons'"
        ).fetchone()
        gathered = admin.execute(
            "SELECT count(*) FROM pg_stats WHERE tablename = 'lessons'"
        ).fetchone()
    assert analyzed == (None,)
    assert gathered == (2,)  # both columns keep their statistics


# table-bloat, index-bloat


def test_vacuum_keeps_the_space_a_rewrite_gives_back(database) -> None:
    database.execute(
        "CREATE TABLE notes (id int PRIMARY KEY, body text) WITH (autovacuum_enabled = false);"
        "INSERT INTO notes SELECT g, md5(g::text) FROM generate_series(1, 20000) g;"
    )
    with database.admin() as admin:

        def sizes() -> tuple[int, int]:
            row = admin.execute(
                "SELECT pg_relation_size('notes'), pg_relation_size('notes_pkey')"
            ).fetchone()
            assert row is not None
            return row

        before = sizes()
        admin.execute("DELETE FROM notes WHERE id % 10 <> 0")
        admin.execute("VACUUM notes")
        assert sizes() == before  # nine rows in ten gone, not one page given back
        admin.execute("REINDEX INDEX CONCURRENTLY notes_pkey")
        assert sizes()[1] < before[1] / 5  # the index rebuilt compactly
        admin.execute("VACUUM FULL notes")
        assert sizes()[0] < before[0] / 5  # the table rewritten compactly
