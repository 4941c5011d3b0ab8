"""`pgvitals review` knows which migration tool runs a file and whether in one
transaction: a statement that cannot run in a transaction block loads as psql runs
it, but fails where the tool wraps the file, unless the file carries the tool's
opt-out (review/runners.py). Each tool's folder here has a file that fails at deploy
and one that opts out; the deploy failure itself is shown by running the files the
way the tool runs them on a real server."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from pgvitals.review.runners import (
    APART,
    ONE_QUERY,
    TRANSACTION,
    flyway_non_transactional,
    tool_of,
    units,
    wrapping,
)
from pgvitals.review.split import split_file
from tests.test_review import invalid_ddl, located, review, write

# Per tool: the files of a tiny migration folder. The first file of each fails at
# deploy (`expect`); the others carry the opt-out, or are not recognised, and load.
TOOLS: dict[str, dict[str, str]] = {
    "goose": {
        "goose/00001_teachers.sql": """\
-- +goose Up
CREATE TABLE goose_teachers (id bigint PRIMARY KEY, name text);
CREATE INDEX CONCURRENTLY goose_teachers_name_idx ON goose_teachers (name);

-- +goose Down
DROP TABLE goose_teachers;
""",
        "goose/00002_index.sql": """\
-- +goose NO TRANSACTION
-- +goose Up
CREATE INDEX CONCURRENTLY goose_teachers_id_name_idx ON goose_teachers (id, name);
VACUUM goose_teachers;
-- the index the rejected statement builds still loaded: nothing is lost to it
COMMENT ON INDEX goose_teachers_name_idx IS 'by name';
""",
    },
    "sql-migrate": {
        "sql-migrate/1_desks.sql": """\
-- +migrate Up
CREATE TABLE sqlmigrate_desks (id bigint PRIMARY KEY, label text);
CREATE INDEX CONCURRENTLY sqlmigrate_desks_label_idx ON sqlmigrate_desks (label);

-- +migrate Down
DROP TABLE sqlmigrate_desks;
""",
        "sql-migrate/2_index.sql": """\
-- +migrate Up notransaction
CREATE INDEX CONCURRENTLY sqlmigrate_desks_id_label_idx ON sqlmigrate_desks (id, label);

-- +migrate Down
DROP INDEX sqlmigrate_desks_id_label_idx;
""",
    },
    "dbmate": {
        "dbmate/20240101000000_lessons.sql": """\
-- migrate:up
CREATE TABLE dbmate_lessons (id bigint PRIMARY KEY, title text);
CREATE INDEX CONCURRENTLY dbmate_lessons_title_idx ON dbmate_lessons (title);

-- migrate:down
DROP TABLE dbmate_lessons;
""",
        "dbmate/20240102000000_index.sql": """\
-- migrate:up transaction:false
CREATE INDEX CONCURRENTLY dbmate_lessons_id_title_idx ON dbmate_lessons (id, title);

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY dbmate_lessons_id_title_idx;
""",
    },
    "Diesel": {
        "diesel/2024-01-01-000000_rooms/up.sql": """\
CREATE TABLE diesel_rooms (id bigint PRIMARY KEY, name text);
CREATE INDEX CONCURRENTLY diesel_rooms_name_idx ON diesel_rooms (name);
""",
        "diesel/2024-01-01-000000_rooms/down.sql": "DROP TABLE diesel_rooms;\n",
        "diesel/2024-01-02-000000_index/up.sql": (
            "CREATE INDEX CONCURRENTLY diesel_rooms_id_name_idx ON diesel_rooms (id, name);\n"
        ),
        "diesel/2024-01-02-000000_index/down.sql": "DROP INDEX diesel_rooms_id_name_idx;\n",
        "diesel/2024-01-02-000000_index/metadata.toml": "run_in_transaction = false\n",
    },
    "sqlx": {
        "sqlx/Cargo.toml": '[dependencies]\nsqlx = { version = "0.8", features = ["postgres"] }\n',
        "sqlx/migrations/20240101000000_courses.sql": """\
CREATE TYPE sqlx_level AS ENUM ('basic');
ALTER TYPE sqlx_level ADD VALUE 'advanced';
CREATE TABLE sqlx_courses (id bigint PRIMARY KEY, level sqlx_level DEFAULT 'advanced');
""",
        "sqlx/migrations/20240102000000_index.sql": """\
-- no-transaction
CREATE INDEX CONCURRENTLY sqlx_courses_level_idx ON sqlx_courses (level);
""",
    },
    "morph": {
        "morph/000001_rooms.up.sql": """\
CREATE TABLE morph_rooms (id bigint PRIMARY KEY, name text);
CREATE INDEX CONCURRENTLY morph_rooms_name_idx ON morph_rooms (name);
""",
        "morph/000001_rooms.down.sql": "DROP TABLE morph_rooms;\n",
        "morph/000002_index.up.sql": """\
-- morph:nontransactional
CREATE INDEX CONCURRENTLY morph_rooms_id_name_idx ON morph_rooms (id, name);
""",
        "morph/000002_index.down.sql": "DROP INDEX morph_rooms_id_name_idx;\n",
    },
    "golang-migrate": {
        "golang-migrate/1_grades.up.sql": """\
BEGIN;
CREATE TABLE gm_grades (id bigint PRIMARY KEY, mark int);
COMMIT;
CREATE INDEX CONCURRENTLY gm_grades_mark_idx ON gm_grades (mark);
""",
        "golang-migrate/1_grades.down.sql": "DROP TABLE gm_grades;\n",
        "golang-migrate/2_index.up.sql": (
            "CREATE INDEX CONCURRENTLY gm_grades_id_mark_idx ON gm_grades (id, mark);\n"
        ),
        "golang-migrate/2_index.down.sql": "DROP INDEX gm_grades_id_mark_idx;\n",
    },
    "pop": {
        # Ory's popx: the .postgres. file in a transaction; .autocommit without one
        "pop/20240101000000_rooms.postgres.up.sql": """\
CREATE TABLE pop_rooms (id bigint PRIMARY KEY, name text);
CREATE INDEX CONCURRENTLY pop_rooms_name_idx ON pop_rooms (name);
""",
        "pop/20240101000000_rooms.postgres.down.sql": "DROP TABLE pop_rooms;\n",
        "pop/20240102000000_index.postgres.autocommit.up.sql": (
            "CREATE INDEX CONCURRENTLY pop_rooms_id_name_idx ON pop_rooms (id, name);\n"
        ),
    },
    "Prisma Migrate": {
        # Prisma 6 sends migration.sql as one query string: a new enum value used by the
        # next statement is used in the transaction that added it (trigger.dev's folders
        # add a value in one migration and use it in a later one)
        "prisma-app/package.json": '{"devDependencies": {"prisma": "^6.14.0"}}\n',
        "prisma-app/prisma/migrations/migration_lock.toml": 'provider = "postgresql"\n',
        "prisma-app/prisma/migrations/20240101000000_init/migration.sql": """\
