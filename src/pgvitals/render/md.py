"""The Markdown report (SPEC §6): a senior DBA's assessment, generated.

The numbers come from `summary`; this module only turns them into Markdown, escaping
every name and message so that no identifier can break a table, a code span or the
Mermaid diagram, and no control character (an escape sequence in a table name) reaches
the file: they are written visibly, as `\\x1b`."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from pgvitals import __version__
from pgvitals.engine import REVIEW, Analysis
from pgvitals.render import summary
from pgvitals.render.escape import visible, visible_value
from pgvitals.rules import CATEGORIES, REGISTRY, SEVERITIES, Finding
from pgvitals.rules._api import CRITICAL, HIGH, QUALITY

MAX_DIAGRAM_ENTITIES = 60  # beyond this a Mermaid diagram is unreadable (and slow to lay out)
MAX_DETAILED_PER_RULE = 25  # findings shown in full per rule and severity; the rest compact
MAX_LISTED_NAMES = 30

STATUS_LABELS = {
    summary.RED: "🔴 Red",
    summary.AMBER: "🟠 Amber",
    summary.GREEN: "🟢 Green",
    summary.NOT_CHECKED: "⚪ Not checked",
}

# Rules that would fill the "missing elements" section, by element (SPEC §6).
MISSING_ELEMENT_RULES = {
    "Documentation": "missing-comments",
    "Migration history": "no-migration-history",
    "Row-level security": "rls-disabled",
    "Partitioning": "partition-coverage",
}


# --- escaping ------------------------------------------------------------------------

ESCAPED_SQL_NOTE = (
    "Control characters in names are shown above as `\\x1b`-style escapes; run the "
    "statements from the fix.sql and rollback.sql written beside the report, which have "
    "the exact names."
)

_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]<>~])|(?<!\w)_|_(?!\w)|^(#)", re.M)


def md_text(value: object) -> str:
    """Free text (a message, a comment) with Markdown's active characters escaped."""
    text = visible(str(value), keep_newlines=True)
    return _MARKDOWN_SPECIAL.sub(lambda m: "\\" + m.group(), text)


def code(value: object) -> str:
    """An inline code span that holds any text, backticks included (one line: a newline
    is a control character, shown as `\\x0a`)."""
    text = visible(str(value))
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {text} " if text.startswith("`") or text.endswith("`") or not text.strip() else text
    return f"{fence}{padded}{fence}"


def cell(value: object) -> str:
    """Content for a table cell: one line (a newline is shown as `\\x0a`), `|` escaped
    (GFM honours `\\|` in code spans too)."""
    return visible(str(value)).replace("|", "\\|")


def fenced(body: str, language: str = "") -> str:
    """A fenced code block whose fence no line of `body` can close.

    SQL whose names hold control characters cannot be shown both exactly and safely: it
    is shown safely, with a note that the .sql files have the exact names."""
    shown = visible(body, keep_newlines=True)
    longest = max((len(run) for run in re.findall(r"^\s*(`{3,})", shown, re.M)), default=0)
    fence = "`" * max(3, longest + 1)
    block = f"{fence}{language}\n{shown.rstrip()}\n{fence}"
    if language == "sql" and shown != body:
        block += f"\n\n{ESCAPED_SQL_NOTE}"
    return block


def evidence_value(value: Any, key: str) -> str:
    """One evidence value, readable: sizes in kB/MB/GB, ratios as percentages."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) and key.endswith("bytes"):
        return f"{summary.human_bytes(int(value))} ({int(value):,} bytes)"
    if isinstance(value, float) and "ratio" in key:
        return f"{value:.1%}"
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    if isinstance(value, (int, float)):
        return f"{value:,}"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) or "—"
    return str(value)


# --- Mermaid -------------------------------------------------------------------------


@dataclass(frozen=True)
class Diagram:
    text: str  # the erDiagram body, without the fence
    entities_shown: int
    entities_total: int
    relationships_shown: int

    @property
    def truncated(self) -> bool:
        return self.entities_shown < self.entities_total


def mermaid_name(name: str) -> str:
    """A Mermaid entity name: ASCII letters, digits and `_` (accents dropped, the rest
    replaced), starting with a letter."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    identifier = re.sub(r"[^A-Za-z0-9_]", "_", ascii_name)
    return identifier if identifier[:1].isalpha() else f"t_{identifier}"


