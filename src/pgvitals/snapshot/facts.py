"""Facts derived from a Snapshot, each computed once, on first use, in linear time.

Anything that two rules, or a rule and the report, both need lives here: which
index serves a foreign key's lookup, the partitions of a partitioned table and the
rows and counters summed over them, the foreign keys that use an index. Rules look
things up in these dicts instead of scanning the catalogue per object.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from pgvitals.snapshot.model import Column, Constraint, Index, Table

NEXTVAL = re.compile(r"^nextval\('((?:[^']|'')+)'::regclass\)$")
QUOTED_PART = re.compile(r'"((?:[^"]|"")*)"|([^."]+)')

T = TypeVar("T")

if TYPE_CHECKING:
    from pgvitals.snapshot.model import Snapshot


def serves_lookup_on(index: Index, columns: list[str]) -> bool:
    """Can an equality lookup on all `columns` use this index without scanning it all?"""
    if not index.is_valid or index.is_partial:
        return False
    leading = index.key_columns[: len(columns)]
    if index.method == "btree":
        return len(leading) == len(columns) and set(leading) == set(columns)
    if index.method == "hash":
        return index.key_columns[:1] == columns
    return False


class Facts:
    def __init__(self, snapshot: Snapshot) -> None:
        self.snap = snapshot
        self._shared: dict[Callable[[Snapshot], Any], Any] = {}

    def shared(self, compute: Callable[[Snapshot], T]) -> T:
        """`compute(snapshot)`, once per snapshot: for what a rule module derives and
        more than one of its rules reads (e.g. the duplicate index pairs)."""
        if compute not in self._shared:
            self._shared[compute] = compute(self.snap)
        return self._shared[compute]

    @cached_property
    def partitions_by_parent(self) -> dict[int, list[Table]]:
        """Direct partitions of each partitioned table."""
        children: dict[int, list[Table]] = defaultdict(list)
        for table in self.snap.tables:
            if table.parent_oid is not None:
                children[table.parent_oid].append(table)
        return dict(children)

    @cached_property
    def leaves_by_root(self) -> dict[int, list[Table]]:
        """Every partitioned table's leaf partitions (at any depth): where its rows are."""
        leaves: dict[int, list[Table]] = defaultdict(list)
        by_oid = self.snap.table_by_oid
        for table in self.snap.tables:
            if table.parent_oid is None or table.kind == "p":
                continue
            parent = table.parent_oid
            while parent is not None and parent in by_oid:
                leaves[parent].append(table)
                parent = by_oid[parent].parent_oid
        return dict(leaves)

    def rows(self, table: Table) -> int:
        """Rows of a table; a partitioned table's are its leaves' rows."""
        if table.kind == "p":
            return sum(self.snap.row_count(leaf) for leaf in self.leaves_by_root.get(table.oid, []))
        return self.snap.row_count(table)

    def counter(self, table: Table, name: str) -> int | None:
        """A pg_stat_user_tables counter; summed over the leaves of a partitioned table
        (the server counts on the leaves only). None where no part has the counter."""
        if table.kind != "p":
            return getattr(table, name)
        values = [getattr(leaf, name) for leaf in self.leaves_by_root.get(table.oid, [])]
        known = [value for value in values if value is not None]
        return sum(known) if known else None

    @cached_property
    def lookup_index_of_fk(self) -> dict[int, Index | None]:
        """Per foreign key (by constraint oid): an index that serves the lookup of its
        referencing columns, or None."""
        by_table = self.snap.indexes_by_table
        return {
            fk.oid: next(
                (i for i in by_table.get(fk.table_oid, []) if serves_lookup_on(i, fk.columns)),
                None,
            )
            for fk in self.snap.constraints
            if fk.kind == "f"
        }

    @cached_property
    def foreign_keys_using_index(self) -> dict[int, list[Constraint]]:
        """Foreign keys whose referenced key is enforced by the index (by index oid)."""
        using: dict[int, list[Constraint]] = defaultdict(list)
        for constraint in self.snap.constraints:
            if constraint.kind == "f" and constraint.index_oid is not None:
                using[constraint.index_oid].append(constraint)
        return dict(using)

    @cached_property
    def column_by_name(self) -> dict[tuple[int, str], Column]:
        return {(c.table_oid, c.name): c for c in self.snap.columns}

    @cached_property
    def column_fed_by_sequence(self) -> dict[int, Column]:
        """Per sequence (by oid): the column it fills. OWNED BY (serial, identity) says
        it; otherwise a column default `nextval('name'::regclass)` naming it does."""
        fed: dict[int, Column] = {}
        by_name = {(s.schema, s.name): s for s in self.snap.sequences}
        for column in self.snap.columns:
            match = NEXTVAL.search(column.default or "")
            if not match:
                continue
            text = match.group(1).replace("''", "'")
            parts = [
                (quoted or bare).replace('""', '"') for quoted, bare in QUOTED_PART.findall(text)
            ]
            key = (parts[0], parts[1]) if len(parts) == 2 else (column.schema, parts[-1])
            sequence = by_name.get(key)
            if sequence is not None:
                fed.setdefault(sequence.oid, column)
        for sequence in self.snap.sequences:
            if sequence.owned_by_table_oid is not None and sequence.owned_by_column:
                owned = self.column_by_name.get(
                    (sequence.owned_by_table_oid, sequence.owned_by_column)
                )
                if owned is not None:
                    fed[sequence.oid] = owned
        return fed

    @cached_property
    def foreign_keys_referencing(self) -> dict[int, list[Constraint]]:
        """Foreign keys by the table they reference (by table oid)."""
        referencing: dict[int, list[Constraint]] = defaultdict(list)
        for constraint in self.snap.constraints:
            if constraint.kind == "f" and constraint.ref_table_oid is not None:
                referencing[constraint.ref_table_oid].append(constraint)
        return dict(referencing)

    @cached_property
    def constraint_by_name(self) -> dict[tuple[int, str], Constraint]:
        return {(c.table_oid, c.name): c for c in self.snap.constraints}

    @cached_property
    def attached_indexes(self) -> dict[int, list[Index]]:
        """Partitions' indexes attached to each partitioned index (by the parent's oid)."""
        children: dict[int, list[Index]] = defaultdict(list)
        for index in self.snap.indexes:
            if index.parent_index_oid is not None:
                children[index.parent_index_oid].append(index)
        return dict(children)

    @cached_property
    def index_by_oid(self) -> dict[int, Index]:
        return {index.oid: index for index in self.snap.indexes}

    @cached_property
    def identical_indexes(self) -> dict[int, list[Index]]:
        """Per valid index (by oid): the other valid indexes of its table with the same
        definition (`same_definition`), uniqueness aside."""
        groups: dict[tuple[object, ...], list[Index]] = defaultdict(list)
        for index in self.snap.indexes:
            if index.is_valid:
                groups[same_definition(index)].append(index)
        return {
            index.oid: [other for other in group if other.oid != index.oid]
            for group in groups.values()
            for index in group
        }

    @cached_property
    def names(self) -> Names:
        """Names for the objects fixes create, unique in their schema (see `Names`)."""
        relations: dict[str, set[str]] = defaultdict(set)
        for entity in (*self.snap.tables, *self.snap.indexes, *self.snap.sequences):
            relations[entity.schema].add(entity.name)
        constraints: dict[str, set[str]] = defaultdict(set)
        for constraint in self.snap.constraints:
            constraints[constraint.schema].add(constraint.name)
        return Names(relations, constraints)


