"""Activity rules: a table's life as pg_stat_user_tables tells it, over the statistics
window each finding states.

A partitioned table is judged once, on its counters summed over its partitions (the
server counts on the partitions only); its partitions are not judged one by one,
since empty or idle partitions (next month's, last year's) are normal.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from pgvitals import fixes
from pgvitals.fmt import plural
from pgvitals.rules._api import (
    ACTIVITY,
    LOW,
    MEDIUM,
    ROWS_OPTIONAL,
    Draft,
    NoOptions,
    finding,
    option,
    rule,
)
from pgvitals.rules.maintenance import autovacuum_trigger, churn_since, latest, live_rows
from pgvitals.snapshot.model import SCHEMAS_NOT_CHECKED, Snapshot, Table

COUNTERS = (
    "n_tup_ins",
    "n_tup_upd",
    "n_tup_del",
    "n_tup_hot_upd",
    "seq_tup_read",
    "idx_scan",
)


class Life(NamedTuple):  # one per table: a NamedTuple is quicker to make than a dataclass
    """A table's counters over the window (summed over partitions) and its rows now."""

    inserts: int
    updates: int
    deletes: int
    hot_updates: int
    seq_tup_read: int
    idx_scans: int
    dead: int
    rows: int
    rows_from: str

    @property
    def writes(self) -> int:
        return self.inserts + self.updates + self.deletes

    @property
    def read(self) -> bool:
        """Was a row read from it? Not the number of sequential scans: index builds,
        foreign key validation, backups and pgvitals's own row counts all scan."""
        return self.seq_tup_read > 0 or self.idx_scans > 0

    def evidence(self) -> dict[str, object]:
        return {
            "n_tup_ins": self.inserts,
            "n_tup_upd": self.updates,
            "n_tup_del": self.deletes,
            "n_tup_hot_upd": self.hot_updates,
            "n_dead_tup": self.dead,
            "rows": self.rows,
            "rows_from": self.rows_from,
        }


def judged_tables(snap: Snapshot) -> list[tuple[Table, Life]]:
    """Tables and partition roots with the counters the server keeps for them. The
    activity rules all read it: take it from `snap.facts.shared(judged_tables)`."""
    facts = snap.facts
    judged = []
    for table in snap.tables:
        if table.kind not in ("r", "p") or table.is_partition:
            continue
        counts = [facts.counter(table, name) for name in COUNTERS]
        if None in counts[:5]:
            continue  # no counters (track_counts off, or a partitioned table without parts)
        inserts, updates, deletes, hot, seq_read, idx_scans = (c or 0 for c in counts)
        if table.kind == "p":
            parts = facts.leaves_by_root.get(table.oid, [])
            rows, rows_from = facts.rows(table), "its partitions"
        else:
            parts = [table]
            rows, rows_from = live_rows(snap, table)
        dead = sum(part.n_dead_tup or 0 for part in parts)
        life = Life(
            inserts=inserts,
            updates=updates,
            deletes=deletes,
            hot_updates=hot,
            seq_tup_read=seq_read,
            idx_scans=idx_scans,
            dead=dead,
            rows=rows,
            rows_from=rows_from,
        )
        judged.append((table, life))
    return judged


@dataclass(frozen=True)
class ChurnOptions:
    min_inserts: int = option(1_000, "ignore tables with fewer inserts in the window")
    delete_ratio: float = option(0.8, "deletes / inserts from which rows count as churned")
    recent_naptimes: float = option(
        3,
        "dead tuples outnumbering the live ones do not make it medium on a table vacuumed"
        " within this many autovacuum naptimes (high-dead-tuple-ratio's churn)",
    )


