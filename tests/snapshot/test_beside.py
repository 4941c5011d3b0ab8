"""The catalogs read on a second session beside the first (snapshot/collect.py BESIDE),
and the sequence positions after them: the same snapshot of the catalogs as the first
session's, the same result as reading everything on one session, and no harm when no
second session can be had."""

from __future__ import annotations

import os
from contextlib import contextmanager

import psycopg

from pgvitals.connect import connect
from pgvitals.snapshot.collect import BESIDE, collect
from tests.helpers import collected

SCHEMA = """
CREATE SCHEMA "Mixed Case";
CREATE TABLE "Mixed Case"."Weird""Name" (id int PRIMARY KEY, "ñame" text, at timestamptz);
CREATE TABLE lessons (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, title text NOT NULL,
    teacher_id int, CHECK (title <> ''));
CREATE SEQUENCE counter;
SELECT setval('counter', 41);
"""


def test_the_second_session_reads_what_one_session_reads(database) -> None:
    database.execute(SCHEMA)
    opened: list[psycopg.Connection] = []

    def sibling() -> psycopg.Connection:
        opened.append(connect(database.dsn))
        return opened[-1]

    alone, beside = collected(database.dsn), collected(database.dsn, sibling=sibling)
    assert len(opened) == 1 and opened[0].closed  # it was used, and closed after
    assert "columns" in BESIDE
    assert [c.qualname for c in beside.columns] == [c.qualname for c in alone.columns]
    assert beside.columns == alone.columns and beside.tables == alone.tables
    assert beside.sequences == alone.sequences
    positions = {s.name: s.last_value for s in beside.sequences}
    assert positions == {"counter": 41, "lessons_id_seq": None}
    # the export of the snapshot is one more catalog query, and no more
    assert beside.collection.catalog_queries == alone.collection.catalog_queries + 1
    assert beside.collection.data_queries == alone.collection.data_queries


def test_the_second_session_reads_the_sequence_positions(database, tmp_path) -> None:
    """Read on the second session (libpq's trace of it shows the query), and closed
    before the collection returns."""
    database.execute(SCHEMA)
    trace = tmp_path / "beside.trace"
    opened: list[psycopg.Connection] = []

    def sibling() -> psycopg.Connection:
        opened.append(connect(database.dsn))
        with trace.open("w") as out:
            opened[-1].pgconn.trace(os.dup(out.fileno()))
        return opened[-1]

    snapshot = collected(database.dsn, sibling=sibling)
    assert opened[0].closed
    assert {s.name: s.last_value for s in snapshot.sequences}["counter"] == 41
    sent = trace.read_text()
    assert "AS last_value FROM" in sent and '"public"."counter"' in sent


def test_positions_are_read_on_the_first_session_when_the_second_fails(database) -> None:
    """The second session breaks after reading the catalogs: the positions are read
    on the first, and nothing is missing or skipped."""
    database.execute(SCHEMA)
    opened: list[psycopg.Connection] = []

    def sibling() -> psycopg.Connection:
        opened.append(connect(database.dsn))
        original = opened[-1].transaction

        @contextmanager
        def then_lost(*args, **kwargs):
            with original(*args, **kwargs) as transaction:
                yield transaction
            with database.admin() as admin:  # what a dropped network does to it
                admin.execute("SELECT pg_terminate_backend(%s)", [opened[-1].info.backend_pid])

        opened[-1].transaction = then_lost  # type: ignore[method-assign]
        return opened[-1]

    snapshot = collected(database.dsn, sibling=sibling)
    assert {s.name: s.last_value for s in snapshot.sequences}["counter"] == 41
    assert snapshot.collection.interrupted is None and not snapshot.collection.skipped


def test_the_second_session_sees_the_catalogs_as_the_first_did(database) -> None:
    """A table created after the first session's snapshot was taken, before the second
    session starts reading, is seen by neither: the second imports the first's snapshot."""
    database.execute(SCHEMA)

    def sibling() -> psycopg.Connection:
        with database.admin() as admin:
            admin.execute('CREATE TABLE late ("added later" int)')
        return connect(database.dsn)

    snapshot = collected(database.dsn, sibling=sibling)
    assert "public.late" not in {t.qualname for t in snapshot.tables}
    assert not [c for c in snapshot.columns if c.table == "late"]
    assert {c.table for c in snapshot.columns} == {'Weird"Name', "lessons"}


def test_no_second_session_to_be_had_reads_everything_on_the_first(database) -> None:
    database.execute(SCHEMA)

    def refused() -> psycopg.Connection:
        raise psycopg.OperationalError("FATAL: sorry, too many clients already")

    snapshot = collected(database.dsn, sibling=refused)
    assert snapshot.columns == collected(database.dsn).columns
    assert snapshot.collection.interrupted is None and not snapshot.collection.skipped


def test_positions_read_beside_survive_the_first_session_lost(database) -> None:
    """The first session is lost while deparsing: the positions the second session read
    are kept, and only what the first did not read is reported missing."""
    database.execute(SCHEMA)
    session = connect(database.dsn)
    backend = session.info.backend_pid

    def terminate(step: str) -> None:
        if step == "definitions":
            with database.admin() as admin:
                admin.execute("SELECT pg_terminate_backend(%s, 10000)", [backend])

    try:
        snapshot = collect(
            session, profile=None, progress=terminate, sibling=lambda: connect(database.dsn)
        )
    finally:
        session.close()
    assert "connection lost" in (snapshot.collection.interrupted or "")
    assert {s.name: s.last_value for s in snapshot.sequences}["counter"] == 41
    steps = {entry["step"] for entry in snapshot.collection.skipped}
    assert "definitions" in steps and "sequence positions" not in steps
