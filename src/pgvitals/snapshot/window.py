"""The statistics window: since when the pg_stat_* counters (scans, writes, dead
tuples) have been counting. Rules that judge from those counters state it, and the
report prints it; both read it from here."""

from __future__ import annotations

from dataclasses import dataclass

from pgvitals.fmt import parse_timestamp, short_time, span
from pgvitals.snapshot.model import ServerInfo


@dataclass(frozen=True)
class StatisticsWindow:
    """Since when the pg_stat_* counters (scans, writes, dead tuples) have been counting."""

    reset_at: str | None  # pg_stat_database.stats_reset; None: never reset
    postmaster_start_time: str
    collected_at: str
    days: float  # length of the known window (from reset, else from server start)
    text: str
    length: str  # "21 days", "0 minutes"

    @property
    def hours(self) -> float:
        return self.days * 24

    @property
    def since(self) -> str:
        """When the window starts: the reset, else the server's start."""
        return self.reset_at or self.postmaster_start_time

    @property
    def evidence(self) -> dict[str, object]:
        """How a finding states the window it judged from: where it starts, which does
        not move between two runs (its length does)."""
        return {
            "statistics_since": self.since,
            "statistics_since_is": "stats_reset" if self.reset_at else "server start",
        }

    @property
    def phrase(self) -> str:
        """ "since the statistics were reset at ...", for a finding's message."""
        if self.reset_at:
            return f"since the statistics were reset at {short_time(self.reset_at)}"
        return f"since the server started at {short_time(self.postmaster_start_time)}"


def statistics_window(server: ServerInfo) -> StatisticsWindow:
    collected = parse_timestamp(server.collected_at)
    if server.stats_reset:
        since = parse_timestamp(server.stats_reset)
        text = f"counters since {short_time(server.stats_reset)} ({span(since, collected)})"
    else:
        since = parse_timestamp(server.postmaster_start_time)
        text = (
            "since the server's statistics were last reset: unknown (never reset) — at least "
            f"since the server started at {short_time(server.postmaster_start_time)} "
            f"({span(since, collected)})"
        )
    if server.in_recovery:
        text += (
            "; this server is a standby: its scans are the reads made here, and rows"
            " written, dead tuples and vacuums are counted on the primary"
        )
    days = max((collected - since).total_seconds(), 0) / 86_400
    return StatisticsWindow(
        server.stats_reset,
        server.postmaster_start_time,
        server.collected_at,
        days,
        text,
        span(since, collected),
    )
