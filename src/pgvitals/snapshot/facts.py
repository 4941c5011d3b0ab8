"""Facts derived from a Snapshot, each computed once, on first use, in linear time.

Anything that two rules, or a rule and the report, both need lives here: which
index serves a foreign key's lookup, the partitions of a partitioned table and the
rows and counters summed over them, the foreign keys that use an index. Rules look
things up in these dicts instead of scanning the catalogue per object.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from pgvitals.fmt import parse_timestamp
from pgvitals.snapshot.libraries import LibraryObjects, library_objects
from pgvitals.snapshot.model import (
    BloatMeasure,
    Column,
    ColumnProfile,
    Constraint,
    Function,
    Index,
    Policy,
    Replication,
    Role,
    Schema,
    Table,
    Trigger,
    View,
)
from pgvitals.snapshot.nodes import (
    BadTree,
    Expression,
    caller_keywords,
    calls_in,
    has_subselect,
    where_clause,
)
from pgvitals.snapshot.nodes import analyse as analyse_expression
from pgvitals.snapshot.ranges import judged_ranges, watched_from
from pgvitals.snapshot.window import StatisticsWindow, statistics_window
from pgvitals.snapshot.words import table_key, word_tuple, words

# partition keys whose range bounds can be judged against the clock
TIME_KEY_TYPES = frozenset({"timestamptz", "timestamp", "date"})
# pg_stat_user_tables counters that only a primary keeps: a standby has them at zero
PRIMARY_COUNTERS = frozenset(
    {
        "n_tup_ins", "n_tup_upd", "n_tup_del", "n_tup_hot_upd", "n_live_tup", "n_dead_tup",
        "n_mod_since_analyze", "vacuum_count", "autovacuum_count", "analyze_count",
        "autoanalyze_count",
    }
)  # fmt: skip
# ... and the vacuum and analyze times: a standby runs neither (the primary does)
PRIMARY_TIMES = frozenset({"last_vacuum", "last_autovacuum", "last_analyze", "last_autoanalyze"})
# what evidence says of a value only the primary keeps, on a standby (never its zero)
COUNTED_ON_PRIMARY = "the primary (this is a standby)"
NEXTVAL = re.compile(r"^nextval\('((?:[^']|'')+)'::regclass\)$")
QUOTED_PART = re.compile(r'"((?:[^"]|"")*)"|([^."]+)')

T = TypeVar("T")

if TYPE_CHECKING:
    from pgvitals.snapshot.model import Snapshot


# `column IS NOT NULL` on a plain column of the indexed table, as pg_index.indpred
# stores it (node tree, locations removed): nulltesttype 1 is IS_NOT_NULL.
NOT_NULL_TEST = (
    r"\{NULLTEST :arg \{VAR :varno 1 :varattno (\d+) [^{}]*\} :nulltesttype 1 :argisrow false\}"
)
NOT_NULL_TESTS = re.compile(rf"{NOT_NULL_TEST}(?: {NOT_NULL_TEST})*")
AND_OF = re.compile(r"\{BOOLEXPR :boolop and :args \((.*)\)\}")


def not_null_columns(predicate_tree: str) -> set[int] | None:
    """The attribute numbers of a predicate made only of `col IS NOT NULL` tests (one,
    or several ANDed); None for any other predicate."""
    anded = AND_OF.fullmatch(predicate_tree)
    tests = anded.group(1) if anded else predicate_tree
    if not NOT_NULL_TESTS.fullmatch(tests):
        return None
    return {int(number) for number in re.findall(r":varattno (\d+)", tests)}


def lookup_implies(index: Index, attnums: set[int]) -> bool:
    """Does an equality lookup on the columns `attnums` (what a foreign key's check
    runs: `col = $1` for each) imply the index's predicate, so the planner can use
    it? `=` is strict, so it implies `col IS NOT NULL` on those columns; any other
    predicate is taken as not implied."""
    if index.predicate_tree is None:
        return True
    tested = not_null_columns(index.predicate_tree)
    return tested is not None and tested <= attnums


def leads_with(index: Index, columns: list[str]) -> bool:
    """Are `columns` (in any order) the leading keys of a btree, or the key of a hash
    index, so that an equality lookup on all of them need not scan it all?"""
    leading = index.key_columns[: len(columns)]
    if index.method == "btree":
        if leading == columns:
            return True
        # in another order: only two columns or more can be
        return len(columns) > 1 and len(leading) == len(columns) and set(leading) == set(columns)
    if index.method == "hash":
        return index.key_columns[:1] == columns
    return False


def unique_within(index: Index, columns: list[str]) -> bool:
    """Is the index a whole-table unique btree whose keys are all among `columns`, so
    that an equality lookup on them finds at most one row through it?"""
    keys = index.key_columns[: index.key_count]
    return (
        index.is_unique
        and not index.is_partial
        and index.method == "btree"
        and bool(keys)
        and all(key is not None and key in columns for key in keys)
    )


def serves_lookup_on(index: Index, columns: list[str], attnums: set[int] | None = None) -> bool:
    """Can an equality lookup on all `columns` (attribute numbers `attnums`) use this
    index without scanning it all? A partial index can when the lookup implies its
    predicate (see `lookup_implies`); without `attnums` none can. So can a whole-table
    unique btree on some of the columns (Ente's trash_pkey (file_id) beside the key
    (file_id, collection_id)): it finds at most one row, which the lookup then filters."""
    keys = index.key_columns
    if columns and (not keys or keys[0] not in columns):
        # every way below needs the index to lead with one of the columns: most of a
        # table's indexes do not, and are ruled out without the finer tests
        return False
    if index.is_valid and unique_within(index, columns):
        return True
    if not index.is_valid or not leads_with(index, columns):
        return False
    return not index.is_partial or (attnums is not None and lookup_implies(index, attnums))


def padding_differs(column_type: str, key_type: str) -> bool:
    """char(n) against varchar or text: no equality operator takes both, so a foreign key
    between them compares with the key's operator, casting the referencing column."""
    pair = {column_type, key_type}
    return pair <= TEXT_TYPES and "bpchar" in pair and len(pair) == 2


def compares_as(index: Index, column: str, key_type: str) -> bool:
    """Does the index serve a lookup of `column` cast to the key's type: the column is
    not among its keys, or is indexed with the key type's operator class
    (`(p_uuid bpchar_ops)` on a varchar column referencing a char(n) key)?"""
    keys = index.key_columns[: index.key_count]
    if column not in keys:
        return True
    opclass = index.opclasses[keys.index(column)] if len(index.opclasses) == len(keys) else ""
    return opclass.startswith("bpchar") == (key_type == "bpchar") and opclass != ""


# GitLab's loose foreign keys: the table its delete triggers write deleted keys to
LOOSE_FOREIGN_KEYS = re.compile(r"loose_foreign_keys?_deleted_records", re.IGNORECASE)

# the table an INSERT in a function's body writes to: `assets_audit`, `public."Asset Log"`
_NAME = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
INSERT_TARGET = re.compile(rf"\binsert\s+into\s+({_NAME})(?:\s*\.\s*({_NAME}))?", re.IGNORECASE)
# a PL/pgSQL statement that assigns a column of the new row: `new."updateId" = ...;`,
# `NEW.updated_at := now();` where a statement starts (not `IF NEW.x = OLD.x`)
NEW_ASSIGNMENT = re.compile(
    rf"(?:\A|;|\bbegin|\bthen|\belse|\bloop)\s*new\s*\.\s*({_NAME})\s*:?=(?!=)", re.IGNORECASE
)
# comments of a function's body: `-- ...` to the end of the line, `/* ... */`
SQL_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)


def _identifier(word: str) -> str:
    """A name as the catalog spells it: quoted kept as written, unquoted folded."""
    if word.startswith('"'):
        return word[1:-1].replace('""', '"')
    return word.lower()


# Lookups that only the rules read (the report reads the others): dropped once the
# rules are done (Facts.forget_rule_lookups). One left out here is merely kept.
RULE_LOOKUPS = (
    *("names", "constraint_by_name", "declared_references", "index_by_oid"),
    *("own_columns_by_type", "foreign_keys_using_index", "unindexed_references"),
    *("column_fed_by_sequence", "replication_by_table", "sequence_defaults"),
    *("declared_meanings", "char_columns"),
)


