"""Migration safety: what the reviewed statements would do to the tables of a live
database, found while they load on top of a base schema (`review --base`).

Two sources, each used where it is right:

- squawk (`squawk-cli`, a maintained migration linter) reads the statements and says
  which operations take locks that stop a live table (an index built without
  CONCURRENTLY, a constraint validated in place, a rename). It cannot know which
  tables already exist, so its findings are kept only for statements that act on a
  table the base schema had: an index on a table created earlier in the reviewed
  files locks nobody. Those of its rules that need the schema to be right are not
  used (see `LINTED`).
- PostgreSQL itself, watched while it loads each reviewed statement: whether an
  ALTER TABLE rewrote an existing table (its relfilenode changed: a column type
  change, a volatile default) or built one of its indexes anew without rewriting it
  (a column's collation changed: the index's relfilenode changed), and whether a
  SET NOT NULL had a validated CHECK to skip its scan. A DO block or a CALL names no
  table a linter can read (its statements are a string run by PL/pgSQL, and often
  conditional, as Mattermost's `IF column_exist THEN ALTER TABLE ...`): what it did to
  the base's tables is read from the catalog before and after it runs (see `Shape`).

Without squawk (not installed, or its binary does not run on this platform) the rules
only it checks are reported as skipped with the reason; those PostgreSQL also observes
in DO blocks and CALLs ran there, and say that the other statements were not checked.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sysconfig
import tempfile
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from pglast import ast
from pglast.enums import AlterTableType, ConstrType, ObjectType

from pgvitals.engine import Analysis, Check
from pgvitals.fmt import plural
from pgvitals.review.load import LOADED, Load
from pgvitals.review.runners import Runner
from pgvitals.review.split import Statement
from pgvitals.review.transaction import Backfill, Long, Transactions, backfill_of, long_work
from pgvitals.snapshot.model import MigrationHazard

SKIP_STEP = "migration-safety"  # collection.skipped entries that say squawk did not run
SQUAWK_SECONDS = 300
SQUAWK_VARIABLE = "PGVITALS_SQUAWK"  # the squawk binary to use instead of the installed one

# squawk's rules whose findings become pgvitals findings, by pgvitals rule id. Every
# one is about a table that exists: kept only where the base schema had the table.
LINTED = {
    "require-concurrent-index-creation": "migration-index-not-concurrent",
    "require-concurrent-index-deletion": "migration-drop-index-not-concurrent",
    "require-concurrent-reindex": "migration-reindex-not-concurrent",
    "constraint-missing-not-valid": "migration-constraint-without-not-valid",
    "adding-foreign-key-constraint": "migration-constraint-without-not-valid",
    "disallowed-unique-constraint": "migration-key-without-index",
    "adding-serial-primary-key-field": "migration-key-without-index",
    "adding-required-field": "migration-required-column",
    "renaming-column": "migration-rename-column",
    "renaming-table": "migration-rename-table",
    "ban-drop-column": "migration-drop-column",
    "ban-drop-table": "migration-drop-table",
}
LINTED_RULES = frozenset(LINTED.values())
COLUMN_RULES = frozenset({LINTED["renaming-column"], LINTED["ban-drop-column"]})
# Not used, because PostgreSQL answers better while the statement loads:
# changing-column-type and adding-field-with-default guess at a rewrite (a varchar to
# text change is flagged though it rewrites nothing; an added serial column is not,
# though it rewrites); adding-not-nullable-field is silenced by any VALIDATE of the
# table, whichever constraint it validates. The style rules (prefer-bigint-over-int,
# prefer-text-field, prefer-timestamp-tz, prefer-identity, ...) repeat what the rule
# catalogue finds on the loaded schema; prefer-robust-stmts and require-*-timeout
# judge how a migration tool runs files, which a review does not know.
TABLE_REWRITE, SET_NOT_NULL_SCAN = "migration-table-rewrite", "migration-set-not-null-scan"
OBSERVED = "postgresql"

INDEX_NOT_CONCURRENT = LINTED["require-concurrent-index-creation"]
KEY_WITHOUT_INDEX = LINTED["disallowed-unique-constraint"]
DROP_COLUMN, RENAME_COLUMN = LINTED["ban-drop-column"], LINTED["renaming-column"]
DROP_TABLE = LINTED["ban-drop-table"]
# squawk's rules that PostgreSQL also reports where a DO block or a CALL did it
# (`block_hazards`): without squawk these still ran, on the blocks.
BLOCK_RULES = frozenset(
    {INDEX_NOT_CONCURRENT, KEY_WITHOUT_INDEX, DROP_COLUMN, RENAME_COLUMN, DROP_TABLE}
)
BLOCKS = (ast.DoStmt, ast.CallStmt)  # statements that run other statements
# squawk's safe form for these is a CONCURRENTLY statement, which a transaction block refuses
CONCURRENTLY_RULES = frozenset(
    {INDEX_NOT_CONCURRENT, KEY_WITHOUT_INDEX, LINTED["require-concurrent-index-deletion"],
     LINTED["require-concurrent-reindex"]}
)  # fmt: skip

RELATION_KINDS = ("r", "p", "m", "f")
# The relations a statement names, resolved as the server would at that moment (the
# search_path applies to unqualified names); an index stands for its table. Never
# raises, so it can run inside the file's own transaction block.
TARGETS = """
SELECT DISTINCT t.oid, tn.nspname || '.' || t.relname
  FROM ROWS FROM (pg_catalog.unnest(%s::text[]), pg_catalog.unnest(%s::text[]))
       AS named(schema, name)
  JOIN pg_catalog.pg_class c ON c.relname = named.name
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid
  JOIN pg_catalog.pg_class t ON t.oid = coalesce(i.indrelid, c.oid)
  JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
 WHERE CASE WHEN named.schema IS NULL THEN pg_catalog.pg_table_is_visible(c.oid)
            ELSE n.nspname = named.schema END
