"""Turn raw catalog rows into Snapshot objects: name attribute numbers, operator
classes and collations, and rebuild index definitions where that is exact.

Rebuilding matters because the server's deparser (pg_get_indexdef) locks each
table and costs about as much as the rest of the collection together. For an
index on plain columns with default operator classes and collations, no options
and no predicate, the definition follows from the catalog alone, character for
character (a test compares it with pg_get_indexdef); the rest are deparsed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from pgvitals.snapshot.model import Column, Constraint, Index

T = TypeVar("T")
SAFE_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
DESC, NULLS_FIRST = 1, 2  # pg_index.indoption bits


@dataclass(frozen=True)
class Lookups:
    opclasses: dict[int, tuple[str, bool, int]]  # oid: (name, is default, input type)
    collations: dict[int, str]
    keywords: frozenset[str]  # words that must be quoted as identifiers
    text_oid: int
    varchar_oid: int
    quoted: dict[str, str] = field(default_factory=dict)  # a cache: names repeat a lot
    # one list per list of values that repeats across 100,000s of objects (see `same`)
    lists: dict[tuple[Any, ...], list[Any]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)  # the same for texts made here

    @classmethod
    def from_rows(cls, rows: Sequence[Any]) -> Lookups:
        opclasses, collations, keywords, types = {}, {}, set(), {}
        for kind, oid, name, is_default, input_type in rows:
            if kind == "opclass":
                opclasses[oid] = (name, is_default, input_type)
            elif kind == "collation":
                collations[oid] = name
            elif kind == "keyword":
                keywords.add(name)
            else:
                types[name] = oid
        return cls(opclasses, collations, frozenset(keywords), types["text"], types["varchar"])

    def same(self, items: list[T]) -> list[T]:
        """The list kept for these items (operator classes, sort options, column names);
        snapshot objects are never changed in place, so equal lists can be one."""
        return self.lists.setdefault(tuple(items), items)

    def quote(self, name: str) -> str:
        """PostgreSQL's quote_ident: bare only when lower-case, simple and no keyword."""
        quoted = self.quoted.get(name)
        if quoted is None:
            bare = SAFE_IDENTIFIER.fullmatch(name) and name not in self.keywords
            quoted = self.quoted[name] = name if bare else '"' + name.replace('"', '""') + '"'
        return quoted


class Deparsed(NamedTuple):
    """What the server deparsed for an object (queries/definitions.sql): its definition,
    a policy's WITH CHECK or an index's predicate (`extra`), an index's keys (`parts`)."""

    definition: str | None
    extra: str | None
    parts: list[str] | None


class ColumnsByPosition:
    """Each table's columns by attribute number, and the names of columns of tables
    referenced from other schemas (`outside`). A list per table: attribute numbers are
    dense (a dropped column leaves a gap), and at 1.75M columns a dict keyed by
    (table, number) pairs costs 300 MB more than this."""

    def __init__(self, columns: Iterable[Column]) -> None:
        self.by_table: dict[int, list[Column | None]] = {}
        self.outside: dict[tuple[int, int], str] = {}
        for column in columns:
            slots = self.by_table.setdefault(column.table_oid, [None])  # numbers start at 1
            missing = column.position - len(slots)
            if missing >= 0:
                slots.extend([None] * (missing + 1))
            slots[column.position] = column

    def get(self, table_oid: int, position: int) -> Column | None:
        slots = self.by_table.get(table_oid)
        return slots[position] if slots is not None and 0 < position < len(slots) else None

    def name(self, table_oid: int, position: int) -> str | None:
        column = self.get(table_oid, position)
        return column.name if column is not None else self.outside.get((table_oid, position))


def rebuildable(row: Any, columns: ColumnsByPosition, lookups: Lookups) -> bool:
    """Can this index's definition be written from the catalog alone, exactly?"""
    if row.expressions or row.predicate_tree or row.has_options:
        return False
    for position in range(row.key_count):
        column = columns.get(row.table_oid, row.key_attnums[position])
        opclass = lookups.opclasses.get(row.opclass_oids[position])
        if column is None or opclass is None:
            return False
        _, is_default, input_type = opclass
        same_type = input_type == column.type_oid or (
            input_type == lookups.text_oid and column.type_oid == lookups.varchar_oid
        )
        if not (is_default and same_type) or row.collation_oids[position] != column.collation_oid:
            return False
    return True


def sort_suffix(option: int) -> str:
    if option & DESC:
        return " DESC" if option & NULLS_FIRST else " DESC NULLS LAST"
    return " NULLS FIRST" if option & NULLS_FIRST else ""


def rebuilt_definition(row: Any, names: list[str], lookups: Lookups) -> str:
    """The text pg_get_indexdef() prints for a rebuildable index."""
    quote = lookups.quote
    keys = ", ".join(
        quote(names[k]) + sort_suffix(row.sort_options[k]) for k in range(row.key_count)
    )
    text = (
        f"CREATE {'UNIQUE ' if row.is_unique else ''}INDEX {quote(row.name)} ON "
        f"{'ONLY ' if row.on_partitioned_table else ''}{quote(row.schema)}.{quote(row.table)} "
        f"USING {quote(row.method)} ({keys})"
    )
    if len(names) > row.key_count:
        text += f" INCLUDE ({', '.join(quote(name) for name in names[row.key_count :])})"
    return text


