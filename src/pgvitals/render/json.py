"""The JSON report, format `pgvitals-report/1` (SPEC §4), and its published schema."""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources
from typing import Any

from pgvitals import __version__
from pgvitals.engine import Analysis
from pgvitals.render.summary import inventory
from pgvitals.rules import SEVERITIES

REPORT_FORMAT = "pgvitals-report/1"


def report_schema() -> dict[str, Any]:
    return json.loads(resources.files("pgvitals.render").joinpath("report.schema.json").read_text())


def build_report(analysis: Analysis, connection: str | None = None) -> dict[str, Any]:
    snap = analysis.snapshot
    by_severity = {severity: 0 for severity in SEVERITIES}
    for item in analysis.findings:
        by_severity[item.severity] += 1
    totals = inventory(analysis)
    return {
        "format": REPORT_FORMAT,
        "tool": {"name": "pgvitals", "version": __version__},
        "generated_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "target": {
            "database": snap.server.database,
            "server_version": snap.server.version,
            "connection": connection,
            "mode": analysis.mode,
            "collected_at": snap.server.collected_at,
            "stats_reset": snap.server.stats_reset,
        },
        "summary": {
            "schemas": totals.schemas,
            "tables": totals.tables,
            "rows_estimate": totals.rows_estimate,
            "findings_by_severity": by_severity,
            "excused": len(analysis.excused),
        },
        "findings": [item.to_json() for item in analysis.findings],
        "excused": [
            {**e.finding.to_json(), "excused_because": e.reason, "excused_by": e.source}
            for e in analysis.excused
        ],
        "checks": [check.to_json() for check in analysis.checks],
        "collection": {
            "catalog_queries": snap.collection.catalog_queries,
            "data_queries": snap.collection.data_queries,
            "duration_ms": snap.collection.duration_ms,
            "data_profiled": snap.collection.data_profiled,
            "skipped": snap.collection.skipped,
        },
    }


def render_json(analysis: Analysis, connection: str | None = None) -> str:
    return json.dumps(build_report(analysis, connection), indent=2, ensure_ascii=False) + "\n"
