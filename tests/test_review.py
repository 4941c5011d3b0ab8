"""`pgvitals review`: SQL files and migration folders loaded into a real server, the
statements it rejects reported with what they took down, the rules run on the rest
with each finding at its file:line, and `--base` reporting only what the files change.

Most tests load into a scratch database on the session's test servers (`--server`),
which is what `--server` is for; one runs the default throwaway server end to end."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from pgvitals.demo.run import load_demo
from pgvitals.embedded import has_extension
from pgvitals.review.files import select
from pgvitals.review.load import extension_scripts
from pgvitals.review.restore import portable
from pgvitals.review.run import resolve_base
from pgvitals.review.run import review as review_files
from tests.helpers import Run, pgvitals, valid_report

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
CORPUS_NAMES = ["synapse", "pagila", "chinook", "openstreetmap", "lago", "gisia",
                "supabase_basejump"]  # fmt: skip


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def review(folder: Path, *args: str) -> Run:
    """`pgvitals review` run in `folder`, so files are shown relative to it."""
    return pgvitals("review", *args, "--format", "json", cwd=folder, timeout=300)


def findings(run: Run) -> dict[tuple[str, str], dict]:
    report = valid_report(run.json())
    return {(f["rule"], f["object"]): f for f in report["findings"]}


def invalid_ddl(run: Run) -> list[dict]:
    return [f for f in run.json()["findings"] if f["rule"] == "invalid-ddl"]


def not_checked(run: Run) -> list[dict]:
    """The report's entries for statements the server could not check."""
    return [e for e in run.json()["collection"]["skipped"] if e.get("statements_not_checked")]


def located(finding: dict) -> str:
    return f"{finding['location']['file']}:{finding['location']['line']}"


def scratch_databases(server) -> list[str]:
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        rows = admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'pgvitals_review%'"
        ).fetchall()
    return [row[0] for row in rows]


MIGRATIONS = {
    "V1__init.sql": """\
CREATE TABLE teachers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text);
CREATE TABLE lessons (
    id bigint PRIMARY KEY,
    teacher_id bigint NOT NULL REFERENCES teachers
);
CREATE INDEX lessons_teacher_id_idx ON lessons (teacher_id);
""",
    "V2__events.sql": """\
\\set ON_ERROR_STOP on
CREATE TABLE events (
    id bigint,
    happened date NOT NULL,
    PRIMARY KEY (id)
) PARTITION BY RANGE (happened);
CREATE TABLE events_2024 PARTITION OF events
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
""",
    "V2__events.down.sql": "DROP TABLE events;\n",
    "V10__notes.sql": """\
CREATE TABLE "Lesson Notes" (
    id bigint PRIMARY KEY,
    lesson_id bigint REFERENCES lessons
);
CREATE INDEX events_happened_idx ON events (happened);
""",
}


def test_a_folder_with_an_error_in_the_middle_is_reviewed_completely(server, tmp_path) -> None:
    write(tmp_path / "migrations", MIGRATIONS)
    run = review(tmp_path, "migrations", "--server", server.dsn(), "--fail-on", "high")
    assert run.exit_code == 1, run.stderr
    found = findings(run)
    rejected = found[("invalid-ddl", "migrations/V2__events.sql:2")]
    assert located(rejected) == "migrations/V2__events.sql:2"
    assert rejected["evidence"]["message"] == (
        "unique constraint on partitioned table must include all partitioning columns"
    )
    assert rejected["evidence"]["detail"] == (
        'PRIMARY KEY constraint on table "events" lacks column "happened" which is part of '
        "the partition key."
    )
    # what it took down, across files; the statements after it were still checked
    assert rejected["evidence"]["lost"] == [
        "migrations/V2__events.sql:7: CREATE TABLE events_2024 PARTITION OF events",
        "migrations/V10__notes.sql:5: CREATE INDEX events_happened_idx ON events (happened)",
    ]
    fk = found[("unindexed-foreign-key", "public.Lesson Notes.Lesson Notes_lesson_id_fkey")]
    assert located(fk) == "migrations/V10__notes.sql:1"
    assert set(found) == {
        rejected_key(rejected),
        fk_key(fk),
        ("identifier-needs-quoting", "public.Lesson Notes"),
        ("missing-comments", "public"),
    }
    reasons = [entry["reason"] for entry in run.json()["collection"]["skipped"]]
    assert "migrations/V2__events.sql:1: psql meta-command \\set ON_ERROR_STOP on" in reasons
    assert "migrations/V2__events.down.sql:1: down migration, not loaded" in reasons
    assert scratch_databases(server) == []  # the scratch database was dropped


def rejected_key(finding: dict) -> tuple[str, str]:
    return (finding["rule"], finding["object"])


fk_key = rejected_key

SCHEMA = """\
CREATE SCHEMA "Mixed Case";
CREATE TABLE "Mixed Case".teachers (id bigint PRIMARY KEY, "ñame" text);

CREATE TABLE "Mixed Case"."Weird""Name" (
    teacher_id bigint REFERENCES "Mixed Case".teachers,
    "select" int
);
CREATE INDEX weird_select_idx ON "Mixed Case"."Weird""Name" ("select");
CREATE INDEX weird_select_teacher_idx ON "Mixed Case"."Weird""Name" ("select", teacher_id);
"""

CLEAN = """\
CREATE TABLE teachers (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE lessons (id bigint PRIMARY KEY, teacher_id bigint NOT NULL REFERENCES teachers);
CREATE INDEX lessons_teacher_id_idx ON lessons (teacher_id);
COMMENT ON TABLE teachers IS 'Who teaches.';
COMMENT ON TABLE lessons IS 'What is taught, by whom.';
"""


def test_a_schema_file_gets_its_findings_at_file_line(server, tmp_path) -> None:
    write(tmp_path, {"schema.sql": SCHEMA, "clean.sql": CLEAN})
    run = review(tmp_path, "schema.sql", "--server", server.dsn())
    assert run.exit_code == 0, run.stderr
    where = {key: located(item) for key, item in findings(run).items()}
    assert where == {
        ("missing-primary-key", 'Mixed Case.Weird"Name'): "schema.sql:4",
        ("unindexed-foreign-key", 'Mixed Case.Weird"Name.Weird"Name_teacher_id_fkey'):
            "schema.sql:4",
        ("redundant-index", "Mixed Case.weird_select_idx"): "schema.sql:8",
        ("identifier-needs-quoting", "Mixed Case"): "schema.sql:1",
        ("identifier-needs-quoting", 'Mixed Case.Weird"Name'): "schema.sql:4",
        ("reserved-word-identifier", 'Mixed Case.Weird"Name.select'): "schema.sql:4",
        ("missing-comments", "Mixed Case"): "schema.sql:1",
    }  # fmt: skip
    clean = review(tmp_path, "clean.sql", "--server", server.dsn())
    assert clean.exit_code == 0, clean.stderr
    # nothing to fix, and no remark: files that use no row-level security and grant no
    # API role anything say nothing about what API roles reach (see rls-disabled)
    assert findings(clean) == {}
    # what a review cannot judge: live statistics, rows, the deployed database
    not_for_files = ("statistics", "a review has no table rows", "deployed database")
    assert all(
        c["status"] == "ran" or any(reason in c["reason"] for reason in not_for_files)
        for c in clean.json()["checks"]
    )


