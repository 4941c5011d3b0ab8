"""The DDL that recreates a saved snapshot's schema (`pgvitals review --base snap.json`):
the new migrations then run on the tables they alter, as with `--base DSN`, without
the database.

A snapshot holds catalog facts, not DDL: what it holds whole is rebuilt in dependency
order (schemas, extensions, enum types, domains, composite types and range types,
sequences, tables with their columns, partitions and inheritance, constraints and
indexes from the server's definitions, functions from their bodies and declared
signatures, aggregates, triggers from their definitions, policies, comments); what it
cannot rebuild is named with the reason, never dropped silently. Names are quoted as
identifiers (psycopg.sql), whatever they hold. Pure: no database is touched here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from psycopg import sql

from pgvitals.snapshot.model import (
    Aggregate,
    Column,
    CompositeType,
    Domain,
    Function,
    RangeType,
    Sequence,
    Snapshot,
    Table,
    Trigger,
    View,
)

# pg_collation's fixed OIDs: 100 is the column type's default collation
DEFAULT_COLLATION, FIXED_COLLATIONS = 100, {950: "C", 951: "POSIX"}
REPLICA_IDENTITY = {"f": "FULL", "n": "NOTHING"}
VOLATILITY = {"i": "IMMUTABLE", "s": "STABLE", "v": "VOLATILE"}
PARALLEL = {"s": "SAFE", "r": "RESTRICTED", "u": "UNSAFE"}
# pg_trigger.tgenabled other than O (fires on origin and local sessions, as created)
TRIGGER_FIRING = {"D": "DISABLE", "R": "ENABLE REPLICA", "A": "ENABLE ALWAYS"}


@dataclass(frozen=True)
class Step:
    """One statement of the rebuild, and the object it makes (for a failure's report)."""

    name: str  # e.g. "table public.orders"
    sql: str
    # a function is tried before the tables (their defaults and checks may call it),
    # and again after them where that failed (it may return a table's row type)
    early: bool = False
    again: bool = False  # run only where the early try of `name` failed
    # the object it belongs to (a table's index, an object's owner): not tried where
    # that was not rebuilt, whose failure says it all
    within: str | None = None


@dataclass(frozen=True)
class NotRebuilt:
    name: str  # e.g. "view public.totals"
    reason: str

    @property
    def text(self) -> str:
        return f"{self.name}: {self.reason}"


def rebuild(
    snapshot: Snapshot, available: frozenset[str] | None = None
) -> tuple[list[Step], list[NotRebuilt]]:
    """The statements that recreate the snapshot's schema, in dependency order, and what
    cannot be rebuilt. `available`: the extensions the server that runs them has (None:
    not known, every one is tried)."""
    steps: list[Step] = []
    missing: list[NotRebuilt] = []
    path = snapshot.server.search_path
    if path:  # the server printed types and names of definitions as this path resolves them
        names = sql.SQL(", ").join(sql.Identifier(name) for name in path)
        steps.append(Step("search_path", text(sql.SQL("SET search_path = {}").format(names))))
    steps.append(Step("settings", "SET check_function_bodies = off"))
    for schema in snapshot.schemas:
        create = sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident(schema.name))
        steps.append(Step(f"schema {schema.name}", text(create)))
        steps += comment(f"schema {schema.name}", "SCHEMA {}", schema.comment, schema.name)
    for extension in snapshot.extensions:
        name = f"extension {extension.name}"
        if available is not None and extension.name not in available:
            missing.append(NotRebuilt(name, "the review's server does not have it"))
            continue
        create = sql.SQL("CREATE EXTENSION IF NOT EXISTS {} SCHEMA {}")
        steps.append(
            Step(name, text(create.format(ident(extension.name), ident(extension.schema))))
        )
    for enum in snapshot.enum_types:
        labels = sql.SQL(", ").join(sql.Literal(label) for label in enum.labels)
        create = sql.SQL("CREATE TYPE {} AS ENUM ({})").format(
            qualified(enum.schema, enum.name), labels
        )
        steps.append(Step(f"type {enum.qualname}", text(create)))
        steps += comment(f"type {enum.qualname}", "TYPE {}", enum.comment, enum.schema, enum.name)
    steps += user_types(snapshot, late=False)
    identity_columns = {(c.table_oid, c.name) for c in snapshot.columns if c.identity}
    owned = []
    for sequence in snapshot.sequences:
        key = (sequence.owned_by_table_oid, sequence.owned_by_column)
        if key in identity_columns:
            continue  # its identity column makes it
        steps.append(Step(f"sequence {sequence.qualname}", sequence_sql(sequence)))
        if sequence.owned_by_table_oid is not None:
            owned.append(sequence)
    routines = functions(snapshot, missing)
    steps += [replace(step, early=True) for step in routines if step.again]
    steps += user_types(snapshot, late=True)  # a range type's functions may be those
    steps += domain_rules(snapshot)  # their defaults and checks may call those functions
    steps += tables(snapshot, missing)
    for sequence in owned:
        table = snapshot.table_by_oid.get(sequence.owned_by_table_oid or 0)
        if table is None or sequence.owned_by_column is None:
            continue
        owner = sql.SQL("ALTER SEQUENCE {} OWNED BY {}.{}").format(
            qualified(sequence.schema, sequence.name),
            qualified(table.schema, table.name),
            ident(sequence.owned_by_column),
        )
        steps.append(
            Step(f"sequence {sequence.qualname}", text(owner), within=f"table {table.qualname}")
        )
    steps += constraints(snapshot, missing, foreign=False)
    steps += routines
    steps += aggregates(snapshot, missing)  # after the functions they call
    steps += views(snapshot, missing)
    steps += indexes(snapshot, missing)  # after the materialized views they may be on
    steps += constraints(snapshot, missing, foreign=True)  # a unique index may be the key
    steps += triggers(snapshot)
    steps += policies(snapshot, missing)
    steps += owners_and_grants(snapshot)
    missing += not_held(snapshot)
    steps.append(Step("settings", "RESET search_path"))
    steps.append(Step("settings", "RESET check_function_bodies"))
    return steps, missing


