"""What a rule is: metadata, options, and the findings it yields.

A rule is a generator function decorated with `@rule`; its docstring is its
documentation (`pgvitals rules <id>` prints it). It yields `finding(...)` drafts;
the engine stamps them with the rule's id, category, severity and fingerprint.
"""

from __future__ import annotations

import hashlib
import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Union

from pgvitals.snapshot.model import Column, Constraint, Index, Schema, Sequence, Snapshot, Table

CRITICAL, HIGH, MEDIUM, LOW, INFO = "critical", "high", "medium", "low", "info"
SEVERITIES = (CRITICAL, HIGH, MEDIUM, LOW, INFO)

INTEGRITY, INDEXES, MAINTENANCE, ACTIVITY = "integrity", "indexes", "maintenance", "activity"
QUALITY, SECURITY, NAMING = "quality", "security", "naming"
CATEGORIES = {
    INTEGRITY: "Integrity",
    INDEXES: "Indexes",
    MAINTENANCE: "Maintenance",
    ACTIVITY: "Activity",
    QUALITY: "Data quality",
    SECURITY: "Security",
    NAMING: "Documentation & naming",
}

# How a rule uses table rows (SPEC: --no-data skips every rule that reads them).
NO_ROWS, ROWS_OPTIONAL, ROWS_REQUIRED = "none", "optional", "required"

DOC_SECTIONS = ("Why it breaks", "Fix")

Subject = Union[Schema, Table, Column, Index, Constraint, Sequence]  # noqa: UP007 (a runtime alias on 3.10)


def severity_rank(severity: str) -> int:
    """0 for critical ... 4 for info: lower is worse."""
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class Option:
    name: str
    default: Any
    help: str


class Options:
    """A rule's thresholds: declared defaults overlaid with the user's config."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = dict(values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)


@dataclass(frozen=True)
class Draft:
    """What a rule yields; the engine completes it into a Finding."""

    subject: Subject
    message: str
    evidence: dict[str, Any]
    fix: str | None
    rollback: str | None
    severity: str | None


def finding(
    subject: Subject,
    message: str,
    *,
    evidence: dict[str, Any] | None = None,
    fix: str | None = None,
    rollback: str | None = None,
    severity: str | None = None,
) -> Draft:
    """A finding about `subject`; `severity` overrides the rule's default with evidence."""
    if severity is not None and severity not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}")
    return Draft(subject, message, evidence or {}, fix, rollback, severity)


Check = Callable[[Snapshot, Options], Iterator[Draft]]


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    severity: str
    title: str
    check: Check
    options: tuple[Option, ...] = ()
    rows: str = NO_ROWS
    uses_statistics: bool = False  # needs live pg_stat_* counters (not in `review`)

    @property
    def doc(self) -> str:
        return inspect.cleandoc(self.check.__doc__ or "")

    @property
    def summary(self) -> str:
        return self.doc.splitlines()[0] if self.doc else self.title

    def section(self, heading: str) -> str:
        """The text under `## heading` in the docstring."""
        match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", self.doc, re.M | re.S)
        return match.group(1).strip() if match else ""

    def default_options(self) -> dict[str, Any]:
        return {option.name: option.default for option in self.options}


REGISTRY: dict[str, Rule] = {}


def rule(
    rule_id: str,
    *,
    category: str,
    severity: str,
    title: str,
    options: tuple[Option, ...] = (),
    rows: str = NO_ROWS,
    uses_statistics: bool = False,
) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        if rule_id != check.__name__.replace("_", "-"):
            raise ValueError(f"rule {rule_id!r} must be defined by a function named like it")
        if rule_id in REGISTRY:
            raise ValueError(f"rule {rule_id!r} is defined twice")
        REGISTRY[rule_id] = Rule(
            rule_id, category, severity, title, check, options, rows, uses_statistics
        )
        return check

    return register


@dataclass(frozen=True)
class Finding:
    rule: str
    category: str
    severity: str
    schema: str | None
    table: str | None
    column: str | None
    object: str
    message: str
    evidence: dict[str, Any]
    fix: str | None
    rollback: str | None
    fingerprint: str
    refs: dict[str, str] = field(default_factory=dict)  # index, constraint, sequence, ...

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "category": self.category,
            "severity": self.severity,
            "schema": self.schema,
            "table": self.table,
            "column": self.column,
            **self.refs,
            "object": self.object,
            "message": self.message,
            "evidence": self.evidence,
            "fix": self.fix,
            "rollback": self.rollback,
            "fingerprint": self.fingerprint,
        }


def locate(subject: Subject) -> tuple[dict[str, str | None], dict[str, str], str]:
    """(schema/table/column, extra object references, the object's display name)."""
    if isinstance(subject, Schema):
        return {"schema": subject.name, "table": None, "column": None}, {}, subject.name
    if isinstance(subject, Table):
        return (
            {"schema": subject.schema, "table": subject.name, "column": None},
            {},
            (subject.qualname),
        )
    if isinstance(subject, Column):
        return (
            {"schema": subject.schema, "table": subject.table, "column": subject.name},
            {},
            subject.qualname,
        )
    if isinstance(subject, Index):
        return (
            {"schema": subject.schema, "table": subject.table, "column": None},
            {"index": subject.name},
            subject.qualname,
        )
    if isinstance(subject, Constraint):
        return (
            {"schema": subject.schema, "table": subject.table, "column": None},
            {"constraint": subject.name},
            subject.qualname,
        )
    if isinstance(subject, Sequence):
        return (
            {"schema": subject.schema, "table": None, "column": None},
            {"sequence": subject.name},
            subject.qualname,
        )
    raise TypeError(f"a finding cannot be about a {type(subject).__name__}")


def fingerprint(rule_id: str, subject: Subject, object_name: str) -> str:
    """Stable across runs and restores: rule, kind of object and its name, no OIDs."""
    key = f"{rule_id}\x00{type(subject).__name__}\x00{object_name}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def complete(rule_def: Rule, draft: Draft, severity_override: str | None) -> Finding:
    where, refs, object_name = locate(draft.subject)
    return Finding(
        rule=rule_def.id,
        category=rule_def.category,
        severity=severity_override or draft.severity or rule_def.severity,
        object=object_name,
        message=draft.message,
        evidence=draft.evidence,
        fix=draft.fix,
        rollback=draft.rollback,
        fingerprint=fingerprint(rule_def.id, draft.subject, object_name),
        refs=refs,
        **where,
    )
