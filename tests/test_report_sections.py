"""The data of the report's index-coverage and activity sections, from a real server."""

from __future__ import annotations

import json

import psycopg

from tests.helpers import pgvitals, valid_report


def run(database, *statements: str) -> None:
    """Each statement with its statistics flushed, in one session (see pgvitals.testing)."""
    with psycopg.connect(database.dsn, autocommit=True) as session:
        for statement in statements:
            session.execute(statement)
            session.execute("SELECT pg_catalog.pg_stat_force_next_flush()")


def sections(database) -> dict:
    report = valid_report(pgvitals("check", database.dsn, "--format", "json").json())
    return report["sections"]


def test_index_coverage_counts_shapes_and_names_foreign_keys(database) -> None:
    run(
        database,
        "CREATE TABLE teachers (id int PRIMARY KEY, email text UNIQUE);"
        'CREATE TABLE "Weird""Name" (id int PRIMARY KEY, teacher_id int REFERENCES teachers,'
        ' "ñame" int REFERENCES teachers, deleted_at timestamptz);'
        'CREATE INDEX ON "Weird""Name" (teacher_id) WHERE teacher_id IS NOT NULL;'
        'CREATE INDEX ON "Weird""Name" ("ñame", deleted_at) WHERE deleted_at IS NULL;'
        "CREATE TABLE visits (at date NOT NULL, teacher_id int REFERENCES teachers)"
        " PARTITION BY RANGE (at);"
        "CREATE TABLE visits_2026 PARTITION OF visits"
        " FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');"
        "CREATE INDEX ON visits (teacher_id);"
        "INSERT INTO visits SELECT date '2026-01-01' + g % 300, NULL"
        " FROM generate_series(1, 3000) g;"
        "ANALYZE",
    )
    coverage = {row["table"]: row for row in sections(database)["coverage"]}
    weird = coverage['public.Weird"Name']
    assert (weird["indexes"], weird["partial"], weird["unique"]) == (3, 2, 1)
    assert (weird["single_column"], weird["composite"]) == (2, 1)
    assert weird["covered_foreign_key_columns"] == ["(teacher_id)"]
    assert weird["unindexed_foreign_key_columns"] == ["(ñame)"]
    assert coverage["public.teachers"]["unique"] == 2
    visits = coverage["public.visits"]
    assert visits["rows_estimate"] == 3000
    assert visits["index_bytes"] > 0 and visits["table_bytes"] > 0  # its partition's
    assert visits["covered_foreign_key_columns"] == ["(teacher_id)"]


def test_activity_sums_partitions_and_classifies_every_table(database) -> None:
    run(
        database,
        "CREATE TABLE events (at date NOT NULL, id int) PARTITION BY RANGE (at);"
        "CREATE TABLE events_2025 PARTITION OF events"
        " FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');"
        "CREATE TABLE events_2026 PARTITION OF events"
        " FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');"
        "CREATE TABLE staging (id int PRIMARY KEY);"
        "CREATE TABLE badges (id int PRIMARY KEY);"
        "CREATE TABLE lessons (id int PRIMARY KEY);"
        "CREATE TABLE sessions (id int PRIMARY KEY) WITH (autovacuum_enabled = false);",
        "INSERT INTO events SELECT date '2025-06-01' + g % 400, g FROM generate_series(1, 9000) g",
        "INSERT INTO staging SELECT generate_series(1, 500)",
        "DELETE FROM staging",
        "INSERT INTO lessons SELECT generate_series(1, 40)",
        "INSERT INTO sessions SELECT generate_series(1, 3000)",
        "DELETE FROM sessions WHERE id > 100",
    )
    activity = {row["table"]: row for row in sections(database)["activity"]}
    assert "public.events_2025" not in activity  # in its partitioned table's line
    events = activity["public.events"]
    assert (events["inserts"], events["rows"], events["partitions"]) == (9000, 9000, 2)
    assert events["activity"] == "high activity"
    assert activity["public.staging"]["activity"] == "cleared"
    assert activity["public.badges"]["activity"] == "never used"
    assert activity["public.lessons"]["activity"] == "moderate"
    sessions_row = activity["public.sessions"]
    assert sessions_row["activity"] == "problematic"
    assert "high-churn-table" in sessions_row["reason"]


def checked_fix_script(database, tmp_path) -> str:
    """`check` the database, writing report.json, and the fix.sql written beside it."""
    done = pgvitals("check", database.dsn, "-o", str(tmp_path / "report.json"))
    assert done.exit_code in (0, 1), done.stderr
    return (tmp_path / "fix.sql").read_text()


