"""The Snapshot: everything a rule may look at, as plain frozen data.

The catalog entities are NamedTuples: immutable like frozen dataclasses, but built
several times faster, which matters at 175,000 columns (a frozen dataclass sets
each field through object.__setattr__). Snapshot and the info classes are frozen
dataclasses.

Field names equal the column aliases of the queries in `queries/*.sql`, so rows map
straight onto these classes. Everything is JSON-serialisable (see `io.py`), so a
snapshot saved today can be analysed offline or compared with a later one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple

from pgvitals.findings import Located

if TYPE_CHECKING:
    from pgvitals.snapshot.facts import Facts

SNAPSHOT_FORMAT = "pgvitals-snapshot/1"


@dataclass(frozen=True, slots=True)
class ServerInfo:
    version_num: int  # server_version_num, e.g. 160002
    version: str  # e.g. "16.2"
    database: str
    current_user: str
    is_superuser: bool
    in_recovery: bool
    collected_at: str  # server clock, ISO 8601
    postmaster_start_time: str
    stats_reset: str | None  # pg_stat_database.stats_reset; None: never reset
    settings: dict[str, str]
    # Which database this is, for comparing runs (diff, history): the cluster's
    # pg_control_system() identifier (None where this role may not call it) and the
    # database's OID (a database dropped and created again under its name gets another).
    system_identifier: str | None = None
    database_oid: int | None = None
    frozen_xid_age: int | None = None  # age(pg_database.datfrozenxid)
    frozen_mxid_age: int | None = None  # mxid_age(pg_database.datminmxid)
    # current_schemas(false) of the collecting session: how the names the server printed
    # (types, functions and tables of index and constraint definitions) resolve. None:
    # a snapshot saved before it was read.
    search_path: list[str] | None = None
    # When the oldest transaction holding back what VACUUM may remove began (None: none
    # is open), and whether this role sees every session to tell (None: not read).
    horizon_held_since: str | None = None
    sees_all_sessions: bool | None = None


class Schema(NamedTuple):
    oid: int
    name: str
    owner: str
    comment: str | None
    object_count: int | None = None  # relations, functions, types, operators, collations

    @property
    def located(self) -> Located:
        return Located("schema", (self.name,), self.name, self.comment)


class Table(NamedTuple):
    """A table, partitioned table, materialized view or foreign table.

    Sizes come from `relpages` (as of the last VACUUM/ANALYZE) because the exact
    size functions lock every relation, which a health check must not do.
    The `pg_stat_user_tables` counters are None where the server keeps none.
    """

    oid: int
    schema: str
    name: str
    kind: str  # r table, p partitioned table, m materialized view, f foreign table
    persistence: str  # p permanent, u unlogged
    owner: str
    parent_oid: int | None  # the partitioned table this one is a partition of
    partition_strategy: str | None  # range, list, hash (partitioned tables only)
    partition_bound: str | None
    reloptions: list[str]
    rows_estimate: float  # reltuples; -1 when never vacuumed or analyzed (PG 14+)
    pages: int | None  # None: never vacuumed or analyzed, so not known without a lock
    table_bytes: int | None
    total_bytes: int | None
    rls_enabled: bool
    rls_forced: bool
    frozen_xid_age: int | None
    comment: str | None
    seq_scan: int | None
    seq_tup_read: int | None
    idx_scan: int | None
    idx_tup_fetch: int | None
    n_tup_ins: int | None
    n_tup_upd: int | None
    n_tup_del: int | None
    n_tup_hot_upd: int | None
    n_live_tup: int | None
    n_dead_tup: int | None
    n_mod_since_analyze: int | None
    n_ins_since_vacuum: int | None
    last_vacuum: str | None
    last_autovacuum: str | None
    last_analyze: str | None
    last_autoanalyze: str | None
    vacuum_count: int | None
    autovacuum_count: int | None
    analyze_count: int | None
    autoanalyze_count: int | None
    frozen_mxid_age: int | None = None  # mxid_age(relminmxid)
    # its TOAST table's storage parameters, without the `toast.` that ALTER TABLE adds
    toast_reloptions: list[str] = []  # noqa: RUF012  (a NamedTuple default, never mutated)
    # a partitioned table's key columns, in order; empty when a part is an expression
    partition_key: list[str] = []  # noqa: RUF012  (a NamedTuple default, never mutated)
    # the tables that inherit from it other than as partitions (schema.name)
    inheritance_children: list[str] = []  # noqa: RUF012  (a NamedTuple default, never mutated)

    # fields whose values repeat from row to row: collected as one object per value
    REPEATED = (
        "schema",
        "owner",
        "reloptions",
        "toast_reloptions",
        "partition_key",
        "inheritance_children",
    )

    @property
    def qualname(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def located(self) -> Located:
        return Located("table", (self.schema, self.name), self.qualname, self.comment)

    @property
    def is_regular(self) -> bool:
        """A table that holds rows itself or is the root of a partition tree."""
        return self.kind in ("r", "p")

    @property
    def is_partition(self) -> bool:
        return self.parent_oid is not None

    @property
    def options(self) -> dict[str, str]:
        return dict(option.split("=", 1) for option in self.reloptions)

    @property
    def toast_options(self) -> dict[str, str]:
        return dict(option.split("=", 1) for option in self.toast_reloptions)

    @property
    def autovacuum_enabled(self) -> bool:
        """reloptions keep the value as written: `f`, `No` and `of` are false too."""
        return not is_false(self.options.get("autovacuum_enabled", "true"))


class Column(NamedTuple):
    table_oid: int
    schema: str
    table: str
    name: str
    position: int
    data_type: str  # format_type(), e.g. "character varying(40)"
    type_name: str  # the base type's name, e.g. "varchar", "int4", "uuid"
    type_category: str  # pg_type.typcategory: S string, N numeric, D date/time, U user ...
    not_null: bool
    default: str | None
    identity: str  # "" none, "a" ALWAYS, "d" BY DEFAULT
    generated: str  # "" none, "s" stored
    comment: str | None
    null_frac: float | None  # from pg_stats, where the table was analyzed
    n_distinct: float | None
    type_oid: int
    collation_oid: int  # 0: not collatable
    avg_width: int | None = None  # pg_stats.avg_width: bytes per non-null value
    # a NOT NULL constraint added NOT VALID (PostgreSQL 18): its name; not_null is false
    not_null_invalid: str | None = None
    # pg_stats.correlation: the order of the values against the rows' order on disk;
    # near 0 for random keys (uuid v4) inserted as they come
    correlation: float | None = None

    # fields whose values repeat from row to row: collected as one object per value
    REPEATED = (
        *("table_oid", "schema", "table", "name", "data_type", "type_name", "type_oid"),
        "default",  # now(), false, '{}'::jsonb: a few hundred texts in 10,000s of columns
    )

    @property
    def qualname(self) -> str:
        return f"{self.schema}.{self.table}.{self.name}"

    @property
    def located(self) -> Located:
        path = (self.schema, self.table, self.name)
        return Located("column", path, self.qualname, self.comment)


class Constraint(NamedTuple):
    oid: int
    schema: str
    table: str
    table_oid: int
    name: str
    kind: str  # p primary key, f foreign key, u unique, c check, x exclusion
    columns: list[str]
    validated: bool
    inherited: bool  # cloned from a parent's constraint (not the table's own)
    definition: str | None  # None: a CHECK/EXCLUDE whose table was locked
    index_oid: int | None  # the backing index (p, u, x) or the referenced key's index (f)
    ref_table_oid: int | None
    ref_schema: str | None
    ref_table: str | None
    ref_columns: list[str]
    on_delete: str | None  # a no action, r restrict, c cascade, n set null, d set default
    on_update: str | None
    comment: str | None

    @property
    def qualname(self) -> str:
        return f"{self.schema}.{self.table}.{self.name}"

    @property
    def located(self) -> Located:
        path = (self.schema, self.table, self.name)
        return Located("constraint", path, self.qualname, self.comment)


class Index(NamedTuple):
    """An index; per key position `key_columns` holds the column name (None for an
    expression) and `key_definitions` the key as PostgreSQL prints it.

    `expressions` and `predicate_tree` are the server's node trees, read without
    locks, to compare indexes; the deparsed `predicate`, expression keys and
    `definition` are None where the table was locked while they were read."""

    oid: int
    schema: str
    table: str
    table_oid: int
    name: str
    method: str
    is_unique: bool
    is_primary: bool
    is_valid: bool
    key_count: int  # key columns; positions after these are INCLUDE columns
    key_columns: list[str | None]
    key_definitions: list[str | None]
    expressions: str | None
    predicate_tree: str | None
    opclasses: list[str]
    collations: list[str | None]
    sort_options: list[int]  # pg_index.indoption per key: DESC, NULLS FIRST bits
    predicate: str | None
    definition: str | None
    constraint_name: str | None  # the PK/UNIQUE/EXCLUDE constraint it backs
    parent_index_oid: int | None  # a partition's index attached to its parent's index
    bytes: int | None  # None: its table was never vacuumed or analyzed
    idx_scan: int | None
    idx_tup_read: int | None
    idx_tup_fetch: int | None
    last_idx_scan: str | None  # PG 16+
    comment: str | None
    is_replica_identity: bool = False  # REPLICA IDENTITY USING INDEX names it
    rows_estimate: float = -1  # the index's reltuples; -1: never counted
    reloptions: list[str] = []  # noqa: RUF012  (a NamedTuple default, never mutated)

    @property
    def qualname(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def located(self) -> Located:
        path = (self.schema, self.table, self.name)
        return Located("index", path, self.qualname, self.comment)

    @property
    def keys(self) -> tuple[str, ...]:
        """Key columns and expressions as printed (an unread expression: `(expression)`)."""
        return tuple(k or "(expression)" for k in self.key_definitions[: self.key_count])

    @property
    def include(self) -> tuple[str, ...]:
        return tuple(k or "(expression)" for k in self.key_definitions[self.key_count :])

    @property
    def is_partial(self) -> bool:
        return self.predicate_tree is not None

    @property
    def has_expressions(self) -> bool:
        return self.expressions is not None


class Sequence(NamedTuple):
    oid: int
    schema: str
    name: str
    data_type: str
    start_value: int
    min_value: int
    max_value: int
    increment_by: int
    cycle: bool
    last_value: int | None  # None: never used, or not readable by this role
    owned_by_table_oid: int | None
    owned_by_column: str | None
    readable: bool  # this role may SELECT it, so last_value could be read
    cache_size: int | None = None  # None: a snapshot taken before pgvitals read it

    # fields whose values repeat from row to row: collected as one object per value
    REPEATED = ("schema", "data_type", "owned_by_column")

    @property
    def qualname(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def located(self) -> Located:
        return Located("sequence", (self.schema, self.name), self.qualname)


def at_statement(file: str, line: int) -> Located:
    """A statement of a reviewed file, as a finding locates it: by its file:line."""
    where = f"{file}:{line}"
    return Located("statement", (where,), where, None, file, line)


class RejectedStatement(NamedTuple):
    """A statement of a reviewed DDL file that the server rejected (`pgvitals review`),
    with what it took down: later statements that failed only because of it."""

    file: str
    line: int  # where the statement begins
    column: int
    statement: str  # its first line
    sqlstate: str
    message: str
    detail: str | None
    hint: str | None
    error_at: str | None  # "file:line:column" of the position the server reported
    lost: list[str]  # "file:line: first line" of each statement that failed because of it
    # the migration tool whose transaction rejects it (it loaded as psql runs it): tool,
    # recognised_by, runs, fix (review/runners.py); None: PostgreSQL rejects it anyway.
    # With no sqlstate, the tool itself refuses the file (Flyway's mixed files)
    runner: dict[str, str] | None = None

    @property
    def located(self) -> Located:
        return at_statement(self.file, self.line)


class EditedMigration(NamedTuple):
    """A reviewed migration that the base, another copy of its folder (`review
    branch/migrations --base main/migrations`), holds at the same place with other
    text: it was edited after the base ran it. Review loads the base's text only."""

    file: str  # as shown
    line: int  # the first line that differs
    base_file: str
    base_text: str | None  # that line in the base's copy; None: the base's copy ends before
    text: str | None  # ... and in the reviewed copy

    @property
    def located(self) -> Located:
        return at_statement(self.file, self.line)


