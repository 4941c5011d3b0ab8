"""Migration safety in `pgvitals review --base`: what new migrations would do to the
tables a live database already has, across files, located for code scanning, and
reported as not checked (never a crash) when squawk is missing or does not run.

Each rule's unsafe and safe forms are its YAML cases (tests/rules/cases/migration-*);
these tests run the command as a user does."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from pgvitals.review.load import COMMIT_EVERY
from pgvitals.review.safety import (
    BLOCK_RULES,
    LINTED_RULES,
    SQUAWK_VARIABLE,
    BlockChanges,
    block_hazards,
)
from tests.helpers import Run, pgvitals, valid_report
from tests.test_review import located, write

BASE = {
    "db/V1__init.sql": """\
CREATE TABLE teachers (id bigint PRIMARY KEY, name text);
CREATE TABLE "Lesson Notes" (id int PRIMARY KEY, teacher_id bigint, "ñame" varchar(40));
""",
}
NEW = {
    # a new table, and an index on it in a later file: nothing live is locked
    "new/V2__rooms.sql": "CREATE TABLE rooms (id bigint PRIMARY KEY, teacher_id bigint);\n",
    "new/V3__indexes.sql": """\
CREATE INDEX rooms_teacher_id_idx ON rooms (teacher_id);
CREATE INDEX lesson_notes_teacher_id_idx
    ON "Lesson Notes" (teacher_id);
CREATE TABEL broken (id int);
ALTER TABLE "Lesson Notes" ALTER COLUMN id TYPE bigint;
ALTER TABLE "Lesson Notes" ALTER COLUMN "ñame" TYPE text;
""",
}


def review_new(folder: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    """`pgvitals review new --base db` in `folder`."""
    return pgvitals("review", "new", "--base", "db", "--format", "json", *args, cwd=folder,
                    timeout=300, env=env)  # fmt: skip


def safety_findings(report: dict) -> list[tuple[str, str]]:
    return sorted(
        (f["rule"], located(f)) for f in report["findings"] if f["rule"].startswith("migration-")
    )


def test_new_migrations_are_judged_against_the_tables_the_base_has(server, tmp_path) -> None:
    write(tmp_path, {**BASE, **NEW})
    run = review_new(tmp_path, "--server", server.dsn(), "-o", "review.sarif", "--fail-on",
                     "high")  # fmt: skip
    assert run.exit_code == 1, run.stderr
    report = valid_report(run.json())
    # the syntax error in the middle of V3 is invalid-ddl; the statements around it are
    # still linted (squawk alone would drop the whole file's findings at that error)
    assert safety_findings(report) == [
        ("migration-index-not-concurrent", "new/V3__indexes.sql:2"),
        ("migration-table-rewrite", "new/V3__indexes.sql:5"),
    ]
    assert [f["object"] for f in report["findings"] if f["rule"] == "invalid-ddl"] == [
        "new/V3__indexes.sql:4"
    ]
    index = next(f for f in report["findings"] if f["rule"] == "migration-index-not-concurrent")
    assert index["evidence"]["tables"] == ["public.Lesson Notes"]
    assert index["evidence"]["found_by"] == "squawk require-concurrent-index-creation"
    assert "concurrently" in index["evidence"]["safe_form"].lower()
    # code scanning annotates the migration at the statement
    sarif = json.loads((tmp_path / "review.sarif").read_text())
    results = {r["ruleId"]: r for r in sarif["runs"][0]["results"]}
    assert results["migration-index-not-concurrent"]["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "new/V3__indexes.sql"},
        "region": {"startLine": 2},
    }
    rules = {r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert {"migration-index-not-concurrent", "migration-table-rewrite"} <= rules
    checks = {c["rule"]: c for c in report["checks"]}
    assert all(checks[rule]["status"] == "ran" for rule in LINTED_RULES)


# A DO block builds an index on a table the base has: PostgreSQL observes it, squawk
# cannot read it (Mattermost's migrations do this ~40 times).
BLOCK = {
    "new/V4__block.sql": """\
