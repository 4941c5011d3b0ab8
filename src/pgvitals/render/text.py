"""The terminal summary: what was examined, the status per area, the worst findings,
and a one-line result. Every status and severity is a word as well as a colour, so
the output reads the same with NO_COLOR; below 100 columns tables become lists.
Names, messages and reasons pass through `visible`: no object name reaches the
terminal as an escape sequence."""

from __future__ import annotations

import io

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pgvitals import fmt
from pgvitals import report as rp
from pgvitals.findings import Finding
from pgvitals.render import renderer
from pgvitals.render.escape import visible
from pgvitals.report import Report

MAX_FINDINGS = 25
NARROW = 100  # columns below which findings and areas are printed as lists

SEVERITY_STYLES = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}
STATUS_STYLES = {
    rp.RED: "bold red",
    rp.AMBER: "bold yellow",
    rp.GREEN: "bold green",
    rp.NOT_CHECKED: "dim",
    rp.NOT_ENOUGH_HISTORY: "dim yellow",
}


@renderer("text", ".txt")
def render_text_file(report: Report) -> str:
    console = Console(record=True, width=120, file=io.StringIO(), force_terminal=False)
    render_text(report, console)
    return console.export_text()


def render_text(report: Report, console: Console) -> None:
    inventory = report.inventory
    narrow = console.width < NARROW
    console.print(header(report))
    console.print()
    console.print(area_list(report.areas) if narrow else area_table(report.areas))
    console.print()
    if report.findings:
        # with a baseline the new findings come first: they are the ones that count
        counted = report.counted_findings()
        known = frozenset(f.fingerprint for f in report.findings) - {f.fingerprint for f in counted}
        ordered = [*counted, *(f for f in report.findings if f.fingerprint in known)]
        shown = ordered[:MAX_FINDINGS]
        console.print(finding_list(shown, known) if narrow else finding_table(shown, known))
        hidden = len(report.findings) - len(shown)
        if hidden:
            console.print(Text(f"... and {hidden:,} more — see the report", style="italic"))
        console.print()
    if report.baseline is not None and report.baseline.base:
        resolved = report.baseline.resolved
        line = Text(f"Compared with {visible(report.baseline.source)}: ", style="bold")
        line.append(f"{fmt.plural(len(report.findings), 'finding')} introduced, ")
        line.append(f"{len(resolved):,} resolved", style="green" if resolved else "")
        for item in resolved[:MAX_FINDINGS]:
            line.append(f"\n  resolved: {visible(item.rule)} {visible(item.object)}", style="dim")
        console.print(line)
        console.print()
    if report.gaps:
        console.print(
            Text(
                f"{fmt.plural(len(report.gaps), 'check')} skipped, failed or incomplete — "
                "see the report",
                style="yellow",
            )
        )
    if report.baseline and not report.baseline.base:
        console.print(
            Text(
                visible(
                    f"Baseline: {report.baseline.summary(report.findings)}"
                    f" (compared with {report.baseline.source})"
                ),
                style="bold",
            )
        )
    for item in report.not_assessed:
        console.print(Text(f"not assessed: {visible(item.to_text())}", style="dim"))
    if report.verification is not None:
        style = "green" if report.verification.passed else "bold red"
        line = Text("Fix verification: ", style="bold")
        line.append(visible(report.verification.summary()), style=style)
        console.print(line)
    not_checked = report.not_checked_summary()
    if not_checked:
        console.print(Text(visible(not_checked), style="bold yellow"))
    console.print(result_line(inventory, bool(not_checked)))


def header(report: Report) -> Text:
    inventory = report.inventory
    line = Text()
    line.append("pgvitals ", style="bold")
    line.append(visible(inventory.database), style="bold cyan")
    line.append(
        f" · PostgreSQL {inventory.server_version}"
        f" · {fmt.plural(inventory.schemas, 'schema')}"
        f" · {fmt.plural(inventory.tables, 'table')}"
        f" · ~{inventory.rows_estimate:,} rows"
    )
    if report.window is None:
        line.append("\noffline review: no live statistics", style="dim")
    else:
        line.append(f"\nstatistics: {report.window.text}", style="dim")
    return line


def status_text(status: str) -> Text:
    return Text(status.upper(), style=STATUS_STYLES[status])


def severity_text(severity: str) -> Text:
    return Text(severity.upper(), style=SEVERITY_STYLES[severity])


def area_table(areas: list[rp.AreaStatus]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("Area", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Why", overflow="fold")
    for area in areas:
        table.add_row(Text(area.title), status_text(area.status), Text(visible(area.reason)))
    return table


def area_list(areas: list[rp.AreaStatus]) -> Table:
    """Narrow terminals: the status word, then the area and its reason wrapped beside it."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for area in areas:
        grid.add_row(status_text(area.status), Text(f"{area.title}: {visible(area.reason)}"))
    return grid


def severity_cell(item: Finding, known: frozenset[str]) -> Text:
    cell = severity_text(item.severity)
    if item.fingerprint in known:
        cell.append(" known", style="dim")
    return cell


def finding_table(findings: list[Finding], known: frozenset[str] = frozenset()) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("Severity", no_wrap=True)
    table.add_column("Rule", no_wrap=True)
    table.add_column("Object", overflow="fold", ratio=1)
    table.add_column("Message", overflow="fold", ratio=2)
    for item in findings:
        table.add_row(
            severity_cell(item, known),
            Text(visible(item.rule)),
            place(item),
            Text(visible(item.message)),
        )
    return table


def place(item: Finding) -> Text:
    """The object, and beneath it where a reviewed file defines it."""
    text = Text(visible(item.object))
    where = item.where.place
    if where and where != item.object:
        text.append(f"\n{visible(where)}", style="dim")
    return text


def finding_list(findings: list[Finding], known: frozenset[str] = frozenset()) -> Table:
    """Narrow terminals: the severity word, then rule, object and message beneath each other."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for item in findings:
        detail = Text(f"{visible(item.rule)} ")
        detail.append(place(item))
        detail.append("\n")
        detail.append(visible(item.message), style="dim")
        grid.add_row(severity_cell(item, known), detail)
    return grid


def result_line(inventory: rp.Inventory, partial: bool = False) -> Text:
    """`partial`: part of the input was not checked, so "no findings" is not a pass."""
    line = Text("Result: ", style="bold")
    if not inventory.findings and partial:
        line.append("no findings in what was checked", style="bold yellow")
    elif not inventory.findings:
        line.append("no findings", style="bold green")
    else:
        parts = [(s, n) for s, n in inventory.findings_by_severity.items() if n]
        for position, (severity, count) in enumerate(parts):
            if position:
                line.append(", ")
            line.append(f"{count:,} {severity}", style=SEVERITY_STYLES[severity])
    if inventory.excused:
        line.append(f" ({inventory.excused:,} excused)")
    return line
