"""The claims of the security rules, shown on a real server with real roles: each test
creates its roles, acts as them with SET ROLE, and drops them again (roles are shared
by every database of the test server)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import pytest

from pgvitals.config import parse_config
from pgvitals.connect import connect
from pgvitals.engine import analyse
from pgvitals.findings import Finding
from pgvitals.snapshot.collect import collect

_numbers = itertools.count()
Roles = Callable[..., list[str]]


@pytest.fixture
def roles(database) -> Iterator[Roles]:
    """`roles("owner", "anon LOGIN")` creates roles named uniquely for this test (the
    words after the name are role options) and returns their names."""
    created: list[str] = []

    def make(*specs: str) -> list[str]:
        names = []
        for spec in specs:
            name, _, options = spec.partition(" ")
            unique = f"{name}_{next(_numbers)}_{database.name}"
            database.execute(f"CREATE ROLE {unique} {options}")
            created.append(unique)
            names.append(unique)
        return names

    yield make
    with database.admin() as admin:
        for name in created:
            admin.execute(f"DROP OWNED BY {name} CASCADE")
    with psycopg.connect(database.server.dsn(), autocommit=True) as admin:
        for name in created:
            admin.execute(f"DROP ROLE {name}")


def findings(database, rule: str, config: dict | None = None) -> list[Finding]:
    """The rule's findings on the test database, under `config` (as pgvitals.toml)."""
    session = connect(database.dsn)
    try:
        snapshot = collect(session, profile=None)
    finally:
        session.close()
    return [f for f in analyse(snapshot, parse_config(config or {})).findings if f.rule == rule]


@contextmanager
def as_role(database, role: str) -> Iterator[psycopg.Connection]:
    """A session of the test database as `role` (SET ROLE)."""
    with database.admin() as session:
        session.execute(f"SET ROLE {role}")
        yield session


@contextmanager
def signed_in(database, role: str, user: str) -> Iterator[psycopg.Connection]:
    """A session as `role` with the JWT claims PostgREST sets for `user`'s requests."""
    with as_role(database, role) as session:
        claims = json.dumps({"sub": user})
        session.execute("SELECT set_config('request.jwt.claims', %s, false)", [claims])
        yield session


def apply_fix(database, finding: Finding) -> None:
    assert finding.fix is not None
    with database.admin() as admin:
        for statement in finding.fix.statements:
            admin.execute(statement)


def notices(connection: psycopg.Connection) -> list[str]:
    """Collect the NOTICE messages the server sends on this connection."""
    received: list[str] = []
    connection.add_notice_handler(lambda notice: received.append(notice.message_primary or ""))
    return received


# security-definer-search-path


