"""The security rules' fix scripts run on the demo schema (every security flaw planted),
and their rollbacks, run in reverse order, restore the schema exactly (pg_dump
--schema-only, ACLs and policies included) and every role attribute."""

from __future__ import annotations

import subprocess
from importlib import resources

import psycopg

from pgvitals.connect import connect
from pgvitals.engine import analyse
from pgvitals.findings import Category, Finding
from pgvitals.snapshot.collect import collect
from tests.workload.conftest import require


def schema_dump(database) -> str:
    done = subprocess.run(
        [str(database.server.bin_dir / "pg_dump"), "--schema-only", "--no-comments", database.dsn],
        check=True,
        capture_output=True,
        text=True,
    )
    # pg_dump 15.14+ brackets the script with \restrict KEY lines, a new key each run
    return "\n".join(
        line
        for line in done.stdout.splitlines()
        if not line.startswith(("\\restrict", "\\unrestrict"))
    )


def role_attributes(database) -> list[tuple]:
    with database.admin() as admin:
        return admin.execute(
            "SELECT rolname, rolsuper, rolcanlogin, rolbypassrls, rolinherit FROM pg_roles"
            " ORDER BY rolname"
        ).fetchall()


def findings_of(database) -> list[Finding]:
    session = connect(database.dsn)
    try:
        return analyse(collect(session, profile=None)).findings
    finally:
        session.close()


def test_security_fixes_apply_and_their_rollbacks_restore_the_schema(database) -> None:
    schema = resources.files("pgvitals.demo").joinpath("schema.sql").read_text()
    database.execute(schema)
    fixable = [f for f in findings_of(database) if f.category == Category.SECURITY and f.fix]
    rules = {f.rule for f in fixable}
    assert {
        "rls-disabled", "policy-without-rls", "rls-per-row-function", "bypassrls-login-role",
        "security-definer-search-path", "view-bypasses-rls", "public-schema-create",
        "grant-to-public",
    } <= rules  # fmt: skip
    before, roles_before = schema_dump(database), role_attributes(database)
    with database.admin() as admin:
        for item in fixable:
            for statement in item.fix.statements:  # type: ignore[union-attr]
                admin.execute(statement)
        assert schema_dump(database) != before
        for item in reversed(fixable):
            for statement in item.fix.rollback or ():  # type: ignore[union-attr]
                admin.execute(statement)
    assert schema_dump(database) == before
    assert role_attributes(database) == roles_before


def test_moving_an_extension_and_back_leaves_no_schema_behind(database) -> None:
    require(database, "pg_trgm")  # created in public, the first schema on the search_path
    [found] = [f for f in findings_of(database) if f.rule == "extension-in-public"]
    before = schema_dump(database)
    with psycopg.connect(database.dsn, autocommit=True) as admin:
        for statement in found.fix.statements:  # type: ignore[union-attr]
            admin.execute(statement)
        for statement in found.fix.rollback or ():  # type: ignore[union-attr]
            admin.execute(statement)
    assert schema_dump(database) == before


def test_a_function_pinned_by_its_fix_still_finds_an_extension_moved_by_another(
    database,
) -> None:
    """Sourcegraph: the search_path fix (then security-definer-search-path's, now
    function-search-path-mutable's: the function is not SECURITY DEFINER) pinned
    `public, pg_temp` on
    func_configuration_policies_transition_columns_diff, extension-in-public's moved
    hstore to `extensions`, and every insert into lsif_configuration_policies then
    failed (type "hstore[]" does not exist) in its trigger."""
    require(database, "hstore")  # created in public
    database.execute(
        "CREATE FUNCTION public.pairs(keys text[]) RETURNS text LANGUAGE plpgsql"
        " AS $$ BEGIN RETURN (ARRAY[]::hstore[] || hstore(keys, keys))::text; END $$"
    )
    findings = findings_of(database)
    [pinned] = [f for f in findings if f.rule == "function-search-path-mutable"]
    [moved] = [f for f in findings if f.rule == "extension-in-public"]
    with psycopg.connect(database.dsn, autocommit=True) as admin:
        for statement in (*pinned.fix.statements, *moved.fix.statements):  # type: ignore[union-attr]
            admin.execute(statement)
        # as fix.sql leaves it: only the function's own search_path finds the extension
        admin.execute("SET search_path = pg_catalog")
        [paired] = admin.execute("SELECT public.pairs(ARRAY['a'])").fetchone()  # type: ignore[misc]
        assert paired == '{"\\"a\\"=>\\"a\\""}'
