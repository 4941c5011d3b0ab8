"""The Markdown report and the terminal summary, from a small hand-made Snapshot
(no database): every section is there, names that need quoting survive intact, and
the fix script puts non-blocking statements before drops."""

from __future__ import annotations

import re
from dataclasses import replace
from functools import cached_property
from typing import Any

import pytest
from rich.console import Console

from pgvitals import fmt
from pgvitals import report as rp
from pgvitals.engine import Analysis, Check, analyse
from pgvitals.findings import Finding, Fix, Located, Risk, fingerprint
from pgvitals.render.json import render_json
from pgvitals.render.md import code, er_diagram, md_text, mermaid_name, render_markdown
from pgvitals.render.text import render_text
from pgvitals.report import build_report
from pgvitals.rules import REGISTRY
from pgvitals.rules._api import INTEGRITY
from pgvitals.snapshot.facts import RULE_LOOKUPS, Facts
from pgvitals.snapshot.model import (
    CollectionInfo,
    Column,
    Constraint,
    Index,
    Schema,
    ServerInfo,
    Snapshot,
    StatementSource,
    Table,
)
from pgvitals.snapshot.probes import DEFAULT_PROBES
from pgvitals.suppress import Excused

COLLECTED_AT = "2026-11-22T12:00:00Z"


def make_table(oid: int, schema: str, name: str, **fields: Any) -> Table:
    values: dict[str, Any] = {
        "oid": oid,
        "schema": schema,
        "name": name,
        "kind": "r",
        "persistence": "p",
        "owner": "app",
        "parent_oid": None,
        "partition_strategy": None,
        "partition_bound": None,
        "reloptions": [],
        "rows_estimate": 0.0,
        "pages": 0,
        "table_bytes": 0,
        "total_bytes": 0,
        "rls_enabled": False,
        "rls_forced": False,
        "frozen_xid_age": 1_000,
        "comment": None,
        "seq_scan": 0,
        "seq_tup_read": 0,
        "idx_scan": 0,
        "idx_tup_fetch": 0,
        "n_tup_ins": 0,
        "n_tup_upd": 0,
        "n_tup_del": 0,
        "n_tup_hot_upd": 0,
        "n_live_tup": 0,
        "n_dead_tup": 0,
        "n_mod_since_analyze": 0,
        "n_ins_since_vacuum": 0,
        "last_vacuum": None,
        "last_autovacuum": None,
        "last_analyze": None,
        "last_autoanalyze": None,
        "vacuum_count": 0,
        "autovacuum_count": 0,
        "analyze_count": 0,
        "autoanalyze_count": 0,
    }
    values.update(fields)
    return Table(**values)


def make_column(table: Table, position: int, name: str, type_name: str, **fields: Any) -> Column:
    values: dict[str, Any] = {
        "table_oid": table.oid,
        "schema": table.schema,
        "table": table.name,
        "name": name,
        "position": position,
        "data_type": type_name,
        "type_name": type_name,
        "type_category": "N",
        "not_null": True,
        "default": None,
        "identity": "",
        "generated": "",
        "comment": None,
        "null_frac": None,
        "n_distinct": None,
        "type_oid": 23,
        "collation_oid": 0,
    }
    values.update(fields)
    return Column(**values)


def make_index(oid: int, table: Table, name: str, columns: list[str], **fields: Any) -> Index:
    values: dict[str, Any] = {
        "oid": oid,
        "schema": table.schema,
        "table": table.name,
        "table_oid": table.oid,
        "name": name,
        "method": "btree",
        "is_unique": False,
        "is_primary": False,
        "is_valid": True,
        "key_count": len(columns),
        "key_columns": list(columns),
        "key_definitions": list(columns),
        "opclasses": ["int4_ops"] * len(columns),
        "collations": [None] * len(columns),
        "sort_options": [0] * len(columns),
        "expressions": None,
        "predicate_tree": None,
        "predicate": None,
        "definition": f"CREATE INDEX {name} ON {table.qualname} USING btree ({', '.join(columns)})",
        "constraint_name": None,
        "parent_index_oid": None,
        "bytes": 16_384,
        "idx_scan": 0,
        "idx_tup_read": 0,
        "idx_tup_fetch": 0,
        "last_idx_scan": None,
        "comment": None,
    }
    values.update(fields)
    return Index(**values)