class Facts:
    def __init__(self, snapshot: Snapshot) -> None:
        self.snap = snapshot
        self._shared: dict[Callable[[Snapshot], Any], Any] = {}
        self._lookup_indexes: dict[tuple[object, ...], Index | None] = {}

    def shared(self, compute: Callable[[Snapshot], T]) -> T:
        """`compute(snapshot)`, once per snapshot: for what a rule module derives and
        more than one of its rules reads (e.g. the duplicate index pairs)."""
        if compute not in self._shared:
            self._shared[compute] = compute(self.snap)
        return self._shared[compute]

    def forget_rule_lookups(self) -> None:
        """Drop what only the rules read, once they are done, for the report to use that
        memory instead (at 100,000 tables some 200 MB). A lookup read again is derived
        again; the names given to fixes go too, and no fix is made after the rules."""
        for name in RULE_LOOKUPS:
            self.__dict__.pop(name, None)
        self._shared = {}
        self._lookup_indexes = {}

    @cached_property
    def partitions_by_parent(self) -> dict[int, list[Table]]:
        """Direct partitions of each partitioned table."""
        children: dict[int, list[Table]] = defaultdict(list)
        for table in self.snap.tables:
            if table.parent_oid is not None:
                children[table.parent_oid].append(table)
        return dict(children)

    @cached_property
    def inheriting_tables(self) -> dict[int, list[Table]]:
        """The tables that inherit directly from each table (INHERITS, not partitions),
        by its oid."""
        if not any(table.inheritance_children for table in self.snap.tables):
            return {}  # most databases: no names to look up
        by_name = {table.qualname: table for table in self.snap.tables}
        return {
            table.oid: children
            for table in self.snap.tables
            if (children := [by_name[n] for n in table.inheritance_children if n in by_name])
        }

    @cached_property
    def inherited_tables(self) -> dict[int, list[Table]]:
        """Every table each table inherits from directly (INHERITS), by its oid, in the
        catalog's order."""
        parents: dict[int, list[Table]] = defaultdict(list)
        for oid, children in self.inheriting_tables.items():
            for child in children:
                parents[child.oid].append(self.snap.table_by_oid[oid])
        return dict(parents)

    @cached_property
    def time_range_defaults(self) -> list[RangeDefault]:
        """The DEFAULT partition of each table partitioned by a range of one date or
        timestamp column, where it holds rows itself (not sub-partitioned, not foreign):
        where rows of a coming period can land, and from when they matter (None when
        the other partitions' bounds cannot be judged against the clock)."""
        found = []
        now = parse_timestamp(self.snap.server.collected_at)
        for parent in self.snap.tables:
            if parent.partition_strategy != "range" or len(parent.partition_key) != 1:
                continue
            key = self.column_by_name.get((parent.oid, parent.partition_key[0]))
            if key is None or key.type_name not in TIME_KEY_TYPES:
                continue
            children = self.partitions_by_parent.get(parent.oid, [])
            for child in children:
                if child.partition_bound == "DEFAULT" and child.kind == "r":
                    known = judged_ranges(c.partition_bound for c in children)
                    watched = watched_from(known, now) if known else None
                    found.append(RangeDefault(parent, child, key, watched))
        return found

    def ancestors(self, table: Table) -> list[Table]:
        """The partitioned tables above a partition, nearest first (its parent, then that
        one's parent ...); empty for a table that is no partition."""
        found, by_oid = [], self.snap.table_by_oid
        parent = table.parent_oid
        while parent is not None and parent in by_oid:
            found.append(by_oid[parent])
            parent = by_oid[parent].parent_oid
        return found

    @cached_property
    def leaves_by_root(self) -> dict[int, list[Table]]:
        """Every partitioned table's leaf partitions (at any depth): where its rows are."""
        leaves: dict[int, list[Table]] = defaultdict(list)
        for table in self.snap.tables:
            if table.parent_oid is None or table.kind == "p":
                continue
            for ancestor in self.ancestors(table):
                leaves[ancestor.oid].append(table)
        return dict(leaves)

    def rows(self, table: Table) -> int:
        """Rows of a table; a partitioned table's are its leaves' rows."""
        if table.kind == "p":
            return sum(self.snap.row_count(leaf) for leaf in self.leaves_by_root.get(table.oid, []))
        return self.snap.row_count(table)

    def counter(self, table: Table, name: str) -> int | None:
        """A pg_stat_user_tables counter; summed over the leaves of a partitioned table
        (the server counts on the leaves only). None where no part has the counter, and
        on a standby for those only the primary counts (its zeros are not the table's:
        `counted_on`)."""
        if self.counted_on(name):
            return None
        if table.kind != "p":
            return getattr(table, name)
        values = [getattr(leaf, name) for leaf in self.leaves_by_root.get(table.oid, [])]
        known = [value for value in values if value is not None]
        return sum(known) if known else None

    def time_kept(self, table: Table, name: str) -> str | None:
        """A vacuum or analyze time (`last_analyze`, ...), the table's own; None on a
        standby, which runs neither (`counted_on`)."""
        return None if self.counted_on(name) else getattr(table, name)

    def counted_on(self, name: str) -> str | None:
        """Where the counter or time `name` is kept when not on this server: on a
        standby, those only the primary keeps (evidence says so instead of a zero)."""
        if self.snap.server.in_recovery and (name in PRIMARY_COUNTERS or name in PRIMARY_TIMES):
            return COUNTED_ON_PRIMARY
        return None

    @cached_property
    def lookup_index_of_fk(self) -> dict[int, Index | None]:
        """Per foreign key (by constraint oid): an index that serves the lookup of its
        referencing columns (the first of `indexes_serving_fk`), or None."""
        return {
            oid: serving[0] if serving else None for oid, serving in self.indexes_serving_fk.items()
        }

    def attnums(self, constraint: Constraint) -> set[int] | None:
        """The attribute numbers of a constraint's columns; None when one is unknown."""
        found = [self.column_by_name.get((constraint.table_oid, c)) for c in constraint.columns]
        return {c.position for c in found if c is not None} if all(found) else None

    @cached_property
    def foreign_keys_using_index(self) -> dict[int, list[Constraint]]:
        """Foreign keys whose referenced key is enforced by the index (by index oid)."""
        using: dict[int, list[Constraint]] = defaultdict(list)
        for constraint in self.snap.constraints:
            if constraint.kind == "f" and constraint.index_oid is not None:
                using[constraint.index_oid].append(constraint)
        return dict(using)

    @cached_property
    def column_by_name(self) -> ColumnsByName:
        return ColumnsByName(self.snap.columns_by_table)

    @cached_property
    def column_fed_by_sequence(self) -> dict[int, Column]:
        """Per sequence (by oid): the column it fills. OWNED BY (serial, identity) says
        it; otherwise a column default `nextval('name'::regclass)` naming it does."""
        fed: dict[int, Column] = {}
        for (table_oid, name), sequence_oid in self.sequence_defaults.items():
            fed.setdefault(sequence_oid, self.column_by_name[(table_oid, name)])
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
    def refusing_deletes(self) -> dict[int, set[int]]:
        """By referenced table (oid): the tables whose foreign keys to it refuse the
        delete of a row they name (NO ACTION, RESTRICT) instead of deleting or emptying
        their rows (CASCADE, SET NULL, SET DEFAULT)."""
        refusing: dict[int, set[int]] = defaultdict(set)
        for target, keys in self.foreign_keys_referencing.items():
            for key in keys:
                if key.on_delete not in ("c", "n", "d"):
                    refusing[target].add(key.table_oid)
        return dict(refusing)

    @cached_property
    def foreign_keys_of(self) -> dict[int, list[Constraint]]:
        """Foreign keys by the table that declares them (by table oid)."""
        declared: dict[int, list[Constraint]] = defaultdict(list)
        for constraint in self.snap.constraints:
            if constraint.kind == "f":
                declared[constraint.table_oid].append(constraint)
        return dict(declared)

    @cached_property
    def constraint_by_name(self) -> dict[tuple[int, str], Constraint]:
        return {(c.table_oid, c.name): c for c in self.snap.constraints}

    @cached_property
    def window(self) -> StatisticsWindow:
        """Since when the pg_stat_* counters the rules read have been counting."""
        return statistics_window(self.snap.server)

    @cached_property
    def attached_indexes(self) -> dict[int, list[Index]]:
        """Partitions' indexes attached to each partitioned index (by the parent's oid)."""
        children: dict[int, list[Index]] = defaultdict(list)
        for index in self.snap.indexes:
            if index.parent_index_oid is not None:
                children[index.parent_index_oid].append(index)
        return dict(children)

    @cached_property
    def index_by_oid(self) -> dict[int, Index]:
        return {index.oid: index for index in self.snap.indexes}

    @cached_property
    def identical_indexes(self) -> dict[int, list[Index]]:
        """Per valid index that has any (by oid): the other valid indexes of its table
        with the same definition (`same_definition`), uniqueness aside, in the snapshot's
        order. Most indexes have none, and are left out."""
        groups: dict[tuple[object, ...], list[Index]] = defaultdict(list)
        for index in self.snap.indexes:
            if index.is_valid:
                groups[same_definition(index)].append(index)
        return {
            index.oid: [other for other in group if other.oid != index.oid]
            for group in groups.values()
            if len(group) > 1
            for index in group
        }

    @cached_property
    def names(self) -> Names:
        """Names for the objects fixes create, unique in their schema (see `Names`)."""
        relations: dict[str, set[str]] = defaultdict(set)
        snap = self.snap
        for entity in (*snap.tables, *snap.indexes, *snap.sequences, *snap.views):
            relations[entity.schema].add(entity.name)
        constraints: dict[str, set[str]] = defaultdict(set)
        for constraint in snap.constraints:
            constraints[constraint.schema].add(constraint.name)
        return Names(relations, constraints, snap.constraints_by_table)

    @cached_property
    def sequence_defaults(self) -> dict[tuple[int, str], int]:
        """(table oid, column) -> oid of the sequence its default `nextval('...')` calls."""
        found: dict[tuple[int, str], int] = {}
        by_name = {(s.schema, s.name): s for s in self.snap.sequences}
        for column in self.snap.columns:
            match = NEXTVAL.match(column.default) if column.default else None
            if not match:
                continue
            text = match.group(1).replace("''", "'")
            parts = [
                (quoted or bare).replace('""', '"') for quoted, bare in QUOTED_PART.findall(text)
            ]
            key = (parts[0], parts[1]) if len(parts) == 2 else (column.schema, parts[-1])
            sequence = by_name.get(key)
            if sequence is not None:
                found[(column.table_oid, column.name)] = sequence.oid
        return found

    @cached_property
    def migration_tools(self) -> set[str]:
        """The migration tools the database is run by: those whose history tables are
        here, and those a review knew by the files it loaded (it makes no history table)."""
        return set(self.migration_tables.values()) | set(self.snap.collection.migration_tools or ())

    @cached_property
    def libraries(self) -> LibraryObjects:
        """Tables, functions and types a library's own migrator defines (River's
        river_job, Oban's oban_jobs, ...: snapshot/libraries.py), recognised by shape."""
        return library_objects(self.snap)

    @cached_property
    def migration_tables(self) -> dict[int, str]:
        """Tables a schema-migration tool keeps its history in (by oid: the tool)."""
        found: dict[int, str] = {}
        for table in self.snap.tables:
            qualified = MIGRATION_TABLES.get(f"{table.schema}.{table.name}")
            tool = qualified or MIGRATION_TABLES.get(table.name)
            if qualified is None and tool is not None and table.name == "schema_migrations":
                # golang-migrate's (version bigint, dirty boolean): its `dirty` flag is
                # its own, and so is how it runs a file (fix scripts say so)
                columns = self.snap.columns_by_table.get(table.oid, [])
                if any(c.name == "dirty" for c in columns):
                    tool = "golang-migrate"
            if qualified is None and table.name == "migrations":
                columns = self.snap.columns_by_table.get(table.oid, [])
                if {c.name for c in columns} >= AUTHELIA_MIGRATIONS:
                    tool = AUTHELIA
            required = MIGRATION_TABLE_COLUMNS.get(table.name)
            if tool is not None and qualified is None and required is not None:
                columns = {c.name for c in self.snap.columns_by_table.get(table.oid, [])}
                if not required <= columns:
                    tool = None
            if tool is None and self._golang_migrate_shape(table):
                tool = "golang-migrate (under its x-migrations-table name)"
            if tool is not None:
                found[table.oid] = tool
        return found

    def _golang_migrate_shape(self, table: Table) -> bool:
        """Is the table golang-migrate's history under a name the project chose
        (openmeter's `schema_om`)? Its postgres driver makes exactly `(version bigint NOT
        NULL PRIMARY KEY, dirty boolean NOT NULL)` whatever the name."""
        own = self.snap.columns_by_table.get(table.oid, [])
        if len(own) != 2:  # asked of every table: the cheapest test first
            return False
        columns = {c.name: (c.type_name, c.not_null) for c in own}
        primary = self.snap.primary_key(table)
        return (
            columns == {"version": ("int8", True), "dirty": ("bool", True)}
            and primary is not None
            and list(primary.columns) == ["version"]
        )

    @cached_property
    def backup_tables(self) -> dict[int, str]:
        """Tables whose name says they are a copy of another (by oid: the pattern
        matched): `*_backup`, `*_bak`, `*_old`; `*_copy`, `*_tmp`, `*_temp` and dated
        copies (`feedback_2024_01_15`, `orders20230101`) when the table they copy exists
        in the same schema and has every column of theirs, so monthly partitions,
        `events_2024` tables by design, `sensor_temp` and Hatchet's
        `v1_task_events_olap_tmp` (a queue with columns of its own beside
        `v1_task_events_olap`) are not copies; nor is a `*_backup`, `*_bak` or `*_old`
        table that another table references where no original exists."""
        by_name = {(t.schema, t.name): t for t in self.snap.tables}
        # tables other tables' foreign keys reference
        referenced = {c.ref_table_oid for c in self.snap.constraints
                      if c.kind == "f" and c.ref_table_oid != c.table_oid}  # fmt: skip
        found: dict[int, str] = {}
        for table in self.snap.tables:
            if table.is_partition or table.kind not in ("r", "p"):
                continue
            match = BACKUP_SUFFIX.search(table.name)
            if match:
                word = match.group(1).lower()
                # `sensor_temp` is a temperature: these words need the original beside them
                original = by_name.get((table.schema, table.name[: match.start()]))
                if word in ("copy", "tmp", "temp"):
                    if self._copies(table, original):
                        found[table.oid] = word
                elif original is not None or table.oid not in referenced:
                    # referenced, with no original: an entity named so (Dokploy's
                    # volume_backup, its backup jobs), not a copy
                    found[table.oid] = word
                continue
            dated = DATED_SUFFIX.search(table.name)
            if dated and self._copies(
                table, by_name.get((table.schema, table.name[: dated.start()]))
            ):
                found[table.oid] = "dated copy"
        return found

    def _copies(self, table: Table, original: Table | None) -> bool:
        """Could `table` be a copy of `original`: does it exist, and has `table` no
        column it lacks? (`CREATE TABLE ... AS` and `LIKE` copy columns; columns the
        original gained since are fine.)"""
        if original is None:
            return False
        theirs = {c.name for c in self.snap.columns_by_table.get(original.oid, [])}
        return all(c.name in theirs for c in self.snap.columns_by_table.get(table.oid, []))

    @cached_property
    def tables_by_key(self) -> dict[str, list[Table]]:
        """Tables that can be referenced, by `words.table_key` of their name."""
        keyed: dict[str, list[Table]] = defaultdict(list)
        backups = self.backup_tables
        for table in self.snap.tables:
            if table.is_regular and not table.is_partition and table.oid not in backups:
                keyed[table_key(table.name)].append(table)
        return dict(keyed)

    @cached_property
    def columns_in_foreign_keys(self) -> frozenset[tuple[int, str]]:
        """(table oid, column) of every referencing column of a declared foreign key. A
        partitioned table's column counts when each of its leaves declares one on it
        (pagila declares them per partition)."""
        declared = {
            (c.table_oid, name)
            for c in self.snap.constraints
            if c.kind == "f"
            for name in c.columns
        }
        for root, leaves in self.leaves_by_root.items():
            for column in self.snap.columns_by_table.get(root, []):
                if all((leaf.oid, column.name) in declared for leaf in leaves):
                    declared.add((root, column.name))
        return frozenset(declared)

    def referenceable_keys(self, table: Table) -> list[list[Column]]:
        """The keys a foreign key to `table` could reference: its primary key; without
        one, each unique index (valid, not partial, plain columns, no INCLUDE) on `id` or
        on NOT NULL columns, the key it is in all but name. A table without a primary key
        is so judged as it will be once missing-primary-key's fix makes one its key
        (Synapse's `events.event_id`, `devices (user_id, device_id)`)."""
        primary = self.snap.primary_key(table)
        if primary is not None:
            key = [self.column_by_name.get((table.oid, name)) for name in primary.columns]
            return [key] if all(key) else []  # type: ignore[list-item]
        keys = []
        for index in self.snap.indexes_by_table.get(table.oid, []):
            names = index.key_columns[: index.key_count]
            if not index.is_unique or not index.is_valid or index.is_partial or index.include:
                continue
            columns = [self.column_by_name.get((table.oid, name)) for name in names if name]
            if len(columns) == len(names) and all(
                c is not None and (c.not_null or names == ["id"]) for c in columns
            ):
                keys.append(columns)
        return keys  # type: ignore[return-value]

    @cached_property
    def declared_meanings(self) -> dict[tuple[str, int], Constraint]:
        """(column name, referenced table oid) -> the declared single-column foreign key
        (the last one, where several) that says what a name means in this schema: its
        referenced column, and, by `declared_meaning`, how the schema stores it. Synapse
        declares `user_id` -> `users (name)` (text), so a `user_id` elsewhere means a
        user's name too, not an `id` added to `users` later; Sanbase declares
        `chat_messages.chat_id` (uuid) -> `chats`, so `telegram_bot_messages.chat_id
        varchar(255)` holds another kind of chat id (Telegram's), not a chat's uuid
        stored as text. (The constraint, not its column's type: that is looked up for
        the few names asked about, not for each of the 15,000 keys at 10k tables.)"""
        return {
            (fk.columns[0], fk.ref_table_oid): fk
            for fk in self.snap.constraints
            if fk.kind == "f" and fk.ref_table_oid is not None and len(fk.columns) == 1
        }

    def declared_meaning(self, fk: Constraint) -> tuple[str, str]:
        """(the referenced column, the type category of the referencing column; '' when
        that column was not collected) of a key of `declared_meanings`."""
        column = self.column_by_name.get((fk.table_oid, fk.columns[0]))
        return fk.ref_columns[0], column.type_category if column is not None else ""

    @cached_property
    def inferred_references(self) -> list[Reference]:
        """References that names imply and no foreign key declares: `teacher_id`,
        `teacherId` or `TeacherID` in one table and a table `teachers` (or `teacher`)
        with a single-column key (`userUid` where `User`'s key is `uid`), or a composite
        key whose other columns the referencing table has by the same names
        (`(tenant_id, teacher_id)` -> `teachers (tenant_id, id)`).

        The same schema is preferred; another schema of the database counts when
        exactly one table there matches. A name that matches no table, or several
        equally, is no reference: inference must not flood. Backup copies neither
        reference nor are referenced, and partitions are represented by their parent.
        An id beside a type of the same stem (`commentable_id` and `commentable_type`,
        `external_service_id` and `external_service_type`) is no reference either: the
        type says which table or outside system the id belongs to (a polymorphic
        reference, or a code host's own id), so no single foreign key can hold it. Nor
        is a name the target table itself has as a column beside its key (`action_id`
        beside `Action."actionId"`): it holds that column's values. Nor is a stem that a
        table named with the referencing table's own prefix also matches (`event_id` of
        `v1_event_to_run_olap` beside `Event` and `v1_event`): which is meant? Nor is a
        text column named for a uuid key whose values, where rows were read, are all too
        short to be one. Nor is a name that a declared foreign key of the schema gives
        another meaning: `user_id` declared as a reference to `users (name)` elsewhere
        does not point at `users.id`; nor a column of another kind of type than the
        declared references of its name (`chat_id varchar` beside a declared uuid
        `chat_id` -> `chats`: another system's chat id); nor a name that ends its id
        otherwise than the key (`application_id` for `"applicationId"`) in a table whose
        declared references end theirs as the key does (Dokploy's `gitlab`, whose
        `application_id` is GitLab's); nor a text column whose values, where rows of both
        were read, are all of other lengths than the key's.
        """
        found = []
        declared = self.columns_in_foreign_keys
        for table in self.own_tables:  # plain tables and roots, no backups
            columns = self.snap.columns_by_table.get(table.oid, [])
            prefix = table_column_prefix(columns)
            typed = None  # the table's `<stem>_type` columns, found where first asked
            for column in columns:
                # a cheap test first: most columns are not references (175,000 at scale)
                if not column.name.endswith(("id", "Id", "ID")):
                    if (
                        prefix is not None
                        and (table.oid, column.name) not in declared
                        and (ref := self._prefixed_reference(table, column))
                    ):
                        found.append(ref)
                    continue
                if column.name == "id" or (table.oid, column.name) in declared:
                    # `id` names no other table, by any of the ways below (one word, no
                    # stem before it, no `<thing>_<x>id`): the key of nearly every table
                    continue
                stem = reference_stem(column.name)
                joined = stem is None  # `userid`: `UserId` folded to lower case, unquoted
                if joined:
                    stem = joined_reference_stem(column.name)
                    if stem is None:
                        if ref := (
                            self._key_named_reference(table, column)
                            or self._namesake_reference(table, column)
                        ):
                            found.append(ref)
                        continue
                target = self._referenced_table(table, stem)
                if target is None and prefix is not None and not joined:
                    if ref := self._prefixed_reference(table, column):
                        found.append(ref)
                    continue
                if target is None:
                    continue
                if typed is None:
                    typed = type_columns(columns)
                if typed and typed_by_sibling(column, typed):
                    continue
                reference = self._reference_to(table, column, target)
                if reference is not None and (
                    self._holds_no_uuid(reference) or self._lengths_apart(reference)
                ):
                    continue
                if reference is not None and not (joined and reference.mismatches()):
                    # a folded name is a reference only where its type is the key's:
                    # `valid boolean` beside a table `vals` is no reference to it
                    found.append(reference)
        return found

    def _key_named_reference(self, table: Table, column: Column) -> Reference | None:
        """The reference a name spells as the target table's name and its key's, where
        that key is one column named as an id but not `id` (hoppscotch's
        `TeamMember."userUid"` -> `"User" (uid)`, `user_uid` likewise), of the key's type.
        The last word must be the key's whole name: `account_uuid` beside `accounts (id)`
        names the accounts' `uuid` column, not their key. Not beside a `<stem>_type`."""
        parts = words(column.name)
        if len(parts) < 2 or parts[-1] == "id":
            return None
        stem = parts[:-1]
        siblings = self.snap.columns_by_table.get(table.oid, [])
        typed = (*stem, "type")
        if any(word_tuple(other.name) == typed for other in siblings):
            return None  # a polymorphic reference: the type says which table
        target = self._referenced_table(table, table_key("_".join(stem)))
        if target is None:
            return None
        for key in self.referenceable_keys(target):
            if len(key) != 1 or words(key[0].name) != parts[-1:]:
                continue
            reference = self._reference_by_key(table, column, target, key)
            if reference is None or reference.mismatches():
                return None
            # the table's name and its key's, spelled out: as evident as `teacher_id`
            confidence = "high" if target.schema == table.schema else "medium"
            return reference._replace(confidence=confidence)
        return None

    @cached_property
    def issued_keys_by_name(self) -> dict[str, list[Table]]:
        """Tables whose primary key is one column that issues its own values (identity,
        or a default `nextval(...)`), by that column's name, where the name is of the
        `<thing>_<x>id` form no `_id` suffix reads (`room_nid`, `event_type_nid`)."""
        issued: dict[str, list[Table]] = defaultdict(list)
        for table in self.own_tables:
            primary = self.snap.primary_key(table)
            if primary is None or len(primary.columns) != 1:
                continue
            column = self.column_by_name.get((table.oid, primary.columns[0]))
            if column is not None and NAMESAKE_KEY.match(column.name) and self._issues(column):
                issued[column.name].append(table)
        return dict(issued)

    def _issues(self, column: Column) -> bool:
        return bool(column.identity) or (column.table_oid, column.name) in self.sequence_defaults

    def _namesake_reference(self, table: Table, column: Column) -> Reference | None:
        """The reference a column makes by bearing the name of the one key that issues
        such numbers: Dendrite's `roomserver_events.room_nid` holds the `room_nid` that
        `roomserver_rooms` draws from its sequence, and `roomserver_event_json.event_nid`
        the `event_nid` of `roomserver_events` (whose key has no sequence: it issues
        none). The name, not a table name, is the evidence (components prefix their
        tables: `roomserver_rooms`), so the confidence is medium; a column that draws
        its own numbers is a key of its own, not a reference."""
        if self._issues(column):
            return None
        candidates = [
            t for t in self.issued_keys_by_name.get(column.name, []) if t.oid != table.oid
        ]
        here = [t for t in candidates if t.schema == table.schema]
        chosen = here or candidates
        if len(chosen) != 1:
            return None
        reference = self._reference_to(table, column, chosen[0])
        return reference._replace(confidence="medium") if reference is not None else None

    def _prefixed_reference(self, table: Table, column: Column) -> Reference | None:
        """The reference a column of a table whose columns all share one prefix names
        after it (MediaWiki's `revision.rev_actor` -> `actor`, `rev_comment_id` ->
        `comment`, `slots.slot_revision_id` -> `revision`), where the key is a single id
        column of the same type. The key is not named so (`actor_id`): medium
        confidence. A plural after the prefix is a count (`category.cat_pages`), not a
        reference to `page`."""
        rest = column.name.split("_", 1)[1]
        stem = reference_stem(rest)
        if stem is None:
            stem = table_key(rest)
            if stem != "_".join(words(rest)):
                return None  # `cat_pages`, `ss_users`: counts of them
        target = self._referenced_table(table, stem)
        if target is None:
            return None
        reference = self._reference_to(table, column, target)
        if reference is None or reference.mismatches():
            return None  # `cl_collation` (text) names a collation, not its smallint id
        return reference

    def _holds_key_text(self, table: Table, column: Column, key: Column) -> bool:
        """Is a text column sized or filled for the text of a uuid key: `varchar(36)`,
        `char(32)`, or values read all 32 to 38 characters long? The demo's
        `progress.lesson_id varchar(36)` holds lesson ids as text; Sanbase's
        `telegram_bot_messages.chat_id varchar(255)` holds Telegram's."""
        if key.type_name != "uuid" or column.type_category != "S":
            return False
        if UUID_SIZED.fullmatch(column.data_type):
            return True
        profile = self.column_profile(table, column.name)
        return (
            profile is not None
            and profile.min_length is not None
            and profile.max_length is not None
            and 32 <= profile.min_length <= profile.max_length <= 38
        )

    def _spelled_unlike_own_references(self, table: Table, column: Column, key: Column) -> bool:
        """Does the column end its id otherwise than the key it would point at
        (`application_id` for `"applicationId"`), while the table's own declared
        references end theirs as the key does (`"gitProviderId"`)? The table writes its
        references one way; a name in another is a field it keeps in another's words:
        Dokploy's `gitlab.application_id` is the GitLab OAuth application's id, beside
        `redirect_uri` and `secret`, not a reference to `application`."""
        key_ending, column_ending = id_ending(key.name), id_ending(column.name)
        if key_ending is None or column_ending is None or key_ending == column_ending:
            return False
        return any(
            len(fk.columns) == 1 and id_ending(fk.columns[0]) == key_ending
            for fk in self.snap.constraints_by_table.get(table.oid, [])
            if fk.kind == "f"
        )

    def _lengths_apart(self, reference: Reference) -> bool:
        """A text column whose values, and those of the text key it would point at, were
        read, and no value of one is as long as any of the other: none can match (GitLab's
        64-character application ids beside 21-character nanoid keys). Values that are
        all '' are stand-ins for none, not another kind of value."""
        for column, key in zip(reference.columns, reference.ref_columns, strict=True):
            if column.type_category != "S" or key.type_category != "S":
                continue
            mine = self.column_profile(reference.table, column.name)
            theirs = self.column_profile(reference.ref_table, key.name)
            if mine is None or theirs is None:
                continue
            my_min, my_max = mine.min_length, mine.max_length
            their_min, their_max = theirs.min_length, theirs.max_length
            if my_min is None or my_max is None or their_min is None or their_max is None:
                continue
            # all '' (a stand-in for none, max 0) is no other kind of value
            if 0 < my_max < their_min or their_max < my_min:
                return True
        return False

    def _holds_no_uuid(self, reference: Reference) -> bool:
        """A text column named like a reference to a uuid key, whose values were read
        and none is long enough to be one (a uuid's text has 32 hex digits at least):
        it holds something else. Midday's `teams.inbox_id` is a 10-character code the
        table generates (DEFAULT generate_inbox(10)), not a reference to `inbox.id`."""
        for column, key in zip(reference.columns, reference.ref_columns, strict=True):
            if column.type_category != "S" or key.type_name != "uuid":
                continue
            profile = self.column_profile(reference.table, column.name)
            if profile is not None and profile.max_length is not None and profile.max_length < 32:
                return True
        return False

    def _referenced_table(self, table: Table, stem: str) -> Table | None:
        candidates = [t for t in self.tables_by_key.get(stem, []) if t.oid != table.oid]
        here = [t for t in candidates if t.schema == table.schema]
        chosen = here or candidates
        if len(chosen) != 1:
            return None
        # a table named with the referencing table's own leading words and the stem is
        # as evident a target: Hatchet's `v1_event_to_run_olap.event_id` holds the ids of
        # `v1_event` (bigint), not of the older `Event` (uuid)
        parts = words(table.name)
        for leading in range(1, len(parts)):
            twins = self.tables_by_key.get(f"{'_'.join(parts[:leading])}_{stem}", [])
            if any(t.oid not in (table.oid, chosen[0].oid) for t in twins):
                return None
        return chosen[0]

    def _reference_to(self, table: Table, column: Column, target: Table) -> Reference | None:
        for key in self.referenceable_keys(target):
            reference = self._reference_by_key(table, column, target, key)
            if reference is not None:
                return reference
        return None

    def _reference_by_key(
        self, table: Table, column: Column, target: Table, key: list[Column]
    ) -> Reference | None:
        # the key column that `teacher_id` names: `id`, its namesake, or a sole key
        # column named as an id (`teacher_uuid` is not, nor is a `code` or an `email`:
        # `supplier_id` does not mean the supplier's code)
        named = [
            k
            for k in key
            if k.name in ("id", column.name) or (len(key) == 1 and is_id_name(k.name))
        ]
        if len(named) != 1:
            return None
        if misspells_table_key(column.name, named[0].name, target.name):
            return None
        if self._spelled_unlike_own_references(table, column, named[0]):
            return None
        declared = self.declared_meanings.get((column.name, target.oid))
        if declared is not None:
            meant, stored_as = self.declared_meaning(declared)
            if meant != named[0].name:
                return None
            # declared with the key's kind of type, and this one of another: another id
            other_kind = stored_as == named[0].type_category != column.type_category
            if other_kind and not self._holds_key_text(table, column, named[0]):
                return None
        # a column of the target named as this one (Hatchet's `Action."actionId"`, text,
        # beside its uuid `id`) is what `v1_task.action_id` holds: the name points at
        # that column, not at the key, whatever the types say
        spelled = word_tuple(column.name)
        if any(
            word_tuple(other.name) == spelled and other not in key
            for other in self.snap.columns_by_table.get(target.oid, [])
        ):
            return None
        columns: list[Column] = []
        for key_column in key:
            if key_column is named[0]:
                columns.append(column)
                continue
            # only a reference shared by both tables (`tenant_id`) completes the key: a
            # namesake like `version` means the referencing table's own version
            same = self.column_by_name.get((table.oid, key_column.name))
            if same is None or reference_stem(key_column.name) is None:
                return None
            columns.append(same)
        conventional = named[0].name in ("id", column.name)
        confidence = "high" if conventional and target.schema == table.schema else "medium"
        return Reference(
            table=table,
            columns=tuple(columns),
            ref_table=target,
            ref_columns=tuple(key),
            constraint=None,
            confidence=confidence,
        )

    @cached_property
    def declared_references(self) -> list[Reference]:
        """Declared foreign keys (not the copies partitions inherit) whose tables and
        columns were collected."""
        found = []
        for fk in self.snap.constraints:
            if fk.kind != "f" or fk.inherited or fk.ref_table_oid is None:
                continue
            table = self.snap.table_by_oid.get(fk.table_oid)
            target = self.snap.table_by_oid.get(fk.ref_table_oid)
            if table is None or target is None:
                continue
            columns = [self.column_by_name.get((table.oid, name)) for name in fk.columns]
            keys = [self.column_by_name.get((target.oid, name)) for name in fk.ref_columns]
            if not all(columns) or not all(keys):
                continue
            found.append(
                Reference(table, tuple(columns), target, tuple(keys), fk, "declared")  # type: ignore[arg-type]
            )
        return found

    def replication(self, table: Table) -> Replication | None:
        """The table's replica identity and publications; a partitioned table is
        published through its partitions (unless published via its root), so theirs
        count as its own."""
        own = self.replication_by_table.get(table.oid)
        if own is None or table.kind != "p":
            return own
        leaves = [
            self.replication_by_table.get(leaf.oid)
            for leaf in self.leaves_by_root.get(table.oid, [])
        ]
        parts = [own, *(leaf for leaf in leaves if leaf is not None)]
        return own._replace(
            publications=sorted({p for part in parts for p in part.publications}),
            publishing_changes=sorted({p for part in parts for p in part.publishing_changes}),
        )

    @cached_property
    def replication_by_table(self) -> dict[int, Replication]:
        return {r.table_oid: r for r in self.snap.replication}

    @cached_property
    def unvalidated_constraints(self) -> list[Constraint]:
        """Foreign keys and CHECKs added NOT VALID and never validated (a partition's
        inherited copy is its parent's)."""
        return [
            c
            for c in self.snap.constraints
            if c.kind in ("f", "c") and not c.validated and not c.inherited
        ]

    @cached_property
    def nullable_uniques(self) -> list[tuple[Index, list[str]]]:
        """Valid unique indexes (or constraints) on two or more plain columns that treat
        NULLs as distinct, with the key columns that may be NULL in them: rows equal but
        for a NULL there pass. A column the index's predicate tests (other than `IS
        NULL`) cannot be NULL in it; a NULL column for which another unique index of the
        table covers the rest of the key (`... WHERE thread_id IS NULL`) is guarded; and a
        key with a sibling that swaps its nullable columns for other nullable ones
        describes alternatives (a row belongs to a project or to a namespace). A key that
        contains the primary key cannot repeat at all. Materialized views are left out:
        none of their columns is ever NOT NULL, whatever their query reads, and only
        REFRESH writes to them."""
        found: list[tuple[Index, list[str]]] = []
        tables = self.snap.table_by_oid
        for index in self.snap.indexes:
            table = tables.get(index.table_oid)
            if table is not None and table.kind == "m":
                continue
            if (
                not index.is_unique
                or index.is_primary
                or not index.is_valid
                or index.parent_index_oid is not None
                or index.has_expressions
                or index.key_count < 2
                or index.definition is None
                or "NULLS NOT DISTINCT" in index.definition
            ):
                continue
            names = index.key_columns[: index.key_count]
            keys = [self.column_by_name.get((index.table_oid, k or "")) for k in names]
            if not all(keys):
                continue
            nullable = [
                k.name  # type: ignore[union-attr]
                for k in keys
                if self.may_be_null(index, k.name)  # type: ignore[union-attr]
                and not self._guarded_when_null(index, k.name)  # type: ignore[union-attr]
            ]
            if (
                nullable
                and not self._has_alternative(index, nullable)
                and not self._contains_key(index)
            ):
                found.append((index, nullable))
        return found

    def _contains_key(self, index: Index) -> bool:
        """Does the index contain all columns of the primary key (or of another unique
        key over NOT NULL columns, plain or in expressions)? Then no two rows can ever be
        equal on it."""
        keys = set(index.key_columns[: index.key_count])
        for other in self.snap.indexes_by_table.get(index.table_oid, []):
            read = self._columns_read(other)
            if (
                other.oid != index.oid
                and other.is_unique
                and other.is_valid
                and not other.is_partial
                and read
                and read < keys
                and all(
                    (c := self.column_by_name.get((index.table_oid, name))) is not None
                    and c.not_null
                    for name in read
                )
            ):
                return True
        return False

    def live_key_elsewhere(self, index: Index, nullable: list[str]) -> Index | None:
        """Where the only nullable key column is the table's soft-delete marker: another
        unique index over the live rows (`WHERE deleted_at IS NULL`) whose key holds the
        rest of this one but the tenant column, and more (openmeter's `UNIQUE (namespace,
        key, version) WHERE deleted_at IS NULL` beside `UNIQUE (namespace, key,
        deleted_at)`). Live rows are meant to repeat on this key, then."""
        marker = self.soft_delete_columns.get(index.table_oid)
        if marker is None or nullable != [marker.name]:
            return None
        rest = {
            name
            for name in index.key_columns[: index.key_count]
            if name and name != marker.name and not TENANT_COLUMN.match(name)
        }
        for other in self.snap.indexes_by_table.get(index.table_oid, []):
            keys = set(other.key_columns[: other.key_count])
            if (
                other.oid != index.oid
                and other.is_unique
                and other.is_valid
                and _mentions(other.predicate, marker.name, "IS NULL")
                and rest < keys
            ):
                return other
        return None

    def _columns_read(self, index: Index) -> set[str]:
        """The columns an index's keys read: its plain key columns and those its
        expression keys name (Coder's `UNIQUE (lower(name))`: rows equal in `name` are
        equal in `lower(name)`, since an index expression is immutable)."""
        read = {name for name in index.key_columns[: index.key_count] if name}
        return read | self._columns_named(index, index.expressions)

    def _columns_named(self, index: Index, *trees: str | None) -> set[str]:
        """The columns of the index's table that its node trees (expressions, predicate)
        name."""
        text = " ".join(tree for tree in trees if tree)
        if not text:
            return set()
        by_position = {
            c.position: c.name for c in self.snap.columns_by_table.get(index.table_oid, [])
        }
        numbers = {int(number) for number in re.findall(r":varattno (\d+)", text)}
        return {by_position[number] for number in numbers if number in by_position}

    def _has_alternative(self, index: Index, nullable: list[str]) -> bool:
        """Is there a sibling unique key that swaps the nullable columns for other
        nullable ones (`(usage, project_id)` beside `(usage, namespace_id)`)? Then each
        row fills one of the alternatives, and the NULL in the other is by design."""
        keys = set(index.key_columns[: index.key_count])
        for other in self.snap.indexes_by_table.get(index.table_oid, []):
            other_keys = set(other.key_columns[: other.key_count])
            swapped_in = other_keys - keys
            if (
                other.oid != index.oid
                and other.is_unique
                and len(other_keys) == len(keys)
                and swapped_in
                and keys - other_keys <= set(nullable)
                and all(
                    (c := self.column_by_name.get((index.table_oid, name or ""))) is not None
                    and not c.not_null
                    for name in swapped_in
                )
            ):
                return True
        return False

    def may_be_null(self, index: Index, column: str) -> bool:
        """Can the key column be NULL in the index: a nullable column its predicate does
        not test (other than with `IS NULL`)?"""
        found = self.column_by_name.get((index.table_oid, column))
        return (
            found is not None
            and not found.not_null
            and not tested_not_null(index.predicate, column)
        )

    def _guarded_when_null(self, index: Index, column: str) -> bool:
        """Does another unique index of the table cover the rest of `index`'s key for the
        rows where `column` IS NULL? Its key may hold `(column IS NULL)`, true in every
        row it covers (cal.com's `UNIQUE (slug, ("parentId" IS NULL)) WHERE "parentId" IS
        NULL`, a Prisma schema's way to a unique slug among the rows without a parent)."""
        rest = set(index.key_columns[: index.key_count]) - {column}
        return any(
            other.is_unique
            and other.is_valid
            and other.oid != index.oid
            and _mentions(other.predicate, column, "IS NULL")
            and {
                name
                for name, shown in zip(
                    other.key_columns[: other.key_count],
                    other.key_definitions[: other.key_count],
                    strict=False,
                )
                if name is not None or not _is_null_test(shown, column)
            }
            <= rest
            for other in self.snap.indexes_by_table.get(index.table_oid, [])
        )

    @cached_property
    def views_using(self) -> dict[tuple[int, str], list[str]]:
        """(table oid, column) -> the views (schema.name) that read the column."""
        using: dict[tuple[int, str], list[str]] = defaultdict(list)
        for v in self.snap.view_columns:
            using[(v.table_oid, v.column)].append(f"{v.view_schema}.{v.view}")
        return dict(using)

    def index_scans(self, index: Index) -> int | None:
        """idx_scan of an index; of a partitioned table's index, the sum over the
        partitions' indexes attached to it (the server counts scans there only). None
        where no part has the counter."""
        children = self.attached_indexes.get(index.oid)
        if not children:
            return index.idx_scan
        known = [scans for child in children if (scans := self.index_scans(child)) is not None]
        return sum(known) if known else None

    @cached_property
    def indexes_serving_fk(self) -> dict[int, list[Index]]:
        """Per foreign key (by constraint oid): every index that serves its lookup."""
        by_table = self.snap.indexes_by_table
        # only a partial index needs the key's attribute numbers (`lookup_implies`)
        with_partial = {index.table_oid for index in self.snap.indexes if index.is_partial}
        serving: dict[int, list[Index]] = {}
        for fk in self.snap.constraints:
            if fk.kind != "f":
                continue
            indexes = by_table.get(fk.table_oid, [])
            if fk.columns:
                # every index that serves leads with one of the columns (see
                # `serves_lookup_on`): ruling the others out here spares a call for
                # each of the 15,000 keys' 4 indexes (10k tables)
                indexes = [i for i in indexes if i.key_columns and i.key_columns[0] in fk.columns]
                if not indexes:
                    serving[fk.oid] = []
                    continue
            attnums = self.attnums(fk) if fk.table_oid in with_partial else None
            cast = self.cast_columns(fk)
            parent_keys = self.parent_key_columns(fk)
            # (`parent_keys and`, `not cast or`: no generator for the keys that have none)
            serving[fk.oid] = [
                index
                for index in indexes
                if (
                    serves_lookup_on(index, fk.columns, attnums)
                    or (parent_keys and any(serves_lookup_on(index, key) for key in parent_keys))
                )
                and (not cast or all(compares_as(index, c, key) for c, key in cast.items()))
            ]
        return serving

    def cast_columns(self, fk: Constraint) -> dict[str, str]:
        """The referencing columns a foreign key's checks cast to compare with their key
        (char(n) against varchar or text: see `padding_differs`), with the key's type."""
        cast = {}
        for name, ref_name in zip(fk.columns, fk.ref_columns, strict=False):
            # one side is char(n) (`padding_differs`): most pairs are ruled out by name,
            # without looking the columns up (a third of the tables have a char(n) column)
            pair = ((fk.table_oid, name), (fk.ref_table_oid or 0, ref_name))
            if pair[0] not in self.char_columns and pair[1] not in self.char_columns:
                continue
            column, key = self.column_by_name.get(pair[0]), self.column_by_name.get(pair[1])
            if column and key and padding_differs(column.type_name, key.type_name):
                cast[name] = key.type_name
        return cast

    @cached_property
    def char_columns(self) -> frozenset[tuple[int, str]]:
        """(table oid, name) of the char(n) columns (`bpchar`)."""
        return frozenset(
            (c.table_oid, c.name) for c in self.snap.columns if c.type_name == "bpchar"
        )

    def parent_key_columns(self, fk: Constraint) -> list[list[str]]:
        """The referencing columns, fewer than all, that stand for a unique key of the
        referenced table among the referenced columns: Boundary's `(scope_id,
        auth_method_id) REFERENCES auth_ldap_method (scope_id, public_id)`, whose
        `public_id` is that table's primary key. Their values alone name one parent, so
        an index on them finds exactly its referencing rows."""
        if fk.ref_table_oid is None or len(fk.columns) < 2:
            return []
        counterpart = dict(zip(fk.ref_columns, fk.columns, strict=False))
        keys = []
        for index in self.snap.indexes_by_table.get(fk.ref_table_oid, []):
            columns = index.key_columns[: index.key_count]
            if (
                index.is_unique
                and index.is_valid
                and not index.is_partial
                and columns
                and len(columns) < len(fk.columns)
                and all(column in counterpart for column in columns)
            ):
                keys.append([counterpart[column] for column in columns])  # type: ignore[index]
        return keys

    @cached_property
    def unindexed_references(self) -> dict[int, list[tuple[str, ...]]]:
        """Per table oid, the columns of its references that no index serves, whose
        fixes build one: declared foreign keys (`unindexed-foreign-key`) and inferred
        references a key can hold (`missing-foreign-key`)."""
        found: dict[int, list[tuple[str, ...]]] = defaultdict(list)
        for fk in self.snap.constraints:
            if fk.kind == "f" and not fk.inherited and not self.indexes_serving_fk[fk.oid]:
                found[fk.table_oid].append(tuple(fk.columns))
        for reference in self.inferred_references:
            if reference.mismatches():
                continue  # fk-type-mismatch: no key, so no index, is proposed
            if self.lookup_index(reference) is None:
                found[reference.table.oid].append(tuple(reference.column_names))
        return dict(found)

    def lookup_index(self, reference: Reference) -> Index | None:
        """An index of the referencing table that serves the lookup a key on the
        reference would run (`col = $1` on its columns): what `unindexed-foreign-key`
        accepts once the key exists. None when there is none. Kept per reference:
        `missing-foreign-key` asks again for the references it reports."""
        key = (reference.table.oid, *reference.column_names)
        if key not in self._lookup_indexes:
            columns = reference.column_names
            attnums = {column.position for column in reference.columns}
            indexes = self.snap.indexes_by_table.get(reference.table.oid, [])
            self._lookup_indexes[key] = next(
                (i for i in indexes if serves_lookup_on(i, columns, attnums)), None
            )
        return self._lookup_indexes[key]

    def partition_keyed_by(self, table: Table, column: str) -> list[str]:
        """The partitioned tables, `table` and its partitions at every level, whose
        partition key has the column: ALTER COLUMN ... TYPE on `table` reaches them all,
        and PostgreSQL refuses it ("part of the partition key")."""
        keyed, pending = [], [table]
        while pending:
            current = pending.pop()
            if column in current.partition_key:
                keyed.append(current.qualname)
            pending += self.partitions_by_parent.get(current.oid, [])
        return sorted(keyed)

    def index_bytes(self, index: Index) -> int | None:
        """Size of an index; of a partitioned table's index, its partitions' indexes'
        (the parent's own holds no entries). None where a part's size is unknown."""
        children = self.attached_indexes.get(index.oid)
        if not children:
            return index.bytes
        sizes = [self.index_bytes(child) for child in children]
        return None if None in sizes else sum(size for size in sizes if size is not None)

    @cached_property
    def bloat_measures(self) -> dict[tuple[str, int], BloatMeasure]:
        """pgstattuple's measures (--exact-bloat), by (table or index, oid)."""
        return {(m.kind, m.oid): m for m in self.snap.measures}

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

    def caller_filters(self, view: View) -> list[str]:
        """What the WHERE of the view's query calls that tells who the caller is:
        `auth.uid()` (a function whose body reads the session's settings or user),
        `current_setting()`, `current_user`. Empty: none, or the query was not read."""
        where = where_clause(view.query_tree) if view.query_tree else None
        if where is None:
            return []
        names = caller_keywords(where)
        for oid in calls_in(where):
            function = self.function_by_oid.get(oid)
            if function is not None and (name := caller_reference(function)):
                names.add(name)
        return sorted(names)

    def depends_on_caller(self, tree: Any) -> bool:
        """Can the expression's value differ from one calling role or session to another:
        it reads CURRENT_USER or a setting, asks about the caller's roles or privileges,
        calls a function of the database's own (which may), or looks something up in a
        sub-select (a membership)."""
        if has_subselect(tree) or caller_keywords(tree):
            return True
        for oid in calls_in(tree):
            function = self.function_by_oid.get(oid)
            if function is None or function.schema != "pg_catalog":
                return True  # not collected, or the database's own: it may
            if caller_reference(function):
                return True
        return False

    @cached_property
    def function_by_oid(self) -> dict[int, Function]:
        return {function.oid: function for function in self.snap.functions}

    @cached_property
    def loose_reference_triggers(self) -> dict[int, Trigger]:
        """Per table (by oid): a trigger that records the table's deleted rows for the
        application to clean up the rows that reference them later, in batches, instead
        of a foreign key (GitLab's loose foreign keys: an AFTER DELETE trigger whose
        function writes to loose_foreign_keys_deleted_records). The references to such
        a table are loose on purpose."""
        found: dict[int, Trigger] = {}
        for trigger in self.snap.triggers:
            if not trigger.enabled or trigger.timing != "after" or "delete" not in trigger.events:
                continue
            function = self.function_by_oid.get(trigger.function_oid)
            said = f"{trigger.function_name} {function.source if function else ''}"
            if LOOSE_FOREIGN_KEYS.search(said):
                found.setdefault(trigger.table_oid, trigger)
        return found

    @cached_property
    def deletion_records(self) -> dict[tuple[int, int], Trigger]:
        """Per (table, table its rows are written to): a DELETE trigger of the first whose
        function inserts into the second, which so records the first's deleted rows
        (Immich's assets_delete_audit fills assets_audit with the ids of deleted assets
        for its clients to sync). Names an INSERT leaves unqualified match a table of that
        name in any schema. Read from the function's body, comments left out."""
        tables: dict[str, list[Table]] = defaultdict(list)
        for table in self.snap.tables:
            tables[table.name].append(table)
        found: dict[tuple[int, int], Trigger] = {}
        targets = self._read_bodies(INSERT_TARGET)
        for trigger in self.snap.triggers:
            if not trigger.enabled or "delete" not in trigger.events:
                continue
            for first, second in targets(trigger.function_oid):
                schema = _identifier(first) if second else None
                name = _identifier(second or first)
                for table in tables.get(name, ()):
                    if schema is None or table.schema == schema:
                        found.setdefault((trigger.table_oid, table.oid), trigger)
        return found

    @cached_property
    def set_on_update(self) -> dict[int, dict[str, Trigger]]:
        """Per table (by oid): the columns an enabled BEFORE UPDATE row trigger's function
        assigns in the new row (`new."updateId" = immich_uuid_v7()`), and that trigger.
        Read from the PL/pgSQL body, comments left out."""
        found: dict[int, dict[str, Trigger]] = defaultdict(dict)
        assigned = self._read_bodies(NEW_ASSIGNMENT)
        for trigger in self.snap.triggers:
            if not (
                trigger.enabled
                and trigger.timing == "before"
                and trigger.for_each_row
                and "update" in trigger.events
            ):
                continue
            for name in assigned(trigger.function_oid):
                found[trigger.table_oid].setdefault(_identifier(name), trigger)
        return found

    def _read_bodies(self, pattern: re.Pattern[str]) -> Callable[[int], list[Any]]:
        """What `pattern` finds in a function's body (by oid), comments left out; each
        body read once: one trigger function often serves every table (`set_updated_at`)."""
        read: dict[int, list[Any]] = {}

        def found_in(function_oid: int) -> list[Any]:
            if function_oid not in read:
                function = self.function_by_oid.get(function_oid)
                source = SQL_COMMENT.sub(" ", function.source or "") if function else ""
                read[function_oid] = pattern.findall(source)
            return read[function_oid]

        return found_in

    def index_columns(self, index: Index) -> set[str]:
        """Every column an index holds or reads: key and INCLUDE columns, and the columns
        its expressions and predicate name. An UPDATE that changes any of them cannot be
        HOT (on PostgreSQL 16+, unless the index is BRIN)."""
        names = {name for name in index.key_columns if name}
        return names | self._columns_named(index, index.expressions, index.predicate_tree)

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
        """`privilege` on the table (or view) and USAGE on its schema: what a query needs."""
        relation = self.snap.table_by_oid.get(table_oid) or self.view_by_oid.get(table_oid)
        if relation is None:
            return False
        schema = self.schema_by_name.get(relation.schema)
        if schema is not None and not self.holds(role, "schema", schema.oid, schema.owner, "USAGE"):
            return False
        return self.holds(role, "table", table_oid, relation.owner, privilege)

    def can_read_relation(self, role: str, oid: int) -> bool | None:
        """SELECT on a table or view for `role` (see can_reach_table); None where the
        relation was not collected (nothing is claimed about it)."""
        if oid not in self.snap.table_by_oid and oid not in self.view_by_oid:
            return None
        return self.can_reach_table(role, oid, "SELECT")

    @cached_property
    def view_by_oid(self) -> dict[int, View]:
        return {view.oid: view for view in self.snap.views}

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

    @cached_property
    def column_profiles(self) -> dict[tuple[int, str], ColumnProfile]:
        """(table oid, column) -> what the row scan measured. A partitioned table's
        columns get the sum over its leaves, when every leaf was read."""
        own = {(p.table_oid, p.column): p for p in self.snap.column_profiles}
        combined = dict(own)
        for root, leaves in self.leaves_by_root.items():
            table = self.snap.table_by_oid.get(root)
            if table is None or table.kind != "p" or not leaves:
                continue
            for column in self.snap.columns_by_table.get(root, []):
                parts = [own.get((leaf.oid, column.name)) for leaf in leaves]
                if all(part is not None for part in parts):
                    combined[(root, column.name)] = combine_profiles(root, parts)  # type: ignore[arg-type]
        return combined

    def column_profile(self, table: Table, column: str) -> ColumnProfile | None:
        return self.column_profiles.get((table.oid, column))

    @cached_property
    def column_names(self) -> frozenset[str]:
        """Every column name of the snapshot, once (7,000 names for 175,000 columns at
        10k tables): a test on names is made once per name, and a name no column has
        spares a walk over the columns looking for it."""
        return frozenset({column.name for column in self.snap.columns})

    @cached_property
    def soft_delete_columns(self) -> dict[int, Column]:
        """Per table, the column that marks a row deleted without removing it: the first
        whose name says so (`marks_soft_delete`)."""
        markers = {name for name in self.column_names if marks_soft_delete(name)}
        found = {}
        if not markers:
            return found  # no column anywhere is named so
        for table_oid, columns in self.snap.columns_by_table.items():
            for column in columns:
                if column.name in markers:
                    found[table_oid] = column
                    break
        return found

    @cached_property
    def own_tables(self) -> list[Table]:
        """Tables whose columns are their own: plain tables and partition roots (a
        partition's columns are its parent's), backup copies and a migration tool's
        history tables aside (their columns are the tool's design: `_prisma_migrations.logs`
        is NULL after every migration that succeeded). The design and quality rules go
        through them (see rules/design.py `own_tables`)."""
        aside = self.backup_tables.keys() | self.migration_tables.keys()
        return [
            table
            for table in self.snap.tables
            if table.is_regular and not table.is_partition and table.oid not in aside
        ]

    def own_columns(self) -> Iterator[tuple[Table, Column]]:
        """The columns of `own_tables`, each with its table (made as they are read: kept,
        the pairs would cost 100 MB at 1.75M columns)."""
        by_table = self.snap.columns_by_table
        for table in self.own_tables:
            for column in by_table.get(table.oid, ()):
                yield table, column

    @cached_property
    def own_columns_by_type(self) -> dict[str, list[Column]]:
        """The columns of `own_tables` by the name of their base type (`type_name`): a
        rule about a few types reads their columns only."""
        by_type: dict[str, list[Column]] = defaultdict(list)
        by_table = self.snap.columns_by_table
        for table in self.own_tables:
            for column in by_table.get(table.oid, []):
                by_type[column.type_name].append(column)
        return dict(by_type)