DO $$ BEGIN CREATE INDEX lesson_notes_id_idx ON "Lesson Notes" (id); END $$;
""",
}


def test_without_squawk_its_checks_are_skipped_with_the_reason(server, tmp_path) -> None:
    write(tmp_path, {**BASE, **NEW, **BLOCK})
    missing = tmp_path / "no-squawk-here"
    run = review_new(tmp_path, "--server", server.dsn(), env={SQUAWK_VARIABLE: str(missing)})
    assert run.exit_code == 0, run.stderr
    report = valid_report(run.json())
    reason = f"not checked: squawk not found at {missing} (${SQUAWK_VARIABLE})"
    checks = {c["rule"]: c for c in report["checks"]}
    # the rules only squawk checks were not checked at all
    for rule in LINTED_RULES - BLOCK_RULES:
        assert (checks[rule]["status"], checks[rule]["reason"]) == ("skipped", reason)
    # those PostgreSQL observes in DO blocks and CALLs ran there, and say what they
    # did not check: the plain CREATE INDEX of V3 is not reported, the block's is
    for rule in BLOCK_RULES:
        assert checks[rule]["status"] == "ran", rule
        assert checks[rule]["reason"].endswith(f"; other statements {reason}"), rule
    index_check = checks["migration-index-not-concurrent"]["reason"]
    assert index_check.startswith("only what DO blocks and CALLs did, as PostgreSQL observed")
    assert "(1 finding)" in index_check
    assert "(0 findings)" in checks["migration-drop-table"]["reason"]
    # what PostgreSQL itself observed is reported, and a reader sees what was not checked
    assert checks["migration-table-rewrite"] == {**checks["migration-table-rewrite"],
                                                 "status": "ran", "reason": None}  # fmt: skip
    assert safety_findings(report) == [
        ("migration-index-not-concurrent", "new/V4__block.sql:1"),
        ("migration-table-rewrite", "new/V3__indexes.sql:5"),
    ]
    assert reason in [entry["reason"] for entry in report["collection"]["skipped"]]
    gaps = {gap["rule"]: gap for gap in report["sections"]["gaps"]}
    assert gaps["migration-index-not-concurrent"]["status"] == "ran"
    assert gaps["migration-index-not-concurrent"]["reason"] == index_check
    assert gaps["migration-rename-table"]["reason"] == reason


def test_a_squawk_that_does_not_run_on_this_platform_is_skipped(server, tmp_path) -> None:
    write(tmp_path, {**BASE, **NEW})
    foreign = tmp_path / "squawk"
    foreign.write_bytes(b"\x7fELF\x02\x01\x01\x00not a binary for this machine")
    foreign.chmod(foreign.stat().st_mode | stat.S_IXUSR)
    run = review_new(tmp_path, "--server", server.dsn(), env={SQUAWK_VARIABLE: str(foreign)})
    assert run.exit_code == 0, run.stderr
    checks = {c["rule"]: c for c in valid_report(run.json())["checks"]}
    skipped = checks["migration-constraint-without-not-valid"]
    assert skipped["status"] == "skipped"
    assert skipped["reason"].startswith(f"not checked: {foreign} does not run here: ")
    # a rule that PostgreSQL observes in blocks ran there, and gives the same reason
    partly = checks["migration-index-not-concurrent"]
    assert partly["status"] == "ran"
    assert f"; other statements {skipped['reason']}" in partly["reason"]


def test_a_review_without_base_has_no_live_tables_to_lock(server, tmp_path) -> None:
    """Every table is created by the reviewed files themselves: nothing is locked."""
    write(tmp_path, {**BASE, **NEW})
    run = pgvitals("review", "db", "new", "--server", server.dsn(), "--format", "json",
                   cwd=tmp_path, timeout=300)  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert safety_findings(valid_report(run.json())) == []


def index_builds_reviewed(database, tmp_path: Path, migration: str) -> dict[str, dict]:
    """`review V9__indexes.sql --base <the database>`, with the size thresholds lowered
    so that "large" needs no million rows: its migration-index-not-concurrent findings
    by the table each acts on."""
    write(tmp_path, {
        "V9__indexes.sql": migration,
        "pyproject.toml": "[tool.pgvitals.rules.migration-index-not-concurrent]\n"
                          "small_rows = 100\nlarge_rows = 20000\n",
    })  # fmt: skip
    server = database.server.dsn()
    run = pgvitals("review", "V9__indexes.sql", "--base", database.dsn, "--server", server,
                   "--format", "json", cwd=tmp_path, timeout=300)  # fmt: skip
    assert run.exit_code == 0, run.stderr
    return {
        f["evidence"]["tables"][0]: f
        for f in valid_report(run.json())["findings"]
        if f["rule"] == "migration-index-not-concurrent"
    }


def test_a_live_base_weighs_each_hazard_by_the_size_of_its_table(database, tmp_path) -> None:
    """With `--base DSN` the review reads each table's size from the base's statistics:
    an index built without CONCURRENTLY on a table of a few rows holds its lock for
    milliseconds (low), on a middling one for longer (medium), on a large one as long
    as the rule says (high). Lemmy's review gave every statement high, whether it acted
    on `post` or on a one-row settings table. Thresholds lowered by config, so that
    "large" needs no million rows here."""
    database.execute(
        """
        CREATE TABLE settings (id int PRIMARY KEY, theme text);
        INSERT INTO settings SELECT g, 'dark' FROM generate_series(1, 5) g;
        CREATE TABLE comments (id int PRIMARY KEY, author_id int, body text);
        INSERT INTO comments SELECT g, g % 50, 'x' FROM generate_series(1, 3000) g;
        CREATE TABLE posts (id int PRIMARY KEY, author_id int, title text)
            PARTITION BY RANGE (id);
        CREATE TABLE posts_1 PARTITION OF posts FOR VALUES FROM (0) TO (20000);
        CREATE TABLE posts_2 PARTITION OF posts FOR VALUES FROM (20000) TO (40000);
        INSERT INTO posts SELECT g, g % 50, 't' FROM generate_series(1, 30000) g;
        """
    )
    database.execute("VACUUM ANALYZE settings, comments, posts_1, posts_2")
    found = index_builds_reviewed(database, tmp_path, "CREATE INDEX ON settings (theme);\n"
                                  "CREATE INDEX ON comments (author_id);\n"
                                  "CREATE INDEX ON posts (author_id);\n")  # fmt: skip
    assert {table: f["severity"] for table, f in found.items()} == {
        "public.settings": "low",
        "public.comments": "medium",
        "public.posts": "high",  # its partitions' rows, summed
    }
    assert found["public.posts"]["evidence"]["base_rows"] == 30000
    assert "~5 rows" in found["public.settings"]["message"]


def test_a_table_the_base_never_counted_is_weighed_by_its_live_rows(database, tmp_path) -> None:
    """A table never vacuumed or analyzed has reltuples -1 and relpages 0 in the base's
    catalog, whatever it holds: bulk-loaded with autovacuum off (here), or new and empty
    (Mattermost's translations before the feature ships). Its live rows, from the
    activity counters, tell the two apart. The review weighed the first as 0 MB and said
    low for an index built in place on 30,000 rows."""
    database.execute(
        """
        CREATE TABLE posts (id int PRIMARY KEY, author_id int, body text)
            WITH (autovacuum_enabled = off);
        INSERT INTO posts SELECT g, g % 50, repeat('x', 100) FROM generate_series(1, 30000) g;
        CREATE TABLE translations (id int PRIMARY KEY, lang text)
            WITH (autovacuum_enabled = off);
        """
    )
    found = index_builds_reviewed(database, tmp_path, "CREATE INDEX ON posts (author_id);\n"
                                  "CREATE INDEX ON translations (lang);\n")  # fmt: skip
    assert {table: f["severity"] for table, f in found.items()} == {
        "public.posts": "high",
        "public.translations": "low",
    }
    assert found["public.posts"]["evidence"]["base_rows"] == 30000
    assert found["public.posts"]["evidence"]["base_bytes"] is None
    assert "never vacuumed or analyzed" in found["public.posts"]["message"]


def test_a_required_column_on_a_table_empty_in_the_base_is_low(database, tmp_path) -> None:
    """ADD COLUMN ... NOT NULL without a default fails on a table with rows, and succeeds
    on an empty one: Mattermost's `translations` was empty in the base and the finding
    said high, as for `posts`."""
    database.execute(
        """
        CREATE TABLE posts (id int PRIMARY KEY, body text);
        INSERT INTO posts SELECT g, 'x' FROM generate_series(1, 500) g;
        CREATE TABLE translations (id int PRIMARY KEY, lang text);
        """
    )
    database.execute("VACUUM ANALYZE posts, translations")
    migration = ("ALTER TABLE posts ADD COLUMN state text NOT NULL;\n"
                 "ALTER TABLE translations ADD COLUMN state text NOT NULL;\n")  # fmt: skip
    write(tmp_path, {"V9__state.sql": migration})
    server = database.server.dsn()
    run = pgvitals("review", "V9__state.sql", "--base", database.dsn, "--server", server,
                   "--format", "json", cwd=tmp_path, timeout=300)  # fmt: skip
    assert run.exit_code == 0, run.stderr
    found = {
        f["evidence"]["tables"][0]: f["severity"]
        for f in valid_report(run.json())["findings"]
        if f["rule"] == "migration-required-column"
    }
    assert found == {"public.posts": "high", "public.translations": "low"}


def test_the_rules_said_to_run_without_squawk_are_those_blocks_report() -> None:
    # BLOCK_RULES decides which checks report "ran" without squawk: it must be exactly
    # the squawk rules that what a DO block did can produce
    one_of_each = BlockChanges(
        ["t"], [("t", "i")], [("t", "k")], [("t", "c")], [("t", "c")], [("t", "c")], ["t"]
    )
    produced = {rule for rule, *_ in block_hazards(one_of_each)}
    assert produced & LINTED_RULES == BLOCK_RULES


def long_work_reviewed(database, tmp_path: Path, migration: str) -> dict[str, dict]:
    """`review V9__backfill.sql --base <the database>`, with the size thresholds of the
    backfill and held-lock rules lowered so that "large" needs no million rows: their
    findings by rule and file:line."""
    lowered = "small_rows = 100\nlarge_rows = 20000\n"
    write(tmp_path, {
        "V9__backfill.sql": migration,
        "pyproject.toml": f"[tool.pgvitals.rules.migration-backfill-in-transaction]\n{lowered}"
                          "[tool.pgvitals.rules.migration-lock-held-during-long-statement]\n"
                          f"{lowered}",
    })  # fmt: skip
    server = database.server.dsn()
    run = pgvitals("review", "V9__backfill.sql", "--base", database.dsn, "--server", server,
                   "--format", "json", cwd=tmp_path, timeout=300)  # fmt: skip
    assert run.exit_code == 0, run.stderr
    long_rules = ("migration-backfill-in-transaction", "migration-lock-held-during-long-statement")
    return {
        f"{f['rule']} {located(f)}": f
        for f in valid_report(run.json())["findings"]
        if f["rule"] in long_rules
    }


LARGE_BASE = """
CREATE TABLE community (id int PRIMARY KEY, name text);
INSERT INTO community SELECT g, 'c' FROM generate_series(1, 50) g;
CREATE TABLE post (id int PRIMARY KEY, community_id int REFERENCES community, title text);
INSERT INTO post SELECT g, g % 50 + 1, 't' FROM generate_series(1, 3000) g;
CREATE TABLE comment (id int PRIMARY KEY, post_id int REFERENCES post, body text);
INSERT INTO comment SELECT g, g % 3000 + 1, 'b' FROM generate_series(1, 30000) g;
CREATE TABLE settings (id int PRIMARY KEY, theme text);
INSERT INTO settings SELECT g, 'dark' FROM generate_series(1, 5) g;
CREATE TABLE invites (id int PRIMARY KEY, note text);
"""


def test_a_backfill_is_weighed_by_the_rows_the_base_says_it_changes(database, tmp_path) -> None:
    """The base's planner estimates the rows a WHERE matches from the base's statistics:
    every comment (high), a WHERE on the key range that bounds a batch (not reported), a
    table of five rows (not reported), a WHERE on a column the file adds, which the base
    cannot plan (nothing bounds it: every row), a copy of a middling table (medium)."""
    database.execute(LARGE_BASE)
    database.execute("VACUUM ANALYZE community, post, comment, settings")
    found = long_work_reviewed(database, tmp_path, """\
ALTER TABLE comment ADD COLUMN community_id int;
UPDATE comment AS c SET community_id = p.community_id FROM post AS p WHERE c.post_id = p.id;
UPDATE comment SET body = 'x' WHERE id BETWEEN 1 AND 50;
UPDATE settings SET theme = 'light';
UPDATE comment SET body = '' WHERE community_id IS NULL;
CREATE TABLE post_copy (id int, title text);
INSERT INTO post_copy SELECT id, title FROM post;
""")  # fmt: skip
    backfills = {
        key: f["severity"] for key, f in found.items() if key.startswith("migration-backfill")
    }
    assert backfills == {
        "migration-backfill-in-transaction V9__backfill.sql:2": "high",
        "migration-backfill-in-transaction V9__backfill.sql:5": "high",
        "migration-backfill-in-transaction V9__backfill.sql:7": "medium",
    }
    every = found["migration-backfill-in-transaction V9__backfill.sql:2"]
    assert every["evidence"]["tables"] == ["public.comment"]
    assert every["evidence"]["work_rows"] == 30000
    assert "cannot estimate its WHERE" in " ".join(
        found["migration-backfill-in-transaction V9__backfill.sql:5"]["evidence"]["found"]
    )


def test_a_backfill_joined_on_keys_is_not_bounded_by_the_planners_join_estimate(
    database, tmp_path
) -> None:
    """umami-software/umami@c0ea3ae 05_add_visit_id: `UPDATE website_event we SET
    visit_id = a.uuid FROM (SELECT DISTINCT ... FROM website_event) a WHERE we.session_id =
    a.session_id AND date_trunc('hour', we.created_at) = a.visit_time` sets every row, under
    the ACCESS EXCLUSIVE lock its ADD COLUMN took; the planner put the join at 270 of
    54,000 rows (a default selectivity for the expression), so neither was reported. A
    WHERE made only of equalities between the updated table and the tables it joins
    bounds nothing; one that also restricts a joined table by a value still does."""
    database.execute(LARGE_BASE)
    database.execute("VACUUM ANALYZE community, post, comment, settings")
    found = long_work_reviewed(database, tmp_path, """\
ALTER TABLE comment ADD COLUMN visit text;
UPDATE comment AS we SET visit = a.visit
  FROM (SELECT DISTINCT post_id, md5(post_id::text) AS visit FROM comment) AS a
  WHERE we.post_id = a.post_id AND md5(we.post_id::text) = a.visit;
UPDATE comment AS c SET body = 'y' FROM post AS p
  WHERE c.post_id = p.id AND p.id BETWEEN 1 AND 2;
""")  # fmt: skip
    assert set(found) == {
        "migration-backfill-in-transaction V9__backfill.sql:2",
        "migration-lock-held-during-long-statement V9__backfill.sql:1",
    }
    joined = found["migration-backfill-in-transaction V9__backfill.sql:2"]
    assert joined["severity"] == "high"
    assert joined["evidence"]["work_rows"] == 30000
    assert "every row that has a match in the tables it joins" in joined["message"]


def test_a_lock_held_across_a_long_statement_is_reported_where_it_is_taken(
    database, tmp_path
) -> None:
    """Lemmy's 2026-03-19 shape: the new reference locks `community` against writes (and
    the ALTER locks `comment` against reads) until the file commits, through the backfill
    of every comment; later in the file, a lock held while five settings rows change is
    not reported, nor one held while a table empty in the base is indexed (Lemmy's
    local_user was high), nor one taken in a transaction of its own."""
    database.execute(LARGE_BASE)
    database.execute("VACUUM ANALYZE community, post, comment, settings, invites")
    found = long_work_reviewed(database, tmp_path, """\
