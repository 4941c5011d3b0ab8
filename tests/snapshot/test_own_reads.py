"""pgvitals' own row reads (row counts, orphan counts, key-range descents) count in
pg_stat_user_tables and pg_stat_user_indexes like anyone's, and the next run read them as
the application's workload: a table read once by its row count and once per orphan count
looked sequential-scan heavy, an index only the DEFAULT partition's key-range probe
descends looked used. A session that may switch counting off (a superuser, or a role
granted SET on both parameters) does, and leaves the counters as it found them; one that
may not measures what it added, which a later run kept in the same history leaves out."""

from __future__ import annotations

import json
import time
from pathlib import Path

from pgvitals.connect import connect
from pgvitals.engine import analyse
from pgvitals.snapshot.collect import collect
from pgvitals.snapshot.model import Snapshot
from tests.conftest import Database
from tests.helpers import pgvitals
from tests.workload.conftest import require

TARGETS = 20  # one orphan count, one sequential scan of "visit", each
SCHEMA = "".join(f"CREATE TABLE t{n:02}(id int PRIMARY KEY);" for n in range(TARGETS)) + (
    "CREATE TABLE visit (id int PRIMARY KEY, "
    + ", ".join(f"t{n:02}_id int" for n in range(TARGETS))
    + ");"
    "INSERT INTO visit (id) SELECT g FROM generate_series(1, 5000) g;"
    # the key range of a DEFAULT partition is read by descending its index on the key
    "CREATE TABLE log (at timestamptz NOT NULL, body text) PARTITION BY RANGE (at);"
    "CREATE TABLE log_2026 PARTITION OF log"
    "  FOR VALUES FROM ('2026-01-01 00:00+00') TO ('2027-01-01 00:00+00');"
    "CREATE TABLE log_default PARTITION OF log DEFAULT;"
    "CREATE INDEX log_at ON log (at);"
    "INSERT INTO log SELECT '2025-01-01 00:00+00'::timestamptz + g * interval '1 hour', 'x'"
    " FROM generate_series(1, 3000) g;"
    "ANALYZE;"
)


def load(database: Database) -> None:
    database.execute(SCHEMA)
    with database.admin() as admin:
        admin.execute("SELECT pg_catalog.pg_stat_force_next_flush()")
    time.sleep(0.1)
    with database.admin() as admin:
        admin.execute("SELECT pg_stat_reset()")


def settled(database: Database) -> None:
    """Wait until the earlier runs' sessions are gone (a backend sends its counters as
    it exits), and a little more for the last of them to land."""
    deadline = time.monotonic() + 10
    with database.admin() as admin:
        while admin.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name LIKE 'pgvitals%%' AND datname = current_database()"
        ).fetchone() != (0,):
            assert time.monotonic() < deadline, "an earlier run's session did not end"
            time.sleep(0.05)
    time.sleep(0.3)


def run(dsn: str, database: Database) -> Snapshot:
    settled(database)
    session = connect(dsn)
    try:
        return collect(session)
    finally:
        session.close()


def judged(snapshot: Snapshot) -> dict[str, list[tuple[str, str]]]:
    """The findings the leaked reads changed: each rule's (object, severity)."""
    rules = ("seq-scan-heavy-table", "unused-index")
    findings = [f for f in analyse(snapshot).findings if f.rule in rules]
    return {
        rule: sorted((f.object, str(f.severity)) for f in findings if f.rule == rule)
        for rule in rules
    }


def counters(database: Database) -> list[tuple[str, int, int]]:
    with database.admin() as admin:
        return admin.execute(
            "SELECT relname, seq_scan, seq_tup_read FROM pg_stat_user_tables"
            " UNION ALL SELECT indexrelname, idx_scan, idx_tup_read FROM pg_stat_user_indexes"
            " ORDER BY 1"
        ).fetchall()