-- CreateEnum
CREATE TYPE "PrismaRunStatus" AS ENUM ('PENDING');
-- AlterEnum
ALTER TYPE "PrismaRunStatus" ADD VALUE 'QUEUED';
-- CreateTable
CREATE TABLE "PrismaRun" ("id" TEXT PRIMARY KEY, "status" "PrismaRunStatus" DEFAULT 'QUEUED');
""",
        "prisma-app/prisma/migrations/20240102000000_index/migration.sql": """\
-- CreateIndex
CREATE INDEX CONCURRENTLY "PrismaRun_status_idx" ON "PrismaRun"("status");
""",
    },
    "Flyway": {
        # Flyway runs a file of statements it thinks transactional in one transaction:
        # REINDEX TABLE CONCURRENTLY is not on its list, PostgreSQL refuses it there
        "java-app/flyway.conf": "flyway.locations=filesystem:db/migration\n",
        "java-app/db/migration/V1__terms.sql": """\
CREATE TABLE flyway_terms (id bigint PRIMARY KEY, name text);
CREATE INDEX flyway_terms_name_idx ON flyway_terms (name);
REINDEX TABLE CONCURRENTLY flyway_terms;
""",
        # only statements on Flyway's list: it runs the file without a transaction
        "java-app/db/migration/V2__index.sql": """\
CREATE INDEX CONCURRENTLY flyway_terms_id_name_idx ON flyway_terms (id, name);
VACUUM flyway_terms;
""",
    },
    "Atlas": {
        "atlas/atlas.sum": "h1:not-checked-by-review=\n",
        "atlas/20240101000000_terms.sql": """\
-- a term of the school year
CREATE TABLE atlas_terms (id bigint PRIMARY KEY, name text);
CREATE INDEX CONCURRENTLY atlas_terms_name_idx ON atlas_terms (name);
""",
        "atlas/20240102000000_index.sql": """\
-- atlas:txmode none

CREATE INDEX CONCURRENTLY atlas_terms_id_name_idx ON atlas_terms (id, name);
""",
    },
    "postgres-migrations": {
        # a COMMIT inside a DO block fails in the transaction the tool opens
        "postgres-migrations/0001-buckets.sql": """\
CREATE TABLE pgm_buckets (id bigint PRIMARY KEY, name text);
DO $$
BEGIN
  UPDATE pgm_buckets SET name = lower(name);
  COMMIT;
END
$$;
""",
        # batched, a commit per batch, as Supabase Storage's 0029-create-prefixes.sql
        "postgres-migrations/0002-backfill.sql": """\
-- postgres-migrations disable-transaction
DO $$
BEGIN
  FOR batch IN 0..1 LOOP
    UPDATE pgm_buckets SET name = upper(name) WHERE id % 2 = batch;
    COMMIT;
  END LOOP;
END
$$;
""",
    },
}

# file:line of each statement that fails at deploy, with its tool and SQLSTATE
EXPECTED = {
    "goose/00001_teachers.sql:3": ("goose", "25001"),
    "sql-migrate/1_desks.sql:3": ("sql-migrate", "25001"),
    "dbmate/20240101000000_lessons.sql:3": ("dbmate", "25001"),
    "diesel/2024-01-01-000000_rooms/up.sql:2": ("Diesel", "25001"),
    "sqlx/migrations/20240101000000_courses.sql:3": ("sqlx", "55P04"),
    "morph/000001_rooms.up.sql:2": ("morph", "25001"),
    "golang-migrate/1_grades.up.sql:4": ("golang-migrate", "25001"),
    "atlas/20240101000000_terms.sql:3": ("Atlas", "25001"),
    "pop/20240101000000_rooms.postgres.up.sql:2": ("pop", "25001"),
    "java-app/db/migration/V1__terms.sql:3": ("Flyway", "25001"),
    "prisma-app/prisma/migrations/20240101000000_init/migration.sql:6": (
        "Prisma Migrate",
        "55P04",
    ),
    "postgres-migrations/0001-buckets.sql:2": ("postgres-migrations", "2D000"),
}

# Not recognised as any tool's: loaded as psql runs them, as before.
UNRECOGNISED = {
    "plain/V1__sessions.sql": """\
CREATE TABLE plain_sessions (id bigint PRIMARY KEY, started date);
CREATE INDEX CONCURRENTLY plain_sessions_started_idx ON plain_sessions (started);
""",
    "plain/1_notes.up.sql": """\
CREATE TABLE plain_notes (id bigint PRIMARY KEY, body text);
CREATE INDEX CONCURRENTLY plain_notes_body_idx ON plain_notes (body);
""",
    # a COMMIT inside a DO block: psql runs it outside a transaction, and so does review
    "plain/2_notes_backfill.sql": """\
DO $$
BEGIN
  UPDATE plain_notes SET body = trim(body);
  COMMIT;
END
$$;
""",
}


def test_each_tool_that_wraps_a_file_fails_it_at_deploy_unless_it_opts_out(
    server, tmp_path
) -> None:
    for files in TOOLS.values():
        write(tmp_path, files)
    write(tmp_path, UNRECOGNISED)
    run = review(tmp_path, ".", "--server", server.dsn(), "--fail-on", "high")
    assert run.exit_code == 1, run.stderr
    found = {located(f): f for f in invalid_ddl(run)}
    assert {where: (f["evidence"]["runner"]["tool"], f["evidence"]["sqlstate"])
            for where, f in found.items()} == EXPECTED  # fmt: skip
    goose = found["goose/00001_teachers.sql:3"]
    assert goose["evidence"]["message"] == (
        "CREATE INDEX CONCURRENTLY cannot run inside a transaction block"
    )
    assert goose["evidence"]["runner"]["runs"] == "in one transaction"
    assert "-- +goose NO TRANSACTION" in goose["evidence"]["runner"]["fix"]
    assert "no longer atomic" in goose["evidence"]["runner"]["fix"]
    assert goose["message"].startswith("goose runs goose/00001_teachers.sql in one transaction")
    assert goose["evidence"]["lost"] == []  # it loaded as psql runs it: nothing depends on it
    golang = found["golang-migrate/1_grades.up.sql:4"]["evidence"]["runner"]
    assert golang["runs"].startswith("as one query string of 4 statements")


@pytest.mark.parametrize("tool", list(EXPECTED.values()), ids=[t for t, _ in EXPECTED.values()])
def test_a_file_run_as_its_tool_runs_it_fails_and_its_opt_out_loads(
    database, tmp_path, tool
) -> None:
    """The deploy failure, on a real server: the failing file run the tool's way (one
    transaction, or one query string) is rejected with the error the review reports;
    the files with the opt-out run the tool's way load."""
    name, sqlstate = tool
    files = TOOLS[name]
    write(tmp_path, files)
    ordered = sorted(p for p in files if p.endswith(".sql") and "down" not in Path(p).name)
    with psycopg.connect(database.dsn, autocommit=True) as connection:
        failing, *opting_out = ordered
        path = tmp_path / failing
        text = path.read_text()
        split = split_file(text, failing)  # its down section blanked
        [unit] = units(path, text)
        statements = [s.text for s in split.statements]
        with pytest.raises(psycopg.Error) as rejected:
            run_as_tool(connection, unit.mode, split.text, statements)
        assert rejected.value.sqlstate == sqlstate
        # what ran before the failure stays where the file commits part way (golang-migrate's
        # own BEGIN ... COMMIT); the review loads the file as psql runs it: each statement alone
        connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        for statement in statements:
            connection.execute(statement)
        for opting in opting_out:
            path = tmp_path / opting
            text = path.read_text()
            split = split_file(text, opting)
            assert wrapping(path, text, split.statements) == [None] * len(split.statements)
            found = units(path, text, split.statements)
            mode = found[0].mode if found else None
            run_as_tool(connection, mode, split.text, [s.text for s in split.statements])


