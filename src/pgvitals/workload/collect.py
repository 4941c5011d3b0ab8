"""Read the query workload: pg_stat_statements' top statements, their plans, and the
hypothetical indexes measured against them (the probes stats_extension, statements and
query_plans of snapshot/probes.py).

Safety, as for the rest of the collection: the session is read-only, every EXPLAIN runs
under a statement_timeout of its own, and only plain SELECTs are planned, so no lock
stronger than a SELECT's is taken (an UPDATE, DELETE or INSERT is planned as the SELECT
of the rows it reads). EXPLAIN ANALYZE runs only with --analyze-queries, and only a
statement that is a SELECT as written. hypopg's hypothetical indexes live in this
session's memory and are dropped after each measurement; no real index is created.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from typing import Any

import psycopg
from psycopg import errors, sql
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row

from pgvitals.snapshot import profile
from pgvitals.snapshot.model import QueryPlan, Snapshot, Statement, StatementSource, Table
from pgvitals.snapshot.uncounted import uncounted
from pgvitals.workload.statement import (
    AS_WRITTEN,
    Parsed,
    Planned,
    Resolver,
    index_candidates,
    parse_statement,
    planned_select,
)

# The table a whole-table row count read (snapshot/profile.py's query_text, exact).
OWN_ROW_SCAN = re.compile(r" FROM ONLY (.+) AS pgvitals_row$", re.DOTALL)
STATEMENT_PROBES = frozenset({"stats_extension", "statements", "query_plans"})
GENERIC_PLAN_FROM = 160000  # EXPLAIN (GENERIC_PLAN)
PREPARED = "pgvitals_plan_{}"  # numbered: a PREPARE outlives a failed transaction
# Column types whose statistics hold values that can stand for a parameter: not arrays
# (A), composites (C) or pseudo-types (P).
SCALAR_CATEGORIES = frozenset("BDEGINSTUV")

GENERIC = "generic plan"
REPRESENTATIVE = "representative parameters (pg_stats)"
NO_PARAMETERS = "no parameters"
ANALYZED = "representative parameters (pg_stats), executed with EXPLAIN ANALYZE"
FORCED_GENERIC = "generic plan (a parameter has no value in pg_stats)"
ANALYZE_STOPPED = "EXPLAIN ANALYZE stopped at the statement timeout, planned only"


@dataclass(frozen=True)
class WorkloadBudget:
    """Bounds on reading the workload; the cost follows these numbers."""

    per_ranking: int = 20  # statements kept from the top of each ranking
    planned: int = 25  # statements planned at most, heaviest (total time) first
    per_statement_ms: int = 2_000  # each statement's plan and its measurements
    total_ms: int = 30_000
    candidates_per_table: int = 4
    min_table_rows: int = 1_000  # smaller tables are read whole faster than through an index
    analyze: bool = False  # --analyze-queries


@dataclass
class Workload:
    """What the probes found, for the Snapshot, and what could not be read."""

    sources: list[StatementSource] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)
    plans: list[QueryPlan] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # parts not read
    unavailable: dict[str, str] = field(default_factory=dict)  # probes not run, and why
    queries: int = 0


def query_text(name: str) -> str:
    return resources.files("pgvitals.snapshot").joinpath(f"queries/{name}.sql").read_text()


def view_sql(name: str, schema: str, columns: list[str]) -> str:
    """queries/<name>.sql for this installation of pg_stat_statements: its schema, and
    its version's column names (the one place where they are chosen)."""
    renamed = "total_exec_time" in columns  # 1.8, PostgreSQL 13
    replacements = {
        "view": sql.Identifier(schema, "pg_stat_statements").as_string(None),
        "toplevel": "s.toplevel" if "toplevel" in columns else "NULL::bool",
        **{
            part: f"s.{part}_exec_time" if renamed else f"s.{part}_time"
            for part in ("total", "min", "max")
        },
    }
    text = query_text(name)
    for marker, expression in replacements.items():
        text = text.replace(f"@@{marker}@@", expression)
    return text


def describe_error(error: psycopg.Error) -> str:
    # imported here: snapshot.collect imports this module
    from pgvitals.snapshot.collect import describe_error as describe

    return describe(error)


