"""Integrity rules: keys, references and constraints that keep the data right."""

from __future__ import annotations

from collections.abc import Iterator

from pgvitals import fixes
from pgvitals.findings import Fix
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
    `ADD CONSTRAINT ... PRIMARY KEY USING INDEX` (no new index build); or build a
    unique index `CONCURRENTLY` on the natural key and promote it; or add a
    `bigint GENERATED ALWAYS AS IDENTITY` column (this rewrites the table under an
    ACCESS EXCLUSIVE lock: plan a window). Remove duplicate rows first.

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
        fix = primary_key_fix(snap, table, candidate)
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


def primary_key_fix(snap: Snapshot, table: Table, candidate: Index | None) -> Fix | None:
    if candidate and table.kind != "p":
        return fixes.add_primary_key_using_index(table, candidate)
    columns = {c.name: c for c in snap.columns_by_table.get(table.oid, [])}
    if "id" in columns and columns["id"].not_null:
        return fixes.add_primary_key_on_columns(table, ["id"])
    if "id" in columns:
        return fixes.add_primary_key_on_columns(table, ["id"]).with_note(
            "column id allows NULL: fill it, SET NOT NULL, then:"
        )
    return fixes.add_identity_primary_key(table)
