"""SARIF 2.1.0: one reportingDescriptor per pgvitals rule, one result per finding."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pgvitals import __version__
from pgvitals.findings import Finding
from pgvitals.render import renderer
from pgvitals.report import Report
from pgvitals.ruledocs import page_url

# The schema OASIS publishes for SARIF 2.1.0 (with its errata), as the standard names it.
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "1.0"}


def build_sarif(report: Report) -> dict[str, Any]:
    # one descriptor per rule, in the report's check order (every rule has a check)
    rules = [report.rules[c.rule] for c in report.checks if c.rule in report.rules]
    index_of = {rule.id: position for position, rule in enumerate(rules)}
    database = report.target.database
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "pgvitals",
                        "version": __version__,
                        "informationUri": "https://pypi.org/project/pgvitals/",
                        "rules": [
                            {
                                "id": rule.id,
                                "name": rule.id,
                                "shortDescription": {"text": rule.title},
                                "fullDescription": {"text": rule.summary},
                                "helpUri": page_url(rule.id),
                                "help": {"text": rule.doc, "markdown": rule.doc},
                                "defaultConfiguration": {"level": LEVELS[rule.severity]},
                                "properties": {
                                    "category": rule.category,
                                    "severity": rule.severity,
                                    "security-severity": SECURITY_SEVERITY[rule.severity],
                                },
                            }
                            for rule in rules
                        ],
                    }
                },
                "results": [
                    {
                        "ruleId": item.rule,
                        "ruleIndex": index_of[item.rule],
                        "level": LEVELS[item.severity],
                        "message": {"text": item.message},
                        "locations": [
                            {
                                **physical_location(item),
                                "logicalLocations": [
                                    {
                                        "name": item.object,
                                        "fullyQualifiedName": f"{database}.{item.object}",
                                        "kind": "object",
                                    }
                                ],
                            }
                        ],
                        "partialFingerprints": {"pgvitals/v1": item.fingerprint},
                        **baseline_state(report, item),
                        # SARIF fixes need file changes; a SQL fix is not one, so it rides here
                        "properties": {
                            "severity": item.severity,
                            "evidence": item.evidence,
                            "fix": item.fix.sql if item.fix else None,
                            "rollback": item.fix.rollback_sql if item.fix else None,
                        },
                    }
                    for item in report.findings
                ],
            }
        ],
    }


def baseline_state(report: Report, item: Finding) -> dict[str, str]:
    """SARIF's own word for a finding against a baseline (`check --baseline`)."""
    if report.baseline is None:
        return {}
    if item.fingerprint not in report.baseline.known:
        return {"baselineState": "new"}
    worse = item.fingerprint in report.baseline.worsened
    return {"baselineState": "updated" if worse else "unchanged"}


def physical_location(item: Finding) -> dict[str, Any]:
    """Where a reviewed file defines the object (`pgvitals review`), so code scanning
    annotates that line; nothing for a live database."""
    if item.where.file is None:
        return {}
    path = item.where.file
    uri = Path(path).as_uri() if path.startswith("/") else quote(path)
    physical: dict[str, Any] = {"artifactLocation": {"uri": uri}}
    if item.where.line:
        physical["region"] = {"startLine": item.where.line}
    return {"physicalLocation": physical}


@renderer("sarif", ".sarif")
def render_sarif(report: Report) -> str:
    return json.dumps(build_sarif(report), indent=2, ensure_ascii=False) + "\n"
