"""`check --verify-fixes`: prove fix.sql and rollback.sql on a copy of the schema.

The schema (never the data) is dumped with `pg_dump --schema-only` (it takes the
ACCESS SHARE locks a SELECT takes, and writes nothing) and loaded, with the roles it
names, into a throwaway embedded server. There the rules run once, fix.sql is applied
statement by statement in autocommit mode as `psql -f` would run it (CONCURRENTLY and
VACUUM need that), the rules run again, and rollback.sql is applied. The report then
says which findings each fix resolves, which remain, every statement that failed with
PostgreSQL's message, and whether the rollback brought the schema back: the copy's
`pg_dump --schema-only` and its roles' attributes are compared with those before the
fix.

A schema-only copy has no rows and no activity: findings judged from rows or statistics
do not show on it ("not reproduced"), and a fix that the data would block there
(VALIDATE with violating rows) runs on the copy.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from pgvitals.config import Config
from pgvitals.connect import Limits, Unreachable, connect, first_line
from pgvitals.embedded import (
    EmbeddedError,
    EmbeddedServer,
    interrupt_safe,
    pg_dump,
    pgserver_bin_dir,
    system_bin_dirs,
)
from pgvitals.engine import LIVE, Analysis, analyse
from pgvitals.findings import Finding
from pgvitals.report import Report
from pgvitals.review.load import REJECTED, UNCHECKED, Loader
from pgvitals.review.restore import create_database, dump_roles, load_at_once, portable
from pgvitals.review.split import split_file
from pgvitals.rules import REGISTRY
from pgvitals.snapshot.collect import ProfileBudget, collect
from pgvitals.verification import (
    FIX,
    NOT_REPRODUCED,
    REMAINS,
    RESOLVED,
    ROLLBACK,
    FailedStatement,
    Verification,
    VerifiedFinding,
)

Progress = Callable[[str], None]
STATEMENT_TIMEOUT = "120s"
DIFFERENCE_LINES = 40
# The label fix_scripts writes above each fix: "-- rule-id: object [risk]".
LABEL = re.compile(r"^-- ([a-z0-9-]+): (.*) \[[a-z -]+\]$")
# The role attributes a fix may change (ALTER ROLE ... NOBYPASSRLS).
ROLES_QUERY = (
    "SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,"
    " rolreplication, rolbypassrls, rolconnlimit, rolconfig"
    " FROM pg_catalog.pg_roles WHERE rolname !~ '^pg_' ORDER BY rolname"
)


@dataclass(frozen=True)
class Target:
    """What was checked, and how, so the copy is checked the same way."""

    dsn: str | None
    database: str
    config: Config
    schemas: tuple[str, ...]
    probes: frozenset[str] | None
    read_rows: bool
    version_num: int = 0  # the target server's (server_version_num)


def verify_fixes(target: Target, report: Report, progress: Progress | None = None) -> Verification:
    """Run the report's scripts on a schema-only copy of the target (see the module)."""
    step = progress or (lambda message: None)
    started = time.monotonic()
    bin_dir = server_programs(target.version_num)
    try:
        step("verifying fixes: dumping the schema")
        schema = portable(pg_dump(bin_dir, target.dsn, "--schema-only"))
        roles = dump_roles(bin_dir, target.dsn)
        step("verifying fixes: starting a private PostgreSQL")
        with interrupt_safe(EmbeddedServer(bin_dir)) as server:
            verification = verify_on(server, target, report, schema, roles, step)
    except (Unreachable, EmbeddedError) as error:
        verification = not_verified(str(error))
    return _timed(verification, started)


def server_programs(version_num: int) -> Path:
    """The PostgreSQL programs for the copy: an installed server of the target's major
    version (with the extensions it has: contrib, ...) when there is one, else the
    bundled PostgreSQL 16 (pgserver)."""
    major = version_num // 10_000
    for bin_dir in system_bin_dirs():
        if bin_dir.parent.name == str(major):
            return bin_dir
    return pgserver_bin_dir()