def test_review_runs_in_its_own_throwaway_server(tmp_path) -> None:
    """Nothing but the installed package: the default loads into an embedded server."""
    write(tmp_path, {"db/V1__events.sql": MIGRATIONS["V2__events.sql"]})
    run = pgvitals("review", "db", "-o", "review.sarif", "-o", "review.json", "--fail-on",
                   "critical", cwd=tmp_path, timeout=300)  # fmt: skip
    assert run.exit_code == 0, run.stderr
    report = valid_report(json.loads((tmp_path / "review.json").read_text()))
    assert report["target"]["mode"] == "review"
    assert [f["object"] for f in report["findings"]] == ["db/V1__events.sql:2"]
    sarif = json.loads((tmp_path / "review.sarif").read_text())
    [result] = sarif["runs"][0]["results"]
    assert result["ruleId"] == "invalid-ddl"
    assert result["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "db/V1__events.sql"},
        "region": {"startLine": 2},
    }
    assert "baselineState" not in result


PULL_REQUEST = """\
-- a foreign key without an index, and a key for a table that had none
ALTER TABLE practise_improve_pilot.chat_sessions
    ADD CONSTRAINT chat_sessions_teacher_id_fkey
    FOREIGN KEY (teacher_id) REFERENCES practise_improve_pilot.teachers (id);
ALTER TABLE public.teachers_old ADD PRIMARY KEY (id);
"""


# The same change as a migration safe to run on a live database: the constraint added
# NOT VALID and validated apart, the key attached to an index built CONCURRENTLY.
SAFE_PULL_REQUEST = """\
ALTER TABLE practise_improve_pilot.chat_sessions
    ADD CONSTRAINT chat_sessions_teacher_id_fkey
    FOREIGN KEY (teacher_id) REFERENCES practise_improve_pilot.teachers (id) NOT VALID;
ALTER TABLE practise_improve_pilot.chat_sessions VALIDATE CONSTRAINT chat_sessions_teacher_id_fkey;
CREATE UNIQUE INDEX CONCURRENTLY teachers_old_pkey ON public.teachers_old (id);
ALTER TABLE public.teachers_old ADD PRIMARY KEY USING INDEX teachers_old_pkey;
"""


def test_base_database_reports_what_a_migration_introduces_and_resolves(database, tmp_path) -> None:
    load_demo(database.dsn)
    write(tmp_path, {"pr.sql": SAFE_PULL_REQUEST, "unsafe.sql": PULL_REQUEST})
    run = review(tmp_path, "pr.sql", "--base", database.dsn, "--server", database.server.dsn(),
                 "-o", "pr.sarif")  # fmt: skip
    assert run.exit_code == 0, run.stderr
    report = valid_report(run.json())
    assert [(f["rule"], f["object"], located(f)) for f in report["findings"]] == [
        ("unindexed-foreign-key",
         "practise_improve_pilot.chat_sessions.chat_sessions_teacher_id_fkey", "pr.sql:1"),
    ]  # fmt: skip
    resolved = report["baseline"]["resolved"]
    # the new foreign key also declares the reference the base only inferred
    assert [(f["rule"], f["object"], located(f)) for f in resolved] == [
        ("missing-primary-key", "public.teachers_old", "pr.sql:6"),
        ("missing-foreign-key", "practise_improve_pilot.chat_sessions.teacher_id", "pr.sql:4"),
    ]
    # the base (pg_dump of the demo) loaded without a rejected statement
    assert not any("invalid-ddl" in str(c) for c in report["findings"])
    sarif = json.loads((tmp_path / "pr.sarif").read_text())
    assert [r["baselineState"] for r in sarif["runs"][0]["results"]] == ["new"]

    # written the plain way, the same change also locks the demo's existing tables
    run = review(tmp_path, "unsafe.sql", "--base", database.dsn, "--server",
                 database.server.dsn())  # fmt: skip
    assert run.exit_code == 0, run.stderr
    report = valid_report(run.json())
    assert sorted((f["rule"], f["object"]) for f in report["findings"]) == [
        ("migration-constraint-without-not-valid", "unsafe.sql:2"),
        ("migration-key-without-index", "unsafe.sql:5"),
        ("unindexed-foreign-key",
         "practise_improve_pilot.chat_sessions.chat_sessions_teacher_id_fkey"),
    ]  # fmt: skip
    assert [(f["rule"], located(f)) for f in report["baseline"]["resolved"]] == [
        ("missing-primary-key", "unsafe.sql:5"),
        ("missing-foreign-key", "unsafe.sql:2"),
    ]


def test_base_database_loads_whole_with_its_roles(database, tmp_path) -> None:
    """The base's dump goes to psql in one go (minutes saved at 10,000 tables), after the
    base's roles with their attributes: a role that bypasses row security still does on
    the throwaway server, rather than being made up bare when a statement names it."""
    with database.admin() as admin:
        if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = 'base_bypasser'").fetchone():
            admin.execute("CREATE ROLE base_bypasser NOLOGIN BYPASSRLS")
        admin.execute("CREATE TABLE accounts (id bigint PRIMARY KEY, owner text);"
                      "ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;"
                      "ALTER TABLE accounts OWNER TO base_bypasser")  # fmt: skip
    write(tmp_path, {"pr.sql": "CREATE TABLE notes (body text);\n"})
    reviewed = review_files(select([tmp_path / "pr.sql"]), resolve_base(database.dsn))
    # one statement stands for the whole base: none of it went one by one
    assert reviewed.new_from == 1
    assert reviewed.load.statements[0].file in reviewed.load.virtual_files
    assert reviewed.load.statements[1].file.endswith("pr.sql")
    assert reviewed.base_snapshot is not None
    roles = {role.name: role for role in reviewed.base_snapshot.roles}
    assert roles["base_bypasser"].bypassrls
    assert [(t.name, t.owner) for t in reviewed.base_snapshot.tables] == [
        ("accounts", "base_bypasser")
    ]
    assert reviewed.base_snapshot.rejected_statements == []


