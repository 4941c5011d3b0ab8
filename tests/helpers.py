"""Running the real `pgvitals` command, as a user would; collecting a snapshot as it does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from pgvitals.connect import connect
from pgvitals.render.json import report_schema
from pgvitals.snapshot.collect import Opener, ProfileBudget, collect
from pgvitals.snapshot.model import Snapshot


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        return json.loads(self.stdout)


def pgvitals(
    *args: str, cwd: Path | None = None, timeout: float = 120, env: dict[str, str] | None = None
) -> Run:
    """`env`: variables set on top of this process's environment."""
    done = subprocess.run(
        [sys.executable, "-m", "pgvitals", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,  # a safety net against hangs, not a speed assertion
        env={**os.environ, **env} if env else None,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def valid_report(report: dict[str, Any]) -> dict[str, Any]:
    jsonschema.validate(report, report_schema())
    return report


def not_run(checks: list[Any]) -> list[Any]:
    """The checks (JSON entries or engine Checks) that did not run, except the workload
    rules skipped because the database has no usable pg_stat_statements: SPEC §3 has a
    check that needs a missing extension skipped with the reason, and a test database
    has the extension only where a test creates it (tests/workload)."""
    from pgvitals.findings import Category
    from pgvitals.rules import REGISTRY

    def field(check: Any, name: str) -> Any:
        return check[name] if isinstance(check, dict) else getattr(check, name)

    def no_statements(check: Any) -> bool:
        rule = REGISTRY.get(field(check, "rule"))
        return (
            rule is not None
            and rule.category == Category.WORKLOAD
            and field(check, "status") == "skipped"
            and "pg_stat_statements" in (field(check, "reason") or "")
        )

    return [c for c in checks if field(c, "status") != "ran" and not no_statements(c)]


def collected(
    dsn: str,
    schemas: tuple[str, ...] = (),
    sibling: Opener | None = None,
    profile: ProfileBudget | None = None,
) -> Snapshot:
    """A snapshot of `dsn` taken on a session of pgvitals' own kind: its catalogs, and its
    rows only when given a `profile` budget."""
    session = connect(dsn)
    try:
        return collect(session, schemas, profile=profile, sibling=sibling)
    finally:
        session.close()
