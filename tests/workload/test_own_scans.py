"""pgvitals' own row counts are sequential scans, which pg_stat_user_tables counts like
anyone's: after about twenty runs, seq-scan-heavy-table fired on tables nobody else
reads (pagila, Umami). pg_stat_statements knows pgvitals' own statements (they carry
its comment), so the rule leaves them out where it can tell exactly, and says how
uncertain it is elsewhere. A role that may switch counting off for its session does
(tests/snapshot/test_own_reads.py): these runs are by one that may not."""

from __future__ import annotations

import json
import time

from pgvitals.connect import connect
from pgvitals.engine import analyse
from pgvitals.rules.indexes import SeqScanOptions, heavily_scanned, sequential_scans
from pgvitals.snapshot.collect import ProfileBudget, collect
from pgvitals.snapshot.io import from_dict, to_json
from pgvitals.snapshot.model import Snapshot
from tests.conftest import Database
from tests.helpers import collected

RULE = "seq-scan-heavy-table"
RUNS = 21  # the finding needs 20 scans: the last run sees the 20 before it


def load(database: Database, rows: int) -> None:
    database.execute(
        'CREATE TABLE "Weird""Name" (id int PRIMARY KEY, "ñame" text NOT NULL, doc jsonb);'
        f"""INSERT INTO "Weird""Name" SELECT g, 'x' || g, '{{}}'"""
        f" FROM generate_series(1, {rows}) g;"
        'ANALYZE "Weird""Name";'
        # building the key's index scanned the empty table: a sequential scan that, sent
        # as this session exits, could land after reset() and count as one more
        "SELECT pg_catalog.pg_stat_force_next_flush();"
    )


def reset(database: Database, statements_first: bool) -> None:
    """Both counters reset, pg_stat_statements' before or after the table counters: after,
    every pgvitals statement it holds falls inside the statistics window."""
    order = ["SELECT pg_stat_statements_reset()", "SELECT pg_stat_reset()"]
    with database.admin() as admin:
        for statement in order if statements_first else order[::-1]:
            admin.execute(statement)
            time.sleep(0.01)  # two distinct reset times


def load_and_reset(database: Database, rows: int, statements_first: bool) -> None:
    load(database, rows)
    reset(database, statements_first)


def seq_scans(database: Database) -> int:
    with database.admin() as admin:
        admin.execute("SELECT pg_stat_clear_snapshot()")
        row = admin.execute(
            "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'Weird\"Name'"
        ).fetchone()
    assert row is not None
    return row[0]


def run_check(database: Database, runs: int) -> Snapshot:
    """`runs` collections (each counts the table's rows), the last one returned once
    the counters hold every earlier run's scans (a backend flushes them as it exits)."""
    snapshot = None
    dsn = database.reader()
    for number in range(runs):
        if number == runs - 1:
            deadline = time.monotonic() + 10
            while seq_scans(database) < number + app_scans(database):
                assert time.monotonic() < deadline, "the earlier runs' scans were not flushed"
                time.sleep(0.05)
        snapshot = collected(dsn, profile=ProfileBudget())
    assert snapshot is not None
    return snapshot


_app_scans: dict[str, int] = {}


def app_scans(database: Database) -> int:
    return _app_scans.get(database.name, 0)


def scan_by_application(database: Database, times: int) -> None:
    with database.admin() as app:
        for number in range(times):
            app.execute("""SELECT * FROM "Weird""Name" WHERE "ñame" = %s""", [f"x{number}"])
        app.execute("SELECT pg_stat_force_next_flush()")
    _app_scans[database.name] = app_scans(database) + times


def found(snapshot: Snapshot) -> list:
    return [f for f in analyse(snapshot).findings if f.rule == RULE]


def table_scans(snapshot: Snapshot) -> tuple[int | None, int | None]:
    table = next(t for t in snapshot.tables if t.name == 'Weird"Name')
    return sequential_scans(snapshot, table)


def test_pgvitals_own_row_counts_do_not_make_a_table_seq_scan_heavy(
    stats_database: Database,
) -> None:
    load_and_reset(stats_database, 5000, statements_first=False)
    snapshot = run_check(stats_database, RUNS)
    # the claim: its own counts alone are enough for the rule's thresholds
    scans, rows_read = table_scans(snapshot)
    assert (scans, rows_read) == (RUNS - 1, (RUNS - 1) * 5000)
    assert heavily_scanned(snapshot, scans, rows_read, SeqScanOptions())
    assert found(snapshot) == []
    # nor offer a GIN index for searches nobody made
    (jsonb,) = [f for f in analyse(snapshot).findings if f.rule == "jsonb-without-gin"]
    assert jsonb.severity == "info"


