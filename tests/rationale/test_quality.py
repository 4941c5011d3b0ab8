"""The claims of the quality rules' rationales (empty-strings, placeholder-values,
high-null-ratio, soft-delete-orphans) and of the profiler's sampling, shown to hold on a
real server. If PostgreSQL ever behaves otherwise, the rationale is wrong and must
change with it."""

from __future__ import annotations

import psycopg


def one(database, query: str) -> object:
    with database.admin() as admin:
        return admin.execute(query).fetchone()[0]


# empty-strings, empty-string-in-not-null


def test_an_empty_string_is_a_value_that_null_tests_and_coalesce_miss(database) -> None:
    database.execute(
        "CREATE TABLE t (topic text NOT NULL, note text);"
        "INSERT INTO t VALUES ('', ''), ('   ', NULL), ('x', 'y')"
    )
    # NOT NULL let '' and blanks in
    assert one(database, "SELECT count(*) FROM t WHERE btrim(topic) = ''") == 2
    assert one(database, "SELECT count(*) FROM t WHERE note IS NULL") == 1  # '' is not found
    assert one(database, "SELECT count(note) FROM t") == 2  # '' is counted
    # coalesce replaces NULL only
    assert one(database, "SELECT coalesce(note, 'unknown') FROM t WHERE topic = ''") == ""
    # blank and empty compare unequal, though both look empty
    assert one(database, "SELECT '   '::text = ''::text") is False


def test_a_check_added_not_valid_stops_new_empty_values_and_validate_fails_on_old(
    database,
) -> None:
    database.execute("CREATE TABLE t (topic text NOT NULL); INSERT INTO t VALUES ('')")
    with database.admin() as admin:
        admin.execute("ALTER TABLE t ADD CONSTRAINT t_topic CHECK (btrim(topic) <> '') NOT VALID")
        try:
            admin.execute("INSERT INTO t VALUES ('  ')")
            raise AssertionError("a blank value got past the NOT VALID check")
        except psycopg.errors.CheckViolation:
            pass
        try:
            admin.execute("ALTER TABLE t VALIDATE CONSTRAINT t_topic")
            raise AssertionError("VALIDATE passed with an empty row left")
        except psycopg.errors.CheckViolation:
            pass


# placeholder-values


def test_a_placeholder_is_neither_null_nor_left_out_of_counts(database) -> None:
    database.execute("CREATE TABLE t (nickname text); INSERT INTO t VALUES ('null'), (NULL), ('x')")
    assert one(database, "SELECT count(*) FROM t WHERE nickname IS NULL") == 1
    assert one(database, "SELECT count(nickname) FROM t") == 2
    assert one(database, "SELECT count(DISTINCT nickname) FROM t") == 2


# high-null-ratio


def test_nulls_make_not_in_and_inequality_drop_rows(database) -> None:
    database.execute(
        "CREATE TABLE t (v int); INSERT INTO t VALUES (1), (NULL);"
        "CREATE TABLE u (w int); INSERT INTO u VALUES (2)"
    )
    # one NULL in the list makes NOT IN unknown for every row
    assert one(database, "SELECT count(*) FROM u WHERE w NOT IN (SELECT v FROM t)") == 0
    # `<> 1` does not return the NULL row
    assert one(database, "SELECT count(*) FROM t WHERE v <> 1") == 0


# soft-delete-orphans


def test_a_soft_delete_leaves_cascading_children_in_place(database) -> None:
    database.execute(
        "CREATE TABLE teachers (id int PRIMARY KEY, deleted_at timestamptz);"
        "CREATE TABLE profiles (teacher_id int PRIMARY KEY"
        " REFERENCES teachers ON DELETE CASCADE);"
        "INSERT INTO teachers VALUES (1, NULL), (2, NULL); INSERT INTO profiles VALUES (1), (2);"
        "UPDATE teachers SET deleted_at = now() WHERE id = 1"
    )
    assert one(database, "SELECT count(*) FROM profiles") == 2  # the UPDATE cascaded nothing
    database.execute("DELETE FROM teachers WHERE id = 2")
    assert one(database, "SELECT count(*) FROM profiles") == 1  # a hard delete would have


# the profiler: TABLESAMPLE SYSTEM ... REPEATABLE


def test_a_repeatable_system_sample_reads_whole_pages_and_the_same_ones(database) -> None:
    database.execute(
        "CREATE TABLE t (id int, filler text);"
        "INSERT INTO t SELECT g, repeat('x', 50) FROM generate_series(1, 100000) g"
    )
    sample = (
        "SELECT array_agg(DISTINCT (ctid::text::point)[0] ORDER BY (ctid::text::point)[0]),"
        " count(*) FROM t TABLESAMPLE SYSTEM (2) REPEATABLE (1)"
    )
    with database.admin() as admin:
        pages, rows = admin.execute(sample).fetchone()
        again = admin.execute(sample).fetchone()
        on_those_pages = admin.execute(
            "SELECT count(*) FROM t WHERE (ctid::text::point)[0] = ANY (%s)", (pages,)
        ).fetchone()[0]
    assert (pages, rows) == again
    assert 0 < len(pages) < 100 and rows == on_those_pages  # every row of a sampled page
