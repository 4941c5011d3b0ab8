"""The HTML report: the Markdown report's structure (SPEC §6) as one self-contained
page, for reading in a browser and for printing.

Self-contained: the stylesheet and every chart are inline (SVG drawn here), nothing is
fetched (a Content-Security-Policy forbids it), and nothing needs JavaScript: the
sections fold with <details>, and the severity filter is checkboxes that CSS reads.
The page's one script only unfolds every section before printing.

Every name, message and value is escaped by Jinja's autoescaping, after `visible` made
its control characters visible; markup built here escapes what it places."""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import re
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from pgvitals import fmt
from pgvitals import report as rp
from pgvitals.findings import CATEGORIES, SEVERITIES, Finding
from pgvitals.render import renderer
from pgvitals.render.escape import visible, visible_value
from pgvitals.render.md import (
    activity_classes,
    measured,
    milliseconds,
    other_measures,
    read_how,
    relation_line,
    report_context,
)
from pgvitals.render.svg import Bar, Segment, bar_chart, er_diagram
from pgvitals.render.view import ReportView, column_title, layout
from pgvitals.report import Report

if TYPE_CHECKING:
    from jinja2 import Environment

STATUS_WORDS = {
    rp.RED: "Red",
    rp.AMBER: "Amber",
    rp.GREEN: "Green",
    rp.NOT_CHECKED: "Not checked",
    rp.NOT_ENOUGH_HISTORY: "Not enough history",
}
STATUS_CLASSES = {
    rp.RED: "red",
    rp.AMBER: "amber",
    rp.GREEN: "green",
    rp.NOT_CHECKED: "grey",
    rp.NOT_ENOUGH_HISTORY: "grey",
}
CHART_TABLES = 15  # tables drawn in the size and activity charts
OPEN_SCHEMAS = 5  # up to this many schema sections start unfolded
# Unfolds every <details> before printing (a folded one would print folded) and folds
# back after. Reading the page needs none of it.
PRINT_SCRIPT = (
    "addEventListener('beforeprint',()=>{for(const d of document.querySelectorAll("
    "'details:not([open])')){d.dataset.printOpened='1';d.open=true}});"
    "addEventListener('afterprint',()=>{for(const d of document.querySelectorAll("
    "'details[data-print-opened]')){d.open=false;delete d.dataset.printOpened}});"
)


def script_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode()).digest()
    return "sha256-" + base64.b64encode(digest).decode()


# Nothing may be fetched: no stylesheet, image, font, frame or connection from anywhere.
CONTENT_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:;"
    f" script-src '{script_hash(PRINT_SCRIPT)}'; base-uri 'none'; form-action 'none'"
)


def escaped(value: object) -> str:
    return html.escape(visible(str(value)))


def code(value: object) -> Markup:
    return Markup(f"<code>{escaped(value)}</code>")


_CODE_SPAN = re.compile(r"`([^`]+)`")


def inline(value: object) -> Markup:
    """One line of Markdown-ish text (a rule's summary, an assessment): escaped, with its
    `code` spans as <code>."""
    return Markup(_CODE_SPAN.sub(r"<code>\1</code>", escaped(" ".join(str(value).split()))))


def prose(value: object) -> Markup:
    """A rule's rationale (Markdown-ish text): `inline` text, blank lines as paragraph
    breaks."""
    paragraphs = [p for p in re.split(r"\n\s*\n", str(value).strip()) if p.strip()]
    return Markup("".join(f"<p>{inline(p)}</p>" for p in paragraphs))


def at(item: Finding) -> str:
    where = item.where.place
    return f" ({where})" if where and where != item.object else ""


def rls_cell(command: Any) -> Markup:
    """One cell of the RLS matrix: who may, by which policy; or denied."""
    if command.denied:
        granted = ", ".join(escaped(name) for name in command.granted_to)
        note = f" <span class=muted>(granted to {granted})</span>" if granted else ""
        return Markup(f'<span class="denied">denied</span>{note}')
    allowed = "; ".join(
        ", ".join(escaped(role) for role in use.roles)
        + f" <span class=muted>({escaped(use.policy)})</span>"
        for use in command.permissive
    )
    narrowed = "".join(
        f"; and <span class=muted>{escaped(use.policy)}</span>" for use in command.restrictive
    )
    return Markup(f'<span class="allowed">{allowed}{narrowed}</span>')


# --- charts ---------------------------------------------------------------------------


def severity_chart(counts: dict[str, int]) -> Markup:
    bars = [
        Bar(severity, (Segment(count, f"sev-{severity}", f"{count:,} {severity}"),), f"{count:,}")
        for severity, count in counts.items()
    ]
    return bar_chart(bars, "Findings by severity", width=420)


