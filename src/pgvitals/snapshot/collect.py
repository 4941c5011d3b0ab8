"""Collect a Snapshot: a fixed list of set-based catalog queries, then bounded reads.

The number of catalog queries does not depend on the number of tables. Reading
sequence positions and table rows is bounded separately (batches, sample sizes,
per-table and total time budgets) and each part that cannot be read is recorded
as skipped with its reason instead of failing the run.
"""

from __future__ import annotations

import dataclasses
import difflib
import time
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, fields, is_dataclass
from functools import partial
from importlib import resources
from typing import Any, TypeVar

import psycopg
from psycopg import errors, sql
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row, tuple_row

from pgvitals.connect import NoAnswer, describe_failure, quoted
from pgvitals.snapshot.assemble import (
    ColumnsByPosition,
    Deparsed,
    Lookups,
    build_constraint,
    build_index,
    rebuildable,
)
from pgvitals.snapshot.facts import NIL_UUID, Reference, soft_deleted_when
from pgvitals.snapshot.model import (
    BloatMeasure,
    CollectionInfo,
    Column,
    ColumnProfile,
    Constraint,
    DefaultPartitionRange,
    Entity,
    Index,
    OrphanCount,
    Policy,
    Sequence,
    ServerInfo,
    Snapshot,
    SoftDeleteOrphans,
    Table,
    TableProfile,
    ViolationCount,
)
from pgvitals.snapshot.probes import DEFAULT_PROBES, PROBES, probes_to_run
from pgvitals.snapshot.profile import (
    DEFAULT_PLACEHOLDERS,
    MAX_PLACEHOLDERS,
    Measured,
    Reading,
    measured_columns,
    parameters,
    profile_queries,
    quote_identifier,
)
from pgvitals.snapshot.ranges import written
from pgvitals.snapshot.uncounted import uncounted
from pgvitals.workload.collect import STATEMENT_PROBES, WorkloadBudget, WorkloadReader
from pgvitals.workload.statement import OWN_MARKER

T = TypeVar("T")
FETCH_CHUNK = 20_000  # rows per round trip from a server-side cursor
ROW_PROBES = frozenset(name for name, probe in PROBES.items() if probe.reads_rows)
Progress = Callable[[str], None]
# (tables read, tables to read): drives a progress bar while rows are read
Counter = Callable[[int, int], None]

SEQUENCE_BATCH = 500
# Tables whose expressions are deparsed per statement: each holds one AccessShareLock
# per table until the statement ends, and the shared lock table is sized for about
# max_locks_per_transaction x max_connections (6,400 by default) in all.
DEFINITION_BATCH = 1000
LOCK_RETRIES = 3
# The catalog queries, in the order they run in one transaction.
# Entities read as raw catalog rows and assembled here (names resolved, definitions
# rebuilt or deparsed); the other declared entities with a query map straight onto their
# class. Profiles are not catalog data: they come from the probes.
ASSEMBLED = ("constraints", "indexes")
# Their raw rows' fields whose values repeat from row to row (Column.REPEATED says the
# same of columns): the rows wait for the definitions to be deparsed, and at 100,000
# tables their copies of the same names and arrays took 100s of MB meanwhile.
RAW_REPEATED = {
    "constraints": (
        *("schema", "table", "table_oid", "kind", "key_attnums", "ref_table_oid"),
        *("ref_schema", "ref_table", "ref_attnums", "on_delete", "on_update"),
    ),
    "indexes": (
        *("schema", "table", "table_oid", "method", "key_attnums", "opclass_oids"),
        *("collation_oids", "sort_options", "expressions", "predicate_tree", "bytes"),
        *("reloptions", "rows_estimate"),
    ),
}
# Read on a second session beside the others (the largest query, and the sequences
# whose positions that session reads next): its server time then overlaps this
# session's reading and decoding of the rest.
BESIDE = ("columns", "sequences")
Opener = Callable[[], psycopg.Connection]
# What reading sequence positions gave: {oid: last_value}, skipped parts, queries sent.
Positions = tuple[dict[int, int | None], list[dict[str, str]], int]


@dataclass(frozen=True)
class Beside:
    """The work of the second session: its catalogs, then (when wanted) the positions of
    the sequences among them, read while this session deparses."""

    catalogs: Future[dict[str, list[Any]]]
    positions: Future[Positions] | None


def catalog_entities() -> list[Entity]:
    """The declared entities the catalog stage reads, in declaration order."""
    return [e for e in Snapshot.entities() if e.query is not None or e.name in ASSEMBLED]


def beside_entities(version: int) -> list[Entity]:
    """The BESIDE entities this server version has."""
    return [e for e in catalog_entities() if e.name in BESIDE and version >= e.since]


CATALOG_STEPS = ("lookups", *(e.name for e in catalog_entities()))
# The `step` of the skipped entry saying that some catalogs were not read: then no
# check can be trusted, since a missing object would look like a missing constraint.
UNREAD_CATALOGS = "catalogs"


class UnknownSchema(Exception):
    """A schema named in the filter does not exist: an input error, not an empty result."""


@dataclass(frozen=True)
class ProfileBudget:
    """Bounds on reading rows: cost follows these numbers, not the table sizes."""

    exact_below_rows: int = 100_000  # count every row of smaller tables
    sample_rows: int = 10_000  # rows a TABLESAMPLE of a larger table aims to read
    per_table_ms: int = 5_000
    total_ms: int = 60_000
    # a table this large on disk is sampled whatever its rows (wide rows, TOAST)
    exact_below_bytes: int = 128 * 1024 * 1024
    sample_method: str = "system"  # system (whole pages) or bernoulli (every page read)
    seed: int = 1  # REPEATABLE: the same sample on every run while the data stays
    placeholders: tuple[str, ...] = DEFAULT_PLACEHOLDERS  # counted by placeholder-values

    def __post_init__(self) -> None:
        if self.sample_method not in ("system", "bernoulli"):
            raise ValueError("sample_method is system or bernoulli")
        # compared trimmed and in lower case; each once (its bit in a bit_or)
        cleaned = tuple(dict.fromkeys(p.strip().lower() for p in self.placeholders if p.strip()))
        if len(cleaned) > MAX_PLACEHOLDERS:
            raise ValueError(f"at most {MAX_PLACEHOLDERS} placeholder values can be counted")
        object.__setattr__(self, "placeholders", cleaned)

    def exact(self, table: Table, rows: float) -> bool:
        """Read the whole table: few rows, and not large on disk."""
        return rows < self.exact_below_rows and (table.table_bytes or 0) < self.exact_below_bytes

    def percent(self, rows: float) -> float:
        """The TABLESAMPLE percentage that reads about `sample_rows` rows."""
        return max(0.01, min(100.0, 100.0 * self.sample_rows / max(rows, 1)))

    def describe(self) -> dict[str, Any]:
        """What the snapshot records of how rows were read."""
        return {
            "exact_below_rows": self.exact_below_rows,
            "exact_below_bytes": self.exact_below_bytes,
            "sample_rows": self.sample_rows,
            "sample_method": self.sample_method,
            "per_table_ms": self.per_table_ms,
            "total_ms": self.total_ms,
            "placeholders": list(self.placeholders),
        }


def estimated_rows(table: Table) -> float:
    """Rows to plan the read by: the planner's estimate, or where the table was never
    vacuumed or analyzed (reltuples -1, or 0 before PostgreSQL 14) the live rows the
    statistics counted."""
    if table.rows_estimate > 0:
        return table.rows_estimate
    return float(max(table.n_live_tup or 0, 0))


# The NOT NULL constraint of column a.attnum of relation a.attrelid that is not yet
# validated (pg_constraint holds NOT NULL constraints, contype 'n', from PostgreSQL 18).
INVALID_NOT_NULL = """SELECT k.conname::text FROM pg_catalog.pg_constraint k
              WHERE k.conrelid = a.attrelid AND k.contype = 'n' AND NOT k.convalidated
                AND k.conkey[1] = a.attnum"""


def version_dependent_sql(version_num: int) -> dict[str, str]:
    """The one place where catalog differences between server versions are chosen."""
    return {
        "n_ins_since_vacuum": (
            "pg_catalog.pg_stat_get_ins_since_vacuum(c.oid)"
            if version_num >= 130000
            else "NULL::int8"
        ),
        "last_idx_scan": (
            "pg_catalog.to_char(pg_catalog.pg_stat_get_lastscan(i.indexrelid) AT TIME ZONE 'UTC',"
            ' \'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\')'
            if version_num >= 160000
            else "NULL::text"
        ),
        "nulls_not_distinct": "i.indnullsnotdistinct" if version_num >= 150000 else "false",
        "key_nulls_not_distinct": "ki.indnullsnotdistinct" if version_num >= 150000 else "false",
        # ON DELETE SET NULL (columns): PostgreSQL 15+
        "delete_set_columns": (
            "con.confdelsetcols IS NOT NULL" if version_num >= 150000 else "false"
        ),
        # keys WITHOUT OVERLAPS or with a PERIOD, and NOT ENFORCED ones: PostgreSQL 18+
        "unusual_key": (
            "con.conperiod OR NOT con.conenforced" if version_num >= 180000 else "false"
        ),
        "membership_inherits": "m.inherit_option" if version_num >= 160000 else "r.rolinherit",
        # PostgreSQL 18 sets attnotnull for a NOT NULL constraint added NOT VALID too,
        # whose column may still hold NULLs (and which ADD PRIMARY KEY refuses)
        "not_null": (
            f"(a.attnotnull AND NOT EXISTS ({INVALID_NOT_NULL}))"
            if version_num >= 180000
            else "a.attnotnull"
        ),
        "not_null_invalid": f"({INVALID_NOT_NULL})" if version_num >= 180000 else "NULL::text",
        # SQL-standard function bodies (BEGIN ATOMIC, RETURN): PostgreSQL 14+
        "standard_body": "p.prosqlbody IS NOT NULL" if version_num >= 140000 else "false",
        # the multirange type made beside each range type: PostgreSQL 14+
        "multirange_type": "r.rngmultitypid" if version_num >= 140000 else "0",
    }


