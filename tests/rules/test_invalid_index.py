"""invalid-index on the real remains of failed concurrent builds, which a YAML case
cannot make (its statements must succeed)."""

from __future__ import annotations

import psycopg
import pytest

from pgvitals.connect import connect
from pgvitals.engine import analyse
from pgvitals.snapshot.collect import collect


def findings(database) -> dict[str, dict]:
    """invalid-index's findings by object, from a live check of the database."""
    session = connect(database.dsn)
    try:
        analysis = analyse(collect(session, profile=None))
    finally:
        session.close()
    return {f.object: f.to_json() for f in analysis.findings if f.rule == "invalid-index"}


def test_a_failed_unique_build_is_high_and_rebuilt_concurrently(database) -> None:
    database.execute(
        'CREATE TABLE "Mixed Case" (id int, "ñame" text);'
        "INSERT INTO \"Mixed Case\" VALUES (1, 'a'), (2, 'a');"
    )
    with database.admin() as admin, pytest.raises(psycopg.errors.UniqueViolation):
        admin.execute('CREATE UNIQUE INDEX CONCURRENTLY "select" ON "Mixed Case" ("ñame")')
    found = findings(database)
    assert set(found) == {"public.select"}
    assert found["public.select"]["severity"] == "high"
    assert found["public.select"]["fix"] == 'REINDEX INDEX CONCURRENTLY "public"."select";'
    with database.admin() as admin:
        admin.execute('DELETE FROM "Mixed Case" WHERE id = 2')
        admin.execute(found["public.select"]["fix"])  # the fix runs, and makes it valid
    assert findings(database) == {}


def test_the_leftover_of_a_failed_reindex_is_dropped(database) -> None:
    database.execute(
        "CREATE TABLE lessons (id int, title text);"
        "INSERT INTO lessons VALUES (1, 'a'), (2, 'b');"
        # an expression whose evaluation fails while the new copy is built
        "CREATE FUNCTION checked(value text) RETURNS text IMMUTABLE LANGUAGE plpgsql AS $$"
        " BEGIN IF current_setting('test.fail', true) = 'on' THEN RAISE 'failed'; END IF;"
        " RETURN value; END $$;"
        "CREATE INDEX lessons_title ON lessons (checked(title));"
    )
    with database.admin() as admin:
        admin.execute("SET test.fail = on")
        with pytest.raises(psycopg.errors.RaiseException):
            admin.execute("REINDEX INDEX CONCURRENTLY lessons_title")
    found = findings(database)
    assert list(found) == ["public.lessons_title_ccnew"]
    fix = found["public.lessons_title_ccnew"]["fix"]
    assert fix == 'DROP INDEX CONCURRENTLY IF EXISTS "public"."lessons_title_ccnew";'
    with database.admin() as admin:
        admin.execute(fix)
    assert findings(database) == {}


def test_a_partitioned_index_is_completed_and_the_rollback_restores_it(database) -> None:
    # Hatchet's shape: a GIN index ON ONLY the partitioned table, one partition's index
    # attached (as its partition job makes new ones), the older partition without
    database.execute(
        'CREATE TABLE "Mixed Case" (at date NOT NULL, meta jsonb) PARTITION BY RANGE (at);'
        'CREATE TABLE old_day PARTITION OF "Mixed Case"'
        " FOR VALUES FROM ('2025-01-01') TO ('2025-01-02');"
        'CREATE TABLE new_day PARTITION OF "Mixed Case"'
        " FOR VALUES FROM ('2025-01-02') TO ('2025-01-03');"
        "INSERT INTO \"Mixed Case\" VALUES ('2025-01-01', '{\"a\": 1}');"
        'CREATE INDEX "select" ON ONLY "Mixed Case" USING gin (meta jsonb_path_ops);'
        "CREATE INDEX new_day_meta ON new_day USING gin (meta jsonb_path_ops);"
        'ALTER INDEX "select" ATTACH PARTITION new_day_meta;'
    )
    indexes = (
        "SELECT c.relname, i.indisvalid, pg_get_indexdef(i.indexrelid)"
        " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " WHERE i.indrelid IN"
        " ('\"Mixed Case\"'::regclass, 'old_day'::regclass, 'new_day'::regclass)"
        " ORDER BY 1"
    )
    with database.admin() as admin:
        before = admin.execute(indexes).fetchall()
    found = findings(database)
    assert list(found) == ["public.select"]
    with database.admin() as admin:
        for statement in found["public.select"]["fix_detail"]["statements"]:
            admin.execute(statement)  # CONCURRENTLY: one by one, outside a transaction
        assert admin.execute(indexes).fetchall()[-1][:2] == ("select", True)
    assert findings(database) == {}
    with database.admin() as admin:
        for statement in found["public.select"]["rollback"].split(";\n"):
            admin.execute(statement)
        assert admin.execute(indexes).fetchall() == before