def make_constraint(oid: int, table: Table, name: str, kind: str, **fields: Any) -> Constraint:
    values: dict[str, Any] = {
        "oid": oid,
        "schema": table.schema,
        "table": table.name,
        "table_oid": table.oid,
        "name": name,
        "kind": kind,
        "columns": ["id"],
        "validated": True,
        "inherited": False,
        "definition": "PRIMARY KEY (id)",
        "index_oid": None,
        "ref_table_oid": None,
        "ref_schema": None,
        "ref_table": None,
        "ref_columns": [],
        "on_delete": None,
        "on_update": None,
        "comment": None,
    }
    values.update(fields)
    return Constraint(**values)


def make_finding(number: int, rule: str = "missing-primary-key") -> Finding:
    """A high finding of `rule` on table public.t<number>."""
    where = Located("table", ("public", f"t{number}"), f"public.t{number}")
    return Finding(rule, INTEGRITY, "high", where, "m", {}, None, fingerprint(rule, where))


def make_snapshot(stats_reset: str | None = "2026-11-01T12:00:00Z") -> Snapshot:
    """Schema "Mixed Case" (commented) with a parent `Weird"Name` and a child `ñame`
    (no primary key, an unindexed foreign key, a duplicate and a redundant index), and
    public.orders: busy, with many dead tuples and autovacuum off."""
    parent = make_table(
        10,
        "Mixed Case",
        'Weird"Name',
        rows_estimate=1_200.0,
        table_bytes=98_304,
        n_tup_ins=1_200,
        n_live_tup=1_200,
        idx_scan=4_321,
    )
    child = make_table(
        11,
        "Mixed Case",
        "ñame",
        rows_estimate=25_000.0,
        table_bytes=3 * 1024 * 1024,
        n_tup_ins=25_000,
        n_tup_upd=500,
        n_live_tup=25_000,
        seq_scan=77,
    )
    orders = make_table(
        12,
        "public",
        "orders",
        rows_estimate=2_000.0,
        table_bytes=1_572_864,
        reloptions=["autovacuum_enabled=false"],
        n_tup_ins=50_000,
        n_tup_upd=120_000,
        n_tup_del=48_000,
        n_live_tup=2_000,
        n_dead_tup=160_000,
        seq_scan=1_500,
        idx_scan=98_765,
    )
    idle = make_table(13, "public", "select", rows_estimate=0.0, idx_scan=None)
    tables = [parent, child, orders, idle]
    columns = [
        make_column(parent, 1, "id", "int4"),
        make_column(child, 1, "id", "int4", not_null=False),
        make_column(child, 2, "parent id", "int4"),
        make_column(child, 3, "code", "int4"),
        make_column(orders, 1, "id", "int8"),
        make_column(idle, 1, "id", "int4"),
    ]
    parent_pkey = make_index(
        100,
        parent,
        'Weird"Name_pkey',
        ["id"],
        is_unique=True,
        is_primary=True,
        constraint_name='Weird"Name_pkey',
    )
    orders_pkey = make_index(
        101,
        orders,
        "orders_pkey",
        ["id"],
        is_unique=True,
        is_primary=True,
        constraint_name="orders_pkey",
        bytes=2_400_000,
    )
    child_code = make_index(102, child, "ñame_code_idx", ["code"])
    child_code_copy = make_index(103, child, "ñame_code_idx1", ["code"])
    child_code_id = make_index(104, child, "ñame_code_id_idx", ["code", "id"])
    constraints = [
        make_constraint(200, parent, 'Weird"Name_pkey', "p", index_oid=100),
        make_constraint(201, orders, "orders_pkey", "p", index_oid=101),
        make_constraint(
            202,
            child,
            "ñame_parent id_fkey",
            "f",
            columns=["parent id"],
            definition='FOREIGN KEY ("parent id") REFERENCES "Mixed Case"."Weird""Name"(id)',
            index_oid=100,
            ref_table_oid=parent.oid,
            ref_schema="Mixed Case",
            ref_table='Weird"Name',
            ref_columns=["id"],
            on_delete="a",
            on_update="a",
        ),
    ]
    return Snapshot(
        server=ServerInfo(
            version_num=160002,
            version="16.2",
            database="shop",
            current_user="auditor",
            is_superuser=False,
            in_recovery=False,
            collected_at=COLLECTED_AT,
            postmaster_start_time="2026-11-20T08:00:00Z",
            stats_reset=stats_reset,
            settings={"autovacuum": "on", "track_counts": "on"},
        ),
        schemas=[
            Schema(1, "Mixed Case", "app", "Orders | people, *the* core"),
            Schema(2, "public", "postgres", None),
        ],
        tables=tables,
        columns=columns,
        constraints=constraints,
        indexes=[parent_pkey, orders_pkey, child_code, child_code_copy, child_code_id],
        sequences=[],
        profiles=[],
        collection=CollectionInfo(
            catalog_queries=7,
            data_queries=0,
            duration_ms=12,
            schemas_filter=[],
            data_profiled=False,
            skipped=[{"step": "sequences", "reason": "permission denied for sequence s"}],
            # as a live run records it on a server without pg_stat_statements
            probes=sorted(DEFAULT_PROBES - {"statements", "query_plans"}),
            unavailable={name: NO_STATEMENTS for name in ("statements", "query_plans")},
        ),
        statement_sources=[
            StatementSource(
                status="not installed",
                reason=NO_STATEMENTS,
                schema=None,
                version=None,
                available=True,
                loaded=False,
                track=None,
                reads_all=False,
                statements=0,
                hidden=0,
                total_ms=0.0,
                total_calls=0,
                stats_reset=None,
                deallocations=None,
                hypopg="not installed",
                hypopg_version=None,
            )
        ],
    )


