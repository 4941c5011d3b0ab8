"""Security rules: row-level security, roles, grants, SECURITY DEFINER functions.

Who can reach what is decided from the collected privileges (Facts.holds): a grant
to the role, to a role it inherits from, or to PUBLIC, ownership, superuser, and the
pg_read_all_data / pg_write_all_data roles. "API roles" are the roles a REST or
GraphQL layer (PostgREST, Supabase, pg_graphql) runs requests as; their names are an
option of each rule that uses them.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from pgvitals import fixes
from pgvitals.rules._api import (
    HIGH,
    INFO,
    LOW,
    MEDIUM,
    SECURITY,
    Draft,
    NoOptions,
    finding,
    option,
    rule,
)
from pgvitals.snapshot.facts import PUBLIC
from pgvitals.snapshot.model import Column, Function, Policy, Role, Snapshot, Table, View
from pgvitals.snapshot.nodes import Call, Expression

COMMANDS = ("SELECT", "INSERT", "UPDATE", "DELETE")
DEFAULT_API_ROLES = "anon,authenticated,web_anon"


@dataclass(frozen=True)
class ApiOptions:
    api_roles: str = option(
        DEFAULT_API_ROLES, "comma-separated roles that API requests run as (PostgREST, Supabase)"
    )


@dataclass(frozen=True)
class ApiSchemaOptions(ApiOptions):
    api_schemas: str = option(
        "",
        "comma-separated schemas the API exposes; empty: a role's pgrst.db_schemas setting"
        " (PostgREST reads it from its login role), else public",
    )


def names_in(value: str) -> list[str]:
    return [name.strip() for name in value.split(",") if name.strip()]


def api_roles(snap: Snapshot, opts: ApiOptions) -> list[str]:
    """The configured API roles that exist in this cluster."""
    return [name for name in names_in(opts.api_roles) if name in snap.facts.role_by_name]


def api_schemas(snap: Snapshot, opts: ApiSchemaOptions) -> set[str]:
    """The schemas an API layer serves: configured, else what PostgREST is configured
    to serve (`pgrst.db_schemas` on a role), else PostgREST's default, public."""
    if opts.api_schemas.strip():
        return set(names_in(opts.api_schemas))
    for role in snap.roles:
        for setting in role.config:
            name, _, value = setting.partition("=")
            if name == "pgrst.db_schemas":
                return {n.strip('"') for n in names_in(value)}
    return {"public"}


def function_name(function: Function) -> str:
    """How a call reads: `auth.uid()`, `current_setting()` for the system's own."""
    prefix = "" if function.schema == "pg_catalog" else f"{function.schema}."
    return f"{prefix}{function.name}()"


# --- functions ------------------------------------------------------------------------


def search_path_schemas(value: str) -> list[str]:
    """The schema names in a search_path setting (`"$user", public` -> [$user, public])."""
    names = []
    for part in value.split(","):
        name = part.strip()
        if len(name) >= 2 and name.startswith('"') and name.endswith('"'):
            name = name[1:-1].replace('""', '"')
        if name:
            names.append(name)
    return names


def writable_schemas(snap: Snapshot, schemas: list[str], writers: list[str]) -> list[str]:
    """Of `schemas`, those where one of `writers` (PUBLIC, API roles) may CREATE."""
    facts = snap.facts
    found = []
    for name in schemas:
        schema = facts.schema_by_name.get(name)
        if schema is None:
            continue
        if any(facts.holds(w, "schema", schema.oid, schema.owner, "CREATE") for w in writers):
            found.append(name)
    return found


@rule(
    "security-definer-search-path",
    category=SECURITY,
    severity=HIGH,
    title="Function without a fixed search_path",
    options=ApiOptions,
)
def security_definer_search_path(snap: Snapshot, opts: ApiOptions) -> Iterator[Draft]:
    """A function resolves the names in its body through the caller's search_path.

    Reported for every function without `SET search_path` (what splinter calls
    `function_search_path_mutable`): high for SECURITY DEFINER functions, low for the
    others. A SECURITY DEFINER function whose fixed search_path names a schema where
    PUBLIC or an API role may create objects is reported too (high).

    ## Why it breaks
    An unqualified name in a function body (`streaks`, `now()`, `=`) is looked up in
    the search_path of the session that calls it. A SECURITY DEFINER function runs
    with its owner's rights, so a caller who can create an object in a schema that
    comes earlier in their own search_path (their own schema, `public` where PUBLIC
    may create, `pg_temp` for tables) makes the function use that object instead,
    with the owner's rights: a table that captures the rows it writes, or a function
    or operator that runs the attacker's code as the owner (CVE-2018-1058, and the
    case the PostgreSQL manual describes under "Writing SECURITY DEFINER Functions
    Safely"). For a function without SECURITY DEFINER the risk is smaller: its
    result depends on who calls it (a trigger or a policy may resolve names
    differently for different roles), and it runs another role's objects when a
    privileged role calls it with a crafted search_path.

    ## Fix
    Fix the search_path on the function: `ALTER FUNCTION ... SET search_path =
    <schema>, pg_temp` lists the schema it lives in, with `pg_temp` last so that a
    temporary table cannot shadow a real one. List every schema whose objects the
    body names without a schema, and only schemas that untrusted roles cannot
    write to; `SET search_path = ''` is the strictest choice when every name in the
    body is schema-qualified. The rollback resets it. Where the fixed search_path
    names a writable schema, replace that schema (no SQL is generated: which
    schemas the body needs is a judgement).
    """
    writers = [PUBLIC, *api_roles(snap, opts)]
    for function in snap.functions:
        if not function.user_defined:
            continue
        path = function.settings.get("search_path")
        if path is None:
            definer = function.security_definer
            kind = "SECURITY DEFINER function" if definer else "Function"
            yield finding(
                function,
                f"{kind} {function.qualname} has no search_path of its own: names in its body"
                " resolve through the caller's search_path",
                evidence={
                    "security_definer": definer,
                    "language": function.language,
                    "owner": function.owner,
                },
                fix=fixes.set_function_search_path(function),
                severity=None if definer else LOW,
            )
            continue
        if not function.security_definer:
            continue
        exposed = writable_schemas(snap, search_path_schemas(path), writers)
        if exposed:
            yield finding(
                function,
                f"SECURITY DEFINER function {function.qualname} searches"
                f" {', '.join(exposed)}, where other roles may create objects",
                evidence={"search_path": path, "writable_schemas": exposed, "writers": writers},
            )