def mermaid_label(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9_ .-]", "_", ascii_text)


def er_diagram(
    schema: str, relations: list[summary.Relationship], limit: int = MAX_DIAGRAM_ENTITIES
) -> Diagram:
    """An `erDiagram` of the schema's foreign keys. Tables of other schemas that are
    referenced appear qualified. Over `limit` entities, the most connected are kept."""

    def display(schema_name: str, table: str) -> str:
        return table if schema_name == schema else f"{schema_name}.{table}"

    degree: dict[str, int] = {}
    for rel in relations:
        for end in (rel.parent, rel.child):
            degree[end] = degree.get(end, 0) + 1
    ranked = sorted(degree, key=lambda name: (-degree[name], name))
    shown = set(ranked[:limit])

    names: dict[str, str] = {}
    taken: set[str] = set()
    for rel in relations:
        for qualname, schema_name, table in (
            (rel.parent, rel.parent_schema, rel.parent_table),
            (rel.child, rel.child_schema, rel.child_table),
        ):
            if qualname in names or qualname not in shown:
                continue
            base = mermaid_name(display(schema_name, table))
            candidate, suffix = base, 2
            while candidate in taken:
                candidate, suffix = f"{base}_{suffix}", suffix + 1
            names[qualname] = candidate
            taken.add(candidate)

    lines = ["erDiagram"]
    for rel in relations:
        if rel.parent not in shown or rel.child not in shown:
            continue
        parent_end = "|o" if rel.optional else "||"
        child_end = "o|" if rel.one_to_one else "o{"
        lines.append(
            f"    {names[rel.parent]} {parent_end}--{child_end} {names[rel.child]} : "
            f'"{mermaid_label(rel.name)}"'
        )
    return Diagram("\n".join(lines), len(shown), len(degree), len(lines) - 1)


def relation_line(rel: summary.Relationship) -> str:
    """`parent (1) --> (*) child  [fk_name] (columns -> referenced columns)`."""
    parent_end = "(0..1)" if rel.optional else "(1)"
    child_end = "(0..1)" if rel.one_to_one else "(*)"
    columns = f"({', '.join(rel.columns)}) -> ({', '.join(rel.ref_columns)})"
    kind = "" if rel.declared else "inferred, "
    return f"{rel.parent} {parent_end} --> {child_end} {rel.child}  [{kind}{rel.name}] {columns}"


# --- the report ----------------------------------------------------------------------


@dataclass(frozen=True)
class RuleGroup:
    """Findings of one rule at one severity, shown in full with the rule's rationale."""

    rule: str
    title: str
    why: str
    detailed: list[Finding]
    compact: list[Finding]


@dataclass(frozen=True)
class SchemaSection:
    overview: summary.SchemaOverview
    relations: list[summary.Relationship]
    diagram: Diagram
    unrelated_tables: list[str]


def rule_groups(findings: list[Finding], severity: str) -> list[RuleGroup]:
    by_rule: dict[str, list[Finding]] = {}
    for item in findings:
        if item.severity == severity:
            by_rule.setdefault(item.rule, []).append(item)
    groups = []
    for rule_id, items in by_rule.items():
        rule_def = REGISTRY.get(rule_id)
        groups.append(
            RuleGroup(
                rule=rule_id,
                title=rule_def.title if rule_def else rule_id,
                why=rule_def.section("Why it breaks") if rule_def else "",
                detailed=items[:MAX_DETAILED_PER_RULE],
                compact=items[MAX_DETAILED_PER_RULE:],
            )
        )
    return groups


def schema_sections(analysis: Analysis) -> list[SchemaSection]:
    snap = analysis.snapshot
    everything = summary.relationships(snap)
    # a table referenced only from another schema still takes part in a relationship
    related = {r.child for r in everything} | {r.parent for r in everything}
    sections = []
    for overview in summary.schema_overviews(snap):
        relations = [r for r in everything if r.child_schema == overview.name]
        unrelated = sorted(
            t.qualname
            for t in snap.tables
            if t.schema == overview.name
            and t.is_regular
            and not t.is_partition
            and t.qualname not in related
        )
        sections.append(
            SchemaSection(overview, relations, er_diagram(overview.name, relations), unrelated)
        )
    return sections


