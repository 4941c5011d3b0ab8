"""The report object: everything a renderer prints, computed once from an Analysis.

Renderers (render/*.py) lay this out and compute no verdicts. The JSON report
carries all of it (`Report.to_json`), so any format can be rendered again from a
saved report, and two reports can be compared, without the database.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import operator
import types
import typing
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pgvitals import __version__, ruledocs
from pgvitals.engine import REVIEW, Analysis, Check, NotAssessed
from pgvitals.findings import (
    CATEGORIES,
    SEVERITIES,
    Finding,
    Risk,
    Severity,
    severity_rank,
    worst,
)
from pgvitals.fixes import one_line, search_path_value, text
from pgvitals.fmt import plural, short_time
from pgvitals.rules import REGISTRY
from pgvitals.rules._api import ROWS_REQUIRED
from pgvitals.snapshot.facts import SHIPPED_MIGRATIONS, Reference, RlsCoverage
from pgvitals.snapshot.model import (
    CHECK_INSTEAD,
    STATEMENTS_NOT_CHECKED,
    ColumnProfile,
    Constraint,
    Index,
    ServerInfo,
    Snapshot,
    Table,
)
from pgvitals.snapshot.probes import COLUMN_PROBES
from pgvitals.snapshot.profile import digests, protected
from pgvitals.snapshot.window import StatisticsWindow, statistics_window
from pgvitals.verification import Verification
from pgvitals.workload.patterns import QueryPatterns, query_patterns

REPORT_FORMAT = "pgvitals-report/1"
RED, AMBER, GREEN, NOT_CHECKED = "red", "amber", "green", "not checked"
NOT_ENOUGH_HISTORY = "not enough history"
CRITICAL, HIGH, MEDIUM, LOW, INFO = SEVERITIES

# Tables that hold rows (or are the root of a partition tree), as the JSON report counts them.
COUNTED_KINDS = ("r", "p")
# Relations whose reltuples are their own rows (a partitioned root has none of its own).
ROW_KINDS = ("r", "m")

# The rules that fill the "missing elements" section, by element (SPEC §6).
MISSING_ELEMENT_RULES = {
    "Documentation": ("missing-comments",),
    "Migration history": ("no-migration-history",),
    "Row-level security": ("rls-disabled",),
    "Partitioning": ("partition-coverage", "partitioning-candidate"),
    "Constraints": ("missing-primary-key", "missing-foreign-key", "status-without-check"),
}


def known_sum(values: Iterable[int | None]) -> int | None:
    """The sum, or None when any part is unknown (a partial sum would mislead)."""
    known = list(values)  # looked through and summed in C: 10,000s of tables ask
    return None if None in known else sum(known)  # type: ignore[arg-type]


# --- summary -------------------------------------------------------------------------


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Every severity, worst first, with its number of findings (0 included)."""
    counts = dict.fromkeys(SEVERITIES, 0)
    for item in findings:
        counts[item.severity.value] += 1
    return counts


@dataclass(frozen=True)
class Inventory:
    database: str
    server_version: str
    collected_at: str
    schemas: int
    tables: int
    rows_estimate: int
    findings_by_severity: dict[str, int]
    findings: int
    excused: int
    mode: str
    # the migration tools whose history tables are here: "Prisma (public._prisma_migrations)",
    # and those a review knew by its files: "Prisma (the reviewed migrations)"
    migrations: list[str] = dataclasses.field(default_factory=list)


def inventory(analysis: Analysis) -> Inventory:
    snap = analysis.snapshot
    counts = severity_counts(analysis.findings)
    return Inventory(
        database=snap.server.database,
        server_version=snap.server.version,
        collected_at=snap.server.collected_at,
        schemas=len(snap.schemas),
        tables=sum(1 for t in snap.tables if t.kind in COUNTED_KINDS),
        rows_estimate=sum(snap.row_count(t) for t in snap.tables if t.kind in ROW_KINDS),
        findings_by_severity=counts,
        findings=len(analysis.findings),
        excused=len(analysis.excused),
        mode=analysis.mode,
        migrations=migration_tools(snap),
    )


def migration_tools(snap: Snapshot) -> list[str]:
    """The migration tools that keep the schema, each with where it was seen: its history
    table, or (in a review, which makes none) the migration files it runs."""
    tables = snap.table_by_oid
    by_tool: dict[str, list[str]] = {}  # Liquibase keeps two: its changelog and its lock
    for oid, tool in snap.facts.migration_tables.items():
        by_tool.setdefault(tool, []).append(tables[oid].qualname)
    found = sorted(f"{tool} ({', '.join(sorted(names))})" for tool, names in by_tool.items())
    seen = set(snap.facts.migration_tables.values())
    reviewed = snap.collection.migration_tools or []
    return found + [f"{tool} (the reviewed migrations)" for tool in reviewed if tool not in seen]


@dataclass(frozen=True)
class AreaStatus:
    category: str  # the rule category id
    title: str  # "Data quality"
    status: str  # red, amber, green, not checked
    reason: str
    findings: int
    checks_ran: int
    checks_total: int


def area_statuses(analysis: Analysis, window: StatisticsWindow | None) -> list[AreaStatus]:
    """One per rule category: red for critical/high findings, amber for medium, green
    otherwise; "not checked" when none of the area's checks ran, and "not enough
    history" instead of green when its checks read statistics gathered too briefly."""
    minimum = analysis.config.min_statistics_hours
    short = window is not None and window.days * 24 < minimum
    by_category: dict[str, list[Check]] = defaultdict(list)
    for check in analysis.checks:
        rule_def = REGISTRY.get(check.rule)
        if rule_def:
            by_category[rule_def.category].append(check)
    findings_by_category: dict[str, list[Finding]] = defaultdict(list)
    for item in analysis.findings:
        findings_by_category[item.category].append(item)
    return [
        area_status(
            category,
            title,
            by_category[category],
            findings_by_category[category],
            window if short else None,
            minimum,
        )
        for category, title in CATEGORIES.items()
    ]


def area_status(
    category: str,
    title: str,
    checks: list[Check],
    findings: list[Finding],
    short_window: StatisticsWindow | None = None,
    minimum_hours: float = 0,
) -> AreaStatus:
    ran = [c for c in checks if c.status == "ran"]
    if not ran:
        if not checks:
            reason = "no rules for this area in this version yet"
        else:
            reasons = sorted({c.reason or c.status for c in checks})
            reason = f"all {plural(len(checks), 'check')} not run: " + "; ".join(reasons)
        return AreaStatus(category, title, NOT_CHECKED, reason, len(findings), 0, len(checks))
    counts = severity_counts(findings)
    if counts[CRITICAL] or counts[HIGH]:
        status = RED
        worst = [s for s in (CRITICAL, HIGH) if counts[s]]
    elif counts[MEDIUM]:
        status, worst = AMBER, [MEDIUM]
    else:
        status, worst = GREEN, []
    if worst:
        reason = ", ".join(f"{counts[s]:,} {s}" for s in worst) + ": " + top_rules(findings, worst)
    elif findings:
        reason = f"only low or informational findings ({len(findings):,})"
    else:
        reason = f"no findings from {plural(len(ran), 'check')}"
    # An area where the pg_stat_* counters decide a good part of the verdict (a third of
    # its checks or more: maintenance, activity, indexes) is not green on too short a
    # window; one judged from the catalogs (integrity) stays what they show, with a note.
    statistical = [c.rule for c in ran if c.rule in REGISTRY and REGISTRY[c.rule].uses_statistics]
    if status == GREEN and statistical and short_window is not None:
        if 3 * len(statistical) >= len(ran):
            status = NOT_ENOUGH_HISTORY
            reason = (
                f"{reason}, but the statistics cover only {short_window.length}"
                f" (at least {minimum_hours:g} hours are needed to judge this area;"
                " min_statistics_hours in the config)"
            )
        else:
            reason += (
                f"; {', '.join(statistical)} judged from statistics covering only"
                f" {short_window.length}"
            )
    gaps = len(checks) - len(ran)
    if status == GREEN and 2 * gaps > len(checks):
        # most of the area could not be judged (no pg_stat_statements, --no-data): its
        # few checks that ran do not make it green
        reasons = sorted({c.reason or c.status for c in checks if c.status != "ran"})
        reason = (
            f"{gaps:,} of {plural(len(checks), 'check')} not run: "
            + "; ".join(reasons)
            + (f" ({plural(len(findings), 'finding')} from the others)" if findings else "")
        )
        return AreaStatus(
            category, title, NOT_CHECKED, reason, len(findings), len(ran), len(checks)
        )
    if gaps:
        reason += f" ({gaps:,} of {len(checks):,} checks not run)"
    incomplete = [c for c in ran if c.skipped_objects]
    if incomplete:
        unread = len({entry["object"] for c in incomplete for entry in c.skipped_objects})
        reason += (
            f"; {plural(len(incomplete), 'check')} could not read"
            f" {plural(unread, 'table')} (see Checks skipped or failed)"
        )
    # ran on part of what they check (on a standby, say): their reason is in the checks
    partial = [c.rule for c in ran if c.reason]
    if partial:
        reason += f"; {', '.join(partial)} ran in part (see Checks skipped or failed)"
    return AreaStatus(category, title, status, reason, len(findings), len(ran), len(checks))


