"""Maintenance rules: vacuum, analyze, bloat and wraparound."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pgvitals import fixes
from pgvitals.rules._api import HIGH, MAINTENANCE, MEDIUM, Draft, finding, option, rule
from pgvitals.snapshot.model import Snapshot, Table


def autovacuum_trigger(snap: Snapshot, table: Table) -> int:
    """Dead tuples at which autovacuum will vacuum this table (threshold + scale x rows)."""
    settings = {**snap.server.settings, **table.options}
    threshold = int(settings.get("autovacuum_vacuum_threshold", 50))
    scale = float(settings.get("autovacuum_vacuum_scale_factor", 0.2))
    return int(threshold + scale * max(table.rows_estimate, 0))


@dataclass(frozen=True)
class DeadTupleOptions:
    min_ratio: float = option(0.2, "dead / (live + dead) at which to report")
    min_dead_tuples: int = option(1_000, "ignore tables with fewer dead tuples than this")
    high_ratio: float = option(0.5, "ratio from which it is high")


@rule(
    "high-dead-tuple-ratio",
    category=MAINTENANCE,
    severity=MEDIUM,
    title="Many dead tuples: vacuum is not keeping up",
    options=DeadTupleOptions,
    uses_statistics=True,
)
def high_dead_tuple_ratio(snap: Snapshot, opts: DeadTupleOptions) -> Iterator[Draft]:
    """A large share of the table's tuples are dead (from pg_stat_user_tables).

    High when at least half the tuples are dead, or when autovacuum is disabled on
    the table so nothing will clean them up.

    ## Why it breaks
    An UPDATE or DELETE leaves the old row version behind until VACUUM removes it.
    Until then sequential scans read the dead versions, index scans visit them and
    check their visibility, the table and its indexes grow (space that is reused
    only after a VACUUM and returned to the OS only by a rewrite), and the
    visibility map stays unset so index-only scans fall back to the heap.
    Autovacuum starts at `autovacuum_vacuum_threshold +
    autovacuum_vacuum_scale_factor x reltuples` dead tuples; with the default 20%
    a large table accumulates millions of dead rows before it is cleaned, and with
    `autovacuum_enabled = false` it never is. A long-running transaction or an
    abandoned replication slot also prevents their removal.

    ## Fix
    `VACUUM (ANALYZE)` the table now (it takes no lock that blocks reads or writes).
    Re-enable autovacuum where it was turned off, and for large, busy tables lower
    `autovacuum_vacuum_scale_factor` for that table. If dead tuples stay after a
    VACUUM, look for old transactions in `pg_stat_activity` and for inactive slots
    in `pg_replication_slots`.
    """
    for table in snap.tables:
        dead, live = table.n_dead_tup, table.n_live_tup
        if dead is None or live is None or dead < opts.min_dead_tuples:
            continue
        ratio = dead / (dead + live)
        if ratio < opts.min_ratio:
            continue
        autovacuum_on = table.autovacuum_enabled and snap.server.settings.get("autovacuum") != "off"
        evidence = {
            "n_dead_tup": dead,
            "n_live_tup": live,
            "dead_ratio": round(ratio, 3),
            "autovacuum_enabled": autovacuum_on,
            "autovacuum_triggers_at": autovacuum_trigger(snap, table),
            "last_vacuum": table.last_vacuum,
            "last_autovacuum": table.last_autovacuum,
            "stats_reset": snap.server.stats_reset,
        }
        fix = fixes.vacuum_analyze(table)
        if not table.autovacuum_enabled:
            fix += fixes.enable_autovacuum(table)
        reason = "" if autovacuum_on else " and autovacuum is disabled for it"
        yield finding(
            table,
            f"{ratio:.0%} of tuples are dead ({dead:,} dead, {live:,} live)" + reason,
            evidence=evidence,
            fix=fix,
            severity=HIGH if ratio >= opts.high_ratio or not autovacuum_on else None,
        )