"""
# A table and its partitions, with the file each is stored in.
FILENODES = """
WITH RECURSIVE tree(oid) AS (
  SELECT %s::oid
  UNION
  SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN tree ON i.inhparent = tree.oid
)
SELECT c.oid, c.relfilenode FROM tree JOIN pg_catalog.pg_class c ON c.oid = tree.oid
"""
# The indexes of a table and its partitions (the relations FILENODES lists), each with
# the file it is stored in; a partitioned index has none and is left out.
INDEX_FILES = """
SELECT i.relname, i.relfilenode
  FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
 WHERE x.indrelid = ANY(%s) AND i.relfilenode <> 0
"""
# A NOT NULL constraint not yet validated, on column a (PostgreSQL 18 keeps NOT NULL in
# pg_constraint, contype 'n', and sets attnotnull for one added NOT VALID too: SET NOT NULL
# then scans to validate it). Before 18 no row matches.
NOT_NULL_PENDING = """EXISTS (
         SELECT FROM pg_catalog.pg_constraint n
          WHERE n.conrelid = a.attrelid AND n.contype = 'n' AND NOT n.convalidated
            AND n.conkey[1] = a.attnum)"""
# Does SET NOT NULL have to scan: the column may hold NULLs and no validated
# CHECK (column IS NOT NULL) proves it cannot (PostgreSQL 12 and later skip the scan
# then).
NOT_NULL_UNPROVEN = f"""
SELECT NOT (a.attnotnull AND NOT {NOT_NULL_PENDING}) AND NOT EXISTS (
         SELECT FROM pg_catalog.pg_constraint k
          WHERE k.conrelid = a.attrelid AND k.contype = 'c' AND k.convalidated
            AND pg_catalog.pg_get_constraintdef(k.oid)
                = 'CHECK ((' || pg_catalog.quote_ident(a.attname) || ' IS NOT NULL))')
  FROM pg_catalog.pg_attribute a
 WHERE a.attrelid = %s AND a.attname = %s AND NOT a.attisdropped
"""


# What a block can change of the base's tables: each one's storage and indexes (with
# whether one backs a primary key or unique constraint), and its columns, with whether
# each is NOT NULL or proven so by a validated CHECK (SET NOT NULL then scans nothing).
# An index is known by its storage, not its oid: a type change that needs no rebuild
# (varchar(50) to varchar(150)) makes the index anew on the same file; a partitioned
# index has no file, and is known by its oid (negated, to keep the two apart).
TABLE_SHAPES = """
SELECT c.oid, n.nspname || '.' || c.relname, c.relfilenode,
       ARRAY(SELECT CASE WHEN i.relfilenode = 0 THEN -x.indexrelid::int8
                         ELSE i.relfilenode::int8 END
               FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
              WHERE x.indrelid = c.oid ORDER BY x.indexrelid),
       ARRAY(SELECT i.relname FROM pg_catalog.pg_index x
               JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
              WHERE x.indrelid = c.oid ORDER BY x.indexrelid),
       ARRAY(SELECT EXISTS (SELECT FROM pg_catalog.pg_constraint k
                             WHERE k.conindid = x.indexrelid AND k.conrelid = c.oid
                               AND k.contype IN ('p', 'u'))
               FROM pg_catalog.pg_index x WHERE x.indrelid = c.oid ORDER BY x.indexrelid)
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.oid = ANY(%s)
"""
COLUMN_SHAPES = f"""
SELECT a.attrelid, a.attnum, a.attname,
       (a.attnotnull AND NOT {NOT_NULL_PENDING}) OR EXISTS (
         SELECT FROM pg_catalog.pg_constraint k
          WHERE k.conrelid = a.attrelid AND k.contype = 'c' AND k.convalidated
            AND pg_catalog.pg_get_constraintdef(k.oid)
                = 'CHECK ((' || pg_catalog.quote_ident(a.attname) || ' IS NOT NULL))')
  FROM pg_catalog.pg_attribute a
 WHERE a.attrelid = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped
