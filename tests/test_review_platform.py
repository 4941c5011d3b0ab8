"""Migrations written for a managed platform (a Supabase project's supabase/migrations)
use the schemas the platform makes before the first migration: auth.users, auth.uid(),
storage.buckets, the extensions schema. Review does not have them, so what fails for
want of them is not checked (with how to check it), not invalid-ddl; a schema no
platform makes, or one the files made themselves, is still the files' fault."""

from __future__ import annotations

from tests.test_review import invalid_ddl, located, not_checked, review, write

INIT = """\
CREATE TABLE profiles (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    "ñame" text
);
ALTER TABLE profiles ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Weird""own" ON profiles USING (user_id = auth.uid());
INSERT INTO storage.buckets (id, name) VALUES ('avatars', 'avatars');
CREATE TABLE notes (id int PRIMARY KEY, body text);
CREATE INDEX notes_body ON nots (body);
CREATE TABLE shares (id int REFERENCES missing.things (id));
"""
OWN_VAULT = """\
CREATE SCHEMA vault;
CREATE TABLE vault.keys (id int PRIMARY KEY);
INSERT INTO vault.secrets (id) VALUES (1);
"""


def test_what_fails_for_want_of_the_platforms_schemas_is_not_checked(tmp_path) -> None:
    # chatbot-ui (mckaywrigley/chatbot-ui@81328b6) gave 41 invalid-ddl, Midday
    # (midday-ai/midday@6741853, apps/api/supabase/migrations) 32: every table that
    # references auth.users, every policy calling auth.uid(), every storage policy
    write(tmp_path, {
        "supabase/migrations/20240101000000_init.sql": INIT,
        "supabase/migrations/20240102000000_vault.sql": OWN_VAULT,
    })  # fmt: skip
    run = review(tmp_path, "supabase/migrations")
    assert run.exit_code == 0, run.stderr
    init, vault = (
        "supabase/migrations/20240101000000_init.sql",
        "supabase/migrations/20240102000000_vault.sql",
    )
    # a misspelt table, a schema no platform makes, a table of a schema the files made
    rejected = sorted(located(f) for f in invalid_ddl(run))
    assert rejected == [f"{init}:10", f"{init}:11", f"{vault}:3"]
    (entry,) = not_checked(run)
    assert entry["object"] == f"{init}:1"
    # the table, what needed it (RLS, the policy), and the bucket
    assert entry["statements_not_checked"] == 4
    assert "Supabase" in entry["because"]
    assert "supabase start" in entry["check_instead"]
    assert "review incomplete: 4 statements not checked" in " ".join(run.stderr.split())
