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
    """One line per key at the top, and per element of the long lists (findings,
    checks, table rows of the sections): readable and diffable, and written by the C
    encoder (`indent=` would switch json to its pure-Python encoder, 5x slower)."""
    return layout(report.to_json(), depth=3) + "\n"


def layout(value: Any, depth: int, indent: str = "") -> str:
    """`value` as JSON: objects broken into one line per key for `depth` levels, a list
    there into one line per element, each element on its line whole."""
    if depth == 0 or not isinstance(value, (dict, list)) or not value:
        return compact(value)
    inner = indent + "  "
    if isinstance(value, dict):
        items = [f"{inner}{compact(k)}: {layout(v, depth - 1, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    return "[\n" + ",\n".join(inner + compact(v) for v in value) + f"\n{indent}]"


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
