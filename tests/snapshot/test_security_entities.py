"""The security entities (policies, roles, functions, views, extensions, privileges) as
the server has them, read without locks; and what a platform manages left out."""

from __future__ import annotations

import psycopg
from rich.console import Console

from pgvitals.config import Config
from pgvitals.connect import Limits, connect
from pgvitals.engine import analyse
from pgvitals.render.md import render_markdown
from pgvitals.render.text import render_text
from pgvitals.report import build_report
from pgvitals.snapshot import nodes
from pgvitals.snapshot.collect import collect
from pgvitals.snapshot.facts import CommandCoverage, PolicyUse
from pgvitals.snapshot.model import Snapshot

FIXTURE = """
DO $$ BEGIN CREATE ROLE anon NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE authenticated NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
CREATE SCHEMA "Mixed Case";
CREATE TABLE "Mixed Case"."Weird""Name" (id int, owner_id uuid, tenant text, "ñame" text);
ALTER TABLE "Mixed Case"."Weird""Name" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "Mixed Case"."Weird""Name" FORCE ROW LEVEL SECURITY;
CREATE TABLE "Mixed Case".members (user_id uuid);
CREATE POLICY "select" ON "Mixed Case"."Weird""Name" FOR SELECT TO authenticated, anon
    USING (tenant = current_setting('app.ñ tenant', true)
           AND EXISTS (SELECT 1 FROM "Mixed Case".members m WHERE m.user_id = owner_id));
CREATE POLICY writes ON "Mixed Case"."Weird""Name" AS RESTRICTIVE FOR INSERT
    WITH CHECK (true);
CREATE FUNCTION "Mixed Case".definer(n int) RETURNS int LANGUAGE sql SECURITY DEFINER
    SET search_path = '' AS $$ SELECT n $$;
REVOKE EXECUTE ON FUNCTION "Mixed Case".definer(int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION "Mixed Case".definer(int) TO authenticated;
CREATE VIEW "Mixed Case".v WITH (security_invoker = on, security_barrier) AS
    SELECT id FROM "Mixed Case"."Weird""Name";
GRANT USAGE ON SCHEMA "Mixed Case" TO anon;
GRANT SELECT, UPDATE ON "Mixed Case"."Weird""Name" TO authenticated;
GRANT SELECT ("ñame") ON "Mixed Case"."Weird""Name" TO anon;
"""


def snapshot_of(database, **limits: int) -> Snapshot:
    session = connect(database.dsn, Limits(**limits))
    try:
        return collect(session, profile=None)
    finally:
        session.close()


def test_security_entities_are_read_as_the_server_has_them(database) -> None:
    database.execute(FIXTURE)
    snap = snapshot_of(database)
    table = next(t for t in snap.tables if t.name == 'Weird"Name')
    assert (table.rls_enabled, table.rls_forced) == (True, True)
    by_name = {p.name: p for p in snap.policies}
    select, writes = by_name["select"], by_name["writes"]
    assert (select.command, select.permissive, select.roles) == (
        "SELECT",
        True,
        ["anon", "authenticated"],
    )
    assert "current_setting('app.ñ tenant'::text, true)" in (select.using or "")
    assert (writes.command, writes.permissive, writes.roles) == ("INSERT", False, ["public"])
    assert (writes.using, writes.with_check) == (None, "true")
    using, _ = snap.facts.policy_expressions[select.oid]
    assert using is not None
    members = next(t for t in snap.tables if t.name == "members")
    assert using.reads == {members.oid}
    setting = next(c for c in using.calls if c.arguments[:1] == ("app.ñ tenant",))
    assert setting.arguments == ("app.ñ tenant", True) and setting.row_independent
    assert snap.facts.policy_expressions[writes.oid][1].always_true  # type: ignore[union-attr]

    definer = next(f for f in snap.functions if f.name == "definer")
    assert (definer.security_definer, definer.config, definer.arguments) == (
        True,
        ['search_path=""'],
        "n integer",
    )
    assert definer.user_defined and definer.qualname == "Mixed Case.definer(n integer)"
    called = {f.name: f for f in snap.functions if not f.user_defined}
    assert called["current_setting"].volatility == "s"
    view = next(v for v in snap.views if v.name == "v")
    assert view.security_invoker and view.security_barrier and view.reads == [table.oid]
    assert {r.name for r in snap.roles} >= {"anon", "authenticated"}
    facts = snap.facts
    assert facts.can_reach_table("authenticated", table.oid, "UPDATE") is False  # no USAGE
    assert facts.can_reach_table("anon", table.oid, "SELECT")  # one column is enough
    assert not facts.can_reach_table("anon", table.oid, "UPDATE")
    assert facts.holds("authenticated", "function", definer.oid, definer.owner, "EXECUTE")
    assert not facts.holds("anon", "function", definer.oid, definer.owner, "EXECUTE")


