"""Integrity rules: keys, references and constraints that keep the data right."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pgvitals import fixes
from pgvitals.findings import Fix
from pgvitals.rules._api import (
    CRITICAL,
    HIGH,
    INTEGRITY,
    MEDIUM,
    ROWS_OPTIONAL,
    Draft,
    NoOptions,
    finding,
    option,
    rule,
)
from pgvitals.snapshot.model import Column, Index, Sequence, Snapshot, Table


@rule(
    "missing-primary-key",
    category=INTEGRITY,
    severity=HIGH,
    title="Table has no primary key",
    rows=ROWS_OPTIONAL,
    needs=("row_counts", "duplicate_rows"),
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


# The largest value of each integer type a key can have.
INTEGER_LIMITS = {"int2": 2**15 - 1, "int4": 2**31 - 1, "int8": 2**63 - 1}


@dataclass(frozen=True)
class OverflowOptions:
    min_ratio: float = option(0.5, "share of the range used from which to report")
    high_ratio: float = option(0.75, "share from which it is high")
    critical_ratio: float = option(0.9, "share from which it is critical")


@rule(
    "integer-key-overflow-risk",
    category=INTEGRITY,
    severity=MEDIUM,
    title="Sequence or key close to the end of its integer range",
    options=OverflowOptions,
    needs=("sequence_positions",),
)
def integer_key_overflow_risk(snap: Snapshot, opts: OverflowOptions) -> Iterator[Draft]:
    """A sequence has used a large share of the values its column can hold.

    Measured against the smaller of the sequence's own range and the type of the
    column it feeds: a bigint sequence behind an `integer` key runs out at 2^31 - 1,
    not at 2^63 - 1. Medium from half the range, high from 75%, critical from 90%.

    ## Why it breaks
    When the next value does not fit, every INSERT fails: `nextval` raises "reached
    maximum value of sequence", or, for a bigint sequence feeding an integer column,
    the INSERT raises "integer out of range". Writes to the table stop until the column
    is widened, and widening an `integer` key to `bigint` rewrites the table and every
    index on it under an ACCESS EXCLUSIVE lock, along with each referencing column:
    hours on a large table, done in an emergency. A CYCLE sequence wraps around instead
    and then collides with existing keys.

    ## Fix
    Widen the column and every foreign key column that references it to `bigint`, and
    the sequence with `ALTER SEQUENCE ... AS bigint`, in a maintenance window (each
    `ALTER COLUMN ... TYPE` rewrites its table). On a large table, the online path is a
    new bigint column filled in batches and swapped in; plan it while half the range
    is still left.
    """
    facts = snap.facts
    for sequence in snap.sequences:
        if sequence.last_value is None or sequence.increment_by == 0:
            continue
        column = facts.column_fed_by_sequence.get(sequence.oid)
        ascending = sequence.increment_by > 0
        limit = sequence.max_value if ascending else -sequence.min_value
        column_limit = INTEGER_LIMITS.get(column.type_name) if column is not None else None
        if column_limit is not None and column_limit < limit:
            limit = column_limit
        used = sequence.last_value if ascending else -sequence.last_value
        if limit <= 0 or used <= 0:
            continue
        ratio = used / limit
        if ratio < opts.min_ratio:
            continue
        severity = None
        if ratio >= opts.critical_ratio:
            severity = CRITICAL
        elif ratio >= opts.high_ratio:
            severity = HIGH
        evidence: dict[str, object] = {
            "last_value": sequence.last_value,
            "limit": limit,
            "used_ratio": round(ratio, 4),
            "remaining": limit - used,
            "sequence_type": sequence.data_type,
            "cycle": sequence.cycle,
        }
        fix = None
        if column is not None:
            evidence["column"] = column.qualname
            evidence["column_type"] = column.data_type
            referencing = referencing_columns(snap, column)
            evidence["referencing_columns"] = [c.qualname for c in referencing]
            fix = widen_to_bigint(sequence, [column, *referencing])
        limited_by = "its column's type" if column_limit == limit else "its own type"
        yield finding(
            sequence,
            f"{ratio:.0%} of the range used ({sequence.last_value:,} of {limit:,},"
            f" limited by {limited_by})",
            evidence=evidence,
            fix=fix,
            severity=severity,
        )


def referencing_columns(snap: Snapshot, column: Column) -> list[Column]:
    """Integer columns of foreign keys that reference `column` (they must widen too)."""
    found = []
    for fk in snap.facts.foreign_keys_referencing.get(column.table_oid, []):
        if fk.inherited or column.name not in fk.ref_columns:
            continue
        name = fk.columns[fk.ref_columns.index(column.name)]
        other = snap.facts.column_by_name.get((fk.table_oid, name))
        if other is not None and other.type_name in ("int2", "int4"):
            found.append(other)
    return found


def widen_to_bigint(sequence: Sequence, columns: list[Column]) -> Fix:
    fix = fixes.alter_sequence_type(sequence, "bigint")
    for column in columns:
        if column.type_name in ("int2", "int4"):
            fix += fixes.alter_column_type(column, "bigint")
    return fix
