"""`pgvitals review` runs Liquibase's formatted SQL changelogs as Liquibase does
(review/liquibase.py): only the changesets for PostgreSQL, each in a transaction of its
own unless `runInTransaction:false`, each cut into statements by Liquibase's own splitter.
Each behaviour here was checked against Liquibase 4.28.1 on PostgreSQL 15."""

from __future__ import annotations

from pathlib import Path

from pgvitals.review import files, liquibase
from pgvitals.review.runners import APART, ONE_QUERY, TRANSACTION, units, wrapping
from pgvitals.review.split import split_file
from tests.test_review import invalid_ddl, located, review, write

FUNCTION = """\
--liquibase formatted sql

--changeset t:1
CREATE TABLE lbt_items (id bigint PRIMARY KEY, n int);
CREATE FUNCTION lbt_touch() RETURNS trigger AS $$
DECLARE
  k int;
BEGIN
  IF NEW.n > 0 THEN
    k := 1;
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
--rollback DROP TABLE lbt_items;
"""


def sent(text: str, label: str) -> list[str]:
    """The statements Liquibase sends for the changeset `label`, stripped."""
    changelog = liquibase.parse(text)
    assert changelog is not None
    [changeset] = [c for c in changelog.changesets if c.label == label]
    masked = liquibase.masked(text)  # its --rollback lines out
    return [masked[p.start : p.stop].strip() for p in liquibase.pieces(text, changeset)]


def test_only_a_file_whose_first_line_is_the_header_is_a_changelog() -> None:
    assert liquibase.is_formatted("\n\n--Liquibase formatted SQL\n--changeset a:1\nSELECT 1;")
    assert liquibase.is_formatted("-- liquibase formatted sql\n")
    assert not liquibase.is_formatted("-- a comment\n--liquibase formatted sql\n")
    assert not liquibase.is_formatted("CREATE TABLE x (id int);\n")


def test_a_plpgsql_body_is_cut_at_its_declare_and_after_end_if() -> None:
    """Liquibase's tokenizer knows no dollar quotes: it cuts at `;` outside BEGIN ... END,
    and `END IF` closes the BEGIN as `END` does. Liquibase 4.28.1 fails this file with
    'Unterminated dollar quote started at position 39 in SQL CREATE FUNCTION lbt_touch()
    ... DECLARE k int'."""
    assert sent(FUNCTION, "t:1") == [
        "CREATE TABLE lbt_items (id bigint PRIMARY KEY, n int)",
        "CREATE FUNCTION lbt_touch() RETURNS trigger AS $$\nDECLARE\n  k int",
        "BEGIN\n  IF NEW.n > 0 THEN\n    k := 1;\n  END IF",
        "RETURN NEW",
        "END",
        "$$ LANGUAGE plpgsql",
    ]


def test_split_statements_false_and_an_end_delimiter_send_a_body_whole() -> None:
    text = FUNCTION.replace("--changeset t:1", "--changeset t:1 splitStatements:false")
    assert sent(text, "t:1") == [
        text[text.index("CREATE TABLE") : text.index("--rollback")].strip()
    ]
    slash = FUNCTION.replace("--changeset t:1", "--changeset t:1 endDelimiter:/")
    slash = slash.replace("n int);\n", "n int)\n/\n")
    assert [piece.split("\n")[0] for piece in sent(slash, "t:1")] == [
        "CREATE TABLE lbt_items (id bigint PRIMARY KEY, n int)",
        "CREATE FUNCTION lbt_touch() RETURNS trigger AS $$",
    ]


