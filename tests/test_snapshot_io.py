"""A saved snapshot is the same snapshot: analysing it gives the same findings."""

from __future__ import annotations

import json

from pgvitals.connect import connect
from pgvitals.engine import analyse
from pgvitals.snapshot import io
from pgvitals.snapshot.collect import collect


def test_round_trip_keeps_everything(database, tmp_path) -> None:
    database.execute(
        'CREATE SCHEMA "Mixed Case";'
        'CREATE TABLE "Mixed Case"."Weird""Name" ("ñame" text, n int);'
        'INSERT INTO "Mixed Case"."Weird""Name" VALUES (\'a\', 1), (\'a\', 1);'
        'CREATE INDEX "i 1" ON "Mixed Case"."Weird""Name" (n);'
        'CREATE INDEX "i 2" ON "Mixed Case"."Weird""Name" (n);'
        "CREATE TABLE seq_user (id serial PRIMARY KEY);"
    )
    session = connect(database.dsn)
    try:
        snapshot = collect(session)
    finally:
        session.close()
    path = tmp_path / "snap.json"
    io.save(snapshot, path)
    loaded = io.load(path)
    assert loaded == snapshot
    assert [f.to_json() for f in analyse(loaded).findings] == [
        f.to_json() for f in analyse(snapshot).findings
    ]
    assert any(p.duplicate_rows == 1 for p in loaded.profiles)
    assert json.loads(path.read_text())["format"] == "pgvitals-snapshot/1"
