"""Test a rule against a real server from its YAML case file (needs the `test` extra).

A contributor writes a rule and `tests/rules/cases/<rule-id>.yaml`; the one
parametrised test runs each case through `check_case`:

```yaml
rule: high-dead-tuple-ratio
cases:
  - name: dead tuples on a table with autovacuum off fire high
    sql: |                      # loaded into a fresh database
      CREATE TABLE t (id int PRIMARY KEY) WITH (autovacuum_enabled = false);
      INSERT INTO t SELECT generate_series(1, 4000);
    workload:                   # optional: statements run one by one (VACUUM included)
      - DELETE FROM t WHERE id > 1000
    config:                     # optional: the keys of [tool.pgvitals]; each of its
      rules: {high-dead-tuple-ratio: {min_ratio: 0.5}}   # ignore entries must excuse
                                                         # a finding of the rule
    no_data: true               # optional: collect as `--no-data` does
    requires: [hypopg]          # optional: extensions the server must have (else the
                                # case is skipped); pg_stat_statements must be preloaded;
                                # postgresql-18: a server of that version or newer,
                                # postgresql-before-18: an older one
    review: true                # optional: load `sql` as `pgvitals review` loads a file
                                # named case.sql (statement by statement), not live
    base: |                     # optional, review only: the schema the database has
      CREATE TABLE t (id int);  # already, as `review case.sql --base base.sql` loads it
    base_is_earlier_copy: true  # optional: the base is an earlier text of case.sql itself,
                                # as `review case.sql --base main/case.sql` loads it
    expect:                     # the findings of this rule, by object; [] = silent
      - object: public.t        # a finding about the database itself: `$database`
        severity: high          # any key of the JSON finding; evidence key by key
        evidence: {n_dead_tup: 3000}
```

The setup and the workload run in one session that flushes its statistics before
each statement returns, so the counters the rules read are exact, not a race with
the server's background flush.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import yaml

from pgvitals.config import Config, parse_config
from pgvitals.connect import connect
from pgvitals.engine import REVIEW, Analysis, analyse, profile_budget, required_probes
from pgvitals.rules import REGISTRY
from pgvitals.snapshot.collect import collect

CASE_KEYS = frozenset(
    {"name", "sql", "workload", "config", "no_data", "review", "base", "base_is_earlier_copy",
     "expect", "requires"}
)  # fmt: skip
REVIEWED_FILE = "case.sql"  # the name a review case's SQL is reviewed under
BASE_FILE = "base.sql"  # and its base's
# pg_stat_force_next_flush() exists from PostgreSQL 15, where statistics moved to
# shared memory; before that a background collector received them with a delay.
FORCED_FLUSH_FROM = 150000
# in `requires`: a server of this major version or newer / older than it
SERVER_VERSION = re.compile(r"postgresql-(before-)?(\d+)")


class CaseError(ValueError):
    """A case file that cannot be run as written."""


class CaseUnsupported(Exception):
    """This server cannot run the case deterministically (the test is skipped)."""


class CaseFailure(AssertionError):
    """The rule did not run, or did not report exactly what the case expects."""


@dataclass(frozen=True)
class Case:
    rule: str
    name: str
    sql: str
    workload: tuple[str, ...]  # each item is sent as one query
    config: dict[str, Any]
    no_data: bool
    expect: tuple[dict[str, Any], ...]
    source: str  # the file it came from
    review: bool = False  # reviewed as a DDL file (`pgvitals review`) instead of loaded live
    requires: tuple[str, ...] = ()  # extensions the server must have, else it is skipped
    base: str | None = None  # review: the base schema's SQL (`--base base.sql`)
    base_is_earlier_copy: bool = False  # ... written as main/case.sql, the same migration

    @property
    def id(self) -> str:
        return f"{self.rule}: {self.name}"

    @property
    def fires(self) -> bool:
        return bool(self.expect)

    def parsed_config(self) -> Config:
        return parse_config(self.config, f"{self.source}: {self.name!r} config")


def load_case_file(path: Path) -> list[Case]:
    """The cases of one rule; unknown keys are refused so a misspelt `expect` cannot
    turn a case into one that checks nothing."""
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(spec, dict) or set(spec) != {"rule", "cases"}:
        raise CaseError(f"{path}: needs exactly the keys `rule` and `cases`")
    cases = []
    for number, raw in enumerate(spec["cases"], start=1):
        if not isinstance(raw, dict) or not {"name", "sql", "expect"} <= set(raw):
            raise CaseError(f"{path}: case {number} needs name, sql and expect")
        unknown = set(raw) - CASE_KEYS
        if unknown:
            raise CaseError(f"{path}: case {raw['name']!r} has unknown key(s) {sorted(unknown)}")
        expect = raw["expect"]
        if not isinstance(expect, list) or not all(
            isinstance(item, dict) and "object" in item for item in expect
        ):
            raise CaseError(f"{path}: case {raw['name']!r}: expect is a list of {{object: ...}}")
        workload = raw.get("workload", [])
        if raw.get("review") and workload:
            raise CaseError(f"{path}: case {raw['name']!r}: a review case has no workload")
        if raw.get("base") is not None and not raw.get("review"):
            raise CaseError(f"{path}: case {raw['name']!r}: only a review case has a base")
        if raw.get("base_is_earlier_copy") and raw.get("base") is None:
            raise CaseError(f"{path}: case {raw['name']!r}: an earlier copy of what? (no base)")
        cases.append(
            Case(
                rule=spec["rule"],
                name=raw["name"],
                sql=raw["sql"],
                workload=(workload,) if isinstance(workload, str) else tuple(workload),
                config=raw.get("config") or {},
                no_data=bool(raw.get("no_data", False)),
                expect=tuple(expect),
                source=str(path),
                review=bool(raw.get("review", False)),
                requires=tuple(raw.get("requires", ())),
                base=raw.get("base"),
                base_is_earlier_copy=bool(raw.get("base_is_earlier_copy", False)),
            )
        )
    return cases


def load_cases(directory: Path) -> list[Case]:
    """Every case of every `<rule-id>.yaml` in `directory`, in file order."""
    return [case for path in sorted(directory.glob("*.yaml")) for case in load_case_file(path)]


def flush_statistics(session: psycopg.Connection) -> None:
    """Make this session's pending statistics visible to every other session now.

    A backend flushes its counters when it goes idle, at most once a second unless
    forced, and at exit; a late flush adds counts on top of what a later VACUUM set
    (the "silent after vacuum" race). Forcing the flush after each statement, in the
    session that did the work, orders the counters exactly as the statements ran.
    """
    # sets a flag; the flush itself happens when the backend goes idle after this
    # statement, before it tells the client it is ready for the next query
    session.execute("SELECT pg_catalog.pg_stat_force_next_flush()")


def missing_requirement(session: psycopg.Connection, extensions: tuple[str, ...]) -> str | None:
    """Why this server cannot run a case that needs `extensions`, or None. A name
    `postgresql-N` asks for a server of major version N or later (its syntax/catalogs),
    `postgresql-before-N` for an older one (a behaviour N changed)."""
    for name in extensions:
        version = SERVER_VERSION.fullmatch(name)
        if version:
            before, major = version.group(1), int(version.group(2))
            if before and session.info.server_version >= major * 10_000:
                return f"the server is PostgreSQL {major} or newer"
            if not before and session.info.server_version < major * 10_000:
                return f"the server is older than PostgreSQL {major}"
            continue
        row = session.execute(
            "SELECT EXISTS (SELECT FROM pg_catalog.pg_available_extensions WHERE name = %s),"
            " pg_catalog.current_setting('pg_stat_statements.track', true) IS NOT NULL",
            [name],
        ).fetchone()
        available, loaded = row if row else (False, False)
        if not available:
            return f"the server has no {name}"
        if name == "pg_stat_statements" and not loaded:
            return "the server does not load pg_stat_statements (shared_preload_libraries)"
    return None


def prepare(dsn: str, case: Case) -> None:
    """Load the case's SQL and run its workload in one session, statistics flushed."""
    with psycopg.connect(dsn, autocommit=True) as session:
        missing = missing_requirement(session, case.requires)
        if missing:
            raise CaseUnsupported(f"{case.id}: {missing}")
        can_flush = session.info.server_version >= FORCED_FLUSH_FROM
        rule = REGISTRY.get(case.rule)
        if not can_flush and rule is not None and rule.uses_statistics:
            raise CaseUnsupported(
                f"{case.id}: statistics can be flushed on demand from PostgreSQL 15 "
                f"(server_version_num {session.info.server_version})"
            )
        for statement in (case.sql, *case.workload):
            session.execute(statement)  # one by one: VACUUM cannot run in a transaction
            if can_flush:
                flush_statistics(session)


