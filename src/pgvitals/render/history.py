"""A target's history (history/trends.py) in the terminal, as JSON, and as one
self-contained HTML page with inline SVG line charts. Names pass through `visible` and
HTML escaping, as in every other renderer."""

from __future__ import annotations

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
from pgvitals.findings import SEVERITIES
from pgvitals.history.store import TargetInfo
from pgvitals.history.trends import Series, Trends
from pgvitals.render.diff import esc, html_table, page
from pgvitals.render.escape import visible

SPARKS = "▁▂▃▄▅▆▇█"
SEVERITY_COLOURS = {
    "critical": "#7b0015",
    "high": "#d32f2f",
    "medium": "#f9a825",
    "low": "#0097a7",
    "info": "#9e9e9e",
}
PALETTE = ("#1565c0", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#ad1457")
CHART_WIDTH, CHART_HEIGHT, MARGIN = 720, 200, 44
LEGEND_STEP, LEGEND_CHARACTERS = 130, 20


def sparkline(values: Series) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return ""
    low, high = min(known), max(known)
    spread = high - low
    return "".join(
        " " if v is None else SPARKS[0 if spread == 0 else round((v - low) / spread * 7)]
        for v in values
    )


def first_to_last(values: Series, show: Callable[[float | None], str]) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return "—"
    return show(known[0]) if len(known) == 1 else f"{show(known[0])} → {show(known[-1])}"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def size(value: float | None) -> str:
    return fmt.human_bytes(None if value is None else int(value))


def trend_rows(trends: Trends) -> list[tuple[str, Series, Callable[[float | None], str]]]:
    by_severity = trends.findings_by_severity()
    return [
        ("findings", trends.values("findings"), fmt.thousands),
        *((f"  {s}", by_severity[s], fmt.thousands) for s in SEVERITIES),
        ("database size", trends.values("database_bytes"), size),
        ("rows", trends.values("rows"), fmt.thousands),
        ("dead tuples", trends.values("dead_tuples"), fmt.thousands),
        ("unused indexes", trends.values("unused_indexes"), fmt.thousands),
        ("index scan share", trends.index_scan_share(), percent),
    ]


def header(trends: Trends) -> str:
    runs = fmt.plural(len(trends.runs), "run")
    return f"pgvitals history · database {trends.target.database} · {runs}"


def where(trends: Trends) -> str:
    return f"target {trends.target.key}, kept in {trends.location}"


# --- text ----------------------------------------------------------------------------

RUN_HEADINGS = (
    "Run", "Taken (UTC)", "c/h/m/l/i", "Size", "Rows", "Dead tuples", "Unused idx", "Idx share"
)  # fmt: skip


def render_history_text(trends: Trends, console: Console) -> None:
    console.print(Text(visible(header(trends)), style="bold"))
    console.print(Text(visible(where(trends)), style="dim"))
    console.print()
    runs = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for heading in RUN_HEADINGS:
        left = heading in ("Run", "Taken (UTC)", "c/h/m/l/i")
        runs.add_column(heading, justify="left" if left else "right", no_wrap=True)
    shares = trends.index_scan_share()
    for run, share in zip(trends.runs, shares, strict=True):
        summary = run.summary
        counts = "/".join(str(summary["findings_by_severity"].get(s, 0)) for s in SEVERITIES)
        runs.add_row(
            f"#{run.id}",
            fmt.short_time(run.collected_at).removesuffix(" UTC"),
            counts,
            size(summary.get("database_bytes")),
            fmt.thousands(summary.get("rows")),
            fmt.thousands(summary.get("dead_tuples")),
            fmt.thousands(summary.get("unused_indexes")),
            percent(share),
        )
    console.print(runs)
    console.print(Text("Trends, first → latest run", style="bold"))
    grid = Table.grid(padding=(0, 2))
    for _ in range(3):
        grid.add_column()
    for name, values, show in trend_rows(trends):
        grid.add_row(name, first_to_last(values, show), sparkline(values))
    console.print(grid)
    tables = trends.top_tables()
    if tables:
        console.print()
        console.print(Text("Largest tables (of the latest run)", style="bold"))
        grid = Table.grid(padding=(0, 2))
        for _ in range(3):
            grid.add_column()
        for table, values in tables.items():
            grid.add_row(Text(visible(table)), first_to_last(values, size), sparkline(values))
        console.print(grid)


def render_history_text_file(trends: Trends) -> str:
    console = Console(record=True, width=120, file=io.StringIO(), force_terminal=False)
    render_history_text(trends, console)
    return console.export_text()


def render_targets_text(targets: list[TargetInfo], location: str, console: Console) -> None:
    """Several targets in one store: which there are (`pgvitals history TARGET` picks one)."""
    console.print(
        Text(visible(f"pgvitals history · {len(targets)} targets in {location}"), style="bold")
    )
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for heading in ("Target", "Database", "Runs", "First", "Latest", "Reached as"):
        table.add_column(heading, overflow="fold")
    for target in targets:
        table.add_row(
            Text(visible(target.key)),
            Text(visible(target.database)),
            f"{target.runs:,}",
            fmt.short_time(target.first),
            fmt.short_time(target.latest),
            Text(visible(target.label)),
        )
    console.print(table)


def history_schema() -> dict[str, Any]:
    return json.loads(
        resources.files("pgvitals.render").joinpath("history.schema.json").read_text()
    )


def render_history_json(trends: Trends) -> str:
    return json.dumps(trends.to_json(), indent=2, ensure_ascii=False) + "\n"


# --- HTML ----------------------------------------------------------------------------


def line_chart(
    title: str,
    series: dict[str, Series],
    times: list[str],
    show: Callable[[float | None], str],
    colours: dict[str, str] | None = None,
) -> str:
    """An inline SVG line chart: one line per series over the runs' times (x to scale),
    from zero to the largest value; a gap where a value is unknown."""
    moments = [fmt.parse_timestamp(t).timestamp() for t in times]
    start, end = (moments[0], moments[-1]) if moments else (0.0, 0.0)
    known = [v for values in series.values() for v in values if v is not None]
    top = max(known, default=0) or 1
    width, height = CHART_WIDTH - 2 * MARGIN, CHART_HEIGHT - 2 * MARGIN

    def x(moment: float) -> float:
        return MARGIN + (width / 2 if end == start else (moment - start) / (end - start) * width)

    def y(value: float) -> float:
        return MARGIN + height - value / top * height

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" height="{CHART_HEIGHT}"'
        f' role="img" aria-label="{esc(title)}">',
        f'<text x="{MARGIN}" y="16" font-weight="bold">{esc(title)}</text>',
        f'<line x1="{MARGIN}" y1="{MARGIN + height}" x2="{MARGIN + width}" y2="{MARGIN + height}"'
        ' stroke="#999"/>',
        f'<text x="4" y="{MARGIN + 4}" font-size="11">{esc(show(top))}</text>',
        f'<text x="4" y="{MARGIN + height}" font-size="11">{esc(show(0))}</text>',
    ]
    if times:
        parts.append(
            f'<text x="{MARGIN}" y="{CHART_HEIGHT - 8}" font-size="11">'
            f"{esc(fmt.short_time(times[0]))}</text>"
        )
        parts.append(
            f'<text x="{MARGIN + width}" y="{CHART_HEIGHT - 8}" font-size="11" '
            f'text-anchor="end">{esc(fmt.short_time(times[-1]))}</text>'
        )
    for number, (name, values) in enumerate(series.items()):
        colour = (colours or {}).get(name, PALETTE[number % len(PALETTE)])
        segment: list[str] = []
        for moment, value in zip(moments, values, strict=True):
            if value is None:
                parts.append(polyline(segment, colour))
                segment = []
                continue
            point = f"{x(moment):.1f},{y(value):.1f}"
            segment.append(point)
            parts.append(
                f'<circle cx="{x(moment):.1f}" cy="{y(value):.1f}" r="3" fill="{colour}">'
                f"<title>{esc(name)}: {esc(show(value))}</title></circle>"
            )
        parts.append(polyline(segment, colour))
        parts.append(  # the legend: one row under the title
            f'<text x="{MARGIN + LEGEND_STEP * number}" y="32" font-size="11" fill="{colour}">'
            f"{esc(name[:LEGEND_CHARACTERS])}</text>"
        )
    parts.append("</svg>")
    return "".join(part for part in parts if part)


