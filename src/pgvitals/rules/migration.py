"""Migration safety: statements of a reviewed migration that would stop or break a live
database when deployed (`pgvitals review --base`: the tables the base schema has are
the ones that hold data and serve traffic). Found while the review loads the files
(review/safety.py); a live database or a review without a base has none.

They are integrity and index rules, not maintenance ones, although two are about
rewrites and scans: a live check's maintenance area is judged by its statistics, and
these never find anything there."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pgvitals.fmt import human_bytes
from pgvitals.rules._api import (
    HIGH,
    INDEXES,
    INTEGRITY,
    LOW,
    MEDIUM,
    Draft,
    NoOptions,
    Severity,
    finding,
    option,
    rule,
)
from pgvitals.snapshot.model import MigrationHazard, Snapshot


@dataclass(frozen=True)
class TableSizeOptions:
    """For the rules whose harm lasts as long as a scan or build of the table: the
    sizes, read from a base database's statistics (`--base DSN`), that set it."""

    small_rows: int = option(10_000, "rows below which (and small_bytes) the lock is brief: low")
    large_rows: int = option(1_000_000, "rows from which it is the rule's severity; medium below")
    small_bytes: int = option(16 * 2**20, "bytes on disk below which a table can be small")
    large_bytes: int = option(2**30, "bytes on disk from which a table is large, whatever its rows")


def size_severity(hazard: MigrationHazard, opts: TableSizeOptions) -> Severity | None:
    """Low for a small table, medium for a middling one, the rule's own otherwise and
    where the size is unknown (the base is files). A table never vacuumed
    or analyzed has no pages counted (0 bytes, whatever it holds): its live rows from the
    activity counters judge it alone."""
    rows, size = hazard.rows_estimate, hazard.bytes
    if rows is None:
        return None
    small = rows < opts.small_rows and (size is None or size < opts.small_bytes)
    large = rows >= opts.large_rows or (size is not None and size >= opts.large_bytes)
    return LOW if small else None if large else MEDIUM


def hazards(
    snap: Snapshot,
    rule_id: str,
    what: str | Callable[[MigrationHazard], str],
    opts: TableSizeOptions | None = None,
    empty_is_low: bool = False,
    safe_form: Callable[[MigrationHazard], str | None] | None = None,
) -> Iterator[Draft]:
    """The findings of one rule: `what` says what the statement does to {tables} (or
    gives that, from the hazard).
    With `opts`, the size of the largest table in the base database sets the severity;
    with `empty_is_low`, a table empty there makes it low. `safe_form` may give a
    statement a safe form of its own in place of the linter's."""
    for hazard in snap.migration_hazards:
        if hazard.rule != rule_id:
            continue
        tables = ", ".join(hazard.tables)
        does = what if isinstance(what, str) else what(hazard)
        evidence: dict[str, object] = {
            "statement": hazard.statement,
            "tables": hazard.tables,
            "found": hazard.messages,
            "found_by": hazard.found_by,
        }
        own = safe_form(hazard) if safe_form else None
        if own or hazard.fix:
            evidence["safe_form"] = own or hazard.fix
        locked = ""
        if hazard.locked_too and "{locked_too}" in does:
            locked = f" to it and to {', '.join(hazard.locked_too)}, which it references"
            evidence["locked_too"] = hazard.locked_too
        message = f"`{hazard.statement}` {does.format(tables=tables, locked_too=locked)}"
        severity = None
        if hazard.rows_estimate is not None or hazard.bytes is not None:
            evidence["base_rows"] = hazard.rows_estimate
            evidence["base_bytes"] = hazard.bytes
            message += f" ({size_words(hazard)} in the base)"
            if opts is not None:
                severity = size_severity(hazard, opts)
            elif empty_is_low and hazard.rows_estimate == 0:
                severity = LOW
        yield finding(hazard.located, message, evidence=evidence, severity=severity)


def size_words(hazard: MigrationHazard) -> str:
    """`~1,200,000 rows, 180.0 MB` of the largest table a statement acts on."""
    if hazard.bytes is None:
        return f"~{hazard.rows_estimate or 0:,.0f} live rows, never vacuumed or analyzed"
    return f"~{hazard.rows_estimate or 0:,.0f} rows, {human_bytes(hazard.bytes)}"