def test_base_database_that_psql_cannot_load_whole_is_loaded_again_one_by_one(
    database, tmp_path
) -> None:
    """On --server as a plain role, psql stops at `OWNER TO` a role the reviewer cannot
    become, after creating the tables before it: the scratch database is made anew and
    the dump loaded statement by statement, so only what really fails is reported (not
    every table again as "already exists")."""
    with database.admin() as admin:
        for role in ("plain_reviewer LOGIN CREATEDB", "base_owner NOLOGIN"):
            name = role.split()[0]
            if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone():
                admin.execute(f"CREATE ROLE {role}")
        admin.execute("CREATE TABLE first_table (id bigint PRIMARY KEY);"
                      "CREATE TABLE owned (id bigint PRIMARY KEY);"
                      "ALTER TABLE owned OWNER TO base_owner;"
                      "CREATE TABLE last_table (id bigint PRIMARY KEY)")  # fmt: skip
    write(tmp_path, {"pr.sql": "CREATE TABLE notes (body text);\n"})
    server = database.server.dsn(user="plain_reviewer")
    reviewed = review_files(select([tmp_path / "pr.sql"]), resolve_base(database.dsn), server)
    assert reviewed.new_from > 1  # the base went statement by statement
    assert reviewed.base_snapshot is not None
    # the owners a plain role cannot give away, and nothing else
    rejected = [
        r.statement.split(" OWNER TO ")[0] for r in reviewed.base_snapshot.rejected_statements
    ]
    assert rejected == [
        f"ALTER TABLE public.{name}" for name in ("first_table", "last_table", "owned")
    ]
    tables = sorted(t.name for t in reviewed.snapshot.tables)
    assert tables == ["first_table", "last_table", "notes", "owned"]
    assert scratch_databases(database.server) == []


def test_an_extension_created_in_a_do_block_is_not_checked_as_the_statement_itself(
    server, tmp_path
) -> None:
    """Temporal's visibility schema (temporalio/temporal@6805cae, v1.2/advanced_visibility.sql)
    creates btree_gin in a DO block, if missing, then builds GIN indexes that need it: on
    a server without the extension the block and those indexes are not checked, as a
    CREATE EXTENSION and what needs it are, not 19 invalid-ddl."""
    write(tmp_path, {"schema.sql": "DO LANGUAGE 'plpgsql' $$\n  BEGIN\n"
                                   "    IF NOT EXISTS (SELECT FROM pg_extension"
                                   " WHERE extname = 'pgvitals_absent_extension') THEN\n"
                                   "      CREATE EXTENSION pgvitals_absent_extension;\n"
                                   "    END IF;\n  END\n$$;\n"
                                   "CREATE TABLE uses_it (id bigint PRIMARY KEY,"
                                   " v text DEFAULT pgvitals_absent_function());\n"
                                   "CREATE TABLE \"ñame\" (id bigint PRIMARY KEY);\n"
                                   "CREATE INDEX ON uses_it (idd);\n"})  # fmt: skip
    run = review(tmp_path, "schema.sql", "--server", server.dsn())
    assert run.exit_code == 0, run.stderr
    [entry] = not_checked(run)
    # the block, the table whose default needs the extension, and the index on that table
    assert (entry["object"], entry["statements_not_checked"]) == ("schema.sql:1", 3)
    assert entry["because"] == "extension pgvitals_absent_extension unavailable on this server"
    assert [located(f) for f in invalid_ddl(run)] == []


def test_statements_the_server_cannot_check_make_the_review_incomplete(server, tmp_path) -> None:
    """What needs an extension the server lacks is not checked, and the review says so
    where it gives its result, and on the terminal when the report goes to a file or
    stdout as JSON (Lemmy's review with -o showed nothing); a --fail-on gate does not
    pass it (exit 3), as a review that checked nothing would otherwise pass green."""
    write(tmp_path, {"schema.sql": "CREATE EXTENSION pgvitals_absent_extension;\n"
                                   "CREATE TABLE uses_it (id bigint PRIMARY KEY,"
                                   " v text DEFAULT pgvitals_absent_function());\n"
                                   "CREATE TABLE plain (id bigint PRIMARY KEY);\n"})  # fmt: skip
    run = review(tmp_path, "schema.sql", "--server", server.dsn())
    assert run.exit_code == 0, run.stderr
    [entry] = not_checked(run)
    assert (entry["object"], entry["statements_not_checked"]) == ("schema.sql:1", 2)
    # with the report going elsewhere (JSON on stdout, or a file), the terminal says it too
    assert "review incomplete: 2 statements not checked" in run.stderr
    text = pgvitals("review", "schema.sql", "--server", server.dsn(), cwd=tmp_path)
    assert "2 statements not checked, as the server lacks what they need: extension " \
        "pgvitals_absent_extension unavailable on this server (schema.sql:1)" in " ".join(
            text.stdout.split())  # fmt: skip
    gate = pgvitals("review", "schema.sql", "--server", server.dsn(), "--fail-on", "critical",
                    cwd=tmp_path)  # fmt: skip
    assert gate.exit_code == 3, gate.stderr
    assert "review incomplete: 2 statements not checked" in gate.stderr


def test_a_file_that_is_not_utf8_is_not_checked_and_a_gate_does_not_pass_it(
    server, tmp_path
) -> None:
    """A migration saved in Latin-1 (an accented name in a comment) could not be read
    and was left out with a note: the review passed green, `--fail-on` too. A UTF-8
    server rejects those bytes from a UTF-8 client, as a tool that sends the file would."""
    write(tmp_path, {"1_notes.sql": "CREATE TABLE notes (id bigint PRIMARY KEY);\n"})
    (tmp_path / "2_authors.sql").write_bytes(
        b"-- Cr\xe9\xe9 par Andr\xe9\nCREATE TABLE authors (id bigint PRIMARY KEY);\n"
    )
    run = review(tmp_path, ".", "--server", server.dsn())
    assert run.exit_code == 0, run.stderr
    [entry] = not_checked(run)
    assert (entry["object"], entry["statements_not_checked"]) == ("2_authors.sql:1", 1)
    assert entry["because"] == "2_authors.sql is not UTF-8 text (bytes e9 e9 20 at line 1)"
    assert "iconv" in entry["check_instead"]
    tables = {
        s["overview"]["name"]: s["overview"]["tables"] for s in run.json()["sections"]["schemas"]
    }
    assert tables == {"public": 1}  # the readable file was reviewed
    gate = pgvitals("review", ".", "--server", server.dsn(), "--fail-on", "critical", cwd=tmp_path)
    assert gate.exit_code == 3, gate.stderr
    assert "review incomplete: 1 statement not checked, as 2_authors.sql is not UTF-8" in (
        " ".join(gate.stderr.split())
    )
    with psycopg.connect(server.dsn(), autocommit=True) as connection:
        assert connection.info.encoding == "utf-8"
        sent = connection.pgconn.exec_((tmp_path / "2_authors.sql").read_bytes())  # as is
        assert sent.status == psycopg.pq.ExecStatus.FATAL_ERROR
        assert b'invalid byte sequence for encoding "UTF8": 0xe9 0xe9' in sent.error_message


