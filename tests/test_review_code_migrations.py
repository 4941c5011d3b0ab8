"""Migrations written in code between the SQL ones (goose's and Concourse's Go files,
Flyway's Java classes): review cannot run them, says so, and does not report as invalid-ddl what
fails for want of what one of them makes; what fails for any other reason still is."""

from __future__ import annotations

import pytest

from tests.test_review import invalid_ddl, located, not_checked, review, write

GO_MIGRATION = """\
package migrations

import (
	"context"
	"database/sql"

	"github.com/pressly/goose/v3"
)

func init() {
	goose.AddMigrationNoTxContext(up00002, down00002)
}

func up00002(ctx context.Context, db *sql.DB) error {
	_, err := db.ExecContext(ctx, `CREATE TABLE lesson_notes_new (id int PRIMARY KEY, "ñame" text)`)
	return err
}

func down00002(ctx context.Context, db *sql.DB) error {
	_, err := db.ExecContext(ctx, `DROP TABLE lesson_notes_new`)
	return err
}
"""
JAVA_MIGRATION = """\
package db.migration;

import org.flywaydb.core.api.migration.BaseJavaMigration;
import org.flywaydb.core.api.migration.Context;

public class V2__Split extends BaseJavaMigration {
    public void migrate(Context context) throws Exception {
        context.getConnection().createStatement().execute(
            "CREATE TABLE lesson_notes_new (id int PRIMARY KEY, \\"ñame\\" text)");
    }
}
"""
# Concourse's (concourse/concourse@95872ce, atc/db/migration/migrations/*.up.go): a method
# of its `migrations` type, run in the transaction it opens for the migration; the method's
# number need not be the file's version (1551384520_fix_build_private_plan.up.go defines
# Up_1550160079)
CONCOURSE_MIGRATION = """\
package migrations

func (m *migrations) Up_1516000000() error {
	_, err := m.Tx.Exec(`CREATE TABLE lesson_notes_new (id int PRIMARY KEY, "ñame" text)`)
	return err
}
"""
# formbricks' data migrations (formbricks/formbricks@b66c1dd, packages/database/migration/
# <timestamp>_<name>/migration.ts beside Prisma's <timestamp>_<name>/migration.sql folders):
# its migration-runner runs them between the SQL ones, in the order of the folders' names
TS_MIGRATION = """\
import type { MigrationScript } from "../../src/scripts/migration-runner";

export const split: MigrationScript = {
  type: "data",
  id: "c0ffee",
  name: "20240102000000_split",
  run: async ({ tx }) => {
    await tx.$executeRaw`CREATE TABLE lesson_notes_new (id int PRIMARY KEY, "ñame" text)`;
  },
};
"""
# after the code migration: three statements that need its table (the index needs the
# rename), then a syntax error, a type mismatch and a misspelt table it does not name
SWAP = """\
INSERT INTO lesson_notes_new (id) SELECT id FROM "Lesson Notes";
ALTER TABLE lesson_notes_new RENAME TO "Lesson Notes v2";
CREATE INDEX lesson_notes_v2_id_idx ON "Lesson Notes v2" (id);
CREATE TABEL broken (id int);
ALTER TABLE "Lesson Notes" ADD COLUMN rank int DEFAULT 'first';
INSERT INTO lesson_notes_nwe (id) VALUES (1);
"""
FOLDERS = {
    "goose": {
        "db/00001_init.sql": '-- +goose Up\nCREATE TABLE "Lesson Notes" (id int PRIMARY KEY);\n',
        "db/00002_split.go": GO_MIGRATION,
        "db/00002_split_test.go": "package migrations // a test, no migration\n",
        "db/00003_swap.sql": "-- +goose Up\n" + SWAP,
    },
    "concourse": {
        "db/1510262030_init.up.sql": 'CREATE TABLE "Lesson Notes" (id int PRIMARY KEY);\n',
        "db/1510262030_init.down.sql": 'DROP TABLE "Lesson Notes";\n',
        "db/1516643303_split.up.go": CONCOURSE_MIGRATION,
        "db/1516643303_split.down.go": "package migrations // its way back, not run up\n",
        "db/migrations.go": "package migrations\n\ntype migrations struct{}\n",
        "db/1517000000_swap.up.sql": "-- the tables of the Go migration, swapped in\n" + SWAP,
    },
    "flyway": {
        "db/V1__init.sql": 'CREATE TABLE "Lesson Notes" (id int PRIMARY KEY);\n',
        "db/V2__Split.java": JAVA_MIGRATION,
        "db/V3__swap.sql": "-- the tables of V2, swapped in\n" + SWAP,
    },
    "prisma": {
        "db/migration_lock.toml": 'provider = "postgresql"\n',
        "db/20240101000000_init/migration.sql": (
            'CREATE TABLE "Lesson Notes" (id int PRIMARY KEY);\n'
        ),
        "db/20240102000000_split/migration.ts": TS_MIGRATION,
        "db/20240102000000_split/utils.ts": "export const helper = 1; // no migration\n",
        "db/20240103000000_swap/migration.sql": "-- the tables of the data migration\n" + SWAP,
    },
}
CODE = {
    "goose": ("db/00002_split.go", "Go"),
    "concourse": ("db/1516643303_split.up.go", "Go"),
    "flyway": ("db/V2__Split.java", "Java"),
    "prisma": ("db/20240102000000_split/migration.ts", "TypeScript"),
}
SWAPPED = {
    "goose": "db/00003_swap.sql",
    "concourse": "db/1517000000_swap.up.sql",
    "flyway": "db/V3__swap.sql",
    "prisma": "db/20240103000000_swap/migration.sql",
}


