"""What the Markdown and HTML reports show, laid out: findings grouped as a reader
takes them in, the largest tables first, the risk matrix.

One group per rule and severity: the findings share a cause, so the rule's rationale
is said once, the evidence every finding shares is said once, and only the evidence
that tells the objects apart becomes columns of one table. A rule's findings on the
partitions of one partitioned table share a row, which names every partition. Groups
come worst first, then the most widespread. Every object stays listed.

Nothing here is a verdict: the grouping reads the findings and the report's map of
partitions, and computes no severity."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pgvitals import report as rp
from pgvitals.findings import SEVERITIES, Finding, Severity
from pgvitals.fmt import evidence_value
from pgvitals.report import Report

# Evidence keys shown as columns at most; the others stay in the JSON report.
MAX_COLUMNS = 5
# Values longer than this are cut in a table cell (the JSON report has them whole).
MAX_CELL = 160


@dataclass(frozen=True)
class Row:
    """One line of a group's table: a finding, or a rule's findings on the partitions
    of one partitioned table (`parent`)."""

    findings: tuple[Finding, ...]
    parent: str | None = None

    @property
    def first(self) -> Finding:
        return self.findings[0]

    @property
    def label(self) -> str:
        if self.parent is None:
            return self.first.object
        return f"{self.parent} ({len(self.findings):,} partitions)"

    @property
    def partition_objects(self) -> tuple[str, ...]:
        return tuple(f.object for f in self.findings) if self.parent else ()

    def cell(self, key: str) -> str:
        """The evidence under `key`, readable; over partitions, the value they share or
        the range of their values."""
        values = [f.evidence.get(key) for f in self.findings]
        if all(value == values[0] for value in values):
            return shorten(evidence_value(values[0], key))
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if len(numbers) == len(values):
            low, high = min(numbers), max(numbers)
            return f"{evidence_value(low, key)} to {evidence_value(high, key)}"
        distinct = len({repr(v) for v in values})
        return shorten(f"{evidence_value(values[0], key)}, … ({distinct:,} values)")

    def message(self) -> str:
        if self.parent is None or all(f.message == self.first.message for f in self.findings):
            return self.first.message
        return f"{self.first.message} (and the like on each partition)"


@dataclass(frozen=True)
class Group:
    rule: str
    severity: Severity
    title: str
    why: str
    summary: str  # the rule's one-line summary
    findings: tuple[Finding, ...]
    rows: tuple[Row, ...]
    columns: tuple[str, ...]  # evidence keys whose values tell the rows apart
    common: tuple[tuple[str, Any], ...]  # evidence every finding shares, said once
    message: str | None  # the message, when every finding has the same one
    numeric_columns: frozenset[str] = frozenset()  # columns of numbers only (aligned right)

    @property
    def count(self) -> int:
        return len(self.findings)

    @property
    def anchor(self) -> str:
        return f"{self.severity.value}-{self.rule}"

    @property
    def with_fix(self) -> list[Finding]:
        return [f for f in self.findings if f.fix]

    @property
    def objects(self) -> list[str]:
        return [f.object for f in self.findings]

    def numeric(self, key: str) -> bool:
        """Does the column hold numbers only (aligned right)?"""
        return key in self.numeric_columns


def shorten(text: str, limit: int = MAX_CELL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def group_findings(report: Report, findings: list[Finding] | None = None) -> list[Group]:
    """`findings` (the report's by default) grouped by rule and severity, worst and
    most widespread first."""
    by_key: dict[tuple[Severity, str], list[Finding]] = {}
    for item in report.findings if findings is None else findings:
        by_key.setdefault((item.severity, item.rule), []).append(item)
    groups = [make_group(report, items) for items in by_key.values()]
    groups.sort(key=lambda g: (g.severity.rank, -g.count, g.rule))
    return groups


def make_group(report: Report, findings: list[Finding]) -> Group:
    first = findings[0]
    doc = report.rules.get(first.rule)
    rows = partition_rows(findings, report.partitions)
    columns, common = split_evidence(findings)
    messages = {f.message for f in findings}
    return Group(
        rule=first.rule,
        severity=first.severity,
        title=doc.title if doc else first.rule,
        why=doc.why if doc else "",
        summary=doc.summary if doc else "",
        findings=tuple(findings),
        rows=tuple(rows),
        columns=columns,
        common=common,
        message=first.message if len(messages) == 1 else None,
        numeric_columns=frozenset(key for key in columns if numbers_only(findings, key)),
    )


def numbers_only(findings: list[Finding], key: str) -> bool:
    values = [f.evidence.get(key) for f in findings]
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return bool(numbers) and len(numbers) == sum(1 for v in values if v is not None)


def partition_rows(findings: list[Finding], partitions: dict[str, str]) -> list[Row]:
    """A row per finding, but one per partitioned table for the findings on two or more
    of its partitions; in the order of each row's first finding."""
    families: dict[str, list[Finding]] = {}
    for item in findings:
        root = partition_root(item, partitions)
        if root is not None:
            families.setdefault(root, []).append(item)
    rows: list[Row] = []
    placed: set[str] = set()
    for item in findings:
        root = partition_root(item, partitions)
        if root is not None and len(families[root]) > 1:
            if root not in placed:
                placed.add(root)
                rows.append(Row(tuple(families[root]), root))
        else:
            rows.append(Row((item,)))
    return rows


def partition_root(item: Finding, partitions: dict[str, str]) -> str | None:
    if item.schema is None or item.table is None:
        return None
    return partitions.get(f"{item.schema}.{item.table}")


def split_evidence(findings: list[Finding]) -> tuple[tuple[str, ...], tuple[tuple[str, Any], ...]]:
    """(the evidence keys whose values differ between the findings, at most MAX_COLUMNS
    in the rule's own order; the keys and values every finding shares). With one
    finding everything is its own: all columns, nothing common."""
    keys: list[str] = []
    for item in findings:
        keys += [key for key in item.evidence if key not in keys]
    if len(findings) == 1:
        return tuple(keys[:MAX_COLUMNS]), ()
    columns, common = [], []
    for key in keys:
        values = [item.evidence.get(key) for item in findings]
        if all(value == values[0] for value in values):
            if values[0] not in (None, [], {}, ""):
                common.append((key, values[0]))
        elif len(columns) < MAX_COLUMNS:
            columns.append(key)
    return tuple(columns), tuple(common)


def column_title(key: str) -> str:
    """`dead_ratio` -> "dead ratio"."""
    return re.sub(r"_+", " ", key).strip()


def severity_groups(groups: list[Group], severities: tuple[str, ...]) -> list[Group]:
    return [g for g in groups if g.severity.value in severities]


SERIOUS = ("critical", "high")
LESSER = tuple(s for s in SEVERITIES if s not in SERIOUS)


# --- the other sections ----------------------------------------------------------------

# Rows of the long per-table tables (index coverage, activity) shown in Markdown; the
# HTML report has every row, folded, and the JSON report has them all.
TOP_TABLES = 50
# Groups named under "what matters most" in the executive summary.
TOP_GROUPS = 5


def top_groups(groups: list[Group], limit: int = TOP_GROUPS) -> list[Group]:
    """What matters most: the first groups at medium severity or worse."""
    return [g for g in groups if g.severity >= Severity.MEDIUM][:limit]


def largest_first(coverage: list[rp.IndexCoverage]) -> list[rp.IndexCoverage]:
    """Tables by their size, tables and indexes together; unknown sizes last."""
    return sorted(
        coverage,
        key=lambda c: (
            c.table_bytes is None,
            -((c.table_bytes or 0) + (c.index_bytes or 0)),
            -c.rows_estimate,
            c.table,
        ),
    )


def risk_matrix(risks: list[rp.RiskEntry]) -> list[tuple[str, list[list[rp.RiskEntry]]]]:
    """Rows of impact (severe first) by columns of probability (rare first), each cell
    the rules that fall in it."""
    cells: dict[tuple[int, int], list[rp.RiskEntry]] = {}
    for entry in risks:
        cells.setdefault((entry.impact, entry.probability), []).append(entry)
    return [
        (
            rp.IMPACT_LEVELS[impact - 1],
            [cells.get((impact, probability), []) for probability in range(1, 6)],
        )
        for impact in range(5, 0, -1)
    ]


@dataclass(frozen=True)
class ReportView:
    """Everything both reports lay out, computed once from the Report."""

    groups: list[Group]  # every finding, grouped
    serious: list[Group]  # critical and high: "critical flaws", in full
    lesser: list[tuple[str, list[Group]]]  # (severity, groups) for medium, low, info
    top: list[Group]
    quality: list[Group]
    coverage: list[rp.IndexCoverage]  # largest first
    totals: rp.CoverageTotals
    active: list[rp.TableActivity]  # busiest first
    idle: list[str]
    max_writes: int
    matrix: list[tuple[str, list[list[rp.RiskEntry]]]]


def layout(report: Report) -> ReportView:
    groups = group_findings(report)
    quality = [g for g in groups if g.findings[0].category.value == "quality"]
    active = [row for row in report.activity if not row.idle]
    return ReportView(
        groups=groups,
        serious=severity_groups(groups, SERIOUS),
        lesser=[(s, found) for s in LESSER if (found := severity_groups(groups, (s,)))],
        top=top_groups(groups),
        quality=quality,
        coverage=largest_first(report.coverage),
        totals=rp.coverage_totals(report.coverage),
        active=active,
        idle=[row.table for row in report.activity if row.idle],
        max_writes=max((row.writes for row in active), default=0),
        matrix=risk_matrix(report.risks),
    )