def test_constraints_on_rows_an_unchecked_update_would_have_filled_are_not_invalid(
    server, tmp_path
) -> None:
    """Documenso's migration fills `User.url` with a function of an unavailable
    extension (pgcrypto), then sets it NOT NULL and copies it into a NOT NULL column of
    another table: the UPDATE is not checked, and so are the two statements that meet
    the rows it would have filled; a NOT NULL the new row's own values break, and a
    constraint on another table, are still invalid-ddl."""
    write(tmp_path, {"m.sql": "CREATE EXTENSION pgvitals_absent_extension;\n"
                              'CREATE TABLE "User" (id int PRIMARY KEY, url text);\n'
                              "INSERT INTO \"User\" VALUES (1, NULL);\n"
                              'UPDATE "User" SET url = pgvitals_absent_function()'
                              " WHERE url IS NULL;\n"
                              'ALTER TABLE "User" ALTER COLUMN url SET NOT NULL;\n'
                              'CREATE TABLE "Team" (id int PRIMARY KEY, url text NOT NULL,'
                              ' owner int REFERENCES "User");\n'
                              'INSERT INTO "Team" SELECT id, url, id FROM "User";\n'
                              "INSERT INTO \"Team\" VALUES (2, NULL, 1);\n"
                              "CREATE TABLE other (v text);\n"
                              "INSERT INTO other VALUES (NULL);\n"
                              "ALTER TABLE other ALTER COLUMN v SET NOT NULL;\n"})  # fmt: skip
    run = review(tmp_path, "m.sql", "--server", server.dsn())
    assert run.exit_code == 0, run.stderr
    invalid = invalid_ddl(run)
    assert sorted(located(f) for f in invalid) == ["m.sql:11", "m.sql:8"]
    [entry] = not_checked(run)
    assert (entry["object"], entry["statements_not_checked"]) == ("m.sql:1", 4)


def test_a_folder_that_starts_from_a_schema_it_does_not_hold_is_not_checked(
    server, tmp_path
) -> None:
    """Tiny Tiny RSS's sql/pgsql/migrations begin at 3.sql, altering the tables of a
    version 2 no longer in the repository: reviewed alone, its 431 statements on them
    were 431 invalid-ddl findings. A table that two files use and none creates says the
    files start from a base: what fails on tables and indexes none of them creates is
    not checked, said once, and a gate does not pass it. A name one file misses, in a
    folder that holds its whole schema, is that file's misspelling."""
    write(tmp_path, {
        "later/3.sql": "ALTER TABLE feeds_g ADD COLUMN num_comments integer;\n"
                       "UPDATE feeds_g SET num_comments = 0;\n"
                       "CREATE TABLE fresh_g (id serial PRIMARY KEY);\n",
        "later/4.sql": "ALTER TABLE feeds_g ADD COLUMN private boolean;\n"
                       "DROP INDEX feeds_g_title_idx;\n"
                       "ALTER TABLE labels_g ADD COLUMN caption text;\n"
                       "ALTER TABLE fresh_g ADD COLUMN note text;\n",
        "whole/1.sql": "CREATE TABLE feeds_g (id serial PRIMARY KEY);\n",
        "whole/2.sql": "ALTER TABLE feds_g ADD COLUMN private boolean;\n",
    })  # fmt: skip
    run = review(tmp_path, "later", "--server", server.dsn())
    assert run.exit_code == 0, run.stderr
    assert invalid_ddl(run) == []
    [entry] = not_checked(run)
    assert (entry["object"], entry["statements_not_checked"]) == ("later/3.sql:1", 5)
    assert entry["because"] == (
        "the files start from a schema they do not hold: they use 3 tables and indexes none"
        " of them creates (feeds_g, feeds_g_title_idx, labels_g)"
    )
    assert "--base" in entry["check_instead"]
    tables = {
        s["overview"]["name"]: s["overview"]["tables"] for s in run.json()["sections"]["schemas"]
    }
    assert tables == {"public": 1}  # fresh_g, made and altered by the files, was reviewed
    gate = review(tmp_path, "later", "--server", server.dsn(), "--fail-on", "critical")
    assert gate.exit_code == 3, gate.stderr
    assert "review incomplete: 5 statements not checked" in gate.stderr
    whole = review(tmp_path, "whole", "--server", server.dsn())
    assert [(located(f), f["evidence"]["sqlstate"]) for f in invalid_ddl(whole)] == [
        ("whole/2.sql:1", "42P01")
    ]
    assert not_checked(whole) == []


def test_a_function_of_the_schema_a_folder_starts_from_is_not_the_files_fault(
    server, tmp_path
) -> None:
    """Immich's later migrations (immich-app/immich@6fda863), reviewed alone or with a
    saved snapshot as base: `CREATE TABLE "albums_audit" ("id" uuid DEFAULT
    immich_uuid_v7(), ...)`, the function made by the squashed initial migration, was a
    high invalid-ddl finding while the tables they alter were rightly not checked. Once
    the files start from a schema they do not hold, a function or type none of them
    creates is that schema's too; in a folder that holds its whole schema, a function
    none of its files creates is still that file's mistake."""
    write(tmp_path, {
        "later/1.sql": 'ALTER TABLE partners_f ADD "createId" uuid;\n'
                       "CREATE TABLE albums_audit_f (id uuid DEFAULT uuid_v7_f(),"
                       ' "albumId" uuid);\n'
                       "CREATE INDEX albums_audit_f_album ON albums_audit_f (\"albumId\");\n",
        "later/2.sql": 'CREATE INDEX partners_f_create_id ON partners_f ("createId");\n'
                       "CREATE TABLE stacks_f (id uuid PRIMARY KEY, kind stack_kind_f);\n",
        "whole/1.sql": "CREATE TABLE notes_f (id uuid DEFAULT uuid_v7_f());\n",
    })  # fmt: skip
    run = review(tmp_path, "later", "--server", server.dsn())
    assert run.exit_code == 0, run.stderr
    assert invalid_ddl(run) == []
    [entry] = not_checked(run)
    assert (entry["object"], entry["statements_not_checked"]) == ("later/1.sql:1", 5)
    assert entry["because"] == (
        "the files start from a schema they do not hold: they use 1 table or index none"
        " of them creates (partners_f), and 2 functions or types none of them creates"
        " (uuid_v7_f, stack_kind_f)"
    )
    whole = review(tmp_path, "whole", "--server", server.dsn())
    assert [(located(f), f["evidence"]["sqlstate"]) for f in invalid_ddl(whole)] == [
        ("whole/1.sql:1", "42883")
    ]


def test_a_misspelt_function_is_not_blamed_on_an_unavailable_extension(server, tmp_path) -> None:
    """After `CREATE EXTENSION "uuid-ossp"` fails on a server without it, a statement
    calling one of its functions is not checked, but one calling a function the
    extension does not define (its install scripts, on this machine, say so) is an
    invalid-ddl finding, as on a server that has the extension."""
    if not extension_scripts("uuid-ossp") and not has_extension(server.bin_dir, "uuid-ossp"):
        pytest.skip("no uuid-ossp scripts on this machine to tell what it defines")
    schema = ('CREATE EXTENSION "uuid-ossp";\n'
              "CREATE TABLE made (id uuid DEFAULT uuid_generate_v1());\n"
              "CREATE TABLE typo (id uuid DEFAULT uuid_generate_vl());\n")  # fmt: skip
    write(tmp_path, {"schema.sql": schema})
    run = review(tmp_path, "schema.sql", "--server", server.dsn())
    assert run.exit_code == 0, run.stderr
    invalid = invalid_ddl(run)
    assert [(located(f), f["evidence"]["sqlstate"]) for f in invalid] == [("schema.sql:3", "42883")]