ALTER TABLE comment ADD COLUMN community_id int REFERENCES community (id);
UPDATE comment AS c SET community_id = p.community_id FROM post AS p WHERE c.post_id = p.id;
ALTER TABLE post ADD COLUMN score int;
UPDATE settings SET theme = 'light';
CREATE INDEX ON invites (note);
COMMIT;
ALTER TABLE community ADD COLUMN rank int;
COMMIT;
UPDATE post SET score = 0;
""")  # fmt: skip
    held = {key: f for key, f in found.items() if key.startswith("migration-lock-held")}
    assert list(held) == ["migration-lock-held-during-long-statement V9__backfill.sql:1"]
    [finding] = held.values()
    assert finding["severity"] == "high"
    assert finding["evidence"]["tables"] == ["public.comment", "public.community"]
    [message] = finding["evidence"]["found"]
    assert "SHARE ROW EXCLUSIVE on public.community" in message
    assert "ACCESS EXCLUSIVE on public.comment" in message
    assert "(V9__backfill.sql:2) updates rows of public.comment" in message


def test_no_lock_is_held_across_statements_a_tool_runs_one_by_one(database, tmp_path) -> None:
    """goose runs a file in one transaction, so the reference's locks last through the
    backfill; with `-- +goose NO TRANSACTION` it runs each statement on its own, and the
    ALTER's locks are released before the UPDATE begins."""
    database.execute(LARGE_BASE)
    database.execute("VACUUM ANALYZE community, post, comment")
    body = (
        "ALTER TABLE comment ADD COLUMN community_id int REFERENCES community (id);\n"
        "UPDATE comment AS c SET community_id = p.community_id"
        " FROM post AS p WHERE c.post_id = p.id;\n"
    )
    wrapped = long_work_reviewed(database, tmp_path, "-- +goose Up\n" + body)
    assert "migration-lock-held-during-long-statement V9__backfill.sql:2" in wrapped
    apart = long_work_reviewed(
        database, tmp_path, "-- +goose Up\n-- +goose NO TRANSACTION\n" + body
    )
    assert [key for key in apart if key.startswith("migration-lock-held")] == []
    # the backfill itself is still one long transaction of its own
    assert "migration-backfill-in-transaction V9__backfill.sql:4" in apart