def run_as_tool(
    connection: psycopg.Connection, mode: str | None, text: str, statements: list[str]
) -> None:
    """TRANSACTION: the statements in one transaction (goose and Atlas send them one by
    one, dbmate, Diesel, sqlx and morph the file at once: the same transaction block).
    ONE_QUERY: the file as one query string (a query without parameters goes by the
    simple query protocol, as lib/pq, pgx, sqlx and tokio-postgres send it). APART (goose
    NO TRANSACTION, Atlas txmode none) or None: the statements one by one outside a
    transaction."""
    if mode == TRANSACTION:
        with connection.transaction():
            for statement in statements:
                connection.execute(statement)
    elif mode == ONE_QUERY:
        connection.execute(text)
    else:
        for statement in statements:
            connection.execute(statement)


def test_postgresql_runs_a_query_string_of_several_statements_as_one_transaction(
    database,
) -> None:
    """What golang-migrate, and sqlx, morph, dbmate and Diesel without a transaction,
    rely on: one statement alone in a query string runs outside a transaction block;
    with others, even after a COMMIT in the same string, it is inside one."""
    with psycopg.connect(database.dsn, autocommit=True) as connection:
        connection.execute("CREATE TABLE t (x int)")
        connection.execute("-- alone\nCREATE INDEX CONCURRENTLY t_x_idx ON t (x);")
        for text in (
            "SELECT 1; CREATE INDEX CONCURRENTLY t_x2_idx ON t (x);",
            "CREATE INDEX CONCURRENTLY t_x3_idx ON t (x); SELECT 1;",
            "BEGIN; SELECT 1; COMMIT; CREATE INDEX CONCURRENTLY t_x4_idx ON t (x);",
        ):
            with pytest.raises(psycopg.errors.ActiveSqlTransaction):
                connection.execute(text)


def test_a_tool_not_recognised_and_its_own_transaction_control_load_as_psql_runs_them(
    tmp_path,
) -> None:
    write(tmp_path, UNRECOGNISED)
    write(tmp_path, {"goose/1_x.sql": "-- +goose Up\nBEGIN;\nSELECT 1;\nCOMMIT;\nVACUUM;\n",
                     "sqlx/migrations/1_x.sql": "VACUUM;\nSELECT 1;\n"})  # fmt: skip
    for name in [*UNRECOGNISED, "goose/1_x.sql", "sqlx/migrations/1_x.sql"]:
        path = tmp_path / name
        text = path.read_text()
        split = split_file(text, name)
        assert wrapping(path, text, split.statements) == [None] * len(split.statements), name


def test_a_dbmate_block_without_a_transaction_still_fails_with_other_statements(
    tmp_path,
) -> None:
    text = (
        "-- migrate:up\nCREATE TABLE a (x int);\n"
        "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY a_x ON a (x);\nSELECT 1;\n"
        "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY a_y ON a (x);\n"
    )
    write(tmp_path, {"20240101_x.sql": text})
    split = split_file(text, "20240101_x.sql")
    runners = wrapping(tmp_path / "20240101_x.sql", text, split.statements)
    assert [r.runs if r else None for r in runners] == [
        "in one transaction",
        "as one query string of 2 statements, which PostgreSQL runs as one implicit transaction",
        "as one query string of 2 statements, which PostgreSQL runs as one implicit transaction",
        None,
    ]


@pytest.mark.parametrize(
    ("up", "down", "begin", "end"),
    [
        ("-- +goose NO TRANSACTION\n-- +goose Up", "-- +goose Down", "-- +goose StatementBegin",
         "-- +goose StatementEnd"),
        ("-- +migrate Up notransaction", "-- +migrate Down", "-- +migrate StatementBegin",
         "-- +migrate StatementEnd"),
    ],
)  # fmt: skip
def test_a_statement_block_without_a_transaction_is_still_one_query_string(
    tmp_path, up, down, begin, end
) -> None:
    """goose's NO TRANSACTION (sql-migrate's notransaction) runs each statement on its own,
    but a StatementBegin ... StatementEnd block is one statement to the tool: one Exec, one
    query string, one implicit transaction where it holds several (OpenFGA's goose folder
    builds its indexes CONCURRENTLY under NO TRANSACTION). A block of one statement, and
    statements outside blocks, run alone; the down section's blocks are not run."""
    text = (
        f"{up}\n{begin}\nCREATE INDEX CONCURRENTLY a_x ON a (x);\n"
        "CREATE INDEX CONCURRENTLY a_y ON a (y);\n"
        f"{end}\n{begin}\nCREATE INDEX CONCURRENTLY a_z\n  ON a (z);\n{end}\n"
        "VACUUM a;\nSELECT 1;\n"
        f"{down}\n"
        f"{begin}\nDROP INDEX CONCURRENTLY a_x;\nDROP INDEX CONCURRENTLY a_y;\n{end}\n"
    )
    write(tmp_path, {"1_x.sql": text})
    split = split_file(text, "1_x.sql")
    runners = wrapping(tmp_path / "1_x.sql", text, split.statements)
    assert [s.text for s in split.statements] == [
        "CREATE INDEX CONCURRENTLY a_x ON a (x)",
        "CREATE INDEX CONCURRENTLY a_y ON a (y)",
        "CREATE INDEX CONCURRENTLY a_z\n  ON a (z)",
        "VACUUM a",
        "SELECT 1",
    ]
    block = "as one query string of 2 statements, which PostgreSQL runs as one implicit transaction"
    assert [r.runs if r else None for r in runners] == [block, block, None, None, None]
    assert f"a `{begin}` ... `{end}` block of its own" in runners[0].fix


@pytest.mark.parametrize(
    ("files", "reviewed", "tool"),
    [
        ({"crate/Cargo.toml": "[dependencies]\nsqlx = '0.8'\n"},
         "crate/migrations/2_x.sql", "sqlx"),
        ({"mig/1_a.up.sql": "-- morph:nontransactional\nSELECT 1;\n"}, "mig/2_x.up.sql", "morph"),
        ({"m/2024-01-01-000000_x/metadata.toml": "run_in_transaction = false\n"},
         "m/2024-01-01-000000_x/up.sql", "Diesel"),
    ],
)  # fmt: skip
def test_an_opt_out_with_other_statements_is_still_one_implicit_transaction(
    tmp_path, files, reviewed, tool
) -> None:
    marker = {"sqlx": "-- no-transaction\n", "morph": "-- morph:nontransactional\n"}
    text = (
        marker.get(tool, "") + "CREATE TABLE a (x int);\nCREATE INDEX CONCURRENTLY a_x ON a (x);\n"
    )
    write(tmp_path, {**files, reviewed: text})
    split = split_file(text, reviewed)
    runners = wrapping(tmp_path / reviewed, text, split.statements)
    assert [(r.tool, r.runs) if r else None for r in runners] == [(
        tool,
        "as one query string of 2 statements, which PostgreSQL runs as one implicit transaction",
    )] * 2  # fmt: skip