# Relation c in schema n is the user's: in a requested schema (all when none is),
# not a system schema, and not created by an extension.
USER_RELATION = """n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
   AND (pg_catalog.cardinality(%(schemas)s::text[]) = 0 OR n.nspname = ANY (%(schemas)s::text[]))
   AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend e
                    WHERE e.classid = 'pg_catalog.pg_class'::regclass
                      AND e.objid = c.oid AND e.deptype = 'e'
                      -- always so for 'e'; lets the planner probe the few extension rows
                      AND e.refclassid = 'pg_catalog.pg_extension'::regclass)"""
# Type t in schema n is the user's, as a relation is above.
USER_TYPE = USER_RELATION.replace("pg_catalog.pg_class", "pg_catalog.pg_type").replace(
    "e.objid = c.oid", "e.objid = t.oid"
)


def load_query(name: str, version_num: int) -> str:
    text = resources.files("pgvitals.snapshot").joinpath(f"queries/{name}.sql").read_text()
    text = text.replace("@@user_relation@@", USER_RELATION).replace("@@user_type@@", USER_TYPE)
    for marker, expression in version_dependent_sql(version_num).items():
        text = text.replace(f"@@{marker}@@", expression)
    return text


class Collector:
    def __init__(
        self,
        connection: psycopg.Connection,
        progress: Progress | None = None,
        counter: Counter | None = None,
        sibling: Opener | None = None,
    ) -> None:
        self.connection = connection
        self.sibling = sibling
        self.progress = progress or (lambda step: None)
        self.counter = counter or (lambda done, total: None)
        self.catalog_queries = 0
        self.data_queries = 0
        self.skipped: list[dict[str, str]] = []
        self.step = "connecting"
        # What the data phase has read so far, kept when the connection is lost.
        self.deparsed: dict[tuple[str, int, int], Deparsed] = {}
        self.undeparsed: list[Table] = []  # tables whose definitions are still to read
        self.outside_names: dict[tuple[int, int], str] | None = None
        self.positions: dict[int, int | None] = {}
        self.unread_sequences: list[Sequence] | None = None  # None: not started
        self.measuring = False  # reading rows in _measuring's transaction
        self.own_reads_counted: bool | None = None  # None: no row read (see _measuring)
        # what this run's row reads added to each table's and index's counters (_measuring)
        self.own_reads: dict[str, list[int]] | None = None
        # the one copy of each repeated value read so far, by field name (one_copy_each)
        self.shared: dict[str, dict[Any, Any]] = {}

    def run(
        self,
        schemas: Iterable[str] = (),
        profile: ProfileBudget | None = ProfileBudget(),
        probes: Iterable[str] | None = None,
        analyze_queries: bool = False,
    ) -> Snapshot:
        """`probes`: the names (snapshot/probes.py) to run; None runs every one that the
        row budget allows (`profile` None: none that reads rows). `analyze_queries`:
        EXPLAIN ANALYZE the workload's SELECTs (never with `profile` None: it reads rows)."""
        started = time.monotonic()
        wanted = probes_to_run(DEFAULT_PROBES if probes is None else probes, profile is not None)
        if not wanted & ROW_PROBES:
            profile = None  # no rule needs rows
        params = {"schemas": list(schemas)}
        if params["schemas"]:
            self._check_schemas(params["schemas"])
        self._step("server")
        server = self._objects("server", ServerInfo, 0, {})[0]
        version = server.version_num
        lookups = Lookups({}, {}, frozenset(), 0, 0)  # read first: no index is read without it
        # every declared entity, empty until read (and empty on servers older than `since`)
        catalog: dict[str, list[Any]] = {e.name: [] for e in Snapshot.entities()}
        interrupted = None
        beside: Beside | None = None
        # One snapshot of the catalogs: every query sees the same state, and none
        # of them takes a lock on a table.
        self.connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        try:
            with self.connection.transaction():
                self._step("lookups")
                # sorting and hashing 100,000s of catalog rows spills to disk below
                # ~256MB at 100,000 tables; the cursors below are read whole
                self.connection.execute(
                    "SET LOCAL work_mem = '256MB'; SET LOCAL cursor_tuple_fraction = 1"
                )
                lookups = Lookups.from_rows(self._fetch("lookups", version, {}))
                beside = self._read_beside(version, params, "sequence_positions" in wanted)
                for declared in catalog_entities():
                    if version < declared.since or (declared.name in BESIDE and beside):
                        continue
                    self._step(declared.name)
                    catalog[declared.name] = self._entity(declared, version, params)
                if beside:
                    self._step(BESIDE[0])
                    catalog.update(self._read_back(beside, version, params))
        except psycopg.Error as error:
            if not (self._lost(error) or isinstance(error, TIMEOUTS)):
                raise
            interrupted = self._catalogs_unread(error)
        finally:
            if not (self.connection.closed or self.connection.broken):
                self.connection.isolation_level = None
        schema_rows, tables, columns = catalog["schemas"], catalog["tables"], catalog["columns"]
        constraint_rows, index_rows = catalog["constraints"], catalog["indexes"]
        sequences = catalog["sequences"]
        by_position = ColumnsByPosition(columns)
        complex_indexes = {r.oid for r in index_rows if not rebuildable(r, by_position, lookups)}
        ready = Ready({}, {}, complex_indexes)
        profiles: list[TableProfile] = []
        orphans: list[OrphanCount] = []
        column_profiles: list[ColumnProfile] = []
        violations: list[ViolationCount] = []
        measures: list[BloatMeasure] = []
        soft_orphans: list[SoftDeleteOrphans] = []
        default_ranges: list[DefaultPartitionRange] = []
        if interrupted is None:
            try:
                self._step("definitions")
                # The server deparses on this session, in a thread, while the objects
                # that need no deparsed text are built here (the thread mostly waits).
                worker = ThreadPoolExecutor(1, thread_name_prefix="pgvitals-deparse")
                try:
                    deparsing = worker.submit(
                        self._deparse,
                        tables,
                        columns,
                        constraint_rows,
                        index_rows,
                        complex_indexes,
                        catalog["policies"],
                    )
                    ready = assemble_ready(
                        constraint_rows, index_rows, by_position, lookups, complex_indexes
                    )
                    deparsing.result()
                finally:
                    worker.shutdown(wait=False)
                self.outside_names = self._names_outside(constraint_rows, tables)
                if "sequence_positions" in wanted:
                    self._step("sequence positions")
                    self._read_sequence_positions(sequences, beside and beside.positions)
                with self._measuring(tables, index_rows) if profile else nullcontext():
                    if profile is not None:
                        duplicates = "duplicate_rows" in wanted
                        self._profile_tables(
                            tables,
                            constraint_rows,
                            index_rows,
                            profile,
                            profiles,
                            duplicates,
                            measured_columns(columns, wanted),
                            column_profiles,
                        )
                    linked = {
                        "orphan_counts",
                        "violation_counts",
                        "soft_delete_orphans",
                        "default_partition_ranges",
                    }
                    if profile is not None and wanted & linked:
                        # the references are a fact of the catalogs read so far
                        _, constraints, indexes = self._assemble(
                            columns, constraint_rows, index_rows, by_position, lookups, ready
                        )
                        so_far = {
                            **catalog,
                            "tables": tables,
                            "columns": columns,
                            "constraints": constraints,
                            "indexes": indexes,
                            "profiles": profiles,
                        }
                        unfinished = CollectionInfo(0, 0, 0, params["schemas"], True, [])
                        provisional = Snapshot(server=server, collection=unfinished, **so_far)
                        if "orphan_counts" in wanted:
                            self._count_orphans(provisional, profile, orphans)
                        if "violation_counts" in wanted:
                            self._count_violations(provisional, profile, violations)
                        if "soft_delete_orphans" in wanted:
                            self._count_soft_delete_orphans(provisional, profile, soft_orphans)
                        if "default_partition_ranges" in wanted:
                            self._read_default_ranges(provisional, profile, default_ranges)
                    if profile is not None and "exact_bloat" in wanted:
                        self._step("bloat")
                        _, _, indexes = self._assemble(
                            columns, constraint_rows, index_rows, by_position, lookups, ready
                        )
                        self._measure_bloat(tables, indexes, profile, measures)
            except psycopg.Error as error:
                if not (self._lost(error) or isinstance(error, TIMEOUTS)):
                    raise
                # The catalogs and all read since are in hand: keep them, say what is
                # missing. The second session may have read the positions still.
                if self.unread_sequences is None and beside and beside.positions:
                    self._positions_read_beside(beside.positions)
                interrupted = self._data_unread(
                    error, tables, constraint_rows, sequences, profile, profiles
                )
        columns, constraints, indexes = self._assemble(
            columns, constraint_rows, index_rows, by_position, lookups, ready
        )
        catalog.update(
            schemas=schema_rows,
            tables=tables,
            columns=columns,
            constraints=constraints,
            indexes=indexes,
            sequences=[s._replace(last_value=self.positions.get(s.oid)) for s in sequences],
            profiles=profiles,
            orphans=orphans,
            column_profiles=column_profiles,
            violations=violations,
            measures=measures,
            policies=[self._policy_text(p) for p in catalog["policies"]],
            soft_delete_orphans=soft_orphans,
            default_partition_ranges=default_ranges,
        )
        snapshot = Snapshot(
            server=server,
            **catalog,
            collection=CollectionInfo(
                catalog_queries=self.catalog_queries,
                data_queries=self.data_queries,
                duration_ms=round((time.monotonic() - started) * 1000),
                schemas_filter=params["schemas"],
                data_profiled=profile is not None and not self._catalogs_incomplete(),
                probes=sorted(wanted) if not self._catalogs_incomplete() else [],
                skipped=self.skipped,
                interrupted=interrupted,
                profile=profile.describe() if profile is not None else None,
                own_reads_counted=self.own_reads_counted,
                own_reads=self.own_reads,
            ),
        )
        if interrupted is None and wanted & STATEMENT_PROBES:
            analyze = analyze_queries and profile is not None
            snapshot = self._read_workload(snapshot, wanted, analyze, started)
        return snapshot

    @contextmanager
    def _measuring(self, tables: list[Table], index_rows: list[Any]) -> Iterator[None]:
        """Around the row reads: uncounted where the session may (snapshot/uncounted.py),
        else what they add to each table's and index's scan counters, exactly, for a later
        run to leave out (the history keeps it). Measured, the reads run in one
        transaction, each statement in a savepoint rolled back (no lock outlives it); a
        session sends its counts only between transactions, so the counts it has not
        sent (pg_stat_get_xact_*) grow by its own reads alone. Unknown (None) when the
        reads stop early."""
        with uncounted(self.connection) as counted:
            self.own_reads_counted = counted
            if counted:
                with self._measured(tables, index_rows):
                    yield
            else:
                self.own_reads = {}  # this run's reads add nothing
                yield

    @contextmanager
    def _measured(self, tables: list[Table], index_rows: list[Any]) -> Iterator[None]:
        oids = [t.oid for t in tables if t.kind in ("r", "m")] + [i.oid for i in index_rows]
        query = (
            "SELECT r.oid, pg_catalog.pg_stat_get_xact_numscans(r.oid),"
            " pg_catalog.pg_stat_get_xact_tuples_returned(r.oid)"
            " FROM pg_catalog.unnest(%s::pg_catalog.oid[]) AS r(oid)"
        )

        def counts() -> dict[int, tuple[int, int]]:
            rows = self.connection.execute(query, [oids]).fetchall()
            return {oid: (scans, tuples) for oid, scans, tuples in rows}

        with self.connection.transaction():
            # Between the reads this process builds (a provisional snapshot, the inferred
            # references: a minute and more at 100,000 tables) while the transaction waits.
            # Waiting holds nothing: no lock (each read's savepoint is rolled back) and no
            # snapshot (read committed). The session's idle limit would end it there.
            self.connection.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
            before = counts()
            self.measuring = True
            try:
                yield
            finally:
                self.measuring = False
            after = counts()
        self.own_reads = {
            str(oid): [scans - before[oid][0], tuples - before[oid][1]]
            for oid, (scans, tuples) in after.items()
            if (scans, tuples) != before[oid]
        }

    def _read_workload(
        self, snapshot: Snapshot, wanted: frozenset[str], analyze: bool, started: float
    ) -> Snapshot:
        """pg_stat_statements, plans and index advice (workload/collect.py): last, since
        statements are resolved against the catalogs read above."""
        self._step("statements")
        reader = WorkloadReader(
            self.connection, snapshot, WorkloadBudget(analyze=analyze), self._lost
        )
        interrupted = None
        try:
            found = reader.run(wanted)
        except psycopg.Error as error:
            if not (self._lost(error) or isinstance(error, TIMEOUTS)):
                raise
            cause, interrupted = self._interruption(error)
            found = reader.result
            found.unavailable.update(dict.fromkeys(sorted(wanted & STATEMENT_PROBES), cause))
        self.data_queries += found.queries
        collection = dataclasses.replace(
            snapshot.collection,
            data_queries=self.data_queries,
            duration_ms=round((time.monotonic() - started) * 1000),
            probes=sorted(set(snapshot.collection.probes or ()) - set(found.unavailable)),
            skipped=self.skipped + found.skipped,
            interrupted=interrupted,
            unavailable=found.unavailable or None,
        )
        return dataclasses.replace(
            snapshot,
            statement_sources=found.sources,
            statements=found.statements,
            query_plans=found.plans,
            collection=collection,
        )

    def _step(self, step: str) -> None:
        self.step = step
        self.progress(step)

    def _reading(self) -> str:
        """What the step under way reads, for a message."""
        if self.step.startswith("data: "):
            return f"the rows of {self.step.removeprefix('data: ')}"
        if self.step in CATALOG_STEPS:
            return f"the catalogs ({self.step})"
        return {"server": "the server settings"}.get(self.step, self.step)

    def _lost(self, error: psycopg.Error) -> bool:
        return connection_lost(self.connection, error)

    def _interruption(self, error: psycopg.Error) -> tuple[str, str]:
        """(a short cause for each part not read, one line saying where the run stopped)"""
        if isinstance(error, NoAnswer):
            return "no answer from the server", f"gave up while reading {self._reading()}: {error}"
        if self._lost(error):
            return "connection lost", (
                f"connection lost while reading {self._reading()}: {describe_failure(error)}"
            )
        return describe_error(error), f"could not read {self._reading()}: {describe_failure(error)}"

    def _catalogs_unread(self, error: psycopg.Error) -> str:
        """Record the catalogs the failed query and those after it would have read."""
        cause, interrupted = self._interruption(error)
        unread = ", ".join(CATALOG_STEPS[CATALOG_STEPS.index(self.step) :])
        reason = f"{unread} not read ({cause}), nor definitions, sequence positions or rows"
        self.skipped.append({"step": UNREAD_CATALOGS, "reason": reason})
        return interrupted

    def _catalogs_incomplete(self) -> bool:
        return any(entry["step"] == UNREAD_CATALOGS for entry in self.skipped)

    def _data_unread(
        self,
        error: psycopg.Error,
        tables: list[Table],
        constraint_rows: list[Any],
        sequences: list[Sequence],
        profile: ProfileBudget | None,
        profiles: list[TableProfile],
    ) -> str:
        """Record exactly what the lost connection (or a statement that timed out outside
        the parts that skip on their own) left unread, each part once."""
        cause, interrupted = self._interruption(error)
        already = {e.get("object") for e in self.skipped if e["step"] == "definitions"}
        self._skip_definitions([t for t in self.undeparsed if t.qualname not in already], cause)
        if self.outside_names is None and tables_outside(constraint_rows, tables):
            self.skipped.append(
                {"step": "definitions", "reason": f"referenced columns in other schemas: {cause}"}
            )
        unread_sequences = self.unread_sequences
        if unread_sequences is None:
            unread_sequences = sequences_to_read(sequences)
        for sequence in unread_sequences:
            self.skipped.append(
                {"step": "sequence positions", "object": sequence.qualname, "reason": cause}
            )
        if profile is not None:
            profiled = {p.table_oid for p in profiles}
            unread = [t for t in tables if t.kind in ("r", "m") and t.oid not in profiled]
            profiles += [TableProfile(t.oid, "skipped", cause, None, False, None) for t in unread]
            if unread:
                tables_word = "table" if len(unread) == 1 else "tables"
                reason = f"not read for {len(unread)} {tables_word}: {cause}"
                self.skipped.append({"step": "rows", "reason": reason})
        return interrupted

    def _assemble(
        self,
        columns: list[Column],
        constraint_rows: list[Any],
        index_rows: list[Any],
        by_position: ColumnsByPosition,
        lookups: Lookups,
        ready: Ready,
    ) -> tuple[list[Column], list[Constraint], list[Index]]:
        """Columns, constraints and indexes with the definitions read so far (those
        built before, `ready`, as they were)."""

        def text(kind: str, oid: int, position: int = 0) -> str | None:
            deparsed = self.deparsed.get((kind, oid, position))
            return deparsed.definition if deparsed is not None else None

        # a generated column's expression is its "default" in pg_attrdef
        columns = [
            c._replace(default=text("default", c.table_oid, c.position)) if c.generated else c
            for c in columns
        ]
        by_position.outside = self.outside_names or {}
        constraints = [
            ready.constraints.get(r.oid)
            or build_constraint(r, by_position, text("constraint", r.oid), lookups)
            for r in constraint_rows
        ]
        indexes = [
            ready.indexes.get(r.oid)
            or build_index(
                r,
                by_position,
                lookups,
                self.deparsed.get(("index", r.oid, 0)),
                r.oid in ready.complex_indexes,
            )
            for r in index_rows
        ]
        return columns, constraints, indexes

    def _policy_text(self, policy: Policy) -> Policy:
        """The policy with its expressions as text, where they were deparsed."""
        deparsed = self.deparsed.get(("policy", policy.oid, 0))
        if deparsed is None:
            return policy
        return policy._replace(using=deparsed.definition, with_check=deparsed.extra)

    def _check_schemas(self, requested: list[str]) -> None:
        """Fail before the long collection when a requested schema does not exist: a
        filter that matches nothing would report an empty, healthy database."""
        rows = self._execute(
            "SELECT nspname FROM pg_catalog.pg_namespace"
            " WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' ORDER BY nspname",
            catalog=True,
            row_factory=tuple_row,
        )
        existing = [name for (name,) in rows]
        missing = [name for name in requested if name not in existing]
        if missing:
            raise UnknownSchema(unknown_schemas(missing, existing))

    def _execute(
        self,
        query: str | sql.Composed,
        params: Any = None,
        *,
        catalog: bool = False,
        row_factory: Any = dict_row,
    ) -> list[Any]:
        if catalog:
            self.catalog_queries += 1
        else:
            self.data_queries += 1
        # measured (see _measuring): in a savepoint rolled back, which ends the statement's
        # locks as autocommit would and keeps the counts it made
        with (
            self.connection.transaction(force_rollback=True) if self.measuring else nullcontext(),
            self.connection.cursor(row_factory=row_factory) as cursor,
        ):
            try:
                cursor.execute(marked(query), params)
            except UnicodeEncodeError:
                # a SQL_ASCII database's name in bytes that are no UTF-8 (read as U+FFFD,
                # see connect.py): a statement cannot name it; that object is skipped
                raise UnnamedObject(
                    "its name is not UTF-8 in a SQL_ASCII database: no statement can name it"
                ) from None
            return cursor.fetchall()

    def _fetch(self, name: str, version: int, params: dict[str, Any]) -> list[Any]:
        """Rows of queries/<name>.sql, as tuples."""
        query = load_query(name, version)
        return self._execute(query, params, catalog=True, row_factory=tuple_row)

    def _entity(
        self,
        declared: Entity,
        version: int,
        params: dict[str, Any],
        connection: psycopg.Connection | None = None,
    ) -> list[Any]:
        """A declared entity's objects, or its raw rows when they are assembled later.
        `connection`: the second session's (read in its thread; counted when joined)."""
        if declared.query is None:
            return self._objects(declared.name, None, version, params, connection)
        return self._objects(declared.query, declared.cls, version, params, connection)

    def _read_beside(self, version: int, params: dict[str, Any], positions: bool) -> Beside | None:
        """Start reading the BESIDE entities on a second session that shares this
        transaction's snapshot (pg_export_snapshot, as `pg_dump -j` does): the server
        answers those queries while this session reads and decodes the others; then,
        when `positions`, that session reads the sequence positions. None when there is
        no second session to be had (the caller reads them in turn)."""
        if self.sibling is None:
            return None
        try:
            exported = self.connection.execute("SELECT pg_catalog.pg_export_snapshot()").fetchone()
        except psycopg.Error as error:
            self._raise_if_connection_lost(error)
            return None
        self.catalog_queries += 1
        declared = beside_entities(version)
        # one thread, so its tasks run in turn on the one session it opens
        worker = ThreadPoolExecutor(1, thread_name_prefix="pgvitals-beside")
        session: list[psycopg.Connection] = []
        catalogs = worker.submit(
            self._read_on_sibling, session, exported[0], declared, version, params, positions
        )
        later = worker.submit(positions_beside, session, catalogs) if positions else None
        worker.shutdown(wait=False)
        return Beside(catalogs, later)

    def _read_on_sibling(
        self,
        session: list[psycopg.Connection],
        exported: str,
        declared: list[Entity],
        version: int,
        params: dict[str, Any],
        more: bool,
    ) -> dict[str, list[Any]]:
        """`more`: leave the session open for the task after this one (which closes it)."""
        assert self.sibling is not None
        sibling = self.sibling()
        session.append(sibling)
        try:
            sibling.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            with sibling.transaction():
                sibling.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(exported))
                sibling.execute("SET LOCAL work_mem = '256MB'; SET LOCAL cursor_tuple_fraction = 1")
                read = {e.name: self._entity(e, version, params, sibling) for e in declared}
            sibling.isolation_level = None
            return read
        finally:
            if not more:
                sibling.close()

    def _read_back(
        self, beside: Beside, version: int, params: dict[str, Any]
    ) -> dict[str, list[Any]]:
        """What the second session read; if it failed in any way (no session to be had:
        a pooler, a connection limit, a password asked for; or an error there), the
        same entities read here instead, where a real problem shows as it always does."""
        try:
            read = beside.catalogs.result()
            self.catalog_queries += len(read)
            return read
        except Exception:
            return {e.name: self._entity(e, version, params) for e in beside_entities(version)}

    def _objects(
        self,
        name: str,
        cls: type[T] | None,
        version: int,
        params: dict[str, Any],
        connection: psycopg.Connection | None = None,
    ) -> list[T]:
        """Rows mapped positionally onto `cls`; the query's aliases must be its fields.
        `cls` None: the raw rows, as named tuples (assembled later)."""
        query = load_query(name, version)
        if connection is None:
            self.catalog_queries += 1
            connection = self.connection
        in_transaction = connection.info.transaction_status == TransactionStatus.INTRANS
        # Inside the catalog transaction, a server-side cursor read in chunks: the raw
        # rows of 1.75M columns (100,000 tables) never all sit in memory beside the objects
        # made of them, which halves the peak.
        with connection.cursor(
            name=f"pgvitals_{name}" if in_transaction else None,
            row_factory=tuple_row,
        ) as cursor:
            cursor.execute(query, params)
            aliases = [column.name for column in cursor.description or []]
            if cls is None:
                raw: list[Any] = []
                names = [n for n in RAW_REPEATED.get(name, ()) if n in aliases]
                repeated = [aliases.index(n) for n in names]
                shared = [self.shared.setdefault(n, {}) for n in names]
                # named tuples made once, from the rows with their values shared
                row_type = partial(tuple.__new__, namedtuple("Row", aliases))  # type: ignore[misc]
                while rows := cursor.fetchmany(FETCH_CHUNK):
                    raw += map(row_type, one_copy_each(rows, repeated, shared))
                return raw
            expected = [f.name for f in fields(cls)] if is_dataclass(cls) else list(cls._fields)  # type: ignore[attr-defined]
            if aliases != expected:
                raise RuntimeError(f"queries/{name}.sql returns {aliases}, not {expected}")
            objects: list[T] = []
            names = getattr(cls, "REPEATED", ())
            repeated = [expected.index(name) for name in names]
            # one dict per field name for the whole run: a table's schema and name are
            # then one object in its columns, its sequences and its replication rows
            shared = [self.shared.setdefault(name, {}) for name in names]
            # a named tuple made straight from the row's tuple: its __new__, a Python
            # function, costs twice as much for 100,000s of rows
            make: Callable[[Any], T] = (
                partial(tuple.__new__, cls) if issubclass(cls, tuple) else lambda row: cls(*row)
            )
            while rows := cursor.fetchmany(FETCH_CHUNK):
                objects += map(make, one_copy_each(rows, repeated, shared) if repeated else rows)
            return objects

    def _deparse(
        self,
        tables: list[Table],
        columns: list[Column],
        constraint_rows: list[Any],
        index_rows: list[Any],
        complex_indexes: set[int],
        policies: list[Policy],
    ) -> None:
        """Deparse what needs the table's column names (a lock on the table): index
        definitions that cannot be rebuilt, CHECK/EXCLUDE constraints, generated
        columns, policy expressions. A batch of tables per statement, kept in
        `self.deparsed` as it comes; a locked table is left out (its texts stay None) and
        recorded as skipped, instead of stalling the run."""
        wanted: dict[str, dict[int, list[int]]] = {"indexes": {}, "constraints": {}, "policies": {}}
        for policy in policies:
            wanted["policies"].setdefault(policy.table_oid, []).append(policy.oid)
        for r in index_rows:
            if r.oid in complex_indexes:
                wanted["indexes"].setdefault(r.table_oid, []).append(r.oid)
        for r in constraint_rows:
            if r.kind in ("c", "x"):
                wanted["constraints"].setdefault(r.table_oid, []).append(r.oid)
        generated = {c.table_oid for c in columns if c.generated}
        needed = set(wanted["indexes"]) | set(wanted["constraints"]) | set(wanted["policies"])
        needed |= generated
        batch_tables = [t for t in tables if t.oid in needed]
        query = load_query("definitions", 0)
        for start in range(0, len(batch_tables), DEFINITION_BATCH):
            self.undeparsed = batch_tables[start:]
            batch = {t.oid: t for t in batch_tables[start : start + DEFINITION_BATCH]}
            for _attempt in range(LOCK_RETRIES):
                params = {
                    "indexes": [i for t in batch for i in wanted["indexes"].get(t, [])],
                    "constraints": [c for t in batch for c in wanted["constraints"].get(t, [])],
                    "generated": [t for t in batch if t in generated],
                    "policies": [p for t in batch for p in wanted["policies"].get(t, [])],
                }
                try:
                    rows = self._execute(query, params, catalog=True, row_factory=tuple_row)
                    self.deparsed.update(
                        ((kind, oid, position), Deparsed(*texts))
                        for kind, oid, position, *texts in rows
                    )
                    break
                except psycopg.Error as error:
                    self._raise_if_connection_lost(error)
                    if not isinstance(error, errors.LockNotAvailable):
                        self._skip_definitions(batch.values(), describe_error(error))
                        break
                    for oid in self._exclusively_locked(list(batch)):
                        self._skip_definitions([batch.pop(oid)], "lock timeout")
            else:
                self._skip_definitions(batch.values(), "lock timeout")
        self.undeparsed = []

    def _names_outside(
        self, constraint_rows: list[Any], tables: list[Table]
    ) -> dict[tuple[int, int], str]:
        """Column names of referenced tables that were not collected (another schema)."""
        outside = tables_outside(constraint_rows, tables)
        if not outside:
            return {}
        try:
            rows = self._execute(
                "SELECT attrelid::int8, attnum::int, attname FROM pg_catalog.pg_attribute"
                " WHERE attrelid = ANY (%(tables)s::oid[]) AND attnum > 0",
                {"tables": outside},
                catalog=True,
                row_factory=tuple_row,
            )
        except psycopg.Error as error:
            self._raise_if_connection_lost(error)
            reason = f"referenced columns in other schemas: {describe_error(error)}"
            self.skipped.append({"step": "definitions", "reason": reason})
            return {}
        return {(table, number): name for table, number, name in rows}

    def _exclusively_locked(self, oids: list[int]) -> list[int]:
        """Relations another session holds, or waits for, in ACCESS EXCLUSIVE mode."""
        rows = self._execute(
            "SELECT DISTINCT relation::int8 AS oid FROM pg_catalog.pg_locks"
            " WHERE relation = ANY (%(oids)s::oid[]) AND mode = 'AccessExclusiveLock'"
            " AND pid <> pg_catalog.pg_backend_pid()",
            {"oids": oids},
            catalog=True,
        )
        return [row["oid"] for row in rows]

    def _skip_definitions(self, tables: Iterable[Table], reason: str) -> None:
        for table in tables:
            self.skipped.append({"step": "definitions", "object": table.qualname, "reason": reason})

    def _raise_if_connection_lost(self, error: psycopg.Error) -> None:
        if self._lost(error):
            raise error

    def _read_sequence_positions(
        self, sequences: list[Sequence], beside: Future[Positions] | None
    ) -> None:
        """Read last_value (into `self.positions`) of every readable sequence: what the
        second session read (`beside`), or, when it could not, read here."""
        if beside is not None and self._positions_read_beside(beside):
            return
        self._keep_positions(
            read_positions(
                self.connection, sequences_to_read(sequences), self._track_unread_sequences
            )
        )

    def _positions_read_beside(self, beside: Future[Positions]) -> bool:
        """Keep what the second session read, once it is done; False if it failed (then
        the positions are to be read here, where a real problem shows as it always does)."""
        try:
            read = beside.result()
        except Exception:
            return False
        self._keep_positions(read)
        return True

    def _keep_positions(self, read: Positions) -> None:
        positions, skipped, queries = read
        self.positions.update(positions)
        self.skipped += skipped
        self.data_queries += queries
        self.unread_sequences = []

    def _track_unread_sequences(self, unread: list[Sequence]) -> None:
        self.unread_sequences = unread

    def _profile_tables(
        self,
        tables: list[Table],
        constraint_rows: list[Any],
        index_rows: list[Any],
        budget: ProfileBudget,
        profiles: list[TableProfile],
        find_duplicates: bool = True,
        measured: dict[int, Measured] | None = None,
        column_profiles: list[ColumnProfile] | None = None,
    ) -> list[TableProfile]:
        """Append to `profiles` as it goes, so that what was read survives a lost connection.
        Duplicate rows are counted in tables without a key, when a rule needs them; the
        `measured` columns of each table (see profile.measured_columns) are measured in
        the same scan, into `column_profiles`."""
        keyed = {c.table_oid for c in constraint_rows if c.kind == "p"}
        keyed |= {
            i.table_oid
            for i in index_rows
            if i.is_unique and i.is_valid and i.predicate_tree is None
        }
        self._step("rows")
        readable = [table for table in tables if table.kind in ("r", "m")]
        with self._bounded_reads(budget) as deadline:
            for done, table in enumerate(readable):
                self.counter(done, len(readable))
                if time.monotonic() > deadline:
                    reason = f"data budget of {budget.total_ms} ms used up"
                    profiles.append(TableProfile(table.oid, "skipped", reason, None, False, None))
                    continue
                self._step(f"data: {table.qualname}")
                duplicates = find_duplicates and table.oid not in keyed
                columns = (measured or {}).get(table.oid, [])
                profiles.append(
                    self._profile_table(table, duplicates, budget, columns, column_profiles)
                )
            self.counter(len(readable), len(readable))
        return profiles

    def _per_table_ms(self, budget: ProfileBudget) -> int:
        """The budget's time per table, lowered to the user's statement timeout."""
        session_ms = self._execute(
            "SELECT setting::int8 AS ms FROM pg_catalog.pg_settings"
            " WHERE name = 'statement_timeout'"
        )[0]["ms"]
        return min(budget.per_table_ms, session_ms) if session_ms > 0 else budget.per_table_ms

    def _measure_bloat(
        self,
        tables: list[Table],
        indexes: list[Index],
        budget: ProfileBudget,
        measures: list[BloatMeasure],
    ) -> None:
        """Measure each table's and valid btree index's bloat with pgstattuple, when it
        is installed; each read bounded as row reads are, each failure recorded. The
        measures are appended as they come, so a lost connection keeps them."""
        found = self._execute(
            "SELECT n.nspname FROM pg_catalog.pg_extension e"
            " JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace"
            " WHERE e.extname = 'pgstattuple'",
            row_factory=tuple_row,
        )
        if not found:
            reason = "pgstattuple is not installed in this database: bloat was estimated"
            self.skipped.append({"step": "exact bloat", "reason": reason})
            return
        schema = found[0][0]
        wanted: list[tuple[str, int, sql.Composed]] = []
        for table in tables:
            if table.kind in ("r", "m"):
                function = sql.Identifier(schema, "pgstattuple")
                query = sql.SQL(TABLE_BLOAT).format(function=function, oid=sql.Literal(table.oid))
                wanted.append(("table", table.oid, query))
        for index in indexes:
            if index.method == "btree" and index.is_valid and index.bytes is not None:
                options = dict(option.split("=", 1) for option in index.reloptions)
                fillfactor = sql.Literal(float(options.get("fillfactor", 90)))
                query = sql.SQL(INDEX_BLOAT).format(
                    function=sql.Identifier(schema, "pgstatindex"),
                    oid=sql.Literal(index.oid),
                    fillfactor=fillfactor,
                )
                wanted.append(("index", index.oid, query))
        deadline = time.monotonic() + budget.total_ms / 1000
        self.connection.execute(
            sql.SQL("SET statement_timeout = {}").format(self._per_table_ms(budget))
        )
        try:
            for kind, oid, query in wanted:
                if time.monotonic() > deadline:
                    reason = f"data budget of {budget.total_ms} ms used up"
                    measures.append(BloatMeasure(oid, kind, "skipped", reason, None, None))
                    continue
                try:
                    size, bloat = self._execute(query, row_factory=tuple_row)[0]
                except psycopg.Error as error:
                    self._raise_if_connection_lost(error)
                    reason = describe_error(error)
                    measures.append(BloatMeasure(oid, kind, "skipped", reason, None, None))
                    continue
                measures.append(BloatMeasure(oid, kind, "ran", None, size, bloat))
        finally:
            if not (self.connection.closed or self.connection.broken):
                self.connection.execute("RESET statement_timeout")

    def _profile_table(
        self,
        table: Table,
        find_duplicates: bool,
        budget: ProfileBudget,
        measured: Measured | None = None,
        column_profiles: list[ColumnProfile] | None = None,
    ) -> TableProfile:
        """One scan of the table (more only when its measures overflow a select list):
        whole below the budget's size, else a TABLESAMPLE of about `sample_rows` rows."""
        measured = measured or []
        rows = estimated_rows(table)
        exact = budget.exact(table, rows)
        percent = 100.0 if exact else budget.percent(rows)
        reading = Reading(table, measured, exact, percent, budget.placeholders)
        queries = profile_queries(
            table,
            measured,
            exact=exact,
            duplicates=find_duplicates,
            percent=percent,
            method=budget.sample_method.upper(),
            seed=budget.seed,
        )
        duplicate_rows = None
        try:
            for query in queries:
                row = self._execute(query.text, parameters(budget.placeholders))[0]
                reading.add(query, row)
                duplicate_rows = row.get("duplicate_rows", duplicate_rows)
        except psycopg.Error as error:
            self._raise_if_connection_lost(error)
            if table.kind == "m" and isinstance(error, errors.ObjectNotInPrerequisiteState):
                # never populated (WITH NO DATA): no rows to read, which is not a part
                # of the check left undone
                return TableProfile(table.oid, "ran", None, 0, False, None)
            return TableProfile(table.oid, "skipped", describe_error(error), None, False, None)
        if column_profiles is not None:
            column_profiles += reading.profiles()
        return TableProfile(table.oid, "ran", None, reading.rows, not exact, duplicate_rows)

    def _count_orphans(
        self, provisional: Snapshot, budget: ProfileBudget, orphans: list[OrphanCount]
    ) -> None:
        """Per reference inferred from names whose types allow a foreign key: how many
        non-NULL referencing rows match no key. Appended as counted, under the same
        per-table and total budgets as the row counts."""
        references = [r for r in provisional.facts.inferred_references if r.constraint_possible]
        if not references:
            return
        self._step("orphans")
        with self._bounded_reads(budget) as deadline:
            for reference in references:
                if time.monotonic() > deadline:
                    reason = f"data budget of {budget.total_ms} ms used up"
                    orphans.append(orphan_count(reference, "skipped", reason))
                    continue
                self._step(f"data: {reference.table.qualname} orphans")
                orphans.append(self._count_orphans_of(reference, provisional, budget))

    @contextmanager
    def _bounded_reads(self, budget: ProfileBudget) -> Iterator[float]:
        """Each statement under the per-table budget (or the user's lower statement
        timeout); yields the deadline of the total budget."""
        deadline = time.monotonic() + budget.total_ms / 1000
        per_table_ms = budget.per_table_ms
        session_ms = self._execute(
            "SELECT setting::int8 AS ms FROM pg_catalog.pg_settings"
            " WHERE name = 'statement_timeout'"
        )[0]["ms"]
        if session_ms > 0:
            per_table_ms = min(per_table_ms, session_ms)
        self.connection.execute(sql.SQL("SET statement_timeout = {}").format(per_table_ms))
        try:
            yield deadline
        finally:
            if not (self.connection.closed or self.connection.broken):
                self.connection.execute("RESET statement_timeout")

    def _count_violations(
        self, provisional: Snapshot, budget: ProfileBudget, violations: list[ViolationCount]
    ) -> None:
        """Rows that break each NOT VALID foreign key or CHECK, and the rows a unique index
        over nullable columns would reject if NULLs were equal, under the row budgets."""
        facts = provisional.facts
        queries: list[tuple[int, Table, sql.Composed | None, bool]] = []
        for constraint in facts.unvalidated_constraints:
            table = provisional.table_by_oid.get(constraint.table_oid)
            if table is not None:
                exact = facts.rows(table) < budget.exact_below_rows
                query = violation_query(provisional, constraint, table, budget, exact)
                queries.append((constraint.oid, table, query, exact))
        for index, _nullable in facts.nullable_uniques:
            table = provisional.table_by_oid.get(index.table_oid)
            if table is not None:
                exact = facts.rows(table) < budget.exact_below_rows
                query = null_duplicates_query(index, table) if exact else None
                queries.append((index.oid, table, query, exact))
        if not queries:
            return
        self._step("violations")
        with self._bounded_reads(budget) as deadline:
            for oid, table, query, exact in queries:
                if query is None:
                    reason = "too large to count exactly" if not exact else "definition unread"
                    violations.append(ViolationCount(oid, "skipped", reason, None, None, False))
                    continue
                if time.monotonic() > deadline:
                    reason = f"data budget of {budget.total_ms} ms used up"
                    violations.append(ViolationCount(oid, "skipped", reason, None, None, False))
                    continue
                self._step(f"data: {table.qualname} violations")
                try:
                    row = self._execute(query)[0]
                except psycopg.Error as error:
                    self._raise_if_connection_lost(error)
                    reason = describe_error(error)
                    violations.append(ViolationCount(oid, "skipped", reason, None, None, False))
                    continue
                violations.append(
                    ViolationCount(oid, "ran", None, row["violating"], row["checked"], not exact)
                )

    def _count_orphans_of(
        self, reference: Reference, snap: Snapshot, budget: ProfileBudget
    ) -> OrphanCount:
        table, target = reference.table, reference.ref_table
        rows = snap.facts.rows(table)
        exact = rows < budget.exact_below_rows
        sample = sql.SQL("")
        percent = 100.0
        if not exact:
            percent = max(0.01, min(100.0, 100.0 * budget.sample_rows / rows))
            sample = sql.SQL(" TABLESAMPLE SYSTEM ({})").format(sql.Literal(percent))
        matches = sql.SQL(" AND ").join(
            sql.SQL("k.{} = r.{}").format(sql.Identifier(key.name), sql.Identifier(column.name))
            for column, key in zip(reference.columns, reference.ref_columns, strict=True)
        )
        present = sql.SQL(" AND ").join(
            sql.SQL("r.{} IS NOT NULL").format(sql.Identifier(c.name)) for c in reference.columns
        )
        # a single integer, uuid or text column: also the orphans that hold a stand-in for
        # none, 0 or below (values no sequence gives), the Nil UUID or '' (Synapse's
        # position rows)
        sentinel = sentinel_test(reference.columns[0]) if len(reference.columns) == 1 else None
        # a foreign key holds between the two tables' own rows, not those of tables that
        # inherit from them (INHERITS), as the fix's listing of the orphans reads them
        missing = sql.SQL("NOT EXISTS (SELECT FROM {} AS k WHERE {})").format(
            own_rows(target), matches
        )
        sentinels = sql.SQL(
            ", (SELECT count(*) FROM r WHERE r.{} {} AND {})::int8 AS sentinels"
        ).format(sql.Identifier(reference.columns[0].name), sql.SQL(sentinel or ""), missing)
        query = unmatched_count(
            own_rows(table),
            [c.name for c in reference.columns],
            sample,
            present,
            missing,
            "orphans",
            sentinels if sentinel else None,
        )
        try:
            row = self._execute(query)[0]
        except psycopg.Error as error:
            self._raise_if_connection_lost(error)
            return orphan_count(reference, "skipped", describe_error(error))
        scale = 1.0 if exact else 100.0 / percent
        found = round(row["orphans"] * scale)
        sentinel_rows = round(row["sentinels"] * scale) if sentinel else None
        return orphan_count(reference, "ran", None, found, row["checked"], not exact, sentinel_rows)

    def _count_soft_delete_orphans(
        self, provisional: Snapshot, budget: ProfileBudget, found: list[SoftDeleteOrphans]
    ) -> None:
        """Per reference (declared, or inferred with comparable types) to a table that
        soft-deletes its rows: the live referencing rows whose parent is soft-deleted.
        Appended as counted, under the per-table and total budgets."""
        facts = provisional.facts
        markers = facts.soft_delete_columns
        references = [
            r
            for r in (*facts.declared_references, *facts.inferred_references)
            if r.ref_table.oid in markers
            and soft_deleted_when(markers[r.ref_table.oid]) is not None
            and r.constraint_possible
            and r.table.oid != r.ref_table.oid
        ]
        if not references:
            return
        self._step("soft-deleted parents")
        with self._bounded_reads(budget) as deadline:
            for reference in references:
                marker = markers[reference.ref_table.oid]
                if time.monotonic() > deadline:
                    reason = f"data budget of {budget.total_ms} ms used up"
                    found.append(soft_orphans(reference, marker, "skipped", reason))
                    continue
                self._step(f"data: {reference.table.qualname} soft-deleted parents")
                rows = facts.rows(reference.table)
                exact = budget.exact(reference.table, rows)
                percent = 100.0 if exact else budget.percent(rows)
                query = soft_orphans_query(reference, marker, markers, percent)
                try:
                    row = self._execute(query)[0]
                except psycopg.Error as error:
                    self._raise_if_connection_lost(error)
                    reason = describe_error(error)
                    found.append(soft_orphans(reference, marker, "skipped", reason))
                    continue
                orphans = row["orphans"] if exact else round(row["orphans"] * 100.0 / percent)
                found.append(
                    soft_orphans(reference, marker, "ran", None, orphans, row["checked"], not exact)
                )

    def _read_default_ranges(
        self, provisional: Snapshot, budget: ProfileBudget, found: list[DefaultPartitionRange]
    ) -> None:
        """The lowest and highest key of each DEFAULT partition of a table partitioned by
        a date or time range, and its lowest from where a job still creates partitions,
        one statement each, under the per-table and total budgets."""
        defaults = provisional.facts.time_range_defaults
        if not defaults:
            return
        self._step("default partitions")
        with self._bounded_reads(budget) as deadline:
            for watch in defaults:
                default, key = watch.default, watch.key
                since = None if watch.watched is None else written(watch.watched, key.type_name)
                unread = partial(DefaultPartitionRange, default.oid, key.name, "skipped")
                if time.monotonic() > deadline:
                    reason = f"data budget of {budget.total_ms} ms used up"
                    found.append(unread(reason, None, None, None, since))
                    continue
                self._step(f"data: {default.qualname} key range")
                method = range_method(provisional, default, key, budget)
                try:
                    query = default_range_query(default, key, method, budget, since)
                    row = self._execute(query)[0]
                except psycopg.Error as error:
                    self._raise_if_connection_lost(error)
                    found.append(unread(describe_error(error), None, None, method, since))
                    continue
                found.append(
                    DefaultPartitionRange(
                        default.oid,
                        key.name,
                        "ran",
                        None,
                        row["lowest"],
                        row["highest"],
                        method,
                        since,
                        row["lowest_since"],
                    )
                )