def test_fix_scripts_say_which_migration_tool_keeps_the_schema(database, tmp_path) -> None:
    from pgvitals.report import Report

    run(
        database,
        'CREATE SCHEMA "app\nDROP TABLE x";'
        'CREATE TABLE "app\nDROP TABLE x"._prisma_migrations (id varchar(36) PRIMARY KEY);'
        "CREATE TABLE orders (id int NOT NULL, note text)",  # no key: a fix
    )
    fix = checked_fix_script(database, tmp_path)
    rollback = (tmp_path / "rollback.sql").read_text()
    note = "-- Migrations: this schema is kept by Prisma (app\\nDROP TABLE x._prisma_migrations)."
    for script in (fix, rollback):
        assert note in script
        assert "-- and `prisma migrate dev` reports the drift" in script
        # a migration written by hand is undone by the next one Prisma writes from
        # schema.prisma: the change belongs there (found on calcom/cal.com@2dbbdc2)
        assert "-- undoes what it does not declare" in script
        assert "Make index, key,\n-- relation and type changes in schema.prisma" in script
        # the schema's newline stays inside the comment
        assert "\nDROP TABLE x" not in script
    assert 'ADD CONSTRAINT "orders_pkey" PRIMARY KEY' in fix
    # re-rendered from the JSON alone, without the database, the scripts are the same
    data = valid_report(json.loads((tmp_path / "report.json").read_text()))
    assert data["sections"]["inventory"]["migrations"] == [
        "Prisma (app\nDROP TABLE x._prisma_migrations)"
    ]
    revived = Report.from_json(data)
    assert (revived.scripts.fix, revived.scripts.rollback) == (fix, rollback)


def test_fix_scripts_say_an_application_ships_the_migrations_of_its_tables(
    database, tmp_path
) -> None:
    """Authelia (migrations with version_before, version_after and application_version)
    applies the migrations it ships: its operators cannot add one, so "put these
    statements in a new migration of that tool" is not their advice. River's migrator
    keeps only River's own tables beside the application's (snapshot/libraries.py leaves
    their definitions alone): the application's tables still take a migration of its own,
    so River is named among the tools but not as shipping the schema."""
    run(
        database,
        "CREATE TABLE migrations (id serial PRIMARY KEY, applied timestamptz NOT NULL,"
        " version_before int, version_after int NOT NULL,"
        " application_version varchar(128) NOT NULL);"
        "CREATE TABLE river_migration (line text NOT NULL, version bigint NOT NULL,"
        " PRIMARY KEY (line, version));"
        "CREATE TABLE totp_v (id int NOT NULL, username text NOT NULL)",  # no key: a fix
    )
    fix = checked_fix_script(database, tmp_path)
    assert "Authelia's storage migrator (public.migrations)" in fix
    assert "River's migrator (public.river_migration)" in fix
    assert "-- Authelia applies the migrations it ships: unless you develop it" in fix
    assert "River apply" not in fix and "River applies" not in fix
    assert (
        "(VACUUM, ANALYZE, REINDEX, storage\n-- parameters) and report the others upstream." in fix
    )


def test_fix_scripts_without_a_migration_tool_say_nothing_of_one(database, tmp_path) -> None:
    run(database, "CREATE TABLE orders (id int NOT NULL, note text)")
    fix = checked_fix_script(database, tmp_path)
    assert "PRIMARY KEY" in fix and "Migrations:" not in fix


def test_fix_scripts_give_golang_migrate_each_concurrent_index_a_file(database, tmp_path) -> None:
    # Coder (coder/coder@9418711) keeps its schema with golang-migrate, whose
    # schema_migrations has a `dirty` flag; the fix script's CREATE INDEX CONCURRENTLY
    # statements pasted into one migration file fail there
    run(
        database,
        "CREATE TABLE schema_migrations (version bigint PRIMARY KEY, dirty boolean NOT NULL);"
        "CREATE TABLE users (id int PRIMARY KEY);"
        'CREATE TABLE "Weird""Name" (id int PRIMARY KEY, owner_id int REFERENCES users,'
        " editor_id int REFERENCES users)",
    )
    fix = checked_fix_script(database, tmp_path)
    rollback = (tmp_path / "rollback.sql").read_text()
    for script in (fix, rollback):
        assert "kept by golang-migrate (public.schema_migrations)" in script
        assert "Give each one a\n-- migration of its own" in script
    # golang-migrate sends the file as one query string
    assert_concurrent_indexes_run_only_apart(database, fix, 2)


def assert_concurrent_indexes_run_only_apart(database, fix: str, expected: int) -> None:
    """The fix script's CREATE INDEX CONCURRENTLY statements, sent as one query string
    (the simple protocol, as psycopg does without parameters), which the server runs as
    one transaction, are refused; each alone, as a file of its own, runs."""
    indexes = [line for line in fix.splitlines() if line.startswith("CREATE INDEX CONCURRENTLY")]
    assert len(indexes) == expected
    with psycopg.connect(database.dsn, autocommit=True) as session:
        try:
            session.execute("\n".join(indexes).encode())
        except psycopg.errors.ActiveSqlTransaction as error:
            assert "cannot run inside a transaction block" in str(error)
        else:
            raise AssertionError("two CONCURRENTLY statements in one query string ran")
        for statement in indexes:
            session.execute(statement.encode())


