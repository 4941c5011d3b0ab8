"""Fix and rollback SQL. Every name is quoted: with psycopg.sql, or, for the statements
built by the thousand at scale (indexes, foreign keys), with `quote_identifier` (always
quoted, quotes doubled: what psycopg.sql.Identifier writes) in plain text, a tenth of
the cost of composing them with psycopg.sql.

Fixes are written to files for a human to review and run; pgvitals never runs them.
Forms that avoid long locks are preferred: CREATE/DROP INDEX CONCURRENTLY, and
constraints added NOT VALID then validated. Each helper returns a `Fix` whose risk
(lock level, rewrite, drop, transaction) it declares from what the statement does,
as PostgreSQL's documentation of each command states it.

A rollback restores what was there: applying fix.sql and then rollback.sql leaves
`pg_dump --schema-only` as it was (tests/test_fixes*.py prove it). Where that
cannot be promised, no fix is offered and `NoFix` says why.

New objects get names from the snapshot's `Facts.names`, unique in their schema and
in the script.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from collections.abc import Sequence as Seq
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from pgvitals.findings import Fix, Risk
from pgvitals.snapshot.facts import INTEGER_RANGES
from pgvitals.snapshot.model import (
    Column,
    Constraint,
    Extension,
    Function,
    Index,
    Policy,
    Sequence,
    Snapshot,
    Table,
    View,
)
from pgvitals.snapshot.profile import quote_identifier

MAX_COLUMNS = 1600  # MaxHeapAttributeNumber: dropped columns count towards it too


@dataclass(frozen=True, slots=True)
class NoFix:
    """Why a finding comes without a fix; the rule puts it in the evidence."""

    reason: str


def offered(result: Fix | NoFix, evidence: dict[str, Any]) -> Fix | None:
    """The fix, or None with the reason recorded in the finding's evidence."""
    if isinstance(result, NoFix):
        evidence["no_automatic_fix"] = result.reason
        return None
    return result


def text(statement: sql.Composable) -> str:
    return statement.as_string(None)


def qualified(schema: str, name: str) -> str:
    return f"{quote_identifier(schema)}.{quote_identifier(name)}"


def quoted_list(columns: Seq[str]) -> str:
    return ", ".join(map(quote_identifier, columns))


def name_of(schema: str, name: str) -> sql.Identifier:
    return sql.Identifier(schema, name)


def relation(table: Table) -> sql.Identifier:
    return name_of(table.schema, table.name)