def range_method(snap: Snapshot, table: Table, key: Column, budget: ProfileBudget) -> str:
    """How to find a table's lowest and highest key: "index" when a valid, complete
    btree index starts with it (a descent for each); else "scan" (all in one read) of a
    small table, "sample" (in a TABLESAMPLE) of a large one."""
    for index in snap.indexes_by_table.get(table.oid, []):
        if (
            index.method == "btree"
            and index.is_valid
            and not index.is_partial
            and index.key_columns[:1] == [key.name]
        ):
            return "index"
    return "scan" if budget.exact(table, snap.facts.rows(table)) else "sample"


# A key value as ISO 8601 text: timestamptz in UTC, whatever the session's TimeZone
# and DateStyle; infinity as PostgreSQL writes it.
KEY_TEXT = {
    "timestamptz": (
        "CASE WHEN pg_catalog.isfinite({v}) THEN pg_catalog.to_char({v} AT TIME ZONE 'UTC',"
        " 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || '+00:00' ELSE {v}::pg_catalog.text END"
    ),
    "timestamp": (
        "CASE WHEN pg_catalog.isfinite({v}) THEN pg_catalog.to_char({v},"
        " 'YYYY-MM-DD\"T\"HH24:MI:SS.US') ELSE {v}::pg_catalog.text END"
    ),
    "date": (
        "CASE WHEN pg_catalog.isfinite({v}) THEN pg_catalog.to_char({v}, 'YYYY-MM-DD')"
        " ELSE {v}::pg_catalog.text END"
    ),
}
EXTREMES = ("lowest", "highest", "lowest_since")