def test_the_applications_scans_are_judged_beside_pgvitals_own(
    stats_database: Database,
) -> None:
    load_and_reset(stats_database, 5000, statements_first=False)
    scan_by_application(stats_database, 25)
    snapshot = run_check(stats_database, 3)
    (finding,) = found(snapshot)
    assert finding.severity == "low"
    assert finding.evidence["seq_scan"] == 27
    assert finding.evidence["seq_scan_by_pgvitals"] == 2
    assert "seq_scan_by_pgvitals_is" not in finding.evidence
    # a saved snapshot keeps what pg_stat_statements said
    assert found(from_dict(json.loads(to_json(snapshot)))) == [finding]


def test_own_counts_from_before_the_window_may_be_pgvitals_and_make_it_low(
    stats_database: Database,
) -> None:
    # 20,000 rows: medium by size; pg_stat_statements counts from before the window, so
    # its calls may include runs the table counter never saw
    load_and_reset(stats_database, 20_000, statements_first=True)
    snapshot = run_check(stats_database, RUNS)
    (finding,) = found(snapshot)
    assert finding.severity == "low"
    assert finding.evidence["seq_scan_by_pgvitals"] == RUNS - 1
    assert finding.evidence["seq_scan_by_pgvitals_is"] == "at most"


def test_without_pg_stat_statements_the_own_scans_are_said_to_be_unknown(
    database: Database,
) -> None:
    load(database, 5000)
    with database.admin() as admin:
        admin.execute("SELECT pg_stat_reset()")
    snapshot = run_check(database, RUNS)
    (finding,) = found(snapshot)
    assert finding.severity == "low"
    assert "seq_scan_by_pgvitals" in finding.evidence
    assert finding.evidence["seq_scan_by_pgvitals"] is None  # unknown
    assert "pgvitals' own row counts" in finding.message


def test_a_run_that_may_switch_counting_off_adds_to_neither_counter(
    stats_database: Database,
) -> None:
    # a superuser: its row counts are in neither the table's counter nor pg_stat_statements,
    # so none of the table's 25 scans is taken for its own
    load_and_reset(stats_database, 5000, statements_first=False)
    scan_by_application(stats_database, 25)
    for _ in range(3):
        snapshot = collected(stats_database.dsn, profile=ProfileBudget())
        assert snapshot.collection.own_reads_counted is False
    (finding,) = found(snapshot)
    assert finding.evidence["seq_scan"] == 25
    assert "seq_scan_by_pgvitals" not in finding.evidence
    with stats_database.admin() as admin:
        own = admin.execute(
            "SELECT count(*) FROM pg_stat_statements"
            " WHERE query LIKE '/* pgvitals */%' AND query LIKE '%Weird%'"
        ).fetchone()
    assert own == (0,)


def test_earlier_counted_runs_are_all_left_out_by_one_that_counts_nothing(
    stats_database: Database,
) -> None:
    # two runs by a role whose reads count, then one by a superuser: pg_stat_statements
    # holds the two counts, and both are in the table's counter
    load_and_reset(stats_database, 5000, statements_first=False)
    scan_by_application(stats_database, 25)
    run_check(stats_database, 3)  # the third run's count lands once its session ends
    deadline = time.monotonic() + 10
    while seq_scans(stats_database) < 28:
        assert time.monotonic() < deadline, "the earlier runs' scans were not flushed"
        time.sleep(0.05)
    snapshot = collected(stats_database.dsn, profile=ProfileBudget())
    (finding,) = found(snapshot)
    assert finding.evidence["seq_scan"] == 28
    assert finding.evidence["seq_scan_by_pgvitals"] == 3


def test_without_pg_stat_statements_a_run_that_counts_nothing_says_nothing_of_its_own(
    database: Database,
) -> None:
    load(database, 5000)
    with database.admin() as admin:
        admin.execute("SELECT pg_stat_reset()")
    scan_by_application(database, 25)
    snapshot = collected(database.dsn, profile=ProfileBudget())  # a superuser
    (finding,) = found(snapshot)
    assert finding.evidence["seq_scan"] == 25
    assert "seq_scan_by_pgvitals" not in finding.evidence
    assert "pgvitals' own" not in finding.message


def test_explain_analyze_runs_the_applications_statements_uncounted(
    stats_database: Database,
) -> None:
    # --analyze-queries executes the statements pg_stat_statements holds: once more each,
    # which the next run would count as the application's
    load_and_reset(stats_database, 5000, statements_first=False)
    scan_by_application(stats_database, 3)
    session = connect(stats_database.dsn)  # a superuser
    try:
        snapshot = collect(session, analyze_queries=True)
    finally:
        session.close()
    assert any(plan.analyzed for plan in snapshot.query_plans)
    time.sleep(0.5)  # its session's counts, were there any, are sent as it exits
    assert seq_scans(stats_database) == 3