def test_an_array_of_an_unavailable_extension_type_is_not_checked(server, tmp_path) -> None:
    """Sourcegraph's `transition_columns hstore[]` on a server without hstore: the error
    names the array (`type "hstore[]" does not exist`), and the extension's scripts
    define its element type, so the statement is not checked rather than invalid-ddl."""
    if has_extension(server.bin_dir, "hstore") or not extension_scripts("hstore"):
        pytest.skip("needs a server without hstore, and hstore's scripts on this machine")
    schema = ("CREATE EXTENSION hstore;\n"
              "CREATE TABLE audit_logs (id bigint PRIMARY KEY, changes hstore[]);\n")  # fmt: skip
    write(tmp_path, {"schema.sql": schema})
    run = review(tmp_path, "schema.sql", "--server", server.dsn())
    assert run.exit_code == 0, run.stderr
    assert invalid_ddl(run) == []
    [entry] = not_checked(run)
    assert (entry["object"], entry["statements_not_checked"]) == ("schema.sql:1", 2)


def test_an_index_named_after_a_table_not_checked_is_not_checked_either(server, tmp_path) -> None:
    """Boundary's 81/01_deleted_tables_and_triggers.up.sql: a DO block creates, by EXECUTE,
    `<t>_delete_time_idx` for each `*_deleted` table there is, then renames two of them.
    On a server without citext the CREATE TABLE of one was not checked, so the block made
    no index for it, and the rename missed it: invalid-ddl high, for what follows from the
    unavailable extension. A misspelt index name is still the file's own fault."""
    schema = ("CREATE EXTENSION pgvitals_absent_extension;\n"
              "CREATE TABLE \"Crédential_deleted\" (public_id absent_type PRIMARY KEY,"
              " delete_time timestamptz);\n"
              "CREATE TABLE host_deleted (public_id text PRIMARY KEY, delete_time timestamptz);\n"
              "DO $$ DECLARE t text; BEGIN\n"
              "  FOR t IN SELECT relname FROM pg_class WHERE relname LIKE '%_deleted'"
              " AND relkind = 'r' LOOP\n"
              "    EXECUTE format('CREATE INDEX %I ON %I (delete_time)',"
              " t || '_delete_time_idx', t);\n"
              "  END LOOP; END $$;\n"
              "ALTER INDEX \"Crédential_deleted_delete_time_idx\" RENAME TO cred_deleted_idx;\n"
              "ALTER INDEX host_deleted_delete_time_idx RENAME TO host_deleted_idx;\n"
              "ALTER INDEX hots_deleted_delete_time_idx RENAME TO hots_idx;\n")  # fmt: skip
    write(tmp_path, {"schema.sql": schema})
    run = review(tmp_path, "schema.sql", "--server", server.dsn())
    assert run.exit_code == 0, run.stderr
    assert [located(f) for f in invalid_ddl(run)] == ["schema.sql:10"]
    [entry] = not_checked(run)
    assert (entry["object"], entry["statements_not_checked"]) == ("schema.sql:1", 3)


def test_what_a_do_block_not_checked_would_have_made_by_execute_is_not_checked(
    server, tmp_path
) -> None:
    """Boundary's 81/01_deleted_tables_and_triggers.up.sql on a server without citext:
    its DO block, which makes a trigger and an index by EXECUTE for each `*_deleted`
    table, failed on a table whose CREATE was not checked (recording_session) and rolled
    back whole; the two `ALTER INDEX ... RENAME` after it then missed indexes no statement
    names, and were invalid-ddl high."""
    schema = ("CREATE EXTENSION pgvitals_absent_extension;\n"
              "CREATE TABLE recording (id absent_type PRIMARY KEY);\n"
              "CREATE TABLE recording_deleted (id int PRIMARY KEY, delete_time timestamptz);\n"
              "CREATE TABLE \"Host\" (id int PRIMARY KEY);\n"
              "CREATE TABLE \"Host_deleted\" (id int PRIMARY KEY, delete_time timestamptz);\n"
              "DO $$ DECLARE t text; BEGIN\n"
              "  FOR t IN SELECT relname FROM pg_class WHERE relname LIKE '%_deleted'"
              " AND relkind = 'r' ORDER BY relname LOOP\n"
              "    EXECUTE format('CREATE INDEX %I ON %I (delete_time)',"
              " t || '_delete_time_idx', t);\n"
              "    PERFORM 1 FROM recording;\n"
              "  END LOOP; END $$;\n"
              "ALTER INDEX \"Host_deleted_delete_time_idx\" RENAME TO hd_idx;\n")  # fmt: skip
    write(tmp_path, {"schema.sql": schema})
    run = review(tmp_path, "schema.sql", "--server", server.dsn())
    assert run.exit_code == 0, run.stderr
    assert [located(f) for f in invalid_ddl(run)] == []
    [entry] = not_checked(run)
    assert (entry["object"], entry["statements_not_checked"]) == ("schema.sql:1", 4)


def test_an_array_of_a_type_that_failed_is_lost_with_it(server, tmp_path) -> None:
    """`mood[]` names the type a rejected CREATE TYPE would have made: one finding, for
    the CREATE TYPE, that counts the table among the statements that failed after it."""
    schema = ("CREATE TYPE mood AS ENUM ('sad' 'ok');\n"
              "CREATE TABLE moods (id bigint PRIMARY KEY, history mood[]);\n")  # fmt: skip
    write(tmp_path, {"schema.sql": schema})
    run = review(tmp_path, "schema.sql", "--server", server.dsn())
    assert run.exit_code == 0, run.stderr
    invalid = invalid_ddl(run)
    assert [located(f) for f in invalid] == ["schema.sql:1"]
    assert "1 later statement failed because of it" in invalid[0]["message"]


def test_an_icu_collation_on_a_server_built_without_icu_is_not_checked(server, tmp_path) -> None:
    """MusicBrainz's `CREATE COLLATION musicbrainz (provider = icu, ...)` is valid DDL:
    a server built without ICU (pgserver's) rejects it with "ICU is not supported in
    this build", which is the server's lack, not the file's error. It and the tables
    and indexes that use the collation are not checked, and the review says why; a
    server with ICU loads them all."""
    schema = ("CREATE COLLATION musicbrainz (provider = icu,"
              " locale = '@colCaseFirst=lower;colNumeric=yes');\n"
              'CREATE TABLE "Weird""Name" (id bigint PRIMARY KEY,'
              ' "ñame" text COLLATE musicbrainz);\n'
              "CREATE TABLE plain (id bigint PRIMARY KEY, typo intt);\n")  # fmt: skip
    write(tmp_path, {"schema.sql": schema})
    run = review(tmp_path, "schema.sql", "--server", server.dsn())
    assert run.exit_code == 0, run.stderr
    invalid = invalid_ddl(run)
    assert [located(f) for f in invalid] == ["schema.sql:3"]  # only the real error
    with psycopg.connect(server.dsn()) as connection:
        # initdb imports ICU's locales (und-x-icu, ...) where the server has ICU
        icu = connection.execute("SELECT count(*) > 0 FROM pg_collation"
                                 " WHERE collname = 'und-x-icu'").fetchone()[0]  # fmt: skip
    unchecked = not_checked(run)
    if icu:
        assert unchecked == []
    else:
        [entry] = unchecked
        assert (entry["object"], entry["statements_not_checked"]) == ("schema.sql:1", 2)
        assert entry["because"] == "this server was built without ICU"