@rule(
    "high-churn-table",
    category=ACTIVITY,
    severity=LOW,
    title="Rows created and destroyed over and over",
    options=ChurnOptions,
    rows=ROWS_OPTIONAL,
    uses_statistics=True,
    needs=("row_counts",),
    primary_counters=True,
)
def high_churn_table(snap: Snapshot, opts: ChurnOptions) -> Iterator[Draft]:
    """Deletes close to inserts, over many inserts, while some rows remain.

    A table whose rows are deleted about as fast as they are inserted (at least
    `delete_ratio` of `min_inserts` or more, in the window the finding states): a
    queue, a session or token store, a staging table. A table left empty is
    `cleared-table` instead. Medium when the dead rows outnumber the live ones,
    unless autovacuum is keeping up: it vacuumed the table within `recent_naptimes`
    naptimes, with no older transaction open, and its next pass will vacuum it (the
    dead tuples of a busy queue outnumber its live rows between two passes).

    ## Why it breaks
    Each deleted row stays as a dead tuple until VACUUM, and its index entries
    too: the table and its indexes are mostly garbage between vacuums, scans read
    it, and the space is reused only if vacuum keeps pace. With autovacuum's
    default 20 % threshold a small, busy table is vacuumed far too rarely, and one
    long transaction lets the garbage grow without bound. Deleting in a loop also
    writes WAL for every row twice.

    ## Fix
    For a queue, delete in batches and vacuum aggressively (`ALTER TABLE ... SET
    (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 100)`);
    use `FOR UPDATE SKIP LOCKED` consumers. For data kept for a period, partition
    by time and drop or truncate whole partitions instead of deleting rows. For
    scratch data, an UNLOGGED or temporary table.
    """
    window = snap.facts.window
    for table, life in snap.facts.shared(judged_tables):
        if life.inserts < opts.min_inserts or life.rows == 0:
            continue
        if life.deletes < opts.delete_ratio * life.inserts:
            continue
        churn = None
        if life.dead > life.rows and table.kind == "r":
            churn = churn_since(
                snap,
                table,
                latest(table.last_vacuum, table.last_autovacuum),
                opts.recent_naptimes,
                due=life.dead >= autovacuum_trigger(snap, table),
                vacuum=True,
            )
        yield finding(
            table,
            f"{life.inserts:,} rows inserted and {life.deletes:,} deleted {window.phrase},"
            f" {life.rows:,} remain" + (f"; {life.dead:,} dead tuples, {churn}" if churn else ""),
            evidence={
                **life.evidence(),
                "delete_ratio": round(life.deletes / life.inserts, 3),
                **window.evidence,
            },
            severity=MEDIUM if life.dead > life.rows and churn is None else None,
        )


@dataclass(frozen=True)
class ClearedOptions:
    min_inserts: int = option(100, "ignore tables with fewer inserts in the window")


@rule(
    "cleared-table",
    category=ACTIVITY,
    severity=LOW,
    title="Rows were inserted, none remain",
    options=ClearedOptions,
    rows=ROWS_OPTIONAL,
    uses_statistics=True,
    needs=("row_counts",),
    primary_counters=True,
)
def cleared_table(snap: Snapshot, opts: ClearedOptions) -> Iterator[Draft]:
    """A table that received at least `min_inserts` rows in the window and is empty.

    The rows count as gone when the rows read count none (else `n_live_tup`, or
    `reltuples` when that counter is stale: see `high-dead-tuple-ratio`).

    ## Why it breaks
    Either the table is a staging area, loaded and emptied by a job (then every
    cycle leaves dead tuples and WAL, and the rows are logged twice for nothing),
    or something deletes data it should keep: a cleanup job with a wrong
    condition, a cascade from a parent, a test run against the wrong database.
    Both deserve a look, and the second cannot wait.

    ## Fix
    Find what deletes the rows (`n_tup_del` says whether they were deleted row
    by row; TRUNCATE does not count there). For a staging table, `TRUNCATE` instead
    of `DELETE`, and `UNLOGGED` (or a temporary table) when the data can be
    reloaded after a crash.
    """
    window = snap.facts.window
    for table, life in snap.facts.shared(judged_tables):
        if life.inserts < opts.min_inserts or life.rows != 0:
            continue
        how = (
            f"{life.deletes:,} deleted"
            if life.deletes >= life.inserts
            else f"{life.deletes:,} deleted row by row, the rest truncated or rolled back"
        )
        yield finding(
            table,
            f"{life.inserts:,} rows inserted {window.phrase} and none remain ({how})",
            evidence={**life.evidence(), **window.evidence},
        )