@rule(
    "migration-index-not-concurrent",
    category=INDEXES,
    severity=HIGH,
    title="A migration builds an index on an existing table without CONCURRENTLY",
    options=TableSizeOptions,
)
def migration_index_not_concurrent(snap: Snapshot, opts: TableSizeOptions) -> Iterator[Draft]:
    """CREATE INDEX without CONCURRENTLY on a table the database already has.

    Reported by `pgvitals review --base` for statements of the reviewed files that act
    on a table of the base schema; an index on a table the reviewed files create
    themselves locks nobody and is not reported. An index that a DO block or a CALL
    builds is found by comparing the base's indexes before and after it runs: a block
    runs in one transaction, where CONCURRENTLY cannot be used. Where the file's
    migration tool runs it in a transaction block (sqlx, unless the file starts with
    `-- no-transaction`, and each tool `invalid-ddl` knows to wrap files), the evidence's
    `safe_form` names the tool's opt-out too: CONCURRENTLY alone would fail at deploy.

    With `--base DSN` (or a snapshot of it) the table's size in that database (from its
    statistics, its partitions' included) sets the severity: low under `small_rows` rows and
    `small_bytes`, medium under `large_rows` rows and `large_bytes`, this rule's own
    above them and where the size is unknown (a base of files). A table
    the base never vacuumed or analyzed is weighed by its live rows alone.

    ## Why it breaks
    A plain CREATE INDEX takes a SHARE lock on the table for the whole build: reads go
    on, but every INSERT, UPDATE and DELETE waits until the index is built, which on a
    large table is minutes to hours. Requests pile up behind the lock, connection
    pools run dry and the application stops writing.

    ## Fix
    Build it with `CREATE INDEX CONCURRENTLY`, outside a transaction block (most
    migration tools have a per-migration switch for that). It takes longer and scans
    the table twice, but writes go on. If it fails it leaves an INVALID index behind:
    drop it and build it again.
    """
    yield from hazards(snap, "migration-index-not-concurrent", "blocks writes to {tables} "
                       "while the index is built", opts)  # fmt: skip


