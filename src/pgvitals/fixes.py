"""Fix and rollback SQL. Built only with psycopg.sql, so every name is quoted right.

Fixes are written to files for a human to review and run; pgvitals never runs them.
Forms that avoid long locks are preferred: CREATE/DROP INDEX CONCURRENTLY, and
constraints added NOT VALID then validated.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence as Seq

from psycopg import sql

from pgvitals.snapshot.model import Constraint, Index, Table

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


def create_index(table: Table, columns: Seq[str], name: str) -> str:
    """CONCURRENTLY does not block writes; a partitioned table cannot use it, so there
    the index is created on the parent alone and the partitions' indexes are attached
    by PostgreSQL as they are built."""
    if table.kind == "p":
        statement = sql.SQL("CREATE INDEX {name} ON {table} ({columns});")
    else:
        statement = sql.SQL("CREATE INDEX CONCURRENTLY {name} ON {table} ({columns});")
    return text(
        statement.format(
            name=sql.Identifier(name),
            table=name_of(table.schema, table.name),
            columns=columns_list(columns),
        )
    )


def drop_index(schema: str, name: str, *, concurrently: bool = True) -> str:
    statement = (
        "DROP INDEX CONCURRENTLY IF EXISTS {index};"
        if concurrently
        else "DROP INDEX IF EXISTS {index};"
    )
    return text(sql.SQL(statement).format(index=name_of(schema, name)))


def recreate_index(index: Index, *, partitioned: bool = False) -> str:
    """The index's own definition (as the server deparsed it), built without blocking."""
    if index.definition is None:
        return f"-- the definition of {one_line(index.qualname)} could not be read (table locked)"
    if partitioned:
        return f"{index.definition};"
    return (
        re.sub(r"^CREATE (UNIQUE )?INDEX ", r"CREATE \1INDEX CONCURRENTLY ", index.definition) + ";"
    )


def one_line(name: str) -> str:
    """A name safe inside a `--` comment: control characters shown escaped, so a name
    with a newline cannot put its own text on a line of SQL."""
    return re.sub(r"[\x00-\x1f\x7f\u2028\u2029]", lambda m: repr(m.group())[1:-1], name)


def drop_constraint(constraint: Constraint) -> str:
    return text(
        sql.SQL("ALTER TABLE {table} DROP CONSTRAINT {name};").format(
            table=name_of(constraint.schema, constraint.table),
            name=sql.Identifier(constraint.name),
        )
    )


def add_constraint(constraint: Constraint) -> str:
    if constraint.definition is None:
        return (
            f"-- the definition of {one_line(constraint.qualname)} could not be read (table locked)"
        )
    return text(
        sql.SQL("ALTER TABLE {table} ADD CONSTRAINT {name} {definition};").format(
            table=name_of(constraint.schema, constraint.table),
            name=sql.Identifier(constraint.name),
            definition=sql.SQL(constraint.definition),
        )
    )


def add_primary_key_using_index(table: Table, index: Index) -> str:
    """Promote an existing unique index: no new index build, a brief lock only."""
    return text(
        sql.SQL(
            "ALTER TABLE {table} ADD CONSTRAINT {name} PRIMARY KEY USING INDEX {index};"
        ).format(
            table=name_of(table.schema, table.name),
            name=sql.Identifier(index_name(table.name, [], "pkey")),
            index=sql.Identifier(index.name),
        )
    )


def add_primary_key_on_columns(table: Table, columns: Seq[str]) -> str:
    """Build the unique index without blocking writes, then promote it.

    A partitioned table cannot build indexes concurrently; there the plain form is
    the only one, and it locks the table while the index is built."""
    name = sql.Identifier(index_name(table.name, [], "pkey"))
    relation = name_of(table.schema, table.name)
    if table.kind == "p":
        return text(
            sql.SQL("ALTER TABLE {table} ADD CONSTRAINT {name} PRIMARY KEY ({columns});").format(
                table=relation, name=name, columns=columns_list(columns)
            )
        )
    return text(
        sql.SQL(
            "CREATE UNIQUE INDEX CONCURRENTLY {name} ON {table} ({columns});\n"
            "ALTER TABLE {table} ADD CONSTRAINT {name} PRIMARY KEY USING INDEX {name};"
        ).format(table=relation, name=name, columns=columns_list(columns))
    )


def add_identity_primary_key(table: Table, column: str = "id") -> str:
    return text(
        sql.SQL(
            "ALTER TABLE {table} ADD COLUMN {column}"
            " bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;"
        ).format(table=name_of(table.schema, table.name), column=sql.Identifier(column))
    )


def drop_primary_key(table: Table) -> str:
    return text(
        sql.SQL("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name};").format(
            table=name_of(table.schema, table.name),
            name=sql.Identifier(index_name(table.name, [], "pkey")),
        )
    )


def drop_column(table: Table, column: str) -> str:
    return text(
        sql.SQL("ALTER TABLE {table} DROP COLUMN IF EXISTS {column};").format(
            table=name_of(table.schema, table.name), column=sql.Identifier(column)
        )
    )


def vacuum_analyze(table: Table) -> str:
    return text(
        sql.SQL("VACUUM (ANALYZE) {table};").format(table=name_of(table.schema, table.name))
    )


def set_autovacuum(table: Table, enabled: bool) -> str:
    statement = (
        "ALTER TABLE {table} RESET (autovacuum_enabled, toast.autovacuum_enabled);"
        if enabled
        else "ALTER TABLE {table} SET (autovacuum_enabled = false);"
    )
    return text(sql.SQL(statement).format(table=name_of(table.schema, table.name)))