@dataclass(frozen=True)
class UnusedTableOptions:
    min_statistics_hours: float = option(
        24.0,
        "statistics younger than this cannot show a table unused: nothing is reported"
        " (the top-level min_statistics_hours unless set here)",
    )


@rule(
    "unused-table",
    category=ACTIVITY,
    severity=LOW,
    title="Empty table, never written or read",
    options=UnusedTableOptions,
    rows=ROWS_OPTIONAL,
    uses_statistics=True,
    needs=("row_counts",),
    primary_counters=True,
)
def unused_table(snap: Snapshot, opts: UnusedTableOptions) -> Iterator[Draft]:
    """A table with no rows, no writes and no reads in a window long enough to mean it.

    No rows now, no insert, update or delete, no index scan and no row read by a
    sequential scan (`seq_tup_read`; the number of sequential scans says nothing
    here: each CREATE INDEX, foreign key validation, backup and pgvitals's own row
    count scans the table), over at least `min_statistics_hours` of statistics. Below that
    nothing is reported: a table filled by a weekly job looks the same for a week.

    ## Why it breaks
    It breaks nothing by itself, but it is clutter with a cost: readers of the
    schema must find out it is dead, migrations and backups carry it, grants and
    policies on it are reviewed for nothing, and a forgotten empty table is
    where an application writing to the wrong table goes unnoticed.

    ## Fix
    Find out whether anything still refers to it (code, views, functions, foreign
    keys) and drop it, or document why it exists (`COMMENT ON TABLE`).

    ## Silence
    A table kept for a feature not yet launched: `pgvitals:ignore unused-table` in
    its comment.
    """
    window = snap.facts.window
    if window.hours < opts.min_statistics_hours:
        return
    for table, life in snap.facts.shared(judged_tables):
        if life.rows != 0 or life.writes != 0 or life.read:
            continue
        yield finding(
            table,
            f"{table.qualname} is empty and was neither written nor read {window.phrase}",
            evidence={**life.evidence(), "seq_scan": table.seq_scan, **window.evidence},
        )


@dataclass(frozen=True)
class HotSpotOptions:
    min_updates: int = option(1_000, "ignore tables with fewer updates in the window")
    min_updates_per_row: float = option(5.0, "updates per row from which a table is a hot spot")
    max_hot_ratio: float = option(0.5, "HOT share of updates under which it is reported")
    fillfactor: int = option(80, "the fillfactor proposed where pages have no room left")