def test_a_role_that_may_not_switch_counting_off_leaks_its_reads(database: Database) -> None:
    load(database)
    dsn = database.reader()
    first = run(dsn, database)
    assert first.collection.own_reads_counted is True
    second = run(dsn, database)
    before, after = judged(first), judged(second)
    # the proof: nothing but the first run read the tables, yet the second judges
    assert before["seq-scan-heavy-table"] == []
    assert [name for name, _ in after["seq-scan-heavy-table"]] == ["public.visit"]
    assert [name for name, _ in before["unused-index"]] == ["public.log_at"]
    assert after["unused-index"] == []
    # without pg_stat_statements or a history, the finding says how many a run are its own
    (heavy,) = [f for f in analyse(second).findings if f.rule == "seq-scan-heavy-table"]
    assert heavy.evidence["seq_scan_by_pgvitals"] is None  # how many runs: unknown
    assert heavy.evidence["seq_scans_a_run"] == TARGETS + 1
    assert f"pgvitals' own reads ({TARGETS + 1} sequential scans a run" in heavy.message


def test_a_run_that_switched_counting_off_leaves_the_next_run_unchanged(
    database: Database,
) -> None:
    load(database)
    untouched = counters(database)
    first = run(database.dsn, database)  # a superuser
    second = run(database.dsn, database)
    assert judged(second) == judged(first)
    assert [name for name, _ in judged(first)["unused-index"]] == ["public.log_at"]
    settled(database)
    assert counters(database) == untouched
    assert first.collection.own_reads_counted is False


def test_a_role_granted_the_settings_switches_counting_off(database: Database) -> None:
    load(database)
    untouched = counters(database)
    dsn = database.reader(granted=True)
    first = run(dsn, database)
    settled(database)
    assert counters(database) == untouched
    assert first.collection.own_reads_counted is False


def checked(dsn: str, database: Database, folder: Path) -> dict[str, list[tuple[str, str]]]:
    """`check --history` as a user runs it: the findings judged() looks at."""
    settled(database)
    report = folder / f"report-{time.monotonic_ns()}.json"
    run = pgvitals("check", dsn, "--history", str(folder / "history.sqlite"), "-o", str(report))
    assert run.exit_code in (0, 1), run.stderr
    findings = json.loads(report.read_text())["findings"]
    return {
        rule: sorted((f["object"], f["severity"]) for f in findings if f["rule"] == rule)
        for rule in ("seq-scan-heavy-table", "unused-index")
    }


def test_the_history_leaves_out_what_earlier_runs_read(database: Database, tmp_path: Path) -> None:
    load(database)
    dsn = database.reader()
    first = checked(dsn, database, tmp_path)
    # the runs' reads count (test above): each run measured them, the history kept them
    assert checked(dsn, database, tmp_path) == first
    assert checked(dsn, database, tmp_path) == first
    assert [name for name, _ in first["unused-index"]] == ["public.log_at"]


def test_measured_own_reads_are_what_the_counters_gained(database: Database) -> None:
    load(database)
    dsn = database.reader()
    snapshot = run(dsn, database)
    settled(database)
    oids = {t.name: str(t.oid) for t in snapshot.tables}
    oids |= {i.name: str(i.oid) for i in snapshot.indexes}
    gained = {
        oids[name]: [scans, rows] for name, scans, rows in counters(database) if scans or rows
    }
    assert snapshot.collection.own_reads == gained
    assert gained[oids["visit"]] == [TARGETS + 1, (TARGETS + 1) * 5000]


def test_the_session_has_its_settings_back_after_the_row_reads(database: Database) -> None:
    # the workload reader and the rules read them: track_counts off would say that
    # autovacuum cannot work, a pg_stat_statements.track set where the server does not
    # load the extension would say it is loaded
    load(database)
    session = connect(database.dsn)
    try:
        before = session.execute(
            "SELECT current_setting('track_counts'),"
            " current_setting('pg_stat_statements.track', true)"
        ).fetchone()
        snapshot = collect(session)
        after = session.execute(
            "SELECT current_setting('track_counts'),"
            " current_setting('pg_stat_statements.track', true)"
        ).fetchone()
    finally:
        session.close()
    assert snapshot.collection.own_reads_counted is False
    assert after == before
    assert not [f for f in analyse(snapshot).findings if f.rule == "autovacuum-disabled"]


def test_the_report_says_when_its_own_reads_count(database: Database, tmp_path: Path) -> None:
    load(database)
    said = {}
    for who, dsn in (("superuser", database.dsn), ("reader", database.reader())):
        settled(database)
        report = tmp_path / f"{who}.md"
        data = tmp_path / f"{who}.json"
        run = pgvitals("check", dsn, "-o", str(report), "-o", str(data))
        assert run.exit_code in (0, 1), run.stderr
        collection = json.loads(data.read_text())["collection"]
        said[who] = (collection["own_reads_counted"], "own row reads" in report.read_text())
    assert said == {"superuser": (False, False), "reader": (True, True)}
    role = f'"{database.name}_x_reader"'
    grant = f"GRANT SET ON PARAMETER track_counts, pg_stat_statements.track TO {role}"
    assert grant in (tmp_path / "reader.md").read_text()


