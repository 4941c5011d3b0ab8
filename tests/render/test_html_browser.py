"""The demo's HTML report in a real headless Chromium: nothing goes wrong in the console,
nothing is fetched, the charts, the RLS matrix and the entity relationships are on the
page and visible, without JavaScript too; the severity filter works with CSS alone; and
the page prints."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.browser import Browser, Page, find_browser
from tests.conftest import DemoRun

BROWSER = find_browser()
pytestmark = pytest.mark.skipif(
    BROWSER is None,
    reason="no Chromium on this machine (apt-get install chromium; .ci/run installs it as root)",
)

# Visible: laid out with a size, not hidden by CSS, and not inside a folded <details>.
VISIBLE = """
(selector) => [...document.querySelectorAll(selector)].filter((element) => {
  const box = element.getBoundingClientRect();
  const style = getComputedStyle(element);
  return box.width > 0 && box.height > 0 && style.visibility !== 'hidden'
    && style.display !== 'none' && element.checkVisibility();
}).length
"""


@pytest.fixture(scope="module")
def report_file(demo_run: DemoRun) -> Path:
    return demo_run.folder / "report.html"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert BROWSER is not None
    with Browser(BROWSER) as running:
        yield running


def visible(page: Page, selector: str) -> int:
    return page.evaluate(f"({VISIBLE})({json.dumps(selector)})")


def test_the_report_opens_without_a_problem_and_fetches_nothing(
    browser: Browser, report_file: Path
) -> None:
    page = browser.open(report_file.as_uri())
    assert page.problems() == []
    # the page itself was the only thing loaded: no stylesheet, font, image or script
    assert page.evaluate("performance.getEntriesByType('resource').length") == 0
    assert page.evaluate("document.title").startswith("Database health assessment: pgvitals_demo")


def check_everything_is_shown(page: Page, report_file: Path) -> None:
    for chart in ("#severity-chart svg", "#area-chart svg", "#activity-chart svg"):
        assert visible(page, chart) == 1, chart
    assert visible(page, "#severity-chart svg rect") == 5  # a bar per severity
    assert visible(page, "table.rls-matrix") == 1
    assert visible(page, "table.rls-matrix tbody tr") >= 9  # the demo's RLS tables
    assert visible(page, "table.rls-matrix .denied") > 0
    assert visible(page, "svg.er-diagram") >= 2  # billing and practise_improve_pilot
    assert visible(page, "svg.er-diagram g.entity") >= 20
    assert visible(page, "svg.er-diagram path.relation") >= 20
    assert visible(page, "svg.er-diagram path.relation.inferred") >= 1
    # a group per rule with critical findings, as the report beside it counts them
    report = json.loads(report_file.with_suffix(".json").read_text())
    critical = {f["rule"] for f in report["findings"] if f["severity"] == "critical"}
    assert len(critical) >= 2
    assert visible(page, "section#critical details.group.sev-critical") == len(critical)
    ids = page.evaluate("[...document.querySelectorAll('[id]')].map(e => e.id)")
    assert len(ids) == len(set(ids)), "every id once: anchors must lead somewhere certain"
    assert visible(page, "nav.toc a[href='#critical']") == 1


def test_charts_matrix_and_relationships_are_present_and_visible(
    browser: Browser, report_file: Path
) -> None:
    check_everything_is_shown(browser.open(report_file.as_uri()), report_file)


def test_it_reads_the_same_without_javascript(browser: Browser, report_file: Path) -> None:
    page = browser.open("about:blank")
    page.command("Emulation.setScriptExecutionDisabled", value=True)
    page.goto(report_file.as_uri())
    assert page.evaluate("document.querySelectorAll('script').length") == 1  # not run
    check_everything_is_shown(page, report_file)


def test_the_severity_filter_works_with_css_alone(browser: Browser, report_file: Path) -> None:
    page = browser.open(report_file.as_uri())
    low = visible(page, ".filterable.sev-low")
    assert low > 0
    page.evaluate("document.querySelector('label[for=show-low]').click()")
    assert visible(page, ".filterable.sev-low") == 0
    report = json.loads(report_file.with_suffix(".json").read_text())
    critical = {f["rule"] for f in report["findings"] if f["severity"] == "critical"}
    # the others stay
    assert visible(page, "section#critical details.group.sev-critical") == len(critical)
    page.evaluate("document.querySelector('label[for=show-low]').click()")
    assert visible(page, ".filterable.sev-low") == low


def test_it_prints(browser: Browser, report_file: Path) -> None:
    page = browser.open(report_file.as_uri())
    page.command("Emulation.setEmulatedMedia", media="print")
    assert visible(page, "nav.toc") == 0  # no navigation on paper
    assert visible(page, "svg.er-diagram") >= 2
    pdf = base64.b64decode(page.command("Page.printToPDF", printBackground=True)["data"])
    assert pdf.startswith(b"%PDF") and len(pdf) > 50_000
    assert page.problems() == []


def test_the_checks_above_would_catch_a_fetch_a_script_and_a_hidden_chart(
    browser: Browser, report_file: Path, tmp_path: Path
) -> None:
    """The same checks on a spoilt copy: an image from the network and a script of
    its own (both refused by the page's Content-Security-Policy), and the charts hidden."""
    spoilt = tmp_path / "spoilt.html"
    spoilt.write_text(
        report_file.read_text().replace(
            "</main>",
            '<img src="https://example.com/pixel.png" alt="">'
            "<script>undefined_function()</script>"
            "<style>#severity-chart { display: none }</style></main>",
        )
    )
    page = browser.open(spoilt.as_uri())
    problems = "\n".join(page.problems())
    assert "Content Security Policy" in problems and "example.com" in problems
    assert "Executing inline script violates" in problems
    assert visible(page, "#severity-chart svg") == 0


# Elements of the page that overlap a neighbour or spill out of their box: the summary's
# two columns, and each table of the page within its own box (a wide table must scroll
# inside its box, not run under the column beside it).
OVERLAPS = """
(() => {
  const found = [];
  const grid = document.querySelector('.summary-grid');
  const [left, right] = [...grid.children].map((e) => e.getBoundingClientRect());
  const apart = left.right <= right.left + 1 || left.bottom <= right.top + 1;
  if (!apart) found.push(`the summary's columns overlap by ${left.right - right.left}px`);
  for (const cell of grid.children) {
    for (const element of cell.querySelectorAll('*')) {
      const box = element.getBoundingClientRect();
      const bounds = cell.getBoundingClientRect();
      if (box.width && box.right > bounds.right + 1) {
        const name = `${element.tagName.toLowerCase()}.${element.className}`;
        found.push(`${name} ends ${box.right - bounds.right}px past its column`);
        break;
      }
    }
  }
  return found;
})()
"""


@pytest.mark.parametrize("width", [1024, 1280, 1366, 1600])
def test_the_executive_summary_fits_its_columns(
    browser: Browser, report_file: Path, width: int
) -> None:
    """At a laptop's width the areas table ran under the severity chart and the list of
    what matters most beside it (long status words, area names kept on one line)."""
    page = browser.open(report_file.as_uri(), width=width)
    assert page.evaluate(OVERLAPS) == []


# Tables wider than the section that holds them (each scrolls sideways inside it then).
WIDE_TABLES = """
[...document.querySelectorAll('section.part table')].filter((table) => {
  const section = table.closest('section.part').getBoundingClientRect();
  const box = table.getBoundingClientRect();
  return box.width > 0 && box.right > section.right + 1;
}).map((table) => table.closest('section.part').id)
"""


@pytest.mark.parametrize("width", [1280, 1366, 1600])
def test_tables_fit_their_sections(browser: Browser, report_file: Path, width: int) -> None:
    """Long names and index definitions in cells (`practise_improve_pilot.…`) kept the
    findings', index-coverage and activity tables wider than the page at a laptop's
    width: their last columns were out of sight. (Below that, a findings table with many
    evidence columns may still scroll sideways: its headers do not break inside words.)"""
    page = browser.open(report_file.as_uri(), width=width)
    page.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })")
    assert page.evaluate(WIDE_TABLES) == []