def test_security_catalogs_are_read_while_a_table_is_locked(database) -> None:
    database.execute(FIXTURE)
    holder = psycopg.connect(database.dsn)
    holder.execute('LOCK TABLE "Mixed Case"."Weird""Name" IN ACCESS EXCLUSIVE MODE')
    try:
        snap = snapshot_of(database, lock_timeout_ms=200)
    finally:
        holder.close()
    # everything but the deparsed text: the trees and every entity came without a lock
    by_name = {p.name: p for p in snap.policies}
    assert by_name["select"].using is None and by_name["select"].using_tree
    assert snap.facts.policy_expressions[by_name["select"].oid][0] is not None
    assert any(f.name == "definer" for f in snap.functions) and snap.views and snap.privileges
    assert {
        "step": "definitions",
        "object": 'Mixed Case.Weird"Name',
        "reason": "lock timeout",
    } in snap.collection.skipped


SUPABASE = """
DO $$ BEGIN CREATE ROLE supabase_admin NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE authenticator NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE service_role NOLOGIN BYPASSRLS;
  EXCEPTION WHEN duplicate_object THEN NULL; END $$;
CREATE SCHEMA auth AUTHORIZATION supabase_admin;
CREATE TABLE auth.users (id uuid PRIMARY KEY, instance_id uuid, email text);
CREATE INDEX users_instance_id_idx ON auth.users (instance_id);
CREATE INDEX users_instance_id_email_idx ON auth.users (instance_id, email);
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE
    AS $$ SELECT nullif(current_setting('request.jwt.claim.sub', true), '')::uuid $$;
CREATE TABLE public.profiles (id uuid REFERENCES auth.users, bio text);
"""


def test_what_a_platform_manages_is_listed_once_and_not_assessed(database) -> None:
    database.execute(SUPABASE)
    snap = snapshot_of(database)
    default = analyse(snap)
    assert not [f for f in default.findings if f.schema == "auth"]
    listed = {(n.kind, n.managed_by): n for n in default.not_assessed}
    schemas = listed[("schemas", "Supabase")]
    assert schemas.names == ("auth",) and schemas.findings >= 2  # redundant index, search_path
    assert "supabase_admin" in listed[("roles", "Supabase")].names
    # the user's own table referencing the platform's is still the user's
    assert any(f.object.startswith("public.profiles") for f in default.findings)
    markdown = render_markdown(build_report(default))
    assert "Not assessed" in markdown and "managed by Supabase" in markdown
    console = Console(record=True, width=200, color_system=None)
    render_text(build_report(default), console)
    assert "not assessed: schemas auth: managed by Supabase;" in console.export_text()

    everything = analyse(snap, Config(include_managed=True))
    assert {
        ("redundant-index", "auth.users_instance_id_idx"),
        ("function-search-path-mutable", "auth.uid()"),
    } <= {(f.rule, f.object) for f in everything.findings}
    assert everything.not_assessed == []


def test_an_application_schema_named_auth_on_a_plain_server_is_assessed(database) -> None:
    database.execute(
        "CREATE SCHEMA auth; CREATE TABLE auth.sessions (id int, user_id int);"
        "CREATE INDEX s1 ON auth.sessions (user_id); CREATE INDEX s2 ON auth.sessions (user_id, id)"
    )
    found = analyse(snapshot_of(database)).findings
    assert ("redundant-index", "auth.s1") in {(f.rule, f.object) for f in found}


def test_node_trees_with_escapes_and_nesting_parse() -> None:
    tree = nodes.parse(r'{A :x \{a\ b\} :y ("id" "") :z <> :v 3 [ 1 -1 0 ]}')
    assert tree["x"] == "{a b}" and tree["y"] == ['"id"', '""'] and tree["z"] is None
    assert tree["v"] == nodes.Datum(bytes([1, 255, 0]))
    assert list(nodes.walk({"not": "a node"})) == []


MATRIX = """
DO $$ BEGIN CREATE ROLE anon NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE authenticated NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
CREATE TABLE "Weird""Name" (id int, owner text, tenant text);
ALTER TABLE "Weird""Name" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "all mine" ON "Weird""Name" TO authenticated USING (owner = current_user);
CREATE POLICY "public read" ON "Weird""Name" FOR SELECT TO anon, authenticated USING (true);
CREATE POLICY edits ON "Weird""Name" FOR UPDATE USING (owner = current_user);
CREATE POLICY tenant ON "Weird""Name" AS RESTRICTIVE FOR UPDATE TO authenticated
    USING (tenant = 't1');
GRANT SELECT ON "Weird""Name" TO anon;
GRANT SELECT, INSERT, UPDATE, DELETE ON "Weird""Name" TO authenticated;
CREATE TABLE locked (id int);
ALTER TABLE locked ENABLE ROW LEVEL SECURITY;
ALTER TABLE locked FORCE ROW LEVEL SECURITY;
GRANT DELETE ON locked TO PUBLIC;
CREATE TABLE plain (id int);
"""


