"""What every human-readable report says, computed once: area status, inventory,
statistics window, index coverage, table activity, relationships, action plan, and
the fix and rollback scripts. Plain data; the renderers only lay it out."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pgvitals import __version__
from pgvitals.engine import Analysis, Check
from pgvitals.fixes import one_line
from pgvitals.rules import CATEGORIES, REGISTRY, SEVERITIES, Finding
from pgvitals.rules._api import CRITICAL, HIGH, INFO, LOW, MEDIUM
from pgvitals.rules.indexes import serves_lookup_on
from pgvitals.snapshot.model import Constraint, ServerInfo, Snapshot, Table

RED, AMBER, GREEN, NOT_CHECKED = "red", "amber", "green", "not checked"

# Tables that hold rows (or are the root of a partition tree), as the JSON report counts them.
COUNTED_KINDS = ("r", "p")
# Relations whose reltuples are their own rows (a partitioned root has none of its own).
ROW_KINDS = ("r", "m")


# --- numbers -------------------------------------------------------------------------


def thousands(value: float | None) -> str:
    """12345 -> "12,345"; None -> "—" (the server keeps no such counter)."""
    if value is None:
        return "—"
    return f"{round(value):,}"


def known_sum(values: Iterable[int | None]) -> int | None:
    """The sum, or None when any part is unknown (a partial sum would mislead)."""
    total = 0
    for value in values:
        if value is None:
            return None
        total += value
    return total


def human_bytes(value: int | None) -> str:
    """Bytes in the units PostgreSQL's pg_size_pretty uses (1 kB = 1024 bytes)."""
    if value is None:
        return "—"
    size = float(value)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if abs(size) < 1024 or unit == "TB":
            return f"{value:,} bytes" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def text_bar(value: float, maximum: float, width: int = 10) -> str:
    """`█████░░░░░`: value's share of maximum; any non-zero value shows at least one block."""
    if maximum <= 0 or value <= 0:
        return "░" * width
    filled = min(width, max(1, round(width * value / maximum)))
    return "█" * filled + "░" * (width - filled)


