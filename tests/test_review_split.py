"""Splitting SQL files the way the server and psql see them, and choosing the files:
no server needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgvitals.review.files import (
    GIVEN,
    InputError,
    drizzle_journal,
    drizzle_positions,
    natural_key,
    select,
)
from pgvitals.review.split import split_file


def statements(text: str) -> list[tuple[int, int, str, str]]:
    """(line, column, node kind, text) of each statement."""
    return [(s.line, s.column, s.kind, s.text) for s in split_file(text, "f.sql").statements]


def test_lines_and_columns_count_characters_not_bytes() -> None:
    text = "CREATE TABLE \"ñame\" (a int); CREATE TABLE b (a int);\n  SELECT 'é';\n"
    assert statements(text) == [
        (1, 1, "CreateStmt", 'CREATE TABLE "ñame" (a int)'),
        (1, 30, "CreateStmt", "CREATE TABLE b (a int)"),
        (2, 3, "SelectStmt", "SELECT 'é'"),
    ]


def test_semicolons_inside_bodies_quotes_and_comments_do_not_split() -> None:
    text = (
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;\n"
        "CREATE FUNCTION g() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 1; END $body$;\n"
        "SELECT 'a;b', \"c;d\", E'it\\'s;' /* x; /* nested; */ y; */ FROM t;\n"
    )
    kinds = [kind for _, _, kind, _ in statements(text)]
    assert kinds == ["CreateFunctionStmt", "CreateFunctionStmt", "SelectStmt"]


def test_psql_meta_commands_are_noted_and_kept_out_of_statements() -> None:
    text = "\\set ON_ERROR_STOP on\nCREATE TABLE a (x int);\n\\connect other\nSELECT 1 \\gset\n"
    split = split_file(text, "f.sql")
    assert [(s.line, s.text) for s in split.statements] == [
        (2, "CREATE TABLE a (x int)"),
        (4, "SELECT 1"),
    ]
    assert [(n.line, n.text) for n in split.notes] == [
        (1, "psql meta-command \\set ON_ERROR_STOP on"),
        (3, "psql meta-command \\connect other"),
        (4, "psql meta-command \\gset"),
    ]


def test_a_backslash_inside_quotes_is_not_a_meta_command() -> None:
    text = "SELECT '\\n', $$ \\x $$, E'\\\\';\nSELECT 2;\n"
    split = split_file(text, "f.sql")
    assert len(split.statements) == 2 and split.notes == []


def test_copy_data_is_skipped_up_to_its_terminator() -> None:
    text = "COPY t (a) FROM stdin;\n1\n\\.x\n2\n\\.\nCREATE TABLE after_copy (a int);\n"
    split = split_file(text, "f.sql")
    assert [s.kind for s in split.statements] == ["CopyStmt", "CreateStmt"]
    assert split.statements[1].line == 6
    assert [n.text for n in split.notes] == ["COPY data not loaded (3 lines)"]


def test_a_statement_the_parser_rejects_is_kept_and_the_rest_still_split() -> None:
    text = "CREATE TABLE a (x int);\nCREATE TABEL b (x int);\nCREATE TABLE c (x int);\n"
    assert [(line, kind) for line, _, kind, _ in statements(text)] == [
        (1, "CreateStmt"),
        (2, ""),
        (3, "CreateStmt"),
    ]


def test_an_unterminated_quote_takes_the_rest_of_the_file() -> None:
    text = "CREATE TABLE a (x int);\nSELECT 'never closed;\nCREATE TABLE c (x int);\n"
    found = statements(text)
    assert [(line, kind) for line, _, kind, _ in found] == [(1, "CreateStmt"), (2, "")]
    assert found[1][3].endswith("CREATE TABLE c (x int);\n")


def test_an_unfinished_last_statement_is_kept_unparsed_after_the_complete_ones() -> None:
    """The parser says "syntax error at end of input" without a position, and the
    scanner leaves text without a final semicolon out of its chunks (a truncated file)."""
    text = "CREATE TABLE t (id int primary key);\nCREATE TABLE u (id int\n"
    assert [(line, kind, text) for line, _, kind, text in statements(text)] == [
        (1, "CreateStmt", "CREATE TABLE t (id int primary key)"),
        (2, "", "CREATE TABLE u (id int\n"),
    ]
    assert [(line, kind) for line, _, kind, _ in statements("CREATE TABLE u (id int")] == [(1, "")]


def test_an_unfinished_statement_after_a_rejected_one_is_placed_at_its_own_line() -> None:
    """A migration with a typo and, below it, a statement cut short (Authelia-style folder,
    rs9c): the rest after the rejected chunk began at that chunk's semicolon, so the
    unfinished statement was reported at the line above, its text starting with ";"."""
    text = "ALTER TABLE a ADD b int;\nALTER TABEL oops;\nCREATE TABLE x (id int\n"
    assert [(line, kind, text) for line, _, kind, text in statements(text)] == [
        (1, "AlterTableStmt", "ALTER TABLE a ADD b int"),
        (2, "", "ALTER TABEL oops"),
        (3, "", "CREATE TABLE x (id int\n"),
    ]


def test_a_rejected_statement_begins_at_its_code_not_the_comment_above() -> None:
    text = "CREATE TABLE a (x int);\n-- the orders\nCREATE TABEL b (x int);\n"
    rejected = split_file(text, "f.sql").statements[1]
    assert (rejected.line, rejected.kind, rejected.first_line) == (3, "", "CREATE TABEL b (x int)")


def test_dbmate_and_goose_down_sections_are_not_loaded() -> None:
    text = (
        "-- migrate:up\nCREATE TABLE a (x int);\n-- migrate:down\nDROP TABLE a;\n"
        "-- migrate:up\nCREATE TABLE b (x int);\n"
    )
    split = split_file(text, "f.sql")
    assert [s.line for s in split.statements] == [2, 6]
    assert [(n.line, n.text) for n in split.notes] == [(3, "down section not loaded (lines 3-4)")]


def test_the_error_position_maps_to_the_file_line_and_column() -> None:
    [statement] = split_file("\n  CREATE TABLE t (\n    a intt\n  );\n", "f.sql").statements
    assert (statement.line, statement.column) == (2, 3)
    assert statement.line_of(1) == (2, 3)
    assert statement.line_of(statement.text.index("intt") + 1) == (3, 7)


def write(folder: Path, *names: str) -> None:
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("SELECT 1;\n")


def test_natural_order_puts_version_2_before_version_10() -> None:
    names = ["V10__c.sql", "V2__b.sql", "V1__a.sql", "v3__x.sql"]
    assert sorted(names, key=natural_key) == ["V1__a.sql", "V2__b.sql", "v3__x.sql", "V10__c.sql"]
    # Flyway's versions: 1 before 1.1 (eclipse/openvsx: V1__Base_version.sql, then
    # V1_1__Admin_API.sql, ...), parts compared as numbers
    flyway = ["V1_10__d.sql", "V2__e.sql", "V1_1__b.sql", "V1.5__x.sql", "V1_2__c.sql",
              "V1__a.sql"]  # fmt: skip
    assert sorted(flyway, key=natural_key) == [
        "V1__a.sql",
        "V1_1__b.sql",
        "V1_2__c.sql",
        "V1.5__x.sql",
        "V1_10__d.sql",
        "V2__e.sql",
    ]


def test_a_folder_loads_up_migrations_only_in_natural_order(tmp_path: Path) -> None:
    write(tmp_path, "V10__c.sql", "V2__b.sql", "U2__b.sql", "0003_x.down.sql", "0003_x.up.sql",
          "20240101_z/up.sql", "20240101_z/down.sql", "revert/x.sql", "notes.txt")  # fmt: skip
    selection = select([tmp_path])
    names = [f.path.relative_to(tmp_path).as_posix() for f in selection.files]
    assert names == ["0003_x.up.sql", "20240101_z/up.sql", "V2__b.sql", "V10__c.sql"]
    left_out = sorted(Path(p).relative_to(tmp_path).as_posix() for p in selection.left_out)
    assert left_out == ["0003_x.down.sql", "20240101_z/down.sql", "U2__b.sql", "revert/x.sql"]


def test_a_pop_folder_loads_what_postgresql_runs_of_each_version(tmp_path: Path) -> None:
    """Ory Kratos (ory/kratos@b86338d, persistence/sql/migrations/sql): every version for
    each database in one folder; review loaded them all, 532 invalid-ddl for MySQL's and
    SQLite's. PostgreSQL runs a version's `.postgres.` file (or `.pg.`), else the one for
    all databases (ory/x popx migration_info.go sortAndFilter)."""
    write(tmp_path, "1_ids.postgres.up.sql", "1_ids.mysql.up.sql", "1_ids.sqlite.up.sql",
          "1_ids.cockroach.up.sql", "1_ids.up.sql", "1_ids.postgres.down.sql",
          "2_meta.up.sql", "2_meta.mysql.up.sql", "3_idx.pg.autocommit.up.sql",
          "3_idx.autocommit.up.sql", "4_x.crdb.autocommit.up.sql",
          "5_other.oracle.up.sql")  # fmt: skip
    selection = select([tmp_path])
    names = [f.path.relative_to(tmp_path).as_posix() for f in selection.files]
    # a dialect pop does not know is left to the user (popx ignores it)
    assert names == ["1_ids.postgres.up.sql", "2_meta.up.sql", "3_idx.pg.autocommit.up.sql",
                     "5_other.oracle.up.sql"]  # fmt: skip
    elsewhere = {Path(p).name: why for p, why in selection.not_run_by_tool.items()}
    assert elsewhere == {
        "1_ids.mysql.up.sql": "pop migration for mysql, not loaded",
        "1_ids.sqlite.up.sql": "pop migration for sqlite3, not loaded",
        "1_ids.cockroach.up.sql": "pop migration for cockroach, not loaded",
        "1_ids.up.sql": "pop runs the version's .postgres. file instead, not loaded",
        "2_meta.mysql.up.sql": "pop migration for mysql, not loaded",
        "3_idx.autocommit.up.sql": "pop runs the version's .postgres. file instead, not loaded",
        "4_x.crdb.autocommit.up.sql": "pop migration for cockroach, not loaded",
    }


def test_without_a_pop_dialect_nothing_is_left_out_as_another_databases(tmp_path: Path) -> None:
    write(tmp_path, "1_a.up.sql", "1_a.down.sql", "2_b.autocommit.up.sql")
    selection = select([tmp_path])
    assert len(selection.files) == 2 and selection.not_run_by_tool == {}


def test_a_temporal_schema_version_loads_its_manifests_files_in_its_order(tmp_path: Path) -> None:
    """temporalio/temporal@6805cae schema/postgresql/v12: each versioned/vX.Y holds a
    manifest.json whose SchemaUpdateCqlFiles the schema tool runs, in that order (v1.8:
    drop_unused_tasks_table.sql before alter_columns.sql); a file it does not list
    (visibility v1.13's add_used_deployment_versions_search_attribute.sql) is not run."""
    write(tmp_path, "v1.8/alter_columns.sql", "v1.8/drop_unused_tasks_table.sql",
          "v1.9/history.sql", "v1.10/unlisted.sql", "v1.13/add_used.sql",
          "v1.13/combined.sql", "v1.2/queue.sql")  # fmt: skip
    manifests = {"v1.8": ["drop_unused_tasks_table.sql", "alter_columns.sql"],
                 "v1.9": ["history.sql"], "v1.10": [], "v1.13": ["combined.sql"],
                 "v1.2": ["queue.sql"]}  # fmt: skip
    for version, listed in manifests.items():
        manifest = {"CurrVersion": version[1:], "SchemaUpdateCqlFiles": listed}
        (tmp_path / version / "manifest.json").write_text(json.dumps(manifest))
    selection = select([tmp_path])
    names = [f.path.relative_to(tmp_path).as_posix() for f in selection.files]
    assert names == ["v1.2/queue.sql", "v1.8/drop_unused_tasks_table.sql",
                     "v1.8/alter_columns.sql", "v1.9/history.sql",
                     "v1.13/combined.sql"]  # fmt: skip
    left = sorted(Path(p).relative_to(tmp_path).as_posix() for p in selection.not_run_by_tool)
    assert left == ["v1.10/unlisted.sql", "v1.13/add_used.sql"]


def write_drizzle_journal(folder: Path, tags: list[str], dialect: str = "postgresql") -> None:
    entries = [{"idx": n, "version": "7", "when": 1700000000000 + n, "tag": tag,
                "breakpoints": True} for n, tag in enumerate(tags)]  # fmt: skip
    (folder / "meta").mkdir(parents=True, exist_ok=True)
    journal = {"version": "7", "dialect": dialect, "entries": entries}
    (folder / "meta" / "_journal.json").write_text(json.dumps(journal))


def test_a_drizzle_folder_loads_the_files_its_journal_lists_in_its_order(tmp_path: Path) -> None:
    """Drizzle runs `<tag>.sql` for each entry of meta/_journal.json, in the journal's
    order, and no other file (drizzle-orm/src/migrator.ts readMigrationFiles).
    Dokploy/dokploy@772b768 apps/dokploy/drizzle holds 0130_abandoned_dagger.sql, which
    its journal does not list (its 0130 is 0130_perpetual_screwball): loading it added a
    column that 0158_amused_synch adds again, reported as invalid-ddl."""
    drizzle = tmp_path / "drizzle"
    write(drizzle, "0000_init.sql", "0001_b.sql", "0002_a.sql", "0130_abandoned.sql",
          "0130_kept.sql")  # fmt: skip
    write_drizzle_journal(drizzle, ["0000_init", "0002_a", "0001_b", "0130_kept"])
    selection = select([tmp_path])
    assert [f.path.name for f in selection.files] == [
        "0000_init.sql", "0002_a.sql", "0001_b.sql", "0130_kept.sql"]  # fmt: skip
    assert [Path(p).name for p in selection.not_run_by_tool] == ["0130_abandoned.sql"]
    assert "Drizzle does not run it" in next(iter(selection.not_run_by_tool.values()))
    # a journal of another dialect is not PostgreSQL's: natural order, every file
    write_drizzle_journal(drizzle, ["0000_init"], dialect="sqlite")
    drizzle_journal.cache_clear()
    drizzle_positions.cache_clear()
    assert len(select([tmp_path]).files) == 5


def test_a_prisma_folder_loads_its_migrations_in_prismas_order(tmp_path: Path) -> None:
    """Prisma applies the folders beside its migration_lock.toml in the order of their
    names as plain strings. calcom/cal.com@2dbbdc2 packages/prisma/migrations has
    20250502154530900_add_login_overlay (a 17-digit stamp): Prisma runs it before
    20250505135207_create_booking_time_status_denormalized, natural order ran it last."""
    migrations = tmp_path / "prisma" / "migrations"
    write(migrations, "20250502154530900_add_login_overlay/migration.sql",
          "20250505135207_create_view/migration.sql", "20250508131736_flag/migration.sql",
          "9_by_hand/migration.sql")  # fmt: skip
    (migrations / "migration_lock.toml").write_text('provider = "postgresql"\n')
    prisma_order = ["20250502154530900_add_login_overlay", "20250505135207_create_view",
                    "20250508131736_flag", "9_by_hand"]  # fmt: skip
    for argument in (migrations, tmp_path):  # the migrations folder, or one above it
        assert [f.path.parent.name for f in select([argument]).files] == prisma_order
    (migrations / "migration_lock.toml").unlink()  # not Prisma's: natural order
    names = [f.path.parent.name for f in select([migrations]).files]
    assert names[0] == "9_by_hand" and names[-1] == "20250502154530900_add_login_overlay"


def test_a_diesel_folder_loads_its_migrations_in_diesels_order(tmp_path: Path) -> None:
    """Diesel runs `<version>_<name>/up.sql` in the order of their versions, the part of
    the folder's name before its first `_` with every `-` taken out, compared as strings
    (diesel-rs/diesel migrations_internals version_from_string, MigrationVersion's Ord).
    rust-lang/crates.io@57fa000 migrations holds 20140924113530_dumped_migration_1 (which
    creates users) beside 2017-08-31-230457_invitations (which references it): natural
    order ran 2017-... first, as version 2017, and 203 statements failed for want of
    the tables the 2014 ones create."""
    migrations = tmp_path / "migrations"
    write(migrations, "00000000000000_diesel_initial_setup/up.sql",
          "2017-08-31-230457_invitations/up.sql", "20140924113530_dumped_migration_1/up.sql",
          "20170308140537_semver/up.sql", "2026-07-30-140000-0000_index/up.sql",
          "2026-06-05-120000-0000_later/up.sql",
          "2026-06-05-120000-0000_later/down.sql")  # fmt: skip
    diesel_order = ["00000000000000_diesel_initial_setup", "20140924113530_dumped_migration_1",
                    "20170308140537_semver", "2017-08-31-230457_invitations",
                    "2026-06-05-120000-0000_later", "2026-07-30-140000-0000_index"]  # fmt: skip
    for argument in (migrations, tmp_path):  # the migrations folder, or one above it
        assert [f.path.parent.name for f in select([argument]).files] == diesel_order


def test_a_sql_file_beside_diesels_migration_folders_is_not_loaded(tmp_path: Path) -> None:
    """Diesel runs the up.sql of each migration folder and ignores files beside them
    (diesel_migrations file_based_migrations.rs: migration_paths_in_directory_ignores_files).
    rust-lang/crates.io@57fa000 keeps a hand-run backfill, migrations/data_oauth_github.sql,
    there: review loaded it after every migration and reported it as invalid-ddl (high),
    for a column a later migration drops."""
    migrations = tmp_path / "migrations"
    write(migrations, "2024-01-01-000000_users/up.sql", "data_backfill.sql",
          "2024-01-02-000000_more/up.sql")  # fmt: skip
    selection = select([migrations])
    assert [f.path.parent.name for f in selection.files] == [
        "2024-01-01-000000_users", "2024-01-02-000000_more"]  # fmt: skip
    [(shown_as, why)] = selection.not_run_by_tool.items()
    assert shown_as.endswith("migrations/data_backfill.sql") and "Diesel does not run it" in why
    assert [f.path.name for f in select([migrations / "data_backfill.sql"]).files] == [
        "data_backfill.sql"]  # named alone: loaded as asked  # fmt: skip


def test_a_folder_of_code_migrations_says_what_it_holds_and_what_to_give(tmp_path: Path) -> None:
    # Kong's kong/db/migrations/core: Lua files whose SQL sits in `up = [[...]]`; review
    # said only "no .sql files", not that it found migrations it cannot read
    write(tmp_path, "core/000_base.lua", "core/003_100_to_110.lua", "core/init.lua",
          "plugins/key-auth/000_base_key_auth.lua", "README.md")  # fmt: skip
    with pytest.raises(InputError) as raised:
        select([tmp_path])
    message = str(raised.value)
    assert message.startswith(f"no .sql files in {tmp_path}; found 4 .lua files:")
    assert "review cannot read or run" in message and "pgvitals check" in message
    (tmp_path / "notes").mkdir()
    with pytest.raises(InputError) as raised:  # nothing but text: nothing more to say
        select([tmp_path / "notes"])
    assert str(raised.value) == f"no .sql files in {tmp_path / 'notes'}"


def test_a_folder_is_read_through_linked_folders_each_once(tmp_path: Path) -> None:
    # Lemmy's migrations reviewed from a folder of links to them gave "no .sql files"
    write(tmp_path, "service/V1__a.sql", "service/V3__c.sql", "elsewhere/V2__b.sql")
    review = tmp_path / "review"
    review.mkdir()
    (review / "service").symlink_to(tmp_path / "service", target_is_directory=True)
    (review / "more").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (review / "more" / "loop").symlink_to(review, target_is_directory=True)  # not followed round
    names = [f.path.relative_to(review).as_posix() for f in select([review]).files]
    assert names == ["more/V2__b.sql", "service/V1__a.sql", "service/V3__c.sql"]


def test_files_as_a_shell_glob_gives_them_run_in_natural_order(tmp_path: Path) -> None:
    write(tmp_path, "V10__c.sql", "V2__b.sql")
    globbed = [tmp_path / "V10__c.sql", tmp_path / "V2__b.sql"]  # character order
    assert [f.path.name for f in select(globbed).files] == ["V2__b.sql", "V10__c.sql"]
    assert [f.path.name for f in select(globbed, GIVEN).files] == ["V10__c.sql", "V2__b.sql"]


def test_an_order_file_names_the_files_to_load(tmp_path: Path) -> None:
    write(tmp_path, "tables.sql", "indexes.sql")
    (tmp_path / "plan.txt").write_text("# deploy order\ntables.sql\n\nindexes.sql  # last\n")
    selection = select([], str(tmp_path / "plan.txt"))
    assert [f.path.name for f in selection.files] == ["tables.sql", "indexes.sql"]
    (tmp_path / "bad.txt").write_text("missing.sql\n")
    with pytest.raises(InputError, match=r"bad\.txt:1: missing\.sql: no such file"):
        select([], str(tmp_path / "bad.txt"))


def test_a_missing_path_or_an_empty_folder_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or folder"):
        select([tmp_path / "absent"])
    with pytest.raises(InputError, match=r"no \.sql files"):
        select([tmp_path])


def test_a_no_break_space_after_the_last_statement_is_a_statement_of_its_own() -> None:
    # Python's str.strip() skips U+00A0 and the server does not: the split recursed
    # without end on such a file (a Flyway migration of dhis2-core ends so)
    split = split_file("CREATE TABLE a (id int);\n\u00a0\n", "f.sql")
    assert [(s.line, s.kind, s.text) for s in split.statements] == [
        (1, "CreateStmt", "CREATE TABLE a (id int)"),
        (2, "", "\u00a0\n"),
    ]
    assert split.statements[1].first_line == "\\u00a0"
    em_space = statements("SELECT 1;\n\u2003")
    assert em_space == [(1, 1, "SelectStmt", "SELECT 1"), (2, 1, "", "\u2003")]
    # the server reads a no-break space after an operator as a name: one statement, whole
    # (the splitter cut it before the space, and the rest failed to parse: a crash)
    assert statements("SELECT 1*/\u00a0") == [(1, 1, "SelectStmt", "SELECT 1*/\u00a0")]


# Fragments whose mixes have crashed or could crash a splitter: quotes, dollar quotes
# and comments left open, psql meta-commands, COPY data, spaces the server rejects.
FRAGMENTS = st.sampled_from([
    "CREATE TABLE a (id int)", ";", " ", "\n", "\u00a0", "\u2003", "'", '"', "$$", "$x$",
    "--", "/*", "*/", "\\.", "\\set x", "COPY t FROM stdin", "SELECT 1", "(", ")", "é",
    "\t", "\r", "BEGIN", "-- +goose Down", "-- migrate:up", "E'\\''", "\x00",
])  # fmt: skip


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(FRAGMENTS, max_size=30).map("".join))
def test_any_mix_of_fragments_splits_without_error(text: str) -> None:
    split = split_file(text, "f.sql")
    offsets = [s.offset for s in split.statements]
    assert offsets == sorted(offsets)
    for statement in split.statements:
        assert statement.first_line is not None and statement.where.startswith("f.sql:")
