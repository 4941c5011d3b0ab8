"""The snapshot keeps columns table by table, in the tables' order (schema, then name, by
byte), each table's by position, although queries/columns.sql sends them unsorted:
columns added later sit elsewhere in pg_attribute than their table's first ones."""

from __future__ import annotations

from tests.helpers import collected

SCHEMA = """
CREATE SCHEMA zeta;
CREATE TABLE zeta.early (id int PRIMARY KEY, gone text, kept text);
CREATE TABLE public."Upper" (id int);
CREATE TABLE public.lower (id int, label text);
CREATE TABLE public."ñandu" (id int);
ALTER TABLE zeta.early DROP COLUMN gone;
ALTER TABLE zeta.early ADD COLUMN added_late text;
ALTER TABLE public."Upper" ADD COLUMN added_late text;
CREATE TABLE public.aardvark (id int);
ALTER TABLE public.lower ADD COLUMN added_last text;
"""


def test_columns_come_table_by_table_in_name_order_and_by_position(database) -> None:
    database.execute(SCHEMA)
    snap = collected(database.dsn)
    assert [(c.schema, c.table, c.name) for c in snap.columns] == [
        ("public", "Upper", "id"),
        ("public", "Upper", "added_late"),
        ("public", "aardvark", "id"),
        ("public", "lower", "id"),
        ("public", "lower", "label"),
        ("public", "lower", "added_last"),
        ("public", "ñandu", "id"),
        ("zeta", "early", "id"),
        ("zeta", "early", "kept"),
        ("zeta", "early", "added_late"),
    ]
    assert [(t.schema, t.name) for t in snap.tables] == [
        ("public", "Upper"),
        ("public", "aardvark"),
        ("public", "lower"),
        ("public", "ñandu"),
        ("zeta", "early"),
    ]
