"""Reading the workload safely and honestly: what a role may not see is said, the
extension's older column names and other schemas work, budgets bound the plans, EXPLAIN
ANALYZE runs only when asked and only for SELECTs, and pgvitals' own reads are not
taken for the application's."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from pgvitals.connect import connect
from pgvitals.snapshot.collect import ProfileBudget, collect
from pgvitals.snapshot.model import Snapshot
from pgvitals.workload.collect import (
    FORCED_GENERIC,
    GENERIC,
    Explainer,
    Workload,
    WorkloadBudget,
    WorkloadReader,
    scans_of,
    view_sql,
)
from tests.conftest import Database
from tests.helpers import pgvitals, valid_report

WORKLOAD_RULES = ("slow-query", "top-time-query", "n-plus-one-suspect", "missing-index-for-query")
_roles = itertools.count()


def snapshot_of(dsn: str, **options: object) -> Snapshot:
    session = connect(dsn)
    try:
        return collect(session, **options)  # type: ignore[arg-type]
    finally:
        session.close()


def planned(snapshot: Snapshot, query: str) -> list:
    fingerprints = {s.fingerprint for s in snapshot.statements if s.query == query}
    return [p for p in snapshot.query_plans if p.fingerprint in fingerprints]


def load(database: Database) -> None:
    database.execute(
        'CREATE TABLE "Weird""Name" (id int PRIMARY KEY, "ñame" int, v text);'
        """INSERT INTO "Weird""Name" SELECT g, g % 100, 'v' FROM generate_series(1, 5000) g;"""
        'ANALYZE "Weird""Name";'
    )
    with database.admin() as app:
        for number in range(20):
            app.execute('SELECT v FROM "Weird""Name" WHERE "ñame" = %s', [number])
        app.execute("""UPDATE "Weird""Name" SET v = 'w' WHERE "ñame" = %s""", [3])


@pytest.fixture
def role(database: Database):
    name = f'reader "{next(_roles)}" ñ'
    with database.admin() as admin:
        admin.execute(psycopg.sql.SQL("CREATE ROLE {} LOGIN").format(psycopg.sql.Identifier(name)))
    yield name
    with psycopg.connect(database.server.dsn(), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {database.name} WITH (FORCE)")
        admin.execute(psycopg.sql.SQL("DROP ROLE {}").format(psycopg.sql.Identifier(name)))


def test_a_database_without_the_extension_has_the_workload_rules_skipped_with_the_reason(
    database: Database,
) -> None:
    run = pgvitals("check", database.dsn, "--format", "json")
    report = valid_report(run.json())
    checks = {c["rule"]: c for c in report["checks"]}
    for rule in WORKLOAD_RULES:
        assert checks[rule]["status"] == "skipped"
        assert "pg_stat_statements" in checks[rule]["reason"]
        # missing-index-for-query needs two probes the one missing extension stopped
        causes = checks[rule]["reason"].removeprefix("not collected: ").split("; ")
        assert len(causes) == len(set(causes)), causes
    assert checks["stats-extension-missing"]["status"] == "ran"
    assert [f["rule"] for f in report["findings"]] == ["stats-extension-missing"]
    assert report["sections"]["query_patterns"]["status"] == "not available"


def test_a_role_that_may_not_read_the_view_has_the_rules_skipped(
    stats_database: Database, role: str
) -> None:
    stats_database.execute("REVOKE SELECT ON pg_stat_statements FROM PUBLIC")
    run = pgvitals("check", make_conninfo(stats_database.dsn, user=role), "--format", "json")
    checks = {c["rule"]: c for c in valid_report(run.json())["checks"]}
    for rule in WORKLOAD_RULES:
        assert checks[rule]["status"] == "skipped"
        assert "permission denied" in checks[rule]["reason"], checks[rule]
    # the extension is there: nothing to enable
    assert not [f for f in run.json()["findings"] if f["rule"] == "stats-extension-missing"]


def test_other_roles_statements_hidden_from_a_role_are_said(
    stats_database: Database, role: str
) -> None:
    load(stats_database)
    snapshot = snapshot_of(make_conninfo(stats_database.dsn, user=role))
    source = snapshot.statement_sources[0]
    assert source.status == "ran" and not source.reads_all and source.hidden > 0
    notes = [e for e in snapshot.collection.skipped if e["step"] == "statements"]
    assert notes and "hidden from this role" in notes[0]["reason"]
    assert snapshot.statements == []  # the role ran no statement on the table itself


def test_a_role_subject_to_row_level_security_gets_its_plans_with_the_policies(
    stats_database: Database, role: str
) -> None:
    # connect.py turns row_security off so that rows are never counted through policies;
    # a plan must still be the one this role gets (off, EXPLAIN fails for it)
    load(stats_database)
    stats_database.execute(
        'ALTER TABLE "Weird""Name" ENABLE ROW LEVEL SECURITY;'
        'CREATE POLICY "Some" ON "Weird""Name" USING (v = current_user);'
        + psycopg.sql.SQL('GRANT SELECT ON "Weird""Name" TO {}')
        .format(psycopg.sql.Identifier(role))
        .as_string(None)
    )
    with psycopg.connect(make_conninfo(stats_database.dsn, user=role)) as app:
        for number in range(5):
            app.execute('SELECT v FROM "Weird""Name" WHERE "ñame" = %s', [number])
    snapshot = snapshot_of(make_conninfo(stats_database.dsn, user=role))
    [plan] = planned(snapshot, 'SELECT v FROM "Weird""Name" WHERE "ñame" = $1')
    assert plan.status == "ran", plan.reason


def test_the_older_column_names_read_the_same_statements(stats_database: Database) -> None:
    """pg_stat_statements before 1.8 (PostgreSQL 12) names its times total_time, ...;
    a view with those names over the real one stands for it."""
    load(stats_database)
    stats_database.execute(
        'CREATE SCHEMA "Old ñame"; CREATE VIEW "Old ñame".pg_stat_statements AS'
        " SELECT userid, dbid, queryid, query, calls, total_exec_time AS total_time,"
        " min_exec_time AS min_time, max_exec_time AS max_time, mean_exec_time AS mean_time,"
        " rows, shared_blks_hit, shared_blks_read, temp_blks_written FROM pg_stat_statements"
    )
    with stats_database.admin() as session:
        columns = [
            name
            for (name,) in session.execute(
                "SELECT attname FROM pg_attribute WHERE attnum > 0"
                " AND attrelid = '\"Old ñame\".pg_stat_statements'::regclass ORDER BY attnum"
            )
        ]
        assert "total_time" in columns and "toplevel" not in columns
        old = session.execute(view_sql("statements", "Old ñame", columns), {"fetch": 50})
        old_rows = old.fetchall()
        new_columns = [
            name
            for (name,) in session.execute(
                "SELECT attname FROM pg_attribute WHERE attnum > 0"
                " AND attrelid = 'public.pg_stat_statements'::regclass"
            )
        ]
        new = session.execute(view_sql("statements", "public", new_columns), {"fetch": 50})
        new_rows = new.fetchall()
    lookup = 'SELECT v FROM "Weird""Name" WHERE "ñame" = $1'
    assert [r[4] for r in old_rows if r[2] == lookup] == [20]  # calls
    assert [r[4] for r in new_rows if r[2] == lookup] == [20]


def test_budgets_bound_the_plans_and_each_says_why_it_was_skipped(
    stats_database: Database,
) -> None:
    load(stats_database)
    snapshot = snapshot_of(stats_database.dsn)
    lookup = 'SELECT v FROM "Weird""Name" WHERE "ñame" = $1'
    assert [p.status for p in planned(snapshot, lookup)] == ["ran"]
    session = connect(stats_database.dsn)
    try:
        found = WorkloadReader(
            session, snapshot, WorkloadBudget(total_ms=0), lambda error: False
        ).run({"statements", "query_plans"})
    finally:
        session.close()
    assert found.plans and all(
        p.status == "skipped" and p.reason == "workload budget of 0 ms used up" for p in found.plans
    )


def test_explain_analyze_only_when_asked_and_only_for_selects(stats_database: Database) -> None:
    load(stats_database)
    planned = snapshot_of(stats_database.dsn)
    assert planned.query_plans and not any(p.analyzed for p in planned.query_plans)
    analyzed = snapshot_of(stats_database.dsn, analyze_queries=True)
    by_statement = {
        s.query: p
        for s in analyzed.statements
        for p in analyzed.query_plans
        if p.fingerprint == s.fingerprint
    }
    select = by_statement['SELECT v FROM "Weird""Name" WHERE "ñame" = $1']
    assert select.analyzed and select.actual_ms is not None and select.actual_rows == 50
    [update] = [p for query, p in by_statement.items() if query.startswith("UPDATE")]
    assert not update.analyzed and update.form.startswith("the rows it updates, as a SELECT")
    # --no-data reads no rows, so it executes no statement either
    no_data = snapshot_of(stats_database.dsn, profile=None, analyze_queries=True)
    assert not any(p.analyzed for p in no_data.query_plans)


def test_a_later_run_does_not_take_an_earlier_runs_reads_for_the_workload(
    stats_database: Database,
) -> None:
    load(stats_database)
    # a role that may not keep its statements out of pg_stat_statements (a superuser's
    # are not recorded: tests/workload/test_own_scans.py)
    reader = stats_database.reader()
    first = snapshot_of(reader, profile=ProfileBudget())
    second = snapshot_of(reader, profile=ProfileBudget())
    assert {s.query for s in second.statements} == {s.query for s in first.statements}
    with stats_database.admin() as session:
        own = session.execute(
            "SELECT count(*) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
            " WHERE d.datname = current_database() AND query LIKE '/* pgvitals */%%'"
            " AND query LIKE '%%Weird%%'"
        ).fetchone()
    assert own[0] > 0  # the row counts pgvitals read, marked as its own


def test_generic_plans_on_every_version(database: Database) -> None:
    """EXPLAIN (GENERIC_PLAN) from PostgreSQL 16, a forced generic plan of a prepared
    statement before: the same plan for a statement with parameters and no values."""
    database.execute(
        "CREATE TABLE t (id int PRIMARY KEY, k int);"
        " INSERT INTO t SELECT g, g % 10 FROM generate_series(1, 2000) g; ANALYZE t"
    )
    session = connect(database.dsn)
    try:
        method = GENERIC if session.info.server_version >= 160000 else FORCED_GENERIC
        text = "SELECT id FROM t WHERE k = $1 AND id > $2"
        with session.transaction():
            root = Explainer(session, text, method, [], Workload()).run(analyze=False)
            again = Explainer(session, text, method, [], Workload()).run(analyze=False)
    finally:
        session.close()
    assert [s["node"] for s in scans_of(root)] in (
        ["Seq Scan"],
        ["Index Scan"],
        ["Bitmap Heap Scan"],
    )
    assert root["Total Cost"] == again["Total Cost"] > 0


def test_the_query_patterns_survive_a_saved_report(
    stats_database: Database, tmp_path: Path
) -> None:
    load(stats_database)
    saved = tmp_path / "report.json"
    assert pgvitals("check", stats_database.dsn, "-o", str(saved)).exit_code == 0
    again = pgvitals("diff", str(saved), str(saved), "--format", "json")
    assert again.exit_code == 0, again.stderr
    rendered = tmp_path / "again.md"
    from pgvitals.render.md import render_markdown
    from pgvitals.report import Report

    report = Report.from_json(json.loads(saved.read_text()))
    assert report.query_patterns is not None and report.query_patterns.patterns
    rendered.write_text(render_markdown(report))
    assert 'WHERE "ñame" = $1' in rendered.read_text()


def test_a_changed_workload_is_no_schema_drift(stats_database: Database, tmp_path: Path) -> None:
    load(stats_database)
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    assert pgvitals("snapshot", stats_database.dsn, "-o", str(before)).exit_code == 0
    with stats_database.admin() as app:
        app.execute('SELECT count(*) FROM "Weird""Name" WHERE v = %s', ["w"])
    assert pgvitals("snapshot", stats_database.dsn, "-o", str(after)).exit_code == 0
    statements = [json.loads(p.read_text())["statements"] for p in (before, after)]
    assert len(statements[1]) > len(statements[0])
    diff = pgvitals("diff", str(before), str(after), "--format", "json")
    assert diff.exit_code == 0, diff.stderr
    assert json.loads(diff.stdout)["drift"]["changes"] == []


def test_one_statement_sent_with_differently_typed_parameters_is_one_pattern(
    stats_database: Database,
) -> None:
    """psycopg binds small integers as int2 and larger ones as int4: pg_stat_statements
    counts the two under two queryids, pgvitals as the one statement they are."""
    stats_database.execute("CREATE TABLE t (id int PRIMARY KEY)")
    with stats_database.admin() as app:
        for key in range(32_760, 32_780):  # int2 up to 32,767, int4 after
            app.execute("SELECT id FROM t WHERE id = %s", [key])
        split = app.execute(
            "SELECT count(*) FROM pg_stat_statements WHERE query = 'SELECT id FROM t WHERE id = $1'"
        ).fetchone()
    assert split == (2,)
    snapshot = snapshot_of(stats_database.dsn)
    [statement] = [s for s in snapshot.statements if s.query == "SELECT id FROM t WHERE id = $1"]
    assert statement.calls == 20
    assert [p.fingerprint for p in snapshot.query_plans].count(statement.fingerprint) == 1


def test_a_select_too_slow_to_analyze_within_the_budget_is_still_planned(
    stats_database: Database,
) -> None:
    stats_database.execute(
        "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10);"
        " ANALYZE t; CREATE FUNCTION slow() RETURNS void LANGUAGE sql AS 'SELECT pg_sleep(0.3)'"
    )
    with stats_database.admin() as app:
        app.execute("SELECT slow(), id FROM t WHERE id = %s", [1])
    snapshot = snapshot_of(stats_database.dsn)  # to plan it, analyze nothing
    session = connect(stats_database.dsn)
    try:
        found = WorkloadReader(
            session, snapshot, WorkloadBudget(per_statement_ms=100, analyze=True), lambda e: False
        ).run({"statements", "query_plans"})
    finally:
        session.close()
    [plan] = planned(
        Snapshot(snapshot.server, snapshot.collection, statements=found.statements,
                 query_plans=found.plans),
        "SELECT slow(), id FROM t WHERE id = $1",
    )  # fmt: skip
    assert plan.status == "ran" and not plan.analyzed and plan.total_cost
    assert plan.method.endswith("EXPLAIN ANALYZE stopped at the statement timeout, planned only")


def test_hypopg_that_cannot_be_used_is_said_and_the_advice_is_not_measured(
    advice_database: Database, role: str
) -> None:
    grants = psycopg.sql.SQL(
        "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}; GRANT pg_read_all_stats TO {role}"
    ).format(role=psycopg.sql.Identifier(role))
    advice_database.execute(
        'CREATE TABLE "select" (id int PRIMARY KEY, code text);'
        """ INSERT INTO "select" SELECT g, 'c' || g FROM generate_series(1, 20000) g;"""
        ' ANALYZE "select";'
        " REVOKE EXECUTE ON FUNCTION hypopg_create_index(text) FROM PUBLIC;"
        + grants.as_string(None)
    )
    with advice_database.admin() as app:
        for number in range(1, 30):
            app.execute('SELECT id FROM "select" WHERE code = %s', [f"c{number}"])
    run = pgvitals("check", make_conninfo(advice_database.dsn, user=role), "--format", "json")
    report = valid_report(run.json())
    [advice] = [f for f in report["findings"] if f["rule"] == "missing-index-for-query"]
    assert advice["object"] == "public.select (code)" and advice["severity"] == "low"
    assert advice["evidence"]["not_measured_because"] == (
        "hypopg is not usable: permission denied in this database"
    )
    assert "hypopg not usable: permission denied" in report["sections"]["query_patterns"]["source"]
