"""API roles found by the authenticator pattern: a NOINHERIT login role granted a
role it can only SET ROLE to (PostgREST's and PostGraphile's setup; Graphile Starter's
`*_authenticator` and `*_visitor`, graphile/starter@5f37787). Roles are cluster-wide, so
these cases live here, where they are dropped afterwards, not in the YAML cases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pgvitals.connect import connect
from pgvitals.engine import analyse
from pgvitals.snapshot.collect import collect

VISITOR = "gs visitor ñ"
AUTHENTICATOR = "gs_authenticator"


def findings(database, rule: str) -> dict[str, dict]:
    session = connect(database.dsn)
    try:
        analysis = analyse(collect(session, profile=None))
    finally:
        session.close()
    return {f.object: f.to_json() for f in analysis.findings if f.rule == rule}


@pytest.fixture
def starter(database) -> Iterator[object]:
    """Graphile Starter's shape: app_public granted to the visitor only."""
    database.execute(
        f'CREATE ROLE "{VISITOR}" NOLOGIN;'
        f"CREATE ROLE {AUTHENTICATOR} LOGIN NOINHERIT;"
        f'GRANT "{VISITOR}" TO {AUTHENTICATOR};'
        "CREATE SCHEMA app_public;"
        f'GRANT USAGE ON SCHEMA app_public TO "{VISITOR}";'
        "CREATE TABLE app_public.organizations (id int PRIMARY KEY, name text);"
        f'GRANT SELECT ON app_public.organizations TO "{VISITOR}";'
        "CREATE FUNCTION app_public.create_organization(name text) RETURNS void"
        " LANGUAGE sql SECURITY DEFINER SET search_path = '' AS $$ SELECT $$;"
        "REVOKE EXECUTE ON FUNCTION app_public.create_organization(text) FROM PUBLIC;"
        f'GRANT EXECUTE ON FUNCTION app_public.create_organization(text) TO "{VISITOR}";'
    )
    try:
        yield database
    finally:
        with database.admin() as admin:
            admin.execute(f'DROP OWNED BY "{VISITOR}"')
            admin.execute(f"DROP ROLE {AUTHENTICATOR}")
            admin.execute(f'DROP ROLE "{VISITOR}"')


def test_the_role_an_authenticator_switches_to_reaches_a_table_without_rls(starter) -> None:
    found = findings(starter, "rls-disabled")
    table = found["app_public.organizations"]
    assert table["severity"] == "high"
    assert table["evidence"]["api_access"] == {VISITOR: ["SELECT"]}


def test_the_visitors_own_grant_is_reported_but_not_revoked(starter) -> None:
    found = findings(starter, "security-definer-executable-by-api-role")
    function = found["app_public.create_organization(name text)"]
    assert function["evidence"]["callers"] == [VISITOR]
    assert function["evidence"]["granted_to_app_role"] == [VISITOR]
    assert function["fix"] is None


def test_an_inherited_or_rls_exempt_membership_is_no_api_role(database) -> None:
    database.execute(
        "CREATE ROLE gs_readers NOLOGIN; CREATE ROLE gs_reader LOGIN;"
        "GRANT gs_readers TO gs_reader;"
        "CREATE ROLE gs_service NOLOGIN BYPASSRLS; CREATE ROLE gs_auth LOGIN NOINHERIT;"
        "GRANT gs_service TO gs_auth;"
        "CREATE SCHEMA reports; GRANT USAGE ON SCHEMA reports TO gs_readers, gs_service;"
        "CREATE TABLE reports.totals (id int PRIMARY KEY);"
        "GRANT SELECT ON reports.totals TO gs_readers, gs_service;"
    )
    try:
        found = findings(database, "rls-disabled")
        assert "reports.totals" not in found
        assert found["reports"]["severity"] == "info"
    finally:
        with database.admin() as admin:
            for role in ("gs_readers", "gs_service"):
                admin.execute(f"DROP OWNED BY {role}")
            for role in ("gs_reader", "gs_readers", "gs_auth", "gs_service"):
                admin.execute(f"DROP ROLE {role}")
