"""Trends over a target's kept runs: the series `pgvitals history` draws.

Sizes, rows, dead tuples and findings are read as they were at each run. Scan counters
are cumulative since the statistics were last reset, so index usage is taken between
consecutive runs (the share of scans that used an index), and left out across a reset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pgvitals.findings import SEVERITIES
from pgvitals.history.runs import StoredRun
from pgvitals.history.store import TargetInfo

TOP_TABLES_SHOWN = 5
HISTORY_FORMAT = "pgvitals-history/1"

Series = list[float | None]


@dataclass(frozen=True)
class Trends:
    target: TargetInfo
    location: str
    runs: list[StoredRun]  # oldest first

    def values(self, name: str) -> Series:
        return [run.summary.get(name) for run in self.runs]

    def findings_by_severity(self) -> dict[str, Series]:
        return {
            severity: [run.summary["findings_by_severity"].get(severity, 0) for run in self.runs]
            for severity in SEVERITIES
        }

    def index_scan_share(self) -> Series:
        """Per run, the share of table scans since the previous run that used an index;
        None for the first run, and where the counters were reset in between: by
        pg_stat_reset, or with the database created again under its name (runs kept
        before the summary held the database's OID are taken as one database)."""
        shares: Series = [None]
        for previous, current in zip(self.runs, self.runs[1:], strict=False):
            before, after = previous.summary, current.summary
            index_scans = after["idx_scans"] - before["idx_scans"]
            all_scans = index_scans + after["seq_scans"] - before["seq_scans"]
            reset = after.get("stats_reset") != before.get("stats_reset") or (
                None not in (before.get("database_oid"), after.get("database_oid"))
                and before.get("database_oid") != after.get("database_oid")
            )
            if reset or index_scans < 0 or all_scans <= 0 or all_scans < index_scans:
                shares.append(None)
            else:
                shares.append(index_scans / all_scans)
        return shares

    def top_tables(self) -> dict[str, Series]:
        """The largest tables of the latest run, and their size at each run (None where a
        run did not count it among its largest)."""
        if not self.runs:
            return {}
        latest = [entry["table"] for entry in self.runs[-1].summary["top_tables"]]
        sizes = [
            {entry["table"]: entry["bytes"] for entry in run.summary["top_tables"]}
            for run in self.runs
        ]
        return {table: [size.get(table) for size in sizes] for table in latest[:TOP_TABLES_SHOWN]}

    def to_json(self) -> dict[str, Any]:
        return {
            "format": HISTORY_FORMAT,
            "store": self.location,
            "target": {
                "key": self.target.key,
                "database": self.target.database,
                "label": self.target.label,
            },
            "runs": [
                {
                    "id": run.id,
                    "collected_at": run.collected_at,
                    "label": run.label,
                    "tool_version": run.tool_version,
                    "summary": run.summary,
                }
                for run in self.runs
            ],
            "trends": {
                "findings_by_severity": self.findings_by_severity(),
                "findings": self.values("findings"),
                "database_bytes": self.values("database_bytes"),
                "rows": self.values("rows"),
                "dead_tuples": self.values("dead_tuples"),
                "unused_indexes": self.values("unused_indexes"),
                "index_scan_share": self.index_scan_share(),
                "top_tables_bytes": self.top_tables(),
            },
        }
