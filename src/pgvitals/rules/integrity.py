"""Integrity rules: keys, references and constraints that keep the data right."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pgvitals import fixes
from pgvitals.findings import Fix
from pgvitals.fixes import NoFix
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