# Flyway's PostgreSQL parser runs these outside a transaction (flyway/flyway@c5e20fc,
# PostgreSQLParser.detectCanExecuteInTransaction), and only these
FLYWAY_LIST = [
    ("CREATE DATABASE school", True),
    ("DROP TABLESPACE archive", True),
    ("CREATE SUBSCRIPTION s CONNECTION 'dbname=x' PUBLICATION p", True),
    ("ALTER SYSTEM SET work_mem = '8MB'", True),
    ('CREATE UNIQUE INDEX CONCURRENTLY "Weird""Name" ON "Mixed Case" (id)', True),
    ("DROP INDEX CONCURRENTLY IF EXISTS ñame_idx", True),
    ("REINDEX SCHEMA public", True),
    ("VACUUM (ANALYZE) terms", True),
    ("DISCARD ALL", True),
    ("REINDEX TABLE CONCURRENTLY terms", False),
    ("ALTER TABLE terms DETACH PARTITION terms_2024 CONCURRENTLY", False),
    ("ALTER TYPE mood ADD VALUE 'ok'", False),  # only before PostgreSQL 12
    ("ANALYZE terms", False),
    ("DISCARD PLANS", False),
    ("CREATE INDEX terms_name_idx ON terms (name)", False),
    ("DROP INDEX terms_name_idx", False),
]


@pytest.mark.parametrize(("statement", "outside"), FLYWAY_LIST)
def test_flyway_runs_outside_a_transaction_what_its_own_list_names(statement, outside) -> None:
    [parsed] = split_file(statement + ";\n", "V1__x.sql").statements
    assert flyway_non_transactional(parsed.node) is outside


MIXED = """\
CREATE TABLE grades (id bigint PRIMARY KEY, mark int);
CREATE INDEX CONCURRENTLY grades_mark_idx ON grades (mark);
ALTER TABLE grades ADD COLUMN note text;
"""


def test_flyway_refuses_a_file_that_mixes_both_kinds_unless_told_to_mix(server, tmp_path) -> None:
    """Flyway parses a file before it runs it and refuses one that holds a statement on
    its non-transactional list and one not on it, unless `mixed` is set (flyway-core
    ParserSqlScript.parse, flyway/flyway@c5e20fc; Flyway itself cannot be run here): the
    file is reported at the statement Flyway names, with no SQLSTATE. A file of one kind
    only, a project that sets `mixed` (in its config or in code), a script whose own
    .conf decides, and the same files where nothing shows Flyway, are not."""
    write(tmp_path, {
        "school/flyway.toml": '[flyway]\nlocations = ["filesystem:db"]\n',
        "school/db/V1__grades.sql": MIXED,
        "school/db/V2__index.sql": "CREATE INDEX CONCURRENTLY grades_id_idx ON grades (id);\n",
        "school/db/V3__column.sql": "ALTER TABLE grades ADD COLUMN term int;\n",
        "school/db/V4__scripted.sql": MIXED.replace("grades", "scripted"),
        "school/db/V4__scripted.sql.conf": "executeInTransaction=false\n",
        "spring/pom.xml": "<artifactId>flyway-core</artifactId>\n",
        "spring/src/main/resources/application.yml": "spring:\n  flyway:\n    mixed: true\n",
        "spring/src/main/resources/db/migration/V1__grades.sql": MIXED,
        "coded/build.gradle": "implementation 'org.flywaydb:flyway-core:10.0.0'\n",
        "coded/src/main/java/Migrate.java": "Flyway.configure().mixed(true).load();\n",
        "coded/src/main/resources/db/migration/V1__grades.sql": MIXED,
        "refinery/V1__grades.sql": MIXED,
    })  # fmt: skip
    for folder in ("school/db", "spring/src/main/resources/db/migration",
                   "coded/src/main/resources/db/migration", "refinery"):  # fmt: skip
        run = review(tmp_path, folder, "--server", server.dsn())
        assert run.exit_code == 0, run.stderr
        found = invalid_ddl(run)
        if folder != "school/db":
            assert found == [], folder
            continue
        [finding] = found
        assert located(finding) == "school/db/V1__grades.sql:2"
        evidence = finding["evidence"]
        assert evidence["sqlstate"] == ""
        assert evidence["message"].startswith(
            "Detected both transactional and non-transactional statements"
        )
        runner = evidence["runner"]
        assert runner["tool"] == "Flyway"
        assert "flyway.toml" in runner["recognised_by"]
        assert "split the file" in runner["fix"] and "mixed = true" in runner["fix"]
        assert "no longer atomic" in runner["fix"]
        assert finding["message"].startswith("Flyway runs school/db/V1__grades.sql in one")
        assert "it refuses this one at `CREATE INDEX CONCURRENTLY" in finding["message"]


# Concourse (concourse/concourse@95872ce): each up migration in a transaction of its own,
# the SQL file by one Exec; its Go migrations beside them tell its folder from
# golang-migrate's, which would run a lone statement outside any transaction block
CONCOURSE = {
    "atc/migrations/1510262030_jobs.up.sql": (
        'CREATE TABLE "cc jobs" (id bigint PRIMARY KEY, "ñame" text);\n'
    ),
    "atc/migrations/1510262030_jobs.down.sql": 'DROP TABLE "cc jobs";\n',
    "atc/migrations/1516643303_tags.up.go": (
        "package migrations\n\nfunc (m *migrations) Up_1516643303() error {\n\treturn nil\n}\n"
    ),
    "atc/migrations/1517000000_index.up.sql": (
        'CREATE INDEX CONCURRENTLY cc_jobs_name_idx ON "cc jobs" ("ñame");\n'
    ),
    "atc/migrations/1517000000_index.down.sql": "DROP INDEX cc_jobs_name_idx;\n",
}


def test_concourse_runs_each_migration_in_a_transaction(server, database, tmp_path) -> None:
    write(tmp_path, CONCOURSE)
    run = review(tmp_path, "atc", "--server", server.dsn())
    [found] = invalid_ddl(run)
    assert located(found) == "atc/migrations/1517000000_index.up.sql:1"
    assert found["evidence"]["sqlstate"] == "25001"
    runner = found["evidence"]["runner"]
    assert (runner["tool"], runner["runs"]) == ("Concourse", "in one transaction")
    assert "no opt-out" in runner["fix"]
    # without a Go migration of Concourse's, the folder is golang-migrate's: the lone
    # statement runs outside a transaction block and loads
    (tmp_path / "atc/migrations/1516643303_tags.up.go").unlink()
    plain = tmp_path / "plain"
    (tmp_path / "atc").rename(plain)
    assert invalid_ddl(review(tmp_path, "plain", "--server", server.dsn())) == []
    # the deploy failure: the file as Concourse's runMigration sends it, one Exec in a
    # transaction (a query without arguments goes by the simple query protocol, as pgx sends it)
    with psycopg.connect(database.dsn, autocommit=True) as connection:
        connection.execute((plain / "migrations/1510262030_jobs.up.sql").read_text())
        text = (plain / "migrations/1517000000_index.up.sql").read_text()
        with pytest.raises(psycopg.Error) as rejected:
            run_as_tool(connection, TRANSACTION, text, [text])
        assert rejected.value.sqlstate == "25001"