def failures(steps: list[Step], run: Callable[[str], str | None]) -> list[NotRebuilt]:
    """Run the steps through `run` (None where the statement ran, else the server's
    error): what was not rebuilt, once per object (what belongs to an object that failed,
    its comment, its indexes, its owner, is not tried)."""
    failed: dict[str, str] = {}
    gone: set[str] = set()  # failed, or belonging to what failed
    pending: set[str] = set()  # functions whose early try failed
    for step in steps:
        if step.name in gone or (step.again and not step.early and step.name not in pending):
            continue
        if step.within in gone:
            gone.add(step.name)
            continue
        error = run(step.sql)
        if error is not None and step.early:
            pending.add(step.name)
        elif error is not None:
            failed[step.name] = error
            gone.add(step.name)
        elif step.again:
            pending.discard(step.name)
    return [NotRebuilt(name, f"the server rejected it: {error}") for name, error in failed.items()]


def text(statement: sql.Composable) -> str:
    return statement.as_string(None)


def ident(name: str) -> sql.Identifier:
    return sql.Identifier(name)


def qualified(schema: str, name: str) -> sql.Identifier:
    return sql.Identifier(schema, name)


def comment(
    name: str, kind: str, value: str | None, *names: str, within: str | None = None
) -> list[Step]:
    """COMMENT ON `kind` (its `{}` filled with the object's quoted, qualified name; a
    second `{}` with the last name alone, the first ones qualifying it: `CONSTRAINT {}
    ON {}`)."""
    if value is None:
        return []
    if kind.count("{}") == 2:
        what = sql.SQL(kind).format(ident(names[-1]), sql.Identifier(*names[:-1]))
    else:
        what = sql.SQL(kind).format(sql.Identifier(*names))
    statement = sql.SQL("COMMENT ON {} IS {}").format(what, sql.Literal(value))
    return [Step(name, text(statement), within=within)]


def sequence_sql(sequence: Sequence) -> str:
    cache = (
        sql.SQL(" CACHE {}").format(sql.Literal(sequence.cache_size))
        if sequence.cache_size
        else sql.SQL("")
    )
    statement = sql.SQL(
        "CREATE SEQUENCE {} AS {} INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {}{}{}"
    ).format(
        qualified(sequence.schema, sequence.name),
        sql.SQL(sequence.data_type),
        sql.Literal(sequence.increment_by),
        sql.Literal(sequence.min_value),
        sql.Literal(sequence.max_value),
        sql.Literal(sequence.start_value),
        cache,
        sql.SQL(" CYCLE" if sequence.cycle else ""),
    )
    return text(statement)


UserType = Domain | CompositeType | RangeType


def user_types(snapshot: Snapshot, late: bool) -> list[Step]:
    """Domains (their type, collation and NOT NULL: defaults and checks come once the
    functions they may call exist, see `domain_rules`), composite types and range types,
    each after the held types it is made of (enum types are made before). `late`: the
    range types that name a function (canonical, subtype_diff: it may be a user's, made
    by the functions' early try) and the types made of them; else the others."""
    steps: list[Step] = []
    ordered = type_order(snapshot)
    after_functions = late_types(ordered)
    for made in ordered:
        if (made.oid in after_functions) != late:
            continue
        if isinstance(made, Domain):
            name = f"domain {made.qualname}"
            statement = sql.SQL("CREATE DOMAIN {} AS {}").format(
                qualified(made.schema, made.name), sql.SQL(made.base_type)
            )
            if made.collation is not None:
                statement += sql.SQL(" COLLATE {}").format(sql.SQL(made.collation))
            if made.not_null:
                statement += sql.SQL(" NOT NULL")
            steps.append(Step(name, text(statement)))
            steps += comment(name, "DOMAIN {}", made.comment, made.schema, made.name)
            continue
        name = f"type {made.qualname}"
        steps.append(
            Step(name, range_sql(made) if isinstance(made, RangeType) else composite_sql(made))
        )
        steps += comment(name, "TYPE {}", made.comment, made.schema, made.name)
    return steps


def composite_sql(made: CompositeType) -> str:
    attributes = []
    for attribute, of_type, collation in zip(
        made.attributes, made.attribute_types, made.attribute_collations, strict=True
    ):
        attributes.append(sql.SQL("{} {}").format(ident(attribute), sql.SQL(of_type)))
        if collation is not None:
            attributes[-1] += sql.SQL(" COLLATE {}").format(sql.SQL(collation))
    statement = sql.SQL("CREATE TYPE {} AS ({})").format(
        qualified(made.schema, made.name), sql.SQL(", ").join(attributes)
    )
    return text(statement)


def range_sql(made: RangeType) -> str:
    """CREATE TYPE ... AS RANGE with what differs from the defaults (the multirange type's
    name always: PostgreSQL 14+ makes one, named after the range's where not given)."""
    parts = [sql.SQL("SUBTYPE = {}").format(sql.SQL(made.subtype))]
    for key, value in (
        ("SUBTYPE_OPCLASS", made.subtype_opclass),
        ("COLLATION", made.collation),
        ("CANONICAL", made.canonical),
        ("SUBTYPE_DIFF", made.subtype_diff),
        ("MULTIRANGE_TYPE_NAME", made.multirange),
    ):
        if value is not None:
            parts.append(sql.SQL("{} = {}").format(sql.SQL(key), sql.SQL(value)))
    statement = sql.SQL("CREATE TYPE {} AS RANGE ({})").format(
        qualified(made.schema, made.name), sql.SQL(", ").join(parts)
    )
    return text(statement)