def analyse_case(dsn: str, case: Case) -> Analysis:
    """The live check on a prepared database, as `pgvitals check` runs it."""
    config = case.parsed_config()
    connection = connect(dsn)
    try:
        budget = None if case.no_data else profile_budget(config)
        snapshot = collect(connection, config.schemas, budget, probes=required_probes(config))
    finally:
        connection.close()
    return analyse(snapshot, config)


def matches(finding: dict[str, Any], expected: dict[str, Any]) -> bool:
    """Every expected key equals the finding's; `evidence` is compared key by key."""
    for key, value in expected.items():
        if key == "evidence":
            if any(finding["evidence"].get(k, _MISSING) != v for k, v in value.items()):
                return False
        elif finding.get(key, _MISSING) != value:
            return False
    return True


_MISSING = object()  # an expected key the finding lacks never matches, even `None`


def verify(analysis: Analysis, case: Case) -> list[dict[str, Any]]:
    """The rule ran, and reported exactly the expected objects with the expected
    fields; returns its findings as JSON."""
    checks = [check for check in analysis.checks if check.rule == case.rule]
    if not checks:
        raise CaseFailure(f"{case.id}: no rule named {case.rule!r} ran")
    if checks[0].status != "ran":
        # a rule that raises must not pass its silent cases
        raise CaseFailure(f"{case.id}: the check {checks[0].status}: {checks[0].reason}")
    stale = [
        u.target for u in analysis.unused_excuses if u.rule == case.rule and u.source != "COMMENT"
    ]
    if stale:  # an [[ignore]] entry of the case that excused nothing tests nothing
        raise CaseFailure(f"{case.id}: the config's ignore entries for {stale} excused nothing")
    found = [item.to_json() for item in analysis.findings if item.rule == case.rule]
    objects = sorted(item["object"] for item in found)
    # the test's database has a new name each time: `$database` stands for it
    database = analysis.snapshot.server.database
    expect = [
        {**item, "object": item["object"].replace("$database", database)} for item in case.expect
    ]
    wanted = sorted(item["object"] for item in expect)
    if objects != wanted:
        raise CaseFailure(f"{case.id}: reported {objects}, expected {wanted}\n{found}")
    for item in expect:
        candidates = [f for f in found if f["object"] == item["object"]]
        if not any(matches(f, item) for f in candidates):
            raise CaseFailure(f"{case.id}: no finding matches {item}\n{candidates}")
    return found