def polyline(points: list[str], colour: str) -> str:
    if len(points) < 2:
        return ""
    return f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" stroke-width="2"/>'


def render_history_html(trends: Trends) -> str:
    times = [run.collected_at for run in trends.runs]
    rows = [
        [esc(name), esc(first_to_last(values, show))] for name, values, show in trend_rows(trends)
    ]
    runs = [
        [
            f"#{run.id}",
            esc(fmt.short_time(run.collected_at)),
            esc(run.label),
            esc(" / ".join(str(run.summary["findings_by_severity"].get(s, 0)) for s in SEVERITIES)),
        ]
        for run in trends.runs
    ]
    body = [
        "<h1>pgvitals history</h1>",
        f'<p class="muted">{esc(header(trends))}<br>{esc(where(trends))}</p>',
        line_chart("Findings by severity", trends.findings_by_severity(), times, fmt.thousands,
                   SEVERITY_COLOURS),
        line_chart("Database size", {"size": trends.values("database_bytes")}, times, size),
        line_chart("Largest tables", trends.top_tables(), times, size),
        line_chart("Dead tuples", {"dead tuples": trends.values("dead_tuples")}, times,
                   fmt.thousands),
        line_chart("Index usage: share of scans using an index since the previous run",
                   {"index scan share": trends.index_scan_share()}, times, percent),
        line_chart("Unused indexes", {"unused indexes": trends.values("unused_indexes")}, times,
                   fmt.thousands),
        "<h2>First → latest run</h2>",
        html_table(("Measure", "First → latest"), rows),
        "<h2>Runs</h2>",
        html_table(("Run", "Taken", "Reached as", "Findings (c / h / m / l / i)"), runs),
    ]  # fmt: skip
    return page("pgvitals history", body)


HISTORY_RENDERERS: dict[str, Callable[[Trends], str]] = {
    "text": render_history_text_file,
    "json": render_history_json,
    "html": render_history_html,
}
HISTORY_SUFFIXES = {".txt": "text", ".json": "json", ".html": "html", ".htm": "html"}