def type_order(snapshot: Snapshot) -> list[UserType]:
    """Domains, composite types and range types, each after the held ones it is made of
    (a domain over a domain or a range, a composite type of a domain or of another
    composite type, a range of a domain; a multirange comes with its range)."""
    by_oid: dict[int, UserType] = {d.oid: d for d in snapshot.domains}
    by_oid.update((c.oid, c) for c in snapshot.composite_types)
    for made in snapshot.range_types:
        by_oid[made.oid] = made
        if made.multirange_oid is not None:
            by_oid[made.multirange_oid] = made
    ordered: list[UserType] = []
    placed: set[int] = set()

    def place(made: UserType, seen: frozenset[int]) -> None:
        if made.oid in placed or made.oid in seen:
            return
        for oid in made_of(made):
            if oid in by_oid:
                place(by_oid[oid], seen | {made.oid})
        placed.add(made.oid)
        ordered.append(made)

    for made in by_oid.values():
        place(made, frozenset())
    return ordered


def made_of(made: UserType) -> list[int]:
    """The OIDs of the types a user type is made of (an array's element type's)."""
    if isinstance(made, Domain):
        return [made.base_type_oid]
    if isinstance(made, RangeType):
        return [made.subtype_oid]
    return made.attribute_type_oids


def late_types(ordered: list[UserType]) -> set[int]:
    """Of types in dependency order: the range types that name a function, and those
    made of one of them (a domain over such a range, a composite type holding it)."""
    late: set[int] = set()
    for made in ordered:
        names_function = isinstance(made, RangeType) and (made.canonical or made.subtype_diff)
        if names_function or any(oid in late for oid in made_of(made)):
            late.add(made.oid)
            if isinstance(made, RangeType) and made.multirange_oid is not None:
                late.add(made.multirange_oid)
    return late


def domain_rules(snapshot: Snapshot) -> list[Step]:
    """Each domain's default and CHECK constraints (as declared: NOT VALID stays so)."""
    steps = []
    for domain in snapshot.domains:
        name, target = f"domain {domain.qualname}", qualified(domain.schema, domain.name)
        if domain.default is not None:
            statement = sql.SQL("ALTER DOMAIN {} SET DEFAULT {}").format(
                target, sql.SQL(domain.default)
            )
            steps.append(Step(name, text(statement)))
        for check_name, check in zip(domain.check_names, domain.checks, strict=True):
            statement = sql.SQL("ALTER DOMAIN {} ADD CONSTRAINT {} {}").format(
                target, ident(check_name), sql.SQL(check)
            )
            steps.append(Step(name, text(statement)))
    return steps


FIRST_USER_OID = 16384


def domain_of(column: Column) -> str | None:
    """The domain a column is of (its data_type names another type than its base type,
    type_name, that a domain resolves to); None for any other type."""
    if column.type_oid < FIRST_USER_OID or column.data_type.endswith("]"):
        return None
    name = column.data_type.split("(")[0].rsplit(".", 1)[-1].strip('"').replace('""', '"')
    return column.data_type if name != column.type_name else None


def column_sql(
    column: Column, missing: list[NotRebuilt], domains: frozenset[int]
) -> sql.Composable:
    """`domains`: the OIDs of the domains the snapshot holds (rebuilt before the tables)."""
    of_type: sql.Composable = sql.SQL(column.data_type)
    if (domain := domain_of(column)) is not None and column.type_oid not in domains:
        of_type = ident(column.type_name)
        missing.append(
            NotRebuilt(
                f"column {column.qualname}",
                f"of the domain {domain}, which"
                f" the snapshot does not hold: of its base type"
                f" {column.type_name}",
            )
        )
    parts: list[sql.Composable] = [ident(column.name), of_type]
    if column.collation_oid and column.collation_oid != DEFAULT_COLLATION:
        if column.collation_oid in FIXED_COLLATIONS:
            parts.append(
                sql.SQL("COLLATE {}").format(ident(FIXED_COLLATIONS[column.collation_oid]))
            )
        else:
            missing.append(
                NotRebuilt(
                    f"collation of column {column.qualname}",
                    "the snapshot"
                    " holds its collation's OID, not its name: the type's"
                    " default is used",
                )
            )
    if column.generated and column.default is not None:
        parts.append(sql.SQL("GENERATED ALWAYS AS ({}) STORED").format(sql.SQL(column.default)))
    elif column.generated:
        missing.append(
            NotRebuilt(
                f"column {column.qualname}",
                "its generation expression was not read (its table was locked): a plain column",
            )
        )
    elif column.default is not None:
        parts.append(sql.SQL("DEFAULT {}").format(sql.SQL(column.default)))
    if column.identity:
        always = "ALWAYS" if column.identity == "a" else "BY DEFAULT"
        parts.append(sql.SQL(f"GENERATED {always} AS IDENTITY"))
    if column.not_null:
        parts.append(sql.SQL("NOT NULL"))
    return sql.SQL(" ").join(parts)


def options(values: Iterable[str], prefix: str = "") -> list[sql.Composable]:
    found: list[sql.Composable] = []
    for option in values:
        key, _, value = option.partition("=")
        found.append(sql.SQL(f"{prefix}{{}} = {{}}").format(sql.SQL(key), sql.Literal(value)))
    return found


def table_order(snapshot: Snapshot) -> list[Table]:
    """Parents (inherited, partitioned) before the tables that inherit from them."""
    by_name = {table.qualname: table for table in snapshot.tables}
    parents: dict[int, list[int]] = {table.oid: [] for table in snapshot.tables}
    for table in snapshot.tables:
        if table.parent_oid is not None:
            parents[table.oid].append(table.parent_oid)
        for child in table.inheritance_children:
            if child in by_name:
                parents[by_name[child].oid].append(table.oid)
    ordered: list[Table] = []
    placed: set[int] = set()

    def place(table: Table, seen: frozenset[int]) -> None:
        if table.oid in placed or table.oid in seen:
            return
        for parent in parents.get(table.oid, ()):
            if parent in snapshot.table_by_oid:
                place(snapshot.table_by_oid[parent], seen | {table.oid})
        placed.add(table.oid)
        ordered.append(table)

    for table in snapshot.tables:
        place(table, frozenset())
    return ordered


