"""A saved snapshot is the same snapshot: analysing it gives the same findings."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pgvitals.connect import connect
from pgvitals.engine import analyse
from pgvitals.snapshot import io
from pgvitals.snapshot.collect import collect
from tests.helpers import pgvitals
from tests.render.test_md_text import make_snapshot


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


def saved(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    data = io.to_dict(make_snapshot())
    change(data)
    path = tmp_path / "snap.json"
    path.write_text(json.dumps(data))
    return path


def test_an_older_or_newer_snapshot_still_analyses(tmp_path) -> None:
    def drift(data: dict[str, Any]) -> None:
        for table in data["tables"]:
            del table["n_ins_since_vacuum"]  # a field this file predates
            table["added_by_a_later_version"] = [1, 2]
        data["server"]["new_setting"] = True
        data["policies"] = []  # an entity this version does not know

    loaded = io.load(saved(tmp_path, drift))
    assert all(t.n_ins_since_vacuum is None for t in loaded.tables)
    assert [f.fingerprint for f in analyse(loaded).findings] == [
        f.fingerprint for f in analyse(make_snapshot()).findings
    ]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: d["server"].update(collected_at="yesterday"), "server.collected_at"),
        (lambda d: d["server"].update(stats_reset="2026-13-45"), "server.stats_reset"),
        (lambda d: d["collection"]["skipped"].append({"oops": 1}), "collection.skipped[1]"),
        (lambda d: d["tables"][0].update(n_dead_tup="many"), "tables[0].n_dead_tup"),
        (lambda d: d["columns"][0].update(not_null=1), "columns[0].not_null"),
        (lambda d: d.update(indexes={}), "indexes must be a list"),
        (lambda d: d["server"].pop("database"), "server is missing database"),
        (lambda d: d.update(tables=[5]), "tables[0] must be an object"),
    ],
)
def test_a_damaged_snapshot_is_one_line_and_exit_2(tmp_path, damage, message) -> None:
    run = pgvitals(
        "check", "--snapshot", str(saved(tmp_path, damage)), "-o", str(tmp_path / "r.json")
    )
    assert run.exit_code == 2, run.stderr
    assert message in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r.json").exists()  # nothing half-written


def test_a_snapshot_written_by_the_first_release_still_analyses() -> None:
    # written by pgvitals 0.1.0 at commit f19643b, before entities were declared and
    # probes recorded: no `collection.probes`, sequences read only where 32-bit
    old = io.load(Path(__file__).parent / "data" / "snapshot-0.1.0-f19643b.json")
    assert old.collection.probes is None
    analysis = analyse(old)
    assert all(c.status == "ran" for c in analysis.checks), analysis.checks
    found = {(f.rule, f.object) for f in analysis.findings}
    assert ("missing-primary-key", "public.lessons_backup") in found
    assert ("duplicate-index", "public.l2") in found
    assert ("integer-key-overflow-risk", 'Mixed Case.Weird"Name_id_seq') in found


# what a snapshot saved before domains, composite types, functions' declared signatures
# and triggers' definitions were collected lacks (range types and aggregates came later)
NEWER_ENTITIES = ("domains", "composite_types", "range_types", "aggregates")
NEWER_FIELDS = {
    "functions": ("declared_arguments", "declared_result", "strict", "leakproof", "parallel",
                  "cost", "rows", "standard_body"),
    "triggers": ("definition", "fires"),
}  # fmt: skip


def as_saved_before_rebuild_fields(data: dict[str, Any]) -> None:
    for name in NEWER_ENTITIES:
        del data[name]
    for entity, names in NEWER_FIELDS.items():
        for item in data[entity]:
            for name in names:
                del item[name]


def test_a_snapshot_saved_before_domains_and_definitions_still_analyses(database) -> None:
    database.execute(
        "CREATE DOMAIN positive_o AS int CHECK (VALUE > 0);"
        "CREATE TYPE pair_o AS (a int, b text);"
        "CREATE TABLE graded_o (grade positive_o, p pair_o, at timestamptz);"
        "CREATE FUNCTION stamp_o() RETURNS trigger LANGUAGE plpgsql"
        " AS $$BEGIN NEW.at := now(); RETURN NEW; END$$;"
        "CREATE TRIGGER graded_stamp BEFORE UPDATE OF grade ON graded_o FOR EACH ROW"
        " EXECUTE FUNCTION stamp_o();"
    )
    session = connect(database.dsn)
    try:
        snapshot = collect(session)
    finally:
        session.close()
    assert snapshot.domains and snapshot.composite_types
    data = json.loads(io.to_json(snapshot))
    as_saved_before_rebuild_fields(data)
    older = io.from_dict(data)
    assert set(NEWER_ENTITIES) <= set(older.not_collected)
    assert older.domains == older.composite_types == []
    assert [(f.declared_arguments, f.strict, f.standard_body) for f in older.functions] == [
        (None, None, False)
    ]
    assert [(t.definition, t.fires, t.enabled) for t in older.triggers] == [(None, None, True)]
    assert [f.to_json() for f in analyse(older).findings] == [
        f.to_json() for f in analyse(snapshot).findings
    ]


def test_a_snapshot_saved_before_range_types_and_aggregates_still_analyses(database) -> None:
    """One saved before range types and aggregates were collected holds neither (they
    are `not_collected`), and lists the range type's constructors among its functions,
    as it was collected then: it loads, and analyses as one collected now does."""
    database.execute(
        "CREATE TYPE span_o AS RANGE (subtype = int);"
        "CREATE TABLE booked_o (id int PRIMARY KEY, during span_o);"
        "CREATE AGGREGATE concat_o(text) (SFUNC = textcat, STYPE = text);"
        "CREATE FUNCTION open_o() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';"
    )
    session = connect(database.dsn)
    try:
        snapshot = collect(session)
    finally:
        session.close()
    assert [r.name for r in snapshot.range_types] == ["span_o"]
    assert [a.signature for a in snapshot.aggregates] == ["concat_o(text)"]
    assert [f.name for f in snapshot.functions] == ["open_o"]  # not the constructors
    data = json.loads(io.to_json(snapshot))
    del data["range_types"], data["aggregates"]
    constructor = {**data["functions"][0], "name": "span_o", "arguments": "integer, integer",
                   "language": "internal", "security_definer": False, "source": None}  # fmt: skip
    data["functions"].insert(0, constructor)
    older = io.from_dict(data)
    assert {"range_types", "aggregates"} <= set(older.not_collected)
    assert older.range_types == older.aggregates == []
    assert [f.to_json() for f in analyse(older).findings] == [
        f.to_json() for f in analyse(snapshot).findings
    ]