@rule(
    "security-definer-executable-by-api-role",
    category=SECURITY,
    severity=MEDIUM,
    title="SECURITY DEFINER function callable by an API role",
    options=ApiSchemaOptions,
)
def security_definer_executable_by_api_role(
    snap: Snapshot, opts: ApiSchemaOptions
) -> Iterator[Draft]:
    """An API role may call a function that runs with its owner's rights.

    Reported when an existing API role holds EXECUTE on a SECURITY DEFINER function
    (granted to it, to a role it inherits from, or to PUBLIC, which every function
    has unless it was revoked) and USAGE on its schema. In a schema the API serves
    (`api_schemas`) it is high when `anon`, the role of requests without a login,
    can call it, and medium when only signed-in roles can; in a schema the API does
    not serve it is low: only SQL that already runs as that role (a policy, a
    trigger, another function) can call it.

    ## Why it breaks
    A SECURITY DEFINER function runs as its owner, usually the role that owns the
    tables, which is not subject to their row-level security policies. PostgREST
    exposes every function an API role may execute as `POST /rpc/<name>` (Supabase:
    `/rest/v1/rpc/<name>`, and pg_graphql as a query or mutation), so anyone holding
    the public API key can run it with any arguments: whatever it reads or writes,
    it does for every row. New functions get EXECUTE for PUBLIC by default, so a
    helper written for a policy or a trigger is callable from the API unless someone
    revoked it.

    ## Fix
    Revoke EXECUTE from PUBLIC and the API roles, then grant it back only to the
    roles that must call it (a trigger function needs no grant at all). Where the
    API must call it, make it check who calls (`auth.uid()`) and what it may touch
    before doing anything. A function that policies call runs as the querying role,
    which therefore needs EXECUTE: keep it out of the schemas the API serves instead
    (no SQL is generated for those). The rollback grants back what was revoked.
    """
    roles = api_roles(snap, opts)
    served = api_schemas(snap, opts)
    facts = snap.facts
    for function in snap.functions:
        if not (function.user_defined and function.security_definer):
            continue
        schema = facts.schema_by_name.get(function.schema)
        callers = [
            role
            for role in roles
            if facts.holds(role, "function", function.oid, function.owner, "EXECUTE")
            and (schema is None or facts.holds(role, "schema", schema.oid, schema.owner, "USAGE"))
        ]
        if not callers:
            continue
        granted = facts.grants.get(("function", function.oid), {})
        holders = [g for g in (PUBLIC, *roles) if "EXECUTE" in granted.get(g, ())]
        # a policy runs its functions as the querying role: revoking would break it
        policies = [p.qualname for p in facts.policies_calling.get(function.oid, [])]
        exposed = function.schema in served
        where = f"/rpc/{function.name}" if exposed else "SQL run as that role"
        severity = None
        if not exposed:
            severity = LOW
        elif "anon" in callers:
            severity = HIGH
        yield finding(
            function,
            f"SECURITY DEFINER function {function.qualname} runs as {function.owner} and"
            f" {', '.join(callers)} can call it ({where})",
            evidence={
                "callers": callers,
                "granted_to": holders,
                "owner": function.owner,
                "schema_served_by_api": exposed,
                "called_by_policies": policies,
            },
            fix=fixes.revoke_execute(function, holders) if holders and not policies else None,
            severity=severity,
        )


# --- extensions -----------------------------------------------------------------------


