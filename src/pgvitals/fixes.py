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


# --- references (missing-foreign-key, fk-type-mismatch) ------------------------------

ADD_FOREIGN_KEY = Risk(lock="SHARE ROW EXCLUSIVE")  # on both tables; NOT VALID: brief


def list_orphans_statement(table: Table, columns: Seq[str], target: Table, keys: Seq[str]) -> str:
    """A query listing the rows whose reference matches no key (they stop VALIDATE)."""
    return text(
        sql.SQL(
            "SELECT r.* FROM {table} AS r WHERE {present}"
            " AND NOT EXISTS (SELECT FROM {target} AS k WHERE {matches});"
        ).format(
            table=name_of(table.schema, table.name),
            target=name_of(target.schema, target.name),
            present=sql.SQL(" AND ").join(
                sql.SQL("r.{} IS NOT NULL").format(sql.Identifier(c)) for c in columns
            ),
            matches=sql.SQL(" AND ").join(
                sql.SQL("k.{} = r.{}").format(sql.Identifier(k), sql.Identifier(c))
                for c, k in zip(columns, keys, strict=True)
            ),
        )
    )


def add_foreign_key(
    table: Table, columns: Seq[str], target: Table, keys: Seq[str], name: str
) -> Fix:
    """`ADD CONSTRAINT ... NOT VALID` (a brief lock; new rows are checked from then on),
    then `VALIDATE CONSTRAINT`, which checks the existing rows without blocking writes.
    PostgreSQL before 18 cannot add a NOT VALID foreign key to a partitioned table:
    there the constraint is added and checked in one statement, blocking writes while
    it reads the table."""
    relation = name_of(table.schema, table.name)
    constraint = sql.Identifier(name)
    add = sql.SQL(
        "ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({columns})"
        " REFERENCES {target} ({keys}){not_valid};"
    )
    partitioned = table.kind == "p"
    statements = [
        text(
            add.format(
                table=relation,
                name=constraint,
                columns=columns_list(columns),
                target=name_of(target.schema, target.name),
                keys=columns_list(keys),
                not_valid=sql.SQL("" if partitioned else " NOT VALID"),
            )
        )
    ]
    if not partitioned:
        statements.append(
            text(
                sql.SQL("ALTER TABLE {table} VALIDATE CONSTRAINT {name};").format(
                    table=relation, name=constraint
                )
            )
        )
    drop = text(
        sql.SQL("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name};").format(
            table=relation, name=constraint
        )
    )
    return Fix(tuple(statements), (drop,), ADD_FOREIGN_KEY)


def convert_column_type(column: Column, type_name: str) -> Fix:
    """`ALTER COLUMN ... TYPE ... USING column::type`: rewrites the table and its indexes
    under ACCESS EXCLUSIVE, and fails (changing nothing) on a value that does not convert.
    The rollback converts back to the column's type as it was."""
    statement = "ALTER TABLE {table} ALTER COLUMN {column} TYPE {type} USING {column}::{type};"
    relation = name_of(column.schema, column.table)

    def convert(to: str) -> str:
        return text(
            sql.SQL(statement).format(
                table=relation, column=sql.Identifier(column.name), type=sql.SQL(to)
            )
        )

    return Fix((convert(type_name),), (convert(column.data_type),), REWRITE)


# --- column types (timestamp-without-time-zone, serial-instead-of-identity) -----------


def timestamp_to_timestamptz(column: Column, indexed: bool) -> Fix:
    """`timestamp` -> `timestamptz`, reading the stored values as UTC. With the session's
    TimeZone at UTC, PostgreSQL 12+ changes the type without rewriting the table; the
    indexes on the column are rebuilt. The rollback goes back the same way."""
    relation = name_of(column.schema, column.table)

    def retype(to: str) -> tuple[str, ...]:
        alter = sql.SQL("ALTER TABLE {table} ALTER COLUMN {column} TYPE {type};").format(
            table=relation, column=sql.Identifier(column.name), type=sql.SQL(to)
        )
        return ("SET TimeZone = 'UTC';", text(alter), "RESET TimeZone;")

    return Fix(
        retype("timestamptz"),
        retype(column.data_type),
        Risk(lock="ACCESS EXCLUSIVE", rewrites=indexed),
    ).with_note(
        f"reads the values of {one_line(column.name)} as UTC; if they were written in"
        " another zone, use TYPE timestamptz USING ... AT TIME ZONE '<zone>' (a rewrite)"
    )