def verify_on(
    server: EmbeddedServer,
    target: Target,
    report: Report,
    schema: str,
    roles: str,
    step: Progress,
) -> Verification:
    dsn = psycopg.conninfo.make_conninfo(server.dsn(), dbname=target.database)
    step("verifying fixes: copying the schema")
    copy_failures = load_copy(server, target.database, schema, roles)
    before_dump, before_roles = pg_dump(server.bin_dir, dsn, "--schema-only"), role_attributes(dsn)
    step("verifying fixes: checking the copy")
    before = findings_on(dsn, target, step)
    step("verifying fixes: applying fix.sql")
    fix_statements, fix_failures = apply_script(dsn, report.scripts.fix, FIX)
    step("verifying fixes: checking the fixed copy")
    after = findings_on(dsn, target, step)
    step("verifying fixes: applying rollback.sql")
    rollback_statements, rollback_failures = apply_script(dsn, report.scripts.rollback, ROLLBACK)
    after_dump, after_roles = pg_dump(server.bin_dir, dsn, "--schema-only"), role_attributes(dsn)
    difference = dump_difference(before_dump, after_dump)
    if before_roles != after_roles:
        difference.append("role attributes differ after the rollback")
    return Verification(
        copied_into=f"a throwaway PostgreSQL {server.version}",
        fix_statements=fix_statements,
        rollback_statements=rollback_statements,
        failures=(*fix_failures, *rollback_failures),
        findings=tuple(outcomes(report.findings, before, after)),
        appeared=tuple(appeared(before, after)),
        restored=not difference,
        difference=tuple(difference[:DIFFERENCE_LINES]),
        copy_failures=tuple(copy_failures),
    )


def not_verified(reason: str) -> Verification:
    return Verification("", 0, 0, (), (), (), False, (), error=reason)


def _timed(verification: Verification, started: float) -> Verification:
    elapsed = round((time.monotonic() - started) * 1000)
    return dataclasses.replace(verification, duration_ms=elapsed)


# --- the copy ------------------------------------------------------------------------


def load_copy(server: EmbeddedServer, database: str, schema: str, roles: str) -> list[str]:
    """Create `database` on the server and load the roles, then the schema into it;
    what PostgreSQL rejected or could not check (an extension this server lacks), one
    line each. The dump goes to psql whole first (10,000 tables in seconds, not
    minutes); if anything in it fails, the database is made again and loaded statement
    by statement, which tells what failed and goes on after it."""
    dsn = psycopg.conninfo.make_conninfo(server.dsn(), dbname=database)
    create_database(server.dsn(), database)
    if load_at_once(server.bin_dir / "psql", dsn, roles, schema):
        return []
    create_database(server.dsn(), database, again=True)
    return load_each(dsn, schema, roles)


def load_each(dsn: str, schema: str, roles: str) -> list[str]:
    """Load the roles, then the schema, statement by statement (review's loader)."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        loader = Loader(connection, create_roles=True)
        loader.setup()
        # roles first, so that owners and grants find them with their attributes; a
        # role that exists already (the bootstrap superuser) is not a problem of the copy
        loader.run_file(split_file(roles, "(roles)").statements)
        roles_end = len(loader.load.statements)
        loader.run_file(split_file(schema, "(pg_dump)").statements)
        load = loader.finish()
    problems = []
    for index, outcome in enumerate(load.outcomes):
        if index < roles_end or outcome.status not in (REJECTED, UNCHECKED):
            continue
        statement = load.statements[index]
        why = outcome.error.message if outcome.error else outcome.reason
        problems.append(f"{statement.first_line}: {why}")
    return problems


def role_attributes(dsn: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn, autocommit=True) as connection:
        return [tuple(row) for row in connection.execute(ROLES_QUERY).fetchall()]


def findings_on(dsn: str, target: Target, step: Progress) -> list[Finding]:
    session = connect(dsn, Limits())
    try:
        budget = ProfileBudget() if target.read_rows else None
        snapshot = collect(session, target.schemas, budget, lambda _: None, target.probes)
    finally:
        session.close()
    analysis: Analysis = analyse(snapshot, target.config, LIVE)
    return analysis.findings


# --- the scripts ---------------------------------------------------------------------


def apply_script(dsn: str, script: str, kind: str) -> tuple[int, list[FailedStatement]]:
    """Run each statement of `script` on its own in autocommit mode, going on after a
    failure as psql does without ON_ERROR_STOP; (statements run, failures)."""
    labels = label_lines(script)
    statements = split_file(script, f"{kind}.sql", trees=False).statements
    failures = []
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
        for statement in statements:
            try:
                connection.execute(statement.text)  # type: ignore[arg-type]  (the script's SQL)
            except psycopg.Error as error:
                if connection.broken or connection.closed:
                    raise
                failures.append(
                    FailedStatement(
                        script=kind,
                        line=statement.line,
                        fix_for=label_before(labels, statement.line),
                        statement=statement.first_line,
                        sqlstate=error.sqlstate or "",
                        message=error.diag.message_primary or first_line(str(error)),
                    )
                )
    return len(statements), failures


def label_lines(script: str) -> list[tuple[int, str]]:
    """(line, "rule: object") of each fix's label in a script."""
    found = []
    for number, line in enumerate(script.splitlines(), start=1):
        match = LABEL.match(line)
        if match:
            found.append((number, f"{match.group(1)}: {match.group(2)}"))
    return found