# sql-migrate files with their own COMMIT and BEGIN inside the tool's transaction
# (heroiclabs/nakama migrate/sql/20260319134532-add-display-name-index.sql commits the
# tool's transaction, builds its index CONCURRENTLY, then opens one for the tool to commit)
OWN_COMMIT = {
    "nakama/1_users.sql": """\
-- +migrate Up
CREATE TABLE nk_users (id uuid PRIMARY KEY, display_name text);
COMMIT;
CREATE INDEX CONCURRENTLY nk_users_display_name_idx ON nk_users (display_name);
BEGIN;

-- +migrate Down
DROP TABLE nk_users;
""",
    "nakama/2_index.sql": """\
-- +migrate Up
CREATE TABLE nk_groups (id uuid PRIMARY KEY, name text);
CREATE INDEX CONCURRENTLY nk_groups_name_idx ON nk_groups (name);
COMMIT;
BEGIN;

-- +migrate Down
DROP TABLE nk_groups;
""",
}


def test_a_statement_before_the_files_own_commit_is_inside_the_tools_transaction(
    server, database, tmp_path
) -> None:
    """Before the file's first COMMIT the tool's transaction is still open: an index built
    CONCURRENTLY there fails at deploy (it was not checked, the whole file being left to
    psql's way); after the COMMIT it runs outside any block, and loads."""
    write(tmp_path, OWN_COMMIT)
    run = review(tmp_path, "nakama", "--server", server.dsn())
    [found] = invalid_ddl(run)
    assert located(found) == "nakama/2_index.sql:3"
    assert found["evidence"]["sqlstate"] == "25001"
    runner = found["evidence"]["runner"]
    assert (runner["tool"], runner["runs"]) == (
        "sql-migrate",
        "in one transaction, up to the file's own transaction control",
    )
    # the deploy, as sql-migrate runs a file: BEGIN, each statement of the up section
    # (the file's COMMIT and BEGIN among them), then its own COMMIT
    with psycopg.connect(database.dsn, autocommit=True) as connection:
        for name, fails in (("nakama/1_users.sql", False), ("nakama/2_index.sql", True)):
            text = (tmp_path / name).read_text()
            split = split_file(text, name)
            connection.execute("BEGIN")
            try:
                for statement in split.statements:
                    connection.execute(statement.text)
                connection.execute("COMMIT")
            except psycopg.Error as rejected:
                assert fails and rejected.sqlstate == "25001", name
                connection.execute("ROLLBACK")
            else:
                assert not fails, name


SQLX_CRATE = '[dependencies]\nsqlx = { version = "0.8", features = ["postgres"] }\n'


def test_building_an_index_in_place_names_the_tools_opt_out_where_it_wraps_the_file(
    tmp_path,
) -> None:
    """atuin's 20230315224203_create-deleted.sql builds an index on `history` without
    CONCURRENTLY. "Use concurrently" alone fails at deploy there: sqlx runs the file in a
    transaction, where CREATE INDEX CONCURRENTLY is refused, so the finding names the
    opt-out; a file that already opts out is told nothing more."""
    first = 'CREATE TABLE "Weird""Name" (id bigint PRIMARY KEY, "ñame" text, host text);\n'
    write(tmp_path, {
        "base/Cargo.toml": SQLX_CRATE,
        "base/migrations/1_history.sql": first,
        "crate/Cargo.toml": SQLX_CRATE,
        "crate/migrations/1_history.sql": first,
        "crate/migrations/2_deleted.sql": (
            'ALTER TABLE "Weird""Name" ADD COLUMN deleted_at timestamptz;\n'
            'CREATE INDEX "Weird""Name_deleted_idx" ON "Weird""Name" (deleted_at);\n'
        ),
        "crate/migrations/3_host.sql": (
            '-- no-transaction\nCREATE INDEX "Weird""Name_host_idx" ON "Weird""Name" (host);\n'
        ),
    })  # fmt: skip
    run = review(tmp_path, "crate/migrations", "--base", "base/migrations")
    found = {
        located(f): f["evidence"]
        for f in run.json()["findings"]
        if f["rule"] == "migration-index-not-concurrent"
    }
    assert set(found) == {"crate/migrations/2_deleted.sql:2", "crate/migrations/3_host.sql:2"}
    wrapped = found["crate/migrations/2_deleted.sql:2"]["safe_form"]
    assert "CONCURRENTLY cannot run in a transaction block: sqlx runs this file" in wrapped
    assert "make `-- no-transaction` the first line of a migration file" in wrapped
    assert "sqlx" not in found["crate/migrations/3_host.sql:2"]["safe_form"]


def test_building_an_index_in_place_in_a_prisma_6_migration_names_a_migration_of_its_own(
    tmp_path,
) -> None:
    """trigger.dev's 20240704170301_scope_idempotency_key_to_task_identifier drops and
    builds unique indexes on TaskRun in one migration.sql: Prisma 6.14 sends it as one
    query string, so "use concurrently" alone fails at deploy; a migration of the index
    alone needs nothing more."""
    lock = 'provider = "postgresql"\n'
    first = 'CREATE TABLE "TaskRun" ("id" TEXT PRIMARY KEY, "spanId" TEXT, "ñame" TEXT);\n'
    write(tmp_path, {
        "package.json": '{"devDependencies": {"prisma": "6.14.0"}}\n',
        "base/migration_lock.toml": lock,
        "base/20240101000000_init/migration.sql": first,
        "new/migration_lock.toml": lock,
        "new/20240101000000_init/migration.sql": first,
        "new/20240102000000_span/migration.sql": (
            'ALTER TABLE "TaskRun" ADD COLUMN "traceId" TEXT;\n'
            'CREATE INDEX "TaskRun_spanId_idx" ON "TaskRun"("spanId");\n'
        ),
        "new/20240103000000_name/migration.sql": (
            'CREATE INDEX "TaskRun_name_idx" ON "TaskRun"("ñame");\n'
        ),
    })  # fmt: skip
    run = review(tmp_path, "new", "--base", "base")
    found = {
        located(f): f["evidence"]["safe_form"]
        for f in run.json()["findings"]
        if f["rule"] == "migration-index-not-concurrent"
    }
    assert set(found) == {
        "new/20240102000000_span/migration.sql:2",
        "new/20240103000000_name/migration.sql:1",
    }
    wrapped = found["new/20240102000000_span/migration.sql:2"]
    assert "cannot run in a transaction block: Prisma Migrate runs this file" in wrapped
    assert "move the statement to a migration of its own" in wrapped
    assert "Prisma" not in found["new/20240103000000_name/migration.sql:1"]