@pytest.mark.parametrize("tool", FOLDERS)
def test_what_fails_for_want_of_a_code_migration_is_not_checked(server, tmp_path, tool) -> None:
    write(tmp_path, FOLDERS[tool])
    run = review(tmp_path, "db", "--server", server.dsn())
    assert run.exit_code == 0, run.stderr
    swap = SWAPPED[tool]
    first = 2  # the line after the header (goose's annotation, a comment)
    # the syntax error, the type mismatch and the table the code never names are real
    assert sorted((located(f), f["evidence"]["sqlstate"]) for f in invalid_ddl(run)) == [
        (f"{swap}:{first + 3}", "42601"),
        (f"{swap}:{first + 4}", "22P02"),
        (f"{swap}:{first + 5}", "42P01"),
    ]
    code, language = CODE[tool]
    [note] = [e for e in run.json()["collection"]["skipped"] if e["object"] == code]
    needing = ", ".join(f"{swap}:{first + n}" for n in range(3))
    assert note["reason"] == (
        f"{code}: {language} migration, not run by review; not checked: 3 later statements"
        " that may rely on what it does (they fail on what no SQL file created, and it"
        f" names): {needing}"
    )
    # counted as not checked (a gate does not pass them), with what would check them:
    # --server on another server would not help
    assert note["statements_not_checked"] == 3
    assert (
        f"review incomplete: 3 statements not checked, as they may rely on {code}, which"
        " review cannot run; review the files after it with --base a database where it ran"
    ) in " ".join(run.stderr.split())
    gate = review(tmp_path, "db", "--server", server.dsn(), "--fail-on", "critical")
    assert gate.exit_code == 3, gate.stderr
    # the test file beside the Go migration is not one, nor Concourse's way back
    skipped = [e["object"] for e in run.json()["collection"]["skipped"]]
    assert not any(name.endswith(("_test.go", ".down.go")) for name in skipped)


def test_the_summary_keeps_apart_what_another_server_would_check(server, tmp_path) -> None:
    folder = {**FOLDERS["goose"]}
    folder["db/00001_init.sql"] += "CREATE EXTENSION pgvitals_absent_extension;\n"
    write(tmp_path, folder)
    run = review(tmp_path, "db", "--server", server.dsn())
    assert run.exit_code == 0, run.stderr
    assert (
        "review incomplete: 4 statements not checked: 1 as the server lacks what it needs:"
        " extension pgvitals_absent_extension unavailable on this server (db/00001_init.sql:3);"
        " review them with --server on a server that has it; 3 as they may rely on"
        " db/00002_split.go, which review cannot run; review the files after it with --base a"
        " database where it ran"
    ) in " ".join(run.stderr.split())