def tables(snapshot: Snapshot, missing: list[NotRebuilt]) -> list[Step]:
    steps: list[Step] = []
    domains = frozenset(domain.oid for domain in snapshot.domains)
    inherits: dict[int, list[Table]] = {}
    by_name = {table.qualname: table for table in snapshot.tables}
    for table in snapshot.tables:
        for child in table.inheritance_children:
            if child in by_name:
                inherits.setdefault(by_name[child].oid, []).append(table)
    for table in table_order(snapshot):
        name = f"table {table.qualname}"
        if table.kind == "f":
            missing.append(
                NotRebuilt(
                    f"foreign table {table.qualname}",
                    "the snapshot does not hold its server and options",
                )
            )
            continue
        if table.kind == "m":
            continue  # a materialized view: with the views
        if table.kind == "p" and not table.partition_key:
            missing.append(
                NotRebuilt(
                    name,
                    "it is partitioned by an expression, which the"
                    " snapshot does not hold (nor its partitions then)",
                )
            )
            continue
        target = qualified(table.schema, table.name)
        columns = sorted(snapshot.columns_by_table.get(table.oid, []), key=lambda c: c.position)
        parent = snapshot.table_by_oid.get(table.parent_oid or 0)
        unlogged = sql.SQL("UNLOGGED " if table.persistence == "u" else "")
        if parent is not None:
            if not table.partition_bound:
                missing.append(NotRebuilt(name, "its partition bound was not read"))
                continue
            statement = sql.SQL("CREATE {}TABLE {} PARTITION OF {} {}").format(
                unlogged,
                target,
                qualified(parent.schema, parent.name),
                sql.SQL(table.partition_bound),
            )
        else:
            body = sql.SQL(", ").join(column_sql(c, missing, domains) for c in columns)
            statement = sql.SQL("CREATE {}TABLE {} ({})").format(unlogged, target, body)
            if table.oid in inherits:
                statement += sql.SQL(" INHERITS ({})").format(
                    sql.SQL(", ").join(qualified(p.schema, p.name) for p in inherits[table.oid])
                )
        if table.kind == "p":
            keys = sql.SQL(", ").join(ident(key) for key in table.partition_key)
            strategy = sql.SQL((table.partition_strategy or "range").upper())
            statement += sql.SQL(" PARTITION BY {} ({})").format(strategy, keys)
        storage = options(table.reloptions) + options(table.toast_reloptions, "toast.")
        if storage:
            statement += sql.SQL(" WITH ({})").format(sql.SQL(", ").join(storage))
        steps.append(Step(name, text(statement)))
        if parent is not None:
            steps += partition_columns(table, parent, snapshot)
        if table.rls_enabled:
            steps.append(
                Step(name, text(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(target)))
            )
        if table.rls_forced:
            steps.append(
                Step(name, text(sql.SQL("ALTER TABLE {} FORCE ROW LEVEL SECURITY").format(target)))
            )
        steps += comment(name, "TABLE {}", table.comment, table.schema, table.name)
        for column in columns:
            steps += comment(
                f"column {column.qualname}",
                "COLUMN {}",
                column.comment,
                table.schema,
                table.name,
                column.name,
                within=name,
            )
    return steps


def partition_columns(table: Table, parent: Table, snapshot: Snapshot) -> list[Step]:
    """A partition's columns take the parent's defaults and NOT NULL; where its own
    differ, they are set on it."""
    steps = []
    theirs = {c.name: c for c in snapshot.columns_by_table.get(parent.oid, [])}
    target, within = qualified(table.schema, table.name), f"table {table.qualname}"
    for column in snapshot.columns_by_table.get(table.oid, []):
        other = theirs.get(column.name)
        if other is None or column.generated or column.identity:
            continue
        alter = sql.SQL("ALTER TABLE {} ALTER COLUMN {} ").format(target, ident(column.name))
        if column.default != other.default:
            change = (
                sql.SQL("DROP DEFAULT")
                if column.default is None
                else sql.SQL("SET DEFAULT {}").format(sql.SQL(column.default))
            )
            steps.append(Step(f"column {column.qualname}", text(alter + change), within=within))
        if column.not_null and not other.not_null:
            statement = text(alter + sql.SQL("SET NOT NULL"))
            steps.append(Step(f"column {column.qualname}", statement, within=within))
    return steps


def relation_step(table: Table) -> str:
    """The name of the step that makes a table or materialized view."""
    return f"{'materialized view' if table.kind == 'm' else 'table'} {table.qualname}"


CONSTRAINT_ORDER = {"p": 0, "u": 1, "x": 2, "c": 3, "f": 4}


def constraints(snapshot: Snapshot, missing: list[NotRebuilt], foreign: bool) -> list[Step]:
    """Each table's own constraints from their definitions: keys before the foreign keys
    that reference them; those a parent's constraint made come with it."""
    steps = []
    made = {t.oid for t in snapshot.tables if t.kind in ("r", "p")}
    ordered = sorted(snapshot.constraints, key=lambda c: CONSTRAINT_ORDER.get(c.kind, 5))
    for constraint in ordered:
        name = f"constraint {constraint.qualname}"
        if constraint.inherited or constraint.table_oid not in made:
            continue
        if (constraint.kind == "f") != foreign:
            continue
        if constraint.definition is None:
            missing.append(NotRebuilt(name, "its definition was not read (its table was locked)"))
            continue
        statement = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
            qualified(constraint.schema, constraint.table),
            ident(constraint.name),
            sql.SQL(constraint.definition),
        )
        steps.append(
            Step(name, text(statement), within=f"table {constraint.schema}.{constraint.table}")
        )
        steps += comment(
            name,
            "CONSTRAINT {} ON {}",
            constraint.comment,
            constraint.schema,
            constraint.table,
            constraint.name,
        )
    return steps