def label_before(labels: list[tuple[int, str]], line: int) -> str:
    earlier = [label for number, label in labels if number < line]
    return earlier[-1] if earlier else ""


def dump_difference(before: str, after: str) -> list[str]:
    """The lines a unified diff of two schema dumps shows, or none when they are the
    same but for what differs between any two dumps (version lines, restrict keys)."""
    old, new = normalised(before), normalised(after)
    if old == new:  # difflib would still match 100,000s of equal lines, for seconds
        return []
    diff = difflib.unified_diff(old, new, "before fix.sql", "after rollback.sql", lineterm="")
    return list(diff)


def normalised(dump: str) -> list[str]:
    lines = [
        re.sub(r"^\\(un)?restrict \S+$", r"\\\1restrict KEY", line)
        for line in dump.splitlines()
        if not line.startswith(("-- Dumped from database version", "-- Dumped by pg_dump version"))
    ]
    return with_grants_sorted(lines)


def with_grants_sorted(lines: list[str]) -> list[str]:
    """Each run of consecutive GRANT lines sorted. pg_dump prints an object's grants in
    the order of its ACL, and a GRANT appends to it: a rollback that grants back what
    the fix revoked from PUBLIC, anon and authenticated gives the same privileges in
    another order (after service_role's, which stayed). A run has one grantor (pg_dump
    switches with SET SESSION AUTHORIZATION between runs), so its order means nothing."""
    result: list[str] = []
    run: list[str] = []
    for line in lines:
        if line.startswith("GRANT "):
            run.append(line)
            continue
        result += sorted(run)
        run = []
        result.append(line)
    return result + sorted(run)


# --- the outcome ---------------------------------------------------------------------


def outcomes(
    claimed: list[Finding], before: list[Finding], after: list[Finding]
) -> list[VerifiedFinding]:
    """Each finding of the report that comes with a fix: gone from the copy after the
    fix (resolved), still there (remains), or not shown by the copy at all."""
    before_prints = {f.fingerprint for f in before}
    after_prints = {f.fingerprint for f in after}
    result = []
    for item in claimed:
        if item.fix is None:
            continue
        if item.fingerprint not in before_prints:
            outcome = NOT_REPRODUCED
        elif item.fingerprint in after_prints:
            outcome = REMAINS
        else:
            outcome = RESOLVED
        result.append(verified(item, outcome))
    return result


def appeared(before: list[Finding], after: list[Finding]) -> list[VerifiedFinding]:
    """Findings the fix brought about on the copy. Rules judged from statistics are left
    out: on a copy without activity a new index has no scans yet, as it would not have
    right after the fix anywhere."""
    before_prints = {f.fingerprint for f in before}
    return [
        verified(item, "appeared")
        for item in after
        if item.fingerprint not in before_prints
        and not (item.rule in REGISTRY and REGISTRY[item.rule].uses_statistics)
    ]


def verified(item: Finding, outcome: str) -> VerifiedFinding:
    return VerifiedFinding(item.rule, item.object, item.severity.value, item.fingerprint, outcome)
