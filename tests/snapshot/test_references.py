"""References declared and inferred from names, as the report's relationships show them."""

from __future__ import annotations

import itertools

from pgvitals import report as rp
from pgvitals.render.md import relation_line
from pgvitals.snapshot.words import word_tuple
from tests.helpers import collected

SCHEMA = """
CREATE TABLE teachers (id int PRIMARY KEY);
CREATE TABLE lessons (id int PRIMARY KEY, teacher_id int REFERENCES teachers);
CREATE TABLE profiles (teacher_id int NOT NULL UNIQUE);
CREATE TABLE notes (id int PRIMARY KEY, teacher_id int);
"""


def test_declared_and_inferred_relationships(database) -> None:
    database.execute(SCHEMA)
    snap = collected(database.dsn)
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


def test_a_name_ending_in_the_word_type_spells_ype_or_YPE() -> None:
    """`type_columns` keeps the names with `ype` or `YPE` only: every name whose last
    word is `type`, in any mix of cases around any separator, has one of them."""
    spellings = ["".join(p) for p in itertools.product(*zip("type", "TYPE", strict=True))]
    names = [
        f"{head}{spelling}{tail}"
        for head in ("owner_", "owner", "Owner", "OWNER_", "ownerID", "owner ", "")
        for spelling in spellings
        for tail in ("", "_", " ", "__")
    ]
    typed = [name for name in names if word_tuple(name)[-1:] == ("type",)]
    assert {"owner_type", "ownerType", "OWNER_TYPE", "ownerIDType", "owner_type_"} <= set(typed)
    assert all("ype" in name or "YPE" in name for name in typed)