def test_show_samples_reads_examples_uncounted(database: Database, tmp_path: Path) -> None:
    database.execute(
        "CREATE TABLE person (id int PRIMARY KEY, phone text);"
        "INSERT INTO person SELECT g, CASE WHEN g % 2 = 0 THEN 'N/A' ELSE '555-' || g END"
        " FROM generate_series(1, 40) g; ANALYZE person;"
    )
    with database.admin() as admin:
        admin.execute("SELECT pg_catalog.pg_stat_force_next_flush()")
    settled(database)
    untouched = counters(database)
    report = tmp_path / "report.json"
    run = pgvitals("check", database.dsn, "--show-samples", "-o", str(report))
    assert run.exit_code in (0, 1), run.stderr
    (found,) = [
        f for f in json.loads(report.read_text())["findings"] if f["rule"] == "placeholder-values"
    ]
    assert found["evidence"]["samples"]  # the examples were read, in a session of their own
    settled(database)
    assert counters(database) == untouched


def test_pg_stat_statements_runs_each_read_as_this_one_did(database: Database) -> None:
    # a role whose reads count, without --history: pg_stat_statements holds one row count
    # of "visit" a run, but each run also scanned it once per orphan count
    require(database, "pg_stat_statements")
    database.execute(SCHEMA.replace("generate_series(1, 5000)", "generate_series(1, 20000)"))
    with database.admin() as admin:
        admin.execute("SELECT pg_catalog.pg_stat_force_next_flush()")
        time.sleep(0.1)
        admin.execute("SELECT pg_stat_reset()")
        time.sleep(0.01)
        admin.execute("SELECT pg_stat_statements_reset()")  # within the window
    dsn = database.reader()
    run(dsn, database)
    second = run(dsn, database)
    (found,) = [f for f in analyse(second).findings if f.rule == "seq-scan-heavy-table"]
    assert found.object == "public.visit"
    assert found.evidence["seq_scan"] == TARGETS + 1
    assert found.evidence["seq_scan_by_pgvitals"] == TARGETS + 1
    assert found.evidence["seq_scan_by_pgvitals_is"] == "estimated"
    assert found.evidence["seq_scans_a_run"] == TARGETS + 1
    assert found.severity == "low"  # medium by its size, were the scans the application's


def test_measured_reads_hold_no_lock_past_their_statement(database: Database) -> None:
    # measured, the row reads share one transaction: each statement's savepoint is rolled
    # back, which ends its locks as autocommit would (SPEC §3: no lock is held longer)
    load(database)
    session = connect(database.reader())
    backend = session.info.backend_pid
    held: dict[str, list[str]] = {}

    def locks_at(step: str) -> None:
        if step in ("data: public.visit", "data: public.log_default key range"):
            with database.admin() as admin:
                rows = admin.execute(
                    "SELECT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE l.pid = %s AND n.nspname = 'public'",
                    [backend],
                ).fetchall()
            held[step] = [name for (name,) in rows]

    try:
        snapshot = collect(session, progress=locks_at)
    finally:
        session.close()
    assert snapshot.collection.own_reads_counted is True
    assert snapshot.collection.own_reads  # measured
    assert held == {"data: public.visit": [], "data: public.log_default key range": []}


def test_measured_reads_outlast_the_sessions_idle_limit(database: Database) -> None:
    # the measured reads share one transaction, and this process works between them (a
    # provisional snapshot, inferred references: a minute and more at 100,000 tables);
    # the session's idle-in-transaction limit (60 s, connect.py) must not end it there
    load(database)
    session = connect(database.reader())
    session.execute("SET idle_in_transaction_session_timeout = 200")

    def slow_at(step: str) -> None:
        if step == "data: public.visit":
            time.sleep(0.6)

    try:
        snapshot = collect(session, progress=slow_at)
    finally:
        session.close()
    assert snapshot.collection.interrupted is None
    assert snapshot.collection.own_reads_counted is True
    assert snapshot.collection.own_reads  # measured to the end