def test_fix_scripts_give_liquibase_each_concurrent_index_a_changeset_out_of_transaction(
    database, tmp_path
) -> None:
    # LucaVas/recruiter@636342c, built by Liquibase 4.28.1: its history and lock tables
    # were named as two tools, and nothing said that each changeset is a transaction
    run(
        database,
        "CREATE TABLE databasechangelog (id varchar(255) NOT NULL, author varchar(255));"
        "CREATE TABLE databasechangeloglock (id integer PRIMARY KEY, locked boolean NOT NULL);"
        "CREATE TABLE users (id int PRIMARY KEY);"
        "CREATE TABLE jobs (id int PRIMARY KEY, owner_id int REFERENCES users,"
        " editor_id int REFERENCES users)",
    )
    fix = checked_fix_script(database, tmp_path)
    assert "kept by Liquibase (public.databasechangelog, public.databasechangeloglock)." in fix
    assert "Give each one a changeset\n-- of its own whose line says runInTransaction:false" in fix


def test_fix_scripts_give_prisma_each_concurrent_index_a_migration(database, tmp_path) -> None:
    # trigger.dev (Prisma 6.14) builds each index CONCURRENTLY in a migration of its own:
    # Prisma 6 sends migration.sql as one query string, where two of them fail
    run(
        database,
        'CREATE TABLE "_prisma_migrations" (id varchar(36) PRIMARY KEY);'
        'CREATE TABLE "User" (id text PRIMARY KEY);'
        'CREATE TABLE "Weird""Name" (id text PRIMARY KEY, "ownerId" text REFERENCES "User",'
        ' "editorId" text REFERENCES "User")',
    )
    fix = checked_fix_script(database, tmp_path)
    rollback = (tmp_path / "rollback.sql").read_text()
    assert "kept by Prisma (public._prisma_migrations)" in fix
    assert "unless it is the migration's only statement. Give each one a\n-- migration" in fix
    # rollback.sql drops them the same way: DROP INDEX CONCURRENTLY
    assert "migration's only statement" in rollback
    assert_concurrent_indexes_run_only_apart(database, fix, 2)


def test_fix_scripts_for_prisma_without_a_concurrent_index_say_no_more(database, tmp_path) -> None:
    run(
        database,
        'CREATE TABLE "_prisma_migrations" (id varchar(36) PRIMARY KEY);'
        "CREATE TABLE orders (id int PRIMARY KEY, total int);"
        "ALTER TABLE orders ADD CONSTRAINT orders_total_check CHECK (total >= 0) NOT VALID",
    )
    fix = checked_fix_script(database, tmp_path)
    assert "VALIDATE CONSTRAINT" in fix
    assert not [line for line in fix.splitlines() if line.startswith("CREATE INDEX")]
    assert "kept by Prisma" in fix and "migration's only statement" not in fix


def test_fix_scripts_for_other_schema_migrations_tools_say_no_more(database, tmp_path) -> None:
    # Rails' and dbmate's schema_migrations have no `dirty` flag: the tool stays open
    run(
        database,
        "CREATE TABLE schema_migrations (version varchar PRIMARY KEY);"
        "CREATE TABLE users (id int PRIMARY KEY);"
        "CREATE TABLE posts (id int PRIMARY KEY, owner_id int REFERENCES users)",
    )
    fix = checked_fix_script(database, tmp_path)
    assert "kept by Rails, golang-migrate, dbmate or Ecto (public.schema_migrations)" in fix
    assert "CREATE INDEX CONCURRENTLY" in fix and "migration of its own" not in fix


def test_fix_scripts_name_a_tool_known_by_its_schema_before_one_known_by_the_name(
    database, tmp_path
) -> None:
    # Supabase's CLI keeps its history in supabase_migrations.schema_migrations: by its
    # bare name it was "Rails, golang-migrate, dbmate or Ecto" (found on Coder's round)
    run(
        database,
        "CREATE SCHEMA supabase_migrations;"
        "CREATE TABLE supabase_migrations.schema_migrations (version text PRIMARY KEY,"
        " statements text[], name text);"
        "CREATE TABLE users (id int PRIMARY KEY);"
        "CREATE TABLE posts (id int PRIMARY KEY, owner_id int REFERENCES users)",
    )
    fix = checked_fix_script(database, tmp_path)
    assert "kept by Supabase (supabase_migrations.schema_migrations)" in fix
    assert "Rails" not in fix


def test_purpose_hints_quote_comments_that_describe_a_table(database) -> None:
    """Oban keeps its migration version as its table's comment; an ignore marker excuses a
    finding. Neither says what a table is for."""
    run(
        database,
        "CREATE TABLE oban_jobs (id bigint PRIMARY KEY);"
        "COMMENT ON TABLE oban_jobs IS '14';"
        "CREATE TABLE legacy (id int);"
        "COMMENT ON TABLE legacy IS 'pgvitals:ignore missing-primary-key loaded by hand';"
        "CREATE TABLE lessons (id int PRIMARY KEY);"
        "COMMENT ON TABLE lessons IS 'One taught hour.\nSecond line.'",
    )
    (public,) = [s for s in sections(database)["schemas"] if s["overview"]["name"] == "public"]
    assert public["overview"]["purpose_hints"] == [["lessons", "One taught hour."]]
    assert public["overview"]["tables_commented"] == 3
