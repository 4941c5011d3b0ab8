"""Workload rules: what pg_stat_statements says about the queries that run, and which
index the planner says would help them (measured with hypothetical indexes)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pgvitals import fixes
from pgvitals.findings import Fix, Located
from pgvitals.fmt import human_bytes
from pgvitals.rules._api import (
    HIGH,
    INFO,
    LOW,
    MEDIUM,
    WORKLOAD,
    Draft,
    NoOptions,
    finding,
    option,
    rule,
)
from pgvitals.snapshot.model import QueryPlan, Snapshot, Statement, StatementSource, Table
from pgvitals.workload.statement import (
    EQUALITY,
    Resolver,
    foreign_key_statement,
    parse_statement,
    shortened,
)

EXTENSION = Located("extension", ("pg_stat_statements",), "pg_stat_statements")


def located(statement: Statement) -> Located:
    """A statement, by its fingerprint (the same in every run and database)."""
    return Located("statement", (statement.fingerprint,), shortened(statement.query))


def source_of(snap: Snapshot) -> StatementSource | None:
    return snap.statement_sources[0] if snap.statement_sources else None


def plans_by_statement(snap: Snapshot) -> dict[str, QueryPlan]:
    return {plan.fingerprint: plan for plan in snap.query_plans}


def share_of_time(snap: Snapshot, statement: Statement) -> float | None:
    """The statement's part of the time this database's top-level statements took."""
    source = source_of(snap)
    if source is None or source.total_ms <= 0:
        return None
    return round(min(statement.total_ms / source.total_ms, 1.0), 4)


def timing(snap: Snapshot, statement: Statement) -> dict[str, Any]:
    """The evidence every statement finding carries."""
    plan = snap.facts.shared(plans_by_statement).get(statement.fingerprint)
    evidence: dict[str, Any] = {
        "query": statement.query,
        "calls": statement.calls,
        "mean_ms": round(statement.mean_ms, 3),
        "total_ms": round(statement.total_ms, 1),
        "max_ms": round(statement.max_ms, 3),
        "rows_per_call": round(statement.rows_per_call, 2),
        "share_of_total_time": share_of_time(snap, statement),
        "roles": statement.roles,
    }
    if plan is not None and plan.status == "ran":
        evidence["sequential_scans"] = sorted(
            {f"{s['schema']}.{s['table']}" for s in plan.scans if s["node"] == "Seq Scan"}
        )
        evidence["plan_cost"] = plan.total_cost
    return evidence


def counting_since(snap: Snapshot) -> str:
    source = source_of(snap)
    if source is not None and source.stats_reset:
        return f"since pg_stat_statements was reset at {source.stats_reset}"
    return "since pg_stat_statements was last reset"


# --- the extension -------------------------------------------------------------------


@rule(
    "stats-extension-missing",
    category=WORKLOAD,
    severity=INFO,
    title="pg_stat_statements is not enabled: the query workload cannot be assessed",
    uses_statistics=True,
    needs=("stats_extension",),
)
def stats_extension_missing(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """Without pg_stat_statements nothing records which statements run, how often and how
    long they take.

    ## Why it breaks
    The slowest statement, the one that takes most of the server's time, a query run
    once per row of another (N+1) and the index that would help them are all
    invisible: the statistics views count scans per table, not per statement. The
    workload rules (`slow-query`, `top-time-query`, `n-plus-one-suspect`,
    `missing-index-for-query`) are reported as not run. The extension costs little (a
    hash table in shared memory, by default 5,000 statements) and is enabled by
    default on most managed services (RDS, Cloud SQL, Supabase, Neon).

    ## Fix
    Add `pg_stat_statements` to `shared_preload_libraries` (postgresql.conf, or the
    service's parameter group) and restart the server; then run
    `CREATE EXTENSION pg_stat_statements;` in this database (as a superuser or the
    platform's administrator role). Where the server already loads it, only the
    CREATE EXTENSION is missing. pgvitals writes no fix for it: the extension's schema
    is the administrator's choice (created in `public` it would be extension-in-public's
    next finding). Where the server does not have it at all, install PostgreSQL's
    contrib package (`postgresql-contrib`). To also measure index advice, install
    `hypopg` the same way (CREATE EXTENSION only, no preload).
    """
    source = source_of(snap)
    if source is None or source.status not in ("not installed", "not loaded"):
        return
    evidence: dict[str, Any] = {
        "status": source.status,
        "available_on_server": source.available,
        "loaded_by_server": source.loaded,
        "installed_in_schema": source.schema,
        "shared_preload_libraries": snap.server.settings.get("shared_preload_libraries"),
    }
    if source.status == "not loaded":
        steps = "add pg_stat_statements to shared_preload_libraries and restart the server"
    elif source.loaded:
        steps = "run CREATE EXTENSION pg_stat_statements in this database"
    elif source.available:
        steps = (
            "add pg_stat_statements to shared_preload_libraries, restart the server, then"
            " run CREATE EXTENSION pg_stat_statements in this database"
        )
    else:
        steps = (
            "install PostgreSQL's contrib package on the server, add pg_stat_statements to"
            " shared_preload_libraries, restart, then run CREATE EXTENSION pg_stat_statements"
        )
    evidence["to_enable"] = steps
    yield finding(EXTENSION, f"{source.reason}: to enable it, {steps}", evidence=evidence)


# --- statements ----------------------------------------------------------------------


@dataclass(frozen=True)
class SlowQueryOptions:
    min_mean_ms: float = option(250.0, "mean execution time (ms) from which to report")
    min_calls: int = option(3, "statements run fewer times than this are one-offs: ignored")
    high_mean_ms: float = option(5_000.0, "mean execution time (ms) from which it is high")


@rule(
    "slow-query",
    category=WORKLOAD,
    severity=MEDIUM,
    title="Statement is slow on average",
    options=SlowQueryOptions,
    uses_statistics=True,
    needs=("statements",),
)
def slow_query(snap: Snapshot, opts: SlowQueryOptions) -> Iterator[Draft]:
    """A statement whose mean execution time (pg_stat_statements) is over the threshold.

    ## Why it breaks
    Every call holds a connection, its locks and its snapshot for that long: a pool
    of 20 connections serves at most 20 such calls at once, and the rest queue. A
    long snapshot also holds back VACUUM's cleanup across the whole database. The
    mean hides spikes (see `max_ms`) but is what users wait for on average.

    ## Fix
    Look at the statement's plan (`EXPLAIN (ANALYZE, BUFFERS)` on a copy, or the
    plan in the report's query patterns): a sequential scan over a large table
    filtered down to a few rows wants an index (see `missing-index-for-query`); a
    sort or hash that spills (`temp_blks_written`) wants work_mem or a narrower
    query; many rows returned per call may be more than the caller needs.
    """
    for statement in snap.statements:
        if statement.calls < opts.min_calls or statement.mean_ms < opts.min_mean_ms:
            continue
        evidence = timing(snap, statement)
        evidence["temp_blks_written"] = statement.temp_blks_written
        yield finding(
            located(statement),
            f"Takes {statement.mean_ms:,.1f} ms on average over {statement.calls:,} calls"
            f" ({counting_since(snap)})",
            evidence=evidence,
            severity=HIGH if statement.mean_ms >= opts.high_mean_ms else None,
        )


@dataclass(frozen=True)
class TopTimeOptions:
    min_share: float = option(0.2, "share of the database's statement time from which to report")
    min_total_ms: float = option(1_000.0, "statements that took less time in all are ignored")


@rule(
    "top-time-query",
    category=WORKLOAD,
    severity=LOW,
    title="Statement takes a large share of the database's time",
    options=TopTimeOptions,
    uses_statistics=True,
    needs=("statements",),
)
def top_time_query(snap: Snapshot, opts: TopTimeOptions) -> Iterator[Draft]:
    """One statement accounts for a large share of the time this database spent
    executing statements (pg_stat_statements, top-level statements).

    ## Why it breaks
    Nothing breaks by itself: this is where tuning pays. Making this one statement
    twice as fast frees more server time than fixing many others together, whether
    it is slow (see `slow-query`) or merely called very often (see
    `n-plus-one-suspect`).

    ## Fix
    Read its plan and its calls: an index (see `missing-index-for-query`), fewer
    calls (batching, caching in the application), or less work per call.
    """
    for statement in snap.statements:
        share = share_of_time(snap, statement)
        if share is None or share < opts.min_share or statement.total_ms < opts.min_total_ms:
            continue
        yield finding(
            located(statement),
            f"Took {share:.0%} of the time spent executing statements in this database"
            f" ({statement.total_ms / 1000:,.1f} s over {statement.calls:,} calls,"
            f" {counting_since(snap)})",
            evidence=timing(snap, statement),
        )


@dataclass(frozen=True)
class NPlusOneOptions:
    min_calls: int = option(1_000, "calls from which a keyed statement is suspect")
    max_rows_per_call: float = option(
        10.0, "rows per call at most, unless its driving statement is found"
    )


@dataclass(frozen=True)
class Key:
    table: Table
    columns: tuple[str, ...]
    kind: str  # primary key, unique key, foreign key, column
    references: str | None  # the table a foreign key references
    referenced_columns: tuple[str, ...] = ()


def key_of(snap: Snapshot, resolver: Resolver, statement: Statement) -> Key | None:
    """The table and columns a SELECT fetches by, compared with parameters by equality."""
    parsed = parse_statement(statement.query)
    if parsed is None or parsed.kind != "select" or foreign_key_statement(statement.query):
        return None
    by_table: dict[int, list[str]] = {}
    tables: dict[int, Table] = {}
    for predicate in parsed.predicates:
        if predicate.kind != EQUALITY or not resolver.valued(predicate):
            continue
        table = resolver.predicate_table(predicate)
        if table is not None:
            tables[table.oid] = table
            columns = by_table.setdefault(table.oid, [])
            if predicate.column not in columns:
                columns.append(predicate.column)
    if not by_table:
        return None
    oid, columns = next(iter(by_table.items()))
    table = tables[oid]
    wanted = set(columns)
    for constraint in snap.constraints_by_table.get(oid, []):
        if constraint.kind in ("p", "u") and set(constraint.columns) <= wanted:
            kind = "primary key" if constraint.kind == "p" else "unique key"
            return Key(table, tuple(columns), kind, None)
    for constraint in snap.constraints_by_table.get(oid, []):
        if constraint.kind == "f" and set(constraint.columns) == wanted:
            referenced = f"{constraint.ref_schema}.{constraint.ref_table}"
            return Key(
                table, tuple(columns), "foreign key", referenced, tuple(constraint.ref_columns)
            )
    return Key(table, tuple(columns), "column", None)


def driver_of(snap: Snapshot, resolver: Resolver, suspect: Statement, key: Key) -> Statement | None:
    """Another SELECT, run at most a tenth as often, that returned at least half as many
    rows as the suspect was called, reading the keys a loop would iterate over: the
    referenced table's key (a foreign key), or the referencing columns of a table that
    references this one (a primary key)."""
    # table -> the key columns a driver may read: one set per reference, as a driver
    # iterates one of them (film.language_id, not also film.original_language_id)
    wanted: dict[str, list[set[str]]] = {}
    if key.kind == "foreign key" and key.references:
        wanted[key.references] = [set(key.referenced_columns)]
    elif key.kind in ("primary key", "unique key"):
        for fk in snap.constraints:
            if fk.kind == "f" and fk.ref_table_oid == key.table.oid:
                wanted.setdefault(f"{fk.schema}.{fk.table}", []).append(set(fk.columns))
    else:
        return None
    # the likeliest driver returned about one row per call of the loop
    for other in sorted(
        snap.statements, key=lambda s: (abs(s.rows - suspect.calls), s.fingerprint)
    ):
        if (
            other.fingerprint == suspect.fingerprint
            or other.rows * 2 < suspect.calls
            or other.calls * 10 > suspect.calls  # a driver runs far less often than its loop
            or foreign_key_statement(other.query)
        ):
            continue
        parsed = parse_statement(other.query)
        if parsed is None or parsed.kind != "select":
            continue
        for relation in parsed.relations:
            table = resolver.table(relation)
            references = wanted.get(table.qualname, []) if table is not None else []
            if any(columns <= parsed.columns or "*" in parsed.columns for columns in references):
                return other
    return None


@rule(
    "n-plus-one-suspect",
    category=WORKLOAD,
    severity=INFO,
    title="Statement looks like a query run in a loop (N+1)",
    options=NPlusOneOptions,
    uses_statistics=True,
    needs=("statements",),
)
def n_plus_one_suspect(snap: Snapshot, opts: NPlusOneOptions) -> Iterator[Draft]:
    """A SELECT that fetches rows by key and is called very many times: the signature
    of an application loop that runs one query per item (N+1).

    Medium when another statement returned about as many rows as this one was called,
    from the table such a loop iterates (the parents of a foreign key, or the
    children of a primary key): the loop's driving query. Then the lookup may return
    any number of rows per call (each order's lines). Without such a statement it is
    info, and only for a few rows per call: a hot lookup by key is as often one per
    request (the session's user, a bank transaction's account) as a loop, and
    pg_stat_statements cannot tell the two apart.

    ## Why it breaks
    Each call pays a network round trip, parsing, planning and executor start-up,
    often more than the lookup itself: a page that lists 50 orders and fetches each
    one's lines separately makes 51 round trips where 2 would do, and the cost grows
    with the data. Connection pools fill with short busy connections, and latency
    adds up in the application even though every single call looks fast.

    ## Fix
    Fetch the rows for all keys at once: `WHERE key = ANY($1)` with an array of keys,
    a JOIN with the driving query, or the ORM's eager loading (`select_related` /
    `prefetch_related`, `includes`, `JOIN FETCH`, `with`). Make sure the key has an
    index (see `unindexed-foreign-key` and `missing-index-for-query`).

    ## Silence
    A lookup that is genuinely one per request (the session's user, a feature flag)
    is not a loop: excuse it in the config by its statement.
    """
    for statement in snap.statements:
        if statement.calls < opts.min_calls:
            continue
        resolver = snap.facts.shared(Resolver)  # built once, and only when needed
        key = key_of(snap, resolver, statement)
        if key is None:
            continue
        driver = driver_of(snap, resolver, statement, key)
        if driver is None and statement.rows_per_call > opts.max_rows_per_call:
            continue
        evidence = timing(snap, statement)
        evidence.update(
            table=key.table.qualname,
            key_columns=list(key.columns),
            key_kind=key.kind,
        )
        if key.references:
            evidence["references"] = key.references
        fetching = (
            f"Called {statement.calls:,} times, {statement.rows_per_call:,.1f} rows per call,"
            f" fetching {key.table.qualname} by {key.kind} ({', '.join(key.columns)})"
        )
        if driver is not None:
            evidence["driving_statement"] = shortened(driver.query)
            evidence["driving_rows"] = driver.rows
            evidence["driving_calls"] = driver.calls
            message = (
                f"{fetching}, about once per row another statement returned"
                f" ({driver.rows:,} rows in {driver.calls:,} calls): a query in a loop (N+1)."
                " Fetch all keys at once (= ANY($1), a JOIN, eager loading)"
            )
        else:
            message = (
                f"{fetching}; no statement was seen returning the keys a loop would iterate:"
                " one lookup per request, or a loop? If a loop, fetch all keys at once"
                " (= ANY($1), a JOIN, eager loading)"
            )
        yield finding(
            located(statement),
            message,
            evidence=evidence,
            severity=MEDIUM if driver is not None else None,
        )


# --- index advice --------------------------------------------------------------------


@dataclass(frozen=True)
class MissingIndexOptions:
    min_cost_reduction: float = option(
        0.5, "the planner's cost must drop by at least this share with the index"
    )
    min_share: float = option(
        0.01, "share of the database's statement time the statements it helps must take"
    )
    high_share: float = option(
        0.2, "share of the database's statement time the statements take from which it is high"
    )
    min_table_rows: int = option(
        10_000, "without hypopg (not measured): tables smaller than this are left alone"
    )
    max_selectivity: float = option(
        0.05, "without hypopg: the scan must keep at most this share of the table's rows"
    )


@dataclass
class Advice:
    table: Table
    columns: tuple[str, ...]
    measured: bool
    statements: list[dict[str, Any]]
    estimated_bytes: int | None = None


def best_candidate(
    snap: Snapshot, plan: QueryPlan, opts: MissingIndexOptions
) -> list[tuple[Table, dict[str, Any]]]:
    """Per table: the hypothetical index that lowered this plan's cost most, if it did
    so by at least `min_cost_reduction` and the planner used it; without measurements,
    the first candidate for a selective sequential scan of a large table."""
    tables = {(t.schema, t.name): t for t in snap.tables}
    by_table: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for candidate in plan.candidates:
        by_table.setdefault((candidate["schema"], candidate["table"]), []).append(candidate)
    chosen = []
    for key, candidates in by_table.items():
        table = tables.get(key)
        if table is None:
            continue
        measured = [
            c
            for c in candidates
            if c["status"] == "measured"
            and c["used"]
            and c["cost_before"]
            and c["cost_after"] is not None
            and c["cost_after"] <= c["cost_before"] * (1 - opts.min_cost_reduction)
        ]
        if measured:
            chosen.append(
                (table, min(measured, key=lambda c: (c["cost_after"], len(c["columns"]))))
            )
        elif not any(c["status"] == "measured" for c in candidates) and selective_scan(
            snap, plan, table, opts
        ):
            chosen.append((table, candidates[0]))
    return chosen


def selective_scan(
    snap: Snapshot, plan: QueryPlan, table: Table, opts: MissingIndexOptions
) -> bool:
    rows = snap.facts.rows(table)
    if rows < opts.min_table_rows:
        return False
    return any(
        scan["node"] == "Seq Scan"
        and scan["schema"] == table.schema
        and scan["table"] == table.name
        and (scan["plan_rows"] or 0) <= rows * opts.max_selectivity
        for scan in plan.scans
    )


def advice(snap: Snapshot, opts: MissingIndexOptions) -> list[Advice]:
    """One piece of advice per index, with every statement it helps; an index whose
    columns lead another advised index on the same table is folded into that one (a
    btree on (a, b) serves lookups on a)."""
    statements = {s.fingerprint: s for s in snap.statements}
    found: dict[tuple[int, tuple[str, ...]], Advice] = {}
    for plan in snap.query_plans:
        statement = statements.get(plan.fingerprint)
        if plan.status != "ran" or statement is None:
            continue
        for table, candidate in best_candidate(snap, plan, opts):
            columns = tuple(candidate["columns"])
            measured = candidate["status"] == "measured"
            item = found.setdefault((table.oid, columns), Advice(table, columns, measured, []))
            item.estimated_bytes = candidate["estimated_bytes"] or item.estimated_bytes
            item.statements.append(
                {
                    "statement": shortened(statement.query),
                    "fingerprint": statement.fingerprint,
                    "calls": statement.calls,
                    "total_ms": round(statement.total_ms, 1),
                    "cost_before": candidate["cost_before"],
                    "cost_after": candidate["cost_after"],
                    "measured_with": list(columns),
                    "plan": plan.method,
                }
            )
    kept = sorted(found.values(), key=lambda a: -len(a.columns))
    result: list[Advice] = []
    for item in kept:
        wider = next(
            (
                other
                for other in result
                if other.table.oid == item.table.oid
                and other.columns[: len(item.columns)] == item.columns
                and other.measured == item.measured
            ),
            None,
        )
        if wider is None:
            result.append(item)
        else:
            wider.statements += item.statements
    return sorted(result, key=lambda a: (a.table.schema, a.table.name, a.columns))


@rule(
    "missing-index-for-query",
    category=WORKLOAD,
    severity=MEDIUM,
    title="An index would make the planner's cost of a statement much lower",
    options=MissingIndexOptions,
    uses_statistics=True,
    needs=("statements", "query_plans"),
)
def missing_index_for_query(snap: Snapshot, opts: MissingIndexOptions) -> Iterator[Draft]:
    """A heavy statement reads a table without a fitting index, and the planner says an
    index on the columns it filters by would lower its cost materially.

    The statements are the heaviest of pg_stat_statements; their plans are EXPLAIN's
    (a generic plan on PostgreSQL 16+, else with typical values from pg_stats, never
    executed unless `--analyze-queries`). Candidate indexes come from the columns the
    statement compares by equality and range (read with PostgreSQL's parser). Where
    hypopg is installed in the database, each candidate is measured as a hypothetical
    index (in the session's memory only: nothing is created) and kept only when the
    planner uses it and its cost drops by `min_cost_reduction`; the report gives the
    cost before and after and the index's estimated size. Without hypopg the advice is
    not measured, and low: a selective sequential scan of a large table.

    Left out when the statements it helps take less than `min_share` of the
    database's statement time; high when they take at least `high_share`.

    ## Why it breaks
    Without an index, each call reads the whole table to keep a few rows: the cost
    grows with the table, not with the answer, competes for the cache with everything
    else, and multiplies with the number of calls.

    ## Fix
    `CREATE INDEX CONCURRENTLY` on the advised columns (it does not block writes).
    Check the write cost first on a write-heavy table: every index slows INSERTs and
    non-HOT UPDATEs. A planner's cost is an estimate: confirm with `EXPLAIN ANALYZE`
    on a copy before and after.
    """
    source = source_of(snap)
    total_ms = source.total_ms if source else 0.0
    for item in advice(snap, opts):
        own = [s for s in item.statements if tuple(s["measured_with"]) == item.columns]
        folded = [s for s in item.statements if tuple(s["measured_with"]) != item.columns]
        heaviest = max(own, key=lambda s: s["total_ms"])
        time_ms = sum(s["total_ms"] for s in item.statements)
        share = round(time_ms / total_ms, 4) if total_ms > 0 else None
        if share is not None and share < opts.min_share:
            continue  # an index for statements that hardly take any time costs more
        columns = ", ".join(item.columns)
        evidence: dict[str, Any] = {
            "columns": list(item.columns),
            "table_rows": snap.facts.rows(item.table),
            "measured": item.measured,
            "cost_before": heaviest["cost_before"],
            "cost_after": heaviest["cost_after"],
            "estimated_bytes": item.estimated_bytes,
            "statements": item.statements,
            "share_of_total_time": share,
        }
        if item.measured:
            drop = 1 - heaviest["cost_after"] / heaviest["cost_before"]
            evidence["cost_reduction"] = round(drop, 4)
            message = (
                f"An index on {item.table.qualname} ({columns}) lowers the planner's cost of"
                f" {heaviest['statement']} from {heaviest['cost_before']:,.1f} to"
                f" {heaviest['cost_after']:,.1f} (-{drop:.0%})"
            )
            if item.estimated_bytes:
                message += f"; it would take about {human_bytes(item.estimated_bytes)}"
            severity = HIGH if share is not None and share >= opts.high_share else None
        else:
            evidence["not_measured_because"] = (
                f"hypopg is {source.hypopg if source else 'not installed'} in this database"
            )
            message = (
                f"{heaviest['statement']} reads {item.table.qualname} sequentially to keep few"
                f" rows; an index on ({columns}) may help (not measured: install hypopg)"
            )
            severity = LOW
        others = len(own) - 1
        if others:
            message += f"; it helps {others} more statement{'s' if others > 1 else ''}"
        for other in folded:
            narrower = ", ".join(other["measured_with"])
            message += (
                f"; its leading columns also serve {other['statement']}, whose cost an index"
                f" on ({narrower}) lowers from {other['cost_before']:,.1f} to"
                f" {other['cost_after']:,.1f}"
                if item.measured
                else f"; its leading columns also serve {other['statement']}"
            )
        yield finding(
            Located(
                "index",
                (item.table.schema, item.table.name, f"({columns})"),
                f"{item.table.qualname} ({columns})",
            ),
            message,
            evidence=evidence,
            fix=index_fix(snap, item.table, item.columns),
            severity=severity,
        )


def index_fix(snap: Snapshot, table: Table, columns: tuple[str, ...]) -> Fix:
    """The index on its own; or, where a reference's fix builds one on the same columns
    (an unindexed foreign key, an inferred reference), as that fix writes it: the same
    name, and IF NOT EXISTS where that one has it, so that fix.sql writes it once or
    skips the second (pagila's payment.customer_id failed as "already exists")."""
    if columns not in snap.facts.unindexed_references.get(table.oid, []):
        return fixes.create_index(snap, table, columns)
    declared = any(
        fk.kind == "f" and tuple(fk.columns) == columns
        for fk in snap.constraints_by_table.get(table.oid, [])
    )
    return fixes.reference_index(snap, table, columns, if_not_exists=not declared)