@rule(
    "update-hot-spot",
    category=ACTIVITY,
    severity=LOW,
    title="Rows updated over and over, mostly not HOT",
    options=HotSpotOptions,
    rows=ROWS_OPTIONAL,
    uses_statistics=True,
    needs=("row_counts",),
    primary_counters=True,
)
def update_hot_spot(snap: Snapshot, opts: HotSpotOptions) -> Iterator[Draft]:
    """Many updates per row, few of them heap-only (HOT).

    At least `min_updates` updates, `min_updates_per_row` per row, and a HOT share
    under `max_hot_ratio`. The rows are those that lived in the window: the live
    rows and the rows deleted in it, so a queue's jobs, each updated a few times in
    its short life, are not counted as its few remaining rows updated many times.
    Medium when no update at all was HOT and the rows were updated ten times or more
    each.

    ## Why it breaks
    An UPDATE writes a new row version. When no indexed column changes and the
    page has room, it is a HOT update: the new version stays on the same page
    and no index is touched. Otherwise every index of the table gets a new entry
    for the row, so counters, "last seen" stamps and status columns updated in
    place multiply index writes, WAL, index bloat and vacuum work by the number of
    indexes. No HOT update at all usually means an updated column is indexed; some
    but few means the pages are full (`fillfactor` 100, the default, leaves no
    room).

    ## Fix
    Drop or narrow an index on the frequently updated column if queries can do
    without it. Where pages are full, lower the table's fillfactor (`ALTER TABLE
    ... SET (fillfactor = 80)`: new pages keep 20 % free; existing pages change
    only when rewritten, e.g. by `VACUUM FULL` or pg_repack). Move a hot counter to
    a narrow table of its own.

    Where a BEFORE UPDATE row trigger assigns a column of the new row on every update
    (`new."updateId" = immich_uuid_v7()`, `NEW.updated_at := now()`) and an index holds
    that column (key, INCLUDE, expression or predicate), no update can be HOT, whatever
    it changes: the evidence names the trigger, the column and the indexes
    (`set_by_trigger`; from PostgreSQL 16 not a BRIN index, which does not stop HOT).
    Index such a column only if queries need it: a "changed since" cursor read in
    batches can often do with a BRIN index, which PostgreSQL 16 and later do not count
    against HOT (a partial index does not help: its predicate's columns count too).
    Or keep the marker in a narrow table of its own, written by the trigger, so the
    wide table's updates stay HOT.
    """
    window = snap.facts.window
    indexes = snap.indexes_by_table
    for table, life in snap.facts.shared(judged_tables):
        if life.updates < opts.min_updates:
            continue
        # the rows that lived in the window: those left and those deleted (a queue's
        # job, inserted, updated two or three times and deleted, is not updated over
        # and over because thousands came and went while a few hundred remain)
        lived = life.rows + life.deletes
        per_row = life.updates / max(lived, 1)
        hot_ratio = life.hot_updates / life.updates
        if per_row < opts.min_updates_per_row or hot_ratio >= opts.max_hot_ratio:
            continue
        fillfactor = int(table.options.get("fillfactor", 100))
        indexed = sorted(
            {
                column
                for index in indexes.get(table.oid, [])
                if not index.is_primary
                for column in index.key_columns
                if column is not None
            }
        )
        evidence: dict[str, object] = {
            **life.evidence(),
            "rows_lived": lived,
            "updates_per_row": round(per_row, 1),
            "hot_ratio": round(hot_ratio, 3),
            "fillfactor": fillfactor,
            "indexed_columns": indexed,
            **window.evidence,
        }
        fix = None
        stamped = set_by_trigger(snap, table)
        if stamped:
            evidence["set_by_trigger"] = stamped
            triggers = sorted({str(item["trigger"]) for item in stamped})
            columns = ", ".join(str(item["column"]) for item in stamped)
            holding = sorted({name for item in stamped for name in item["indexes"]})
            held = "index {} holds it" if len(holding) == 1 else "indexes {} hold them"
            advice = (
                f"trigger {', '.join(triggers)} sets {columns} on every update and"
                f" {held.format(', '.join(holding))}, so no update can be HOT"
            )
        elif life.hot_updates == 0:
            advice = "none was HOT, so an updated column is probably indexed"
            if indexed:
                advice += f" (indexed: {', '.join(indexed)})"
        elif fillfactor >= 100 and table.kind == "r":
            advice = f"pages have no room for HOT updates (fillfactor {fillfactor})"
            fix = fixes.set_fillfactor(table, opts.fillfactor)
        else:
            advice = "an updated column is indexed, or the pages fill up"
        yield finding(
            table,
            f"{life.updates:,} updates on {plural(lived, 'row')} ({per_row:,.1f} per row)"
            f" {window.phrase}, {hot_ratio:.0%} of them HOT; {advice}",
            evidence=evidence,
            fix=fix,
            severity=MEDIUM if life.hot_updates == 0 and per_row >= 10 else None,
        )