def review_case(dsn: str, case: Case) -> Analysis:
    """`pgvitals review` of the case's SQL as a file named case.sql, loaded into the
    fresh database at `dsn`, its findings located at their file:line."""
    from pgvitals.review import safety
    from pgvitals.review.files import Selection, SourceFile
    from pgvitals.review.locate import locate, object_statements
    from pgvitals.review.run import FILES, Base, new_files, review_in

    config = case.parsed_config()
    with tempfile.TemporaryDirectory() as folder:
        base_name = f"main/{REVIEWED_FILE}" if case.base_is_earlier_copy else BASE_FILE
        case_file, base_file = Path(folder) / REVIEWED_FILE, Path(folder) / base_name
        case_file.write_text(case.sql, encoding="utf-8")
        files = Selection([SourceFile(case_file, REVIEWED_FILE, (), 0, REVIEWED_FILE)], [])
        base = None
        if case.base is not None:
            base_file.parent.mkdir(exist_ok=True)
            base_file.write_text(case.base, encoding="utf-8")
            relative = base_file.name
            base_files = Selection([SourceFile(base_file, base_name, (), 0, relative)], [])
            base = Base(FILES, base_name, files=base_files)
            files = new_files(files, base)
        probes = required_probes(config)
        reviewed = review_in(dsn, "a test server", files, base, True, config.schemas, probes,
                             lambda step: None)  # fmt: skip
    analysis = safety.unchecked(analyse(reviewed.snapshot, config, REVIEW))
    places = object_statements(reviewed.snapshot, reviewed.load, reviewed.new_from)
    return dataclasses.replace(analysis, findings=locate(analysis.findings, places))


def check_case(dsn: str, case: Case) -> list[dict[str, Any]]:
    """Prepare a fresh database at `dsn`, run the check (or the review), verify the case."""
    if case.review:
        with psycopg.connect(dsn, autocommit=True) as session:
            missing = missing_requirement(session, case.requires)
        if missing:
            raise CaseUnsupported(f"{case.id}: {missing}")
        return verify(review_case(dsn, case), case)
    prepare(dsn, case)
    return verify(analyse_case(dsn, case), case)