NO_STATEMENTS = "pg_stat_statements is not installed in this database"


@pytest.fixture
def analysis() -> Analysis:
    result = analyse(make_snapshot())
    # a check that could not read some tables, and one excused finding, as the engine
    # reports them when rows were read or a COMMENT carried a pgvitals:ignore marker
    checks = [
        replace(c, skipped_objects=({"object": "public.orders", "reason": "lock timeout"},))
        if c.rule == "missing-primary-key"
        else c
        for c in result.checks
    ]
    checks.append(Check("high-dead-tuple-ratio-copy", "failed", "ValueError: boom", 1))
    select_pk = next(
        f
        for f in result.findings
        if f.rule == "missing-primary-key" and f.object == "public.select"
    )
    excused = [Excused(select_pk, "reviewed | accepted", "COMMENT on public.select")]
    findings = [f for f in result.findings if f is not select_pk]
    return replace(result, findings=findings, checks=checks, excused=excused)


@pytest.fixture
def report(analysis: Analysis) -> str:
    return render_markdown(build_report(analysis))


def section(report: str, heading: str) -> str:
    """The text of one `## heading` section."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", report, re.M | re.S)
    assert match, f"no section {heading!r}"
    return match.group(1)


def table_rows(text: str) -> list[list[str]]:
    """The cells of the Markdown table rows in `text` (header and rule included), split
    on unescaped pipes."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|"):
            cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
            rows.append([cell.strip() for cell in cells])
    return rows


def test_sections_in_order(report: str) -> None:
    headings = re.findall(r"^## (.+)$", report, re.M)
    assert headings == [
        "Executive summary",
        "Schemas",
        "Critical flaws",
        "Other findings",
        "Index coverage",
        "Row-level security",
        "Table activity",
        "Query workload",
        "Data quality",
        "Missing elements",
        "Action plan",
        "Risk assessment",
        "Excused findings",
        "Checks skipped or failed",
        "Appendix: thresholds used",
        "Appendix: fix script",
        "Appendix: rollback script",
    ]
    assert report.startswith("# Database health assessment: `shop`\n")
    assert "PostgreSQL 16.2 · snapshot taken 2026-11-22 12:00 UTC" in report