def indexes(snapshot: Snapshot, missing: list[NotRebuilt]) -> list[Step]:
    """Indexes that back no constraint, from their definitions (a partitioned table's
    prints as made ON ONLY it), then each partition's attached to its parent's."""
    steps = []
    made = {t.oid: relation_step(t) for t in snapshot.tables if t.kind in ("r", "p", "m")}
    ordered = sorted(snapshot.indexes, key=lambda i: i.parent_index_oid is None)
    for index in ordered:
        name = f"index {index.qualname}"
        if index.table_oid not in made:
            continue
        within = made[index.table_oid]
        if index.constraint_name is not None:  # made by its constraint
            within = f"constraint {index.schema}.{index.table}.{index.constraint_name}"
        else:
            if index.definition is None:
                missing.append(
                    NotRebuilt(name, "its definition was not read (its table was locked)")
                )
                continue
            steps.append(Step(name, index.definition, within=within))
            if not index.is_valid:
                missing.append(
                    NotRebuilt(
                        name,
                        "invalid in the snapshot (a CREATE INDEX"
                        " CONCURRENTLY that failed): rebuilt valid",
                    )
                )
        steps += comment(name, "INDEX {}", index.comment, index.schema, index.name, within=within)
        if index.is_replica_identity:
            statement = sql.SQL("ALTER TABLE {} REPLICA IDENTITY USING INDEX {}").format(
                qualified(index.schema, index.table), ident(index.name)
            )
            steps.append(Step(name, text(statement), within=within))
    by_oid = {index.oid: index for index in snapshot.indexes}
    for index in ordered:  # a partitioned table's index is made ON ONLY it: attach them
        parent = by_oid.get(index.parent_index_oid or 0)
        if parent is None or index.constraint_name is not None or index.table_oid not in made:
            continue
        attach = sql.SQL("ALTER INDEX {} ATTACH PARTITION {}").format(
            qualified(parent.schema, parent.name), qualified(index.schema, index.name)
        )
        steps.append(Step(f"index {index.qualname}", text(attach), within=made[index.table_oid]))
    for replica in snapshot.replication:
        table = snapshot.table_by_oid.get(replica.table_oid)
        if table is not None and table.oid in made and replica.replica_identity in REPLICA_IDENTITY:
            statement = sql.SQL("ALTER TABLE {} REPLICA IDENTITY {}").format(
                qualified(table.schema, table.name),
                sql.SQL(REPLICA_IDENTITY[replica.replica_identity]),
            )
            steps.append(Step(f"table {table.qualname}", text(statement)))
    return steps


# a stand-in view's column whose source is not known: a type of its type category
CATEGORY_TYPES = {
    "B": "boolean",
    "D": "timestamp with time zone",
    "N": "numeric",
    "T": "interval",
    "I": "inet",
    "A": "text[]",
}


def views(snapshot: Snapshot, missing: list[NotRebuilt]) -> list[Step]:
    """Views and materialized views as stand-ins: the snapshot holds their query as the
    server's node tree, which cannot be run; each stand-in has the view's name, options,
    columns (a materialized view's with their types) and reads the same columns of the
    same relations (what ALTER COLUMN ... TYPE and the rules about views see), each
    named as not rebuilt."""
    steps: list[Step] = []
    by_oid = {view.oid: view for view in snapshot.views}
    relations = {t.oid: (t.schema, t.name) for t in snapshot.tables if t.kind in ("r", "p")}
    relations.update((view.oid, (view.schema, view.name)) for view in snapshot.views)
    read_columns: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for used in snapshot.view_columns:
        read_columns.setdefault((used.view_schema, used.view), []).append(
            (used.table_oid, used.column)
        )
    placed: set[int] = set()

    def place(view: View, seen: frozenset[int]) -> None:
        if view.oid in placed or view.oid in seen:
            return
        for oid in view.reads:
            if oid in by_oid:
                place(by_oid[oid], seen | {view.oid})
        placed.add(view.oid)
        steps.extend(stand_in(snapshot, view, relations, read_columns, missing))

    for view in snapshot.views:
        place(view, frozenset())
    return steps


def stand_in(
    snapshot: Snapshot,
    view: View,
    relations: dict[int, tuple[str, str]],
    read_columns: dict[tuple[str, str], list[tuple[int, str]]],
    missing: list[NotRebuilt],
) -> list[Step]:
    kind = view_kind(view)
    name = f"{kind} {view.qualname}"
    missing.append(
        NotRebuilt(
            name,
            "a stand-in of its name, columns and the columns it reads:"
            " the snapshot holds its query as the server's node tree, not"
            " SQL",
        )
    )
    aliases = {oid: f"r{n}" for n, oid in enumerate(o for o in view.reads if o in relations)}
    reads = [
        (oid, column)
        for oid, column in read_columns.get((view.schema, view.name), [])
        if oid in aliases
    ]
    typed = {c.name: c.data_type for c in snapshot.columns_by_table.get(view.oid, [])}
    select = []
    for column, category in zip(view.columns, view.column_categories, strict=False):
        source = next((oid for oid, read in reads if read == column), None)
        if source is not None and column not in typed:
            value: sql.Composable = sql.Identifier(aliases[source], column)
        else:
            of_type = typed.get(column) or CATEGORY_TYPES.get(category, "text")
            value = sql.SQL("NULL::{}").format(sql.SQL(of_type))
        select.append(sql.SQL("{} AS {}").format(value, ident(column)))
    statement = sql.SQL("CREATE {} {}").format(
        sql.SQL(kind.upper()), qualified(view.schema, view.name)
    )
    if view.reloptions:
        statement += sql.SQL(" WITH ({})").format(sql.SQL(", ").join(options(view.reloptions)))
    statement += sql.SQL(" AS SELECT {}").format(sql.SQL(", ").join(select))
    if aliases:
        statement += sql.SQL(" FROM {}").format(
            sql.SQL(", ").join(
                sql.SQL("{} AS {}").format(qualified(*relations[oid]), ident(alias))
                for oid, alias in aliases.items()
            )
        )
    if reads:
        statement += sql.SQL(" WHERE ROW({}) IS NOT NULL").format(
            sql.SQL(", ").join(sql.Identifier(aliases[oid], column) for oid, column in reads)
        )
    if view.kind == "m":
        statement += sql.SQL(" WITH NO DATA")
    steps = [Step(name, text(statement))]
    what = "MATERIALIZED VIEW {}" if view.kind == "m" else "VIEW {}"
    return steps + comment(name, what, view.comment, view.schema, view.name)