def test_a_body_with_begin_and_end_only_is_cut_after_end() -> None:
    """A body of BEGIN ... END with no DECLARE and no END IF is not cut inside; the `;`
    after its END still cuts before the closing `$$`."""
    text = (
        "--liquibase formatted sql\n--changeset t:2\n"
        "CREATE FUNCTION one() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql;\n"
    )
    assert sent(text, "t:2") == [
        "CREATE FUNCTION one() RETURNS int AS $$ BEGIN RETURN 1; END",
        "$$ LANGUAGE plpgsql",
    ]
    quoted = (
        "--liquibase formatted sql\n--changeset t:3\nSELECT 'a;b' AS \"c;d\"; -- e;f\nSELECT 2;\n"
    )
    assert [piece.split("\n")[-1] for piece in sent(quoted, "t:3")] == [
        "SELECT 'a;b' AS \"c;d\"",
        "SELECT 2",
    ]


def test_changesets_split_where_liquibase_splits_them() -> None:
    """A changeset's SQL ends at the next `--changeset` line with or without `;`;
    what comes before the first changeset, and a changeset whose dbms leaves PostgreSQL
    out, are not run (Liquibase 4.28.1 records no row for the latter)."""
    text = (
        "--liquibase formatted sql\n"
        "CREATE TABLE before_any (id int);\n"
        "--changeset t:1\n"
        "CREATE TABLE a (id int)\n"
        "--changeset t:2 dbms:h2,oracle\n"
        "CREATE TABLE b (id int);\n"
        "--changeset t:3 dbms:!h2\n"
        "CREATE TABLE c (id int)\n"
        "--changeset t:4 dbms:postgresql\n"
        "CREATE TABLE d (id int);\n"
    )
    split = split_file(text, "x.sql")
    assert [s.text.strip().rstrip(";") for s in split.statements] == [
        "CREATE TABLE a (id int)",
        "CREATE TABLE c (id int)",
        "CREATE TABLE d (id int)",
    ]
    assert [note.text for note in split.notes] == [
        "before the first changeset: Liquibase does not run it, not loaded (lines 1-2)",
        "changeset t:2 is for dbms h2,oracle: Liquibase skips it on PostgreSQL, not loaded"
        " (lines 5-6)",
    ]


def test_each_changeset_is_a_transaction_unless_it_says_run_in_transaction_false() -> None:
    text = (
        "--liquibase formatted sql\n"
        "--changeset t:1\n"
        "CREATE TABLE a (id int);\n"
        "CREATE INDEX CONCURRENTLY a_id ON a (id);\n"
        "--changeset t:2 runInTransaction:false\n"
        "CREATE INDEX CONCURRENTLY a_id2 ON a (id);\n"
        "--changeset t:3 runInTransaction:false splitStatements:false\n"
        "CREATE INDEX CONCURRENTLY a_id3 ON a (id); VACUUM a;\n"
    )
    statements = split_file(text, "x.sql").statements
    path = Path("x.sql")
    modes = [(unit.mode, unit.recognised_by) for unit in units(path, text, statements)]
    assert [mode for mode, _ in modes] == [TRANSACTION, APART, ONE_QUERY, APART, ONE_QUERY]
    runners = wrapping(path, text, statements)
    assert [r.tool if r else None for r in runners] == [
        "Liquibase", "Liquibase", None, "Liquibase", "Liquibase"
    ]  # fmt: skip
    assert "runInTransaction:false" in runners[1].fix
    assert runners[1].runs == "in one transaction per changeset"
    assert runners[3].runs.startswith("as one query string of 2 statements")