def element_status(analysis: Analysis, rule_id: str) -> str:
    """What the rule behind a "missing element" says, or that it is not assessed yet."""
    check = next((c for c in analysis.checks if c.rule == rule_id), None)
    if check is None:
        return f"not assessed yet (rule `{rule_id}` is not in this version)"
    if check.status != "ran":
        return f"not assessed: {check.status} ({md_text(check.reason or 'no reason given')})"
    count = sum(1 for f in analysis.findings if f.rule == rule_id)
    if count:
        return f"{summary.plural(count, 'finding')} from `{rule_id}` (see Findings)"
    return f"no findings from `{rule_id}`"


def listing(names: list[str], limit: int = MAX_LISTED_NAMES) -> str:
    shown = ", ".join(code(name) for name in names[:limit])
    if len(names) > limit:
        shown += f" and {len(names) - limit:,} more"
    return shown


def report_context(analysis: Analysis) -> dict[str, Any]:
    snap = analysis.snapshot
    areas = summary.area_statuses(analysis)
    activity = summary.table_activity(snap)
    active = [row for row in activity if not row.idle]
    coverage = summary.index_coverage(snap)
    full = {severity: rule_groups(analysis.findings, severity) for severity in (CRITICAL, HIGH)}
    return {
        "version": __version__,
        "inv": summary.inventory(analysis),
        "collected": summary.short_time(snap.server.collected_at),
        "areas": areas,
        "area_of": {area.category: area for area in areas},
        "window": summary.statistics_window(snap.server),
        "review": analysis.mode == REVIEW,
        "schemas": schema_sections(analysis),
        "full": full,
        "compact": [f for f in analysis.findings if f.severity not in (CRITICAL, HIGH)],
        "coverage": coverage,
        "coverage_without_index": [c.table for c in coverage if c.indexes == 0],
        "coverage_unindexed_fk": sum(1 for c in coverage if c.unindexed_foreign_keys),
        "index_bytes": sum(c.index_bytes or 0 for c in coverage),
        "table_bytes": sum(c.table_bytes or 0 for c in coverage),
        "unsized": [c.table for c in coverage if c.table_bytes is None],
        "rls_enabled": sum(1 for t in snap.tables if t.is_regular and t.rls_enabled),
        "regular_tables": sum(1 for t in snap.tables if t.is_regular),
        "active": active,
        "idle": [row.table for row in activity if row.idle],
        "max_writes": max((row.writes for row in active), default=0),
        "track_counts": snap.server.settings.get("track_counts", "on"),
        "quality": [f for f in analysis.findings if f.category == QUALITY],
        "elements": {
            element: element_status(analysis, rule_id)
            for element, rule_id in MISSING_ELEMENT_RULES.items()
        },
        "excused": analysis.excused,
        "gaps": summary.check_gaps(analysis),
        "checks_total": len(analysis.checks),
        "collection_skipped": snap.collection.skipped,
        "data_profiled": snap.collection.data_profiled,
        "plan": summary.action_plan(analysis.findings),
        "scripts": summary.fix_scripts(analysis),
        "severities": SEVERITIES,
        "categories": CATEGORIES,
        "status_label": STATUS_LABELS,
        "MAX_DETAILED": MAX_DETAILED_PER_RULE,
    }


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("pgvitals", "render/templates"),
        autoescape=False,  # Markdown, escaped explicitly by the filters below
        finalize=visible_value,  # whatever a template prints unfiltered, too
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
    )
    env.filters.update(
        md=md_text,
        code=code,
        cell=cell,
        fenced=fenced,
        num=summary.thousands,
        size=summary.human_bytes,
        evidence=evidence_value,
        listing=listing,
        relation=relation_line,
    )
    env.globals.update(bar=summary.text_bar, plural=summary.plural)
    return env


def render_markdown(analysis: Analysis) -> str:
    template = environment().get_template("report.md.j2")
    return template.render(**report_context(analysis))