@pytest.mark.parametrize(
    ("spec", "one_query"),
    [("6.14.0", True), ("^5.22.0", True), ("~6.19", True), ("6.x", True),
     ("^7.4.0", False), ("7.0.0", False), (">=6.0.0", False), ("workspace:*", False),
     (None, False)],
)  # fmt: skip
def test_prisma_sends_migration_sql_as_one_query_string_only_up_to_version_6(
    tmp_path, spec, one_query
) -> None:
    """prisma-engines#5767 (a 7.x release) sends the statements one by one: a 7.x, a
    range that reaches one, or no version found, loads as psql runs it."""
    files = {
        "db/prisma/migrations/migration_lock.toml": 'provider = "postgresql"\n',
        "db/prisma/migrations/1_x/migration.sql": "SELECT 1;\nVACUUM;\n",
        # a package.json without Prisma below the one that has it is passed over
        "db/prisma/package.json": '{"name": "schema"}\n',
        ".git/HEAD": "ref: refs/heads/main\n",
    }
    if spec is not None:
        files["db/package.json"] = json.dumps({"dependencies": {"@prisma/client": spec}})
    write(tmp_path / "repository", files)
    # the repository's root ends the search: a Prisma 6 above it is not this project's
    write(tmp_path, {"package.json": '{"devDependencies": {"prisma": "6.1.0"}}\n'})
    path = tmp_path / "repository/db/prisma/migrations/1_x/migration.sql"
    text = path.read_text()
    split = split_file(text, "1_x/migration.sql")
    found = wrapping(path, text, split.statements)
    assert [runner is not None for runner in found] == [one_query] * 2
    if one_query:
        assert found[1].runs.startswith("as one query string of 2 statements")
        assert f"prisma {spec}" in found[1].recognised_by


# Drone CI (harness/drone@3e7ecf1, branch drone, store/shared/migrate/postgres): ddl.go's
# `//go:generate togo ddl` makes Migrate run each `-- name:` section of files/*.sql by one
# db.Exec, in no transaction
TOGO = {
    "base/001_create_table_builds.sql": """\
-- name: create-table-builds

CREATE TABLE IF NOT EXISTS builds (build_id SERIAL PRIMARY KEY, build_status VARCHAR(50));
""",
    "drone/files/020_add_column_builds_foo.sql": """\
-- name: alter-table-builds-add-column-foo

ALTER TABLE builds ADD COLUMN build_foo VARCHAR(50) NOT NULL DEFAULT '';

-- name: create-index-builds-foo

CREATE INDEX IF NOT EXISTS ix_build_foo ON builds (build_foo);
""",
}


def test_togo_ddl_runs_each_named_section_in_a_transaction_of_its_own(server, tmp_path) -> None:
    """The ALTER's lock on builds ends with its section, before the index is built: no
    lock held during a long statement. Without the Go file, the file is one transaction."""
    write(tmp_path, TOGO)
    args = ("drone/files", "--base", "base", "--server", server.dsn())

    def rules() -> list[tuple[str, str]]:
        run = review(tmp_path, *args)
        assert run.exit_code == 0, run.stderr
        return sorted((f["rule"], located(f)) for f in run.json()["findings"])

    migration = "drone/files/020_add_column_builds_foo.sql"
    index = ("migration-index-not-concurrent", f"{migration}:7")
    held = ("migration-lock-held-during-long-statement", f"{migration}:3")
    assert rules() == [index, held]
    (tmp_path / "drone/ddl.go").write_text(
        "package postgres\n\n//go:generate togo ddl -package postgres -dialect postgres\n"
    )
    assert rules() == [index]
    found = units(tmp_path / migration, TOGO[migration])
    assert [(unit.mode, unit.tool) for unit in found] == [
        (APART, "togo ddl"), (ONE_QUERY, "togo ddl"), (ONE_QUERY, "togo ddl")
    ]  # fmt: skip


def test_atlas_sum_beside_golang_migrate_files_is_atlas_writing_golang_migrate_format(
    tmp_path,
) -> None:
    """openmeterio/openmeter@7e57a39 generates its migrations with Atlas in golang-migrate's
    format (atlas.hcl: `format = "golang-migrate"`), so atlas.sum sits beside the
    `.up.sql`/`.down.sql` pairs that golang-migrate applies: it sends each file as one
    query string, and `-- atlas:txmode none` means nothing to it. Atlas's own format has
    no `.down.sql`: a folder of those with atlas.sum stays Atlas's."""
    write(
        tmp_path,
        {
            "gm/atlas.sum": "h1:not-checked-by-review=\n",
            "gm/20240101000000_index.up.sql": "CREATE INDEX CONCURRENTLY i ON t (a);\n",
            "gm/20240101000000_index.down.sql": "DROP INDEX i;\n",
            "atlas/atlas.sum": "h1:not-checked-by-review=\n",
            "atlas/20240101000000_index.sql": "CREATE INDEX CONCURRENTLY i ON t (a);\n",
        },
    )
    golang = tmp_path / "gm/20240101000000_index.up.sql"
    [unit] = units(golang, golang.read_text())
    assert (unit.tool, unit.mode) == ("golang-migrate", ONE_QUERY)
    assert "x-multi-statement" in unit.fix
    assert "atlas:txmode" not in unit.fix
    atlas = tmp_path / "atlas/20240101000000_index.sql"
    [unit] = units(atlas, atlas.read_text())
    assert unit.tool == "Atlas"


def drizzle_folder(
    folder: Path, migrations: dict[str, str], whens: dict[str, int] | None = None
) -> None:
    """A Drizzle migrations folder: the files, and a meta/_journal.json listing them in
    the order given (drizzle-kit's shape; Dokploy/dokploy@772b768 apps/dokploy/drizzle),
    each `when` one after the other unless given."""
    write(folder, {f"{tag}.sql": text for tag, text in migrations.items()})
    whens = {tag: (whens or {}).get(tag, 1750000000000 + n) for n, tag in enumerate(migrations)}
    entries = [{"idx": n, "version": "7", "when": whens[tag], "tag": tag,
                "breakpoints": True} for n, tag in enumerate(migrations)]  # fmt: skip
    journal = {"version": "7", "dialect": "postgresql", "entries": entries}
    write(folder, {"meta/_journal.json": json.dumps(journal)})


DRIZZLE = {
    "0000_hosts": (
        'CREATE TABLE "Weird""Host" ("id" bigint PRIMARY KEY, "ñame" text);'
        "--> statement-breakpoint\n"
        'ALTER TABLE "Weird""Host" ADD COLUMN "port" integer;'
    ),
    "0001_index": 'CREATE INDEX CONCURRENTLY "host_name_idx" ON "Weird""Host" ("ñame");',
    # a hand-written trigger function with a breakpoint at a `;` line of its body
    "0002_touch": (
        'CREATE FUNCTION "touch"() RETURNS trigger LANGUAGE plpgsql AS $$\n'
        "BEGIN\n"
        "  NEW.port := 0;--> statement-breakpoint\n"
        "  RETURN NEW;\n"
        "END $$;"
    ),
}


def run_as_drizzle(connection: psycopg.Connection, folder: Path, tags: list[str]) -> None:
    """drizzle-orm's pg dialect migrate(): one transaction for every pending migration,
    each file cut at `--> statement-breakpoint` and each piece sent as one query."""
    with connection.transaction():
        for tag in tags:
            for piece in (folder / f"{tag}.sql").read_text().split("--> statement-breakpoint"):
                connection.execute(piece)