class ColumnsByName:
    """A column by (table oid, name), found among its table's columns: a table has a
    few dozen at most, and a dict keyed by pairs would cost 200 MB at 1.75M columns."""

    def __init__(self, by_table: dict[int, list[Column]]) -> None:
        self.by_table = by_table

    def get(self, key: tuple[int, str]) -> Column | None:
        table_oid, name = key
        for column in self.by_table.get(table_oid, ()):
            if column.name == name:
                return column
        return None

    def __getitem__(self, key: tuple[int, str]) -> Column:
        column = self.get(key)
        if column is None:
            raise KeyError(key)
        return column


def keep_first(index: Index) -> tuple[bool, bool, bool, bool, bool, str]:
    """Of equivalent indexes keep the one backing a constraint, then the replica
    identity (dropping it stops logical replication of updates and deletes), then one
    attached to a partitioned parent's index (it cannot be dropped alone), then a
    unique one."""
    return (
        index.constraint_name is None,
        not index.is_replica_identity,
        index.parent_index_oid is None,
        not index.is_primary,
        not index.is_unique,
        index.name,
    )


def same_definition(index: Index) -> tuple[object, ...]:
    """Everything that decides what an index can do, except its name and uniqueness."""
    return (
        index.table_oid,
        index.method,
        index.key_count,
        tuple(index.key_columns),
        index.expressions,
        tuple(index.opclasses),
        tuple(index.collations),
        tuple(index.sort_options),
        index.predicate_tree,
    )