class MigrationHazard(NamedTuple):
    """A statement of a reviewed migration that locks or rewrites a table which existed
    before the reviewed files ran (`pgvitals review --base`), or that breaks code still
    reading the old shape: what a live database would suffer when it is deployed."""

    rule: str  # the pgvitals rule that reports it
    file: str
    line: int  # where the statement begins
    statement: str  # its first line
    tables: list[str]  # the existing tables it acts on, schema-qualified
    messages: list[str]  # what was found, one line each (the linter's or the server's)
    fix: str | None  # how to do it safely
    found_by: str  # "squawk <its rule>" or "postgresql" (the server observed it)
    # the largest of `tables` in a base database (`--base DSN`, or its snapshot), from
    # its statistics: rows and bytes on disk, partitions included (bytes None: never
    # vacuumed or analyzed, the rows then from the activity counters); None, None where
    # the base is files
    rows_estimate: float | None = None
    bytes: int | None = None
    # what the statement's long work goes through, where that is not all of `tables`:
    # a backfill's rows (those its WHERE matches, by the base's planner) and their share
    # of the bytes; for a lock held across a long statement, that statement's
    work_rows: float | None = None
    work_bytes: int | None = None
    # other existing tables it locks against writes (those its new foreign keys reference)
    locked_too: list[str] = []  # noqa: RUF012  (a NamedTuple default, never mutated)

    @property
    def located(self) -> Located:
        return at_statement(self.file, self.line)