def test_a_migration_tools_own_history_table_is_not_blamed_on_the_file(server, tmp_path) -> None:
    """Harbor (goharbor/harbor@c50c7dd, make/migrations/postgresql/0030_2.0.0 and 0040):
    golang-migrate creates `schema_migrations` before the first migration, and a migration
    adds a column to it and a later one drops it. Review does not run the tool, so those
    statements are noted as not run, not reported as invalid-ddl; a table of the files'
    own that is missing still is."""
    write(tmp_path, {
        "db/0001_init.up.sql": 'CREATE TABLE "ñame" (id int PRIMARY KEY);\n',
        "db/0030_data.up.sql": (
            "ALTER TABLE schema_migrations ADD COLUMN data_version int;\n"
            "ALTER TABLE artifact ADD COLUMN size bigint;\n"
        ),
        "db/0040_done.up.sql": "ALTER TABLE schema_migrations DROP COLUMN data_version;\n",
    })  # fmt: skip
    run = review(tmp_path, "db", "--server", server.dsn())
    assert run.exit_code == 0, run.stderr
    assert [located(f) for f in invalid_ddl(run)] == ["db/0030_data.up.sql:2"]
    notes = {e["object"]: e["reason"] for e in run.json()["collection"]["skipped"]}
    assert notes["db/0030_data.up.sql:1"] == (
        "db/0030_data.up.sql:1: schema_migrations is a migration tool's history table"
        " (Rails, golang-migrate, dbmate or Ecto), made by the tool, not by the files: not"
        " run: ALTER TABLE schema_migrations ADD COLUMN data_version int"
    )
    assert "db/0040_done.up.sql:1" in notes
    assert not_checked(run) == []  # nothing the server lacks


def test_a_folder_of_code_alone_says_the_sql_must_be_written_out(tmp_path) -> None:
    """miniflux keeps its schema as SQL in Go strings (internal/database/migrations.go):
    the folder has no .sql file, and the error says what is there and what to do."""
    write(tmp_path, {
        "internal/database/migrations.go": (
            'package database\n\nvar sql = `CREATE TABLE "ñame" (id int)`\n'
        ),
        "internal/database/database.go": "package database\n",
    })  # fmt: skip
    run = review(tmp_path, "internal/database")
    assert run.exit_code == 2
    assert "no .sql files in internal/database" in run.stderr
    assert "2 .go files" in run.stderr
    assert "write the SQL they run out to .sql files" in run.stderr


def test_a_code_file_named_alone_says_the_sql_must_be_written_out(tmp_path) -> None:
    """miniflux's migrations.go named on the command line, not its folder: its Go was read
    as SQL, and every line of it reported as invalid-ddl (67 high findings)."""
    write(tmp_path, {
        "internal/database/migrations.go": (
            'package database\n\nvar sql = `CREATE TABLE "ñame" (id int)`\n'
        ),
    })  # fmt: skip
    run = review(tmp_path, "internal/database/migrations.go")
    assert run.exit_code == 2
    assert "no .sql files in internal/database/migrations.go" in run.stderr
    assert "1 .go file" in run.stderr
    assert "write the SQL they run out to .sql files" in run.stderr


@pytest.mark.parametrize("tool", ["goose", "flyway"])
def test_files_named_one_by_one_are_read_as_their_folder_is(server, tmp_path, tool) -> None:
    """`pgvitals review db/*` (a shell's expansion): a code migration among the files is
    the tool's, not run, as in its folder; other source code (a Go test, a helper) is not
    SQL and is not loaded. Both were read as SQL, each line an invalid-ddl."""
    folder = {**FOLDERS[tool], "db/helpers.go": "package migrations\n\nfunc helper() {}\n"}
    write(tmp_path, folder)
    named = sorted(folder, reverse=True)  # the order given does not matter: natural order
    whole = review(tmp_path, "db", "--server", server.dsn())
    run = review(tmp_path, *named, "--server", server.dsn())
    assert run.exit_code == 0, run.stderr
    assert [located(f) for f in invalid_ddl(run)] == [located(f) for f in invalid_ddl(whole)]
    code, _language = CODE[tool]
    skipped = {e["object"]: e["reason"] for e in run.json()["collection"]["skipped"]}
    assert (
        skipped[code]
        == {e["object"]: e["reason"] for e in whole.json()["collection"]["skipped"]}[code]
    )
    assert skipped["db/helpers.go:1"] == "db/helpers.go:1: Go source code, not SQL: not loaded"
