"""A Diff (pgvitals/diff.py) as text for the terminal, Markdown, JSON and one
self-contained HTML page. Every name and value passes through `visible` (and the
Markdown or HTML escaping): no object name acts on a terminal or a page."""

from __future__ import annotations

import html
import io
import json
from collections.abc import Callable
from importlib import resources
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pgvitals import fmt
from pgvitals.diff import (
    ADDED,
    CHANGED,
    REMOVED,
    RENAMED,
    Diff,
    Drift,
    FieldChange,
    Side,
    StatisticsDelta,
    TableDelta,
)
from pgvitals.findings import Finding
from pgvitals.render.escape import visible
from pgvitals.render.md import cell, code, md_text
from pgvitals.render.text import severity_text

MAX_LISTED = 50  # findings or drift entries listed per group; the rest counted
MAX_TABLES = 20  # tables listed with their statistics deltas
DRIFT_MARKS = {ADDED: "+", REMOVED: "-", CHANGED: "~", RENAMED: ">"}
# Fields holding a stored node tree (pg_rewrite.ev_action): shown where they first differ.
NODE_TREES = frozenset({"query_tree"})
TREE_CONTEXT = 4  # words of a node tree shown either side of its first difference


def diff_schema() -> dict[str, Any]:
    return json.loads(resources.files("pgvitals.render").joinpath("diff.schema.json").read_text())


def render_diff_json(diff: Diff) -> str:
    return json.dumps(diff.to_json(), indent=2, ensure_ascii=False) + "\n"


# --- words shared by every format ----------------------------------------------------


def side_line(name: str, side: Side) -> str:
    target = side.report.target
    return (
        f"{name}: {side.label} ({side.source}; database {target.database}, PostgreSQL "
        f"{target.server_version}, taken {fmt.short_time(target.collected_at)})"
    )


def findings_line(diff: Diff) -> str:
    found = diff.findings
    parts = [
        f"{len(found.new):,} new",
        f"{len(found.resolved):,} resolved",
        f"{len(found.changed):,} changed ({len(found.worsened):,} worse)",
        f"{len(found.unchanged):,} unchanged",
    ]
    if found.not_rechecked:
        parts.append(f"{len(found.not_rechecked):,} not rechecked (their rule did not run)")
    if found.excused:
        parts.append(f"{len(found.excused):,} now excused")
    return "Findings: " + ", ".join(parts)


def drift_line(diff: Diff) -> str:
    if diff.drift is None:
        return f"Schema drift: not compared ({diff.drift_note})"
    counts = diff.drift_counts()
    line = "Schema drift: " + ", ".join(f"{n:,} {change}" for change, n in counts.items())
    return line + (f" ({diff.drift_note})" if diff.drift_note else "")


def statistics_line(diff: Diff) -> str:
    return f"Statistics: not compared ({diff.statistics_note})"


