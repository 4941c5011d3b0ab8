"""`pgvitals diff` as a user runs it: reports, snapshots and live databases on either
side, every output format, the published JSON Schema, and --fail-on on what is new."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

from pgvitals.history.store import open_store
from pgvitals.render.diff import diff_schema
from pgvitals.render.json import report_schema
from tests.helpers import pgvitals
from tests.test_diff import SCHEMA


def valid_diff(data: dict[str, Any]) -> dict[str, Any]:
    """Validated against diff.schema.json, whose findings refer to report.schema.json."""
    report = report_schema()
    registry = Registry().with_resource(report["$id"], Resource.from_contents(report))
    jsonschema.Draft202012Validator(diff_schema(), registry=registry).validate(data)
    return data


def objects(findings: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(f["rule"], f["object"]) for f in findings}


def test_two_reports_compare_and_only_new_findings_fail(database, tmp_path: Path) -> None:
    database.execute(SCHEMA)
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    # the naming rule judges this schema of 3, then 4 tables (it waits for 6 by default)
    config = tmp_path / "pgvitals.toml"
    config.write_text("[rules.naming-singular-plural-mix]\nmin_tables = 3\n", encoding="utf-8")
    check = ("check", database.dsn, "--config", str(config), "-o")
    assert pgvitals(*check, str(first)).exit_code == 0
    database.execute('CREATE TABLE "<script>alert(1)</script>" (x int)')
    assert pgvitals(*check, str(second)).exit_code == 0

    run = pgvitals("diff", str(first), str(second), "--format", "json", "--fail-on", "high")
    assert run.exit_code == 1, run.stderr  # a new missing primary key
    data = valid_diff(run.json())
    assert objects(data["findings"]["new"]) == {
        ("missing-primary-key", "public.<script>alert(1)</script>"),
        ("identifier-needs-quoting", "public.<script>alert(1)</script>"),
        ("naming-singular-plural-mix", "public"),  # now two plural names, two singular
    }
    assert data["findings"]["counts"]["unchanged"] == len(data["findings"]["unchanged"]) > 0
    assert data["drift"]["compared"] is False and "report" in data["drift"]["note"]

    # the old findings alone never fail: the same reports the other way round
    # (backwards, the naming rule's low remark moves from the schema to "Weird""Name")
    run = pgvitals("diff", str(second), str(first), "--fail-on", "medium")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "3 resolved" in run.stdout
    assert pgvitals("diff", str(first), str(second), "--fail-on", "critical").exit_code == 0


def test_snapshot_against_live_database_in_every_format(database, tmp_path: Path) -> None:
    database.execute(SCHEMA)
    snapshot = tmp_path / "before.json"
    assert pgvitals("snapshot", database.dsn, "-o", str(snapshot)).exit_code == 0
    database.execute('ALTER TABLE "Weird""Name" ADD COLUMN "<b>bold</b>" int')
    outputs = [tmp_path / f"diff.{suffix}" for suffix in ("txt", "md", "json", "html")]
    args = [arg for path in outputs for arg in ("-o", str(path))]
    run = pgvitals("diff", str(snapshot), database.dsn, *args)
    assert run.exit_code == 0, run.stderr
    data = valid_diff(json.loads(outputs[2].read_text()))
    assert [(d["change"], d["name"]) for d in data["drift"]["changes"]] == [
        ("added", 'public.Weird"Name.<b>bold</b>')
    ]
    assert data["before"]["source"] == "snapshot" and data["after"]["source"] == "live"
    assert data["statistics"]["compared"] is True
    text, markdown, _, page = (path.read_text() for path in outputs)
    assert 'public.Weird"Name.<b>bold</b>' in text
    assert "Schema drift: 1 added" in markdown
    # one self-contained page: nothing fetched, and names are text, not markup
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "src=" not in page and "href=" not in page and "<script" not in page

    # pgvitals replaces what it wrote before, in every format, without --force
    assert pgvitals("diff", str(snapshot), database.dsn, *args).exit_code == 0


def test_bad_sides_are_usage_errors(tmp_path: Path) -> None:
    run = pgvitals("diff", "only-one.json")
    assert run.exit_code == 2
    missing = pgvitals("diff", str(tmp_path / "a.json"), str(tmp_path / "b.json"))
    assert missing.exit_code == 2 and "cannot read" in missing.stderr
    other = tmp_path / "other.json"
    other.write_text('{"format": "something-else"}')
    run = pgvitals("diff", str(other), str(other))
    assert run.exit_code == 2
    assert "neither a pgvitals-report/1 nor a pgvitals-snapshot/1 file" in run.stderr


def test_a_history_given_as_a_side_says_how_to_compare_with_it(tmp_path: Path) -> None:
    """`pgvitals diff history.sqlite report.json` said the history "is not JSON ('utf-8'
    codec can't decode byte 0xf8 ...)"."""
    history = tmp_path / "pgvitals-history.sqlite"
    with open_store(str(history), create=True):
        pass
    report = tmp_path / "report.json"
    report.write_text('{"format": "pgvitals-report/1"}')
    run = pgvitals("diff", str(history), str(report))
    assert run.exit_code == 2
    assert f"{history} is a history, not a run" in run.stderr
    assert f"pgvitals diff DSN --since AGE --history {history}" in run.stderr
