"""The HTML report without a browser: the Markdown report's sections, one file with
nothing to fetch, every name escaped, sizes never made up, and the grouping of
findings that share a cause. (test_html_browser.py opens it in Chromium.)"""

from __future__ import annotations

import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

from tests.conftest import DemoRun
from tests.helpers import pgvitals
from tests.render.test_md_text import make_finding, make_snapshot, make_table, section

from pgvitals import report as rp
from pgvitals.engine import analyse
from pgvitals.findings import Located
from pgvitals.render.html import render_html
from pgvitals.render.md import render_markdown
from pgvitals.render.view import group_findings, layout
from pgvitals.report import build_report
from pgvitals.snapshot import io

SECTION_IDS = [
    "summary", "schemas", "critical", "other", "coverage", "rls", "activity", "workload", "quality",
    "missing", "plan", "risks", "excused", "gaps", "appendix",
]  # fmt: skip


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text, of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> Elements:
    elements = Elements()
    elements.feed(page)
    return elements


def test_one_page_with_the_reports_sections_in_order() -> None:
    page = render_html(build_report(analyse(make_snapshot())))
    assert page.startswith('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">')
    elements = parse(page)
    sections = [a["id"] for tag, a in elements.tags if tag == "section"]
    assert sections == SECTION_IDS
    toc = [a["href"] for tag, a in elements.tags if tag == "a" and (a.get("href") or "")[:1] == "#"]
    assert all(f"#{name}" in toc for name in SECTION_IDS)
    # the charts are drawn inline, the filter is one checkbox per severity
    assert page.count('<svg class="chart"') >= 3
    assert [a["id"] for tag, a in elements.tags if tag == "input"] == [
        "show-critical", "show-high", "show-medium", "show-low", "show-info",
    ]  # fmt: skip
    assert '<details class="group filterable sev-high"' in page


def test_nothing_is_fetched_from_anywhere() -> None:
    page = render_html(build_report(analyse(make_snapshot())))
    elements = parse(page)
    for tag, attributes in elements.tags:
        for name in ("src", "href", "action", "data", "poster"):
            value = attributes.get(name) or ""
            assert not re.match(r"(?i)\s*(https?:|//|ftp:)", value), (tag, name, value)
        assert tag not in ("link", "iframe", "object", "embed", "img", "base")
    policy = next(a for t, a in elements.tags if a.get("http-equiv") == "Content-Security-Policy")
    assert policy["content"].startswith("default-src 'none';")
    assert "url(" not in page.split("</style>")[0]  # no font, image or import in the CSS
    scripts = [a for t, a in elements.tags if t == "script"]
    assert scripts == [{}]  # one inline script (printing), allowed by its hash only