class Entity(NamedTuple):
    """A declared kind of catalog object (see `entity`)."""

    name: str  # the Snapshot field
    cls: type
    query: str | None
    since: int


class TableProfile(NamedTuple):
    """What reading the rows of one table found (bounded; absent with --no-data)."""

    table_oid: int
    status: str  # ran, skipped
    reason: str | None  # why it was skipped: lock timeout, statement timeout, ...
    row_count: int | None
    sampled: bool  # row_count extrapolated from a TABLESAMPLE
    duplicate_rows: int | None  # rows identical to another row (tables without a PK)


class OrphanCount(NamedTuple):
    """Rows whose reference (inferred from names, see facts.inferred_references) points
    at no row of the referenced table: what would stop a foreign key being added.
    Exact on small tables; on large ones counted in a TABLESAMPLE and scaled up."""

    table_oid: int
    columns: list[str]
    ref_table_oid: int
    ref_columns: list[str]
    status: str  # ran, skipped
    reason: str | None  # why it was skipped
    orphan_rows: int | None  # referencing rows (non-NULL) that match no key
    checked_rows: int | None  # non-NULL referencing rows looked at (in the sample)
    sampled: bool  # orphan_rows estimated from a TABLESAMPLE
    # Of orphan_rows, those whose value is 0 or below (a single integer column): no key a
    # sequence hands out, so a stand-in for "none" or a special choice (GitLab's
    # boards.milestone_id: -1 Upcoming, -2 Started). None: not counted (other types).
    sentinel_rows: int | None = None


class Replication(NamedTuple):
    """What logical replication needs of a table: its replica identity and the
    publications that publish it."""

    table_oid: int
    replica_identity: str  # d default (the primary key), n nothing, f full, i index
    replica_identity_index: str | None  # the index of REPLICA IDENTITY USING INDEX
    publications: list[str]
    publishing_changes: list[str]  # those of `publications` that publish UPDATE or DELETE

    # fields whose values repeat from row to row: collected as one object per value
    REPEATED = ("table_oid", "publications", "publishing_changes")