def test_review_fails_what_liquibase_fails_and_loads_its_opt_outs(server, tmp_path) -> None:
    """Liquibase 4.28.1 fails changeset t:1 (the cut body) and t:3 (an index built
    CONCURRENTLY in the changeset's transaction); the others run."""
    write(tmp_path, {
        "changelog/001_items.sql": FUNCTION,
        "changelog/002_more.sql": """\
--liquibase formatted sql

--changeset t:2 splitStatements:false
CREATE FUNCTION lbt_two() RETURNS int AS $$
DECLARE k int;
BEGIN k := 2; RETURN k; END;
$$ LANGUAGE plpgsql;

--changeset t:3
CREATE INDEX CONCURRENTLY lbt_items_n ON lbt_items (n);

--changeset t:4 runInTransaction:false
CREATE INDEX CONCURRENTLY lbt_items_id_n ON lbt_items (id, n);

--changeset t:5 dbms:mysql
CREATE TABLE lbt_items (id int) ENGINE=InnoDB;

--changeset t:6
ALTER TABLE lbt_items ADD COLUMN a int
--changeset t:7
ALTER TABLE lbt_items ADD COLUMN b int
""",
    })  # fmt: skip
    run = review(tmp_path, "changelog", "--server", server.dsn())
    found = {located(f): f["evidence"] for f in invalid_ddl(run)}
    assert set(found) == {"changelog/001_items.sql:5", "changelog/002_more.sql:10"}
    body = found["changelog/001_items.sql:5"]
    assert body["sqlstate"] == "42601"  # unterminated dollar-quoted string
    assert "cuts this statement at line 7" in body["runner"]["runs"]
    assert "splitStatements:false" in body["runner"]["fix"]
    index = found["changelog/002_more.sql:10"]
    assert index["sqlstate"] == "25001"
    assert index["runner"]["tool"] == "Liquibase"
    assert "runInTransaction:false" in index["runner"]["fix"]
    skipped = {e["object"]: e["reason"] for e in run.json()["collection"]["skipped"]}
    assert "dbms mysql" in skipped["changelog/002_more.sql:15"]


def test_a_lock_one_changeset_takes_is_released_before_the_next(server, tmp_path) -> None:
    """Liquibase commits each changeset: the ALTER's lock is not held while the next
    changeset builds an index, as it is where both are in one changeset."""
    base = (
        "--liquibase formatted sql\n--changeset t:0\n"
        "CREATE TABLE lbt_builds (id bigint PRIMARY KEY, s text);\n"
    )
    change = (
        "--changeset t:1\nALTER TABLE lbt_builds ADD COLUMN foo text NOT NULL DEFAULT '';\n"
        "--changeset t:2\nCREATE INDEX lbt_builds_foo ON lbt_builds (foo);\n"
    )
    header = "--liquibase formatted sql\n"
    one_changeset = change.replace("--changeset t:2\n", "")
    write(tmp_path, {"base/000.sql": base, "apart/000.sql": base, "together/000.sql": base,
                     "apart/001.sql": header + change,
                     "together/001.sql": header + one_changeset})  # fmt: skip
    apart = review(tmp_path, "apart", "--base", "base", "--server", server.dsn())
    together = review(tmp_path, "together", "--base", "base", "--server", server.dsn())
    assert apart.exit_code == together.exit_code == 0, apart.stderr + together.stderr
    held = "migration-lock-held-during-long-statement"
    assert [located(f) for f in together.json()["findings"] if f["rule"] == held] == [
        "together/001.sql:3"
    ]
    assert [f for f in apart.json()["findings"] if f["rule"] == held] == []


MASTER_XML = """\
<?xml version="1.0" encoding="UTF-8"?>
<databaseChangeLog xmlns="http://www.liquibase.org/xml/ns/dbchangelog">
    <includeAll path="/changes/tables" relativeToChangelogFile="true"/>
    <include file="db/changelog/changes/rows.yaml"/>
</databaseChangeLog>
"""
ROWS_YAML = """\
databaseChangeLog:
  - include:
      file: data/1_rows.sql
      relativeToChangelogFile: true
"""