def top_rules(findings: list[Finding], severities: list[str], limit: int = 3) -> str:
    """The rules behind a status: "missing-primary-key (2), unindexed-foreign-key (1)"."""
    counts: dict[str, int] = {}
    for item in findings:
        if item.severity in severities:
            counts[item.rule] = counts.get(item.rule, 0) + 1
    ranked = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
    text = ", ".join(f"{rule_id} ({count:,})" for rule_id, count in ranked[:limit])
    if len(ranked) > limit:
        text += f" and {len(ranked) - limit:,} more rules"
    return text


# --- per schema ----------------------------------------------------------------------


# Table comments quoted per schema as hints of its purpose (the largest tables first).
MAX_PURPOSE_HINTS = 12


@dataclass(frozen=True)
class SchemaOverview:
    name: str
    comment: str | None
    tables: int
    tables_commented: int
    partitioned_tables: int
    rows_estimate: int = 0
    # (table, first line of its comment), largest tables first, at most MAX_PURPOSE_HINTS
    purpose_hints: tuple[tuple[str, str], ...] = ()


def schema_overviews(snap: Snapshot) -> list[SchemaOverview]:
    tables_by_schema: dict[str, list[Table]] = defaultdict(list)
    for table in snap.tables:
        if table.kind in COUNTED_KINDS:
            tables_by_schema[table.schema].append(table)
    facts = snap.facts
    result = []
    for schema in sorted(snap.schemas, key=lambda s: s.name):
        tables = tables_by_schema.get(schema.name, [])
        commented = [t for t in tables if describes(t.comment) and not t.is_partition]
        commented.sort(key=lambda t: (-facts.rows(t), t.name))
        result.append(
            SchemaOverview(
                name=schema.name,
                comment=schema.comment,
                tables=len(tables),
                tables_commented=sum(1 for t in tables if (t.comment or "").strip()),
                partitioned_tables=sum(1 for t in tables if t.kind == "p"),
                rows_estimate=sum(facts.rows(t) for t in tables if not t.is_partition),
                purpose_hints=tuple(
                    (t.name, (t.comment or "").strip().splitlines()[0])
                    for t in commented[:MAX_PURPOSE_HINTS]
                ),
            )
        )
    return result


def describes(comment: str | None) -> bool:
    """Does a table's comment say something of what it is for? Not a bare number (Oban
    keeps its migration version, `14`, as its table's comment), nor a line that only
    excuses a finding (`pgvitals:ignore ...`)."""
    first = (comment or "").strip().splitlines()[0] if (comment or "").strip() else ""
    return any(c.isalpha() for c in first) and not first.lower().startswith("pgvitals:")


def partition_roots(snap: Snapshot) -> dict[str, str]:
    """Each partition's partitioned table at the top of its tree, by qualified name:
    what the report groups a partition's findings under."""
    by_oid = snap.table_by_oid
    roots = {}
    for table in snap.tables:
        if table.parent_oid is None:
            continue
        root = table
        while root.parent_oid is not None and root.parent_oid in by_oid:
            root = by_oid[root.parent_oid]
        if root is not table:
            roots[table.qualname] = root.qualname
    return roots


# One per table or reference, built by the 10,000s: slots, not a __dict__ each, and not
# frozen, whose __init__ sets each field through object.__setattr__ (5x the cost).
@dataclass(slots=True)
class Relationship:
    """A foreign key, declared or inferred from names: `child` rows point at one
    `parent` row."""

    parent: str  # qualified names
    child: str
    parent_schema: str
    parent_table: str
    child_schema: str
    child_table: str
    name: str
    columns: tuple[str, ...]
    ref_columns: tuple[str, ...]
    optional: bool  # a referencing column allows NULL: a child may have no parent
    one_to_one: bool  # the referencing columns are unique: at most one child per parent
    declared: bool  # False for references inferred from names (facts.inferred_references)


def relationships(snap: Snapshot, schema: str | None = None) -> list[Relationship]:
    """Declared foreign keys, and references inferred from names (`declared` False),
    whose referencing table is in `schema` (all when None).

    Constraints a partition inherits from its partitioned parent are left out: the
    parent's constraint already says it."""
    keys = unique_keys(snap)
    result = []
    for fk in snap.constraints:
        if fk.kind != "f" or fk.inherited or (schema is not None and fk.schema != schema):
            continue
        if fk.ref_schema is None or fk.ref_table is None:
            continue
        result.append(relationship(snap, fk, keys))
    for reference in snap.facts.inferred_references:
        if schema is None or reference.table.schema == schema:
            result.append(inferred_relationship(snap, reference, keys))
    return sorted(result, key=lambda r: (r.parent, r.child, r.name))


# A set of columns as a unique index holds them: (how many, which); the number tells
# `(a, a)` from `(a)`.
UniqueKey = tuple[int, frozenset[str | None]]


def unique_keys(snap: Snapshot) -> dict[int, set[UniqueKey]]:
    """Per table (by oid): the column sets of its unique indexes that bind every row
    (valid, not partial), read once for all the relationships instead of per key."""
    keys: dict[int, set[UniqueKey]] = defaultdict(set)
    for index in snap.indexes:
        if index.is_unique and index.is_valid and index.predicate is None:
            columns = frozenset(index.key_columns[: index.key_count])
            keys[index.table_oid].add((index.key_count, columns))
    return keys


def inferred_relationship(
    snap: Snapshot, reference: Reference, keys: dict[int, set[UniqueKey]] | None = None
) -> Relationship:
    table, target = reference.table, reference.ref_table
    columns = reference.column_names
    return Relationship(
        parent=target.qualname,
        child=table.qualname,
        parent_schema=target.schema,
        parent_table=target.name,
        child_schema=table.schema,
        child_table=table.name,
        name=", ".join(columns),
        columns=tuple(columns),
        ref_columns=tuple(reference.ref_column_names),
        optional=any(not c.not_null for c in reference.columns),
        one_to_one=unique_columns(unique_keys(snap) if keys is None else keys, table.oid, columns),
        declared=False,
    )


def unique_columns(keys: dict[int, set[UniqueKey]], table_oid: int, columns: list[str]) -> bool:
    """Do these columns, together, have a unique index (at most one row per value)?"""
    return (len(columns), frozenset(columns)) in keys.get(table_oid, ())


def relationship(
    snap: Snapshot, fk: Constraint, keys: dict[int, set[UniqueKey]] | None = None
) -> Relationship:
    """`keys`: the snapshot's `unique_keys`, when the caller has them already."""
    found = [snap.facts.column_by_name.get((fk.table_oid, name)) for name in fk.columns]
    optional = any(column is not None and not column.not_null for column in found)
    one_to_one = unique_columns(
        unique_keys(snap) if keys is None else keys, fk.table_oid, fk.columns
    )
    return Relationship(
        parent=f"{fk.ref_schema}.{fk.ref_table}",
        child=f"{fk.schema}.{fk.table}",
        parent_schema=fk.ref_schema or "",
        parent_table=fk.ref_table or "",
        child_schema=fk.schema,
        child_table=fk.table,
        name=fk.name,
        columns=tuple(fk.columns),
        ref_columns=tuple(fk.ref_columns),
        optional=optional,
        one_to_one=one_to_one,
        declared=True,
    )


# --- index coverage and activity -----------------------------------------------------


# One per table or reference, built by the 10,000s: slots, not a __dict__ each, and not
# frozen, whose __init__ sets each field through object.__setattr__ (5x the cost).
@dataclass(slots=True)
class IndexCoverage:
    table: str  # qualified name
    schema: str
    name: str
    rows_estimate: int
    indexes: int
    single_column: int
    composite: int
    index_bytes: int | None  # a partitioned table's: its partitions' indexes
    table_bytes: int | None  # None: not known (never vacuumed or analyzed)
    foreign_keys: int
    unindexed_foreign_keys: int
    partial: int = 0
    unique: int = 0  # unique indexes, primary key included
    # each foreign key's columns, "(a, b)", by whether an index serves its lookup
    covered_foreign_key_columns: tuple[str, ...] = ()
    unindexed_foreign_key_columns: tuple[str, ...] = ()


def regular_tables(snap: Snapshot) -> list[Table]:
    return sorted((t for t in snap.tables if t.is_regular), key=lambda t: (t.schema, t.name, t.oid))


