"""Every security finding that supabase's splinter makes on the corpus schemas, pgvitals
makes too (pinned from splinter's lints run on these schemas, PostgreSQL 15 with
contrib, `pgrst.db_schemas = public`), and nothing is reported on what Supabase manages.

Where the two disagree, pgvitals is right for a reason written next to the entry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from pgvitals.embedded import EmbeddedServer
from tests.conftest import Database
from tests.corpus import needs_corpus
from tests.helpers import pgvitals, valid_report

# splinter lint -> the pgvitals rule that covers it
# (function_search_path_mutable is split by SECURITY DEFINER: see as_splinter)
RULES = {
    "function_search_path_mutable": "security-definer-search-path",
    "anon_security_definer_function_executable": "security-definer-executable-by-api-role",
    "authenticated_security_definer_function_executable": "security-definer-executable-by-api-role",
    "extension_in_public": "extension-in-public",
    "auth_rls_initplan": "rls-per-row-function",
    "multiple_permissive_policies": "multiple-permissive-policies",
}

BASEJUMP_SEARCH_PATH = """
basejump.generate_token basejump.get_config basejump.is_set basejump.protect_account_fields
basejump.slugify_account_slug basejump.trigger_set_invitation_details
basejump.trigger_set_timestamps basejump.trigger_set_user_tracking public.create_account
public.create_invitation public.current_user_account_role public.delete_invitation
public.get_account public.get_account_by_slug public.get_account_id
public.get_account_invitations public.get_accounts public.get_personal_account
public.remove_account_member public.service_role_upsert_customer_subscription
public.update_account
"""
# splinter's findings: (lint, schema.name), by corpus schema. splinter also reports the
# aggregate public.group_concat in pagila; an aggregate has no search_path of its own
# (ALTER AGGREGATE cannot SET one), its transition function public._group_concat is
# what runs, and pgvitals reports that one.
SPLINTER: dict[str, set[tuple[str, str]]] = {
    "supabase_basejump": {
        *(("function_search_path_mutable", name) for name in BASEJUMP_SEARCH_PATH.split()),
        *(
            ("authenticated_security_definer_function_executable", f"public.{name}")
            for name in (
                "accept_invitation",
                "get_account_billing_status",
                "get_account_members",
                "lookup_invitation",
                "update_account_user_role",
            )
        ),
        ("auth_rls_initplan", "basejump.account_user"),
        ("auth_rls_initplan", "basejump.accounts"),
        ("multiple_permissive_policies", "basejump.account_user"),
        ("multiple_permissive_policies", "basejump.accounts"),
    },
    "pagila": {
        ("anon_security_definer_function_executable", "public.rewards_report"),
        ("authenticated_security_definer_function_executable", "public.rewards_report"),
        *(
            ("function_search_path_mutable", f"public.{name}")
            for name in (
                "_group_concat",
                "film_in_stock",
                "film_not_in_stock",
                "get_customer_balance",
                "inventory_held_by_customer",
                "inventory_in_stock",
                "last_day",
                "last_updated",
                "rewards_report",
            )
        ),
    },
    "lago": {
        ("extension_in_public", "public.pgcrypto"),
        ("extension_in_public", "public.unaccent"),
        ("function_search_path_mutable", "public.ensure_role_consistency"),
        ("function_search_path_mutable", "public.set_payment_receipt_number"),
    },
    "openstreetmap": {
        ("extension_in_public", "public.btree_gist"),
        ("function_search_path_mutable", "public.api_rate_limit"),
        ("function_search_path_mutable", "public.api_size_limit"),
    },
    "gisia": {("extension_in_public", "public.pg_trgm")},
    "synapse": {("function_search_path_mutable", "public.check_partial_state_events")},
    "chinook": set(),
}
API_ROLES = ("anon", "authenticated")


def as_splinter(finding: dict[str, Any]) -> set[tuple[str, str]]:
    """What splinter would call this finding: its lint names and the object it names."""
    rule, evidence = finding["rule"], finding["evidence"]
    if rule in ("security-definer-search-path", "function-search-path-mutable"):
        return {("function_search_path_mutable", finding["object"].split("(")[0])}
    if rule == "security-definer-executable-by-api-role":
        name = finding["object"].split("(")[0]
        return {
            (f"{role}_security_definer_function_executable", name) for role in evidence["callers"]
        }
    if rule == "extension-in-public":
        return {("extension_in_public", f"{evidence['schema']}.{finding['object']}")}
    if rule in ("rls-per-row-function", "multiple-permissive-policies"):
        lint = "auth_rls_initplan" if rule == "rls-per-row-function" else rule.replace("-", "_")
        return {(lint, f"{finding['schema']}.{finding['table']}")}
    return set()


def installed_extensions(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as connection:
        return {name for (name,) in connection.execute("SELECT extname FROM pg_extension")}


@needs_corpus
@pytest.mark.parametrize("name", sorted(SPLINTER))
def test_every_splinter_security_finding_is_made(
    server: EmbeddedServer, corpus_copy: Callable[[str], Database], name: str
) -> None:
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        for role in API_ROLES:  # splinter runs where Supabase's API roles exist
            if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
                admin.execute(f"CREATE ROLE {role} NOLOGIN")
    dsn = corpus_copy(name).dsn
    run = pgvitals("check", dsn, "--format", "json", "--no-data")
    assert run.exit_code == 0, run.stderr
    report = valid_report(run.json())
    found = set().union(*(as_splinter(f) for f in report["findings"]))
    # a compat-loaded server (no contrib) lacks some extensions altogether
    present = installed_extensions(dsn)
    expected = {
        (lint, obj)
        for lint, obj in SPLINTER[name]
        if lint != "extension_in_public" or obj.split(".")[1] in present
    }
    assert expected - found == set()
    managed = report["sections"]["not_assessed"]
    if name == "supabase_basejump":
        assert {"auth", "extensions", "storage"} <= set(managed[0]["names"])
        assert not [f for f in report["findings"] if f["schema"] in ("auth", "storage")]
    rules = {*RULES.values(), "function-search-path-mutable"}
    security = [c for c in report["checks"] if c["rule"] in rules]
    assert {c["status"] for c in security} == {"ran"}
