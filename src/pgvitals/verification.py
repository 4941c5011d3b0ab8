"""What `check --verify-fixes` found (see verify.py, which runs it): plain data the
report carries, renders and saves in its JSON, so a saved report shows it again."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

RESOLVED, REMAINS, NOT_REPRODUCED = "resolved", "remains", "not reproduced"
OUTCOMES = (RESOLVED, REMAINS, NOT_REPRODUCED)
FIX, ROLLBACK = "fix", "rollback"


@dataclass(frozen=True)
class FailedStatement:
    """A statement of fix.sql or rollback.sql that PostgreSQL rejected."""

    script: str  # fix or rollback
    line: int  # where the statement begins in its script
    fix_for: str  # the script's label above it: "rule: object"
    statement: str  # its first line
    sqlstate: str
    message: str  # PostgreSQL's own


@dataclass(frozen=True)
class VerifiedFinding:
    """A finding of the report that comes with a fix, and what the fix did to it."""

    rule: str
    object: str
    severity: str
    fingerprint: str
    outcome: str  # resolved, remains, not reproduced (the copy does not show it)


@dataclass(frozen=True)
class Verification:
    copied_into: str  # "a throwaway PostgreSQL 16.2"
    fix_statements: int
    rollback_statements: int
    failures: tuple[FailedStatement, ...]
    findings: tuple[VerifiedFinding, ...]  # every finding with a fix, in report order
    appeared: tuple[VerifiedFinding, ...]  # found on the copy after the fix, not before
    restored: bool  # the schema after the rollback dumps as before the fix
    difference: tuple[str, ...]  # the start of the dumps' difference when not restored
    copy_failures: tuple[str, ...] = ()  # statements of the schema copy PostgreSQL rejected
    error: str | None = None  # the verification could not be done, and why
    duration_ms: int = 0

    def with_outcome(self, outcome: str) -> list[VerifiedFinding]:
        return [f for f in self.findings if f.outcome == outcome]

    @property
    def resolved(self) -> list[VerifiedFinding]:
        return self.with_outcome(RESOLVED)

    @property
    def remaining(self) -> list[VerifiedFinding]:
        return self.with_outcome(REMAINS)

    @property
    def not_reproduced(self) -> list[VerifiedFinding]:
        return self.with_outcome(NOT_REPRODUCED)

    @property
    def passed(self) -> bool:
        """Every statement ran, every finding the copy shows is gone, and the rollback
        brought the schema back."""
        return self.error is None and not self.failures and not self.remaining and self.restored

    def summary(self) -> str:
        """One line: "fix.sql: 42 statements, 0 failed; 30 findings resolved, ..."."""
        if self.error is not None:
            return f"not verified: {self.error}"
        failed = sum(1 for f in self.failures if f.script == FIX)
        rolled = sum(1 for f in self.failures if f.script == ROLLBACK)
        return (
            f"fix.sql: {self.fix_statements:,} statements, {failed:,} failed; "
            f"{len(self.resolved):,} findings resolved, {len(self.remaining):,} remain, "
            f"{len(self.not_reproduced):,} not reproduced on a schema-only copy"
            # a fix can bring one to light (a type fixed: now a foreign key is inferable)
            + (f", {len(self.appeared):,} new after the fixes" if self.appeared else "")
            + "; "
            f"rollback.sql: {self.rollback_statements:,} statements, {rolled:,} failed, "
            + ("schema restored" if self.restored else "schema NOT restored")
        )

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "passed": self.passed, "summary": self.summary()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Verification:
        return cls(
            copied_into=data["copied_into"],
            fix_statements=data["fix_statements"],
            rollback_statements=data["rollback_statements"],
            failures=tuple(FailedStatement(**f) for f in data["failures"]),
            findings=tuple(VerifiedFinding(**f) for f in data["findings"]),
            appeared=tuple(VerifiedFinding(**f) for f in data["appeared"]),
            restored=data["restored"],
            difference=tuple(data["difference"]),
            copy_failures=tuple(data.get("copy_failures", ())),
            error=data.get("error"),
            duration_ms=data.get("duration_ms", 0),
        )
