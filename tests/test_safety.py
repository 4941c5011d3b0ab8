"""SPEC §3: read-only sessions with timeouts; a locked table or a lost connection
degrades the report instead of hanging it or losing it."""

from __future__ import annotations

import json
import threading
import time

import psycopg
import pytest

from pgvitals.connect import Limits, connect
from pgvitals.engine import analyse
from pgvitals.rules._api import REGISTRY, ROWS_REQUIRED
from pgvitals.snapshot.collect import collect
from tests.helpers import pgvitals, valid_report


def test_the_session_cannot_write(database) -> None:
    database.execute("CREATE TABLE lessons (id serial PRIMARY KEY)")
    session = connect(database.dsn)
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        session.execute("INSERT INTO lessons VALUES (1)")
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        session.execute("CREATE TABLE written_by_pgvitals (id int)")
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        session.execute("SELECT nextval(pg_get_serial_sequence('lessons', 'id'))")
    session.close()
    with database.admin() as admin:
        assert admin.execute("SELECT count(*) FROM lessons").fetchone() == (0,)
        assert admin.execute("SELECT last_value, is_called FROM lessons_id_seq").fetchone() == (
            1,
            False,
        )


def test_the_session_has_timeouts(database) -> None:
    session = connect(database.dsn, Limits(statement_timeout_ms=1234, lock_timeout_ms=567))
    settings = dict(
        session.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('statement_timeout', 'lock_timeout', 'default_transaction_read_only')"
        ).fetchall()
    )
    session.close()
    assert settings == {
        "statement_timeout": "1234",
        "lock_timeout": "567",
        "default_transaction_read_only": "on",
    }


def test_dates_read_the_same_whatever_style_the_database_sets(database) -> None:
    """Partition bounds are read from the text the server prints: a database printing
    dates as 'SQL, DMY' made every range-partitioned table look covered for ever."""
    with database.admin() as admin:
        admin.execute(f"ALTER DATABASE {database.name} SET DateStyle = 'SQL, DMY'")
        admin.execute(f"ALTER DATABASE {database.name} SET IntervalStyle = 'sql_standard'")
    database.execute(
        "CREATE TABLE events (at date NOT NULL) PARTITION BY RANGE (at);"
        "CREATE TABLE events_now PARTITION OF events FOR VALUES"
        " FROM (current_date - 30) TO (current_date + 1)"
    )
    session = connect(database.dsn)
    styles = "SELECT current_setting('DateStyle'), current_setting('IntervalStyle')"
    date_style, interval_style = session.execute(styles).fetchone()
    assert date_style.startswith("ISO,") and interval_style == "postgres"
    findings = analyse(collect(session)).findings
    session.close()
    [found] = [f for f in findings if f.rule == "partition-coverage"]
    assert found.object == "public.events" and found.severity.value in ("high", "critical")


def hold_exclusive_lock(database, table: str) -> psycopg.Connection:
    holder = psycopg.connect(database.dsn)
    holder.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")  # transaction stays open
    return holder


def test_a_locked_table_is_skipped_with_lock_timeout(database) -> None:
    database.execute(
        "CREATE TABLE locked_log (at timestamptz DEFAULT now(), what text CHECK (what <> ''));"
        "CREATE INDEX ON locked_log (lower(what));"
        "CREATE TABLE free_log (at timestamptz, what text);"
        "INSERT INTO locked_log VALUES (now(), 'a'), (now(), 'a');"
        "INSERT INTO free_log VALUES (now(), 'b'), (now(), 'b');"
    )
    holder = hold_exclusive_lock(database, "locked_log")
    try:
        run = pgvitals("check", database.dsn, "--lock-timeout", "300", "--format", "json")
    finally:
        holder.close()
    assert run.exit_code == 0, run.stderr
    report = valid_report(run.json())
    check = next(c for c in report["checks"] if c["rule"] == "missing-primary-key")
    assert check["status"] == "ran"
    assert check["skipped_objects"] == [{"object": "public.locked_log", "reason": "lock timeout"}]
    # the rest of the report is still produced, the locked table's catalog facts included
    by_object = {f["object"]: f for f in report["findings"] if f["rule"] == "missing-primary-key"}
    assert by_object["public.free_log"]["evidence"]["duplicate_rows"] == 1
    assert "duplicate_rows" not in by_object["public.locked_log"]["evidence"]
    assert {
        "step": "definitions",
        "object": "public.locked_log",
        "reason": "lock timeout",
    } in report["collection"]["skipped"]