class WorkloadReader:
    def __init__(
        self,
        connection: psycopg.Connection,
        snap: Snapshot,
        budget: WorkloadBudget,
        lost: Callable[[psycopg.Error], bool],
    ) -> None:
        self.connection = connection
        self.snap = snap
        self.budget = budget
        self.lost = lost
        self.result = Workload()
        self.hypopg = "not installed"

    @cached_property
    def resolver(self) -> Resolver:
        """Built only when there are statements to resolve (dicts over every column)."""
        return Resolver(self.snap)

    def _rows(self, query: str | sql.Composable, params: Any = None) -> list[dict[str, Any]]:
        self.result.queries += 1
        with self.connection.cursor(row_factory=dict_row) as cursor:
            cursor.execute(query, params)
            return cursor.fetchall()

    def run(self, wanted: Iterable[str]) -> Workload:
        wanted = frozenset(wanted) & STATEMENT_PROBES
        source = self._rows(query_text("statement_source"))[0]
        self.hypopg = "ready" if source["hypopg_schema"] else "not installed"
        status, reason = self._availability(source)
        totals: dict[str, Any] = {}
        parsed: dict[int, Parsed] = {}
        if status == "ran" and wanted & {"statements", "query_plans"}:
            try:
                with self.connection.transaction():
                    totals = self._rows(
                        view_sql("statement_totals", source["schema"], source["columns"])
                    )[0]
                    totals.update(self._info(source))
                    self.result.statements, parsed = self._statements(source)
                    totals["own_row_scans"] = self._own_row_scans(source)
            except psycopg.Error as error:
                if self.lost(error):
                    raise
                status = (
                    "permission denied"
                    if isinstance(error, errors.InsufficientPrivilege)
                    else "not loaded"
                    if isinstance(error, errors.ObjectNotInPrerequisiteState)
                    else "failed"
                )
                reason = f"pg_stat_statements could not be read: {describe_error(error)}"
        if status != "ran":
            for probe in sorted(wanted - {"stats_extension"}):
                self.result.unavailable[probe] = reason or status
        elif "query_plans" in wanted:
            # EXPLAIN ANALYZE runs the application's statements once more: not counted
            # as theirs where the session may (snapshot/uncounted.py)
            with uncounted(self.connection) if self.budget.analyze else nullcontext():
                self.result.plans = self._plans(parsed, source)
        if status == "ran" and totals.get("hidden") and not source["reads_all"]:
            self.result.skipped.append(
                {
                    "step": "statements",
                    "object": "pg_stat_statements",
                    "reason": f"{totals['hidden']:,} statements of other roles are hidden from"
                    " this role (grant it pg_read_all_stats to see them)",
                }
            )
        self.result.sources = [
            StatementSource(
                status=status,
                reason=reason,
                schema=source["schema"],
                version=source["version"],
                available=source["available"],
                loaded=source["loaded"],
                track=source["track"],
                reads_all=bool(source["reads_all"]),
                statements=totals.get("statements", 0),
                hidden=totals.get("hidden", 0),
                total_ms=totals.get("total_ms", 0.0),
                total_calls=totals.get("total_calls", 0),
                stats_reset=totals.get("stats_reset"),
                deallocations=totals.get("deallocations"),
                hypopg=self.hypopg,
                hypopg_version=source["hypopg_version"],
                own_row_scans=totals.get("own_row_scans"),
            )
        ]
        return self.result

    @staticmethod
    def _availability(source: dict[str, Any]) -> tuple[str, str | None]:
        if source["schema"] is None:
            if source["loaded"]:
                return "not installed", (
                    "the server loads pg_stat_statements, but CREATE EXTENSION"
                    " pg_stat_statements was not run in this database"
                )
            if source["available"]:
                return "not installed", (
                    "pg_stat_statements is not enabled: the server has it, but neither loads"
                    " it (shared_preload_libraries) nor has it in this database"
                )
            return "not installed", (
                "the server does not have pg_stat_statements (PostgreSQL's contrib modules)"
            )
        if not source["loaded"]:
            return "not loaded", (
                "pg_stat_statements is installed in this database, but the server does not"
                " load its library (shared_preload_libraries), so it counts nothing"
            )
        return "ran", None

    def _info(self, source: dict[str, Any]) -> dict[str, Any]:
        """Since when it counts, and how many statements it evicted (1.9+)."""
        if not source["has_info"]:
            return {}
        view = sql.Identifier(source["schema"], "pg_stat_statements_info")
        return self._rows(
            sql.SQL(
                "SELECT i.dealloc::int8 AS deallocations, pg_catalog.to_char(i.stats_reset"
                " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS stats_reset"
                " FROM {} AS i"
            ).format(view)
        )[0]

    def _own_row_scans(self, source: dict[str, Any]) -> list[tuple[int, int]]:
        """(table oid, calls) of pgvitals' own whole-table row counts that
        pg_stat_statements holds: the sequential scans earlier runs made of each table.
        A table is found by the name its count was written with, so one renamed since
        (or another role's statements hidden from this one) counts fewer, never more."""
        rows = self._rows(view_sql("own_row_scans", source["schema"], source["columns"]), {})
        by_name = {profile.relation(table): table.oid for table in self.snap.tables}
        calls: dict[int, int] = {}
        for row in rows:
            named = OWN_ROW_SCAN.search(row["query"])
            oid = by_name.get(named.group(1)) if named else None
            if oid is not None:
                calls[oid] = calls.get(oid, 0) + row["calls"]
        return sorted(calls.items())

    def _statements(self, source: dict[str, Any]) -> tuple[list[Statement], dict[int, Parsed]]:
        """The top statements that name a collected table, one per statement as the
        parser sees it, ranked again once the others (catalog queries, other schemas)
        are left out. pg_stat_statements splits one statement in several when its
        parameters were sent with different types (a driver binds small integers as
        int2, larger ones as int4): those are summed back into one."""
        rows = self._rows(
            view_sql("statements", source["schema"], source["columns"]),
            {"fetch": self.budget.per_ranking * 3},
        )
        merged: dict[str, tuple[dict[str, Any], Parsed]] = {}
        for row in rows:
            parsed = parse_statement(row["query"])
            if parsed is None or not self.resolver.reads_tables(parsed):
                continue
            if parsed.fingerprint in merged:
                merged[parsed.fingerprint] = (summed(merged[parsed.fingerprint][0], row), parsed)
            else:
                merged[parsed.fingerprint] = (row, parsed)
        kept = list(merged.values())
        rankings = {
            "total_time": lambda r: -r["total_ms"],
            "mean_time": lambda r: -r["total_ms"] / max(r["calls"], 1),
            "calls": lambda r: -r["calls"],
        }
        ranked_by: dict[str, list[str]] = {}
        for name, key in rankings.items():
            top = sorted(kept, key=lambda pair: (key(pair[0]), pair[1].fingerprint))
            for _, parsed in top[: self.budget.per_ranking]:
                ranked_by.setdefault(parsed.fingerprint, []).append(name)
        statements: list[Statement] = []
        parsed_by_id: dict[int, Parsed] = {}
        for row, parsed in kept:
            if parsed.fingerprint not in ranked_by:
                continue
            statements.append(
                Statement(
                    queryid=row["queryid"],
                    fingerprint=parsed.fingerprint,
                    query=row["query"],
                    kind=parsed.kind,
                    toplevel=row["toplevel"],
                    roles=sorted(row["roles"]),
                    calls=row["calls"],
                    total_ms=row["total_ms"],
                    mean_ms=row["total_ms"] / max(row["calls"], 1),
                    min_ms=row["min_ms"],
                    max_ms=row["max_ms"],
                    rows=row["rows"],
                    shared_blks_hit=row["shared_blks_hit"],
                    shared_blks_read=row["shared_blks_read"],
                    temp_blks_written=row["temp_blks_written"],
                    ranked_by=ranked_by[parsed.fingerprint],
                )
            )
            parsed_by_id[row["queryid"]] = parsed
        return statements, parsed_by_id

    # --- plans -----------------------------------------------------------------------

    def _plans(self, parsed: dict[int, Parsed], source: dict[str, Any]) -> list[QueryPlan]:
        heaviest = sorted(self.result.statements, key=lambda s: (-s.total_ms, s.fingerprint))
        heaviest = heaviest[: self.budget.planned]
        self.hypopg_schema = source["hypopg_schema"]
        self.version = self.snap.server.version_num
        deadline = time.monotonic() + self.budget.total_ms / 1000
        self.timeout_ms = self._timeout()
        planned = {
            s.queryid: planned_select(parsed[s.queryid], self.resolver.variables(parsed[s.queryid]))
            for s in heaviest
        }
        values = self._representative_values(
            {s.queryid: (parsed[s.queryid], planned[s.queryid]) for s in heaviest}
        )
        plans = []
        for statement in heaviest:
            if time.monotonic() > deadline:
                plans.append(
                    skipped_plan(statement, f"workload budget of {self.budget.total_ms} ms used up")
                )
                continue
            plans.append(
                self._plan(
                    statement,
                    parsed[statement.queryid],
                    planned[statement.queryid],
                    values.get(statement.queryid),
                    deadline,
                )
            )
        return plans

    def _parameter_columns(
        self, parsed: Parsed, planned: Planned
    ) -> list[tuple[Table, str] | None]:
        """Per $n of the planned SELECT: the table column it is compared with, if any."""
        compared: dict[int | str, tuple[Table, str]] = {}
        for predicate in parsed.predicates:
            table = self.resolver.predicate_table(predicate)
            if table is None:
                continue
            for number in predicate.params:
                compared.setdefault(number, (table, predicate.column))
            if predicate.other and self.resolver.is_variable(predicate):
                compared.setdefault(predicate.other, (table, predicate.column))
        return [compared.get(meaning) for meaning in planned.params]

    def _representative_values(
        self, statements: dict[int, tuple[Parsed, Planned]]
    ) -> dict[int, list[str]]:
        """Per statement whose every parameter is compared with a column that has
        statistics: a typical value of each column (the median of pg_stats' histogram,
        else its most common value), as text. Not wanted on 16+ (generic plans) unless
        EXPLAIN ANALYZE needs values. The values are used only in this session: they are
        sent as bound parameters (never in the statement's text, so no log or
        pg_stat_statements keeps them) and never kept in the snapshot."""
        if self.version >= GENERIC_PLAN_FROM and not self.budget.analyze:
            return {}
        columns_of = {
            oid: {column.name: column for column in columns}
            for oid, columns in self.snap.columns_by_table.items()
        }
        mapped: dict[int, list[tuple[Table, str]]] = {}
        for queryid, (parsed, planned) in statements.items():
            if planned.text is None or not planned.params:
                continue
            columns = self._parameter_columns(parsed, planned)
            if all(
                pair is not None
                and (column := columns_of.get(pair[0].oid, {}).get(pair[1])) is not None
                and column.type_category in SCALAR_CATEGORIES
                for pair in columns
            ):
                mapped[queryid] = columns  # type: ignore[assignment]
        wanted = sorted({(t.schema, t.name, c) for pairs in mapped.values() for t, c in pairs})
        if not wanted:
            return {}
        try:
            with self.connection.transaction():
                rows = self._rows(
                    "SELECT s.schemaname::text AS schema, s.tablename::text AS table,"
                    " s.attname::text AS column,"
                    " coalesce((s.histogram_bounds::text::text[])"
                    "[(pg_catalog.cardinality(s.histogram_bounds::text::text[]) + 1) / 2],"
                    " (s.most_common_vals::text::text[])[1]) AS value"
                    " FROM pg_catalog.pg_stats s"
                    " JOIN ROWS FROM (pg_catalog.unnest(%s::text[]), pg_catalog.unnest(%s::text[]),"
                    " pg_catalog.unnest(%s::text[])) AS w(sn, tn, cn)"
                    " ON s.schemaname = w.sn AND s.tablename = w.tn AND s.attname = w.cn"
                    " WHERE NOT s.inherited",
                    [[w[0] for w in wanted], [w[1] for w in wanted], [w[2] for w in wanted]],
                )
        except psycopg.Error as error:
            if self.lost(error):
                raise
            return {}  # the generic plan stands in
        value_of = {(r["schema"], r["table"], r["column"]): r["value"] for r in rows}
        result = {}
        for queryid, pairs in mapped.items():
            values = [value_of.get((t.schema, t.name, c)) for t, c in pairs]
            if all(value is not None for value in values):
                result[queryid] = values  # type: ignore[assignment]
        return result

    def _plan(
        self,
        statement: Statement,
        parsed: Parsed,
        planned: Planned,
        values: list[str] | None,
        deadline: float,
    ) -> QueryPlan:
        if planned.text is None:
            return QueryPlan(
                statement.queryid, statement.fingerprint, "not planned", planned.reason,
                None, None, False, None, None, None, None, [], [],
            )  # fmt: skip
        analyze = (
            self.budget.analyze
            and parsed.kind == "select"
            and planned.form == AS_WRITTEN
            and (values is not None or not planned.params)
        )
        if analyze:
            method = ANALYZED
        elif not planned.params:
            method = NO_PARAMETERS
        elif self.version >= GENERIC_PLAN_FROM:
            method, values = GENERIC, None
        elif values is not None:
            method = REPRESENTATIVE
        else:
            method = FORCED_GENERIC
        explain = Explainer(self.connection, planned.text, method, values or [], self.result)
        try:
            with self.connection.transaction():
                self.connection.execute(
                    sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(self.timeout_ms))
                )
                # connect.py turns row_security off so that rows are never counted through
                # policies; a plan is the one this role gets, its policies' conditions in it
                self.connection.execute("SET LOCAL row_security = on")
                self._search_path(parsed)
                root = None
                if analyze:
                    try:
                        with self.connection.transaction():
                            root = explain.run(analyze=True)
                    except errors.QueryCanceled:
                        # too slow to run within the budget: its plan still says much
                        analyze = False
                        method = f"{REPRESENTATIVE if values else NO_PARAMETERS}: {ANALYZE_STOPPED}"
                if root is None:
                    root = explain.run(analyze=False)
                scans = scans_of(root)
                candidates = self._candidates(parsed, scans, explain, root, deadline)
        except psycopg.Error as error:
            if self.lost(error):
                raise
            return skipped_plan(statement, f"EXPLAIN failed: {describe_error(error)}", method)
        return QueryPlan(
            statement.queryid,
            statement.fingerprint,
            "ran",
            None,
            method,
            planned.form,
            analyze,
            root.get("Total Cost"),
            root.get("Plan Rows"),
            root.get("Actual Total Time") if analyze else None,
            root.get("Actual Rows") if analyze else None,
            scans,
            candidates,
        )

    def _search_path(self, parsed: Parsed) -> None:
        """Resolve the statement's unqualified tables as the resolver did (the
        application's search_path is not ours to know): their schemas first."""
        schemas = [
            table.schema
            for relation in parsed.relations
            if relation.schema is None and (table := self.resolver.table(relation))
        ]
        if schemas:
            path = [sql.Identifier(name) for name in dict.fromkeys([*schemas, "public"])]
            self.connection.execute(
                sql.SQL("SET LOCAL search_path = {}").format(sql.SQL(", ").join(path))
            )

    def _timeout(self) -> int:
        """This statement's limit: the per-statement budget, lowered by the session's."""
        session = self._rows(
            "SELECT setting::int8 AS ms FROM pg_catalog.pg_settings"
            " WHERE name = 'statement_timeout'"
        )[0]["ms"]
        per_statement = self.budget.per_statement_ms
        return min(per_statement, session) if session > 0 else per_statement

    def _candidates(
        self,
        parsed: Parsed,
        scans: list[dict[str, Any]],
        explain: Explainer,
        root: dict[str, Any],
        deadline: float,
    ) -> list[dict[str, Any]]:
        """Indexes worth trying for the tables the plan reads without a fitting index
        (sequential scans, and index scans that still filter), measured with hypopg. A
        partition's scan counts for the partitioned tables above it too: the statement
        names those, the plan the partitions (hypopg indexes a partitioned table)."""
        hints = {scan["alias"]: scan["schema"] for scan in scans if scan.get("schema")}
        facts = self.snap.facts
        targets: dict[int, Table] = {}
        for scan in scans:
            if scan["table"] is None or not (scan["node"] == "Seq Scan" or scan["filtered"]):
                continue
            table = self.resolver.qualified.get((scan["schema"], scan["table"]))
            for read in [table, *facts.ancestors(table)] if table is not None else []:
                if facts.rows(read) >= self.budget.min_table_rows:
                    targets[read.oid] = read
        by_table: dict[int, list[Any]] = {}
        for predicate in parsed.predicates:
            table = self.resolver.predicate_table(predicate, hints)
            if table is not None and table.oid in targets:
                by_table.setdefault(table.oid, []).append(predicate)
        found: list[dict[str, Any]] = []
        for oid, predicates in by_table.items():
            table = targets[oid]
            shapes = [
                columns
                for columns in index_candidates(
                    predicates,
                    self.budget.candidates_per_table,
                    lambda p: self.resolver.valued(p, hints),
                )
                if not served(self.snap, table, columns)
            ]
            for columns in shapes:
                candidate = {
                    "schema": table.schema,
                    "table": table.name,
                    "columns": list(columns),
                    "status": "not measured",
                    "reason": None,
                    "cost_before": root.get("Total Cost"),
                    "cost_after": None,
                    "used": False,
                    "estimated_bytes": None,
                }
                if self.hypopg != "ready":
                    candidate["reason"] = f"hypopg is {self.hypopg} in this database"
                elif time.monotonic() > deadline:
                    candidate["reason"] = "workload budget used up"
                else:
                    self._measure(candidate, table, columns, explain)
                found.append(candidate)
        return found

    def _measure(
        self, candidate: dict[str, Any], table: Table, columns: tuple[str, ...], explain: Explainer
    ) -> None:
        """The planner's cost with a hypothetical index on `columns` (hypopg: it exists
        only in this session's memory, and is dropped right after)."""
        hypopg = self.hypopg_schema
        statement = sql.SQL("CREATE INDEX ON {} ({})").format(
            sql.Identifier(table.schema, table.name),
            sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        )
        try:
            with self.connection.transaction():
                created = self._rows(
                    sql.SQL(
                        "SELECT indexrelid::int8 AS oid, indexname::text AS name FROM {}(%s)"
                    ).format(sql.Identifier(hypopg, "hypopg_create_index")),
                    [statement.as_string(self.connection)],
                )[0]
        except psycopg.Error as error:
            if self.lost(error):
                raise
            # hypopg cannot be used here: say why once, and measure nothing more
            self.hypopg = f"not usable: {describe_error(error)}"
            candidate["reason"] = f"hypopg is {self.hypopg}"
            return
        try:
            with self.connection.transaction():
                root = explain.run(analyze=False)
                size = self._rows(
                    sql.SQL("SELECT {}(%s::oid)::int8 AS bytes").format(
                        sql.Identifier(hypopg, "hypopg_relation_size")
                    ),
                    [created["oid"]],
                )[0]["bytes"]
            used = any(created["name"] in (scan.get("indexes") or []) for scan in scans_of(root))
            candidate.update(
                status="measured",
                cost_after=root.get("Total Cost"),
                used=used,
                estimated_bytes=size,
            )
        except psycopg.Error as error:
            if self.lost(error):
                raise
            candidate.update(status="failed", reason=describe_error(error))
        finally:
            with self.connection.transaction():
                self._rows(
                    sql.SQL("SELECT {}(%s::oid) AS dropped").format(
                        sql.Identifier(hypopg, "hypopg_drop_index")
                    ),
                    [created["oid"]],
                )