def test_a_definer_function_without_search_path_runs_what_the_caller_planted(
    database, roles: Roles
) -> None:
    owner, caller = roles("owner", "caller")
    database.execute(
        f"CREATE SCHEMA app AUTHORIZATION {owner};"
        f"SET ROLE {owner};"
        "CREATE TABLE app.audit (what text, by_role text);"
        "CREATE FUNCTION app.log_event(what text) RETURNS void LANGUAGE sql"
        "  AS $$ INSERT INTO app.audit VALUES (what, current_user) $$;"
        "CREATE FUNCTION app.reset_streak() RETURNS void LANGUAGE plpgsql SECURITY DEFINER"
        "  AS $$ BEGIN PERFORM log_event('reset'); END $$;"
        f"GRANT USAGE ON SCHEMA app TO {caller};"
        "RESET ROLE;"
        f"CREATE SCHEMA evil AUTHORIZATION {caller};"
    )
    with database.admin() as session:
        session.execute(f"SET ROLE {caller}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            session.execute("INSERT INTO app.audit VALUES ('direct', current_user)")
        session.execute(
            "CREATE FUNCTION evil.log_event(what text) RETURNS void LANGUAGE sql"
            "  AS $$ INSERT INTO app.audit VALUES ('planted', current_user) $$;"
            "GRANT USAGE ON SCHEMA evil TO PUBLIC"  # so that the owner's lookup sees it
        )
        session.execute("SET search_path = evil, app")
        session.execute("SELECT app.reset_streak()")
        session.execute("RESET ROLE")
        planted = session.execute("SELECT what, by_role FROM app.audit").fetchall()
    # the caller's function ran with the owner's rights and wrote where it may not
    assert planted == [("planted", owner)]

    [found] = [f for f in findings(database, "security-definer-search-path") if "reset" in f.object]
    assert found.severity == "high"
    apply_fix(database, found)
    with database.admin() as session:
        session.execute("DELETE FROM app.audit")
        session.execute(f"SET ROLE {caller}")
        session.execute("SET search_path = evil, app")
        session.execute("SELECT app.reset_streak()")
        session.execute("RESET ROLE")
        after = session.execute("SELECT what, by_role FROM app.audit").fetchall()
    assert after == [("reset", owner)]  # the function's own schema wins now


def test_a_set_clause_stops_the_planner_inlining_an_sql_function(database) -> None:
    database.execute(
        "CREATE TABLE tags (name text);"
        "CREATE INDEX ON tags (name text_pattern_ops);"
        "CREATE FUNCTION reverse_match(text, text) RETURNS boolean LANGUAGE sql IMMUTABLE"
        "  AS $$ SELECT $2 ~ $1 $$;"
        "CREATE OPERATOR ~~~ (FUNCTION = reverse_match, LEFTARG = text, RIGHTARG = text);"
        "CREATE FUNCTION definer_match(text, text) RETURNS boolean LANGUAGE sql IMMUTABLE"
        "  SECURITY DEFINER AS $$ SELECT $2 ~ $1 $$"
    )

    def uses_index(connection: psycopg.Connection, condition: str) -> bool:
        rows = connection.execute(f"EXPLAIN (COSTS OFF) SELECT * FROM tags WHERE {condition}")
        return any("Index Cond" in line for (line,) in rows.fetchall())

    found = {
        f.object: f
        for rule in ("security-definer-search-path", "function-search-path-mutable")
        for f in findings(database, rule)
    }
    inlinable = found["public.reverse_match(text, text)"]
    assert inlinable.fix is None and inlinable.evidence["may_be_inlined"] is True
    assert found["public.definer_match(text, text)"].fix is not None
    with database.admin() as admin:
        admin.execute("SET enable_seqscan = off")
        # inlined, the operator becomes `name ~ '^abc'`, which the index serves
        assert uses_index(admin, "'^abc' ~~~ name")
        # a SECURITY DEFINER function is never inlined: a SET clause costs it nothing
        assert not uses_index(admin, "definer_match('^abc', name)")
        admin.execute("ALTER FUNCTION reverse_match(text, text) SET search_path = public, pg_temp")
        assert not uses_index(admin, "'^abc' ~~~ name")


def test_a_sql_standard_body_keeps_the_objects_it_named_when_created(database) -> None:
    database.execute(
        "CREATE FUNCTION public.label() RETURNS text LANGUAGE sql RETURN 'real';"
        "CREATE FUNCTION public.bound_label() RETURNS text LANGUAGE sql RETURN label();"
        "CREATE FUNCTION public.looked_up_label() RETURNS text LANGUAGE sql"
        "  AS $$ SELECT label() $$;"
        "CREATE SCHEMA planted;"
        "CREATE FUNCTION planted.label() RETURNS text LANGUAGE sql RETURN 'planted'"
    )
    with database.admin() as admin:
        admin.execute("SET search_path = planted, public")
        labels = admin.execute("SELECT public.bound_label(), public.looked_up_label()")
        assert labels.fetchone() == ("real", "planted")
    reported = {f.object for f in findings(database, "function-search-path-mutable")}
    assert "public.looked_up_label()" in reported
    assert "public.bound_label()" not in reported


# function-search-path-mutable


def test_an_invoker_function_runs_what_a_role_planted_only_where_it_may_create(
    database, roles: Roles
) -> None:
    attacker, victim = roles("attacker", "victim")
    database.execute(
        "CREATE TABLE names (name varchar); INSERT INTO names VALUES ('Ada');"
        "CREATE FUNCTION public.shout(n varchar) RETURNS text LANGUAGE plpgsql"
        "  AS $$ BEGIN RETURN upper(n); END $$;"
        f"GRANT SELECT ON names TO {victim}"
    )
    [quiet] = findings(database, "function-search-path-mutable")
    # PostgreSQL 15+: nobody but the owner may create in public, so nothing can be planted
    assert quiet.severity == "info" and quiet.evidence["writable_schemas"] == []
    with database.admin() as session:
        session.execute(f"SET ROLE {attacker}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            session.execute(
                "CREATE FUNCTION public.upper(varchar) RETURNS text AS 'x' LANGUAGE sql"
            )

    database.execute("GRANT CREATE ON SCHEMA public TO PUBLIC")
    with database.admin() as session:
        session.execute(f"SET ROLE {attacker}")
        # more specific than pg_catalog.upper(text) for a varchar argument
        session.execute(
            "CREATE FUNCTION public.upper(varchar) RETURNS text LANGUAGE sql"
            "  AS $$ SELECT 'ran as ' || current_user $$"
        )
        session.execute(f"SET ROLE {victim}")
        # the invoker function gives the attacker no rights of the owner, but runs the
        # planted code as whoever calls it
        ran = session.execute("SELECT public.shout(name) FROM names").fetchone()
        assert ran == (f"ran as {victim}",)
        session.execute("RESET ROLE")
        session.execute("DROP FUNCTION public.upper(varchar)")
    [found] = findings(database, "function-search-path-mutable")
    assert found.severity == "low" and found.evidence["writable_schemas"] == ["public"]
    assert findings(database, "security-definer-search-path") == []


# security-definer-executable-by-api-role


def test_every_role_may_call_a_new_definer_function_until_public_is_revoked(
    database, roles: Roles
) -> None:
    owner, anon = roles("owner", "anon")
    database.execute(
        f"CREATE TABLE secrets (v text); INSERT INTO secrets VALUES ('s1');"
        f"ALTER TABLE secrets OWNER TO {owner};"
        "CREATE FUNCTION public.peek() RETURNS text LANGUAGE sql SECURITY DEFINER"
        "  SET search_path = '' AS $$ SELECT v FROM public.secrets $$;"
        f"ALTER FUNCTION public.peek() OWNER TO {owner};"
    )
    with database.admin() as session:
        session.execute(f"SET ROLE {anon}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            session.execute("SELECT v FROM secrets")
        # nobody granted anything: PUBLIC's default EXECUTE is enough
        assert session.execute("SELECT public.peek()").fetchone() == ("s1",)
        session.execute("RESET ROLE")
        session.execute("REVOKE EXECUTE ON FUNCTION public.peek() FROM PUBLIC")
        session.execute(f"SET ROLE {anon}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            session.execute("SELECT public.peek()")


def test_a_definer_trigger_function_cannot_be_called_whoever_may_execute_it(
    database, roles: Roles
) -> None:
    owner, anon = roles("owner", "anon")
    database.execute(
        "CREATE FUNCTION public.handle_new_user() RETURNS trigger LANGUAGE plpgsql"
        "  SECURITY DEFINER SET search_path = '' AS $$ BEGIN RETURN NEW; END $$;"
        f"ALTER FUNCTION public.handle_new_user() OWNER TO {owner};"
    )
    with database.admin() as session:
        session.execute(f"SET ROLE {anon}")  # PUBLIC's default EXECUTE
        with pytest.raises(psycopg.errors.FeatureNotSupported, match="only be called as trig"):
            session.execute("SELECT public.handle_new_user()")
    assert findings(database, "security-definer-executable-by-api-role") == []


# rls-per-row-function


def orders_seen_by(database, reader: str) -> tuple[int, int]:
    """The rows of `orders` the reader sees, and the notices one query of them raised."""
    with database.admin() as session:
        received = notices(session)
        session.execute(f"SET ROLE {reader}")
        (visible,) = session.execute("SELECT count(*) FROM orders").fetchone() or (0,)
        return visible, len(received)


def test_a_policy_calls_its_function_per_row_until_wrapped_in_a_subselect(
    database, roles: Roles
) -> None:
    (reader,) = roles("reader")
    database.execute(
        "CREATE FUNCTION public.current_tenant() RETURNS int LANGUAGE plpgsql STABLE"
        "  AS $$ BEGIN RAISE NOTICE 'called'; RETURN 3; END $$;"
        "CREATE TABLE orders (id int, tenant_id int);"
        "INSERT INTO orders SELECT g, g % 5 FROM generate_series(1, 50) g;"
        "ALTER TABLE orders ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY tenant_orders ON orders USING (tenant_id = current_tenant());"
        f"GRANT SELECT ON orders TO {reader};"
    )

    # one call per row read (the planner may add one more, estimating selectivity)
    visible, calls = orders_seen_by(database, reader)
    assert visible == 10 and 50 <= calls <= 51
    [found] = findings(database, "rls-per-row-function")
    apply_fix(database, found)
    visible, calls = orders_seen_by(database, reader)
    assert visible == 10 and calls <= 2  # the same rows allowed, one call per query


@pytest.mark.parametrize(
    "using",
    [
        # the fix takes in the split and the cast: ANY ((SELECT (...)::int[])::int[])
        "tenant_id = ANY (string_to_array(tenant_list(), ',')::int[])",
        # an array-valued function: ANY ((SELECT f())) would read f()'s rows, not its elements
        "tenant_id = ANY (tenant_array())",
    ],
)
def test_an_array_the_policy_compares_with_is_built_once_per_query_after_the_fix(
    database, roles: Roles, using: str
) -> None:
    (reader,) = roles("reader")
    database.execute(
        "CREATE FUNCTION public.tenant_list() RETURNS text LANGUAGE plpgsql STABLE"
        "  AS $$ BEGIN RAISE NOTICE 'called'; RETURN '1,3'; END $$;"
        "CREATE FUNCTION public.tenant_array() RETURNS int[] LANGUAGE plpgsql STABLE"
        "  AS $$ BEGIN RAISE NOTICE 'called'; RETURN '{1,3}'; END $$;"
        "CREATE TABLE orders (id int, tenant_id int);"
        "INSERT INTO orders SELECT g, g % 5 FROM generate_series(1, 50) g;"
        "ALTER TABLE orders ENABLE ROW LEVEL SECURITY;"
        f"CREATE POLICY tenant_orders ON orders USING ({using});"
        f"GRANT SELECT ON orders TO {reader};"
    )

    visible, calls = orders_seen_by(database, reader)
    assert visible == 20 and calls >= 50
    [found] = findings(database, "rls-per-row-function")
    apply_fix(database, found)
    visible, calls = orders_seen_by(database, reader)
    assert visible == 20 and calls <= 2  # the same rows allowed, one call per query


def test_a_function_in_a_sub_select_that_reads_no_column_runs_once_per_query(
    database, roles: Roles
) -> None:
    (reader,) = roles("reader")
    database.execute(
        "CREATE TABLE members (team int);"
        "INSERT INTO members VALUES (1), (2);"
        "CREATE FUNCTION public.my_teams() RETURNS SETOF int LANGUAGE plpgsql STABLE"
        "  AS $$ BEGIN RAISE NOTICE 'called'; RETURN QUERY SELECT team FROM members; END $$;"
        "CREATE TABLE accounts (id int, team int);"
        "INSERT INTO accounts SELECT g, g % 5 FROM generate_series(1, 50) g;"
        "ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY team ON accounts USING (team IN (SELECT my_teams()));"
        f"GRANT SELECT ON accounts, members TO {reader};"
    )
    with database.admin() as session:
        received = notices(session)
        session.execute(f"SET ROLE {reader}")
        assert session.execute("SELECT count(*) FROM accounts").fetchone() == (20,)
        assert len(received) == 1  # a hashed SubPlan: one call for the 50 rows
    assert findings(database, "rls-per-row-function") == []


# multiple-permissive-policies


def test_permissive_policies_are_ored_and_each_rejected_row_tries_the_next(
    database, roles: Roles
) -> None:
    (reader,) = roles("reader")
    database.execute(
        "CREATE FUNCTION public.traced(label text, ok boolean) RETURNS boolean LANGUAGE plpgsql"
        "  AS $$ BEGIN RAISE NOTICE '%', label; RETURN ok; END $$;"
        "CREATE TABLE notes (id int);"
        "INSERT INTO notes SELECT generate_series(1, 10);"
        "ALTER TABLE notes ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY mine ON notes FOR SELECT USING (traced('mine', id <= 2));"
        "CREATE POLICY narrow ON notes FOR SELECT USING (traced('narrow', id = 1));"
        f"GRANT SELECT ON notes TO {reader};"
    )
    with database.admin() as session:
        received = notices(session)
        session.execute(f"SET ROLE {reader}")
        visible = session.execute("SELECT id FROM notes ORDER BY id").fetchall()
        # OR: the "narrow" policy narrows nothing, it adds its rows to the others
        assert visible == [(1,), (2,)]
        # the 8 rows neither allows were tested against both policies (the 2 allowed
        # ones stop at the first policy that passes, in the server's order)
        assert min(received.count("mine"), received.count("narrow")) >= 8
        assert 18 <= len(received) <= 20
        session.execute("RESET ROLE")
        session.execute("DROP POLICY narrow ON notes")
        session.execute("CREATE POLICY narrow ON notes AS RESTRICTIVE FOR SELECT USING (id = 1)")
        session.execute(f"SET ROLE {reader}")
        assert session.execute("SELECT id FROM notes").fetchall() == [(1,)]


# rls-enabled-no-policy, rls-missing-command


def test_rls_without_a_policy_shows_nothing_to_a_granted_role_and_everything_to_the_owner(
    database, roles: Roles
) -> None:
    owner, app_user = roles("owner", "app_user")
    database.execute(
        "CREATE TABLE streaks (id int); INSERT INTO streaks VALUES (1), (2);"
        "ALTER TABLE streaks ENABLE ROW LEVEL SECURITY;"
        f"ALTER TABLE streaks OWNER TO {owner};"
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON streaks TO {app_user};"
    )
    with database.admin() as session:
        session.execute(f"SET ROLE {app_user}")
        assert session.execute("SELECT count(*) FROM streaks").fetchone() == (0,)
        assert session.execute("UPDATE streaks SET id = id").rowcount == 0  # no error
        assert session.execute("DELETE FROM streaks").rowcount == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            session.execute("INSERT INTO streaks VALUES (3)")
        session.execute(f"SET ROLE {owner}")
        assert session.execute("SELECT count(*) FROM streaks").fetchone() == (2,)
        session.execute("ALTER TABLE streaks FORCE ROW LEVEL SECURITY")
        assert session.execute("SELECT count(*) FROM streaks").fetchone() == (0,)
    assert [f.object for f in findings(database, "rls-enabled-no-policy")] == ["public.streaks"]


def test_a_definer_function_reads_a_table_without_policies_for_a_granted_role(
    database, roles: Roles
) -> None:
    # supabase/supabase examples/slack-clone: role_permissions has RLS and no policy,
    # authenticated holds every privilege through default ACLs, and authorize()
    # (SECURITY DEFINER) is how the application reads it: the lock-down is deliberate
    owner, app_user = roles("owner", "app_user")
    database.execute(
        "CREATE TABLE role_permissions (role text, permission text);"
        "INSERT INTO role_permissions VALUES ('admin', 'messages.delete');"
        "ALTER TABLE role_permissions ENABLE ROW LEVEL SECURITY;"
        f"ALTER TABLE role_permissions OWNER TO {owner};"
        f"GRANT ALL ON role_permissions TO {app_user};"
        "CREATE FUNCTION authorize(wanted text) RETURNS boolean LANGUAGE sql SECURITY DEFINER"
        " SET search_path = public"
        " AS $$ SELECT EXISTS (SELECT 1 FROM role_permissions WHERE permission = wanted) $$;"
        f"ALTER FUNCTION authorize(text) OWNER TO {owner};"
    )
    with as_role(database, app_user) as session:
        assert session.execute("SELECT count(*) FROM role_permissions").fetchone() == (0,)
        assert session.execute("SELECT authorize('messages.delete')").fetchone() == (True,)
    (found,) = findings(database, "rls-enabled-no-policy")
    assert found.severity == "low"
    assert found.evidence["read_by_definer_functions"] == ["public.authorize()"]


def test_a_granted_command_without_a_policy_does_nothing_silently(database, roles: Roles) -> None:
    (member,) = roles("member")
    database.execute(
        "CREATE TABLE accounts (id int); INSERT INTO accounts VALUES (1), (2);"
        "ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY reads ON accounts FOR SELECT USING (true);"
        f"GRANT SELECT, DELETE ON accounts TO {member};"
    )
    with database.admin() as session:
        session.execute(f"SET ROLE {member}")
        assert session.execute("DELETE FROM accounts").rowcount == 0
        assert session.execute("SELECT count(*) FROM accounts").fetchone() == (2,)
    [found] = findings(database, "rls-missing-command")
    assert found.evidence["denied"] == {"DELETE": [member]}


# policy-without-rls


def test_policies_do_nothing_until_rls_is_enabled(database, roles: Roles) -> None:
    (teacher,) = roles("teacher")
    database.execute(
        "CREATE TABLE progress (teacher text); INSERT INTO progress VALUES ('a'), ('b');"
        "CREATE POLICY progress_teacher_read ON progress USING (teacher = 'a');"
        f"GRANT SELECT ON progress TO {teacher};"
    )

    def visible() -> int:
        with database.admin() as session:
            session.execute(f"SET ROLE {teacher}")
            return (session.execute("SELECT count(*) FROM progress").fetchone() or (0,))[0]

    assert visible() == 2  # the policy is ignored
    [found] = findings(database, "policy-without-rls")
    apply_fix(database, found)
    assert visible() == 1


# rls-disabled


def test_a_partition_queried_directly_ignores_its_parents_policies(database, roles: Roles) -> None:
    (anon,) = roles("anon")
    database.execute(
        "CREATE TABLE events (tenant text, at date) PARTITION BY RANGE (at);"
        "CREATE TABLE events_2026 PARTITION OF events"
        "  FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');"
        "INSERT INTO events VALUES ('a', '2026-02-01'), ('b', '2026-03-01');"
        "ALTER TABLE events ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY mine ON events USING (tenant = 'a');"
        f"GRANT SELECT ON events, events_2026 TO {anon};"
    )
    with database.admin() as session:
        session.execute(f"SET ROLE {anon}")
        assert session.execute("SELECT count(*) FROM events").fetchone() == (1,)
        assert session.execute("SELECT count(*) FROM events_2026").fetchone() == (2,)
    found = findings(database, "rls-disabled")
    # medium: the role the parent's policies restrict reads every row of the partition,
    # but it is not one of the API roles (high: anyone with the public key)
    assert [(f.object, f.severity) for f in found] == [("public.events_2026", "medium")]
    assert found[0].evidence["grantees"] == [anon]


def test_a_table_only_its_owner_may_use_shows_nobody_else_a_row_with_or_without_rls(
    database, roles: Roles
) -> None:
    """Graphile Worker's graphile_worker.migrations: a locked-down schema whose other
    tables enable RLS with no policy. Nobody but the owner reaches the table, and the
    owner is exempt from its policies: enabling RLS there changes what nobody sees."""
    owner, visitor = roles("owner", "visitor")
    database.execute(
        f"CREATE SCHEMA worker AUTHORIZATION {owner};"
        f"SET ROLE {owner};"
        "CREATE TABLE worker.jobs (id int); ALTER TABLE worker.jobs ENABLE ROW LEVEL SECURITY;"
        "CREATE TABLE worker.migrations (id int); INSERT INTO worker.migrations VALUES (1), (2);"
        "RESET ROLE"
    )

    def owner_rows() -> int:
        with database.admin() as session:
            session.execute(f"SET ROLE {owner}")
            return (session.execute("SELECT count(*) FROM worker.migrations").fetchone() or (0,))[0]

    with database.admin() as session:
        session.execute(f"SET ROLE {visitor}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            session.execute("SELECT count(*) FROM worker.migrations")
    assert owner_rows() == 2
    [found] = [f for f in findings(database, "rls-disabled") if f.table == "migrations"]
    assert found.severity == "low" and found.evidence["grantees"] == []
    apply_fix(database, found)
    assert owner_rows() == 2  # the owner is exempt: RLS alone hides nothing from it


# rls-policy-always-true


def test_an_always_true_update_policy_lets_a_user_change_every_row(database, roles: Roles) -> None:
    (user,) = roles("user")
    database.execute(
        "CREATE TABLE profiles (owner text, bio text);"
        "INSERT INTO profiles VALUES ('me', ''), ('someone else', '');"
        "ALTER TABLE profiles ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY reads ON profiles FOR SELECT USING (true);"
        "CREATE POLICY edits ON profiles FOR UPDATE USING (true);"
        f"GRANT SELECT, UPDATE ON profiles TO {user};"
    )
    with database.admin() as session:
        session.execute(f"SET ROLE {user}")
        assert session.execute("UPDATE profiles SET bio = 'defaced'").rowcount == 2
    severities = {f.object: f.severity for f in findings(database, "rls-policy-always-true")}
    assert severities == {"public.profiles.edits": "high", "public.profiles.reads": "low"}


def test_an_always_true_insert_into_a_membership_table_grants_its_teams_rows(
    database, roles: Roles
) -> None:
    (user,) = roles("user")
    database.execute(
        # Midday's shape: the team tables' policies ask a SECURITY DEFINER helper which
        # teams the signed-in user (a session setting, as auth.uid()) belongs to
        "CREATE TABLE members (who text, team int);"
        "INSERT INTO members VALUES ('someone else', 2);"
        "ALTER TABLE members ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY join_any ON members FOR INSERT WITH CHECK (true);"
        "CREATE FUNCTION public.my_teams() RETURNS SETOF int LANGUAGE sql STABLE"
        "  SECURITY DEFINER SET search_path = '' AS"
        "  $$ SELECT team FROM public.members WHERE who = current_setting('app.who') $$;"
        "CREATE TABLE accounts (id int, team int);"
        "INSERT INTO accounts VALUES (1, 2);"
        "ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY team ON accounts USING (team IN (SELECT my_teams()));"
        f"GRANT SELECT ON accounts TO {user}; GRANT INSERT ON members TO {user};"
    )
    with database.admin() as session:
        session.execute(f"SET ROLE {user}")
        session.execute("SET app.who = 'me'")
        assert session.execute("SELECT count(*) FROM accounts").fetchone() == (0,)
        session.execute("INSERT INTO members VALUES ('me', 2)")
        assert session.execute("SELECT count(*) FROM accounts").fetchone() == (1,)
    [found] = findings(database, "rls-policy-always-true")
    assert found.severity == "high" and found.evidence["decides_access_to"] == ["public.accounts"]


def test_a_restrictive_policy_by_the_caller_keeps_each_tenant_to_its_rows_beside_a_true_one(
    database, roles: Roles
) -> None:
    tenant_a, tenant_b = roles("tenant_a LOGIN", "tenant_b LOGIN")
    database.execute(
        # Logto's shape (packages/schemas/tables/_after_each.sql): a permissive USING (true)
        # and a restrictive policy that finds the caller's tenant by current_user
        "CREATE TABLE tenants (id text PRIMARY KEY, db_user text UNIQUE);"
        f"INSERT INTO tenants VALUES ('a', '{tenant_a}'), ('b', '{tenant_b}');"
        "CREATE TABLE users (tenant_id text NOT NULL, id text PRIMARY KEY, name text);"
        "INSERT INTO users VALUES ('a', 'a1', ''), ('a', 'a2', ''), ('b', 'b1', '');"
        "ALTER TABLE users ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY users_tenant_id ON users AS RESTRICTIVE"
        "  USING (tenant_id = (SELECT id FROM tenants WHERE db_user = current_user));"
        "CREATE POLICY users_modification ON users USING (true);"
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON users TO {tenant_a}, {tenant_b};"
        f"GRANT SELECT (id, db_user) ON tenants TO {tenant_a}, {tenant_b};"
    )
    with as_role(database, tenant_a) as session:
        assert session.execute("SELECT array_agg(id ORDER BY id) FROM users").fetchone() == (
            ["a1", "a2"],
        )
        assert session.execute("UPDATE users SET name = 'x' WHERE id = 'b1'").rowcount == 0
        assert session.execute("DELETE FROM users WHERE tenant_id = 'b'").rowcount == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="users_tenant_id"):
            session.execute("INSERT INTO users VALUES ('b', 'planted', '')")
    with (
        as_role(database, tenant_a) as session,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="users_tenant_id"),
    ):
        session.execute("UPDATE users SET tenant_id = 'b' WHERE id = 'a1'")
    with as_role(database, tenant_b) as session:
        assert session.execute("SELECT array_agg(id) FROM users").fetchone() == (["b1"],)
    assert findings(database, "rls-policy-always-true") == []
    # without the restrictive policy the true one shows every tenant's rows
    database.execute("DROP POLICY users_tenant_id ON users")
    with as_role(database, tenant_b) as session:
        assert session.execute("SELECT count(*) FROM users").fetchone() == (3,)
    [found] = findings(database, "rls-policy-always-true")
    assert found.severity == "high"


# rls-session-variable


def test_an_unset_session_variable_in_a_policy(database, roles: Roles) -> None:
    (app,) = roles("app")
    database.execute(
        "CREATE TABLE orders (tenant uuid, teacher int);"
        "INSERT INTO orders VALUES ('00000000-0000-0000-0000-000000000001', 1);"
        "ALTER TABLE orders ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY by_tenant ON orders"
        "  USING (tenant = current_setting('app.tenant', true)::uuid);"
        f"GRANT SELECT ON orders TO {app};"
        "CREATE TABLE lesson_plans (teacher int); INSERT INTO lesson_plans VALUES (1);"
        "ALTER TABLE lesson_plans ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY owner ON lesson_plans"
        "  USING (teacher = current_setting('app.current_teacher_id')::integer);"
        f"GRANT SELECT ON lesson_plans TO {app};"
    )
    with database.admin() as session:
        session.execute(f"SET ROLE {app}")
        # never set in this session: NULL, no row matches
        assert session.execute("SELECT count(*) FROM orders").fetchone() == (0,)
        # set for one transaction only ...
        with session.transaction():
            session.execute("SET LOCAL app.tenant = '00000000-0000-0000-0000-000000000001'")
            assert session.execute("SELECT count(*) FROM orders").fetchone() == (1,)
        # ... and afterwards it reads '', which the cast rejects, for every query
        assert session.execute("SELECT current_setting('app.tenant', true)").fetchone() == ("",)
        with pytest.raises(psycopg.errors.InvalidTextRepresentation, match="uuid"):
            session.execute("SELECT count(*) FROM orders")
        # without missing_ok, an unset variable fails every query
        with pytest.raises(psycopg.errors.UndefinedObject, match="unrecognized configuration"):
            session.execute("SELECT count(*) FROM lesson_plans")
        # a plain SET (not LOCAL) stays with the connection for whoever uses it next
        session.execute("SET app.current_teacher_id = '1'")
        session.execute("DISCARD PLANS")
        assert session.execute("SELECT count(*) FROM lesson_plans").fetchone() == (1,)
    severities = {f.object: f.severity for f in findings(database, "rls-session-variable")}
    assert severities == {
        "public.orders.by_tenant": "medium",
        "public.lesson_plans.owner": "medium",
    }


# bypassrls-login-role


def test_bypassrls_sees_every_row_and_set_role_reaches_it_from_a_member(
    database, roles: Roles
) -> None:
    reporting, bypass, analyst = roles("reporting LOGIN BYPASSRLS", "bypass BYPASSRLS", "analyst")
    database.execute(
        "CREATE TABLE students (school text); INSERT INTO students VALUES ('a'), ('b');"
        "ALTER TABLE students ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY mine ON students USING (school = 'a');"
        f"GRANT SELECT ON students TO {reporting}, {bypass}, {analyst};"
        f"GRANT {bypass} TO {analyst};"
    )
    with database.admin() as session:
        session.execute(f"SET ROLE {reporting}")
        assert session.execute("SELECT count(*) FROM students").fetchone() == (2,)
        session.execute(f"SET ROLE {analyst}")
        # the attribute is not inherited with the membership ...
        assert session.execute("SELECT count(*) FROM students").fetchone() == (1,)
        # ... but the member can switch to the role that has it
        session.execute(f"SET ROLE {bypass}")
        assert session.execute("SELECT count(*) FROM students").fetchone() == (2,)


# view-bypasses-rls


def test_a_view_by_the_table_owner_shows_every_row_until_security_invoker(
    database, roles: Roles
) -> None:
    owner, reader = roles("owner", "reader")
    database.execute(
        "CREATE TABLE students (school text, email text);"
        "INSERT INTO students VALUES ('a', 'x@example.com'), ('b', 'y@example.com');"
        "ALTER TABLE students ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY mine ON students USING (school = 'a');"
        "CREATE VIEW student_directory AS SELECT email FROM students;"
        f"ALTER TABLE students OWNER TO {owner}; ALTER VIEW student_directory OWNER TO {owner};"
        f"GRANT SELECT ON students, student_directory TO {reader};"
    )

    def rows(relation: str) -> int:
        with database.admin() as session:
            session.execute(f"SET ROLE {reader}")
            return (session.execute(f"SELECT count(*) FROM {relation}").fetchone() or (0,))[0]

    assert rows("students") == 1
    assert rows("student_directory") == 2  # the owner's view of the table
    [found] = findings(database, "view-bypasses-rls")
    assert found.severity == "medium"  # granted to a role that is not an API role
    apply_fix(database, found)
    assert rows("student_directory") == 1


def test_a_definer_view_filtered_by_the_callers_id_shows_them_no_other_users_rows(
    database, roles: Roles
) -> None:
    """Midday (midday-ai/midday@67418536, apps/api/supabase/migrations): the policy of
    users_on_team reads private.current_user_teams, a view by the table's owner that
    keeps the caller's own rows (`WHERE user_id = auth.uid()`). Signed in as one user
    (request.jwt.claims, as PostgREST sets it), the view shows that user's rows only;
    an unfiltered view by the same owner shows everyone's."""
    (member,) = roles("member")
    database.execute(
        "CREATE SCHEMA auth; CREATE SCHEMA private;"
        "CREATE FUNCTION auth.uid() RETURNS text LANGUAGE sql STABLE"
        "  AS $$ SELECT current_setting('request.jwt.claims', true)::json ->> 'sub' $$;"
        "CREATE TABLE users_on_team (user_id text, team_id int);"
        "INSERT INTO users_on_team VALUES ('ada', 1), ('bob', 1), ('bob', 2), ('cy', 3);"
        "ALTER TABLE users_on_team ENABLE ROW LEVEL SECURITY;"
        "CREATE VIEW private.current_user_teams AS SELECT (SELECT auth.uid()) AS user_id, team_id"
        "  FROM users_on_team WHERE user_id = (SELECT auth.uid());"
        f"CREATE POLICY team_rows ON users_on_team FOR SELECT TO {member}"
        "  USING (EXISTS (SELECT 1 FROM private.current_user_teams cut"
        "                  WHERE cut.team_id = users_on_team.team_id));"
        "CREATE VIEW public.all_memberships AS SELECT user_id, team_id FROM users_on_team;"
        f"GRANT USAGE ON SCHEMA auth, private TO {member};"
        f"GRANT SELECT ON users_on_team, private.current_user_teams, public.all_memberships"
        f"  TO {member}"
    )

    def rows(relation: str) -> list[tuple[str, int]]:
        with signed_in(database, member, "ada") as session:
            found = session.execute(f"SELECT user_id, team_id FROM {relation} ORDER BY 1, 2")
            return found.fetchall()

    assert rows("private.current_user_teams") == [("ada", 1)]  # the caller's own rows
    assert rows("users_on_team") == [("ada", 1), ("bob", 1)]  # what the policy allows
    assert rows("public.all_memberships") == [("ada", 1), ("bob", 1), ("bob", 2), ("cy", 3)]

    config = {"rules": {"view-bypasses-rls": {"api_roles": member}}}
    found = {f.object: f for f in findings(database, "view-bypasses-rls", config)}
    # a request cannot select from private (PostgREST serves public): only the policy does
    private = found["private.current_user_teams"]
    assert private.severity == "low" and private.evidence["api_schema"] is False
    assert private.evidence["read_by_policies"] == ["public.users_on_team.team_rows"]
    assert found["public.all_memberships"].severity == "high"


def test_a_view_whose_where_reads_the_caller_may_keep_their_rows_or_every_row(
    database, roles: Roles
) -> None:
    """view-bypasses-rls is one step lower where the view's WHERE calls auth.uid(): one
    such view keeps the caller's rows as the policy would; another (`auth.uid() IS NOT
    NULL`) keeps every row for anyone signed in, which only reading the condition tells,
    so the finding says to check it."""
    (member,) = roles("member")
    database.execute(
        "CREATE SCHEMA auth;"
        "CREATE FUNCTION auth.uid() RETURNS text LANGUAGE sql STABLE"
        "  AS $$ SELECT current_setting('request.jwt.claims', true)::json ->> 'sub' $$;"
        "CREATE TABLE docs (owner text, body text);"
        "INSERT INTO docs VALUES ('ada', 'a1'), ('bob', 'b1'), ('bob', 'b2');"
        "ALTER TABLE docs ENABLE ROW LEVEL SECURITY;"
        f"CREATE POLICY mine ON docs FOR SELECT TO {member} USING (owner = auth.uid());"
        "CREATE VIEW my_docs AS SELECT owner, body FROM docs WHERE owner = (SELECT auth.uid());"
        "CREATE VIEW signed_in_docs AS SELECT owner, body FROM docs"
        "  WHERE (SELECT auth.uid()) IS NOT NULL;"
        f"GRANT USAGE ON SCHEMA auth TO {member};"
        f"GRANT SELECT ON docs, my_docs, signed_in_docs TO {member}"
    )

    def rows(relation: str) -> list[tuple[str, str]]:
        with signed_in(database, member, "ada") as session:
            return session.execute(f"SELECT owner, body FROM {relation} ORDER BY 2").fetchall()

    assert rows("docs") == [("ada", "a1")]  # the policy
    assert rows("my_docs") == [("ada", "a1")]  # the view keeps the caller's rows too
    assert rows("signed_in_docs") == [("ada", "a1"), ("bob", "b1"), ("bob", "b2")]

    config = {"rules": {"view-bypasses-rls": {"api_roles": member}}}
    found = {f.object: f for f in findings(database, "view-bypasses-rls", config)}
    for view in ("public.my_docs", "public.signed_in_docs"):
        assert found[view].severity == "medium"  # high without the caller in its WHERE
        assert found[view].evidence["filters_by_caller"] == ["auth.uid()"]
        assert "check that it keeps only the caller's rows" in found[view].message


# rls-policy-ignores-caller


def test_a_branch_that_reads_only_the_row_lets_any_user_change_those_rows(
    database, roles: Roles
) -> None:
    """`owner = auth.uid() OR team_code IS NOT NULL` FOR ALL, as a team app shares teams
    others may join: signed in as someone else, a user renames and deletes every team
    with a code, and none without one; a policy that ties UPDATE and DELETE to the
    owner stops it."""
    (member,) = roles("member")
    database.execute(
        "CREATE SCHEMA auth;"
        "CREATE FUNCTION auth.uid() RETURNS text LANGUAGE sql STABLE"
        "  AS $$ SELECT current_setting('request.jwt.claims', true)::json ->> 'sub' $$;"
        "CREATE TABLE teams (id int, owner text, team_code text, name text);"
        "INSERT INTO teams VALUES (1, 'ada', 'JOIN1', 'a'), (2, 'ada', NULL, 'b');"
        "ALTER TABLE teams ENABLE ROW LEVEL SECURITY;"
        f"CREATE POLICY teams_access ON teams FOR ALL TO {member}"
        "  USING (owner = auth.uid() OR team_code IS NOT NULL);"
        f"GRANT USAGE ON SCHEMA auth TO {member};"
        f"GRANT SELECT, UPDATE, DELETE ON teams TO {member}"
    )

    def as_bob(statement: str) -> int:
        with signed_in(database, member, "bob") as session:
            return session.execute(statement).rowcount

    assert as_bob("UPDATE teams SET name = 'taken'") == 1  # ada's team with a code
    # without WITH CHECK the USING decides what an UPDATE may write: bob takes the team
    assert as_bob("UPDATE teams SET owner = 'bob' WHERE id = 1") == 1
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        as_bob("UPDATE teams SET owner = 'cy', team_code = NULL WHERE id = 1")
    assert [f.severity for f in findings(database, "rls-policy-ignores-caller")] == ["medium"]
    assert as_bob("DELETE FROM teams") == 1
    database.execute(
        "INSERT INTO teams VALUES (1, 'ada', 'JOIN1', 'a');"
        "DROP POLICY teams_access ON teams;"
        f"CREATE POLICY read_shared ON teams FOR SELECT TO {member}"
        "  USING (owner = auth.uid() OR team_code IS NOT NULL);"
        f"CREATE POLICY owner_writes ON teams FOR ALL TO {member} USING (owner = auth.uid());"
    )
    assert as_bob("UPDATE teams SET name = 'taken'") == 0
    assert as_bob("DELETE FROM teams") == 0
    assert findings(database, "rls-policy-ignores-caller") == []


# rls-policy-unreadable-relation


def test_a_policy_reading_an_ungranted_table_fails_every_query_of_its_roles(
    database, roles: Roles
) -> None:
    """The sub-select runs with the querying role's privileges: granted the table but
    not the table its policy reads, the role gets "permission denied" on every SELECT
    and UPDATE, whatever the rows; the owner never sees it. Granting the table it
    reads, or reading it through a SECURITY DEFINER function, makes the query run."""
    (member,) = roles("member")
    database.execute(
        "CREATE TABLE members (team_id int, user_name text);"
        "INSERT INTO members VALUES (1, 'ada');"
        "CREATE TABLE docs (id int, team_id int);"
        "INSERT INTO docs VALUES (1, 1), (2, 2);"
        "ALTER TABLE docs ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY by_team ON docs USING (team_id IN (SELECT team_id FROM members));"
        f"GRANT SELECT, UPDATE ON docs TO {member};"
    )
    with database.admin() as owner:
        assert owner.execute("SELECT count(*) FROM docs").fetchone() == (2,)  # exempt
    for statement in ("SELECT count(*) FROM docs", "UPDATE docs SET id = id WHERE false"):
        with (
            as_role(database, member) as session,
            pytest.raises(psycopg.errors.InsufficientPrivilege, match="members"),
        ):
            session.execute(statement)
    [found] = findings(database, "rls-policy-unreadable-relation")
    assert found.evidence["unreadable"] == {"public.members": [member]}
    database.execute(
        "CREATE FUNCTION team_ids() RETURNS SETOF int LANGUAGE sql STABLE SECURITY DEFINER"
        "  SET search_path = public AS $$ SELECT team_id FROM members $$;"
        "ALTER POLICY by_team ON docs USING (team_id IN (SELECT team_ids()));"
    )
    with as_role(database, member) as session:
        assert session.execute("SELECT count(*) FROM docs").fetchone() == (1,)
    assert findings(database, "rls-policy-unreadable-relation") == []


# public-schema-create


def test_create_on_public_lets_a_role_hijack_another_roles_unqualified_call(
    database, roles: Roles
) -> None:
    attacker, victim = roles("attacker", "victim")
    database.execute(
        "GRANT CREATE ON SCHEMA public TO PUBLIC;"
        f"CREATE TABLE names (name varchar); INSERT INTO names VALUES ('Ada');"
        f"GRANT SELECT ON names TO {victim};"
    )
    with database.admin() as session:
        session.execute(f"SET ROLE {attacker}")
        # more specific than pg_catalog.lower(text) for a varchar argument
        session.execute(
            "CREATE FUNCTION public.lower(varchar) RETURNS text LANGUAGE sql"
            "  AS $$ SELECT 'ran as ' || current_user $$"
        )
        session.execute(f"SET ROLE {victim}")
        assert session.execute("SELECT lower(name) FROM names").fetchone() == (f"ran as {victim}",)
        session.execute("RESET ROLE")
        session.execute("DROP FUNCTION public.lower(varchar)")
    [found] = findings(database, "public-schema-create")
    apply_fix(database, found)
    with database.admin() as session:
        session.execute(f"SET ROLE {attacker}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            session.execute(
                "CREATE FUNCTION public.lower(varchar) RETURNS text AS 'x' LANGUAGE sql"
            )


# grant-to-public


def test_a_grant_to_public_reaches_roles_created_after_it(database, roles: Roles) -> None:
    database.execute("CREATE TABLE tags (tag text); GRANT SELECT ON tags TO PUBLIC")
    (newcomer,) = roles("newcomer")
    with database.admin() as session:
        session.execute(f"SET ROLE {newcomer}")
        assert session.execute("SELECT count(*) FROM tags").fetchone() == (0,)
    [found] = findings(database, "grant-to-public")
    apply_fix(database, found)
    with database.admin() as session:
        session.execute(f"SET ROLE {newcomer}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            session.execute("SELECT count(*) FROM tags")


def test_maintain_to_public_lets_any_role_lock_out_every_reader(database, roles: Roles) -> None:
    """PostgreSQL 17's MAINTAIN privilege, which GRANT ALL includes."""
    with database.admin() as admin:
        if admin.info.server_version < 170000:
            pytest.skip("MAINTAIN exists from PostgreSQL 17")
    database.execute("CREATE TABLE tags (tag text); GRANT MAINTAIN ON tags TO PUBLIC")
    (newcomer,) = roles("newcomer")
    with database.admin() as session:
        session.execute(f"SET ROLE {newcomer}")
        with session.transaction():
            session.execute("LOCK TABLE tags IN ACCESS EXCLUSIVE MODE")
            with database.admin() as reader:
                reader.execute("SET lock_timeout = '100ms'")
                with pytest.raises(psycopg.errors.LockNotAvailable):
                    reader.execute("SELECT count(*) FROM tags")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            session.execute("SELECT count(*) FROM tags")  # yet it may not read a row
    [found] = findings(database, "grant-to-public")
    assert found.severity == "high"


# sensitive-columns-exposed


def test_a_table_grant_exposes_every_rows_password_and_column_grants_narrow_it(
    database, roles: Roles
) -> None:
    (reader,) = roles("reader")
    database.execute(
        "CREATE TABLE teachers (id int, password text);"
        "INSERT INTO teachers VALUES (1, 'hunter2'), (2, 'letmein');"
        f"GRANT SELECT ON teachers TO {reader};"
    )
    with database.admin() as session:
        session.execute(f"SET ROLE {reader}")
        assert len(session.execute("SELECT password FROM teachers").fetchall()) == 2
        session.execute("RESET ROLE")
        session.execute(f"REVOKE SELECT ON teachers FROM {reader}")
        session.execute(f"GRANT SELECT (id) ON teachers TO {reader}")
        session.execute(f"SET ROLE {reader}")
        assert len(session.execute("SELECT id FROM teachers").fetchall()) == 2
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            session.execute("SELECT password FROM teachers")


# rls-not-forced


def test_the_owner_skips_the_policies_until_the_table_is_forced(database, roles: Roles) -> None:
    (app,) = roles("app LOGIN")
    database.execute(
        "CREATE TABLE orders (tenant text); INSERT INTO orders VALUES ('a'), ('b');"
        "ALTER TABLE orders ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY tenant ON orders USING (tenant = current_setting('app.tenant', true));"
        f"ALTER TABLE orders OWNER TO {app};"
    )

    def visible() -> int:
        with database.admin() as session:
            session.execute(f"SET ROLE {app}")
            session.execute("SET app.tenant = 'a'")
            return (session.execute("SELECT count(*) FROM orders").fetchone() or (0,))[0]

    assert visible() == 2
    [found] = findings(database, "rls-not-forced")
    apply_fix(database, found)
    assert visible() == 1


# rls-policy-recursion


def test_a_policy_reading_its_own_table_fails_every_query_of_a_non_owner(
    database, roles: Roles
) -> None:
    (member,) = roles("member")
    database.execute(
        "CREATE TABLE members (team int, uid text); INSERT INTO members VALUES (1, 'x');"
        "ALTER TABLE members ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY teammates ON members USING ("
        "  team IN (SELECT m.team FROM members m WHERE m.uid = current_user));"
        f"GRANT SELECT ON members TO {member};"
    )
    with database.admin() as session:
        assert session.execute("SELECT count(*) FROM members").fetchone() == (1,)  # the owner
        session.execute(f"SET ROLE {member}")
        with pytest.raises(psycopg.errors.InvalidObjectDefinition, match="infinite recursion"):
            session.execute("SELECT count(*) FROM members WHERE false")  # even with no rows
    assert [f.object for f in findings(database, "rls-policy-recursion")] == [
        "public.members.teammates"
    ]
    # the way out: a SECURITY DEFINER helper owned by the table's owner
    database.execute(
        "CREATE FUNCTION public.my_teams() RETURNS SETOF int LANGUAGE sql STABLE"
        "  SECURITY DEFINER SET search_path = ''"
        "  AS $$ SELECT team FROM public.members WHERE uid = current_user $$;"
        "ALTER POLICY teammates ON members USING (team IN (SELECT public.my_teams()));"
    )
    with database.admin() as session:
        session.execute(f"SET ROLE {member}")
        assert session.execute("SELECT count(*) FROM members").fetchone() == (0,)
    assert findings(database, "rls-policy-recursion") == []


def test_a_policy_helper_reading_the_table_exhausts_the_stack_at_the_first_row(
    database, roles: Roles
) -> None:
    (member,) = roles("member")
    database.execute(
        "CREATE TABLE profiles (uid text, admin boolean);"
        "ALTER TABLE profiles ENABLE ROW LEVEL SECURITY;"
        "CREATE FUNCTION public.is_admin() RETURNS boolean LANGUAGE plpgsql STABLE AS $$"
        "  BEGIN RETURN EXISTS (SELECT 1 FROM public.profiles WHERE admin); END $$;"
        "CREATE POLICY admins ON profiles USING (is_admin());"
        f"GRANT SELECT ON profiles TO {member};"
    )
    with database.admin() as session:
        session.execute(f"SET ROLE {member}")
        assert session.execute("SELECT count(*) FROM profiles").fetchone() == (0,)  # no row yet
        session.execute("RESET ROLE")
        session.execute("INSERT INTO profiles VALUES ('x', true)")
        session.execute(f"SET ROLE {member}")
        with pytest.raises(psycopg.errors.StatementTooComplex, match="stack depth"):
            session.execute("SELECT count(*) FROM profiles")
    [found] = findings(database, "rls-policy-recursion")
    assert found.evidence["through_function"] == "public.is_admin()"


# extension-in-public


def test_an_extension_moved_out_of_public_needs_its_schema_on_the_search_path(
    database,
) -> None:
    with database.admin() as session:
        available = session.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'"
        ).fetchone()
    if available is None:
        pytest.skip("pg_trgm is not available on this server")
    database.execute("CREATE EXTENSION pg_trgm SCHEMA public")
    with database.admin() as session:
        # in public, its functions resolve for every role without a schema
        assert session.execute("SELECT similarity('lesson', 'lessons') > 0").fetchone() == (True,)
    [found] = findings(database, "extension-in-public")
    apply_fix(database, found)
    with database.admin() as session:
        with pytest.raises(psycopg.errors.UndefinedFunction):
            session.execute("SELECT similarity('lesson', 'lessons')")
        session.execute("SET search_path = public, extensions")  # what the fix's note asks
        assert session.execute("SELECT similarity('lesson', 'lessons') > 0").fetchone() == (True,)


def test_a_function_with_its_own_search_path_loses_a_moved_extension(database) -> None:
    # Graphile Starter's login() sets search_path = pg_catalog, public, pg_temp and calls
    # pgcrypto's crypt(): once the extension moves out of public, every login fails
    with database.admin() as session:
        available = session.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'"
        ).fetchone()
    if available is None:
        pytest.skip("pg_trgm is not available on this server")
    database.execute(
        """
        CREATE EXTENSION pg_trgm SCHEMA public;
        CREATE FUNCTION close_enough(a text, b text) RETURNS boolean LANGUAGE plpgsql
          SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
          AS $$ BEGIN RETURN similarity(a, b) > 0.3; END $$;
        """
    )
    with database.admin() as session:
        assert session.execute("SELECT close_enough('lesson', 'lessons')").fetchone() == (True,)
        session.execute("CREATE SCHEMA extensions")
        session.execute("ALTER EXTENSION pg_trgm SET SCHEMA extensions")
        session.execute("SET search_path = public, extensions")  # the caller's path is no help
        with pytest.raises(psycopg.errors.UndefinedFunction, match="similarity"):
            session.execute("SELECT close_enough('lesson', 'lessons')")
        session.execute("ALTER EXTENSION pg_trgm SET SCHEMA public")
        session.execute("DROP SCHEMA extensions")
    [found] = findings(database, "extension-in-public")
    assert found.fix is None
    assert found.evidence["used_under_fixed_search_path"] == ["public.close_enough(a text, b text)"]