def test_a_rule_needing_rows_of_only_locked_tables_reports_skipped(database) -> None:
    database.execute("CREATE TABLE only_table (id int PRIMARY KEY)")
    holder = hold_exclusive_lock(database, "only_table")
    session = connect(database.dsn, Limits(lock_timeout_ms=200))
    try:
        snapshot = collect(session)
    finally:
        session.close()
        holder.close()
    assert [(p.status, p.reason) for p in snapshot.profiles] == [("skipped", "lock timeout")]
    checks = {c.rule: c for c in analyse(snapshot).checks}
    for rule in REGISTRY.values():
        if rule.rows == ROWS_REQUIRED:
            assert (checks[rule.id].status, checks[rule.id].reason) == ("skipped", "lock timeout")


def test_a_connection_lost_mid_run_keeps_the_partial_report(database, tmp_path) -> None:
    database.execute(
        "CREATE TABLE a_first (id int); CREATE TABLE b_waits (id int);"
        "INSERT INTO a_first VALUES (1), (1);"
    )
    holder = hold_exclusive_lock(database, "b_waits")

    def kill_pgvitals_while_it_waits() -> None:
        with database.admin() as admin:
            for _ in range(600):
                killed = admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name LIKE 'pgvitals%%' AND wait_event_type = 'Lock'"
                ).fetchall()
                if killed:
                    return
                time.sleep(0.05)

    killer = threading.Thread(target=kill_pgvitals_while_it_waits)
    killer.start()
    try:
        report_path = tmp_path / "report.json"
        run = pgvitals("check", database.dsn, "--lock-timeout", "30000", "-o", str(report_path))
    finally:
        killer.join()
        holder.close()
    assert run.exit_code == 3
    lines = [line for line in run.stderr.splitlines() if line.startswith("pgvitals:")]
    assert len(lines) == 1 and "connection lost" in lines[0], run.stderr
    report = valid_report(json.loads(report_path.read_text()))
    objects = {f["object"] for f in report["findings"] if f["rule"] == "missing-primary-key"}
    assert objects == {"public.a_first", "public.b_waits"}
    assert (tmp_path / "fix.sql").exists()


def test_counting_orphans_and_violations_reads_the_referenced_table_once(database) -> None:
    """The orphan count of an inferred reference, and the violation count of a NOT VALID
    foreign key, ran NOT EXISTS inside an aggregate's FILTER: a subplan per row, each a
    scan of the referenced table, counted in pg_stat_user_tables as the application's
    (5,000 rows: 5,000 scans per run)."""
    database.execute(
        'CREATE TABLE "Weird""Name" (id int PRIMARY KEY);'
        ' INSERT INTO "Weird""Name" SELECT generate_series(1, 100);'
        " CREATE TABLE others (id int PRIMARY KEY);"
        " INSERT INTO others SELECT generate_series(1, 100);"
        ' CREATE TABLE children (id int PRIMARY KEY, "weird""name_id" int, other_id int);'
        " INSERT INTO children SELECT g, 1 + g % 125, 1 + g % 110"
        "   FROM generate_series(1, 5000) g;"
        " ALTER TABLE children ADD CONSTRAINT children_other FOREIGN KEY (other_id)"
        "   REFERENCES others NOT VALID;"
        " ANALYZE"
    )
    scans = (
        "SELECT relname, coalesce(seq_scan, 0) + coalesce(idx_scan, 0)"
        " FROM pg_stat_user_tables WHERE relname IN ('Weird\"Name', 'others')"
    )
    with database.admin() as admin:
        before = dict(admin.execute(scans).fetchall())
        session = connect(database.dsn)
        snapshot = collect(session)
        session.execute("SELECT pg_catalog.pg_stat_force_next_flush()")
        session.close()
        time.sleep(0.2)
        after = dict(admin.execute(scans).fetchall())
    (count,) = [o for o in snapshot.orphans if o.columns == ['weird"name_id']]
    assert (count.status, count.checked_rows, count.orphan_rows) == ("ran", 5000, 1000), count
    (violations,) = snapshot.violations
    assert (violations.checked_rows, violations.violating_rows) == (5000, 450), violations
    # a few scans (its row count, the anti join), not one per row
    assert all(after[name] - before[name] <= 3 for name in ('Weird"Name', "others")), after
