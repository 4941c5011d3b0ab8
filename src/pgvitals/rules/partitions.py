"""Integrity rules about time-partitioned tables: range partitions that stop before the
present, DEFAULT partitions holding rows of the periods to come, and large time-keyed
tables that partitioning would serve. The ranges themselves: snapshot/ranges.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from pgvitals import fixes
from pgvitals.findings import Fix
from pgvitals.fmt import parse_timestamp, plural, span
from pgvitals.rules._api import (
    HIGH,
    INTEGRITY,
    LOW,
    MEDIUM,
    ROWS_OPTIONAL,
    Draft,
    finding,
    option,
    rule,
)
from pgvitals.snapshot.facts import TIME_NAME, RangeDefault
from pgvitals.snapshot.model import Snapshot, Table
from pgvitals.snapshot.ranges import (
    EARLIEST,
    LATEST,
    Period,
    TimeRange,
    first_uncovered,
    judged_ranges,
    parse_key,
    period_at,
    period_of,
    time_range,
    written,
)


@dataclass(frozen=True)
class CoverageOptions:
    max_created: int = option(
        36, "partitions the fix creates at most; beyond that it offers a DEFAULT partition"
    )
    high_lead: float = option(
        0.5, "share of a partition's span within which the newest partition's end is high"
    )
    many_rows: int = option(
        1_000_000,
        "rows of a DEFAULT partition blocking a later period that make it high all the same",
    )
    hash_modulus: int = option(
        4, "partitions the fix creates for a hash-partitioned table with none (its MODULUS)"
    )


@rule(
    "partition-coverage",
    on_library_tables=True,
    category=INTEGRITY,
    severity=MEDIUM,
    title="Partitioned table has no partition for the coming period, or none at all",
    options=CoverageOptions,
    rows=ROWS_OPTIONAL,
    needs=("default_partition_ranges",),
)
def partition_coverage(snap: Snapshot, opts: CoverageOptions) -> Iterator[Draft]:
    """A table partitioned by a date or timestamp range, with no DEFAULT partition, whose
    partitions do not cover now or the next period: the finding says when the first
    INSERT fails (the newest partition's end) and how soon that is. With a DEFAULT
    partition, one that holds rows at or after the newest partition's end: the
    partition a job creates for their period fails.

    A partitioned table with no partition at all (a job that never ran, a migration
    that created only the parent) rejects every INSERT, whatever its key and whatever
    its strategy (range, list or hash): high (medium in a review, where a job may create
    them at run time). For range and list the fix is a DEFAULT partition, since no
    partition gives the span or the values of the ones to create. A hash-partitioned
    table cannot have a DEFAULT partition: the fix creates its `hash_modulus`
    partitions, `MODULUS n, REMAINDER 0` to `n - 1`, which together take every row.

    The period is the span of the latest partition (a month, a day, a year, ...), "now"
    the server's clock when the snapshot was taken. Bounds that are not dates or
    timestamps (ids, several columns) cannot be judged and are not reported.

    High when a row dated now fits no partition (inserts fail today), and when the
    newest partition ends within `high_lead` of a period from now; medium when its end
    is further, but within the next period: a job that creates partitions just ahead
    (Hatchet's engine creates today's and tomorrow's daily partitions, and its weekly
    ones a day before the week starts) still has most of a period to run. Silent when
    the next period is covered. In a review, partitions that the files create from the
    load's date (`create_partition(DATE 'today')`) say nothing of the lead a deployed
    job keeps: a covered present stays medium there, whatever the hour.

    A DEFAULT partition's lowest and highest key are read (unless `--no-data`): through
    an index on the key (`ORDER BY key LIMIT 1` both ways), else whole below 100,000
    rows, in a TABLESAMPLE above (a sample may miss rows: then the range is at least
    what it says). A DEFAULT partition holds no row of a range a partition covers, so
    its rows from the present period on (from the newest partition's end when that is
    earlier: a job like pg_partman's goes on from there) lie where a job will create
    partitions: reported when it holds one, naming the partition of the first, as its
    siblings are named. Older rows (before every partition, or in a gap of the past no
    job fills) and NULL keys block nothing, and are not reported. The key range is
    given in whole periods, not the rows' own values. High when that period
    starts within `high_lead` of a period (or has started: the job fails already), or
    the DEFAULT partition holds `many_rows` rows or more (the move is long, and so is
    every attach's scan); medium otherwise. With `--no-data` a DEFAULT partition that
    holds rows by the statistics is low: its range was not read.

    ## Why it breaks
    A row whose key falls in no partition is rejected: `no partition of relation ... found
    for row`. Partitions are usually created ahead of time by a job (pg_partman, a cron
    script); when it stops, everything works until the last partition's end, and then
    every INSERT for the new period fails at once.

    A DEFAULT partition takes those rows instead, and turns the failure into a later
    one: once it holds a row of a range, `CREATE TABLE ... PARTITION OF ... FOR VALUES
    FROM (a) TO (b)` for that range fails (`updated partition constraint for default
    partition ... would be violated by some row`) until the rows are moved out by hand;
    the job stays stuck, and the DEFAULT partition keeps growing. While it holds rows,
    every new partition's creation scans it under an ACCESS EXCLUSIVE lock on it.

    ## Fix
    Create the missing partitions (the fix creates them from the last one's end through
    the next period, named as the newest partition is named from its start, e.g.
    `v1_task_20250302` after `v1_task_20250301`, else `<table>_<start>`: a job that
    looks its partitions up by name then finds them, instead of creating its own and
    failing on the overlap), and make sure the job that creates them runs.
    `CREATE TABLE ... PARTITION OF` takes a brief ACCESS EXCLUSIVE lock on the parent.
    A DEFAULT partition catches the rows no partition takes, at the cost of a scan of it
    whenever a partition is attached later.

    Rows of a coming period in the DEFAULT partition have no automatic fix (moving them
    is data work); the finding's `steps` do it in one transaction: create the partition
    as a plain table (`LIKE` the parent), move the period's rows into it with one
    `DELETE ... RETURNING` feeding an `INSERT`, attach it, commit. Writes into the
    DEFAULT partition wait meanwhile; the ATTACH then scans it under ACCESS EXCLUSIVE.
    Repeat per period, then restart the job.
    """
    now = parse_timestamp(snap.server.collected_at)
    facts = snap.facts
    watched = {watch.default.oid: watch for watch in facts.time_range_defaults}
    for table in snap.tables:
        if table.kind != "p":
            continue
        children = facts.partitions_by_parent.get(table.oid, [])
        if not children:
            yield no_partition(snap, table, max(1, opts.hash_modulus))
            continue
        if table.partition_strategy != "range":
            continue
        known = judged_ranges(c.partition_bound for c in children)
        if known is None:
            continue
        last = max(known, key=lambda r: r.upper)
        period = period_of(last)
        if period is None:
            continue
        default = next((c for c in children if c.partition_bound == "DEFAULT"), None)
        if default is not None:
            watch = watched.get(default.oid)
            if watch is not None and watch.watched is not None:
                newest = max(
                    (c for c in children if c is not default),
                    key=lambda c: (time_range(c.partition_bound) or last).upper,
                )
                yield from blocking_default(snap, watch, known, period, now, opts, newest.name)
            continue
        upcoming = period.after(now)
        now_covered = any(r.lower <= now < r.upper for r in known)
        next_covered = any(r.lower <= upcoming < r.upper for r in known)
        if now_covered and next_covered:
            continue
        # how far ahead the newest partition reaches, in spans of it
        lead = (last.upper - now) / (last.upper - last.lower)
        evidence: dict[str, object] = {
            "partitions": len(children),
            "last_partition_ends": written(last.upper, "timestamptz"),
            "period": period.text,
            "now": written(now, "timestamptz"),
            "covers_now": now_covered,
            "lead_periods": round(lead, 2),
            "default_partition": False,
        }
        ends = f"Partitions end at {written(last.upper, last.style)}"
        if not now_covered:
            message = (
                f"{ends} ({span(last.upper, now)} ago): a row dated now fits no partition,"
                " so its INSERT fails"
                if last.upper <= now
                else f"{ends}: a row dated now fits no partition, so its INSERT fails"
            )
            severity = HIGH
        elif snap.collection.reviewed:
            message = (
                f"{ends}: the files create none beyond, so an INSERT dated from then fails"
                f" unless a job creates the next {period.text} ahead"
            )
            severity = MEDIUM
        else:
            message = (
                f"{ends}, in {span(now, last.upper)}: an INSERT dated from then fails"
                f" (none yet for the next {period.text})"
            )
            severity = HIGH if lead <= opts.high_lead else MEDIUM
        newest = next(c for c in children if time_range(c.partition_bound) == last)
        yield finding(
            table,
            message,
            evidence=evidence,
            fix=coverage_fix(snap, table, newest.name, last, period, upcoming, opts.max_created),
            severity=severity,
        )


def no_partition(snap: Snapshot, table: Table, modulus: int) -> Draft:
    """A partitioned table without a single partition: a row of any key value fits
    none. The fix is a DEFAULT partition (the span or values of the partitions a job
    would create are not known here); for hash, which takes no DEFAULT partition,
    `modulus` partitions that cover every hash value."""
    names = snap.facts.names
    if table.partition_strategy == "hash":
        fix = fixes.create_hash_partitions(
            table,
            [
                names.new(
                    table.schema, table.name, None, f"p{rest}", ("partition", table.oid, rest)
                )
                for rest in range(modulus)
            ],
        )
    else:
        name = names.new(table.schema, table.name, None, "default", ("partition", table.oid))
        fix = fixes.create_partition(table, name, None)
    if snap.collection.reviewed:
        message = (
            "No partition: the files create none, so every INSERT fails unless a job creates them"
        )
    else:
        message = "No partition at all: every INSERT fails (no partition is found for the row)"
    return finding(
        table,
        message,
        evidence={
            "partitions": 0,
            "strategy": table.partition_strategy,
            "partition_key": table.partition_key,
            "default_partition": False,
        },
        fix=fix,
        severity=MEDIUM if snap.collection.reviewed else HIGH,
    )


def coverage_fix(
    snap: Snapshot,
    table: Table,
    newest: str,
    last: TimeRange,
    period: Period,
    until: dt.datetime,
    most: int,
) -> Fix:
    """Partitions from the last one's end until one contains `until`; a DEFAULT partition
    when that would take more than `most`. Named as the newest partition `newest` (whose
    range is `last`) is named from its lower bound, else `<table>_<start>`, by the
    snapshot's allocator, so the name is free in the schema. A job that looks its
    partitions up by name (Hatchet's `create_v1_range_partition`, which names
    `v1_task_20250301`) then finds the one the fix made, instead of creating another
    whose ATTACH fails on the overlap."""
    names = snap.facts.names
    bounds = []
    lower = last.upper
    while lower <= until and len(bounds) <= most:
        upper = period.after(lower)
        bounds.append((lower, upper))
        lower = upper
    if len(bounds) > most:
        name = names.new(table.schema, table.name, None, "default", ("partition", table.oid))
        return fixes.create_partition(table, name, None)
    fix = None
    for lower, upper in bounds:
        stamp = "%Y_%m" if period.months and lower.day == 1 else "%Y_%m_%d"
        base, label = named_like(newest, last.lower, lower) or (
            table.name,
            lower.strftime(stamp),
        )
        purpose = ("partition", table.oid, lower)
        name = names.new(table.schema, base, None, label, purpose)
        bound = (written(lower, last.style), written(upper, last.style))
        created = fixes.create_partition(table, name, bound)
        fix = created if fix is None else fix + created
    assert fix is not None  # the last partition ends before `until`, so one is needed
    return fix


# --- partition-coverage: a DEFAULT partition holding rows of the periods to come ------


# How partition names carry their lower bound (`v1_task_20250301`, `payment_p2022_07`)
NAME_STAMPS = ("%Y%m%d", "%Y_%m_%d", "%Y-%m-%d", "%Y_%m", "%Y%m", "%Y")


def named_like(
    sibling: str, sibling_lower: dt.datetime, lower: dt.datetime
) -> tuple[str, str] | None:
    """(base, label) naming the partition from `lower` `base_label` as `sibling` is named
    from its own lower bound, when its name ends in that bound: a job that looks its
    partitions up by name (Hatchet's `create_v1_range_partition`) then finds it."""
    for form in NAME_STAMPS:
        stamp = sibling_lower.strftime(form)
        base, _, label = sibling.removesuffix(stamp).rpartition("_")
        if sibling.endswith(stamp) and base:
            return base, label + lower.strftime(form)
    return None


def blocking_default(
    snap: Snapshot,
    watch: RangeDefault,
    known: list[TimeRange],
    period: Period,
    now: dt.datetime,
    opts: CoverageOptions,
    newest: str,
) -> Iterator[Draft]:
    """The finding about a DEFAULT partition that holds rows a job will create a
    partition for (from `watch.watched` on, see snapshot/ranges.py): the partition for
    their period fails. `newest`: the newest partition's name, whose pattern the
    blocked one's name follows."""
    table, default, key, watched = watch
    assert watched is not None  # the caller judged the bounds
    last = max(known, key=lambda r: r.upper)
    rows = snap.row_count(default)
    read = next((r for r in snap.default_partition_ranges if r.table_oid == default.oid), None)
    ran = "default_partition_ranges" in (snap.collection.probes or ())
    evidence: dict[str, object] = {
        "default_partition": True,
        "default_table": default.qualname,
        "default_rows": rows,
        "last_partition_ends": written(last.upper, "timestamptz"),
        "period": period.text,
        "now": written(now, "timestamptz"),
    }
    if not ran or read is None or read.status != "ran":
        # rows by statistics, range unknown: say so (a review's rows are the files')
        if rows <= 0 or snap.collection.reviewed:
            return
        if not snap.collection.data_profiled:
            reason = "table rows not read (--no-data)"
        else:
            reason = read.reason if read is not None and read.reason else "not collected"
        evidence.update(ranges_read=False, reason=reason)
        yield finding(
            table,
            f"DEFAULT partition {default.qualname} holds about {plural(rows, 'row')} whose"
            f" keys were not read ({reason}): those from {written(watched, last.style)} on"
            " would make the partition for their period fail",
            evidence=evidence,
            severity=LOW,
        )
        return
    lowest, highest = parse_key(read.lowest), parse_key(read.highest)
    first_row = parse_key(read.lowest_since)  # the first row from `watched` on
    if lowest is None or highest is None or first_row is None:
        return  # empty, NULL keys only, or rows of the past no job creates partitions for
    if first_row == LATEST:
        return  # only `infinity` lies beyond: no partition of finite bounds holds it
    blocked = period_at(last.upper, period, first_row)
    upcoming = first_uncovered(known, period, watched)
    if blocked is None or upcoming is None:
        return  # `infinity`, or beyond the years a datetime holds
    first = period_at(last.upper, period, lowest) if lowest != EARLIEST else None
    final = period_at(last.upper, period, highest) if highest != LATEST else None
    bounds = (written(blocked.lower, last.style), written(blocked.upper, last.style))
    stamp = "%Y_%m" if period.months and blocked.lower.day == 1 else "%Y_%m_%d"
    base, label = named_like(newest, last.lower, blocked.lower) or (
        table.name,
        blocked.lower.strftime(stamp),
    )
    purpose = ("partition", table.oid, blocked.lower)
    name = snap.facts.names.new(table.schema, base, None, label, purpose)
    statement = fixes.create_partition(table, name, bounds).statements[0]
    lead = (blocked.lower - now) / period.length
    sampled = read.method == "sample"
    evidence.update(
        ranges_read=True,
        read_by=read.method,
        keys_from=written(first.lower, last.style) if first else read.lowest,
        keys_to=written(final.upper, last.style) if final else read.highest,
        next_partition=[written(upcoming.lower, last.style), written(upcoming.upper, last.style)],
        blocked_partition=list(bounds),
        blocked_starts_in_periods=round(lead, 2),
        failing_statement=statement,
    )
    columns = [c.name for c in snap.columns_by_table.get(table.oid, []) if not c.generated]
    evidence["steps"] = list(
        fixes.move_out_of_default(table, default, name, key.name, columns, bounds)
    )
    fixes.offered(
        fixes.NoFix(
            "moving rows out of the DEFAULT partition is data work: run the steps when the"
            " rows can be moved (they lock the DEFAULT partition against writes meanwhile)"
        ),
        evidence,
    )
    when = (
        f"its {period.text} started {span(blocked.lower, now)} ago"
        if blocked.lower <= now
        else f"its {period.text} starts in {span(now, blocked.lower)}"
    )
    severity = HIGH if lead <= opts.high_lead or rows >= opts.many_rows else MEDIUM
    counted = snap.profile_by_table.get(default.oid)
    about = "" if counted and counted.row_count is not None and not counted.sampled else "about "
    yield finding(
        table,
        f"DEFAULT partition {default.qualname} holds {about}{plural(rows, 'row')}, keys from"
        f" {evidence['keys_from']} to {evidence['keys_to']}"
        + (" (in a sample)" if sampled else "")
        + f": the partition FROM ({bounds[0]}) TO ({bounds[1]}) cannot be created until"
        f" they move out ({when})",
        evidence=evidence,
        severity=severity,
    )


# --- partitioning-candidate -----------------------------------------------------------


@dataclass(frozen=True)
class CandidateOptions:
    min_rows: int = option(10_000_000, "rows from which a table counts as large")
    min_bytes: int = option(10 * 1024**3, "size (table, TOAST and indexes) that counts as large")
    min_insert_share: float = option(
        0.1, "inserts since the statistics reset, as a share of the rows, that count as growing"
    )


@rule(
    "partitioning-candidate",
    category=INTEGRITY,
    severity=LOW,
    title="Large, growing, time-keyed table without partitioning",
    options=CandidateOptions,
    uses_statistics=True,
    primary_counters=True,
)
def partitioning_candidate(snap: Snapshot, opts: CandidateOptions) -> Iterator[Draft]:
    """A plain table that is large (`min_rows` rows or `min_bytes`), still growing
    (inserts since the statistics reset of at least `min_insert_share` of its rows, few
    deletes) and has a date or timestamp column named like a time.

    ## Why it breaks
    Nothing fails; costs grow with the table. Removing old rows means a DELETE that
    reads and dead-tuples millions of rows and leaves bloat, where dropping a partition
    is instant; VACUUM and index maintenance work over the whole table although only
    recent rows change; and queries over a recent period rely on one large index instead
    of skipping whole partitions.

    ## Fix
    Partition by range on the time column (a new partitioned table, rows copied in
    batches or old data attached as one partition, then a swap of names), with a job
    that creates partitions ahead (see `partition-coverage`). Worth it when old data is
    removed or archived by period, or queries select recent periods.
    """
    facts = snap.facts
    for table in snap.tables:
        if table.kind != "r" or table.is_partition:
            continue
        rows = facts.rows(table)
        large = rows >= opts.min_rows or (table.total_bytes or 0) >= opts.min_bytes
        inserts, deletes = table.n_tup_ins, table.n_tup_del
        if not large or inserts is None or rows <= 0:
            continue
        if inserts < opts.min_insert_share * rows or (deletes or 0) >= inserts / 2:
            continue
        keys = [
            c.name
            for c in snap.columns_by_table.get(table.oid, [])
            if c.type_name in ("timestamptz", "timestamp", "date") and TIME_NAME.search(c.name)
        ]
        if not keys:
            continue
        yield finding(
            table,
            f"{rows:,} rows, growing ({inserts:,} inserted since the statistics reset),"
            f" keyed by time ({', '.join(keys)}), not partitioned",
            evidence={
                "rows": rows,
                "total_bytes": table.total_bytes,
                "inserted": inserts,
                "deleted": deletes,
                "time_columns": keys,
            },
        )
