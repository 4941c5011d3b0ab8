"""`pgvitals demo`, the first thing a new user runs, end to end."""

from __future__ import annotations

import json

from tests.helpers import pgvitals, valid_report


def test_demo_writes_a_report_that_exhibits_the_flaws(tmp_path) -> None:
    out = tmp_path / "report"
    run = pgvitals("demo", "-o", str(out), timeout=300)
    assert run.exit_code == 0, run.stderr
    report = valid_report(json.loads((out / "report.json").read_text()))
    found = {(f["rule"], f["object"]) for f in report["findings"]}
    expected = {
        ("missing-primary-key", "practise_improve_pilot.lesson_feedback_tags"),
        ("duplicate-index", "practise_improve_pilot.idx_feedback_lesson_id"),
        ("redundant-index", "practise_improve_pilot.students_school_id_idx"),
        ("high-dead-tuple-ratio", "practise_improve_pilot.streaks"),
    }
    assert expected <= found, sorted(found)
    assert any(rule == "unindexed-foreign-key" for rule, _ in found)
    assert all(c["status"] == "ran" for c in report["checks"]), report["checks"]
    markdown = (out / "report.md").read_text()
    assert "practise_improve_pilot" in markdown and "erDiagram" in markdown
    assert "CONCURRENTLY" in (out / "fix.sql").read_text()
    assert (out / "rollback.sql").exists() and (out / "report.sarif").exists()
    assert "pgvitals_demo" in run.stdout