def test_executive_summary(report: str, analysis: Analysis) -> None:
    text = section(report, "Executive summary")
    assert "2 schemas, 4 tables, about 28,200 rows" in text
    counts = rp.severity_counts(analysis.findings)
    assert f"{counts['high']} high" in text
    rows = {row[0]: row for row in table_rows(text)}
    assert rows["Integrity"][1] == "🔴 Red"
    assert rows["Maintenance"][1] == "🔴 Red"
    # no pg_stat_statements: its one check that ran (saying so) does not make it green
    assert rows["Query workload"][1] == "⚪ Not checked"
    assert (
        "not run" in rows["Query workload"][2]
        and "1 finding from the others" in rows["Query workload"][2]
    )
    assert "counters since 2026-11-01 12:00 UTC (21 days)" in text


def test_rag_status_rules(analysis: Analysis) -> None:
    status = {area.category: area for area in rp.area_statuses(analysis, None)}
    assert status["integrity"].status == rp.RED
    assert "missing-primary-key (1)" in status["integrity"].reason
    assert status["workload"].status == rp.NOT_CHECKED
    medium_only = [replace(f, severity="medium") for f in analysis.findings]
    amber = rp.area_status("integrity", "Integrity", analysis.checks, medium_only)
    assert amber.status == rp.AMBER
    green = rp.area_status("integrity", "Integrity", analysis.checks, [])
    assert green.status == rp.GREEN
    skipped = [
        Check(rule.id, "skipped", "table rows not read (--no-data)", 0)
        for rule in REGISTRY.values()
        if rule.category == INTEGRITY
    ]
    not_checked = rp.area_status("integrity", "Integrity", skipped, [])
    assert not_checked.status == rp.NOT_CHECKED
    assert "--no-data" in not_checked.reason


def test_statistics_window_never_reset() -> None:
    window = rp.statistics_window(make_snapshot(stats_reset=None).server)
    assert window.reset_at is None
    assert window.text.startswith(
        "since the server's statistics were last reset: unknown (never reset) — at least since"
    )
    assert "2026-11-20 08:00 UTC (2 days)" in window.text


def test_schema_comment_and_relationships(report: str) -> None:
    text = section(report, "Schemas")
    assert "### Schema `Mixed Case`" in text
    assert r"> Orders | people, \*the\* core" in text
    assert "The schema has no comment" in text  # public
    mermaid = re.search(r"```mermaid\n(.*?)```", text, re.S)
    assert mermaid
    assert 'Weird_Name ||--o{ name : "name_parent id_fkey"' in mermaid.group(1)
    assert 'Mixed Case.Weird"Name (1) --> (*) Mixed Case.ñame  [ñame_parent id_fkey]' in text
    assert (
        "Tables with no relationship, declared or inferred: `public.orders`, `public.select`."
        in text
    )


def test_mermaid_names_are_safe_and_distinct() -> None:
    assert mermaid_name('Weird"Name') == "Weird_Name"
    assert mermaid_name("Mixed Case") == "Mixed_Case"
    assert mermaid_name("ñame") == "name"
    assert mermaid_name("2024_data") == "t_2024_data"
    snap = make_snapshot()
    twin = snap.constraints[2]._replace(name="twin_fkey", table="name", table_oid=99)
    relations = [rp.relationship(snap, c) for c in (snap.constraints[2], twin)]
    diagram = er_diagram("Mixed Case", relations)
    entities = re.findall(r"^\s+(\S+) \S+ (\S+) :", diagram.text, re.M)
    assert ("Weird_Name", "name") in entities
    assert ("Weird_Name", "name_2") in entities


def test_diagram_truncated_to_most_connected() -> None:
    snap = make_snapshot()
    fk = snap.constraints[2]
    relations = [
        rp.relationship(snap, fk._replace(name=f"fk_{n}", table=f"child_{n}", table_oid=n))
        for n in range(1_000, 1_070)
    ]
    diagram = er_diagram("Mixed Case", relations, limit=60)
    assert diagram.truncated
    assert (diagram.entities_shown, diagram.entities_total) == (60, 71)
    assert "Weird_Name" in diagram.text  # the hub, connected to everything, stays


