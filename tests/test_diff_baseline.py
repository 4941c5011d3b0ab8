"""`check --baseline`: adopt pgvitals on an old database and block only regressions."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import pgvitals, valid_report

OLD_FLAWS = """
CREATE TABLE parents (id int PRIMARY KEY);
CREATE TABLE children (id int PRIMARY KEY, parent_id int REFERENCES parents);
CREATE TABLE log_2019 (at timestamptz, what text);
CREATE TABLE log_2020 (at timestamptz, what text);
CREATE TABLE "Weird""Name" (x int);
CREATE TABLE "select" (y int);
"""


def fingerprints_of(report: dict, rule: str, obj: str) -> list[str]:
    return [f["fingerprint"] for f in report["findings"] if (f["rule"], f["object"]) == (rule, obj)]


def test_only_a_new_finding_fails_and_fixing_it_passes(database, tmp_path: Path) -> None:
    database.execute(OLD_FLAWS)
    baseline = tmp_path / "baseline.json"
    run = pgvitals("check", database.dsn, "--write-baseline", str(baseline), "--fail-on", "high")
    assert run.exit_code == 1  # the old findings fail a plain check
    assert f"wrote baseline {baseline}" in run.stderr
    old = valid_report(json.loads(baseline.read_text()))
    highs = old["summary"]["findings_by_severity"]["high"]
    assert highs >= 4 and "baseline" not in old

    run = pgvitals("check", database.dsn, "--baseline", str(baseline), "--fail-on", "high")
    assert run.exit_code == 0, run.stdout + run.stderr
    known = len(old["findings"])
    assert f"{known} known, 0 new, 0 resolved" in run.stdout

    database.execute("CREATE TABLE audit (at timestamptz)")
    run = pgvitals(
        "check", database.dsn, "--baseline", str(baseline), "--fail-on", "high",
        "--format", "json",
    )  # fmt: skip
    assert run.exit_code == 1
    report = valid_report(run.json())
    new = fingerprints_of(report, "missing-primary-key", "public.audit")
    assert report["baseline"]["new"] == new
    assert report["baseline"]["summary"] == f"{known} known, 1 new, 0 resolved"
    assert len(report["baseline"]["known"]) == known

    # the terminal lists the new finding first, and marks the others known
    run = pgvitals("check", database.dsn, "--baseline", str(baseline), "--fail-on", "high")
    lines = [line for line in run.stdout.splitlines() if "missing-primary-key public." in line]
    assert "public.audit" in lines[0] and "known" not in lines[0]
    assert all("known" in line for line in lines[1:])

    # SARIF says which results are new, in its own words
    sarif = tmp_path / "report.sarif"
    pgvitals("check", database.dsn, "--baseline", str(baseline), "-o", str(sarif))
    states = {
        r["partialFingerprints"]["pgvitals/v1"]: r["baselineState"]
        for r in json.loads(sarif.read_text())["runs"][0]["results"]
    }
    assert states[new[0]] == "new" and set(states.values()) == {"new", "unchanged"}

    database.execute("ALTER TABLE audit ADD PRIMARY KEY (at)")
    run = pgvitals("check", database.dsn, "--baseline", str(baseline), "--fail-on", "high")
    assert run.exit_code == 0, run.stdout

    database.execute("ALTER TABLE log_2019 ADD PRIMARY KEY (at)")  # an old one fixed
    run = pgvitals(
        "check", database.dsn, "--baseline", str(baseline), "--fail-on", "high", "-o",
        str(tmp_path / "report.md"),
    )  # fmt: skip
    assert run.exit_code == 0
    markdown = (tmp_path / "report.md").read_text()
    assert f"{known - 1} known, 0 new, 1 resolved" in markdown


def test_a_known_finding_that_got_worse_counts(database, tmp_path: Path) -> None:
    database.execute(OLD_FLAWS)
    lenient = tmp_path / "pgvitals.toml"
    lenient.write_text('[rules.missing-primary-key]\nseverity = "low"\n')
    baseline = tmp_path / "baseline.json"
    run = pgvitals(
        "check", database.dsn, "--config", str(lenient), "--write-baseline", str(baseline)
    )
    assert run.exit_code == 0, run.stderr
    run = pgvitals(
        "check", database.dsn, "--baseline", str(baseline), "--fail-on", "high",
        "--format", "json",
    )  # fmt: skip
    assert run.exit_code == 1  # missing primary keys are high again: worse than known
    report = valid_report(run.json())
    assert report["baseline"]["new"] == []
    assert set(report["baseline"]["worsened"]) == {
        f["fingerprint"] for f in report["findings"] if f["rule"] == "missing-primary-key"
    }


def test_a_baseline_that_is_not_a_report_fails_before_connecting(tmp_path: Path) -> None:
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text('{"format": "pgvitals-snapshot/1"}')
    unreachable = "host=127.0.0.1 port=1 dbname=x connect_timeout=1"
    run = pgvitals("check", unreachable, "--baseline", str(snapshot))
    assert run.exit_code == 2
    assert "a baseline is a report" in run.stderr or "snapshot" in run.stderr
    run = pgvitals("check", unreachable, "--baseline", str(tmp_path / "missing.json"))
    assert run.exit_code == 2 and "cannot read" in run.stderr