# PostgreSQL 16 lets an update stay HOT where it changes only what summarizing indexes
# (BRIN) hold (amsummarizing; heapam.c heap_update)
SUMMARIZING_FROM = 160000


def set_by_trigger(snap: Snapshot, table: Table) -> list[dict[str, Any]]:
    """The indexed columns a BEFORE UPDATE trigger of the table assigns on every update
    (Immich's `"updateId" = immich_uuid_v7()` under an index on "updateId"), each with
    the trigger, its function and the indexes that hold or read the column: those that
    make the update non-HOT, so not a BRIN index from PostgreSQL 16."""
    assigned = snap.facts.set_on_update.get(table.oid)
    if not assigned:
        return []
    found = []
    indexes = [
        index
        for index in snap.indexes_by_table.get(table.oid, [])
        # a summarizing index (BRIN) does not stop HOT from PostgreSQL 16
        if not (index.method == "brin" and snap.server.version_num >= SUMMARIZING_FROM)
    ]
    for column, trigger in sorted(assigned.items()):
        holding = [index.name for index in indexes if column in snap.facts.index_columns(index)]
        if holding:
            found.append(
                {
                    "column": column,
                    "trigger": trigger.name,
                    "function": f"{trigger.function_schema}.{trigger.function_name}()",
                    "indexes": holding,
                }
            )
    return found