def test_a_do_block_that_needs_an_unavailable_extension_is_not_checked(server, tmp_path) -> None:
    """MusicBrainz's Extensions.sql creates a C function from unaccent's library in a DO
    block, and a function over it that indexes use. Where the server lacks unaccent, the
    block fails with 'could not access file "$libdir/unaccent"': it is not checked, and
    nor are the statements that need what it would have created; a server with unaccent
    loads them all."""
    schema = ("CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public;\n"
              "DO $$\nBEGIN\n"
              "  CREATE OR REPLACE FUNCTION public.immutable_unaccent(regdictionary, text)\n"
              "    RETURNS text LANGUAGE c IMMUTABLE STRICT\n"
              "    AS '$libdir/unaccent', 'unaccent_dict';\n"
              '  CREATE OR REPLACE FUNCTION public."ñame_unaccent"(text) RETURNS text\n'
              "    LANGUAGE sql IMMUTABLE STRICT AS\n"
              "  $f$ SELECT public.immutable_unaccent(regdictionary 'public.unaccent', $1) $f$;\n"
              "END\n$$;\n"
              'CREATE TABLE "Weird""Name" (id bigint PRIMARY KEY, name text);\n'
              'CREATE INDEX ON "Weird""Name" ("ñame_unaccent"(name));\n'
              "CREATE TABLE plain (id bigint PRIMARY KEY, typo intt);\n")  # fmt: skip
    write(tmp_path, {"schema.sql": schema})
    run = review(tmp_path, "schema.sql", "--server", server.dsn())
    assert run.exit_code == 0, run.stderr
    invalid = invalid_ddl(run)
    assert [located(f) for f in invalid] == ["schema.sql:14"]  # only the real error
    unchecked = not_checked(run)
    if has_extension(server.bin_dir, "unaccent"):
        assert unchecked == []
    else:
        [entry] = unchecked
        assert (entry["object"], entry["statements_not_checked"]) == ("schema.sql:1", 3)


def test_renaming_a_server_object_is_not_run_like_making_one(server, tmp_path) -> None:
    """A subscription, database or tablespace belongs to the server: making one is not
    run, and nor is renaming it, giving it an owner or a comment (which would fail on
    an object never made, as invalid-ddl); roles' renames on --server likewise."""
    schema = ("CREATE SUBSCRIPTION sub1 CONNECTION 'dbname=x' PUBLICATION p;\n"
              "ALTER SUBSCRIPTION sub1 RENAME TO sub2;\n"
              "ALTER SUBSCRIPTION sub2 OWNER TO someone;\n"
              "COMMENT ON SUBSCRIPTION sub2 IS 'copies';\n"
              "ALTER ROLE someone RENAME TO someone_else;\n"
              "CREATE TABLE kept (id bigint PRIMARY KEY);\n")  # fmt: skip
    write(tmp_path, {"schema.sql": schema})
    run = review(tmp_path, "schema.sql", "--server", server.dsn())
    assert run.exit_code == 0, run.stderr
    assert invalid_ddl(run) == []
    reasons = [entry["reason"] for entry in run.json()["collection"]["skipped"]]
    for line in (1, 2, 3, 4):
        assert any(r.startswith(f"schema.sql:{line}: acts on the whole server") for r in reasons)
    assert any(r.startswith("schema.sql:5: roles are server-wide") for r in reasons)


def test_base_folder_of_earlier_migrations(server, tmp_path) -> None:
    write(tmp_path, {
        "db/V1__init.sql": "CREATE TABLE teachers (id bigint);\n"
                           "CREATE TABLE lessons (id bigint PRIMARY KEY, teacher_id bigint);\n",
        "V2__keys.sql": "ALTER TABLE teachers ADD PRIMARY KEY (id);\n"
                        "ALTER TABLE lessons ADD FOREIGN KEY (teacher_id) REFERENCES teachers;\n",
    })  # fmt: skip
    run = review(tmp_path, "V2__keys.sql", "--base", "db", "--server", server.dsn())
    assert run.exit_code == 0, run.stderr
    report = valid_report(run.json())
    assert sorted((f["rule"], located(f)) for f in report["findings"]) == [
        # the base's tables exist on a live database: keys added in place lock them
        ("migration-constraint-without-not-valid", "V2__keys.sql:2"),
        ("migration-key-without-index", "V2__keys.sql:1"),
        # and the primary key's ACCESS EXCLUSIVE on teachers stays held, in the file's
        # transaction, while the foreign key checks every row of lessons
        ("migration-lock-held-during-long-statement", "V2__keys.sql:1"),
        ("unindexed-foreign-key", "V2__keys.sql:2"),
    ]
    assert [(f["rule"], f["object"], located(f)) for f in report["baseline"]["resolved"]] == [
        ("missing-primary-key", "public.teachers", "V2__keys.sql:1")
    ]


def test_a_branchs_folder_against_mains_reviews_what_the_branch_adds_and_flags_edits(
    server, tmp_path
) -> None:
    """`review branch/migrations --base main/migrations`, two checkouts of one folder:
    every migration was run again on top of itself (Supabase Storage's 63 files gave
    eight findings for indexes built years ago, and a plain copy 59 "already exists")."""
    earlier = {
        "V1__init.sql": "CREATE TABLE teachers (id bigint PRIMARY KEY, name text);\n",
        "V2__names.sql": "CREATE INDEX IF NOT EXISTS teachers_name_idx ON teachers (name);\n",
        "V3__rooms.sql": "CREATE TABLE rooms (id bigint PRIMARY KEY);\n",
    }
    write(tmp_path / "main", {f"migrations/{name}": text for name, text in earlier.items()})
    write(tmp_path / "branch", {
        **{f"migrations/{name}": text for name, text in earlier.items()},
        # edited since main ran it: main's text is what its databases have
        "migrations/V3__rooms.sql": "CREATE TABLE rooms (id bigint PRIMARY KEY, floor int);\n",
        "migrations/V4__lessons.sql": "CREATE INDEX teachers_id_name_idx ON teachers (id, name);\n",
    })  # fmt: skip
    run = review(
        tmp_path, "branch/migrations", "--base", "main/migrations", "--server", server.dsn()
    )
    assert run.exit_code == 0, run.stderr
    report = valid_report(run.json())
    assert sorted((f["rule"], located(f)) for f in report["findings"]) == [
        ("migration-edited", "branch/migrations/V3__rooms.sql:1"),
        ("migration-index-not-concurrent", "branch/migrations/V4__lessons.sql:1"),
    ]
    assert report["target"]["connection"].startswith("review of 1 file ")
    notes = [entry["reason"] for entry in report["collection"]["skipped"]]
    assert "main/migrations:1: 2 files the same as in the base (main/migrations), not" \
        " reviewed again" in notes  # fmt: skip


