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
from collections.abc import Iterable
from collections.abc import Sequence as Seq

from psycopg import sql

from pgvitals.findings import Fix, Risk
from pgvitals.snapshot.model import (
    Column,
    Constraint,
    Extension,
    Function,
    Index,
    Policy,
    Sequence,
    Table,
    View,
)

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


def set_function_search_path(function: Function) -> Fix:
    """Pin the search_path to the function's own schema, pg_temp last (a temporary table
    cannot shadow a real one); the rollback resets it."""
    statement = sql.SQL("ALTER {routine} SET search_path = {path};").format(
        routine=routine(function), path=search_path_value([function.schema, "pg_temp"])
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


def move_extension(extension: Extension, create_schema: bool, schema: str = "extensions") -> Fix:
    """Move the extension to its own schema; `create_schema`: the schema does not exist
    yet, so the fix creates it and the rollback drops it again (RESTRICT: only once the
    extension is back where it was and the schema is empty)."""
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
    if create_schema:
        forward.insert(0, sql.SQL("CREATE SCHEMA {schema};").format(schema=target))
        back.append(sql.SQL("DROP SCHEMA {schema} RESTRICT;").format(schema=target))
    return Fix(
        tuple(text(s) for s in forward), tuple(text(s) for s in back), CATALOG_ONLY
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
        new = wrap_calls(original, [(f.schema, f.name) for f in functions])
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


def wrap_calls(expression: str, functions: Seq[tuple[str, str]]) -> str:
    """Wrap each call of the (schema, name) functions in `expression` (SQL as the server
    deparses it) in a scalar sub-select, unless it already is one: `(SELECT f(...))`.
    A call reads `name(` or `schema.name(`, names quoted or not; string literals are
    skipped whole, and the call's end is its matching parenthesis."""
    tokens = _sql_tokens(expression)
    wanted = {(schema, name) for schema, name in functions}
    bare = {name for _, name in functions}
    edits: list[tuple[int, int]] = []
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
        depth, end = 0, index + 1
        while end < len(tokens):
            depth += {"(": 1, ")": -1}.get(tokens[end][1], 0)
            if depth == 0:
                break
            end += 1
        before = [t[1].lower() for t in tokens[max(0, start - 2) : start]]
        if before != ["(", "select"]:
            edits.append((tokens[start][2], tokens[end][3]))
        index = end + 1
    for begin, finish in reversed(edits):
        expression = (
            f"{expression[:begin]}( SELECT {expression[begin:finish]}){expression[finish:]}"
        )
    return expression


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