class ColumnProfile(NamedTuple):
    """Per column, what the table's row scan counted (see snapshot/probes.py): empty and
    blank strings in NOT NULL text columns, the range of integer columns named like
    times. Counts are estimates scaled from a TABLESAMPLE where `sampled`."""

    table_oid: int
    column: str
    empty_strings: int | None  # values equal to ''
    blank_strings: int | None  # values of only whitespace, not ''
    min_value: int | None  # the smallest value other than 0 (epoch columns' "never")
    max_value: int | None
    sampled: bool
    # The data profile (snapshot/profile.py). Counts, never values: every count is of
    # rows (scaled to the table where `sampled`), keyed by measure: null, placeholder,
    # filled (neither NULL nor blank), email, phone, ip_address, national_id,
    # slow_hash, fast_digest, reference, encrypted (client-side ciphertext), encoded_digest
    # (base64 digests, hash-named columns), private_key (PEM or BIND, any text or bytea).
    counts: dict[str, int] = {}  # noqa: RUF012  (a NamedTuple default, never mutated)
    rows: int | None = None  # rows the counts are of (the table's, estimated where sampled)
    examined: int | None = None  # rows read: the sample's size where sampled
    # per measure (empty and blank included), the 95 % margin of error of its ratio to
    # `rows`, from the spread between the sampled pages; only where sampled
    margins: dict[str, float] = {}  # noqa: RUF012
    placeholders: list[str] = []  # noqa: RUF012  (which of the counted placeholders occur)
    min_length: int | None = None  # characters, of text columns
    max_length: int | None = None

    def count(self, measure: str) -> int | None:
        """Rows counted for a measure; None where it was not measured."""
        if measure == "empty":
            return self.empty_strings
        if measure == "blank":
            return self.blank_strings
        return self.counts.get(measure)

    def ratio(self, measure: str) -> float | None:
        """The measure's share of the rows."""
        count = self.count(measure)
        if count is None or not self.rows:
            return None
        return count / self.rows


class ViolationCount(NamedTuple):
    """Rows that break a constraint not yet enforced on them: a NOT VALID foreign key or
    CHECK (by constraint oid), or the NULL-duplicates a unique index over nullable
    columns lets in (by index oid)."""

    object_oid: int
    status: str  # ran, skipped
    reason: str | None
    violating_rows: int | None
    checked_rows: int | None
    sampled: bool


class Keyword(NamedTuple):
    """A keyword of the server's SQL that cannot be a table or column name unquoted."""

    word: str
    category: str  # R reserved, T type or function name


class ViewColumn(NamedTuple):
    """A column a view, materialized view or rule reads: its type cannot be altered."""

    table_oid: int
    column: str
    view_schema: str
    view: str


class BloatMeasure(NamedTuple):
    """A table's or btree index's bloat as pgstattuple measured it (--exact-bloat)."""

    oid: int  # the table's or the index's
    kind: str  # table, index
    status: str  # ran, skipped
    reason: str | None
    bytes: int | None  # table_len / index_size
    # free and dead space; of an index, the leaf space its fillfactor does not explain
    bloat_bytes: int | None


class StatementSource(NamedTuple):
    """Where the query workload comes from (one row): pg_stat_statements in this
    database, and hypopg, which measures hypothetical indexes (snapshot/probes.py).

    The workload's classes have no `located`: they are no catalog objects, so schema
    drift (diff.py) leaves them out; the workload rules say where their findings are."""

    status: str  # ran, not installed, not loaded, permission denied, failed
    reason: str | None  # why the statements could not be read
    schema: str | None  # the extension's schema (not necessarily public)
    version: str | None
    available: bool  # the server has the extension's files
    loaded: bool  # the server loads its library (shared_preload_libraries)
    track: str | None  # pg_stat_statements.track: top, all, none
    reads_all: bool  # this role sees every role's statements (pg_read_all_stats)
    statements: int  # statements of this database that pg_stat_statements holds
    hidden: int  # of them, other roles' statements this role may not see
    total_ms: float  # execution time of this database's top-level statements
    total_calls: int
    stats_reset: str | None  # pg_stat_statements_info.stats_reset (extension 1.9+)
    deallocations: int | None  # statements evicted since then (pg_stat_statements.max)
    hypopg: str  # not installed, ready, not usable: reason
    hypopg_version: str | None
    # (table oid, calls) of pgvitals' own whole-table row counts, each a sequential
    # scan of the table (seq-scan-heavy-table leaves them out); None: not read
    own_row_scans: list[tuple[int, int]] | None = None


class Statement(NamedTuple):
    """One normalised statement of pg_stat_statements (constants are $1, $2, ...),
    summed over the roles that ran it; only SELECT, INSERT, UPDATE, DELETE and MERGE
    that name a collected table."""

    queryid: int
    fingerprint: str  # the same statement in another database or run (pglast)
    query: str
    kind: str  # select, insert, update, delete, merge
    toplevel: bool | None  # None: the extension does not say (before 1.9)
    roles: list[str]
    calls: int
    total_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float
    rows: int
    shared_blks_hit: int
    shared_blks_read: int
    temp_blks_written: int
    ranked_by: list[str]  # total_time, mean_time, calls: the rankings it is in the top of

    @property
    def rows_per_call(self) -> float:
        return self.rows / self.calls if self.calls else 0.0


class QueryPlan(NamedTuple):
    """The planner's view of one statement (EXPLAIN, never ANALYZE unless asked), and
    the hypothetical indexes measured against it.

    `scans`: {node, schema, table, alias, indexes, filtered, plan_rows} per node that
    reads a relation (`indexes`: the ones it reads through).
    `candidates`: {schema, table, columns, status, reason, cost_before, cost_after,
    used, estimated_bytes} per index tried (status measured, not measured, failed)."""

    queryid: int
    fingerprint: str
    status: str  # ran, skipped, not planned
    reason: str | None
    method: str | None  # generic plan, representative parameters, ...
    form: str | None  # what was planned: the statement as written, or its scan as a SELECT
    analyzed: bool  # EXPLAIN ANALYZE ran it (--analyze-queries, SELECT only)
    total_cost: float | None
    plan_rows: float | None
    actual_ms: float | None
    actual_rows: float | None
    scans: list[dict[str, Any]]
    candidates: list[dict[str, Any]]