def same_definition(index: Index) -> tuple[object, ...]:
    """Everything that decides what an index can do, except its name and uniqueness."""
    return (
        index.table_oid,
        index.method,
        index.key_count,
        tuple(index.key_columns),
        index.expressions,
        tuple(index.opclasses),
        tuple(index.collations),
        tuple(index.sort_options),
        index.predicate_tree,
    )


MAX_IDENTIFIER_BYTES = 63  # NAMEDATALEN - 1: PostgreSQL truncates longer names


def clip(name: str, size: int) -> str:
    """The longest prefix of `name` within `size` bytes that cuts no character."""
    return name.encode()[:size].decode(errors="ignore")


def object_name(name1: str, name2: str | None, label: str) -> str:
    """`name1_name2_label` within 63 bytes, shortening the longer of name1 and name2
    first: PostgreSQL's own makeObjectName, so names look like the ones it chooses."""
    budget = MAX_IDENTIFIER_BYTES - len(label.encode()) - 1 - (1 if name2 else 0)
    size1, size2 = len(name1.encode()), len((name2 or "").encode())
    while size1 + size2 > budget:
        if size1 > size2:
            size1 -= 1
        else:
            size2 -= 1
    parts = [clip(name1, size1), *([clip(name2, size2)] if name2 else []), label]
    return "_".join(parts)


class Names:
    """Hands out names for the objects that the fixes of one snapshot create.

    A name is free when no relation of its schema (table, index, sequence) and no
    constraint there has it, and no earlier fix of this snapshot was given it; taken
    names get a number after the label (`t_a_idx1`), as PostgreSQL does. All the
    fixes of a report come from one snapshot, so the names of one script never
    collide. The same `purpose` (for example the index of one table's columns) gets
    the same name again, whichever rule asks, so two fixes that build the same
    thing write the same statement. Rules run in a fixed order over ordered
    catalogs, so the same database gets the same names on every run.

    Views and composite types are not in the snapshot, so a name can still collide
    with one of those.
    """

    def __init__(self, relations: dict[str, set[str]], constraints: dict[str, set[str]]) -> None:
        self.relations = relations
        self.constraints = constraints
        self.given: dict[tuple[object, ...], str] = {}

    def new(self, schema: str, name1: str, name2: str | None, label: str, purpose: object) -> str:
        """A free name `name1_name2_label` (shortened, numbered if taken) in `schema`."""
        key = (schema, purpose)
        if key in self.given:
            return self.given[key]
        relations = self.relations.setdefault(schema, set())
        constraints = self.constraints.get(schema, set())
        attempt = 0
        name = object_name(name1, name2, label)
        while name in relations or name in constraints:
            attempt += 1
            name = object_name(name1, name2, f"{label}{attempt}")
        relations.add(name)
        self.given[key] = name
        return name