def test_the_master_changelog_orders_the_files_and_leaves_out_the_others(tmp_path) -> None:
    """LucaVas/recruiter's db.changelog-master.xml runs changesets/functions, then
    tables, then bootstrap (includeAll: the files under a path, sorted as strings);
    loaded in natural order, bootstrap's INSERTs came first and failed. A file no
    changelog includes is not run by Liquibase."""
    header = "--liquibase formatted sql\n--changeset t:{}\n"
    write(tmp_path, {
        "resources/db/changelog/db.changelog-master.xml": MASTER_XML,
        "resources/db/changelog/changes/rows.yaml": ROWS_YAML,
        "resources/db/changelog/changes/data/1_rows.sql":
            header.format("rows") + "INSERT INTO lbt_teachers VALUES (1);\n",
        "resources/db/changelog/changes/tables/b/1_teachers.sql":
            header.format("teachers") + "CREATE TABLE lbt_teachers (id int PRIMARY KEY);\n",
        "resources/db/changelog/changes/tables/a10_schools.sql":
            header.format("schools") + "CREATE TABLE lbt_schools (id int PRIMARY KEY);\n",
        "resources/db/changelog/changes/tables/a9_rooms.sql":
            header.format("rooms") + "CREATE TABLE lbt_rooms (id int REFERENCES lbt_schools);\n",
        "resources/db/changelog/changes/unused.sql": "CREATE TABLE lbt_unused (id int);\n",
    })  # fmt: skip
    selection = files.select([tmp_path / "resources/db/changelog"])
    assert [Path(source.shown).name for source in selection.files] == [
        "a10_schools.sql",  # "a10" < "a9" < "b/": as strings, not naturally
        "a9_rooms.sql",
        "1_teachers.sql",
        "1_rows.sql",
    ]
    [(unused, why)] = selection.not_run_by_tool.items()
    assert unused.endswith("changes/unused.sql")
    assert why == "not included by db.changelog-master.xml: Liquibase does not run it, not loaded"
    # the folder above it, as `review src/main/resources/db` gives it
    above = files.select([tmp_path / "resources/db"])
    assert [source.shown for source in above.files] == [s.shown for s in selection.files]


def test_a_changelog_the_branch_adds_changesets_to_is_not_an_edit(server, tmp_path) -> None:
    """Liquibase tracks changesets, not files: one the base ran, unchanged (whitespace
    aside), is not run again; a new one runs, and so does one marked runOnChange that
    changed. Liquibase 4.28.1 runs t:2 and t:3 on a database at the base, and refuses
    the update ("Validation Failed: 1 changesets check sum") where t:1 was edited."""
    base = (
        "--liquibase formatted sql\n"
        "--changeset t:1\nCREATE TABLE lbt_hosts (id bigint PRIMARY KEY, name text);\n"
        "--changeset t:3 runOnChange:true\n"
        "CREATE OR REPLACE VIEW lbt_names AS SELECT name FROM lbt_hosts;\n"
    )
    branch = (
        base.replace(
            "(id bigint PRIMARY KEY, name text);", "(id bigint PRIMARY KEY,  name text);"
        ).replace("SELECT name FROM", "SELECT name, id FROM")
        + "--changeset t:2\nCREATE INDEX CONCURRENTLY lbt_hosts_name ON lbt_hosts (name);\n"
    )
    write(tmp_path, {"base/changes.sql": base, "branch/changes.sql": branch})
    run = review(tmp_path, "branch", "--base", "base", "--server", server.dsn())
    assert run.exit_code == 0, run.stderr
    rules = sorted((f["rule"], located(f)) for f in run.json()["findings"])
    assert rules == [("invalid-ddl", "branch/changes.sql:7")]  # t:2's index, in its transaction
    skipped = {e["object"]: e["reason"] for e in run.json()["collection"]["skipped"]}
    assert "changesets t:1 ran at the base" in skipped["branch/changes.sql:1"]
    # an edit of a changeset the base ran is one
    edited = branch.replace("name text);", "name text NOT NULL);")
    write(tmp_path, {"branch/changes.sql": edited})
    run = review(tmp_path, "branch", "--base", "base", "--server", server.dsn())
    assert [f["rule"] for f in run.json()["findings"]] == ["migration-edited"]


