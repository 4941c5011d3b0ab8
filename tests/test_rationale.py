"""The claims the rules make in their "Why it breaks" and "Fix" sections, shown to
hold on a real server. If PostgreSQL ever behaves otherwise, the rationale is wrong
and must change with it."""

from __future__ import annotations

import psycopg
import pytest

from pgvitals.testing import flush_statistics


def counters(connection: psycopg.Connection, table: str) -> tuple[int, int]:
    """(seq_scan, idx_scan) of `table` in the current transaction."""
    row = connection.execute(
        "SELECT seq_scan, coalesce(idx_scan, 0) FROM pg_stat_xact_user_tables WHERE relname = %s",
        [table],
    ).fetchone()
    assert row is not None
    return row


# missing-primary-key


def test_identical_rows_cannot_be_told_apart_by_value(database) -> None:
    database.execute(
        "CREATE TABLE tags (lesson_id int, tag text); INSERT INTO tags VALUES (1, 'a'), (1, 'a')"
    )
    with database.admin() as admin:
        deleted = admin.execute("DELETE FROM tags WHERE lesson_id = 1 AND tag = 'a'").rowcount
    assert deleted == 2  # one of the two cannot be deleted alone


def test_a_published_table_without_key_rejects_update_and_delete(database) -> None:
    database.execute(
        "CREATE TABLE feedback (lesson_id int, body text); INSERT INTO feedback VALUES (1, 'x');"
        "CREATE PUBLICATION feedback_pub FOR TABLE feedback;"
    )
    with database.admin() as admin:
        admin.execute("INSERT INTO feedback VALUES (2, 'y')")  # inserts still replicate
        for statement in ("UPDATE feedback SET body = 'z'", "DELETE FROM feedback"):
            with pytest.raises(
                psycopg.errors.ObjectNotInPrerequisiteState, match="replica identity"
            ):
                admin.execute(statement)


# unindexed-foreign-key


def test_deleting_a_parent_scans_an_unindexed_child_and_not_an_indexed_one(database) -> None:
    database.execute(
        "CREATE TABLE teachers (id int PRIMARY KEY);"
        "CREATE TABLE lessons (id int PRIMARY KEY, teacher_id int REFERENCES teachers);"
        "CREATE TABLE notes (id int PRIMARY KEY, teacher_id int REFERENCES teachers);"
        "CREATE INDEX ON notes (teacher_id);"
        "INSERT INTO teachers SELECT generate_series(1, 100);"
        "INSERT INTO lessons SELECT g, 1 + g % 99 FROM generate_series(1, 5000) g;"
        "INSERT INTO notes SELECT g, 1 + g % 99 FROM generate_series(1, 5000) g;"
        "ANALYZE"
    )
    with database.admin() as admin, admin.transaction():
        lessons_before, notes_before = counters(admin, "lessons"), counters(admin, "notes")
        admin.execute("DELETE FROM teachers WHERE id = 100")  # referenced by no row
        lessons_after, notes_after = counters(admin, "lessons"), counters(admin, "notes")
    assert lessons_after[0] == lessons_before[0] + 1  # a sequential scan of the child
    assert notes_after[0] == notes_before[0]  # none where the child is indexed
    assert notes_after[1] == notes_before[1] + 1


# duplicate-index


def test_every_insert_writes_both_copies_of_a_duplicate_index(database) -> None:
    database.execute(
        "CREATE TABLE feedback (id int PRIMARY KEY, lesson_id int);"
        "CREATE INDEX a ON feedback (lesson_id); CREATE INDEX b ON feedback (lesson_id);"
        "INSERT INTO feedback SELECT g, g FROM generate_series(1, 20000) g;"
    )
    with database.admin() as admin:
        sizes = admin.execute("SELECT pg_relation_size('a'), pg_relation_size('b')").fetchone()
    assert sizes is not None and sizes[0] == sizes[1] > 8192 * 10


# redundant-index


def test_the_longer_index_serves_lookups_on_its_leading_column(database) -> None:
    database.execute(
        "CREATE TABLE students (id int PRIMARY KEY, school_id int, created_at timestamptz);"
        "CREATE INDEX students_school_created ON students (school_id, created_at);"
        "INSERT INTO students SELECT g, g % 50, now() FROM generate_series(1, 20000) g;"
        "ANALYZE students"
    )
    with database.admin() as admin:
        admin.execute("SET enable_seqscan = off; SET enable_bitmapscan = off")
        plan = "\n".join(
            row[0]
            for row in admin.execute(
                "EXPLAIN SELECT * FROM students WHERE school_id = 7 ORDER BY school_id"
            )
        )
    assert "students_school_created" in plan and "Sort" not in plan


# high-dead-tuple-ratio


def test_dead_tuples_stay_until_vacuum_and_vacuum_does_not_block_writers(database) -> None:
    database.execute(
        "CREATE TABLE streaks (id int PRIMARY KEY, days int) WITH (autovacuum_enabled = false);"
        "INSERT INTO streaks SELECT g, 0 FROM generate_series(1, 1000) g;"
    )
    with database.admin() as session:
        session.execute("UPDATE streaks SET days = days + 1")
        # the counters reach the views when the session reports them: now, not within 1 s
        session.execute("SELECT pg_catalog.pg_stat_force_next_flush()")
    with database.admin() as admin:
        dead = admin.execute(
            "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'streaks'"
        ).fetchone()
    assert dead == (1000,)
    writer = psycopg.connect(database.dsn)
    writer.execute("INSERT INTO streaks VALUES (5000, 0)")  # uncommitted: holds ROW EXCLUSIVE
    try:
        with database.admin() as admin:
            admin.execute("SET lock_timeout = '2s'")
            admin.execute("VACUUM (ANALYZE) streaks")  # would time out if it conflicted
            dead = admin.execute(
                "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'streaks'"
            ).fetchone()
    finally:
        writer.rollback()
        writer.close()
    assert dead == (0,)