def test_critical_and_high_findings_in_full(report: str, analysis: Analysis) -> None:
    text = section(report, "Critical flaws")
    assert "### High: Table has no primary key — `missing-primary-key` (1 object)" in text
    why = REGISTRY["missing-primary-key"].section("Why it breaks")
    assert why.splitlines()[0] in text
    assert "#### 1. `Mixed Case.ñame`" in text
    assert "| `rows_estimate` | 25,000 |" in text
    pk_fix = next(f.fix.sql for f in analysis.findings if f.rule == "missing-primary-key" and f.fix)
    assert f"```sql\n{pk_fix}\n```" in text
    dead = next(f for f in analysis.findings if f.rule == "high-dead-tuple-ratio")
    assert dead.severity == "high"
    assert "| `dead_ratio` | 98.8% |" in text
    assert "| `autovacuum_enabled` | no |" in text


def test_lesser_findings_grouped_by_rule_every_object_listed(
    report: str, analysis: Analysis
) -> None:
    text = section(report, "Other findings")
    lesser = [f for f in analysis.findings if f.severity in ("medium", "low", "info")]
    assert lesser
    # one heading per rule and severity, each naming its count; under it every object
    by_group = re.split(r"^#### ", text, flags=re.M)[1:]
    for item in lesser:
        group = next(g for g in by_group if f"— `{item.rule}` (" in g.splitlines()[0])
        objects = [row[0] for row in table_rows(group)[2:]]
        assert code(item.object) in objects, (item.rule, item.object)
    for group in by_group:
        rule = re.search(r"— `([a-z-]+)` \((\d+) objects?\)", group.splitlines()[0])
        assert rule, group.splitlines()[0]
        same = [f for f in lesser if f.rule == rule.group(1)]
        assert len(table_rows(group)) - 2 == int(rule.group(2)) == len(same)


def test_index_coverage_rows(report: str) -> None:
    rows = {row[0]: row[1:] for row in table_rows(section(report, "Index coverage"))}
    #        rows,   indexes, single, composite, index size, table size, unindexed FKs
    assert rows["`Mixed Case.ñame`"] == ["25,000", "3", "2", "1", "48.0 kB", "3.0 MB", "1 of 1"]
    assert rows['`Mixed Case.Weird"Name`'] == ["1,200", "1", "1", "0", "16.0 kB", "96.0 kB", "0"]
    assert rows["`public.orders`"] == ["2,000", "1", "1", "0", "2.3 MB", "1.5 MB", "0"]
    assert rows["`public.select`"][:2] == ["0", "0"]


def test_activity_section_with_bars(report: str) -> None:
    text = section(report, "Table activity")
    assert "counters since 2026-11-01 12:00 UTC (21 days)" in text
    rows = {row[0]: row[1:] for row in table_rows(text)}
    assert rows["`public.orders`"][0] == "`██████████` 218,000"
    assert rows["`Mixed Case.ñame`"][0] == "`█░░░░░░░░░` 25,500"
    assert rows["`public.orders`"][1:] == [
        "50,000",
        "120,000",
        "48,000",
        "2,000",
        "160,000",
        "1,500",
        "98,765",
    ]
    assert "Neither written nor read in this window (1): `public.select`." in text


def test_not_yet_assessed_sections_say_so(report: str) -> None:
    rls = section(report, "Row-level security").strip()
    assert rls.startswith("0 of 4 tables have row-level security enabled")
    assert "| Table |" not in rls  # no matrix without a table that uses it
    assert "Not assessed" in section(report, "Data quality")
    missing = section(report, "Missing elements")
    assert "| Row-level security | 2 findings from `rls-disabled` (see Findings) |" in missing
    assert "| Migration history | 1 finding from `no-migration-history` (see Findings) |" in missing
    assert "`Mixed Case` 0 of 2 tables" in missing


def test_excused_and_skipped(report: str) -> None:
    excused = table_rows(section(report, "Excused findings"))
    assert excused[2][3] == r"reviewed \| accepted"
    assert excused[2][4] == "COMMENT on public.select"
    gaps = section(report, "Checks skipped or failed")
    assert "| `high-dead-tuple-ratio-copy` | failed | ValueError: boom |" in gaps
    assert "- `missing-primary-key`: `public.orders` — lock timeout" in gaps
    assert "- sequences: permission denied for sequence s" in gaps


def horizons(text: str) -> dict[str, str]:
    """The action plan's horizons by name, each with its text."""
    parts = re.split(r"^### ([^:\n]+)(?::.*)?$", text, flags=re.M)[1:]
    return dict(zip(parts[::2], parts[1::2], strict=True))