def test_a_changeset_whose_precondition_fails_with_mark_ran_is_skipped(server, tmp_path) -> None:
    """The common guard: `--preconditions onFail:MARK_RAN` and a sql-check that the object
    is not there yet. Where an earlier file made the table, Liquibase 4.28.1 marks t:2 ran
    without running it, skips t:3 (onFail:CONTINUE: not recorded, tried again next time)
    and runs t:4; with onFail:HALT (the default) it would stop instead."""
    guard = (
        "--preconditions onFail:MARK_RAN\n"
        "--precondition-sql-check expectedResult:0 SELECT count(*) FROM"
        " information_schema.tables WHERE table_name = 'lbt_guarded'\n"
    )
    write(tmp_path, {
        "changelog/1_first.sql": "--liquibase formatted sql\n--changeset t:1\n"
            "CREATE TABLE lbt_guarded (id int);\n",
        "changelog/2_again.sql": "--liquibase formatted sql\n--changeset t:2\n" + guard
            + "CREATE TABLE lbt_guarded (id int);\n"
            "--changeset t:3\n--preconditions onFail:CONTINUE onError:HALT\n"
            "--precondition-table-exists table:lbt_missing\n"
            "CREATE INDEX ON lbt_missing (id);\n"
            "--changeset t:4\n" + guard.replace("lbt_guarded", "lbt_other")
            + "CREATE TABLE lbt_other (id int);\n",
    })  # fmt: skip
    run = review(tmp_path, "changelog", "--server", server.dsn())
    assert run.exit_code == 0, run.stderr
    assert invalid_ddl(run) == []
    skipped = {e["object"]: e["reason"] for e in run.json()["collection"]["skipped"]}
    assert "its precondition sql-check gives 1, not 0" in skipped["changelog/2_again.sql:2"]
    assert "onFail:CONTINUE" in skipped["changelog/2_again.sql:6"]
    assert "changelog/2_again.sql:10" not in skipped  # lbt_other is not there yet: it runs


def test_a_run_always_changeset_of_a_changelog_the_base_ran_runs_again(server, tmp_path) -> None:
    """Liquibase runs a runAlways changeset on every update: in a changelog the base holds
    unchanged, it still runs, and an ADD COLUMN without IF NOT EXISTS fails there
    (Liquibase 4.28.1: 'column "note" of relation "lbt_hosts" already exists')."""
    text = (
        "--liquibase formatted sql\n"
        "--changeset t:1\nCREATE TABLE lbt_hosts (id bigint PRIMARY KEY);\n"
        "--changeset t:2 runAlways:true\nALTER TABLE lbt_hosts ADD COLUMN note text;\n"
    )
    write(tmp_path, {"base/changes.sql": text, "branch/changes.sql": text})
    run = review(tmp_path, "branch", "--base", "base", "--server", server.dsn())
    found = {located(f): f["evidence"]["message"] for f in invalid_ddl(run)}
    assert found == {"branch/changes.sql:5": 'column "note" of relation "lbt_hosts" already exists'}


def test_a_plain_sql_file_the_master_includes_is_one_changeset_in_a_transaction(
    server, tmp_path
) -> None:
    """Liquibase 4.28.1 runs an included file without the formatted SQL header as one
    changeset: whole (a function body is not cut), in a transaction, where CREATE INDEX
    CONCURRENTLY fails."""
    write(tmp_path, {
        "changelog/master.yaml": "databaseChangeLog:\n"
            "  - include:\n      file: plain.sql\n      relativeToChangelogFile: true\n"
            "  - include:\n      file: plain2.sql\n      relativeToChangelogFile: true\n",
        "changelog/plain.sql": "CREATE TABLE lbt_plain (id int);\n"
            "CREATE FUNCTION lbt_f() RETURNS int AS $$\nDECLARE k int;\n"
            "BEGIN k := 1; RETURN k; END;\n$$ LANGUAGE plpgsql;\n",
        "changelog/plain2.sql": "CREATE INDEX CONCURRENTLY lbt_plain_id ON lbt_plain (id);\n",
    })  # fmt: skip
    run = review(tmp_path, "changelog", "--server", server.dsn())
    found = {located(f): f["evidence"] for f in invalid_ddl(run)}
    assert set(found) == {"changelog/plain2.sql:1"}
    runner = found["changelog/plain2.sql:1"]["runner"]
    assert runner["tool"] == "Liquibase"
    assert runner["recognised_by"] == "a plain SQL file master.yaml includes"
    assert "runInTransaction:false" in runner["fix"]


