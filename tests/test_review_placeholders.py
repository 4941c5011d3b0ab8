"""graphile-migrate's placeholders (`:DATABASE_VISITOR`, ...) are replaced as the tool
replaces them before it runs a migration: Graphile Starter's migrations gave 19 false
invalid-ddl ("syntax error at or near ':'")."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgvitals.review.placeholders import declared, replaced
from tests.test_review import invalid_ddl, review, write

GMRC = """\
/* Graphile Migrate configuration (JSON5) */
{
  "pgSettings": {"search_path": "app_public,public"},
  // placeholders: substituted verbatim
  "placeholders": {
    ":DATABASE_VISITOR": "!ENV",
    ":APP_SCHEMA": "app_public",
  },
}
"""
MIGRATION = """\
--! Previous: -
--! Hash: sha1:0000000000000000000000000000000000000000

create schema :APP_SCHEMA;
create table :APP_SCHEMA.notes (id int primary key, body text not null);
comment on table :APP_SCHEMA.notes is 'Notes.';
grant connect on database :DATABASE_NAME to :DATABASE_VISITOR;
grant usage on schema :APP_SCHEMA to :DATABASE_VISITOR;
grant select on :APP_SCHEMA.notes to :DATABASE_VISITOR;
alter default privileges for role :DATABASE_OWNER revoke execute on functions from public;
"""


def reasons(run) -> list[str]:
    return [entry["reason"] for entry in run.json()["collection"]["skipped"]]


def test_the_placeholders_gmrc_declares_are_replaced_and_the_migration_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_VISITOR", raising=False)
    write(tmp_path, {"db/.gmrc": GMRC, "db/migrations/committed/000001.sql": MIGRATION})
    run = review(tmp_path, "db/migrations")
    assert run.exit_code == 0, run.stderr
    assert invalid_ddl(run) == []
    report = run.json()
    schemas = {s["overview"]["name"]: s["overview"] for s in report["sections"]["schemas"]}
    assert schemas["app_public"]["tables"] == 1  # the table, made where the value says
    notes = reasons(run)
    assert any(
        "graphile-migrate placeholders replaced as .gmrc says: :APP_SCHEMA, :DATABASE_NAME,"
        " :DATABASE_OWNER, :DATABASE_VISITOR" in note
        for note in notes
    ), notes
    assert any(":DATABASE_VISITOR -> database_visitor (a stand-in role" in n for n in notes)


def test_a_value_from_the_environment_is_used_and_no_gmrc_means_no_replacement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "db" / ".gmrc"
    write(tmp_path, {"db/.gmrc": GMRC, "db/migrations/committed/000001.sql": MIGRATION})
    assert declared(config) == {":DATABASE_VISITOR": "!ENV", ":APP_SCHEMA": "app_public"}
    monkeypatch.setenv("DATABASE_VISITOR", "starter_visitor")
    migration = tmp_path / "db/migrations/committed/000001.sql"
    text, notes = replaced(migration, "000001.sql", MIGRATION, "scratch", "postgres")
    assert "grant connect on database scratch to starter_visitor;" in text
    assert "for role postgres revoke" in text
    assert ":" not in text.split("Hash:")[1].replace("sha1:", "")
    assert len(notes) == 1  # no stand-in
    # outside a graphile-migrate project a colon word is the server's to judge
    outside = tmp_path / "plain" / "1.sql"
    assert replaced(outside, "1.sql", MIGRATION, "scratch", "postgres") == (MIGRATION, [])


def test_synapses_auto_increment_placeholder_is_replaced_as_its_engine_does(
    tmp_path: Path,
) -> None:
    """Synapse's delta 87/02_per_connection_state.sql: `$%AUTO_INCREMENT_PRIMARY_KEY%$`,
    which synapse/storage/engines/postgres.py replaces before it runs the file, gave
    three false invalid-ddl and six more statements failed after them."""
    write(
        tmp_path,
        {
            "delta/87/02_per_connection_state.sql": (
                "CREATE TABLE sliding_sync_connections(\n"
                "    connection_key $%AUTO_INCREMENT_PRIMARY_KEY%$,\n"
                "    user_id TEXT NOT NULL\n);\n"
                "CREATE INDEX sliding_sync_connections_idx ON sliding_sync_connections(user_id);\n"
            )
        },
    )
    run = review(tmp_path, "delta")
    assert run.exit_code == 0, run.stderr
    assert invalid_ddl(run) == []
    notes = reasons(run)
    assert any("Synapse's placeholder $%AUTO_INCREMENT_PRIMARY_KEY%$ replaced" in n for n in notes)
    keys = {f["object"] for f in run.json()["findings"] if f["rule"] == "missing-primary-key"}
    assert "public.sliding_sync_connections" not in keys  # the identity key it stands for


def test_synapses_delta_folders_load_postgres_files_and_pass_over_python(tmp_path: Path) -> None:
    """Synapse keeps a version's deltas in one folder: `.sql` for every engine,
    `.sql.postgres` for PostgreSQL only (run in name order beside them), `.sql.sqlite`
    for SQLite, and `.py` deltas that run code."""
    write(
        tmp_path,
        {
            "delta/92/04_subscriptions.sql": "CREATE TABLE subs (id bigint PRIMARY KEY, n int);",
            "delta/92/04_subscriptions_seq.sql.postgres": "CREATE SEQUENCE subs_seq;",
            "delta/92/04_subscriptions_seq.sql.sqlite": (
                "CREATE TABLE subs_seq (id INTEGER PRIMARY KEY AUTOINCREMENT);"
            ),
            "delta/92/05_comments.sql.postgres": "COMMENT ON COLUMN subs.n IS 'The count.';",
            "delta/92/06_backfill.py": (
                "def run_upgrade(cur, database_engine, *args, **kwargs):\n    pass\n"
            ),
            "delta/92/07_more.sql": "ALTER TABLE subs ADD COLUMN m int;",
        },
    )
    run = review(tmp_path, "delta")
    assert run.exit_code == 0, run.stderr
    assert invalid_ddl(run) == []  # the SQLite file is not loaded
    messages = [f["message"] for f in run.json()["findings"] if f["rule"] == "missing-comments"]
    # the comment of the .sql.postgres file, on a column of the .sql file before it
    assert messages == ["0 of 1 tables and 1 of 3 columns have a comment"]
    assert "delta/92/06_backfill.py: Python migration, not run by review" in reasons(run)


POP_MIGRATIONS = {
    # Supabase Auth's migrations/00_init_auth_schema.up.sql and 20210710035447, shortened
    "migrations/00_init_auth_schema.up.sql": (
        'CREATE SCHEMA IF NOT EXISTS {{ index .Options "Namespace" }};\n'
        'CREATE TABLE IF NOT EXISTS {{ index .Options "Namespace" }}.users (\n'
        "    id uuid NOT NULL PRIMARY KEY,\n    email varchar(255) NULL UNIQUE\n);\n"
        "COMMENT ON TABLE {{ index .Options \"Namespace\" }}.users IS 'Auth: Stores users.';\n"
    ),
    "migrations/00_init_auth_schema.down.sql": (
        'DROP TABLE {{ index .Options "Namespace" }}.users;\n'
    ),
    "migrations/20210710035447_alter_users.up.sql": (
        'ALTER TABLE {{index .Options "Namespace" }}.users\n'
        "ADD COLUMN IF NOT EXISTS phone varchar(15) NULL UNIQUE DEFAULT NULL;\n"
        'GRANT SELECT ON {{ index .Options "Owner" }}_probe TO PUBLIC;\n'
    ),
}


def test_pops_template_options_are_replaced_as_supabase_auth_runs_its_migrations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Supabase Auth (gobuffalo/pop) writes `{{ index .Options "Namespace" }}` for its
    schema: pop renders each file as a Go template first. Unreplaced, its 70 migrations
    gave 198 false invalid-ddl and loaded nothing."""
    for name in ("GOTRUE_DB_NAMESPACE", "DB_NAMESPACE", "OWNER"):
        monkeypatch.delenv(name, raising=False)
    migrations = dict(POP_MIGRATIONS)
    migrations["migrations/20210710035447_alter_users.up.sql"] = migrations[
        "migrations/20210710035447_alter_users.up.sql"
    ].replace('GRANT SELECT ON {{ index .Options "Owner" }}_probe TO PUBLIC;\n', "")
    write(tmp_path, migrations)
    run = review(tmp_path, "migrations")
    assert run.exit_code == 0, run.stderr
    assert invalid_ddl(run) == []
    report = run.json()
    schemas = {s["overview"]["name"]: s["overview"] for s in report["sections"]["schemas"]}
    assert schemas["auth"]["tables"] == 1  # where Supabase Auth puts it by default
    notes = reasons(run)
    assert any(
        'pop template option "Namespace" replaced by auth (Supabase Auth\'s default;'
        " DB_NAMESPACE sets another)" in note
        for note in notes
    ), notes