@rule(
    "extension-in-public",
    category=SECURITY,
    severity=LOW,
    title="Extension installed in the public schema",
)
def extension_in_public(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """An extension put its functions, types and operators into `public`.

    ## Why it breaks
    Everything in `public` is on every role's search_path, so the extension's
    functions and operators are candidates whenever a query names a function or an
    operator without a schema, and a later object of the same name (yours, or a
    hostile one where PUBLIC may create in `public`, the default before PostgreSQL
    15) competes with them. An API layer that exposes `public` (PostgREST, Supabase)
    also exposes the extension's functions as endpoints. Dumps and migrations mix
    the extension's objects with yours.

    ## Fix
    Move a relocatable extension to its own schema: `CREATE SCHEMA extensions` and
    `ALTER EXTENSION ... SET SCHEMA extensions`, then add that schema to the
    search_path of the roles (or functions) that call its functions unqualified. An
    extension that is not relocatable must be dropped and created again in the new
    schema, which drops the objects that depend on it: plan that by hand.
    """
    for extension in snap.extensions:
        if extension.schema != "public" or extension.name == "plpgsql":
            continue
        yield finding(
            extension,
            f"Extension {extension.name} {extension.version} is installed in public"
            f" ({extension.members:,} objects)",
            evidence={
                "schema": extension.schema,
                "relocatable": extension.relocatable,
                "members": extension.members,
            },
            fix=fixes.move_extension(extension) if extension.relocatable else None,
        )


# --- policies -------------------------------------------------------------------------


@dataclass(frozen=True)
class PerRowOptions:
    small_table_rows: int = option(1_000, "tables smaller than this make it low")


# System functions whose per-row cost is a few instructions: wrapping them gains nothing.
CHEAP_BUILTINS = frozenset(
    {"now", "transaction_timestamp", "statement_timestamp", "clock_timestamp", "timeofday",
     "pg_backend_pid", "current_database", "current_schema", "random", "gen_random_uuid"}
)  # fmt: skip


def per_row_calls(snap: Snapshot, expression: Expression | None) -> list[tuple[Call, Function]]:
    """Calls that give one value for every row but run for each row: not immutable,
    not a cheap system function, no argument reads a column, not inside `(SELECT ...)`,
    and not an argument of another such call (that one is reported instead)."""
    if expression is None:
        return []
    functions = snap.facts.function_by_oid
    calls = expression.calls

    def costly(call: Call) -> bool:
        function = functions.get(call.function_oid)
        if function is None or function.volatility == "i":
            return False
        return not (function.schema == "pg_catalog" and function.name in CHEAP_BUILTINS)

    found = []
    for call in calls:
        if not call.row_independent or call.once or not costly(call):
            continue
        outer, covered = call.outer, False
        while outer is not None:
            if costly(calls[outer]):
                covered = True
                break
            outer = calls[outer].outer
        if not covered:
            found.append((call, functions[call.function_oid]))
    return found


@rule(
    "rls-per-row-function",
    category=SECURITY,
    severity=MEDIUM,
    title="Policy calls a function for every row",
    options=PerRowOptions,
)
def rls_per_row_function(snap: Snapshot, opts: PerRowOptions) -> Iterator[Draft]:
    """A policy calls a function whose value is the same for every row, once per row.

    Reported for calls of STABLE or VOLATILE functions (`auth.uid()`,
    `current_setting(...)`, your own helpers) whose arguments read no column of the
    row and that are not wrapped in a scalar sub-select. Low on tables under
    `small_table_rows` rows.

    ## Why it breaks
    PostgreSQL adds the policy's expression to every query's WHERE clause and
    evaluates it for each row it reads; only IMMUTABLE functions with constant
    arguments are folded to a constant before the scan. `user_id = auth.uid()` thus
    calls `auth.uid()` (and the `current_setting` and JSON parsing inside it) once
    per row: a query that scans 100,000 rows pays 100,000 calls, and a PL/pgSQL
    helper that queries a table runs that query per row. Written as
    `user_id = (SELECT auth.uid())`, the call becomes an InitPlan: evaluated once
    per query, its result reused for every row. Supabase measured 100x and more on
    large tables.

    ## Fix
    Wrap each such call in a scalar sub-select: `(SELECT auth.uid())`. The fix
    rewrites the policy's expressions that way with `ALTER POLICY`, keeping its
    name, command and roles; the rollback restores the original expressions. A
    STABLE function returns the same value throughout a query, so what the policy
    allows does not change. A VOLATILE one (the default for a function declared
    without a volatility) may not: check that it gives one answer per query, and
    declare it STABLE if so.
    """
    facts = snap.facts
    for policy in snap.policies:
        table = snap.table_by_oid.get(policy.table_oid)
        if table is None or not table.rls_enabled:
            continue  # policies of a table without RLS never run (policy-without-rls)
        using, check = facts.policy_expressions.get(policy.oid, (None, None))
        found = {"USING": per_row_calls(snap, using), "WITH CHECK": per_row_calls(snap, check)}
        if not any(found.values()):
            continue
        names = sorted({function_name(f) for calls in found.values() for _, f in calls})
        rows = facts.rows(table)
        yield finding(
            policy,
            f"Policy {policy.name} on {table.qualname} calls {', '.join(names)} once per row;"
            " (SELECT ...) would call it once per query",
            evidence={
                "functions": names,
                "clauses": [clause for clause, calls in found.items() if calls],
                "rows": rows,
                "using": policy.using,
                "with_check": policy.with_check,
            },
            fix=fixes.wrap_policy_calls(policy, table, wrap_targets(snap, policy, found)),
            severity=LOW if rows < opts.small_table_rows else None,
        )


def wrap_targets(
    snap: Snapshot, policy: Policy, found: dict[str, list[tuple[Call, Function]]]
) -> dict[str, list[Function]]:
    """Per clause, the functions whose every call in it can be wrapped: where the same
    function is also called with a column argument, the text cannot tell the calls
    apart, and that clause is left as it is."""
    using, check = snap.facts.policy_expressions.get(policy.oid, (None, None))
    targets = {}
    for clause, expression in (("USING", using), ("WITH CHECK", check)):
        if expression is None or not found[clause]:
            continue
        wanted = {function.oid: function for _, function in found[clause]}
        mixed = {
            call.function_oid
            for call in expression.calls
            if call.function_oid in wanted and not call.row_independent
        }
        targets[clause] = [f for oid, f in wanted.items() if oid not in mixed]
    return targets


@rule(
    "multiple-permissive-policies",
    category=SECURITY,
    severity=LOW,
    title="Several permissive policies for one role and command",
)
def multiple_permissive_policies(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """Two or more PERMISSIVE policies of one table apply to the same role and command.

    Counted per command (an `ALL` policy counts for each) and per role named in the
    table's policies; a policy `TO PUBLIC` applies to every role. Roles that bypass
    row-level security are left out.

    ## Why it breaks
    Permissive policies are combined with OR. A row the first policy rejects is
    tested against the next one, so the rows that no policy lets through (most
    rows of a multi-tenant table) pay for every policy, sub-selects and function
    calls included: each extra policy adds its cost to every query of that role.
    The OR also makes access hard to reason about: a broad policy added for one
    case silently widens every other, and a policy meant to narrow access narrows
    nothing (it adds its rows) unless it is RESTRICTIVE.

    ## Fix
    Merge the policies of one role and command into one policy whose expression ORs
    their conditions, or make the narrowing ones `AS RESTRICTIVE`. Decide which by
    reading them: the fix is a judgement, so none is generated.
    """
    facts = snap.facts
    for table_oid, policies in facts.policies_by_table.items():
        table = snap.table_by_oid.get(table_oid)
        if table is None or not table.rls_enabled:
            continue
        overlaps = permissive_overlaps(snap, policies)
        if not overlaps:
            continue
        described = "; ".join(
            f"{o['command']} for {o['role']}: {', '.join(o['policies'])}" for o in overlaps
        )
        yield finding(
            table,
            f"{table.qualname} has overlapping permissive policies ({described})",
            evidence={"overlaps": overlaps},
        )


def permissive_overlaps(snap: Snapshot, policies: list[Policy]) -> list[dict[str, object]]:
    """(command, role, policies) wherever more than one permissive policy applies."""
    roles = snap.facts.role_by_name
    named = sorted({r for p in policies for r in p.roles if r != "public"})
    candidates = [name for name in named if not (roles.get(name) and bypasses_rls(roles[name]))] + [
        "public"
    ]
    overlaps = []
    for command in COMMANDS:
        applicable = [p for p in policies if p.permissive and p.applies_to(command)]
        for role in candidates:
            matching = sorted(p.name for p in applicable if role in p.roles or "public" in p.roles)
            if len(matching) > 1:
                overlaps.append({"command": command, "role": role, "policies": matching})
    return overlaps


def bypasses_rls(role: Role) -> bool:
    return role.superuser or role.bypassrls


# --- row-level security on and off -----------------------------------------------------

NO_POLICY_YET = "write the policies first: with none, only the owner and BYPASSRLS roles see rows"


def api_access(snap: Snapshot, table: Table, roles: list[str]) -> dict[str, list[str]]:
    """Per API role that can reach the table (schema USAGE and a privilege): the
    commands it may run."""
    facts = snap.facts
    access = {}
    for role in roles:
        commands = [c for c in COMMANDS if facts.can_reach_table(role, table.oid, c)]
        if commands:
            access[role] = commands
    return access


@rule(
    "rls-disabled",
    category=SECURITY,
    severity=INFO,
    title="Table without row-level security",
    options=ApiOptions,
)
def rls_disabled(snap: Snapshot, opts: ApiOptions) -> Iterator[Draft]:
    """A table has row-level security off where the context says it should be on.

    High for a table that an API role (`anon`, `authenticated`, ...) can reach
    (USAGE on its schema and a privilege on it, directly, through a role it
    inherits or through PUBLIC), and for a table in a schema where other tables use
    row-level security. Otherwise one informational finding per schema: a database
    that serves no API and uses RLS nowhere is not flagged table by table.

    ## Why it breaks
    Without row-level security every role with a privilege on the table reads and
    writes every row: an API role granted SELECT serves the whole table to anyone
    holding the public API key (PostgREST and Supabase expose every table the role
    may read), and a table forgotten in a schema that otherwise isolates tenants
    with policies leaks all tenants' rows through any join or view that reaches it.
    Partitions have their own setting: a partition that a role was granted
    privileges on directly is not protected by its parent's policies when queried
    by name (reported like a table; partitions reached only through their parent
    are not).

    ## Fix
    Write the policies first, then `ALTER TABLE ... ENABLE ROW LEVEL SECURITY`.
    With RLS on and no policy, every role but the owner and BYPASSRLS roles sees no
    rows and cannot write any, so enabling it alone breaks an application that
    uses the table. Or revoke the API roles' privileges on a table they must not
    reach. The rollback disables it again.
    """
    roles = api_roles(snap, opts)
    facts = snap.facts
    rls_schemas = {t.schema for t in snap.tables if t.is_regular and t.rls_enabled}
    quiet: dict[str, list[str]] = {}
    for table in snap.tables:
        if not table.is_regular or table.rls_enabled:
            continue
        access = api_access(snap, table, roles)
        granted = (("table", table.oid) in facts.grants) or (("column", table.oid) in facts.grants)
        if table.is_partition and not (access or granted):
            continue  # reached through its parent, whose setting applies
        siblings = table.schema in rls_schemas
        if not access and not siblings:
            quiet.setdefault(table.schema, []).append(table.name)
            continue
        reasons = []
        if access:
            reasons.append(f"{', '.join(access)} can reach it")
        if siblings:
            reasons.append(f"other tables of {table.schema} use row-level security")
        yield finding(
            table,
            f"{table.qualname} has no row-level security: {' and '.join(reasons)}",
            evidence={"api_access": access, "schema_uses_rls": siblings},
            fix=fixes.enable_rls(table, NO_POLICY_YET),
            severity=HIGH,
        )
    for schema_name, names in quiet.items():
        schema = facts.schema_by_name.get(schema_name)
        if schema is None:
            continue
        yield finding(
            schema,
            f"No table of schema {schema_name} uses row-level security ({len(names):,} tables);"
            " no API role reaches them",
            evidence={"tables": len(names), "examples": sorted(names)[:10]},
        )


@rule(
    "rls-enabled-no-policy",
    category=SECURITY,
    severity=MEDIUM,
    title="Row-level security enabled without any policy",
)
def rls_enabled_no_policy(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """A table has row-level security on and no policy: it is closed to every role
    but its owner and the roles that bypass RLS.

    Medium when roles other than the owner were granted privileges on it (they get
    empty results and failed writes, with no error for reads); low when nobody else
    was granted anything (a deliberate lock-down, or an unfinished one).

    ## Why it breaks
    With row-level security enabled, a command no policy allows is denied: SELECT,
    UPDATE and DELETE silently see no rows, INSERT fails with "new row violates
    row-level security policy". The table owner is exempt unless the table is
    FORCEd, and so are superusers and BYPASSRLS roles: a query that works in a
    migration or an admin console returns nothing for the application, which looks
    like missing data rather than a permission problem.

    ## Fix
    Add the policies the application needs (one per command and role, or `FOR ALL`),
    or, if only privileged roles may use the table, revoke the other roles'
    privileges so that the intent is explicit. No SQL is generated: what the
    policies allow is a design decision.
    """
    for table_oid, coverage in snap.facts.rls_coverage.items():
        table = snap.table_by_oid[table_oid]
        if snap.facts.policies_by_table.get(table_oid):
            continue
        granted = sorted({g for c in coverage.commands for g in c.granted_to})
        yield finding(
            table,
            f"{table.qualname} has row-level security enabled and no policy: only its owner"
            " and roles that bypass RLS see or change rows"
            + (f" ({', '.join(granted)} get nothing)" if granted else ""),
            evidence={"granted_to": granted, "owner": table.owner, "forced": table.rls_forced},
            severity=None if granted else LOW,
        )


@rule(
    "policy-without-rls",
    category=SECURITY,
    severity=HIGH,
    title="Policies on a table without row-level security",
)
def policy_without_rls(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """A table has policies, but row-level security is not enabled: they do nothing.

    ## Why it breaks
    Policies are only applied to a table with `ENABLE ROW LEVEL SECURITY`. Without
    it, every role with a privilege on the table reads and writes every row, while
    the policies in the schema (and in a review of it) suggest the rows are
    isolated. This is what `CREATE POLICY` without the `ALTER TABLE` looks like,
    and what a restore or migration that recreated the table without its RLS flag
    leaves behind.

    ## Fix
    `ALTER TABLE ... ENABLE ROW LEVEL SECURITY`. Check first that the policies cover
    every command the application's roles use: once enabled, a command no policy
    allows is denied (see the RLS coverage matrix in the report). The rollback
    disables it again.
    """
    for table_oid, policies in snap.facts.policies_by_table.items():
        table = snap.table_by_oid.get(table_oid)
        if table is None or table.rls_enabled:
            continue
        names = sorted(p.name for p in policies)
        yield finding(
            table,
            f"{table.qualname} has {len(names)} {'policy' if len(names) == 1 else 'policies'}"
            f" ({', '.join(names)}) but row-level security is not enabled: they are ignored",
            evidence={"policies": names},
            fix=fixes.enable_rls(table, "commands no policy allows are denied once it is on"),
        )


@rule(
    "rls-missing-command",
    category=SECURITY,
    severity=LOW,
    title="Command granted but no policy allows it",
)
def rls_missing_command(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """A role was granted a command on an RLS table, but no policy allows that command.

    Reported per table (with at least one policy) for each of SELECT, INSERT, UPDATE
    and DELETE that roles other than the owner were granted and that no permissive
    policy (an `ALL` policy counts for every command) allows. Roles that bypass RLS
    are left out.

    ## Why it breaks
    Row-level security denies what no permissive policy allows. The grant says the
    role may run the command, the missing policy says it may not: SELECT, UPDATE and
    DELETE then affect no rows without an error, and INSERT fails with "new row
    violates row-level security policy". Either the policy was forgotten (a
    feature that silently does nothing) or the grant is wider than intended.
    UPDATE also needs a SELECT policy for the rows it reads in its WHERE clause.

    ## Fix
    Add a policy for the command (`CREATE POLICY ... FOR DELETE TO ... USING (...)`)
    or revoke the privilege from the roles that must not use it, so that the
    grants say what the policies do. No SQL is generated: which it is, is a choice.
    """
    facts = snap.facts
    for table_oid, coverage in facts.rls_coverage.items():
        if not facts.policies_by_table.get(table_oid):
            continue  # rls-enabled-no-policy
        table = snap.table_by_oid[table_oid]
        missing = {}
        for command in coverage.commands:
            holders = [g for g in command.granted_to if not rls_exempt(snap, g)]
            if command.denied and holders:
                missing[command.command] = holders
        if not missing:
            continue
        described = "; ".join(f"{c} for {', '.join(r)}" for c, r in missing.items())
        yield finding(
            table,
            f"No policy on {table.qualname} allows {', '.join(missing)}, though granted"
            f" ({described})",
            evidence={"denied": missing},
        )


def rls_exempt(snap: Snapshot, grantee: str) -> bool:
    return bypasses_rls_named(snap.facts.role_by_name, grantee)


@rule(
    "rls-policy-always-true",
    category=SECURITY,
    severity=HIGH,
    title="Policy lets every row be written",
)
def rls_policy_always_true(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """A permissive policy with `USING (true)` or `WITH CHECK (true)` on a write command,
    for roles that do not bypass row-level security anyway.

    `USING (true)` on UPDATE or DELETE lets the role change or delete every row;
    `WITH CHECK (true)` on INSERT or UPDATE lets it write any row, whatever owner
    or tenant it claims (medium when the policy only covers INSERT). A `FOR ALL`
    policy without WITH CHECK uses its USING for writes too. `USING (true)` for
    SELECT alone is a deliberate "everyone may read" and is not reported.

    ## Why it breaks
    Permissive policies are OR-ed: one that is always true makes every other policy
    for that role and command irrelevant. A write policy written as `true` "to get
    it working" lets any signed-in user (or anyone, for `anon` or PUBLIC) update or
    delete other users' rows, or insert rows in another tenant's name, through the
    API.

    ## Fix
    Replace `true` with the condition that ties the row to the caller
    (`user_id = (SELECT auth.uid())`, `tenant_id = ...`), or drop the policy and
    revoke the command from roles that must not use it. No SQL is generated.
    """
    facts = snap.facts
    roles = facts.role_by_name
    for policy in snap.policies:
        table = snap.table_by_oid.get(policy.table_oid)
        if table is None or not table.rls_enabled or not policy.permissive:
            continue
        subject = [r for r in policy.roles if r == "public" or not bypasses_rls_named(roles, r)]
        if not subject:
            continue
        using, check = facts.policy_expressions.get(policy.oid, (None, None))
        using_true = using is not None and using.always_true
        check_true = check.always_true if check is not None else using_true
        opened = []
        if using_true:
            opened += [c for c in ("UPDATE", "DELETE") if policy.applies_to(c)]
        if check_true:
            opened += [f"{c} (WITH CHECK)" for c in ("INSERT", "UPDATE") if policy.applies_to(c)]
        if not opened:
            continue
        yield finding(
            policy,
            f"Policy {policy.name} on {table.qualname} is always true for"
            f" {', '.join(opened)} ({', '.join(subject)})",
            evidence={"commands": opened, "roles": subject, "command": policy.command},
            severity=MEDIUM if opened == ["INSERT (WITH CHECK)"] else None,
        )


def bypasses_rls_named(roles: dict[str, Role], name: str) -> bool:
    role = roles.get(name)
    return role is not None and bypasses_rls(role)


# --- session variables ------------------------------------------------------------------

TEXT_TYPES = frozenset({25, 1043, 19, 1042, 705})  # text, varchar, name, bpchar, unknown
SETTING_IN_BODY = re.compile(
    r"(nullif\s*\(\s*)?current_setting\s*\(\s*'((?:[^']|'')*)'\s*(?:::\s*text\s*)?"
    r"(?:,\s*(true|false|'[^']*'(?:::\s*boolean)?))?\s*\)(\s*::\s*\w+)?",
    re.I,
)


@dataclass(frozen=True)
class SettingRead:
    """One read of a session variable by a policy, and what happens when it is unset."""

    name: str
    missing_ok: bool
    nulled: bool  # NULLIF(..., ''): '' reads as NULL
    cast: bool  # converted to a non-text type right away: '' raises an error
    via: str | None  # the function that reads it, when not the policy itself

    @property
    def when_unset(self) -> str:
        if not self.missing_ok:
            return (
                "every query fails with 'unrecognized configuration parameter' until the"
                " session sets it"
            )
        if self.cast and not self.nulled:
            return (
                "NULL (no row matches) until the session has set it once; after that, even"
                " after SET LOCAL ended, it reads '' and the cast fails for every query"
            )
        return "NULL (or '' once the session has set it before): no row matches"

    @property
    def fails_closed(self) -> bool:
        return self.missing_ok and (self.nulled or not self.cast)


def setting_reads(snap: Snapshot, policy: Policy) -> list[SettingRead]:
    """The session variables the policy reads: current_setting() in its expressions,
    or in the body of a function of the user's that it calls."""
    facts = snap.facts
    reads = []
    for expression in facts.policy_expressions.get(policy.oid, (None, None)):
        if expression is None:
            continue
        for call in expression.calls:
            function = facts.function_by_oid.get(call.function_oid)
            if function is None:
                continue
            if function.schema == "pg_catalog" and function.name == "current_setting":
                name = call.arguments[0] if call.arguments else None
                if isinstance(name, str):
                    missing_ok = len(call.arguments) > 1 and call.arguments[1] is True
                    cast = call.cast_to is not None and call.cast_to not in TEXT_TYPES
                    nulled = call.parent == "NULLIFEXPR"
                    reads.append(SettingRead(name, missing_ok, nulled, cast, None))
            elif function.user_defined and function.source and not is_managed(snap, function):
                reads += body_setting_reads(function)
    unique = {(r.name, r.via, r.missing_ok, r.nulled, r.cast): r for r in reads}
    return list(unique.values())


def body_setting_reads(function: Function) -> list[SettingRead]:
    reads = []
    for match in SETTING_IN_BODY.finditer(function.source or ""):
        nulled, name, flag, cast = match.groups()
        missing_ok = flag is not None and flag.strip("'").lower().startswith(("true", "t", "on"))
        to_text = cast is not None and cast.split("::")[-1].strip().lower() in ("text", "varchar")
        reads.append(
            SettingRead(
                name.replace("''", "'"),
                missing_ok,
                nulled is not None,
                cast is not None and not to_text,
                function_name(function),
            )
        )
    return reads


def is_managed(snap: Snapshot, function: Function) -> bool:
    return function.schema in snap.facts.managed_schemas


@rule(
    "rls-session-variable",
    category=SECURITY,
    severity=MEDIUM,
    title="Policy depends on a session variable",
)
def rls_session_variable(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """A policy reads `current_setting('...')`, directly or through a function of
    yours: its result depends on what each session set beforehand.

    Medium when an unset variable makes every query fail (`current_setting(name)`
    without `missing_ok`, or a cast of its text to uuid or integer); low when an
    unset variable reads as NULL or '' and so matches no row. A platform's own
    helpers that read the request (Supabase's `auth.uid()`, set by PostgREST for
    each request) are not reported.

    ## Why it breaks
    `current_setting('app.tenant')` without `missing_ok` raises "unrecognized
    configuration parameter" until the session sets it, so every query of a
    session that did not (a cron job, a console, a new code path) fails. With
    `missing_ok` (`current_setting('app.tenant', true)`) an unset variable is NULL,
    but once any transaction of the session has set it, even with `SET LOCAL`, it
    reads as `''` afterwards: `''::uuid` and `''::integer` raise an error for
    every query, and a text comparison matches rows whose value is `''`. On a
    pooled connection a value set with plain `SET` stays for the next client,
    which then sees the previous tenant's rows.

    ## Fix
    Whoever opens the transaction must set the variable, per transaction:
    `SET LOCAL app.tenant = '...'` or `SELECT set_config('app.tenant', '...', true)`
    before the first query (PostgREST does this for `request.jwt.claims`). In the
    policy, read it so that unset fails closed:
    `nullif(current_setting('app.tenant', true), '')::uuid`, wrapped as
    `(SELECT ...)` so that it is read once per query. No SQL is generated.
    """
    for policy in snap.policies:
        table = snap.table_by_oid.get(policy.table_oid)
        if table is None or not table.rls_enabled:
            continue
        reads = setting_reads(snap, policy)
        if not reads:
            continue
        names = sorted({r.name for r in reads})
        yield finding(
            policy,
            f"Policy {policy.name} on {table.qualname} reads {', '.join(names)}; when unset: "
            + "; ".join(f"{r.name}: {r.when_unset}" for r in reads),
            evidence={
                "settings": [
                    {
                        "name": r.name,
                        "missing_ok": r.missing_ok,
                        "via": r.via,
                        "when_unset": r.when_unset,
                    }
                    for r in reads
                ],
                "set_by": "the application, per transaction (SET LOCAL or set_config(..., true))",
            },
            severity=LOW if all(r.fails_closed for r in reads) else None,
        )


# --- roles ------------------------------------------------------------------------------


def exempt_from_rls(snap: Snapshot, role: str, table: Table) -> bool:
    """Policies do not apply to this role on this table: a superuser or BYPASSRLS role,
    or the owner (or a role using the owner's privileges) of a table not FORCEd."""
    facts = snap.facts
    found = facts.role_by_name.get(role)
    if found is not None and bypasses_rls(found):
        return True
    return not table.rls_forced and table.owner in facts.privileges_of.get(role, {role})


def rls_tables_readable(snap: Snapshot, role: str) -> list[Table]:
    """Tables with row-level security whose rows this role can read."""
    facts = snap.facts
    return [
        table
        for table in snap.tables
        if table.rls_enabled and facts.can_reach_table(role, table.oid, "SELECT")
    ]


@rule(
    "bypassrls-login-role",
    category=SECURITY,
    severity=HIGH,
    title="Login role that bypasses row-level security",
)
def bypassrls_login_role(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """A role that can log in ignores every row-level security policy.

    Reported for LOGIN roles with BYPASSRLS (high) and for LOGIN roles that can
    `SET ROLE` to a BYPASSRLS role (medium), when they can read at least one table
    that uses row-level security in this database. Superusers bypass everything and
    are not reported here; a platform's own roles (Supabase's) are not assessed.

    ## Why it breaks
    BYPASSRLS exempts the role from every policy of every table: whoever holds its
    password (a reporting tool, a developer's laptop, a leaked connection string)
    reads all tenants' rows, and code that connects as it silently stops being
    isolated. Because the attribute is not inherited through membership, it is
    easy to miss that a login role can still reach it with `SET ROLE`.

    ## Fix
    `ALTER ROLE ... NOBYPASSRLS`. A job that must see every row can use a NOLOGIN
    role with BYPASSRLS that it switches to explicitly, or policies written for it.
    The rollback restores the attribute.
    """
    facts = snap.facts
    roles = facts.role_by_name
    for role in snap.roles:
        if not role.login or role.superuser:
            continue
        if role.bypassrls:
            readable = rls_tables_readable(snap, role.name)
            via = None
        else:
            via = next((g for g in role.member_of if g in roles and roles[g].bypassrls), None)
            readable = rls_tables_readable(snap, via) if via else []
        if not readable:
            continue
        names = sorted(t.qualname for t in readable)
        how = f"can SET ROLE {via}, which" if via else "logs in and"
        yield finding(
            role,
            f"Role {role.name} {how} bypasses row-level security on {len(names):,}"
            f" {'table' if len(names) == 1 else 'tables'} ({', '.join(names[:5])}"
            f"{', ...' if len(names) > 5 else ''})",
            evidence={"tables": names[:20], "tables_total": len(names), "via_role": via},
            fix=fixes.set_role_attribute(role.name, "BYPASSRLS", False) if via is None else None,
            severity=MEDIUM if via else None,
        )


# --- views ------------------------------------------------------------------------------


def view_readers(snap: Snapshot, view: View, roles: list[str]) -> tuple[list[str], list[str]]:
    """(API roles that can read the view, other grantees of SELECT on it)."""
    facts = snap.facts
    schema = facts.schema_by_name.get(view.schema)

    def reads(role: str) -> bool:
        usage = schema is None or facts.holds(role, "schema", schema.oid, schema.owner, "USAGE")
        return usage and facts.holds(role, "table", view.oid, view.owner, "SELECT")

    api = [role for role in roles if reads(role)]
    granted = facts.grants.get(("table", view.oid), {})
    columns = facts.grants.get(("column", view.oid), {})
    others = sorted(
        grantee
        for grantee in {*granted, *columns}
        if grantee not in api
        and (
            "SELECT" in granted.get(grantee, ())
            or any(n.startswith("SELECT (") for n in columns.get(grantee, ()))
        )
    )
    return api, others


def bypassed_tables(snap: Snapshot, view: View) -> list[Table]:
    """RLS tables the view reads (through other views too) with the rights of a role the
    policies do not apply to: its owner's, unless it is security_invoker."""
    by_oid = snap.table_by_oid
    views = {v.oid: v for v in snap.views}
    found: dict[int, Table] = {}
    seen: set[tuple[int, str | None]] = set()
    stack: list[tuple[View, str | None]] = [(view, None)]
    while stack:
        current, checker = stack.pop()
        if (current.oid, checker) in seen:
            continue
        seen.add((current.oid, checker))
        invoker = current.kind == "v" and current.security_invoker
        checking = checker if invoker else current.owner
        for oid in current.reads:
            if oid in views and oid != current.oid:
                stack.append((views[oid], checking))
                continue
            table = by_oid.get(oid)
            if table is None or not table.rls_enabled or checking is None:
                continue
            if exempt_from_rls(snap, checking, table):
                found[table.oid] = table
    return sorted(found.values(), key=lambda t: t.qualname)


@rule(
    "view-bypasses-rls",
    category=SECURITY,
    severity=HIGH,
    title="View reads row-level-secured tables with its owner's rights",
    options=ApiOptions,
)
def view_bypasses_rls(snap: Snapshot, opts: ApiOptions) -> Iterator[Draft]:
    """A view (or materialized view) shows rows of a table with row-level security as
    its owner sees them, to roles the policies were meant to restrict.

    Reported when the view reads, directly or through other views, a table with
    row-level security whose policies do not apply to the view's owner (the table's
    owner when the table is not FORCEd, a superuser, or a BYPASSRLS role), the view
    is not `security_invoker` (PostgreSQL 15+; a materialized view never is), and
    roles other than its owner can read it: high for API roles, medium otherwise.

    ## Why it breaks
    A view runs its query with its owner's privileges, and row-level security is
    checked for the owner too, not for the role that selects from the view. A view
    created by the table's owner, the usual case in a migration, therefore returns
    every row to everyone granted SELECT on it: a `student_directory` view over
    `students` serves all schools' students to any `authenticated` user. A
    materialized view stores what its owner saw at the last refresh, so it has the
    same effect whatever its options.

    ## Fix
    On PostgreSQL 15 and later: `ALTER VIEW ... SET (security_invoker = true)`, so
    that privileges and policies are checked for the querying role (it then needs
    SELECT on the underlying tables, and the policies decide its rows). Before 15,
    or for a materialized view, revoke SELECT from the roles the policies restrict
    and serve them through a function or a table with its own policies. The
    rollback resets the option.
    """
    roles = api_roles(snap, opts)
    invoker_views = snap.server.version_num >= 150000
    for view in snap.views:
        tables = bypassed_tables(snap, view)
        if not tables:
            continue
        api, others = view_readers(snap, view, roles)
        if not api and not others:
            continue
        names = [t.qualname for t in tables]
        readers = api + others
        yield finding(
            view,
            f"{'Materialized view' if view.kind == 'm' else 'View'} {view.qualname} shows"
            f" {', '.join(names)} as {view.owner} sees them (policies not applied) to"
            f" {', '.join(readers)}",
            evidence={"tables": names, "owner": view.owner, "readers": readers},
            fix=fixes.set_security_invoker(view) if view.kind == "v" and invoker_views else None,
            severity=None if api else MEDIUM,
        )


# --- grants -----------------------------------------------------------------------------


@rule(
    "public-schema-create",
    category=SECURITY,
    severity=MEDIUM,
    title="Every role may create objects in a schema",
)
def public_schema_create(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """PUBLIC holds CREATE on a schema (the default for `public` before PostgreSQL 15,
    or granted back since).

    ## Why it breaks
    Any role that can connect, including an API role or a compromised low-privilege
    account, may create tables, functions and operators there. Since `public` is on
    every role's search_path, an object created there can shadow a function or an
    operator that other roles' queries name without a schema, so that a more
    privileged role's query, trigger or SECURITY DEFINER function runs the
    creator's code (CVE-2018-1058; PostgreSQL 15 revoked this default for that
    reason). It also lets anyone fill the database with objects.

    ## Fix
    `REVOKE CREATE ON SCHEMA ... FROM PUBLIC`, and grant CREATE to the roles that
    run migrations. The rollback grants it back.
    """
    facts = snap.facts
    for schema in snap.schemas:
        granted = facts.grants.get(("schema", schema.oid), {})
        if "CREATE" not in granted.get(PUBLIC, ()):
            continue
        yield finding(
            schema,
            f"Every role may create objects in schema {schema.name} (CREATE granted to PUBLIC)",
            evidence={"grantee": PUBLIC, "owner": schema.owner},
            fix=fixes.revoke_from_public("CREATE", sql_schema=schema.name),
        )


@rule(
    "grant-to-public",
    category=SECURITY,
    severity=MEDIUM,
    title="Privileges granted to PUBLIC",
    options=ApiOptions,
)
def grant_to_public(snap: Snapshot, opts: ApiOptions) -> Iterator[Draft]:
    """A table, view or some of its columns, or a SECURITY DEFINER function, is open
    to PUBLIC: every role, present and future.

    High when PUBLIC may write (INSERT, UPDATE, DELETE, TRUNCATE); medium for reads
    and for EXECUTE on a SECURITY DEFINER function (which every new function has,
    unless revoked; reported here when no API role exists, since
    `security-definer-executable-by-api-role` reports it otherwise). CREATE on a
    schema is `public-schema-create`.

    ## Why it breaks
    PUBLIC is not a role you manage: it is every role that exists or will exist,
    including API roles, roles made for a tool or a contractor, and roles an
    extension creates. A grant to PUBLIC made "to get it working" outlives the
    reason, cannot be seen in any role's privileges, and bypasses whatever
    separation the other grants encode. On a table without row-level security
    it gives every role every row.

    ## Fix
    `REVOKE ... FROM PUBLIC`, then grant the privilege to the roles that need it.
    The rollback grants it back to PUBLIC.
    """
    facts = snap.facts
    roles = api_roles(snap, opts)
    for table in [*snap.tables, *(v for v in snap.views if v.kind == "v")]:
        granted = facts.grants.get(("table", table.oid), {}).get(PUBLIC, frozenset())
        columns = facts.grants.get(("column", table.oid), {}).get(PUBLIC, frozenset())
        if not granted and not columns:
            continue
        privileges = sorted(granted | columns)
        writes = [p for p in privileges if p.split(" ")[0] in (*WRITE_COMMANDS, "TRUNCATE")]
        yield finding(
            table,
            f"{table.qualname}: {', '.join(privileges)} granted to PUBLIC",
            evidence={"privileges": privileges, "row_level_security": rls_state(table)},
            fix=fixes.revoke_table_from_public(table.schema, table.name, granted, columns),
            severity=HIGH if writes else None,
        )
    for function in snap.functions:
        if not (function.user_defined and function.security_definer) or roles:
            continue
        granted = facts.grants.get(("function", function.oid), {})
        if "EXECUTE" not in granted.get(PUBLIC, ()):
            continue
        yield finding(
            function,
            f"SECURITY DEFINER function {function.qualname} can be called by every role"
            " (EXECUTE granted to PUBLIC)",
            evidence={"privileges": ["EXECUTE"], "owner": function.owner},
            fix=fixes.revoke_execute(function, [PUBLIC]),
        )


WRITE_COMMANDS = ("INSERT", "UPDATE", "DELETE")


def rls_state(table: Table | View) -> bool | None:
    """Whether row-level security protects the rows (None for a view: its own query
    decides)."""
    return table.rls_enabled if isinstance(table, Table) else None


# --- sensitive columns ------------------------------------------------------------------

# Words (of a name split at `_` and case changes) that mark a credential ...
CREDENTIAL_WORDS = frozenset(
    {"password", "passwd", "pwd", "passphrase", "secret", "token", "jwt", "otp", "totp",
     "apikey", "ssn", "cvv", "cvc", "iban", "pin"}
)  # fmt: skip
# ... and pairs of adjacent words that do
CREDENTIAL_PAIRS = frozenset(
    {("api", "key"), ("private", "key"), ("secret", "key"), ("access", "key"),
     ("credit", "card"), ("card", "number"), ("account", "number"), ("routing", "number"),
     ("social", "security"), ("passport", "number"), ("tax", "id"), ("national", "id"),
     ("recovery", "code"), ("backup", "code"), ("verification", "code")}
)  # fmt: skip
# Personal data: reported at a lower severity than credentials
PERSONAL_WORDS = frozenset({"email", "phone", "mobile", "dob", "birthday"})
PERSONAL_PAIRS = frozenset(
    {("date", "of"), ("birth", "date"), ("ip", "address"), ("home", "address")}
)
CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# text, user-defined (bytea, uuid, citext) and JSON values; not flags, numbers, times
VALUE_CATEGORIES = ("S", "U")


def name_words(name: str) -> list[str]:
    return [w for w in re.split(r"[_\-\s]+", CAMEL.sub("_", name).lower()) if w]


def sensitivity(column: Column) -> str | None:
    """ "credential", "personal" or None, from the column's name and type."""
    if column.type_category not in VALUE_CATEGORIES and column.type_name not in ("json", "jsonb"):
        return None
    words = name_words(column.name)
    pairs = set(itertools.pairwise(words))
    if CREDENTIAL_WORDS & set(words) or CREDENTIAL_PAIRS & pairs:
        return "credential"
    if PERSONAL_WORDS & set(words) or PERSONAL_PAIRS & pairs:
        return "personal"
    return None


def readable_columns(snap: Snapshot, oid: int, role: str, columns: list[Column]) -> list[Column]:
    """Of `columns`, those the role may SELECT: all with a table-level grant, else the
    columns granted to it."""
    facts = snap.facts
    grantees = facts.privileges_of.get(role, frozenset({role, PUBLIC}))
    granted = facts.grants.get(("table", oid), {})
    if any("SELECT" in granted.get(g, ()) for g in grantees):
        return columns
    by_column = facts.grants.get(("column", oid), {})
    allowed = {
        name[len("SELECT (") : -1]
        for g in grantees
        for name in by_column.get(g, ())
        if name.startswith("SELECT (")
    }
    return [c for c in columns if c.name in allowed]


@rule(
    "sensitive-columns-exposed",
    category=SECURITY,
    severity=HIGH,
    title="Credential or personal columns readable by API roles without RLS",
    options=ApiOptions,
)
def sensitive_columns_exposed(snap: Snapshot, opts: ApiOptions) -> Iterator[Draft]:
    """An API role can read columns named like passwords, tokens, keys, card or
    identity numbers, or personal data, of every row.

    Reported for tables (and materialized views) without row-level security that an
    API role can read (schema USAGE and SELECT on the table or on those columns),
    with text-like columns whose names contain such
    words (`password_hash`, `resetToken`, `api_key`, `ssn`, `email`, `phone`,
    `date_of_birth`; flags and timestamps such as `email_verified` are not). High
    for credentials, medium for personal data only.

    ## Why it breaks
    PostgREST and Supabase serve every column an API role may select: a password
    hash, a session or reset token or an API key read through the API lets the
    reader sign in as, or impersonate, each user (hashes of weak passwords are
    cracked offline), and personal data of every user is a reportable breach. No
    row-level security means every row, not only the caller's.

    ## Fix
    Enable row-level security with policies that limit rows to their owner, and
    take the columns out of the API's reach: revoke SELECT on the table and grant
    it on the harmless columns only, or move credentials to a table (or schema)
    the API roles cannot read. No SQL is generated.
    """
    roles = api_roles(snap, opts)
    if not roles:
        return
    facts = snap.facts
    for relation in snap.tables:
        if relation.rls_enabled:
            continue
        columns = [c for c in snap.columns_by_table.get(relation.oid, []) if sensitivity(c)]
        if not columns:
            continue
        schema = facts.schema_by_name.get(relation.schema)
        exposed: dict[str, list[str]] = {}
        for role in roles:
            if schema is not None and not facts.holds(
                role, "schema", schema.oid, schema.owner, "USAGE"
            ):
                continue
            for column in readable_columns(snap, relation.oid, role, columns):
                exposed.setdefault(column.name, []).append(role)
        if not exposed:
            continue
        kinds = {sensitivity(c) for c in columns if c.name in exposed}
        names = sorted(exposed)
        readers = sorted({role for holders in exposed.values() for role in holders})
        yield finding(
            relation,
            f"{relation.qualname} lets {', '.join(readers)} read {', '.join(names)} of every row",
            evidence={"columns": exposed, "row_level_security": False},
            severity=None if "credential" in kinds else MEDIUM,
        )


# --- the owner and the policies ---------------------------------------------------------


@dataclass(frozen=True)
class ForceOptions:
    app_roles: str = option(
        "", "comma-separated roles the application connects as (empty: judged from grants)"
    )


@rule(
    "rls-not-forced",
    category=SECURITY,
    severity=HIGH,
    title="Policies bypassed by the table owner the application connects as",
    options=ForceOptions,
)
def rls_not_forced(snap: Snapshot, opts: ForceOptions) -> Iterator[Draft]:
    """A table's policies never apply to its owner, and the owner is the role the
    application uses.

    Reported for tables with row-level security and policies, not FORCEd, whose owner
    can log in and is neither a superuser nor BYPASSRLS (for those, FORCE changes
    nothing): when the owner is one of `app_roles`, or, without that option, when no
    other role that the policies could apply to holds any privilege on the table, so
    that only the owner uses it.

    ## Why it breaks
    Row-level security exempts the table's owner unless the table is FORCEd. An
    application that connects as the role that ran its migrations, the default of
    most frameworks and hosted databases, is that owner: every policy is skipped
    for every query it runs, and the isolation the policies describe exists only for
    roles nobody uses. Tests written as the same role pass, so nothing shows it.

    ## Fix
    Connect the application as a role that does not own the tables (grant it the
    privileges it needs), or `ALTER TABLE ... FORCE ROW LEVEL SECURITY` so that the
    policies apply to the owner too; then migrations and jobs that must see every
    row need a BYPASSRLS role. The rollback is `NO FORCE ROW LEVEL SECURITY`.
    """
    facts = snap.facts
    app_roles = set(names_in(opts.app_roles))
    for table_oid, coverage in facts.rls_coverage.items():
        table = snap.table_by_oid[table_oid]
        owner = facts.role_by_name.get(table.owner)
        if table.rls_forced or owner is None or not facts.policies_by_table.get(table_oid):
            continue
        if not owner.login or bypasses_rls(owner):
            continue
        others = sorted(
            {g for c in coverage.commands for g in c.granted_to if not rls_exempt(snap, g)}
        )
        if app_roles:
            if owner.name not in app_roles:
                continue
            why = f"the application connects as {owner.name} (app_roles)"
        elif others:
            continue
        else:
            why = "no other role was granted anything on it"
        yield finding(
            table,
            f"The policies of {table.qualname} do not apply to its owner {owner.name}, and {why}",
            evidence={"owner": owner.name, "other_grantees": others, "forced": False},
            fix=fixes.force_rls(table),
        )


def tables_named_in(function: Function, tables: list[Table]) -> list[Table]:
    """Tables the function's body reads (FROM/JOIN name, qualified or not): a guess from
    the text, since bodies are not parsed."""
    source = function.source or ""
    found = []
    for table in tables:
        names = [re.escape(table.name), re.escape(f"{table.schema}.{table.name}")]
        quoted = [re.escape(fixes.text(fixes.name_of(table.schema, table.name)))]
        pattern = r"\b(?:from|join)\s+(?:" + "|".join(names + quoted) + r")(?![\w.])"
        if re.search(pattern, source, re.I):
            found.append(table)
    return found


def policy_edges(snap: Snapshot) -> dict[int, list[tuple[int, Policy, str | None]]]:
    """table -> (table its policies read, policy, through which function) for tables with
    row-level security: reading the other table applies that table's policies in turn
    for any role they apply to. A SECURITY DEFINER function whose owner is exempt from
    the policies (the usual way out of recursion) stops the chain."""
    facts = snap.facts
    rls_tables = [t for t in snap.tables if t.rls_enabled]
    edges: dict[int, list[tuple[int, Policy, str | None]]] = {}
    for policy in snap.policies:
        table = snap.table_by_oid.get(policy.table_oid)
        if table is None or not table.rls_enabled:
            continue
        for expression in facts.policy_expressions.get(policy.oid, (None, None)):
            if expression is None:
                continue
            for oid in expression.reads:
                target = snap.table_by_oid.get(oid)
                if target is not None and target.rls_enabled:
                    edges.setdefault(table.oid, []).append((oid, policy, None))
            for call in expression.calls:
                function = facts.function_by_oid.get(call.function_oid)
                if function is None or not function.user_defined:
                    continue
                for target in tables_named_in(function, rls_tables):
                    if function.security_definer and exempt_from_rls(snap, function.owner, target):
                        continue
                    edges.setdefault(table.oid, []).append(
                        (target.oid, policy, function_name(function))
                    )
    return edges


@rule(
    "rls-policy-recursion",
    category=SECURITY,
    severity=HIGH,
    title="Policy that queries its own table",
)
def rls_policy_recursion(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """A policy reads its own table, directly or through the policies of the tables it
    reads: every query it applies to fails.

    A sub-select in a policy is read from the node tree, so that path is certain. A
    function called by a policy is followed when its body names a table with
    row-level security after FROM or JOIN (a guess from the text), unless it is a
    SECURITY DEFINER function whose owner the policies do not apply to.

    ## Why it breaks
    Reading a table inside a policy applies that table's policies too. When the
    chain comes back to the first table, PostgreSQL stops while planning the query
    with "infinite recursion detected in policy for relation", for every query by a
    role the policies apply to (the owner is exempt, so the author's own tests
    pass). Through a function, the recursion happens while executing instead, at
    the first row: "stack depth limit exceeded". The classic case is a membership
    table whose policy checks membership by reading itself.

    ## Fix
    Move the lookup into a SECURITY DEFINER function owned by the table's owner (and
    with a fixed search_path), which reads the table without its policies, and call
    that from the policy; or read the membership from a table without row-level
    security, or from the session (`auth.uid()`, a JWT claim). No SQL is generated.
    """
    edges = policy_edges(snap)
    for start, outgoing in edges.items():
        for first, policy, via in outgoing:
            path = cycle_back(edges, first, start)
            if path is None:
                continue
            names = [snap.table_by_oid[oid].qualname for oid in [start, *path]]
            table = snap.table_by_oid[start]
            how = f"through {via}" if via else "directly"
            yield finding(
                policy,
                f"Policy {policy.name} on {table.qualname} reads {' -> '.join(names[1:])}"
                f" {how}, which comes back to {table.qualname}: queries fail with"
                f" {'stack depth limit exceeded' if via else 'infinite recursion detected'}",
                evidence={"cycle": names, "through_function": via},
            )


def cycle_back(
    edges: dict[int, list[tuple[int, Policy, str | None]]], first: int, start: int
) -> list[int] | None:
    """A path from `first` back to `start` (inclusive of both), or None."""
    if first == start:
        return [start]
    seen = {first}
    stack = [(first, [first])]
    while stack:
        node, path = stack.pop()
        for target, _, _ in edges.get(node, []):
            if target == start:
                return [*path, start]
            if target not in seen:
                seen.add(target)
                stack.append((target, [*path, target]))
    return None