"""


@dataclass(frozen=True)
class Shape:
    """The base's tables as a block found or left them (see TABLE_SHAPES)."""

    names: dict[int, str]  # table -> schema.name
    filenodes: dict[int, int]
    indexes: dict[int, dict[int, tuple[str, bool]]]  # table -> index storage -> (name, key)
    columns: dict[tuple[int, int], tuple[str, bool]]  # (table, number) -> (name, not null)

    @classmethod
    def read(cls, connection: psycopg.Connection, tables: list[int]) -> Shape:
        names: dict[int, str] = {}
        filenodes: dict[int, int] = {}
        indexes: dict[int, dict[int, tuple[str, bool]]] = {}
        for oid, name, node, ids, index_names, keys in connection.execute(
            TABLE_SHAPES, [tables]
        ).fetchall():
            names[oid], filenodes[oid] = name, node
            indexes[oid] = {i: (n, k) for i, n, k in zip(ids, index_names, keys, strict=True)}
        columns = {
            (oid, number): (name, not_null)
            for oid, number, name, not_null in connection.execute(COLUMN_SHAPES, [tables])
        }
        return cls(names, filenodes, indexes, columns)


@dataclass(frozen=True)
class BlockChanges:
    """What one block did to the base's tables, each entry naming its table."""

    rewritten: list[str]
    indexes: list[tuple[str, str]]  # (table, index) built in place
    keys: list[tuple[str, str]]  # (table, index) of a primary key or unique constraint
    dropped: list[tuple[str, str]]  # (table, column)
    renamed: list[tuple[str, str]]  # (table, column as the base named it)
    not_null: list[tuple[str, str]]  # (table, column) set NOT NULL by a scan
    dropped_tables: list[str]


def block_changes(before: Shape, after: Shape, existing: dict[int, int]) -> BlockChanges:
    """Compare the shapes around a block. An index of a rewritten table is rebuilt under
    a new identity by the rewrite itself (reported as the rewrite), so there only a new
    name counts; a column counts when the base had it (numbered at most `existing`)."""
    changes = BlockChanges([], [], [], [], [], [], [])
    for oid, name in before.names.items():
        if oid not in after.names:
            changes.dropped_tables.append(name)
            continue
        rewritten = before.filenodes[oid] != after.filenodes[oid]
        if rewritten:
            changes.rewritten.append(name)
        old_names = {index_name for index_name, _ in before.indexes[oid].values()}
        for index, (index_name, backs_key) in after.indexes[oid].items():
            new = index_name not in old_names if rewritten else index not in before.indexes[oid]
            if new:
                (changes.keys if backs_key else changes.indexes).append((name, index_name))
    # a rewrite, or a primary key's build, checks the rows under the same lock
    scanned = {*changes.rewritten, *(table for table, _ in changes.keys)}
    for (oid, number), (column, not_null) in before.columns.items():
        if oid not in after.names or number > existing[oid]:
            continue
        table, now = before.names[oid], after.columns.get((oid, number))
        if now is None:
            changes.dropped.append((table, column))
            continue
        if now[0] != column:
            changes.renamed.append((table, column))
        if now[1] and not not_null and table not in scanned:
            changes.not_null.append((table, column))
    return changes


def existing_relations(connection: psycopg.Connection) -> dict[int, int]:
    """The tables the database has now (after the base): those a migration can stop,
    each with its highest column number. Column numbers are never reused, so a column
    numbered above it was added by the reviewed files: no running code uses it yet."""
    rows = connection.execute(
        "SELECT c.oid, coalesce(max(a.attnum), 0) FROM pg_catalog.pg_class c"
        " LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0"
        " WHERE c.relkind = ANY(%s) AND c.oid >= 16384 GROUP BY c.oid",
        [list(RELATION_KINDS)],
    ).fetchall()
    return {row[0]: row[1] for row in rows}