def test_no_lock_is_held_across_statements_of_an_icinga_db_upgrade(database, tmp_path) -> None:
    """Icinga DB applies schema/pgsql/upgrades/<version>.sql with `psql < file`: each
    statement commits on its own, so an ALTER's lock is released before the next
    statement's long work (its 1.4.0 and 1.5.2 upgrades were told they held host's lock
    through the rewrite of host_state). Recognised by the version the file records."""
    database.execute(LARGE_BASE)
    database.execute("CREATE TABLE icingadb_schema (id bigint PRIMARY KEY, version int)")
    database.execute("VACUUM ANALYZE community, post, comment")
    body = (
        "ALTER TABLE comment ADD COLUMN community_id int REFERENCES community (id);\n"
        "UPDATE comment AS c SET community_id = p.community_id"
        " FROM post AS p WHERE c.post_id = p.id;\n"
    )
    wrapped = long_work_reviewed(database, tmp_path, body)
    assert "migration-lock-held-during-long-statement V9__backfill.sql:1" in wrapped
    recorded = body + "INSERT INTO icingadb_schema (id, version) VALUES (3, 3);\n"
    apart = long_work_reviewed(database, tmp_path, recorded)
    assert [key for key in apart if key.startswith("migration-lock-held")] == []
    # the backfill itself is still one long transaction of its own
    assert "migration-backfill-in-transaction V9__backfill.sql:2" in apart


