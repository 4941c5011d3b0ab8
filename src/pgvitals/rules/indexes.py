"""Index rules: missing, duplicate, redundant, unused and invalid indexes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from pgvitals import fixes
from pgvitals.fmt import human_bytes, parse_timestamp, plural, short_time
from pgvitals.rules import _bloat
from pgvitals.rules._api import (
    HIGH,
    INDEXES,
    INFO,
    LOW,
    MEDIUM,
    ROWS_OPTIONAL,
    Draft,
    NoOptions,
    finding,
    option,
    rule,
)
from pgvitals.rules.maintenance import (
    BloatOptions,
    bloat_evidence,
    bloat_severity,
    bloat_words,
    churn_per_pass,
    churn_words,
)
from pgvitals.snapshot.facts import (
    Facts,
    distinct_values,
    keep_first,
    leads_with,
)
from pgvitals.snapshot.model import Column, Index, Snapshot, Table


@dataclass(frozen=True)
class ForeignKeyOptions:
    large_table_rows: int = option(10_000, "referencing tables this large make it high")
    small_table_rows: int = option(1_000, "referencing tables smaller than this make it low")
    few_rows_per_value: int = option(
        1_000,
        "an index leading with one of the key's columns serves the lookup well enough (low)"
        " while it finds at most this many rows per value",
    )


@rule(
    "unindexed-foreign-key",
    on_library_tables=True,
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

    A whole-table unique index on some of the key's columns serves its lookup: it
    finds at most one row, which the rest of the lookup filters (Ente's trash, whose
    primary key is `file_id`, references collection_files by `(file_id, collection_id)`).
    So does an index on the columns that reference a unique key of the parent by
    themselves: Boundary's `(scope_id, auth_method_id) REFERENCES auth_ldap_method
    (scope_id, public_id)`, whose `public_id` is the parent's primary key, is served by
    an index leading with `auth_method_id`, which finds exactly one parent's rows.

    A multi-column key whose lookup an index leading with one of its columns narrows
    (`(order_id, placed_at)` beside a primary key `(order_id, line_no)`) is low while
    that index finds few rows per value (`few_rows_per_value`, from the column's
    statistics; unknown counts as few), the size-based severity otherwise: each check
    reads the rows of one value through that index, not the whole table.

    A char(n) column referencing a varchar or text key (or the reverse) is compared
    through a cast (`user_uuid::text = $1`, see `fk-type-mismatch`): an index on it
    serves the check only with the key type's operator class, so even a primary key
    leading with it leaves the check a sequential scan (Vaultwarden's `archives`,
    keyed `(user_uuid char(36), cipher_uuid)`, referencing `users.uuid varchar(40)`).
    No index is proposed there: converting the column to the key's type is the fix.

    ## Fix
    `CREATE INDEX CONCURRENTLY` on the referencing columns, in the constraint's
    order; it does not block writes (it cannot run inside a transaction block).
    Where another reference of the table without an index begins with these columns
    (`(tenant_id)` beside `(tenant_id, course_id)`), both fixes build the longer one,
    `IF NOT EXISTS` under one name: it serves both, and a second index on the prefix
    would be redundant. On a partitioned table, the index is made ON ONLY the parent,
    built CONCURRENTLY on each partition and attached (a plain index on the parent would
    hold every partition against writes while it builds).

    Severity follows the referencing table's size, never the counters, so it is the
    same on a standby; there the referenced table's deletes are not given (a standby
    counts no writes: they happen on the primary). A review loads the files into an
    empty database, so there the size is unknown and the severity is the default.

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
        # a review loads files into an empty database: the size the table will reach is
        # unknown, not 0, so the default stands
        sized = not snap.collection.reviewed
        referenced = snap.table_by_oid.get(fk.ref_table_oid or -1)
        severity = None  # the default, medium, unless the table's size moves it
        if sized and rows >= opts.large_table_rows:
            severity = HIGH
        elif sized and rows < opts.small_table_rows:
            severity = LOW
        evidence: dict[str, object] = {
            "columns": fk.columns,
            "referenced": f"{fk.ref_schema}.{fk.ref_table}",
            "referenced_columns": fk.ref_columns,
            "referencing_rows": rows if sized else None,
            "on_delete": ON_ACTION.get(fk.on_delete or "a"),
        }
        if table.kind == "p":
            evidence["rows_counted_over"] = "its partitions"
        deletes = facts.counter(referenced, "n_tup_del") if referenced is not None else None
        if not sized:
            pass  # the review's own load wrote and scanned its tables: no counter means anything
        elif facts.counted_on("n_tup_del"):
            # a standby counts no writes: its 0 deletes would read as a parent never deleted
            evidence["referenced_deletes"] = None
            evidence["referenced_deletes_counted_on"] = facts.counted_on("n_tup_del")
        elif deletes is not None:
            evidence["referenced_deletes"] = deletes
        seq_scans = facts.counter(table, "seq_scan")
        if seq_scans is not None and sized:
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
        scanned = f"{rows:,} rows" if sized else "every row"
        cost = f"an index: each delete there scans {scanned} of {table.qualname}"
        cast = facts.cast_columns(fk)
        # char(n) against a varchar key: the check casts the column, no index on it
        # serves; converting the column (fk-type-mismatch's fix) is what does
        fix = None if cast else fixes.reference_index(snap, table, fk.columns)
        if cast:
            evidence["cast_to_key_type"] = cast
            cost = (
                f"an index its checks can use: they cast ({', '.join(cast)}) to the key's"
                f" type (fk-type-mismatch), so each delete there scans {scanned} of"
                f" {table.qualname}"
            )
        narrowing = None if cast else narrowing_index(snap, table, fk.columns)
        if narrowing is not None and not partial:
            index, column = narrowing
            per_value = rows_per_value(facts, table, column, rows)
            evidence.update(partly_served_by=index.name, served_columns=[column])
            cost = (
                "an index on all its columns: each delete there finds its rows through"
                f" {index.name} on ({column})"
            )
            if per_value is not None:
                evidence["rows_per_value"] = per_value
                cost += f", ~{per_value:,} rows per value"
            if per_value is None or per_value <= opts.few_rows_per_value:
                severity = LOW
        yield finding(
            fk,
            f"({', '.join(fk.columns)}) references {fk.ref_schema}.{fk.ref_table} without"
            f" {cost}" + partial_note(partial),
            evidence=evidence,
            fix=fix,
            severity=severity,
        )


def narrowing_index(snap: Snapshot, table: Table, columns: list[str]) -> tuple[Index, str] | None:
    """A valid, whole-table btree index whose first key is one of a multi-column key's
    columns: the key's lookup (`a = $1 AND b = $2`) reads through it the rows of one
    value of that column, then filters them."""
    if len(columns) < 2:
        return None
    for index in snap.indexes_by_table.get(table.oid, []):
        first = index.key_columns[0] if index.key_columns else None
        usable = index.is_valid and not index.is_partial and index.method == "btree"
        if usable and first is not None and first in columns:
            return index, first
    return None


def rows_per_value(facts: Facts, table: Table, column: str, rows: int) -> int | None:
    """Rows per distinct value of the column, from its statistics; None where it was
    never analyzed."""
    found = facts.column_by_name.get((table.oid, column))
    values = distinct_values(found, rows) if found is not None else None
    return max(1, round(rows / values)) if values else None


def partial_note(partial: list[Index]) -> str:
    """Why the partial indexes on the columns do not count: the check looks up every
    row, and only a predicate its `col = $1` implies lets it use such an index."""
    if not partial:
        return ""
    shown = "; ".join(f"{index.name} WHERE {index.predicate or '(predicate)'}" for index in partial)
    which = "that predicate" if len(partial) == 1 else "those predicates"
    return f" (partial: {shown}; the check's lookup does not imply {which})"


ON_ACTION = {"a": "no action", "r": "restrict", "c": "cascade", "n": "set null", "d": "set default"}


def duplicate_copies(snap: Snapshot) -> list[tuple[Index, Index]]:
    """(copy, the index to keep instead) for each index that duplicates another."""
    identical = snap.facts.identical_indexes  # most indexes have no twin, and are not there
    grouped: set[int] = set()
    copies = []
    for index in snap.indexes:
        if index.oid not in identical or index.oid in grouped:
            continue
        group = [index, *identical[index.oid]]  # the first of its group met here
        grouped.update(member.oid for member in group)
        keeper, *others = sorted(group, key=keep_first)
        # two attached copies mean two duplicate parent indexes: reported on the parent
        copies += [(other, keeper) for other in others if other.parent_index_oid is None]
    return copies


def pair_evidence(index: Index, covered_by: Index) -> dict[str, object]:
    """What shows that `index` adds nothing beside `covered_by`, and what it costs."""
    return {
        "covered_by": covered_by.name,
        "definition": index.definition,
        "covered_by_definition": covered_by.definition,
        "bytes": index.bytes,
        "idx_scan": index.idx_scan,
    }


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
    for copy, keeper in snap.facts.shared(duplicate_copies):
        evidence = pair_evidence(copy, keeper)
        yield finding(
            copy,
            f"Duplicates {keeper.name} on {copy.schema}.{copy.table}: " + both(copy, keeper),
            evidence=evidence,
            fix=fixes.offered(fixes.drop_index(snap, copy), evidence),
        )


USING = re.compile(r" USING \S+ (.*)$", re.S)


def shape(index: Index) -> str:
    """What an index holds, as its definition says it after `USING method`: keys with
    operator classes, collations and sort order, INCLUDE columns, predicate. From
    the keys alone where the definition could not be read."""
    found = USING.search(index.definition or "")
    if found:
        unique = "UNIQUE " if index.is_unique else ""
        return f"{unique}{index.method} {found.group(1)}"
    return f"({', '.join(index.keys)})"


def both(copy: Index, keeper: Index) -> str:
    """The two definitions, once when they read the same."""
    if shape(copy) == shape(keeper):
        return f"both {shape(copy)}"
    return f"{shape(copy)} beside {shape(keeper)}"


def prefix_of(short: Index, long: Index) -> bool:
    """Is `short` answerable from `long`: same kind of index, keys a leading prefix?"""
    n = short.key_count
    if (
        long.key_columns[:n] != short.key_columns[:n]  # first: most pairs differ here
        or short.oid == long.oid
        or short.table_oid != long.table_oid
        or short.method != "btree"
        or long.method != "btree"
        or not long.is_valid
        or short.has_expressions  # conservative: expression keys are not compared by prefix
        or short.predicate_tree != long.predicate_tree
        or n > long.key_count
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
    # duplicate-index reports these
    duplicates = {copy.oid for copy, _ in snap.facts.shared(duplicate_copies)}
    for index in snap.indexes:
        if (
            not index.is_valid
            or index.is_unique
            or index.constraint_name
            or index.parent_index_oid is not None  # reported on the parent's index
            or index.oid in duplicates
        ):
            continue
        # prefix_of's first test, inline: most of the table's other indexes fail it
        n, lead = index.key_count, index.key_columns[: index.key_count]
        covering = [
            other
            for other in by_table[index.table_oid]
            if other.key_columns[:n] == lead and prefix_of(index, other)
        ]
        if not covering:
            continue
        longer = min(covering, key=lambda other: (len(other.keys), other.name))
        evidence = pair_evidence(index, longer)
        yield finding(
            index,
            f"{shape(index)} is a prefix of {longer.name} {shape(longer)}"
            f" on {index.schema}.{index.table}",
            evidence=evidence,
            fix=fixes.offered(fixes.drop_index(snap, index), evidence),
        )


@dataclass(frozen=True)
class UnusedIndexOptions:
    min_statistics_hours: float = option(
        24.0,
        "statistics younger than this cannot show an index unused: info, and no drop"
        " (the top-level min_statistics_hours unless set here)",
    )
    long_window_days: float = option(
        30.0, "statistics at least this old make an unused index on a sizeable table medium"
    )
    small_table_rows: int = option(
        1_000, "on tables this small a sequential scan rightly wins: info"
    )


@rule(
    "unused-index",
    category=INDEXES,
    severity=LOW,
    title="Index never scanned in the statistics window",
    options=UnusedIndexOptions,
    uses_statistics=True,
)
def unused_index(snap: Snapshot, opts: UnusedIndexOptions) -> Iterator[Draft]:
    """An index with no scans since the statistics were reset (or the server started).

    Left out: indexes that enforce something or that something relies on (primary
    key, unique, exclusion, replica identity), an index that is the only one serving
    a foreign key's lookup, invalid indexes (`invalid-index`), indexes of an empty
    table nobody writes (they cost nothing), and a partition's index attached to
    its parent's (reported once, on the parent, with the scans of all partitions
    summed). The finding states the window: below
    `min_statistics_hours` it is info and offers no drop (a weekly or monthly job
    may not have run yet); from `long_window_days` on, an unused index on a
    table that is not small is medium. On a table smaller than `small_table_rows`
    the planner rightly prefers a sequential scan, and the index costs little:
    info. On a standby the counters are the standby's own: info.

    ## Why it breaks
    Every INSERT, every UPDATE that is not HOT, and every DELETE's later vacuum
    write each index of the table, and an index on an updated column prevents HOT
    updates of that column; an index nobody scans pays all of this, takes disk,
    cache and backup space, and slows VACUUM, for nothing. `idx_scan` counts
    every use (lookups, range scans, foreign key checks, index-only scans), so
    zero over a long window means no query needed it. A window too short to
    include monthly reports or rare admin paths proves little, and an index
    created recently has counted for less time than the window says.

    ## Fix
    Check that no rare job or replica (standbys count their own scans) depends on
    it, then `DROP INDEX CONCURRENTLY` (no lock that blocks writes). The rollback
    recreates it from its definition, concurrently.

    ## Silence
    An index kept for a known rare query: `COMMENT ON INDEX ... IS
    'pgvitals:ignore unused-index'`.
    """
    facts = snap.facts
    window = facts.window
    short = window.hours < opts.min_statistics_hours
    kept = fk_lookup_indexes_to_keep(snap)
    for index in snap.indexes:
        if (
            not index.is_valid
            or index.is_unique
            or index.constraint_name
            or index.is_replica_identity
            or index.parent_index_oid is not None
            or index.oid in kept
        ):
            continue
        scans = facts.index_scans(index)
        table = snap.table_by_oid.get(index.table_oid)
        if scans != 0 or table is None:
            continue
        rows = facts.rows(table)
        writes = known_writes(snap, table)
        if rows == 0 and not writes:
            continue  # an empty table nobody writes: its index costs nothing (unused-table)
        size = facts.index_bytes(index)
        evidence: dict[str, object] = {
            "idx_scan": scans,
            "bytes": size,
            "table_rows": rows,
            "table_writes": writes,
            "definition": index.definition,
            **window.evidence,
        }
        if table.kind == "p":
            evidence["scans_counted_over"] = "its partitions' indexes"
        seen = f"not scanned {window.phrase}"
        fix = None
        if snap.server.in_recovery:
            severity: str | None = INFO
            message = f"{seen} on this standby (the primary's scans are not counted here)"
        elif short:
            severity = INFO
            message = (
                f"{seen}: too short a window to call it unused"
                f" (at least {opts.min_statistics_hours:g} hours; min_statistics_hours)"
            )
        else:
            fix = fixes.offered(fixes.drop_index(snap, index), evidence)
            message = f"{seen}"
            if rows < opts.small_table_rows:
                severity = INFO
                message += f"; on {rows:,} rows a sequential scan serves as well"
            elif window.days >= opts.long_window_days:
                severity = MEDIUM
            else:
                severity = None  # the default, low
        shown = f", {human_bytes(size)}" if size is not None else ""
        yield finding(
            index,
            f"{index.name} ({', '.join(index.keys)}) on {table.qualname}{shown}: {message}",
            evidence=evidence,
            fix=fix,
            severity=severity,
        )


def fk_lookup_indexes_to_keep(snap: Snapshot) -> set[int]:
    """Indexes that must stay for foreign keys' lookups: of the indexes serving a
    foreign key, when none of them was scanned, the narrowest (so that of two unused
    indexes serving one key, one is kept and the other may go)."""
    kept = set()
    for serving in snap.facts.indexes_serving_fk.values():
        if serving and not any(snap.facts.index_scans(index) for index in serving):
            kept.add(min(serving, key=lambda index: (index.key_count, index.name)).oid)
    return kept


def known_writes(snap: Snapshot, table: Table) -> int | None:
    """Inserts, updates and deletes in the statistics window (summed over partitions)."""
    counts = [snap.facts.counter(table, name) for name in ("n_tup_ins", "n_tup_upd", "n_tup_del")]
    return None if None in counts else sum(c for c in counts if c is not None)


@dataclass(frozen=True)
class InvalidIndexOptions:
    small_rows: int = option(
        10_000,
        "rows in the partitions a partitioned table's index lacks below which it is low",
    )


@rule(
    "invalid-index",
    on_library_tables=True,
    category=INDEXES,
    severity=MEDIUM,
    title="Invalid index: maintained, never used",
    options=InvalidIndexOptions,
)
def invalid_index(snap: Snapshot, opts: InvalidIndexOptions) -> Iterator[Draft]:
    """An index PostgreSQL marks invalid (`pg_index.indisvalid` false, or not ready).

    Usually the remains of a `CREATE INDEX CONCURRENTLY` or `REINDEX CONCURRENTLY`
    that failed or was cancelled (a duplicate in a unique build, a deadlock, a
    timeout); REINDEX CONCURRENTLY leaves them with a `_ccnew` or `_ccold` suffix.
    A partitioned table's index is also invalid until every partition has an
    index attached to it (Hatchet creates its GIN indexes `ON ONLY` the parent and
    leaves the existing partitions without, to age out): there the queries on the
    partitions that lack it scan them, so it is low while they hold fewer than
    `small_rows` rows. High when the index is unique: it still rejects rows.

    ## Why it breaks
    The planner never uses an invalid index, so the queries it was built for
    still scan, yet once it is ready every write still updates it: all the cost of
    an index and none of the benefit. An invalid unique index goes on checking
    new rows, so inserts can fail on a constraint no query can use, and a
    partitioned index left invalid cannot back a constraint.

    ## Fix
    `REINDEX INDEX CONCURRENTLY` rebuilds it without blocking writes (it fails
    again if the cause remains: remove duplicates first). The leftovers of a
    failed REINDEX CONCURRENTLY (`_ccnew`, `_ccold`) are dropped instead, since
    the original index is still there. For a partitioned table's index, the fix
    creates the missing partitions' indexes (`CONCURRENTLY`) and `ALTER INDEX ...
    ATTACH PARTITION`s them; an attached index cannot be detached, so its rollback
    drops the table's index and makes it again `ON ONLY` the table, with the
    partitions' indexes that were attached before.
    """
    attached = snap.facts.attached_indexes
    for index in snap.indexes:
        if index.is_valid:
            continue
        table = snap.table_by_oid.get(index.table_oid)
        if table is None:
            continue
        evidence: dict[str, object] = {
            "definition": index.definition,
            "is_unique": index.is_unique,
            "bytes": index.bytes,
        }
        leftover = LEFTOVER.search(index.name)
        severity = None
        if table.kind == "p":
            partitions = snap.facts.partitions_by_parent.get(table.oid, [])
            covered = {child.table_oid for child in attached.get(index.oid, [])}
            missing = [p.qualname for p in partitions if p.oid not in covered]
            evidence["partitions_without_index"] = missing
            unindexed = [
                leaf
                for partition in partitions
                if partition.oid not in covered
                for leaf in (partition, *fixes.partitions_below(snap, partition))
                if leaf.kind != "p"
            ]
            rows = sum(snap.row_count(leaf) for leaf in unindexed)
            evidence["rows_without_index"] = rows
            message = (
                f"{index.name} on {table.qualname} is not valid until every partition has an"
                f" attached index ({len(missing):,} without, {plural(rows, 'row')})"
            )
            fix = fixes.offered(fixes.complete_partitioned_index(snap, index), evidence)
            severity = LOW if rows < opts.small_rows else None
        elif leftover:
            message = (
                f"{index.name} on {table.qualname} is the remains of a failed REINDEX"
                " CONCURRENTLY: maintained on every write, never used"
            )
            fix = fixes.offered(fixes.drop_index(snap, index), evidence)
        else:
            message = (
                f"{index.name} on {table.qualname} is invalid (a failed or cancelled"
                " concurrent build): maintained on every write, never used"
            )
            fix = fixes.reindex_concurrently(index)
        yield finding(
            index,
            message,
            evidence=evidence,
            fix=fix,
            severity=HIGH if index.is_unique else severity,
        )


LEFTOVER = re.compile(r"_cc(new|old)\d*$")


@dataclass(frozen=True)
class SeqScanOptions:
    min_seq_scans: int = option(20, "ignore tables with fewer sequential scans in the window")
    min_scans_per_day: float = option(
        5.0, "sequential scans per day of the window below which scans are routine (backups)"
    )
    min_rows_per_scan: int = option(
        1_000, "rows read per sequential scan under which scanning is as cheap as an index"
    )
    large_table_rows: int = option(1_000_000, "tables this large make it high")
    small_table_rows: int = option(10_000, "tables smaller than this make it low")


def sequential_scans(snap: Snapshot, table: Table) -> tuple[int | None, int | None]:
    """Sequential scans of `table` and the rows they read. A partitioned table's are
    its leaves': the rows summed, and the scans of its most-scanned leaf, since a
    statement that reads the whole table scans each partition once."""
    if table.kind != "p":
        return table.seq_scan, table.seq_tup_read
    leaves = snap.facts.leaves_by_root.get(table.oid, [])
    scans = [leaf.seq_scan for leaf in leaves if leaf.seq_scan is not None]
    read = [leaf.seq_tup_read for leaf in leaves if leaf.seq_tup_read is not None]
    return (max(scans) if scans else None), (sum(read) if read else None)


def heavily_scanned(
    snap: Snapshot, scans: int | None, rows_read: int | None, opts: SeqScanOptions
) -> bool:
    """Sequential scans (`sequential_scans`) that are many (often enough not to be
    backups) and read many rows each."""
    if scans is None or rows_read is None or scans < opts.min_seq_scans:
        return False
    if scans < opts.min_scans_per_day * snap.facts.window.days:
        return False
    return rows_read >= opts.min_rows_per_scan * scans


@rule(
    "seq-scan-heavy-table",
    on_library_tables=True,
    category=INDEXES,
    severity=MEDIUM,
    title="Table read by many sequential scans of many rows",
    options=SeqScanOptions,
    rows=ROWS_OPTIONAL,
    uses_statistics=True,
    needs=("row_counts",),
)
def seq_scan_heavy_table(snap: Snapshot, opts: SeqScanOptions) -> Iterator[Draft]:
    """Sequential scans that each read many rows, often.

    Size-aware: at least `min_seq_scans` sequential scans, and `min_scans_per_day`
    per day of the window (a nightly pg_dump scans every table once a day), each
    reading `min_rows_per_scan` rows or more on average. A 20-row table read by
    sequential scans is fine: the scan is cheaper than any index. Low under
    `small_table_rows`, high from `large_table_rows`. The finding names the
    table's foreign keys no index serves, a common cause, and the references its
    column names imply with no index and no foreign key (`missing-foreign-key`'s: atuin's
    `history.user_id`, which a trigger counting a user's history filters on). A partitioned table is
    judged whole, once, from its partitions' counters (the partitions most read are
    named): one query without a fitting index scans every partition.

    pgvitals' own row counts (a table under the exact-count size is read whole, one
    sequential scan a run) are counted like anyone's scans. Where pg_stat_statements
    holds them (they carry pgvitals' comment) and counts from within the statistics
    window, they are left out exactly: the finding needs the thresholds without them.
    Where it counts from before the window, up to that many may be pgvitals' own: a
    table heavy only with them is low, saying so. Without pg_stat_statements the
    finding says their number is unknown. The other probes scan too (one orphan count
    per inferred reference from the table): where this run's reads count, it measures
    them (`seq_scans_a_run`), and takes each earlier run pg_stat_statements knows of to
    have read as it did: an estimate, so a table heavy only with them is low, not left
    out. A run whose role may switch the counters
    off for its session (a superuser, or `GRANT SET ON PARAMETER track_counts,
    pg_stat_statements.track`) adds nothing to them nor to pg_stat_statements: the
    runs before it are taken to be alike. A run kept with `--history` records what its
    reads added to each table and index; a later run with the same history leaves the
    runs of its statistics window out of every counter (`pgvitals_runs_left_out`).

    ## Why it breaks
    A sequential scan reads every page of the table, whatever the query keeps;
    when it runs for a lookup that returns a few rows, the work grows with the
    table, evicts useful pages from the cache, and holds the query for as long as
    reading the table takes. What is invisible at a thousand rows becomes the
    slowest query at a million.

    ## Fix
    Find the queries (pg_stat_statements, or `auto_explain`), and index the
    columns they filter or join on; `CREATE INDEX CONCURRENTLY` does not block
    writes. Often the culprit is a foreign key without an index
    (`unindexed-foreign-key`) or a jsonb filter without a GIN index.
    """
    window = snap.facts.window
    unindexed = snap.facts.lookup_index_of_fk
    own = OwnScans.of(snap)
    for table in snap.tables:
        if table.kind not in ("r", "m", "p") or table.parent_oid in snap.table_by_oid:
            continue  # a partition counts in its table's finding
        scans, rows_read = sequential_scans(snap, table)
        if not heavily_scanned(snap, scans, rows_read, opts):
            continue
        assert scans is not None and rows_read is not None
        own_severity: str | None = None
        own_note = ""
        own_evidence: dict[str, object] = {}
        per_run = scans_a_run(snap, table)
        if own is None:
            if snap.collection.own_reads_left_out is not None:
                own_evidence = {"pgvitals_runs_left_out": snap.collection.own_reads_left_out}
            elif per_run > 1:
                own_note = (
                    f"; pgvitals' own reads ({per_run:,} sequential scans a run: its row count"
                    " and probes) are among them, how many runs' is unknown without"
                    " pg_stat_statements or --history"
                )
                own_evidence = {"seq_scan_by_pgvitals": None, "seq_scans_a_run": per_run}
            elif read_whole(snap, table) and snap.collection.own_reads_counted is not False:
                own_note = (
                    "; pgvitals' own row counts (one scan a run) are among them, how many"
                    " is unknown without pg_stat_statements"
                )
                own_evidence = {"seq_scan_by_pgvitals": None}  # unknown
        elif mine := own.scans(snap, table, scans):
            if per_run > 1:  # each earlier run taken to have read as this one did
                mine = min(scans, mine * per_run)
            heavy = heavily_scanned(snap, *without_own(scans, rows_read, mine), opts)
            own_evidence = {"seq_scan_by_pgvitals": mine, "pg_stat_statements_since": own.since}
            if own.exact and per_run <= 1 and not heavy:
                continue  # the rest is too few: the tool would be judging its own reads
            if per_run > 1:
                own_evidence.update(seq_scan_by_pgvitals_is="estimated", seq_scans_a_run=per_run)
                own_note = (
                    f"; about {mine:,} of them may be pgvitals' own reads (its row counts"
                    f" in pg_stat_statements, each run reading as this one: {per_run:,}"
                    " sequential scans)"
                )
                own_severity = None if heavy else LOW
            elif own.exact:
                own_note = f"; {mine:,} of them pgvitals' own row counts, not judged"
            else:
                own_evidence["seq_scan_by_pgvitals_is"] = "at most"
                own_note = (
                    f"; up to {mine:,} of them may be pgvitals' own row counts"
                    " (pg_stat_statements counts from before the statistics window)"
                )
                own_severity = None if heavy else LOW
        rows = snap.facts.rows(table)
        foreign_keys = [
            fk
            for fk in snap.constraints_by_table.get(table.oid, [])
            if fk.kind == "f" and unindexed.get(fk.oid) is None
        ]
        if own_severity is not None:
            severity: str | None = own_severity  # without its own scans, not judged
        elif rows >= opts.large_table_rows:
            severity = HIGH
        elif rows < opts.small_table_rows:
            severity = LOW
        else:
            severity = None  # the default, medium
        declared = {tuple(fk.columns) for fk in foreign_keys}
        inferred = [
            columns
            for columns in snap.facts.unindexed_references.get(table.oid, [])
            if columns not in declared
        ]
        cause = (
            "; foreign keys without an index: "
            + ", ".join(f"({', '.join(fk.columns)})" for fk in foreign_keys)
            if foreign_keys
            else ""
        )
        if inferred:
            cause += "; references inferred from names, without an index: " + ", ".join(
                f"({', '.join(columns)})" for columns in inferred
            )
        evidence: dict[str, object] = {
            "seq_scan": scans,
            "seq_tup_read": rows_read,
            "rows_per_scan": rows_read // scans,
            "idx_scan": snap.facts.counter(table, "idx_scan"),
            "rows": rows,
            "unindexed_foreign_keys": [fk.name for fk in foreign_keys],
            "unindexed_inferred_references": [", ".join(columns) for columns in inferred],
            **own_evidence,
            **window.evidence,
        }
        scanned = f"{scans:,} sequential scans"
        if table.kind == "p":
            leaves = snap.facts.leaves_by_root.get(table.oid, [])
            most_read = sorted(leaves, key=lambda leaf: -(leaf.seq_tup_read or 0))[:5]
            evidence["partitions"] = len(leaves)
            evidence["most_read_partitions"] = {
                leaf.qualname: leaf.seq_tup_read for leaf in most_read if leaf.seq_tup_read
            }
            scanned += f" (of its most-scanned partition, of {len(leaves):,})"
        yield finding(
            table,
            f"{scanned} read {rows_read:,} rows ({rows_read // scans:,} per scan)"
            f" of {table.qualname} ({rows:,} rows) {window.phrase}, against"
            f" {evidence['idx_scan'] or 0:,} index scans{cause}{own_note}",
            evidence=evidence,
            severity=severity,
        )


@dataclass(frozen=True)
class OwnScans:
    """pgvitals' own whole-table row counts of each table, from pg_stat_statements
    (workload/collect.py): each a sequential scan, counted in pg_stat_user_tables like
    anyone's. `exact` when pg_stat_statements counts from within the statistics window
    (reset at or after its start): then every count it holds falls inside the window,
    and the table's scans by others are at most its counter less these."""

    calls: dict[int, int]  # table oid -> row counts before this run
    since: str | None  # pg_stat_statements_info.stats_reset
    exact: bool

    @classmethod
    def of(cls, snap: Snapshot) -> OwnScans | None:
        """None when pg_stat_statements was not read (not installed, not loaded, ...)."""
        source = snap.statement_sources[0] if snap.statement_sources else None
        if source is None or source.status != "ran" or source.own_row_scans is None:
            return None
        if snap.collection.own_reads_left_out is not None:
            return None  # the history's runs were left out of the counters already
        since = snap.facts.window.since
        exact = source.stats_reset is not None and parse_timestamp(
            source.stats_reset
        ) >= parse_timestamp(since)
        # this run's own count ran after the table counters were read: it is in
        # pg_stat_statements but not yet in the counter (unless the run counted nothing)
        this_run = 0 if snap.collection.own_reads_counted is False else 1
        calls = {
            oid: count - (this_run if read_whole(snap, snap.table_by_oid.get(oid)) else 0)
            for oid, count in source.own_row_scans
        }
        return cls(calls, source.stats_reset, exact)

    def scans(self, snap: Snapshot, table: Table, scans: int) -> int:
        """Of the table's `scans` (sequential_scans), those pgvitals made; of a
        partitioned table's most-scanned leaf, those that leave the most by others."""
        if table.kind != "p":
            return min(self.calls.get(table.oid, 0), scans)
        leaves = snap.facts.leaves_by_root.get(table.oid, [])
        others = [
            leaf.seq_scan - min(self.calls.get(leaf.oid, 0), leaf.seq_scan)
            for leaf in leaves
            if leaf.seq_scan is not None
        ]
        return scans - max(others, default=scans)


def scans_a_run(snap: Snapshot, table: Table) -> int:
    """The sequential scans this run's own reads made of a table (its row count, orphan
    counts, ...: measured, collection.own_reads) where they count; 0 where not known,
    not counted, or for a partitioned table."""
    reads = snap.collection.own_reads
    if not snap.collection.own_reads_counted or reads is None or table.kind == "p":
        return 0
    return reads.get(str(table.oid), [0, 0])[0]


def without_own(scans: int, rows_read: int, mine: int) -> tuple[int, int]:
    """The scans and rows read left when `mine` of the scans are taken out; their rows
    at the average per scan, since which scans read how many is not known."""
    others = scans - mine
    return others, rows_read * others // scans


def read_whole(snap: Snapshot, table: Table | None) -> bool:
    """Whether this run counted the table's rows by reading it whole (a sequential
    scan; a TABLESAMPLE is not counted as one), or a partition of it."""
    if table is None:
        return False
    if table.kind == "p":
        return any(read_whole(snap, leaf) for leaf in snap.facts.leaves_by_root.get(table.oid, []))
    profile = snap.profile_by_table.get(table.oid)
    return profile is not None and profile.status == "ran" and not profile.sampled


@dataclass(frozen=True)
class OverIndexedOptions:
    max_indexes: int = option(
        8,
        "indexes that neither enforce a constraint nor serve a foreign key, from which"
        " a table is reported",
    )
    size_ratio: float = option(3.0, "index bytes / table bytes from which it is reported")
    min_index_bytes: int = option(
        100 * 1024 * 1024, "total index size under which the size ratio is not judged"
    )
    many_writes: int = option(100_000, "rows written in the window that make it medium")


@rule(
    "over-indexed-table",
    category=INDEXES,
    severity=LOW,
    title="More indexes than the table's use pays for",
    options=OverIndexedOptions,
    uses_statistics=True,
)
def over_indexed_table(snap: Snapshot, opts: OverIndexedOptions) -> Iterator[Draft]:
    """Many optional indexes on one table, or indexes much larger than the table.

    Counted are the indexes a table could do without: those that neither enforce a
    constraint (primary key, unique, exclusion) nor serve a foreign key's lookup
    (a table with many foreign keys needs an index for each). Reported from
    `max_indexes` of them, or when all its indexes take `size_ratio` times the
    table's size (once they weigh `min_index_bytes`). The finding weighs them
    against the table's writes and says how many were never scanned in the
    window; medium when the table is written `many_writes` times or more. An
    empty table nobody writes is left out (nothing to weigh the indexes against).
    A partitioned table is judged on its own indexes, sized over its partitions.

    ## Why it breaks
    Each index is written on every INSERT, on every UPDATE that is not HOT (and
    the more columns are indexed, the fewer updates can be HOT), and cleaned by
    every VACUUM; each takes cache that the table's pages and the useful indexes
    need, and the planner considers each of them for every query. Ten indexes
    can make an insert ten times as expensive as on the bare table, and they are
    rarely all needed: some are duplicates, prefixes of others, or were made for
    a query that no longer runs.

    ## Fix
    Start from `duplicate-index`, `redundant-index` and `unused-index`; merge
    single-column indexes that are always used together into one composite
    index; replace indexes on a low-cardinality flag by partial indexes.
    """
    facts = snap.facts
    window = facts.window
    serving_fk = {index.oid for serving in facts.indexes_serving_fk.values() for index in serving}
    for table in snap.tables:
        if table.kind not in ("r", "p", "m") or table.is_partition:
            continue
        indexes = snap.indexes_by_table.get(table.oid, [])
        optional = [
            index
            for index in indexes
            if not (index.is_unique or index.constraint_name or index.oid in serving_fk)
        ]
        if not indexes:
            continue
        table_bytes = (
            sum(leaf.table_bytes or 0 for leaf in facts.leaves_by_root.get(table.oid, []))
            if table.kind == "p"
            else table.table_bytes
        )
        too_many = len(optional) >= opts.max_indexes
        if not too_many and not table_bytes:
            continue  # few indexes, and no size to weigh theirs against: not summed
        sizes = [facts.index_bytes(index) for index in indexes]
        index_bytes = None if None in sizes else sum(s for s in sizes if s is not None)
        too_big = (
            index_bytes is not None
            and table_bytes
            and index_bytes >= opts.min_index_bytes
            and index_bytes >= opts.size_ratio * table_bytes
        )
        if not (too_many or too_big):
            continue
        never = [
            index.name
            for index in indexes
            if not (index.is_unique or index.constraint_name) and facts.index_scans(index) == 0
        ]
        writes = known_writes(snap, table)
        rows = facts.rows(table)
        if rows == 0 and not writes:
            continue  # nothing to weigh them against: no rows, no writes
        sized = f" ({human_bytes(index_bytes)})" if index_bytes is not None else ""
        against = f" ({human_bytes(table_bytes)})" if table_bytes is not None else ""
        yield finding(
            table,
            f"{len(indexes)} indexes{sized} on {table.qualname}, {rows:,} rows{against},"
            f" {len(optional)} of them neither enforcing a constraint nor serving a foreign"
            f" key; {writes or 0:,} rows written and {len(never)} indexes never scanned"
            f" {window.phrase}",
            evidence={
                "indexes": len(indexes),
                "optional_indexes": [index.name for index in optional],
                "index_bytes": index_bytes,
                "table_bytes": table_bytes,
                "rows": rows,
                "writes": writes,
                "never_scanned": never,
                **window.evidence,
            },
            severity=MEDIUM if writes is not None and writes >= opts.many_writes else None,
        )


@rule(
    "jsonb-without-gin",
    category=INDEXES,
    severity=INFO,
    title="jsonb column without a GIN index",
    options=SeqScanOptions,
    uses_statistics=True,
)
def jsonb_without_gin(snap: Snapshot, opts: SeqScanOptions) -> Iterator[Draft]:
    """A jsonb column that no index searches inside.

    No GIN (or other non-btree) index on it, and no index on an expression over it.
    A btree on the whole value, or the column as an INCLUDE column, does not count.
    Nor is it reported where an index covers a STORED generated column computed from it
    (Temporal's visibility store: `Keyword01 ... GENERATED ALWAYS AS (search_attributes
    ->> 'Keyword01')`, each indexed): the searches run on those columns, and a GIN on the
    document would serve none of them.

    Info: many jsonb columns are only stored and read back whole. Low, with a GIN
    index offered, when the statistics show its table is read by sequential scans
    of many rows (the options are `seq-scan-heavy-table`'s, and so is the leaving out
    of pgvitals' own row counts where pg_stat_statements tells them exactly), since
    searches inside jsonb (`@>`, `?`, `@?`) can use nothing else. Info, with no index
    offered, where the statistics say every value is NULL (Plausible's legacy
    `sites.imported_data`): no search inside it can match, so the scans are for
    something else.

    ## Why it breaks
    A condition on the content of a jsonb document (`metadata @> '{"format":
    "online"}'`, `tags ? 'urgent'`) cannot use a btree on the column, so without
    a GIN index (or a btree on the extracted expression) every such query reads
    and decodes every document of the table.

    ## Fix
    `CREATE INDEX CONCURRENTLY ... USING gin (column)` serves `@>`, `?`, `?|`,
    `?&`, `@?` and `@@`; `gin (column jsonb_path_ops)` is smaller and faster but
    serves only `@>`, `@?` and `@@`. For one key compared by value, a btree on
    the expression (`(column ->> 'key')`) is smaller still. A GIN index slows
    writes: add it for queries that exist.
    """
    covered = columns_in_indexes(snap)
    own = OwnScans.of(snap)
    for column in snap.columns:
        if column.type_name != "jsonb" or (column.table_oid, column.position) in covered:
            continue
        if searched_through_generated(snap, column):
            continue
        table = snap.table_by_oid.get(column.table_oid)
        if table is None or table.kind not in ("r", "p", "m") or table.is_partition:
            continue
        scans, rows_read = sequential_scans(snap, table)
        heavy = heavily_scanned(snap, scans, rows_read, opts)
        if heavy and own is not None and own.exact:
            # as seq-scan-heavy-table: pgvitals' own row counts are not the searches
            assert scans is not None and rows_read is not None
            mine = own.scans(snap, table, scans)
            heavy = heavily_scanned(snap, *without_own(scans, rows_read, mine), opts)
        evidence: dict[str, object] = {
            "seq_scan": scans,
            "seq_tup_read": rows_read,
            "rows": snap.facts.rows(table),
        }
        if column.null_frac == 1.0:  # every value sampled by ANALYZE is NULL
            evidence["null_frac"] = column.null_frac
            heavy = False
        scanned = (
            f"; {table.qualname} is read by sequential scans ({rows_read:,} rows)" if heavy else ""
        )
        if "null_frac" in evidence:
            scanned = "; every value is NULL (as of the last ANALYZE): nothing to search"
        yield finding(
            column,
            f"{column.qualname} (jsonb) has no GIN index{scanned}",
            evidence=evidence,
            fix=fixes.create_gin_index(snap, table, column.name) if heavy else None,
            severity=LOW if heavy else None,
        )


def searched_through_generated(snap: Snapshot, column: Column) -> list[str]:
    """The STORED generated columns computed from `column` that an index has as a key or
    reads in its expression or predicate: the searches inside `column` run on them."""
    by_name = snap.facts.column_by_name
    generated = [by_name[(column.table_oid, name)] for name in fixes.computed_from(snap, column)]
    indexes = snap.indexes_by_table.get(column.table_oid, [])
    return [
        other.name
        for other in generated
        if any(
            other.name in index.key_columns[: index.key_count]
            or fixes.reads_in_expression(index, other)
            for index in indexes
        )
    ]


def columns_in_indexes(snap: Snapshot) -> set[tuple[int, int]]:
    """(table oid, attribute number) of every column that an index searches inside:
    a key of a GIN, GiST or other non-btree index, or a column in a key expression
    (`(metadata ->> 'format')`). A whole jsonb value as a btree key serves only
    equality of whole documents, and an INCLUDE column serves no search."""
    by_name = snap.facts.column_by_name
    covered = set()
    for index in snap.indexes:
        if index.method not in ("btree", "hash"):
            for name in index.key_columns[: index.key_count]:
                column = by_name.get((index.table_oid, name)) if name else None
                if column is not None:
                    covered.add((index.table_oid, column.position))
        if index.expressions:  # most indexes have none
            for number in fixes.VARATTNO.findall(index.expressions):
                covered.add((index.table_oid, int(number)))
    return covered


def random_words(bloat: _bloat.Bloat) -> str:
    """How a random key's normal fill was counted in the expected size."""
    if not bloat.random_key:
        return ""
    return (
        f" at the {_bloat.RANDOM_KEY_FILL} % leaf fill random keys settle at ({bloat.random_key})"
    )