# In a review's skipped entry: how many statements it stands for that the server could
# not check (one needing an extension the server lacks, and those that needed it).
STATEMENTS_NOT_CHECKED = "statements_not_checked"
# ... and the schemas they name for the objects they create (`CREATE EXTENSION ... SCHEMA
# extensions`): not empty in the real database, whatever the review's server holds.
SCHEMAS_NOT_CHECKED = "schemas_not_checked"
# ... and, where another server would not help (a migration written in code, between the
# files: review cannot run it), how to check them instead
CHECK_INSTEAD = "check_instead"


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    """How the snapshot was taken, for the report's honesty and the benchmark."""

    catalog_queries: int  # fixed, whatever the number of tables
    data_queries: int  # sequence positions (batched) and bounded row reads
    duration_ms: int
    schemas_filter: list[str]
    data_profiled: bool
    # {"step", "object", "reason"} (and STATEMENTS_NOT_CHECKED): parts that could not be collected
    skipped: list[dict[str, Any]]
    interrupted: str | None = None  # the run stopped early (the message says where)
    # probes that ran (snapshot/probes.py); None: a snapshot from before probes were recorded
    probes: list[str] | None = None
    # wanted probes that could not run, and why (pg_stat_statements not installed, ...)
    unavailable: dict[str, str] | None = None
    # how rows were profiled: the budget's thresholds and the placeholder values counted
    profile: dict[str, Any] | None = None
    # judged as `pgvitals review` judges files (the engine sets it in review mode): the
    # roles, grants and settings are only what the files (and --base) make
    reviewed: bool = False
    # the migration tools whose files a review loaded, known by the files rather than by a
    # history table (review runs no tool, so none is made): "Prisma" beside the
    # migration_lock.toml of a migrations folder
    migration_tools: list[str] | None = None
    # whether this run's own row reads count in the statistics the rules read (scan
    # counters, pg_stat_statements): False when the session could switch counting off
    # (snapshot/uncounted.py); None: no rows read, or a snapshot from before
    own_reads_counted: bool | None = None
    # what this run's row reads added to the scan counters, by table or index OID (as
    # text): [scans, rows read], sequential for a table; {} when they added nothing;
    # None: unknown (not read, stopped early). A later run leaves them out (history)
    own_reads: dict[str, list[int]] | None = None
    # earlier runs' own reads left out of the counters (history/own.py): how many runs
    own_reads_left_out: int | None = None


def entity(cls: type, query: str | None = None, *, since: int = 0) -> Any:
    """Declare a kind of catalog object: a Snapshot field holding a list of `cls`.

    `query` names `queries/<query>.sql`, whose column aliases are `cls`'s fields, in
    order; the collector runs it as is. None: the collector assembles the list itself
    (indexes and constraints need names resolved, probes read rows). `since`: the
    first server version (server_version_num) that has what the query reads; older
    servers give an empty list. Saving, loading and validating derive from this.
    """
    return field(default_factory=list, metadata={"entity": cls, "query": query, "since": since})


class Policy(NamedTuple):
    """A row-level security policy. The USING and WITH CHECK expressions come twice:
    as the server's node trees (read without locks; rules analyse these) and as text
    (deparsing locks the table, so it is read in the lock-bounded definitions stage and
    is None where a table was locked). `roles` holds "public" for PUBLIC."""

    oid: int
    schema: str
    table: str
    table_oid: int
    name: str
    command: str  # ALL, SELECT, INSERT, UPDATE, DELETE
    permissive: bool  # False: RESTRICTIVE
    roles: list[str]
    using_tree: str | None
    with_check_tree: str | None
    using: str | None
    with_check: str | None
    comment: str | None

    @property
    def qualname(self) -> str:
        return f"{self.schema}.{self.table}.{self.name}"

    @property
    def located(self) -> Located:
        path = (self.schema, self.table, self.name)
        return Located("policy", path, self.qualname, self.comment)

    def applies_to(self, command: str) -> bool:
        return self.command in (command, "ALL")


class Role(NamedTuple):
    """A role of the cluster (roles are shared by all its databases); the predefined
    pg_* roles are left out, but memberships in them are kept."""

    oid: int
    name: str
    superuser: bool
    login: bool
    bypassrls: bool
    createrole: bool
    createdb: bool
    replication: bool
    member_of: list[str]  # roles it was granted, directly
    inherits_from: list[str]  # those whose privileges it uses without SET ROLE
    config: list[str]  # ALTER ROLE ... SET, as "name=value"
    can_connect: bool  # CONNECT on this database
    comment: str | None

    @property
    def qualname(self) -> str:
        return self.name

    @property
    def located(self) -> Located:
        return Located("role", (self.name,), self.name, self.comment)


