"""References declared and inferred from names, as the report's relationships show them."""

from __future__ import annotations

from pgvitals import report as rp
from pgvitals.connect import connect
from pgvitals.render.md import relation_line
from pgvitals.snapshot.collect import collect

SCHEMA = """
CREATE TABLE teachers (id int PRIMARY KEY);
CREATE TABLE lessons (id int PRIMARY KEY, teacher_id int REFERENCES teachers);
CREATE TABLE profiles (teacher_id int NOT NULL UNIQUE);
CREATE TABLE notes (id int PRIMARY KEY, teacher_id int);
"""


def test_declared_and_inferred_relationships(database) -> None:
    database.execute(SCHEMA)
    session = connect(database.dsn)
    try:
        snap = collect(session, profile=None)
    finally:
        session.close()
    inferred = {(r.table.name, tuple(r.column_names)) for r in snap.facts.inferred_references}
    assert inferred == {("profiles", ("teacher_id",)), ("notes", ("teacher_id",))}
    lines = [relation_line(r) for r in rp.relationships(snap)]
    assert lines == [
        "public.teachers (0..1) --> (*) public.lessons  [lessons_teacher_id_fkey]"
        " (teacher_id) -> (id)",
        "public.teachers (0..1) --> (*) public.notes  [inferred, teacher_id] (teacher_id) -> (id)",
        "public.teachers (1) --> (0..1) public.profiles  [inferred, teacher_id]"
        " (teacher_id) -> (id)",
    ]