def named_relations(node: Any) -> list[tuple[str | None, str]]:
    """(schema, name) of each relation a statement changes, as written."""
    if isinstance(node, (ast.AlterTableStmt, ast.IndexStmt, ast.RenameStmt, ast.ReindexStmt)):
        relation = node.relation
        return [(relation.schemaname, relation.relname)] if relation is not None else []
    dropped = (ObjectType.OBJECT_TABLE, ObjectType.OBJECT_INDEX, ObjectType.OBJECT_MATVIEW)
    if isinstance(node, ast.DropStmt) and node.removeType in dropped:
        names = [[part.sval for part in item] for item in node.objects or ()]
        return [(item[-2] if len(item) > 1 else None, item[-1]) for item in names]
    return []


@dataclass
class Watch:
    """Watches the reviewed statements load (the loader calls it around each one):
    which tables of the base each acts on, and what PostgreSQL did to them."""

    existing: dict[int, int]  # table -> its highest column number in the base
    tables: dict[int, list[str]] = field(default_factory=dict)  # statement -> existing tables
    # statement -> the existing tables its new foreign keys reference (locked against writes)
    referenced: dict[int, list[str]] = field(default_factory=dict)
    # statements that rename or drop only columns the reviewed files added, or that
    # the table does not have (DROP COLUMN IF EXISTS then does nothing)
    new_columns_only: set[int] = field(default_factory=set)
    rewritten: dict[int, list[str]] = field(default_factory=dict)
    # statement -> (table, index) built anew where the table itself kept its files
    rebuilt: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    index_files: dict[int, dict[int, dict[str, int]]] = field(default_factory=dict)  # before
    unproven_not_null: dict[int, list[str]] = field(default_factory=dict)  # "table.column"
    filenodes: dict[int, dict[int, int]] = field(default_factory=dict)  # pending: before
    targets: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    shapes: dict[int, Shape] = field(default_factory=dict)  # pending: before a block
    blocks: dict[int, BlockChanges] = field(default_factory=dict)
    # over each transaction's length: its locks, backfills and long statements
    seen: Transactions = field(default_factory=Transactions)

    def before(self, connection: psycopg.Connection, index: int, statement: Statement) -> None:
        self.seen.order.append(index)
        backfill = backfill_of(statement.node)
        if backfill is not None:
            verb, named, bounded, probe, joined = backfill
            tables = self.existing_named(connection, named)
            if tables:
                names = sorted({name for _, name in tables})
                self.seen.backfills[index] = Backfill(verb, names, bounded, probe, joined)
            return
        if isinstance(statement.node, BLOCKS):
            self.shapes[index] = Shape.read(connection, list(self.existing))
            return
        named = named_relations(statement.node)
        if not named:
            return
        existing = self.existing_named(connection, named)
        if not existing:
            return
        self.tables[index] = sorted(name for _, name in existing)
        self.seen.long[index] = long_work(statement.node, self.tables[index])
        columns = renamed_or_dropped_columns(statement.node)
        if columns and all(
            self.unknown_to_base_code(connection, oid, column)
            for oid, _ in existing
            for column in columns
        ):
            self.new_columns_only.add(index)
        if isinstance(statement.node, ast.AlterTableStmt):
            self.targets[index] = existing
            if references := referenced_relations(statement.node):
                locked = {name for _, name in self.existing_named(connection, references)}
                self.referenced[index] = sorted(locked - set(self.tables[index]))
            self.filenodes[index] = {
                relation: node
                for oid, _ in existing
                for relation, node in files_of(connection, oid)
            }
            self.index_files[index] = {oid: index_files(connection, oid) for oid, _ in existing}
            self.unproven_not_null[index] = [
                f"{name}.{column}"
                for oid, name in existing
                for column in set_not_null_columns(statement.node)
                if connection.execute(NOT_NULL_UNPROVEN, [oid, column]).fetchone() == (True,)
            ]

    def existing_named(
        self, connection: psycopg.Connection, named: list[tuple[str | None, str]]
    ) -> list[tuple[int, str]]:
        """(oid, schema.name) of the base's tables among relations named as written."""
        schemas, names = [s for s, _ in named], [n for _, n in named]
        rows = connection.execute(TARGETS, [schemas, names]).fetchall()
        return [(oid, name) for oid, name in rows if oid in self.existing]

    def unknown_to_base_code(self, connection: psycopg.Connection, oid: int, column: str) -> bool:
        """Code running on the base cannot use the column: the reviewed files added it,
        or the table does not have it now (Mattermost drops columns of an older schema
        with DROP COLUMN IF EXISTS, which on a newer one does nothing)."""
        number = connection.execute(
            "SELECT attnum FROM pg_catalog.pg_attribute"
            " WHERE attrelid = %s AND attname = %s AND NOT attisdropped",
            [oid, column],
        ).fetchone()
        return number is None or number[0] > self.existing[oid]

    def after(self, connection: psycopg.Connection, index: int, statement: Statement) -> None:
        """The statement loaded: did it give an existing table new files (a rewrite)?
        What strong locks does its transaction hold now?"""
        self.seen.held_after(connection, index, set(self.existing))
        shape = self.shapes.pop(index, None)
        if shape is not None:
            self.after_block(connection, index, shape)
            return
        before = self.filenodes.pop(index, None)
        if before is None:
            return
        rewritten, rebuilt = [], []
        targets = self.targets.pop(index)
        indexes_before = self.index_files.pop(index)
        for oid, name in targets:
            now = dict(files_of(connection, oid))
            if any(before.get(relation) not in (None, node) for relation, node in now.items()):
                rewritten.append(name)
                continue
            # an index the statement built anew under its old name: the column it keys
            # changed collation, which no index built for the old one can serve
            old = indexes_before[oid]
            rebuilt.extend(
                (name, index_name)
                for index_name, node in sorted(index_files(connection, oid).items())
                if old.get(index_name) not in (None, node)
            )
        if rewritten:
            self.rewritten[index] = sorted(rewritten)
        if rebuilt:
            self.rebuilt[index] = rebuilt
        # the scan of SET NOT NULL is done by the rewrite where there is one
        scanned = [] if rewritten or not self.unproven_not_null.get(index) else targets
        self.seen.long.setdefault(index, []).extend(
            [*(Long(table, "rewrites {table}", True) for table in rewritten),
             *(Long(table, "rebuilds an index of {table}", True) for table, _ in rebuilt),
             *(Long(table, "scans {table} for SET NOT NULL", True) for _, table in scanned)]
        )  # fmt: skip

    def after_block(self, connection: psycopg.Connection, index: int, before: Shape) -> None:
        changes = block_changes(before, Shape.read(connection, list(before.names)), self.existing)
        touched = {
            *changes.rewritten,
            *changes.dropped_tables,
            *(table for pairs in (changes.indexes, changes.keys, changes.dropped,
                                  changes.renamed, changes.not_null) for table, _ in pairs),
        }  # fmt: skip
        if touched:
            self.tables[index] = sorted(touched)
            self.blocks[index] = changes
            if changes.rewritten:
                self.rewritten[index] = sorted(changes.rewritten)
            self.seen.long[index] = [
                *(Long(table, "rewrites {table}", True) for table in changes.rewritten),
                *(Long(table, "builds an index on {table}", False) for table, _ in changes.indexes),
                *(
                    Long(table, "builds a unique index on {table}", True)
                    for table, _ in changes.keys
                ),
                *(
                    Long(table, "scans {table} for SET NOT NULL", True)
                    for table, _ in changes.not_null
                ),
            ]