def default_range_query(
    table: Table, key: Column, method: str, budget: ProfileBudget, since: str | None
) -> sql.Composed:
    """SELECT lowest, highest, lowest_since: the table's extreme non-NULL keys, and its
    lowest from `since` on (NULL without one), as text (`KEY_TEXT`)."""
    column, relation = sql.Identifier(key.name), sql.Identifier(table.schema, table.name)
    # `since` as written by snapshot/ranges.py, cast to the key's type
    bound = (
        sql.SQL("NULL")
        if since is None
        else sql.SQL("{}::pg_catalog.{}").format(sql.Literal(since), sql.Identifier(key.type_name))
    )
    if method == "index":
        extreme = (
            "(SELECT {c} FROM ONLY {t} WHERE {c} IS NOT NULL AND {c} >= {floor}"
            " ORDER BY {c} {order} LIMIT 1)"
        )

        def descent(order: str, floor: sql.Composable) -> sql.Composed:
            return sql.SQL(extreme).format(c=column, t=relation, order=sql.SQL(order), floor=floor)

        lowest = sql.SQL("'-infinity'::pg_catalog.{}").format(sql.Identifier(key.type_name))
        items = [descent("ASC", lowest), descent("DESC", lowest), descent("ASC", bound)]
        source = sql.SQL("SELECT {}").format(
            sql.SQL(", ").join(
                sql.SQL("{} AS {}").format(item, sql.Identifier(name))
                for item, name in zip(items, EXTREMES, strict=True)
            )
        )
    else:
        sample = sql.SQL("")
        if method == "sample":
            percent = budget.percent(float(max(table.rows_estimate, table.n_live_tup or 0)))
            sample = sql.SQL(" TABLESAMPLE SYSTEM ({}) REPEATABLE ({})").format(
                sql.Literal(percent), sql.Literal(budget.seed)
            )
        source = sql.SQL(
            "SELECT min({c}) AS lowest, max({c}) AS highest,"
            " min({c}) FILTER (WHERE {c} >= {bound}) AS lowest_since FROM ONLY {t}{sample}"
        ).format(c=column, t=relation, bound=bound, sample=sample)
    shown = KEY_TEXT[key.type_name]
    return sql.SQL("SELECT {} FROM ({}) AS pgvitals_range").format(
        sql.SQL(", ").join(
            sql.SQL(shown.format(v=f"pgvitals_range.{name}") + f" AS {name}") for name in EXTREMES
        ),
        source,
    )