MAX_IDENTIFIER_BYTES = 63  # NAMEDATALEN - 1: PostgreSQL truncates longer names


def clip(name: str, size: int) -> str:
    """The longest prefix of `name` within `size` bytes that cuts no character."""
    return name.encode()[:size].decode(errors="ignore")


def object_name(name1: str, name2: str | None, label: str) -> str:
    """`name1_name2_label` within 63 bytes, shortening the longer of name1 and name2
    first: PostgreSQL's own makeObjectName, so names look like the ones it chooses."""
    budget = MAX_IDENTIFIER_BYTES - len(label.encode()) - 1 - (1 if name2 else 0)
    size1, size2 = len(name1.encode()), len((name2 or "").encode())
    while size1 + size2 > budget:
        if size1 > size2:
            size1 -= 1
        else:
            size2 -= 1
    parts = [clip(name1, size1), *([clip(name2, size2)] if name2 else []), label]
    return "_".join(parts)


class Names:
    """Hands out names for the objects that the fixes of one snapshot create.

    A name is free when no relation of its schema (table, index, sequence, view) and
    no constraint there has it, and no earlier fix of this snapshot was given it;
    taken names get a number after the label (`t_a_idx1`), as PostgreSQL does. A
    constraint's name must also be free among the constraints of every table that
    gets it, whatever their schema (a CHECK added to a partitioned table is added to
    each partition under the same name). All the fixes of a report come from one
    snapshot, so the names of one script never collide. The same `purpose` (for
    example the index of one table's columns) gets the same name again, whichever
    rule asks, so two fixes that build the same thing write the same statement.
    Rules run in a fixed order over ordered catalogs, so the same database gets the
    same names on every run.

    Types are not in the snapshot, so a new table's name can still collide with a
    type of its schema (its row type takes the name); nor are children by INHERITS
    (not partitions) linked to their parent, so a CHECK's name is checked on those
    only where they share its schema.
    """

    def __init__(
        self,
        relations: dict[str, set[str]],
        constraints: dict[str, set[str]],
        by_table: Mapping[int, Iterable[Constraint]] | None = None,
    ) -> None:
        """`relations`, `constraints`: the names taken in each schema; `by_table`: the
        constraints of each table (by oid), the snapshot's own grouping: a set of names
        per table would copy 10,000s of them for the few tables a fix adds one to."""
        self.relations = relations
        self.constraints = constraints
        self.by_table = by_table if by_table is not None else {}
        self.given_on: dict[int, set[str]] = {}  # constraint names given, by table oid
        self.given: dict[tuple[object, ...], str] = {}

    def new(
        self,
        schema: str,
        name1: str,
        name2: str | None,
        label: str,
        purpose: object,
        tables: Iterable[int] = (),
    ) -> str:
        """A free name `name1_name2_label` (shortened, numbered if taken) in `schema`;
        for a constraint, `tables` are the oids of the tables that get it."""
        key = (schema, purpose)
        if key in self.given:
            return self.given[key]
        relations = self.relations.setdefault(schema, set())
        constraints = self.constraints.get(schema, set())
        tables = list(tables)
        given = [self.given_on.setdefault(oid, set()) for oid in tables]
        held = {c.name for oid in tables for c in self.by_table.get(oid, ())}.union(*given)
        attempt = 0
        name = object_name(name1, name2, label)
        while name in relations or name in constraints or name in held:
            attempt += 1
            name = object_name(name1, name2, numbered(label, attempt))
        relations.add(name)
        for names in given:
            names.add(name)
        self.given[key] = name
        return name


