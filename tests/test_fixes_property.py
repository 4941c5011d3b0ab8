"""Property: for any schema, fix.sql and rollback.sql run without a failing statement,
and after both the schema is what it was (`pg_dump --schema-only` compared).

Schemas are generated with hostile names (quotes, spaces, upper case, unicode,
reserved words, names ending in _idx or _pkey, names near 63 bytes, names that the
fixes would generate) and random shapes: partitions and sub-partitions, expression,
partial, descending, covering and duplicate indexes, prefixes of other indexes,
single- and multi-column foreign keys, tables with and without keys, keys as
constraints or as bare unique indexes, comments. One database per example."""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass, field

import psycopg
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from psycopg import sql

from pgvitals.findings import Finding
from tests.test_fixes import round_trip

# Names the fixes generate or that PostgreSQL reserves, and the other usual suspects.
TABLE_NAMES = [
    "t",
    "t_a",
    "coll2",
    "coll2_pkey",
    "t_pkey",
    "t_a_b_idx",
    "Mixed Case",
    'Weird"Name',
    "select",
    "user",
    "ñame",
    "名前",
    "UPPER",
    "line\nbreak",
    "fkc",
    "x" * 59 + "é",  # 61 bytes
    "ñ" * 31,  # 62 bytes
]
COLUMN_NAMES = ["a_b", "b", "p", "id", "select", "Mixed Col", 'q"uote', "ñ", "v", "é" * 30]
INDEX_NAMES = [
    "fkc_p_idx",
    "t_a_b_idx",
    "t_id_idx",
    "t_pkey",
    "coll2_pkey",
    "idx",
    "Index Name",
    "ä_idx",
    "i" * 62 + "x",
]
SCHEMAS = ["public", "Other Schema"]


@dataclass
class Table:
    schema: str
    name: str
    columns: list[tuple[str, str, bool]]  # name, type, NOT NULL; the first two are int
    key: str  # pk, unique, unique_index, unique_desc, none
    key_width: int
    partitions: int  # 0: a plain table; else 1 or 2 partitions, the second maybe split
    subpartitioned: bool
    leaves: list[sql.Identifier] = field(default_factory=list)  # filled by create_table

    @property
    def ref(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    @property
    def key_columns(self) -> list[str]:
        return [name for name, _, _ in self.columns[: self.key_width]]


def render(statement: sql.Composable) -> str:
    return statement.as_string(None)


def names(columns: list[str]) -> sql.Composable:
    return sql.SQL(", ").join(map(sql.Identifier, columns))


@st.composite
def tables(draw: st.DrawFn) -> list[Table]:
    count = draw(st.integers(1, 4))
    chosen = draw(
        st.lists(
            st.tuples(st.sampled_from(SCHEMAS), st.sampled_from(TABLE_NAMES)),
            min_size=count,
            max_size=count,
            unique=True,
        )
    )
    result = []
    for schema, name in chosen:
        columns = draw(st.lists(st.sampled_from(COLUMN_NAMES), min_size=2, max_size=4, unique=True))
        partitions = draw(st.sampled_from([0, 0, 1, 2, 2]))
        key = draw(st.sampled_from(["pk", "unique", "unique_index", "unique_desc", "none", "none"]))
        key_not_null = key == "pk" or draw(st.integers(0, 3)) > 0
        typed = [
            (
                column,
                "int" if position < 2 or draw(st.booleans()) else "text",
                (position == 0 and partitions > 0) or (position < 2 and key_not_null),
            )
            for position, column in enumerate(columns)
        ]
        width = draw(st.integers(1, 2))
        split = partitions == 2 and draw(st.booleans())
        result.append(Table(schema, name, typed, key, width, partitions, split))
    return result


def create_table(table: Table, number: itertools.count) -> list[str]:
    """The table and its partitions (range on the first column; the second partition
    maybe split again)."""
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}{}").format(
            sql.Identifier(name), sql.SQL(kind), sql.SQL(" NOT NULL" if not_null else "")
        )
        for name, kind, not_null in table.columns
    )
    first = sql.Identifier(table.columns[0][0])
    by = sql.SQL(" PARTITION BY RANGE ({})").format(first)
    statements = [
        render(
            sql.SQL("CREATE TABLE {} ({}){}").format(
                table.ref, columns, by if table.partitions else sql.SQL("")
            )
        )
    ]
    partition_of = sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({}){}")
    for position, (low, high) in enumerate([(0, 10), (10, 20)][: table.partitions]):
        partition = sql.Identifier(table.schema, f"{table.name[:20]} p{next(number)}")
        split = position == 1 and table.subpartitioned
        statements.append(
            render(
                partition_of.format(
                    partition,
                    table.ref,
                    sql.Literal(low),
                    sql.Literal(high),
                    by if split else sql.SQL(""),
                )
            )
        )
        if not split:
            table.leaves.append(partition)
            continue
        for sub_low, sub_high in ((low, low + 5), (low + 5, high)):
            leaf = sql.Identifier(table.schema, f"{table.name[:20]} s{next(number)}")
            table.leaves.append(leaf)
            statements.append(
                render(
                    partition_of.format(
                        leaf, partition, sql.Literal(sub_low), sql.Literal(sub_high), sql.SQL("")
                    )
                )
            )
    return statements


