"""What a rule is: metadata, typed options, what it needs, and the findings it yields.

A rule is a generator function decorated with `@rule`; its docstring is its
documentation (`pgvitals rules <id>` prints it). It yields `finding(...)` drafts;
the engine stamps them with the rule's id, category, severity and fingerprint.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from pgvitals.findings import (
    CATEGORIES,
    SEVERITIES,
    Category,
    Finding,
    Fix,
    Located,
    Severity,
    Subject,
    fingerprint,
    severity_rank,
)
from pgvitals.snapshot.model import Snapshot

CRITICAL, HIGH, MEDIUM, LOW, INFO = (
    Severity.CRITICAL,
    Severity.HIGH,
    Severity.MEDIUM,
    Severity.LOW,
    Severity.INFO,
)
INTEGRITY, INDEXES, MAINTENANCE, ACTIVITY = (
    Category.INTEGRITY,
    Category.INDEXES,
    Category.MAINTENANCE,
    Category.ACTIVITY,
)
QUALITY, SECURITY, NAMING, WORKLOAD = (
    Category.QUALITY,
    Category.SECURITY,
    Category.NAMING,
    Category.WORKLOAD,
)

# How a rule uses table rows (SPEC: --no-data skips every rule that reads them).
NO_ROWS, ROWS_OPTIONAL, ROWS_REQUIRED = "none", "optional", "required"

DOC_SECTIONS = ("Why it breaks", "Fix")

__all__ = [
    "CATEGORIES",
    "SEVERITIES",
    "Category",
    "Finding",
    "Fix",
    "Located",
    "Severity",
    "severity_rank",
]


def option(default: Any, help: str) -> Any:
    """A threshold of a rule: a field of its options dataclass, with its help text."""
    return dataclasses.field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class NoOptions:
    """For rules without thresholds."""


@dataclass(frozen=True)
class Option:
    """One threshold as documented: name, default and help."""

    name: str
    default: Any
    help: str


class Draft(NamedTuple):
    """What a rule yields; the engine completes it into a Finding. (A NamedTuple: a
    run makes tens of thousands, and a frozen dataclass costs twice as much to make.)"""

    where: Located
    message: str
    evidence: dict[str, Any]
    fix: Fix | None
    severity: Severity | None


def finding(
    subject: Subject | Located,
    message: str,
    *,
    evidence: dict[str, Any] | None = None,
    fix: Fix | None = None,
    severity: str | None = None,
) -> Draft:
    """A finding about `subject`; `severity` replaces the rule's default with evidence."""
    where = subject if isinstance(subject, Located) else subject.located
    return Draft(
        where, message, evidence or {}, fix, Severity(severity) if severity is not None else None
    )


Check = Callable[[Snapshot, Any], Iterator[Draft]]
# (snapshot, options, the drafts left after suppression, the default severity as
# configured) -> the drafts to report
Regroup = Callable[[Snapshot, Any, list[Draft], Severity], Iterable[Draft]]


@dataclass(frozen=True)
class Rule:
    id: str
    category: Category
    severity: Severity
    title: str
    check: Check
    options_type: type = NoOptions
    rows: str = NO_ROWS
    uses_statistics: bool = False  # needs live pg_stat_* counters (not in `review`)
    needs: tuple[str, ...] = ()  # probes it reads (see snapshot/probes.py)
    live_only: bool = False  # judges a deployed database, not a set of files (not in `review`)
    # reads counters only a primary keeps (rows written, dead tuples, vacuum and analyze
    # times): a standby has them at zero, so on a standby it is skipped, not silent
    primary_counters: bool = False
    # what it still judges on a standby when it reads such counters only in part: there
    # it runs in part, and says so (a finding of the other part is not resolved there)
    on_standby: str | None = None
    # judges what an operator acts on without changing a library's definitions (who may
    # reach its tables, what they hold, an index beside or rebuilt): also on the tables
    # a library's migrator owns (snapshot/libraries.py), where the others are withheld
    on_library_tables: bool = False
    # what becomes of the drafts no ignore entry or COMMENT marker excused (one finding
    # for a table's many columns, say): run by the engine after suppression, so that an
    # excused object is neither counted nor listed in what it makes of the others
    regroup: Regroup | None = None

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

    @property
    def options(self) -> tuple[Option, ...]:
        return tuple(
            Option(f.name, f.default, f.metadata.get("help", ""))
            for f in dataclasses.fields(self.options_type)
        )

    def default_options(self) -> dict[str, Any]:
        return {option.name: option.default for option in self.options}

    def make_options(self, values: dict[str, Any]) -> Any:
        return self.options_type(**values)


REGISTRY: dict[str, Rule] = {}


def rule(
    rule_id: str,
    *,
    category: Category,
    severity: Severity,
    title: str,
    options: type = NoOptions,
    rows: str = NO_ROWS,
    uses_statistics: bool = False,
    needs: tuple[str, ...] = (),
    live_only: bool = False,
    primary_counters: bool = False,
    on_standby: str | None = None,
    on_library_tables: bool = False,
    regroup: Regroup | None = None,
) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        if rule_id != check.__name__.replace("_", "-"):
            raise ValueError(f"rule {rule_id!r} must be defined by a function named like it")
        if rule_id in REGISTRY:
            raise ValueError(f"rule {rule_id!r} is defined twice")
        if not dataclasses.is_dataclass(options):
            raise TypeError(f"rule {rule_id!r}: options must be a dataclass")
        REGISTRY[rule_id] = Rule(
            rule_id,
            Category(category),
            Severity(severity),
            title,
            check,
            options,
            rows,
            uses_statistics,
            tuple(needs),
            live_only,
            primary_counters,
            on_standby,
            on_library_tables,
            regroup,
        )
        return check

    return register


def complete(rule_def: Rule, draft: Draft, configured: str | None) -> Finding:
    """The finding's severity: what the rule raised or lowered from evidence, else the
    configured default, else the rule's default (config changes the default only)."""
    severity = draft.severity or (Severity(configured) if configured else rule_def.severity)
    return Finding(
        rule=rule_def.id,
        category=rule_def.category,
        severity=severity,
        where=draft.where,
        message=draft.message,
        evidence=draft.evidence,
        fix=draft.fix,
        fingerprint=fingerprint(rule_def.id, draft.where),
    )