def numbered(label: str, attempt: int) -> str:
    """`idx1`, as PostgreSQL numbers; `2024_01_1` for a label ending in a digit (a
    partition's date), where `2024_011` would read as another date."""
    return f"{label}_{attempt}" if label[-1:].isdigit() else f"{label}{attempt}"


class RangeDefault(NamedTuple):
    """A DEFAULT partition of a table partitioned by a date or time range."""

    parent: Table
    default: Table
    key: Column
    watched: dt.datetime | None  # its rows from here on block partitions a job creates


class Reference(NamedTuple):
    """Columns of one table that point at the key of another: a declared foreign key
    (`constraint` set) or a reference inferred from names (`constraint` None)."""

    table: Table
    columns: tuple[Column, ...]
    ref_table: Table
    ref_columns: tuple[Column, ...]
    constraint: Constraint | None
    confidence: str  # declared; high: conventional name, same schema; medium otherwise

    @property
    def declared(self) -> bool:
        return self.constraint is not None

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def ref_column_names(self) -> list[str]:
        return [c.name for c in self.ref_columns]

    def mismatches(self) -> list[TypeMismatch]:
        """Each referencing column whose type differs from its key column's in a way
        that matters (see `type_mismatch`)."""
        pairs = zip(self.columns, self.ref_columns, strict=True)
        return [m for c, k in pairs if (m := type_mismatch(c, k)) is not None]

    @property
    def constraint_possible(self) -> bool:
        """Could PostgreSQL declare this reference as a foreign key (comparable types)?"""
        return all(m.comparable for m in self.mismatches())