def test_a_pop_option_takes_the_environments_value_or_a_named_stand_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_NAMESPACE", "identity")
    monkeypatch.delenv("GOTRUE_DB_NAMESPACE", raising=False)
    monkeypatch.delenv("OWNER", raising=False)
    name = "migrations/20210710035447_alter_users.up.sql"
    text, notes = replaced(tmp_path / name, name, POP_MIGRATIONS[name], "scratch", "postgres")
    assert text.startswith("ALTER TABLE identity.users\n")
    assert "GRANT SELECT ON owner_probe TO PUBLIC;" in text
    assert "{{" not in text
    assert [note.text for note in notes] == [
        'pop template option "Namespace" replaced by identity (from the environment)',
        'pop template option "Owner" replaced by owner (a stand-in; set OWNER to review'
        " with yours)",
    ]


# River's migrations (riverqueue/river@fdf6cdf, riverdriver/riverpgxv5/migration/main)
# write `/* TEMPLATE: schema */` before every name, inside a string literal too; its
# migrator (rivermigrate/river_migrate.go) replaces it with "" or `"<schema>".` first.
# Left in, `to_regclass('/* TEMPLATE: schema */river_migration')` fails on PostgreSQL 15
# ("invalid name syntax") and is NULL on 16, so the table is silently never rebuilt.
RIVER = {
    "main/001_create_job_versions_v.up.sql": (
        "CREATE TABLE /* TEMPLATE: schema */job_versions_v(\n"
        "  id bigserial PRIMARY KEY,\n  version bigint NOT NULL\n);\n"
    ),
    "main/001_create_job_versions_v.down.sql": "DROP TABLE /* TEMPLATE: schema */job_versions_v;\n",
    "main/002_rebuild.up.sql": (
        "DO\n$body$\nBEGIN\n"
        "    IF (SELECT to_regclass('/* TEMPLATE: schema */job_versions_v') IS NOT NULL) THEN\n"
        "        ALTER TABLE /* TEMPLATE: schema */job_versions_v RENAME TO job_versions_v_old;\n"
        "        CREATE TABLE /* TEMPLATE: schema */job_versions_v(\n"
        "            line text NOT NULL, version bigint NOT NULL, PRIMARY KEY (line, version));\n"
        "        DROP TABLE /* TEMPLATE: schema */job_versions_v_old;\n"
        "    END IF;\nEND;\n$body$\nLANGUAGE 'plpgsql';\n"
    ),
    "main/002_rebuild.down.sql": "SELECT 1;\n",
}


def test_rivers_schema_template_is_removed_as_its_migrator_does(tmp_path: Path) -> None:
    write(tmp_path, RIVER)
    run = review(tmp_path, "main")
    assert run.exit_code == 0, run.stderr
    assert invalid_ddl(run) == []
    # the DO block found the table and rebuilt it: no bigserial id is left
    findings = run.json()["findings"]
    serials = {f["object"] for f in findings if f["rule"] == "serial-instead-of-identity"}
    assert "public.job_versions_v.id" not in serials
    notes = reasons(run)
    assert any("River's schema template /* TEMPLATE: schema */ removed" in n for n in notes), notes
    text, _ = replaced(tmp_path / "x.sql", "x.sql", RIVER["main/002_rebuild.up.sql"], "d", "u")
    assert "to_regclass('job_versions_v')" in text