def _restart_after_max(sequence: sql.Composable, table: Table, column: Column) -> str:
    """Move a sequence past the largest value of its column (1 for an empty table)."""
    return text(
        sql.SQL(
            "SELECT pg_catalog.setval({sequence}, coalesce(max({column}), 0) + 1, false)"
            " FROM {table};"
        ).format(
            sequence=sequence,
            column=sql.Identifier(column.name),
            table=name_of(table.schema, table.name),
        )
    )


def serial_to_identity(table: Table, column: Column, sequence: Sequence) -> Fix:
    """Replace a `nextval()` default by an identity column positioned after the largest
    id. The old sequence is kept, detached and unused, so that the rollback can restore
    it with its owner, grants and settings: the default, OWNED BY (where it was) and the
    position come back; drop it once the change is settled."""
    relation = name_of(table.schema, table.name)
    name = sql.Identifier(column.name)
    sequence_name = name_of(sequence.schema, sequence.name)
    regclass = sql.Literal(text(sequence_name))
    identity_sequence = sql.SQL("pg_catalog.pg_get_serial_sequence({table}, {column})").format(
        table=sql.Literal(text(relation)), column=sql.Literal(column.name)
    )
    owned = (sequence.owned_by_table_oid, sequence.owned_by_column) == (table.oid, column.name)
    forward = [text(sql.SQL("ALTER TABLE {} ALTER COLUMN {} DROP DEFAULT;").format(relation, name))]
    if owned:
        forward.append(text(sql.SQL("ALTER SEQUENCE {} OWNED BY NONE;").format(sequence_name)))
    forward += [
        text(
            sql.SQL("ALTER TABLE {} ALTER COLUMN {} ADD GENERATED BY DEFAULT AS IDENTITY;").format(
                relation, name
            )
        ),
        _restart_after_max(identity_sequence, table, column),
    ]
    backward = [
        text(
            sql.SQL("ALTER TABLE {} ALTER COLUMN {} DROP IDENTITY IF EXISTS;").format(
                relation, name
            )
        ),
        text(
            sql.SQL(
                "ALTER TABLE {} ALTER COLUMN {} SET DEFAULT pg_catalog.nextval({}::regclass);"
            ).format(relation, name, regclass)
        ),
    ]
    if owned:
        backward.append(
            text(sql.SQL("ALTER SEQUENCE {} OWNED BY {}.{};").format(sequence_name, relation, name))
        )
    backward.append(_restart_after_max(regclass, table, column))
    return Fix(tuple(forward), tuple(backward), BRIEF_ALTER).with_note(
        f"keeps {one_line(sequence.qualname)} (unused) for the rollback: drop it when settled"
    )


def validate_constraint(constraint: Constraint) -> Fix:
    """Check the existing rows against a NOT VALID constraint; reads and writes go on
    (SHARE UPDATE EXCLUSIVE). The rollback puts the constraint back exactly as it was,
    NOT VALID (its definition says so), by dropping and re-adding it."""
    statement = sql.SQL("ALTER TABLE {table} VALIDATE CONSTRAINT {name};").format(
        table=name_of(constraint.schema, constraint.table), name=sql.Identifier(constraint.name)
    )
    restore = add_constraint_statement(constraint)
    rollback = (drop_constraint_statement(constraint), restore) if restore else None
    return Fix((text(statement),), rollback, Risk(lock="SHARE UPDATE EXCLUSIVE"))


def add_check_not_valid(column: Column, name: str, expression: str) -> Fix:
    """`ADD CONSTRAINT ... CHECK (...) NOT VALID` (a brief lock; new rows are checked),
    then `VALIDATE CONSTRAINT` (checks the old rows, writes go on). `expression` has one
    `{}` where the column goes."""
    relation = name_of(column.schema, column.table)
    constraint = sql.Identifier(name)
    check = sql.SQL(expression).format(sql.Identifier(column.name))
    add = sql.SQL("ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({check}) NOT VALID;").format(
        table=relation, name=constraint, check=check
    )
    validate = sql.SQL("ALTER TABLE {table} VALIDATE CONSTRAINT {name};").format(
        table=relation, name=constraint
    )
    drop = sql.SQL("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name};").format(
        table=relation, name=constraint
    )
    return Fix((text(add), text(validate)), (text(drop),), BRIEF_ALTER)


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
    return Fix((text(create),), (text(drop),), BRIEF_ALTER)