# Integer widths in bytes; a referencing column narrower than its key overflows first.
INTEGER_BYTES = {"int2": 2, "int4": 4, "int8": 8}
# The values each integer type holds: a sequence feeding the column has these bounds at most.
INTEGER_RANGES = {
    "int2": (-(2**15), 2**15 - 1),
    "int4": (-(2**31), 2**31 - 1),
    "int8": (-(2**63), 2**63 - 1),
}
STRING_TYPES = frozenset({"text", "varchar", "bpchar", "name", "citext"})


class TypeMismatch(NamedTuple):
    column: Column
    key: Column
    # narrower: the key outgrows it; padding: char(n) against varchar or text;
    # incomparable: no constraint possible; other
    kind: str
    comparable: bool  # PostgreSQL can compare them with the key's index (a FK is possible)


def type_mismatch(column: Column, key: Column) -> TypeMismatch | None:
    """How a referencing column's type fails its key's, or None when it does not.

    Integers of any width compare with each other through one operator family, and
    so do text and varchar: a foreign key can be declared. A narrower integer stops
    fitting once the key grows past its range. char(n) compares with varchar and text
    only by casting one side (`padding`). Other pairs (uuid and integer, text and uuid)
    have no cross-type equality operator at all."""
    if column.type_name == key.type_name:
        return None
    mine, theirs = INTEGER_BYTES.get(column.type_name), INTEGER_BYTES.get(key.type_name)
    if mine is not None and theirs is not None:
        return TypeMismatch(column, key, "narrower", True) if mine < theirs else None
    if padding_differs(column.type_name, key.type_name):
        return TypeMismatch(column, key, "padding", True)
    if column.type_name in STRING_TYPES and key.type_name in STRING_TYPES:
        return None
    if column.type_category == key.type_category == "N":
        return TypeMismatch(column, key, "other", True)  # integer and numeric compare
    return TypeMismatch(column, key, "incomparable", False)