def index_coverage(snap: Snapshot) -> list[IndexCoverage]:
    """Per regular table: its indexes by shape and size, and the foreign keys an index
    serves or not (the same test the unindexed-foreign-key rule applies). A
    partitioned table's sizes are its partitions' summed."""
    facts = snap.facts
    result = []
    for table in regular_tables(snap):
        indexes = snap.indexes_by_table.get(table.oid, [])
        foreign_keys = [
            c
            for c in snap.constraints_by_table.get(table.oid, [])
            if c.kind == "f" and not c.inherited
        ]
        served, unindexed = [], []
        for fk in foreign_keys:
            (unindexed if facts.lookup_index_of_fk[fk.oid] is None else served).append(fk)
        leaves = facts.leaves_by_root.get(table.oid, [])
        single_column, composite, partial, unique = index_shapes(indexes)
        result.append(
            IndexCoverage(
                table=table.qualname,
                schema=table.schema,
                name=table.name,
                rows_estimate=facts.rows(table),
                indexes=len(indexes),
                single_column=single_column,
                composite=composite,
                index_bytes=known_sum([facts.index_bytes(i) for i in indexes]),
                table_bytes=known_sum(leaf.table_bytes for leaf in leaves)
                if table.kind == "p"
                else table.table_bytes,
                foreign_keys=len(foreign_keys),
                unindexed_foreign_keys=len(unindexed),
                partial=partial,
                unique=unique,
                covered_foreign_key_columns=tuple(key_columns(fk) for fk in served),
                unindexed_foreign_key_columns=tuple(key_columns(fk) for fk in unindexed),
            )
        )
    return result


def index_shapes(indexes: list[Index]) -> tuple[int, int, int, int]:
    """How many of these indexes are (single-column, composite, partial, unique): one
    pass, not four, over each of the 10,000s of tables' indexes."""
    single_column = composite = partial = unique = 0
    for index in indexes:
        single_column += index.key_count == 1
        composite += index.key_count > 1
        partial += index.is_partial
        unique += index.is_unique
    return single_column, composite, partial, unique


def key_columns(constraint: Constraint) -> str:
    return f"({', '.join(constraint.columns)})"


@dataclass(frozen=True)
class CoverageTotals:
    """Sizes summed over the tables whose sizes are known; an unknown size is counted as
    unknown, never as zero."""

    tables: int
    sized_tables: int  # tables whose table and index sizes are both known
    index_bytes: int  # over the sized tables
    table_bytes: int
    without_index: int
    with_unindexed_foreign_key: int
    indexes: int

    @property
    def unsized_tables(self) -> int:
        return self.tables - self.sized_tables


def coverage_totals(coverage: list[IndexCoverage]) -> CoverageTotals:
    sized = [c for c in coverage if c.table_bytes is not None and c.index_bytes is not None]
    return CoverageTotals(
        tables=len(coverage),
        sized_tables=len(sized),
        index_bytes=sum(c.index_bytes or 0 for c in sized),
        table_bytes=sum(c.table_bytes or 0 for c in sized),
        without_index=sum(1 for c in coverage if c.indexes == 0),
        with_unindexed_foreign_key=sum(1 for c in coverage if c.unindexed_foreign_keys),
        indexes=sum(c.indexes for c in coverage),
    )


# One per table or reference, built by the 10,000s: slots, not a __dict__ each, and not
# frozen, whose __init__ sets each field through object.__setattr__ (5x the cost).
@dataclass(slots=True)
class TableActivity:
    """A table's life in the statistics window; a partitioned table's counters are
    its partitions' summed (its partitions have no line of their own)."""

    table: str  # qualified name
    schema: str
    name: str
    inserts: int | None  # None: the server keeps no counters for this table
    updates: int | None
    deletes: int | None
    hot_updates: int | None
    live_tuples: int | None
    dead_tuples: int | None
    seq_scans: int | None
    idx_scans: int | None
    rows: int | None = None  # the best count: counted, else estimated
    seq_tup_read: int | None = None
    partitions: int = 0
    activity: str = ""  # one of ACTIVITY_CLASSES ("" in reports from before it)
    reason: str = ""

    @property
    def writes(self) -> int:
        return (self.inserts or 0) + (self.updates or 0) + (self.deletes or 0)

    @property
    def scans(self) -> int:
        return (self.seq_scans or 0) + (self.idx_scans or 0)

    @property
    def idle(self) -> bool:
        """Neither written nor read in the statistics window (writes unknown, as on a
        standby, say nothing of the table)."""
        return self.inserts is not None and self.writes == 0 and self.scans == 0


HIGH_ACTIVITY, MODERATE, PROBLEMATIC, CLEARED, NEVER_USED = (
    "high activity",
    "moderate",
    "problematic",
    "cleared",
    "never used",
)
ACTIVITY_CLASSES = (HIGH_ACTIVITY, MODERATE, PROBLEMATIC, CLEARED, NEVER_USED)
# Findings that make a table's activity problematic: how it is written and read.
PROBLEM_RULES = ("high-churn-table", "update-hot-spot", "aborted-writes", "high-dead-tuple-ratio")
# A table this busy, against the busiest, is "high activity".
HIGH_SHARE = 0.25


def table_activity(snap: Snapshot, findings: Iterable[Finding] = ()) -> list[TableActivity]:
    """Per regular table and partitioned table, busiest writers first (then by reads,
    then by name), each classified:

    - cleared: rows were inserted in the window and none remain;
    - never used: nothing written, no row read by a sequential scan, no index scan;
    - problematic: a finding of PROBLEM_RULES (at low or worse) on it;
    - high activity: writes and scans at least a quarter of the busiest table's;
    - moderate: the rest."""
    facts = snap.facts
    problems: dict[str, list[str]] = defaultdict(list)
    for item in findings:
        if item.rule in PROBLEM_RULES and item.severity >= Severity.LOW:
            problems[item.object].append(item.rule)

    rows = []
    for t in regular_tables(snap):
        if t.is_partition:
            continue  # counted in its partitioned table's line
        rows.append(
            TableActivity(
                table=t.qualname,
                schema=t.schema,
                name=t.name,
                inserts=facts.counter(t, "n_tup_ins"),
                updates=facts.counter(t, "n_tup_upd"),
                deletes=facts.counter(t, "n_tup_del"),
                hot_updates=facts.counter(t, "n_tup_hot_upd"),
                live_tuples=facts.counter(t, "n_live_tup"),
                dead_tuples=facts.counter(t, "n_dead_tup"),
                seq_scans=facts.counter(t, "seq_scan"),
                idx_scans=facts.counter(t, "idx_scan"),
                rows=facts.rows(t),
                seq_tup_read=facts.counter(t, "seq_tup_read"),
                partitions=len(facts.leaves_by_root.get(t.oid, [])),
            )
        )
    busiest = max((row.writes + row.scans for row in rows), default=0)
    for row in rows:  # each row's class needs the busiest of all
        row.activity, row.reason = classify(row, problems.get(row.table, []), busiest)
    return sorted(rows, key=lambda a: (-a.writes, -a.scans, a.schema, a.name))


def classify(row: TableActivity, problems: list[str], busiest: int) -> tuple[str, str]:
    """The row's class (one of ACTIVITY_CLASSES, "" without counters) and why."""
    if row.inserts is None:
        return "", "no counters"
    if row.inserts and row.rows == 0:
        activity, reason = CLEARED, f"{row.inserts:,} rows inserted, none remain"
    elif row.writes == 0 and not row.seq_tup_read and not row.idx_scans:
        activity, reason = NEVER_USED, "nothing written, no row read"
    elif problems:
        activity, reason = PROBLEMATIC, ", ".join(sorted(set(problems)))
    elif busiest and row.writes + row.scans >= HIGH_SHARE * busiest:
        activity, reason = HIGH_ACTIVITY, f"{row.writes:,} writes, {row.scans:,} scans"
    else:
        activity, reason = MODERATE, f"{row.writes:,} writes, {row.scans:,} scans"
    return activity, reason


# --- what was not checked ------------------------------------------------------------


@dataclass(frozen=True)
class CheckGap:
    """A check that did not run (skipped or failed), or one that ran but could not read
    some of the tables it examines. `status` is the check's own, as in the JSON report."""

    rule: str
    status: str  # skipped, failed, or ran (with objects it could not read, or in part)
    reason: str
    objects: tuple[dict[str, str], ...]  # {"object", "reason"} for per-object skips


def check_gaps(analysis: Analysis) -> list[CheckGap]:
    gaps = []
    for check in analysis.checks:
        if check.status != "ran":
            reason = check.reason or check.status
            gaps.append(CheckGap(check.rule, check.status, reason, check.skipped_objects))
        elif check.skipped_objects:
            reason = f"could not read {plural(len(check.skipped_objects), 'table')}"
            gaps.append(CheckGap(check.rule, check.status, reason, check.skipped_objects))
        elif check.reason:  # ran on part of what it checks (review without squawk)
            gaps.append(CheckGap(check.rule, check.status, check.reason, ()))
    return gaps


# --- action plan ---------------------------------------------------------------------