def test_base_snapshot_compares_findings_with_a_whole_schema(database, tmp_path) -> None:
    database.execute("CREATE TABLE teachers (id bigint); CREATE TABLE lessons (id bigint);")
    snapshot = tmp_path / "prod.json"
    assert pgvitals("snapshot", database.dsn, "-o", str(snapshot)).exit_code == 0
    write(tmp_path, {"structure.sql": "CREATE TABLE teachers (id bigint PRIMARY KEY);\n"
                                      "CREATE TABLE lessons (id bigint);\n"
                                      "CREATE TABLE notes (body text);\n"})  # fmt: skip
    run = review(tmp_path, "structure.sql", "--base", "prod.json", "--server", database.dsn)
    assert run.exit_code == 0, run.stderr
    report = valid_report(run.json())
    assert [f["object"] for f in report["findings"]] == ["public.notes"]
    assert [f["object"] for f in report["baseline"]["resolved"]] == ["public.teachers"]


def test_base_snapshot_is_rebuilt_for_migrations_that_alter_its_tables(database, tmp_path) -> None:
    """Immich's later migrations reviewed with --base a snapshot of the database they
    run on: the snapshot was not loaded, so they ran against an empty database and
    every finding of the base's tables (90 of them) was reported resolved, then every
    statement on them "not checked". The snapshot's schema is rebuilt first: the
    statements are checked on its tables and resolve nothing they do not change."""
    database.execute(
        "CREATE TABLE partners_g (id bigint);"  # missing-primary-key in the base
        "CREATE TABLE albums_g (id bigint PRIMARY KEY, owner_id bigint);"
    )
    snapshot = tmp_path / "prod.json"
    assert pgvitals("snapshot", database.dsn, "-o", str(snapshot)).exit_code == 0
    write(tmp_path, {"1.sql": "ALTER TABLE partners_g ADD COLUMN note text;\n",
                     "2.sql": "CREATE INDEX albums_g_owner ON albums_g (owner_id);\n"
                              "CREATE INDEX partners_g_note ON partners_g (note);\n"})  # fmt: skip
    run = review(tmp_path, "1.sql", "2.sql", "--base", "prod.json", "--server", database.dsn)
    assert run.exit_code == 0, run.stderr
    report = valid_report(run.json())
    assert report["baseline"]["resolved"] == []
    assert not_checked(run) == []
    assert {("migration-index-not-concurrent", "2.sql:1"),
            ("migration-index-not-concurrent", "2.sql:2")} <= set(findings(run))  # fmt: skip


def test_input_errors_and_unreachable_servers_have_their_exit_codes(tmp_path) -> None:
    assert pgvitals("review", cwd=tmp_path).exit_code == 2
    missing = pgvitals("review", "absent.sql", cwd=tmp_path)
    assert missing.exit_code == 2 and "absent.sql: no such file or folder" in missing.stderr
    write(tmp_path, {"a.sql": "SELECT 1;\n", "not-a-snapshot.json": "{}"})
    mistyped = pgvitals("review", "a.sql", "--base", "migrations_old", cwd=tmp_path)
    assert mistyped.exit_code == 2, mistyped.stderr
    assert "--base migrations_old: no such file or folder" in mistyped.stderr
    damaged = pgvitals("review", "a.sql", "--base", "not-a-snapshot.json", cwd=tmp_path)
    assert damaged.exit_code == 2 and "not a pgvitals-snapshot/1 file" in damaged.stderr
    unreachable = pgvitals("review", "a.sql", "--server", "host=/nonexistent port=1", cwd=tmp_path)
    assert unreachable.exit_code == 3, unreachable.stderr
    assert "cannot connect to" in unreachable.stderr


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared/corpus is not beside the checkout")
@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_corpus_schemas_load_without_invalid_ddl(server, name: str) -> None:
    """Real schemas written by others load as they are: every failure would be ours.
    Synapse on every server; the others on the embedded one, which has no contrib (the
    harder case: what needs an extension must come out as not checked)."""
    if name != "synapse" and "pgserver" not in str(server.bin_dir):
        pytest.skip("the corpus is reviewed on the embedded server (synapse on all)")
    run = review(CORPUS / name, "schema.sql", "--server", server.dsn())
    assert run.exit_code == 0, run.stderr
    found = findings(run)
    assert [key for key in found if key[0] == "invalid-ddl"] == []
    unlocated = [key for key, item in found.items() if "location" not in item]
    assert unlocated == [], unlocated
    if name == "synapse":
        # its baseline v72 has 138 tables; the rules see all of them
        assert run.json()["summary"]["tables"] == 138


def test_server_as_a_plain_role_reviews_without_locations(server, tmp_path) -> None:
    """Event triggers need a superuser: a plain role with CREATEDB still gets the
    review, its findings without file:line, and the report says why."""
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = 'plain_reviewer'").fetchone():
            admin.execute("CREATE ROLE plain_reviewer LOGIN CREATEDB")
    write(tmp_path, {"schema.sql": "CREATE ROLE pgvitals_never_created;\n"
                                   "CREATE TABLE events (id bigint, body text);\n"
                                   "COPY events TO PROGRAM 'touch never-run';\n"})  # fmt: skip
    run = review(tmp_path, "schema.sql", "--server", server.dsn(user="plain_reviewer"))
    assert run.exit_code == 0, run.stderr
    found = findings(run)
    assert ("missing-primary-key", "public.events") in found
    assert not any("location" in finding for finding in found.values())
    reasons = [entry["reason"] for entry in run.json()["collection"]["skipped"]]
    assert "locations: not recorded: event triggers need a superuser" in reasons
    assert (
        "schema.sql:1: roles are server-wide: not run on --server: "
        "CREATE ROLE pgvitals_never_created" in reasons
    )
    assert "schema.sql:3: COPY: data is not loaded: COPY events TO PROGRAM 'touch never-run'" in (
        reasons
    )
    assert scratch_databases(server) == []


