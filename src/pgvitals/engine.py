"""Run the rules over a Snapshot. A rule that raises marks its check "failed";
the other rules still run and the report is still produced."""

from __future__ import annotations

import fnmatch
import re
import time
from dataclasses import dataclass
from typing import Any

from pgvitals.config import Config
from pgvitals.rules import CATEGORIES, REGISTRY, Finding, Rule
from pgvitals.rules._api import NO_ROWS, ROWS_REQUIRED, Options, complete, severity_rank
from pgvitals.snapshot.model import Snapshot

IGNORE_MARKER = re.compile(r"pgvitals:ignore\s+([a-z0-9-]+(?:\s*,\s*[a-z0-9-]+)*)(.*)", re.I)

LIVE, REVIEW = "live", "review"


@dataclass(frozen=True)
class Check:
    rule: str
    status: str  # ran, skipped, failed
    reason: str | None
    duration_ms: int
    skipped_objects: tuple[dict[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "rule": self.rule,
            "status": self.status,
            "reason": self.reason,
            "duration_ms": self.duration_ms,
        }
        if self.skipped_objects:
            entry["skipped_objects"] = list(self.skipped_objects)
        return entry


@dataclass(frozen=True)
class Excused:
    finding: Finding
    reason: str
    source: str  # config, or the COMMENT of the object that carries the marker


@dataclass(frozen=True)
class Analysis:
    snapshot: Snapshot
    findings: list[Finding]
    excused: list[Excused]
    checks: list[Check]
    mode: str

    def worst_severity(self) -> str | None:
        if not self.findings:
            return None
        return min((f.severity for f in self.findings), key=severity_rank)


def ordered_rules() -> list[Rule]:
    category_order = list(CATEGORIES)
    return sorted(REGISTRY.values(), key=lambda r: (category_order.index(r.category), r.id))


DEFAULT_CONFIG = Config()


def analyse(snapshot: Snapshot, config: Config = DEFAULT_CONFIG, mode: str = LIVE) -> Analysis:
    findings: list[Finding] = []
    excused: list[Excused] = []
    checks: list[Check] = []
    markers = comment_markers(snapshot)
    for rule in ordered_rules():
        reason = skip_reason(rule, snapshot, config, mode)
        if reason:
            checks.append(Check(rule.id, "skipped", reason, 0))
            continue
        started = time.perf_counter()
        try:
            drafts = list(rule.check(snapshot, Options(config.options_for(rule.id))))
        except Exception as error:  # a broken rule must not take the report down
            elapsed = _ms(started)
            checks.append(Check(rule.id, "failed", f"{type(error).__name__}: {error}", elapsed))
            continue
        severity = config.severity_for(rule.id)
        for draft in drafts:
            item = complete(rule, draft, severity)
            excuse = find_excuse(item, config, markers)
            if excuse:
                excused.append(Excused(item, *excuse))
            else:
                findings.append(item)
        checks.append(Check(rule.id, "ran", None, _ms(started), unread_tables(rule, snapshot)))
    findings.sort(key=lambda f: (severity_rank(f.severity), f.category, f.rule, f.object))
    return Analysis(snapshot, findings, excused, checks, mode)


def skip_reason(rule: Rule, snapshot: Snapshot, config: Config, mode: str) -> str | None:
    if rule.id in config.disabled:
        return f"disabled in {config.source or 'configuration'}"
    if rule.rows == ROWS_REQUIRED and not snapshot.collection.data_profiled:
        return "table rows not read (--no-data)"
    if rule.uses_statistics and mode == REVIEW:
        return "needs the statistics of a live database"
    if (
        rule.rows == ROWS_REQUIRED
        and snapshot.profiles
        and all(p.status == "skipped" for p in snapshot.profiles)
    ):
        reasons = sorted({p.reason or "unknown" for p in snapshot.profiles})
        return "; ".join(reasons)
    return None


def unread_tables(rule: Rule, snapshot: Snapshot) -> tuple[dict[str, str], ...]:
    """Tables whose rows this rule wanted but could not read, and why."""
    if rule.rows == NO_ROWS:
        return ()
    return tuple(
        {"object": snapshot.table_by_oid[p.table_oid].qualname, "reason": p.reason or "unknown"}
        for p in snapshot.profiles
        if p.status == "skipped" and p.table_oid in snapshot.table_by_oid
    )


def comment_markers(snapshot: Snapshot) -> dict[tuple[str, ...], dict[str, str]]:
    """`pgvitals:ignore rule-a, rule-b  reason` in a COMMENT, keyed by the object's path:
    (schema,), (schema, table), (schema, table, column), (schema, "index", name), ..."""
    found: dict[tuple[str, ...], dict[str, str]] = {}

    def read(key: tuple[str, ...], comment: str | None) -> None:
        if not comment or "pgvitals:ignore" not in comment.lower():
            return
        for match in IGNORE_MARKER.finditer(comment):
            reason = match.group(2).strip(" :-—") or "marked in the object's comment"
            for rule_id in re.split(r"\s*,\s*", match.group(1).lower()):
                found.setdefault(key, {})[rule_id] = reason

    for schema in snapshot.schemas:
        read((schema.name,), schema.comment)
    for table in snapshot.tables:
        read((table.schema, table.name), table.comment)
    for column in snapshot.columns:
        read((column.schema, column.table, column.name), column.comment)
    for index in snapshot.indexes:
        read((index.schema, "index", index.name), index.comment)
    for constraint in snapshot.constraints:
        read(
            (constraint.schema, constraint.table, "constraint", constraint.name), constraint.comment
        )
    return found


def find_excuse(
    item: Finding, config: Config, markers: dict[tuple[str, ...], dict[str, str]]
) -> tuple[str, str] | None:
    for excuse in config.excuses:
        if excuse.rule == item.rule and fnmatch.fnmatchcase(item.object, excuse.object):
            return excuse.reason, config.source or "configuration"
    # The object's own comment first, then its table's, then its schema's.
    keys: list[tuple[str, ...]] = []
    if item.schema and item.table and item.column:
        keys.append((item.schema, item.table, item.column))
    if item.schema and "index" in item.refs:
        keys.append((item.schema, "index", item.refs["index"]))
    if item.schema and item.table and "constraint" in item.refs:
        keys.append((item.schema, item.table, "constraint", item.refs["constraint"]))
    if item.schema and item.table:
        keys.append((item.schema, item.table))
    if item.schema:
        keys.append((item.schema,))
    for key in keys:
        reason = markers.get(key, {}).get(item.rule)
        if reason:
            return (
                reason,
                f"COMMENT on {'.'.join(k for k in key if k not in ('index', 'constraint'))}",
            )
    return None


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
