"""Row-level security rules: whether tables use it, what their policies allow and cost,
whom they apply to, and views that read around them.

The policies' expressions are read from their node trees (Facts.policy_expressions),
so what a policy calls or reads is known without deparsing it; its text (when it
could be read without waiting for a lock) is used for messages and fixes.
"""

from __future__ import annotations

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
from pgvitals.rules.security import (
    COMMANDS,
    ApiOptions,
    ApiSchemaOptions,
    api_roles,
    api_schemas,
    bypasses_rls,
    bypasses_rls_named,
    exempt_from_rls,
    function_name,
    names_in,
    rls_exempt,
)
from pgvitals.snapshot.model import Function, Policy, Snapshot, Table, View
from pgvitals.snapshot.nodes import (
    BadTree,
    Call,
    Expression,
    column_numbers,
    or_branches,
    parse,
)
from pgvitals.snapshot.profile import unquote_identifier as identifier

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
    not a cheap system function, no argument reads a column, not inside a sub-select
    that reads no column of the row (`(SELECT f())`, `IN (SELECT f())`), and not an
    argument of another such call (that one is reported instead)."""
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
    on_library_tables=True,
    category=SECURITY,
    severity=MEDIUM,
    title="Policy calls a function for every row",
    options=PerRowOptions,
)
def rls_per_row_function(snap: Snapshot, opts: PerRowOptions) -> Iterator[Draft]:
    """A policy calls a function whose value is the same for every row, once per row.

    Reported for calls of STABLE or VOLATILE functions (`auth.uid()`,
    `current_setting(...)`, your own helpers) whose arguments read no column of the
    row and that are not inside a sub-select that reads no column of the row either
    (`(SELECT auth.uid())`, `team_id IN (SELECT my_teams())`: PostgreSQL runs those
    once per query). Low on tables under `small_table_rows` rows (in a review, where the
    tables are empty, their size is unknown: medium).

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
    name, command and roles; the rollback restores the original expressions. The
    sub-select takes in what around the call is the same for every row too, a cast and
    a split of its value (`(SELECT regexp_split_to_array(current_setting('app.groups'),
    ','))`), and where it compares with `= ANY (...)` it is cast back to its array type
    (`ANY ((SELECT f())::int[])`): without it, ANY would read the sub-select's rows, not
    the array's elements. A STABLE function returns the same value throughout a
    query, so what the policy allows does not change. A VOLATILE one (the default for
    a function declared without a volatility) may not: check that it gives one answer
    per query, and declare it STABLE if so.
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
        # a review's tables are empty: the size they will reach is unknown, not small
        rows = None if snap.collection.reviewed else facts.rows(table)
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
            severity=LOW if rows is not None and rows < opts.small_table_rows else None,
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
    on_library_tables=True,
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


# --- row-level security on and off -----------------------------------------------------

NO_POLICY_YET = "write the policies first: with none, only the owner and BYPASSRLS roles see rows"


def api_access(
    snap: Snapshot, table: Table, roles: list[str], usage: dict[tuple[str, str], bool]
) -> dict[str, list[str]]:
    """Per API role that can reach the table (schema USAGE and a privilege): the
    commands it may run. `usage` caches USAGE per (role, schema) across tables."""
    facts = snap.facts
    schema = facts.schema_by_name.get(table.schema)
    access = {}
    for role in roles:
        key = (role, table.schema)
        if key not in usage:
            usage[key] = schema is None or facts.holds(
                role, "schema", schema.oid, schema.owner, "USAGE"
            )
        if not usage[key]:
            continue
        commands = [c for c in COMMANDS if facts.holds(role, "table", table.oid, table.owner, c)]
        if commands:
            access[role] = commands
    return access


def shut_out_by_rls(snap: Snapshot, table: Table, api: list[str]) -> list[str]:
    """The roles besides the API roles that were granted a privilege on the table (or
    on its columns) by name and would see no row once row-level security is on with
    no policy: not its owner, a superuser or a BYPASSRLS role. (A grant to PUBLIC
    names nobody: closing a table granted to everyone is what the finding asks.)"""
    roles = snap.facts.role_by_name
    return [name for name in subject_grantees(snap, table) if name in roles and name not in api]


def subject_grantees(snap: Snapshot, table: Table) -> list[str]:
    """The grantees of a privilege on the table (or its columns) that policies would
    restrict: PUBLIC and roles other than its owner, superusers and BYPASSRLS roles."""
    facts = snap.facts
    granted = {
        *facts.grants.get(("table", table.oid), {}),
        *facts.grants.get(("column", table.oid), {}),
    }
    return sorted(
        name for name in granted - {table.owner} if not bypasses_rls_named(facts.role_by_name, name)
    )


