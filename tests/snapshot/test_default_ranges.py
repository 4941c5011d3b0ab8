"""The DEFAULT partitions' key ranges (probe `default_partition_ranges`) and the
partition keys they rest on: read through an index, a scan or a sample, written in UTC
whatever the session's time zone, and skipped with the reason when the partition is
locked."""

from __future__ import annotations

import psycopg

from pgvitals.connect import Limits, connect
from pgvitals.engine import analyse
from pgvitals.snapshot.collect import ProfileBudget, collect
from pgvitals.snapshot.model import DefaultPartitionRange, Snapshot

PROBES = ["row_counts", "default_partition_ranges"]
BUDGET, LIMITS = ProfileBudget(), Limits()


def snapshot_of(
    dsn: str, budget: ProfileBudget | None = BUDGET, limits: Limits = LIMITS
) -> Snapshot:
    session = connect(dsn, limits)
    try:
        return collect(session, profile=budget, probes=PROBES)
    finally:
        session.close()


def read_of(snap: Snapshot, name: str) -> DefaultPartitionRange:
    oid = next(t.oid for t in snap.tables if t.name == name)
    (found,) = [r for r in snap.default_partition_ranges if r.table_oid == oid]
    return found


KEYS = """
CREATE TABLE "Weird""Name" ("ñame" timestamptz, body text) PARTITION BY RANGE ("ñame");
CREATE TABLE "Weird""Name_2024" PARTITION OF "Weird""Name"
  FOR VALUES FROM ('2024-01-01 00:00+00') TO ('2025-01-01 00:00+00');
CREATE TABLE "Weird""Name_default" PARTITION OF "Weird""Name" DEFAULT;
INSERT INTO "Weird""Name" VALUES ('2025-03-01 10:00+05', 'a'), ('2023-12-31 20:30-02', 'b'),
  (NULL, 'c');
CREATE TABLE logs (at timestamp, kind text) PARTITION BY RANGE (at, kind);
CREATE TABLE days (day date) PARTITION BY RANGE (day);
CREATE TABLE days_2024 PARTITION OF days FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE days_default PARTITION OF days DEFAULT;
CREATE INDEX ON days (day);
INSERT INTO days VALUES ('infinity'), ('2023-06-01');
CREATE TABLE stamps (at timestamp) PARTITION BY RANGE (at);
CREATE TABLE stamps_2024 PARTITION OF stamps FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE stamps_default PARTITION OF stamps DEFAULT;
INSERT INTO stamps VALUES ('2026-02-03 04:05:06.5');
CREATE TABLE "select" (at timestamptz) PARTITION BY RANGE (((at AT TIME ZONE 'UTC')::date));
CREATE TABLE empty (at timestamptz) PARTITION BY RANGE (at);
CREATE TABLE empty_default PARTITION OF empty DEFAULT;
"""


def test_partition_keys_are_read_with_their_columns_in_order(database) -> None:
    database.execute(KEYS)
    keys = {t.name: t.partition_key for t in snapshot_of(database.dsn, None).tables}
    assert keys['Weird"Name'] == ["ñame"] and keys["logs"] == ["at", "kind"]
    assert keys["select"] == []  # an expression: no column to read
    assert keys['Weird"Name_2024'] == [] and keys["empty_default"] == []


def test_default_ranges_in_utc_through_a_scan_or_an_index(database) -> None:
    database.execute(KEYS)
    # the session's zone must not change the text (timestamptz is written in UTC)
    dsn = f"{database.dsn} options='-c TimeZone=Pacific/Chatham'"
    snap = snapshot_of(dsn)
    weird = read_of(snap, 'Weird"Name_default')
    assert (weird.status, weird.method, weird.column) == ("ran", "scan", "ñame")
    assert (weird.lowest, weird.highest) == (
        "2023-12-31T22:30:00.000000+00:00",
        "2025-03-01T05:00:00.000000+00:00",
    )
    # the lowest from where a job still creates partitions: the yearly partitions end
    # at 2025, before the present year
    assert (weird.since, weird.lowest_since) == ("2025-01-01 00:00:00+00", weird.highest)
    days = read_of(snap, "days_default")
    assert (days.method, days.lowest, days.highest) == ("index", "2023-06-01", "infinity")
    assert (days.since, days.lowest_since) == ("2025-01-01", "infinity")
    stamps = read_of(snap, "stamps_default")
    assert (stamps.lowest, stamps.highest) == ("2026-02-03T04:05:06.500000",) * 2
    assert (stamps.since, stamps.lowest_since) == ("2025-01-01 00:00:00", stamps.lowest)
    empty = read_of(snap, "empty_default")
    assert (empty.status, empty.lowest, empty.highest) == ("ran", None, None)
    assert (empty.since, empty.lowest_since) == (None, None)  # no partition to go by
    # a key of two columns, or an expression, is not read
    assert len(snap.default_partition_ranges) == 4


def test_a_large_default_without_an_index_is_sampled(database) -> None:
    database.execute(KEYS)
    snap = snapshot_of(database.dsn, ProfileBudget(exact_below_rows=1))
    weird = read_of(snap, 'Weird"Name_default')
    assert (weird.method, weird.status) == ("sample", "ran")
    assert weird.lowest_since == "2025-03-01T05:00:00.000000+00:00"
    assert read_of(snap, "days_default").method == "index"  # an index needs no sample


def test_a_locked_default_is_skipped_with_the_reason_and_the_rule_says_so(database) -> None:
    database.execute(KEYS)
    with psycopg.connect(database.dsn) as holder:
        holder.execute('LOCK TABLE "Weird""Name_default" IN ACCESS EXCLUSIVE MODE')
        snap = snapshot_of(database.dsn, limits=Limits(lock_timeout_ms=200))
    weird = read_of(snap, 'Weird"Name_default')
    assert weird.status == "skipped" and "lock" in (weird.reason or "")
    assert read_of(snap, "days_default").status == "ran"  # the others are still read
    findings = analyse(snap).findings
    found = {f.to_json()["table"]: f.evidence for f in findings if f.rule == "partition-coverage"}
    assert found['Weird"Name']["ranges_read"] is False and "lock" in found['Weird"Name']["reason"]
    # days: rows of 2023 and `infinity` only: nothing a finite partition holds lies beyond
    assert "days" not in found
