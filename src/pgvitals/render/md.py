"""The Markdown report (SPEC §6): a senior DBA's assessment, generated.

The numbers come from the Report; this module only turns them into Markdown, escaping
every name and message so that no identifier can break a table, a code span or the
Mermaid diagram, and no control character (an escape sequence in a table name) reaches
the file: they are written visibly, as `\\x1b`."""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pgvitals import fmt
from pgvitals import report as rp
from pgvitals.findings import Category, Finding
from pgvitals.render import renderer
from pgvitals.render.escape import visible, visible_value
from pgvitals.render.view import TOP_TABLES, column_title, layout
from pgvitals.report import ACTIVITY_CLASSES, Report, TableActivity
from pgvitals.snapshot.profile import quote_identifier

if TYPE_CHECKING:
    from jinja2 import Environment

    from pgvitals.snapshot.facts import CommandCoverage

MAX_DIAGRAM_ENTITIES = 60  # beyond this a Mermaid diagram is unreadable (and slow to lay out)
MAX_DETAILED = 25  # new findings listed against a baseline
MAX_LISTED_NAMES = 30
MAX_QUERY_PATTERNS = 25  # statements in the query-pattern table (the JSON report has all)

STATUS_LABELS = {
    rp.RED: "🔴 Red",
    rp.AMBER: "🟠 Amber",
    rp.GREEN: "🟢 Green",
    rp.NOT_CHECKED: "⚪ Not checked",
    rp.NOT_ENOUGH_HISTORY: "⚪ Not enough history",
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


def at(item: Finding) -> str:
    """` (file:line)` where a reviewed DDL file defines the finding's object."""
    where = item.where.place
    return f" ({code(where)})" if where and where != item.object else ""


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


def measured(count: int | None, ratio: float | None) -> str:
    """A count and its share of the rows: `2,700 (90.0 %)`; `—` where not measured."""
    if count is None:
        return "—"
    return f"{count:,} ({ratio:.1%})" if ratio is not None else f"{count:,}"


def other_measures(row: rp.ColumnQuality) -> str:
    """Values not hashed (password columns) and shapes of personal data, else `—`."""
    parts = []
    if row.not_hashed is not None:
        parts.append(f"{row.not_hashed:,} not hashed")
    if row.shape is not None and row.shape_ratio is not None:
        parts.append(f"{row.shape.replace('_', ' ')}-shaped: {row.shape_ratio:.0%}")
    return "; ".join(parts) or "—"


def read_how(row: rp.ColumnQuality) -> str:
    """How the numbers were obtained: every row, or a sample and its margin of error."""
    if not row.estimated:
        return "counted"
    spread = f", ± {row.margin:.1%}" if row.margin is not None else ""
    return f"estimated ({fmt.thousands(row.rows_examined)} rows read{spread})"


def rls_cell(command: CommandCoverage) -> str:
    """One cell of the RLS coverage matrix: `role (policy)` for each permissive policy,
    then `and ...` for each restrictive one; **denied** where none allows it."""
    if command.denied:
        granted = ", ".join(code(name) for name in command.granted_to)
        return "**denied**" + (f" (granted to {granted})" if granted else "")
    allowed = "; ".join(
        f"{', '.join(code(role) for role in use.roles)} ({code(use.policy)})"
        for use in command.permissive
    )
    narrowed = "".join(f"; and {code(use.policy)}" for use in command.restrictive)
    return allowed + narrowed


def milliseconds(value: float) -> str:
    """A duration: "0.42 ms", "5.1 ms", "1,516 ms", "12.3 s"."""
    if value >= 10_000:
        return f"{value / 1000:,.1f} s"
    if value >= 100:
        return f"{value:,.0f} ms"
    return f"{value:.2f} ms" if value < 1 else f"{value:.1f} ms"


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
    schema: str, relations: list[rp.Relationship], limit: int = MAX_DIAGRAM_ENTITIES
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
            # a dotted line (Mermaid's non-identifying relationship) for an inferred one
            f"    {names[rel.parent]} {parent_end}{'--' if rel.declared else '..'}{child_end}"
            f" {names[rel.child]} : "
            f'"{mermaid_label(rel.name)}"'
        )
    return Diagram("\n".join(lines), len(shown), len(degree), len(lines) - 1)


def relation_line(rel: rp.Relationship) -> str:
    """`parent (1) --> (*) child  [fk_name] (columns -> referenced columns)`."""
    parent_end = "(0..1)" if rel.optional else "(1)"
    child_end = "(0..1)" if rel.one_to_one else "(*)"
    columns = f"({', '.join(rel.columns)}) -> ({', '.join(rel.ref_columns)})"
    kind = "" if rel.declared else "inferred, "
    return f"{rel.parent} {parent_end} --> {child_end} {rel.child}  [{kind}{rel.name}] {columns}"


# --- the report ----------------------------------------------------------------------


@dataclass(frozen=True)
class SchemaSection:
    overview: rp.SchemaOverview
    relations: tuple[rp.Relationship, ...]
    diagram: Diagram
    unrelated_tables: tuple[str, ...]