def files_of(connection: psycopg.Connection, oid: int) -> list[tuple[int, int]]:
    return [(row[0], row[1]) for row in connection.execute(FILENODES, [oid]).fetchall()]


def index_files(connection: psycopg.Connection, oid: int) -> dict[str, int]:
    """The file of each index of the table and of its partitions, by index name."""
    relations = [relation for relation, _ in files_of(connection, oid)]
    return {row[0]: row[1] for row in connection.execute(INDEX_FILES, [relations]).fetchall()}


def set_not_null_columns(node: ast.AlterTableStmt) -> list[str]:
    return [c.name for c in node.cmds or () if c.subtype == AlterTableType.AT_SetNotNull]


def renamed_or_dropped_columns(node: Any) -> list[str]:
    """The columns a RENAME COLUMN or an ALTER TABLE ... DROP COLUMN names."""
    if isinstance(node, ast.RenameStmt) and node.renameType == ObjectType.OBJECT_COLUMN:
        return [node.subname]
    if isinstance(node, ast.AlterTableStmt):
        return [c.name for c in node.cmds or () if c.subtype == AlterTableType.AT_DropColumn]
    return []


def referenced_relations(node: Any) -> list[tuple[str | None, str]]:
    """(schema, name) of the tables the foreign keys an ALTER TABLE adds reference, as
    written: adding one locks the referenced table against writes too."""
    if not isinstance(node, ast.AlterTableStmt):
        return []
    return [
        (command.def_.pktable.schemaname, command.def_.pktable.relname)
        for command in node.cmds or ()
        if command.subtype == AlterTableType.AT_AddConstraint
        and command.def_.contype == ConstrType.CONSTR_FOREIGN
        and command.def_.pktable is not None
    ]