def test_a_lock_taken_just_before_the_loaders_own_commit_is_still_seen(database, tmp_path) -> None:
    """The loader commits every COMMIT_EVERY statements so a long file does not pile up
    locks; that commit is no commit of the file's. A lock taken by the statement the
    loader then commits after is held by the migration's transaction all the same, and
    the backfill the next statement does runs under it."""
    database.execute(LARGE_BASE)
    database.execute("VACUUM ANALYZE community, post, comment")
    filler = "".join(f"CREATE TABLE filler_{n} (id int);\n" for n in range(COMMIT_EVERY - 1))
    found = long_work_reviewed(database, tmp_path, filler + (
        "ALTER TABLE comment ADD COLUMN community_id int REFERENCES community (id);\n"
        "UPDATE comment AS c SET community_id = p.community_id"
        " FROM post AS p WHERE c.post_id = p.id;\n"
    ))  # fmt: skip
    taken_at = f"V9__backfill.sql:{COMMIT_EVERY}"
    held = [key for key in found if key.startswith("migration-lock-held")]
    assert held == [f"migration-lock-held-during-long-statement {taken_at}"]
    [message] = found[held[0]]["evidence"]["found"]
    assert "SHARE ROW EXCLUSIVE on public.community" in message
    assert f"(V9__backfill.sql:{COMMIT_EVERY + 1}) updates rows of public.comment" in message
