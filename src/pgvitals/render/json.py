"""The JSON report, format `pgvitals-report/1` (SPEC §4), and its published schema."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from pgvitals.render import renderer
from pgvitals.report import Report


def report_schema() -> dict[str, Any]:
    return json.loads(resources.files("pgvitals.render").joinpath("report.schema.json").read_text())


@renderer("json", ".json")
def render_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"
