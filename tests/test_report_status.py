"""One status model in every format: a check ran, was skipped or failed, as the JSON
report says; a check that ran but could not read a table says so beside that status,
and a part that does not apply (an unpopulated materialized view has no rows) is no gap.
And the findings a rule makes on each partition of one table read as one."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import psycopg

from tests.conftest import Database
from tests.corpus import needs_corpus
from tests.helpers import not_run, pgvitals, valid_report
from tests.render.test_md_text import section, table_rows


def check(dsn: str, folder: Path) -> tuple[dict, str, str]:
    run = pgvitals(
        "check", dsn, "-o", str(folder / "r.json"), "-o", str(folder / "r.md"),
        "-o", str(folder / "r.html"),
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    report = valid_report(json.loads((folder / "r.json").read_text()))
    return report, (folder / "r.md").read_text(), (folder / "r.html").read_text()


def test_an_unpopulated_materialized_view_leaves_no_check_partial(database, tmp_path) -> None:
    """pagila and lago: a materialized view WITH NO DATA cannot be scanned, and has no
    rows to scan; no check is incomplete for it."""
    database.execute(
        "CREATE TABLE film (id int PRIMARY KEY, title text NOT NULL);"
        "INSERT INTO film SELECT g, 'film ' || g FROM generate_series(1, 50) g;"
        "CREATE MATERIALIZED VIEW film_titles AS SELECT title FROM film WITH NO DATA;"
        "ANALYZE"
    )
    report, markdown, page = check(database.dsn, tmp_path)
    assert [c for c in report["checks"] if c.get("skipped_objects")] == []
    assert not_run(report["checks"]) == []  # (the workload's, without pg_stat_statements)
    assert "film_titles" not in section(markdown, "Checks skipped or failed")
    assert "could not read" not in markdown and "could not read" not in page
    assert "partial" not in markdown.lower()


def test_a_table_a_check_could_not_read_is_reported_as_the_json_does(database, tmp_path) -> None:
    """Under a lock no read may wait for, the check still ran: "ran" in JSON, Markdown
    and HTML alike, with the table it could not read and why, in its area's reason too."""
    database.execute(
        "CREATE TABLE busy (id int, note text);"
        "INSERT INTO busy SELECT g, 'n' FROM generate_series(1, 10) g;"
        "ANALYZE"
    )
    with psycopg.connect(database.dsn) as holder:  # ACCESS EXCLUSIVE until the end
        holder.execute("LOCK TABLE busy IN ACCESS EXCLUSIVE MODE")
        run = pgvitals(
            "check", database.dsn, "--lock-timeout", "200", "-o", str(tmp_path / "r.json"),
            "-o", str(tmp_path / "r.md"), "-o", str(tmp_path / "r.html"),
        )  # fmt: skip
        holder.rollback()
    assert run.exit_code == 0, run.stderr
    report = valid_report(json.loads((tmp_path / "r.json").read_text()))
    unread = {c["rule"]: c for c in report["checks"] if c.get("skipped_objects")}
    assert unread and all(c["status"] == "ran" for c in unread.values())
    markdown = (tmp_path / "r.md").read_text()
    rows = {row[0]: row for row in table_rows(section(markdown, "Checks skipped or failed"))}
    for rule in unread:
        assert rows[f"`{rule}`"][1:] == ["ran", "could not read 1 table"]
    areas = {row[0]: row for row in table_rows(section(markdown, "Executive summary"))}
    assert re.search(r"\d+ checks? could not read 1 table", areas["Integrity"][2])
    page = (tmp_path / "r.html").read_text()
    assert "<td>ran</td><td>could not read 1 table" in page


@needs_corpus
def test_pagila_partitions_read_as_one_row_per_partitioned_table(
    corpus_copy: Callable[[str], Database], tmp_path: Path
) -> None:
    report, markdown, page = check(corpus_copy("pagila").dsn, tmp_path)
    duplicates = [f["object"] for f in report["findings"] if f["rule"] == "duplicate-index"]
    assert len(duplicates) == 6  # one per partition, each listed
    text = section(markdown, "Other findings")
    group = text.split("— `duplicate-index` (6 objects)")[1].split("\n#### ")[0]
    (row,) = table_rows(group)[2:]  # one row for the six
    assert row[0].startswith("`public.payment (6 partitions)`: ")
    assert all(name in row[0] for name in duplicates)
    assert "public.payment (6 partitions)" in page
    assert "Indexes take 0 bytes" not in markdown  # sizes unknown: not zero