TEXT_TYPES = frozenset({"text", "varchar", "bpchar"})
# Names of columns that hold a point in time: `created_at`, `sent_time`, `timestamp`.
# `clock` is the reading of a clock (Zabbix's `clock`, `lastclock`, `r_clock`), or a
# logical clock (a counter): like `*_time`, only values in an epoch range confirm it.
TIME_NAME = re.compile(
    r"(^|_)(at|on|time|timestamp|ts|epoch|date|datetime|clock)$|^(timestamp|epoch|time|date)$"
    r"|[a-z0-9](At|On|Time|Timestamp|Ts|Date|Clock)$"
)


def _mentions(predicate: str | None, column: str, test: str) -> bool:
    """Does a deparsed predicate apply `test` to the column (bare or quoted)?"""
    if not predicate:
        return False
    quoted = '"' + column.replace('"', '""') + '"'
    return any(f"{name} {test}" in predicate for name in (column, quoted))


def _is_null_test(key: str | None, column: str) -> bool:
    """Is an expression key, as the server prints it, `(column IS NULL)`?"""
    quoted = '"' + column.replace('"', '""') + '"'
    return key is not None and key.strip("() ") in (f"{column} IS NULL", f"{quoted} IS NULL")


def tested_not_null(predicate: str | None, column: str) -> bool:
    """Does a partial index's predicate exclude NULLs of the column: it tests it with
    anything but `IS NULL` (comparisons are false for NULL, `IS NOT NULL` says so)."""
    if not predicate:
        return False
    quoted = '"' + column.replace('"', '""') + '"'
    pattern = rf"(?<![\w\"])({re.escape(column)}|{re.escape(quoted)})(?![\w\"])"
    uses = [m.end() for m in re.finditer(pattern, predicate)]
    return any(not predicate[end:].lstrip().startswith("IS NULL") for end in uses)


def time_named_integer(column: Column) -> bool:
    """An integer column named like a time: the row scan reads its range."""
    return column.type_name in INTEGER_BYTES and named_like_time(column.name)


# When something runs out, bare (`expire`, `expires`, `expiry`): a PHP session table's
# `expire integer` of epoch seconds (Tiny Tiny RSS's ttrss_sessions), or a lifetime in
# seconds; only values in an epoch range say which
EXPIRY_NAME = re.compile(r"(^|_)(expire|expires|expiry|expiration)$", re.IGNORECASE)


# An event's participle, bare or after a prefix, or `last_` and what was last done
# (Drone CI's `build_created`, `stage_started`, `user_last_login`; PowerDNS's
# `domains.last_check`): a point in time only where its values are epoch ones, as a
# `deleted` flag of 0 and 1 or an `updated` count are not
EVENTS = ("created", "updated", "modified", "deleted", "started", "finished", "stopped",
          "ended", "synced", "pulled", "checked")  # fmt: skip
LAST_EVENTS = ("check", "login", "seen", "sync", "run", "activity", "access", "used")
EVENT_NAME = re.compile(
    rf"(^|_)({'|'.join(EVENTS)}|last_({'|'.join(LAST_EVENTS)}))$"
    rf"|[a-z0-9]({'|'.join(e.capitalize() for e in EVENTS)})$"
)


# The unit a time column's name may end with, after its time word: Dendrite's
# `userapi_notifications.ts_ms`, `token_expires_at_ms`, `keyserver_*.ts_added_secs`.
TIME_UNIT = re.compile(r"_(ms|msec|millis|milliseconds|secs?|seconds|us|usec|micros|ns|nanos)$")
# `ts_` leading a name (`ts_added`), where the values must still say epoch
LEADING_TS = re.compile(r"^ts_[a-z]")


def without_time_unit(name: str) -> str:
    """The name with a unit after its time word left off (`ts_ms` -> `ts`): a unit alone
    (`timeout_ms`, `duration_secs`) says nothing of a point in time."""
    return TIME_UNIT.sub("", name) or name


@cache  # column names repeat across tables
def named_like_time(name: str) -> bool:
    """Is the column named like a point in time (TIME_NAME), an expiry (EXPIRY_NAME) or
    an event (EVENT_NAME), or run together with a time word as an unquoted CamelCase
    name folds (`createat`, `jointime`), a unit after it or not (`ts_ms`), or led by
    `ts_` (`ts_added_secs`)?"""
    name = without_time_unit(name)
    return (
        TIME_NAME.search(name) is not None
        or LEADING_TS.search(name) is not None
        or EXPIRY_NAME.search(name) is not None
        or EVENT_NAME.search(name) is not None
        or joined_time_word(name) is not None
    )


# The uuid no generator hands out (RFC 9562's Nil UUID): a reference column that holds
# it, or takes it as its DEFAULT, uses it for "none" (Kong's ratelimiting_metrics)
NIL_UUID = "00000000-0000-0000-0000-000000000000"

# The table (or schema.table) each migration tool records applied migrations in.
MIGRATION_TABLES = {
    "alembic_version": "Alembic",
    "django_migrations": "Django",
    "schema_migrations": "Rails, golang-migrate, dbmate or Ecto",
    "ar_internal_metadata": "Rails",
    "flyway_schema_history": "Flyway",
    "databasechangelog": "Liquibase",
    # (id integer PRIMARY KEY, locked, lockgranted, lockedby): the one-row lock Liquibase
    # makes beside its history table and holds while it runs a changelog
    "databasechangeloglock": "Liquibase",
    "_prisma_migrations": "Prisma",
    "knex_migrations": "Knex",
    "SequelizeMeta": "Sequelize",
    "goose_db_version": "goose",
    "gorp_migrations": "sql-migrate",
    # sql-migrate under the name Nakama gives it (heroiclabs/nakama@73ad9c1 migrate/
    # migrate.go: SetTable("migration_info")): id text PRIMARY KEY, applied_at
    "migration_info": "sql-migrate (Nakama's name for its table)",
    "__drizzle_migrations": "Drizzle",
    "sqitch.changes": "sqitch",
    "supabase_migrations.schema_migrations": "Supabase",
    "atlas_schema_revisions": "Atlas",
    "mikro_orm_migrations": "MikroORM",
    "__diesel_schema_migrations": "Diesel",
    "_sqlx_migrations": "sqlx",
    "typeorm_migrations": "TypeORM",
    # (name varchar(255) PRIMARY KEY, timestamp varchar(255)) and its one-row lock, made by
    # Kysely's Migrator under its default names, or the names a project gives them
    # (immich-app/immich@6fda863 server/src/repositories/database.repository.ts:
    # kysely_migrations, kysely_migrations_lock)
    "kysely_migration": "Kysely",
    "kysely_migration_lock": "Kysely",
    "kysely_migrations": "Kysely",
    "kysely_migrations_lock": "Kysely",
    "migrations": "a migrations table (Laravel, TypeORM, Supabase storage, ...)",
    "schema_version": "Flyway before 5, or Synapse",
    "db_migrations": "morph (Mattermost)",
    "schema_migration": "pop (Buffalo, Ory)",
    "migration_logs": "Sourcegraph's migrator",
    # (line, version): the versions of the migrations River ships that rivermigrate applied
    "river_migration": "River's migrator",
    # made by the migrator on start (concourse/concourse@95872ce, atc/db/migration/
    # migration.go), keyless: one row per migration run, passed or failed
    "migrations_history": "Concourse's migrator",
    # (mandatory, optional): the versions of the patches its server applied on start
    "dbversion": "Zabbix's server",
    # (ul_key, ul_value): each schema patch update.php applied, by name
    "updatelog": "MediaWiki's updater (update.php)",
    # (edition primary key, version): the last migration applied per edition, made by
    # hashicorp/boundary's schema manager (internal/db/schema/migrations/base) before it
    # runs internal/db/schema/migrations/oss/postgres/<version>/<NN>_<name>.up.sql
    "boundary_schema_version": "Boundary's schema manager",
    # (schema_version integer NOT NULL), one keyless row: the updater (tt-rss/tt-rss@b72ea11
    # classes/Db_Migrations.php) makes it before loading schema.sql, then applies
    # migrations/<n>.sql above the version it holds
    "ttrss_version": "Tiny Tiny RSS's updater (Db_Migrations)",
    # (key, subsystem, last_executed, executed text[], pending text[]): the migrations
    # `kong migrations bootstrap/up` ran, per subsystem (core and each plugin), made by
    # Kong/kong's kong/db/strategies/postgres/connector.lua schema_bootstrap
    "schema_meta": "Kong's migrations (kong migrations)",
    # (id, version, timestamp): one row per schema version, written by Icinga DB's
    # schema.sql and by each schema/pgsql/upgrades/<version>.sql applied in order
    # (Icinga/icingadb@a177eda); the daemon refuses to start on another version
    "icingadb_schema": "Icinga DB's schema upgrades",
}
# Names too plain to count alone: the table must also have these columns
_KYSELY_HISTORY = frozenset({"name", "timestamp"})
_KYSELY_LOCK = frozenset({"id", "is_locked"})
MIGRATION_TABLE_COLUMNS = {
    "schema_meta": frozenset({"subsystem", "executed"}),
    "kysely_migration": _KYSELY_HISTORY,
    "kysely_migrations": _KYSELY_HISTORY,
    "kysely_migration_lock": _KYSELY_LOCK,
    "kysely_migrations_lock": _KYSELY_LOCK,
}
# Authelia's `migrations` (authelia/authelia@2357203, internal/storage/
# sql_provider_schema.go): one row per schema version its binary migrated to on start
AUTHELIA_MIGRATIONS = frozenset({"version_before", "version_after", "application_version"})
AUTHELIA = "Authelia's storage migrator"
# Migrators that apply the migrations their application ships (its operator
# writes none): the fix script says so (report.migration_note). By tool, the product. A
# library's migrator (River's) keeps its own tables only: snapshot/libraries.py.
SHIPPED_MIGRATIONS = {
    AUTHELIA: "Authelia",
    "Zabbix's server": "Zabbix",
    "MediaWiki's updater (update.php)": "MediaWiki",
    "Kong's migrations (kong migrations)": "Kong",
    "Boundary's schema manager": "Boundary",
    "Tiny Tiny RSS's updater (Db_Migrations)": "Tiny Tiny RSS",
    "Icinga DB's schema upgrades": "Icinga DB",
    "Concourse's migrator": "Concourse",
}
# `_backup`, `_bak`, `_old`, `_copy`, `_tmp`/`_temp`, optionally numbered (`_old2`).
BACKUP_SUFFIX = re.compile(r"_(backup|bak|bkp|old|copy|tmp|temp)\d*$", re.IGNORECASE)
# `_20240115`, `_2024_01_15`, `_2024-01-15`, `20240115`: a full date at the end.
DATED_SUFFIX = re.compile(r"_?(19|20)\d\d[_-]?(0[1-9]|1[0-2])[_-]?(0[1-9]|[12]\d|3[01])$")
# The column naming the tenant a row belongs to, a plain value rather than a reference
# (openmeter's `namespace` in every key): it scopes a key, nobody picks it for the row.
TENANT_COLUMN = re.compile(r"^(namespace|tenant)$")
# A column that names another table: `teacher_id`, `teacherId`, `TeacherID`.
REFERENCE_SUFFIX = re.compile(r"^(?P<stem>.+?)(_id|Id|ID)$")
# A key named `<thing>_<x>id` that `_id` does not end: Dendrite's numeric ids,
# `room_nid`, `event_state_key_nid` (see Facts._namesake_reference).
NAMESAKE_KEY = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*_[a-z]{1,2}id$")