@rule(
    "empty-schema",
    category=ACTIVITY,
    severity=LOW,
    title="Schema with nothing in it",
)
def empty_schema(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """A schema that holds no table, view, sequence, function, type or other object.

    `public` is left out: a new database has it empty. Objects that belong to an
    extension count: a schema made to hold one (`CREATE EXTENSION "uuid-ossp" WITH
    SCHEMA extensions`) is not empty. In a review, a schema that a statement the
    server could not check would have put objects in (an extension it lacks, and what
    needs it) is left out: it is not empty where the files run for real.

    ## Why it breaks
    Nothing breaks, but it misleads: readers look for what belongs there, a
    migration may have failed to create its contents, and whoever may CREATE in
    it can put objects there that `search_path` will find before the intended
    ones.

    ## Fix
    `DROP SCHEMA` it if nothing is meant to go there (check its grants first), or
    say what it is for with `COMMENT ON SCHEMA`.
    """
    unchecked = {
        name for entry in snap.collection.skipped for name in entry.get(SCHEMAS_NOT_CHECKED, ())
    }
    for schema in snap.schemas:
        if schema.name == "public" or schema.object_count != 0 or schema.name in unchecked:
            continue
        yield finding(schema, f"schema {schema.name} is empty", evidence={"owner": schema.owner})


@dataclass(frozen=True)
class AbortedOptions:
    min_aborted: int = option(100, "ignore fewer aborted inserts than this")
    min_ratio: float = option(0.05, "aborted inserts / inserts from which to report")
    medium_ratio: float = option(0.25, "share of the inserts from which it is medium")


def committed_rows(snap: Snapshot, table: Table, life: Life) -> int:
    """The rows that `life`'s inserts left: its rows, except that a partition (or the
    table) whose rows were read in a sample counts its `n_live_tup` instead."""
    parts = stored_parts(snap, table)
    if not any(sampled_count(snap, part) for part in parts):
        return life.rows
    return sum(
        max(part.n_live_tup or 0, 0) if sampled_count(snap, part) else snap.row_count(part)
        for part in parts
    )


def stored_parts(snap: Snapshot, table: Table) -> list[Table]:
    """The tables that hold `table`'s rows: its partitions, or itself."""
    return snap.facts.leaves_by_root.get(table.oid, []) if table.kind == "p" else [table]


def never_vacuumed(snap: Snapshot, table: Table) -> bool:
    """Did no VACUUM (manual or auto) run on the table or its partitions in the window?
    False where the server keeps no such counters."""
    parts = stored_parts(snap, table)
    counts = [count for part in parts for count in (part.vacuum_count, part.autovacuum_count)]
    return bool(counts) and all(count == 0 for count in counts)


def sampled_count(snap: Snapshot, table: Table) -> bool:
    profile = snap.profile_by_table.get(table.oid)
    return profile is not None and profile.row_count is not None and profile.sampled


@rule(
    "aborted-writes",
    category=ACTIVITY,
    severity=LOW,
    title="Inserts rolled back: writes that failed",
    options=AbortedOptions,
    rows=ROWS_OPTIONAL,
    uses_statistics=True,
    needs=("row_counts",),
    primary_counters=True,
)
def aborted_writes(snap: Snapshot, opts: AbortedOptions) -> Iterator[Draft]:
    """Rows inserted and then rolled back, from two signs in the counters.

    `n_tup_ins` counts inserted rows whether their transaction commits or not, so
    inserts beyond the rows that remain and the rows deleted (`n_tup_ins -
    n_tup_del - rows`, a lower bound when the table had rows before the window)
    were rolled back. The rows are a count of them, or, where they were only
    sampled, `n_live_tup`, which a rolled-back insert does not raise: a sample's
    count is an estimate whose error would read as rolled-back inserts (10 % of
    Hatchet's "Event"). And dead tuples in a table that was never updated or
    deleted from can only be rolled-back inserts. The larger of the two is
    reported, from `min_aborted` and `min_ratio` of the inserts.

    TRUNCATE removes rows without counting deletes, so a table emptied that way
    (miniflux's `schema_version`: TRUNCATE, then INSERT of the new version, at each
    migration) also has inserts beyond its rows. Where the dead tuples tell all, they
    alone count: a rolled-back insert leaves a dead tuple that only VACUUM (or
    TRUNCATE) removes when nothing on the table was updated or deleted (an insert
    marks no page for pruning), so with no update, delete or vacuum in the window,
    the rolled-back inserts are the dead tuples, and the rest of the shortfall was
    truncated.

    ## Why it breaks
    Usually the application inserts, hits a constraint (a unique key, a foreign
    key, a check) and retries or gives up: each attempt costs a round trip, a
    transaction ID, WAL for the row and its index entries, and leaves a dead
    tuple for vacuum. It often hides a race (two workers creating the same row)
    or data the application does not validate, and the errors fill the server log.

    ## Fix
    Find the failing statement in the server log (`log_min_error_statement`) or
    pg_stat_statements. Check first, or use `INSERT ... ON CONFLICT DO NOTHING /
    DO UPDATE` for races on a unique key; validate input before writing.
    """
    window = snap.facts.window
    for table, life in snap.facts.shared(judged_tables):
        if life.inserts == 0:
            continue
        committed = committed_rows(snap, table, life)
        beyond = life.inserts - life.deletes - committed
        dead_without_cause = life.dead if life.updates == 0 and life.deletes == 0 else 0
        if dead_without_cause == life.dead and never_vacuumed(snap, table):
            beyond = 0  # every rolled-back insert is still a dead tuple: the rest was truncated
        aborted = max(beyond, dead_without_cause)
        if aborted < opts.min_aborted or aborted < opts.min_ratio * life.inserts:
            continue
        ratio = aborted / life.inserts
        yield finding(
            table,
            f"at least {aborted:,} of {life.inserts:,} inserted rows ({ratio:.0%}) were rolled"
            f" back {window.phrase}",
            evidence={
                **life.evidence(),
                **({} if committed == life.rows else {"committed_rows": committed}),
                "aborted_inserts": aborted,
                "aborted_ratio": round(ratio, 3),
                **window.evidence,
            },
            severity=MEDIUM if ratio >= opts.medium_ratio else None,
        )
