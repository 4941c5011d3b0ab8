"""The finding vocabulary, suppression and the report object, without a server."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pgvitals.config import parse_config
from pgvitals.engine import analyse
from pgvitals.findings import Fix, Located, Risk, Severity, fingerprint
from pgvitals.render import RENDERERS
from pgvitals.report import Report, build_report
from tests.render.test_md_text import make_snapshot


def test_fingerprint_escapes_names_and_ignores_python_classes() -> None:
    dotted_schema = Located("table", ("a.b", "c"), "a.b.c")
    dotted_table = Located("table", ("a", "b.c"), "a.b.c")
    assert fingerprint("r", dotted_schema) != fingerprint("r", dotted_table)
    # the same path in another database gives the same fingerprint
    assert fingerprint("r", dotted_schema) == fingerprint("r", Located("table", ("a.b", "c"), "x"))


def test_severity_is_ordered_and_equal_to_its_name() -> None:
    assert Severity.CRITICAL > Severity.HIGH > Severity.INFO
    assert Severity.HIGH == "high" and {"high": 1}[Severity.HIGH] == 1
    assert max([Severity.LOW, Severity.HIGH, Severity.MEDIUM]) == Severity.HIGH
    assert Severity.HIGH.at_least("medium") and not Severity.LOW.at_least("medium")
    assert f"{Severity.HIGH}" == "high"


def test_a_drop_needs_a_rollback() -> None:
    with pytest.raises(ValueError, match="rollback"):
        Fix(("DROP INDEX i;",), None, Risk("ACCESS EXCLUSIVE", drops=True))
    both = Fix(("A;",), ("undo A;",), Risk("SHARE UPDATE EXCLUSIVE")) + Fix(
        ("B;",), ("undo B;",), Risk("ACCESS EXCLUSIVE")
    )
    assert both.rollback == ("undo B;", "undo A;")
    assert both.risk.lock == "ACCESS EXCLUSIVE"


def test_configured_severity_changes_the_default_only() -> None:
    snap = make_snapshot()
    config = parse_config({"rules": {"unindexed-foreign-key": {"severity": "info"}}})
    default = {
        f.object: f.severity for f in analyse(snap).findings if f.rule == "unindexed-foreign-key"
    }
    configured = {
        f.object: f.severity
        for f in analyse(snap, config).findings
        if f.rule == "unindexed-foreign-key"
    }
    assert default  # the fixture has unindexed foreign keys
    for name, severity in default.items():
        # raised or lowered from evidence (table size) stays; the plain default follows config
        assert configured[name] == (severity if severity != "medium" else "info")


def test_thresholds_used_are_in_the_report() -> None:
    config = parse_config({"rules": {"high-dead-tuple-ratio": {"min_ratio": 0.3}}})
    report = build_report(analyse(make_snapshot(), config)).to_json()
    assert report["config"]["thresholds"]["high-dead-tuple-ratio"]["min_ratio"] == 0.3
    assert report["config"]["thresholds"]["unindexed-foreign-key"]["large_table_rows"] == 10_000


def test_ignores_that_matched_nothing_are_reported() -> None:
    config = parse_config(
        {"ignore": [{"rule": "missing-primary-key", "object": "nowhere.*", "reason": "old"}]}
    )
    snap = make_snapshot()
    typo = snap.schemas[0]._replace(comment="pgvitals:ignore missing-primary-kee legacy")
    result = analyse(replace(snap, schemas=[typo, *snap.schemas[1:]]), config)
    unused = {(u.rule, u.target) for u in result.unused_excuses}
    assert ("missing-primary-key", "nowhere.*") in unused
    assert ("missing-primary-kee", typo.name) in unused


def test_every_format_renders_again_from_the_saved_json() -> None:
    report = build_report(analyse(make_snapshot()), "auditor@db/shop")
    again = Report.from_json(report.to_json())
    assert again.to_json() == report.to_json()
    for renderer in RENDERERS.values():
        assert renderer.render(again) == renderer.render(report)


def test_rules_declare_their_probes_and_are_skipped_without_them() -> None:
    from pgvitals.engine import required_probes
    from pgvitals.snapshot.probes import PROBES

    assert required_probes() <= set(PROBES)
    assert "sequence_positions" in required_probes()
    config = parse_config({"disable": ["integer-key-overflow-risk"]})
    assert "sequence_positions" not in required_probes(config)
    snap = make_snapshot()
    without = replace(snap, collection=replace(snap.collection, probes=[]))
    checks = {c.rule: c for c in analyse(without).checks}
    assert checks["integer-key-overflow-risk"].status == "skipped"
    assert "last_value" in (checks["integer-key-overflow-risk"].reason or "")
    assert checks["missing-primary-key"].status == "ran"  # its row probes are optional


def test_what_orders_fix_sql_survives_the_saved_json() -> None:
    # a report read back writes its scripts again: an extension's move last, partitions
    # after the indexes of their table (the JSON had lost both, and the order with them)
    for risk in (Risk(moves=True), Risk(lock="ACCESS EXCLUSIVE", adds_partitions=True)):
        fix = Fix(("SELECT 1;",), ("SELECT 2;",), risk)
        assert Fix.from_json(fix.to_json()).risk == risk
