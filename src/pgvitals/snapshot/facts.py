"""Facts derived from a Snapshot, each computed once, on first use, in linear time.

Anything that two rules, or a rule and the report, both need lives here: which
index serves a foreign key's lookup, the partitions of a partitioned table and the
rows and counters summed over them, the foreign keys that use an index. Rules look
things up in these dicts instead of scanning the catalogue per object.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import cached_property
from typing import TYPE_CHECKING

from pgvitals.snapshot.model import BloatMeasure, Column, Constraint, Index, Table
from pgvitals.snapshot.window import StatisticsWindow, statistics_window

NEXTVAL = re.compile(r"^nextval\('((?:[^']|'')+)'::regclass\)$")
QUOTED_PART = re.compile(r'"((?:[^"]|"")*)"|([^."]+)')

if TYPE_CHECKING:
    from pgvitals.snapshot.model import Snapshot


# `column IS NOT NULL` on a plain column of the indexed table, as pg_index.indpred
# stores it (node tree, locations removed): nulltesttype 1 is IS_NOT_NULL.
NOT_NULL_TEST = (
    r"\{NULLTEST :arg \{VAR :varno 1 :varattno (\d+) [^{}]*\} :nulltesttype 1 :argisrow false\}"
)
NOT_NULL_TESTS = re.compile(rf"{NOT_NULL_TEST}(?: {NOT_NULL_TEST})*")
AND_OF = re.compile(r"\{BOOLEXPR :boolop and :args \((.*)\)\}")


def not_null_columns(predicate_tree: str) -> set[int] | None:
    """The attribute numbers of a predicate made only of `col IS NOT NULL` tests (one,
    or several ANDed); None for any other predicate."""
    anded = AND_OF.fullmatch(predicate_tree)
    tests = anded.group(1) if anded else predicate_tree
    if not NOT_NULL_TESTS.fullmatch(tests):
        return None
    return {int(number) for number in re.findall(r":varattno (\d+)", tests)}


def lookup_implies(index: Index, attnums: set[int]) -> bool:
    """Does an equality lookup on the columns `attnums` (what a foreign key's check
    runs: `col = $1` for each) imply the index's predicate, so the planner can use
    it? `=` is strict, so it implies `col IS NOT NULL` on those columns; any other
    predicate is taken as not implied."""
    if index.predicate_tree is None:
        return True
    tested = not_null_columns(index.predicate_tree)
    return tested is not None and tested <= attnums


def leads_with(index: Index, columns: list[str]) -> bool:
    """Are `columns` (in any order) the leading keys of a btree, or the key of a hash
    index, so that an equality lookup on all of them need not scan it all?"""
    leading = index.key_columns[: len(columns)]
    if index.method == "btree":
        return len(leading) == len(columns) and set(leading) == set(columns)
    if index.method == "hash":
        return index.key_columns[:1] == columns
    return False


def serves_lookup_on(index: Index, columns: list[str], attnums: set[int] | None = None) -> bool:
    """Can an equality lookup on all `columns` (attribute numbers `attnums`) use this
    index without scanning it all? A partial index can when the lookup implies its
    predicate (see `lookup_implies`); without `attnums` none can."""
    if not index.is_valid or not leads_with(index, columns):
        return False
    return not index.is_partial or (attnums is not None and lookup_implies(index, attnums))


class Facts:
    def __init__(self, snapshot: Snapshot) -> None:
        self.snap = snapshot

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
                (
                    i
                    for i in by_table.get(fk.table_oid, [])
                    if serves_lookup_on(i, fk.columns, self.attnums(fk))
                ),
                None,
            )
            for fk in self.snap.constraints
            if fk.kind == "f"
        }

    def attnums(self, constraint: Constraint) -> set[int] | None:
        """The attribute numbers of a constraint's columns; None when one is unknown."""
        found = [self.column_by_name.get((constraint.table_oid, c)) for c in constraint.columns]
        return {c.position for c in found if c is not None} if all(found) else None

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
    def window(self) -> StatisticsWindow:
        """Since when the pg_stat_* counters the rules read have been counting."""
        return statistics_window(self.snap.server)

    @cached_property
    def attached_indexes(self) -> dict[int, list[Index]]:
        """Partitions' indexes attached to each partitioned index (by the parent's oid)."""
        children: dict[int, list[Index]] = defaultdict(list)
        for index in self.snap.indexes:
            if index.parent_index_oid is not None:
                children[index.parent_index_oid].append(index)
        return dict(children)

    def index_scans(self, index: Index) -> int | None:
        """idx_scan of an index; of a partitioned table's index, the sum over the
        partitions' indexes attached to it (the server counts scans there only). None
        where no part has the counter."""
        children = self.attached_indexes.get(index.oid)
        if not children:
            return index.idx_scan
        known = [scans for child in children if (scans := self.index_scans(child)) is not None]
        return sum(known) if known else None

    @cached_property
    def indexes_serving_fk(self) -> dict[int, list[Index]]:
        """Per foreign key (by constraint oid): every index that serves its lookup."""
        by_table = self.snap.indexes_by_table
        return {
            fk.oid: [
                index
                for index in by_table.get(fk.table_oid, [])
                if serves_lookup_on(index, fk.columns, self.attnums(fk))
            ]
            for fk in self.snap.constraints
            if fk.kind == "f"
        }

    def index_bytes(self, index: Index) -> int | None:
        """Size of an index; of a partitioned table's index, its partitions' indexes'
        (the parent's own holds no entries). None where a part's size is unknown."""
        children = self.attached_indexes.get(index.oid)
        if not children:
            return index.bytes
        sizes = [self.index_bytes(child) for child in children]
        return None if None in sizes else sum(size for size in sizes if size is not None)

    @cached_property
    def bloat_measures(self) -> dict[tuple[str, int], BloatMeasure]:
        """pgstattuple's measures (--exact-bloat), by (table or index, oid)."""
        return {(m.kind, m.oid): m for m in self.snap.measures}
