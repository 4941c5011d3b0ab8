"""PostgreSQL 18 keeps NOT NULL constraints in pg_constraint (contype 'n') and lets one be
added NOT VALID; pg_attribute.attnotnull is then true although the column may hold
NULLs, and ADD PRIMARY KEY refuses the column ("incompatible NOT VALID constraint").
The tests' servers are older: the query PostgreSQL 18 gets runs here (no contype 'n'
rows, so it must read as before), and the rule is fed the column as 18 reports it."""

from __future__ import annotations

import dataclasses

import psycopg
from psycopg.rows import dict_row

from pgvitals.engine import analyse
from pgvitals.snapshot.collect import load_query
from tests.test_fixes import take_snapshot

TABLES = """
CREATE TABLE orders (id int, note text NOT NULL,
                     "Weird""Name" int CHECK ("Weird""Name" IS NOT NULL));
INSERT INTO orders SELECT g, 'n' || g, g FROM generate_series(1, 20) g;
"""


def columns(dsn: str, version_num: int) -> list[dict]:
    with psycopg.connect(dsn) as connection, connection.cursor(row_factory=dict_row) as cursor:
        cursor.execute(load_query("columns", version_num), {"schemas": []})
        return cursor.fetchall()


def test_the_postgresql_18_column_query_reads_older_catalogs_as_before(database) -> None:
    database.execute(TABLES)
    here = columns(database.dsn, 150000)
    as_18 = columns(database.dsn, 180000)
    assert as_18 == here
    assert [(c["name"], c["not_null"], c["not_null_invalid"]) for c in as_18] == [
        ("id", False, None),
        ("note", True, None),
        ('Weird"Name', False, None),
    ]


def test_a_key_column_with_a_not_valid_not_null_is_validated_before_the_key(database) -> None:
    database.execute(TABLES)
    snapshot = take_snapshot(database.dsn)
    # as PostgreSQL 18 reports `ADD CONSTRAINT orders_id_nn NOT NULL id NOT VALID`
    pending = [
        c._replace(not_null=False, not_null_invalid="orders_id_nn") if c.name == "id" else c
        for c in snapshot.columns
    ]
    findings = analyse(dataclasses.replace(snapshot, columns=pending)).findings
    [key] = [f for f in findings if f.rule == "missing-primary-key"]
    assert key.fix is not None
    statements = list(key.fix.statements)
    validate = 'ALTER TABLE "public"."orders" VALIDATE CONSTRAINT "orders_id_nn";'
    promote = next(s for s in statements if "PRIMARY KEY USING INDEX" in s)
    assert statements.index(validate) < statements.index(promote)
    # the column was NOT NULL (not validated) before: the rollback leaves it so
    assert not any("DROP NOT NULL" in s for s in key.fix.rollback)