ID_ENDINGS = ("_id", "Id", "ID")


def is_id_name(name: str) -> bool:
    """`id`, `teacher_id`, `teacherId`, `TeacherID`, `teacherid`: a name for an id."""
    return name.endswith(ID_ENDINGS) or name.lower().endswith("id")


def misspells_table_key(column: str, key: str, table: str) -> bool:
    """Does the key spell its table's name as written (`teamsId` of `teams`) and the
    column, which names it in another number (`team_id`), not? A reference to it spells
    the key's stem (Dokploy's notification."teamsId"); `team_id` holds other teams' ids
    (better-auth's, beside Dokploy's Microsoft Teams webhooks)."""
    if key in ("id", column):
        return False
    key_match, column_match = REFERENCE_SUFFIX.match(key), REFERENCE_SUFFIX.match(column)
    if key_match is None or column_match is None:
        return False
    key_stem = words(key_match.group("stem"))
    if key_stem != words(table) or table_key(table) == "_".join(key_stem):
        return False  # not named after the table, or the table's name is its singular
    stem = words(column_match.group("stem"))
    return stem[-len(key_stem) :] != key_stem


def id_ending(name: str) -> str | None:
    """How a name ends its id: `_id`, `Id` or `ID`; None for other names."""
    match = REFERENCE_SUFFIX.match(name)
    return match.group(2) if match else None


@cache
def reference_stem(name: str) -> str | None:
    """The table key a column's name points at (`lesson_plan_id` -> `lesson_plan`), or
    None when the name is not of the `<thing>_id` form."""
    match = REFERENCE_SUFFIX.match(name)
    if match is None:
        return None
    key = table_key(match.group("stem"))
    return key or None


def type_columns(columns: list[Column]) -> dict[str, tuple[str, ...]]:
    """The words of those of a table's columns that may be named as a type (`owner_type`,
    `ownerType`, `OWNER_TYPE`, `ownertype`), by name. A name whose last word is `type`
    spells it `type`, `Type` or `TYPE` (any other mix of cases splits into other words),
    so it has `ype` or `YPE`: a test without splitting the name into words, that 300 of
    the 175,000 columns pass at 10k tables."""
    return {c.name: word_tuple(c.name) for c in columns if "ype" in c.name or "YPE" in c.name}


def typed_by_sibling(column: Column, typed: dict[str, tuple[str, ...]]) -> bool:
    """Is there a `<stem>_type` (`<stem>Type`, `<stem>type`) beside this `<stem>_id`
    (`<stem>id`) among its table's `type_columns`?"""
    match = REFERENCE_SUFFIX.match(column.name)
    if match is None:
        return f"{column.name[:-2]}type" in typed
    wanted = (*word_tuple(match.group("stem")), "type")
    return wanted in typed.values()


def table_column_prefix(columns: list[Column]) -> str | None:
    """The word every column of a table begins with, where there is one (MediaWiki
    names `revision`'s columns `rev_*`, `recentchanges`' `rc_*`): at least three
    columns, each `<prefix>_<more>`. None for tables named otherwise."""
    if len(columns) < 3:
        return None
    head = None
    for column in columns:  # most tables fail at their first or second column (`id`)
        if "_" not in column.name.strip("_"):
            return None
        if head is None:
            head = column.name.split("_", 1)[0]
        elif not column.name.startswith(head + "_"):
            return None
    return head


# `userid`, `channelmemberid`: an unquoted `UserId` as PostgreSQL folds it. Three
# letters at least before `id`, so that `paid` and `uuid` are not read as references.
JOINED_REFERENCE = re.compile(r"^(?P<stem>[a-z][a-z0-9]{2,})id$")


@cache
def joined_reference_stem(name: str) -> str | None:
    """The table key of a lower-case name run together with `id` (`channelid` ->
    `channel`); only a table of that name makes it a reference, and only with the key's
    type (see Facts.inferred_references)."""
    match = JOINED_REFERENCE.match(name)
    return table_key(match.group("stem")) or None if match else None


# `createat`, `lastpostat`, `jointime`, `lastpictureupdate`: an unquoted `CreateAt` as
# PostgreSQL folds it, no boundary left between the words (Mattermost names hundreds
# of epoch columns so).
JOINED_TIME = re.compile(r"^(?P<stem>[a-z][a-z0-9]{2,})(?P<word>at|time|date|clock)$")
# What a run-together `<event>at` records, besides participles (`updatedat`): base
# forms (`createat`, `expiresat`), irregular participles and the nouns of events
# (`lastactivityat`). A closed list, because the words that merely end in "at" are
# many and end in words too (`format`, `combat`, `habitat`, `heartbeat`).
TIME_EVENTS = (
    "accept", "access", "acknowledge", "activity", "approve", "archive", "assign", "begin",
    "cancel", "change", "check", "claim", "close", "complete", "confirm", "create",
    "delete", "deliver", "deploy", "dismiss", "due", "edit", "end", "expire", "export",
    "fail", "fetch", "finish", "import", "insert", "invite", "issue", "join", "lock",
    "login", "logout", "modify", "notify", "open", "pause", "ping", "post", "process",
    "publish", "read", "receive", "register", "reject", "release", "remove", "reply",
    "resolve", "restore", "resume", "revoke", "run", "save", "schedule", "seen", "send",
    "sent", "start", "stop", "submit", "sync", "trigger", "unlock", "update", "upload",
    "verify", "view", "visit",
)  # fmt: skip


@cache
def joined_time_word(name: str) -> str | None:
    """The time word a lower-case name run together ends in: "at" after an event, a
    participle (`updatedat`) or a listed one (`createat`, `expiresat`, `lastpostat`), and
    "time", "date" or "clock" after anything (`jointime`, `lastpictureupdate`,
    `lastclock`), which, like `*_time` and `*_date`, only values in an epoch range
    confirm (`runtime` is a duration, `candidate` no time at all). None for other names,
    and for words that merely end in "at" (`format`, `heartbeat`, `habitat`)."""
    match = JOINED_TIME.match(name)
    if match is None:
        return None
    stem, word = match.group("stem"), match.group("word")
    if word != "at":
        return word
    participle = len(stem) >= 4 and stem.endswith("ed") and not stem.endswith("eed")
    # `expiresat`, `startsat`: the third person (the stem itself for `processat`)
    events = (stem, stem[:-1]) if stem.endswith("s") else (stem,)
    return word if participle or any(e.endswith(TIME_EVENTS) for e in events) else None


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


# a text type sized for a uuid's text: 32 hex digits, 36 with dashes, 38 with braces
UUID_SIZED = re.compile(r"character(?: varying)?\((3[2-8])\)")
# PostgreSQL's own functions whose answer depends on who calls them, as a finding names
# them (current_user is a keyword up to 15, a function from 16)
CALLER_BUILTINS = {
    "current_user": "current_user",
    "session_user": "session_user",
    "current_setting": "current_setting()",
    "pg_has_role": "pg_has_role()",
}
CALLER_PRIVILEGES = re.compile(r"^has_\w+_privilege$")
# what a function's body reads to tell who calls it: Supabase's JWT claims, a setting the
# application sets per request, the session's role
CALLER_SOURCES = re.compile(
    r"request\.jwt|current_setting\s*\(|\bcurrent_user\b|\bsession_user\b|\bauth\.uid\s*\(",
    re.I,
)


def caller_reference(function: Function) -> str | None:
    """How a call of `function` that tells who the caller is reads in a finding
    (`auth.uid()`, `current_setting()`), or None for one that does not. PostgreSQL's own
    by name; the database's own where it is Supabase's auth.uid() and the like, or its
    body reads the session's settings or user."""
    if function.schema == "pg_catalog":
        if CALLER_PRIVILEGES.match(function.name):
            return f"{function.name}()"
        return CALLER_BUILTINS.get(function.name)
    if function.schema == "auth" and function.name in ("uid", "jwt", "email", "role"):
        return f"{function.schema}.{function.name}()"
    if function.source and CALLER_SOURCES.search(function.source):
        return f"{function.schema}.{function.name}()"
    return None


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


# Columns that mark a row deleted while it stays in the table. `archived_at` is left out:
# archiving often moves data elsewhere (a CI trace to object storage) rather than hiding
# the row from the application.
SOFT_DELETE = re.compile(
    r"^(deleted|is_deleted|deleted_at|deleted_on|deletion_date|removed_at|discarded_at)$"
)


def marks_soft_delete(name: str) -> bool:
    """Is a column so named a flag or a point in time that soft-deletes rows?"""
    return SOFT_DELETE.match(name.lower()) is not None


def soft_deleted_when(marker: Column) -> str | None:
    """How a row reads as deleted: "true" for a flag, "set" for a time or date; None
    for other types, whose meaning cannot be told from the type."""
    if marker.type_name == "bool":
        return "true"
    if marker.type_category == "D":
        return "set"
    return None


def combine_profiles(table_oid: int, parts: list[ColumnProfile]) -> ColumnProfile:
    """One column's profile over several leaves of a partitioned table: counts add up;
    each margin of error combines the leaves' variances of the count."""

    def total(values: Iterable[int | None]) -> int | None:
        known = list(values)
        return None if any(v is None for v in known) else sum(known)  # type: ignore[arg-type]

    def extreme(pick: Callable[..., Any], values: Iterable[int | None]) -> int | None:
        known = [v for v in values if v is not None]
        return pick(known) if known else None

    rows = total(p.rows for p in parts)
    counts = {
        measure: sum(p.counts[measure] for p in parts)
        for measure in parts[0].counts
        if all(measure in p.counts for p in parts)
    }
    margins = {}
    if rows:
        for measure in {m for p in parts for m in p.margins}:
            variance = sum((p.margins.get(measure, 0.0) / 1.96 * (p.rows or 0)) ** 2 for p in parts)
            margins[measure] = round(1.96 * math.sqrt(variance) / rows, 6)
    return ColumnProfile(
        table_oid=table_oid,
        column=parts[0].column,
        empty_strings=total(p.empty_strings for p in parts),
        blank_strings=total(p.blank_strings for p in parts),
        min_value=extreme(min, (p.min_value for p in parts)),
        max_value=extreme(max, (p.max_value for p in parts)),
        sampled=any(p.sampled for p in parts),
        counts=counts,
        rows=rows,
        examined=total(p.examined for p in parts),
        margins=margins,
        placeholders=sorted({value for p in parts for value in p.placeholders}),
        min_length=extreme(min, (p.min_length for p in parts)),
        max_length=extreme(max, (p.max_length for p in parts)),
    )


def distinct_values(column: Column, rows: int) -> int | None:
    """pg_stats' n_distinct as a count: negative values are a fraction of the rows."""
    if column.n_distinct is None:
        return None
    if column.n_distinct >= 0:
        return round(column.n_distinct)
    return round(-column.n_distinct * rows)
