"""Migrations whose tool connects with a search_path of their own schema (Supabase
Storage's runner sets `search_path=storage,public,extensions`) may name that schema's
tables without it. Review's session has the server's default search_path, so what
fails for want of it is not checked (with how to check it), not invalid-ddl; a name no
schema holds is still the files' fault."""

from __future__ import annotations

from tests.test_review import invalid_ddl, located, not_checked, review, write

# Supabase Storage (supabase/storage@4fa61fb, migrations/tenant): 0038 creates
# storage.iceberg_namespaces, 0047 alters it as `iceberg_namespaces` inside a DO block
FILES = {
    "migrations/0001-schema.sql": """\
CREATE SCHEMA storage;
CREATE TABLE storage.iceberg_namespaces (id uuid PRIMARY KEY, name text NOT NULL);
CREATE TABLE storage.iceberg_tables (id uuid PRIMARY KEY, namespace_id uuid NOT NULL);
""",
    "migrations/0002-metadata.sql": """\
DO $$
BEGIN
    ALTER TABLE iceberg_namespaces ADD COLUMN IF NOT EXISTS metadata jsonb;
END
$$;
ALTER TABLE iceberg_tables ADD COLUMN remote_table_id text;
ALTER TABLE iceberg_tabels ADD COLUMN shard_key text;
""",
}


def test_a_table_named_without_its_schema_off_the_search_path_is_not_checked(
    tmp_path,
) -> None:
    write(tmp_path, FILES)
    run = review(tmp_path, "migrations")
    assert run.exit_code == 0, run.stderr
    # the misspelt table is the file's fault
    assert [located(f) for f in invalid_ddl(run)] == ["migrations/0002-metadata.sql:7"]
    (entry,) = not_checked(run)
    assert entry["object"] == "migrations/0002-metadata.sql:1"
    assert entry["statements_not_checked"] == 2  # and the ALTER of iceberg_tables after it
    assert "search_path" in entry["because"] and "storage" in entry["because"]
    assert "search_path = storage" in entry["check_instead"]