def test_a_dump_leaves_out_the_column_options_its_server_set_for_itself() -> None:
    """PostgreSQL 15.20 keeps `pg_attver` on every column and pg_dump copies it; the
    bundled 16.2 rejects it ("unrecognized parameter"), so the whole base would load
    statement by statement and report each of those as rejected."""
    dump = (
        'CREATE TABLE public.a (id int, "x y" int);\n'
        "ALTER TABLE ONLY public.a ALTER COLUMN id SET (pg_attver=26488720);\n"
        'ALTER TABLE ONLY public.a ALTER COLUMN "x y" SET (n_distinct=5, pg_attver=1);\n'
        "ALTER TABLE ONLY public.a ALTER COLUMN id SET STATISTICS 5;\n"
    )
    assert portable(dump) == (
        'CREATE TABLE public.a (id int, "x y" int);\n'
        'ALTER TABLE ONLY public.a ALTER COLUMN "x y" SET (n_distinct=5);\n'
        "ALTER TABLE ONLY public.a ALTER COLUMN id SET STATISTICS 5;\n"
    )


# Prisma 5's implicit many-to-many table (trigger.dev's `_BackgroundWorkerToTaskQueue`):
# columns "A" and "B", a unique index and no primary key
PRISMA_RELATION = """\
CREATE TABLE "KTag" ("id" TEXT NOT NULL, CONSTRAINT "KTag_pkey" PRIMARY KEY ("id"));
CREATE TABLE "KPost" ("id" TEXT NOT NULL, CONSTRAINT "KPost_pkey" PRIMARY KEY ("id"));
CREATE TABLE "_KPostToKTag" ("A" TEXT NOT NULL, "B" TEXT NOT NULL);
CREATE UNIQUE INDEX "_KPostToKTag_AB_unique" ON "_KPostToKTag"("A", "B");
CREATE INDEX "_KPostToKTag_B_index" ON "_KPostToKTag"("B");
ALTER TABLE "_KPostToKTag" ADD CONSTRAINT "_KPostToKTag_A_fkey" FOREIGN KEY ("A")
    REFERENCES "KPost"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "_KPostToKTag" ADD CONSTRAINT "_KPostToKTag_B_fkey" FOREIGN KEY ("B")
    REFERENCES "KTag"("id") ON DELETE CASCADE ON UPDATE CASCADE;
"""


def test_a_prisma_migrations_folder_is_judged_as_prisma_without_its_history_table(
    server, tmp_path
) -> None:
    """Review runs no tool, so no `_prisma_migrations` is made; the migration_lock.toml
    beside the folders says Prisma runs them, and its relation table is judged as a
    `check` of the deployed database judges it (low, no fix), not as any keyless table."""
    write(tmp_path, {
        "prisma/migrations/migration_lock.toml": 'provider = "postgresql"\n',
        "prisma/migrations/20240101000000_init/migration.sql": PRISMA_RELATION,
        "plain/001_init.sql": PRISMA_RELATION,
    })  # fmt: skip
    judged, tools = {}, {}
    for folder in ("prisma/migrations", "plain"):
        run = review(tmp_path, folder, "--server", server.dsn())
        assert run.exit_code == 0, run.stderr
        judged[folder] = findings(run)[("missing-primary-key", "public._KPostToKTag")]
        tools[folder] = run.json()["sections"]["inventory"]["migrations"]
    # the fix script says where its statements belong: a new Prisma migration
    assert tools == {"prisma/migrations": ["Prisma (the reviewed migrations)"], "plain": []}
    prisma, plain = judged["prisma/migrations"], judged["plain"]
    assert (prisma["severity"], prisma["evidence"].get("prisma_relation_table")) == ("low", True)
    assert prisma["fix"] is None
    assert (plain["severity"], plain["evidence"].get("prisma_relation_table")) == ("medium", None)


def test_golang_migrate_pairs_are_known_to_review_so_the_fix_script_says_where_they_go(
    server, tmp_path
) -> None:
    """Review runs no tool, so golang-migrate's table is not made: the `.up.sql` files
    with their `.down.sql` say golang-migrate runs them (openmeterio/openmeter@7e57a39,
    Atlas-written in golang-migrate's format, atlas.sum beside them). The fix script then
    says its CONCURRENTLY statements each need a migration file of their own."""
    write(tmp_path, {
        "migrations/atlas.sum": "h1:not-checked-by-review=\n",
        "migrations/20240101000000_init.up.sql": (
            "CREATE TABLE meters (id char(26) PRIMARY KEY);\n"
            "CREATE TABLE usage (id char(26) PRIMARY KEY, meter_id char(26) REFERENCES meters);\n"
        ),
        "migrations/20240101000000_init.down.sql": "DROP TABLE usage, meters;\n",
    })  # fmt: skip
    run = review(tmp_path, "migrations", "--server", server.dsn(), "-o", "out/report.json")
    assert run.exit_code == 0, run.stderr
    report = json.loads((tmp_path / "out/report.json").read_text())
    assert report["sections"]["inventory"]["migrations"] == [
        "golang-migrate (the reviewed migrations)"
    ]
    script = (tmp_path / "out/fix.sql").read_text()
    assert "CREATE INDEX CONCURRENTLY" in script
    assert "x-multi-statement=true" in script


def test_a_reviewed_table_is_not_empty_and_unwritten_for_missing_primary_key(
    server, tmp_path
) -> None:
    """The tables a review creates are new, empty and unwritten, as any would be: that
    says nothing of the application's, so missing-primary-key stays high in a review,
    even with min_statistics_hours = 0 and an analyzed estimate of 0 rows."""
    write(
        tmp_path,
        {
            "pgvitals.toml": "min_statistics_hours = 0\n",
            "db/001.sql": "CREATE TABLE legacy (k text, v text);\nANALYZE legacy;\n",
        },
    )
    run = review(tmp_path, "db", "--server", server.dsn(), "--config", "pgvitals.toml")
    assert run.exit_code == 0, run.stderr
    found = findings(run)[("missing-primary-key", "public.legacy")]
    assert found["severity"] == "high"
    assert "empty_and_unwritten" not in found["evidence"]


def test_a_django_operation_sqlmigrate_could_not_write_is_said_to_be_unreviewed(
    server, tmp_path
) -> None:
    """`manage.py sqlmigrate` writes a RunPython operation as a comment (NetBox's
    dcim 0241): nothing of it reaches the server, and the report says so at its line
    instead of passing it over as a comment; a described SQL operation is no note."""
    write(tmp_path, {
        "sql/0240.sql": (
            "BEGIN;\n--\n-- Add field label to site\n--\n"
            "CREATE TABLE site (id bigint PRIMARY KEY, label varchar(64) NOT NULL);\nCOMMIT;\n"
        ),
        "sql/0241.sql": (
            "BEGIN;\n--\n-- Raw Python operation\n--\n"
            "-- THIS OPERATION CANNOT BE WRITTEN AS SQL\nCOMMIT;\n"
        ),
    })  # fmt: skip
    run = review(tmp_path, "sql", "--server", server.dsn())
    assert run.exit_code == 0, run.stderr
    reasons = [entry["reason"] for entry in run.json()["collection"]["skipped"]]
    unreviewed = [reason for reason in reasons if "not written as SQL" in reason]
    assert unreviewed == [
        "sql/0241.sql:2: Django operation not written as SQL (Raw Python operation): its"
        " Python was not run, so what it does is not reviewed"
    ]
