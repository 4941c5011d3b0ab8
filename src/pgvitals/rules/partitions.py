"""Integrity rules about time-partitioned tables: range partitions that stop before the
present, and large time-keyed tables that partitioning would serve.

Range bounds are read from the text PostgreSQL prints for them
(`FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2024-02-01 00:00:00+00')`); only
single-column bounds that are dates or timestamps can be judged against the clock.
"""

from __future__ import annotations

import datetime as dt
import re
from calendar import monthrange
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from pgvitals import fixes
from pgvitals.findings import Fix
from pgvitals.fmt import parse_timestamp, span
from pgvitals.rules._api import (
    HIGH,
    INTEGRITY,
    LOW,
    MEDIUM,
    Draft,
    finding,
    option,
    rule,
)
from pgvitals.snapshot.facts import TIME_NAME
from pgvitals.snapshot.model import Snapshot, Table

RANGE_BOUND = re.compile(r"^FOR VALUES FROM \((?P<lower>.*)\) TO \((?P<upper>.*)\)$")
QUOTED = re.compile(r"^'((?:[^']|'')*)'$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# `2024-01-01 00:00:00`, with fractions and an offset (`+00`, `+05:30`) when present
TIMESTAMP = re.compile(
    r"^(?P<stamp>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?)(?P<zone>[+-]\d{2}(:?\d{2})?)?$"
)
LATEST = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
EARLIEST = dt.datetime.min.replace(tzinfo=dt.timezone.utc)


class TimeRange(NamedTuple):
    """A partition's range as instants (UTC); `style` says how to write a new bound like
    it: "date", "timestamp" (no zone) or "timestamptz"."""

    lower: dt.datetime
    upper: dt.datetime
    style: str


def parse_value(text: str) -> tuple[dt.datetime, str] | None:
    """One bound value: MINVALUE, MAXVALUE, or a quoted date or timestamp."""
    if text == "MINVALUE":
        return EARLIEST, ""
    if text == "MAXVALUE":
        return LATEST, ""
    quoted = QUOTED.match(text)
    if quoted is None:
        return None  # a number, several columns, or an expression
    value = quoted.group(1)
    if DATE.match(value):
        return dt.datetime.fromisoformat(value).replace(tzinfo=dt.timezone.utc), "date"
    stamp = TIMESTAMP.match(value)
    if stamp is None:
        return None
    zone = stamp.group("zone")
    if zone is None:
        naive = dt.datetime.fromisoformat(stamp.group("stamp"))
        return naive.replace(tzinfo=dt.timezone.utc), "timestamp"
    if len(zone) == 3:
        zone += ":00"
    elif ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    aware = dt.datetime.fromisoformat(stamp.group("stamp") + zone)
    return aware.astimezone(dt.timezone.utc), "timestamptz"


def time_range(bound: str | None) -> TimeRange | None:
    match = RANGE_BOUND.match(bound or "")
    if match is None:
        return None
    lower, upper = parse_value(match.group("lower")), parse_value(match.group("upper"))
    if lower is None or upper is None:
        return None
    return TimeRange(lower[0], upper[0], lower[1] or upper[1] or "timestamptz")


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """The same day `months` later, or the month's last day when it is shorter."""
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, monthrange(year, month)[1]))


class Period(NamedTuple):
    months: int  # whole months (monthly, quarterly, yearly partitions), else 0
    length: dt.timedelta

    def after(self, moment: dt.datetime) -> dt.datetime:
        return add_months(moment, self.months) if self.months else moment + self.length

    @property
    def text(self) -> str:
        if self.months:
            if self.months % 12 == 0:
                return "year" if self.months == 12 else f"{self.months // 12} years"
            return "month" if self.months == 1 else f"{self.months} months"
        days = self.length.days
        if days and not self.length.seconds:
            return "day" if days == 1 else f"{days} days"
        return str(self.length)


def period_of(last: TimeRange) -> Period | None:
    """The span of the latest partition: what the next ones should cover."""
    lower, upper = last.lower, last.upper
    if lower in (EARLIEST, LATEST) or upper in (EARLIEST, LATEST) or upper <= lower:
        return None
    months = (upper.year - lower.year) * 12 + upper.month - lower.month
    if lower.day == upper.day == 1 and lower.time() == upper.time() and months > 0:
        return Period(months, upper - lower)
    return Period(0, upper - lower)


def written(moment: dt.datetime, style: str) -> str:
    """A bound value in the style of the existing ones (instants in UTC)."""
    if style == "date":
        return moment.strftime("%Y-%m-%d")
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text}+00" if style == "timestamptz" else text


@dataclass(frozen=True)
class CoverageOptions:
    max_created: int = option(
        36, "partitions the fix creates at most; beyond that it offers a DEFAULT partition"
    )
    high_lead: float = option(
        0.5, "share of a partition's span within which the newest partition's end is high"
    )


@rule(
    "partition-coverage",
    category=INTEGRITY,
    severity=MEDIUM,
    title="Range-partitioned table has no partition for the coming period",
    options=CoverageOptions,
)
def partition_coverage(snap: Snapshot, opts: CoverageOptions) -> Iterator[Draft]:
    """A table partitioned by a date or timestamp range, with no DEFAULT partition, whose
    partitions do not cover now or the next period: the finding says when the first
    INSERT fails (the newest partition's end) and how soon that is.

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

    ## Why it breaks
    A row whose key falls in no partition is rejected: `no partition of relation ... found
    for row`. Partitions are usually created ahead of time by a job (pg_partman, a cron
    script); when it stops, everything works until the last partition's end, and then
    every INSERT for the new period fails at once.

    ## Fix
    Create the missing partitions (the fix creates them from the last one's end through
    the next period, named `<table>_<start>`), and make sure the job that creates them
    runs. `CREATE TABLE ... PARTITION OF` takes a brief ACCESS EXCLUSIVE lock on the
    parent. A DEFAULT partition catches the rows no partition takes, at the cost of a
    scan of it whenever a partition is attached later.
    """
    now = parse_timestamp(snap.server.collected_at)
    facts = snap.facts
    for table in snap.tables:
        if table.kind != "p" or table.partition_strategy != "range":
            continue
        children = facts.partitions_by_parent.get(table.oid, [])
        if not children or any(c.partition_bound == "DEFAULT" for c in children):
            continue
        ranges = [time_range(c.partition_bound) for c in children]
        if any(r is None for r in ranges):
            continue
        known = [r for r in ranges if r is not None]
        last = max(known, key=lambda r: r.upper)
        period = period_of(last)
        if period is None:
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
        yield finding(
            table,
            message,
            evidence=evidence,
            fix=coverage_fix(snap, table, last, period, upcoming, opts.max_created),
            severity=severity,
        )


def coverage_fix(
    snap: Snapshot, table: Table, last: TimeRange, period: Period, until: dt.datetime, most: int
) -> Fix:
    """Partitions from the last one's end until one contains `until`; a DEFAULT partition
    when that would take more than `most`. Named `<table>_<start>` by the snapshot's
    allocator, so the name is free in the schema."""
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
        purpose = ("partition", table.oid, lower)
        name = names.new(table.schema, table.name, None, lower.strftime(stamp), purpose)
        bound = (written(lower, last.style), written(upper, last.style))
        created = fixes.create_partition(table, name, bound)
        fix = created if fix is None else fix + created
    assert fix is not None  # the last partition ends before `until`, so one is needed
    return fix


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
