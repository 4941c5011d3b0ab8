"""`review --baseline`: adopt pgvitals on an old migrations folder and block only what a
new migration adds, with `check --baseline`'s semantics."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import pgvitals, valid_report
from tests.test_review import review, write

OLD_MIGRATIONS = {
    "V1__init.sql": "CREATE TABLE parents (id int PRIMARY KEY);\n"
    "CREATE TABLE children (id int PRIMARY KEY, parent_id int REFERENCES parents);\n",
    "V2__logs.sql": "CREATE TABLE log_2019 (at timestamptz, what text);\n"
    "CREATE TABLE log_2020 (at timestamptz, what text);\n",
    "V3__odd.sql": 'CREATE TABLE "Weird""Name" (x int);\n',
}


def test_only_a_new_migrations_finding_fails_and_fixing_it_passes(server, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    write(folder, OLD_MIGRATIONS)
    baseline = tmp_path / "baseline.json"
    run = review(tmp_path, "migrations", "--server", server.dsn(), "--fail-on", "high",
                 "--write-baseline", "baseline.json")  # fmt: skip
    assert run.exit_code == 1, run.stderr  # the old findings fail a plain review
    assert "wrote baseline baseline.json" in run.stderr
    old = valid_report(json.loads(baseline.read_text()))
    assert old["summary"]["findings_by_severity"]["high"] >= 3 and "baseline" not in old
    known = len(old["findings"])

    run = review(tmp_path, "migrations", "--server", server.dsn(), "--fail-on", "high",
                 "--baseline", "baseline.json")  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert valid_report(run.json())["baseline"]["summary"] == f"{known} known, 0 new, 0 resolved"

    write(folder, {"V4__audit.sql": "CREATE TABLE audit (at timestamptz);\n"})
    run = review(tmp_path, "migrations", "--server", server.dsn(), "--fail-on", "high",
                 "--baseline", "baseline.json")  # fmt: skip
    assert run.exit_code == 1, run.stderr
    report = valid_report(run.json())
    [new] = [f for f in report["findings"] if f["fingerprint"] in report["baseline"]["new"]]
    assert (new["rule"], new["object"], new["location"]) == (
        "missing-primary-key", "public.audit", {"file": "migrations/V4__audit.sql", "line": 1}
    )  # fmt: skip
    assert report["baseline"]["summary"] == f"{known} known, 1 new, 0 resolved"
    # the terminal says it too
    text = pgvitals("review", "migrations", "--server", server.dsn(), "--baseline",
                    "baseline.json", cwd=tmp_path, timeout=300)  # fmt: skip
    assert f"{known} known, 1 new, 0 resolved" in text.stdout

    write(folder, {"V5__audit_key.sql": "ALTER TABLE audit ADD PRIMARY KEY (at);\n"})
    run = review(tmp_path, "migrations", "--server", server.dsn(), "--fail-on", "high",
                 "--baseline", "baseline.json")  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert valid_report(run.json())["baseline"]["summary"] == f"{known} known, 0 new, 0 resolved"

    write(folder, {"V6__log_key.sql": "ALTER TABLE log_2019 ADD PRIMARY KEY (at);\n"})
    run = review(tmp_path, "migrations", "--server", server.dsn(), "--fail-on", "high",
                 "--baseline", "baseline.json")  # fmt: skip
    assert run.exit_code == 0, run.stderr
    report = valid_report(run.json())
    assert report["baseline"]["summary"] == f"{known - 1} known, 0 new, 1 resolved"
    [resolved] = report["baseline"]["resolved"]
    assert (resolved["rule"], resolved["object"]) == ("missing-primary-key", "public.log_2019")


def test_baseline_and_base_together_is_a_usage_error(tmp_path: Path) -> None:
    write(tmp_path, {"a.sql": "SELECT 1;\n", "old.sql": "SELECT 1;\n"})
    run = pgvitals("review", "a.sql", "--base", "old.sql", "--baseline", "b.json", cwd=tmp_path)
    assert run.exit_code == 2 and "give --base or --baseline, not both" in run.stderr