class Function(NamedTuple):
    """A function or procedure. `user_defined` False marks a system or extension
    function that was read only because a collected policy calls it (its volatility
    and body say what the policy costs); rules about functions skip those."""

    oid: int
    schema: str
    name: str
    arguments: str  # pg_get_function_identity_arguments: "account_id uuid, role text"
    kind: str  # f function, p procedure
    language: str
    volatility: str  # i immutable, s stable, v volatile
    security_definer: bool
    config: list[str]  # proconfig: SET clauses, "search_path=public"
    owner: str
    source: str | None  # the body of SQL and PL/pgSQL functions
    extension: str | None  # the extension it belongs to
    user_defined: bool
    comment: str | None
    result_type: str = ""  # format_type of what it returns: "trigger" is fired, never called
    # What recreates it exactly (review/rebuild.py); None: a snapshot saved before they
    # were read. pg_get_function_arguments: modes, names, types and DEFAULTs, "a int
    # DEFAULT 1, OUT b text"; pg_get_function_result: "SETOF integer", "TABLE(a int)"
    # (None for a procedure)
    declared_arguments: str | None = None
    declared_result: str | None = None
    strict: bool | None = None  # RETURNS NULL ON NULL INPUT
    leakproof: bool | None = None
    parallel: str | None = None  # s safe, r restricted, u unsafe
    cost: float | None = None  # procost
    rows: float | None = None  # prorows: a set-returning function's estimate, else 0
    # its body is SQL-standard (BEGIN ATOMIC ... END, RETURN ...): held by the server as a
    # node tree, whose deparsing locks the tables it reads; `source` is "" then
    standard_body: bool = False

    @property
    def fired_only(self) -> bool:
        """A trigger or event trigger function: PostgreSQL refuses to call it directly
        ("trigger functions can only be called as triggers"), whoever holds EXECUTE."""
        return self.result_type in ("trigger", "event_trigger")

    @property
    def signature(self) -> str:
        return f"{self.name}({self.arguments})"

    @property
    def qualname(self) -> str:
        return f"{self.schema}.{self.signature}"

    @property
    def located(self) -> Located:
        return Located("function", (self.schema, self.signature), self.qualname, self.comment)

    @property
    def settings(self) -> dict[str, str]:
        return dict(item.split("=", 1) for item in self.config if "=" in item)


class Aggregate(NamedTuple):
    """An aggregate made by CREATE AGGREGATE (not a Function: rules about functions read
    bodies, SECURITY DEFINER and search_path, which an aggregate has none of). Its
    functions are named as regproc prints them: qualified where not on the search_path
    or overloaded ("pg_catalog.upper")."""

    oid: int
    schema: str
    name: str
    # pg_get_function_identity_arguments: "text", an ordered-set aggregate's "double
    # precision ORDER BY double precision"; "" for one of no arguments, name(*)
    arguments: str
    kind: str  # n normal, o ordered-set, h hypothetical-set
    transition: str  # SFUNC
    state_type: str  # STYPE, format_type
    state_space: int  # SSPACE: 0 when not declared
    final_function: str | None
    final_extra: bool  # FINALFUNC_EXTRA
    final_modify: str  # r read-only, s shareable, w read-write
    combine_function: str | None
    serial_function: str | None
    deserial_function: str | None
    initial_condition: str | None
    sort_operator: str | None  # its schema quoted, then the operator: "pg_catalog.>"
    # the moving-aggregate mode (MSFUNC, MINVFUNC, MSTYPE, ...), where it has one
    moving_transition: str | None
    moving_inverse: str | None
    moving_state_type: str | None
    moving_state_space: int
    moving_final_function: str | None
    moving_final_extra: bool
    moving_final_modify: str
    moving_initial_condition: str | None
    parallel: str  # s safe, r restricted, u unsafe
    # GRANT or REVOKE changed who may call it from the default (EXECUTE to PUBLIC): who
    # may is not held
    privileges_changed: bool
    owner: str
    comment: str | None

    @property
    def signature(self) -> str:
        return f"{self.name}({self.arguments or '*'})"

    @property
    def qualname(self) -> str:
        return f"{self.schema}.{self.signature}"

    @property
    def located(self) -> Located:
        # a function to the server: one name and signature among functions and aggregates
        return Located("function", (self.schema, self.signature), self.qualname, self.comment)


