"""Maintenance rules: vacuum, analyze, bloat and wraparound."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pgvitals import fixes
from pgvitals.rules._api import (
    HIGH,
    INFO,
    LOW,
    MAINTENANCE,
    MEDIUM,
    ROWS_OPTIONAL,
    Draft,
    Located,
    finding,
    option,
    rule,
)
from pgvitals.snapshot.model import Snapshot, Table, is_false


def autovacuum_trigger(snap: Snapshot, table: Table) -> int:
    """Dead tuples at which autovacuum will vacuum this table (threshold + scale x rows)."""
    settings = {**snap.server.settings, **table.options}
    threshold = int(settings.get("autovacuum_vacuum_threshold", 50))
    scale = float(settings.get("autovacuum_vacuum_scale_factor", 0.2))
    return int(threshold + scale * max(table.rows_estimate, 0))


def autovacuum_off_reason(snap: Snapshot, table: Table | None = None) -> str | None:
    """Why autovacuum will not vacuum this table (or any table): None when it will."""
    settings = snap.server.settings
    if is_false(settings.get("autovacuum", "on")):
        return "autovacuum is off on the server"
    if is_false(settings.get("track_counts", "on")):
        return "track_counts is off on the server, so autovacuum cannot tell what to vacuum"
    if table is not None and not table.autovacuum_enabled:
        return "autovacuum is disabled for the table"
    return None


def live_rows(snap: Snapshot, table: Table) -> tuple[int, str]:
    """The table's live rows and where the figure comes from.

    A count read from the rows is best. Otherwise n_live_tup, except where no VACUUM
    or ANALYZE has set it since the statistics were reset: it then counts only the
    inserts minus deletes since the reset (0 for a table loaded before it), and the
    planner's reltuples, when larger, is the better figure."""
    profile = snap.profile_by_table.get(table.oid)
    if profile is not None and profile.row_count is not None:
        return profile.row_count, "sampled count" if profile.sampled else "exact count"
    live = max(table.n_live_tup or 0, 0)
    maintained = (table.last_vacuum, table.last_autovacuum, table.last_analyze)
    if not any((*maintained, table.last_autoanalyze)) and table.rows_estimate > live:
        return round(table.rows_estimate), "reltuples"
    return live, "n_live_tup"


@dataclass(frozen=True)
class DeadTupleOptions:
    min_ratio: float = option(0.2, "dead / (live + dead) at which to report")
    min_dead_tuples: int = option(
        1_000,
        "fewer dead tuples than this cost little: info while autovacuum will clean them,"
        " low when it will not",
    )
    ignore_below_dead_tuples: int = option(20, "ignore tables with fewer dead tuples than this")
    high_ratio: float = option(0.5, "ratio from which it is high")