def soft_orphans_query(
    reference: Reference, marker: Column, markers: dict[int, Column], percent: float
) -> sql.Composed:
    """Live referencing rows (the child's own soft-delete column unset, if it has one)
    joined to their parent: how many there are, and how many parents are soft-deleted."""

    def deleted(alias: str, column: Column) -> sql.Composed:
        test = "IS TRUE" if soft_deleted_when(column) == "true" else "IS NOT NULL"
        return sql.SQL("{}.{} " + test).format(sql.Identifier(alias), sql.Identifier(column.name))

    child, parent = reference.table, reference.ref_table
    own = markers.get(child.oid)
    live = (
        sql.SQL("NOT ({})").format(deleted("c", own))
        if own is not None and soft_deleted_when(own) is not None
        else sql.SQL("true")
    )
    matches = sql.SQL(" AND ").join(
        sql.SQL("p.{} = c.{}").format(sql.Identifier(key.name), sql.Identifier(column.name))
        for column, key in zip(reference.columns, reference.ref_columns, strict=True)
    )
    sample = sql.SQL("")
    if percent < 100:
        sample = sql.SQL(" TABLESAMPLE SYSTEM ({})").format(sql.Literal(percent))
    return sql.SQL(
        "SELECT count(*)::int8 AS checked, count(*) FILTER (WHERE {deleted})::int8 AS orphans"
        " FROM {only}{child} AS c{sample} JOIN {parent} AS p ON {matches} WHERE {live}"
    ).format(
        deleted=deleted("p", marker),
        only=sql.SQL("" if child.kind == "p" else "ONLY "),
        child=sql.Identifier(child.schema, child.name),
        sample=sample,
        parent=sql.Identifier(parent.schema, parent.name),
        matches=matches,
        live=live,
    )


