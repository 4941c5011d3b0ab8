"""Security rules: SECURITY DEFINER functions, extensions, roles, grants and sensitive
columns; row-level security is in rls.py, which shares the helpers defined here.

Who can reach what is decided from the collected privileges (Facts.holds): a grant
to the role, to a role it inherits from, or to PUBLIC, ownership, superuser, and the
pg_read_all_data / pg_write_all_data roles. "API roles" are the roles a REST or
GraphQL layer (PostgREST, Supabase, pg_graphql) runs requests as; their names are an
option of each rule that uses them.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from pgvitals import fixes
from pgvitals.fmt import plural
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
from pgvitals.snapshot.model import Extension, Function, Role, Snapshot, Table, View

COMMANDS = ("SELECT", "INSERT", "UPDATE", "DELETE")
DEFAULT_API_ROLES = "anon,authenticated,web_anon"


@dataclass(frozen=True)
class ApiOptions:
    api_roles: str = option(
        DEFAULT_API_ROLES,
        "comma-separated roles that API requests run as (PostgREST, Supabase); roles a"
        " NOINHERIT login role switches to (PostgREST's and PostGraphile's setup) count too",
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
    """The configured API roles that exist in this cluster, then the roles a login
    role switches to (switch_roles): the same pattern under other names."""
    configured = [name for name in names_in(opts.api_roles) if name in snap.facts.role_by_name]
    return configured + [name for name in switch_roles(snap) if name not in configured]


def switch_roles(snap: Snapshot) -> list[str]:
    """Roles that a login role was granted but does not inherit, which cannot log in
    and are subject to row-level security: the roles an API server switches to with
    SET ROLE for each request. PostgREST's and PostGraphile's documented setup (and
    Graphile Starter's `*_authenticator` NOINHERIT with `*_visitor`, Supabase's
    authenticator with anon and authenticated) connects as a NOINHERIT login role
    that holds no privileges itself, so whatever those roles may reach, a request
    may reach. A BYPASSRLS target (Supabase's service_role) is a server-side key,
    not a visitor: policies do not apply to it anyway."""
    roles = snap.facts.role_by_name
    found: set[str] = set()
    for role in snap.roles:
        if not role.login:
            continue
        for name in set(role.member_of) - set(role.inherits_from):
            target = roles.get(name)
            if target is not None and not target.login and not bypasses_rls(target):
                found.add(name)
    return sorted(found)


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


def bypasses_rls(role: Role) -> bool:
    return role.superuser or role.bypassrls


def rls_exempt(snap: Snapshot, grantee: str) -> bool:
    return bypasses_rls_named(snap.facts.role_by_name, grantee)


def bypasses_rls_named(roles: dict[str, Role], name: str) -> bool:
    role = roles.get(name)
    return role is not None and bypasses_rls(role)


def exempt_from_rls(snap: Snapshot, role: str, table: Table) -> bool:
    """Policies do not apply to this role on this table: a superuser or BYPASSRLS role,
    or the owner (or a role using the owner's privileges) of a table not FORCEd."""
    facts = snap.facts
    found = facts.role_by_name.get(role)
    if found is not None and bypasses_rls(found):
        return True
    return not table.rls_forced and table.owner in facts.privileges_of.get(role, {role})


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


def extension_schemas(
    snap: Snapshot, function: Function, writers: list[str], moved: list[Extension]
) -> list[str]:
    """The schemas, other than the function's own and pg_catalog, where extensions keep
    their functions, types and operators once fix.sql ran (`moved`: those that
    extension-in-public's fix moves out of public): a body that calls `hstore(...)` or
    declares a `cube` must still find it under its fixed search_path. Schemas `writers`
    may create in are left out."""
    found = []
    for extension in snap.extensions:
        if extension.name == "plpgsql":
            continue
        schema = fixes.EXTENSIONS_SCHEMA if extension in moved else extension.schema
        if schema not in (function.schema, "pg_catalog", *found):
            found.append(schema)
    exposed = set(writable_schemas(snap, found, writers))
    return sorted(schema for schema in found if schema not in exposed)


def binds_names_when_created(function: Function) -> bool:
    """An SQL function whose body names nothing that is looked up when it runs: a
    SQL-standard body (`RETURN ...`, `BEGIN ATOMIC ... END`, PostgreSQL 14+) is parsed
    when the function is created and keeps the objects it found then, and its prosrc is
    empty (so is the body of an empty function, which names nothing)."""
    return (
        function.language == "sql" and function.source is not None and not function.source.strip()
    )


def may_be_inlined(function: Function) -> bool:
    """The planner may replace a call of this function by its body: an SQL function, not
    a procedure, not SECURITY DEFINER. A SET clause rules that out (inline_function in
    PostgreSQL's optimizer/util/clauses.c gives up on any proconfig, as on prosecdef), so
    a condition or an operator written with the function can no longer use an index,
    and every call pays for saving and restoring the setting."""
    return function.language == "sql" and function.kind == "f" and not function.security_definer


def without_search_path(snap: Snapshot, definer: bool) -> Iterator[Function]:
    """User-defined functions, SECURITY DEFINER or not as asked, that look names up
    through the caller's search_path: no SET search_path, and neither compiled code
    (`internal`, `c`) nor an SQL-standard body, which bind no name when they run."""
    for function in snap.functions:
        if not function.user_defined or function.language in ("internal", "c"):
            continue
        if function.security_definer != definer or "search_path" in function.settings:
            continue
        if not binds_names_when_created(function):
            yield function


@rule(
    "security-definer-search-path",
    category=SECURITY,
    severity=HIGH,
    title="SECURITY DEFINER function without a safe search_path",
    options=ApiOptions,
)
def security_definer_search_path(snap: Snapshot, opts: ApiOptions) -> Iterator[Draft]:
    """A SECURITY DEFINER function resolves the names in its body through the caller's
    search_path, or through a fixed one that names a schema others may write to.

    Reported for SECURITY DEFINER functions without `SET search_path`, and for those
    whose fixed search_path names a schema where PUBLIC or an API role may create
    objects. An SQL function with an SQL-standard body (`RETURN ...`, `BEGIN ATOMIC`)
    is not reported: its names were bound when it was created; nor is compiled code
    (`internal`, `c`), which looks no name up. Functions without SECURITY DEFINER are
    `function-search-path-mutable`.

    ## Why it breaks
    An unqualified name in a function body (`streaks`, `now()`, `=`) is looked up in
    the search_path of the session that calls it. A SECURITY DEFINER function runs
    with its owner's rights, so a caller who can create an object in a schema that
    comes earlier in their own search_path (their own schema, `public` where PUBLIC
    may create, `pg_temp` for tables) makes the function use that object instead,
    with the owner's rights: a table that captures the rows it writes, or a function
    or operator that runs the attacker's code as the owner (CVE-2018-1058, and the
    case the PostgreSQL manual describes under "Writing SECURITY DEFINER Functions
    Safely"). The caller sets the search_path, so nothing the owner does elsewhere
    closes this.

    ## Fix
    Fix the search_path on the function: `ALTER FUNCTION ... SET search_path =
    <schema>, pg_temp` lists the schema it lives in, then the schemas that hold
    extensions (where extension-in-public's fix moves them: a function calling
    `hstore()` would otherwise fail once both fixes ran), with `pg_temp` last so that a
    temporary table cannot shadow a real one. List every schema whose objects the
    body names without a schema, and only schemas that untrusted roles cannot
    write to; `SET search_path = ''` is the strictest choice when every name in the
    body is schema-qualified. The rollback resets it. Where the fixed search_path
    names a writable schema, replace that schema (no SQL is generated: which
    schemas the body needs is a judgement).
    """
    writers = [PUBLIC, *api_roles(snap, opts)]
    moved = moved_extensions(snap)
    for function in without_search_path(snap, definer=True):
        yield finding(
            function,
            f"SECURITY DEFINER function {function.qualname} has no search_path of its own:"
            " names in its body resolve through the caller's search_path",
            evidence={
                "security_definer": True,
                "language": function.language,
                "owner": function.owner,
                "may_be_inlined": False,  # a SECURITY DEFINER function never is
            },
            fix=fixes.set_function_search_path(
                function, extension_schemas(snap, function, writers, moved)
            ),
        )
    for function in snap.functions:
        path = function.settings.get("search_path")
        if not (function.user_defined and function.security_definer) or path is None:
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
    "function-search-path-mutable",
    category=SECURITY,
    severity=LOW,
    title="Function without a fixed search_path",
    options=ApiOptions,
)
def function_search_path_mutable(snap: Snapshot, opts: ApiOptions) -> Iterator[Draft]:
    """A function without SECURITY DEFINER resolves the names in its body through the
    caller's search_path (what splinter calls `function_search_path_mutable`).

    Low where PUBLIC or an API role may create objects in some schema (listed as
    `writable_schemas`): an object planted there can stand in for a name the body
    uses. Otherwise informational: nobody untrusted can plant anything, and what
    remains is that the function's result depends on the caller's search_path.
    Functions with an SQL-standard body and compiled code are not reported, as in
    `security-definer-search-path`, which covers SECURITY DEFINER functions.

    ## Why it breaks
    The function runs with the rights of whoever calls it, so unlike a SECURITY
    DEFINER function it gives a caller no rights they lack. What it does depend on
    is the caller's search_path: a trigger, a policy or a default that calls it
    runs in sessions with different paths, and a name in its body may resolve to
    different objects from one session to the next. Where a role may create
    objects in a schema on another role's search_path (`public` with CREATE for
    PUBLIC, the default before PostgreSQL 15), it can create a function, operator
    or table that the body's unqualified name then finds, and that runs as the
    calling role (CVE-2018-1058).

    ## Fix
    `ALTER FUNCTION ... SET search_path = <schema>, pg_temp`, listing every schema
    whose objects the body names without a schema (the schema it lives in, and the
    schemas that hold extensions), or schema-qualify every name in the body; first
    of all, revoke CREATE from PUBLIC and the API roles where they hold it (see
    `public-schema-create`). The rollback resets it.

    An SQL function (not a procedure) gets no SQL: the planner inlines such a
    function into the query that calls it, which is what lets an index serve a
    condition written with it or with an operator it implements, and a function
    with a SET clause is never inlined. Write its body in SQL-standard form instead
    (`RETURN $2 ~ $1`, PostgreSQL 14+), which binds its names when the function is
    created and is still inlined; before 14, schema-qualify every name in the body
    (`OPERATOR(pg_catalog.~)`) and excuse the finding.
    """
    writers = [PUBLIC, *api_roles(snap, opts)]
    moved = moved_extensions(snap)
    planted = writable_schemas(snap, [s.name for s in snap.schemas], writers)
    for function in without_search_path(snap, definer=False):
        inlined = may_be_inlined(function)
        message = (
            f"Function {function.qualname} has no search_path of its own: names in its body"
            " resolve through the caller's search_path"
        )
        if planted:
            message += f"; {', '.join(planted)} may be written by other roles"
        if inlined:
            message += "; no SET proposed: it would stop the planner inlining the function"
        yield finding(
            function,
            message,
            evidence={
                "language": function.language,
                "owner": function.owner,
                "may_be_inlined": inlined,
                "writable_schemas": planted,
            },
            fix=None
            if inlined
            else fixes.set_function_search_path(
                function, extension_schemas(snap, function, writers, moved)
            ),
            severity=None if planted else INFO,
        )


@rule(
    "security-definer-executable-by-api-role",
    on_library_tables=True,
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
    has unless it was revoked) and USAGE on its schema. Trigger functions are not:
    PostgreSQL runs them only when their trigger fires ("trigger functions can only
    be called as triggers"), so EXECUTE lets nobody call them. In a schema the API serves
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
    (no SQL is generated for those). Nor is any where the function was granted to a
    role found only because a NOINHERIT login role switches to it (Graphile Starter's
    `*_visitor`): that grant is the application's API, and revoking it shuts the
    application out. The rollback grants back what was revoked.
    """
    roles = api_roles(snap, opts)
    inferred = set(roles) - set(names_in(opts.api_roles))
    served = api_schemas(snap, opts)
    facts = snap.facts
    for function in snap.functions:
        # a trigger function runs only when its trigger fires (chatbot-ui's and Midday's
        # handle_new_user): EXECUTE lets no one call it
        if not (function.user_defined and function.security_definer) or function.fired_only:
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
        # a grant to a role found only by its login role's SET ROLE pattern is the
        # project's own API (Graphile Starter grants its mutations to *_visitor):
        # revoking it shuts the application out; say so rather than revoke
        deliberate = [g for g in holders if g in inferred]
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
                **({"granted_to_app_role": deliberate} if deliberate else {}),
            },
            fix=None
            if not holders or policies or deliberate
            else fixes.revoke_execute(function, holders),
            severity=severity,
        )


# --- extensions -----------------------------------------------------------------------


def extensions_in_public(snap: Snapshot) -> list[Extension]:
    """The extensions extension-in-public reports (plpgsql is PostgreSQL's own)."""
    return [e for e in snap.extensions if e.schema == "public" and e.name != "plpgsql"]


def moved_extensions(snap: Snapshot) -> list[Extension]:
    """The extensions extension-in-public's fix moves out of `public`: relocatable ones
    no function body names as `public.<name>`, and none uses under a search_path of its
    own that does not reach the new schema."""
    return [
        e
        for e in extensions_in_public(snap)
        if e.relocatable and not functions_naming(snap, e) and not functions_pinning(snap, e)
    ]


def creates_schema(snap: Snapshot, schema: str = fixes.EXTENSIONS_SCHEMA) -> bool:
    """Whether moving an extension must create its schema: it was not found, and all
    schemas were read (with --schema, an uncollected one may exist)."""
    return schema not in snap.facts.schema_by_name and not snap.collection.schemas_filter


@rule(
    "extension-in-public",
    on_library_tables=True,
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

    No SQL is generated either where a function that sets its own search_path
    (`SET search_path = pg_catalog, public, pg_temp`, as SECURITY DEFINER functions
    should) names one of the extension's objects in its body and that path does not
    include the new schema: `crypt()` or `citext` would no longer be found there
    (Graphile Starter's `login` and `really_create_user`).

    No SQL is generated where a function body names one of the extension's objects
    with its schema (`public.unaccent`, `public.earth`): such a body is text, looked up
    when it runs, and does not follow the move (a view, a default or an index
    expression holds the object itself and does). Every call would fail, and with it
    every query on a table with an index over such a function, since the planner
    expands the function's body while it plans (MusicBrainz's `musicbrainz_unaccent`
    and `ll_to_earth`). Change those bodies first.
    """
    # one schema for them all: each fix creates it if need be, and the first one's
    # rollback (the last to run: rollback.sql undoes in reverse) drops it again
    schema_missing = creates_schema(snap)
    drops_schema = schema_missing
    moved = moved_extensions(snap)
    for extension in extensions_in_public(snap):
        evidence: dict[str, object] = {
            "schema": extension.schema,
            "relocatable": extension.relocatable,
            "members": extension.members,
        }
        message = (
            f"Extension {extension.name} {extension.version} is installed in public"
            f" ({extension.members:,} objects)"
        )
        naming = functions_naming(snap, extension)
        pinning = functions_pinning(snap, extension)
        fix = None
        if naming:
            evidence["named_by_functions"] = naming
            message += (
                f"; {plural(len(naming), 'function')} name its objects as public.<name>:"
                " no SQL proposed, moving it would break them"
            )
        elif pinning:
            evidence["used_under_fixed_search_path"] = pinning
            message += (
                f"; {plural(len(pinning), 'function')} use its objects under a search_path of"
                f" their own without {fixes.EXTENSIONS_SCHEMA}: no SQL proposed, moving it"
                " would break them (add the schema to their search_path first)"
            )
        elif extension in moved:
            fix = fixes.move_extension(extension, schema_missing, drops_schema)
            drops_schema = False
        yield finding(extension, message, evidence=evidence, fix=fix)


WORD = re.compile(r'"((?:[^"]|"")+)"|([a-z_][a-z0-9_$]*)', re.IGNORECASE)


def functions_pinning(snap: Snapshot, extension: Extension) -> list[str]:
    """The user-defined functions that set a search_path of their own without the schema
    the fix moves extensions to, and whose body names one of the extension's objects
    (looked up through that path each time the body runs)."""
    members = set(extension.member_names)
    pinning = []
    for function in snap.functions:
        path = function.settings.get("search_path")
        if not function.user_defined or not function.source or path is None:
            continue
        schemas = {part.strip().strip('"') for part in path.split(",")}
        if fixes.EXTENSIONS_SCHEMA in schemas:
            continue
        words = {
            quoted.replace('""', '"') if quoted else bare.lower()
            for quoted, bare in WORD.findall(function.source)
        }
        if words & members:
            pinning.append(function.qualname)
    return pinning


# `public.name`, `"public"."name"`: a body's reference to an object by its schema
QUALIFIED_IN_PUBLIC = re.compile(
    r'(?:\bpublic|"public")\s*\.\s*(?:"((?:[^"]|"")+)"|([a-z_][a-z0-9_$]*))', re.IGNORECASE
)


def functions_naming(snap: Snapshot, extension: Extension) -> list[str]:
    """The user-defined functions whose body names one of the extension's objects
    schema-qualified with `public` (the body is text: a move leaves it behind)."""
    members = set(extension.member_names)
    naming = []
    for function in snap.functions:
        if not function.user_defined or not function.source:
            continue
        for match in QUALIFIED_IN_PUBLIC.finditer(function.source):
            quoted, bare = match.groups()
            name = quoted.replace('""', '"') if quoted else bare.lower()
            if name in members:
                naming.append(function.qualname)
                break
    return naming


# --- roles ------------------------------------------------------------------------------


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
    on_library_tables=True,
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


# --- grants -----------------------------------------------------------------------------


@rule(
    "public-schema-create",
    on_library_tables=True,
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
    on_library_tables=True,
    category=SECURITY,
    severity=MEDIUM,
    title="Privileges granted to PUBLIC",
    options=ApiOptions,
)
def grant_to_public(snap: Snapshot, opts: ApiOptions) -> Iterator[Draft]:
    """A table, view or some of its columns, or a SECURITY DEFINER function, is open
    to PUBLIC: every role, present and future.

    High when PUBLIC may write (INSERT, UPDATE, DELETE, TRUNCATE) or, from PostgreSQL
    17, MAINTAIN (every role may then LOCK the table ACCESS EXCLUSIVE, or VACUUM FULL
    it: nobody reads or writes it meanwhile); medium for reads
    and for EXECUTE on a SECURITY DEFINER function (which every new function has,
    unless revoked; reported here when no API role exists, since
    `security-definer-executable-by-api-role` reports it otherwise; not for a trigger
    function, which nobody can call). CREATE on a schema is `public-schema-create`.

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
        writes = [
            p for p in privileges if p.split(" ")[0] in (*WRITE_COMMANDS, "TRUNCATE", "MAINTAIN")
        ]
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
        if function.fired_only:
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
# text and user-defined types (bytea, uuid, json, jsonb, citext); not flags, numbers, times
VALUE_CATEGORIES = ("S", "U")


def name_words(name: str) -> list[str]:
    return [w for w in re.split(r"[_\-\s]+", CAMEL.sub("_", name).lower()) if w]


@functools.cache  # the same names (id, email, created_at) recur in every table
def sensitivity(name: str, category: str) -> str | None:
    """Credential, personal or None, from a column's name and type category."""
    if category not in VALUE_CATEGORIES:
        return None
    words = name_words(name)
    pairs = set(itertools.pairwise(words))
    if CREDENTIAL_WORDS & set(words) or CREDENTIAL_PAIRS & pairs:
        return "credential"
    if PERSONAL_WORDS & set(words) or PERSONAL_PAIRS & pairs:
        return "personal"
    return None


def readable_columns(snap: Snapshot, oid: int, role: str, columns: list[str]) -> list[str]:
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
    return [c for c in columns if c in allowed]


def sensitive_relations(snap: Snapshot) -> Iterator[tuple[Table | View, dict[str, str]]]:
    """Tables without row-level security and views that do not check it as their
    caller, with their sensitive columns (name -> credential or personal)."""
    for table in snap.tables:
        if table.rls_enabled:
            continue
        columns = snap.columns_by_table.get(table.oid, [])
        found = {c.name: sensitivity(c.name, c.type_category) for c in columns}
        yield table, {name: kind for name, kind in found.items() if kind}
    for view in snap.views:
        if view.kind != "v" or view.security_invoker:
            continue  # a materialized view is among the tables
        pairs = zip(view.columns, view.column_categories, strict=False)
        found = {name: sensitivity(name, category) for name, category in pairs}
        yield view, {name: kind for name, kind in found.items() if kind}


@rule(
    "sensitive-columns-exposed",
    on_library_tables=True,
    category=SECURITY,
    severity=HIGH,
    title="Credential or personal columns readable by API roles without RLS",
    options=ApiOptions,
)
def sensitive_columns_exposed(snap: Snapshot, opts: ApiOptions) -> Iterator[Draft]:
    """An API role can read columns named like passwords, tokens, keys, card or
    identity numbers, or personal data, of every row.

    Reported for tables (and materialized views) without row-level security, and
    views that are not `security_invoker` (they read as their owner), that an API
    role can read (schema USAGE and SELECT on the relation or on those columns),
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
    for relation, sensitive in sensitive_relations(snap):
        if not sensitive:
            continue
        schema = facts.schema_by_name.get(relation.schema)
        exposed: dict[str, list[str]] = {}
        for role in roles:
            if schema is not None and not facts.holds(
                role, "schema", schema.oid, schema.owner, "USAGE"
            ):
                continue
            for name in readable_columns(snap, relation.oid, role, list(sensitive)):
                exposed.setdefault(name, []).append(role)
        if not exposed:
            continue
        kinds = {sensitive[name] for name in exposed}
        names = sorted(exposed)
        readers = sorted({role for holders in exposed.values() for role in holders})
        yield finding(
            relation,
            f"{relation.qualname} lets {', '.join(readers)} read {', '.join(names)} of every row",
            evidence={"columns": exposed, "row_level_security": False},
            severity=None if "credential" in kinds else MEDIUM,
        )
