"""Time ranges of range partitions: their bounds as instants, the period they repeat,
and where the DEFAULT partition's rows matter. Shared by the collector (which reads the
DEFAULT partitions' keys from where a job still creates partitions) and the rules.

Range bounds are read from the text PostgreSQL prints for them
(`FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2024-02-01 00:00:00+00')`); only
single-column bounds that are dates or timestamps can be judged against the clock.
"""

from __future__ import annotations

import datetime as dt
import re
from calendar import monthrange
from collections.abc import Iterable
from typing import NamedTuple

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
    if moment.microsecond:  # a bound made from now(): the next range starts exactly there
        text += f".{moment.microsecond:06d}"
    return f"{text}+00" if style == "timestamptz" else text


def parse_key(text: str | None) -> dt.datetime | None:
    """A key value as the probe writes it (ISO 8601, UTC for timestamptz; naive ones
    taken as UTC, as the bounds are), as an instant; None when unreadable."""
    if text is None:
        return None
    if text in ("infinity", "-infinity"):
        return LATEST if text == "infinity" else EARLIEST
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None  # a year beyond 9999 or before 1
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def period_at(start: dt.datetime, period: Period, moment: dt.datetime) -> TimeRange | None:
    """The period of the series that starts at `start` (on either side of it) holding
    `moment`; None beyond what a datetime holds."""
    try:
        if not period.months:
            lower = start + (moment - start) // period.length * period.length
            return TimeRange(lower, lower + period.length, "")
        months = (moment.year - start.year) * 12 + moment.month - start.month
        steps = months // period.months
        lower = add_months(start, steps * period.months)
        if lower > moment:
            lower = add_months(start, (steps - 1) * period.months)
        return TimeRange(lower, period.after(lower), "")
    except (OverflowError, ValueError):
        return None


def first_uncovered(known: list[TimeRange], period: Period, start: dt.datetime) -> TimeRange | None:
    """The first period from `start` that no partition covers: the one a job creates
    next (None beyond the years a datetime holds)."""
    lower = start
    try:
        for _ in range(len(known) + 1):
            if not any(r.lower <= lower < r.upper for r in known):
                return TimeRange(lower, period.after(lower), "")
            lower = period.after(lower)
    except (OverflowError, ValueError):
        pass
    return None


def watched_from(known: list[TimeRange], now: dt.datetime) -> dt.datetime | None:
    """Where the rows of a DEFAULT partition start to matter: from the period of `now`,
    or from the newest partition's end when that is earlier (a job like pg_partman's
    goes on from there). A DEFAULT partition holds no row of a range a partition covers
    (creating that partition would have failed), so its rows at or after this instant
    lie in ranges a job will create partitions for; older ones lie in gaps of the past,
    which no job fills. None: no period to go by."""
    if not known:
        return None
    last = max(known, key=lambda r: r.upper)
    period = period_of(last)
    if period is None:
        return None
    present = period_at(last.upper, period, now)
    return min(last.upper, present.lower) if present else last.upper


def judged_ranges(bounds: Iterable[str | None]) -> list[TimeRange] | None:
    """The ranges of a table's partitions (DEFAULT left out), or None when one of them
    cannot be judged against the clock (numbers, several columns)."""
    ranges = [time_range(b) for b in bounds if b != "DEFAULT"]
    if not ranges or any(r is None for r in ranges):
        return None
    return [r for r in ranges if r is not None]