@st.composite
def schemas(draw: st.DrawFn) -> list[str]:
    """DDL statements, ordered so that PostgreSQL's automatic names (of partitions'
    indexes, made by an index or key on their parent) avoid the explicit ones."""
    drawn = draw(tables())
    number = itertools.count(1)
    early: list[str] = [
        render(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        for schema in SCHEMAS[1:]
    ]
    late: list[str] = []
    foreign_keys: list[str] = []
    for table in drawn:
        early += create_table(table, number)
        into = late if table.partitions else early
        key_name = draw(st.sampled_from([*INDEX_NAMES, f"{table.name}_pkey", f"k{next(number)}"]))
        into.append(key_statement(table.ref, table.key, key_name, table.key_columns))
        if table.key != "pk" and draw(st.integers(0, 3)) == 0:
            # the same key again under another name: one of the two is a duplicate
            again = f"{key_name[:50]} again"
            into.append(key_statement(table.ref, table.key, again, table.key_columns))
        for leaf in table.leaves:
            # a partition's own key or index, which a key or index on the parent may adopt
            kind = draw(st.sampled_from(["pk", "unique", "unique_index", "none", "none"]))
            leaf_key = draw(st.sampled_from([*INDEX_NAMES, f"k{next(number)}"]))
            early.append(key_statement(leaf, kind, leaf_key, table.key_columns))
        previous: list[Shape] = []
        for _ in range(draw(st.integers(0, 3))):
            on_leaf = bool(table.leaves) and draw(st.booleans())
            target = draw(st.sampled_from(table.leaves)) if on_leaf else table.ref
            statement = draw(index_on(table, target, previous, number))
            # an index on the parent names its partitions' indexes itself: created late
            (late if table.partitions and not on_leaf else early).append(statement)
        for _ in range(draw(st.integers(0, 2))):
            referenced = draw(st.sampled_from(drawn))
            if referenced.key not in ("pk", "unique", "unique_index"):
                continue
            ints = [name for name, kind, _ in table.columns if kind == "int"]
            referencing = draw(
                st.permutations(ints).map(lambda order, width=referenced.key_width: order[:width])
            )
            foreign_keys.append(
                render(
                    sql.SQL("ALTER TABLE {} ADD FOREIGN KEY ({}) REFERENCES {} ({})").format(
                        table.ref,
                        names(referencing),
                        referenced.ref,
                        names(referenced.key_columns),
                    )
                )
            )
    return early + late + foreign_keys


def key_statement(table: sql.Identifier, kind: str, name: str, columns: list[str]) -> str:
    if kind in ("pk", "unique"):
        return render(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {} ({})").format(
                table,
                sql.Identifier(name),
                sql.SQL("PRIMARY KEY" if kind == "pk" else "UNIQUE"),
                names(columns),
            )
        )
    if kind in ("unique_index", "unique_desc"):
        order = " DESC" if kind == "unique_desc" else ""
        return render(
            sql.SQL("CREATE UNIQUE INDEX {} ON {} ({}{})").format(
                sql.Identifier(name), table, names(columns), sql.SQL(order)
            )
        )
    return "SELECT 'no key'"


# An index's table and definition after its name: (target, "(keys) tail").
Shape = tuple[sql.Identifier, sql.Composable]


