"""Fix and rollback SQL. Built only with psycopg.sql, so every name is quoted right.

Fixes are written to files for a human to review and run; pgvitals never runs them.
Forms that avoid long locks are preferred: CREATE/DROP INDEX CONCURRENTLY, and
constraints added NOT VALID then validated. Each helper returns a `Fix` whose risk
(lock level, rewrite, drop, transaction) it declares from what the statement does,
as PostgreSQL's documentation of each command states it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence as Seq

from psycopg import sql

from pgvitals.findings import Fix, Risk
from pgvitals.snapshot.model import Column, Constraint, Index, Sequence, Table

MAX_IDENTIFIER_BYTES = 63  # NAMEDATALEN - 1: PostgreSQL truncates longer names


def text(statement: sql.Composable) -> str:
    return statement.as_string(None)


def name_of(schema: str, name: str) -> sql.Identifier:
    return sql.Identifier(schema, name)


def columns_list(columns: Seq[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(column) for column in columns)


def index_name(table: str, columns: Seq[str], suffix: str = "idx") -> str:
    """`table_col1_col2_idx`, shortened with a hash when over PostgreSQL's limit."""
    name = "_".join([table, *columns, suffix])
    if len(name.encode()) <= MAX_IDENTIFIER_BYTES:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    head = name.encode()[: MAX_IDENTIFIER_BYTES - len(digest) - len(suffix) - 2]
    return f"{head.decode(errors='ignore')}_{digest}_{suffix}"


# Declared risks of the statements built here.
CONCURRENT_BUILD = Risk(lock="SHARE UPDATE EXCLUSIVE", transactional=False)
PLAIN_BUILD = Risk(lock="SHARE")  # CREATE INDEX: blocks writes while it builds
BRIEF_ALTER = Risk(lock="ACCESS EXCLUSIVE")  # catalog-only ALTER TABLE: brief, but blocks all
REWRITE = Risk(lock="ACCESS EXCLUSIVE", rewrites=True)
MAINTENANCE = Risk(lock="SHARE UPDATE EXCLUSIVE", transactional=False)  # VACUUM
RELOPTION = Risk(lock="SHARE UPDATE EXCLUSIVE")  # ALTER TABLE ... SET/RESET (autovacuum_*)


def create_index(table: Table, columns: Seq[str], name: str) -> Fix:
    """CONCURRENTLY does not block writes; a partitioned table cannot use it, so there
    the index is created on the parent, which builds one per partition and blocks
    writes while it does."""
    partitioned = table.kind == "p"
    statement = "CREATE INDEX {name} ON {table} ({columns});"
    if not partitioned:
        statement = statement.replace("INDEX", "INDEX CONCURRENTLY", 1)
    create = text(
        sql.SQL(statement).format(
            name=sql.Identifier(name),
            table=name_of(table.schema, table.name),
            columns=columns_list(columns),
        )
    )
    drop = drop_index_statement(table.schema, name, concurrently=not partitioned)
    return Fix((create,), (drop,), PLAIN_BUILD if partitioned else CONCURRENT_BUILD)


def drop_index_statement(schema: str, name: str, *, concurrently: bool = True) -> str:
    statement = (
        "DROP INDEX CONCURRENTLY IF EXISTS {index};"
        if concurrently
        else "DROP INDEX IF EXISTS {index};"
    )
    return text(sql.SQL(statement).format(index=name_of(schema, name)))


def recreate_index_statement(index: Index, *, partitioned: bool = False) -> str | None:
    """The index's own definition (as the server deparsed it), built without blocking
    where it can be; None when its definition could not be read."""
    if index.definition is None:
        return None
    if partitioned:
        return f"{index.definition};"
    return (
        re.sub(r"^CREATE (UNIQUE )?INDEX ", r"CREATE \1INDEX CONCURRENTLY ", index.definition) + ";"
    )


def drop_index(index: Index, *, partitioned: bool = False) -> Fix | None:
    """None when the index's definition is unknown: a drop without a way back is not
    offered."""
    restore = recreate_index_statement(index, partitioned=partitioned)
    if restore is None:
        return None
    drop = drop_index_statement(index.schema, index.name, concurrently=not partitioned)
    lock = "ACCESS EXCLUSIVE" if partitioned else "SHARE UPDATE EXCLUSIVE"
    return Fix((drop,), (restore,), Risk(lock=lock, drops=True, transactional=partitioned))


def one_line(name: str) -> str:
    """A name safe inside a `--` comment: control characters shown escaped, so a name
    with a newline cannot put its own text on a line of SQL."""
    return re.sub(r"[\x00-\x1f\x7f\u2028\u2029]", lambda m: repr(m.group())[1:-1], name)