def test_every_name_is_escaped_and_its_control_characters_shown() -> None:
    snap = make_snapshot()
    hostile = make_table(20, "public", '<img src=x onerror=alert(1)>\x1b[2J"&')
    result = analyse(replace(snap, tables=[*snap.tables, hostile]))
    page = render_html(build_report(result))
    assert "<img" not in page and "\x1b" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;\\x1b[2J&#34;&amp;" in page
    assert "Mixed Case.Weird&#34;Name" in page  # names with quotes, spaces and accents
    assert "ñame" in page
    assert "which have the exact names" in page  # the SQL shown is not the SQL to run
    assert "which have the exact names" not in render_html(build_report(analyse(snap)))


def test_unknown_sizes_are_not_printed_as_zero() -> None:
    snap = make_snapshot()
    unsized = [t._replace(table_bytes=None, pages=None) for t in snap.tables]
    all_unknown = build_report(analyse(replace(snap, tables=unsized)))
    for text in (
        section(render_markdown(all_unknown), "Index coverage"),
        render_html(all_unknown).split('id="coverage"')[1].split("</section>")[0],
    ):
        assert "Sizes are not known for any table" in text
        assert "Indexes take" not in text and "of table data" not in text
    some_unknown = [*snap.tables[:2], *unsized[2:]]
    report = build_report(analyse(replace(snap, tables=some_unknown)))
    totals = rp.coverage_totals(report.coverage)
    assert (totals.sized_tables, totals.unsized_tables) == (2, 2)
    assert totals.table_bytes == 98_304 + 3 * 1024 * 1024  # the two known ones only
    text = section(render_markdown(report), "Index coverage")
    assert "over the 2 tables whose sizes are known; 2 tables never vacuumed" in text


def test_findings_on_partitions_share_a_row_and_every_object_stays_listed() -> None:
    report = build_report(analyse(make_snapshot()))
    partitions = {f"public.t{n}": "public.events" for n in range(6)}
    findings = [make_finding(n) for n in range(8)]  # t6 and t7 are no partitions
    findings = [
        replace(f, evidence={"rows": 10 * n, "replica_identity": "default"})
        for n, f in enumerate(findings)
    ]
    grouped = replace(report, findings=findings, partitions=partitions)
    (group,) = group_findings(grouped)
    assert [row.label for row in group.rows] == [
        "public.events (6 partitions)", "public.t6", "public.t7",
    ]  # fmt: skip
    assert group.rows[0].partition_objects == tuple(f"public.t{n}" for n in range(6))
    assert group.columns == ("rows",)  # what differs; the rest is said once
    assert group.common == (("replica_identity", "default"),)
    assert group.rows[0].cell("rows") == "0 to 50"
    markdown = render_markdown(grouped)
    for n in range(8):
        assert f"public.t{n}" in markdown
    assert "In every case: replica identity default." in markdown
    page = render_html(grouped)
    assert "public.events (6 partitions)" in page and "public.t5" in page


def test_groups_lead_with_the_worst_and_most_widespread() -> None:
    report = build_report(analyse(make_snapshot()))
    view = layout(report)
    order = [(g.severity.rank, -g.count) for g in view.groups]
    assert order == sorted(order)
    assert view.top and all(g.severity.value in ("critical", "high", "medium") for g in view.top)
    assert view.top[0] == view.groups[0]


def test_a_5000_table_report_stays_readable() -> None:
    """Every finding is listed (folded away in long groups); the per-table sections show
    the largest tables and count the rest."""
    snap = make_snapshot()
    tables = [
        make_table(1_000 + n, "public", f"t{n}", table_bytes=8192 * n, rows_estimate=float(n))
        for n in range(5_000)
    ]
    result = analyse(replace(snap, tables=[*snap.tables, *tables]))
    report = build_report(result)
    missing_pk = [f for f in report.findings if f.rule == "missing-primary-key"]
    assert len(missing_pk) > 5_000
    markdown = render_markdown(report)
    coverage = section(markdown, "Index coverage")
    assert "The 50 largest of 5,004 tables" in coverage
    assert "| … 4,954 more tables |" in coverage
    assert coverage.count("\n| `") == 50
    critical = section(markdown, "Critical flaws")
    # an empty table never written is low (missing-primary-key): the high ones are flaws
    high = [f for f in missing_pk if f.severity == "high"]
    assert len(high) >= 5_000
    assert f"<details><summary>All {len(high):,} objects</summary>" in critical
    assert all(f"`{f.object}`" in critical for f in high)
    assert len(markdown) < 6_000_000
    page = render_html(report)
    assert page.count("<tr><td><code>public.t") >= 5_000  # every table, in a scroll box
    assert all(f.object in page for f in missing_pk[:50])


def test_pgvitals_writes_and_replaces_its_own_html(tmp_path: Path) -> None:
    snapshot_file = tmp_path / "snap.json"
    snapshot_file.write_text(io.to_json(make_snapshot()), encoding="utf-8")
    for _ in range(2):
        run = pgvitals("check", "--snapshot", str(snapshot_file), "-o", str(tmp_path / "r.html"))
        assert run.exit_code == 0, run.stderr
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    (tmp_path / "mine.html").write_text("<!DOCTYPE html><p>my page</p>")
    run = pgvitals("check", "--snapshot", str(snapshot_file), "-o", str(tmp_path / "mine.html"))
    assert run.exit_code == 2 and "was not written by pgvitals" in run.stderr


def test_markdown_and_html_say_the_same_about_a_located_finding() -> None:
    report = build_report(analyse(make_snapshot()))
    first = report.findings[0]
    placed = replace(
        first, where=Located(first.where.kind, first.where.path, first.object, None, "V1.sql", 7)
    )
    report = replace(report, findings=[placed, *report.findings[1:]])
    assert "(`V1.sql:7`)" in render_markdown(report)
    assert " (V1.sql:7)" in render_html(report)


def test_html_says_as_the_markdown_does_when_its_own_reads_are_counted() -> None:
    """pgvitals' own row reads add to the scan counters when this role may not switch
    counting off (snapshot/uncounted.py): the HTML report says so, with the GRANT, and
    says when the history left earlier runs' reads out (history/own.py)."""
    snapshot = make_snapshot()
    snapshot = replace(snapshot, server=replace(snapshot.server, current_user="app"))
    counted = replace(snapshot, collection=replace(snapshot.collection, own_reads_counted=True))
    page = parse(render_html(build_report(analyse(counted))))
    text = " ".join("".join(page.text).split())
    assert "pgvitals' own row reads (row counts, orphan counts, key ranges) add to the" in text
    assert 'GRANT SET ON PARAMETER track_counts, pg_stat_statements.track TO "app" lets it' in text
    left_out = replace(snapshot, collection=replace(snapshot.collection, own_reads_left_out=3))
    page = parse(render_html(build_report(analyse(left_out))))
    text = " ".join("".join(page.text).split())
    assert "pgvitals' own row reads by the 3 earlier runs the history keeps are left out" in text
    quiet = parse(render_html(build_report(analyse(snapshot))))
    assert "own row reads" not in "".join(quiet.text)


class Prose(HTMLParser):
    """The page's text outside <code>, <pre>, <style> and <script>: what reads as prose."""

    LITERAL = frozenset({"code", "pre", "style", "script"})

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.depth += tag in self.LITERAL

    def handle_endtag(self, tag: str) -> None:
        self.depth -= tag in self.LITERAL

    def handle_data(self, data: str) -> None:
        if not self.depth:
            self.text.append(data)


def test_no_markdown_backticks_show_in_the_page(demo_run: DemoRun) -> None:
    """Rule summaries and the missing elements' assessments are written with `code`
    spans for Markdown; the page showed their backticks as they were."""
    page = (demo_run.folder / "report.html").read_text()
    prose = Prose()
    prose.feed(page)
    leaked = [text.strip() for text in prose.text if "`" in text]
    assert leaked == []
    assert "<code>missing-primary-key</code>" in page  # the spans became code
