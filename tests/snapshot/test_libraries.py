"""What a library's migrator made is recognised as the library's (snapshot/libraries.py)."""

from __future__ import annotations

from contextlib import closing

from pgvitals.connect import connect
from pgvitals.snapshot.collect import collect

# pg-boss 10+'s job, partitioned by queue (timgit/pg-boss src/plans.ts), one of whose
# per-queue partitions is partitioned again by its user; the leaf sorts before its parent
PG_BOSS = """
CREATE SCHEMA pgboss;
CREATE TABLE pgboss.job (id uuid NOT NULL, name text NOT NULL, priority int NOT NULL DEFAULT 0,
  data jsonb, state text NOT NULL, retry_limit int NOT NULL, retry_count int NOT NULL,
  retry_delay int NOT NULL, retry_backoff boolean NOT NULL, start_after timestamptz NOT NULL,
  started_on timestamptz, singleton_key text, singleton_on timestamp,
  created_on timestamptz NOT NULL, completed_on timestamptz, keep_until timestamptz NOT NULL,
  output jsonb, dead_letter text, policy text) PARTITION BY LIST (name);
CREATE INDEX job_i1 ON pgboss.job (name, state);
CREATE TABLE pgboss.j0af39af17d43da89bef6982f9ab594b4c4acde8b0aa556b27c9279ac
  PARTITION OF pgboss.job FOR VALUES IN ('emails') PARTITION BY RANGE (created_on);
CREATE TABLE pgboss."a Leaf"
  PARTITION OF pgboss.j0af39af17d43da89bef6982f9ab594b4c4acde8b0aa556b27c9279ac
  FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE pgboss.jobs_of_mine (id int PRIMARY KEY, name text);
CREATE INDEX ON pgboss.jobs_of_mine (name);
"""


def test_partitions_at_any_depth_and_their_indexes_are_the_librarys(database) -> None:
    database.execute(PG_BOSS)
    with closing(connect(database.dsn)) as session:
        snap = collect(session, profile=None)
    libraries = snap.facts.libraries
    tables = {snap.table_by_oid[oid].name for oid in libraries.tables}
    assert tables == {
        "job",
        "j0af39af17d43da89bef6982f9ab594b4c4acde8b0aa556b27c9279ac",
        "a Leaf",
    }
    leaf = next(t for t in snap.tables if t.name == "a Leaf")
    leaf_indexes = [index.name for index in snap.indexes_by_table[leaf.oid]]
    assert leaf_indexes  # the partition of job_i1's partition
    for name in leaf_indexes:
        assert libraries.owner("index", "pgboss", name) == "pg-boss", name
    mine = next(t for t in snap.tables if t.name == "jobs_of_mine")
    for index in snap.indexes_by_table[mine.oid]:
        assert libraries.owner("index", "pgboss", index.name) is None, index.name