class EnumType(NamedTuple):
    """An enum type and its labels, in their sort order (which ALTER TYPE ... ADD VALUE
    BEFORE/AFTER decides: an upgraded database can differ from a fresh one)."""

    oid: int
    schema: str
    name: str
    labels: list[str]
    comment: str | None

    @property
    def qualname(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def located(self) -> Located:
        return Located("type", (self.schema, self.name), self.qualname, self.comment)


class Domain(NamedTuple):
    """A domain: its base type and what CREATE DOMAIN adds to it (a column of one keeps
    all of that: a rebuild of its base type alone would lose it)."""

    oid: int
    schema: str
    name: str
    base_type: str  # format_type, typmod included: "numeric(10,2)", "mood[]"
    base_type_oid: int  # the base type's, an array's element type's: made first
    not_null: bool
    default: str | None
    collation: str | None  # quoted and qualified, where it is not the base type's
    check_names: list[str]
    checks: list[str]  # pg_get_constraintdef: "CHECK ((VALUE > 0))", "... NOT VALID"
    owner: str
    comment: str | None

    @property
    def qualname(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def located(self) -> Located:
        return Located("type", (self.schema, self.name), self.qualname, self.comment)


class CompositeType(NamedTuple):
    """A composite type made by CREATE TYPE ... AS (...), its attributes in order (a
    table's or view's row type is not one)."""

    oid: int
    schema: str
    name: str
    attributes: list[str]
    attribute_types: list[str]  # format_type, typmod included
    attribute_type_oids: list[int]  # an array's element type's: made first
    attribute_collations: list[str | None]  # quoted and qualified, where not the type's
    owner: str
    comment: str | None

    @property
    def qualname(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def located(self) -> Located:
        return Located("type", (self.schema, self.name), self.qualname, self.comment)


class RangeType(NamedTuple):
    """A range type made by CREATE TYPE ... AS RANGE, and the multirange type PostgreSQL
    made beside it (PostgreSQL 14+; with the constructor functions of both, which are not
    collected as functions: they come with the type)."""

    oid: int
    schema: str
    name: str
    subtype: str  # format_type: "time without time zone", "numeric(10,2)"
    subtype_oid: int  # an array's element type's: made first
    subtype_opclass: str | None  # quoted and qualified, where not the subtype's default
    collation: str | None  # quoted and qualified, where it is not the subtype's
    canonical: str | None  # regproc: the name, qualified where not on the search_path
    subtype_diff: str | None  # regproc, as canonical
    multirange: str | None  # quoted and qualified; None before PostgreSQL 14
    multirange_oid: int | None  # a column or domain of the multirange needs the range
    owner: str
    comment: str | None

    @property
    def qualname(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def located(self) -> Located:
        return Located("type", (self.schema, self.name), self.qualname, self.comment)


class Trigger(NamedTuple):
    """A trigger of a table (not one PostgreSQL made to enforce a foreign key), and the
    function it runs."""

    oid: int
    schema: str
    table: str
    table_oid: int
    name: str
    function_oid: int
    function_schema: str
    function_name: str
    timing: str  # before, after, instead
    events: list[str]  # insert, delete, update, truncate
    for_each_row: bool
    enabled: bool  # False: DISABLE TRIGGER
    # pg_get_triggerdef (its table schema-qualified): the whole CREATE [CONSTRAINT]
    # TRIGGER with its WHEN, UPDATE OF columns, REFERENCING transition tables and
    # arguments; None: a snapshot saved before it was read
    definition: str | None = None
    # pg_trigger.tgenabled: O fires on origin and local, D disabled, R on a replica only,
    # A always; None: a snapshot saved before it was read
    fires: str | None = None

    @property
    def qualname(self) -> str:
        return f"{self.schema}.{self.table}.{self.name}"


def reloption_enabled(reloptions: list[str], name: str) -> bool:
    """A boolean storage option as PostgreSQL accepts it (true/on/yes/1, any case)."""
    for item in reloptions:
        key, _, value = item.partition("=")
        if key.lower() == name:
            return value.lower() in ("true", "on", "yes", "1", "t", "y")
    return False


class View(NamedTuple):
    """A view or materialized view, with the relations its query reads directly."""

    oid: int
    schema: str
    name: str
    kind: str  # v view, m materialized view
    owner: str
    reloptions: list[str]
    reads: list[int]  # oids of the tables and views its query reads (pg_depend)
    columns: list[str]
    column_categories: list[str]  # pg_type.typcategory of each column: S string, U user ...
    comment: str | None
    # its query's node tree (pg_rewrite.ev_action, read without a lock; None: a snapshot
    # saved before it was read)
    query_tree: str | None = None

    @property
    def qualname(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def located(self) -> Located:
        return Located("view", (self.schema, self.name), self.qualname, self.comment)

    @property
    def security_invoker(self) -> bool:
        """PostgreSQL 15+: the view checks permissions and policies as its caller."""
        return reloption_enabled(self.reloptions, "security_invoker")

    @property
    def security_barrier(self) -> bool:
        return reloption_enabled(self.reloptions, "security_barrier")


class Extension(NamedTuple):
    oid: int
    name: str
    schema: str
    version: str
    relocatable: bool
    owner: str
    members: int  # objects that belong to it
    comment: str | None
    # names of its functions, types, relations and text search objects
    member_names: list[str] = []  # noqa: RUF012  (NamedTuple field default: never mutated)

    @property
    def qualname(self) -> str:
        return self.name

    @property
    def located(self) -> Located:
        return Located("extension", (self.name,), self.name, self.comment)


class Privilege(NamedTuple):
    """What one grantee was granted on one object (aclexplode, grouped). The owner's own
    rights are left out (it has them implicitly); a function's default EXECUTE for
    PUBLIC is included, as the server applies it."""

    kind: str  # table (also views, materialized and foreign tables), column, schema, function
    object_oid: int
    schema: str
    name: str  # table, schema or function signature
    column: str | None
    grantee: str  # role name, or PUBLIC
    privileges: list[str]  # SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, ...


class SoftDeleteOrphans(NamedTuple):
    """Live rows of a table whose parent row (by a declared or name-inferred reference)
    is soft-deleted: the parent has a `deleted_at` / `is_deleted` column set, and the
    child row has none, or its own is not set. Counted exactly on small tables, in a
    TABLESAMPLE of the child on large ones (scaled up)."""

    table_oid: int  # the child
    columns: list[str]
    ref_table_oid: int  # the parent
    ref_columns: list[str]
    marker: str  # the parent's soft-delete column
    status: str  # ran, skipped
    reason: str | None
    orphan_rows: int | None  # live child rows whose parent is soft-deleted
    checked_rows: int | None  # live child rows that have a parent row (in the sample)
    sampled: bool


class DefaultPartitionRange(NamedTuple):
    """The lowest and highest partition-key value a DEFAULT partition of a table
    partitioned by a date or time range holds (NULL keys left out), and its lowest from
    `since` on (where a job still creates partitions, see snapshot/ranges.py): through
    an index on the key where one exists, read whole when small, else in a TABLESAMPLE
    (then only a range the rows at least span). Values as ISO 8601 text, timestamptz in
    UTC (`2024-03-01T00:00:00.000000+00:00`), or `infinity` / `-infinity`."""

    table_oid: int  # the DEFAULT partition
    column: str  # the partition key
    status: str  # ran, skipped
    reason: str | None
    lowest: str | None  # None: no row with a key (or the read was skipped)
    highest: str | None
    method: str | None  # index, scan, sample
    since: str | None = None  # None: the other partitions' bounds give no period
    lowest_since: str | None = None  # None: no row from `since` on


@dataclass(frozen=True)
class Snapshot:
    """Adding a kind of object: its class above, one `entity(...)` field here, and its
    query file. Everything else (collection, save/load, COMMENT markers) follows."""

    server: ServerInfo
    collection: CollectionInfo
    schemas: list[Schema] = entity(Schema, "schemas")
    tables: list[Table] = entity(Table, "tables")
    columns: list[Column] = entity(Column, "columns")
    constraints: list[Constraint] = entity(Constraint)
    indexes: list[Index] = entity(Index)
    sequences: list[Sequence] = entity(Sequence, "sequences")
    profiles: list[TableProfile] = entity(TableProfile)
    rejected_statements: list[RejectedStatement] = entity(RejectedStatement)
    orphans: list[OrphanCount] = entity(OrphanCount)
    replication: list[Replication] = entity(Replication, "replication", since=100000)
    column_profiles: list[ColumnProfile] = entity(ColumnProfile)
    violations: list[ViolationCount] = entity(ViolationCount)
    keywords: list[Keyword] = entity(Keyword, "keywords")
    view_columns: list[ViewColumn] = entity(ViewColumn, "view_columns")
    measures: list[BloatMeasure] = entity(BloatMeasure)
    policies: list[Policy] = entity(Policy, "policies", since=100000)
    roles: list[Role] = entity(Role, "roles", since=100000)
    functions: list[Function] = entity(Function, "functions", since=110000)
    aggregates: list[Aggregate] = entity(Aggregate, "aggregates", since=110000)
    triggers: list[Trigger] = entity(Trigger, "triggers")
    views: list[View] = entity(View, "views")
    extensions: list[Extension] = entity(Extension, "extensions")
    privileges: list[Privilege] = entity(Privilege, "privileges", since=110000)
    migration_hazards: list[MigrationHazard] = entity(MigrationHazard)
    statement_sources: list[StatementSource] = entity(StatementSource)
    statements: list[Statement] = entity(Statement)
    query_plans: list[QueryPlan] = entity(QueryPlan)
    soft_delete_orphans: list[SoftDeleteOrphans] = entity(SoftDeleteOrphans)
    edited_migrations: list[EditedMigration] = entity(EditedMigration)
    enum_types: list[EnumType] = entity(EnumType, "enum_types")
    domains: list[Domain] = entity(Domain, "domains")
    composite_types: list[CompositeType] = entity(CompositeType, "composite_types")
    range_types: list[RangeType] = entity(RangeType, "range_types")
    default_partition_ranges: list[DefaultPartitionRange] = entity(DefaultPartitionRange)
    format: str = field(default=SNAPSHOT_FORMAT)
    # entities a snapshot saved by an older pgvitals does not hold (enum_types before they
    # were collected): empty here for want of them, not because the database has none
    not_collected: tuple[str, ...] = ()

    @classmethod
    def entities(cls) -> list[Entity]:
        return [
            Entity(f.name, f.metadata["entity"], f.metadata["query"], f.metadata["since"])
            for f in fields(cls)
            if "entity" in f.metadata
        ]

    def located_objects(self) -> Iterator[Located]:
        """Every object with a COMMENT (where ignore markers live), of every kind."""
        for declared in self.entities():
            if "comment" not in declared.cls._fields:
                continue
            for item in getattr(self, declared.name):
                if item.comment:
                    yield item.located

    @cached_property
    def table_by_oid(self) -> dict[int, Table]:
        return {table.oid: table for table in self.tables}

    @cached_property
    def columns_by_table(self) -> dict[int, list[Column]]:
        return _group(self.columns, "table_oid")

    @cached_property
    def constraints_by_table(self) -> dict[int, list[Constraint]]:
        return _group(self.constraints, "table_oid")

    @cached_property
    def indexes_by_table(self) -> dict[int, list[Index]]:
        return _group(self.indexes, "table_oid")

    @cached_property
    def facts(self) -> Facts:
        """Derived lookups shared by rules and the report (snapshot/facts.py)."""
        from pgvitals.snapshot.facts import Facts

        return Facts(self)

    @cached_property
    def profile_by_table(self) -> dict[int, TableProfile]:
        return {profile.table_oid: profile for profile in self.profiles}

    def row_count(self, table: Table) -> int:
        """The best count there is: counted when the rows were read, else the planner's
        estimate, else the live tuples the statistics collector counted (a table never
        vacuumed or analyzed has no estimate)."""
        profile = self.profile_by_table.get(table.oid)
        if profile and profile.row_count is not None:
            return profile.row_count
        if table.rows_estimate > 0:
            return round(table.rows_estimate)
        return max(table.n_live_tup or 0, 0)

    @cached_property
    def primary_key_by_table(self) -> dict[int, Constraint]:
        keys: dict[int, Constraint] = {}
        for constraint in self.constraints:
            if constraint.kind == "p":
                keys.setdefault(constraint.table_oid, constraint)
        return keys

    def primary_key(self, table: Table) -> Constraint | None:
        return self.primary_key_by_table.get(table.oid)


def is_false(value: str) -> bool:
    """PostgreSQL's parse_bool: a unique prefix of false, no or off, or 0."""
    word = value.strip().lower()
    return (
        word == "0"
        or (bool(word) and ("false".startswith(word) or "no".startswith(word)))
        or (len(word) >= 2 and "off".startswith(word))
    )


def _group(items: list, key: str) -> dict:
    grouped: defaultdict = defaultdict(list)
    for item in items:
        grouped[getattr(item, key)].append(item)
    return dict(grouped)
