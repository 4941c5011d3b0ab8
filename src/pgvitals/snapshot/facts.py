"""Facts derived from a Snapshot, each computed once, on first use, in linear time.

Anything that two rules, or a rule and the report, both need lives here: which
index serves a foreign key's lookup, the partitions of a partitioned table and the
rows and counters summed over them, the foreign keys that use an index. Rules look
things up in these dicts instead of scanning the catalogue per object.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from pgvitals.snapshot.model import Column, Constraint, Function, Index, Policy, Role, Schema, Table
from pgvitals.snapshot.nodes import BadTree, Expression
from pgvitals.snapshot.nodes import analyse as analyse_expression

NEXTVAL = re.compile(r"^nextval\('((?:[^']|'')+)'::regclass\)$")
QUOTED_PART = re.compile(r'"((?:[^"]|"")*)"|([^."]+)')

if TYPE_CHECKING:
    from pgvitals.snapshot.model import Snapshot


def serves_lookup_on(index: Index, columns: list[str]) -> bool:
    """Can an equality lookup on all `columns` use this index without scanning it all?"""
    if not index.is_valid or index.is_partial:
        return False
    leading = index.key_columns[: len(columns)]
    if index.method == "btree":
        return len(leading) == len(columns) and set(leading) == set(columns)
    if index.method == "hash":
        return index.key_columns[:1] == columns
    return False


class Facts:
    def __init__(self, snapshot: Snapshot) -> None:
        self.snap = snapshot

    @cached_property
    def partitions_by_parent(self) -> dict[int, list[Table]]:
        """Direct partitions of each partitioned table."""
        children: dict[int, list[Table]] = defaultdict(list)
        for table in self.snap.tables:
            if table.parent_oid is not None:
                children[table.parent_oid].append(table)
        return dict(children)

    @cached_property
    def leaves_by_root(self) -> dict[int, list[Table]]:
        """Every partitioned table's leaf partitions (at any depth): where its rows are."""
        leaves: dict[int, list[Table]] = defaultdict(list)
        by_oid = self.snap.table_by_oid
        for table in self.snap.tables:
            if table.parent_oid is None or table.kind == "p":
                continue
            parent = table.parent_oid
            while parent is not None and parent in by_oid:
                leaves[parent].append(table)
                parent = by_oid[parent].parent_oid
        return dict(leaves)

    def rows(self, table: Table) -> int:
        """Rows of a table; a partitioned table's are its leaves' rows."""
        if table.kind == "p":
            return sum(self.snap.row_count(leaf) for leaf in self.leaves_by_root.get(table.oid, []))
        return self.snap.row_count(table)

    def counter(self, table: Table, name: str) -> int | None:
        """A pg_stat_user_tables counter; summed over the leaves of a partitioned table
        (the server counts on the leaves only). None where no part has the counter."""
        if table.kind != "p":
            return getattr(table, name)
        values = [getattr(leaf, name) for leaf in self.leaves_by_root.get(table.oid, [])]
        known = [value for value in values if value is not None]
        return sum(known) if known else None

    @cached_property
    def lookup_index_of_fk(self) -> dict[int, Index | None]:
        """Per foreign key (by constraint oid): an index that serves the lookup of its
        referencing columns, or None."""
        by_table = self.snap.indexes_by_table
        return {
            fk.oid: next(
                (i for i in by_table.get(fk.table_oid, []) if serves_lookup_on(i, fk.columns)),
                None,
            )
            for fk in self.snap.constraints
            if fk.kind == "f"
        }

    @cached_property
    def foreign_keys_using_index(self) -> dict[int, list[Constraint]]:
        """Foreign keys whose referenced key is enforced by the index (by index oid)."""
        using: dict[int, list[Constraint]] = defaultdict(list)
        for constraint in self.snap.constraints:
            if constraint.kind == "f" and constraint.index_oid is not None:
                using[constraint.index_oid].append(constraint)
        return dict(using)

    @cached_property
    def column_by_name(self) -> dict[tuple[int, str], Column]:
        return {(c.table_oid, c.name): c for c in self.snap.columns}

    @cached_property
    def column_fed_by_sequence(self) -> dict[int, Column]:
        """Per sequence (by oid): the column it fills. OWNED BY (serial, identity) says
        it; otherwise a column default `nextval('name'::regclass)` naming it does."""
        fed: dict[int, Column] = {}
        by_name = {(s.schema, s.name): s for s in self.snap.sequences}
        for column in self.snap.columns:
            match = NEXTVAL.search(column.default or "")
            if not match:
                continue
            text = match.group(1).replace("''", "'")
            parts = [
                (quoted or bare).replace('""', '"') for quoted, bare in QUOTED_PART.findall(text)
            ]
            key = (parts[0], parts[1]) if len(parts) == 2 else (column.schema, parts[-1])
            sequence = by_name.get(key)
            if sequence is not None:
                fed.setdefault(sequence.oid, column)
        for sequence in self.snap.sequences:
            if sequence.owned_by_table_oid is not None and sequence.owned_by_column:
                owned = self.column_by_name.get(
                    (sequence.owned_by_table_oid, sequence.owned_by_column)
                )
                if owned is not None:
                    fed[sequence.oid] = owned
        return fed

    @cached_property
    def foreign_keys_referencing(self) -> dict[int, list[Constraint]]:
        """Foreign keys by the table they reference (by table oid)."""
        referencing: dict[int, list[Constraint]] = defaultdict(list)
        for constraint in self.snap.constraints:
            if constraint.kind == "f" and constraint.ref_table_oid is not None:
                referencing[constraint.ref_table_oid].append(constraint)
        return dict(referencing)

    @cached_property
    def constraint_by_name(self) -> dict[tuple[int, str], Constraint]:
        return {(c.table_oid, c.name): c for c in self.snap.constraints}

    # --- security: policies, roles, privileges, platform-managed objects ---------------

    @cached_property
    def policies_by_table(self) -> dict[int, list[Policy]]:
        grouped: dict[int, list[Policy]] = defaultdict(list)
        for policy in self.snap.policies:
            grouped[policy.table_oid].append(policy)
        return dict(grouped)

    @cached_property
    def policy_expressions(self) -> dict[int, tuple[Expression | None, Expression | None]]:
        """Per policy (by oid): its USING and WITH CHECK expressions, read from the node
        trees. A tree this version cannot read counts as absent (no claim is made)."""
        result = {}
        for policy in self.snap.policies:
            result[policy.oid] = (
                readable_expression(policy.using_tree),
                readable_expression(policy.with_check_tree),
            )
        return result

    @cached_property
    def policies_calling(self) -> dict[int, list[Policy]]:
        """Per function (by oid): the policies whose expressions call it."""
        calling: dict[int, list[Policy]] = defaultdict(list)
        for policy in self.snap.policies:
            called = {
                call.function_oid
                for expression in self.policy_expressions[policy.oid]
                if expression is not None
                for call in expression.calls
            }
            for oid in sorted(called):
                calling[oid].append(policy)
        return dict(calling)

    @cached_property
    def function_by_oid(self) -> dict[int, Function]:
        return {function.oid: function for function in self.snap.functions}

    @cached_property
    def role_by_name(self) -> dict[str, Role]:
        return {role.name: role for role in self.snap.roles}

    @cached_property
    def privileges_of(self) -> dict[str, frozenset[str]]:
        """Per role: the grantees whose privileges it uses without SET ROLE (itself, the
        roles it inherits from, transitively, and PUBLIC)."""
        direct = {role.name: role.inherits_from for role in self.snap.roles}
        closure: dict[str, frozenset[str]] = {}
        for name in direct:
            seen = {name}
            stack = list(direct[name])
            while stack:
                granted = stack.pop()
                if granted not in seen:
                    seen.add(granted)
                    stack.extend(direct.get(granted, ()))
            closure[name] = frozenset(seen | {PUBLIC})
        return closure

    @cached_property
    def grants(self) -> dict[tuple[str, int], dict[str, frozenset[str]]]:
        """Per (kind, object oid): grantee -> privileges. Columns are keyed by
        ("column", table oid) and their privileges named "SELECT (column)"."""
        result: dict[tuple[str, int], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for grant in self.snap.privileges:
            names = grant.privileges
            if grant.kind == "column":
                names = [f"{name} ({grant.column})" for name in names]
            result[(grant.kind, grant.object_oid)][grant.grantee].update(names)
        return {
            key: {grantee: frozenset(names) for grantee, names in by_grantee.items()}
            for key, by_grantee in result.items()
        }

    @cached_property
    def schema_by_name(self) -> dict[str, Schema]:
        return {schema.name: schema for schema in self.snap.schemas}

    def holds(self, role: str, kind: str, oid: int, owner: str, privilege: str) -> bool:
        """Can `role` use `privilege` on the object (table, schema or function) without
        SET ROLE: as a superuser, as (a member of) its owner, through a grant to itself,
        to a role it inherits from or to PUBLIC, or through pg_read_all_data /
        pg_write_all_data. For a table, a grant on any of its columns counts for SELECT,
        INSERT, UPDATE and REFERENCES."""
        found = self.role_by_name.get(role)
        if found is not None and found.superuser:
            return True
        grantees = self.privileges_of.get(role, frozenset({role, PUBLIC}))
        if owner in grantees:
            return True
        reads_all = kind in ("table", "schema") and privilege in ("SELECT", "USAGE")
        if reads_all and "pg_read_all_data" in grantees:
            return True
        writes_all = kind == "table" and privilege in ("INSERT", "UPDATE", "DELETE")
        if writes_all and "pg_write_all_data" in grantees:
            return True
        granted = self.grants.get((kind, oid), {})
        if any(privilege in granted.get(grantee, ()) for grantee in grantees):
            return True
        if kind == "table":
            columns = self.grants.get(("column", oid), {})
            prefix = f"{privilege} ("
            return any(
                name.startswith(prefix) for grantee in grantees for name in columns.get(grantee, ())
            )
        return False

    def can_reach_table(self, role: str, table_oid: int, privilege: str) -> bool:
        """`privilege` on the table and USAGE on its schema: what a query needs."""
        table = self.snap.table_by_oid.get(table_oid)
        if table is None:
            return False
        schema = self.schema_by_name.get(table.schema)
        if schema is not None and not self.holds(role, "schema", schema.oid, schema.owner, "USAGE"):
            return False
        return self.holds(role, "table", table_oid, table.owner, privilege)

    @cached_property
    def rls_coverage(self) -> dict[int, RlsCoverage]:
        """The RLS coverage matrix (see `rls_coverage`): rules and the report share it."""
        return rls_coverage(self)

    @cached_property
    def platform(self) -> Platform | None:
        """The managed platform whose roles this cluster has (roles are cluster-wide)."""
        names = set(self.role_by_name)
        return next((p for p in MANAGED_PLATFORMS if p.signature <= names), None)

    @cached_property
    def managed_schemas(self) -> dict[str, str]:
        """Schemas the platform manages, by name -> platform. Known names count only when
        one of them in this database is owned by one of the platform's own roles
        (`supabase_admin`, ...), so that an application's `auth` schema is the user's."""
        platform = self.platform
        if platform is None:
            return {}
        present = [s for s in self.snap.schemas if s.name in platform.schemas]
        if not any(schema.owner.startswith(platform.role_prefix) for schema in present):
            return {}
        return {schema.name: platform.name for schema in present}

    @cached_property
    def managed_roles(self) -> dict[str, str]:
        """Roles the platform defines (the user cannot change their attributes)."""
        platform = self.platform
        if platform is None:
            return {}
        return {r.name: platform.name for r in self.snap.roles if platform.owns_role(r.name)}


PUBLIC = "PUBLIC"


@dataclass(frozen=True)
class Platform:
    """A managed service whose own schemas and roles the user cannot change."""

    name: str
    signature: frozenset[str]  # roles that identify it (all must exist)
    schemas: frozenset[str]  # schemas it manages, when present
    role_prefix: str  # its roles: names with this prefix ...
    roles: frozenset[str]  # ... and these

    def owns_role(self, name: str) -> bool:
        return name.startswith(self.role_prefix) or name in self.roles


SUPABASE = Platform(
    name="Supabase",
    signature=frozenset({"supabase_admin", "authenticator", "service_role"}),
    schemas=frozenset(
        [
            "auth",
            "storage",
            "realtime",
            "_realtime",
            "extensions",
            "graphql",
            "graphql_public",
            "vault",
            "pgsodium",
            "pgsodium_masks",
            "supabase_functions",
            "supabase_migrations",
            "pgbouncer",
            "net",
            "cron",
            "pgtle",
            "_analytics",
            "_supavisor",
        ]
    ),
    role_prefix="supabase_",
    roles=frozenset(
        [
            "authenticator",
            "anon",
            "authenticated",
            "service_role",
            "pgbouncer",
            "dashboard_user",
            "postgres",
        ]
    ),
)
MANAGED_PLATFORMS = (SUPABASE,)


def readable_expression(tree: str | None) -> Expression | None:
    try:
        return analyse_expression(tree)
    except BadTree:
        return None


@dataclass(frozen=True)
class PolicyUse:
    """A policy as it applies to one command: its name and the roles it names."""

    policy: str
    roles: tuple[str, ...]  # "public" for PUBLIC


@dataclass(frozen=True)
class CommandCoverage:
    """Who may do one command on a table with row-level security, by which policy.

    Without a permissive policy the command is denied to every role but the table's
    owner (unless FORCE ROW LEVEL SECURITY) and roles that bypass RLS; restrictive
    policies narrow what the permissive ones allow."""

    command: str  # SELECT, INSERT, UPDATE, DELETE
    permissive: tuple[PolicyUse, ...]
    restrictive: tuple[PolicyUse, ...]
    granted_to: tuple[str, ...]  # roles (and PUBLIC) granted the privilege, the owner aside

    @property
    def denied(self) -> bool:
        return not self.permissive


@dataclass(frozen=True)
class RlsCoverage:
    """One table with row-level security: per command, who is allowed by what."""

    table: str  # qualified name
    schema: str
    name: str
    owner: str
    forced: bool  # FORCE ROW LEVEL SECURITY: the owner is subject to the policies too
    commands: tuple[CommandCoverage, ...]


RLS_COMMANDS = ("SELECT", "INSERT", "UPDATE", "DELETE")


def rls_coverage(facts: Facts) -> dict[int, RlsCoverage]:
    """Per table with RLS enabled (by oid), the coverage matrix row (an ALL policy
    counts for every command)."""
    snap = facts.snap
    result = {}
    for table in snap.tables:
        if not table.rls_enabled:
            continue
        policies = sorted(facts.policies_by_table.get(table.oid, []), key=lambda p: p.name)
        granted = facts.grants.get(("table", table.oid), {})
        columns = facts.grants.get(("column", table.oid), {})
        commands = []
        for command in RLS_COMMANDS:
            applying = [p for p in policies if p.applies_to(command)]
            holders = sorted(
                grantee
                for grantee in {*granted, *columns}
                if command in granted.get(grantee, ())
                or any(name.startswith(f"{command} (") for name in columns.get(grantee, ()))
            )
            commands.append(
                CommandCoverage(
                    command,
                    tuple(PolicyUse(p.name, tuple(p.roles)) for p in applying if p.permissive),
                    tuple(PolicyUse(p.name, tuple(p.roles)) for p in applying if not p.permissive),
                    tuple(holders),
                )
            )
        result[table.oid] = RlsCoverage(
            table.qualname, table.schema, table.name, table.owner, table.rls_forced, tuple(commands)
        )
    return result