def test_an_open_older_snapshot_keeps_dead_tuples_through_vacuum(database) -> None:
    database.execute(
        "CREATE TABLE streaks (id int PRIMARY KEY, days int) WITH (autovacuum_enabled = false);"
        "INSERT INTO streaks SELECT g, 0 FROM generate_series(1, 1000) g;"
    )
    reader = psycopg.connect(database.dsn)
    reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    reader.execute("SELECT count(*) FROM streaks")  # takes a snapshot that still sees the rows
    # one session does the work and flushes its counters after each statement: a late
    # flush of the UPDATE's counts on top of what VACUUM set failed this test now and then
    with database.admin() as admin:
        try:
            admin.execute("UPDATE streaks SET days = 1")
            flush_statistics(admin)
            admin.execute("VACUUM streaks")
            flush_statistics(admin)
            kept = admin.execute(
                "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'streaks'"
            ).fetchone()
        finally:
            reader.rollback()
            reader.close()
        admin.execute("VACUUM streaks")
        flush_statistics(admin)
        after = admin.execute(
            "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'streaks'"
        ).fetchone()
    assert kept == (1000,)  # VACUUM could not remove what the open snapshot may read
    assert after == (0,)


# integer-key-overflow-risk


@pytest.mark.parametrize(
    ("ddl", "error"),
    [
        (
            "CREATE TABLE keys (id serial PRIMARY KEY)",
            psycopg.errors.SequenceGeneratorLimitExceeded,
        ),
        (
            "CREATE TABLE keys (id int PRIMARY KEY); CREATE SEQUENCE keys_ids AS bigint;"
            " ALTER TABLE keys ALTER id SET DEFAULT nextval('keys_ids')",
            psycopg.errors.NumericValueOutOfRange,
        ),
        (
            "CREATE TABLE keys (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY)",
            psycopg.errors.SequenceGeneratorLimitExceeded,
        ),
    ],
    ids=["serial", "bigint sequence, int column", "identity"],
)
def test_inserts_fail_at_the_end_of_the_range_until_the_fix_widens_it(
    database, ddl: str, error: type[Exception]
) -> None:
    from pgvitals.connect import connect
    from pgvitals.engine import analyse
    from pgvitals.snapshot.collect import collect

    database.execute(ddl)
    database.execute(
        "SELECT setval(pg_get_serial_sequence('keys', 'id'), 2147483646)"
        if "keys_ids" not in ddl
        else "SELECT setval('keys_ids', 2147483646)"
    )
    with database.admin() as admin:
        admin.execute("INSERT INTO keys DEFAULT VALUES")  # the last value that fits
        with pytest.raises(error):
            admin.execute("INSERT INTO keys DEFAULT VALUES")
    session = connect(database.dsn)
    try:
        found = [
            f for f in analyse(collect(session)).findings if f.rule == "integer-key-overflow-risk"
        ]
    finally:
        session.close()
    assert len(found) == 1 and found[0].fix is not None
    with database.admin() as admin:
        for statement in found[0].fix.statements:
            admin.execute(statement)
        admin.execute("INSERT INTO keys DEFAULT VALUES")  # fits now


# timestamp-without-time-zone


def test_a_clock_default_writes_the_session_zone_and_the_fix_writes_the_instant(
    database,
) -> None:
    """DEFAULT now() on a timestamp column stores the session's local reading; a default
    naming UTC, once the column is timestamptz, is misread through the session's zone
    unless the fix also moves it to now()."""
    from pgvitals.connect import connect
    from pgvitals.engine import analyse
    from pgvitals.snapshot.collect import collect

    database.execute(
        "CREATE TABLE jobs (made timestamp DEFAULT now(),"
        " queued timestamp DEFAULT timezone('UTC'::text, now()));"
    )
    offset = "SELECT extract(epoch FROM {} - now()) / 3600 FROM jobs"
    with database.admin() as admin:
        admin.execute("SET TimeZone = 'Asia/Tokyo'; INSERT INTO jobs DEFAULT VALUES")
        # read as UTC readings (how Ecto and Rails read them), now() is 9 hours away
        admin.execute("SET TimeZone = 'UTC'")
        assert round(admin.execute(offset.format("made")).fetchone()[0]) == 9
        assert round(admin.execute(offset.format("queued")).fetchone()[0]) == 0
        # only the type changed: the UTC reading is now misread as Tokyo time
        admin.execute("BEGIN; ALTER TABLE jobs ALTER queued TYPE timestamptz")
        admin.execute(
            "SET TimeZone = 'Asia/Tokyo'; DELETE FROM jobs; INSERT INTO jobs DEFAULT VALUES"
        )
        assert round(admin.execute(offset.format("queued")).fetchone()[0]) == -9
        admin.execute("ROLLBACK")
    session = connect(database.dsn)
    try:
        found = {
            f.column: f
            for f in analyse(collect(session)).findings
            if f.rule == "timestamp-without-time-zone"
        }
    finally:
        session.close()
    assert found["made"].severity.value == "medium" and found["queued"].severity.value == "low"
    with database.admin() as admin:
        for statement in found["queued"].fix.statements:
            admin.execute(statement)
        admin.execute(
            "SET TimeZone = 'Asia/Tokyo'; DELETE FROM jobs; INSERT INTO jobs DEFAULT VALUES"
        )
        assert round(admin.execute(offset.format("queued")).fetchone()[0]) == 0
