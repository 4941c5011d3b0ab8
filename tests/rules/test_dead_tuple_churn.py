"""high-dead-tuple-ratio calls the dead tuples since a recent vacuum a queue's churn only
when that vacuum could remove what had died: a transaction open since before it (a
second session, which a case file cannot hold open) keeps the finding high."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import psycopg

from pgvitals.engine import analyse
from pgvitals.fmt import parse_timestamp
from pgvitals.testing import Case, analyse_case, check_case, prepare, verify

QUEUE = """
CREATE TABLE jobs (id bigint PRIMARY KEY, state text NOT NULL);
INSERT INTO jobs SELECT g, 'available' FROM generate_series(1, 4000) g;
"""


def queue_case(severity: str) -> Case:
    return Case(
        "high-dead-tuple-ratio",
        "jobs vacuumed moments ago",
        QUEUE,
        workload=("VACUUM jobs", "DELETE FROM jobs WHERE id > 1000"),
        config={},
        no_data=False,
        expect=({"object": "public.jobs", "severity": severity},),
        source="test",
    )


def test_a_transaction_open_since_before_the_vacuum_keeps_it_high(database) -> None:
    with psycopg.connect(database.dsn, autocommit=True) as holder:
        # a snapshot taken before the vacuum: what dies after it stays until it ends
        holder.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        holder.execute("SELECT 1")
        [found] = check_case(database.dsn, queue_case("high"))
        holder.execute("ROLLBACK")
    assert "changes since its last pass" not in found["message"]


def test_without_it_the_same_table_is_info(database) -> None:
    [found] = check_case(database.dsn, queue_case("info"))
    assert "changes since its last pass" in found["message"]


LOADED = """
CREATE TABLE items (itemid bigint PRIMARY KEY, templateid bigint);
INSERT INTO items SELECT g, NULL FROM generate_series(1, 4000) g;
"""


def test_a_due_table_never_visited_since_long_ago_is_high_again(database) -> None:
    """Loaded and updated moments ago, `items` waits for autovacuum's first pass (low);
    the same counters read a day after the statistics started say autovacuum has had
    dozens of passes and never reached it: not keeping up, high."""
    case = Case(
        "high-dead-tuple-ratio",
        "items updated once after its load",
        LOADED,
        workload=("UPDATE items SET templateid = itemid",),
        config={},
        no_data=False,
        expect=({"object": "public.items", "severity": "low"},),
        source="test",
    )
    prepare(database.dsn, case)
    analysis = analyse_case(database.dsn, case)
    verify(analysis, case)
    snap = analysis.snapshot
    a_day_later = parse_timestamp(snap.server.collected_at) + timedelta(days=1)
    later = dataclasses.replace(
        snap, server=dataclasses.replace(snap.server, collected_at=a_day_later.isoformat())
    )
    [found] = [f for f in analyse(later).findings if f.rule == "high-dead-tuple-ratio"]
    assert found.severity.value == "high"
    assert "first_pass_pending" not in found.evidence


def test_a_manual_vacuum_runs_without_the_cost_delay_autovacuum_has(database) -> None:
    """Why a table with many dead tuples awaiting autovacuum's first pass is given the
    VACUUM: run by hand it is not throttled (vacuum_cost_delay 0), autovacuum is (2 ms)."""
    with database.admin() as admin:
        settings = dict(
            admin.execute(
                "SELECT name, setting FROM pg_catalog.pg_settings"
                " WHERE name IN ('vacuum_cost_delay', 'autovacuum_vacuum_cost_delay')"
            ).fetchall()
        )
    assert settings == {"vacuum_cost_delay": "0", "autovacuum_vacuum_cost_delay": "2"}
