"""Index rules: missing, duplicate and redundant indexes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pgvitals import fixes
from pgvitals.findings import Fix
from pgvitals.rules._api import (
    HIGH,
    INDEXES,
    LOW,
    MEDIUM,
    ROWS_OPTIONAL,
    Draft,
    NoOptions,
    finding,
    option,
    rule,
)
from pgvitals.snapshot.facts import leads_with
from pgvitals.snapshot.model import Index, Snapshot


@dataclass(frozen=True)
class ForeignKeyOptions:
    large_table_rows: int = option(10_000, "referencing tables this large make it high")
    small_table_rows: int = option(1_000, "referencing tables smaller than this make it low")


@rule(
    "unindexed-foreign-key",
    category=INDEXES,
    severity=MEDIUM,
    title="Foreign key without an index on its referencing columns",
    options=ForeignKeyOptions,
    rows=ROWS_OPTIONAL,
    needs=("row_counts",),
)
def unindexed_foreign_key(snap: Snapshot, opts: ForeignKeyOptions) -> Iterator[Draft]:
    """Deleting or re-keying a referenced row scans the whole referencing table.

    ## Why it breaks
    PostgreSQL indexes the referenced key (it must be unique) but never the
    referencing columns. Every DELETE of a referenced row, and every UPDATE of its
    key, must find the referencing rows to enforce the constraint (or cascade),
    and without an index that is a sequential scan of the referencing table, taken
    once per parent row: deleting 1,000 parents from a table referenced by a
    1,000,000-row child reads a billion rows, while holding locks. Joins from
    parent to children (`WHERE child.parent_id = $1`), the most common query an
    ORM issues for a relation, scan as well.

    A partial index serves the check only when the check's lookup implies its
    predicate: `WHERE parent_id IS NOT NULL` on the foreign key's columns does (the
    lookup `parent_id = $1` never matches NULL, so the planner uses it), while a
    predicate such as `WHERE deleted_at IS NULL` does not (the rows outside it must
    be found too), and such an index is named in the finding.

    ## Fix
    `CREATE INDEX CONCURRENTLY` on the referencing columns, in the constraint's
    order; it does not block writes (it cannot run inside a transaction block).
    On a partitioned table, create it on the parent (PostgreSQL builds one per
    partition; that form locks each partition against writes while it builds).

    ## Silence
    A tiny, static reference table whose parents are never deleted gains nothing:
    mark the constraint's table with `pgvitals:ignore unindexed-foreign-key`.
    """
    facts = snap.facts
    for fk in snap.constraints:
        if fk.kind != "f" or fk.inherited:
            continue
        table = snap.table_by_oid.get(fk.table_oid)
        if table is None or facts.lookup_index_of_fk[fk.oid] is not None:
            continue
        rows = facts.rows(table)
        referenced = snap.table_by_oid.get(fk.ref_table_oid or -1)
        severity = None  # the default, medium, unless the table's size moves it
        if rows >= opts.large_table_rows:
            severity = HIGH
        elif rows < opts.small_table_rows:
            severity = LOW
        evidence: dict[str, object] = {
            "columns": fk.columns,
            "referenced": f"{fk.ref_schema}.{fk.ref_table}",
            "referenced_columns": fk.ref_columns,
            "referencing_rows": rows,
            "on_delete": ON_ACTION.get(fk.on_delete or "a"),
        }
        if table.kind == "p":
            evidence["rows_counted_over"] = "its partitions"
        deletes = facts.counter(referenced, "n_tup_del") if referenced is not None else None
        if deletes is not None:
            evidence["referenced_deletes"] = deletes
        seq_scans = facts.counter(table, "seq_scan")
        if seq_scans is not None:
            evidence["referencing_seq_scans"] = seq_scans
        partial = [
            index
            for index in snap.indexes_by_table.get(table.oid, [])
            if index.is_valid and index.is_partial and leads_with(index, fk.columns)
        ]
        if partial:
            evidence["partial_indexes_not_serving"] = {
                index.name: index.predicate for index in partial
            }
        name = fixes.index_name(table.name, fk.columns)
        yield finding(
            fk,
            f"({', '.join(fk.columns)}) references {fk.ref_schema}.{fk.ref_table} without an"
            f" index: each delete there scans {rows:,} rows of {table.qualname}"
            + partial_note(partial),
            evidence=evidence,
            fix=fixes.create_index(table, fk.columns, name),
            severity=severity,
        )


def partial_note(partial: list[Index]) -> str:
    """Why the partial indexes on the columns do not count: the check looks up every
    row, and only a predicate its `col = $1` implies lets it use such an index."""
    if not partial:
        return ""
    shown = "; ".join(f"{index.name} WHERE {index.predicate or '(predicate)'}" for index in partial)
    which = "that predicate" if len(partial) == 1 else "those predicates"
    return f" (partial: {shown}; the check's lookup does not imply {which})"


ON_ACTION = {"a": "no action", "r": "restrict", "c": "cascade", "n": "set null", "d": "set default"}


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


def duplicate_copies(snap: Snapshot) -> list[tuple[Index, Index]]:
    """(copy, the index to keep instead) for each index that duplicates another."""
    groups: dict[tuple[object, ...], list[Index]] = {}
    for index in snap.indexes:
        if index.is_valid:
            groups.setdefault(same_definition(index), []).append(index)
    copies = []
    for group in groups.values():
        keeper, *others = sorted(group, key=keep_first)
        # two attached copies mean two duplicate parent indexes: reported on the parent
        copies += [(other, keeper) for other in others if other.parent_index_oid is None]
    return copies


def keep_first(index: Index) -> tuple[bool, bool, bool, bool, str]:
    """Of equivalent indexes keep the one backing a constraint, then one attached to a
    partitioned parent's index (it cannot be dropped alone), then a unique one."""
    return (
        index.constraint_name is None,
        index.parent_index_oid is None,
        not index.is_primary,
        not index.is_unique,
        index.name,
    )