def schema_sections(report: Report) -> list[SchemaSection]:
    return [
        SchemaSection(
            section.overview,
            section.relations,
            er_diagram(section.overview.name, list(section.relations)),
            section.unrelated_tables,
        )
        for section in report.schemas
    ]


def listing(names: list[str], limit: int = MAX_LISTED_NAMES) -> str:
    shown = ", ".join(code(name) for name in names[:limit])
    if len(names) > limit:
        shown += f" and {len(names) - limit:,} more"
    return shown


def activity_classes(activity: list[TableActivity]) -> list[tuple[str, list[str]]]:
    """The tables of each activity class, in the classes' order, empty ones left out."""
    return [
        (name, tables)
        for name in ACTIVITY_CLASSES
        if (tables := [row.table for row in activity if row.activity == name])
    ]


SEVERITY_TITLES = {
    "critical": "Critical",
    "high": "High",
    "medium": "Medium",
    "low": "Low",
    "info": "Informational",
}
MAX_CARDS = 3  # a serious group this small shows each finding in full; a larger one a table
MAX_OPEN_ROWS = 20  # a longer table or list is folded into <details>


def report_context(report: Report) -> dict[str, Any]:
    coverage = report.coverage
    return {
        "version": report.tool_version,
        "inv": report.inventory,
        "collected": fmt.short_time(report.target.collected_at),
        "areas": report.areas,
        "area_of": {area.category: area for area in report.areas},
        "window": report.window,
        "review": report.review,
        "schemas": schema_sections(report),
        "view": layout(report),
        "coverage": coverage,
        "coverage_without_index": [c.table for c in coverage if c.indexes == 0],
        "coverage_unindexed_columns": [
            (c.table, c.unindexed_foreign_key_columns)
            for c in coverage
            if c.unindexed_foreign_key_columns
        ],
        "rls_enabled": report.rls_enabled_tables,
        "rls": report.rls_coverage,
        "regular_tables": report.regular_tables,
        "activity_classes": activity_classes(report.activity),
        "track_counts": report.settings.get("track_counts", "on"),
        "quality": [f for f in report.findings if f.category == Category.QUALITY],
        "quality_columns": report.quality,
        "elements": report.elements,
        "excused": report.excused,
        "not_assessed": report.not_assessed,
        "unused_excuses": report.unused_excuses,
        "thresholds": report.thresholds,
        "config_source": report.config_source,
        "gaps": report.gaps,
        "checks_total": len(report.checks),
        "collection_skipped": report.collection["skipped"],
        "not_checked": report.not_checked_summary(),
        "data_profiled": report.collection["data_profiled"],
        "own_reads": own_reads(report.collection),
        "plan": report.plan,
        "risks": report.risks,
        "verification": report.verification,
        "scripts": report.scripts,
        "severity_titles": SEVERITY_TITLES,
        "probability_levels": rp.PROBABILITY_LEVELS,
        "status_label": STATUS_LABELS,
        "MAX_DETAILED": MAX_DETAILED,
        "MAX_CARDS": MAX_CARDS,
        "MAX_OPEN_ROWS": MAX_OPEN_ROWS,
        "MAX_LISTED": MAX_LISTED_NAMES,
        "TOP_TABLES": TOP_TABLES,
        "WIDESPREAD": rp.WIDESPREAD,
        "baseline": report.baseline,
        "baseline_made": fmt.short_time(report.baseline.generated_at) if report.baseline else "",
        "baseline_summary": report.baseline.summary(report.findings) if report.baseline else "",
        "baseline_counted": report.counted_findings() if report.baseline else [],
        "patterns": report.query_patterns,
        "MAX_PATTERNS": MAX_QUERY_PATTERNS,
    }


@functools.cache
def environment() -> Environment:
    """Built once: compiling the template costs more than rendering a small report.
    (jinja2 is imported here: a run that writes no such report does without it.)"""
    from jinja2 import Environment, PackageLoader, StrictUndefined

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
        num=fmt.thousands,
        size=fmt.human_bytes,
        evidence=fmt.evidence_value,
        listing=listing,
        relation=relation_line,
        at=at,
        rls_cell=rls_cell,
        ms=milliseconds,
        share=lambda value: "—" if value is None else f"{value:.0%}",
        measured=lambda row, count, ratio: measured(getattr(row, count), getattr(row, ratio)),
        read_how=read_how,
        other_measures=other_measures,
        column_title=column_title,
    )
    env.globals.update(bar=fmt.text_bar, plural=fmt.plural)
    return env


@renderer("md", ".md")
def render_markdown(report: Report) -> str:
    template = environment().get_template("report.md.j2")
    return template.render(**report_context(report))


def own_reads(collection: dict[str, Any]) -> dict[str, Any]:
    """What pgvitals' own row reads did to the counters the activity and index rules
    read (snapshot/collect.py, Collector._measuring; history/own.py): `left_out`, the
    earlier runs the history left out; `counted`, whether this run's add to them."""
    return {
        "left_out": collection.get("own_reads_left_out_of_runs"),
        "counted": collection.get("own_reads_counted"),
        "grant": "GRANT SET ON PARAMETER track_counts, pg_stat_statements.track TO "
        + quote_identifier(collection.get("role") or "ROLE"),
    }