def validates_in_place(node: Any) -> bool:
    """Does the statement add a CHECK or FOREIGN KEY that is validated at once (the
    only constraints NOT VALID applies to)?"""
    if not isinstance(node, ast.AlterTableStmt):
        return False
    return any(
        command.subtype == AlterTableType.AT_AddConstraint
        and command.def_.contype in (ConstrType.CONSTR_CHECK, ConstrType.CONSTR_FOREIGN)
        and not command.def_.skip_validation
        for command in node.cmds or ()
    )


# --- squawk ------------------------------------------------------------------------


class LinterUnavailable(Exception):
    """squawk is not installed, does not run here, or answered what we cannot read."""


@dataclass(frozen=True)
class Linted:
    """A reviewed file as squawk is given it: the text the server was sent, with the
    statements the parser rejected blanked (squawk drops a whole file's findings at one
    syntax error; the server reports those statements), and where its statements are
    in the load."""

    shown: str
    text: str
    first: int  # index of its first statement in the load
    statements: list[Statement]


def linted_file(shown: str, text: str, first: int, statements: list[Statement]) -> Linted:
    for statement in statements:
        if statement.node is None:
            stop = statement.offset + len(statement.text)
            blank = "".join(c if c == "\n" else " " for c in text[statement.offset : stop])
            text = text[: statement.offset] + blank + text[stop:]
    return Linted(shown, text, first, statements)


def squawk_binary() -> Path:
    """The squawk named by $PGVITALS_SQUAWK, else the one installed with pgvitals (its
    scripts folder), else one on PATH."""
    named = os.environ.get(SQUAWK_VARIABLE)
    if named:
        if not Path(named).is_file():
            raise LinterUnavailable(f"squawk not found at {named} (${SQUAWK_VARIABLE})")
        return Path(named)
    found = shutil.which("squawk", path=sysconfig.get_path("scripts")) or shutil.which("squawk")
    if found is None:
        raise LinterUnavailable("squawk is not installed (pip install squawk-cli)")
    return Path(found)


def lint(files: list[Linted], pg_version: str) -> list[tuple[Linted, dict[str, Any]]]:
    """squawk's findings on the files, each with its file. Runs in an empty folder so
    that no `.squawk.toml` of the project changes what it reports: pgvitals' own
    configuration disables and excuses rules."""
    binary = squawk_binary()
    with tempfile.TemporaryDirectory(prefix="pgvitals-squawk-") as folder:
        by_name = {}
        for number, item in enumerate(files):
            name = f"{number:05d}.sql"
            (Path(folder) / name).write_text(item.text, encoding="utf-8")
            by_name[name] = item
        command = [str(binary), "--reporter", "json", "--pg-version", pg_version, *by_name]
        try:
            done = subprocess.run(
                command, cwd=folder, capture_output=True, text=True, timeout=SQUAWK_SECONDS
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise LinterUnavailable(f"{binary} does not run here: {error}") from None
    if done.returncode not in (0, 1):  # 1: it found something
        reason = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[0]
        raise LinterUnavailable(f"{binary} failed: {reason}")
    try:
        found = json.loads(done.stdout or "[]")
        return [(by_name[Path(item["file"]).name], item) for item in found]
    except (ValueError, KeyError, TypeError) as error:
        raise LinterUnavailable(f"{binary} answered in an unknown form ({error})") from None


def statement_at(item: Linted, line: int) -> int | None:
    """The load index of the statement of `item` that covers file line `line`."""
    starts = [s.line for s in item.statements]
    position = bisect_right(starts, line) - 1
    if position < 0:
        return None
    statement = item.statements[position]
    if line > statement.line + statement.text.count("\n"):
        return None  # between statements: a comment, or a part not sent to the server
    return item.first + position


# --- hazards -----------------------------------------------------------------------


@dataclass
class Found:
    messages: list[str] = field(default_factory=list)
    fix: str | None = None
    found_by: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)  # of a block: those this rule is about

    def add(self, message: str, fix: str | None, source: str, table: str | None = None) -> None:
        if message not in self.messages:
            self.messages.append(message)
        if table is not None and table not in self.tables:
            self.tables.append(table)
        self.fix = self.fix or fix
        if source not in self.found_by:
            self.found_by.append(source)


