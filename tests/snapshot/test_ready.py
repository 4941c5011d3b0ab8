"""Constraints and indexes built while the server deparses (collect.py `assemble_ready`)
are the objects the collector builds after it: the same whichever way each is built."""

from __future__ import annotations

import pytest

from pgvitals.connect import connect
from pgvitals.snapshot import collect as collection
from pgvitals.snapshot.model import Snapshot

SCHEMA = """
CREATE SCHEMA other;
CREATE TABLE other.teachers (id int PRIMARY KEY, code text UNIQUE);
CREATE SCHEMA app;
CREATE TABLE app.lessons (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    "Title" text NOT NULL CHECK ("Title" <> ''),
    teacher_id int REFERENCES other.teachers (id),
    teacher_code text REFERENCES other.teachers (code),
    parent_id bigint REFERENCES app.lessons (id) ON DELETE CASCADE,
    starts tstzrange,
    words text COLLATE "C",
    total numeric GENERATED ALWAYS AS (id * 2) STORED,
    EXCLUDE USING gist (starts WITH &&)
);
CREATE INDEX ON app.lessons (teacher_id DESC NULLS LAST) INCLUDE ("Title");
CREATE INDEX ON app.lessons (lower("Title"));
CREATE INDEX ON app.lessons (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX ON app.lessons (words text_pattern_ops);
CREATE UNIQUE INDEX ON app.lessons (teacher_code, words) WITH (fillfactor = 80);
CREATE TABLE app.parts (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE app.parts_2026 PARTITION OF app.parts FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
"""


def collected(dsn: str, schemas: tuple[str, ...]) -> Snapshot:
    session = connect(dsn)
    try:
        return collection.collect(session, schemas, profile=None)
    finally:
        session.close()


@pytest.mark.parametrize("schemas", [(), ("app",)], ids=["all", "one schema"])
def test_objects_built_early_equal_those_built_after_deparsing(
    database, monkeypatch, schemas
) -> None:
    database.execute(SCHEMA)
    early = collected(database.dsn, schemas)
    built: list[int] = []

    def nothing_ready(constraint_rows, index_rows, by_position, lookups, complex_indexes):
        found = real(constraint_rows, index_rows, by_position, lookups, complex_indexes)
        built.append(len(found.constraints) + len(found.indexes))
        return collection.Ready({}, {}, complex_indexes)

    real = collection.assemble_ready
    monkeypatch.setattr(collection, "assemble_ready", nothing_ready)
    late = collected(database.dsn, schemas)
    assert built and built[0] > 0  # some were built early in the first run
    assert early.constraints == late.constraints
    assert early.indexes == late.indexes
    assert early.columns == late.columns
    checks = [c for c in early.constraints if c.kind in ("c", "x")]
    assert checks and all(c.definition for c in checks)  # deparsed, and kept
