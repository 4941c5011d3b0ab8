"""Integrity rules: keys, references and constraints that keep the data right."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

from pgvitals import fixes
from pgvitals.findings import Fix
from pgvitals.fixes import NoFix
from pgvitals.fmt import plural
from pgvitals.rules._api import (
    CRITICAL,
    HIGH,
    INFO,
    INTEGRITY,
    LOW,
    MEDIUM,
    ROWS_OPTIONAL,
    Draft,
    NoOptions,
    finding,
    option,
    rule,
)
from pgvitals.rules._inheritance import (
    defining_columns,
    folded_into_parents,
    inheriting_columns,
    reported_on_parents,
)
from pgvitals.rules.rls import api_access
from pgvitals.rules.security import ApiOptions, api_roles
from pgvitals.snapshot.facts import (
    INTEGER_RANGES,
    NIL_UUID,
    TENANT_COLUMN,
    Reference,
    TypeMismatch,
    keep_first,
    reference_stem,
)
from pgvitals.snapshot.model import (
    Column,
    Constraint,
    Index,
    Replication,
    Sequence,
    Snapshot,
    Table,
)


@dataclass(frozen=True)
class PrimaryKeyOptions(ApiOptions):
    min_statistics_hours: float = option(
        24.0,
        "statistics younger than this cannot show a table unwritten: an empty table stays"
        " high (the top-level min_statistics_hours unless set here)",
    )


@rule(
    "missing-primary-key",
    category=INTEGRITY,
    severity=HIGH,
    title="Table has no primary key",
    options=PrimaryKeyOptions,
    rows=ROWS_OPTIONAL,
    needs=("row_counts", "duplicate_rows", "null_counts"),
    regroup=folded_into_parents(
        lambda draft: None,
        lambda snap, parent, child, _: inherited_key_fix(snap, parent, child),
        "without a primary key either (keys are not inherited)",
    ),
)
def missing_primary_key(snap: Snapshot, opts: PrimaryKeyOptions) -> Iterator[Draft]:
    """Rows of the table cannot be addressed reliably.

    Flags tables (and roots of partition trees) without a PRIMARY KEY. High by default.
    Critical when reading the rows found exact duplicates: they have already got in.
    Medium when a unique index on NOT NULL columns exists (named as the candidate key):
    it already keeps rows distinct, and what is missing is the key that replication and
    tools look for; low where that index is on one column that a CHECK holds to a
    constant (Synapse's `lock char(1) UNIQUE CHECK (lock = 'X')`), or where a unique
    index's keys are the same in every row (Boundary's `kms_schema_version_one_row ON
    kms_schema_version ((version IS NOT NULL))` over a NOT NULL column, or `((true))`):
    the table keeps one row, named by no key. Medium too when foreign keys reference a
    unique index whose columns allow NULL (Synapse's `users (name)`): the table has an
    identity that other tables use, and only rows with a NULL there can repeat; that
    index's columns are the key offered. Medium as well for a unique index with an
    expression among keys that are never NULL (NOT NULL columns, `COALESCE(...,
    <constant>)`, as Tiny Tiny RSS's `ttrss_user_prefs2 (pref_name, owner_uid,
    COALESCE(profile, -1))`): no row repeats another, but no key can be built on an
    expression. Medium also for a unique index whose columns allow NULL where the row
    scan read rows and counted no NULL there (Dendrite's `userapi_account_datas`, `''`
    in `room_id` for an account's own data): it is a key in all but NOT NULL; the fix
    promotes it, which sets NOT NULL. High again, whatever the candidate, when a
    publication replicates the table's UPDATEs or DELETEs and its replica identity is
    the default (the missing key) or NOTHING: those statements fail today. The evidence
    names the publications and the replica identity. A migration tool's history table
    (pop's `schema_migration`, an old Alembic's `alembic_version`) is the tool's design
    and is left out, unless a publication makes the tool's own writes fail. The table
    Prisma (before 6) makes for an implicit many-to-many relation (`_AToB`, columns "A"
    and "B", unique index `_AToB_AB_unique`), in a database Prisma migrates (its
    `_prisma_migrations`, or a reviewed migrations folder beside its
    `migration_lock.toml`), is low, with no fix: Prisma 6 adds its key in the migration
    its upgrade writes (`ADD CONSTRAINT "_AToB_AB_pkey" PRIMARY KEY ("A", "B")`, then
    `DROP INDEX "_AToB_AB_unique"`), which fails on a table that already has one.
    Low, too, for a table that is empty and was not written (no insert, update or
    delete) over at least `min_statistics_hours` of statistics, where no API role
    (`api_roles`) may insert or update it: a legacy table nothing fills holds no row to
    repeat yet; the evidence says so (`empty_and_unwritten`, the counters and the
    window). One an API role may write stays high, and names the roles
    (`api_roles_can_write`). Tables that inherit from another by INHERITS (Concourse's
    `pipeline_build_events_<id>` of `build_events`; not partitions) get none of its
    keys: where the parent has no key either, its finding lists them
    (`inheritance_children`) and its fix keys them too, in place of a finding each; a
    child keeps its own where its finding is more severe than the parent's, where the
    parent's is excused, or where no key on the parent's columns can be made for it.

    ## Why it breaks
    Without any unique key nothing stops the same row from being inserted twice, and
    once two rows are identical no UPDATE or DELETE can touch one without the other.
    Logical replication (and tools built on it: Debezium, AWS DMS, pglogical) cannot
    replicate UPDATE or DELETE of a table without a replica identity, and the default
    replica identity is the primary key, so once the table is in a publication those
    statements fail on the publisher with "cannot update table ... because it does not
    have a replica identity" (INSERT still works; `REPLICA IDENTITY USING INDEX` on a
    unique NOT NULL index, or `FULL`, lets them through). Physical streaming
    replication copies WAL and does not care. Any tool that edits one row at a time
    (an ORM, an admin grid) has no reliable way to name that row.

    ## Fix
    Promote an existing unique index on NOT NULL columns with
    `ADD CONSTRAINT ... PRIMARY KEY USING INDEX` (no new index build; the index is
    renamed to the key's name, which the evidence says). Where that index backs a
    UNIQUE constraint, build a new unique index `CONCURRENTLY` on the same columns
    and, in one `ALTER TABLE`, drop the constraint and promote the new index: the
    key replaces the constraint (as deferrable as it was) rather than duplicating
    it. Where foreign keys reference the table through that index (they depend on
    it), or it sorts other than the default, the new index is promoted beside it
    and the old one stays. Where foreign keys reference a unique index on columns that
    allow NULL, the same on its columns, which the key makes NOT NULL (a new `id`
    would be a second identity, beside the one the references use). Without a
    candidate, the same on an `id` column, or on a
    NOT NULL column a sequence numbers (an audit log's `sequence`), or on the columns of
    a link table (two or more, all NOT NULL, each a foreign key of its own, and nothing
    else: the pair a row links is its identity), after a query that
    lists the values more than one row holds there (the build fails on them), or add a `bigint
    GENERATED ALWAYS AS IDENTITY` column (this rewrites the table under an ACCESS
    EXCLUSIVE lock: plan a window). A partitioned table's
    key must contain its partition key: each partition gets its own key first,
    which the table's key adopts. No identity column can be added to a table others
    inherit from (INHERITS): there the key goes on the columns of a unique index of its
    own (Concourse's `build_events (build_id, event_id)`), setting NOT NULL where they
    allow NULL, which reaches the children too; the evidence names the columns
    (`key_columns`). Each child it lists gets a key on the same columns: its own unique
    index on them promoted, else a new one, and the rollback drops the children's keys
    before the parent's. Remove duplicate rows first, and NULLs from a key
    column that allows them: the row scan counts those (`null_key_values`), and fix.sql
    says how many above the statements, as the promotion fails on them. Where no fix can
    be generated (1,600 columns, no unique index showing a partitioned table's
    key, a table others inherit from with no unique index of its own), the
    evidence says why.

    ## Silence
    `pgvitals:ignore missing-primary-key <reason>` in the table's COMMENT, e.g. for
    an append-only log replicated with `REPLICA IDENTITY FULL`.
    """
    api = ApiWriters(snap, opts)
    for table in snap.tables:
        if not table.is_regular or table.is_partition or snap.primary_key(table):
            continue
        profile = snap.profile_by_table.get(table.oid)
        duplicates = profile.duplicate_rows if profile else None
        candidate = candidate_key(snap, table)
        referenced = None if candidate else referenced_key(snap, table)
        null_free = None if candidate or referenced else null_free_key(snap, table)
        distinct = (
            None if candidate or referenced or null_free else distinct_rows_index(snap, table)
        )
        evidence: dict[str, object] = {}
        if profile and profile.row_count is not None:
            evidence["rows"] = profile.row_count
        else:  # -1: never analyzed, so unknown
            evidence["rows_estimate"] = table.rows_estimate if table.rows_estimate >= 0 else None
        if duplicates is not None:
            evidence["duplicate_rows"] = duplicates
        if candidate:
            evidence["candidate_key_index"] = candidate.name
            evidence["candidate_key_columns"] = candidate.key_columns[: candidate.key_count]
        if null_free:
            evidence["null_free_key_index"] = null_free.name
            evidence["null_free_key_columns"] = null_free.key_columns[: null_free.key_count]
            evidence["nullable_key_columns"] = nullable_columns(snap, null_free)
        if distinct:
            evidence["unique_index"] = distinct.name
            evidence["unique_index_keys"] = distinct.key_definitions[: distinct.key_count]
        if referenced:
            evidence["referenced_key_index"] = referenced.name
            evidence["referenced_key_columns"] = referenced.key_columns[: referenced.key_count]
            evidence["nullable_key_columns"] = nullable_columns(snap, referenced)
        if table.kind == "p":
            evidence["partitions"] = len(snap.facts.partitions_by_parent.get(table.oid, []))
        replication = snap.facts.replication(table)
        breaks_replication = False
        if replication is not None:
            evidence["replica_identity"] = replica_identity_text(replication)
            evidence["publications"] = replication.publications
            breaks_replication = bool(replication.publishing_changes) and (
                replication.replica_identity in ("d", "n")
            )
        if table.oid in snap.facts.migration_tables and not breaks_replication:
            continue  # the tool's table, of the tool's design; unless the tool's writes fail
        message = "Table has no primary key"
        if candidate:
            columns = ", ".join(str(c) for c in evidence["candidate_key_columns"])  # type: ignore[attr-defined]
            message += (
                f"; unique index {candidate.name} on NOT NULL ({columns}) keeps rows distinct"
            )
        if referenced:
            columns = ", ".join(str(c) for c in evidence["referenced_key_columns"])  # type: ignore[attr-defined]
            nullable = ", ".join(evidence["nullable_key_columns"])  # type: ignore[arg-type]
            message += (
                f"; foreign keys reference unique index {referenced.name} on ({columns}),"
                f" where {nullable} allows NULL"
            )
        if null_free:
            message += (
                f"; unique index {null_free.name} keeps rows distinct, and no row holds NULL"
                f" in {', '.join(nullable_columns(snap, null_free))}, which allows it"
            )
        if distinct:
            keys = ", ".join(str(k) for k in evidence["unique_index_keys"])  # type: ignore[attr-defined]
            message += (
                f"; unique index {distinct.name} on ({keys}) keeps rows distinct, but a key"
                " cannot be built on an expression"
            )
        one_row = single_row_check(snap, candidate) if candidate else None
        if one_row:
            evidence["single_row_check"] = one_row.name
            message += f"; CHECK {one_row.name} holds it to one row"
        one_row_index = None if candidate else single_row_index(snap, table)
        if one_row_index:
            evidence["single_row_index"] = one_row_index.name
            keys = ", ".join(str(k) for k in one_row_index.key_definitions)
            message += (
                f"; unique index {one_row_index.name} on {keys}, the same in every row,"
                " holds it to one row"
            )
        if duplicates:
            message += f"; {duplicates} rows duplicate another row exactly"
        if breaks_replication:
            names = ", ".join(replication.publishing_changes)  # type: ignore[union-attr]
            message += f"; UPDATE and DELETE fail while publication {names} replicates them"
        severity = None  # high
        if duplicates:
            severity = CRITICAL
        elif (one_row or one_row_index) and not breaks_replication:
            severity = LOW
        elif (candidate or referenced or null_free or distinct) and not breaks_replication:
            severity = MEDIUM
        if severity != CRITICAL and not breaks_replication:
            unwritten = empty_and_unwritten(snap, table, evidence, opts)
            if unwritten:
                writers = api.writers(table)
                if writers:
                    evidence["api_roles_can_write"] = writers
                else:
                    evidence.update(unwritten)
                    severity = LOW
                    message += f"; empty and not written {snap.facts.window.phrase}"
        fix = fixes.offered(
            primary_key_fix(snap, table, candidate, evidence, referenced)
            if null_free is None
            else null_free_key_fix(snap, table, null_free, evidence),
            evidence,
        )
        if fix is not None and table.inheritance_children:
            # the key its children get too, where their findings join this one
            evidence["key_columns"] = chosen_key_columns(evidence)
        if candidate and prisma_relation_table(snap, table, candidate):
            # Prisma's own table: its upgrade to 6 writes the key, and fails where one exists
            evidence["prisma_relation_table"] = True
            fix = None
            if not duplicates and not breaks_replication:
                severity = LOW
            message += (
                "; Prisma's implicit many-to-many table: Prisma 6 adds its key"
                f" ({table.name}_AB_pkey) in the migration its upgrade writes, which fails"
                " on a table given one here"
            )
        if duplicates and fix:
            fix = fix.with_note(
                f"first delete the {duplicates} duplicate rows, or the key cannot be built"
            )
        null_keys = null_key_values(snap, table, evidence)
        if null_keys:
            evidence["null_key_values"] = null_keys
            if fix:
                # promotion sets NOT NULL and fails on them, after the unique index is built
                counted = ", ".join(f"{n:,} in {fixes.one_line(c)}" for c, n in null_keys.items())
                fix = fix.with_note(
                    f"rows hold NULL in the key ({counted}): fill or delete them first, or"
                    " the promotion fails and leaves the new unique index behind"
                    " (rollback.sql drops it)"
                )
        yield finding(
            table,
            message,
            evidence=evidence,
            fix=fix,
            severity=severity,
        )


WRITES = ("n_tup_ins", "n_tup_upd", "n_tup_del")


def empty_and_unwritten(
    snap: Snapshot, table: Table, evidence: dict[str, object], opts: PrimaryKeyOptions
) -> dict[str, object]:
    """The evidence that a table holds no row and none was written over a window of at
    least `min_statistics_hours` (counted rows, else an analyzed estimate of 0); empty
    where it is not shown (a review, a standby's counters, a young window, unknown rows)."""
    window = snap.facts.window
    rows = evidence.get("rows", evidence.get("rows_estimate"))
    if snap.collection.reviewed or rows != 0 or window.hours < opts.min_statistics_hours:
        return {}  # a review's tables are new and empty: no statistics of the application's
    writes = {name: snap.facts.counter(table, name) for name in WRITES}
    if any(count != 0 for count in writes.values()):  # None: not counted here
        return {}
    return {"empty_and_unwritten": True, **writes, **window.evidence}


class ApiWriters:
    """Which API roles may write a table: the roles found once, where a table first needs
    them, and their USAGE of each schema cached across tables (api_access)."""

    def __init__(self, snap: Snapshot, opts: ApiOptions) -> None:
        self.snap = snap
        self.opts = opts
        self.usage: dict[tuple[str, str], bool] = {}

    @cached_property
    def roles(self) -> list[str]:
        return api_roles(self.snap, self.opts)

    def writers(self, table: Table) -> dict[str, list[str]]:
        """The API roles that may insert or update rows of the table, with those commands."""
        access = api_access(self.snap, table, self.roles, self.usage)
        writes = {
            role: [c for c in commands if c in ("INSERT", "UPDATE")]
            for role, commands in access.items()
        }
        return {role: commands for role, commands in writes.items() if commands}


def null_key_values(snap: Snapshot, table: Table, evidence: dict[str, object]) -> dict[str, int]:
    """By key column that allows NULL (the referenced key's, or a nullable `id`), the NULLs
    the row scan counted there, where it counted any: SET NOT NULL, which the promotion to
    primary key does, fails on each of them."""
    nullable = list(evidence.get("nullable_key_columns") or [])  # type: ignore[call-overload]
    if not nullable and evidence.get("candidate_key_columns") is None:
        id_column = next(
            (c for c in snap.columns_by_table.get(table.oid, []) if c.name == "id"), None
        )
        if id_column is not None and not id_column.not_null:
            nullable = ["id"]
    found: dict[str, int] = {}
    for name in nullable:
        profile = snap.facts.column_profile(table, name)
        nulls = profile.counts.get("null") if profile else None
        if nulls:
            found[name] = nulls
    return found


def prisma_relation_table(snap: Snapshot, table: Table, candidate: Index) -> bool:
    """Is the table the relation table Prisma makes for an implicit many-to-many relation
    (`_UserToTeam` with columns "A" and "B" and the unique index `_UserToTeam_AB_unique`,
    Prisma 5 and earlier) in a database Prisma migrates (its `_prisma_migrations`, or a
    reviewed Prisma migrations folder)?"""
    columns = [c.name for c in snap.columns_by_table.get(table.oid, [])]
    return (
        table.name.startswith("_")
        and sorted(columns) == ["A", "B"]
        and candidate.name == f"{table.name}_AB_unique"
        and "Prisma" in snap.facts.migration_tools
    )


def replica_identity_text(replication: Replication) -> str:
    """How PostgreSQL names the rows of this table to a subscriber."""
    if replication.replica_identity == "i":
        return f"index {replication.replica_identity_index}"
    return {"d": "default (the primary key: none)", "n": "nothing", "f": "full"}.get(
        replication.replica_identity, replication.replica_identity
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


# a CHECK that holds one column to a constant, as pg_get_constraintdef prints it:
# `CHECK (lock = 'X'::bpchar)`, `CHECK ((id = 1))`, `CHECK (singleton)`
CONSTANT_CHECK = re.compile(
    r"^CHECK \(+\"?(?P<column>[^\s\"()]+)\"?(?: = (?:'(?:[^']|'')*'(?:::[\w ]+)?|-?\d+|true))?\)+$"
)


# COALESCE(..., <constant>): never NULL, whatever it reads
NEVER_NULL_KEY = re.compile(
    r"^COALESCE\(.*, (?:'(?:[^']|'')*'|-?\d+(?:\.\d+)?|true|false)(?:::[\w ]+)?\)$"
)


def distinct_rows_index(snap: Snapshot, table: Table) -> Index | None:
    """A valid, non-partial unique index with an expression among keys that are never
    NULL (NOT NULL columns, COALESCE with a constant): no two rows hold the same key, so
    none duplicates another, but no primary key can be built on it (Tiny Tiny RSS's
    ttrss_user_prefs2 on (pref_name, owner_uid, COALESCE(profile, -1)))."""
    not_null = {c.name for c in snap.columns_by_table.get(table.oid, []) if c.not_null}
    for index in snap.indexes_by_table.get(table.oid, []):
        if not (index.is_unique and index.is_valid and not index.is_partial):
            continue
        columns = index.key_columns[: index.key_count]
        keys = index.key_definitions[: index.key_count]
        if None in columns and all(
            column in not_null if column is not None else NEVER_NULL_KEY.match(key or "")
            for column, key in zip(columns, keys, strict=True)
        ):
            return index
    return None


def single_row_check(snap: Snapshot, key: Index) -> Constraint | None:
    """The CHECK that holds the one column of a unique key to a single value, so that
    the table has at most one row (a singleton table of settings or positions)."""
    columns = key.key_columns[: key.key_count]
    if len(columns) != 1:
        return None
    for constraint in snap.constraints_by_table.get(key.table_oid, []):
        if constraint.kind != "c" or not constraint.validated:
            continue
        match = CONSTANT_CHECK.match(constraint.definition or "")
        if match and match.group("column") == columns[0]:
            return constraint
    return None


# a unique index key that is one value in every row, as pg_get_indexdef prints it:
# `(true)`, `(1)`, `('x'::text)`, or a NOT NULL column tested for NULL
CONSTANT_KEY = re.compile(r"^\(?(?:true|false|-?\d+|'(?:[^']|'')*'(?:::[\w ]+)?)\)?$")
NULL_TEST_KEY = re.compile(r'^\(?(?P<column>[^\s"()]+|"(?:[^"]|"")+") IS (?:NOT )?NULL\)?$')


def single_row_index(snap: Snapshot, table: Table) -> Index | None:
    """A unique index whose keys are the same in every row (Boundary's
    `kms_schema_version_one_row ON kms_schema_version ((version IS NOT NULL))` over a NOT
    NULL column, or `((true))`): a second row would repeat them, so the table keeps one."""
    not_null = {c.name for c in snap.columns_by_table.get(table.oid, []) if c.not_null}
    for index in snap.indexes_by_table.get(table.oid, []):
        if not index.is_unique or not index.is_valid or index.is_partial or not index.key_count:
            continue
        keys = index.key_definitions[: index.key_count]
        if all(key is not None and _same_in_every_row(key, not_null) for key in keys):
            return index
    return None


def _same_in_every_row(key: str, not_null: set[str]) -> bool:
    if CONSTANT_KEY.match(key):
        return True
    tested = NULL_TEST_KEY.match(key)
    if tested is None:
        return False
    column = tested.group("column")
    if column.startswith('"'):
        column = column[1:-1].replace('""', '"')
    return column in not_null


def referenced_key(snap: Snapshot, table: Table) -> Index | None:
    """A valid, non-partial unique index over plain columns, some of which allow NULL,
    that foreign keys reference: the table's identity in this schema, but for NOT NULL."""
    for index in plain_unique_indexes(snap, table):
        if snap.facts.foreign_keys_using_index.get(index.oid):
            return index
    return None


def null_free_key(snap: Snapshot, table: Table) -> Index | None:
    """A valid, non-partial unique index over plain columns, some of which allow NULL,
    where the row scan counted no NULL in any of them: a key in all but NOT NULL
    (Dendrite's `userapi_account_datas (localpart, server_name, room_id, type)`, whose
    `room_id` is `''` for an account's own data, never NULL)."""
    for index in snap.indexes_by_table.get(table.oid, []):
        if not (
            index.is_unique
            and index.is_valid
            and not index.is_partial
            and not index.include
            and None not in index.key_columns[: index.key_count]
        ):
            continue
        nullable = nullable_columns(snap, index)
        profiles = [snap.facts.column_profile(table, name) for name in nullable]
        read = [p for p in profiles if p is not None and p.rows]  # an empty table says nothing
        if nullable and len(read) == len(nullable) and all(p.counts.get("null") == 0 for p in read):
            return index
    return None


def null_free_key_fix(
    snap: Snapshot, table: Table, index: Index, evidence: dict[str, object], note: str = ""
) -> Fix | NoFix:
    """Promote the null-free unique index in place (PostgreSQL sets NOT NULL on its
    columns, reading every row under the lock; on the tables that inherit from it too);
    the rollback drops the key, allows NULL again and rebuilds the index. Where it cannot
    be promoted as it is, a new unique index beside it becomes the key. `note`: what the
    fix says of the NULLs, where no row scan showed none."""
    name = snap.facts.names.new(table.schema, table.name, None, "pkey", ("primary key", table.oid))
    nullable = nullable_columns(snap, index)
    note = note or (
        f"{', '.join(nullable)} allows NULL and no row holds one: the key sets NOT NULL,"
        " checking every row under an ACCESS EXCLUSIVE lock"
    )
    restore = fixes.restore_index(snap, index)
    in_the_way = obstacle_to_promotion(snap, index)
    if in_the_way is None and not isinstance(restore, NoFix):
        evidence["renames_index"] = f"{index.name} to {name}"
        rollback = (*fixes.drop_not_null_statements(table, nullable), *restore)
        return fixes.promote_index(table, index, name, rollback).with_note(note)
    keys = [column or "" for column in index.key_columns[: index.key_count]]
    return fixes.primary_key_on_new_index(table, keys, name, nullable).with_note(note)


def nullable_columns(snap: Snapshot, index: Index) -> list[str]:
    """The index's key columns that allow NULL."""
    not_null = {c.name for c in snap.columns_by_table.get(index.table_oid, []) if c.not_null}
    return [c for c in index.key_columns[: index.key_count] if c and c not in not_null]


def primary_key_fix(
    snap: Snapshot,
    table: Table,
    candidate: Index | None,
    evidence: dict[str, object],
    referenced: Index | None = None,
) -> Fix | NoFix:
    """The least disruptive key that always applies and always rolls back.

    An existing unique index is promoted in place when nothing else depends on it
    as it is. One backing a UNIQUE constraint cannot also back the key, so a new
    unique index on the same columns becomes the key and the constraint goes: left
    beside the key, it would be the next check's duplicate-index. Otherwise (foreign
    keys reference the old index, which would stop its drop or its rollback) the new
    index is built beside it and the old one stays."""
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
        replaced = replaceable_constraint(snap, candidate)
        if replaced is not None:
            replacing = fixes.primary_key_replacing(snap, table, replaced, candidate, name)
            if not isinstance(replacing, NoFix):
                evidence["replaces_constraint"] = f"{replaced.name} by {name}"
                return replacing.with_note(replacement_note(replaced, name))
        using = snap.facts.foreign_keys_using_index.get(candidate.oid)
        if using and candidate.constraint_name:
            # moving them to the key would drop and add foreign keys of other tables
            referencing = ", ".join(sorted(fixes.one_line(fk.qualname) for fk in using))
            in_the_way = (
                f"it backs constraint {fixes.one_line(candidate.constraint_name)}, which"
                f" foreign keys reference ({referencing}); re-point them to the key, then"
                " drop it"
            )
        return fixes.primary_key_on_new_index(table, keys, name).with_note(
            f"builds a new unique index on ({', '.join(keys)}) beside"
            f" {fixes.one_line(candidate.name)}, which stays: {in_the_way}"
        )
    if referenced is not None:
        keys = [column or "" for column in referenced.key_columns[: referenced.key_count]]
        nullable = nullable_columns(snap, referenced)
        return fixes.primary_key_on_new_index(table, keys, name, nullable).with_note(
            f"the key goes on ({', '.join(keys)}), which foreign keys already reference"
            f" through {fixes.one_line(referenced.name)} (it stays: they depend on it);"
            f" {', '.join(nullable)} allows NULL: fill or delete rows with NULL there first,"
            " as the key sets NOT NULL"
        )
    if "id" in columns:
        pending = columns["id"].not_null_invalid
        nullable = [] if columns["id"].not_null or pending else ["id"]
        fix = fixes.primary_key_on_new_index(
            table, ["id"], name, nullable, [pending] if pending else []
        )
        if pending:
            fix = fix.with_note(
                f"column id's NOT NULL constraint {fixes.one_line(pending)} is NOT VALID,"
                " which a primary key refuses: it is validated first (rows with NULL there"
                " make it fail)"
            )
        elif nullable:
            fix = fix.with_note("column id allows NULL: fill it first; the key sets NOT NULL")
        return listing_repeats(table, ["id"], fix)
    numbered = sequence_numbered_column(snap, table)
    if numbered is not None:
        evidence["key_column"] = numbered.name
        fix = fixes.primary_key_on_new_index(table, [numbered.name], name).with_note(
            f"the key is on {fixes.one_line(numbered.name)}, which a sequence numbers (no new"
            " column, no rewrite)"
        )
        return listing_repeats(table, [numbered.name], fix)
    linked = link_columns(snap, table)
    if linked:
        evidence["key_columns"] = linked
        fix = fixes.primary_key_on_new_index(table, linked, name).with_note(
            f"the key is on ({', '.join(linked)}), the foreign keys a row of this link table"
            " pairs: no new column, no rewrite, and the same pair cannot be linked twice"
        )
        for shorter in fixes.prefixes_of(snap, table, linked):
            fix = fix.with_note(
                f"{fixes.one_line(shorter.name)} leads the key's index: once it is built,"
                " redundant-index offers to drop that one"
            )
        return listing_repeats(table, linked, fix)
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
    if table.inheritance_children:
        unique = next(plain_unique_indexes(snap, table), None)
        if unique is not None:
            # the columns it keeps distinct, as its children's own unique indexes often do
            keys = [column or "" for column in unique.key_columns[: unique.key_count]]
            nullable = nullable_columns(snap, unique)
            evidence.update(key_columns=keys, nullable_key_columns=nullable)
            return null_free_key_fix(
                snap,
                table,
                unique,
                evidence,
                f"the key takes the columns of unique index {fixes.one_line(unique.name)}, as"
                " no identity column can be added to a table others inherit from;"
                f" {', '.join(nullable)} allows NULL: fill or delete rows with NULL there"
                " first, in the tables that inherit from it too, as the key sets NOT NULL"
                " on them all, checking every row under an ACCESS EXCLUSIVE lock",
            )
        # ADD COLUMN recurses to them, and identity columns cannot (42P16)
        children = ", ".join(fixes.one_line(name) for name in table.inheritance_children)
        return NoFix(
            f"tables inherit from it ({children}): PostgreSQL cannot add an identity column"
            " to a table with child tables, and a key on it would not cover their rows; give"
            " each table a key on columns its rows already hold"
        )
    return fixes.add_identity_primary_key(table)


def plain_unique_indexes(snap: Snapshot, table: Table) -> Iterator[Index]:
    """The table's valid, non-partial unique indexes over plain columns (which may allow
    NULL), without INCLUDE columns."""
    for index in snap.indexes_by_table.get(table.oid, []):
        if (
            index.is_unique
            and index.is_valid
            and not index.is_partial
            and not index.include
            and None not in index.key_columns[: index.key_count]
        ):
            yield index


def chosen_key_columns(evidence: dict[str, object]) -> list[str]:
    """The columns of the key that the fix of a table without a partition key makes, as
    the evidence of its choice names them: a link table's or an inheritance parent's
    unique index's (`key_columns`), the candidate's, the null-free or the referenced
    unique index's, the column a sequence numbers, else `id`."""
    for name in (
        "key_columns",
        "candidate_key_columns",
        "null_free_key_columns",
        "referenced_key_columns",
    ):
        if name in evidence:
            return list(evidence[name])  # type: ignore[call-overload]
    return [str(evidence.get("key_column", "id"))]


def inherited_key_fix(snap: Snapshot, parent: Draft, child: Table) -> Fix | None:
    """The key of the parent's fix, on the same columns, for a table that inherits from
    it (keys are not inherited): the child's own unique index on exactly those columns
    promoted where it can be, else a new one. The parent's key has made those columns
    NOT NULL by then (it recurses to the children), and its rollback, which runs after
    the child's, allows NULL again."""
    keys = list(parent.evidence["key_columns"])
    same = next(
        (
            index
            for index in snap.indexes_by_table.get(child.oid, [])
            if index.is_unique
            and index.is_valid
            and not index.is_partial
            and not index.include
            and list(index.key_columns[: index.key_count]) == keys
        ),
        None,
    )
    if same is not None:
        return fixes.offered(primary_key_fix(snap, child, same, {}), {})
    name = snap.facts.names.new(child.schema, child.name, None, "pkey", ("primary key", child.oid))
    return listing_repeats(child, keys, fixes.primary_key_on_new_index(child, keys, name))


def listing_repeats(table: Table, columns: list[str], fix: Fix) -> Fix:
    """The fix after a query that lists the values of `columns` more than one row holds:
    no unique index exists on them, and the key's build fails on them (a copy without rows
    never shows it), leaving an invalid index that rollback.sql drops."""
    shown = ", ".join(fixes.one_line(column) for column in columns)
    shown = f"({shown})" if len(columns) > 1 else shown
    return fix.listing_first(
        fixes.repeated_values_query(table, columns),
        f"the first query lists the values of {shown} that more than one row holds: the"
        " key's index cannot be built over them (the build fails, leaving an invalid index"
        " that rollback.sql drops); resolve them first",
    )


def link_columns(snap: Snapshot, table: Table) -> list[str]:
    """The columns of a link table, in their order: two or more, every column of the
    table NOT NULL and the one column of a foreign key (Tiny Tiny RSS's
    ttrss_user_labels2 (label_id, article_id)). A row is the pair it links, and the pair
    is the key; empty for other tables."""
    columns = snap.columns_by_table.get(table.oid, [])
    referencing = {
        constraint.columns[0]
        for constraint in snap.constraints_by_table.get(table.oid, [])
        if constraint.kind == "f" and len(constraint.columns) == 1
    }
    if len(columns) < 2 or any(c.name not in referencing or not c.not_null for c in columns):
        return []
    return [column.name for column in columns]


def sequence_numbered_column(snap: Snapshot, table: Table) -> Column | None:
    """A NOT NULL column of the table that an ascending sequence fills (serial, identity,
    a default `nextval(...)`): an audit log's `sequence`, already a key in all but name."""
    fed = snap.facts.column_fed_by_sequence
    ascending = {s.oid for s in snap.sequences if s.increment_by > 0}
    numbered = [
        column
        for oid, column in fed.items()
        if oid in ascending and column.table_oid == table.oid and column.not_null
    ]
    return min(numbered, key=lambda column: column.position, default=None)


def replaceable_constraint(snap: Snapshot, index: Index) -> Constraint | None:
    """The UNIQUE constraint backed by `index` that the key can replace: one whose
    index no foreign key references (they depend on it, so it cannot be dropped)."""
    if index.constraint_name is None or snap.facts.foreign_keys_using_index.get(index.oid):
        return None
    constraint = snap.facts.constraint_by_name.get((index.table_oid, index.constraint_name))
    return constraint if constraint is not None and constraint.kind == "u" else None


def replacement_note(constraint: Constraint, key: str) -> str:
    """What the swap changes that a reader must know before running it."""
    old, new = fixes.one_line(constraint.name), fixes.one_line(key)
    note = (
        f"the key replaces constraint {old} on the same columns, built as a new index"
        f" first; statements naming {old} (ON CONFLICT ON CONSTRAINT) must name {new}"
    )
    if constraint.definition and fixes.DEFERRAL.search(constraint.definition):
        note += (
            f"; the key is DEFERRABLE, as {old} was: no foreign key can reference it, it"
            " cannot be the replica identity, and ON CONFLICT cannot use it"
        )
    return note


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
    twins = snap.facts.identical_indexes.get(index.oid)
    if twins and min([index, *twins], key=keep_first) is not index:
        # duplicate-index's fix drops this one, the copy; the one it keeps can be promoted
        return "another index duplicates it"
    return None


# The largest value of each integer type a key can have.
INTEGER_LIMITS = {name: highest for name, (_, highest) in INTEGER_RANGES.items()}


@dataclass(frozen=True)
class OverflowOptions:
    min_ratio: float = option(0.5, "share of the range used from which to report")
    high_ratio: float = option(0.75, "share from which it is high")
    critical_ratio: float = option(0.9, "share from which it is critical")


@rule(
    "integer-key-overflow-risk",
    on_library_tables=True,
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
    is still left. No automatic fix where a column to widen is in a partition key:
    PostgreSQL cannot change such a column's type (the table is re-created instead).
    A column that a table inherits (INHERITS) is widened on the table that defines it,
    which widens it everywhere: PostgreSQL refuses the change on the child.
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
            keyed = [
                table
                for c in (column, *referencing)
                for table in snap.facts.partition_keyed_by(snap.table_by_oid[c.table_oid], c.name)
            ]
            if keyed:
                evidence["partition_key_of"] = keyed
                evidence["no_automatic_fix"] = (
                    "a column to widen is in the partition key of " + ", ".join(keyed) + ":"
                    " PostgreSQL cannot change its type; re-create the table with bigint and"
                    " move the rows (the sequence alone can be widened at once)"
                )
            else:
                # a column tables inherit (INHERITS) changes on the table that defines it
                fix = widen_to_bigint(sequence, defining_columns(snap, [column, *referencing]))
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


def describe_mismatch(mismatch: TypeMismatch) -> str:
    """What exactly breaks for this pair of types."""
    mine, key = mismatch.column, mismatch.key
    if mismatch.kind == "narrower":
        limit = INTEGER_LIMITS[mine.type_name]
        return (
            f"the key is {key.data_type} and this column {mine.data_type}: once the key"
            f" passes {limit:,}, rows that reference it cannot be stored (integer out of range)"
        )
    if mismatch.kind == "padding":
        return (
            f"{mine.data_type} and {key.data_type} have no equality operator in common: the"
            f" foreign key compares them as {'char' if key.type_name == 'bpchar' else 'text'},"
            " casting this column, so no index on it serves the check that a delete or key"
            " update of the referenced table runs: each one scans this table"
        )
    if mismatch.kind == "other":
        return (
            f"{mine.data_type} and {key.data_type} compare only after converting one side to"
            " numeric, on every row, so a join cannot use the index on the converted side"
        )
    if mine.type_category == "S" and key.type_name == "uuid":
        return (
            f"a {mine.data_type} column accepts any text, so values that are the text of no"
            " existing uuid are stored and never match; no foreign key can be declared"
            f" between {mine.data_type} and uuid; a join must cast one side, the index on"
            " the cast side cannot be used, and one value that is not a valid uuid makes"
            " `::uuid` fail the whole query"
        )
    if {mine.type_name, key.type_name} & {"uuid"} and {mine.type_name, key.type_name} & set(
        INTEGER_LIMITS
    ):
        return (
            f"{mine.data_type} and {key.data_type} cannot be compared at all: no foreign key"
            " can be declared, and a join needs a conversion through text that no index on"
            " either side can serve"
        )
    return (
        f"{mine.data_type} and {key.data_type} have no equality operator in common: no foreign"
        " key can be declared, and a join needs a cast that keeps the index on the cast"
        " side from being used"
    )


# A step down the severity scale, for evidence that is less certain.
LOWER = {CRITICAL: HIGH, HIGH: MEDIUM, MEDIUM: LOW, LOW: LOW}


@dataclass(frozen=True)
class TypeMismatchOptions:
    low_below: float = option(
        0.01,
        "a narrower integer reference is low while the key's sequence has used less than"
        " this share of the referencing column's range",
    )


def key_positions(snap: Snapshot) -> dict[tuple[int, str], int]:
    """The last value handed out for each key column an ascending sequence feeds, by
    (table oid, column name), where the sequence's position was read."""
    fed = snap.facts.column_fed_by_sequence
    positions = {}
    for sequence in snap.sequences:
        column = fed.get(sequence.oid)
        if column is not None and sequence.last_value is not None and sequence.increment_by > 0:
            positions[(column.table_oid, column.name)] = sequence.last_value
    return positions


@rule(
    "fk-type-mismatch",
    category=INTEGRITY,
    severity=HIGH,
    title="Reference whose type differs from the key it references",
    options=TypeMismatchOptions,
    regroup=reported_on_parents(lambda draft: draft.evidence["referenced"]),
)
def fk_type_mismatch(snap: Snapshot, opts: TypeMismatchOptions) -> Iterator[Draft]:
    """A referencing column's type cannot hold, or cannot be compared with, the key.

    Checks declared foreign keys and references inferred from names (`teacher_id` ->
    `teachers.id`, see `missing-foreign-key`); a text column whose values, where rows
    were read, are all too short to be a uuid's text is not taken for a reference to a
    uuid key (a code of its own). Nor is a text column named for a key of another type
    in a table whose other text `*_id` columns name no table (GitLab's
    slack_integrations: `user_id` beside `team_id`, both Slack's ids, `U024BE7LH` and
    `T024BE7LH`, not users.id): the table keeps another system's ids, and this one is
    among them; converting it to the key's type would fail. High when the types cannot be
    compared (uuid against an integer, text against uuid): no constraint is possible at
    all. Medium when an integer column is narrower than the integer key it references,
    integer meets numeric, or char(n) meets varchar or text (Vaultwarden's `char(36)`
    `user_uuid` columns referencing `users.uuid varchar(40)`). Where a sequence feeds
    the key and its position was read, the narrower column's risk is measured: high once
    the key has passed the column's largest value (new references to it cannot be
    stored), low while it has used under `low_below` (1 %) of that range (a lookup table
    of a few rows). One level lower for
    a reference inferred with medium confidence (another schema, or a key not named
    `id`). Info, with no fix, for a column left beside its replacement: named as another
    column of the table with `_old`, `_legacy` or `_deprecated` added (before or after, or
    `Old`, `Legacy` after a camelCase name), where that column
    references the same key with the key's type (Concourse's `builds.rerun_of_old`
    integer beside `rerun_of` bigint, both referencing `builds (id)`, after the key grew
    to bigint): new values go into the replacement, and the old column holds values
    from before, which fit; the evidence names the replacement (`replaced_by`).

    ## Why it breaks
    - **uuid and integer** have no comparison: no foreign key can be declared, and a
      join needs a conversion through text that no index can serve.
    - **varchar or text referencing uuid** accepts any text: values that are no
      existing key's text are stored and never match, no constraint can be declared,
      and a join must cast one side (`lesson_id::uuid`), so the index on that side is
      not used, and a single malformed value makes the cast, and the query, fail.
    - **char(n) referencing varchar or text** (or the reverse) has no equality operator
      taking both: the foreign key's checks cast the referencing column to the key's
      type (`user_uuid::text = $1`), so an index on it, even the referencing table's
      primary key, cannot serve them, and every delete or key update of a referenced
      row scans the referencing table (`unindexed-foreign-key` reports it unindexed).
    - **int4 referencing int8** works until the key passes 2,147,483,647; from then on
      a row that references such a key cannot be stored ("integer out of range"), and
      widening the column later rewrites the table under an ACCESS EXCLUSIVE lock.

    ## Fix
    Change the referencing column to the key's type (`ALTER COLUMN ... TYPE ...
    USING column::type`: a table rewrite under ACCESS EXCLUSIVE, which fails without
    changing anything if a value does not convert), then declare the foreign key
    (`missing-foreign-key`). uuid against integer has no conversion: add a column of
    the right type, fill it from the referenced table, and switch over. No automatic
    fix for a column of a partition key either: PostgreSQL cannot change its type. A
    column its replacement has taken over needs no widening: drop it once the
    application no longer reads it. A column that tables inherit (INHERITS) is reported
    and converted on the table that defines it, which converts theirs too: PostgreSQL
    refuses the change on a child ("cannot alter inherited column").
    """
    facts = snap.facts
    positions = key_positions(snap)
    referencing = {(r.table.oid, c.name) for r in facts.inferred_references for c in r.columns}
    outside: dict[int, list[str]] = {}  # by table oid, once per table (see outside_ids)
    matching: set[tuple[int, str, int, str]] | None = None  # see matching_references
    for reference in (*facts.declared_references, *facts.inferred_references):
        for mismatch in reference.mismatches():
            column, key = mismatch.column, mismatch.key
            if not reference.declared and column.type_category == "S":
                table = reference.table
                if table.oid not in outside:
                    outside[table.oid] = outside_ids(snap, table, referencing)
                if outside[table.oid]:
                    continue  # another system's id, like its text siblings (see outside_ids)
            severity = HIGH if not mismatch.comparable else MEDIUM
            evidence: dict[str, object] = {
                "referenced": key.qualname,
                "column_type": column.data_type,
                "referenced_type": key.data_type,
                "declared": reference.declared,
                "confidence": reference.confidence,
                "constraint_possible": mismatch.comparable,
                "breaks": describe_mismatch(mismatch),
            }
            position = positions.get((key.table_oid, key.name))
            if mismatch.kind == "narrower" and position is not None:
                limit = INTEGER_LIMITS[column.type_name]
                evidence.update(key_position=position, column_limit=limit)
                if position > limit:
                    severity = HIGH
                elif position < opts.low_below * limit:
                    severity = LOW
            if reference.confidence == "medium":
                severity = LOWER[severity]
            if reference.constraint is not None:
                evidence["constraint"] = reference.constraint.name
            how = "references" if reference.declared else "evidently references (by its name)"
            message = f"{column.data_type} column {how} {key.qualname} ({key.data_type})"
            fix = None
            views = snap.facts.views_using.get((column.table_oid, column.name))
            replacement = None
            if LEFT_BEHIND.match(column.name):  # rare: the references are matched then
                matching = matching_references(snap) if matching is None else matching
                replacement = replacement_of(snap, column, key, matching)
            if replacement is not None:
                severity, fix = INFO, None  # no new value goes into it
                evidence["replaced_by"] = replacement.name
                evidence["leftover"] = (
                    f"{replacement.name} ({replacement.data_type}) beside it references"
                    f" {key.qualname} as well, with the key's type: {column.name} is the"
                    " column it replaced, left in place, and holds only values from before"
                    " (they fit); widening it would rewrite the table for nothing: drop it"
                    " once nothing reads it"
                )
                message += (
                    f"; left beside {replacement.name} ({replacement.data_type}), its replacement"
                )
            elif views:
                evidence["used_by_views"] = views  # they block ALTER COLUMN ... TYPE
            elif mismatch.comparable or column.type_category == "S":
                converted = fixes.convert_column_type(
                    snap, column, key.data_type, inheriting_columns(snap, column)
                )
                fix = fixes.offered(converted, evidence)
                listing = fixes.unconvertible_rows_query(column, key.data_type)
                if fix is not None and listing is not None:
                    # a schema-only copy has no rows to fail on; real ones may ('', 'anon')
                    fix = fix.listing_first(
                        listing,
                        f"the first query lists the rows whose {column.name} does not read as"
                        f" {key.data_type}: the conversion fails on them, changing nothing;"
                        " fix or clear them first",
                    )
            yield finding(
                column,
                message,
                evidence=evidence,
                fix=fix,
                severity=None if severity == HIGH else severity,
            )


# the name of a column kept after a replacement took its name: `rerun_of_old`,
# `old_rerun_of`, `user_id_legacy`, `rerunOfOld`; the group is the replacement's name
LEFT_BEHIND = re.compile(
    r"^(?:old|legacy|deprecated)_(.+)$|^(.+?)_(?:old|legacy|deprecated)$|^(.+?)(?:Old|Legacy)$"
)


def matching_references(snap: Snapshot) -> set[tuple[int, str, int, str]]:
    """(table oid, column, key's table oid, key column) of each one-column reference,
    declared or inferred, whose type matches its key's."""
    facts = snap.facts
    return {
        (r.table.oid, r.columns[0].name, r.ref_table.oid, r.ref_columns[0].name)
        for r in (*facts.declared_references, *facts.inferred_references)
        if len(r.columns) == 1 and not r.mismatches()
    }


def replacement_of(
    snap: Snapshot, column: Column, key: Column, matching: set[tuple[int, str, int, str]]
) -> Column | None:
    """The column of the same table that replaced this one: named as this one is without
    its `_old` (Concourse's `builds.rerun_of` bigint beside `rerun_of_old` integer, after
    its key grew to bigint), and referencing the same key with the key's type."""
    named = LEFT_BEHIND.match(column.name)
    if named is None:
        return None
    name = next(group for group in named.groups() if group)
    if (column.table_oid, name, key.table_oid, key.name) not in matching:
        return None
    return snap.facts.column_by_name.get((column.table_oid, name))


def outside_ids(snap: Snapshot, table: Table, referencing: set[tuple[int, str]]) -> list[str]:
    """The table's text columns named like references (`team_id`, `externalId`) that
    reference nothing: no foreign key, and no table of the name (not among `referencing`,
    the columns of inferred references). A table with one keeps another system's ids (a
    chat workspace's, a payment provider's), and its other text `*_id` columns are more of
    them, whatever their names say. (Asked per table, for the few with a mismatch: not a
    pass over every column of the schema.)"""
    declared = snap.facts.columns_in_foreign_keys
    return [
        column.name
        for column in snap.columns_by_table.get(table.oid, [])
        if column.type_category == "S"
        and column.name.endswith(("id", "Id", "ID"))  # cheap first: most are not
        and reference_stem(column.name) is not None
        and (table.oid, column.name) not in referencing
        and (table.oid, column.name) not in declared
    ]


@dataclass(frozen=True)
class MissingForeignKeyOptions:
    medium_confidence: bool = option(
        True, "also report references inferred with medium confidence (other schema, key not id)"
    )


@rule(
    "missing-foreign-key",
    category=INTEGRITY,
    severity=MEDIUM,
    title="Column evidently references another table, with no foreign key",
    options=MissingForeignKeyOptions,
    rows=ROWS_OPTIONAL,
    needs=("orphan_counts",),
    regroup=folded_into_parents(
        lambda draft: (
            tuple(draft.evidence["columns"]),
            draft.evidence["referenced"],
            tuple(draft.evidence["referenced_columns"]),
        ),
        lambda snap, parent, child, draft: draft.fix,
        "with the same reference and no foreign key either (foreign keys are not inherited)",
    ),
)
def missing_foreign_key(snap: Snapshot, opts: MissingForeignKeyOptions) -> Iterator[Draft]:
    """A column named after another table holds its keys, but nothing enforces it.

    `teacher_id`, `teacherId` or `TeacherID` beside a table `teachers` (or `teacher`)
    whose key is `id` (or `teacher_id`; or, in a table with no primary key, a
    `teacher_id` that a unique index alone keeps distinct and NOT NULL, the key it is in
    all but name), with a type a foreign key accepts, and no foreign key on the column.
    Where the key is one column named as an id but not `id`, the name of the table and
    of the key spelled together point at it too (hoppscotch's `TeamMember."userUid"` ->
    `"User" (uid)`); `account_uuid` beside `accounts (id)` does not, nor does `team_id`
    beside `teams ("teamsId")`, a key that spells its table's plural name, as references
    to it then do (Dokploy's `teams` of Microsoft Teams webhooks, and better-auth's
    `member.team_id` of its own teams).
    A name that a declared foreign key of the schema gives another meaning (`user_id`
    declared as a reference to `users (name)`) does not point at the key. Plurals come
    from an English inflection library (`lesson_plan_id` -> `lesson_plans`, `person_id`
    -> `people`). A table whose columns all begin with one prefix (MediaWiki's
    `revision`: `rev_*`) names its references after it: `rev_actor` -> `actor`,
    `rev_comment_id` -> `comment`, `slot_revision_id` -> `revision`, where the key is one
    id column of the same type (medium confidence: low), and a plural after the prefix
    is a count (`cat_pages`). The referenced table
    may be in another schema when exactly one table there matches (medium confidence;
    low severity). Unless `--no-data`, the rows that would violate the constraint
    (orphans) are counted: exactly below 100,000 rows, else estimated from a
    TABLESAMPLE (`orphans_sampled`). High when orphans exist: rows already point at
    nothing. A name that matches no table is not reported, nor an id beside a type of
    the same stem (`owner_id` and `owner_type`: a polymorphic reference, or a code
    host's own id beside the host's kind); a type that cannot hold the key is
    `fk-type-mismatch`. Low, with no fix, where a CHECK lets the column equal a
    constant (`(user_id = 0)` for anonymous events): rows use that value for "none",
    and a foreign key, even NOT VALID, would refuse them from then on. Likewise where the
    column's DEFAULT is an integer of 0 or below (cal.com's avatars: `teamId` and `userId`
    default to 0 for "none"): keys from a sequence start at 1; or the Nil UUID
    `00000000-0000-0000-0000-000000000000` (Kong's `ratelimiting_metrics`: the counters of
    no service or route), which no generator hands out. Likewise where the rows
    read show it: every orphan holds 0 or below (GitLab's boards.milestone_id holds -1 and
    -2 for the Upcoming and Started milestones), the Nil UUID in a uuid column, or, in a
    text column, '' (Synapse's stream position rows). Low, with no fix,
    where a trigger of the referenced table records its deleted rows for the
    application to clean up the references later (GitLab's loose foreign keys, kept in
    place of constraints on purpose, some across databases): the application deletes
    rows that are still referenced, and a foreign key would make those deletes fail.
    Low, with no fix, from a table that a DELETE trigger of the referenced table writes
    to (Immich's `assets_delete_audit` fills `assets_audit` with the ids of deleted
    assets for its clients to sync): each of its rows names a row deleted by then.
    Low, with no fix, from a table named as an archive, a history, an audit table or log, a
    tombstone or a warehouse's fact table (`*_archived`, `*_histories`, Boundary's `*_hst`
    and `wh_session_accumulating_fact`, `*_snapshot_fact`, `*_transaction_fact`, Zabbix's
    `history_uint`, `trends` and `auditlog`, Icinga DB's `sla_history_downtime`,
    MediaWiki's `archive` of deleted pages' revisions, Nakama's `console_audit_log` and
    `user_tombstone`, which records the ids of deleted users, Immich's `users_audit`
    and `albums_audit`): its rows are kept after the
    row they name is deleted, which a foreign key would refuse. Tables that inherit from
    another by INHERITS (not partitions) hold its columns but not its foreign keys: where
    the parent's column has no constraint either, its finding lists them
    (`inheritance_children`) and its fix adds the key to each of them too, in place of a
    finding each; a child keeps its own where its finding is more severe (orphans of its
    own), where the parent's is excused, or where it has no fix and the parent's has.

    ## Why it breaks
    Without the constraint, deleting a referenced row (or a bug, or a manual fix)
    leaves rows that point at nothing; joins silently drop them, counts disagree
    between reports, and the application meets "not found" for data it just listed.
    The constraint is also what tells tools (ORMs, ER diagrams, data catalogs) that
    the relation exists, and lets the planner remove unneeded joins.

    ## Fix
    Find the orphan rows (the first statement lists them), then repair or delete them.
    Unless an index already serves lookups on the referencing columns (one that leads
    with them, as `unindexed-foreign-key` asks), the fix builds one first with
    `CREATE INDEX CONCURRENTLY IF NOT EXISTS` (`missing-index-for-query` may advise the
    same index under the same name), which does not block writes but cannot run inside a
    transaction block (a partitioned table's index is made on the parent as
    `unindexed-foreign-key`'s fix makes it, which may block writes while partitions'
    indexes build): with the key and no index, every delete of a referenced row would
    scan the referencing table. Where the columns begin another reference of the table
    that has no index either, or another begins with them, the index is the longer one,
    which serves both (`unindexed-foreign-key` builds the same). Then
    `ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID` takes a brief lock and checks new
    rows from then on, and `VALIDATE CONSTRAINT` checks the existing rows without
    blocking writes (it fails, changing nothing, while orphans remain). Where every
    foreign key that other tables declare to the referenced table deletes or empties its
    rows with the referenced row (`ON DELETE CASCADE`, `SET NULL`: every one of Ory
    Kratos's keys to `identities` and `sessions`, beside its verification flows'
    undeclared `identity_id` and `session_id`), the application deletes those rows and
    relies on the database to clean up: a plain key would make each such delete fail
    while a row here names it. The key then takes `ON DELETE SET NULL` where the columns
    are nullable (evidence `on_delete`, and `deletes_cleaned_up_by` names those keys);
    on NOT NULL columns a note says so, and `ON DELETE CASCADE`, which deletes rows, is
    left to you. A parent's fix
    does the same on each table that inherits from it, as its finding lists them. The
    rollback drops the constraint and the index it built.

    ## Silence
    A reference kept loose on purpose (rows outlive their parent, e.g. an audit log):
    `pgvitals:ignore missing-foreign-key <reason>` in the column's COMMENT.
    """
    facts = snap.facts
    counts = {(o.table_oid, tuple(o.columns)): o for o in snap.orphans}
    for reference in facts.inferred_references:
        if reference.mismatches():
            continue  # fk-type-mismatch reports it
        if reference.confidence == "medium" and not opts.medium_confidence:
            continue
        table, target = reference.table, reference.ref_table
        columns, keys = reference.column_names, reference.ref_column_names
        evidence: dict[str, object] = {
            "columns": columns,
            "referenced": target.qualname,
            "referenced_columns": keys,
            "confidence": reference.confidence,
            "referencing_rows": facts.rows(table),
        }
        count = counts.get((table.oid, tuple(columns)))
        orphans = None
        if count is not None and count.status == "ran":
            orphans = count.orphan_rows
            evidence["orphan_rows"] = orphans
            evidence["checked_rows"] = count.checked_rows
            if count.sampled:
                evidence["orphans_sampled"] = True
            if orphans and count.sentinel_rows:
                evidence["sentinel_rows"] = count.sentinel_rows
        elif count is not None:
            evidence["orphans_not_counted"] = count.reason
        severity = None
        if reference.confidence == "medium":
            severity = LOW
        elif orphans:
            severity = HIGH
        name = free_constraint_name(snap, table, columns)
        # the application deletes target rows and has the database clean up after them:
        # a key that refuses those deletes would break it
        cleaned_by = deletes_cleaned_up_by(snap, target, table)
        optional = all(not column.not_null for column in reference.columns)
        fix = fixes.add_foreign_key(
            table, columns, target, keys, name, set_null_on_delete=bool(cleaned_by) and optional
        )
        if cleaned_by:
            evidence["deletes_cleaned_up_by"] = cleaned_by
            if not optional:
                fix = fix.with_note(
                    f"every other foreign key to {fixes.one_line(target.qualname)} deletes or"
                    " empties its rows with it: as written, this key makes deleting a row"
                    " that rows here name fail; add ON DELETE CASCADE if they go with it"
                )
        served_by = snap.facts.lookup_index(reference)
        if served_by is None:
            # the key alone would be the next finding (unindexed-foreign-key): each delete
            # of a referenced row would scan this table to enforce it
            fix = fixes.reference_index(snap, table, columns, if_not_exists=True) + fix
        else:
            evidence["lookup_index"] = served_by.name
        adopted = partition_foreign_keys(snap, reference)
        if adopted:
            # the new key adopts these partitions' own equal keys, and dropping it drops
            # them too: the rollback adds them back
            restore = [fixes.add_constraint_statement(c) for c in adopted]
            rollback = (*(fix.rollback or ()), *(r for r in restore if r))
            fix = Fix(fix.statements, rollback, fix.risk, fix.notes)
            evidence["partitions_with_constraint"] = len(adopted)
        if orphans != 0:
            known = f"{orphans:,} " if orphans else ""
            fix = fix.listing_first(
                fixes.list_orphans_statement(table, columns, target, keys),
                f"the first query lists the {known}rows that point at no"
                f" {fixes.one_line(target.qualname)} row: repair or delete them, or"
                " VALIDATE fails",
            )
        message = (
            f"({', '.join(columns)}) evidently references {target.qualname} with no constraint"
        )
        sentinel = sentinel_check(snap, table, columns)
        loose = facts.loose_reference_triggers.get(target.oid)
        kept = KEPT_AFTER_PARENT.search(table.name.lower())
        recorder = facts.deletion_records.get((target.oid, table.oid))
        if recorder is not None:
            evidence["deletion_record_trigger"] = recorder.name
            severity, fix = LOW, None  # each of its rows names a row deleted by then
            message += (
                f"; kept loose on purpose: trigger {recorder.name} of {target.qualname} writes"
                f" its deleted rows to {table.qualname}, whose rows so name rows that are"
                " gone, and a foreign key would make every delete fail"
            )
        elif kept is not None:
            evidence["kept_after_parent"] = next(word for word in kept.groups() if word)
            severity, fix = LOW, None  # a key would refuse deleting the row it names
            message += (
                f"; kept loose on purpose: {table.name} is named as an archive, a history,"
                " an audit table or log, a tombstone or a warehouse's fact table,"
                " whose rows stay after the row they name is deleted, which a foreign key"
                " would refuse"
            )
        elif loose is not None:
            evidence["loose_reference_trigger"] = loose.name
            severity, fix = LOW, None  # the application's deletes of target rows would fail
            message += (
                f"; kept loose on purpose: trigger {loose.name} records deleted"
                f" {target.qualname} rows for the application to clean up the rows that"
                " reference them later, and a foreign key would make those deletes fail"
            )
        elif sentinel is not None:
            check, value = sentinel
            evidence.update(sentinel=value, sentinel_check=check.name)
            severity, fix = LOW, None  # its NOT VALID key would refuse those rows' inserts
            message += (
                f", and CHECK {check.name} admits {columns[0]} = {value} for rows with none:"
                " a foreign key would reject them (store NULL instead, then add it)"
            )
        elif (value := sentinel_default(snap, table, columns)) is not None:
            evidence.update(sentinel=value, sentinel_default=True)
            severity, fix = LOW, None  # its key would refuse every row that takes the default
            message += (
                f", and its DEFAULT {value} stands for rows with none: a foreign key would"
                " reject them (store NULL instead, then add it)"
            )
        elif orphans and count is not None and count.sentinel_rows == orphans:
            severity, fix = LOW, None  # its key would refuse each of them, and their inserts
            if reference.columns[0].type_category == "S":
                held = f"hold '' in {columns[0]}, a stand-in"
            elif reference.columns[0].type_name == "uuid":
                held = (
                    f"hold the Nil UUID in {columns[0]}, which no generator hands out: a stand-in"
                )
            else:
                held = f"hold {columns[0]} <= 0, which no sequence hands out: stand-ins"
            message += (
                f"; the rows that point at nothing all {held} for none or a special choice,"
                " which a foreign key would reject (store NULL or move the choice to its own"
                " column, then add it)"
            )
        elif orphans:
            sampled = "about " if count is not None and count.sampled else ""
            point = "points" if orphans == 1 else "point"
            message += f"; {sampled}{plural(orphans, 'row')} already {point} at nothing"
        if fix is not None and cleaned_by and optional:
            evidence["on_delete"] = "set null"
            message += (
                f"; every foreign key to {target.qualname} deletes or empties its rows when"
                " the row is deleted, as the application expects: the fix's key sets these"
                " columns NULL then, where a plain one would make those deletes fail"
            )
        where = reference.columns[0] if len(reference.columns) == 1 else table
        yield finding(where, message, evidence=evidence, fix=fix, severity=severity)


def deletes_cleaned_up_by(snap: Snapshot, target: Table, table: Table) -> list[str]:
    """The foreign keys of other tables to `target`, where there are some and each one
    deletes or empties its rows when a target row is deleted (ON DELETE CASCADE, SET NULL
    or SET DEFAULT: every one of Kratos's keys to `identities` and `sessions`): the
    application deletes target rows and relies on the database to clean up after them,
    which a new key with the default NO ACTION would refuse wherever rows of `table`
    name the deleted row. None where some key refuses such deletes (NO ACTION,
    RESTRICT): deletes are then expected to fail while references remain."""
    if snap.facts.refusing_deletes.get(target.oid, set()) - {table.oid, target.oid}:
        return []  # read once per target: a hub table has hundreds of keys to it
    keys = snap.facts.foreign_keys_referencing.get(target.oid, [])
    return sorted({key.name for key in keys if key.table_oid not in (table.oid, target.oid)})


# a table of rows kept after their parent goes (GitLab's slack_integrations_scopes_archived,
# gitlab_subscription_histories; Zabbix's history, history_uint, trends_uint, one per value
# type, whose rows of a deleted item its housekeeper deletes later in batches, and auditlog,
# kept after the user goes; MediaWiki's archive, the revisions of deleted pages; Boundary's
# target_ssh_hst, a history its triggers keep, and its warehouse's wh_session_accumulating_fact,
# whose session_id stays after the session is deleted; Immich's users_audit, albums_audit,
# the ids of deleted rows for its clients to sync)
KEPT_AFTER_PARENT = re.compile(
    r"_(archived?|archives|history|histories|hst|hist|audit|audit_?logs?|tombstones?)$"
    r"|_(?:accumulating|snapshot|transaction)_(facts?)$"  # a warehouse's, in Kimball's words
    r"|^(history|trends|audit_?logs?|archive|tombstones?)(_[a-z0-9]+)?$"
    # a history of one kind of thing: Icinga DB's sla_history_state, sla_history_downtime
    r"|^[a-z0-9]+_(history|histories)_[a-z0-9]+$"
)

# an integer literal as a CHECK's deparsed text writes it: `0`, `'-1'::integer`
INTEGER_LITERAL = r"(-?\d+|'-?\d+'::[a-z]+)"


def sentinel_check(
    snap: Snapshot, table: Table, columns: list[str]
) -> tuple[Constraint, str] | None:
    """A CHECK of the table that lets the (single) referencing column equal a constant:
    `(user_id = 0)` in Sourcegraph's event_logs, for events of anonymous users. Rows
    store that value for "no row there", which no foreign key accepts. The constraint
    and the value (as the CHECK writes it), or None."""
    if len(columns) != 1:
        return None
    checks = [
        c
        for c in snap.constraints_by_table.get(table.oid, [])
        if c.kind == "c" and columns[0] in c.columns and c.definition
    ]
    if not checks:  # most references: no pattern to compile (3,500 of them at 10k tables)
        return None
    name = re.escape(columns[0])
    column = rf'(?:{name}|"{name}")'
    equal = re.compile(
        rf"\(\s*{column}\s*=\s*{INTEGER_LITERAL}\s*\)|\(\s*{INTEGER_LITERAL}\s*=\s*{column}\s*\)"
    )
    for check in checks:
        match = equal.search(check.definition or "")
        if match:
            return check, (match.group(1) or match.group(2)).split("::")[0].strip("'")
    return None


def sentinel_default(snap: Snapshot, table: Table, columns: list[str]) -> str | None:
    """The (single) referencing column's DEFAULT where it is an integer of 0 or below, or
    the Nil UUID, else None. Keys a sequence hands out start at 1, and no generator hands
    out the Nil UUID, so rows that take such a default store it for "no row there":
    cal.com's avatars default teamId and userId to 0, a user's avatar holding teamId 0
    and a team's userId 0; Kong's ratelimiting_metrics default service_id and route_id to
    the Nil UUID for counters of no service or route."""
    if len(columns) != 1:
        return None
    column = snap.facts.column_by_name.get((table.oid, columns[0]))
    if column is not None and column.default == f"'{NIL_UUID}'::uuid":
        return NIL_UUID
    match = re.fullmatch(INTEGER_LITERAL, (column.default or "") if column else "")
    if match is None:
        return None
    value = match.group(0).split("::")[0].strip("'")
    return value if int(value) <= 0 else None


def partition_foreign_keys(snap: Snapshot, reference: Reference) -> list[Constraint]:
    """Foreign keys that partitions of the referencing table declare themselves on the
    same columns to the same table (pagila declares them per partition)."""
    if reference.table.kind != "p":
        return []
    columns = reference.column_names
    return [
        c
        for leaf in snap.facts.leaves_by_root.get(reference.table.oid, [])
        for c in snap.constraints_by_table.get(leaf.oid, [])
        if c.kind == "f"
        and not c.inherited
        and c.columns == columns
        and c.ref_table_oid == reference.ref_table.oid
    ]


def free_constraint_name(snap: Snapshot, table: Table, columns: list[str]) -> str:
    """`<table>_<columns>_fkey` from the snapshot's allocator: numbered when the table or
    one of its partitions (which get the key under the same name) already has a
    constraint so named, or another fix of this run was given it (names that PostgreSQL
    shortens to 63 bytes can come out alike)."""
    tables = [table.oid, *(partition.oid for partition in fixes.partitions_below(snap, table))]
    purpose = ("foreign key", table.oid, tuple(columns))
    column_part = "_".join(columns)
    return snap.facts.names.new(table.schema, table.name, column_part, "fkey", purpose, tables)


@rule(
    "unvalidated-constraint",
    on_library_tables=True,
    category=INTEGRITY,
    severity=MEDIUM,
    title="Constraint added NOT VALID and never validated",
    rows=ROWS_OPTIONAL,
    needs=("violation_counts",),
)
def unvalidated_constraint(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """A foreign key or CHECK added `NOT VALID` whose `VALIDATE CONSTRAINT` never ran.

    Unless `--no-data`, the rows that break it are counted (exactly below 100,000 rows,
    estimated from a TABLESAMPLE above): 0 means VALIDATE would pass now. High when
    rows break it. A foreign table's CHECK is not reported: PostgreSQL never checks a
    foreign table's rows against it, and VALIDATE only marks it validated.

    ## Why it breaks
    `NOT VALID` checks new and updated rows only; the rows that were there when it was
    added are not checked, so the constraint promises nothing about them: joins can meet
    orphans, and the planner does not use an unvalidated CHECK to exclude partitions or
    an unvalidated foreign key to remove joins. The next UPDATE of a violating row fails,
    far from the code that wrote it. The step was meant to be followed by VALIDATE.

    ## Fix
    Repair or delete the violating rows, then `ALTER TABLE ... VALIDATE CONSTRAINT`. It
    takes a SHARE UPDATE EXCLUSIVE lock: reads and writes go on while it scans.
    """
    counts = {v.object_oid: v for v in snap.violations}
    kinds = {"f": "foreign key", "c": "CHECK"}
    tables = snap.table_by_oid
    for constraint in snap.facts.unvalidated_constraints:
        table = tables.get(constraint.table_oid)
        if table is not None and table.kind == "f":
            # PostgreSQL never checks a foreign table's rows against its CHECKs (they
            # state what the remote data satisfies): VALIDATE would read no row
            continue
        evidence: dict[str, object] = {
            "kind": kinds[constraint.kind],
            "definition": constraint.definition,
        }
        count = counts.get(constraint.oid)
        violating = None
        if count is not None and count.status == "ran":
            violating = count.violating_rows
            evidence["violating_rows"] = violating
            evidence["checked_rows"] = count.checked_rows
            if count.sampled:
                evidence["violations_sampled"] = True
        elif count is not None:
            evidence["violations_not_counted"] = count.reason
        fix = fixes.validate_constraint(snap, constraint)
        message = f"{kinds[constraint.kind]} {constraint.name} was added NOT VALID"
        if violating:
            about = "about " if count is not None and count.sampled else ""
            breaks = "breaks" if violating == 1 else "break"
            message += f"; {about}{plural(violating, 'existing row')} {breaks} it"
            fix = fix.with_note(
                f"{plural(violating, 'row')} {breaks} it: VALIDATE fails until they are fixed"
            )
        elif violating == 0:
            message += "; no existing row breaks it: VALIDATE would pass now"
        yield finding(
            constraint,
            message,
            evidence=evidence,
            fix=fix,
            severity=HIGH if violating else None,
        )


@rule(
    "nullable-unique",
    category=INTEGRITY,
    severity=MEDIUM,
    title="Unique key over nullable columns lets duplicates in through NULLs",
    rows=ROWS_OPTIONAL,
    needs=("violation_counts",),
)
def nullable_unique(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """A unique constraint or index on several columns, some of which allow NULL.

    Unless `--no-data`, the rows that are duplicates once NULLs count as equal are counted
    (tables under 100,000 rows); high when some exist. Rows NULL in every key column are
    not counted: they have no key at all (NetBox's `UNIQUE (virtual_chassis_id,
    vc_position)`, both NULL for every device outside a virtual chassis), and `NULLS NOT
    DISTINCT` would allow one such row. Low when every key column may be NULL (repeated
    all-NULL keys are usually meant). Single-column unique keys are not reported:
    there, several NULLs usually mean "none" on purpose. A column that the index's predicate
    tests (`WHERE code IS NOT NULL`, `WHERE kind = 'x'`) cannot be NULL in it, and a NULL
    column guarded by another unique index for exactly those rows (`UNIQUE (room_id,
    user_id) WHERE thread_id IS NULL`, or with `(thread_id IS NULL)` as a key as well) is
    not counted, and still counts as optional for the low. Low as well when the nullable
    columns take part in no foreign key and the rest of the key is among a foreign key's
    columns (Boundary's `UNIQUE (scope_id, name)`, a name unique in its scope where one is
    given), even with repeats, the unnamed rows: as in a one-column key, NULL means none; so
    too when the rest of the key is the tenant column (openmeter's `UNIQUE (namespace,
    key)`, an optional external key). A nullable parent (`(tenant_id, email)` with
    `tenant_id` NULL) stays medium. Repeats do not make it high where the nullable columns
    in foreign keys are never NULL in the analyzed rows (`null_frac` 0 in `pg_stats`) and
    another nullable column is in none (Kong's `plugins`: `UNIQUE (ws_id, instance_name)`,
    `ws_id` always set, most plugins unnamed): those repeats are the rows without the
    optional value; low when every key column may be NULL, else medium. A key that contains
    the primary key, or the columns of another unique index over NOT NULL columns, plain or
    read by its expressions (Coder's `custom_roles`: `UNIQUE (name, organization_id)` beside
    `UNIQUE (lower(name))`), cannot repeat at all. Info when each nullable column is emptied
    by a foreign key's `ON DELETE SET NULL` (listmonk's `campaign_lists (campaign_id,
    list_id)`, a row kept with the list's name after the list is deleted): those NULL
    repeats are what deleting parents leaves, and with `NULLS NOT DISTINCT` deleting the
    second parent of one campaign fails. Where only some are (listmonk's `campaign_media`:
    `media_id` SET NULL, `campaign_id` merely nullable), the severity is as for any key,
    and the message says to make the others NOT NULL rather than use `NULLS NOT DISTINCT`,
    which would make those deletes fail (evidence `set_null_by`). Info as well when the
    one nullable column is the soft-delete marker and another unique index over the live
    rows (`WHERE deleted_at IS NULL`) holds the rest of the key but the tenant column, and
    more (openmeter's plans:
    `UNIQUE (namespace, key, deleted_at)` beside `UNIQUE (namespace, key, version) WHERE
    deleted_at IS NULL`): live rows repeat on this key by design, and `NULLS NOT DISTINCT`
    would reject them. Unique indexes of materialized views are not reported: PostgreSQL
    marks none of their columns NOT NULL, even those read from NOT NULL columns, and cannot
    be told to; nothing but REFRESH writes to them, so no insert or upsert relies on the
    key.

    ## Why it breaks
    By default a unique index treats NULLs as distinct from each other, so `(tenant_id,
    email)` accepts `(NULL, 'a@example.com')` any number of times: the key the schema
    seems to promise does not hold for exactly the rows where one part is missing.
    `ON CONFLICT` on that key never fires for them either, so an upsert inserts a new
    row each time.

    ## Fix
    Make the columns NOT NULL where a value always exists; otherwise, from PostgreSQL 15,
    build the index with `NULLS NOT DISTINCT` (`CREATE UNIQUE INDEX CONCURRENTLY ...
    NULLS NOT DISTINCT`, then swap it in); before 15, a second unique index on
    `COALESCE`d columns or a partial unique index per NULL pattern. Remove the existing
    duplicates first.
    """
    counts = {v.object_oid: v for v in snap.violations}
    facts = snap.facts
    for index, nullable in facts.nullable_uniques:
        keys = [k or "" for k in index.key_columns[: index.key_count]]  # plain columns only
        evidence: dict[str, object] = {"keys": keys, "nullable": nullable}
        if index.constraint_name:
            evidence["constraint"] = index.constraint_name
        evidence["nulls_not_distinct_available"] = snap.server.version_num >= 150000
        count = counts.get(index.oid)
        duplicates = None
        if count is not None and count.status == "ran":
            duplicates = count.violating_rows
            evidence["null_duplicates"] = duplicates
        elif count is not None:
            evidence["duplicates_not_counted"] = count.reason
        message = (
            f"Unique ({', '.join(index.keys)}) accepts repeats where {', '.join(nullable)} is NULL"
        )
        if duplicates:
            message += f"; {duplicates:,} such duplicate rows exist"
        severity = None
        set_null_by = _set_null_by(snap, index.table_oid, nullable)
        if set_null_by:
            evidence["set_null_by"] = set_null_by
            message += (
                f"; ON DELETE SET NULL ({', '.join(set_null_by)}) leaves those NULLs: "
                "repeats are rows of deleted parents, and NULLS NOT DISTINCT would make "
                "deleting a second parent fail"
            )
            severity = INFO
        elif live_key := facts.live_key_elsewhere(index, nullable):
            evidence["live_rows_unique_by"] = live_key.name
            message += (
                f"; live rows are kept unique by {live_key.name} ({live_key.predicate}), whose"
                " wider key lets them repeat on this one: NULLS NOT DISTINCT would reject"
                " them, and this index holds back only deleted rows"
            )
            severity = INFO
        elif scoped_by := _optional_within_parent(snap, index, keys, nullable):
            # even with repeats: rows without the value are what it allows (unnamed ones)
            evidence["scoped_by"] = scoped_by
            scope = "tenant" if TENANT_COLUMN.match(scoped_by) else "parent"
            message += (
                f"; unique within the {scope} ({scoped_by}) where set: an optional value,"
                " whose NULLs mean none, as in a one-column unique key"
            )
            severity = LOW
        elif duplicates and (parents := _parents_never_null(snap, index, nullable)):
            # the repeats are rows without the optional value, under a parent they all have
            evidence["never_null_in_statistics"] = parents
            message += (
                f"; {', '.join(parents)}, though nullable, is never NULL in the analyzed rows:"
                " the repeats are rows without the optional value, whose NULLs mean none"
            )
            # low as for any key whose parts are all optional, else the default
            severity = LOW if all(facts.may_be_null(index, key) for key in keys) else None
        elif duplicates:
            severity = HIGH
        elif all(facts.may_be_null(index, key) for key in keys):
            severity = LOW  # all parts optional: (NULL, NULL) repeats are usually meant
        if not set_null_by and (emptied := _emptied_on_delete(snap, index.table_oid, nullable)):
            # some nullable columns only: NULLS NOT DISTINCT is no way out here either
            others = [name for name in nullable if name not in emptied]
            evidence["set_null_by"] = sorted(set(emptied.values()))
            message += (
                f"; ON DELETE SET NULL empties {', '.join(emptied)}, so NULLS NOT DISTINCT"
                f" would make deleting a second parent fail: make {', '.join(others)} NOT NULL"
                " instead, where it always holds a value"
            )
        yield finding(index, message, evidence=evidence, severity=severity)


def _optional_within_parent(
    snap: Snapshot, index: Index, keys: list[str], nullable: list[str]
) -> str | None:
    """A foreign key whose columns hold the rest, NOT NULL, of the key, when the
    nullable columns take part in no foreign key: `UNIQUE (scope_id, name)` with an
    optional name is "a name is unique in its scope, where one is given" (Boundary's
    36 `*_scope_id_name_uq`), what a one-column unique key over a nullable column says;
    or, where the rest is the tenant column (`namespace`), that column's name."""
    foreign_keys = snap.facts.foreign_keys_of.get(index.table_oid, [])
    if any(set(fk.columns) & set(nullable) for fk in foreign_keys):
        return None  # a nullable parent: the key's rows without one repeat (tenant_id, email)
    rest = set(keys) - set(nullable)
    for fk in foreign_keys:
        if rest and rest <= set(fk.columns):  # or part of one: a subtype's (scope_id, id)
            return fk.name
    if rest and all(TENANT_COLUMN.match(name) for name in rest):
        return ", ".join(sorted(rest))  # the tenant: openmeter's (namespace, key)
    return None


def _parents_never_null(snap: Snapshot, index: Index, nullable: list[str]) -> list[str]:
    """The nullable key columns that take part in a foreign key, where the statistics say
    none of them is NULL in any row analyzed (`null_frac` 0) and some other nullable key
    column takes part in none: Kong's `UNIQUE (ws_id, instance_name)`, `ws_id` nullable
    but always set, `instance_name` an optional label. Then the NULL repeats counted are
    rows without the label, as in a one-column unique key. Empty otherwise."""
    in_keys = {
        column
        for fk in snap.facts.foreign_keys_of.get(index.table_oid, [])
        for column in fk.columns
    }
    parents = [name for name in nullable if name in in_keys]
    if not parents or len(parents) == len(nullable):
        return []
    columns = [snap.facts.column_by_name.get((index.table_oid, name)) for name in parents]
    if all(c is not None and c.null_frac == 0 for c in columns):
        return parents
    return []


def _emptied_on_delete(snap: Snapshot, table_oid: int, nullable: list[str]) -> dict[str, str]:
    """Of the nullable columns, those a foreign key's ON DELETE SET NULL empties, each
    with that key's name (listmonk's campaign_media: media_id, not campaign_id)."""
    emptied = {}
    for fk in snap.facts.foreign_keys_of.get(table_oid, []):
        if fk.on_delete == "n":
            emptied.update((column, fk.name) for column in fk.columns if column in nullable)
    return {column: emptied[column] for column in nullable if column in emptied}


def _set_null_by(snap: Snapshot, table_oid: int, nullable: list[str]) -> list[str]:
    """The foreign keys whose ON DELETE SET NULL empties every one of `nullable`, or
    none when some nullable column is not emptied that way: then the NULLs there are the
    application's, and the key's promise is worth checking."""
    foreign_keys = [c for c in snap.facts.foreign_keys_of.get(table_oid, []) if c.on_delete == "n"]
    if not all(any(column in fk.columns for fk in foreign_keys) for column in nullable):
        return []
    return sorted(fk.name for fk in foreign_keys if set(fk.columns) & set(nullable))
