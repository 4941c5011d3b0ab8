"""What a kept run is: who it was of (the target), when, a summary for trends, and the
report and snapshot themselves (compressed JSON)."""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from typing import Any

from pgvitals.diff import database_bytes
from pgvitals.fmt import compact_json
from pgvitals.report import Report
from pgvitals.snapshot import io
from pgvitals.snapshot.model import Snapshot

TOP_TABLES = 10  # tables whose size and dead tuples each run keeps for trends


@dataclass(frozen=True)
class Target:
    """Whose runs these are. `key` is what runs are grouped by."""

    key: str
    database: str
    system_identifier: str | None
    label: str  # how it was reached (user@host:port/database), never a password


def target_of(snapshot: Snapshot, connection: str) -> Target:
    """The server's system identifier and the database name; where the identifier could
    not be read, the host and port the run connected to stand in for it. A standby has
    its primary's identifier but counters of its own (no writes, its own scans): it is
    a target of its own, told apart by where it was reached, so that its runs and the
    primary's (or another standby's) make no trend together."""
    server = snapshot.server
    reached = re.search(r"@(.+)/[^/]*$", connection)
    address = reached.group(1) if reached else "unknown server"
    origin = f"system {server.system_identifier}" if server.system_identifier else address
    if server.in_recovery:
        origin = f"{origin} standby {address}" if server.system_identifier else f"{origin} standby"
    return Target(
        f"{origin}/{server.database}", server.database, server.system_identifier, connection
    )


@dataclass(frozen=True)
class NewRun:
    target: Target
    collected_at: str
    tool_version: str
    summary: dict[str, Any]
    report: bytes  # gzip-compressed JSON
    snapshot: bytes | None


@dataclass(frozen=True)
class StoredRun:
    """A kept run without its report and snapshot (read those with `Store.load`)."""

    id: int
    target: str
    database: str
    label: str
    collected_at: str
    tool_version: str
    summary: dict[str, Any]


def pack(data: dict[str, Any]) -> bytes:
    return gzip.compress(compact_json(data).encode())


def unpack(data: bytes) -> dict[str, Any]:
    return json.loads(gzip.decompress(data))


def new_run(report: Report, snapshot: Snapshot, connection: str) -> NewRun:
    return NewRun(
        target_of(snapshot, connection),
        snapshot.server.collected_at,
        report.tool_version,
        summarise(report, snapshot),
        pack(report.to_json()),
        pack(io.to_dict(snapshot)),
    )


def summarise(report: Report, snapshot: Snapshot) -> dict[str, Any]:
    """The numbers trends are drawn from, kept beside each run so that listing a history
    reads no report or snapshot. Counters (scans) are cumulative since the statistics
    were reset: trends show their change between runs, where no reset came between."""
    tables = [t for t in snapshot.tables if t.kind in ("r", "m")]
    measured = sorted(
        (t for t in tables if t.total_bytes is not None),
        key=lambda t: (-(t.total_bytes or 0), t.schema, t.name),
    )
    plain_indexes = [i for i in snapshot.indexes if not (i.is_unique or i.is_primary)]
    return {
        "findings_by_severity": report.inventory.findings_by_severity,
        "findings": report.inventory.findings,
        "tables": report.inventory.tables,
        "rows": report.inventory.rows_estimate,
        "database_bytes": database_bytes(snapshot),
        "dead_tuples": known_total(t.n_dead_tup for t in tables),
        "seq_scans": known_total(t.seq_scan for t in tables),
        "idx_scans": known_total(t.idx_scan for t in tables),
        "indexes": len(snapshot.indexes),
        "unused_indexes": sum(1 for i in plain_indexes if i.idx_scan == 0),
        "stats_reset": snapshot.server.stats_reset,
        # another OID under the same name: the database was created again (a staging copy
        # restored, say) and its counters started from nothing
        "database_oid": snapshot.server.database_oid,
        # what this run's own row reads added to the counters, for later runs to leave
        # out (history/own.py)
        "own_reads": snapshot.collection.own_reads,
        "top_tables": [
            {
                "table": t.qualname,
                "bytes": t.total_bytes,
                "rows": snapshot.row_count(t),
                "dead_tuples": t.n_dead_tup,
            }
            for t in measured[:TOP_TABLES]
        ],
    }


def known_total(values: Any) -> int:
    return sum(v for v in values if v is not None)
