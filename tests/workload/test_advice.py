"""The workload end to end, on a server that records it (pg_stat_statements) and
measures hypothetical indexes (hypopg): an application's N+1 loop and its missing
indexes are found, the advised index really lowers the cost, a well-indexed workload
gets no advice, and the demo shows its query patterns."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pgvitals.embedded import has_extension, system_bin_dirs
from tests.conftest import Database
from tests.helpers import pgvitals, valid_report

SHOP = """
CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL, region text NOT NULL);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers,
                     placed_at timestamptz NOT NULL, total numeric NOT NULL);
INSERT INTO customers SELECT g, 'c' || g || '@example.org', 'r' || g % 20
  FROM generate_series(1, 20000) g;
INSERT INTO orders SELECT g, 1 + g % 20000, now() - g * interval '1 minute', g % 500
  FROM generate_series(1, 30000) g;
ANALYZE customers, orders;
"""
INDEXES = """
CREATE INDEX ON orders (customer_id);
CREATE INDEX ON customers (email);
CREATE INDEX ON customers (region);
ANALYZE customers, orders;
"""
N_PLUS_ONE = "SELECT id, total FROM orders WHERE customer_id = $1"
BY_EMAIL = "SELECT id FROM customers WHERE email = $1"


def run_shop(dsn: str) -> None:
    """What the application does, with bound parameters as a driver sends them: list one
    region's customers, then fetch each one's orders in a loop (1,000 calls), and look
    customers up by e-mail."""
    with psycopg.connect(dsn, autocommit=True) as app:
        customers = app.execute("SELECT id FROM customers WHERE region = %s", ["r7"]).fetchall()
        assert len(customers) == 1000
        for (customer,) in customers:
            app.execute("SELECT id, total FROM orders WHERE customer_id = %s", [customer])
        for number in range(1, 101):
            app.execute("SELECT id FROM customers WHERE email = %s", [f"c{number}@example.org"])


def check(database: Database, tmp_path: Path, name: str) -> tuple[dict[str, Any], str]:
    json_path, md_path = tmp_path / f"{name}.json", tmp_path / f"{name}.md"
    run = pgvitals("check", database.dsn, "-o", str(json_path), "-o", str(md_path))
    assert run.exit_code == 0, run.stderr
    report = valid_report(json.loads(json_path.read_text()))
    return report, md_path.read_text()


def findings(report: dict[str, Any], rule: str) -> dict[str, dict[str, Any]]:
    return {f["object"]: f for f in report["findings"] if f["rule"] == rule}


def pattern(report: dict[str, Any], statement: str) -> dict[str, Any]:
    rows = report["sections"]["query_patterns"]["patterns"]
    return next(row for row in rows if row["statement"] == statement)


def test_the_n_plus_one_loop_and_the_missing_indexes_are_found_and_the_advice_holds(
    advice_database: Database, tmp_path: Path
) -> None:
    advice_database.execute(SHOP)
    run_shop(advice_database.dsn)
    report, markdown = check(advice_database, tmp_path, "before")

    loop = findings(report, "n-plus-one-suspect")[N_PLUS_ONE]
    assert loop["severity"] == "medium"  # its driving query returned a row per call
    assert loop["evidence"]["calls"] == 1000
    assert loop["evidence"]["table"] == "public.orders"
    assert loop["evidence"]["key_columns"] == ["customer_id"]
    assert loop["evidence"]["key_kind"] == "foreign key"
    assert loop["evidence"]["driving_statement"] == "SELECT id FROM customers WHERE region = $1"

    advice = findings(report, "missing-index-for-query")
    assert set(advice) == {"public.orders (customer_id)", "public.customers (email)"}
    by_customer = advice["public.orders (customer_id)"]
    evidence = by_customer["evidence"]
    assert evidence["measured"] is True
    assert evidence["cost_after"] < evidence["cost_before"] / 10
    assert evidence["estimated_bytes"] > 0
    assert [s["statement"] for s in evidence["statements"]] == [N_PLUS_ONE]
    assert by_customer["severity"] == "high"  # the loop takes most of the time
    assert by_customer["fix"] == (
        'CREATE INDEX CONCURRENTLY "orders_customer_id_idx" ON "public"."orders" ("customer_id");'
    )

    workload = markdown.split("## Query workload", 1)[1].split("\n## ", 1)[0]
    row = next(line for line in workload.splitlines() if f"`{N_PLUS_ONE}`" in line)
    assert "seq scan public.orders" in row and "N+1 suspect" in row
    before, after = evidence["cost_before"], evidence["cost_after"]
    assert f"index on public.orders (customer_id): cost {before:,.1f} → {after:,.1f}" in row

    # the advice, carried out for real: the fix script's statements, then ANALYZE
    with advice_database.admin() as admin:
        for item in advice.values():
            admin.execute(item["fix"])
        admin.execute("ANALYZE customers, orders")
    report_after, _ = check(advice_database, tmp_path, "after")
    assert findings(report_after, "missing-index-for-query") == {}
    planned = pattern(report_after, N_PLUS_ONE)
    assert "index orders_customer_id_idx" in planned["access"]
    # the real index's cost is what the hypothetical one predicted, far below the scan's
    assert planned["plan_cost"] < before / 10
    assert planned["plan_cost"] == pytest.approx(after, rel=0.5)
    print(f"\n{N_PLUS_ONE}: cost {before} with a sequential scan; hypothetical index"
          f" {after}; real index {planned['plan_cost']}")  # fmt: skip


def test_a_well_indexed_workload_gets_no_index_advice(
    advice_database: Database, tmp_path: Path
) -> None:
    advice_database.execute(SHOP + INDEXES)
    run_shop(advice_database.dsn)
    report, markdown = check(advice_database, tmp_path, "indexed")
    assert findings(report, "missing-index-for-query") == {}
    assert (
        next(c for c in report["checks"] if c["rule"] == "missing-index-for-query")["status"]
        == "ran"
    )
    plans = report["sections"]["query_patterns"]["patterns"]
    assert {p["statement"] for p in plans} >= {N_PLUS_ONE, BY_EMAIL}
    assert all("index on" not in p["advice"] for p in plans)
    assert "seq scan" not in pattern(report, N_PLUS_ONE)["access"]
    # the loop is still a loop: an index makes each call cheap, not the round trips
    assert N_PLUS_ONE in findings(report, "n-plus-one-suspect")
    assert "## Query workload" in markdown


def system_with_statements() -> Path | None:
    return next(
        (path for path in system_bin_dirs() if has_extension(path, "pg_stat_statements")), None
    )


@pytest.mark.skipif(
    system_with_statements() is None, reason="no system PostgreSQL with pg_stat_statements"
)
def test_the_demo_shows_its_query_patterns_where_the_server_records_them() -> None:
    from pgvitals.demo.run import run_demo
    from pgvitals.render.md import render_markdown
    from pgvitals.report import build_report

    analysis, where = run_demo(lambda step: None, system_with_statements())
    report = build_report(analysis, where)
    patterns = report.query_patterns
    assert patterns is not None and patterns.status == "ran"
    statements = {p.statement: p for p in patterns.patterns}
    roster = statements["SELECT s.display_name FROM students AS s WHERE s.class_group_id = v_class"]
    assert roster.calls == 300 and "seq scan practise_improve_pilot.students" in roster.access
    markdown = render_markdown(report)
    section = markdown.split("## Query workload", 1)[1].split("\n## ", 1)[0]
    assert "| Statement | Calls | Mean | Total |" in section
    assert re.search(r"\| `SELECT s\.display_name FROM students AS s WHERE .*\| 300 \|", section)
    if has_extension(system_with_statements(), "hypopg"):
        assert "index on practise_improve_pilot.students (class_group_id)" in section
    # the HTML report shows the same table
    from pgvitals.render.html import render_html

    page = render_html(report)
    workload = page.split('<section class="part" id="workload">', 1)[1].split("</section>")[0]
    assert '<table class="workload">' in workload
    assert 's.class_group_id = v_class</code></td><td class="num">300</td>' in workload
    assert all(c.status == "ran" for c in analysis.checks), [
        (c.rule, c.reason) for c in analysis.checks if c.status != "ran"
    ]
