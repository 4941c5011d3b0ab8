"""pgvitals' own row reads that earlier runs kept in the history, left out of the counters
a run judges from.

A role that may not switch counting off for its session (snapshot/
uncounted.py) adds its row counts, orphan counts and key-range descents to
pg_stat_user_tables and pg_stat_user_indexes like the application's reads; each run
measures exactly what it added (collection.own_reads) and the history keeps it in the
run's summary. A later run of the same database subtracts what the runs taken within its
statistics window added. Runs not kept (without --history, or removed by retention) are
not known: their reads stay in the counters, so what is left out is never too much."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from pgvitals.fmt import parse_timestamp
from pgvitals.history.runs import StoredRun
from pgvitals.snapshot.model import Snapshot


def counted_since(snapshot: Snapshot, runs: Iterable[StoredRun]) -> list[StoredRun]:
    """The earlier runs of the snapshot's database whose own reads count in its counters:
    taken within its statistics window (the counters were not reset since), with reads
    recorded (a run that switched counting off recorded none)."""
    since = parse_timestamp(snapshot.facts.window.since)
    now = parse_timestamp(snapshot.server.collected_at)
    return [
        run
        for run in runs
        if run.summary.get("own_reads")
        and run.summary.get("database_oid") == snapshot.server.database_oid
        and since <= parse_timestamp(run.collected_at) < now
    ]


def left_out(snapshot: Snapshot, runs: Iterable[StoredRun]) -> Snapshot:
    """The snapshot with the earlier runs' own reads taken out of each table's sequential
    scans and rows read, and each index's scans (and its table's index scans), never
    below zero (a table's counters reset alone). Unchanged when no run is known."""
    earlier = counted_since(snapshot, runs)
    if not earlier:
        return snapshot
    reads: dict[int, tuple[int, int]] = {}
    for run in earlier:
        for oid, (scans, rows) in run.summary["own_reads"].items():
            known = reads.get(int(oid), (0, 0))
            reads[int(oid)] = (known[0] + scans, known[1] + rows)
    index_scans: dict[int, int] = {}
    indexes = []
    for index in snapshot.indexes:
        scans, rows = reads.get(index.oid, (0, 0))
        if scans or rows:
            index_scans[index.table_oid] = index_scans.get(index.table_oid, 0) + scans
            index = index._replace(
                idx_scan=less(index.idx_scan, scans), idx_tup_read=less(index.idx_tup_read, rows)
            )
        indexes.append(index)
    tables = []
    for table in snapshot.tables:
        scans, rows = reads.get(table.oid, (0, 0))
        if scans or rows or table.oid in index_scans:
            table = table._replace(
                seq_scan=less(table.seq_scan, scans),
                seq_tup_read=less(table.seq_tup_read, rows),
                idx_scan=less(table.idx_scan, index_scans.get(table.oid, 0)),
            )
        tables.append(table)
    collection = dataclasses.replace(snapshot.collection, own_reads_left_out=len(earlier))
    return dataclasses.replace(snapshot, tables=tables, indexes=indexes, collection=collection)


def less(counter: int | None, own: int) -> int | None:
    return None if counter is None else max(counter - own, 0)