def test_action_plan(report: str, analysis: Analysis) -> None:
    plan = horizons(section(report, "Action plan"))
    assert list(plan) == ["Immediate", "1\u20134 weeks", "1\u20133 months", "3+ months"]
    # high, and its fix blocks no writes (VACUUM, RESET): immediate
    assert "`high-dead-tuple-ratio`, high, 1 object; effort low" in plan["Immediate"]
    # high, but the key is built under a brief lock: the next weeks
    assert "`missing-primary-key`, high, 1 object; effort medium" in plan[rp.WEEKS]
    assert "- **Table without row-level security** (`rls-disabled`, info" in plan["3+ months"]
    serious = replace(
        analysis, findings=[f for f in analysis.findings if f.severity not in ("low", "info")]
    )
    empty = horizons(section(render_markdown(build_report(serious)), "Action plan"))
    assert empty["3+ months"].strip() == "Nothing."


def test_horizon_follows_severity_and_effort() -> None:
    def placed(severity: str, risk: Risk | None, count: int = 1) -> str:
        found = [
            replace(
                make_finding(n),
                severity=severity,
                fix=Fix(("SELECT 1;",), ("SELECT 1;",), risk) if risk else None,
            )
            for n in range(count)
        ]
        plan = rp.action_plan(found)
        return next(h.name for h in plan if h.actions)

    online, brief = Risk("SHARE UPDATE EXCLUSIVE"), Risk("ACCESS EXCLUSIVE")
    rewrite = Risk("ACCESS EXCLUSIVE", rewrites=True)
    assert placed("critical", rewrite) == "Immediate"
    assert placed("critical", None) == "Immediate"
    assert placed("high", online) == "Immediate"
    assert placed("high", brief) == rp.WEEKS
    assert placed("high", None) == rp.WEEKS  # no generated fix: manual work
    assert placed("medium", online) == rp.WEEKS
    assert placed("medium", rewrite) == rp.MONTHS
    assert placed("low", online) == rp.MONTHS
    assert placed("low", brief) == "3+ months"
    assert placed("info", online) == "3+ months"
    # the same quick fix on very many objects is more work
    assert placed("high", online, rp.MANY_OBJECTS + 1) == rp.WEEKS


def test_risk_assessment_weighs_probability_and_impact(report: str, analysis: Analysis) -> None:
    risks = {entry.rule: entry for entry in rp.risk_assessment(analysis.findings)}
    # judged from statistics: it is happening in this database
    dead = risks["high-dead-tuple-ratio"]
    assert (dead.probability_label, dead.impact_label, dead.score) == ("likely", "major", 16)
    # a flaw in the schema, striking when a delete runs on the referenced table
    fk = risks["unindexed-foreign-key"]
    assert (fk.probability_label, fk.impact_label) == ("possible", "major")
    assert risks["rls-disabled"].probability_label == "unlikely"  # informational
    scores = [entry.score for entry in rp.risk_assessment(analysis.findings)]
    assert scores == sorted(scores, reverse=True)
    widespread = rp.risk_assessment([make_finding(n) for n in range(rp.WIDESPREAD)])
    assert widespread[0].probability_label == "likely"
    text = section(report, "Risk assessment")
    rows = {row[0]: row for row in table_rows(text)}
    assert rows["**major**"][4] == "`high-dead-tuple-ratio`"  # likely column
    assert rows["`high-dead-tuple-ratio`"][1:5] == ["1", "likely", "major", "16"]


# a Risk per label, to check a label against the heading it is printed under
RISK_OF_LABEL = {
    "no write-blocking lock": ("SHARE UPDATE EXCLUSIVE",),
    "brief lock": ("ACCESS EXCLUSIVE",),
    "table rewrite": ("ACCESS EXCLUSIVE", True),
    "drops an object": ("SHARE UPDATE EXCLUSIVE", False, True),
}