def view_kind(view: View) -> str:
    return "materialized view" if view.kind == "m" else "view"


def functions(snapshot: Snapshot, missing: list[NotRebuilt]) -> list[Step]:
    """User functions and procedures whose body the snapshot holds (SQL, PL/pgSQL)."""
    steps = []
    for function in snapshot.functions:
        name = f"function {function.qualname}"
        if not function.user_defined or function.extension is not None:
            continue
        if function.source is None:
            missing.append(
                NotRebuilt(
                    name, f"the snapshot does not hold its body (language {function.language})"
                )
            )
            continue
        if function.standard_body:
            missing.append(
                NotRebuilt(
                    name,
                    "its body is SQL-standard (BEGIN ATOMIC or RETURN), which the server"
                    " deparses only under a lock on the tables it reads: the snapshot"
                    " does not hold it",
                )
            )
            continue
        target = routine(function)
        declared = function.declared_arguments
        head = sql.SQL("{}({})").format(
            qualified(function.schema, function.name),
            sql.SQL(function.arguments if declared is None else declared),
        )
        if function.kind == "p":
            head = sql.SQL("CREATE PROCEDURE {}").format(head)
        else:
            result = function.declared_result or function.result_type or "void"
            head = sql.SQL("CREATE FUNCTION {} RETURNS {}").format(head, sql.SQL(result))
        parts = [head, sql.SQL("LANGUAGE {}").format(ident(function.language))]
        if function.kind != "p":
            parts.append(sql.SQL(VOLATILITY.get(function.volatility, "VOLATILE")))
            parts += properties(function)
        if function.security_definer:
            parts.append(sql.SQL("SECURITY DEFINER"))
        for key, value in function.settings.items():
            parts.append(sql.SQL("SET {} = {}").format(ident(key), setting_value(key, value)))
        parts.append(sql.SQL("AS {}").format(sql.Literal(function.source)))
        steps.append(Step(name, text(sql.SQL(" ").join(parts)), again=True))
        if function.comment is not None:
            what = sql.SQL("FUNCTION {}").format(target)
            statement = sql.SQL("COMMENT ON {} IS {}").format(what, sql.Literal(function.comment))
            steps.append(Step(name, text(statement)))
    return steps


def properties(function: Function) -> list[sql.Composable]:
    """A function's STRICT, LEAKPROOF, PARALLEL, COST and ROWS, where the snapshot holds
    them (None: saved before they were read)."""
    found: list[sql.Composable] = []
    if function.strict:
        found.append(sql.SQL("STRICT"))
    if function.leakproof:
        found.append(sql.SQL("LEAKPROOF"))
    if function.parallel in PARALLEL:
        found.append(sql.SQL("PARALLEL {}").format(sql.SQL(PARALLEL[function.parallel])))
    if function.cost is not None:
        found.append(sql.SQL("COST {}").format(sql.Literal(function.cost)))
    if function.rows:  # only a set-returning function has an estimate of its rows
        found.append(sql.SQL("ROWS {}").format(sql.Literal(function.rows)))
    return found


def routine(function: Function) -> sql.Composable:
    """The function's qualified name and identity arguments, as CREATE and ALTER take it."""
    return sql.SQL("{}({})").format(
        qualified(function.schema, function.name), sql.SQL(function.arguments)
    )


def rebuilt(function: Function) -> bool:
    """Is the function rebuilt (a user's, not an extension's, with its body held)?"""
    return (
        function.user_defined
        and function.extension is None
        and function.source is not None
        and not function.standard_body
    )


# pg_aggregate's aggfinalmodify / aggmfinalmodify
FINAL_MODIFY = {"r": "READ_ONLY", "s": "SHAREABLE", "w": "READ_WRITE"}


def aggregates(snapshot: Snapshot, missing: list[NotRebuilt]) -> list[Step]:
    """User aggregates, normal, ordered-set and hypothetical-set, as CREATE AGGREGATE
    declared them: a function of theirs the rebuild lacks (one in C) makes the server
    refuse the aggregate, which names it."""
    steps = []
    for aggregate in snapshot.aggregates:
        name = f"aggregate {aggregate.qualname}"
        if aggregate.privileges_changed:
            missing.append(
                NotRebuilt(
                    f"grants on {name}",
                    "GRANT or REVOKE changed who may call it, which the snapshot does"
                    " not hold: it is executable by PUBLIC, as a new aggregate is",
                )
            )
        statement = sql.SQL("CREATE AGGREGATE {} ({})").format(
            aggregate_target(aggregate), sql.SQL(", ").join(aggregate_options(aggregate))
        )
        steps.append(Step(name, text(statement)))
        if aggregate.comment is not None:
            statement = sql.SQL("COMMENT ON AGGREGATE {} IS {}").format(
                aggregate_target(aggregate), sql.Literal(aggregate.comment)
            )
            steps.append(Step(name, text(statement)))
    return steps