PROPERTIES = """\
--liquibase formatted sql
--property name:schema value:lbt_app
--property name:schema value:ignored
--changeset t:1
CREATE SCHEMA ${schema};
CREATE TABLE ${schema}."Weird""Users" (id bigint PRIMARY KEY, tier text DEFAULT '${tier}');
--changeset t:2
CREATE TABLE ${schema}.lbt_owned (id bigint, db text DEFAULT '${database.typeName}');
COMMENT ON TABLE ${schema}.lbt_owned IS 'owned by ${owner}';
--changeset t:3
CREATE TABLE ${tenant}.lbt_tenant_rows (id bigint);
CREATE INDEX lbt_tenant_rows_id ON ${tenant}.lbt_tenant_rows (id);
"""


def test_liquibase_properties_are_replaced_and_the_unknown_ones_not_checked(
    server, tmp_path
) -> None:
    """Liquibase replaces `${name}` in a changeset's SQL (ChangeLogParameters): by a
    value given outside the changelogs (liquibase.properties' `parameter.<name>`), else
    by the master's `<property>` and the changelog's `--property` lines, the first one
    set winning (for PostgreSQL: a `dbms` that names another is not); `database.typeName`
    is its own. `${schema}.users` failed review as invalid-ddl. A name review finds no
    value for (given at deploy by `-D`, the environment) is left, and what fails on it
    is not checked, not reported as a deploy failure."""
    write(tmp_path, {
        "db/changelog/db.changelog-master.xml": MASTER_PROPERTIES_XML,
        "db/changelog/liquibase.properties": "parameter.tier=gold\nchangelogFile=x\n",
        "db/changelog/changes/1_users.sql": PROPERTIES,
    })  # fmt: skip
    expanded = liquibase.expanded(tmp_path / "db/changelog/changes/1_users.sql", PROPERTIES)
    assert (
        'CREATE TABLE lbt_app."Weird""Users" (id bigint PRIMARY KEY, tier text DEFAULT \'gold\');'
        in expanded.text
    )
    assert "db text DEFAULT 'postgresql'" in expanded.text
    assert "IS 'owned by lbt_owner_z'" in expanded.text  # the master's <property>
    assert expanded.unknown == ["tenant"]
    run = review(tmp_path, "db/changelog", "--server", server.dsn())
    assert run.exit_code == 0, run.stderr
    assert invalid_ddl(run) == []
    skipped = run.json()["collection"]["skipped"]
    unchecked = {e["object"]: e for e in skipped if e.get("statements_not_checked")}
    assert sorted(unchecked) == [
        "db/changelog/changes/1_users.sql:11",
        "db/changelog/changes/1_users.sql:12",
    ]
    assert all("${tenant}" in entry["because"] for entry in unchecked.values())
    replaced = " ".join(e["reason"] for e in skipped)
    assert "${schema} (its `--property` line 2)" in replaced
    assert "${tier} (liquibase.properties)" in replaced


MASTER_PROPERTIES_XML = """\
<?xml version="1.0" encoding="UTF-8"?>
<databaseChangeLog xmlns="http://www.liquibase.org/xml/ns/dbchangelog">
  <property name="tier" value="silver"/>
  <property name="tier" value="bronze" dbms="oracle"/>
  <property name="owner" value="lbt_owner_z"/>
  <include file="changes/1_users.sql" relativeToChangelogFile="true"/>
</databaseChangeLog>
"""