def test_fix_script_orders_by_declared_risk(analysis: Analysis) -> None:
    scripts = rp.fix_scripts(analysis.findings, analysis.snapshot.server)
    fix = scripts.fix
    assert "generated by pgvitals" in fix
    assert "pgvitals never runs this script" in fix
    assert "cannot run inside a transaction block" in fix
    entries = fix.split("\n\n")[1:]  # one per finding, after the header
    entries = [e for e in entries if "(same statement as for" not in e]
    # every entry sits under the heading of its own declared tier, tiers in order
    checked = 0
    for tier, body in re.findall(r"^-- == (.*?) ==\n(.*?)(?=^-- == |\Z)", fix, re.M | re.S):
        for label in re.findall(r"^-- [a-z-]+: .* \[([a-z -]+)\]$", body, re.M):
            assert Risk(*RISK_OF_LABEL[label]).label == label
            assert rp.TIER_HEADINGS.index(tier) == Risk(*RISK_OF_LABEL[label]).tier
            checked += 1
    assert checked >= 3  # the fixture has fixes in several tiers
    labels = [line for line in fix.splitlines() if re.match(r"-- [a-z-]+: ", line)]
    order = [rp.TIER_HEADINGS.index(h) for h in re.findall(r"^-- == (.*) ==$", fix, re.M)]
    assert order == sorted(order) and len(order) == len(set(order))
    assert all(re.search(r" \[[a-z -]+\]$", line) for line in labels)
    first_drop = next(i for i, e in enumerate(entries) if "\nDROP " in e)
    concurrently = [i for i, e in enumerate(entries) if "CREATE INDEX CONCURRENTLY" in e]
    assert concurrently and max(concurrently) < first_drop
    assert (
        "-- unindexed-foreign-key: Mixed Case.ñame.ñame_parent id_fkey [no write-blocking lock]"
        "\nCREATE INDEX"
    ) in fix
    # the same DROP (duplicate and redundant index) is written once
    assert fix.count('DROP INDEX CONCURRENTLY IF EXISTS "Mixed Case"."ñame_code_idx1";') == 1
    rollback_labels = [line for line in scripts.rollback.splitlines() if line.startswith("-- ")]
    # the rollback names each fix it undoes, in reverse, without the fix's risk: undoing
    # may lock otherwise (a DROP INDEX of one built CONCURRENTLY)
    fixed = [line.rsplit(" [", 1)[0] for line in labels]
    assert [line for line in rollback_labels if line in fixed] == fixed[::-1]
    assert not any(re.search(r" \[[a-z -]+\]$", line) for line in rollback_labels)


def test_fix_script_in_appendix(report: str, analysis: Analysis) -> None:
    scripts = rp.fix_scripts(analysis.findings, analysis.snapshot.server)
    assert scripts.fix.strip() in section(report, "Appendix: fix script")
    assert scripts.rollback.strip() in section(report, "Appendix: rollback script")


def test_risk_tiers_follow_the_declared_lock_not_the_text() -> None:
    assert Risk("SHARE UPDATE EXCLUSIVE", transactional=False).tier == 0
    assert Risk("ACCESS EXCLUSIVE").tier == 1
    assert Risk("ACCESS EXCLUSIVE", rewrites=True).tier == 2
    assert Risk("SHARE UPDATE EXCLUSIVE", drops=True).tier == 3
    assert (Risk("SHARE UPDATE EXCLUSIVE") | Risk("ACCESS EXCLUSIVE")).lock == "ACCESS EXCLUSIVE"


def test_names_cannot_escape_script_comments() -> None:
    snap = make_snapshot()
    evil = make_table(14, "public", "x\nDROP TABLE users; --")
    result = analyse(replace(snap, tables=[*snap.tables, evil]))
    fix = rp.fix_scripts(result.findings, result.snapshot.server).fix
    # the name's newline is spelled out in the comment (in the quoted identifier it is
    # harmless), so its text cannot become a statement of its own
    assert "-- missing-primary-key: public.x\\nDROP TABLE users; -- [table rewrite]\n" in fix
    assert "public.x\nDROP TABLE" not in fix


def test_escaping_helpers() -> None:
    assert code("a`b") == "``a`b``"
    assert code("`x") == "`` `x ``"
    assert md_text("a*b* <c> [d] _e_ snake_case") == r"a\*b\* \<c\> \[d\] \_e\_ snake_case"