def aggregate_options(aggregate: Aggregate) -> list[sql.Composable]:
    """What CREATE AGGREGATE declared, where it differs from the defaults."""
    named = {  # functions and types, as the server printed them
        "SFUNC": aggregate.transition,
        "STYPE": aggregate.state_type,
        "FINALFUNC": aggregate.final_function,
        "COMBINEFUNC": aggregate.combine_function,
        "SERIALFUNC": aggregate.serial_function,
        "DESERIALFUNC": aggregate.deserial_function,
        "MSFUNC": aggregate.moving_transition,
        "MINVFUNC": aggregate.moving_inverse,
        "MSTYPE": aggregate.moving_state_type,
        "MFINALFUNC": aggregate.moving_final_function,
    }
    found = [
        sql.SQL("{} = {}").format(sql.SQL(key), sql.SQL(value))
        for key, value in named.items()
        if value is not None
    ]
    for key, value in (
        ("INITCOND", aggregate.initial_condition),
        ("MINITCOND", aggregate.moving_initial_condition),
    ):
        if value is not None:
            found.append(sql.SQL("{} = {}").format(sql.SQL(key), sql.Literal(value)))
    for key, space in (
        ("SSPACE", aggregate.state_space),
        ("MSSPACE", aggregate.moving_state_space),
    ):
        if space:
            found.append(sql.SQL("{} = {}").format(sql.SQL(key), sql.Literal(space)))
    # the final functions' default: read-only, read-write for an ordered-set aggregate's
    default = "r" if aggregate.kind == "n" else "w"
    for key, modify in (
        ("FINALFUNC_MODIFY", aggregate.final_modify),
        ("MFINALFUNC_MODIFY", aggregate.moving_final_modify),
    ):
        if modify != default:
            found.append(sql.SQL(f"{key} = {FINAL_MODIFY[modify]}"))
    if aggregate.sort_operator is not None:
        found.append(sql.SQL("SORTOP = OPERATOR({})").format(sql.SQL(aggregate.sort_operator)))
    if aggregate.parallel in PARALLEL and aggregate.parallel != "u":
        found.append(sql.SQL(f"PARALLEL = {PARALLEL[aggregate.parallel]}"))
    for key, flag in (
        ("FINALFUNC_EXTRA", aggregate.final_extra),
        ("MFINALFUNC_EXTRA", aggregate.moving_final_extra),
        ("HYPOTHETICAL", aggregate.kind == "h"),
    ):
        if flag:
            found.append(sql.SQL(key))
    return found


def aggregate_target(aggregate: Aggregate) -> sql.Composable:
    """The aggregate's qualified name and arguments, as CREATE and ALTER AGGREGATE take
    them (`*` for none)."""
    return sql.SQL("{}({})").format(
        qualified(aggregate.schema, aggregate.name), sql.SQL(aggregate.arguments or "*")
    )


def setting_value(key: str, value: str) -> sql.Composable:
    """A proconfig value as SET takes it: search_path's list of names as they are."""
    if key == "search_path":
        return sql.SQL(value)
    return sql.Literal(value)


def triggers(snapshot: Snapshot) -> list[Step]:
    """Triggers from their definitions (WHEN, arguments, UPDATE OF columns, transition
    tables, a constraint trigger's deferral), then how they fire (disabled, on a replica
    only, always); one a partition has from its parent's trigger comes with it."""
    steps = []
    names = {(t.table_oid, t.name) for t in snapshot.triggers}
    for trigger in snapshot.triggers:
        table = snapshot.table_by_oid.get(trigger.table_oid)
        if table is None:
            continue
        if table.parent_oid is not None and (table.parent_oid, trigger.name) in names:
            continue  # cloned from its parent's
        name = f"trigger {trigger.qualname}"
        create = trigger.definition or held_trigger_sql(trigger)
        steps.append(Step(name, create, within=relation_step(table)))
        firing = TRIGGER_FIRING.get(trigger.fires or ("O" if trigger.enabled else "D"))
        if firing is not None:
            alter = sql.SQL("ALTER TABLE {} {} TRIGGER {}").format(
                qualified(trigger.schema, trigger.table), sql.SQL(firing), ident(trigger.name)
            )
            steps.append(Step(name, text(alter)))
    return steps


def held_trigger_sql(trigger: Trigger) -> str:
    """A trigger of a snapshot saved before definitions were read: its timing, events,
    row or statement, and function."""
    statement = sql.SQL("CREATE TRIGGER {} {} {} ON {} FOR EACH {} EXECUTE FUNCTION {}()")
    return text(
        statement.format(
            ident(trigger.name),
            sql.SQL(trigger.timing.upper().replace("INSTEAD", "INSTEAD OF")),
            sql.SQL(" OR ").join(sql.SQL(event.upper()) for event in trigger.events),
            qualified(trigger.schema, trigger.table),
            sql.SQL("ROW" if trigger.for_each_row else "STATEMENT"),
            qualified(trigger.function_schema, trigger.function_name),
        )
    )


def policies(snapshot: Snapshot, missing: list[NotRebuilt]) -> list[Step]:
    steps = []
    for policy in snapshot.policies:
        name = f"policy {policy.qualname}"
        if (policy.using_tree and policy.using is None) or (
            policy.with_check_tree and policy.with_check is None
        ):
            missing.append(NotRebuilt(name, "its expressions were not read (its table was locked)"))
            continue
        roles = sql.SQL(", ").join(
            sql.SQL("PUBLIC") if role == "public" else ident(role) for role in policy.roles
        )
        statement = sql.SQL("CREATE POLICY {} ON {} AS {} FOR {} TO {}").format(
            ident(policy.name),
            qualified(policy.schema, policy.table),
            sql.SQL("PERMISSIVE" if policy.permissive else "RESTRICTIVE"),
            sql.SQL(policy.command),
            roles,
        )
        if policy.using is not None:
            statement += sql.SQL(" USING ({})").format(sql.SQL(policy.using))
        if policy.with_check is not None:
            statement += sql.SQL(" WITH CHECK ({})").format(sql.SQL(policy.with_check))
        steps.append(Step(name, text(statement), within=f"table {policy.schema}.{policy.table}"))
        steps += comment(
            name, "POLICY {} ON {}", policy.comment, policy.schema, policy.table, policy.name
        )
    return steps