DASH = "\u2013"  # the en dash of "1-4 weeks" as printed
IMMEDIATE, WEEKS, MONTHS, LATER = "Immediate", f"1{DASH}4 weeks", f"1{DASH}3 months", "3+ months"
LOW_EFFORT, MEDIUM_EFFORT, HIGH_EFFORT = "low", "medium", "high"
EFFORTS = (LOW_EFFORT, MEDIUM_EFFORT, HIGH_EFFORT)
# Where work lands, by the worst severity among its findings and the effort it takes.
HORIZONS = (
    (IMMEDIATE, "critical findings, and high ones that are quick to fix"),
    (WEEKS, "high findings that take more work, and medium ones that are quick"),
    (MONTHS, "medium findings that take more work, and low ones that are quick"),
    (LATER, "low findings that take more work, and informational ones"),
)
_HORIZON_BY = {
    (CRITICAL, LOW_EFFORT): 0, (CRITICAL, MEDIUM_EFFORT): 0, (CRITICAL, HIGH_EFFORT): 0,
    (HIGH, LOW_EFFORT): 0, (HIGH, MEDIUM_EFFORT): 1, (HIGH, HIGH_EFFORT): 1,
    (MEDIUM, LOW_EFFORT): 1, (MEDIUM, MEDIUM_EFFORT): 2, (MEDIUM, HIGH_EFFORT): 2,
    (LOW, LOW_EFFORT): 2, (LOW, MEDIUM_EFFORT): 3, (LOW, HIGH_EFFORT): 3,
    (INFO, LOW_EFFORT): 3, (INFO, MEDIUM_EFFORT): 3, (INFO, HIGH_EFFORT): 3,
}  # fmt: skip
# Objects beyond which the same fix is a project of its own: one effort step more.
MANY_OBJECTS = 50


@dataclass(frozen=True)
class Action:
    rule: str
    title: str
    severity: str  # the worst severity among its findings
    objects: tuple[str, ...]
    has_fix: bool
    effort: str = ""  # low, medium, high ("" in reports from before it)
    effort_reason: str = ""


@dataclass(frozen=True)
class Horizon:
    name: str  # Immediate, 1-4 weeks, 1-3 months, 3+ months
    severities: tuple[str, ...]  # the severities of the actions in it
    actions: tuple[Action, ...]
    criteria: str = ""  # what lands in this horizon


def effort_of(findings: list[Finding]) -> tuple[str, str]:
    """How much work a rule's findings take, from their fixes' declared risk: a script
    that blocks no writes is low; one that takes a brief lock or drops an object (each
    to be confirmed unused) is medium; a table rewrite (a maintenance window) or work
    without a generated fix (a change to the application or the data) is high."""
    fixes = [f.fix for f in findings if f.fix]
    if not fixes:
        level, reason = HIGH_EFFORT, "no generated fix: manual work"
    elif len(fixes) < len(findings):
        level, reason = HIGH_EFFORT, "no generated fix for some objects: manual work"
    else:
        tier = max(fix.risk.tier for fix in fixes)
        level, reason = (
            (LOW_EFFORT, "generated fix, blocks no writes"),
            (MEDIUM_EFFORT, "generated fix, takes a brief lock"),
            (HIGH_EFFORT, "generated fix rewrites tables: plan a maintenance window"),
            (MEDIUM_EFFORT, "generated fix drops objects: confirm nothing uses them"),
        )[tier]
    if len(findings) > MANY_OBJECTS and level != HIGH_EFFORT:
        level = EFFORTS[EFFORTS.index(level) + 1]
        reason += f"; {len(findings):,} objects"
    return level, reason


def action_plan(findings: list[Finding]) -> list[Horizon]:
    """Findings grouped by rule, each group placed in a horizon by its worst severity
    and its effort; within a horizon, worst and most widespread first."""
    by_rule: dict[str, list[Finding]] = {}
    for item in findings:
        by_rule.setdefault(item.rule, []).append(item)
    placed: list[list[Action]] = [[] for _ in HORIZONS]
    for rule_id, items in by_rule.items():
        severity = worst(f.severity for f in items).value
        effort, why = effort_of(items)
        placed[_HORIZON_BY[(severity, effort)]].append(
            Action(
                rule=rule_id,
                title=REGISTRY[rule_id].title if rule_id in REGISTRY else rule_id,
                severity=severity,
                objects=tuple(f.object for f in items),
                has_fix=any(f.fix for f in items),
                effort=effort,
                effort_reason=why,
            )
        )
    plan = []
    for (name, criteria), actions in zip(HORIZONS, placed, strict=True):
        actions.sort(key=lambda a: (severity_rank(a.severity), -len(a.objects), a.rule))
        severities = tuple(s for s in SEVERITIES if any(a.severity == s for a in actions))
        plan.append(Horizon(name, severities, tuple(actions), criteria))
    return plan


# --- risk assessment -------------------------------------------------------------------

PROBABILITY_LEVELS = ("rare", "unlikely", "possible", "likely", "almost certain")
IMPACT_LEVELS = ("negligible", "minor", "moderate", "major", "severe")
# Impact of what breaks, by the finding's severity (1 negligible ... 5 severe).
IMPACT_OF_SEVERITY = {CRITICAL: 5, HIGH: 4, MEDIUM: 3, LOW: 2, INFO: 1}
# Objects from which a flaw is widespread enough to strike somewhere: one level more likely.
WIDESPREAD = 10


@dataclass(frozen=True)
class RiskEntry:
    """One rule's findings as a risk: how likely it is to strike, and how hard."""

    rule: str
    title: str
    category: str
    severity: str
    objects: int
    probability: int  # 1 rare ... 5 almost certain
    impact: int  # 1 negligible ... 5 severe
    reason: str  # why this probability

    @property
    def score(self) -> int:
        return self.probability * self.impact

    @property
    def probability_label(self) -> str:
        return PROBABILITY_LEVELS[self.probability - 1]

    @property
    def impact_label(self) -> str:
        return IMPACT_LEVELS[self.impact - 1]


def risk_assessment(findings: list[Finding]) -> list[RiskEntry]:
    """Probability x impact per rule. Impact follows the worst severity. Probability:
    "likely" when the database shows it happening (judged from its statistics or its
    rows), "possible" when it is a flaw in the schema that strikes once the operation it
    breaks runs, "unlikely" for informational findings; one level more for a flaw on
    WIDESPREAD objects or more. Highest score first."""
    by_rule: dict[str, list[Finding]] = {}
    for item in findings:
        by_rule.setdefault(item.rule, []).append(item)
    entries = []
    for rule_id, items in by_rule.items():
        severity = worst(f.severity for f in items)
        rule_def = REGISTRY.get(rule_id)
        observed = rule_def is not None and (
            rule_def.uses_statistics or rule_def.rows == ROWS_REQUIRED
        )
        if severity == INFO:
            probability, reason = 2, "informational"
        elif observed:
            probability, reason = 4, "observed in this database (statistics or rows)"
        else:
            probability, reason = 3, "in the schema: strikes when the affected operation runs"
        if len(items) >= WIDESPREAD:
            probability = min(5, probability + 1)
            reason += f"; widespread ({len(items):,} objects)"
        entries.append(
            RiskEntry(
                rule=rule_id,
                title=rule_def.title if rule_def else rule_id,
                category=items[0].category.value,
                severity=severity.value,
                objects=len(items),
                probability=probability,
                impact=IMPACT_OF_SEVERITY[severity.value],
                reason=reason,
            )
        )
    entries.sort(key=lambda e: (-e.score, -e.impact, -e.objects, e.rule))
    return entries


# --- schemas: overview and relationships ----------------------------------------------


@dataclass(frozen=True)
class SchemaSection:
    overview: SchemaOverview
    relations: tuple[Relationship, ...]
    unrelated_tables: tuple[str, ...]  # tables in no relationship


def schema_sections(snap: Snapshot) -> list[SchemaSection]:
    everything = relationships(snap)
    # a table referenced only from another schema still takes part in a relationship
    related = {r.child for r in everything} | {r.parent for r in everything}
    relations_by_schema: dict[str, list[Relationship]] = defaultdict(list)
    for rel in everything:
        relations_by_schema[rel.child_schema].append(rel)
    unrelated_by_schema: dict[str, list[str]] = defaultdict(list)
    for table in snap.tables:
        if table.is_regular and not table.is_partition and table.qualname not in related:
            unrelated_by_schema[table.schema].append(table.qualname)
    return [
        SchemaSection(
            overview,
            tuple(relations_by_schema.get(overview.name, [])),
            tuple(sorted(unrelated_by_schema.get(overview.name, []))),
        )
        for overview in schema_overviews(snap)
    ]


def element_status(analysis: Analysis, rule_ids: tuple[str, ...]) -> str:
    """What the rules behind a "missing element" say, or that they did not run."""
    checks = {c.rule: c for c in analysis.checks if c.rule in rule_ids}
    ran = [rule_id for rule_id in rule_ids if rule_id in checks and checks[rule_id].status == "ran"]
    if not ran:
        if not checks:
            return f"not assessed yet (rule `{rule_ids[0]}` is not in this version)"
        check = checks.get(rule_ids[0]) or next(iter(checks.values()))
        return f"not assessed: {check.status} ({check.reason or 'no reason given'})"
    counts = {rule_id: 0 for rule_id in ran}
    for item in analysis.findings:
        if item.rule in counts:
            counts[item.rule] += 1
    found = {rule_id: count for rule_id, count in counts.items() if count}
    if not found:
        return "no findings from " + ", ".join(f"`{rule_id}`" for rule_id in ran)
    if len(found) == 1:
        rule_id, count = next(iter(found.items()))
        return f"{plural(count, 'finding')} from `{rule_id}` (see Findings)"
    parts = ", ".join(f"`{rule_id}` {count:,}" for rule_id, count in found.items())
    return f"{plural(sum(found.values()), 'finding')}: {parts} (see Findings)"