def soft_orphans(
    reference: Reference,
    marker: Column,
    status: str,
    reason: str | None,
    orphan_rows: int | None = None,
    checked_rows: int | None = None,
    sampled: bool = False,
) -> SoftDeleteOrphans:
    return SoftDeleteOrphans(
        reference.table.oid,
        reference.column_names,
        reference.ref_table.oid,
        reference.ref_column_names,
        marker.name,
        status,
        reason,
        orphan_rows,
        checked_rows,
        sampled,
    )


def own_rows(table: Table) -> sql.Composable:
    """The table in a FROM that reads its own rows only: ONLY where others inherit from it
    (a partitioned table's rows are all its partitions')."""
    relation = sql.Identifier(table.schema, table.name)
    return sql.SQL("ONLY {}").format(relation) if table.inheritance_children else relation


def unmatched_count(
    relation: sql.Composable,
    columns: list[str],
    sample: sql.Composable,
    present: sql.Composable,
    missing: sql.Composable,
    label: str,
    more: sql.Composable | None = None,
) -> sql.Composed:
    """`checked`: the rows of `relation` (alias r) where `present` holds; `label`: those
    of them for which `missing` (a NOT EXISTS) holds. The NOT EXISTS is in a WHERE, not
    in an aggregate's FILTER: there it is a subplan run once per row, each a scan of the
    referenced table that pg_stat_user_tables counts as the application's (40,000 rows,
    40,000 sequential scans of a small parent, every run); here the planner joins (a
    hash anti join: one scan). `more`: further columns over r."""
    return sql.SQL(
        "WITH r AS (SELECT {columns} FROM {relation} AS r{sample} WHERE {present})"
        " SELECT (SELECT count(*) FROM r)::int8 AS checked,"
        " (SELECT count(*) FROM r WHERE {missing})::int8 AS {label}{more}"
    ).format(
        columns=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        relation=relation,
        sample=sample,
        present=present,
        missing=missing,
        label=sql.Identifier(label),
        more=more or sql.SQL(""),
    )