def test_the_rls_coverage_matrix_names_who_may_do_what_by_which_policy(database) -> None:
    database.execute(MATRIX)
    snap = snapshot_of(database)
    rows = {row.name: row for row in snap.facts.rls_coverage.values()}
    assert set(rows) == {'Weird"Name', "locked"}
    weird = {c.command: c for c in rows['Weird"Name'].commands}
    use = PolicyUse
    assert weird["SELECT"] == CommandCoverage(
        "SELECT",
        (use("all mine", ("authenticated",)), use("public read", ("anon", "authenticated"))),
        (),
        ("anon", "authenticated"),
    )
    assert weird["INSERT"].permissive == (use("all mine", ("authenticated",)),)
    assert weird["UPDATE"] == CommandCoverage(
        "UPDATE",
        (use("all mine", ("authenticated",)), use("edits", ("public",))),
        (use("tenant", ("authenticated",)),),
        ("authenticated",),
    )
    assert weird["DELETE"].permissive == (use("all mine", ("authenticated",)),)
    assert not rows['Weird"Name'].forced
    locked = {c.command: c for c in rows["locked"].commands}
    assert rows["locked"].forced and all(c.denied for c in locked.values())
    assert locked["DELETE"].granted_to == ("PUBLIC",) and locked["SELECT"].granted_to == ()

    markdown = render_markdown(build_report(analyse(snap)))
    rls = markdown.split("\n## Row-level security\n", 1)[1].split("\n## ", 1)[0]
    assert "2 of 3 tables have row-level security enabled" in rls
    assert (
        '| `public.Weird"Name` | `postgres` (exempt) |'
        " `authenticated` (`all mine`); `anon`, `authenticated` (`public read`) |"
        " `authenticated` (`all mine`) |"
        " `authenticated` (`all mine`); `public` (`edits`); and `tenant` |"
        " `authenticated` (`all mine`) |"
    ) in rls
    assert (
        "| `public.locked` | `postgres` (forced: subject to the policies) |"
        " **denied** | **denied** | **denied** | **denied** (granted to `PUBLIC`) |"
    ) in rls


# River's tables as its migrations make them (riverqueue/river 002, 004, 006), in brief
RIVER = """
CREATE TABLE river_job (id bigserial PRIMARY KEY, args jsonb NOT NULL, attempt smallint NOT NULL,
  attempted_at timestamptz, attempted_by text[], created_at timestamptz NOT NULL DEFAULT now(),
  errors jsonb[], finalized_at timestamptz, kind text NOT NULL, max_attempts smallint NOT NULL,
  metadata jsonb NOT NULL DEFAULT '{}', priority smallint NOT NULL, queue text NOT NULL,
  state text NOT NULL, scheduled_at timestamptz NOT NULL, tags varchar(255)[] NOT NULL);
CREATE TABLE river_queue (name text PRIMARY KEY, created_at timestamptz NOT NULL,
  metadata jsonb NOT NULL DEFAULT '{}', paused_at timestamptz, updated_at timestamptz NOT NULL);
CREATE FUNCTION river_job_state_in_bitmask(bitmask bit(8), state text) RETURNS boolean
  LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RETURN get_bit(bitmask, 0) = 1; END $$;
CREATE TABLE widgets (id serial PRIMARY KEY);
"""


def test_what_a_library_defines_is_listed_once_and_not_assessed(database) -> None:
    database.execute(RIVER)
    snap = snapshot_of(database)
    default = analyse(snap)
    found = {(f.rule, f.object) for f in default.findings}
    assert ("serial-instead-of-identity", "public.widgets.id") in found
    assert not [f for f in default.findings if f.object.startswith("public.river_")]
    (river,) = default.not_assessed
    assert (river.managed_by, river.kind) == ("River", "definitions of tables")
    assert river.names == ("public.river_job", "public.river_queue")
    assert river.findings >= 3  # the serial key, jsonb without GIN, the function's search_path
    markdown = render_markdown(build_report(default))
    assert "definitions of tables `public.river_job`, `public.river_queue`: managed by River" in (
        markdown
    )

    everything = analyse(snap, Config(include_managed=True))
    assert {
        ("serial-instead-of-identity", "public.river_job.id"),
        ("jsonb-without-gin", "public.river_queue.metadata"),
        (
            "function-search-path-mutable",
            "public.river_job_state_in_bitmask(bitmask bit, state text)",
        ),
    } <= {(f.rule, f.object) for f in everything.findings}
    assert everything.not_assessed == []