def summed(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Two entries of one statement as one: counters added, extremes kept, the text and
    queryid of the one called more often."""
    main = (
        first
        if (first["calls"], -first["queryid"]) >= (second["calls"], -second["queryid"])
        else second
    )
    total = {
        key: first[key] + second[key]
        for key in (
            "calls",
            "total_ms",
            "rows",
            "shared_blks_hit",
            "shared_blks_read",
            "temp_blks_written",
        )
    }
    return {
        **main,
        **total,
        "toplevel": first["toplevel"] or second["toplevel"],
        "roles": sorted(set(first["roles"]) | set(second["roles"])),
        "min_ms": min(first["min_ms"], second["min_ms"]),
        "max_ms": max(first["max_ms"], second["max_ms"]),
    }


def skipped_plan(statement: Statement, reason: str, method: str | None = None) -> QueryPlan:
    return QueryPlan(
        statement.queryid, statement.fingerprint, "skipped", reason,
        method, None, False, None, None, None, None, [], [],
    )  # fmt: skip


def served(snap: Snapshot, table: Table, columns: tuple[str, ...]) -> bool:
    """Does a valid, complete btree index already lead with these columns?"""
    wanted = set(columns)
    return any(
        index.is_valid
        and not index.is_partial
        and index.method == "btree"
        and set(index.key_columns[: len(columns)]) == wanted
        for index in snap.indexes_by_table.get(table.oid, [])
    )


class Explainer:
    """EXPLAIN of one planned SELECT, the same way each time (so that the costs with
    and without a hypothetical index compare)."""

    def __init__(
        self,
        connection: psycopg.Connection,
        text: str,
        method: str,
        values: list[str],
        result: Workload,
    ) -> None:
        self.connection = connection
        self.text = text
        self.method = method
        self.values = values
        self.result = result

    def run(self, analyze: bool) -> dict[str, Any]:
        """The plan's root node. Every statement runs in the caller's transaction."""
        self.result.queries += 1
        options = "FORMAT JSON, VERBOSE" + (", ANALYZE" if analyze else "")
        if self.method == GENERIC:
            return self._first(f"EXPLAIN ({options}, GENERIC_PLAN) {self.text}")
        if self.method == FORCED_GENERIC:
            return self._forced_generic(options)
        # the statement's own $1, $2 ... stay: the values are bound, as a driver binds them
        with psycopg.RawCursor(self.connection) as cursor:
            cursor.execute(f"EXPLAIN ({options}) {self.text}", self.values or None)
            return plan_root(cursor.fetchone())

    def _first(self, statement: str) -> dict[str, Any]:
        with self.connection.cursor() as cursor:
            cursor.execute(statement)  # no parameters: the text is sent as it is
            return plan_root(cursor.fetchone())

    def _forced_generic(self, options: str) -> dict[str, Any]:
        """Before PostgreSQL 16, a generic plan is a prepared statement's, forced."""
        name = PREPARED.format(self.result.queries)
        with self.connection.cursor() as cursor:
            cursor.execute(f"PREPARE {name} AS {self.text}")
            try:
                cursor.execute(
                    "SELECT pg_catalog.cardinality(parameter_types) AS n"
                    " FROM pg_catalog.pg_prepared_statements WHERE name = %s",
                    [name],
                )
                row = cursor.fetchone()
                count = row[0] if row else 0
                cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
                arguments = ", ".join(["NULL"] * count)
                cursor.execute(
                    f"EXPLAIN ({options}) EXECUTE {name}" + (f"({arguments})" if count else "")
                )
                return plan_root(cursor.fetchone())
            finally:
                # an aborted transaction runs nothing: the session ends soon anyway
                if self.connection.info.transaction_status == TransactionStatus.INTRANS:
                    cursor.execute(f"DEALLOCATE {name}")


def plan_root(row: Any) -> dict[str, Any]:
    document = row[0]
    return document[0]["Plan"] if isinstance(document, list) else document["Plan"]


def scans_of(root: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node of the plan that reads a relation or an index, in plan order. A bitmap
    heap scan carries the indexes of the bitmap index scans below it."""
    found: list[dict[str, Any]] = []

    def indexes_below(node: dict[str, Any]) -> list[str]:
        names = [node["Index Name"]] if "Index Name" in node else []
        for child in node.get("Plans", []):
            names += indexes_below(child)
        return names

    def visit(node: dict[str, Any]) -> None:
        if "Relation Name" in node:
            indexes = indexes_below(node)
            found.append(
                {
                    "node": node["Node Type"],
                    "schema": node.get("Schema"),
                    "table": node["Relation Name"],
                    "alias": node.get("Alias"),
                    "indexes": indexes,
                    "filtered": "Filter" in node,
                    "plan_rows": node.get("Plan Rows"),
                }
            )
        for child in node.get("Plans", []):
            visit(child)

    visit(root)
    return found