# --- fix and rollback scripts --------------------------------------------------------


@dataclass(frozen=True)
class Scripts:
    fix: str
    rollback: str
    statements: int  # findings that contributed a fix


TIER_HEADINGS = (
    "Blocks no writes (CONCURRENTLY, VACUUM, reloptions)",
    "Brief ACCESS EXCLUSIVE lock, no rewrite",
    "Rewrites the table under an ACCESS EXCLUSIVE lock: plan a window",
    "Drops an object (each has its restore in rollback.sql)",
)
KEYS_HEADING = (
    "Primary keys that replace a UNIQUE constraint, first: a foreign key added below"
    " references the key, not the constraint the swap drops"
)
PARTITIONS_HEADING = (
    "Creates partitions, after the indexes above: each new partition gets the table's indexes"
)
MOVES_HEADING = (
    "Moves extensions out of public, last: the statements above name their types,"
    " functions and operator classes where they are now"
)


def fix_scripts(
    findings: list[Finding], server: ServerInfo, migrations: Iterable[str] = ()
) -> Scripts:
    """The findings' fixes in order of their declared risk (within a tier, worst severity
    first), after the primary keys that replace a UNIQUE constraint (a foreign key added
    before on those columns would depend on the constraint, and stop its drop); then
    those that create partitions (an index fix lists the partitions there are: one made
    before it would be left out, and the table's index left invalid); those that move
    objects to another schema last (the others name those objects where they are: `ALTER
    FUNCTION f(hstore)` fails once hstore left public), and their rollbacks in the
    reverse order. Excused findings contribute nothing.

    Two findings can carry the same statements (an index both duplicate and redundant):
    they are written once, so that neither script fails half-way on a second copy."""
    ordered = sorted(
        (f for f in findings if f.fix),
        key=lambda f: (
            (
                f.fix.risk.moves,
                f.fix.risk.adds_partitions,
                not f.fix.risk.replaces_key,
                f.fix.risk.tier,
            )
            if f.fix
            else (False, False, True, 0)
        ),
    )
    # the search_path only where there are statements for it to apply to
    setting = search_path_statement(server.search_path) if ordered else ""
    # each finding's label and texts, made once for both scripts
    texts = [
        (item, label(item), item.fix.sql, item.fix.rollback_sql) for item in ordered if item.fix
    ]
    # both scripts hold the CONCURRENTLY statements of either (a rollback drops the index
    # its fix built concurrently)
    concurrently = any(
        "CONCURRENTLY" in sql or "CONCURRENTLY" in (undo or "") for _, _, sql, undo in texts
    )
    fix_parts = [script_header("Fix", server, migrations, concurrently) + setting]
    heading = None
    first_with: dict[tuple[str, ...], Finding] = {}
    for item, labelled, sql, _ in texts:
        assert item.fix is not None
        risk = item.fix.risk
        if heading_of(risk) != heading:
            heading = heading_of(risk)
            fix_parts.append(f"-- == {heading} ==\n")
        fix_parts.append(f"{labelled} [{risk.label}]\n{entry(item, sql, first_with)}\n")
    if not ordered:
        fix_parts.append("-- Nothing to fix: no finding comes with a fix.\n")
    rollback_parts = [script_header("Rollback", server, migrations, concurrently) + setting]
    first_with = {}
    for item, labelled, _, undo in reversed(texts):
        assert item.fix is not None
        body = (
            entry(item, undo, first_with)
            if item.fix.rollback
            else "-- (no rollback: nothing to undo)"
        )
        # the risk declared is the fix's: undoing it may lock otherwise (dropping an index
        # built CONCURRENTLY takes ACCESS EXCLUSIVE), so none is claimed here
        rollback_parts.append(f"{labelled}\n{body}\n")
    return Scripts("\n".join(fix_parts), "\n".join(rollback_parts), len(ordered))


def heading_of(risk: Risk) -> str:
    if risk.moves:
        return MOVES_HEADING
    if risk.adds_partitions:
        return PARTITIONS_HEADING
    return KEYS_HEADING if risk.replaces_key else TIER_HEADINGS[risk.tier]


def entry(item: Finding, body: str | None, first_with: dict[tuple[str, ...], Finding]) -> str:
    key = (body or "",)
    if key in first_with:
        earlier = first_with[key]
        return f"-- (same statement as for {earlier.rule}: {one_line(earlier.object)}, above)"
    first_with[key] = item
    return body or ""


def label(item: Finding) -> str:
    """The comment line above a finding's statements (fix.sql adds the fix's risk)."""
    return f"-- {item.rule}: {one_line(item.object)}"


def script_header(
    kind: str, server: ServerInfo, migrations: Iterable[str] = (), concurrently: bool = False
) -> str:
    order = (
        "Order: primary keys that replace a UNIQUE constraint first; then by declared\n"
        "-- risk, statements that block no writes, then brief locks, then table rewrites,\n"
        "-- then drops; moving extensions out of public last."
        if kind == "Fix"
        else "Order: the fix script's statements undone in reverse order."
    )
    return (
        f"-- {kind} script generated by pgvitals {__version__} for database "
        f"{one_line(server.database)} (PostgreSQL {server.version}),\n"
        f"-- from a snapshot taken {short_time(server.collected_at)}.\n"
        "-- pgvitals never runs this script. Review every statement before running it.\n"
        f"-- {order}\n"
        "-- CREATE/DROP INDEX CONCURRENTLY and VACUUM cannot run inside a transaction block:\n"
        "-- run this file in autocommit mode (psql without --single-transaction or BEGIN).\n"
        + migration_note(list(migrations), concurrently)
    )


def search_path_statement(schemas: list[str] | None) -> str:
    """The search_path the snapshot was collected under, set for the script: the server
    printed the types, functions and tables of definitions (an argument type, an index
    expression) without the schemas that path holds, so a session with another path
    (another role, a migration tool's) would not find them."""
    if schemas is None:
        return ""
    return (
        "-- Names below resolve as where the snapshot was taken (its search_path):\n"
        f"SET search_path = {text(search_path_value(schemas))};\n"
    )


def migration_note(migrations: list[str], concurrently: bool = False) -> str:
    """Where a migration tool keeps the schema, a change made beside it is missing from
    its history: databases built from the migrations (tests, new environments) lack
    it, and a tool that replays its history to compare (Prisma) reports drift. Where
    the script has CONCURRENTLY statements and the tool runs a migration in a transaction
    (golang-migrate, Liquibase, Django, Rails, Alembic), the note says how that tool runs
    one outside it."""
    if not migrations:
        return ""

    def kept_by(tool: str) -> bool:
        return any(seen.startswith(f"{tool} ") for seen in migrations)

    prisma = kept_by("Prisma")
    concurrently_notes = "".join(
        note for tool, note in CONCURRENTLY_NOTES.items() if concurrently and kept_by(tool)
    )
    shipped = sorted({product for tool, product in SHIPPED_MIGRATIONS.items() if kept_by(tool)})
    return (
        f"-- Migrations: this schema is kept by {one_line(', '.join(migrations))}.\n"
        "-- Put these statements in a new migration of that tool rather than running this\n"
        "-- file: a change made outside it is not in its history, so every database built\n"
        "-- from the migrations (tests, new environments) lacks it"
        + (PRISMA_NOTE if prisma else ".\n")
        + concurrently_notes
        + (shipped_note(shipped) if shipped else "")
    )


def shipped_note(products: list[str]) -> str:
    """Authelia, Zabbix, ...: their migrator applies the migrations they ship, and their
    operators write none. A definition changed by hand is then in none of them, and the
    product's next migrations were written for the schema they made, not this one."""
    if len(products) == 1:
        says = f"{products[0]} applies the migrations it ships: unless you develop it"
    else:
        names = f"{', '.join(products[:-1])} and {products[-1]}"
        says = f"{names} apply the migrations they ship: unless you develop them"
    return (
        f"-- {one_line(says)},\n"
        "-- you cannot add one: a definition changed here is in none of those migrations,\n"
        "-- and the next ones were written for the schema the earlier ones made. On those\n"
        "-- tables keep to what changes no definition (VACUUM, ANALYZE, REINDEX, storage\n"
        "-- parameters) and report the others upstream.\n"
    )


# Liquibase runs each changeset in a transaction of its own unless its line says
# runInTransaction:false (liquibase/liquibase@cdbdec7, changelog/ChangeSet.java execute;
# review/liquibase.py reports the same for review)
LIQUIBASE_NOTE = (
    "-- Liquibase runs each changeset in a transaction: CREATE/DROP INDEX CONCURRENTLY\n"
    '-- fails there ("cannot run inside a transaction block"). Give each one a changeset\n'
    "-- of its own whose line says runInTransaction:false (`--changeset <author>:<id>\n"
    "-- runInTransaction:false`).\n"
)


