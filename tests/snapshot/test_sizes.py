"""Sizes come from relpages, which only VACUUM, ANALYZE and CREATE INDEX set: before
the first of them a table's size is unknown, and the snapshot says so (None)
rather than claim 0 bytes."""

from __future__ import annotations

from pgvitals.connect import connect
from pgvitals.snapshot.collect import collect


def sizes(database) -> tuple[int | None, int | None]:
    session = connect(database.dsn)
    try:
        snapshot = collect(session, profile=None)
    finally:
        session.close()
    table = next(t for t in snapshot.tables if t.name == "lessons")
    index = next(i for i in snapshot.indexes if i.name == "lessons_pkey")
    return table.table_bytes, index.bytes


def test_size_is_unknown_until_the_table_is_analyzed(database) -> None:
    database.execute(
        "CREATE TABLE lessons (id int PRIMARY KEY, title text) WITH (autovacuum_enabled = false);"
        "INSERT INTO lessons SELECT g, repeat('x', 200) FROM generate_series(1, 5000) g;"
    )
    assert sizes(database) == (None, None)
    database.execute("ANALYZE lessons")
    table_bytes, index_bytes = sizes(database)
    assert table_bytes is not None and table_bytes > 5000 * 200
    assert index_bytes is not None and index_bytes > 8192