OWNED = {
    "schema": "SCHEMA",
    "table": "TABLE",
    "view": "VIEW",
    "function": "ROUTINE",
    "materialized view": "MATERIALIZED VIEW",
    "sequence": "SEQUENCE",
    "domain": "DOMAIN",
    "type": "TYPE",
    "aggregate": "AGGREGATE",
}
# owns what the server made, whoever made the database (the public schema, PG 15+)
IMPLICIT_OWNERS = frozenset({"pg_database_owner"})


def owners_and_grants(snapshot: Snapshot) -> list[Step]:
    """Each object's owner and the privileges granted on it (the roles must exist on
    the review's server: where one does not, the server's refusal names what is not
    rebuilt)."""
    steps = []
    owned: list[tuple[str, str, sql.Composable, str]] = []
    for schema in snapshot.schemas:
        owned.append(("schema", schema.name, ident(schema.name), schema.owner))
    for table in snapshot.tables:
        if table.kind in ("r", "p") and table.parent_oid is None:
            owned.append(
                ("table", table.qualname, qualified(table.schema, table.name), table.owner)
            )
    for view in snapshot.views:
        kind = view_kind(view)
        owned.append((kind, view.qualname, qualified(view.schema, view.name), view.owner))
    for domain in snapshot.domains:
        target = qualified(domain.schema, domain.name)
        owned.append(("domain", domain.qualname, target, domain.owner))
    for composite in snapshot.composite_types:
        target = qualified(composite.schema, composite.name)
        owned.append(("type", composite.qualname, target, composite.owner))
    for made in snapshot.range_types:
        owned.append(("type", made.qualname, qualified(made.schema, made.name), made.owner))
    made = [function for function in snapshot.functions if rebuilt(function)]
    for function in made:
        owned.append(("function", function.qualname, routine(function), function.owner))
    for aggregate in snapshot.aggregates:
        target = aggregate_target(aggregate)
        owned.append(("aggregate", aggregate.qualname, target, aggregate.owner))
    for kind, name, target, owner in owned:
        if owner not in IMPLICIT_OWNERS:  # the same role as the rebuild's: nothing changes
            statement = sql.SQL("ALTER {} {} OWNER TO {}").format(
                sql.SQL(OWNED[kind]), target, ident(owner)
            )
            steps.append(Step(f"owner of {kind} {name}", text(statement), within=f"{kind} {name}"))
    # a new function is executable by PUBLIC; the snapshot lists that grant where it held
    callable_by_all = {
        grant.object_oid
        for grant in snapshot.privileges
        if grant.kind == "function" and grant.grantee == "PUBLIC" and "EXECUTE" in grant.privileges
    }
    if "privileges" not in snapshot.not_collected:
        for function in made:
            if function.oid not in callable_by_all:
                revoke = sql.SQL("REVOKE EXECUTE ON ROUTINE {} FROM PUBLIC").format(
                    routine(function)
                )
                name = f"function {function.qualname}"
                steps.append(Step(f"grant to PUBLIC on {name}", text(revoke), within=name))
    relations = {table.oid: relation_step(table) for table in snapshot.tables}
    relations.update((view.oid, f"{view_kind(view)} {view.qualname}") for view in snapshot.views)
    # foreign tables and the functions not rebuilt are named as such already: their grants
    # would only be refused again
    foreign = {table.oid for table in snapshot.tables if table.kind == "f"}
    made_by_oid = {function.oid: function for function in made}
    for grant in snapshot.privileges:
        if grant.object_oid in foreign or (
            grant.kind == "function" and grant.object_oid not in made_by_oid
        ):
            continue
        grantee = sql.SQL("PUBLIC") if grant.grantee == "PUBLIC" else ident(grant.grantee)
        privileges = sql.SQL(", ").join(sql.SQL(p) for p in grant.privileges)
        within = relations.get(grant.object_oid)
        if grant.kind == "schema":
            target, within = sql.SQL("SCHEMA {}").format(ident(grant.name)), f"schema {grant.name}"
        elif grant.kind == "function":
            function = made_by_oid[grant.object_oid]
            within = f"function {function.qualname}"
            target = sql.SQL("ROUTINE {}").format(routine(function))
        else:
            target = sql.SQL("TABLE {}").format(qualified(grant.schema, grant.name))
            if grant.column is not None:
                privileges = sql.SQL(", ").join(
                    sql.SQL("{} ({})").format(sql.SQL(p), ident(grant.column))
                    for p in grant.privileges
                )
        statement = sql.SQL("GRANT {} ON {} TO {}").format(privileges, target, grantee)
        shown = f"{grant.schema}.{grant.name}" if grant.kind != "schema" else grant.name
        if grant.column is not None:
            shown += f".{grant.column}"
        name = f"grant to {grant.grantee} on {grant.kind} {shown}"
        steps.append(Step(name, text(statement), within=within))
    return steps


def not_held(snapshot: Snapshot) -> list[NotRebuilt]:
    """Kinds of what the snapshot holds that are not rebuilt, one entry each."""
    found = []
    older = "which a snapshot saved by an older pgvitals does not hold"
    if any(rebuilt(f) and f.declared_arguments is None for f in snapshot.functions):
        found.append(NotRebuilt("functions", "rebuilt from their bodies and identity"
                                " arguments: not their argument defaults, OUT arguments,"
                                f" SETOF, STRICT, cost or parallel safety, {older}"))  # fmt: skip
    if any(trigger.definition is None for trigger in snapshot.triggers):
        found.append(NotRebuilt("triggers", "rebuilt from their timing, events, row or"
                                " statement and function: not their WHEN, arguments or"
                                f" UPDATE OF columns, {older}"))  # fmt: skip
    if "aggregates" in snapshot.not_collected:
        found.append(NotRebuilt("aggregates", f"none is rebuilt, {older}"))
    publications = sorted({p for r in snapshot.replication for p in r.publications})
    if publications:
        found.append(
            NotRebuilt(
                "publications " + ", ".join(publications),
                "the snapshot holds which tables they publish, not their definitions",
            )
        )
    return found