def pair_evidence(index: Index, covered_by: Index) -> dict[str, object]:
    """What shows that `index` adds nothing beside `covered_by`, and what it costs."""
    return {
        "covered_by": covered_by.name,
        "definition": index.definition,
        "covered_by_definition": covered_by.definition,
        "bytes": index.bytes,
        "idx_scan": index.idx_scan,
    }


def drop_fix(snap: Snapshot, index: Index) -> Fix | None:
    """How to remove an index (or the constraint it backs) and how to bring it back;
    None when its definition could not be read (a drop needs a way back)."""
    table = snap.table_by_oid[index.table_oid]
    if index.constraint_name:
        constraint = snap.facts.constraint_by_name[(index.table_oid, index.constraint_name)]
        fix = fixes.drop_constraint(constraint)
        dependents = snap.facts.foreign_keys_using_index.get(index.oid, [])
        if fix and dependents:
            names = fixes.one_line(", ".join(c.qualname for c in dependents))
            fix = fix.with_note(f"first re-point the foreign keys that use this index: {names}")
        return fix
    return fixes.drop_index(index, partitioned=table.kind == "p")


@rule(
    "duplicate-index",
    category=INDEXES,
    severity=MEDIUM,
    title="Index duplicates another index",
)
def duplicate_index(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """Two indexes with the same definition: one of them only costs.

    Same table, method, key columns or expressions, INCLUDE columns, operator
    classes, collations, sort order and predicate. Uniqueness may differ: a plain
    index identical to a unique one adds nothing.

    ## Why it breaks
    Every INSERT, and every UPDATE that cannot be HOT, writes each index, so a
    duplicate doubles that index's write cost and WAL volume; it takes the same
    disk and cache, is vacuumed, and is copied by every backup and replica. The
    planner uses one of the pair, so the other is pure overhead.

    ## Fix
    Drop the copy that backs no constraint with `DROP INDEX CONCURRENTLY` (no write
    lock). The rollback recreates it concurrently from its own definition.
    """
    for copy, keeper in duplicate_copies(snap):
        yield finding(
            copy,
            f"Duplicates {keeper.name} on {copy.schema}.{copy.table} ({', '.join(copy.keys)})",
            evidence=pair_evidence(copy, keeper),
            fix=drop_fix(snap, copy),
        )


def prefix_of(short: Index, long: Index) -> bool:
    """Is `short` answerable from `long`: same kind of index, keys a leading prefix?"""
    n = short.key_count
    if (
        short.oid == long.oid
        or short.table_oid != long.table_oid
        or short.method != "btree"
        or long.method != "btree"
        or not long.is_valid
        or short.has_expressions  # conservative: expression keys are not compared by prefix
        or short.predicate_tree != long.predicate_tree
        or n > long.key_count
        or long.key_columns[:n] != short.key_columns[:n]
        or long.opclasses[:n] != short.opclasses
        or long.collations[:n] != short.collations
        or long.sort_options[:n] != short.sort_options
    ):
        return False
    short_include = set(short.key_columns[n:])
    long_include = set(long.key_columns[long.key_count :])
    if not short_include <= set(long.key_columns):
        return False
    # same keys and same INCLUDE is a duplicate, reported by duplicate-index
    return n < long.key_count or short_include < long_include


@rule(
    "redundant-index",
    category=INDEXES,
    severity=LOW,
    title="Index is a leading prefix of another index",
)
def redundant_index(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """A btree index whose keys lead another btree index of the same table.

    Reported when both indexes are valid, have the same predicate, operator
    classes, collations and sort order on the shared keys, and the shorter index
    neither is unique nor backs a constraint (those enforce something).

    ## Why it breaks
    A btree on `(a, b)` answers every lookup, range and ordering on `a` that a
    btree on `(a)` answers, so the shorter index is maintained on every write,
    takes disk, cache and backup space, and buys little. It can be slightly
    faster for queries on `a` alone (it is smaller), which matters only for very
    hot lookups on a wide longer index: check its scan count before dropping.

    ## Fix
    `DROP INDEX CONCURRENTLY` the shorter index; the rollback recreates it.
    """
    by_table = snap.indexes_by_table
    duplicates = {copy.oid for copy, _ in duplicate_copies(snap)}  # duplicate-index has them
    for index in snap.indexes:
        if (
            not index.is_valid
            or index.is_unique
            or index.constraint_name
            or index.parent_index_oid is not None  # reported on the parent's index
            or index.oid in duplicates
        ):
            continue
        covering = [other for other in by_table[index.table_oid] if prefix_of(index, other)]
        if not covering:
            continue
        longer = min(covering, key=lambda other: (len(other.keys), other.name))
        yield finding(
            index,
            f"({', '.join(index.keys)}) is a prefix of {longer.name} ({', '.join(longer.keys)})"
            f" on {index.schema}.{index.table}",
            evidence=pair_evidence(index, longer),
            fix=drop_fix(snap, index),
        )
