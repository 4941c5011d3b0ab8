"""high-dead-tuple-ratio calls the dead tuples since a recent vacuum a queue's churn only
when that vacuum could remove what had died: a transaction open since before it (a
second session, which a case file cannot hold open) keeps the finding high."""

from __future__ import annotations

import psycopg

from pgvitals.testing import Case, check_case

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