# Django runs a migration in one transaction where the server can roll DDL back (Migration.
# atomic = True; db/backends/base/schema.py BaseDatabaseSchemaEditor.__enter__), and its
# AddIndexConcurrently / RemoveIndexConcurrently refuse to run in one ("set atomic = False
# on the migration": django/contrib/postgres/operations.py NotInTransactionMixin, 3.0+)
DJANGO_NOTE = (
    "-- Django runs each migration in a transaction: CREATE/DROP INDEX CONCURRENTLY fails\n"
    '-- there ("cannot run inside a transaction block"). Declare the change in the model\n'
    "-- (Meta.indexes, db_index) and write it as AddIndexConcurrently or\n"
    "-- RemoveIndexConcurrently (django.contrib.postgres.operations) in a migration whose\n"
    "-- class says `atomic = False`, so that the models, the migrations and the database agree.\n"
)


# golang-migrate's postgres driver sends a migration file as one query string, which the
# server runs as one implicit transaction (golang-migrate/migrate@18966c7,
# database/postgres/postgres.go; review/runners.py reports the same for review)
GOLANG_MIGRATE_NOTE = (
    "-- golang-migrate sends a migration file to the server as one query string, run as\n"
    '-- one transaction: CREATE/DROP INDEX CONCURRENTLY fails there ("cannot run inside a\n'
    "-- transaction block\") unless it is the file's only statement. Give each one a\n"
    "-- migration of its own, or run golang-migrate with x-multi-statement=true, which\n"
    "-- sends the statements one by one (a failure then leaves the file half applied).\n"
)


# Prisma writes each migration as the difference between the migrations so far and
# schema.prisma, so a hand-written one that schema.prisma contradicts is undone by the
# next: it drops the indexes and foreign keys schema.prisma lacks (prisma/orm#12914,
# "Prisma drops indexes defined outside of Prisma") and adds back those it declares.
PRISMA_NOTE = (
    ",\n-- and `prisma migrate dev` reports the drift and asks to reset the database.\n"
    "-- Prisma writes migrations from schema.prisma, and the next `prisma migrate dev`\n"
    "-- undoes what it does not declare: it drops indexes and foreign keys schema.prisma\n"
    "-- lacks, adds back those it has, and sets column types back. Make index, key,\n"
    "-- relation and type changes in schema.prisma (@@index, @relation, @db.Timestamptz(3),\n"
    "-- a removed @unique), create the migration with `prisma migrate dev --create-only`,\n"
    "-- and edit its SQL to the forms below (CONCURRENTLY, NOT VALID) before applying it.\n"
)


# Prisma 6 and earlier send migration.sql as one query string (prisma-engines' postgres
# apply_migration_script, client.simple_query; review/runners.py reports the same for
# review); a 7.x release sends the statements one by one (prisma-engines#5767)
PRISMA_CONCURRENTLY_NOTE = (
    "-- Prisma 6 and earlier send a migration.sql to the server as one query string, run\n"
    '-- as one transaction: CREATE/DROP INDEX CONCURRENTLY fails there ("cannot run inside\n'
    "-- a transaction block\") unless it is the migration's only statement. Give each one a\n"
    "-- migration of its own.\n"
)


# Rails runs each migration in a transaction unless its class calls
# disable_ddl_transaction!; add_index/remove_index take algorithm: :concurrently
# (rails/rails activerecord/lib/active_record/migration.rb, connection_adapters/
# postgresql/schema_statements.rb)
RAILS_NOTE = (
    "-- Rails runs each migration in a transaction: CREATE/DROP INDEX CONCURRENTLY fails\n"
    "-- there. Write it as `add_index ..., algorithm: :concurrently` (or remove_index) in a\n"
    "-- migration whose class calls `disable_ddl_transaction!`.\n"
)


# Alembic's env.py runs the pending migrations in a transaction (context.begin_transaction);
# op.get_context().autocommit_block() (1.2+) steps out of it, and op.create_index /
# op.drop_index take postgresql_concurrently=True (sqlalchemy/alembic, runtime/migration.py)
ALEMBIC_NOTE = (
    "-- Alembic runs migrations in a transaction: CREATE/DROP INDEX CONCURRENTLY fails there.\n"
    "-- Write it as `op.create_index(..., postgresql_concurrently=True)` (or op.drop_index)\n"
    "-- inside `with op.get_context().autocommit_block():`.\n"
)


# What each tool that runs a migration in a transaction needs for a CONCURRENTLY statement,
# by the name its history table gives it (facts.MIGRATION_TABLES, review's runners)
CONCURRENTLY_NOTES = {
    "Prisma": PRISMA_CONCURRENTLY_NOTE,
    "golang-migrate": GOLANG_MIGRATE_NOTE,
    "Liquibase": LIQUIBASE_NOTE,
    "Django": DJANGO_NOTE,
    "Rails": RAILS_NOTE,
    "Alembic": ALEMBIC_NOTE,
}


# --- data quality ----------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnQuality:
    """A column that a data-quality finding flagged, with what the row scan measured:
    counted on small tables, estimated from a sample on large ones."""

    column: str  # qualified name
    schema: str
    table: str
    name: str
    rows: int | None  # the table's rows (estimated where sampled)
    rows_examined: int | None  # rows read: the sample's size where estimated
    estimated: bool
    nulls: int | None  # None: not measured (a NOT NULL column)
    null_ratio: float | None
    empty: int | None  # '' and only spaces (text columns)
    empty_ratio: float | None
    placeholders: int | None
    placeholder_ratio: float | None
    not_hashed: int | None  # password and secret columns: values in no hash format
    shape: str | None  # personal data found by the values' shape (pii-inventory)
    shape_ratio: float | None  # of the values with content
    margin: float | None  # the widest 95 % margin of error of these ratios (estimated)
    rules: tuple[str, ...]
    severity: str


def data_quality(snap: Snapshot, findings: Iterable[Finding]) -> list[ColumnQuality]:
    """One row per column flagged by a rule that reads the data profile, worst first."""
    flagged: dict[tuple[str, str, str], list[Finding]] = defaultdict(list)
    shapes: dict[tuple[str, str, str], tuple[str, float]] = {}
    reads_profile: dict[str, bool] = {}  # by rule: asked once, not once per finding
    for item in findings:
        if item.rule not in reads_profile:
            rule_def = REGISTRY.get(item.rule)
            reads_profile[item.rule] = rule_def is not None and bool(
                COLUMN_PROBES & set(rule_def.needs)
            )
        if not reads_profile[item.rule]:
            continue
        fields = item.where.fields()
        schema, table = fields["schema"] or "", fields["table"] or ""
        if item.where.kind == "column":
            flagged[(schema, table, fields["column"] or "")].append(item)
        elif item.where.kind == "table":  # columns only their values revealed
            for name, entry in item.evidence.get("columns", {}).items():
                if entry.get("by") == "values":
                    flagged[(schema, table, name)].append(item)
                    shapes[(schema, table, name)] = (entry["kind"], entry.get("share", 0.0))
    tables = {(t.schema, t.name): t for t in snap.tables}
    rows = []
    for key, items in flagged.items():
        table = tables.get(key[:2])
        profile = snap.facts.column_profile(table, key[2]) if table is not None else None
        if table is None or profile is None:
            continue
        rows.append(column_quality(profile, table, key[2], items, shapes.get(key)))
    return sorted(rows, key=lambda r: (severity_rank(r.severity), r.column))


def column_quality(
    profile: ColumnProfile,
    table: Table,
    name: str,
    items: list[Finding],
    shape: tuple[str, float] | None,
) -> ColumnQuality:
    total = profile.rows or 0

    def ratio(count: int | None) -> float | None:
        return round(count / total, 4) if count is not None and total else None

    nulls = profile.count("null")
    empty = known_sum([profile.empty_strings, profile.blank_strings])
    counts = profile.counts
    not_hashed = None
    if "slow_hash" in counts:
        # a reference to a secret kept elsewhere ({$VMWARE.PASSWORD}) stores none here
        stored = counts["filled"] - counts.get("reference", 0)
        not_hashed = max(stored - protected(counts) - digests(counts), 0)
    margins = [m for k, m in profile.margins.items() if k in ("null", "empty", "placeholder")]
    return ColumnQuality(
        column=f"{table.qualname}.{name}",
        schema=table.schema,
        table=table.name,
        name=name,
        rows=profile.rows,
        rows_examined=profile.examined,
        estimated=profile.sampled,
        nulls=nulls,
        null_ratio=ratio(nulls),
        empty=empty,
        empty_ratio=ratio(empty),
        placeholders=profile.count("placeholder"),
        placeholder_ratio=ratio(profile.count("placeholder")),
        not_hashed=not_hashed,
        shape=shape[0] if shape else None,
        shape_ratio=shape[1] if shape else None,
        margin=round(max(margins), 4) if profile.sampled and margins else None,
        rules=tuple(sorted({item.rule for item in items})),
        severity=min(items, key=lambda item: item.severity.rank).severity.value,
    )


# --- the report ----------------------------------------------------------------------


@dataclass(frozen=True)
class RuleDoc:
    """What the report says about a rule whose findings it lists."""

    id: str
    title: str
    category: str
    severity: str
    summary: str
    why: str
    doc: str