@st.composite
def index_on(
    draw: st.DrawFn,
    table: Table,
    target: sql.Identifier,
    previous: list[Shape],
    number: itertools.count,
) -> str:
    """An index on the table (or one of its partitions): of some shape, or a copy of an
    earlier one under another name; maybe with a comment."""
    columns = [name for name, _, _ in table.columns]
    texts = [name for name, kind, _ in table.columns if kind == "text"]
    # mostly the integer columns, which foreign keys use
    pool = st.sampled_from(columns[:2]) if draw(st.booleans()) else st.sampled_from(columns)
    chosen = draw(st.lists(pool, min_size=1, max_size=2, unique=True))
    shape = draw(st.sampled_from(["plain", "plain", "desc", "expression", "partial", "include"]))
    keys: sql.Composable = names(chosen)
    if shape == "desc":
        keys = sql.SQL("{} DESC").format(keys)
    elif shape == "expression":
        keys = (
            sql.SQL("lower({})").format(sql.Identifier(texts[0]))
            if texts
            else sql.SQL("({} + 1)").format(sql.Identifier(columns[0]))
        )
    tail = {
        "partial": sql.SQL(" WHERE {} IS NOT NULL").format(sql.Identifier(columns[-1])),
        "include": sql.SQL(" INCLUDE ({})").format(sql.Identifier(columns[-1])),
    }.get(shape, sql.SQL(""))
    definition: Shape = (target, sql.SQL("({}){}").format(keys, tail))
    same_table = [earlier for earlier in previous if earlier[0] == target]
    if same_table and draw(st.booleans()):
        definition = draw(st.sampled_from(same_table))  # a duplicate under another name
    previous.append(definition)
    generated = "_".join([table.name, *chosen, "idx"])  # the name a fix would want
    name = draw(st.sampled_from([*INDEX_NAMES, generated, f"i{next(number)}"]))
    statement = render(
        sql.SQL("CREATE INDEX {} ON {} {}").format(sql.Identifier(name), *definition)
    )
    if draw(st.integers(0, 3)) == 0:
        comment = draw(st.sampled_from(["it's", "back\\slash", "ünï", "multi\nline"]))
        statement += ";" + render(
            sql.SQL("COMMENT ON INDEX {} IS {}").format(
                sql.Identifier(table.schema, name), sql.Literal(comment)
            )
        )
    return statement


def load(dsn: str, statements: list[str]) -> int:
    """Run the DDL; a statement PostgreSQL refuses (a name taken twice, a foreign key
    onto a nullable key) is left out: the property holds for whatever schema results.
    Returns how many ran."""
    ran = 0
    with psycopg.connect(dsn, autocommit=True) as connection:
        for statement in statements:
            try:
                connection.execute(statement)
                ran += 1
            except psycopg.Error as error:
                event(f"left out: {type(error).__name__}")
                note(f"left out: {statement}: {error}")
    return ran


def fix_shape(finding: Finding) -> str:
    """What kind of fix a finding got, names left out (for --hypothesis-show-statistics)."""
    if finding.fix is None:
        return f"{finding.rule}: no fix"
    heads = " | ".join(statement.split(" (")[0] for statement in finding.fix.statements)
    return f"{finding.rule}: " + re.sub(r'("(?:[^"]|"")*"\.?)+', "N", heads)


_databases = itertools.count()


@settings(
    # PGVITALS_PROPERTY_EXAMPLES=500 for a deeper, random run
    max_examples=int(os.environ.get("PGVITALS_PROPERTY_EXAMPLES", "25")),
    derandomize="PGVITALS_PROPERTY_EXAMPLES" not in os.environ,  # the suite repeats itself
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(statements=schemas())
def test_fix_then_rollback_restores_any_schema(server, statements: list[str]) -> None:
    name = f"property_{next(_databases)}"
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        note("\n".join(statements))
        assert load(server.dsn(name), statements) > 0
        trip = round_trip(server, name)
        for finding in trip.findings:
            event(fix_shape(finding))
        note(trip.scripts.fix)
        note(trip.scripts.rollback)
        assert trip.fix.failures == []
        assert trip.rollback.failures == []
        assert trip.after == trip.before
    finally:
        with psycopg.connect(server.dsn(), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