def value_text(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    return str(value)


def change_text(change: FieldChange) -> str:
    if change.field in NODE_TREES and change.before and change.after:
        before, after = first_difference(str(change.before), str(change.after))
        return (
            f"{change.field} (stored node tree; pg_get_viewdef shows the query) first "
            f"differs at: …{before}… → …{after}…"
        )
    return f"{change.field}: {value_text(change.before)} → {value_text(change.after)}"


def first_difference(before: str, after: str) -> tuple[str, str]:
    """The few words around the first place two node trees part: a whole tree runs to
    pages, and a reader wants to know which column, constant or table changed."""
    old, new = before.split(" "), after.split(" ")
    at = next((n for n, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), None)
    if at is None:
        at = min(len(old), len(new))
    start = max(at - TREE_CONTEXT, 0)
    return (
        " ".join(old[start : at + TREE_CONTEXT + 1]),
        " ".join(new[start : at + TREE_CONTEXT + 1]),
    )


def drift_detail(item: Drift) -> str:
    parts = []
    if item.before_name:
        parts.append(f"was {item.before_name}")
    parts += [change_text(c) for c in item.fields]
    if item.shown and item.change == ADDED:
        parts.append(value_text(item.shown.after))
    elif item.shown and item.change == REMOVED:
        parts.append(value_text(item.shown.before))
    elif item.shown:
        parts.append(change_text(item.shown))
    return "; ".join(parts)


def signed(value: float | None, render: Callable[[float], str] = fmt.thousands) -> str:
    if value is None:
        return "—"
    return ("+" if value > 0 else "") + render(value)


def signed_bytes(value: int | None) -> str:
    if value is None:
        return "—"
    return ("+" if value > 0 else "-" if value < 0 else "") + fmt.human_bytes(abs(value))


def per_day_text(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


def size_line(delta: StatisticsDelta) -> str:
    before, after = delta.database_bytes_before, delta.database_bytes_after
    change = None if before is None or after is None else after - before
    return (
        f"database size {fmt.human_bytes(before)} → {fmt.human_bytes(after)} "
        f"({signed_bytes(change)})"
    )


def result_line(diff: Diff, fail_on: str | None) -> str:
    counted = diff.findings.counted()
    text = f"Result: {len(diff.findings.new):,} new, {len(diff.findings.worsened):,} worse"
    if fail_on:
        failing = diff.failing(fail_on)
        verdict = f"{len(failing):,} at or above {fail_on}" if failing else f"none at {fail_on}+"
        text += f" — --fail-on {fail_on}: {verdict}"
    elif counted:
        text += f" (worst: {counted[0].severity})"
    return text


def listed(items: list[Any]) -> tuple[list[Any], int]:
    return items[:MAX_LISTED], max(len(items) - MAX_LISTED, 0)


# --- text ----------------------------------------------------------------------------


def render_diff_text(diff: Diff, console: Console, fail_on: str | None = None) -> None:
    console.print(Text("pgvitals diff", style="bold"))
    console.print(Text(visible(side_line("A", diff.before)), style="dim"))
    console.print(Text(visible(side_line("B", diff.after)), style="dim"))
    console.print()
    console.print(Text(findings_line(diff), style="bold"))
    rows = [("NEW", f) for f in diff.findings.new]
    rows += [("WORSE" if c.worsened else "BETTER", c.after) for c in diff.findings.changed]
    rows += [("RESOLVED", f) for f in diff.findings.resolved]
    shown, hidden = listed(rows)
    if shown:
        console.print(finding_rows(shown, diff))
    if hidden:
        console.print(Text(f"... and {hidden:,} more (see the JSON or HTML output)"))
    console.print()
    console.print(Text(visible(drift_line(diff)), style="bold"))
    drift, hidden = listed(diff.drift or [])
    if drift:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for heading in ("", "Kind", "Object", "Change"):
            table.add_column(heading, overflow="fold")
        for item in drift:
            table.add_row(
                DRIFT_MARKS[item.change],
                item.kind,
                Text(visible(item.name)),
                Text(visible(drift_detail(item) or item.change)),
            )
        console.print(table)
    if hidden:
        console.print(Text(f"... and {hidden:,} more"))
    console.print()
    render_statistics_text(diff, console)
    console.print(Text(result_line(diff, fail_on), style="bold"))


def finding_rows(rows: list[tuple[str, Finding]], diff: Diff) -> Table:
    before = {c.after.fingerprint: c.before.severity for c in diff.findings.changed}
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("", no_wrap=True)
    table.add_column("Severity", no_wrap=True)
    table.add_column("Rule", no_wrap=True)
    table.add_column("Object", overflow="fold", ratio=1)
    table.add_column("Message", overflow="fold", ratio=2)
    for status, item in rows:
        severity = severity_text(item.severity)
        if item.fingerprint in before:
            severity.append(f" (was {before[item.fingerprint]})", style="dim")
        table.add_row(
            status, severity, item.rule, Text(visible(item.object)), Text(visible(item.message))
        )
    return table


def render_statistics_text(diff: Diff, console: Console) -> None:
    delta = diff.statistics
    if delta is None:
        console.print(Text(visible(statistics_line(diff)), style="bold"))
        console.print()
        return
    console.print(
        Text(
            f"Statistics over {delta.interval} ({fmt.short_time(delta.since)} → "
            f"{fmt.short_time(delta.until)}): {size_line(delta)}",
            style="bold",
        )
    )
    for note in delta.notes:
        console.print(Text(visible(f"note: {note}"), style="yellow"))
    if delta.tables:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for heading in STAT_HEADINGS:
            table.add_column(
                heading, overflow="fold", justify="left" if heading == "Table" else "right"
            )
        for row in delta.tables[:MAX_TABLES]:
            table.add_row(*(Text(visible(value)) for value in table_cells(row)))
        console.print(table)
    for usage in delta.indexes:
        console.print(
            Text(visible(f"index {usage.index} {usage.change} being used"
                         f" ({usage.scans_in_interval:,} scans in the interval,"
                         f" {usage.scans_before:,} before)"))
        )  # fmt: skip
    console.print()


STAT_HEADINGS = ("Table", "Rows", "Growth", "Size", "Growth", "Dead tuples", "Seq/day", "Idx/day")


def table_cells(row: TableDelta) -> tuple[str, ...]:
    dead = f"{fmt.thousands(row.dead_tuples_before)} → {fmt.thousands(row.dead_tuples_after)}"
    return (
        row.table,
        f"{row.rows_after:,}",
        signed(row.rows_growth),
        fmt.human_bytes(row.bytes_after),
        signed_bytes(row.bytes_growth),
        dead,
        per_day_text(row.seq_scans_per_day) + (" (reset)" if row.counters_reset else ""),
        per_day_text(row.idx_scans_per_day),
    )


def render_diff_text_file(diff: Diff, fail_on: str | None = None) -> str:
    console = Console(record=True, width=120, file=io.StringIO(), force_terminal=False)
    render_diff_text(diff, console, fail_on)
    return console.export_text()


# --- Markdown ------------------------------------------------------------------------


def render_diff_md(diff: Diff, fail_on: str | None = None) -> str:
    lines = [
        "# pgvitals diff",
        "",
        f"- {md_text(side_line('A', diff.before))}",
        f"- {md_text(side_line('B', diff.after))}",
        "",
        f"## {md_text(findings_line(diff))}",
        "",
    ]
    groups = [
        ("New", diff.findings.new),
        ("Changed severity", [c.after for c in diff.findings.changed]),
        ("Resolved", diff.findings.resolved),
        ("Not rechecked", diff.findings.not_rechecked),
    ]
    before = {c.after.fingerprint: c.before.severity for c in diff.findings.changed}
    for title, items in groups:
        if not items:
            continue
        shown, hidden = listed(items)
        lines += [f"### {title}", "", "| Severity | Rule | Object | Message |", "|---|---|---|---|"]
        for item in shown:
            was = f" (was {before[item.fingerprint]})" if item.fingerprint in before else ""
            lines.append(
                f"| {item.severity}{was} | {code(item.rule)} | {cell(code(item.object))} "
                f"| {cell(md_text(item.message))} |"
            )
        if hidden:
            lines.append(f"\n… and {hidden:,} more (see the JSON output).")
        lines.append("")
    lines += [f"## {md_text(drift_line(diff))}", ""]
    drift, hidden = listed(diff.drift or [])
    if drift:
        lines += ["| Change | Kind | Object | Detail |", "|---|---|---|---|"]
        for item in drift:
            lines.append(
                f"| {item.change} | {item.kind} | {cell(code(item.name))} "
                f"| {cell(md_text(drift_detail(item)))} |"
            )
        if hidden:
            lines.append(f"\n… and {hidden:,} more (see the JSON output).")
        lines.append("")
    delta = diff.statistics
    if delta is None:
        lines += ["## Statistics", "", md_text(statistics_line(diff)), ""]
    else:
        lines += [
            f"## Statistics over {delta.interval}",
            "",
            f"{fmt.short_time(delta.since)} → {fmt.short_time(delta.until)}: "
            f"{md_text(size_line(delta))}.",
            "",
        ]
        lines += [f"> Note: {md_text(note)}" + "\n" for note in delta.notes]
        if delta.tables:
            lines += ["| " + " | ".join(STAT_HEADINGS) + " |", "|---" * len(STAT_HEADINGS) + "|"]
            for row in delta.tables[:MAX_TABLES]:
                first, *rest = table_cells(row)
                lines.append(f"| {cell(code(first))} | " + " | ".join(rest) + " |")
            lines.append("")
        for usage in delta.indexes:
            lines.append(
                f"- index {code(usage.index)} {usage.change} being used "
                f"({usage.scans_in_interval:,} scans in the interval)"
            )
        lines.append("")
    lines += [f"**{md_text(result_line(diff, fail_on))}**", ""]
    return "\n".join(lines)


# --- HTML ----------------------------------------------------------------------------

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;width:100%}
th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}code{font-size:.9em}.muted{color:#666}.note{color:#8a5a00}
.critical{color:#fff;background:#b00020;padding:0 .3em}.high{color:#b00020;font-weight:bold}
.medium{color:#a66a00}.low{color:#00838f}.info{color:#666}
.added{color:#1b5e20}.removed{color:#b00020}.changed,.renamed{color:#0d47a1}
"""


def esc(value: object) -> str:
    return html.escape(visible(str(value)))


def html_table(headings: tuple[str, ...], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headings)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page(title: str, body: list[str]) -> str:
    """One self-contained HTML page: inline style, no scripts, nothing fetched."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def render_diff_html(diff: Diff, fail_on: str | None = None) -> str:
    before = {c.after.fingerprint: c.before.severity for c in diff.findings.changed}
    body = [
        "<h1>pgvitals diff</h1>",
        f'<p class="muted">{esc(side_line("A", diff.before))}<br>'
        f"{esc(side_line('B', diff.after))}</p>",
        f"<h2>{esc(findings_line(diff))}</h2>",
    ]
    groups = [
        ("New", diff.findings.new),
        ("Changed severity", [c.after for c in diff.findings.changed]),
        ("Resolved", diff.findings.resolved),
        ("Not rechecked", diff.findings.not_rechecked),
    ]
    for title, items in groups:
        if not items:
            continue
        rows = [
            [
                f'<span class="{f.severity}">{esc(f.severity)}</span>'
                + (f" (was {esc(before[f.fingerprint])})" if f.fingerprint in before else ""),
                f"<code>{esc(f.rule)}</code>",
                f"<code>{esc(f.object)}</code>",
                esc(f.message),
            ]
            for f in items
        ]
        body += [
            f"<h3>{esc(title)}</h3>",
            html_table(("Severity", "Rule", "Object", "Message"), rows),
        ]
    body.append(f"<h2>{esc(drift_line(diff))}</h2>")
    if diff.drift:
        rows = [
            [
                f'<span class="{d.change}">{esc(d.change)}</span>',
                esc(d.kind),
                f"<code>{esc(d.name)}</code>",
                esc(drift_detail(d)),
            ]
            for d in diff.drift
        ]
        body.append(html_table(("Change", "Kind", "Object", "Detail"), rows))
    delta = diff.statistics
    if delta is None:
        body.append(f"<h2>Statistics</h2><p>{esc(statistics_line(diff))}</p>")
    else:
        body.append(
            f"<h2>Statistics over {esc(delta.interval)}</h2><p>{esc(fmt.short_time(delta.since))}"
            f" → {esc(fmt.short_time(delta.until))}: {esc(size_line(delta))}</p>"
        )
        body += [f'<p class="note">Note: {esc(note)}</p>' for note in delta.notes]
        if delta.tables:
            rows = [[esc(value) for value in table_cells(row)] for row in delta.tables]
            body.append(html_table(STAT_HEADINGS, rows))
        if delta.indexes:
            items = "".join(
                f"<li><code>{esc(u.index)}</code> {esc(u.change)} being used "
                f"({u.scans_in_interval:,} scans in the interval)</li>"
                for u in delta.indexes
            )
            body.append(f"<ul>{items}</ul>")
    body.append(f"<p><strong>{esc(result_line(diff, fail_on))}</strong></p>")
    return page("pgvitals diff", body)


DIFF_RENDERERS: dict[str, Callable[[Diff, str | None], str]] = {
    "text": render_diff_text_file,
    "md": render_diff_md,
    "json": lambda diff, fail_on: render_diff_json(diff),
    "html": render_diff_html,
}
DIFF_SUFFIXES = {".txt": "text", ".md": "md", ".json": "json", ".html": "html", ".htm": "html"}