def test_drizzle_runs_its_pending_migrations_in_one_transaction_cut_at_breakpoints(
    server, database, tmp_path
) -> None:
    """An index built CONCURRENTLY fails at deploy in any Drizzle migration (no opt-out),
    and a breakpoint inside a function body sends its first piece alone; the statements
    between breakpoints load."""
    drizzle_folder(tmp_path / "drizzle", DRIZZLE)
    run = review(tmp_path, "drizzle", "--server", server.dsn())
    found = {located(f): f["evidence"] for f in invalid_ddl(run)}
    assert set(found) == {"drizzle/0001_index.sql:1", "drizzle/0002_touch.sql:1"}
    index = found["drizzle/0001_index.sql:1"]
    assert index["sqlstate"] == "25001"
    assert index["runner"]["tool"] == "Drizzle"
    assert index["runner"]["runs"] == (
        "in one transaction with every other pending migration of its folder"
    )
    assert "no opt-out" in index["runner"]["fix"]
    touch = found["drizzle/0002_touch.sql:1"]
    assert touch["sqlstate"] == "42601"  # unterminated dollar-quoted string
    assert "cuts this statement at line 3" in touch["runner"]["runs"]
    # the deploy failures, as Drizzle runs the folder
    with psycopg.connect(database.dsn, autocommit=True) as connection:
        run_as_drizzle(connection, tmp_path / "drizzle", ["0000_hosts"])
        for tag, sqlstate in (("0001_index", "25001"), ("0002_touch", "42601")):
            with pytest.raises(psycopg.Error) as rejected:
                run_as_drizzle(connection, tmp_path / "drizzle", [tag])
            assert rejected.value.sqlstate == sqlstate


def test_a_lock_taken_by_one_drizzle_migration_is_held_through_the_next(server, tmp_path) -> None:
    """Drizzle commits once, after the last pending migration: the ALTER's lock on builds
    is still held while the next file builds an index in place."""
    first = {"0000_builds": "CREATE TABLE builds (id bigint PRIMARY KEY, status text);"}
    drizzle_folder(tmp_path / "base", first)
    drizzle_folder(tmp_path / "drizzle", {
        **first,
        "0001_foo": "ALTER TABLE builds ADD COLUMN foo text NOT NULL DEFAULT '';",
        "0002_foo_index": "CREATE INDEX builds_foo_idx ON builds (foo);",
    })  # fmt: skip
    run = review(tmp_path, "drizzle", "--base", "base", "--server", server.dsn())
    assert run.exit_code == 0, run.stderr
    rules = sorted((f["rule"], located(f)) for f in run.json()["findings"])
    assert rules == [
        ("migration-index-not-concurrent", "drizzle/0002_foo_index.sql:1"),
        ("migration-lock-held-during-long-statement", "drizzle/0001_foo.sql:1"),
    ]
    [index] = [f for f in run.json()["findings"] if f["rule"] == "migration-index-not-concurrent"]
    safe_form = index["evidence"]["safe_form"]
    assert "Drizzle runs all pending migrations in one transaction" in safe_form


def test_an_index_built_concurrently_in_a_drizzle_batch_hides_no_other_files_lock(
    server, tmp_path
) -> None:
    """One file of the batch builds an index CONCURRENTLY: it fails in Drizzle's
    transaction (reported), and the other files still run in that one transaction, so
    the ALTER's lock on builds is still held while a later file builds an index on it."""
    first = {"0000_builds": "CREATE TABLE builds (id bigint PRIMARY KEY, status text);\n"
                            "--> statement-breakpoint\n"
                            "CREATE TABLE hosts (id bigint PRIMARY KEY, name text);"}  # fmt: skip
    drizzle_folder(tmp_path / "base", first)
    drizzle_folder(tmp_path / "drizzle", {
        **first,
        "0001_foo": "ALTER TABLE builds ADD COLUMN foo text NOT NULL DEFAULT '';",
        "0002_hosts_index": "CREATE INDEX CONCURRENTLY hosts_name_idx ON hosts (name);",
        "0003_foo_index": "CREATE INDEX builds_foo_idx ON builds (foo);",
    })  # fmt: skip
    run = review(tmp_path, "drizzle", "--base", "base", "--server", server.dsn())
    assert run.exit_code == 0, run.stderr
    rules = sorted((f["rule"], located(f)) for f in run.json()["findings"])
    assert rules == [
        ("invalid-ddl", "drizzle/0002_hosts_index.sql:1"),
        ("migration-index-not-concurrent", "drizzle/0003_foo_index.sql:1"),
        ("migration-lock-held-during-long-statement", "drizzle/0001_foo.sql:1"),
    ]
    [failed] = invalid_ddl(run)
    assert failed["evidence"]["sqlstate"] == "25001"
    assert failed["evidence"]["runner"]["runs"] == (
        "in one transaction with every other pending migration of its folder"
    )
    [held] = [f for f in run.json()["findings"] if f["rule"].startswith("migration-lock-held")]
    assert "builds_foo_idx" in json.dumps(held["evidence"])


def test_a_new_drizzle_migration_older_than_the_bases_last_never_runs_there(
    server, tmp_path
) -> None:
    """migrate() runs only the migrations whose journal `when` is after the latest in
    __drizzle_migrations: a branch's migration generated before the base's last one,
    merged after it, is skipped on every database at the base. Review does not load it
    (its broken statement is not what the deploy meets), and says why."""
    first = {"0000_hosts": "CREATE TABLE hosts (id bigint PRIMARY KEY);",
             "0001_main": "ALTER TABLE hosts ADD COLUMN name text;"}  # fmt: skip
    whens = {"0000_hosts": 1000, "0001_main": 3000, "0002_branch": 2000, "0003_next": 4000}
    drizzle_folder(tmp_path / "base", first, whens)
    drizzle_folder(tmp_path / "drizzle", {
        **first,
        "0002_branch": "ALTER TABLE hosts ADD COLUMN name text;",  # fails where it ran
        "0003_next": "ALTER TABLE hosts ADD COLUMN port integer;",
    }, whens)  # fmt: skip
    run = review(tmp_path, "drizzle", "--base", "base", "--server", server.dsn())
    assert run.exit_code == 0, run.stderr
    assert invalid_ddl(run) == []
    skipped = {e["object"]: e["reason"] for e in run.json()["collection"]["skipped"]}
    reason = skipped.get("drizzle/0002_branch.sql:1", "")
    assert "Drizzle never runs it on a database at the base" in reason
    assert "0001_main.sql (3000)" in reason
    assert "drizzle/0003_next.sql:1" not in skipped
    # without a base, every migration runs (a new database): the ADD COLUMN fails
    fresh = review(tmp_path, "drizzle", "--server", server.dsn())
    assert [located(f) for f in invalid_ddl(fresh)] == ["drizzle/0002_branch.sql:1"]