@rule(
    "high-dead-tuple-ratio",
    category=MAINTENANCE,
    severity=MEDIUM,
    title="Many dead tuples: vacuum is not keeping up",
    options=DeadTupleOptions,
    rows=ROWS_OPTIONAL,
    uses_statistics=True,
    needs=("row_counts",),
)
def high_dead_tuple_ratio(snap: Snapshot, opts: DeadTupleOptions) -> Iterator[Draft]:
    """A large share of the table's tuples are dead (from pg_stat_user_tables).

    High when at least half the tuples are dead, or when autovacuum will not vacuum
    the table (disabled for it or on the server) so nothing will clean them up. A
    table with few dead tuples (under `min_dead_tuples`) is reported at the cost it
    has: info while autovacuum will clean it (the finding says at how many dead
    tuples it will), low when it will not (`autovacuum-disabled` reports that).

    The live rows are counted when the rows were read; otherwise they come from
    `n_live_tup`, or from the planner's `reltuples` when `n_live_tup` has not been
    set by a VACUUM or ANALYZE since the statistics were reset (it then counts only
    the rows inserted since). The finding says which figure it used.

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
    window = snap.facts.window
    for table in snap.tables:
        dead = table.n_dead_tup
        if dead is None or table.n_live_tup is None or dead < opts.ignore_below_dead_tuples:
            continue
        live, live_from = live_rows(snap, table)
        ratio = dead / (dead + live)
        if ratio < opts.min_ratio:
            continue
        off_reason = autovacuum_off_reason(snap, table)
        trigger = autovacuum_trigger(snap, table)
        evidence = {
            "n_dead_tup": dead,
            "n_live_tup": table.n_live_tup,
            "live_rows": live,
            "live_rows_from": live_from,
            "reltuples": round(table.rows_estimate),
            "dead_ratio": round(ratio, 3),
            "autovacuum_enabled": off_reason is None,
            "autovacuum_triggers_at": trigger,
            "last_vacuum": table.last_vacuum,
            "last_autovacuum": table.last_autovacuum,
            "stats_reset": snap.server.stats_reset,
            **window.evidence,
        }
        fix = fixes.vacuum_analyze(table)
        if not table.autovacuum_enabled:
            fix += fixes.set_autovacuum(table, enabled=True)
        counted = f"{live:,} live" + (f" by {live_from}" if live_from != "n_live_tup" else "")
        if live_from != "n_live_tup" and live != table.n_live_tup:
            counted += f"; n_live_tup says {table.n_live_tup:,}"
        message = f"{ratio:.0%} of tuples are dead ({dead:,} dead, {counted})"
        if off_reason is not None:
            message += f", and {off_reason}"
        if dead < opts.min_dead_tuples:
            severity: str | None = LOW if off_reason else INFO
            if off_reason is None and dead >= trigger:
                message += f"; past the {trigger:,} at which autovacuum vacuums it: it is due"
            elif off_reason is None:
                message += f"; autovacuum will vacuum it at {trigger:,} dead tuples"
        elif ratio >= opts.high_ratio or off_reason is not None:
            severity = HIGH
        else:
            severity = None  # the default, medium
        yield finding(table, message, evidence=evidence, fix=fix, severity=severity)


@dataclass(frozen=True)
class AutovacuumOptions:
    small_table_rows: int = option(
        1_000, "a table this small, not yet due for a vacuum, makes it low"
    )
    many_dead_tuples: int = option(
        10_000, "dead tuples past the point autovacuum would act at that make it high"
    )


@rule(
    "autovacuum-disabled",
    category=MAINTENANCE,
    severity=MEDIUM,
    title="Autovacuum is turned off",
    options=AutovacuumOptions,
)
def autovacuum_disabled(snap: Snapshot, opts: AutovacuumOptions) -> Iterator[Draft]:
    """Autovacuum will not vacuum or analyze this table (or any table of the server).

    Reported per table with `autovacuum_enabled = false` in its storage parameters,
    whatever its size, and once for the database when the server runs with
    `autovacuum = off` or `track_counts = off` (autovacuum decides from those
    counters). Low for a small table not yet due for a vacuum; high when the dead
    tuples are already far past the point autovacuum would have acted at.

    ## Why it breaks
    Nothing then removes dead row versions: every UPDATE and DELETE grows the table
    and its indexes for good, scans slow down, and the visibility map that
    index-only scans rely on stays unset. Nothing analyzes the table either, so the
    planner keeps estimating from statistics that no longer match the data. The
    only vacuum that still runs is the one that prevents transaction ID wraparound,
    forced at `autovacuum_freeze_max_age`: it arrives late, on the whole table at
    once, and cannot be cancelled by a conflicting lock request. Turning it off is
    often a leftover of a bulk load.

    ## Fix
    `ALTER TABLE ... RESET (autovacuum_enabled)` (a SHARE UPDATE EXCLUSIVE lock,
    which does not block reads or writes); on the server, `autovacuum = on` and
    `track_counts = on` in postgresql.conf and a reload. If the table was excluded
    because vacuum competed with a batch job, tune it instead
    (`autovacuum_vacuum_cost_delay`, a lower scale factor) or schedule a VACUUM.

    ## Silence
    A table that is only ever appended to and re-created, never updated, loses
    little: mark it with `pgvitals:ignore autovacuum-disabled`.
    """
    server_reason = autovacuum_off_reason(snap)
    if server_reason is not None:
        database = Located("database", (), snap.server.database)
        settings = snap.server.settings
        yield finding(
            database,
            f"{server_reason[0].upper()}{server_reason[1:]}: no table of {snap.server.database}"
            " is vacuumed or analyzed automatically",
            evidence={
                "autovacuum": settings.get("autovacuum"),
                "track_counts": settings.get("track_counts"),
            },
            severity=HIGH,
        )
    for table in snap.tables:
        if table.kind not in ("r", "m") or table.autovacuum_enabled:
            continue
        rows = snap.facts.rows(table)
        trigger = autovacuum_trigger(snap, table)
        dead = table.n_dead_tup or 0
        if dead >= trigger and dead >= opts.many_dead_tuples:
            severity: str | None = HIGH
        elif rows < opts.small_table_rows and dead < trigger:
            severity = LOW
        else:
            severity = None  # the default, medium
        due = (
            f"; {dead:,} dead tuples, past the {trigger:,} at which autovacuum would vacuum it"
            if dead >= trigger
            else ""
        )
        yield finding(
            table,
            f"autovacuum_enabled = {table.options['autovacuum_enabled']} on {table.qualname}"
            f" ({rows:,} rows): it is never vacuumed or analyzed automatically" + due,
            evidence={
                "reloption": f"autovacuum_enabled={table.options['autovacuum_enabled']}",
                "rows": rows,
                "n_dead_tup": table.n_dead_tup,
                "autovacuum_would_trigger_at": trigger,
                "n_mod_since_analyze": table.n_mod_since_analyze,
                "last_vacuum": table.last_vacuum,
                "last_analyze": table.last_analyze,
            },
            fix=fixes.set_autovacuum(table, enabled=True),
            severity=severity,
        )