# Each table of a live database with the rows and bytes of itself and every partition
# below it, from the catalog's statistics (no lock, no table read). A part never
# vacuumed or analyzed (reltuples -1, PostgreSQL 14+) has its pages uncounted too: then
# the rows are the activity counters' live rows (kept up at every commit) and the bytes
# NULL. A table bulk-loaded with autovacuum off is so, and so is a new empty one.
TABLE_SIZES = """
WITH RECURSIVE tree AS (
  SELECT c.oid AS root, c.oid
    FROM pg_catalog.pg_class c
   WHERE c.relkind IN ('r', 'p', 'm')
  UNION ALL
  SELECT tree.root, i.inhrelid
    FROM tree JOIN pg_catalog.pg_inherits i ON i.inhparent = tree.oid
), sized AS (
  SELECT n.nspname || '.' || r.relname AS name,
         bool_and(p.relkind = 'p' OR p.reltuples >= 0) AS counted,
         sum(CASE WHEN p.relkind <> 'p' THEN p.reltuples END) AS reltuples,
         sum(CASE WHEN p.relkind <> 'p' THEN pg_catalog.pg_stat_get_live_tuples(p.oid) END)
           AS live,
         sum(p.relpages::int8) * pg_catalog.current_setting('block_size')::int8 AS bytes
    FROM tree
    JOIN pg_catalog.pg_class r ON r.oid = tree.root
    JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace
    JOIN pg_catalog.pg_class p ON p.oid = tree.oid
   WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
   GROUP BY 1
)
SELECT name, CASE WHEN counted THEN reltuples ELSE live END,
       CASE WHEN counted THEN bytes END
  FROM sized
"""


def table_sizes(connection: psycopg.Connection) -> dict[str, tuple[float | None, int | None]]:
    """Rows and bytes (None: not counted) of each table of a live database, by the
    `schema.name` the watch records (see TABLE_SIZES)."""
    rows = connection.execute(TABLE_SIZES).fetchall()
    return {
        name: (None if count is None else float(count), None if size is None else int(size))
        for name, count, size in rows
    }


def with_sizes(
    hazards: list[MigrationHazard], sizes: dict[str, tuple[float | None, int | None]]
) -> list[MigrationHazard]:
    """Each hazard with the size of the largest table it acts on, in the base database."""
    sized = []
    for hazard in hazards:
        known = [sizes[name] for name in hazard.tables if name in sizes]
        if known:
            rows, size = max(known, key=lambda pair: (pair[1] or 0, pair[0] or 0))
            hazard = hazard._replace(rows_estimate=rows, bytes=size)
        sized.append(hazard)
    return sized


def assess(
    load: Load, watch: Watch, files: list[Linted], pg_version: str
) -> tuple[list[MigrationHazard], list[dict[str, str]]]:
    """The hazards of the reviewed statements that loaded, and what was not checked."""
    found: dict[tuple[str, int], Found] = {}
    notes = []
    for index, tables in watch.rewritten.items():
        shown = ", ".join(tables)
        found.setdefault((TABLE_REWRITE, index), Found()).add(
            f"PostgreSQL rewrote {shown} to run it: every row copied and every index "
            "rebuilt under an ACCESS EXCLUSIVE lock",
            None,
            OBSERVED,
        )
    for index, pairs in watch.rebuilt.items():
        for table, index_name in pairs:
            found.setdefault((TABLE_REWRITE, index), Found()).add(
                f"PostgreSQL built index {index_name} of {table} anew to run it (the table"
                " kept its files; the index could not be kept, as when a column's collation"
                " changes): every entry written again under an ACCESS EXCLUSIVE lock",
                None,
                OBSERVED,
            )
    for index, columns in watch.unproven_not_null.items():
        if load.outcomes[index].status != LOADED:
            continue  # observed before it ran; it failed: invalid-ddl reports it
        for column in columns:
            found.setdefault((SET_NOT_NULL_SCAN, index), Found()).add(
                f"SET NOT NULL on {column} scans the table under an ACCESS EXCLUSIVE lock: "
                "no validated CHECK (... IS NOT NULL) proves it first",
                None,
                OBSERVED,
            )
    for index, changes in watch.blocks.items():
        for rule, message, fix, table in block_hazards(changes):
            found.setdefault((rule, index), Found()).add(message, fix, OBSERVED, table)
    try:
        linted = lint(files, pg_version) if files and watch.tables else []
    except LinterUnavailable as error:
        linted = []
        reason = f"not checked: {error}"
        notes.append({"step": SKIP_STEP, "object": "squawk", "reason": reason})
    for item, diagnostic in linted:
        rule = LINTED.get(diagnostic["rule_name"])
        index = statement_at(item, int(diagnostic["line"]) + 1)  # squawk counts from 0
        if rule is None or index is None or index not in watch.tables:
            continue
        if load.outcomes[index].status != LOADED:
            continue  # it did not run: invalid-ddl reports it
        if rule in COLUMN_RULES and index in watch.new_columns_only:
            continue  # a column the files added: code running on the base does not use it
        if rule == LINTED["constraint-missing-not-valid"] and not validates_in_place(
            load.statements[index].node
        ):
            continue  # a PRIMARY KEY or UNIQUE: NOT VALID does not apply to them
        found.setdefault((rule, index), Found()).add(
            str(diagnostic["message"]), diagnostic.get("help"), f"squawk {diagnostic['rule_name']}"
        )
    hazards = [
        MigrationHazard(
            rule=rule,
            file=load.statements[index].file,
            line=load.statements[index].line,
            statement=load.statements[index].first_line,
            tables=sorted(item.tables) or watch.tables.get(index, []),
            messages=item.messages,
            fix=as_the_tool_runs(item.fix, rule, load.wrapped_by.get(index)),
            found_by=", ".join(item.found_by),
            locked_too=watch.referenced.get(index, []),
        )
        for (rule, index), item in sorted(found.items(), key=lambda pair: (pair[0][1], pair[0][0]))
    ]
    return hazards, notes