def test_numbers() -> None:
    assert fmt.thousands(1234567) == "1,234,567"
    assert fmt.thousands(None) == "—"
    assert fmt.human_bytes(512) == "512 bytes"
    assert fmt.human_bytes(8192) == "8.0 kB"
    assert fmt.human_bytes(5 * 1024**3) == "5.0 GB"
    assert fmt.text_bar(0, 10) == "░" * 10
    assert fmt.text_bar(1, 1_000) == "█" + "░" * 9
    assert fmt.text_bar(5, 10) == "█████░░░░░"


def test_no_findings_report() -> None:
    snap = make_snapshot()
    quiet = Analysis(snap, [], [], [], "live")
    report = render_markdown(build_report(quiet))
    assert "No findings." in section(report, "Critical flaws")
    assert "-- Nothing to fix" in section(report, "Appendix: fix script")


def test_review_mode_has_no_activity() -> None:
    report = render_markdown(build_report(analyse(make_snapshot(), mode="review")))
    assert "Not applicable" in section(report, "Table activity")


def test_text_summary(analysis: Analysis) -> None:
    console = Console(record=True, width=120, color_system=None)
    render_text(build_report(analysis), console)
    out = console.export_text()
    assert "shop · PostgreSQL 16.2 · 2 schemas · 4 tables · ~28,200 rows" in out
    assert "counters since 2026-11-01 12:00 UTC (21 days)" in out
    assert re.search(r"Integrity\s+RED", out)
    assert re.search(r"Query workload\s+NOT CHECKED", out)
    assert "Mixed Case.ñame" in out
    assert "HIGH" in out and "missing-primary-key" in out
    counts = rp.severity_counts(analysis.findings)
    assert f"Result: {counts['high']} high, {counts['medium']} medium" in out
    assert "(1 excused)" in out
    assert "skipped, failed or incomplete" in out


def test_text_summary_truncates_and_keeps_markup_literal(analysis: Analysis) -> None:
    many = [
        replace(
            analysis.findings[0],
            where=Located("table", ("public", f"[bold]t{n}"), f"public.[bold]t{n}"),
            message=f"[red]m{n}",
        )
        for n in range(30)
    ]
    console = Console(record=True, width=120)
    render_text(build_report(replace(analysis, findings=many)), console)
    out = console.export_text()
    assert "public.[bold]t0" in out and "[red]m24" in out
    assert "public.[bold]t25" not in out
    assert "... and 5 more — see the report" in out


def test_text_summary_narrow_without_colour(analysis: Analysis) -> None:
    console = Console(record=True, width=50, no_color=True)
    render_text(build_report(analysis), console)
    out = console.export_text()
    assert all(len(line) <= 50 for line in out.splitlines())
    assert "RED" in out and "Integrity" in out
    assert "Result:" in out


def test_thresholds_and_stale_ignores_are_in_the_report() -> None:
    from pgvitals.config import parse_config

    config = parse_config(
        {
            "rules": {"high-dead-tuple-ratio": {"min_ratio": 0.3}},
            "ignore": [{"rule": "missing-primary-key", "object": "gone.*", "reason": "old"}],
        },
        "pgvitals.toml",
    )
    report = render_markdown(build_report(analyse(make_snapshot(), config)))
    thresholds = table_rows(section(report, "Appendix: thresholds used"))
    assert ["`high-dead-tuple-ratio`", "`min_ratio`", "`0.3`"] in thresholds
    assert "Configuration: pgvitals.toml." in section(report, "Appendix: thresholds used")
    stale = table_rows(section(report, "Excused findings"))
    assert ["`missing-primary-key`", "`gone.*`", "pgvitals.toml"] in stale


def test_the_report_drops_the_lookups_only_the_rules_read() -> None:
    """The rules are done when the report is built: their lookups go (the memory is the
    report's), one read again is derived again, and the report is the same."""
    # each name is a lookup Facts derives once: a misspelt one would be kept unnoticed
    assert all(isinstance(vars(Facts).get(name), cached_property) for name in RULE_LOOKUPS)
    snap = make_snapshot()
    analysis = analyse(snap)
    kept = dict(snap.facts.index_by_oid)
    first = build_report(analysis)
    assert not [name for name in RULE_LOOKUPS if name in vars(snap.facts)]
    assert snap.facts.index_by_oid == kept
    again = replace(build_report(analysis), generated_at=first.generated_at)
    assert render_json(again) == render_json(first)
