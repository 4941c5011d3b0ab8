"""`pgvitals review` where teams run it: code scanning (SARIF locations at file:line)
and the pre-commit hook this repository ships."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import pgvitals
from tests.test_review import SCHEMA, write

HOOKS = Path(__file__).resolve().parents[1] / ".pre-commit-hooks.yaml"


def test_sarif_points_every_review_finding_at_its_file_and_line(server, tmp_path) -> None:
    write(
        tmp_path,
        {"db/my schema.sql": SCHEMA + "CREATE TABLE broken (id int REFERENCES nowhere);\n"},
    )
    run = pgvitals("review", "db/my schema.sql", "--server", server.dsn(), "-o", "review.sarif",
                   "--format", "json", cwd=tmp_path, timeout=300)  # fmt: skip
    assert run.exit_code == 0, run.stderr
    sarif = json.loads((tmp_path / "review.sarif").read_text())
    places = sorted(
        (
            result["ruleId"],
            result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            result["locations"][0]["physicalLocation"]["region"]["startLine"],
        )
        for result in sarif["runs"][0]["results"]
    )
    assert places == [
        ("identifier-needs-quoting", "db/my%20schema.sql", 1),
        ("identifier-needs-quoting", "db/my%20schema.sql", 4),
        ("invalid-ddl", "db/my%20schema.sql", 10),
        ("missing-comments", "db/my%20schema.sql", 1),
        ("missing-primary-key", "db/my%20schema.sql", 4),
        ("redundant-index", "db/my%20schema.sql", 8),
        ("reserved-word-identifier", "db/my%20schema.sql", 4),
        ("unindexed-foreign-key", "db/my%20schema.sql", 4),
    ]
    # the same places as the JSON report's locations
    located = sorted(
        (f["rule"], f["location"]["file"], f["location"]["line"]) for f in run.json()["findings"]
    )
    assert [(rule, line) for rule, _, line in located] == [(r, n) for r, _, n in places]
    assert {file for _, file, _ in located} == {"db/my schema.sql"}


def hook() -> dict:
    [definition] = yaml.safe_load(HOOKS.read_text())
    return definition


def test_the_pre_commit_hook_selects_changed_sql_files_but_not_down_migrations() -> None:
    definition = hook()
    assert definition["id"] == "pgvitals-review" and definition["language"] == "python"
    assert definition["entry"].split()[:2] == ["pgvitals", "review"]
    assert definition["pass_filenames"] is True

    def selected(path: str) -> bool:
        return bool(re.search(definition["files"], path)) and not re.search(
            definition["exclude"], path
        )

    assert selected("db/migrations/V3__orders.sql")
    assert selected("schema.sql")
    assert selected("migrations/20240101_orders/up.sql")
    assert not selected("db/migrations/V3__orders.down.sql")
    assert not selected("migrations/20240101_orders/down.sql")
    assert not selected("db/migrations/U3__orders.sql")
    assert not selected("sqitch/revert/orders.sql")
    assert not selected("docs/notes.md")


def test_the_pre_commit_hook_reviews_a_new_migration_on_the_earlier_ones(server, tmp_path) -> None:
    """As pre-commit runs it: the entry, the args a project gives, the changed files."""
    write(tmp_path, {
        "db/migrations/V1__init.sql": "CREATE TABLE teachers (id bigint PRIMARY KEY);\n"
                                      "CREATE TABLE old_log (at timestamptz);\n",
        "db/migrations/V2__lessons.sql": "CREATE TABLE lessons (id bigint PRIMARY KEY, "
                                         "teacher_id bigint);\n",
        "db/migrations/V3__index.sql": "CREATE INDEX lessons_teacher_id_idx "
                                       "ON lessons (teacher_id);\n",
    })  # fmt: skip
    command = hook()["entry"].split()[1:]
    args = ["--base", "db/migrations", "--server", server.dsn(), "--format", "json"]
    run = pgvitals(*command, *args, "db/migrations/V3__index.sql", cwd=tmp_path, timeout=300)
    assert run.exit_code == 1, run.stderr  # the index locks a table that holds data
    report = run.json()
    assert [(f["rule"], f["object"]) for f in report["findings"]] == [
        ("migration-index-not-concurrent", "db/migrations/V3__index.sql:1")
    ]  # the old table without a key is the earlier migrations' finding, not this commit's

    write(tmp_path, {"db/migrations/V3__index.sql": "CREATE INDEX CONCURRENTLY "
                     "lessons_teacher_id_idx ON lessons (teacher_id);\n"})  # fmt: skip
    run = pgvitals(*command, *args, "db/migrations/V3__index.sql", cwd=tmp_path, timeout=300)
    assert run.exit_code == 0, run.stderr
    assert run.json()["findings"] == []


def no_network() -> list[str] | None:
    """A command prefix that runs a program with no network at all (a network namespace
    of its own, loopback down), or None where this machine does not allow one."""
    if shutil.which("unshare") is None:
        return None
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True, check=False)
    return ["unshare", "--net", "--"] if probe.returncode == 0 else None


def test_review_works_offline_with_nothing_but_the_installed_package(tmp_path) -> None:
    """No network, not even loopback: the embedded server, the base of earlier
    migrations, the rules and squawk all run from the installed package."""
    prefix = no_network()
    if prefix is None:
        pytest.skip("network namespaces are not available here (unshare --net)")
    write(tmp_path, {
        "db/V1__init.sql": "CREATE TABLE teachers (id bigint PRIMARY KEY);\n"
                           "CREATE TABLE lessons (id bigint PRIMARY KEY, teacher_id bigint);\n",
        "V2__keys.sql": "ALTER TABLE lessons ADD FOREIGN KEY (teacher_id) REFERENCES teachers;\n",
    })  # fmt: skip
    done = subprocess.run(
        [*prefix, sys.executable, "-m", "pgvitals", "review", "V2__keys.sql", "--base", "db",
         "--format", "json"],
        capture_output=True, text=True, cwd=tmp_path, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert sorted(f["rule"] for f in report["findings"]) == [
        "migration-constraint-without-not-valid",
        "unindexed-foreign-key",
    ]
    not_for_files = ("statistics", "a review has no table rows", "deployed database")
    assert all(
        c["status"] == "ran" or any(reason in c["reason"] for reason in not_for_files)
        for c in report["checks"]
    )