def parse_timestamp(value: str) -> dt.datetime:
    """The snapshot's ISO 8601 timestamps ("...Z" included) as aware datetimes."""
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def short_time(value: str) -> str:
    """An ISO 8601 timestamp as "2026-11-22 12:00 UTC"."""
    return parse_timestamp(value).astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def span(start: dt.datetime, end: dt.datetime) -> str:
    """A duration in the largest unit that reads naturally: "21 days", "5 hours"."""
    seconds = max((end - start).total_seconds(), 0)
    days = int(seconds // 86_400)
    if days >= 1:
        return f"{days:,} day" + ("" if days == 1 else "s")
    hours = int(seconds // 3_600)
    if hours >= 1:
        return f"{hours} hour" + ("" if hours == 1 else "s")
    minutes = int(seconds // 60)
    return f"{minutes} minute" + ("" if minutes == 1 else "s")


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    return f"{count:,} {singular if count == 1 else plural_form or singular + 's'}"


# --- summary -------------------------------------------------------------------------


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Every severity, worst first, with its number of findings (0 included)."""
    counts = dict.fromkeys(SEVERITIES, 0)
    for item in findings:
        counts[item.severity] += 1
    return counts


def severity_line(counts: dict[str, int]) -> str:
    """Every severity with its count: "3 critical, 5 high, 0 medium, 1 low, 12 info"."""
    return ", ".join(f"{count:,} {severity}" for severity, count in counts.items())


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
    )


@dataclass(frozen=True)
class AreaStatus:
    category: str  # the rule category id
    title: str  # "Data quality"
    status: str  # red, amber, green, not checked
    reason: str
    findings: int
    checks_ran: int
    checks_total: int


def area_statuses(analysis: Analysis) -> list[AreaStatus]:
    """One per rule category: red for critical/high findings, amber for medium, green
    otherwise; "not checked" when none of the area's checks ran."""
    return [
        area_status(
            category,
            title,
            [c for c in analysis.checks if category_of(c.rule) == category],
            [f for f in analysis.findings if f.category == category],
        )
        for category, title in CATEGORIES.items()
    ]


def category_of(rule_id: str) -> str | None:
    rule_def = REGISTRY.get(rule_id)
    return rule_def.category if rule_def else None


def area_status(
    category: str, title: str, checks: list[Check], findings: list[Finding]
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
    gaps = len(checks) - len(ran)
    if gaps:
        reason += f" ({gaps:,} of {len(checks):,} checks not run)"
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


@dataclass(frozen=True)
class StatisticsWindow:
    """Since when the pg_stat_* counters (scans, writes, dead tuples) have been counting."""

    reset_at: str | None  # pg_stat_database.stats_reset; None: never reset
    postmaster_start_time: str
    collected_at: str
    days: float  # length of the known window (from reset, else from server start)
    text: str


def statistics_window(server: ServerInfo) -> StatisticsWindow:
    collected = parse_timestamp(server.collected_at)
    if server.stats_reset:
        since = parse_timestamp(server.stats_reset)
        text = f"counters since {short_time(server.stats_reset)} ({span(since, collected)})"
    else:
        since = parse_timestamp(server.postmaster_start_time)
        text = (
            "since the server's statistics were last reset: unknown (never reset) — at least "
            f"since the server started at {short_time(server.postmaster_start_time)} "
            f"({span(since, collected)})"
        )
    days = max((collected - since).total_seconds(), 0) / 86_400
    return StatisticsWindow(
        server.stats_reset, server.postmaster_start_time, server.collected_at, days, text
    )


# --- per schema ----------------------------------------------------------------------


@dataclass(frozen=True)
class SchemaOverview:
    name: str
    comment: str | None
    tables: int
    tables_commented: int
    partitioned_tables: int


def schema_overviews(snap: Snapshot) -> list[SchemaOverview]:
    result = []
    for schema in sorted(snap.schemas, key=lambda s: s.name):
        tables = [t for t in snap.tables if t.schema == schema.name and t.kind in COUNTED_KINDS]
        result.append(
            SchemaOverview(
                name=schema.name,
                comment=schema.comment,
                tables=len(tables),
                tables_commented=sum(1 for t in tables if (t.comment or "").strip()),
                partitioned_tables=sum(1 for t in tables if t.kind == "p"),
            )
        )
    return result


@dataclass(frozen=True)
class Relationship:
    """A declared foreign key: `child` rows point at one `parent` row."""

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
    declared: bool  # False for inferred references (by name), once a rule provides them


def relationships(snap: Snapshot, schema: str | None = None) -> list[Relationship]:
    """Declared foreign keys whose referencing table is in `schema` (all when None).

    Constraints a partition inherits from its partitioned parent are left out: the
    parent's constraint already says it."""
    result = []
    for fk in snap.constraints:
        if fk.kind != "f" or fk.inherited or (schema is not None and fk.schema != schema):
            continue
        if fk.ref_schema is None or fk.ref_table is None:
            continue
        result.append(relationship(snap, fk))
    return sorted(result, key=lambda r: (r.parent, r.child, r.name))


def relationship(snap: Snapshot, fk: Constraint) -> Relationship:
    columns = {c.name: c for c in snap.columns_by_table.get(fk.table_oid, [])}
    optional = any(name in columns and not columns[name].not_null for name in fk.columns)
    one_to_one = any(
        index.is_unique
        and index.is_valid
        and index.predicate is None
        and index.key_count == len(fk.columns)
        and set(index.key_columns[: index.key_count]) == set(fk.columns)
        for index in snap.indexes_by_table.get(fk.table_oid, [])
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


@dataclass(frozen=True)
class IndexCoverage:
    table: str  # qualified name
    schema: str
    name: str
    rows_estimate: int
    indexes: int
    single_column: int
    composite: int
    index_bytes: int | None
    table_bytes: int | None  # None: not known (never vacuumed or analyzed)
    foreign_keys: int
    unindexed_foreign_keys: int


def regular_tables(snap: Snapshot) -> list[Table]:
    return sorted((t for t in snap.tables if t.is_regular), key=lambda t: (t.schema, t.name, t.oid))


def index_coverage(snap: Snapshot) -> list[IndexCoverage]:
    """Per regular table: its indexes by shape and size, and the foreign keys no index
    serves (the same test the unindexed-foreign-key rule applies)."""
    partition_rows: dict[int, int] = {}  # a partitioned table's rows: its leaves' rows
    for table in snap.tables:
        if table.kind != "r" or not table.is_partition:
            continue
        rows, parent = snap.row_count(table), table.parent_oid
        while parent is not None and parent in snap.table_by_oid:
            partition_rows[parent] = partition_rows.get(parent, 0) + rows
            parent = snap.table_by_oid[parent].parent_oid
    result = []
    for table in regular_tables(snap):
        indexes = snap.indexes_by_table.get(table.oid, [])
        foreign_keys = [
            c
            for c in snap.constraints_by_table.get(table.oid, [])
            if c.kind == "f" and not c.inherited
        ]
        unindexed = [
            fk for fk in foreign_keys if not any(serves_lookup_on(i, fk.columns) for i in indexes)
        ]
        result.append(
            IndexCoverage(
                table=table.qualname,
                schema=table.schema,
                name=table.name,
                rows_estimate=partition_rows.get(table.oid, 0)
                if table.kind == "p"
                else snap.row_count(table),
                indexes=len(indexes),
                single_column=sum(1 for i in indexes if i.key_count == 1),
                composite=sum(1 for i in indexes if i.key_count > 1),
                index_bytes=known_sum(i.bytes for i in indexes),
                table_bytes=table.table_bytes,
                foreign_keys=len(foreign_keys),
                unindexed_foreign_keys=len(unindexed),
            )
        )
    return result


@dataclass(frozen=True)
class TableActivity:
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

    @property
    def writes(self) -> int:
        return (self.inserts or 0) + (self.updates or 0) + (self.deletes or 0)

    @property
    def scans(self) -> int:
        return (self.seq_scans or 0) + (self.idx_scans or 0)

    @property
    def idle(self) -> bool:
        """Neither written nor read in the statistics window."""
        return self.writes == 0 and self.scans == 0


def table_activity(snap: Snapshot) -> list[TableActivity]:
    """Per regular table, busiest writers first (then by reads, then by name)."""
    rows = [
        TableActivity(
            table=t.qualname,
            schema=t.schema,
            name=t.name,
            inserts=t.n_tup_ins,
            updates=t.n_tup_upd,
            deletes=t.n_tup_del,
            hot_updates=t.n_tup_hot_upd,
            live_tuples=t.n_live_tup,
            dead_tuples=t.n_dead_tup,
            seq_scans=t.seq_scan,
            idx_scans=t.idx_scan,
        )
        for t in regular_tables(snap)
        if t.kind == "r"  # a partitioned root has no counters of its own
    ]
    return sorted(rows, key=lambda a: (-a.writes, -a.scans, a.schema, a.name))


# --- what was not checked ------------------------------------------------------------


@dataclass(frozen=True)
class CheckGap:
    """A check that did not run (skipped or failed), or the objects one could not read."""

    rule: str
    status: str  # skipped, failed, partial
    reason: str
    objects: tuple[dict[str, str], ...]  # {"object", "reason"} for per-object skips


def check_gaps(analysis: Analysis) -> list[CheckGap]:
    gaps = []
    for check in analysis.checks:
        if check.status != "ran":
            reason = check.reason or check.status
            gaps.append(CheckGap(check.rule, check.status, reason, check.skipped_objects))
        elif check.skipped_objects:
            reason = f"ran, but could not read {plural(len(check.skipped_objects), 'table')}"
            gaps.append(CheckGap(check.rule, "partial", reason, check.skipped_objects))
    return gaps


# --- action plan ---------------------------------------------------------------------

HORIZONS = (
    ("Immediate", (CRITICAL, HIGH)),
    ("Short term", (MEDIUM,)),
    ("Medium term", (LOW,)),
    ("Long term", (INFO,)),
)


@dataclass(frozen=True)
class Action:
    rule: str
    title: str
    severity: str  # the worst severity among its findings
    objects: tuple[str, ...]
    has_fix: bool


@dataclass(frozen=True)
class Horizon:
    name: str  # Immediate, Short term, ...
    severities: tuple[str, ...]
    actions: tuple[Action, ...]


def action_plan(findings: list[Finding]) -> list[Horizon]:
    """Findings grouped by rule within each horizon; worst and most widespread first."""
    plan = []
    for name, severities in HORIZONS:
        by_rule: dict[str, list[Finding]] = {}
        for item in findings:
            if item.severity in severities:
                by_rule.setdefault(item.rule, []).append(item)
        actions = [
            Action(
                rule=rule_id,
                title=REGISTRY[rule_id].title if rule_id in REGISTRY else rule_id,
                severity=min((f.severity for f in items), key=SEVERITIES.index),
                objects=tuple(f.object for f in items),
                has_fix=any(f.fix for f in items),
            )
            for rule_id, items in by_rule.items()
        ]
        actions.sort(key=lambda a: (SEVERITIES.index(a.severity), -len(a.objects), a.rule))
        plan.append(Horizon(name, severities, tuple(actions)))
    return plan


# --- fix and rollback scripts --------------------------------------------------------

NON_BLOCKING, ADDITIVE, DESTRUCTIVE = 0, 1, 2
_CODE_LINE = re.compile(r"^(?!\s*--).*$", re.M)
_DROP = re.compile(r"\bDROP\b", re.I)
_NON_BLOCKING = re.compile(r"\bCONCURRENTLY\b|\bVACUUM\b|\bANALYZE\b", re.I)


def risk_tier(statement: str) -> int:
    """0 for work that blocks no writes (CONCURRENTLY, VACUUM, ANALYZE), 1 for additions
    (ALTER ... ADD and the rest), 2 for anything that drops something. Comment lines
    are ignored; a DROP ... CONCURRENTLY is still a drop."""
    code = "\n".join(_CODE_LINE.findall(statement))
    if _DROP.search(code):
        return DESTRUCTIVE
    if _NON_BLOCKING.search(code):
        return NON_BLOCKING
    return ADDITIVE


@dataclass(frozen=True)
class Scripts:
    fix: str
    rollback: str
    statements: int  # findings that contributed a fix


def fix_scripts(analysis: Analysis) -> Scripts:
    """The findings' fixes, low-risk first (stable within a tier: worst severity first),
    and their rollbacks in the reverse order. Excused findings contribute nothing.

    Two findings can carry the same statement (an index both duplicate and redundant):
    it is written once, so that neither script fails half-way on its second copy."""
    with_fix = [f for f in analysis.findings if f.fix]
    ordered = sorted(with_fix, key=lambda f: risk_tier(f.fix or ""))
    server = analysis.snapshot.server
    fix_parts = [script_header("Fix", server)]
    fix_parts += script_entries(ordered, lambda f: f.fix)
    if not ordered:
        fix_parts.append("-- Nothing to fix: no finding comes with a fix.\n")
    rollback_parts = [script_header("Rollback", server)]
    rollback_parts += script_entries(list(reversed(ordered)), lambda f: f.rollback)
    return Scripts("\n".join(fix_parts), "\n".join(rollback_parts), len(ordered))


def script_entries(
    findings: list[Finding], statement_of: Callable[[Finding], str | None]
) -> list[str]:
    entries = []
    first_with: dict[str, Finding] = {}
    for item in findings:
        statement = (statement_of(item) or "").strip()
        if not statement:
            body = "-- (no rollback: nothing to undo)"
        elif statement in first_with:
            earlier = first_with[statement]
            body = f"-- (same statement as for {earlier.rule}: {one_line(earlier.object)}, above)"
        else:
            first_with[statement] = item
            body = statement
        entries.append(f"{label(item)}\n{body}\n")
    return entries


def label(item: Finding) -> str:
    return f"-- {item.rule}: {one_line(item.object)}"


def script_header(kind: str, server: ServerInfo) -> str:
    order = (
        "Order: low-risk first: statements that block no writes (CONCURRENTLY, VACUUM,\n"
        "-- ANALYZE), then additions (ALTER ... ADD), then drops."
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
    )