def violation_query(
    snap: Snapshot, constraint: Constraint, table: Table, budget: ProfileBudget, exact: bool
) -> sql.Composed | None:
    """Count the rows that break a NOT VALID foreign key or CHECK (a CHECK passes where its
    expression is NULL, as PostgreSQL evaluates it). None: its definition is unknown."""
    relation = sql.Identifier(table.schema, table.name)
    sample = sql.SQL("")
    if not exact:
        percent = max(0.01, min(100.0, 100.0 * budget.sample_rows / snap.facts.rows(table)))
        sample = sql.SQL(" TABLESAMPLE SYSTEM ({})").format(sql.Literal(percent))
    if constraint.kind == "f":
        target = snap.table_by_oid.get(constraint.ref_table_oid or -1)
        if target is None:
            return None
        matches = sql.SQL(" AND ").join(
            sql.SQL("k.{} = r.{}").format(sql.Identifier(key), sql.Identifier(column))
            for column, key in zip(constraint.columns, constraint.ref_columns, strict=True)
        )
        present = sql.SQL(" AND ").join(
            sql.SQL("r.{} IS NOT NULL").format(sql.Identifier(c)) for c in constraint.columns
        )
        missing = sql.SQL("NOT EXISTS (SELECT FROM {} AS k WHERE {})").format(
            sql.Identifier(target.schema, target.name), matches
        )
        return unmatched_count(
            sql.SQL("ONLY ") + relation, constraint.columns, sample, present, missing, "violating"
        )
    expression = check_expression(constraint.definition)
    if expression is None:
        return None
    return sql.SQL(
        "SELECT count(*)::int8 AS checked,"
        " count(*) FILTER (WHERE NOT ({expression}))::int8 AS violating"
        " FROM ONLY {table}{sample}"
    ).format(expression=sql.SQL(expression), table=relation, sample=sample)


def check_expression(definition: str | None) -> str | None:
    """The expression of `CHECK (...) [NO INHERIT] [NOT VALID]` as the server deparsed it."""
    if definition is None or not definition.startswith("CHECK "):
        return None
    body = definition.removeprefix("CHECK ")
    for suffix in (" NOT VALID", " NO INHERIT"):
        body = body.removesuffix(suffix)
    return body


def null_duplicates_query(index: Index, table: Table) -> sql.Composed:
    """Rows beyond the first of each group equal on the index's columns, NULLs counted as
    equal, among rows with a NULL key column and another set: what NULLS NOT DISTINCT
    would reject. Rows NULL in every key column have no key at all (a device outside any
    virtual chassis: NetBox's `(virtual_chassis_id, vc_position)`): their repeats are not
    counted, as they are meant."""
    keys = [sql.Identifier(k or "") for k in index.key_columns[: index.key_count]]
    any_null = sql.SQL(" OR ").join(sql.SQL("{} IS NULL").format(k) for k in keys)
    any_set = sql.SQL(" OR ").join(sql.SQL("{} IS NOT NULL").format(k) for k in keys)
    return sql.SQL(
        "SELECT coalesce(sum(n - 1), 0)::int8 AS violating, coalesce(sum(n), 0)::int8 AS checked"
        " FROM (SELECT count(*) AS n FROM ONLY {table} WHERE ({any_null}) AND ({any_set})"
        "{predicate} GROUP BY {keys}) AS groups"
    ).format(
        table=sql.Identifier(table.schema, table.name),
        any_null=any_null,
        any_set=any_set,
        predicate=sql.SQL(f" AND ({index.predicate})" if index.predicate else ""),
        keys=sql.SQL(", ").join(keys),
    )