@dataclass(frozen=True)
class Target:
    database: str
    server_version: str
    connection: str | None
    mode: str
    collected_at: str
    stats_reset: str | None
    search_path: list[str] | None = None  # the collecting session's (ServerInfo)


@dataclass(frozen=True)
class ExcusedFinding:
    finding: Finding
    reason: str
    source: str

    def to_json(self) -> dict[str, Any]:
        return {**self.finding.to_json(), "excused_because": self.reason, "excused_by": self.source}


@dataclass(frozen=True)
class Baseline:
    """The findings judged against a saved report (`--baseline`): those already in it are
    known; only new ones, and known ones that got more severe, count for --fail-on."""

    source: str  # the baseline file
    generated_at: str  # when the baseline report was made
    known: frozenset[str]  # fingerprints of findings already in the baseline
    worsened: frozenset[str]  # known, but more severe now
    resolved: tuple[Finding, ...]  # in the baseline, gone now (their rule ran again)
    # review --base: the findings are those the reviewed files introduce over the base
    # schema (nothing known); else a saved report (--baseline)
    base: bool = False

    def counts(self, item: Finding) -> bool:
        return item.fingerprint not in self.known or item.fingerprint in self.worsened

    def summary(self, findings: list[Finding]) -> str:
        """For example "12 known, 1 new, 3 resolved" (and how many known got worse)."""
        known = sum(1 for f in findings if f.fingerprint in self.known)
        text = f"{known:,} known, {len(findings) - known:,} new, {len(self.resolved):,} resolved"
        worse = sum(1 for f in findings if f.fingerprint in self.worsened)
        return text + (f" ({worse:,} known now more severe)" if worse else "")

    def to_json(self, findings: list[Finding]) -> dict[str, Any]:
        return {
            "source": self.source,
            "generated_at": self.generated_at,
            "summary": self.summary(findings),
            "known": sorted(self.known),
            "worsened": sorted(self.worsened),
            "new": [f.fingerprint for f in findings if f.fingerprint not in self.known],
            "resolved": [f.to_json() for f in self.resolved],
            **({"base": True} if self.base else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Baseline:
        return cls(
            data["source"],
            data["generated_at"],
            frozenset(data["known"]),
            frozenset(data["worsened"]),
            tuple(Finding.from_json(f) for f in data["resolved"]),
            data.get("base", False),
        )


@dataclass(frozen=True)
class Report:
    generated_at: str
    target: Target
    inventory: Inventory
    findings: list[Finding]
    excused: list[ExcusedFinding]
    checks: list[Check]
    areas: list[AreaStatus]
    window: StatisticsWindow | None  # None in an offline review
    schemas: list[SchemaSection]
    coverage: list[IndexCoverage]
    activity: list[TableActivity]
    gaps: list[CheckGap]
    plan: list[Horizon]
    elements: dict[str, str]
    scripts: Scripts
    rules: dict[str, RuleDoc]  # the rules behind the findings and checks
    thresholds: dict[str, dict[str, Any]]  # options each rule used
    config_source: str | None
    unused_excuses: list[dict[str, str]]
    collection: dict[str, Any]
    settings: dict[str, str]  # the server settings the report quotes
    rls_enabled_tables: int
    regular_tables: int
    tool_version: str = __version__
    baseline: Baseline | None = None  # set when compared with a baseline report
    not_assessed: list[NotAssessed] = dataclasses.field(default_factory=list)
    rls_coverage: list[RlsCoverage] = dataclasses.field(default_factory=list)
    query_patterns: QueryPatterns | None = None  # None: a report from before workloads
    quality: list[ColumnQuality] = dataclasses.field(default_factory=list)
    partitions: dict[str, str] = dataclasses.field(default_factory=dict)  # see partition_roots
    risks: list[RiskEntry] = dataclasses.field(default_factory=list)
    verification: Verification | None = None  # check --verify-fixes

    @property
    def review(self) -> bool:
        return self.target.mode == REVIEW

    def worst_severity(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)

    def statements_not_checked(self) -> int:
        """A review's statements that the server could not check (it lacks an extension
        they need), counted with those that needed them: none of their objects is judged."""
        return sum(entry.get(STATEMENTS_NOT_CHECKED, 0) for entry in self.collection["skipped"])

    def not_checked_summary(self) -> str | None:
        """One line saying what a review could not check, and how to check it."""
        count = self.statements_not_checked()
        if not count:
            return None
        roots = [e for e in self.collection["skipped"] if e.get(STATEMENTS_NOT_CHECKED)]
        lacking = [e for e in roots if not e.get(CHECK_INSTEAD)]
        elsewhere = [e for e in roots if e.get(CHECK_INSTEAD)]  # another server would not help
        groups: list[tuple[int, str]] = []  # (statements, why and what to do)
        if lacking:
            causes = [f"{e.get('because') or 'not available'} ({e['object']})" for e in lacking]
            shown = ", ".join(causes[:3]) + (", ..." if len(causes) > 3 else "")
            lacked = sum(e[STATEMENTS_NOT_CHECKED] for e in lacking)
            need = "they need" if lacked > 1 else "it needs"
            advice = "review them with --server on a server that has it"
            groups.append((lacked, f"as the server lacks what {need}: {shown}; {advice}"))
        for e in elsewhere:
            groups.append((e[STATEMENTS_NOT_CHECKED], f"as {e['because']}; {e[CHECK_INSTEAD]}"))
        if len(groups) == 1:
            return f"{plural(count, 'statement')} not checked, {groups[0][1]}"
        return f"{plural(count, 'statement')} not checked: " + "; ".join(
            f"{number} {why}" for number, why in groups
        )

    def counted_findings(self) -> list[Finding]:
        """What --fail-on judges: every finding, or with a baseline the new ones and the
        known ones that got more severe."""
        if self.baseline is None:
            return self.findings
        return [f for f in self.findings if self.baseline.counts(f)]

    def worst_counted_severity(self) -> Severity | None:
        return max((f.severity for f in self.counted_findings()), default=None)

    def to_json(self, *, lazy: bool = False) -> dict[str, Any]:
        """`pgvitals-report/1`: SPEC §4's fields, then everything needed to render again.
        `lazy`: the long lists (findings, table rows of the sections) as iterators that
        convert one element at a time, for a writer that streams them (the whole report
        as dicts is twice the memory of the analysis at 10,000 tables)."""
        data = self._to_json(lazy)
        if self.baseline is not None:
            data["baseline"] = self.baseline.to_json(self.findings)
        return data

    def _to_json(self, lazy: bool) -> dict[str, Any]:
        def each(convert: Callable[[Any], Any], items: Iterable[Any]) -> Any:
            return map(convert, items) if lazy else [convert(item) for item in items]

        return {
            "format": REPORT_FORMAT,
            "tool": {"name": "pgvitals", "version": self.tool_version},
            "generated_at": self.generated_at,
            "target": plain(self.target),
            "summary": {
                "schemas": self.inventory.schemas,
                "tables": self.inventory.tables,
                "rows_estimate": self.inventory.rows_estimate,
                "findings_by_severity": self.inventory.findings_by_severity,
                "excused": self.inventory.excused,
            },
            "findings": each(Finding.to_json, self.findings),
            "excused": each(ExcusedFinding.to_json, self.excused),  # all of them, at times
            "checks": [check.to_json() for check in self.checks],
            "collection": self.collection,
            "config": {
                "source": self.config_source,
                "thresholds": self.thresholds,
                "unused_excuses": self.unused_excuses,
            },
            "sections": {
                "inventory": plain(self.inventory),
                "areas": plain(self.areas),
                "window": plain(self.window),
                # a schema's relationships, 100,000s at scale, converted one at a time too
                "schemas": each(streamed if lazy else plain, self.schemas),
                "coverage": each(plain, self.coverage),
                "activity": each(plain, self.activity),
                "gaps": plain(self.gaps),
                "plan": each(plain, self.plan),
                "elements": self.elements,
                "rules": plain(self.rules),
                "settings": self.settings,
                "rls_enabled_tables": self.rls_enabled_tables,
                "regular_tables": self.regular_tables,
                "not_assessed": [dataclasses.asdict(n) for n in self.not_assessed],
                "rls_coverage": [dataclasses.asdict(r) for r in self.rls_coverage],
                "query_patterns": plain(self.query_patterns),
                "quality": plain(self.quality),
                "partitions": self.partitions,
                "risks": plain(self.risks),
                "verification": self.verification.to_json() if self.verification else None,
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        """A report saved as JSON, ready to render again (raises KeyError/TypeError/
        ValueError when it is not a complete pgvitals-report/1)."""
        sections = data["sections"]
        findings = [Finding.from_json(f) for f in data["findings"]]
        return cls(
            generated_at=data["generated_at"],
            target=revive(Target, data["target"]),
            inventory=revive(Inventory, sections["inventory"]),
            findings=findings,
            excused=[
                ExcusedFinding(Finding.from_json(e), e["excused_because"], e["excused_by"])
                for e in data.get("excused", [])
            ],
            checks=[revive(Check, c) for c in data["checks"]],
            areas=[revive(AreaStatus, a) for a in sections["areas"]],
            window=revive(StatisticsWindow, sections["window"]) if sections["window"] else None,
            schemas=[revive(SchemaSection, s) for s in sections["schemas"]],
            coverage=[revive(IndexCoverage, c) for c in sections["coverage"]],
            activity=[revive(TableActivity, a) for a in sections["activity"]],
            gaps=[revive(CheckGap, g) for g in sections["gaps"]],
            plan=[revive(Horizon, h) for h in sections["plan"]],
            elements=dict(sections["elements"]),
            scripts=fix_scripts(
                findings, server_of(data["target"]), sections["inventory"].get("migrations", ())
            ),
            rules={k: revive(RuleDoc, v) for k, v in sections["rules"].items()},
            thresholds=data["config"]["thresholds"],
            config_source=data["config"]["source"],
            unused_excuses=data["config"]["unused_excuses"],
            collection=data["collection"],
            settings=sections["settings"],
            rls_enabled_tables=sections["rls_enabled_tables"],
            regular_tables=sections["regular_tables"],
            tool_version=data["tool"]["version"],
            baseline=Baseline.from_json(data["baseline"]) if data.get("baseline") else None,
            not_assessed=[revive(NotAssessed, n) for n in sections.get("not_assessed", [])],
            rls_coverage=[revive(RlsCoverage, r) for r in sections.get("rls_coverage", [])],
            query_patterns=revive(QueryPatterns, sections.get("query_patterns")),
            quality=[revive(ColumnQuality, q) for q in sections.get("quality", [])],
            partitions=dict(sections.get("partitions", {})),
            risks=[revive(RiskEntry, r) for r in sections.get("risks", [])],
            verification=Verification.from_json(sections["verification"])
            if sections.get("verification")
            else None,
        )


_SCALARS = frozenset({str, int, float, bool, type(None)})


def plain(value: Any) -> Any:
    """Dataclasses (and the lists, tuples and dicts holding them) as JSON values; like
    dataclasses.asdict without its deep copy of every value, and with the fields that
    only hold scalars copied without a look (100,000s of table rows at scale)."""
    kind = type(value)
    if kind in _SCALARS or isinstance(value, Enum):
        return value
    if kind is list or kind is tuple:
        return [plain(item) for item in value]
    if kind is dict:
        return {key: plain(item) for key, item in value.items()}
    scalar, read_scalars, nested = _fields_of(kind)
    row = dict(zip(scalar, read_scalars(value), strict=True))
    for name in nested:
        row[name] = plain(getattr(value, name))
    return row


class Streamed(dict[str, Any]):
    """A JSON object whose lists of dataclasses are iterators that convert one element
    at a time (see `streamed`), for a writer that streams them as json writes lists."""


def streamed(value: Any) -> Streamed:
    """`plain(value)` of a dataclass, with its fields that hold a list (or tuple) of
    dataclasses left as iterators over their elements, each converted when read."""
    scalar, read_scalars, nested = _fields_of(type(value))
    row = Streamed(zip(scalar, read_scalars(value), strict=True))
    for name in nested:
        item = getattr(value, name)
        row[name] = map(plain, item) if type(item) in (list, tuple) else plain(item)
    return row


@functools.cache
def _fields_of(
    cls: type,
) -> tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]], tuple[str, ...]]:
    """(fields whose declared type is a scalar, what reads them all at once as a tuple,
    the other fields) of a dataclass."""
    hints = typing.get_type_hints(cls)
    scalar, nested = [], []
    for item in dataclasses.fields(cls):
        (scalar if _only_scalars(hints[item.name]) else nested).append(item.name)
    getter = operator.attrgetter(*scalar) if scalar else (lambda value: ())
    read = getter if len(scalar) != 1 else (lambda value: (getter(value),))
    return tuple(scalar), read, tuple(nested)


def _only_scalars(hint: Any) -> bool:
    """Does this type hold only JSON scalars (tuples and lists of them included, which
    json writes as arrays as they are)?"""
    if hint in _SCALARS:
        return True
    args = [arg for arg in typing.get_args(hint) if arg is not Ellipsis]
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType, list, tuple):
        return bool(args) and all(_only_scalars(arg) for arg in args)
    return False