@rule(
    "migration-drop-index-not-concurrent",
    category=INDEXES,
    severity=MEDIUM,
    title="A migration drops an index of an existing table without CONCURRENTLY",
)
def migration_drop_index_not_concurrent(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """DROP INDEX without CONCURRENTLY on an index of a table the database already has.

    ## Why it breaks
    A plain DROP INDEX takes an ACCESS EXCLUSIVE lock on the index's table. The drop
    itself is quick, but the lock has to wait for every running query on the table to
    finish, and while it waits every new query, reads included, queues behind it: one
    long report query turns a quick drop into an outage.

    ## Fix
    Use `DROP INDEX CONCURRENTLY` (outside a transaction block), which waits for the
    queries using the index without blocking new ones; or set a short `lock_timeout`
    before the drop and retry it.
    """
    yield from hazards(snap, "migration-drop-index-not-concurrent",
                       "takes an ACCESS EXCLUSIVE lock on {tables}")  # fmt: skip


@rule(
    "migration-reindex-not-concurrent",
    category=INDEXES,
    severity=HIGH,
    title="A migration rebuilds indexes of an existing table without CONCURRENTLY",
    options=TableSizeOptions,
)
def migration_reindex_not_concurrent(snap: Snapshot, opts: TableSizeOptions) -> Iterator[Draft]:
    """REINDEX without CONCURRENTLY on a table (or index) the database already has.

    With `--base DSN` (or a snapshot of it) the table's size in that database (from its
    statistics, its partitions' included) sets the severity: low under `small_rows` rows and
    `small_bytes`, medium under `large_rows` rows and `large_bytes`, this rule's own
    above them and where the size is unknown (a base of files). A table
    the base never vacuumed or analyzed is weighed by its live rows alone.

    ## Why it breaks
    A plain REINDEX blocks writes to the table for as long as the rebuild takes, and
    also blocks the reads that would use the index being rebuilt; on a large table
    that is a long outage for everything that writes to it.

    ## Fix
    Use `REINDEX ... CONCURRENTLY` (PostgreSQL 12 and later, outside a transaction
    block), which builds the new index beside the old one and swaps them.
    """
    yield from hazards(snap, "migration-reindex-not-concurrent",
                       "blocks writes to {tables} while its indexes are rebuilt", opts)  # fmt: skip


@rule(
    "migration-constraint-without-not-valid",
    category=INTEGRITY,
    severity=HIGH,
    title="A migration adds a CHECK or FOREIGN KEY validated at once on an existing table",
    options=TableSizeOptions,
)
def migration_constraint_without_not_valid(
    snap: Snapshot, opts: TableSizeOptions
) -> Iterator[Draft]:
    """ADD CONSTRAINT ... CHECK or FOREIGN KEY without NOT VALID on an existing table.

    With `--base DSN` (or a snapshot of it) the table's size in that database (from its
    statistics, its partitions' included) sets the severity: low under `small_rows` rows and
    `small_bytes`, medium under `large_rows` rows and `large_bytes`, this rule's own
    above them and where the size is unknown (a base of files). A table
    the base never vacuumed or analyzed is weighed by its live rows alone.

    ## Why it breaks
    Adding the constraint checks every existing row while holding the lock the ALTER
    TABLE took: ACCESS EXCLUSIVE for a CHECK (nothing reads or writes the table), and
    SHARE ROW EXCLUSIVE on both tables for a FOREIGN KEY (no writes to either: the
    referenced table, often the busiest, is named in `locked_too`). On a
    large table that scan is a long outage; if one old row violates the constraint,
    the migration fails at the end of it.

    ## Fix
    Add it `NOT VALID` (new and changed rows are checked from then on, at once), then
    `ALTER TABLE ... VALIDATE CONSTRAINT ...` in a separate transaction: validation
    takes only a SHARE UPDATE EXCLUSIVE lock (reads and writes go on) for the scan.
    PostgreSQL before 18 refuses a NOT VALID foreign key on a partitioned table: there
    add it `NOT VALID` to each partition and validate it there, then add it to the
    partitioned table under the same name, which adopts the partitions' validated keys
    without a scan (GitLab's `add_concurrent_partitioned_foreign_key` does this).
    """

    def partitioned_key(hazard: MigrationHazard) -> str | None:
        said = " ".join((hazard.statement, hazard.found_by, *hazard.messages))
        if snap.server.version_num >= 180000 or "foreign key" not in said.lower().replace("-", " "):
            return None
        partitioned = [
            t.qualname for t in snap.tables if t.kind == "p" and t.qualname in hazard.tables
        ]
        if not partitioned:
            return None
        return (
            f"{', '.join(partitioned)} is partitioned: PostgreSQL before 18 refuses NOT VALID"
            " there. Add the key NOT VALID to each partition and VALIDATE it there, then"
            " add it to the partitioned table under the same name: it adopts the"
            " partitions' validated keys without a scan."
        )

    yield from hazards(snap, "migration-constraint-without-not-valid",
                       "scans {tables} under a lock that blocks writes{locked_too}", opts,
                       safe_form=partitioned_key)  # fmt: skip


@rule(
    "migration-key-without-index",
    category=INDEXES,
    severity=HIGH,
    title="A migration adds a PRIMARY KEY or UNIQUE constraint that builds its index in place",
    options=TableSizeOptions,
)
def migration_key_without_index(snap: Snapshot, opts: TableSizeOptions) -> Iterator[Draft]:
    """ADD PRIMARY KEY or ADD UNIQUE on an existing table without USING INDEX.

    With `--base DSN` (or a snapshot of it) the table's size in that database (from its
    statistics, its partitions' included) sets the severity: low under `small_rows` rows and
    `small_bytes`, medium under `large_rows` rows and `large_bytes`, this rule's own
    above them and where the size is unknown (a base of files). A table
    the base never vacuumed or analyzed is weighed by its live rows alone.

    ## Why it breaks
    The constraint builds its unique index while the ALTER TABLE holds an ACCESS
    EXCLUSIVE lock on the table: neither reads nor writes get through until the index
    is built. A primary key over nullable columns also scans the table to set them
    NOT NULL under the same lock.

    ## Fix
    Build the unique index first with `CREATE UNIQUE INDEX CONCURRENTLY`, then attach
    it: `ALTER TABLE ... ADD CONSTRAINT name PRIMARY KEY USING INDEX index_name` (or
    `UNIQUE USING INDEX`), which takes the lock only for a moment. For a primary key,
    prove the columns NOT NULL first (see migration-set-not-null-scan).
    """
    yield from hazards(snap, "migration-key-without-index",
                       "builds a unique index on {tables} under an ACCESS EXCLUSIVE "
                       "lock", opts)  # fmt: skip


@rule(
    "migration-required-column",
    category=INTEGRITY,
    severity=HIGH,
    title="A migration adds a NOT NULL column without a default to an existing table",
)
def migration_required_column(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """ADD COLUMN ... NOT NULL without a DEFAULT on a table the database already has.

    Low where the table is empty in a base database (`--base DSN`, from its statistics):
    the statement succeeds there, as long as no row arrives before the deploy.

    ## Why it breaks
    Every existing row would get NULL in the new column, which NOT NULL forbids: on a
    table with rows the statement fails, and the deploy stops there. It passes in
    development and CI, where the table is empty, and fails in production.

    ## Fix
    Give the column a non-volatile DEFAULT (PostgreSQL 11 and later store it without
    rewriting the table), or add it nullable, backfill it in batches, and then make it
    NOT NULL the safe way (see migration-set-not-null-scan).
    """
    what = "fails on {tables} as soon as it holds a row"
    yield from hazards(snap, "migration-required-column", what, empty_is_low=True)


@rule(
    "migration-table-rewrite",
    category=INTEGRITY,
    severity=HIGH,
    title="A migration rewrites an existing table",
    options=TableSizeOptions,
)
def migration_table_rewrite(snap: Snapshot, opts: TableSizeOptions) -> Iterator[Draft]:
    """An ALTER TABLE that PostgreSQL ran by rewriting a table the database already has.

    The review does not guess: it compares the table's storage (its relfilenode, and
    its partitions') before and after the statement loads on the review server, a DO
    block's or a CALL's too, whatever statements they run. A
    column type change that needs a conversion (integer to bigint), a volatile default
    (`random()`, `clock_timestamp()`, a serial column), SET LOGGED/UNLOGGED and a
    change of access method rewrite; a varchar widened to text, or a constant default
    on PostgreSQL 11 and later, do not. So does a statement that keeps the table's
    files but builds one of its indexes anew (its relfilenode changed): a column's
    collation changed (Svix's `ALTER TABLE message ALTER uid TYPE VARCHAR COLLATE
    "C"`), and no index sorted by the old one can serve it; the whole index is built
    under the ALTER's ACCESS EXCLUSIVE lock.

    With `--base DSN` (or a snapshot of it) the table's size in that database (from its
    statistics, its partitions' included) sets the severity: low under `small_rows` rows and
    `small_bytes`, medium under `large_rows` rows and `large_bytes`, this rule's own
    above them and where the size is unknown (a base of files). A table
    the base never vacuumed or analyzed is weighed by its live rows alone.

    ## Why it breaks
    A rewrite copies every row into new files and rebuilds every index, holding an
    ACCESS EXCLUSIVE lock throughout: nothing reads or writes the table until it is
    done, and it needs disk for a second copy of the table and its indexes.

    ## Fix
    Do it in steps that do not rewrite: add a new column (nullable, or with a constant
    default), backfill it in batches, switch the application to it, then drop the old
    one. For a key about to overflow, plan that change ahead with the same steps.
    """
    yield from hazards(snap, "migration-table-rewrite", rewrite_words, opts)


def rewrite_words(hazard: MigrationHazard) -> str:
    """What the statement did: rewrote the table, or (the review's words for it begin
    "PostgreSQL built index") only built indexes of it anew."""
    if all(line.startswith("PostgreSQL built index") for line in hazard.messages):
        return "builds indexes of {tables} anew under an ACCESS EXCLUSIVE lock (not the table)"
    return "rewrites {tables} under an ACCESS EXCLUSIVE lock"


@rule(
    "migration-set-not-null-scan",
    category=INTEGRITY,
    severity=HIGH,
    title="A migration sets NOT NULL on an existing column without a validated CHECK",
    options=TableSizeOptions,
)
def migration_set_not_null_scan(snap: Snapshot, opts: TableSizeOptions) -> Iterator[Draft]:
    """ALTER COLUMN ... SET NOT NULL on an existing table, with nothing proving it first.

    The review asks the server, before the statement runs, whether the column is
    nullable and has no validated `CHECK (column IS NOT NULL)`: only then does
    PostgreSQL scan.

    With `--base DSN` (or a snapshot of it) the table's size in that database (from its
    statistics, its partitions' included) sets the severity: low under `small_rows` rows and
    `small_bytes`, medium under `large_rows` rows and `large_bytes`, this rule's own
    above them and where the size is unknown (a base of files). A table
    the base never vacuumed or analyzed is weighed by its live rows alone.

    ## Why it breaks
    SET NOT NULL reads the whole table to prove no row holds NULL, holding an ACCESS
    EXCLUSIVE lock: neither reads nor writes get through until the scan is done.

    ## Fix
    Add `CHECK (column IS NOT NULL) NOT VALID`, then `VALIDATE CONSTRAINT` it in
    another transaction (that scan lets reads and writes go on); SET NOT NULL then
    uses the validated constraint instead of scanning (PostgreSQL 12 and later), and
    the CHECK can be dropped afterwards.
    """
    yield from hazards(snap, "migration-set-not-null-scan",
                       "scans {tables} under an ACCESS EXCLUSIVE lock", opts)  # fmt: skip


@rule(
    "migration-rename-column",
    category=INTEGRITY,
    severity=MEDIUM,
    title="A migration renames a column of an existing table",
)
def migration_rename_column(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """ALTER TABLE ... RENAME COLUMN on a table the database already has.

    A column the reviewed files add themselves, renamed later in them, is not
    reported: code running on the base does not use it.

    ## Why it breaks
    During a deploy the application servers still running the previous version keep
    using the old name: every query that names it fails from the moment the migration
    commits until the last old server is gone. Views, functions and other services
    that name the column break the same way.

    ## Fix
    Expand and contract: add the new column, write both, backfill, move the readers,
    stop writing the old one, and drop it in a later release. Or keep the old name
    reachable for one release (a view, or a generated column) while code moves over.
    """
    yield from hazards(snap, "migration-rename-column",
                       "renames a column of {tables} that running code may still use")  # fmt: skip


@rule(
    "migration-rename-table",
    category=INTEGRITY,
    severity=MEDIUM,
    title="A migration renames an existing table",
)
def migration_rename_table(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """ALTER TABLE ... RENAME TO on a table the database already has.

    ## Why it breaks
    Application servers still running the previous version, and any other service or
    report that names the table, fail on every query that uses the old name from the
    moment the migration commits.

    ## Fix
    Rename in steps: create a view with the old name over the renamed table (simple
    views accept writes) for one release, move the code to the new name, then drop
    the view.
    """
    yield from hazards(snap, "migration-rename-table",
                       "renames {tables} while running code may still use the name")  # fmt: skip


@rule(
    "migration-drop-column",
    category=INTEGRITY,
    severity=MEDIUM,
    title="A migration drops a column of an existing table",
)
def migration_drop_column(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """ALTER TABLE ... DROP COLUMN on a table the database already has.

    A column the reviewed files add themselves, dropped later in them, is not
    reported: code running on the base does not use it.

    ## Why it breaks
    Code still running the previous version selects or inserts the column and fails
    from the moment the migration commits; an ORM that lists every column fails even
    on queries that never use it. The column's data is gone with it.

    ## Fix
    Stop using the column first: release code that no longer reads or writes it (for
    an ORM, mark it ignored), and drop it in a later migration, once no running
    version names it.
    """
    yield from hazards(snap, "migration-drop-column",
                       "drops a column of {tables} that running code may still use")  # fmt: skip


@rule(
    "migration-drop-table",
    category=INTEGRITY,
    severity=MEDIUM,
    title="A migration drops an existing table",
)
def migration_drop_table(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """DROP TABLE on a table the database already has.

    ## Why it breaks
    Its rows are gone for good (only a backup brings them back), and code still
    running the previous version fails on every query that uses it. The drop also
    waits for an ACCESS EXCLUSIVE lock, queueing every new query on the table behind
    any long-running one.

    ## Fix
    Make sure nothing uses the table any more (no query in the statistics, no code
    naming it), keep a copy if the data may be needed, and drop it in a release after
    the code stopped using it.
    """
    yield from hazards(snap, "migration-drop-table",
                       "drops {tables}, with its rows")  # fmt: skip


def long_work_hazards(snap: Snapshot, rule_id: str, opts: TableSizeOptions) -> Iterator[Draft]:
    """The findings of a rule whose harm lasts as long as a statement's long work (the
    rows a backfill changes, a scan or build of a table), one per statement: the size of
    that work sets the severity, and work the base's statistics show small (low) is left
    out: the lock lasts a moment."""
    kept: dict[tuple[str, int], list[tuple[MigrationHazard, Severity | None]]] = {}
    for hazard in snap.migration_hazards:
        if hazard.rule != rule_id:
            continue
        work = hazard._replace(rows_estimate=hazard.work_rows, bytes=hazard.work_bytes)
        severity = size_severity(work, opts)
        if severity != LOW:
            kept.setdefault((hazard.file, hazard.line), []).append((work, severity))
    for pairs in kept.values():
        # the largest work first: it sets the severity and the sizes shown
        pairs.sort(key=lambda pair: (pair[0].bytes or 0, pair[0].rows_estimate or 0), reverse=True)
        work, severity = pairs[0]
        messages = list(dict.fromkeys(m for hazard, _ in pairs for m in hazard.messages))
        tables = sorted({t for hazard, _ in pairs for t in hazard.tables})
        if any(s is None for _, s in pairs):
            severity = None
        evidence: dict[str, object] = {
            "statement": work.statement,
            "tables": tables,
            "found": messages,
            "found_by": work.found_by,
            "safe_form": work.fix,
        }
        shown = "; ".join(messages[:3]) + (
            f"; and {len(messages) - 3} more" if len(messages) > 3 else ""
        )
        message = f"`{work.statement}` {shown}"
        if work.rows_estimate is not None or work.bytes is not None:
            evidence["work_rows"], evidence["work_bytes"] = work.rows_estimate, work.bytes
            message += f" ({size_words(work)} to go through, by the base's statistics)"
        yield finding(work.located, message, evidence=evidence, severity=severity)


@rule(
    "migration-backfill-in-transaction",
    category=INTEGRITY,
    severity=HIGH,
    title="A migration changes the rows of an existing table in one statement (a backfill)",
    options=TableSizeOptions,
)
def migration_backfill_in_transaction(snap: Snapshot, opts: TableSizeOptions) -> Iterator[Draft]:
    """UPDATE or DELETE of many rows of a table the database already has, or an INSERT ...
    SELECT copying them, in one statement of a migration.

    Reported by `pgvitals review --base` where the table exists in the base (one the
    reviewed files create is empty). With `--base DSN` the base's planner estimates, from
    its statistics, how many rows the statement's WHERE matches (an EXPLAIN of the
    SELECT of the same rows, in a read-only session), and that share of the table sets
    the severity: low under `small_rows` rows and `small_bytes` (then not reported: a
    bounded batch such as `WHERE id BETWEEN 1 AND 5000`), medium under `large_rows` and
    `large_bytes`, this rule's own above. A WHERE the planner cannot estimate (it names
    a column the reviewed files add, as `WHERE new_column IS NULL`) bounds nothing, nor
    does a WHERE of an `UPDATE ... FROM` or `DELETE ... USING` that only equates the
    table's columns to those of the tables it joins (`WHERE s.session_id = w.session_id
    AND s.website_id = w.website_id`): it matches every row that has a partner, where the
    planner, multiplying the selectivities of keys that go together, estimates a few.
    With a base of files there are no statistics, and a snapshot's give sizes but no
    planner: only statements with no WHERE, or one that only joins, are reported, at
    this rule's severity (weighed by a snapshot's sizes).

    ## Why it breaks
    Every row the statement changes stays locked until its transaction commits: the
    application's own UPDATEs and DELETEs of those rows wait, for the whole statement
    and, where the migration tool runs the file in one transaction, for every statement
    after it. Each changed row is written anew and its old version stays behind as a
    dead row: the table grows by a copy of the rows changed.
    And while the transaction runs, VACUUM cannot remove the rows that any table of the
    database deletes or updates after it began: the whole database bloats for as long
    as the backfill takes.

    ## Fix
    Backfill outside the migration's transaction, in batches that each commit: a loop
    of `UPDATE ... WHERE id >= $1 AND id < $1 + 10000` (on the key, so each batch finds
    its rows by index), pausing between batches so that vacuum and replicas keep up; or
    a separate, non-transactional migration step. Code reading the column must cope
    with rows not yet backfilled until it is done.
    """
    yield from long_work_hazards(snap, "migration-backfill-in-transaction", opts)


@rule(
    "migration-lock-held-during-long-statement",
    category=INTEGRITY,
    severity=HIGH,
    title="A migration holds a lock on an existing table while a later statement runs long",
    options=TableSizeOptions,
)
def migration_lock_held_during_long_statement(
    snap: Snapshot, opts: TableSizeOptions
) -> Iterator[Draft]:
    """A statement takes a lock that stops writes to a table the database already has,
    and a later statement of the same transaction runs long.

    The locks are PostgreSQL's own: the review reads `pg_locks` after each statement
    loads. Those that stop writes count: SHARE (an index built in place), SHARE ROW
    EXCLUSIVE (ADD FOREIGN KEY and ADD COLUMN ... REFERENCES take it on the referenced
    table), EXCLUSIVE, and ACCESS EXCLUSIVE (most ALTER TABLEs, which stops reads too).
    A long statement is a backfill (see migration-backfill-in-transaction), a rewrite,
    a SET NOT NULL scan, an index built in place, a REINDEX, or a constraint checked
    against every row (ADD CONSTRAINT without NOT VALID, VALIDATE CONSTRAINT). A lock on
    the long statement's own table is reported where it is stronger than what that
    statement takes itself (an ACCESS EXCLUSIVE from an earlier ALTER stops the reads
    a backfill alone lets through). Reported on the statement that takes the lock,
    naming the long one.

    A migration's transaction is its file, cut at the file's own BEGIN, COMMIT and
    ROLLBACK; a file with a statement that cannot run in a transaction block (CREATE
    INDEX CONCURRENTLY, VACUUM) is run one statement at a time outside its own
    BEGIN ... COMMIT, and so is a file whose tool runs it so (goose's `NO TRANSACTION`,
    Atlas's `txmode none`, Drone CI's `togo ddl` sections: review/runners.py). With
    `--base DSN` the size of the long statement's work (the rows a backfill matches, the
    table it scans) sets the severity as for the other migration rules; a small one is
    not reported.

    ## Why it breaks
    A lock is released when the transaction ends, not when the statement that took it
    does. Lemmy's migration of 2026-03-19 adds `comment.community_id REFERENCES
    community`, then fills it with one UPDATE of every comment: `community` takes no
    write (SHARE ROW EXCLUSIVE), and `comment` no read either (ACCESS EXCLUSIVE), until
    the last comment is updated and the file commits. Each statement alone holds its
    lock for a moment; together they hold it for the whole backfill.

    ## Fix
    Run the long statement in a migration of its own (for a backfill: in committed
    batches outside any migration transaction), or move the statement that takes the
    lock after it, so that the lock is held only for a moment.
    """
    yield from long_work_hazards(snap, "migration-lock-held-during-long-statement", opts)
