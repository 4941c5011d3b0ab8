"""Deterministic synthetic PostgreSQL schema for benchmarks: N tables, SQL on stdout.

    python bench/synth.py --tables 10000 --seed 1 --schemas 4 > synth.sql
    psql -X -q -v ON_ERROR_STOP=1 -d DB -f synth.sql

The same arguments always give byte-identical output: one random.Random(seed),
no clocks, no iteration over sets. Plain DDL for PostgreSQL 13+, no extensions,
no roles; tables are created in transactions of a few hundred (fast to load,
and few enough locks for a default `max_locks_per_transaction`).

What a schema-health tool should find in it, by construction:
  * 10-25 columns per table: bigint identity or uuid primary keys, `*_id`
    references to earlier tables (a DAG with a few hub tables and some self
    references), text, varchar, timestamptz, jsonb, boolean, numeric, ...
  * foreign keys on most references, the rest "loose" (`*_id` without a
    constraint, sometimes with a mismatched type); some foreign keys without
    a covering index; a few constraints left NOT VALID
  * exact duplicate indexes and redundant leading-prefix indexes
  * tables without a primary key (plus a few `*_backup` copies)
  * CHECK constraints on some status and text columns, UNIQUE on some codes
  * COMMENTs on part of the tables and columns, a few views
  * a sprinkle of other classic flaws: serial keys, timestamp without time
    zone, json instead of jsonb, status columns without a CHECK

`--stats` prints the counts of what was generated to stderr.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import TextIO


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


SCHEMAS = ("public", "app", "billing", "reporting", "identity", "catalog", "ops", "archive")

DOMAINS = words("""account admin api asset audit billing booking campaign cart catalog channel
checkout contract course customer delivery device document employee event export feed
file fleet form fulfillment import inventory invoice lead learning ledger listing loyalty
marketing media message order organization partner payment payroll portal pricing
product project promotion purchase quote referral report reservation return review
sales schedule search shipment shop store subscription supplier support survey tax
team tenant ticket user vendor warehouse workflow""")

# Singular nouns: a table is named domain_<plural>, a reference to it <singular>_id.
NOUNS = words("""action activity address adjustment agent alert allocation answer approval
assignment attachment attempt attribute balance batch bundle category change channel
charge check claim code comment config contact credit currency deposit detail device
discount entry error event exception feature fee field file grant group history holder
import item key label layer level limit line link log mapping match member membership
message metric note notice offer option owner package partner payment period permission
phase plan policy position preference price profile question queue quota rate reason
record refund region reminder request response result review role rule schedule score
segment session setting share shift signal slot source stage state status step summary
tag target task template term territory threshold tier token topic transaction transfer
trigger type unit usage variant version visit vote window zone""")

QUALIFIERS = words("""archive daily draft history hourly legacy monthly pending raw snapshot
staging summary v2 weekly""")

# (column definition, kind); kind drives indexes and comments later.
PAYLOAD = (
    ("title varchar(200)", "text"),
    ("description text", "text"),
    ("notes text", "text"),
    ("email varchar(320)", "email"),
    ("phone varchar(40)", "text"),
    ("code varchar(64) NOT NULL", "text"),
    ("slug text", "text"),
    ("url text", "text"),
    ("status text NOT NULL DEFAULT 'new'", "status"),
    ("kind varchar(32)", "status"),
    ("priority smallint NOT NULL DEFAULT 0", None),
    ("quantity integer NOT NULL DEFAULT 1", None),
    ("position integer", None),
    ("amount numeric(14,2) NOT NULL DEFAULT 0", None),
    ("tax_rate numeric(5,4)", None),
    ("currency char(3) NOT NULL DEFAULT 'EUR'", None),
    ("is_active boolean NOT NULL DEFAULT true", None),
    ("is_archived boolean NOT NULL DEFAULT false", None),
    ("verified boolean", None),
    ("attributes jsonb NOT NULL DEFAULT '{}'::jsonb", "jsonb"),
    ("metadata jsonb", "jsonb"),
    ("settings jsonb", "jsonb"),
    ("external_ref uuid", None),
    ("starts_at timestamptz", "ts"),
    ("ends_at timestamptz", "ts"),
    ("processed_at timestamptz", "ts"),
    ("published_at timestamptz", "ts"),
    ("due_on date", None),
    ("version integer NOT NULL DEFAULT 1", None),
    ("score double precision", None),
    ("source_ip inet", None),
    ("checksum bytea", None),
    ("labels text[] NOT NULL DEFAULT '{}'", None),
)

# Rarer columns that several pgvitals rules look for.
FLAWED = (
    ("legacy_created timestamp", "ts"),
    ("raw_payload json", None),
    ('"createdAt" timestamptz', None),
    ("password varchar(255)", None),
)

TABLES_PER_TRANSACTION = 250


@dataclass
class Table:
    schema: str
    name: str
    singular: str
    noun: str
    key_type: str | None  # "bigint", "uuid", None (no primary key)
    columns: list[str] = field(default_factory=list)
    column_names: set[str] = field(default_factory=set)
    indexable: dict[str, list[str]] = field(default_factory=dict)  # kind -> column names

    @property
    def qualname(self) -> str:
        return f"{self.schema}.{self.name}"

    def add(self, definition: str, kind: str | None = None) -> str:
        name = definition.split()[0].strip('"')
        self.columns.append(definition)
        self.column_names.add(name)
        if kind:
            self.indexable.setdefault(kind, []).append(name)
        return name


def plural(noun: str) -> str:
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    return noun + "s"


class Generator:
    def __init__(self, tables: int, seed: int, schemas: int) -> None:
        self.target = tables
        self.random = random.Random(seed)
        self.schemas = SCHEMAS[: max(1, min(schemas, len(SCHEMAS)))]
        self.tables: list[Table] = []
        self.used_names: set[str] = set()
        self.index_number = 0
        self.stats: Counter[str] = Counter()

    # -- naming ---------------------------------------------------------------

    def new_table(self) -> Table:
        rnd = self.random
        for _ in range(20):
            domain, noun = rnd.choice(DOMAINS), rnd.choice(NOUNS)
            name, singular = f"{domain}_{plural(noun)}", f"{domain}_{noun}"
            if rnd.random() < 0.25:
                qualifier = rnd.choice(QUALIFIERS)
                name, singular = f"{name}_{qualifier}", f"{singular}_{qualifier}"
            if name not in self.used_names:
                break
        else:  # the vocabulary is exhausted (very large N): number the names
            number = 2
            while f"{name}_{number}" in self.used_names:
                number += 1
            name, singular = f"{name}_{number}", f"{singular}_{number}"
        self.used_names.add(name)
        schema = self.schemas[0] if rnd.random() < 0.4 else rnd.choice(self.schemas)
        roll = rnd.random()
        key_type = None if roll < 0.03 else "uuid" if roll < 0.18 else "bigint"
        return Table(schema, name, singular, noun, key_type)

    def index_name(self, table: Table, columns: str) -> str:
        self.index_number += 1
        stem = f"{table.name}_{columns.replace(', ', '_')}"
        return f"{stem[:50]}_idx{self.index_number}"

    # -- one table ------------------------------------------------------------

    def build(self, table: Table) -> list[str]:
        """CREATE TABLE plus its indexes, comments and view, in statement order."""
        rnd = self.random
        after: list[str] = []  # statements that follow the CREATE TABLE
        if table.key_type == "uuid":
            table.add("id uuid PRIMARY KEY DEFAULT gen_random_uuid()")
        elif table.key_type == "bigint":
            if rnd.random() < 0.05:
                table.add("id bigserial PRIMARY KEY")
                self.stats["serial_keys"] += 1
            else:
                identity = "ALWAYS" if rnd.random() < 0.3 else "BY DEFAULT"
                table.add(f"id bigint GENERATED {identity} AS IDENTITY PRIMARY KEY")
        else:
            table.add("id bigint NOT NULL")
            self.stats["tables_without_pk"] += 1

        references = self.add_references(table, after)
        self.add_payload(table)
        self.add_indexes(table, references, after)
        self.add_comments(table, after)
        if rnd.random() < 0.01:
            where = " WHERE deleted_at IS NULL" if "deleted_at" in table.column_names else ""
            after.append(
                f"CREATE VIEW {table.schema}.{table.name[:50]}_view AS"
                f" SELECT id, created_at, updated_at FROM {table.qualname}{where};"
            )
            self.stats["views"] += 1
        self.stats["columns"] += len(table.columns)
        body = ",\n    ".join(table.columns)
        return [f"CREATE TABLE {table.qualname} (\n    {body}\n);", *after]

    def pick_parent(self) -> Table:
        rnd, earlier = self.random, self.tables
        if rnd.random() < 0.25:  # a few hubs take a large share of the references
            return earlier[rnd.randrange(min(len(earlier), 30))]
        return earlier[rnd.randrange(max(0, len(earlier) - 300), len(earlier))]

    def add_references(self, table: Table, after: list[str]) -> list[tuple[str, bool]]:
        """`*_id` columns; returns (column, has a foreign key) for the index step."""
        rnd = self.random
        references: list[tuple[str, bool]] = []
        count = rnd.choice((0, 1, 1, 2, 2, 2, 3, 3, 4, 5)) if self.tables else 0
        targets = [self.pick_parent() for _ in range(count)]
        if self.tables and table.key_type and rnd.random() < 0.04:
            targets.append(table)  # a tree: parent_id
        for parent in targets:
            if parent is table:
                column = "parent_id"
            elif rnd.random() < 0.3:
                column = f"{parent.noun}_id"  # short and ambiguous, as in real schemas
            else:
                column = f"{parent.singular}_id"
            if column in table.column_names:
                continue
            key_type = parent.key_type or "bigint"
            not_null = " NOT NULL" if parent is not table and rnd.random() < 0.55 else ""
            constrained = parent.key_type is not None and rnd.random() < 0.65
            if constrained and rnd.random() < 0.03:
                table.add(f"{column} {key_type}{not_null}")
                constraint = f"{table.name[:40]}_fk{len(table.columns)}_not_valid"
                after.append(
                    f"ALTER TABLE {table.qualname} ADD CONSTRAINT {constraint}"
                    f" FOREIGN KEY ({column}) REFERENCES {parent.qualname} (id) NOT VALID;"
                )
                self.stats["fks_not_valid"] += 1
            elif constrained:
                action = rnd.choice(("", "", " ON DELETE CASCADE", " ON DELETE RESTRICT"))
                if not not_null and rnd.random() < 0.3:
                    action = " ON DELETE SET NULL"
                table.add(
                    f"{column} {key_type}{not_null} REFERENCES {parent.qualname} (id){action}"
                )
            else:
                if key_type == "bigint" and rnd.random() < 0.05:
                    key_type = "integer"  # a loose reference whose type does not match
                    self.stats["mismatched_loose_refs"] += 1
                table.add(f"{column} {key_type}{not_null}")
                self.stats["loose_refs"] += 1
            self.stats["fks"] += constrained
            references.append((column, constrained))
        return references

    def add_payload(self, table: Table) -> None:
        rnd = self.random
        soft_delete = table.key_type is None or rnd.random() < 0.12
        flaw = rnd.choice(FLAWED) if rnd.random() < 0.04 else None
        # created_at and updated_at always, deleted_at and a flawed column sometimes
        fixed = 2 + soft_delete + (flaw is not None)
        wanted = rnd.randint(10, 25) - len(table.columns) - fixed
        for definition, kind in rnd.sample(PAYLOAD, max(0, min(wanted, len(PAYLOAD)))):
            table.add(definition + self.column_constraint(definition, kind), kind)
        if flaw:
            table.add(*flaw)
            self.stats["flawed_columns"] += 1
        table.add("created_at timestamptz NOT NULL DEFAULT now()", "ts")
        table.add("updated_at timestamptz NOT NULL DEFAULT now()")
        if soft_delete:
            table.add("deleted_at timestamptz")

    def column_constraint(self, definition: str, kind: str | None) -> str:
        """CHECKs on some status and text columns (others stay unchecked), UNIQUE codes."""
        rnd, name = self.random, definition.split()[0]
        if kind == "status" and rnd.random() < 0.5:
            self.stats["checks"] += 1
            return f" CHECK ({name} IN ('new', 'active', 'suspended', 'closed'))"
        if name == "code" and rnd.random() < 0.4:
            self.stats["unique_constraints"] += 1
            self.stats["indexes"] += 1
            return " UNIQUE"
        if kind == "text" and " text" in definition and rnd.random() < 0.25:
            self.stats["checks"] += 1
            return f" CHECK (char_length({name}) <= {rnd.choice((255, 1024, 10000))})"
        return ""

    def add_indexes(
        self, table: Table, references: list[tuple[str, bool]], after: list[str]
    ) -> None:
        rnd = self.random
        made: list[str] = []

        def create(columns: str, using: str = "", unique: bool = False, where: str = "") -> None:
            name = self.index_name(table, columns.split("(")[-1].rstrip(")"))
            head = "CREATE UNIQUE INDEX" if unique else "CREATE INDEX"
            after.append(f"{head} {name} ON {table.qualname}{using} ({columns}){where};")
            made.append(columns)
            self.stats["indexes"] += 1

        for column, constrained in references:
            if rnd.random() < (0.75 if constrained else 0.4):
                if rnd.random() < 0.2:
                    create(f"{column}, created_at")
                    if rnd.random() < 0.35:  # the composite makes this one redundant
                        create(column)
                        self.stats["redundant_prefix_indexes"] += 1
                else:
                    create(column)
            elif constrained:
                self.stats["unindexed_fks"] += 1
        kinds = table.indexable
        if "email" in kinds and rnd.random() < 0.6:
            create("lower(email)", unique=rnd.random() < 0.5)
        if "status" in kinds and rnd.random() < 0.4:
            create(f"{kinds['status'][0]}, created_at")
        if "jsonb" in kinds and rnd.random() < 0.3:
            create(kinds["jsonb"][0], using=" USING gin")
        if rnd.random() < 0.3:
            create(rnd.choice(kinds["ts"]))
        if "deleted_at" in table.column_names and table.key_type and rnd.random() < 0.5:
            create("id", where=" WHERE deleted_at IS NULL")
        if made and rnd.random() < 0.04:
            create(made[0])
            self.stats["duplicate_indexes"] += 1
        self.stats["indexes"] += table.key_type is not None  # the primary key's

    def add_comments(self, table: Table, after: list[str]) -> None:
        rnd = self.random
        if rnd.random() < 0.3:
            words = table.name.replace("_", " ")
            marker = (
                " pgvitals:ignore missing-primary-key legacy import"
                if (table.key_type is None and rnd.random() < 0.2)
                else ""
            )
            after.append(f"COMMENT ON TABLE {table.qualname} IS 'Holds {words}.{marker}';")
            self.stats["table_comments"] += 1
            if rnd.random() < 0.3:
                column = rnd.choice(sorted(table.column_names))
                quoted = f'"{column}"' if column != column.lower() else column
                after.append(
                    f"COMMENT ON COLUMN {table.qualname}.{quoted} IS 'The {column} of it.';"
                )
                self.stats["column_comments"] += 1

    def backup_copy(self, original: Table) -> list[str]:
        """`CREATE TABLE x_backup (LIKE x)`: same columns, no keys, no indexes."""
        name = f"{original.name[:55]}_backup"
        if name in self.used_names:
            return []
        self.used_names.add(name)
        copy = Table(original.schema, name, f"{original.singular}_backup", original.noun, None)
        self.tables.append(copy)
        self.stats["backup_tables"] += 1
        self.stats["tables_without_pk"] += 1
        self.stats["columns"] += len(original.columns)
        return [f"CREATE TABLE {copy.qualname} (LIKE {original.qualname});"]

    # -- the whole schema -----------------------------------------------------

    def write(self, out: TextIO) -> None:
        header = [
            f"-- pgvitals bench/synth.py: tables={self.target} schemas={len(self.schemas)}",
            "SET client_min_messages = warning;",
            *(f"CREATE SCHEMA {schema};" for schema in self.schemas if schema != "public"),
        ]
        out.write("\n".join(header) + "\n")
        batch: list[str] = []
        in_batch = 0
        while len(self.tables) < self.target:
            table = self.new_table()
            batch.extend(self.build(table))
            self.tables.append(table)
            in_batch += 1
            if len(self.tables) < self.target and self.random.random() < 0.005:
                batch.extend(self.backup_copy(table))
            if in_batch >= TABLES_PER_TRANSACTION or len(self.tables) >= self.target:
                out.write("BEGIN;\n" + "\n".join(batch) + "\nCOMMIT;\n")
                batch, in_batch = [], 0
        self.stats["tables"] = len(self.tables)
        # Statistics as on a live database: reltuples 0 instead of -1 (never analyzed).
        out.write("ANALYZE;\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=10_000, help="number of tables")
    parser.add_argument("--seed", type=int, default=1, help="random seed (same seed, same SQL)")
    parser.add_argument("--schemas", type=int, default=4, help=f"1-{len(SCHEMAS)} schemas")
    parser.add_argument("--stats", action="store_true", help="print object counts to stderr")
    args = parser.parse_args()
    generator = Generator(args.tables, args.seed, args.schemas)
    generator.write(sys.stdout)
    if args.stats:
        counts = " ".join(f"{key}={value}" for key, value in sorted(generator.stats.items()))
        print(counts, file=sys.stderr)


if __name__ == "__main__":
    main()