def build_index(
    row: Any,
    columns: ColumnsByPosition,
    lookups: Lookups,
    deparsed: Deparsed | None,
    needs_deparse: bool,
) -> Index:
    """`needs_deparse`: not rebuildable (see `rebuildable`); `deparsed`: the server's
    text for it (None when its table was locked: only what the catalog says is known)."""
    key_columns = [
        column.name if (column := columns.get(row.table_oid, attnum)) else None
        for attnum in row.key_attnums
    ]
    if not needs_deparse:
        names = [name or "" for name in key_columns]
        definition: str | None = rebuilt_definition(row, names, lookups)
        key_definitions: list[str | None] = lookups.same([lookups.quote(name) for name in names])
        predicate = None
    elif deparsed is not None:
        definition = deparsed.definition
        key_definitions = list(deparsed.parts or ())
        predicate = deparsed.extra
    else:
        definition, predicate = None, None
        key_definitions = [lookups.quote(name) if name else None for name in key_columns]
    same = lookups.same
    # the row's repeated values (names, oids, arrays) are one object each already
    # (collect.one_copy_each); the lists made here are made one
    return Index(
        oid=row.oid,
        schema=row.schema,
        table=row.table,
        table_oid=row.table_oid,
        name=row.name,
        method=row.method,
        is_unique=row.is_unique,
        is_primary=row.is_primary,
        is_valid=row.is_valid,
        key_count=row.key_count,
        key_columns=same(key_columns),
        key_definitions=key_definitions,
        expressions=row.expressions,
        predicate_tree=row.predicate_tree,
        opclasses=same([lookups.opclasses.get(o, ("?", False, 0))[0] for o in row.opclass_oids]),
        collations=same([lookups.collations.get(o) for o in row.collation_oids]),
        sort_options=row.sort_options,
        predicate=predicate,
        definition=definition,
        constraint_name=row.constraint_name,
        parent_index_oid=row.parent_index_oid,
        bytes=row.bytes,
        idx_scan=row.idx_scan,
        idx_tup_read=row.idx_tup_read,
        idx_tup_fetch=row.idx_tup_fetch,
        last_idx_scan=row.last_idx_scan,
        comment=row.comment,
        is_replica_identity=row.is_replica_identity,
        rows_estimate=row.rows_estimate,
        reloptions=row.reloptions,
    )


# pg_constraint.confupdtype / confdeltype as the deparser writes them ("a", no action: nothing)
KEY_ACTIONS = {"r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


def rebuilt_key_definition(
    row: Any, names: list[str | None], ref_names: list[str | None], lookups: Lookups
) -> str | None:
    """The text pg_get_constraintdef() prints for a primary, unique or foreign key of the
    shapes constraints.sql leaves to this (it deparses the others); None when a column's
    name is unknown."""
    if None in names or None in ref_names:
        return None
    quote = lookups.quote
    keys = ", ".join(map(quote, names))  # type: ignore[arg-type]
    if row.kind == "p":
        text = f"PRIMARY KEY ({keys})"
    elif row.kind == "u":
        text = f"UNIQUE ({keys})"
    else:
        table = quote(row.ref_table)
        if not row.ref_visible:
            table = f"{quote(row.ref_schema)}.{table}"
        text = f"FOREIGN KEY ({keys}) REFERENCES {table}({', '.join(map(quote, ref_names))})"  # type: ignore[arg-type]
        if row.match_full:
            text += " MATCH FULL"
        if row.on_update in KEY_ACTIONS:
            text += f" ON UPDATE {KEY_ACTIONS[row.on_update]}"
        if row.on_delete in KEY_ACTIONS:
            text += f" ON DELETE {KEY_ACTIONS[row.on_delete]}"
    if row.deferrable:
        text += " DEFERRABLE"
    if row.deferred:
        text += " INITIALLY DEFERRED"
    if not row.validated:
        text += " NOT VALID"
    return text


def build_constraint(
    row: Any, columns: ColumnsByPosition, definition: str | None, lookups: Lookups
) -> Constraint:
    """`columns`: the names of the columns of both tables (an unknown one is "?");
    `definition`: the deparsed text of a CHECK or EXCLUDE constraint."""
    same = lookups.same  # the row's names and oids are one object each already
    names = [columns.name(row.table_oid, a) for a in row.key_attnums]
    ref_names = [columns.name(row.ref_table_oid, a) for a in row.ref_attnums]
    if row.definition is None and row.kind in ("p", "u", "f"):
        text = rebuilt_key_definition(row, names, ref_names, lookups)
        # PRIMARY KEY (id) and its like repeat: one string each, as for lists (`same`)
        definition = text if text is None else lookups.texts.setdefault(text, text)
    return Constraint(
        oid=row.oid,
        schema=row.schema,
        table=row.table,
        table_oid=row.table_oid,
        name=row.name,
        kind=row.kind,
        columns=same([name or "?" for name in names]),
        validated=row.validated,
        inherited=row.inherited,
        definition=row.definition or definition,
        index_oid=row.index_oid,
        ref_table_oid=row.ref_table_oid,
        ref_schema=row.ref_schema,
        ref_table=row.ref_table,
        ref_columns=same([name or "?" for name in ref_names]),
        on_delete=row.on_delete,
        on_update=row.on_update,
        comment=row.comment,
    )