def as_the_tool_runs(fix: str | None, rule: str, runner: Runner | None) -> str | None:
    """The safe form, with the migration tool's opt-out where the tool runs the file in a
    transaction block, which refuses the CONCURRENTLY the safe form asks for (sqlx runs
    atuin's migrations so, unless a file starts with `-- no-transaction`)."""
    if fix is None or runner is None or rule not in CONCURRENTLY_RULES:
        return fix
    return (
        f"{fix} CONCURRENTLY cannot run in a transaction block: {runner.tool} runs this file"
        f" {runner.runs} ({runner.recognised_by}): {runner.fix}."
    )


def block_hazards(changes: BlockChanges) -> Iterator[tuple[str, str, str | None, str]]:
    """(rule, message, safe form, table) for what a DO block or a CALL did to the base's
    tables (its rewrites are reported with those of plain statements)."""
    in_block = "a block runs in one transaction, where CONCURRENTLY cannot be used"
    for table, index in changes.indexes:
        yield (INDEX_NOT_CONCURRENT,
               f"the block built index {index} on {table} in place: {in_block}",
               "Build the index with CREATE INDEX CONCURRENTLY in a migration of its own, "
               "outside any transaction block.", table)  # fmt: skip
    for table, index in changes.keys:
        yield (KEY_WITHOUT_INDEX,
               f"the block built {index}, a primary key or unique constraint's index, on "
               f"{table} under an ACCESS EXCLUSIVE lock: {in_block}",
               "Build the unique index with CREATE UNIQUE INDEX CONCURRENTLY, then attach "
               "it with ADD CONSTRAINT ... USING INDEX.", table)  # fmt: skip
    for table, column in changes.not_null:
        yield (SET_NOT_NULL_SCAN,
               f"the block set {table}.{column} NOT NULL, scanning the table under an "
               "ACCESS EXCLUSIVE lock: no validated CHECK (... IS NOT NULL) proved it first",
               None, table)  # fmt: skip
    for table, column in changes.dropped:
        yield DROP_COLUMN, f"the block dropped {table}.{column}", None, table
    for table, column in changes.renamed:
        yield RENAME_COLUMN, f"the block renamed {table}.{column}", None, table
    for table in changes.dropped_tables:
        yield DROP_TABLE, f"the block dropped {table}", None, table


def unchecked(analysis: Analysis) -> Analysis:
    """When squawk did not run: the checks only squawk makes are skipped, with the
    reason; those PostgreSQL also makes on DO blocks and CALLs ran there, and their
    reason says so, with how many findings that found, and that the other statements
    were not checked. (All skipped, a reader could not tell a block's finding under a
    skipped check from one that was checked.)"""
    reasons = [
        entry["reason"]
        for entry in analysis.snapshot.collection.skipped
        if entry.get("step") == SKIP_STEP
    ]
    if not reasons:
        return analysis
    observed = Counter(
        hazard.rule
        for hazard in analysis.snapshot.migration_hazards
        if OBSERVED in hazard.found_by.split(", ")
    )

    def honest(check: Check) -> Check:
        if check.rule not in LINTED_RULES or check.status != "ran":
            return check
        if check.rule not in BLOCK_RULES:
            return Check(check.rule, "skipped", reasons[0], 0)
        found = plural(observed[check.rule], "finding")
        return dataclasses.replace(
            check,
            reason=f"only what DO blocks and CALLs did, as PostgreSQL observed it ({found});"
            f" other statements {reasons[0]}",
        )

    return dataclasses.replace(analysis, checks=[honest(c) for c in analysis.checks])


def pg_version_of(connection: psycopg.Connection) -> str:
    number = connection.info.server_version
    return f"{number // 10000}.{number % 10000}"