def area_chart(report: Report) -> Markup:
    """Per area, its findings stacked by severity."""
    by_area: dict[str, dict[str, int]] = {c: dict.fromkeys(SEVERITIES, 0) for c in CATEGORIES}
    for item in report.findings:
        by_area[item.category.value][item.severity.value] += 1
    bars = []
    for area in report.areas:
        counts = by_area.get(area.category, {})
        segments = tuple(
            Segment(n, f"sev-{s}", f"{area.title}: {n:,} {s}") for s, n in counts.items() if n
        )
        total = sum(counts.values())
        bars.append(Bar(area.title, segments, f"{total:,}" if total else "none"))
    return bar_chart(bars, "Findings by area and severity", width=520)


def size_chart(view: ReportView) -> Markup | None:
    """The largest tables: table data and indexes, stacked; None when no size is known."""
    sized = [c for c in view.coverage if c.table_bytes is not None][:CHART_TABLES]
    if not sized or not any((c.table_bytes or 0) + (c.index_bytes or 0) for c in sized):
        return None
    bars = []
    for row in sized:
        table, indexes = fmt.human_bytes(row.table_bytes), fmt.human_bytes(row.index_bytes)
        segments = (
            Segment(row.table_bytes or 0, "size-table", f"table data {table}"),
            Segment(row.index_bytes or 0, "size-index", f"indexes {indexes}"),
        )
        bars.append(Bar(row.table, segments, f"{table} + {indexes}"))
    return bar_chart(bars, "Largest tables: table data and indexes", width=760)


def activity_chart(view: ReportView) -> Markup | None:
    busiest = [row for row in view.active if row.writes][:CHART_TABLES]
    if not busiest:
        return None
    bars = [
        Bar(
            row.table,
            (
                Segment(row.inserts or 0, "write-insert", f"{row.inserts or 0:,} inserts"),
                Segment(row.updates or 0, "write-update", f"{row.updates or 0:,} updates"),
                Segment(row.deletes or 0, "write-delete", f"{row.deletes or 0:,} deletes"),
            ),
            f"{row.writes:,}",
        )
        for row in busiest
    ]
    return bar_chart(bars, "Busiest tables: inserts, updates and deletes", width=760)


def diagrams(report: Report) -> list[Any]:
    return [
        er_diagram(section.overview.name, list(section.relations), f"er-{index}")
        if section.relations
        else None
        for index, section in enumerate(report.schemas)
    ]


def html_context(report: Report) -> dict[str, Any]:
    context = report_context(report)
    view: ReportView = context["view"]
    context.update(
        view=view,
        report_schemas=report.schemas,
        diagrams=diagrams(report),
        open_schemas=len(report.schemas) <= OPEN_SCHEMAS,
        severity_chart=severity_chart(report.inventory.findings_by_severity),
        area_chart=area_chart(report),
        size_chart=size_chart(view),
        activity_chart=activity_chart(view),
        status_words=STATUS_WORDS,
        status_classes=STATUS_CLASSES,
        content_policy=CONTENT_POLICY,
        print_script=Markup(PRINT_SCRIPT),
        severities=SEVERITIES,
        activity_classes=activity_classes(report.activity),
        impact_levels=rp.IMPACT_LEVELS,
        # SQL whose names hold control characters is shown with them escaped
        sql_escaped=visible(report.scripts.fix, keep_newlines=True) != report.scripts.fix,
    )
    return context


@functools.cache
def environment() -> Environment:
    """Built once: compiling the template costs more than rendering a small report.
    (jinja2 is imported here: a run that writes no such report does without it.)"""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("pgvitals", "render/templates"),
        autoescape=True,
        finalize=visible_value,  # control characters visible, then escaped
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
    )
    env.filters.update(
        code=code,
        prose=prose,
        inline=inline,
        num=fmt.thousands,
        size=fmt.human_bytes,
        evidence=fmt.evidence_value,
        relation=relation_line,
        at=at,
        rls_cell=rls_cell,
        column_title=column_title,
        short_time=fmt.short_time,
        ms=milliseconds,
        share=lambda value: "—" if value is None else f"{value:.0%}",
        measured=lambda row, count, ratio: measured(getattr(row, count), getattr(row, ratio)),
        read_how=read_how,
        other_measures=other_measures,
    )
    env.globals.update(plural=fmt.plural, layout=layout)
    return env


@renderer("html", ".html", ".htm")
def render_html(report: Report) -> str:
    return environment().get_template("report.html.j2").render(**html_context(report))