def orphan_count(
    reference: Reference,
    status: str,
    reason: str | None,
    orphan_rows: int | None = None,
    checked_rows: int | None = None,
    sampled: bool = False,
    sentinel_rows: int | None = None,
) -> OrphanCount:
    return OrphanCount(
        reference.table.oid,
        reference.column_names,
        reference.ref_table.oid,
        reference.ref_column_names,
        status,
        reason,
        orphan_rows,
        checked_rows,
        sampled,
        sentinel_rows,
    )


TIMEOUTS = (errors.QueryCanceled, errors.LockNotAvailable)

# pgstatindex's leaf density against the index's fillfactor: what is neither entries
# nor the free space the fillfactor leaves, plus the empty and deleted pages.
INDEX_BLOAT = """
SELECT s.index_size,
       CASE WHEN s.leaf_pages = 0 OR s.avg_leaf_density = 'NaN' THEN 0
            ELSE greatest(s.leaf_pages * (1 - s.avg_leaf_density / {fillfactor})
                          * pg_catalog.current_setting('block_size')::int8, 0)::int8
       END + (s.empty_pages + s.deleted_pages)
             * pg_catalog.current_setting('block_size')::int8 AS bloat_bytes
  FROM {function}({oid}::regclass) s"""
TABLE_BLOAT = """
SELECT s.table_len, (s.dead_tuple_len + s.free_space)::int8 AS bloat_bytes
  FROM {function}({oid}::regclass) s"""


def marked(query: str | sql.Composed) -> str | sql.Composed:
    """The query as pgvitals' own: pg_stat_statements keeps the comment, so the workload
    a later run reads leaves out this run's reads of the user's tables."""
    if isinstance(query, str):
        return f"{OWN_MARKER} {query}"
    return sql.SQL(OWN_MARKER + " ") + query


def sentinel_test(column: Column) -> str | None:
    """The test for a value that stands for "none" in a reference column of this type:
    0 or below for an integer (no sequence gives them), the Nil UUID for a uuid (no
    generator gives it), the empty string for text."""
    if column.type_name in ("int2", "int4", "int8"):
        return "<= 0"
    if column.type_name == "uuid":
        return f"= '{NIL_UUID}'"
    return "= ''" if column.type_category == "S" else None


def one_copy_each(
    rows: list[tuple[Any, ...]], positions: list[int], shared: list[dict[Any, Any]]
) -> Iterator[tuple[Any, ...]]:
    """The rows (made as they are read) with one object for each value at `positions`
    (`shared`: the objects kept so far, per position): every row arrives with its own
    copy of each string, number and array, and 175,000 columns repeat 4 schema names
    (10 MB of copies at 10,000 tables, a GB at 100,000). Equal arrays (lists) become
    one list too: the snapshot is never changed, and most are empty (table options)."""
    values = list(zip(*rows, strict=True))
    for position, kept in zip(positions, shared, strict=True):
        column = values[position]
        try:
            values[position] = tuple(map(kept.setdefault, column, column))
        except TypeError:  # lists, which cannot be keys: their values as a tuple are
            try:
                keys: Iterable[Any] = tuple(map(tuple, column))
            except TypeError:  # NULLs among them
                keys = [v if v is None else tuple(v) for v in column]
            values[position] = tuple(map(kept.setdefault, keys, column))
    return zip(*values, strict=True)


@dataclass(frozen=True)
class Ready:
    """Constraints and indexes built before their texts were deparsed (by oid), and the
    indexes whose definition only the server can write."""

    constraints: dict[int, Constraint]
    indexes: dict[int, Index]
    complex_indexes: set[int]


def assemble_ready(
    constraint_rows: list[Any],
    index_rows: list[Any],
    by_position: ColumnsByPosition,
    lookups: Lookups,
    complex_indexes: set[int],
) -> Ready:
    """The constraints and indexes that need no deparsed text: keys whose definition the
    catalog query read (their columns all in collected tables: other schemas' names
    come later) and indexes whose definition is rebuilt from the catalog."""
    constraints = {
        r.oid: build_constraint(r, by_position, None, lookups)
        for r in constraint_rows
        if r.kind in ("p", "u") or (r.kind == "f" and r.ref_table_oid in by_position.by_table)
    }
    indexes = {
        r.oid: build_index(r, by_position, lookups, None, False)
        for r in index_rows
        if r.oid not in complex_indexes
    }
    return Ready(constraints, indexes, complex_indexes)


def connection_lost(connection: psycopg.Connection, error: psycopg.Error) -> bool:
    """Did the error end the session (rather than the statement)?"""
    return isinstance(error, NoAnswer) or connection.broken or connection.closed


def read_positions(
    connection: psycopg.Connection,
    readable: list[Sequence],
    unread: Callable[[list[Sequence]], None] = lambda rest: None,
) -> Positions:
    """The last_value of each sequence in `readable`. Plain SELECTs, in batches each in
    its own transaction, so that at most one batch of AccessShareLocks is held at a
    time; a batch that fails is skipped with its reason, a lost connection raises.
    `unread`: told the sequences not yet read before each batch."""
    positions: dict[int, int | None] = {}
    skipped: list[dict[str, str]] = []
    queries = 0
    for start in range(0, len(readable), SEQUENCE_BATCH):
        unread(readable[start:])
        batch = readable[start : start + SEQUENCE_BATCH]
        # composed as text: psycopg.sql objects cost ~80 us each, 10,000s of them here
        query = " UNION ALL ".join(
            f"SELECT {int(s.oid)}::int8 AS oid, CASE WHEN is_called THEN last_value END"
            f" AS last_value FROM {quote_identifier(s.schema)}.{quote_identifier(s.name)}"
            for s in batch
        )
        queries += 1
        try:
            with connection.cursor(row_factory=tuple_row) as cursor:
                positions.update(cursor.execute(marked(query)).fetchall())
        except psycopg.Error as error:
            if connection_lost(connection, error):
                raise
            skipped.append({"step": "sequence positions", "reason": describe_error(error)})
    return positions, skipped, queries


def positions_beside(
    session: list[psycopg.Connection], catalogs: Future[dict[str, list[Any]]]
) -> Positions:
    """The positions of the sequences the second session read, on that session, which
    is then closed."""
    try:
        sequences = catalogs.result()["sequences"]  # raises when that part failed
        return read_positions(session[0], sequences_to_read(sequences))
    finally:
        for connection in session:
            connection.close()


def tables_outside(constraint_rows: list[Any], tables: list[Table]) -> list[int]:
    """Referenced tables that were not collected (another schema)."""
    collected = {t.oid for t in tables}
    return sorted({r.ref_table_oid for r in constraint_rows} - collected - {None})


def sequences_to_read(sequences: list[Sequence]) -> list[Sequence]:
    """Every sequence this role may read: which of them can run out is the rules'
    judgement (a bigint sequence can feed an integer column), not the collector's.
    In oid order: each sequence is a file of its own, and files made one after the
    other lie near each other on disk; when they are not in memory, 100,000 sequences
    read in this order take 9 s instead of 18 s in name order."""
    return sorted((s for s in sequences if s.readable), key=lambda s: s.oid)


def unknown_schemas(missing: list[str], existing: list[str]) -> str:
    """One line naming the missing schemas, a near match for each, and those that exist."""
    names = []
    for name in missing:
        near = [s for s in existing if s.lower() == name.lower()]
        near = near or difflib.get_close_matches(name, existing, n=1)
        hint = f" (did you mean {quoted(near[0])}?)" if near else ""
        names.append(f"{quoted(name)}{hint}")
    shown = ", ".join(quoted(name) for name in existing[:10]) or "none"
    if len(existing) > 10:
        shown += f" and {len(existing) - 10} more"
    return f"no schema named {', '.join(names)}; the database has {shown}"


# What describe_error says when the role may not read something: another role could
PERMISSION_DENIED = "permission denied"
RLS_HIDES_ROWS = "row-level security would show this role only some of the rows"
NOT_PERMITTED = (PERMISSION_DENIED, RLS_HIDES_ROWS)


class UnnamedObject(psycopg.DataError):
    """A statement about an object whose name the session's encoding cannot carry."""


def describe_error(error: psycopg.Error) -> str:
    """A short reason for a skipped part, in words a DBA expects."""
    if isinstance(error, errors.LockNotAvailable):
        return "lock timeout"
    if isinstance(error, errors.QueryCanceled):
        return "statement timeout"
    if isinstance(error, errors.InsufficientPrivilege):
        if "row-level security" in str(error):  # row_security = off (connect.py)
            return RLS_HIDES_ROWS
        return PERMISSION_DENIED
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def collect(
    connection: psycopg.Connection,
    schemas: Iterable[str] = (),
    profile: ProfileBudget | None = ProfileBudget(),
    progress: Progress | None = None,
    probes: Iterable[str] | None = None,
    analyze_queries: bool = False,
    counter: Counter | None = None,
    sibling: Opener | None = None,
) -> Snapshot:
    """`sibling`: opens another session like `connection`, to read some catalogs beside it."""
    collector = Collector(connection, progress, counter, sibling)
    return collector.run(schemas, profile, probes, analyze_queries)