def server_of(target: dict[str, Any]) -> ServerInfo:
    """The server facts the fix script's header names, from a saved report's target."""
    return ServerInfo(
        version_num=0,
        version=target["server_version"],
        database=target["database"],
        current_user="",
        is_superuser=False,
        in_recovery=False,
        collected_at=target["collected_at"],
        postmaster_start_time=target["collected_at"],
        stats_reset=target["stats_reset"],
        settings={},
        search_path=target.get("search_path"),
    )


def revive(cls: Any, data: Any) -> Any:
    """Rebuild a dataclass (and the dataclasses, tuples and lists inside it) from the
    plain values `dataclasses.asdict` made of it."""
    if data is None:
        return None
    hints = typing.get_type_hints(cls)
    values = {}
    for item in dataclasses.fields(cls):
        if item.name in data:
            values[item.name] = _revive_value(hints[item.name], data[item.name])
    return cls(**values)


def _revive_value(hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if value is None:
        return None
    if origin in (typing.Union, types.UnionType):
        inner = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _revive_value(inner[0], value) if len(inner) == 1 else value
    if dataclasses.is_dataclass(hint):
        return revive(hint, value)
    if origin in (tuple, list):
        args = [arg for arg in typing.get_args(hint) if arg is not Ellipsis]
        items = [_revive_value(args[0], v) if args else v for v in value]
        return tuple(items) if origin is tuple else items
    return value


def build_report(
    analysis: Analysis, connection: str | None = None, baseline: Baseline | None = None
) -> Report:
    snap = analysis.snapshot
    snap.facts.forget_rule_lookups()  # the rules are done: the report reuses that memory
    window = None if analysis.mode == REVIEW else statistics_window(snap.server)
    rule_ids = {c.rule for c in analysis.checks} | {f.rule for f in analysis.findings}
    summary = inventory(analysis)
    return Report(
        generated_at=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        target=Target(
            database=snap.server.database,
            server_version=snap.server.version,
            connection=connection,
            mode=analysis.mode,
            collected_at=snap.server.collected_at,
            stats_reset=snap.server.stats_reset,
            search_path=snap.server.search_path,
        ),
        inventory=summary,
        findings=analysis.findings,
        excused=[ExcusedFinding(e.finding, e.reason, e.source) for e in analysis.excused],
        checks=analysis.checks,
        areas=area_statuses(analysis, window),
        window=window,
        schemas=schema_sections(snap),
        coverage=index_coverage(snap),
        activity=table_activity(snap, analysis.findings),
        gaps=check_gaps(analysis),
        plan=action_plan(analysis.findings),
        elements={
            element: element_status(analysis, rule_ids)
            for element, rule_ids in MISSING_ELEMENT_RULES.items()
        },
        scripts=fix_scripts(analysis.findings, snap.server, summary.migrations),
        rules={
            rule_id: RuleDoc(
                rule_id,
                REGISTRY[rule_id].title,
                REGISTRY[rule_id].category.value,
                REGISTRY[rule_id].severity.value,
                REGISTRY[rule_id].summary,
                REGISTRY[rule_id].section("Why it breaks"),
                ruledocs.compose(REGISTRY[rule_id]),
            )
            for rule_id in sorted(rule_ids)
            if rule_id in REGISTRY
        },
        thresholds=analysis.thresholds(),
        config_source=analysis.config.source,
        unused_excuses=plain(analysis.unused_excuses),
        collection={
            "catalog_queries": snap.collection.catalog_queries,
            "data_queries": snap.collection.data_queries,
            "duration_ms": snap.collection.duration_ms,
            "data_profiled": snap.collection.data_profiled,
            "skipped": snap.collection.skipped,
            "interrupted": snap.collection.interrupted,
            # whether this run's row reads add to the scan counters (False: switched off
            # for the session), and how many earlier runs' the history left out
            "own_reads_counted": snap.collection.own_reads_counted,
            "own_reads_left_out_of_runs": snap.collection.own_reads_left_out,
            "role": snap.server.current_user,
        },
        settings={"track_counts": snap.server.settings.get("track_counts", "on")},
        rls_enabled_tables=sum(1 for t in snap.tables if t.is_regular and t.rls_enabled),
        regular_tables=sum(1 for t in snap.tables if t.is_regular),
        baseline=baseline,
        not_assessed=analysis.not_assessed,
        rls_coverage=rls_matrix(analysis),
        query_patterns=query_patterns(snap, analysis.findings),
        quality=data_quality(snap, analysis.findings),
        partitions=partition_roots(snap),
        risks=risk_assessment(analysis.findings),
    )


def rls_matrix(analysis: Analysis) -> list[RlsCoverage]:
    """The RLS coverage matrix (table x command: who, by which policy), without the
    tables a platform manages unless those are assessed too."""
    facts = analysis.snapshot.facts
    managed = {} if analysis.config.include_managed else facts.managed_schemas
    rows = [row for row in facts.rls_coverage.values() if row.schema not in managed]
    return sorted(rows, key=lambda row: (row.schema, row.name))