def drop_constraint_statement(constraint: Constraint) -> str:
    return text(
        sql.SQL("ALTER TABLE {table} DROP CONSTRAINT {name};").format(
            table=name_of(constraint.schema, constraint.table),
            name=sql.Identifier(constraint.name),
        )
    )


def add_constraint_statement(constraint: Constraint) -> str | None:
    if constraint.definition is None:
        return None
    return text(
        sql.SQL("ALTER TABLE {table} ADD CONSTRAINT {name} {definition};").format(
            table=name_of(constraint.schema, constraint.table),
            name=sql.Identifier(constraint.name),
            definition=sql.SQL(constraint.definition),
        )
    )


def drop_constraint(constraint: Constraint) -> Fix | None:
    """None when the constraint's definition is unknown (nothing to restore it from)."""
    restore = add_constraint_statement(constraint)
    if restore is None:
        return None
    return Fix(
        (drop_constraint_statement(constraint),),
        (restore,),
        Risk(lock="ACCESS EXCLUSIVE", drops=True),
    )


def primary_key_name(table: Table) -> str:
    return index_name(table.name, [], "pkey")


def add_primary_key_using_index(table: Table, index: Index) -> Fix | None:
    """Promote an existing unique index: no new index build, a brief lock only. The
    index takes the constraint's name; undoing it drops the key and rebuilds the index."""
    restore = recreate_index_statement(index)
    if restore is None:
        return None
    promote = text(
        sql.SQL(
            "ALTER TABLE {table} ADD CONSTRAINT {name} PRIMARY KEY USING INDEX {index};"
        ).format(
            table=name_of(table.schema, table.name),
            name=sql.Identifier(primary_key_name(table)),
            index=sql.Identifier(index.name),
        )
    )
    return Fix((promote,), (drop_primary_key_statement(table), restore), BRIEF_ALTER)


def add_primary_key_on_columns(table: Table, columns: Seq[str]) -> Fix:
    """Build the unique index without blocking writes, then promote it.

    A partitioned table cannot build indexes concurrently; there the plain form is
    the only one, and it locks the table while the index is built."""
    name = sql.Identifier(primary_key_name(table))
    relation = name_of(table.schema, table.name)
    rollback = (drop_primary_key_statement(table),)
    if table.kind == "p":
        statement = text(
            sql.SQL("ALTER TABLE {table} ADD CONSTRAINT {name} PRIMARY KEY ({columns});").format(
                table=relation, name=name, columns=columns_list(columns)
            )
        )
        return Fix((statement,), rollback, BRIEF_ALTER)
    build = text(
        sql.SQL("CREATE UNIQUE INDEX CONCURRENTLY {name} ON {table} ({columns});").format(
            table=relation, name=name, columns=columns_list(columns)
        )
    )
    promote = text(
        sql.SQL("ALTER TABLE {table} ADD CONSTRAINT {name} PRIMARY KEY USING INDEX {name};").format(
            table=relation, name=name
        )
    )
    return Fix((build, promote), rollback, CONCURRENT_BUILD | BRIEF_ALTER)


def add_identity_primary_key(table: Table, column: str = "id") -> Fix:
    add = text(
        sql.SQL(
            "ALTER TABLE {table} ADD COLUMN {column}"
            " bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;"
        ).format(table=name_of(table.schema, table.name), column=sql.Identifier(column))
    )
    drop = text(
        sql.SQL("ALTER TABLE {table} DROP COLUMN IF EXISTS {column};").format(
            table=name_of(table.schema, table.name), column=sql.Identifier(column)
        )
    )
    return Fix((add,), (drop,), REWRITE)


def drop_primary_key_statement(table: Table) -> str:
    return text(
        sql.SQL("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name};").format(
            table=name_of(table.schema, table.name),
            name=sql.Identifier(primary_key_name(table)),
        )
    )


def vacuum_analyze(table: Table) -> Fix:
    statement = text(
        sql.SQL("VACUUM (ANALYZE) {table};").format(table=name_of(table.schema, table.name))
    )
    return Fix((statement,), None, MAINTENANCE)


def set_autovacuum(table: Table, enabled: bool) -> Fix:
    """Turn autovacuum back on for the table (or off, to undo)."""
    on = "ALTER TABLE {table} RESET (autovacuum_enabled, toast.autovacuum_enabled);"
    off = "ALTER TABLE {table} SET (autovacuum_enabled = false);"
    relation = name_of(table.schema, table.name)
    forward, backward = (on, off) if enabled else (off, on)
    return Fix(
        (text(sql.SQL(forward).format(table=relation)),),
        (text(sql.SQL(backward).format(table=relation)),),
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


def create_gin_index(table: Table, column: str) -> Fix:
    """A GIN index on a jsonb column, built without blocking writes where the table
    allows it (not on a partitioned table)."""
    partitioned = table.kind == "p"
    name = index_name(table.name, [column], "gin")
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
