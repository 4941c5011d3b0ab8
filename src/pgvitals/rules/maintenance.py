"""Maintenance rules: vacuum, analyze, bloat and wraparound."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pgvitals import fixes
from pgvitals.fmt import human_bytes, parse_timestamp, short_time
from pgvitals.rules import _bloat
from pgvitals.rules._api import (
    CRITICAL,
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
from pgvitals.rules._bloat import Bloat
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


def latest(*stamps: str | None) -> str | None:
    """The latest of some ISO 8601 timestamps (None when all are)."""
    known = [stamp for stamp in stamps if stamp is not None]
    return max(known, key=parse_timestamp) if known else None


def churn_since(
    snap: Snapshot,
    table: Table,
    maintained_at: str | None,
    naptimes: float,
    *,
    due: bool,
    vacuum: bool,
) -> str | None:
    """Why the changes counted since `maintained_at` (the table's last vacuum, or
    analyze) are churn that autovacuum's next pass handles, not a table it neglects;
    None when they may not be.

    They are when autovacuum runs for the table, did that pass within `naptimes` of
    its naptimes (it wakes once a naptime per database) and is `due` to act on the
    changes counted since (past its threshold), and, for a vacuum, no
    transaction open since before that pass kept it from removing what had died (a
    role that does not see every session cannot tell, so it is not assumed)."""
    if not due or maintained_at is None or autovacuum_off_reason(snap, table) is not None:
        return None
    server = snap.server
    naptime = float(server.settings.get("autovacuum_naptime", 60))
    at = parse_timestamp(maintained_at)
    seconds_ago = (parse_timestamp(server.collected_at) - at).total_seconds()
    if seconds_ago > naptimes * naptime:
        return None
    if vacuum:
        held = server.horizon_held_since
        if not server.sees_all_sessions or (held is not None and parse_timestamp(held) <= at):
            return None
    done = "vacuumed" if vacuum else "analyzed"
    return (
        f"{done} {max(seconds_ago, 0):.0f} s ago, and autovacuum wakes every {naptime:g} s:"
        " these are the changes since its last pass, which its next one handles"
        " (a queue's table churns like this)"
    )


def first_pass_pending(snap: Snapshot, table: Table, naptimes: float) -> str | None:
    """Why autovacuum may simply not have reached this table yet; None when it had time.

    So when nothing has vacuumed the table since the counters started (the statistics
    reset, or the server's start: a table loaded since) and they started within
    `naptimes` naptimes: autovacuum visits each database once a naptime, so a table
    loaded moments ago (Zabbix's data.sql, which updates most rows it inserts) waits for
    its first pass. Later, a table due and never vacuumed is one autovacuum does not
    keep up with. (A table loaded since on a server counting for longer is not told
    apart: nothing in the statistics says when its rows came.) An ANALYZE, by hand or
    autovacuum's, removes no dead tuple: a queue's table analyzed by hand after a mass
    DELETE still waits for the vacuum that removes them."""
    if table.last_vacuum or table.last_autovacuum or autovacuum_off_reason(snap, table):
        return None
    window = snap.facts.window
    naptime = float(snap.server.settings.get("autovacuum_naptime", 60))
    seconds = (parse_timestamp(window.collected_at) - parse_timestamp(window.since)).total_seconds()
    if seconds > naptimes * naptime:
        return None
    return (
        f"never vacuumed, and the statistics started counting {max(seconds, 0):.0f} s"
        f" ago ({window.evidence['statistics_since_is']}), within {naptimes:g} of autovacuum's"
        f" {naptime:g} s naptimes: its first pass is due"
    )


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
    recent_naptimes: float = option(
        3,
        "a table vacuumed within this many autovacuum naptimes, with no older transaction"
        " open, is info: its dead tuples are the churn since that pass; counters younger"
        " than this leave a table never vacuumed awaiting autovacuum's first pass",
    )


@rule(
    "high-dead-tuple-ratio",
    category=MAINTENANCE,
    severity=MEDIUM,
    title="Many dead tuples: vacuum is not keeping up",
    options=DeadTupleOptions,
    rows=ROWS_OPTIONAL,
    uses_statistics=True,
    needs=("row_counts",),
    primary_counters=True,
)
def high_dead_tuple_ratio(snap: Snapshot, opts: DeadTupleOptions) -> Iterator[Draft]:
    """A large share of the table's tuples are dead (from pg_stat_user_tables).

    High when at least half the tuples are dead, or when autovacuum will not vacuum
    the table (disabled for it or on the server) so nothing will clean them up. A
    table with few dead tuples (under `min_dead_tuples`) is reported at the cost it
    has: info, with no fix, while autovacuum will clean it (the finding says at how
    many dead tuples it will), low when it will not (`autovacuum-disabled` reports
    that).

    The live rows are counted when the rows were read; otherwise they come from
    `n_live_tup`, or from the planner's `reltuples` when `n_live_tup` has not been
    set by a VACUUM or ANALYZE since the statistics were reset (it then counts only
    the rows inserted since). The finding says which figure it used.

    Info, without a fix, when autovacuum is keeping up: it vacuumed the table within
    `recent_naptimes` naptimes (`autovacuum_naptime`), the dead tuples are past the
    point its next pass vacuums at, and no transaction open since before that pass
    held back what it could remove. A job queue's table, inserted,
    updated and deleted all day, holds more dead tuples than live ones between two
    passes, and the next pass removes them.

    Not high either when autovacuum has had no pass yet: the dead tuples are past its
    threshold, nothing has vacuumed the table since the statistics started counting
    (an ANALYZE removes no dead tuple: one run by hand after a mass DELETE leaves them
    all to that pass), and they started within `recent_naptimes` naptimes (a schema and
    its data loaded moments ago, most of its rows updated once: Zabbix's `items` and
    `hosts` after data.sql). Info below `min_dead_tuples`, low from there with the VACUUM (a
    manual VACUUM runs without autovacuum's cost delay), `first_pass_pending` in the
    evidence.

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
            fix += fixes.enable_autovacuum(table)
        counted = f"{live:,} live" + (f" by {live_from}" if live_from != "n_live_tup" else "")
        if live_from != "n_live_tup" and live != table.n_live_tup:
            counted += f"; n_live_tup says {table.n_live_tup:,}"
        message = f"{ratio:.0%} of tuples are dead ({dead:,} dead, {counted})"
        if off_reason is not None:
            message += f", and {off_reason}"
        churn = churn_since(
            snap,
            table,
            latest(table.last_vacuum, table.last_autovacuum),
            opts.recent_naptimes,
            due=dead >= trigger,
            vacuum=True,
        )
        if churn is not None:
            yield finding(table, f"{message}; {churn}", evidence=evidence, severity=INFO)
            continue
        pending = first_pass_pending(snap, table, opts.recent_naptimes) if dead >= trigger else None
        if pending is not None:
            # the same state at any size; the size sets what it costs until that pass
            evidence["first_pass_pending"] = True
            message += f"; past the {trigger:,} at which autovacuum vacuums it, {pending}"
            # many: a manual VACUUM now runs without autovacuum's cost delay
            severity: str | None = INFO if dead < opts.min_dead_tuples else LOW
        elif dead < opts.min_dead_tuples:
            severity = LOW if off_reason else INFO
            if off_reason is None and dead >= trigger:
                message += f"; past the {trigger:,} at which autovacuum vacuums it: it is due"
            elif off_reason is None:
                message += f"; autovacuum will vacuum it at {trigger:,} dead tuples"
        elif ratio >= opts.high_ratio or off_reason is not None:
            severity = HIGH
        else:
            severity = None  # the default, medium
        if severity == INFO:
            fix = None  # a few dead tuples autovacuum is about to remove: nothing to run
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
    on_standby="where dead tuples do not set the severity: they are counted on the primary",
)
def autovacuum_disabled(snap: Snapshot, opts: AutovacuumOptions) -> Iterator[Draft]:
    """Autovacuum will not vacuum or analyze this table (or any table of the server).

    Reported per table with `autovacuum_enabled = false` in its storage parameters,
    whatever its size, and once for the database when the server runs with
    `autovacuum = off` or `track_counts = off` (autovacuum decides from those
    counters). Low for a small table not yet due for a vacuum; high when the dead
    tuples are already far past the point autovacuum would have acted at. On a standby
    the dead tuples, vacuums and analyzes are counted on the primary: medium, and the
    evidence quotes none of the standby's zeros (check the primary).

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
    facts = snap.facts
    # on a standby the primary counts them: its zeros are not the table's
    elsewhere = facts.counted_on("n_dead_tup")
    for table in snap.tables:
        if table.kind not in ("r", "m") or table.autovacuum_enabled:
            continue
        rows = facts.rows(table)
        trigger = autovacuum_trigger(snap, table)
        counted: dict[str, object] = {
            "n_dead_tup": facts.counter(table, "n_dead_tup"),
            "n_mod_since_analyze": facts.counter(table, "n_mod_since_analyze"),
            "last_vacuum": facts.time_kept(table, "last_vacuum"),
            "last_analyze": facts.time_kept(table, "last_analyze"),
        }
        dead = facts.counter(table, "n_dead_tup") or 0
        if elsewhere:
            counted["counted_on"] = elsewhere
            severity: str | None = None
        elif dead >= trigger and dead >= opts.many_dead_tuples:
            severity = HIGH
        elif rows < opts.small_table_rows and dead < trigger:
            severity = LOW
        else:
            severity = None  # the default, medium
        due = (
            f"; {dead:,} dead tuples, past the {trigger:,} at which autovacuum would vacuum it"
            if dead >= trigger and not elsewhere
            else ""
        )
        yield finding(
            table,
            f"autovacuum_enabled = {table.options['autovacuum_enabled']} on {table.qualname}"
            f" ({rows:,} rows): it is never vacuumed or analyzed automatically" + due,
            evidence={
                "reloption": f"autovacuum_enabled={table.options['autovacuum_enabled']}",
                "rows": rows,
                "autovacuum_would_trigger_at": trigger,
                **counted,
            },
            fix=fixes.enable_autovacuum(table),
            severity=severity,
        )


def rows_read(snap: Snapshot, table: Table) -> bool:
    """Whether this run read the table's rows (of a partitioned table, a partition's):
    then this role may SELECT it, and pg_stats shows it its columns' statistics."""
    leaves = snap.facts.leaves_by_root.get(table.oid, []) if table.kind == "p" else [table]
    profiles = (snap.profile_by_table.get(leaf.oid) for leaf in leaves)
    return any(profile is not None and profile.status == "ran" for profile in profiles)


def autoanalyze_trigger(snap: Snapshot, table: Table) -> int:
    """Changed rows at which autovacuum will analyze this table (threshold + scale x rows)."""
    settings = {**snap.server.settings, **table.options}
    threshold = int(settings.get("autovacuum_analyze_threshold", 50))
    scale = float(settings.get("autovacuum_analyze_scale_factor", 0.1))
    return int(threshold + scale * max(table.rows_estimate, 0))


@dataclass(frozen=True)
class StaleStatisticsOptions:
    changed_ratio: float = option(
        0.5, "rows changed since the last analyze, against the table's rows, that make it stale"
    )
    min_changes: int = option(1_000, "ignore fewer changed rows than this")
    min_rows: int = option(
        50, "ignore never-analyzed tables with fewer rows (the planner's guess costs nothing)"
    )
    small_table_rows: int = option(1_000, "a table this small is low")
    large_table_rows: int = option(100_000, "a never-analyzed table this large is high")
    recent_naptimes: float = option(
        3, "a table analyzed within this many autovacuum naptimes is info: it churns"
    )


@rule(
    "stale-statistics",
    category=MAINTENANCE,
    severity=MEDIUM,
    title="Planner statistics missing or out of date",
    options=StaleStatisticsOptions,
    rows=ROWS_OPTIONAL,
    uses_statistics=True,
    needs=("row_counts",),
    on_standby="where only never-analyzed tables are judged: the rows changed since an"
    " analyze are counted on the primary",
)
def stale_statistics(snap: Snapshot, opts: StaleStatisticsOptions) -> Iterator[Draft]:
    """A table with rows that was never analyzed, or that changed a lot since.

    Never analyzed: no column has statistics in `pg_stats` and no ANALYZE is
    recorded, yet the table holds at least `min_rows` rows (a reset of the
    statistics clears the recorded times but not `pg_stats`, so a reset alone does
    not look like this). Low under `small_table_rows`, high from
    `large_table_rows`. Changed a lot:
    `n_mod_since_analyze` (rows inserted, updated or deleted since the last
    analyze) is at least `changed_ratio` of the table's rows and `min_changes`;
    high when autovacuum will not analyze it, low under `small_table_rows` (a table
    this small is read in a few pages whatever plan its statistics lead to). A
    partitioned table is never analyzed by autovacuum: only a manual ANALYZE gives it
    the statistics of the whole tree. Info, without a fix, when the table was analyzed within
    `recent_naptimes` naptimes (`autovacuum_naptime`) and the changes since are past
    the point autovacuum analyzes at: they are the churn since that pass (a job
    queue's table changes many times its size a minute), and its next pass analyzes it.

    On a standby only "never analyzed" is judged, from `pg_stats` alone: the
    statistics are replicated (its planner uses the primary's), while the analyze
    times and the changed rows are counted on the primary (check there). Only tables
    whose rows the check read are judged there: `pg_stats` hides the columns a role
    may not read, and no analyze time tells an unreadable table from an unanalyzed one.

    ## Why it breaks
    The planner estimates row counts from `pg_stats` (most common values,
    histograms, distinct counts, null fractions) and `reltuples`. Without them it
    falls back to fixed guesses (a fraction of the table per condition), and after
    large changes it plans for the data as it was: a nested loop over what is now
    a million rows, a sequential scan where an index would read ten, a hash join
    that spills. The plans are wrong silently, and may change suddenly when
    autovacuum finally analyzes. Autovacuum analyzes a table after
    `autovacuum_analyze_threshold + autovacuum_analyze_scale_factor x reltuples`
    changed rows (50 + 10 %), unless it is disabled for it.

    ## Fix
    `ANALYZE` the table (it reads a sample and blocks no writes). After bulk loads,
    run ANALYZE as part of the load; for partitioned tables, schedule ANALYZE on
    the parent; re-enable autovacuum where it was turned off.
    """
    columns = snap.columns_by_table
    facts = snap.facts
    window = facts.window
    for table in snap.tables:
        if table.kind not in ("r", "m", "p"):
            continue
        rows = snap.facts.rows(table)
        if rows <= 0:
            continue
        last_analyze = facts.time_kept(table, "last_analyze")
        last_autoanalyze = facts.time_kept(table, "last_autoanalyze")
        analyzed_at = latest(last_analyze, last_autoanalyze)
        has_stats = any(c.null_frac is not None for c in columns.get(table.oid, []))
        off_reason = autovacuum_off_reason(snap, table)
        # on a standby the primary counts the changes: its 0 says nothing (None); a
        # partitioned table's are its partitions'
        changed = facts.counter(table, "n_mod_since_analyze")
        evidence: dict[str, object] = {
            "rows": rows,
            "last_analyze": last_analyze,
            "last_autoanalyze": last_autoanalyze,
            "n_mod_since_analyze": changed,
            **window.evidence,
        }
        partitioned = "; autovacuum never analyzes a partitioned table" if table.kind == "p" else ""
        if analyzed_at is None and not has_stats:
            if rows < opts.min_rows:
                continue
            if facts.counted_on("last_analyze"):
                # its pg_stat_user_tables has no analyze times: pg_stats says it alone,
                # and shows only the columns this role may read (rows read here say so)
                if not rows_read(snap, table):
                    continue
                evidence["judged_from"] = "pg_stats (a standby keeps no analyze times)"
            if rows < opts.small_table_rows:
                severity: str | None = LOW
            elif rows >= opts.large_table_rows:
                severity = HIGH
            else:
                severity = None  # the default, medium
            yield finding(
                table,
                f"{table.qualname} holds {rows:,} rows and has never been analyzed: the planner"
                f" guesses{partitioned}",
                evidence=evidence,
                fix=fixes.analyze(table),
                severity=severity,
            )
            continue
        if table.kind == "p" or changed is None or changed < opts.min_changes:
            continue
        if changed < opts.changed_ratio * rows:
            continue
        trigger = autoanalyze_trigger(snap, table)
        evidence["autoanalyze_triggers_at"] = trigger
        when = (
            f"last analyzed {short_time(analyzed_at)}"
            if analyzed_at
            else "not analyzed in the window"
        )
        reason = f"; {off_reason}" if off_reason else ""
        churn = churn_since(
            snap, table, analyzed_at, opts.recent_naptimes, due=changed >= trigger, vacuum=False
        )
        if churn is not None:
            reason += f"; {churn}"
            severity = INFO
        elif rows < opts.small_table_rows:
            # pgbench_branches: 10 rows, each updated thousands of times
            reason += "; a table this small is read in a few pages whatever the plan"
            severity = LOW
        else:
            severity = HIGH if off_reason else None
        yield finding(
            table,
            f"{changed:,} rows changed since the statistics were gathered ({when}), against"
            f" {rows:,} rows now{reason}",
            evidence=evidence,
            fix=None if churn else fixes.analyze(table),
            severity=severity,
        )


TWO_BILLION = 2**31  # transaction and multixact IDs wrap around at 2^31 in the past


@dataclass(frozen=True)
class WraparoundOptions:
    report_from_age: int = option(
        0, "age from which to report; 0: autovacuum_freeze_max_age (per table if set)"
    )
    high_fraction: float = option(0.5, "share of the 2^31 limit from which it is high")
    critical_fraction: float = option(0.75, "share of the 2^31 limit from which it is critical")


def wraparound_severity(age: int, opts: WraparoundOptions) -> str | None:
    """Critical or high from the share of the 2^31 limit used; else the default."""
    if age >= opts.critical_fraction * TWO_BILLION:
        return CRITICAL
    if age >= opts.high_fraction * TWO_BILLION:
        return HIGH
    return None


@rule(
    "xid-wraparound-risk",
    category=MAINTENANCE,
    severity=MEDIUM,
    title="Transaction ID age approaching wraparound",
    options=WraparoundOptions,
)
def xid_wraparound_risk(snap: Snapshot, opts: WraparoundOptions) -> Iterator[Draft]:
    """A table's or the database's oldest unfrozen transaction ID is past the freeze age.

    The oldest unfrozen transaction (or multixact) ID is older than
    `autovacuum_freeze_max_age` (`autovacuum_multixact_freeze_max_age`).

    Per table: `age(relfrozenxid)` against the table's `autovacuum_freeze_max_age`
    (its storage parameter, else the server's), and `mxid_age(relminmxid)` against
    `autovacuum_multixact_freeze_max_age`; for the database, `age(datfrozenxid)`
    and `mxid_age(datminmxid)`, which include the system catalogs and every
    schema. Medium once past that age (anti-wraparound autovacuum should already
    have frozen it), high from half of the 2^31 limit, critical from three
    quarters.

    ## Why it breaks
    Transaction IDs are 32 bits and compared modulo 2^31, so a row must be frozen
    before two billion transactions pass, or it would appear to be in the future.
    Past `autovacuum_freeze_max_age` (200 million by default) autovacuum forces a
    vacuum of the whole table, even where autovacuum is disabled; it cannot be
    cancelled by lock requests and competes with the workload. When freezing
    cannot keep up (a long-running transaction, an abandoned replication slot or
    prepared transaction holding back the horizon, vacuum too throttled), the
    server first warns and then, a few million IDs before the limit, refuses every
    command that assigns a transaction ID: the database stops taking writes until
    a VACUUM in single-user or maintenance mode completes, which on a large table
    takes hours. Multixact IDs (row locks shared by several transactions) have
    the same limit.

    ## Fix
    `VACUUM (FREEZE, VERBOSE)` the oldest tables first (it blocks no reads or
    writes, but reads the whole table). If the age does not move, find what holds
    the horizon back: `age(backend_xmin)` in `pg_stat_activity`, `pg_replication_slots`,
    `pg_prepared_xacts`. Raise autovacuum's throughput (cost limit, workers) if it
    falls behind.
    """
    settings = snap.server.settings
    server_xid_max = int(settings.get("autovacuum_freeze_max_age", 200_000_000))
    server_mxid_max = int(settings.get("autovacuum_multixact_freeze_max_age", 400_000_000))
    oldest: list[tuple[int, str]] = []
    for table in snap.tables:
        if table.frozen_xid_age is None:
            continue
        options = table.options
        xid_max = min(server_xid_max, int(options.get("autovacuum_freeze_max_age", server_xid_max)))
        mxid_max = min(
            server_mxid_max,
            int(options.get("autovacuum_multixact_freeze_max_age", server_mxid_max)),
        )
        ages = [("transaction", table.frozen_xid_age, opts.report_from_age or xid_max)]
        if table.frozen_mxid_age is not None:
            ages.append(("multixact", table.frozen_mxid_age, opts.report_from_age or mxid_max))
        over = [(kind, age, limit) for kind, age, limit in ages if age >= limit]
        if not over:
            continue
        kind, age, limit = max(over, key=lambda item: item[1])
        oldest.append((age, table.qualname))
        yield finding(
            table,
            f"oldest unfrozen {kind} ID of {table.qualname} is {age:,} old: past the {limit:,}"
            f" at which autovacuum forces a freeze, {age / TWO_BILLION:.0%} of the way to"
            " wraparound",
            evidence={
                "frozen_xid_age": table.frozen_xid_age,
                "frozen_mxid_age": table.frozen_mxid_age,
                "freeze_max_age": xid_max,
                "multixact_freeze_max_age": mxid_max,
                "share_of_limit": round(age / TWO_BILLION, 3),
                "last_vacuum": table.last_vacuum,
                "last_autovacuum": table.last_autovacuum,
            },
            fix=fixes.vacuum_freeze(table),
            severity=wraparound_severity(age, opts),
        )
    server = snap.server
    database_ages = [
        ("transaction", server.frozen_xid_age, opts.report_from_age or server_xid_max),
        ("multixact", server.frozen_mxid_age, opts.report_from_age or server_mxid_max),
    ]
    over = [(k, a, m) for k, a, m in database_ages if a is not None and a >= m]
    if over:
        kind, age, limit = max(over, key=lambda item: item[1])
        yield finding(
            Located("database", (), server.database),
            f"oldest unfrozen {kind} ID of database {server.database} is {age:,} old: past the"
            f" {limit:,} at which autovacuum forces a freeze, {age / TWO_BILLION:.0%} of the way"
            " to wraparound",
            evidence={
                "datfrozenxid_age": server.frozen_xid_age,
                "datminmxid_age": server.frozen_mxid_age,
                "freeze_max_age": server_xid_max,
                "multixact_freeze_max_age": server_mxid_max,
                "share_of_limit": round(age / TWO_BILLION, 3),
                "oldest_tables": [name for _, name in sorted(oldest, reverse=True)[:10]],
            },
            severity=wraparound_severity(age, opts),
        )


@dataclass(frozen=True)
class BloatOptions:
    min_ratio: float = option(0.4, "share of the relation estimated to be bloat to report it")
    ignore_below_bytes: int = option(64 * 1024, "ignore less estimated bloat than this")
    small_bytes: int = option(1024 * 1024, "estimated bloat under this is info")
    large_bytes: int = option(100 * 1024 * 1024, "estimated bloat from this is medium")
    churn_passes: int = option(
        4,
        "vacuum passes in the statistics' window from which the churn per pass can explain"
        " the bloat (one pass is one event, not a cycle)",
    )


# The size is read anywhere in the cycle, at its peak too, the churn leaves pages
# part-filled, and a btree page emptied by one pass is reused only after the next: a
# steady state's bloat reached three times the rows one pass sees die (the queue cases
# of tests/rules/cases/*-bloat.yaml: a pkey over rising ids, 2.6 times). A purge is
# one pass's dead rows, about its bloat, spread over all of the table's passes: from
# `churn_passes` (4) passes, three times its share falls short of its bloat.
CHURN_MARGIN = 3


def churn_per_pass(
    snap: Snapshot, table: Table, bloat: Bloat, opts: BloatOptions
) -> dict[str, int | None] | None:
    """The evidence that `bloat` is the table's steady state, or None: the rows its
    deletes and non-HOT updates leave dead between two vacuum passes (counted since the
    statistics were reset, over its vacuum and autovacuum passes) are at least a third
    of the rows the bloat would hold (`CHURN_MARGIN`). A queue's table (River,
    Graphile Worker) is that: the space is taken again within a pass of a rewrite. A
    HOT update's old version is pruned in its page and adds no index entry: it is left
    out. A past mass delete, spread over every pass the table had, does not reach its
    bloat: the space it left does not come back by itself."""
    deletes, updates, hot = table.n_tup_del, table.n_tup_upd, table.n_tup_hot_upd
    passes = (table.vacuum_count or 0) + (table.autovacuum_count or 0)
    rows = snap.facts.rows(table)
    if deletes is None or updates is None or passes < opts.churn_passes or rows <= 0:
        return None
    churned = deletes + updates - (hot or 0)
    per_pass = churned // passes
    # the rows the bloat's bytes would hold, at the width the live rows have
    bloat_rows = round(rows * bloat.bytes / bloat.expected_bytes) if bloat.expected_bytes else None
    if bloat_rows is None or per_pass * CHURN_MARGIN < bloat_rows:
        return None
    return {
        "n_tup_del": deletes,
        "n_tup_upd": updates,
        "n_tup_hot_upd": hot,
        "vacuum_passes": passes,
        "churned_rows_per_pass": per_pass,
        "rows": rows,
        "bloat_in_rows": bloat_rows,
    }


def churn_words(churn: dict[str, int | None]) -> str:
    return (
        f"; the churn's steady state: {churn['churned_rows_per_pass']:,} rows deleted or moved"
        f" per vacuum pass ({churn['vacuum_passes']:,} passes) against the"
        f" {churn['bloat_in_rows']:,} rows' worth of space it holds, taken again as soon as"
        " it is given back"
    )


def bloat_severity(bloat: Bloat, opts: BloatOptions) -> str | None:
    if bloat.bytes < opts.small_bytes:
        return INFO
    if bloat.bytes >= opts.large_bytes:
        return MEDIUM
    return None  # the default, low


def bloat_evidence(bloat: Bloat) -> dict[str, object]:
    evidence: dict[str, object] = {
        "bytes": bloat.actual_bytes,
        "expected_bytes": bloat.expected_bytes,
        "bloat_bytes": bloat.bytes,
        "bloat_ratio": round(bloat.ratio, 3),
        "method": bloat.method,
        "as_of": bloat.as_of,
    }
    if bloat.not_measured:
        evidence["not_measured"] = bloat.not_measured
    if bloat.random_key:
        evidence["random_key"] = bloat.random_key
        evidence["expected_leaf_fill"] = _bloat.RANDOM_KEY_FILL / 100
    return evidence


def bloat_words(bloat: Bloat) -> str:
    """ "estimated" or "measured", and as of when."""
    word = "measured" if bloat.method == _bloat.MEASURED else "estimated"
    return f"{bloat.ratio:.0%} {word} bloat"


@rule(
    "table-bloat",
    category=MAINTENANCE,
    severity=LOW,
    title="Table much larger than its rows need (estimated)",
    options=BloatOptions,
)
def table_bloat(snap: Snapshot, opts: BloatOptions) -> Iterator[Draft]:
    """The table takes much more space than its live rows need, measured or estimated.

    Estimated from the catalogs (no extension needed), as of the last VACUUM or
    ANALYZE, which set the sizes the estimate reads; measured instead with `check
    --exact-bloat` where the pgstattuple extension is installed (it reads every
    page: dead tuples and free space). The finding says which. Reported from
    `min_ratio` of the table and `ignore_below_bytes`; info under `small_bytes`,
    medium from `large_bytes`. A table never analyzed is not estimated
    (`stale-statistics` reports it). The estimate averages column widths and
    leaves TOAST out: treat it as a pointer, and measure before acting.

    The method: from `reltuples` and, per column, `null_frac` and `avg_width`
    (pg_stats), compute the average tuple as PostgreSQL lays it out (23-byte
    header, null bitmap, data aligned to 8 bytes, 4-byte line pointer), the pages
    the rows need at the table's fillfactor, and compare with `relpages`.

    ## Why it breaks
    Space freed by updates and deletes is reused only for new rows of the same
    table, and returned to the operating system only by a rewrite. A bloated
    table makes every sequential scan read the empty space, keeps fewer live
    rows in each cached page, and makes backups, replicas and restores larger. It
    comes from vacuum falling behind (autovacuum disabled or too slow, long
    transactions), from mass deletes, or from updates that are not HOT.

    ## Fix
    First fix the cause (see `high-dead-tuple-ratio`, `autovacuum-disabled`). To
    give the space back: `pg_repack` or `pg_squeeze` rewrite the table online;
    `VACUUM FULL` does it in core but holds an ACCESS EXCLUSIVE lock (no reads or
    writes) for the whole rewrite, so it belongs in a maintenance window, and it
    needs free disk space for a full copy.

    Not for a table whose churn explains its bloat: where the rows its deletes and
    non-HOT updates leave dead between two vacuum passes (since the statistics were
    reset, over `churn_passes` or more passes) are at least a third of the rows' worth
    of space the bloat holds (its size is read anywhere in the cycle, and a page
    emptied by one pass is reused after the next), that space is its steady state (a
    job queue: River's `river_job`, Graphile Worker's `_private_jobs`). A rewrite
    gives it back for one pass; VACUUM FULL's ACCESS EXCLUSIVE lock meanwhile stops
    every worker. Info, no fix, the counters in the evidence.
    """
    for table in snap.tables:
        bloat = _bloat.table_bloat(snap, table)
        if bloat is None or bloat.ratio < opts.min_ratio or bloat.bytes < opts.ignore_below_bytes:
            continue
        severity = bloat_severity(bloat, opts)
        as_of = f" (as of {short_time(bloat.as_of)})" if bloat.as_of else ""
        evidence = bloat_evidence(bloat)
        churn = churn_per_pass(snap, table, bloat, opts)
        if churn:
            evidence["steady_churn"] = churn
            severity = INFO
        yield finding(
            table,
            f"{table.qualname} takes {human_bytes(bloat.actual_bytes)}{as_of}; its"
            f" rows need about {human_bytes(bloat.expected_bytes)}: {bloat_words(bloat)}"
            + (churn_words(churn) if churn else ""),
            evidence=evidence,
            fix=None if severity == INFO else fixes.vacuum_full(table),
            severity=severity,
        )
