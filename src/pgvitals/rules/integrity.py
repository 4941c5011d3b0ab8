"""Integrity rules: keys, references and constraints that keep the data right."""

from __future__ import annotations

from collections.abc import Iterator

from pgvitals import fixes
from pgvitals.findings import Fix
from pgvitals.fixes import NoFix
from pgvitals.rules._api import (
    CRITICAL,
    HIGH,
    INTEGRITY,
    ROWS_OPTIONAL,
    Draft,
    NoOptions,
    finding,
    rule,
)
from pgvitals.snapshot.model import Index, Snapshot, Table


@rule(
    "missing-primary-key",
    category=INTEGRITY,
    severity=HIGH,
    title="Table has no primary key",
    rows=ROWS_OPTIONAL,
)
def missing_primary_key(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """Rows of the table cannot be addressed reliably.

    Flags tables (and roots of partition trees) without a PRIMARY KEY. Raised to
    critical when reading the rows found exact duplicates: they have already got in.

    ## Why it breaks
    Nothing stops the same row from being inserted twice, and once two rows are
    identical no UPDATE or DELETE can touch one without the other. Logical
    replication (and tools built on it: Debezium, AWS DMS, pglogical) cannot
    replicate UPDATE or DELETE of a table without a replica identity, and the
    default replica identity is the primary key, so those statements fail on the
    publisher with "cannot update table ... because it does not have a replica
    identity". Any tool that edits one row at a time (an ORM, an admin grid) has
    no reliable way to name that row.

    ## Fix
    Promote an existing unique index on NOT NULL columns with
    `ADD CONSTRAINT ... PRIMARY KEY USING INDEX` (no new index build; the index is
    renamed to the key's name, which the evidence says). Where that index backs a
    UNIQUE constraint, is referenced by foreign keys, or sorts other than the
    default, build a new unique index `CONCURRENTLY` on the same columns and
    promote that: the old one stays. Without a candidate, the same on an `id`
    column, or add a `bigint GENERATED ALWAYS AS IDENTITY` column (this rewrites
    the table under an ACCESS EXCLUSIVE lock: plan a window). A partitioned table's
    key must contain its partition key: each partition gets its own key first,
    which the table's key adopts. Remove duplicate rows first. Where no fix can
    be generated (1,600 columns, no unique index showing a partitioned table's
    key), the evidence says why.

    ## Silence
    `pgvitals:ignore missing-primary-key <reason>` in the table's COMMENT, e.g. for
    an append-only log replicated with `REPLICA IDENTITY FULL`.
    """
    for table in snap.tables:
        if not table.is_regular or table.is_partition or snap.primary_key(table):
            continue
        profile = snap.profile_by_table.get(table.oid)
        duplicates = profile.duplicate_rows if profile else None
        candidate = candidate_key(snap, table)
        evidence: dict[str, object] = {}
        if profile and profile.row_count is not None:
            evidence["rows"] = profile.row_count
        else:  # -1: never analyzed, so unknown
            evidence["rows_estimate"] = table.rows_estimate if table.rows_estimate >= 0 else None
        if duplicates is not None:
            evidence["duplicate_rows"] = duplicates
        if candidate:
            evidence["candidate_key_index"] = candidate.name
        if table.kind == "p":
            evidence["partitions"] = len(snap.facts.partitions_by_parent.get(table.oid, []))
        message = "Table has no primary key"
        if duplicates:
            message += f"; {duplicates} rows duplicate another row exactly"
        fix = fixes.offered(primary_key_fix(snap, table, candidate, evidence), evidence)
        if duplicates and fix:
            fix = fix.with_note(
                f"first delete the {duplicates} duplicate rows, or the key cannot be built"
            )
        yield finding(
            table,
            message,
            evidence=evidence,
            fix=fix,
            severity=CRITICAL if duplicates else None,
        )


def candidate_key(snap: Snapshot, table: Table) -> Index | None:
    """A valid, non-partial unique index over NOT NULL plain columns."""
    not_null = {c.name for c in snap.columns_by_table.get(table.oid, []) if c.not_null}
    for index in snap.indexes_by_table.get(table.oid, []):
        columns = index.key_columns[: index.key_count]
        if (
            index.is_unique
            and index.is_valid
            and not index.is_partial
            and not index.include
            and all(column is not None and column in not_null for column in columns)
        ):
            return index
    return None


def primary_key_fix(
    snap: Snapshot, table: Table, candidate: Index | None, evidence: dict[str, object]
) -> Fix | NoFix:
    """The least disruptive key that always applies and always rolls back.

    An existing unique index is promoted in place when nothing else depends on it
    as it is; otherwise a new unique index on the same columns is built beside it
    (one backing a UNIQUE constraint cannot also back the key, and foreign keys
    that reference it would stop its rollback)."""
    columns = {c.name: c for c in snap.columns_by_table.get(table.oid, [])}
    if table.kind == "p":
        if candidate is None:
            return NoFix(
                "a partitioned table's primary key must contain its partition key, and no"
                " unique index on NOT NULL columns of this table shows which columns to use"
            )
        keys = [column or "" for column in candidate.key_columns]
        fix = fixes.primary_key_on_partitions(snap, table, keys)
        if isinstance(fix, NoFix):
            return fix
        return fix.with_note(
            f"the key takes the columns of {fixes.one_line(candidate.name)}, which stays; each"
            " partition gets a unique index built CONCURRENTLY, promoted to its key, that"
            " the table's key then adopts"
        )
    names = snap.facts.names
    name = names.new(table.schema, table.name, None, "pkey", ("primary key", table.oid))
    if candidate is not None:
        keys = [column or "" for column in candidate.key_columns]
        in_the_way = obstacle_to_promotion(snap, candidate)
        if in_the_way is None:
            restore = fixes.restore_index(snap, candidate)
            if not isinstance(restore, NoFix):
                evidence["renames_index"] = f"{candidate.name} to {name}"
                return fixes.promote_index(table, candidate, name, restore)
            in_the_way = "its definition could not be read"
        return fixes.primary_key_on_new_index(table, keys, name).with_note(
            f"builds a new unique index on ({', '.join(keys)}) beside"
            f" {fixes.one_line(candidate.name)}, which stays: {in_the_way}"
        )
    if "id" in columns:
        nullable = [] if columns["id"].not_null else ["id"]
        fix = fixes.primary_key_on_new_index(table, ["id"], name, nullable)
        if nullable:
            fix = fix.with_note("column id allows NULL: fill it first; the key sets NOT NULL")
        return fix
    if len(columns) >= fixes.MAX_COLUMNS:
        unusable = [
            fixes.one_line(index.name)
            for index in snap.indexes_by_table.get(table.oid, [])
            if index.is_unique
        ]
        hint = (
            f"; unique indexes {', '.join(unusable)} cannot be the key as they are (a column"
            " allows NULL, or the index is partial, covering or on an expression): make one"
            " usable, e.g. SET NOT NULL, and run pgvitals again"
            if unusable
            else ""
        )
        return NoFix(
            f"the table has {len(columns):,} columns, the most PostgreSQL allows, so no key"
            " column can be added, and no unique index on NOT NULL columns exists to"
            f" promote{hint}"
        )
    return fixes.add_identity_primary_key(table)


def obstacle_to_promotion(snap: Snapshot, index: Index) -> str | None:
    """Why this index cannot simply become the primary key, or None when it can."""
    if index.constraint_name:
        return f"it backs constraint {fixes.one_line(index.constraint_name)}"
    if snap.facts.foreign_keys_using_index.get(index.oid):
        return "foreign keys reference the table through it"
    if fixes.plain_columns(index) is None:
        return (
            "a primary key needs an index with default sort order, operator classes and collations"
        )
    if snap.facts.identical_indexes.get(index.oid):
        return "another index duplicates it"
    return None