@rule(
    "index-bloat",
    on_library_tables=True,
    category=INDEXES,
    severity=LOW,
    title="Index much larger than its entries need (estimated)",
    options=BloatOptions,
)
def index_bloat(snap: Snapshot, opts: BloatOptions) -> Iterator[Draft]:
    """A btree index much larger than its entries need, measured or estimated.

    Measured with `check --exact-bloat` where pgstattuple is installed
    (`pgstatindex`: leaf density against the fillfactor, empty and deleted pages);
    otherwise estimated.

    Estimated from the catalogs as `table-bloat` is (the entries' average width
    from the key and INCLUDE columns' `pg_stats`, an 8-byte tuple header, a null
    bitmap where a key can be NULL, the index's fillfactor, 90 by default), as of
    the last VACUUM or ANALYZE; the same thresholds. Expression indexes and other
    methods than btree are not estimated. A partition's index is judged on its own.
    Btree deduplication (PostgreSQL 13+) stores repeated keys once, so an index on
    a column with few distinct values is smaller than the estimate expects: its
    bloat is under-reported, never over-reported.
    An index whose leading key is a random uuid (a `gen_random_uuid()` or
    `uuid_generate_v4()` DEFAULT, or near-unique uuids that `pg_stats` finds in no order,
    correlation under 0.1) is expected at 69 % leaf fill, not its fillfactor: random
    inserts split leaves into halves that fill again, and settle there (ln 2). The
    evidence says so (`random_key`, `expected_leaf_fill`); what is reported beyond that
    is bloat a REINDEX keeps away.

    ## Why it breaks
    Btree pages split when they fill and are merged back only when they become
    completely empty, so deletes and non-HOT updates (each writes a new entry in
    every index) leave pages half-used. A bloated index is read from disk more
    often, caches less, and makes every scan over it slower.

    ## Fix
    `REINDEX INDEX CONCURRENTLY` rebuilds it compactly without blocking writes
    (it needs space for the copy while it runs). Then reduce the churn that caused
    it: HOT-friendly updates, vacuum that keeps up.

    Not for an index whose table's churn explains its bloat (as `table-bloat` judges
    it: the entries deletes and non-HOT updates leave dead between two vacuum passes
    are at least a third of the entries' worth of space the bloat holds): a job queue's indexes
    are that size again within a pass of a rebuild, which would only cost its I/O.
    Info, no fix, the counters in the evidence.
    """
    estimated_only = not snap.measures  # no --exact-bloat: every size is the catalog's
    for index in snap.indexes:
        if not index.is_valid:
            continue
        if estimated_only and index.bytes is not None and index.bytes < opts.ignore_below_bytes:
            # smaller than the least bloat reported, so holding less: not estimated (most
            # indexes, 37,000 at 10k tables, whose columns would each be looked up)
            continue
        bloat = _bloat.index_bloat(snap, index)
        if bloat is None or bloat.ratio < opts.min_ratio or bloat.bytes < opts.ignore_below_bytes:
            continue
        severity = bloat_severity(bloat, opts)
        as_of = f" (as of {short_time(bloat.as_of)})" if bloat.as_of else ""
        evidence = bloat_evidence(bloat)
        table = snap.table_by_oid.get(index.table_oid)
        churn = churn_per_pass(snap, table, bloat, opts) if table is not None else None
        if churn:
            evidence["steady_churn"] = churn
            severity = INFO
        yield finding(
            index,
            f"{index.name} on {index.schema}.{index.table} takes {human_bytes(bloat.actual_bytes)}"
            f"{as_of}; its entries need about {human_bytes(bloat.expected_bytes)}"
            f"{random_words(bloat)}: {bloat_words(bloat)}" + (churn_words(churn) if churn else ""),
            evidence=evidence,
            fix=None if severity == INFO else fixes.reindex_concurrently(index),
            severity=severity,
        )