@rule(
    "rls-disabled",
    on_library_tables=True,
    category=SECURITY,
    severity=INFO,
    title="Table without row-level security",
    options=ApiOptions,
)
def rls_disabled(snap: Snapshot, opts: ApiOptions) -> Iterator[Draft]:
    """A table has row-level security off where the context says it should be on.

    High for a table that an API role (`anon`, `authenticated`, ...) can reach
    (USAGE on its schema and a privilege on it, directly, through a role it
    inherits or through PUBLIC). In a schema where other tables use row-level
    security, a table no API role reaches is medium when other roles that policies
    would apply to were granted a privilege on it (or PUBLIC was, listed as
    `grantees`), and low when only its owner and roles that bypass row-level
    security may use it (Graphile Worker's `migrations`): policies would restrict
    nobody who can reach it today. A migration tool's history table (sqlx's
    `_sqlx_migrations`, ...) that no API role reaches is low whoever was granted it:
    it holds no tenant's rows for a policy to tell apart, and the application role
    that may write it (Windmill grants `windmill_user` ALL ON ALL TABLES, the history
    included) is a matter of grants. Otherwise one informational finding per schema:
    a database that serves no API and uses RLS nowhere is not flagged table by
    table.

    In `pgvitals review` the database holds only the roles and grants the files (and
    `--base`) make, so "no API role reaches them" would be said of roles that do not
    exist there, while a platform may grant them every new table outside the files
    (Supabase's default privileges). The per-schema note is then given only where the
    files use row-level security or policies, or grant an API role some table.

    ## Why it breaks
    Without row-level security every role with a privilege on the table reads and
    writes every row: an API role granted SELECT serves the whole table to anyone
    holding the public API key (PostgREST and Supabase expose every table the role
    may read), and a table forgotten in a schema that otherwise isolates tenants
    with policies leaks all tenants' rows through any join or view that reaches it.
    Partitions have their own setting: a partition that a role was granted
    privileges on directly is not protected by its parent's policies when queried
    by name (reported when the parent uses row-level security; otherwise the
    parent's finding covers it).

    ## Fix
    Write the policies first, then `ALTER TABLE ... ENABLE ROW LEVEL SECURITY`.
    With RLS on and no policy, every role but the owner and BYPASSRLS roles sees no
    rows and cannot write any, so enabling it alone breaks an application that
    uses the table. Or revoke the API roles' privileges on a table they must not
    reach. The rollback disables it again. Where roles other than the API roles
    were granted privileges on the table (the application's own roles, listed as
    `shut_out`), fix.sql has no statement: enabling it there before the policies
    exist is an outage, not a fix.
    """
    roles = api_roles(snap, opts)
    facts = snap.facts
    rls_schemas = {t.schema for t in snap.tables if t.is_regular and t.rls_enabled}
    quiet: dict[str, list[str]] = {}
    usage: dict[tuple[str, str], bool] = {}
    reached = False  # an API role can reach some table without RLS
    for table in snap.tables:
        if not table.is_regular or table.rls_enabled:
            continue
        access = api_access(snap, table, roles, usage)
        reached = reached or bool(access)
        granted = (("table", table.oid) in facts.grants) or (("column", table.oid) in facts.grants)
        if table.is_partition:
            parent = snap.table_by_oid.get(table.parent_oid or 0)
            # a partition matters on its own only where its parent's policies protect
            # the rows and the partition can be queried by name
            if parent is None or not parent.rls_enabled or not (access or granted):
                continue
        siblings = table.schema in rls_schemas
        if not access and not siblings:
            quiet.setdefault(table.schema, []).append(table.name)
            continue
        reasons = []
        if access:
            reasons.append(f"{', '.join(access)} can reach it")
        if siblings:
            reasons.append(f"other tables of {table.schema} use row-level security")
        evidence: dict[str, object] = {"api_access": access, "schema_uses_rls": siblings}
        severity = HIGH
        if not access:
            grantees = subject_grantees(snap, table)
            evidence["grantees"] = grantees
            # which rows a policy would hide matters only for someone who can reach them
            severity = MEDIUM if grantees else LOW
            reasons.append(
                f"{', '.join(grantees)} may use it" if grantees else "only its owner may use it"
            )
            tool = facts.migration_tables.get(table.oid)
            if tool is not None:
                # a migration tool's history holds no tenant's rows: no policy has rows to
                # tell apart (sqlx makes _sqlx_migrations before Windmill's first file
                # grants windmill_user ALL ON ALL TABLES); who may write it is a grant
                evidence["migration_tool"] = tool
                severity = LOW
                reasons.append(f"it holds only the migration history of {tool}")
        shut_out = shut_out_by_rls(snap, table, roles)
        if shut_out:
            # Windmill's windmill_user reads usr and workspace: RLS without a policy
            # would show it no row, so the ENABLE alone is no fix but an outage
            evidence["shut_out"] = shut_out
        yield finding(
            table,
            f"{table.qualname} has no row-level security: {' and '.join(reasons)}",
            evidence=evidence,
            fix=None if shut_out else fixes.enable_rls(table, NO_POLICY_YET),
            severity=severity,
        )
    if snap.collection.reviewed and not (rls_schemas or snap.policies or reached):
        return
    for schema_name, names in quiet.items():
        schema = facts.schema_by_name.get(schema_name)
        if schema is None:
            continue
        yield finding(
            schema,
            f"No table of schema {schema_name} uses row-level security"
            f" ({len(names):,} {'table' if len(names) == 1 else 'tables'});"
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
    was granted anything, or only roles that bypass RLS anyway (a superuser, or a
    BYPASSRLS role such as Supabase's service_role: a deliberate lock-down, or an
    unfinished one), or when a
    SECURITY DEFINER function whose owner is exempt from its policies reads it
    (`read_by_definer_functions`): the application reaches the rows through that
    function, the Supabase way to keep a lookup table private (the slack-clone
    example's `role_permissions`, read only by `authorize()`), where the grants come
    from default privileges every table gets rather than from intent.

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
    closed = [
        snap.table_by_oid[oid]
        for oid in snap.facts.rls_coverage
        if not snap.facts.policies_by_table.get(oid)
    ]
    readers = definer_readers(snap, closed)
    for table in closed:
        coverage = snap.facts.rls_coverage[table.oid]
        granted = sorted({g for c in coverage.commands for g in c.granted_to})
        # a superuser or BYPASSRLS grantee (Supabase's service_role) still sees every row
        shut_out = [name for name in granted if not exempt_from_rls(snap, name, table)]
        definers = readers.get(table.oid, [])
        yield finding(
            table,
            f"{table.qualname} has row-level security enabled and no policy: only its owner"
            " and roles that bypass RLS see or change rows"
            + (f" ({', '.join(shut_out)} get nothing)" if shut_out else "")
            + (f"; {', '.join(definers)} read it as their owner" if definers else ""),
            evidence={
                "granted_to": granted,
                "shut_out": shut_out,
                "owner": table.owner,
                "forced": table.rls_forced,
                "read_by_definer_functions": definers,
            },
            severity=None if shut_out and not definers else LOW,
        )


def definer_readers(snap: Snapshot, tables: list[Table]) -> dict[int, list[str]]:
    """Per table: the SECURITY DEFINER functions whose body reads it (as tables_named_in
    guesses) and whose owner its policies do not apply to, so the rows reach callers
    through them."""
    named: dict[tuple[str | None, str], list[Table]] = {}
    for table in tables:
        named.setdefault((table.schema, table.name), []).append(table)
        named.setdefault((None, table.name), []).append(table)
    found: dict[int, list[str]] = {}
    if not named:
        return found
    roles = snap.facts.role_by_name
    for function in snap.functions:
        if not (function.user_defined and function.security_definer):
            continue
        for table in tables_named_in(function, named):
            exempt = function.owner == table.owner and not table.rls_forced
            if exempt or bypasses_rls_named(roles, function.owner):
                found.setdefault(table.oid, []).append(function_name(function))
    return {oid: sorted(names) for oid, names in found.items()}


@rule(
    "policy-without-rls",
    on_library_tables=True,
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
    on_library_tables=True,
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


@rule(
    "rls-policy-always-true",
    on_library_tables=True,
    category=SECURITY,
    severity=HIGH,
    title="Policy that is always true",
)
def rls_policy_always_true(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """A permissive policy is `USING (true)` or `WITH CHECK (true)`, for roles that do
    not bypass row-level security anyway.

    High when it opens UPDATE or DELETE of every row (`USING (true)`) or lets UPDATE
    write any row (`WITH CHECK (true)`), and when it lets INSERT write any row into a
    table that other tables' policies read to decide access (a membership table,
    `decides_access_to` in the evidence); medium when the widest it opens is INSERT of
    any row elsewhere; low for reading every row (`FOR SELECT USING (true)`), which is
    right for public reference data and a leak for anything that belongs to a user or
    a tenant. A `FOR ALL` policy without WITH CHECK uses its USING for writes too.
    A command is left out where a RESTRICTIVE policy that applies to the same roles ties
    it to the caller (`tenant_id = (SELECT id FROM tenants WHERE db_user =
    current_user)`; `narrowed_by` in the evidence when other commands remain): the
    permissive `true` is then only the grant that restrictive policies need, and the
    restrictive one decides which rows each caller gets.

    ## Why it breaks
    Permissive policies are OR-ed: one that is always true makes every other policy
    for that role and command irrelevant. A write policy written as `true` "to get
    it working" lets any signed-in user (or anyone, for `anon` or PUBLIC) update or
    delete other users' rows, or insert rows in another tenant's name, through the
    API; a read policy written as `true` shows every tenant's rows. Where other
    tables' policies grant access by a row of this table (`team_id IN (SELECT team_id
    FROM users_on_team WHERE user_id = auth.uid())`, directly or in a function), an
    INSERT of any row is a grant of that access: any signed-in user adds themselves
    to any team and reads its rows (found on Midday's `users_on_team`).

    ## Fix
    Replace `true` with the condition that ties the row to the caller
    (`user_id = (SELECT auth.uid())`, `tenant_id = ...`), or drop the policy and
    revoke the command from roles that must not use it. No SQL is generated.
    """
    facts = snap.facts
    roles = facts.role_by_name
    deciding = access_deciders(snap)
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
            opened += [c for c in ("SELECT", "UPDATE", "DELETE") if policy.applies_to(c)]
        if check_true:
            opened += [f"{c} (WITH CHECK)" for c in ("INSERT", "UPDATE") if policy.applies_to(c)]
        narrowed = caller_restrictions(snap, policy, subject, opened)
        opened = [c for c in opened if c not in narrowed]
        if not opened:
            continue
        decides = sorted(t.qualname for t in deciding.get(table.oid, []))
        inserts = "INSERT (WITH CHECK)" in opened
        severity = None
        if not {"UPDATE", "DELETE", "UPDATE (WITH CHECK)"} & set(opened):
            severity = (None if decides else MEDIUM) if inserts else LOW
        evidence: dict[str, object] = {
            "commands": opened,
            "roles": subject,
            "command": policy.command,
        }
        if decides:
            evidence["decides_access_to"] = decides
        if narrowed:
            evidence["narrowed_by"] = narrowed
        yield finding(
            policy,
            f"Policy {policy.name} on {table.qualname} is always true for"
            f" {', '.join(opened)} ({', '.join(subject)})"
            + (
                f"; the policies of {', '.join(decides)} read it to decide access, so a row"
                " written into it grants that access"
                if decides and (inserts or "UPDATE (WITH CHECK)" in opened)
                else ""
            ),
            evidence=evidence,
            severity=severity,
        )


def caller_restrictions(
    snap: Snapshot, policy: Policy, subject: list[str], opened: list[str]
) -> dict[str, list[str]]:
    """Of the commands an always-true permissive policy opens (`opened`, as
    rls_policy_always_true names them), those that a RESTRICTIVE policy of the same table
    narrows for every role in `subject` by a condition that depends on the caller
    (`facts.depends_on_caller`): a command to the names of those policies.

    Restrictive policies are AND-ed with the permissive ones and grant nothing alone, so
    a permissive `USING (true)` beside a restrictive `tenant_id = (SELECT id FROM tenants
    WHERE db_user = current_user)` is the way to write "each tenant sees its own rows"
    (Logto's `<table>_modification` beside `<table>_tenant_id`): the restrictive one
    decides. A restrictive condition that is the same for every caller (`deleted_at IS
    NULL`) narrows nothing between callers and is not counted."""
    facts = snap.facts
    found: dict[str, list[str]] = {}
    for other in facts.policies_by_table.get(policy.table_oid, []):
        if other.permissive or not all(policy_covers(snap, other, r) for r in subject):
            continue
        using = other.using_tree
        # without WITH CHECK, an ALL or UPDATE policy checks new rows with its USING
        check = other.with_check_tree or (using if other.command in ("ALL", "UPDATE") else None)
        for command in opened:
            verb, checked, _ = command.partition(" (WITH CHECK)")
            tree = check if checked else using
            if other.applies_to(verb) and tree is not None and tree_depends_on_caller(snap, tree):
                found.setdefault(command, []).append(other.name)
    return found


def policy_covers(snap: Snapshot, policy: Policy, role: str) -> bool:
    """Does the policy apply to `role` ("public": every role): a policy applies to the
    roles whose privileges include one it names (PostgreSQL's has_privs_of_role)."""
    if "public" in policy.roles:
        return True
    if role == "public":
        return False
    held = snap.facts.privileges_of.get(role, frozenset({role}))
    return bool(held & set(policy.roles))


def tree_depends_on_caller(snap: Snapshot, tree: str) -> bool:
    try:
        return snap.facts.depends_on_caller(parse(tree))
    except BadTree:
        return False  # unreadable on this version: no claim that it narrows


def access_deciders(snap: Snapshot) -> dict[int, list[Table]]:
    """Per table: the other tables with row-level security whose policies read it,
    in a sub-select, through a view, or in the body of a function they call (a name
    after FROM or JOIN, as tables_named_in guesses), SECURITY DEFINER or not: its rows
    decide what those policies let through."""
    facts = snap.facts
    views = {view.oid: view for view in snap.views}
    named: dict[tuple[str | None, str], list[Table]] = {}
    for table in snap.tables:
        named.setdefault((table.schema, table.name), []).append(table)
        named.setdefault((None, table.name), []).append(table)
    bodies: dict[int, list[Table]] = {}
    found: dict[int, dict[int, Table]] = {}
    for policy in snap.policies:
        reader = snap.table_by_oid.get(policy.table_oid)
        if reader is None or not reader.rls_enabled:
            continue
        read: set[int] = set()
        for expression in facts.policy_expressions.get(policy.oid, (None, None)):
            if expression is None:
                continue
            read.update(expression.reads)
            for call in expression.calls:
                function = facts.function_by_oid.get(call.function_oid)
                if function is None or not function.user_defined:
                    continue
                if function.oid not in bodies:
                    bodies[function.oid] = tables_named_in(function, named)
                read.update(t.oid for t in bodies[function.oid])
        pending = [oid for oid in read if oid in views]
        while pending:
            view = views[pending.pop()]
            pending += [oid for oid in view.reads if oid in views and oid not in read]
            read.update(view.reads)
        for oid in read - {reader.oid}:
            found.setdefault(oid, {})[reader.oid] = reader
    return {oid: list(readers.values()) for oid, readers in found.items()}


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
        if self.nulled:
            return "NULL: no row matches"
        if self.cast:
            return (
                "NULL (no row matches) until the session has set it once; after that, even"
                " after SET LOCAL ended, it reads '' and the cast fails for every query"
            )
        return "NULL until the session has set it once, then '': rows whose value is '' match"

    @property
    def safe(self) -> bool:
        """Unset, it matches no row and raises nothing: missing_ok and '' as NULL."""
        return self.missing_ok and self.nulled

    @property
    def errors(self) -> bool:
        """Unset (or '') makes every query fail."""
        return not self.missing_ok or (self.cast and not self.nulled)


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
    on_library_tables=True,
    category=SECURITY,
    severity=MEDIUM,
    title="Policy depends on a session variable",
)
def rls_session_variable(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """A policy reads `current_setting('...')`, directly or through a function of
    yours, in a way that breaks or leaks when the session did not set it.

    Medium when an unset variable makes every query fail (`current_setting(name)`
    without `missing_ok`, or a cast of its text to uuid or integer without
    `nullif(..., '')`); low when an unset variable is compared as text, so that ''
    matches rows whose value is ''. A read with `missing_ok` whose '' becomes NULL
    (`nullif(current_setting('app.tenant', true), '')`) fails closed and is not
    reported, and neither are a platform's own helpers (Supabase's `auth.uid()`,
    set by PostgREST for each request).

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
        reads = [read for read in setting_reads(snap, policy) if not read.safe]
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
            severity=None if any(r.errors for r in reads) else LOW,
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
    on_library_tables=True,
    category=SECURITY,
    severity=HIGH,
    title="View reads row-level-secured tables with its owner's rights",
    options=ApiSchemaOptions,
)
def view_bypasses_rls(snap: Snapshot, opts: ApiSchemaOptions) -> Iterator[Draft]:
    """A view (or materialized view) shows rows of a table with row-level security as
    its owner sees them, to roles the policies were meant to restrict.

    Reported when the view reads, directly or through other views, a table with
    row-level security whose policies do not apply to the view's owner (the table's
    owner when the table is not FORCEd, a superuser, or a BYPASSRLS role), the view
    is not `security_invoker` (PostgreSQL 15+; a materialized view never is), and
    roles other than its owner can read it: high when API roles can and the view is
    in a schema the API serves (`api_schemas`), medium when other roles can, low
    when only API roles can and the API does not serve its schema (Supabase's
    `private` schema): a request cannot select from it, only SQL that already runs
    as that role (a policy, a function, another view) reads it, and that SQL decides
    what reaches the caller. Policies that read the view are listed
    (`read_by_policies`): a view that breaks a policy's recursion is the usual case.
    One step lower (high to medium, medium to low) where the WHERE of the view's own
    query tells who the caller is (`WHERE user_id = auth.uid()`, `current_setting()`,
    `current_user`; `filters_by_caller`): the view may keep only the caller's rows, as
    the policies would, which only reading the whole condition tells (`WHERE
    auth.uid() IS NOT NULL` keeps every row for anyone signed in).

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
    served = api_schemas(snap, opts)
    invoker_views = snap.server.version_num >= 150000
    policies_reading = policies_by_relation(snap)
    for view in snap.views:
        tables = bypassed_tables(snap, view)
        if not tables:
            continue
        api, others = view_readers(snap, view, roles)
        if not api and not others:
            continue
        names = [t.qualname for t in tables]
        readers = api + others
        message = (
            f"{'Materialized view' if view.kind == 'm' else 'View'} {view.qualname} shows"
            f" {', '.join(names)} as {view.owner} sees them (policies not applied) to"
            f" {', '.join(readers)}"
        )
        in_api = view.schema in served
        if api and not in_api and not others:
            # PostgREST serves only its db_schemas: the API roles read this view only
            # through SQL the schema's owner wrote, which decides what reaches them
            message += f"; the API does not serve {view.schema}: only SQL running as them reads it"
        severity = HIGH if api and in_api else MEDIUM if others else LOW
        evidence: dict[str, object] = {
            "tables": names,
            "owner": view.owner,
            "readers": readers,
            "api_schema": in_api,
            "read_by_policies": policies_reading.get(view.oid, []),
        }
        callers = snap.facts.caller_filters(view)
        if callers:
            evidence["filters_by_caller"] = callers
            severity = MEDIUM if severity == HIGH else LOW
            message += (
                f"; its WHERE calls {', '.join(callers)}: check that it keeps only the"
                " caller's rows"
            )
        yield finding(
            view,
            message,
            evidence=evidence,
            fix=fixes.set_security_invoker(view) if view.kind == "v" and invoker_views else None,
            severity=severity,
        )


def policies_by_relation(snap: Snapshot) -> dict[int, list[str]]:
    """Per relation that policies' sub-selects read: `table.policy` of each."""
    facts = snap.facts
    found: dict[int, list[str]] = {}
    for policy in snap.policies:
        name = f"{policy.schema}.{policy.table}.{policy.name}"
        for expression in facts.policy_expressions.get(policy.oid, (None, None)):
            for oid in expression.reads if expression is not None else ():
                if name not in found.setdefault(oid, []):
                    found[oid].append(name)
    return found


# --- the owner and the policies ---------------------------------------------------------


@dataclass(frozen=True)
class ForceOptions:
    app_roles: str = option(
        "", "comma-separated roles the application connects as (empty: judged from grants)"
    )


@rule(
    "rls-not-forced",
    on_library_tables=True,
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


# a relation named after FROM or JOIN: `name`, `schema.name`, either part quoted
READ_TARGET = re.compile(
    r'\b(?:from|join)\s+("(?:[^"]|"")+"|[A-Za-z_][\w$]*)(?:\s*\.\s*("(?:[^"]|"")+"|[A-Za-z_][\w$]*))?',
    re.I,
)


def tables_named_in(
    function: Function, tables: dict[tuple[str | None, str], list[Table]]
) -> list[Table]:
    """Tables the function's body reads (a name after FROM or JOIN, qualified or not):
    a guess from the text, since bodies are not parsed. `tables` maps (schema, name)
    and (None, name) to the tables with that name."""
    found: dict[int, Table] = {}
    for first, second in READ_TARGET.findall(function.source or ""):
        key = (identifier(first), identifier(second)) if second else (None, identifier(first))
        for table in tables.get(key, []):
            found[table.oid] = table
    return list(found.values())


def policy_edges(snap: Snapshot) -> dict[int, list[tuple[int, Policy, str | None]]]:
    """table -> (table its policies read, policy, through which function) for tables with
    row-level security: reading the other table applies that table's policies in turn
    for any role they apply to. A SECURITY DEFINER function whose owner is exempt from
    the policies (the usual way out of recursion) stops the chain."""
    facts = snap.facts
    rls_tables: dict[tuple[str | None, str], list[Table]] = {}
    for rls_table in snap.tables:
        if rls_table.rls_enabled:
            rls_tables.setdefault((rls_table.schema, rls_table.name), []).append(rls_table)
            rls_tables.setdefault((None, rls_table.name), []).append(rls_table)
    bodies: dict[int, list[Table]] = {}  # each function's body is read once
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
                if function.oid not in bodies:
                    bodies[function.oid] = tables_named_in(function, rls_tables)
                for target in bodies[function.oid]:
                    if function.security_definer and exempt_from_rls(snap, function.owner, target):
                        continue
                    edges.setdefault(table.oid, []).append(
                        (target.oid, policy, function_name(function))
                    )
    return edges


@rule(
    "rls-policy-recursion",
    on_library_tables=True,
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


@rule(
    "rls-policy-ignores-caller",
    on_library_tables=True,
    category=SECURITY,
    severity=HIGH,
    title="Write policy with a condition that does not depend on the caller",
    options=ApiOptions,
)
def rls_policy_ignores_caller(snap: Snapshot, opts: ApiOptions) -> Iterator[Draft]:
    """A policy for UPDATE or DELETE (or ALL) lets a role change rows whatever role or
    user it is: its USING, or one branch of an OR in it, reads only the row's own
    columns and constants (`owner_id = auth.uid() OR team_code IS NOT NULL`).

    A branch depends on the caller where it reads CURRENT_USER or a setting
    (`auth.uid()`, `current_setting(...)`), asks about the caller's roles or privileges
    (`pg_has_role`), calls a function of the database's own (which may), or looks
    something up in a sub-select (a membership); any other branch keeps or lets through
    the same rows for every caller. Reported for permissive policies of tables with
    row-level security, for the roles they apply to that are granted UPDATE or DELETE
    on the table and are subject to its policies: high where one is an API role, medium
    otherwise. A literal `true` is rls-policy-always-true's. A SELECT policy is left out:
    a branch that shows every caller the public rows (`OR is_public`) is a common
    design; changing them is not.

    ## Why it breaks
    Permissive policies and the branches of an OR are alternatives: a row passes when
    any one lets it through. A branch written to share rows (`team_code IS NOT NULL`:
    teams that others may join) then lets every signed-in user UPDATE or DELETE each of
    those rows, and without WITH CHECK the USING also decides what an UPDATE may write.

    ## Fix
    Split the policy by command: keep the shared branch in a SELECT policy, and give
    UPDATE and DELETE a condition that ties the row to the caller (`owner_id =
    (SELECT auth.uid())`, membership through a SECURITY DEFINER function). No SQL is
    generated: the condition is the application's.
    """
    facts = snap.facts
    api = set(api_roles(snap, opts))
    for policy in snap.policies:
        table = snap.table_by_oid.get(policy.table_oid)
        if table is None or not table.rls_enabled or not policy.permissive:
            continue
        commands = [c for c in ("UPDATE", "DELETE") if policy.applies_to(c)]
        if not commands or policy.using_tree is None:
            continue
        using = facts.policy_expressions.get(policy.oid, (None, None))[0]
        if using is None or using.always_true:
            continue
        try:
            branches = or_branches(policy.using_tree)
        except BadTree:
            continue
        open_branches = [b for b in branches if not facts.depends_on_caller(b)]
        if not open_branches:
            continue
        subject = policy_users(snap, policy, table, commands)
        if not subject:
            continue
        by_position = {c.position: c.name for c in snap.columns_by_table.get(table.oid, [])}
        columns = sorted(
            {by_position[n] for b in open_branches for n in column_numbers(b) if n in by_position}
        )
        reads = f"only {', '.join(columns)}" if columns else "no column"
        whole = len(branches) == 1
        yield finding(
            policy,
            f"Policy {policy.name} on {table.qualname} lets {', '.join(subject)}"
            f" {' and '.join(commands)} rows whatever the caller:"
            f" {'its condition' if whole else 'a branch of its OR'} reads {reads} of the row,"
            " nothing of who is asking",
            evidence={
                "roles": subject,
                "commands": commands,
                "caller_free_columns": columns,
                "whole_condition": whole,
                "using": policy.using,
            },
            severity=HIGH if set(subject) & api else MEDIUM,
        )


@rule(
    "rls-policy-unreadable-relation",
    on_library_tables=True,
    category=SECURITY,
    severity=HIGH,
    title="Policy that reads a relation its roles may not read",
    options=ApiOptions,
)
def rls_policy_unreadable_relation(snap: Snapshot, opts: ApiOptions) -> Iterator[Draft]:
    """A policy's sub-select reads a table or view that roles it applies to may not
    SELECT: every query of theirs that the policy applies to fails.

    Reported per policy for the roles it applies to (PUBLIC: the roles granted the
    table) that may run a command it applies to on its table, are subject to its
    policies (not the owner of a table that is not FORCEd, a superuser or a BYPASSRLS
    role), and lack SELECT on a relation that the policy's USING or WITH CHECK reads
    in a sub-select (or USAGE on its schema). High for an API role or a role that can
    log in; medium for others. A relation read inside a function the policy calls is
    not judged: a SECURITY DEFINER function reads it with its owner's privileges.

    ## Why it breaks
    A policy's expression runs with the privileges of the role that runs the query,
    sub-selects included, so a role granted the table but not the relation the policy
    looks up (a `members` table, a `teams` view) gets "permission denied for table
    members" on every SELECT, UPDATE or DELETE of the table, whatever the rows. The
    author, as the owner or a superuser, never sees it: the policies do not apply to
    them.

    ## Fix
    Grant SELECT on the relation to the role only where its own rows are safe to show
    (row-level security on it, or nothing secret); otherwise move the lookup into a
    SECURITY DEFINER function owned by the relation's owner, with a fixed
    search_path, and call that from the policy. No SQL is generated: which of the two
    is right depends on what the relation holds.
    """
    facts = snap.facts
    roles = facts.role_by_name
    api = set(api_roles(snap, opts))
    for policy in snap.policies:
        table = snap.table_by_oid.get(policy.table_oid)
        if table is None or not table.rls_enabled:
            continue
        reads = set()
        for expression in facts.policy_expressions.get(policy.oid, (None, None)):
            if expression is not None:
                reads |= expression.reads
        reads.discard(table.oid)  # reading its own table is rls-policy-recursion's
        if not reads:
            continue
        commands = [c for c in ("SELECT", "INSERT", "UPDATE", "DELETE") if policy.applies_to(c)]
        shut_out: dict[str, list[str]] = {}
        for role in policy_users(snap, policy, table, commands):
            for oid in sorted(reads):
                if facts.can_read_relation(role, oid) is False:
                    shut_out.setdefault(relation_name(snap, oid), []).append(role)
        if not shut_out:
            continue
        users = {r for names in shut_out.values() for r in names}
        logs_in = {r for r in users if r in api or ((found := roles.get(r)) and found.login)}
        what = "; ".join(f"{name} by {', '.join(who)}" for name, who in shut_out.items())
        yield finding(
            policy,
            f"Policy {policy.name} on {table.qualname} reads what its roles may not read"
            f" ({what}): their {'/'.join(commands)} on {table.qualname} fail with"
            " permission denied",
            evidence={
                "unreadable": {name: who for name, who in shut_out.items()},
                "commands": commands,
            },
            severity=HIGH if logs_in else MEDIUM,
        )


def policy_users(snap: Snapshot, policy: Policy, table: Table, commands: list[str]) -> list[str]:
    """The roles the policy applies to (PUBLIC: the roles granted the table) that run one
    of `commands` on its table and are subject to its policies: not a superuser or a
    BYPASSRLS role, nor the owner of a table that is not FORCEd."""
    facts = snap.facts
    named = subject_grantees(snap, table) if "public" in policy.roles else policy.roles
    return [
        role
        for role in sorted(set(named))
        if not bypasses_rls_named(facts.role_by_name, role)
        and (role != table.owner or table.rls_forced)
        and any(facts.can_reach_table(role, table.oid, c) for c in commands)
    ]


def relation_name(snap: Snapshot, oid: int) -> str:
    table = snap.table_by_oid.get(oid)
    if table is not None:
        return table.qualname
    view = snap.facts.view_by_oid.get(oid)
    return view.qualname if view is not None else str(oid)


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