def test_drizzle_refuses_a_folder_whose_journal_lists_a_file_it_lacks(server, tmp_path) -> None:
    """readMigrationFiles reads every `<tag>.sql` the journal lists before migrate() runs
    any, and throws at the first one missing (a migration generated and never committed):
    no migration of the folder runs. Review reports Drizzle's refusal once, at the
    folder's first file, with Drizzle's message; the files there still load."""
    drizzle_folder(tmp_path / "drizzle", {
        "0000_hosts": 'CREATE TABLE "Weird""Host" ("id" bigint PRIMARY KEY, "ñame" text);',
        "0001_port": 'ALTER TABLE "Weird""Host" ADD COLUMN "port" integer;',
        "0002_lost": 'ALTER TABLE "Weird""Host" ADD COLUMN "lost" text;',
        "0003_label": 'ALTER TABLE "Weird""Host" ADD COLUMN "label" text;',
    })  # fmt: skip
    (tmp_path / "drizzle" / "0002_lost.sql").unlink()
    run = review(tmp_path, "drizzle", "--server", server.dsn())
    [refused] = invalid_ddl(run)
    assert located(refused) == "drizzle/0000_hosts.sql:1"
    assert refused["evidence"]["sqlstate"] == ""  # Drizzle's error: PostgreSQL sees nothing
    assert refused["evidence"]["message"] == (
        "No file drizzle/0002_lost.sql found in drizzle folder"
    )
    assert refused["evidence"]["runner"]["tool"] == "Drizzle"
    assert "drizzle-kit drop" in refused["evidence"]["runner"]["fix"]
    assert "it refuses this one" in refused["message"]
    # the journal complete again: nothing to report
    drizzle_folder(tmp_path / "drizzle", {"0000_hosts": "CREATE TABLE hosts (id bigint);"})
    assert invalid_ddl(review(tmp_path, "drizzle", "--server", server.dsn())) == []


# River's migrator (riverqueue/river@fdf6cdf, rivermigrate/river_migrate.go
# applyMigrations): each version's up file by one Exec inside a transaction it begins
# (dbutil.WithTx), no opt-out; its files carry River's schema template. golang-migrate,
# which the `.up.sql` beside `.down.sql` otherwise suggests, would run a lone statement
# outside a transaction block.
RIVER = {
    "main/001_jobs_v.up.sql": (
        "CREATE TABLE /* TEMPLATE: schema */jobs_v (id bigint PRIMARY KEY, kind text);\n"
    ),
    "main/001_jobs_v.down.sql": "DROP TABLE /* TEMPLATE: schema */jobs_v;\n",
    "main/002_kind.up.sql": (
        "CREATE INDEX CONCURRENTLY jobs_v_kind ON /* TEMPLATE: schema */jobs_v (kind);\n"
    ),
    "main/002_kind.down.sql": "DROP INDEX /* TEMPLATE: schema */jobs_v_kind;\n",
}


def test_rivers_migrator_runs_each_version_in_a_transaction(server, tmp_path) -> None:
    write(tmp_path, RIVER)
    run = review(tmp_path, "main", "--server", server.dsn())
    [found] = invalid_ddl(run)
    assert located(found) == "main/002_kind.up.sql:1"
    assert found["evidence"]["sqlstate"] == "25001"
    runner = found["evidence"]["runner"]
    assert (runner["tool"], runner["runs"]) == ("River's migrator", "in one transaction")
    assert "no opt-out" in runner["fix"] and "IF NOT EXISTS" in runner["fix"]
    # the inventory (and the fix script's migration note) names River, not golang-migrate
    tools = run.json()["sections"]["inventory"]["migrations"]
    assert tools == ["River's migrator (the reviewed migrations)"]


# Authelia's storage migrator (authelia/authelia@2357203, internal/storage/
# sql_provider_schema.go SchemaMigrate): on PostgreSQL every pending
# `V<4 digits>.<Name>.up.sql` runs by one ExecContext each, all inside ONE transaction
# it begins before the first and commits after the last; there is no opt-out.
AUTHELIA = {
    "postgres/V0001.Initial_Schema.up.sql": (
        'CREATE TABLE "totp ñ" (id serial PRIMARY KEY, username varchar(100) NOT NULL);\n'
    ),
    "postgres/V0001.Initial_Schema.down.sql": 'DROP TABLE "totp ñ";\n',
    "postgres/V0002.Lookup.up.sql": (
        'CREATE INDEX CONCURRENTLY totp_username_idx ON "totp ñ" (username);\n'
    ),
    "postgres/V0002.Lookup.down.sql": "DROP INDEX totp_username_idx;\n",
}


def test_authelias_migrator_runs_its_pending_migrations_in_one_transaction(
    server, tmp_path
) -> None:
    write(tmp_path, AUTHELIA)
    run = review(tmp_path, "postgres", "--server", server.dsn())
    [found] = invalid_ddl(run)
    assert located(found) == "postgres/V0002.Lookup.up.sql:1"
    assert found["evidence"]["sqlstate"] == "25001"
    runner = found["evidence"]["runner"]
    assert runner["tool"] == "Authelia's storage migrator"
    assert runner["runs"] == "in one transaction with every other pending migration of its folder"
    assert "no opt-out" in runner["fix"]


def test_the_units_alone_say_which_tool_runs_a_file_and_what_it_runs_with_it(
    tmp_path,
) -> None:
    """Which tool runs a file is decided in one place, runners.units: the report's
    inventory (tool_of) and the transaction a tool shares between files of a folder
    (Unit.batch: Drizzle's and Authelia's pending migrations) are read off its units."""
    for files in TOOLS.values():
        write(tmp_path, files)
    write(tmp_path, {**RIVER, **AUTHELIA, **UNRECOGNISED})
    drizzle_folder(tmp_path / "drizzle", {"0000_a": "CREATE TABLE a (id int);"})
    named = {}
    for path in sorted(tmp_path.rglob("*.sql")):
        found = units(path, path.read_text())
        named[path.relative_to(tmp_path).as_posix()] = (
            tool_of(path, found),
            found[0].batch if found else None,
        )
    failing = {where.rsplit(":", 1)[0]: tool for where, (tool, _) in EXPECTED.items()}
    for where, tool in failing.items():
        assert named[where] == ("Prisma" if tool == "Prisma Migrate" else tool, None), where
    assert named["main/002_kind.up.sql"] == ("River's migrator", None)
    authelia = f"Authelia's storage migrator: {tmp_path / 'postgres'}"
    assert named["postgres/V0002.Lookup.up.sql"] == ("Authelia's storage migrator", authelia)
    assert named["drizzle/0000_a.sql"] == ("Drizzle", f"Drizzle: {tmp_path / 'drizzle'}")
    assert {named[where] for where in UNRECOGNISED} == {(None, None)}


def test_the_report_names_every_tool_its_units_recognise(server, tmp_path) -> None:
    """A tool recognised by its units is named in the inventory and the fix script's
    migration note without being taught anywhere else (goose: no history table in a
    review, only its annotations)."""
    write(tmp_path, TOOLS["goose"])
    run = review(tmp_path, "goose", "--server", server.dsn(), "-o", "out/report.json")
    assert run.exit_code == 0, run.stderr
    report = json.loads((tmp_path / "out/report.json").read_text())
    assert report["sections"]["inventory"]["migrations"] == ["goose (the reviewed migrations)"]
    assert "kept by goose (the reviewed migrations)" in (tmp_path / "out/fix.sql").read_text()