def columns_list(columns: Seq[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(column) for column in columns)


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def one_line(name: str) -> str:
    """A name safe inside a `--` comment: control characters shown escaped, so a name
    with a newline cannot put its own text on a line of SQL."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], name)


# Declared risks of the statements built here.
CONCURRENT_BUILD = Risk(lock="SHARE UPDATE EXCLUSIVE", transactional=False)
PLAIN_BUILD = Risk(lock="SHARE")  # CREATE INDEX: blocks writes while it builds
BRIEF_ALTER = Risk(lock="ACCESS EXCLUSIVE")  # catalog-only ALTER TABLE: brief, but blocks all
REWRITE = Risk(lock="ACCESS EXCLUSIVE", rewrites=True)
MAINTENANCE = Risk(lock="SHARE UPDATE EXCLUSIVE", transactional=False)  # VACUUM
RELOPTION = Risk(lock="SHARE UPDATE EXCLUSIVE")  # ALTER TABLE ... SET/RESET (autovacuum_*)


# --- indexes -----------------------------------------------------------------------


def plain_columns(index: Index) -> tuple[str, ...] | None:
    """The key columns of a btree index that is nothing but them, as
    `CREATE INDEX ... (columns)` would make it: default operator classes and
    collations, ascending, no INCLUDE, predicate, expression, storage options or
    NULLS NOT DISTINCT. None for any other index, or one whose definition is unknown.

    Read from the server's own definition, which names an operator class or
    collation only where it is not the column's default."""
    keys = index.key_columns[: index.key_count]
    if (
        index.definition is None
        or index.method != "btree"
        or len(index.key_columns) != index.key_count
        or index.is_partial
        or any(column is None for column in keys)
        or any(index.sort_options)
    ):
        return None
    listed = ", ".join(k or "" for k in index.key_definitions[: index.key_count])
    if not index.definition.endswith(f" USING btree ({listed})"):
        return None
    return tuple(column for column in keys if column is not None)


def index_comment(index: Index) -> list[str]:
    if index.comment is None:
        return []
    statement = sql.SQL("COMMENT ON INDEX {index} IS {comment};").format(
        index=name_of(index.schema, index.name), comment=sql.Literal(index.comment)
    )
    return [text(statement)]


def create_statement(index: Index, *, partitioned: bool, if_not_exists: bool = False) -> str:
    """The index's own definition (as the server deparsed it), built CONCURRENTLY
    where it can be: not on a partitioned table, where the definition says ON ONLY."""
    assert index.definition is not None
    head = r"^CREATE (UNIQUE )?INDEX "
    extra = ("" if partitioned else "CONCURRENTLY ") + ("IF NOT EXISTS " if if_not_exists else "")
    return re.sub(head, lambda m: f"{m.group()}{extra}", index.definition, count=1) + ";"


def attach_statement(parent: sql.Identifier, child: sql.Identifier) -> str:
    attach = sql.SQL("ALTER INDEX {parent} ATTACH PARTITION {child};")
    return text(attach.format(parent=parent, child=child))


def restore_index(
    snap: Snapshot, index: Index, *, if_not_exists: bool = False
) -> list[str] | NoFix:
    """Statements that make `index` again as it was. On a partitioned table: created ON
    ONLY the table, then each partition's index under its own name (recursively)
    and attached, which makes the parent's index valid again. `if_not_exists`: skip
    what is still there (attaching an attached index again does nothing)."""
    if index.definition is None:
        return NoFix(
            f"the definition of index {one_line(index.qualname)} could not be read (its table"
            " was locked during the check), so removing it could not be undone"
        )
    table = snap.table_by_oid[index.table_oid]
    statements = [
        create_statement(index, partitioned=table.kind == "p", if_not_exists=if_not_exists)
    ]
    if table.kind == "p":
        children = snap.facts.attached_indexes.get(index.oid, [])
        indexed = {child.table_oid for child in children}
        for partition in snap.facts.partitions_by_parent.get(table.oid, []):
            if partition.kind != "f" and partition.oid not in indexed:
                return NoFix(
                    f"partition {one_line(partition.qualname)} has no index attached to"
                    f" {one_line(index.qualname)} in the snapshot, so it could not be restored"
                )
        for child in children:
            restored = restore_index(snap, child, if_not_exists=if_not_exists)
            if isinstance(restored, NoFix):
                return restored
            attach = attach_statement(
                name_of(index.schema, index.name), name_of(child.schema, child.name)
            )
            statements += [*restored, attach]
    return statements + index_comment(index)


# How pg_get_indexdef writes an index's head: `CREATE [UNIQUE] INDEX name ON [ONLY]
# schema.table `, each name bare or quoted (quotes doubled); the rest says what it indexes
IDENTIFIER = r'(?:"(?:[^"]|"")*"|[^\s".]+)'
INDEX_HEAD = re.compile(
    rf"^CREATE (?P<unique>UNIQUE )?INDEX {IDENTIFIER} ON (?:ONLY )?{IDENTIFIER}\.{IDENTIFIER}"
    r" (?P<rest>USING .*)$",
    re.DOTALL,
)


def complete_partitioned_index(snap: Snapshot, index: Index) -> Fix | NoFix:
    """The indexes that the partitions of `index`'s partitioned table lack, each built
    like it (CONCURRENTLY on a leaf, ON ONLY a sub-partitioned one, then its own
    partitions') and attached to it: once every partition has one, the index is valid.

    An attached index cannot be detached or dropped on its own, so the rollback drops
    `index` (with every index attached to it) and makes it again as it was: ON ONLY the
    table, the indexes that were attached before rebuilt and attached, the rest not."""
    table = snap.table_by_oid[index.table_oid]
    head = INDEX_HEAD.match(index.definition or "")
    if head is None:
        return NoFix(f"the definition of index {one_line(index.qualname)} could not be read")
    refused = used_by_foreign_keys(snap, index) or backs_a_partition_key(snap, index)
    if refused is not None or index.constraint_name:
        return refused or NoFix(
            f"{one_line(index.qualname)} backs constraint {one_line(index.constraint_name or '')},"
            " so it cannot be dropped to undo the fix"
        )
    statements: list[str] = []
    plain = complete_below(snap, index, table, head["unique"] or "", head["rest"], statements)
    restore = [create_statement(index, partitioned=True)]
    for child in snap.facts.attached_indexes.get(index.oid, []):
        restored = restore_index(snap, child)
        if isinstance(restored, NoFix):
            return restored
        attach = attach_statement(
            name_of(index.schema, index.name), name_of(child.schema, child.name)
        )
        restore += [*restored, attach]
    drop = drop_index_statement(index.schema, index.name, concurrently=False)
    risk = CONCURRENT_BUILD | PLAIN_BUILD if plain else CONCURRENT_BUILD
    return Fix(tuple(statements), (drop, *restore, *index_comment(index)), risk)


def complete_below(
    snap: Snapshot, index: Index, table: Table, unique: str, rest: str, statements: list[str]
) -> bool:
    """Append, for each partition of `table` with no index attached to `index`, one built
    as `rest` says and attached (recursively below a sub-partitioned one); True when one
    of them is built ON ONLY a sub-partitioned partition (no CONCURRENTLY there)."""
    names = snap.facts.names
    attached = {child.table_oid: child for child in snap.facts.attached_indexes.get(index.oid, [])}
    keys = "_".join(column or "expr" for column in index.key_columns[: index.key_count])
    plain = False
    for partition in snap.facts.partitions_by_parent.get(table.oid, []):
        if partition.kind == "f":
            continue  # a foreign partition takes no index
        child = attached.get(partition.oid)
        if child is not None:
            if partition.kind == "p" and not child.is_valid:
                plain |= complete_below(snap, child, partition, unique, rest, statements)
            continue
        name = names.new(
            partition.schema, partition.name, keys, "idx", ("complete", index.oid, partition.oid)
        )
        only = "ONLY " if partition.kind == "p" else ""
        concurrently = "" if partition.kind == "p" else "CONCURRENTLY "
        statements.append(
            f"CREATE {unique}INDEX {concurrently}{quote_identifier(name)} ON {only}"
            f"{qualified(partition.schema, partition.name)} {rest};"
        )
        if partition.kind == "p":
            plain = True
            built = index._replace(oid=-partition.oid, schema=partition.schema, name=name)
            complete_below(snap, built, partition, unique, rest, statements)
        statements.append(
            attach_statement(name_of(index.schema, index.name), name_of(partition.schema, name))
        )
    return plain


def tree_of(snap: Snapshot, index: Index) -> list[Index]:
    """The index and every partition's index attached below it."""
    tree = [index]
    for child in snap.facts.attached_indexes.get(index.oid, []):
        tree += tree_of(snap, child)
    return tree


def used_by_foreign_keys(snap: Snapshot, index: Index) -> NoFix | None:
    """Foreign keys that reference a key through this index (or a partition's index
    under it): the index cannot go while they do."""
    using = [
        fk
        for part in tree_of(snap, index)
        for fk in snap.facts.foreign_keys_using_index.get(part.oid, [])
    ]
    if not using:
        return None
    names = one_line(", ".join(sorted({fk.qualname for fk in using})))
    return NoFix(
        f"foreign keys reference their key through this index ({names}); re-point them first"
    )


def backs_a_partition_key(snap: Snapshot, index: Index) -> NoFix | None:
    """A partition's key constraint whose index is attached below this one: dropping
    this index would drop that constraint's index, which PostgreSQL refuses."""
    for part in tree_of(snap, index)[1:]:
        if part.constraint_name:
            return NoFix(
                f"the index of partition key {one_line(part.constraint_name)} on"
                f" {one_line(part.schema)}.{one_line(part.table)} is attached to this one,"
                " which therefore cannot be dropped"
            )
    return None


def index_statement(
    name: str,
    table: Table,
    columns: Seq[str],
    *,
    concurrently: bool = False,
    only: bool = False,
    if_not_exists: bool = False,
) -> str:
    return (
        f"CREATE INDEX {'CONCURRENTLY ' if concurrently else ''}"
        f"{'IF NOT EXISTS ' if if_not_exists else ''}{quote_identifier(name)}"
        f" ON {'ONLY ' if only else ''}{qualified(table.schema, table.name)}"
        f" ({quoted_list(columns)});"
    )


def create_index(
    snap: Snapshot, table: Table, columns: Seq[str], *, if_not_exists: bool = False
) -> Fix:
    """A btree index on `columns`, built CONCURRENTLY: it does not block writes.

    `if_not_exists` for a fix that builds the index as one step of its own (the key of
    missing-foreign-key): another fix of the script may build the same index alone,
    under the same name (`Facts.names`), and each fix must still run on its own.

    A partitioned table's index cannot be built concurrently. Created on the parent,
    it builds one per partition while holding SHARE on every partition for the whole
    build (writes wait, however long the build takes), and adopts a partition's
    existing index on the same columns instead of building one; dropping it (the
    rollback) would then drop that index too. So the parent's index is created ON
    ONLY the parent (empty, brief), and each partition's index is built CONCURRENTLY
    under a name of its own and attached; where a partition has such an index
    already, it stays (a duplicate that can be dropped later). Only with a foreign
    partition, which takes no index, is the index built on the parent in one go."""
    names = snap.facts.names
    joined = "_".join(columns)
    name = names.new(table.schema, table.name, joined, "idx", ("index", table.oid, tuple(columns)))
    if table.kind != "p":
        create = index_statement(
            name, table, columns, concurrently=True, if_not_exists=if_not_exists
        )
        drop = drop_index_statement(table.schema, name, concurrently=True)
        return Fix((create,), (drop,), CONCURRENT_BUILD)
    drop = drop_index_statement(table.schema, name, concurrently=False)
    below = partitions_below(snap, table)
    has_foreign = any(partition.kind == "f" for partition in below)
    overlapping = [
        index
        for partition in below
        for index in snap.indexes_by_table.get(partition.oid, [])
        if adoptable(index, columns)
    ]
    if has_foreign and not overlapping:
        for partition in below:
            if partition.kind != "f":  # a plain index skips foreign partitions
                # the name PostgreSQL will give the partition's index: no later fix takes it
                names.new(
                    partition.schema, partition.name, joined, "idx", ("auto", name, partition.oid)
                )
        create = index_statement(name, table, columns, if_not_exists=if_not_exists)
        return Fix((create,), (drop,), PLAIN_BUILD).with_note(
            "a foreign partition takes no index, so the index is built on the partitioned"
            " table in one go: writes to every partition wait until it is built"
        )
    if has_foreign:
        # ON ONLY would leave the index invalid forever: a foreign partition has none
        restores: list[str] = []
        for index in overlapping:
            restored = restore_index(snap, index, if_not_exists=True)
            if isinstance(restored, NoFix):
                return restored
            restores += restored
        create = index_statement(name, table, columns, if_not_exists=if_not_exists)
        return Fix((create,), (drop, *restores), PLAIN_BUILD)
    statements = [index_statement(name, table, columns, only=True, if_not_exists=if_not_exists)]
    attach_tree(snap, table, columns, name, statements, if_not_exists=if_not_exists)
    fix = Fix(tuple(statements), (drop,), CONCURRENT_BUILD | PLAIN_BUILD)
    if not overlapping:
        return fix
    return fix.with_note(
        "partitions already have an index on these columns; each gets a new one, attached to"
        " the table's index (one that adopted theirs would take them with it when dropped)"
    )


def reference_index(
    snap: Snapshot, table: Table, columns: Seq[str], *, if_not_exists: bool = False
) -> Fix:
    """The index a reference's fix builds on its referencing columns: on them, or, where
    another unindexed reference of the table begins with them (`(tenant_id)` beside
    `(tenant_id, course_id)`), on the longest such reference's columns, which serve both
    lookups. Two indexes would leave the shorter a redundant prefix of the longer
    (redundant-index on the fixed schema). Every fix whose index is shared builds it
    under the same name with IF NOT EXISTS: each still runs on its own, in any order."""
    planned = snap.facts.unindexed_references.get(table.oid, [])

    def covering(wanted: Seq[str]) -> tuple[str, ...]:
        # the longest planned index whose leading columns are these (in any order, as
        # a lookup on all of them can use it); the first of equal length
        starting = [p for p in planned if set(p[: len(wanted)]) == set(wanted)]
        return max(starting, key=len, default=tuple(wanted))

    built = covering(columns)
    shared = len({p for p in planned if covering(p) == built} | {tuple(columns)}) > 1
    # a partitioned table above with the same reference builds this partition's index
    # under the same name (attach_tree): whichever runs second skips it
    shared = shared or any(
        built in snap.facts.unindexed_references.get(above.oid, [])
        for above in snap.facts.ancestors(table)
    )
    fix = create_index(snap, table, built, if_not_exists=if_not_exists or shared)
    for shorter in prefixes_of(snap, table, built):
        fix = fix.with_note(
            f"{shorter.name} on ({', '.join(shorter.key_columns[: shorter.key_count])}) leads"
            " the new index: once it is built, redundant-index offers to drop that one"
        )
    if built == tuple(columns):
        return fix
    return fix.with_note(
        f"the index is on ({', '.join(built)}), which another reference of the table"
        " needs: it serves this one's lookups too"
    )


def prefixes_of(snap: Snapshot, table: Table, columns: Seq[str]) -> list[Index]:
    """The table's plain btree indexes whose keys lead a new index on `columns` (Concourse's
    volumes_parent_id beside the (parent_id, parent_state) a reference's fix builds): made
    redundant by it, unless they enforce something."""
    found = []
    for index in snap.indexes_by_table.get(table.oid, []):
        keys = tuple(index.key_columns[: index.key_count])
        if (
            index.method == "btree"
            and index.is_valid
            and not (index.is_unique or index.constraint_name or index.is_partial)
            and not index.has_expressions
            and len(keys) < len(columns)
            and keys == tuple(columns[: len(keys)])
        ):
            found.append(index)
    return found


def attach_tree(
    snap: Snapshot,
    table: Table,
    columns: Seq[str],
    parent: str,
    statements: list[str],
    *,
    if_not_exists: bool = False,
) -> None:
    """Append, for every partition of `table`, an index of its own on `columns` (ON ONLY
    a sub-partitioned one, then its partitions'), attached to index `parent` (attaching
    an attached index again does nothing)."""
    names = snap.facts.names
    joined = "_".join(columns)
    for partition in snap.facts.partitions_by_parent.get(table.oid, []):
        # a leaf's index under the name its own fix would give it (create_index's
        # purpose): where the partition's own foreign key needs one too, both fixes
        # build the same index, not two (pagila's payment_p2022_01.rental_id)
        purpose: tuple[Any, ...] = (
            ("partition index", parent, partition.oid)
            if partition.kind == "p"
            else ("index", partition.oid, tuple(columns))
        )
        name = names.new(partition.schema, partition.name, joined, "idx", purpose)
        if partition.kind == "p":
            statements.append(
                index_statement(name, partition, columns, only=True, if_not_exists=if_not_exists)
            )
            attach_tree(snap, partition, columns, name, statements, if_not_exists=if_not_exists)
        else:
            statements.append(
                index_statement(
                    name, partition, columns, concurrently=True, if_not_exists=if_not_exists
                )
            )
        statements.append(
            attach_statement(name_of(table.schema, parent), name_of(partition.schema, name))
        )


def partitions_below(snap: Snapshot, table: Table) -> list[Table]:
    """Every partition of a partitioned table, at every depth, parents first."""
    found = []
    for partition in snap.facts.partitions_by_parent.get(table.oid, []):
        found += [partition, *partitions_below(snap, partition)]
    return found


def adoptable(index: Index, columns: Seq[str]) -> bool:
    """Could CREATE INDEX on the parent adopt this partition's index? PostgreSQL
    compares columns, operator families, collations, expressions and predicate (not
    the sort order); this errs on the side of yes, which costs only the longer form
    of `create_index` or a skipped `IF NOT EXISTS` in its rollback."""
    return (
        index.parent_index_oid is None
        and not index.is_unique
        and index.method == "btree"
        and not index.is_partial
        and len(index.key_columns) == index.key_count == len(columns)
        and list(index.key_columns) == list(columns)
    )


def drop_index_statement(schema: str, name: str, *, concurrently: bool = True) -> str:
    concurrent = "CONCURRENTLY " if concurrently else ""
    return f"DROP INDEX {concurrent}IF EXISTS {qualified(schema, name)};"


def drop_index(snap: Snapshot, index: Index) -> Fix | NoFix:
    """Drop an index (or the constraint it backs), with the rollback that brings it
    back as it was; a drop without a way back is not offered."""
    if index.constraint_name:
        constraint = snap.facts.constraint_by_name[(index.table_oid, index.constraint_name)]
        return drop_constraint(snap, constraint)
    blocked = used_by_foreign_keys(snap, index) or backs_a_partition_key(snap, index)
    if blocked:
        return blocked
    restore = restore_index(snap, index)
    if isinstance(restore, NoFix):
        return restore
    partitioned = snap.table_by_oid[index.table_oid].kind == "p"
    # DROP INDEX CONCURRENTLY cannot drop a partitioned table's index
    drop = drop_index_statement(index.schema, index.name, concurrently=not partitioned)
    lock = "ACCESS EXCLUSIVE" if partitioned else "SHARE UPDATE EXCLUSIVE"
    return Fix((drop,), tuple(restore), Risk(lock=lock, drops=True, transactional=partitioned))


# --- constraints ---------------------------------------------------------------------


def drop_constraint_statement(constraint: Constraint) -> str:
    return text(
        sql.SQL("ALTER TABLE {table} DROP CONSTRAINT {name};").format(
            table=name_of(constraint.schema, constraint.table),
            name=sql.Identifier(constraint.name),
        )
    )


def storage_parameters(options: Seq[str]) -> sql.Composable:
    """` WITH (name = 'value', ...)`, or nothing."""
    if not options:
        return sql.SQL("")
    pairs = (option.partition("=") for option in options)
    listed = sql.SQL(", ").join(
        sql.SQL("{name} = {value}").format(name=sql.Identifier(name), value=sql.Literal(value))
        for name, _, value in pairs
    )
    return sql.SQL(" WITH ({})").format(listed)


KEYS = ("p", "u")  # constraints whose index the definition describes, options aside
# " DEFERRABLE" and " INITIALLY DEFERRED" end pg_get_constraintdef's text where they apply
DEFERRAL = re.compile(r" DEFERRABLE(?: INITIALLY DEFERRED)?$")


def add_constraint_statement(constraint: Constraint, options: Seq[str] = ()) -> str:
    """`options`: the storage parameters of a key's index, which pg_get_constraintdef
    leaves out of the definition (it prints them only for ALTER TABLE's own use);
    they go before DEFERRABLE, where that command has them."""
    assert constraint.definition is not None
    definition = constraint.definition
    deferral = DEFERRAL.search(definition)
    at = deferral.start() if deferral else len(definition)
    return text(
        sql.SQL("ALTER TABLE {table} ADD CONSTRAINT {name} {head}{options}{tail};").format(
            table=name_of(constraint.schema, constraint.table),
            name=sql.Identifier(constraint.name),
            head=sql.SQL(definition[:at]),
            options=storage_parameters(options),
            tail=sql.SQL(definition[at:]),
        )
    )


def constraint_comment(constraint: Constraint) -> list[str]:
    if constraint.comment is None:
        return []
    statement = sql.SQL("COMMENT ON CONSTRAINT {name} ON {table} IS {comment};").format(
        name=sql.Identifier(constraint.name),
        table=name_of(constraint.schema, constraint.table),
        comment=sql.Literal(constraint.comment),
    )
    return [text(statement)]


def restore_constraint(snap: Snapshot, constraint: Constraint) -> list[str] | NoFix:
    """Statements that add the constraint again as it was. On a partitioned table the
    partitions' constraints come first, under their own names: adding the parent's
    then adopts them instead of building indexes with names of its own."""
    if constraint.definition is None:
        return NoFix(
            f"the definition of constraint {one_line(constraint.qualname)} could not be read"
            " (its table was locked during the check), so removing it could not be undone"
        )
    statements: list[str] = []
    index = snap.facts.index_by_oid.get(constraint.index_oid or -1)
    for child in snap.facts.attached_indexes.get(index.oid, []) if index else []:
        below = snap.facts.constraint_by_name.get((child.table_oid, child.constraint_name or ""))
        if below is None:
            return NoFix(f"the constraint of partition index {one_line(child.qualname)} is unknown")
        restored = restore_constraint(snap, below)
        if isinstance(restored, NoFix):
            return restored
        statements += restored
    options = index.reloptions if index and constraint.kind in KEYS else ()
    return [
        *statements,
        add_constraint_statement(constraint, options),
        *constraint_comment(constraint),
    ]


def drop_constraint(snap: Snapshot, constraint: Constraint) -> Fix | NoFix:
    """Drop a key constraint and its index (on a partitioned table, the partitions'
    constraints with it); the rollback adds them back under their own names."""
    index = snap.facts.index_by_oid.get(constraint.index_oid or -1)
    blocked = used_by_foreign_keys(snap, index) if index else None
    if blocked:
        return blocked
    restore = restore_constraint(snap, constraint)
    if isinstance(restore, NoFix):
        return restore
    return Fix(
        (drop_constraint_statement(constraint),),
        tuple(restore),
        Risk(lock="ACCESS EXCLUSIVE", drops=True),
    )


# --- primary keys --------------------------------------------------------------------


def drop_key_statement(table: Table, name: str) -> str:
    return text(
        sql.SQL("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name};").format(
            table=relation(table), name=sql.Identifier(name)
        )
    )


def promote_statement(table: Table, name: str, index: str) -> str:
    return text(
        sql.SQL(
            "ALTER TABLE {table} ADD CONSTRAINT {name} PRIMARY KEY USING INDEX {index};"
        ).format(table=relation(table), name=sql.Identifier(name), index=sql.Identifier(index))
    )


def build_unique_statement(
    table: Table, name: str, columns: Seq[str], options: Seq[str] = ()
) -> str:
    """`options`: storage parameters as pg_class.reloptions lists them (`fillfactor=70`)."""
    statement = "CREATE UNIQUE INDEX CONCURRENTLY {name} ON {table} ({columns}){options};"
    return text(
        sql.SQL(statement).format(
            name=sql.Identifier(name),
            table=relation(table),
            columns=columns_list(columns),
            options=storage_parameters(options),
        )
    )


def promote_index(table: Table, index: Index, name: str, restore: Seq[str]) -> Fix:
    """Make an existing unique index the primary key: no index build, a brief lock.
    PostgreSQL renames the index to the constraint's name; the rollback drops the
    key (and so the index) and builds the index again under its old name."""
    return Fix(
        (promote_statement(table, name, index.name),),
        (drop_key_statement(table, name), *restore),
        BRIEF_ALTER,
    )


def drop_not_null_statements(table: Table, columns: Seq[str]) -> list[str]:
    """Allow NULL again in columns a primary key's promotion made NOT NULL."""
    return [
        text(
            sql.SQL("ALTER TABLE {table} ALTER COLUMN {column} DROP NOT NULL;").format(
                table=relation(table), column=sql.Identifier(column)
            )
        )
        for column in columns
    ]


def primary_key_on_new_index(
    table: Table,
    columns: Seq[str],
    name: str,
    nullable: Seq[str] = (),
    unvalidated: Seq[str] = (),
) -> Fix:
    """Build a unique index CONCURRENTLY (no write lock) and promote it. Promotion
    sets NOT NULL on nullable key columns (checking every row under the lock); the
    rollback allows NULL there again. `unvalidated`: the key columns' NOT NULL
    constraints added NOT VALID (PostgreSQL 18), which promotion refuses: validated
    first, under a lock that lets writes go on (they stay validated after rollback)."""
    rollback = [
        drop_key_statement(table, name),
        # left behind when the promotion failed (duplicate or NULL keys)
        drop_index_statement(table.schema, name, concurrently=True),
        *drop_not_null_statements(table, nullable),
    ]
    validate = (
        text(
            sql.SQL("ALTER TABLE {table} VALIDATE CONSTRAINT {name};").format(
                table=relation(table), name=sql.Identifier(constraint)
            )
        )
        for constraint in unvalidated
    )
    return Fix(
        (
            build_unique_statement(table, name, columns),
            *validate,
            promote_statement(table, name, name),
        ),
        tuple(rollback),
        CONCURRENT_BUILD | BRIEF_ALTER,
    )


def primary_key_replacing(
    snap: Snapshot, table: Table, constraint: Constraint, index: Index, name: str
) -> Fix | NoFix:
    """Build a unique index like the UNIQUE constraint's CONCURRENTLY (no write lock),
    then in one ALTER TABLE, atomic and brief, drop the constraint and make the new
    index the primary key, so no second index on the same columns is left behind.

    The key is as deferrable as the constraint was, so transactions that rely on
    deferred checks keep working. The new index keeps the old one's storage
    parameters; not NULLS NOT DISTINCT, which a primary key's index cannot have and
    NOT NULL columns do not need. Where the old index was the replica identity, the
    key takes over (REPLICA IDENTITY DEFAULT): a dropped identity index leaves none.
    The rollback drops the key and adds the constraint back as it was, under its own
    name, with its comments and replica identity."""
    restore = restore_constraint(snap, constraint)
    if isinstance(restore, NoFix):
        return restore
    assert constraint.definition is not None  # restore_constraint checked it
    deferral = DEFERRAL.search(constraint.definition)
    swap = sql.SQL(
        "ALTER TABLE {table} DROP CONSTRAINT {old},"
        " ADD CONSTRAINT {name} PRIMARY KEY USING INDEX {name}{deferral}{identity};"
    ).format(
        table=relation(table),
        old=sql.Identifier(constraint.name),
        name=sql.Identifier(name),
        deferral=sql.SQL(deferral.group() if deferral else ""),
        identity=sql.SQL(", REPLICA IDENTITY DEFAULT" if index.is_replica_identity else ""),
    )
    rollback = [
        drop_key_statement(table, name),
        # left behind when the swap failed
        drop_index_statement(table.schema, name, concurrently=True),
        *restore,
        *index_comment(index),
    ]
    if index.is_replica_identity:
        identity = sql.SQL("ALTER TABLE {table} REPLICA IDENTITY USING INDEX {index};")
        rollback.append(
            text(identity.format(table=relation(table), index=sql.Identifier(index.name)))
        )
    keys = [column or "" for column in index.key_columns]
    return Fix(
        (build_unique_statement(table, name, keys, index.reloptions), text(swap)),
        tuple(rollback),
        CONCURRENT_BUILD | Risk(lock="ACCESS EXCLUSIVE", drops=True, replaces_key=True),
    )


def primary_key_on_partitions(snap: Snapshot, table: Table, columns: Seq[str]) -> Fix | NoFix:
    """A partitioned table's key, without a long lock: on each partition a unique index
    built CONCURRENTLY and promoted to that partition's key (or the partition's own
    matching key, kept), then the key on each sub-partitioned table and on the
    table itself, which adopt the partitions' keys instead of building anything.

    Dropping the table's key (the rollback) drops every key it adopted, so the
    rollback adds back the partitions' own keys it kept."""
    statements: list[str] = []
    restores: list[str] = []
    problem = partition_keys(snap, table, columns, statements, restores)
    if problem:
        return problem
    name = snap.facts.names.new(table.schema, table.name, None, "pkey", ("primary key", table.oid))
    add = text(
        sql.SQL("ALTER TABLE {table} ADD CONSTRAINT {name} PRIMARY KEY ({columns});").format(
            table=relation(table), name=sql.Identifier(name), columns=columns_list(columns)
        )
    )
    return Fix(
        (*statements, add),
        (drop_key_statement(table, name), *restores),
        CONCURRENT_BUILD | BRIEF_ALTER,
    )


def partition_keys(
    snap: Snapshot, table: Table, columns: Seq[str], statements: list[str], restores: list[str]
) -> NoFix | None:
    """Append the statements that give every partition below `table` a key on
    `columns` that the parent's key will adopt (see `primary_key_on_partitions`)."""
    names = snap.facts.names
    for partition in snap.facts.partitions_by_parent.get(table.oid, []):
        where = one_line(partition.qualname)
        if partition.kind == "f":
            return NoFix(f"partition {where} is a foreign table, which cannot have a primary key")
        adopted = adopted_key(snap, partition, columns)
        if isinstance(adopted, NoFix):
            return adopted
        if adopted is not None:
            if partition.kind == "p":
                return NoFix(f"sub-partitioned table {where} has a key of its own")
            kept = snap.facts.constraint_by_name[(partition.oid, adopted.constraint_name or "")]
            restored = restore_constraint(snap, kept)
            if isinstance(restored, NoFix):
                return restored
            restores += restored
            continue
        name = names.new(
            partition.schema, partition.name, None, "pkey", ("primary key", partition.oid)
        )
        if partition.kind == "p":
            problem = partition_keys(snap, partition, columns, statements, restores)
            if problem:
                return problem
            statements.append(
                text(
                    sql.SQL(
                        "ALTER TABLE {table} ADD CONSTRAINT {name} PRIMARY KEY ({columns});"
                    ).format(
                        table=relation(partition),
                        name=sql.Identifier(name),
                        columns=columns_list(columns),
                    )
                )
            )
        else:
            statements += [
                build_unique_statement(partition, name, columns),
                promote_statement(partition, name, name),
            ]
    return None


def adopted_key(snap: Snapshot, partition: Table, columns: Seq[str]) -> Index | NoFix | None:
    """The partition's own key index that a key on `columns` added to its parent would
    adopt, None when it would build one, NoFix when that cannot be told or would fail.

    PostgreSQL adopts the first (by oid) unattached index backing a constraint that
    matches in columns, operator families, collations and uniqueness, whatever the
    constraint's kind; sort order is not compared. A partition can have one primary
    key only, so one on other columns makes the parent's key fail."""
    where = one_line(partition.qualname)
    own = sorted(
        (
            index
            for index in snap.indexes_by_table.get(partition.oid, [])
            if index.constraint_name and index.is_unique and index.parent_index_oid is None
        ),
        key=lambda index: index.oid,
    )
    same_columns = [
        index
        for index in own
        if list(index.key_columns) == list(columns)
        and not index.is_partial
        and not index.has_expressions
    ]
    if len(same_columns) > 1:
        # which one is adopted depends on oids, and duplicate-index may drop either
        return NoFix(f"partition {where} has more than one key on these columns")
    if same_columns:
        if plain_columns(same_columns[0]) is None:
            return NoFix(f"partition {where} has a key on these columns that may not be adopted")
        return same_columns[0]
    if snap.primary_key(partition) is not None:
        # on other columns, or already adopted by a key of the table: a second one fails
        return NoFix(f"partition {where} has a primary key that the table's key cannot adopt")
    return None


def add_identity_primary_key(table: Table, column: str = "id") -> Fix:
    add = text(
        sql.SQL(
            "ALTER TABLE {table} ADD COLUMN {column}"
            " bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;"
        ).format(table=relation(table), column=sql.Identifier(column))
    )
    drop = text(
        sql.SQL("ALTER TABLE {table} DROP COLUMN IF EXISTS {column};").format(
            table=relation(table), column=sql.Identifier(column)
        )
    )
    return Fix((add,), (drop,), REWRITE)


# --- maintenance ---------------------------------------------------------------------


def vacuum_analyze(table: Table) -> Fix:
    statement = text(sql.SQL("VACUUM (ANALYZE) {table};").format(table=relation(table)))
    return Fix((statement,), None, MAINTENANCE)


def enable_autovacuum(table: Table) -> Fix:
    """Turn autovacuum back on for the table and its TOAST table; the rollback sets the
    values they had, as stored (`off`, `false`, `0` ...), for those that had one."""
    on = "ALTER TABLE {table} RESET (autovacuum_enabled, toast.autovacuum_enabled);"
    had = [sql.SQL("autovacuum_enabled = {}").format(
        sql.Literal(table.options.get("autovacuum_enabled", "false"))
    )]  # fmt: skip
    if "autovacuum_enabled" in table.toast_options:
        value = sql.Literal(table.toast_options["autovacuum_enabled"])
        had.append(sql.SQL("toast.autovacuum_enabled = {}").format(value))
    off = sql.SQL("ALTER TABLE {table} SET ({values});")
    return Fix(
        (text(sql.SQL(on).format(table=relation(table))),),
        (text(off.format(table=relation(table), values=sql.SQL(", ").join(had))),),
        RELOPTION,
    )


def alter_sequence_type(sequence: Sequence, type_name: str) -> Fix:
    """Widen a sequence; the rollback narrows it back to what it was."""
    statement = "ALTER SEQUENCE {sequence} AS {type};"
    relation = name_of(sequence.schema, sequence.name)
    return Fix(
        (text(sql.SQL(statement).format(sequence=relation, type=sql.SQL(type_name))),),
        (text(sql.SQL(statement).format(sequence=relation, type=sql.SQL(sequence.data_type))),),
        Risk(lock="SHARE ROW EXCLUSIVE"),  # on the sequence: nextval() waits, briefly
    )


def alter_column_type(column: Column, type_name: str) -> Fix:
    """Change a column's type: rewrites the table and its indexes under ACCESS EXCLUSIVE."""
    statement = "ALTER TABLE {table} ALTER COLUMN {column} TYPE {type};"
    relation = name_of(column.schema, column.table)
    return Fix(
        (
            text(
                sql.SQL(statement).format(
                    table=relation, column=sql.Identifier(column.name), type=sql.SQL(type_name)
                )
            ),
        ),
        (
            text(
                sql.SQL(statement).format(
                    table=relation,
                    column=sql.Identifier(column.name),
                    type=sql.SQL(column.data_type),
                )
            ),
        ),
        REWRITE,
    )


# --- references (missing-foreign-key, fk-type-mismatch) ------------------------------

ADD_FOREIGN_KEY = Risk(lock="SHARE ROW EXCLUSIVE")  # on both tables; NOT VALID: brief


def list_orphans_statement(table: Table, columns: Seq[str], target: Table, keys: Seq[str]) -> str:
    """A query listing the rows whose reference matches no key (they stop VALIDATE). A
    foreign key holds between the rows of the two tables themselves, not those of tables
    that inherit from them (INHERITS): where there are such, the query reads ONLY."""
    present = " AND ".join(f"r.{quote_identifier(c)} IS NOT NULL" for c in columns)
    matches = " AND ".join(
        f"k.{quote_identifier(k)} = r.{quote_identifier(c)}"
        for c, k in zip(columns, keys, strict=True)
    )
    only, target_only = ("ONLY " if t.inheritance_children else "" for t in (table, target))
    return (
        f"SELECT r.* FROM {only}{qualified(table.schema, table.name)} AS r WHERE {present}"
        f" AND NOT EXISTS (SELECT FROM {target_only}{qualified(target.schema, target.name)}"
        f" AS k WHERE {matches});"
    )


def add_foreign_key(
    table: Table,
    columns: Seq[str],
    target: Table,
    keys: Seq[str],
    name: str,
    *,
    set_null_on_delete: bool = False,
) -> Fix:
    """`ADD CONSTRAINT ... NOT VALID` (a brief lock; new rows are checked from then on),
    then `VALIDATE CONSTRAINT`, which checks the existing rows without blocking writes.
    PostgreSQL before 18 cannot add a NOT VALID foreign key to a partitioned table:
    there the constraint is added and checked in one statement, blocking writes while
    it reads the table. With `set_null_on_delete`, the key empties the columns when the
    row they name is deleted, in place of refusing the delete."""
    relation, constraint = qualified(table.schema, table.name), quote_identifier(name)
    partitioned = table.kind == "p"
    statements = [
        f"ALTER TABLE {relation} ADD CONSTRAINT {constraint} FOREIGN KEY ({quoted_list(columns)})"
        f" REFERENCES {qualified(target.schema, target.name)} ({quoted_list(keys)})"
        f"{' ON DELETE SET NULL' if set_null_on_delete else ''}"
        f"{'' if partitioned else ' NOT VALID'};"
    ]
    if not partitioned:
        statements.append(f"ALTER TABLE {relation} VALIDATE CONSTRAINT {constraint};")
    drop = f"ALTER TABLE {relation} DROP CONSTRAINT IF EXISTS {constraint};"
    return Fix(tuple(statements), (drop,), ADD_FOREIGN_KEY)


# A column an index's expression or predicate reads (pg_node_tree: the index's table is
# range-table entry 1)
VARATTNO = re.compile(r"\{VAR :varno 1 :varattno (\d+) ")


def reads_in_expression(index: Index, column: Column) -> bool:
    trees = (index.expressions or "") + (index.predicate_tree or "")
    return str(column.position) in VARATTNO.findall(trees)


# a string literal of a deparsed expression: its text names no column
STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")


def computed_from(snap: Snapshot, column: Column) -> list[str]:
    """The generated columns of the column's table whose expression names it (read from
    the deparsed text, string literals left out): PostgreSQL refuses to change the
    type of a column a generated column uses."""
    generated = [c for c in snap.columns_by_table.get(column.table_oid, []) if c.generated]
    if not generated:  # most tables: no pattern to build
        return []
    forms = [re.escape(quote_identifier(column.name))]  # as the server prints it: quoted,
    if re.fullmatch(r"[a-z_][a-z0-9_$]*", column.name):  # or bare where it may be
        forms.append(rf'(?<![\w$."]){re.escape(column.name)}(?![\w$"])')
    word = re.compile("|".join(forms))
    return [
        other.name
        for other in generated
        if other.name != column.name and word.search(STRING_LITERAL.sub("''", other.default or ""))
    ]


def convert_column_type(
    snap: Snapshot, column: Column, type_name: str, reaching: Seq[Column] = ()
) -> Fix | NoFix:
    """`ALTER COLUMN ... TYPE ... USING column::type`: rewrites the table and its indexes
    under ACCESS EXCLUSIVE, and fails (changing nothing) on a value that does not convert.
    The rollback converts back to the column's type as it was. None for a column of a
    partition key (of the table or of a sub-partitioned partition), or one a generated
    column computes from: PostgreSQL refuses.

    An index whose expression or predicate casts the column to the new type
    (`(doc::jsonb -> 'k')`) is rebuilt from its deparsed text, in which the cast, now of
    the column's own type, is dropped: converting back would not bring it back (and a GIN
    index on `doc -> 'k'` of json fails). The rollback drops such indexes before and
    re-creates them from their definitions after.

    `reaching`: the columns of the tables that inherit this one (INHERITS), which the
    ALTER changes too: their generated columns, CHECKs and indexes count as the table's."""
    relation, name = qualified(column.schema, column.table), quote_identifier(column.name)
    if keyed := snap.facts.partition_keyed_by(snap.table_by_oid[column.table_oid], column.name):
        return NoFix(
            f"{one_line(column.name)} is in the partition key of {one_line(', '.join(keyed))}:"
            " PostgreSQL cannot change its type; re-create the table with the new type and"
            " move the rows"
        )
    family = (column, *reaching)
    for member in family:
        if computing := computed_from(snap, member):
            # Midday's inbox.fts is generated from meta (json): ALTER failed with "cannot
            # alter type of a column used by a generated column"
            return NoFix(
                f"generated column {one_line(', '.join(computing))}{inheriting(member, column)}"
                f" computes from {one_line(column.name)}: PostgreSQL cannot change its type;"
                " drop the generated column, change the type, and add it back (a rewrite)"
            )

    for member in family:
        if blocking := check_read_as_other_type(snap, member, type_name):
            return NoFix(
                f"CHECK {one_line(blocking.name)}{inheriting(member, column)} reads"
                f" {one_line(column.name)}, and PostgreSQL checks it again as {type_name}: a"
                f" function or operator of {column.data_type} in it (char_length, a comparison"
                " with a text literal) makes the change fail; rewrite the CHECK for the new"
                " type first"
            )

    def convert(to: str) -> str:
        return f"ALTER TABLE {relation} ALTER COLUMN {name} TYPE {to} USING {name}::{to};"

    dropped: list[str] = []
    restored: list[str] = []
    reading = [
        index
        for member in family
        for index in snap.indexes_by_table.get(member.table_oid, [])
        # a partition's index goes and comes back with its parent's; an EXCLUDE
        # constraint's index is not an index to re-create on its own
        if not index.parent_index_oid
        and not index.constraint_name
        and reads_in_expression(index, member)
    ]
    for index in reading:
        statements = restore_index(snap, index)
        if isinstance(statements, NoFix):
            return statements
        partitioned = snap.table_by_oid[index.table_oid].kind == "p"
        dropped.append(drop_index_statement(index.schema, index.name, concurrently=not partitioned))
        restored += statements
    renames = partition_index_names(snap, column)
    rollback = (*dropped, convert(column.data_type), *renames, *restored)
    return Fix((convert(type_name), *renames), rollback, REWRITE)


def inheriting(member: Column, column: Column) -> str:
    """` (of t, which inherits the column)` where `member` is another table's copy of
    `column`, inherited from it; nothing where it is the column itself."""
    if member is column:
        return ""
    return f" (of {one_line(member.schema)}.{one_line(member.table)}, which inherits the column)"


INTEGER_TYPES = {"int2": "smallint", "int4": "integer", "int8": "bigint"}


def check_read_as_other_type(snap: Snapshot, column: Column, type_name: str) -> Constraint | None:
    """A CHECK of the column's table that reads it in more than a NULL test, where the
    new type is not merely a wider integer: ALTER COLUMN ... TYPE parses the CHECK again
    with the new type, and what the old type had (`char_length(cluster_agent_id)` of
    GitLab's text column) may not exist for it. A definition that could not be read
    counts as reading it."""
    if column.type_name in INTEGER_TYPES and type_name in INTEGER_TYPES.values():
        return None
    # the server writes the name bare, or quoted where it must be
    written = rf"(?:{re.escape(column.name)}|{re.escape(quote_identifier(column.name))})"
    null_test = re.compile(rf"CHECK \(\({written} IS (NOT )?NULL\)\)")
    for check in snap.constraints_by_table.get(column.table_oid, []):
        if check.kind != "c" or check.inherited or column.name not in check.columns:
            continue
        if check.definition is None or not null_test.fullmatch(
            check.definition.removesuffix(" NOT VALID")
        ):
            return check
    return None


# --- column types (timestamp-without-time-zone, serial-instead-of-identity) -----------


def partition_index_names(snap: Snapshot, column: Column) -> tuple[str, ...]:
    """The statement that gives the partitions' indexes on a partitioned table's column
    their names back after `ALTER COLUMN ... TYPE`, or none (not partitioned, or no
    index on the column).

    ALTER ... TYPE re-creates a partitioned index's partition indexes under names it
    generates again, in its own order: two generated names cut to 63 bytes that
    collide (`..._created_at_idx`, `..._created_at_idx1`) come back swapped (GitLab's
    partitions, in `--verify-fixes`: "not restored"). Each index is found by its
    partition and the top index it descends from, whose name the rebuild keeps, and
    renamed through a temporary name, so that no rename meets a name still taken. A
    DO block: a plain string, as every statement of the scripts is written."""
    table = snap.table_by_oid[column.table_oid]
    if table.kind != "p":
        return ()
    below: dict[int, list[Index]] = defaultdict(list)
    for index in snap.indexes:
        if index.parent_index_oid is not None:
            below[index.parent_index_oid].append(index)
    wanted: list[sql.Composable] = []
    for top in snap.indexes_by_table.get(table.oid, []):
        if column.name not in top.key_columns and not reads_in_expression(top, column):
            continue
        descendants, found = list(below.get(top.oid, [])), []
        while descendants:
            index = descendants.pop()
            found.append(index)
            descendants += below.get(index.oid, [])
        for index in sorted(found, key=lambda index: index.oid):
            wanted.append(
                sql.SQL(
                    "(pg_catalog.to_regclass({top}), pg_catalog.to_regclass({partition}), {name})"
                ).format(
                    top=sql.Literal(qualified(top.schema, top.name)),
                    partition=sql.Literal(qualified(index.schema, index.table)),
                    name=sql.Literal(index.name),
                )
            )
    if not wanted:
        return ()
    body = sql.SQL(RENAME_PARTITION_INDEXES).format(wanted=sql.SQL(",\n    ").join(wanted))
    return (text(sql.SQL("DO {body};").format(body=sql.Literal(text(body)))),)


RENAME_PARTITION_INDEXES = """
DECLARE
  moved oid[];
  names text[];
BEGIN
  SELECT array_agg(x.indexrelid ORDER BY x.indexrelid), array_agg(w.name ORDER BY x.indexrelid)
    INTO moved, names
    FROM (VALUES {wanted}) AS w(top, partition, name)
    JOIN pg_catalog.pg_index AS x ON x.indrelid = w.partition
    JOIN pg_catalog.pg_class AS c ON c.oid = x.indexrelid
   WHERE c.relname <> w.name
     AND w.top IN (SELECT relid FROM pg_catalog.pg_partition_ancestors(x.indexrelid));
  FOR i IN 1 .. coalesce(pg_catalog.array_length(moved, 1), 0) LOOP
    EXECUTE pg_catalog.format('ALTER INDEX %s RENAME TO %I', moved[i]::regclass,
                              'pgvitals_renaming_' || moved[i]);
  END LOOP;
  FOR i IN 1 .. coalesce(pg_catalog.array_length(moved, 1), 0) LOOP
    EXECUTE pg_catalog.format('ALTER INDEX %s RENAME TO %I', moved[i]::regclass, names[i]);
  END LOOP;
END
"""


# `timestamp(3) without time zone`: the fractional digits the column rounds values to.
TIMESTAMP_PRECISION = re.compile(r"^timestamp\((\d)\)")


def timestamp_to_timestamptz(
    snap: Snapshot,
    column: Column,
    indexed: bool,
    zoned_default: str | None = None,
    reaching: Seq[tuple[Column, str | None]] = (),
) -> Fix:
    """`timestamp` -> `timestamptz`, reading the stored values as UTC. With the session's
    TimeZone at UTC, PostgreSQL 12+ changes the type without rewriting the table; the
    indexes on the column are rebuilt (a partitioned table's partition indexes then get
    their names back: `partition_index_names`). The rollback goes back the same way.
    A default that converts the clock to a named zone (`zoned_default`, Oban's
    `timezone('UTC', now())`) becomes `now()`, and the rollback puts it back: kept on a
    timestamptz column, its clock reading is read in the inserting session's TimeZone.

    `reaching`: the columns of the tables that inherit this one (INHERITS), each with
    its default where that names its zone: the ALTER changes their type too, and SET
    DEFAULT, which would reach them as well, is given table by table (ONLY), so that a
    child's default of its own is left as it is, and restored as it was."""
    relation = name_of(column.schema, column.table)
    renames = partition_index_names(snap, column)
    zoned = [(column, zoned_default), *reaching]
    only = sql.SQL("ONLY " if reaching else "")

    def retype(to: str, back: bool) -> tuple[str, ...]:
        alter = sql.SQL("ALTER TABLE {table} ALTER COLUMN {column} TYPE {type};").format(
            table=relation, column=sql.Identifier(column.name), type=sql.SQL(to)
        )
        statements = [text(alter)]
        set_default = sql.SQL("ALTER TABLE {only}{table} ALTER COLUMN {column} SET DEFAULT {d};")
        for member, default in zoned:
            if default is not None:
                statements.append(
                    text(
                        set_default.format(
                            only=only,
                            table=name_of(member.schema, member.table),
                            column=sql.Identifier(member.name),
                            d=sql.SQL(default if back else "now()"),
                        )
                    )
                )
        return ("SET TimeZone = 'UTC';", *statements, "RESET TimeZone;", *renames)

    fix = Fix(
        retype("timestamptz", back=False),
        retype(column.data_type, back=True),
        Risk(lock="ACCESS EXCLUSIVE", rewrites=indexed),
    ).with_note(
        f"reads the values of {one_line(column.name)} as UTC; if they were written in"
        " another zone, use TYPE timestamptz USING ... AT TIME ZONE '<zone>' (a rewrite)"
    )
    if zoned_default is not None:
        fix = fix.with_note(
            f"the default {one_line(zoned_default)} becomes now(): kept, the clock reading"
            " it writes would be read in the inserting session's TimeZone"
        )
    precision = TIMESTAMP_PRECISION.match(column.data_type)
    if precision:
        digits = precision.group(1)
        fix = fix.with_note(
            f"the precision ({digits}) is not kept: from now on values are stored to the"
            f" microsecond (a default of now() included); TYPE timestamptz({digits}) keeps"
            " it, and rewrites the table"
        )
    return fix


def number(value: int) -> sql.SQL:
    """An integer as SQL text; psycopg's Literal writes a negative one with a space
    before it (against `--`), which reads oddly in `MINVALUE  -5`."""
    return sql.SQL(str(int(value)))


def identity_options(column: Column, sequence: Sequence) -> list[sql.Composable]:
    """The old sequence's settings that an identity of the column's type would not
    have by default (PostgreSQL's defaults: INCREMENT 1, from 1 up to the type's
    largest value, or from its smallest down to -1, START at the first value, CACHE 1,
    NO CYCLE), its bounds narrowed to the column's type, which the identity's sequence
    takes (a bigint sequence can feed an integer column)."""
    lowest, highest = INTEGER_RANGES[column.type_name]
    ascending = sequence.increment_by > 0
    min_value, max_value = max(sequence.min_value, lowest), min(sequence.max_value, highest)
    options: list[sql.Composable] = []
    if sequence.increment_by != 1:
        options.append(sql.SQL("INCREMENT BY {}").format(number(sequence.increment_by)))
    if min_value != (1 if ascending else lowest):
        options.append(sql.SQL("MINVALUE {}").format(number(min_value)))
    if max_value != (highest if ascending else -1):
        options.append(sql.SQL("MAXVALUE {}").format(number(max_value)))
    if sequence.start_value != (min_value if ascending else max_value):
        options.append(sql.SQL("START WITH {}").format(number(sequence.start_value)))
    if sequence.cache_size is not None and sequence.cache_size != 1:
        options.append(sql.SQL("CACHE {}").format(number(sequence.cache_size)))
    if sequence.cycle:
        options.append(sql.SQL("CYCLE"))
    return options


def continue_identity(
    identity: sql.Identifier, old: sql.Identifier, table: Table, column: Column, sequence: Sequence
) -> str:
    """Position the new identity where the old sequence would hand out its next id, or
    after the column's furthest id where that is further (ids inserted explicitly do
    not move a sequence). Read when the statement runs: the old sequence moves between
    the check and the fix, and its position counts ids that were handed out and then
    deleted or rolled back, which max(id) does not see. A cycling sequence continues
    exactly where it was: it hands out ids again by design, so the furthest id says
    nothing about where it is."""
    if sequence.cycle:
        return text(
            sql.SQL("SELECT pg_catalog.setval({}, last_value, is_called) FROM {};").format(
                sql.Literal(text(identity)), old
            )
        )
    ascending = sequence.increment_by > 0
    step = sql.SQL("{} {}").format(
        sql.SQL("+" if ascending else "-"), number(abs(sequence.increment_by))
    )
    return text(
        sql.SQL(
            "SELECT pg_catalog.setval({identity}, {furthest}("
            "(SELECT CASE WHEN is_called THEN last_value {step} ELSE last_value END FROM {old}),"
            " (SELECT {extreme}({column})::int8 {step} FROM {table})), false);"
        ).format(
            identity=sql.Literal(text(identity)),
            furthest=sql.SQL("greatest" if ascending else "least"),
            step=step,
            old=old,
            extreme=sql.SQL("max" if ascending else "min"),
            column=sql.Identifier(column.name),
            table=relation(table),
        )
    )


def serial_to_identity(snap: Snapshot, table: Table, column: Column, sequence: Sequence) -> Fix:
    """Replace a `nextval()` default by an identity column with the old sequence's
    settings, continuing from the old sequence's position (or after the furthest id,
    if further). The identity's sequence takes the old sequence's name, so code that
    calls `nextval()` on it by name (River's bulk insert calls
    `nextval('river_job_id_seq')`) draws from the sequence the identity draws from,
    instead of handing out its ids again (a role other than the owner that does needs
    USAGE granted on it anew). The old sequence is kept under a new name,
    detached and unused, so that the rollback can restore it with its owner, grants
    and settings: its name, the default and OWNED BY (where it was) come back, and its
    position moves on past the ids the identity handed out, if it handed out any; drop
    it once the change is settled.

    Each script runs in a transaction of its own that takes ACCESS EXCLUSIVE on the
    table first: between DROP DEFAULT and the identity's setval() an insert would fail
    (no default) or take an id the identity hands out again, so inserts wait instead.
    Being a transaction, it cannot run inside another one (`transactional=False`)."""
    relation_name = relation(table)
    name = sql.Identifier(column.name)
    # the identity's sequence takes the old one's name: the old one moves aside
    identity = name_of(sequence.schema, sequence.name)
    kept_name = snap.facts.names.new(
        sequence.schema, table.name, column.name, "seq", ("identity", table.oid, column.name)
    )
    old = name_of(sequence.schema, kept_name)
    rename_aside = text(
        sql.SQL("ALTER SEQUENCE {} RENAME TO {};").format(identity, sql.Identifier(kept_name))
    )
    rename_back = text(
        sql.SQL("ALTER SEQUENCE {} RENAME TO {};").format(old, sql.Identifier(sequence.name))
    )
    owned = (sequence.owned_by_table_oid, sequence.owned_by_column) == (table.oid, column.name)
    lock = text(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE;").format(relation_name))
    options = sql.SQL(" ").join(
        [sql.SQL("SEQUENCE NAME {}").format(identity), *identity_options(column, sequence)]
    )
    forward = ["BEGIN;", lock]
    forward.append(
        text(sql.SQL("ALTER TABLE {} ALTER COLUMN {} DROP DEFAULT;").format(relation_name, name))
    )
    if owned:
        forward.append(text(sql.SQL("ALTER SEQUENCE {} OWNED BY NONE;").format(identity)))
    forward.append(rename_aside)
    forward += [
        text(
            sql.SQL(
                "ALTER TABLE {} ALTER COLUMN {} ADD GENERATED BY DEFAULT AS IDENTITY ({});"
            ).format(relation_name, name, options)
        ),
        continue_identity(identity, old, table, column, sequence),
        "COMMIT;",
    ]
    backward = [
        "BEGIN;",
        lock,
        # before the identity's sequence goes with it: the ids it handed out are taken
        text(
            sql.SQL(
                "SELECT pg_catalog.setval({}, last_value, true) FROM {} WHERE is_called;"
            ).format(sql.Literal(text(old)), identity)
        ),
        text(
            sql.SQL("ALTER TABLE {} ALTER COLUMN {} DROP IDENTITY IF EXISTS;").format(
                relation_name, name
            )
        ),
        rename_back,
        text(
            sql.SQL(
                "ALTER TABLE {} ALTER COLUMN {} SET DEFAULT pg_catalog.nextval({}::regclass);"
            ).format(relation_name, name, sql.Literal(text(identity)))
        ),
    ]
    if owned:
        backward.append(
            text(sql.SQL("ALTER SEQUENCE {} OWNED BY {}.{};").format(identity, relation_name, name))
        )
    backward.append("COMMIT;")
    if leads_an_index(snap, table, column):
        reading = "from an index that leads with it"
    else:
        reading = "a full scan: no index leads with it"
    return (
        Fix(tuple(forward), tuple(backward), Risk(lock="ACCESS EXCLUSIVE", transactional=False))
        .with_note(
            f"the identity's sequence takes the name {one_line(sequence.qualname)}, so code"
            " that calls nextval() on it by name draws the identity's ids (a role that does"
            " needs USAGE on it: the old sequence's grants stay with it); the old sequence"
            " is kept, unused, as"
            f" {one_line(sequence.schema)}.{one_line(kept_name)} for the rollback: drop it"
            " when settled"
        )
        .with_note(
            f"one transaction, ACCESS EXCLUSIVE on {one_line(table.qualname)} until COMMIT:"
            " inserts wait instead of taking ids in between; the largest"
            f" {one_line(column.name)} is read under the lock ({reading})"
        )
    )


def leads_an_index(snap: Snapshot, table: Table, column: Column) -> bool:
    """Can max(column) be read from a valid btree that leads with it, whole (no
    predicate)? A primary key on the column is one."""
    return any(
        index.method == "btree" and index.is_valid and index.predicate is None
        and index.key_columns[:1] == [column.name]
        for index in snap.indexes_by_table.get(table.oid, [])
    )  # fmt: skip


def validate_statement(schema: str, table: str, name: str) -> str:
    return text(
        sql.SQL("ALTER TABLE {table} VALIDATE CONSTRAINT {name};").format(
            table=name_of(schema, table), name=sql.Identifier(name)
        )
    )


def validate_constraint(snap: Snapshot, constraint: Constraint) -> Fix:
    """Check the existing rows against a NOT VALID constraint; reads and writes go on
    (SHARE UPDATE EXCLUSIVE). The rollback puts the constraint back exactly as it was,
    NOT VALID (its definition says so), by dropping and re-adding it. Re-adding it on a
    partitioned table gives every partition a NOT VALID copy, where a partition
    created after the constraint (as an application that makes partitions as it goes
    creates them) had a validated one: those are validated again, parents first."""
    statement = validate_statement(constraint.schema, constraint.table, constraint.name)
    restore = add_constraint_statement(constraint)
    table = snap.table_by_oid.get(constraint.table_oid)
    copies = [
        copy
        for partition in (partitions_below(snap, table) if table is not None else [])
        if (copy := snap.facts.constraint_by_name.get((partition.oid, constraint.name)))
        and copy.inherited
        and copy.validated
    ]
    revalidate = [validate_statement(c.schema, c.table, c.name) for c in copies]
    rollback = (
        (
            drop_constraint_statement(constraint),
            restore,
            *revalidate,
            *constraint_comment(constraint),
        )
        if restore
        else None
    )
    return Fix((statement,), rollback, Risk(lock="SHARE UPDATE EXCLUSIVE"))


def add_check_not_valid(
    snap: Snapshot, table: Table, column: Column, label: str, expression: str
) -> Fix:
    """`ADD CONSTRAINT ... CHECK (...) NOT VALID` (a brief lock; new rows are checked),
    then `VALIDATE CONSTRAINT` (checks the old rows, writes go on). `expression` has one
    `{}` where the column goes. Named `<table>_<column>_<label>` by the snapshot's
    allocator, free on the table and on each of its partitions, which get the CHECK
    under the same name.

    Added only while no row breaks it: a NOT VALID CHECK is checked on every new row
    version, so each UPDATE of a row that breaks it fails, even one that sets another
    column (chatbot-ui's rows holding '' would all have become read-only). A DO block
    looks for such a row first (a read, no lock beyond a SELECT's) and refuses with the
    reason, or adds the CHECK: one statement, so that psql, which goes on after an
    error, cannot add the CHECK once the look found rows."""
    tables = [table.oid, *(partition.oid for partition in partitions_below(snap, table))]
    purpose = ("check", label, table.oid, column.name)
    name = snap.facts.names.new(table.schema, table.name, column.name, label, purpose, tables)
    relation = name_of(column.schema, column.table)
    constraint = sql.Identifier(name)
    check = sql.SQL(expression).format(sql.Identifier(column.name))
    add = sql.SQL("ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({check}) NOT VALID;").format(
        table=relation, name=constraint, check=check
    )
    refusal = (
        f"rows of {one_line(table.qualname)} break CHECK {one_line(name)}: fix them first;"
        " added NOT VALID now, it would make every UPDATE of those rows fail"
    )
    body = sql.SQL(
        "\nBEGIN\n"
        "  IF EXISTS (SELECT FROM {table} WHERE NOT ({check})) THEN\n"
        "    RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = {refusal};\n"
        "  END IF;\n"
        "  {add}\n"
        "END\n"
    ).format(table=relation, check=check, refusal=sql.Literal(refusal), add=add)
    guarded = sql.SQL("DO {body};").format(body=sql.Literal(text(body)))
    validate = sql.SQL("ALTER TABLE {table} VALIDATE CONSTRAINT {name};").format(
        table=relation, name=constraint
    )
    drop = sql.SQL("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name};").format(
        table=relation, name=constraint
    )
    # a row written between the look and the ALTER is left to VALIDATE, which fails on it
    return Fix((text(guarded), text(validate)), (text(drop),), BRIEF_ALTER)


def blank_rows_query(column: Column, spaces_only: bool = False) -> str:
    """The query that lists the rows whose text column is '' or only spaces (only
    spaces, not '', with `spaces_only`)."""
    where = "{column} <> '' AND btrim({column}) = ''" if spaces_only else "btrim({column}) = ''"
    return text(
        sql.SQL("SELECT * FROM {table} WHERE " + where + ";").format(
            table=name_of(column.schema, column.table), column=sql.Identifier(column.name)
        )
    )


def repeated_values_query(table: Table, columns: Seq[str]) -> str:
    """The query that lists the values more than one row holds in `columns` (NULL aside):
    a unique index on them cannot be built over them."""
    names = sql.SQL(", ").join(sql.Identifier(column) for column in columns)
    filled = sql.SQL(" AND ").join(
        sql.SQL("{column} IS NOT NULL").format(column=sql.Identifier(column)) for column in columns
    )
    return text(
        sql.SQL(
            "SELECT {names}, count(*) FROM {table} WHERE {filled}"
            " GROUP BY {names} HAVING count(*) > 1;"
        ).format(table=name_of(table.schema, table.name), names=names, filled=filled)
    )


def nul_escape_rows_query(column: Column) -> str:
    """The query that lists the rows whose json column holds the escape \\u0000, which
    jsonb cannot store (the conversion to jsonb fails on them)."""
    return text(
        sql.SQL("SELECT * FROM {table} WHERE strpos({column}::text, {escape}) > 0;").format(
            table=name_of(column.schema, column.table),
            column=sql.Identifier(column.name),
            escape=sql.Literal("\\u0000"),
        )
    )


# what the text of a value of these types looks like, as their input functions read
# it (leading and trailing spaces allowed; a uuid with or without braces and hyphens)
CONVERTIBLE_TEXT = {
    "smallint": ("[[:space:]]", "^[+-]?[0-9]+$"),
    "integer": ("[[:space:]]", "^[+-]?[0-9]+$"),
    "bigint": ("[[:space:]]", "^[+-]?[0-9]+$"),
    "uuid": ("[[:space:]{}-]", "^[0-9a-fA-F]{32}$"),
}


def unconvertible_rows_query(column: Column, type_name: str) -> str | None:
    """The query that lists the rows whose text does not read as `type_name` (an id of
    another system, '' for none, 'anon'): `ALTER ... TYPE ... USING col::type` fails on
    the first of them, changing nothing. None for a column that is not text, or a type
    whose text form is not checked here. An integer out of the type's range is not
    caught (the conversion fails on it too)."""
    shape = CONVERTIBLE_TEXT.get(type_name)
    if shape is None or column.type_category != "S":
        return None
    stripped, pattern = shape
    return text(
        sql.SQL(
            "SELECT * FROM {table} WHERE {column} IS NOT NULL"
            " AND regexp_replace({column}, {stripped}, '', 'g') !~ {pattern};"
        ).format(
            table=name_of(column.schema, column.table),
            column=sql.Identifier(column.name),
            stripped=sql.Literal(stripped),
            pattern=sql.Literal(pattern),
        )
    )


def create_partition(table: Table, name: str, bounds: tuple[str, str] | None) -> Fix:
    """A range partition `FROM (lower) TO (upper)`, or the DEFAULT partition (`bounds`
    None). Takes a brief ACCESS EXCLUSIVE lock on the parent; the rollback drops it
    (with any rows it received meanwhile)."""
    partition = name_of(table.schema, name)
    parent = name_of(table.schema, table.name)
    if bounds is None:
        create = sql.SQL("CREATE TABLE {partition} PARTITION OF {parent} DEFAULT;").format(
            partition=partition, parent=parent
        )
    else:
        create = sql.SQL(
            "CREATE TABLE {partition} PARTITION OF {parent} FOR VALUES FROM ({lower}) TO ({upper});"
        ).format(
            partition=partition,
            parent=parent,
            lower=sql.Literal(bounds[0]),
            upper=sql.Literal(bounds[1]),
        )
    drop = sql.SQL("DROP TABLE IF EXISTS {partition};").format(partition=partition)
    return Fix((text(create),), (text(drop),), Risk(lock="ACCESS EXCLUSIVE", adds_partitions=True))


def create_hash_partitions(table: Table, names: Seq[str]) -> Fix:
    """One partition per remainder of `MODULUS len(names)`: together they take every
    row (a hash-partitioned table takes no DEFAULT partition). Each takes a brief ACCESS
    EXCLUSIVE lock on the parent; the rollback drops them."""
    parent = name_of(table.schema, table.name)
    modulus = sql.Literal(len(names))
    creates, drops = [], []
    for remainder, name in enumerate(names):
        partition = name_of(table.schema, name)
        create = sql.SQL(
            "CREATE TABLE {partition} PARTITION OF {parent}"
            " FOR VALUES WITH (MODULUS {modulus}, REMAINDER {remainder});"
        )
        creates.append(
            text(
                create.format(
                    partition=partition,
                    parent=parent,
                    modulus=modulus,
                    remainder=sql.Literal(remainder),
                )
            )
        )
        drops.insert(0, text(sql.SQL("DROP TABLE IF EXISTS {};").format(partition)))
    risk = Risk(lock="ACCESS EXCLUSIVE", adds_partitions=True)
    return Fix(tuple(creates), tuple(drops), risk)


def move_out_of_default(
    table: Table,
    default: Table,
    name: str,
    key: str,
    columns: Seq[str],
    bounds: tuple[str, str],
) -> tuple[str, ...]:
    """The steps (not a fix: they move data) that give a range its partition while the
    DEFAULT partition holds rows of it: create the partition as a plain table, move the
    rows in one statement (the rows deleted are the rows inserted, whatever is written
    meanwhile), attach. SHARE on the DEFAULT partition holds off writes into it, which
    would make the ATTACH fail, while its readers go on; the ATTACH itself then holds
    ACCESS EXCLUSIVE on it for the scan that proves no row of the range is left."""
    partition = name_of(table.schema, name)
    parent, source = relation(table), relation(default)
    listed = sql.SQL(", ").join(map(sql.Identifier, columns))
    lower, upper = sql.Literal(bounds[0]), sql.Literal(bounds[1])
    statements = (
        sql.SQL("BEGIN;"),
        sql.SQL("LOCK TABLE ONLY {source} IN SHARE MODE;"),
        sql.SQL("CREATE TABLE {partition} (LIKE {parent} INCLUDING ALL EXCLUDING IDENTITY);"),
        sql.SQL(
            "WITH moved AS (DELETE FROM ONLY {source} WHERE {key} >= {lower} AND {key} < {upper}"
            " RETURNING {listed}) INSERT INTO {partition} ({listed}) SELECT {listed} FROM moved;"
        ),
        sql.SQL(
            "ALTER TABLE {parent} ATTACH PARTITION {partition}"
            " FOR VALUES FROM ({lower}) TO ({upper});"
        ),
        sql.SQL("COMMIT;"),
    )
    return tuple(
        text(
            statement.format(
                partition=partition,
                parent=parent,
                source=source,
                key=sql.Identifier(key),
                listed=listed,
                lower=lower,
                upper=upper,
            )
        )
        for statement in statements
    )


def reindex_concurrently(index: Index) -> Fix:
    """Rebuild an index without blocking writes (PostgreSQL 12+); nothing to undo."""
    statement = text(
        sql.SQL("REINDEX INDEX CONCURRENTLY {index};").format(
            index=name_of(index.schema, index.name)
        )
    )
    return Fix((statement,), None, CONCURRENT_BUILD)


def analyze(table: Table) -> Fix:
    """Gather the planner's statistics now; reads a sample, blocks no writes."""
    statement = text(sql.SQL("ANALYZE {table};").format(table=name_of(table.schema, table.name)))
    return Fix((statement,), None, Risk(lock="SHARE UPDATE EXCLUSIVE"))


def vacuum_freeze(table: Table) -> Fix:
    """Freeze every row now, so the table's oldest transaction ID moves forward."""
    statement = text(
        sql.SQL("VACUUM (FREEZE, VERBOSE) {table};").format(table=name_of(table.schema, table.name))
    )
    return Fix((statement,), None, MAINTENANCE)


def set_fillfactor(table: Table, fillfactor: int) -> Fix:
    """Leave room in new pages for HOT updates; the rollback restores what was set."""
    relation = name_of(table.schema, table.name)
    forward = sql.SQL("ALTER TABLE {table} SET (fillfactor = {value});")
    previous = table.options.get("fillfactor")
    backward = (
        sql.SQL("ALTER TABLE {table} RESET (fillfactor);")
        if previous is None
        else sql.SQL("ALTER TABLE {table} SET (fillfactor = {previous});")
    )
    return Fix(
        (text(forward.format(table=relation, value=sql.Literal(fillfactor))),),
        (text(backward.format(table=relation, previous=sql.Literal(int(previous or 100)))),),
        RELOPTION,
    )


def create_gin_index(snap: Snapshot, table: Table, column: str) -> Fix:
    """A GIN index on a jsonb column, built without blocking writes where the table
    allows it (not on a partitioned table). Named by the snapshot's allocator, so the
    name is free in the schema, as every index a fix creates."""
    partitioned = table.kind == "p"
    name = snap.facts.names.new(table.schema, table.name, column, "gin", ("gin", table.oid, column))
    statement = "CREATE INDEX {name} ON {table} USING gin ({column});"
    if not partitioned:
        statement = statement.replace("INDEX", "INDEX CONCURRENTLY", 1)
    create = text(
        sql.SQL(statement).format(
            name=sql.Identifier(name),
            table=name_of(table.schema, table.name),
            column=sql.Identifier(column),
        )
    )
    drop = drop_index_statement(table.schema, name, concurrently=not partitioned)
    return Fix((create,), (drop,), PLAIN_BUILD if partitioned else CONCURRENT_BUILD)


def vacuum_full(table: Table) -> Fix:
    """Rewrite the table compactly: blocks every read and write while it runs."""
    statement = text(
        sql.SQL("VACUUM (FULL, ANALYZE) {table};").format(table=name_of(table.schema, table.name))
    )
    return Fix(
        (statement,), None, Risk(lock="ACCESS EXCLUSIVE", rewrites=True, transactional=False)
    )


# --- security ----------------------------------------------------------------------

CATALOG_ONLY = Risk()  # GRANT, REVOKE, ALTER FUNCTION/EXTENSION/ROLE: no table lock
PUBLIC_GRANTEE = "PUBLIC"


def routine(function: Function) -> sql.Composed:
    """`FUNCTION schema.name(arguments)` (or PROCEDURE), as ALTER, GRANT and REVOKE take it.
    The arguments are the server's own rendering (pg_get_function_identity_arguments)."""
    kind = "PROCEDURE" if function.kind == "p" else "FUNCTION"
    return sql.SQL("{kind} {name}({arguments})").format(
        kind=sql.SQL(kind),
        name=name_of(function.schema, function.name),
        arguments=sql.SQL(function.arguments),
    )


def search_path_value(schemas: Seq[str]) -> sql.Composable:
    if not schemas:
        return sql.SQL("''")
    return sql.SQL(", ").join(sql.Identifier(schema) for schema in schemas)


def set_function_search_path(function: Function, also: Seq[str] = ()) -> Fix:
    """Pin the search_path to the function's own schema, then `also` (where extensions
    keep their functions and types), pg_temp last (a temporary table cannot shadow a
    real one); the rollback resets it."""
    path = [function.schema, *also, "pg_temp"]
    statement = sql.SQL("ALTER {routine} SET search_path = {path};").format(
        routine=routine(function), path=search_path_value(path)
    )
    reset = sql.SQL("ALTER {routine} RESET search_path;").format(routine=routine(function))
    return Fix((text(statement),), (text(reset),), CATALOG_ONLY).with_note(
        "add every other schema whose objects the body names without a schema"
    )


def grantees(names: Seq[str]) -> sql.Composed:
    """A GRANT/REVOKE role list: PUBLIC is a keyword, every other name an identifier."""
    return sql.SQL(", ").join(
        sql.SQL(PUBLIC_GRANTEE) if name == PUBLIC_GRANTEE else sql.Identifier(name)
        for name in names
    )


def revoke_execute(function: Function, holders: Seq[str]) -> Fix:
    revoke = sql.SQL("REVOKE EXECUTE ON {routine} FROM {roles};").format(
        routine=routine(function), roles=grantees(holders)
    )
    grant = sql.SQL("GRANT EXECUTE ON {routine} TO {roles};").format(
        routine=routine(function), roles=grantees(holders)
    )
    return Fix((text(revoke),), (text(grant),), CATALOG_ONLY).with_note(
        "then GRANT EXECUTE to the roles that must call it"
    )


EXTENSIONS_SCHEMA = "extensions"  # where extension-in-public's fix moves them


def move_extension(
    extension: Extension, schema_missing: bool, drops_schema: bool, schema: str = EXTENSIONS_SCHEMA
) -> Fix:
    """Move the extension to its own schema. `schema_missing`: the schema did not exist,
    so the fix creates it (IF NOT EXISTS: several extensions share it, whichever fixes
    are applied); `drops_schema`: this fix's rollback drops it again (RESTRICT: only
    once every extension is back where it was and the schema is empty)."""
    target = sql.Identifier(schema)
    move = "ALTER EXTENSION {name} SET SCHEMA {schema};"
    forward = [
        sql.SQL(move).format(name=sql.Identifier(extension.name), schema=target),
    ]
    back = [
        sql.SQL(move).format(
            name=sql.Identifier(extension.name), schema=sql.Identifier(extension.schema)
        )
    ]
    if schema_missing:
        forward.insert(0, sql.SQL("CREATE SCHEMA IF NOT EXISTS {schema};").format(schema=target))
        if drops_schema:
            back.append(sql.SQL("DROP SCHEMA {schema} RESTRICT;").format(schema=target))
    return Fix(
        tuple(text(s) for s in forward), tuple(text(s) for s in back), Risk(moves=True)
    ).with_note(f"add {one_line(schema)} to the search_path of the roles that call its functions")


def alter_policy(policy: Policy, table: Table, using: str | None, check: str | None) -> str:
    """ALTER POLICY with the given expressions (None: that clause unchanged). The
    expressions are the server's own deparsed text."""
    clauses = []
    if using is not None:
        clauses.append(sql.SQL(" USING ({})").format(sql.SQL(using)))
    if check is not None:
        clauses.append(sql.SQL(" WITH CHECK ({})").format(sql.SQL(check)))
    return text(
        sql.SQL("ALTER POLICY {name} ON {table}{clauses};").format(
            name=sql.Identifier(policy.name),
            table=name_of(table.schema, table.name),
            clauses=sql.Composed(clauses),
        )
    )


def wrap_policy_calls(
    policy: Policy, table: Table, targets: dict[str, list[Function]]
) -> Fix | None:
    """Rewrite the policy so that each call of the target functions is `(SELECT f(...))`.
    None when its text was not read (a locked table) or nothing could be rewritten."""
    texts = {"USING": policy.using, "WITH CHECK": policy.with_check}
    rewritten: dict[str, str] = {}
    for clause, functions in targets.items():
        original = texts[clause]
        if original is None or not functions:
            continue
        new = wrap_calls(original, [(f.schema, f.name, f.result_type) for f in functions])
        if new != original:
            rewritten[clause] = new
    if not rewritten:
        return None
    forward = alter_policy(policy, table, rewritten.get("USING"), rewritten.get("WITH CHECK"))
    backward = alter_policy(
        policy,
        table,
        policy.using if "USING" in rewritten else None,
        policy.with_check if "WITH CHECK" in rewritten else None,
    )
    return Fix((forward,), (backward,), BRIEF_ALTER)


_SQL_TOKEN = re.compile(
    r"""(?P<string>[eE]?'(?:[^'\\]|''|\\.)*')
      | (?P<quoted>"(?:[^"]|"")*")
      | (?P<word>[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_$\u0080-\U0010ffff]*)
      | (?P<space>\s+)
      | (?P<other>.)""",
    re.X | re.S,
)


def _sql_tokens(expression: str) -> list[tuple[str, str, int, int]]:
    """(kind, text, start, end) of each token; strings and quoted names kept whole."""
    return [
        (match.lastgroup or "other", match.group(), match.start(), match.end())
        for match in _SQL_TOKEN.finditer(expression)
        if match.lastgroup != "space"
    ]


def _name(kind: str, token: str) -> str | None:
    if kind == "quoted":
        return token[1:-1].replace('""', '"')
    if kind == "word":
        return token.lower()
    return None


# Functions whose value follows from their arguments alone (IMMUTABLE): a call of one
# whose arguments are the wrapped call and constants is the same for every row too, and
# is wrapped with it (Windmill's `regexp_split_to_array(current_setting(...), ',')`,
# split per row otherwise)
ROW_FREE_FUNCTIONS = frozenset({
    "regexp_split_to_array", "string_to_array", "split_part", "lower", "upper", "btrim",
    "ltrim", "rtrim", "nullif", "coalesce", "replace", "regexp_replace", "substr", "left",
    "right", "array_append", "array_prepend", "jsonb_extract_path", "jsonb_extract_path_text",
})  # fmt: skip
# words that continue a type name after `::` (`timestamp with time zone`)
TYPE_WORDS = frozenset({"with", "without", "time", "zone", "precision", "varying"})
SPLITS = frozenset({"regexp_split_to_array", "string_to_array"})  # they return text[]
Tokens = list[tuple[str, str, int, int]]


def wrap_calls(expression: str, functions: Seq[tuple[str, str, str]]) -> str:
    """Wrap each call of the (schema, name) functions in `expression` (SQL as the server
    deparses it) in a scalar sub-select, unless it already is one: `(SELECT f(...))`,
    taking in the casts and the calls of ROW_FREE_FUNCTIONS around it that add only
    constants (`(SELECT (current_setting('app.ids'))::int[])`), so that nothing of it is
    computed per row. A call reads `name(` or `schema.name(`, names quoted or not;
    string literals are skipped whole, and the call's end is its matching parenthesis."""
    tokens = _sql_tokens(expression)
    wanted = {(schema, name): result for schema, name, result in functions}
    bare = {name: result for _, name, result in functions}
    edits: list[tuple[int, int, str]] = []
    index = 0
    while index < len(tokens):
        start = index
        schema = None
        name = _name(tokens[index][0], tokens[index][1])
        if name is not None and index + 2 < len(tokens) and tokens[index + 1][1] == ".":
            schema, index = name, index + 2
            name = _name(tokens[index][0], tokens[index][1])
        is_call = index + 1 < len(tokens) and tokens[index + 1][1] == "("
        matches = (schema, name) in wanted if schema is not None else name in bare
        if name is None or not is_call or not matches:
            index = start + 1
            continue
        call_end = _closing(tokens, index + 1)
        result = wanted[(schema, name)] if schema is not None else bare[name]
        start, end, suffix = _widened(expression, tokens, start, call_end, result)
        before = [t[1].lower() for t in tokens[max(0, start - 2) : start]]
        if before != ["(", "select"]:
            edits.append((tokens[start][2], tokens[end][3], suffix))
        index = max(end, call_end) + 1
    for begin, finish, suffix in reversed(edits):
        wrapped = f"( SELECT {expression[begin:finish]}){suffix}"
        expression = f"{expression[:begin]}{wrapped}{expression[finish:]}"
    return expression


def _closing(tokens: Tokens, opening: int) -> int:
    """The index of the parenthesis that closes the one at `opening` (or the last token)."""
    depth = 0
    for end in range(opening, len(tokens)):
        depth += {"(": 1, ")": -1}.get(tokens[end][1], 0)
        if depth == 0:
            return end
    return len(tokens) - 1


def _opening(tokens: Tokens, inside: int) -> int | None:
    """The index of the nearest unclosed parenthesis before `inside`."""
    depth = 0
    for index in range(inside - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(tokens[index][1], 0)
        if depth < 0:
            return index
    return None


def _widened(
    expression: str, tokens: Tokens, start: int, end: int, result: str
) -> tuple[int, int, str]:
    """The span [start, end] of a row-independent call, grown over what around it is
    row-independent as well: `(span)::type`, and `f(span, constants)` for f in
    ROW_FREE_FUNCTIONS; and what to write after the sub-select that wraps it.

    `x = ANY ((SELECT ...))` would compare x with each row of a sub-query, not with
    the elements of an array: a span that fills the parentheses of ANY, ALL or SOME is
    cast after its sub-select to the array type it has (`ANY ((SELECT f()::int[])::int[])`,
    a cast to the same type, which costs nothing), or is not grown that far."""
    # each span with its type, where it is known to be an array
    spans = [(start, end, f"::{result}" if result.endswith("]") else "")]
    while True:
        opening = _opening(tokens, start)
        if opening is None:
            break
        closing = _closing(tokens, opening)
        after_cast = _cast_end(tokens, closing + 1)
        if opening == start - 1 and closing == end + 1 and after_cast is not None:
            start, end = opening, after_cast
            spans.append((start, end, expression[tokens[closing + 1][2] : tokens[end][3]]))
            continue
        function = _name(*tokens[opening - 1][:2]) if opening > 0 else None
        others = tokens[opening + 1 : start] + tokens[end + 1 : closing]
        if function in ROW_FREE_FUNCTIONS and _constants(others):
            start, end = opening - 1, closing
            spans.append((start, end, "::text[]" if function in SPLITS else ""))
            continue
        break
    while len(spans) > 1 and _fills_any(tokens, *spans[-1][:2]) and not spans[-1][2]:
        spans.pop()
    start, end, cast = spans[-1]
    return start, end, cast if _fills_any(tokens, start, end) else ""


def _fills_any(tokens: Tokens, start: int, end: int) -> bool:
    """Is [start, end] all that stands in the parentheses of ANY, ALL or SOME?"""
    return (
        start >= 2
        and end + 1 < len(tokens)
        and tokens[start - 1][1] == "("
        and tokens[end + 1][1] == ")"
        and tokens[start - 2][1].lower() in ("any", "all", "some")
    )


def _cast_end(tokens: Tokens, at: int) -> int | None:
    """Where a `::type` that starts at `at` ends (its last token), or None."""
    if at + 2 >= len(tokens) or tokens[at][1] != ":" or tokens[at + 1][1] != ":":
        return None
    end = at + 2
    if tokens[end][0] not in ("word", "quoted"):
        return None
    while end + 2 < len(tokens) and tokens[end + 1][1] == "." and tokens[end + 2][0] != "other":
        end += 2  # a schema-qualified type
    while end + 1 < len(tokens) and tokens[end + 1][1].lower() in TYPE_WORDS:
        end += 1
    if end + 1 < len(tokens) and tokens[end + 1][1] == "(":
        end = _closing(tokens, end + 1)  # varchar(40), numeric(10,2)
    while end + 2 < len(tokens) and tokens[end + 1][1] == "[" and tokens[end + 2][1] == "]":
        end += 2
    return end


def _constants(tokens: Tokens) -> bool:
    """Do the tokens hold only literals, commas and casts (no name that could be a
    column)?"""
    index = 0
    while index < len(tokens):
        kind, token = tokens[index][:2]
        if token == ":" and (cast := _cast_end(tokens, index)) is not None:
            index = cast + 1
            continue
        if kind == "word" and token.lower() not in ("true", "false", "null"):
            return False
        if kind == "quoted" or token in ("(", ")"):
            return False
        index += 1
    return True


def enable_rls(table: Table, note: str) -> Fix:
    """Enable row-level security; the rollback disables it."""
    statement = "ALTER TABLE {table} {action} ROW LEVEL SECURITY;"
    relation = name_of(table.schema, table.name)
    return Fix(
        (text(sql.SQL(statement).format(table=relation, action=sql.SQL("ENABLE"))),),
        (text(sql.SQL(statement).format(table=relation, action=sql.SQL("DISABLE"))),),
        BRIEF_ALTER,
    ).with_note(note)


def set_role_attribute(role: str, attribute: str, enabled: bool) -> Fix:
    """ALTER ROLE ... NO<ATTRIBUTE> (or back)."""
    on, off = sql.SQL(attribute), sql.SQL(f"NO{attribute}")
    statement = "ALTER ROLE {role} {attribute};"
    forward, back = (on, off) if enabled else (off, on)
    return Fix(
        (text(sql.SQL(statement).format(role=sql.Identifier(role), attribute=forward)),),
        (text(sql.SQL(statement).format(role=sql.Identifier(role), attribute=back)),),
        CATALOG_ONLY,
    )


def set_security_invoker(view: View) -> Fix:
    """PostgreSQL 15+: check privileges and policies as the querying role."""
    relation = name_of(view.schema, view.name)
    return Fix(
        (text(sql.SQL("ALTER VIEW {view} SET (security_invoker = true);").format(view=relation)),),
        (text(sql.SQL("ALTER VIEW {view} RESET (security_invoker);").format(view=relation)),),
        BRIEF_ALTER,
    ).with_note("its readers then need SELECT on the tables it reads, and policies that allow them")


def revoke_from_public(privilege: str, *, sql_schema: str) -> Fix:
    """REVOKE a schema privilege from PUBLIC; the rollback grants it back."""
    schema = sql.Identifier(sql_schema)
    return Fix(
        (
            text(
                sql.SQL("REVOKE {p} ON SCHEMA {s} FROM PUBLIC;").format(
                    p=sql.SQL(privilege), s=schema
                )
            ),
        ),
        (
            text(
                sql.SQL("GRANT {p} ON SCHEMA {s} TO PUBLIC;").format(p=sql.SQL(privilege), s=schema)
            ),
        ),
        CATALOG_ONLY,
    )


def revoke_table_from_public(
    schema: str, table: str, privileges: Iterable[str], column_privileges: Iterable[str]
) -> Fix:
    """REVOKE what PUBLIC holds on a table (and its columns, as "SELECT (column)")."""
    relation = name_of(schema, table)
    forward, back = [], []
    table_level = sorted(privileges)
    if table_level:
        listed = sql.SQL(", ").join(sql.SQL(p) for p in table_level)
        forward.append(sql.SQL("REVOKE {p} ON {t} FROM PUBLIC;").format(p=listed, t=relation))
        back.append(sql.SQL("GRANT {p} ON {t} TO PUBLIC;").format(p=listed, t=relation))
    for entry in sorted(column_privileges):
        privilege, _, column = entry.partition(" (")
        listed = sql.SQL("{p} ({c})").format(p=sql.SQL(privilege), c=sql.Identifier(column[:-1]))
        forward.append(sql.SQL("REVOKE {p} ON {t} FROM PUBLIC;").format(p=listed, t=relation))
        back.append(sql.SQL("GRANT {p} ON {t} TO PUBLIC;").format(p=listed, t=relation))
    return Fix(
        tuple(text(s) for s in forward), tuple(text(s) for s in back), CATALOG_ONLY
    ).with_note("then grant what is needed to the roles that need it")


def force_rls(table: Table) -> Fix:
    relation = name_of(table.schema, table.name)
    statement = "ALTER TABLE {table} {mode} ROW LEVEL SECURITY;"
    return Fix(
        (text(sql.SQL(statement).format(table=relation, mode=sql.SQL("FORCE"))),),
        (text(sql.SQL(statement).format(table=relation, mode=sql.SQL("NO FORCE"))),),
        BRIEF_ALTER,
    ).with_note("the owner's migrations and jobs become subject to the policies too")


# --- extensions ----------------------------------------------------------------------
