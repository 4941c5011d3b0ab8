"""The terminal summary: what was examined, the status per area, the worst findings,
and a one-line result. Every status and severity is a word as well as a colour, so
the output reads the same with NO_COLOR; below 100 columns tables become lists.
Names, messages and reasons pass through `visible`: no object name reaches the
terminal as an escape sequence."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pgvitals.engine import REVIEW, Analysis
from pgvitals.render import summary
from pgvitals.render.escape import visible
from pgvitals.rules import Finding

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
    summary.RED: "bold red",
    summary.AMBER: "bold yellow",
    summary.GREEN: "bold green",
    summary.NOT_CHECKED: "dim",
}


def render_text(analysis: Analysis, console: Console) -> None:
    inventory = summary.inventory(analysis)
    narrow = console.width < NARROW
    console.print(header(inventory, analysis))
    console.print()
    areas = summary.area_statuses(analysis)
    console.print(area_list(areas) if narrow else area_table(areas))
    console.print()
    if analysis.findings:
        shown = analysis.findings[:MAX_FINDINGS]
        console.print(finding_list(shown) if narrow else finding_table(shown))
        hidden = len(analysis.findings) - len(shown)
        if hidden:
            console.print(Text(f"... and {hidden:,} more — see the report", style="italic"))
        console.print()
    gaps = summary.check_gaps(analysis)
    if gaps:
        console.print(
            Text(
                f"{summary.plural(len(gaps), 'check')} skipped, failed or incomplete — "
                "see the report",
                style="yellow",
            )
        )
    console.print(result_line(inventory))


def header(inventory: summary.Inventory, analysis: Analysis) -> Text:
    line = Text()
    line.append("pgvitals ", style="bold")
    line.append(visible(inventory.database), style="bold cyan")
    line.append(
        f" · PostgreSQL {inventory.server_version}"
        f" · {summary.plural(inventory.schemas, 'schema')}"
        f" · {summary.plural(inventory.tables, 'table')}"
        f" · ~{inventory.rows_estimate:,} rows"
    )
    if analysis.mode == REVIEW:
        line.append("\noffline review: no live statistics", style="dim")
    else:
        window = summary.statistics_window(analysis.snapshot.server)
        line.append(f"\nstatistics: {window.text}", style="dim")
    return line


def status_text(status: str) -> Text:
    return Text(status.upper(), style=STATUS_STYLES[status])


def severity_text(severity: str) -> Text:
    return Text(severity.upper(), style=SEVERITY_STYLES[severity])


def area_table(areas: list[summary.AreaStatus]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("Area", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Why", overflow="fold")
    for area in areas:
        table.add_row(Text(area.title), status_text(area.status), Text(visible(area.reason)))
    return table


def area_list(areas: list[summary.AreaStatus]) -> Table:
    """Narrow terminals: the status word, then the area and its reason wrapped beside it."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for area in areas:
        grid.add_row(status_text(area.status), Text(f"{area.title}: {visible(area.reason)}"))
    return grid


def finding_table(findings: list[Finding]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("Severity", no_wrap=True)
    table.add_column("Rule", no_wrap=True)
    table.add_column("Object", overflow="fold", ratio=1)
    table.add_column("Message", overflow="fold", ratio=2)
    for item in findings:
        table.add_row(
            severity_text(item.severity),
            Text(visible(item.rule)),
            Text(visible(item.object)),
            Text(visible(item.message)),
        )
    return table


def finding_list(findings: list[Finding]) -> Table:
    """Narrow terminals: the severity word, then rule, object and message beneath each other."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for item in findings:
        detail = Text(f"{visible(item.rule)} {visible(item.object)}\n")
        detail.append(visible(item.message), style="dim")
        grid.add_row(severity_text(item.severity), detail)
    return grid


def result_line(inventory: summary.Inventory) -> Text:
    line = Text("Result: ", style="bold")
    if not inventory.findings:
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
