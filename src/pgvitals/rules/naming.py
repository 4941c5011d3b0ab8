"""Documentation and naming rules: comments, consistent names, names that need quotes,
and the trace a migration tool leaves."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache

from pgvitals.findings import Located
from pgvitals.rules._api import (
    LOW,
    NAMING,
    Draft,
    NoOptions,
    finding,
    option,
    rule,
)
from pgvitals.snapshot.facts import MIGRATION_TABLES
from pgvitals.snapshot.model import Column, Constraint, Index, Schema, Snapshot, Table
from pgvitals.snapshot.words import number, singular, words


def named_tables(snap: Snapshot) -> Iterator[Table]:
    """Tables someone named: not partitions (named after their parent by a job), not
    backup copies (named after their original), not a migration tool's own tables, not
    a library's (River's river_job: its migrator names them)."""
    facts = snap.facts
    for table in snap.tables:
        if (
            not table.is_partition
            and table.oid not in facts.backup_tables
            and table.oid not in facts.migration_tables
            and table.oid not in facts.libraries.tables
        ):
            yield table


def schemas_by_name(snap: Snapshot) -> dict[str, Schema]:
    return {s.name: s for s in snap.schemas}


# --- missing-comments -----------------------------------------------------------------


@dataclass(frozen=True)
class CommentOptions:
    min_table_coverage: float = option(0.8, "share of a schema's tables that should be commented")
    listed: int = option(20, "uncommented tables named in the evidence")


@rule(
    "missing-comments",
    category=NAMING,
    severity=LOW,
    title="Schema's tables are mostly undocumented",
    options=CommentOptions,
)
def missing_comments(snap: Snapshot, opts: CommentOptions) -> Iterator[Draft]:
    """Fewer than `min_table_coverage` of a schema's tables have a COMMENT.

    One finding per schema, with its coverage: tables (partitions, migration tools'
    history tables and a library's own tables, such as River's, aside) and columns
    commented, whether the schema itself is, and the tables without a comment.

    ## Why it breaks
    What a table holds, what a status value means, which unit a number is in: the
    schema says none of it, so every new developer, analyst and tool (BI, data catalogs,
    generated API docs, this report's purpose hints) guesses, and guesses differently.
    COMMENT ON keeps the answer beside the object, in every dump and every client.

    ## Fix
    `COMMENT ON TABLE ... IS '...'` (and `COMMENT ON COLUMN` for the columns whose
    meaning is not obvious), in the migration that creates the object. pgvitals cannot
    write the text.
    """
    tables_by_schema: dict[str, list[Table]] = defaultdict(list)
    for table in snap.tables:
        # a migration tool's history table is the tool's (Drizzle's schema `drizzle`
        # holds only __drizzle_migrations), a library's tables are the library's (River's
        # river_job): nobody here documents them
        if (
            table.is_regular
            and not table.is_partition
            and table.oid not in snap.facts.migration_tables
            and table.oid not in snap.facts.libraries.tables
        ):
            tables_by_schema[table.schema].append(table)
    schemas = schemas_by_name(snap)
    for name, tables in sorted(tables_by_schema.items()):
        if name not in schemas:
            continue
        commented = [t for t in tables if t.comment]
        coverage = len(commented) / len(tables)
        if coverage >= opts.min_table_coverage:
            continue
        columns = [c for t in tables for c in snap.columns_by_table.get(t.oid, [])]
        documented = [c for c in columns if c.comment]
        missing = sorted(t.name for t in tables if not t.comment)
        yield finding(
            schemas[name],
            f"{len(commented)} of {len(tables)} tables and {len(documented)} of"
            f" {len(columns)} columns have a comment",
            evidence={
                "tables": len(tables),
                "tables_commented": len(commented),
                "columns": len(columns),
                "columns_commented": len(documented),
                "schema_commented": bool(schemas[name].comment),
                "uncommented_tables": missing[: opts.listed],
            },
        )


# --- naming-singular-plural-mix -------------------------------------------------------


@dataclass(frozen=True)
class NumberOptions:
    max_minority: float = option(
        1 / 3, "largest share the less used form may have to be reported table by table"
    )
    # A convention needs names enough to show one: below 6 the more used form has at
    # most 4 names and each table moves the shares by a fifth or more, so "3 plural, 1
    # singular" says little. From 6 the majority is 4 names or more.
    min_tables: int = option(
        6, "tables named in the singular or plural a schema needs before a mix is reported"
    )


@rule(
    "naming-singular-plural-mix",
    category=NAMING,
    severity=LOW,
    title="Table names mix singular and plural",
    options=NumberOptions,
)
def naming_singular_plural_mix(snap: Snapshot, opts: NumberOptions) -> Iterator[Draft]:
    """A schema names most tables in the plural (`teachers`) and some in the singular
    (`teacher_profile`), or the other way round.

    The last word of each name decides, through an English inflection library; words
    that are the same in both forms (`series`, `news`, `emoji`) or have no plural in use
    (`feedback`, `progress`, `data`, `metadata`, also at the end of a name run together:
    `fileinfo`), names of software that end in s (`postgres`, `redis`: Dokploy's tables
    of the services it deploys) and participles (`uploads_processed`) do not count, nor
    do a singular word after a plural one, which is the name's head while the words
    after it qualify it (GitLab's `web_hook_logs_daily`, `cluster_providers_gcp`,
    `project_authorizations_for_migration`: plural tables), nor do
    partitions, backup copies and migration tools' tables. The tables in the less used
    form are reported one by one when they are at most `max_minority` of the schema's,
    except a plural whose singular is a reserved keyword of the server's SQL (Nakama's
    `users` and `groups` among singular names: `user` and `group` would need quoting in
    every query, so the plural is the usual way out);
    otherwise the schema is reported once: it follows no convention. A schema with
    fewer than `min_tables` such names is not judged: a handful of names is too little
    to call one form a convention.

    ## Why it breaks
    Nothing fails in the database; people and code do. Every query writer has to
    remember which form each table uses, ORMs that derive table names from class names
    (`Teacher` -> `teachers`) need an override per exception, and `teacher` beside
    `teachers` reads like two different things.

    ## Fix
    `ALTER TABLE ... RENAME TO ...` to the schema's convention, together with every
    query, view and function that names the table (a view can keep the old name while
    code moves). pgvitals offers no SQL: the rename breaks every caller at once.
    """
    by_schema: dict[str, dict[str, list[Table]]] = defaultdict(lambda: defaultdict(list))
    # judged once per word in this run: the same words end name after name
    told = cache(number_told)
    for table in named_tables(snap):
        if not table.is_regular:
            continue
        name_words = words(table.name)
        last = name_words[-1] if name_words else ""
        form = told(last)
        if form == "singular" and plural_head(name_words[:-1], told):
            form = None  # `web_hook_logs_daily`: the plural is the head, `daily` a modifier
        if form is not None:
            by_schema[table.schema][form].append(table)
    schemas = schemas_by_name(snap)
    for schema, forms in sorted(by_schema.items()):
        plural, singular = forms.get("plural", []), forms.get("singular", [])
        if not plural or not singular or len(plural) + len(singular) < opts.min_tables:
            continue
        convention, minority = (
            ("plural", singular)
            if len(plural) >= len(singular)
            else (
                "singular",
                plural,
            )
        )
        evidence: dict[str, object] = {
            "plural_tables": len(plural),
            "singular_tables": len(singular),
        }
        if len(minority) > opts.max_minority * (len(plural) + len(singular)):
            if schema in schemas:
                yield finding(
                    schemas[schema],
                    f"{len(plural)} table names are plural and {len(singular)} singular:"
                    " no convention",
                    evidence={
                        **evidence,
                        "plural": sorted(t.name for t in plural)[:20],
                        "singular": sorted(t.name for t in singular)[:20],
                    },
                )
            continue
        other = "singular" if convention == "plural" else "plural"
        if convention == "singular":
            reserved = {k.word for k in snap.keywords}
            minority = [t for t in minority if not plural_of_reserved(t.name, reserved)]
        for table in sorted(minority, key=lambda t: t.name):
            yield finding(
                table,
                f"{other.capitalize()} name in a schema that names tables in the {convention}"
                f" ({max(len(plural), len(singular))} of {len(plural) + len(singular)})",
                evidence={**evidence, "convention": convention},
            )


def plural_of_reserved(name: str, reserved: set[str]) -> bool:
    """Is the name one plural word whose singular the server reserves (`users`,
    `groups`, `orders`): the singular convention cannot name that table unquoted."""
    name_words = words(name)
    return len(name_words) == 1 and singular(name_words[0]) in reserved


def plural_head(head: list[str], told: Callable[[str], str | None] | None = None) -> bool:
    """Is a word before a name's last one plural (`logs` of `web_hook_logs_daily`)? Then
    it is the noun the name is of, and the words after it are a modifier (a period, a
    provider, a purpose) whose number says nothing of the table's. `told`: `number_told`,
    or a memo of it."""
    told = told or number_told
    return any(told(word) == "plural" for word in head)


def number_told(word: str) -> str | None:
    """The number the last word of a table's name tells (`number`), None where it
    tells none (`tells_no_number`)."""
    return None if tells_no_number(word) else number(word)


# Nouns with no plural in use, common as table names: inflect would call them singular.
def tells_no_number(word: str) -> bool:
    """Does the last word of a table's name leave its number open: uncountable
    (`feedback`), the same in both forms (`emoji`), a participle (`processed` in
    `references_processed`: the noun before it decides, and is not judged), or a name run
    together in lower case whose tail is uncountable (Mattermost's `fileinfo`)?"""
    if word in UNCOUNTABLE:
        return True
    if len(word) > 4 and word.endswith("ed") and not word.endswith("eed"):
        return True
    return any(word.endswith(tail) and len(word) > len(tail) + 2 for tail in UNCOUNTABLE)


UNCOUNTABLE = frozenset(
    {
        "access",
        "analytics",
        "audit",
        "content",
        "data",
        "emoji",
        "equipment",
        "feedback",
        "history",
        "information",
        "info",
        "inventory",
        "json",  # a format, like data: Dendrite's roomserver_event_json, queue_json
        "knowledge",
        "media",  # plural of medium, used as a mass noun: listmonk's media, campaign_media
        "metadata",
        "presence",  # Dendrite's syncapi_presence: users' online state
        "progress",
        "research",
        "software",
        "staff",
        "storage",
        "traffic",
    }
)


# --- timestamp-naming-mix -------------------------------------------------------------

# The events a row's timestamps usually record, to compare how each schema names them.
EVENTS = frozenset(
    {"created", "updated", "modified", "deleted", "inserted", "changed", "archived", "published"}
)


TIME_WORDS = frozenset({"at", "on", "date", "time", "timestamp", "ts", "datetime", "dt"})


@cache  # column names repeat across tables
def timestamp_style(name: str) -> str | None:
    """How a time column names its event: `created_at` -> `<event>_at`, `createdAt` ->
    `<event>At`, `created` -> `<event>`, `date_created` -> `date_<event>`. None when the
    name records none of EVENTS."""
    parts = words(name)
    events = [p for p in parts if p in EVENTS]
    # only the event and time words: `remember_created_at` records something else
    if len(events) != 1 or any(p not in EVENTS and p not in TIME_WORDS for p in parts):
        return None
    camel = name != name.lower() and "_" not in name and " " not in name
    shape = ["<event>" if p in EVENTS else p for p in parts]
    if camel:
        return shape[0] + "".join(p.capitalize() if p != "<event>" else p for p in shape[1:])
    return "_".join(shape)


@rule(
    "timestamp-naming-mix",
    category=NAMING,
    severity=LOW,
    title="Timestamp columns are named in several styles",
    options=NoOptions,
)
def timestamp_naming_mix(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """A schema names its row timestamps in more than one style: `created_at` in most
    tables, `created` or `createdAt` in others.

    Date and time columns whose name records when a row was created, updated, modified,
    deleted, inserted, changed, archived or published are compared by the shape of the
    name around that word. One finding per schema, with an example of each style.

    ## Why it breaks
    Every query, report and generic tool (an ORM's timestamp handling, a CDC or ETL job
    that picks up "rows changed since") must know each table's spelling; code written for
    `updated_at` silently skips the tables that say `modified`, and a camelCase name must
    be quoted in every query.

    ## Fix
    Pick one style (usually `created_at` / `updated_at`) and rename the others with
    `ALTER TABLE ... RENAME COLUMN`, together with the code that names them.
    """
    styles: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for table in named_tables(snap):
        for column in snap.columns_by_table.get(table.oid, []):
            if column.type_category != "D":
                continue
            style = timestamp_style(column.name)
            if style is not None:
                styles[table.schema][style].append(f"{table.name}.{column.name}")
    schemas = schemas_by_name(snap)
    for schema, used in sorted(styles.items()):
        if len(used) < 2 or schema not in schemas:
            continue
        ranked = sorted(used.items(), key=lambda item: (-len(item[1]), item[0]))
        yield finding(
            schemas[schema],
            "Timestamp columns named "
            + ", ".join(f"{style} ({len(columns)})" for style, columns in ranked),
            evidence={
                "styles": {style: len(columns) for style, columns in ranked},
                "examples": {style: sorted(columns)[:5] for style, columns in ranked},
            },
        )


# --- identifier-needs-quoting and reserved-word-identifier ----------------------------

# What an unquoted identifier may be: folded to lower case, letters (any alphabet),
# digits, `_` and `$`, not starting with a digit or `$`.
PLAIN_IDENTIFIER = re.compile(r"^[^\W\dA-Z$][^\WA-Z]*$|^[^\W\dA-Z$]$")
UPPER_ASCII = re.compile(r"[A-Z]")
# lower-case ASCII snake_case, as most names are: never needs quotes (the tests below agree)
SNAKE_CASE = re.compile(r"[a-z_][a-z0-9_]*")


def needs_quotes(name: str) -> bool:
    """Would the name, written without double quotes, mean something else or not parse?
    Upper-case ASCII is folded to lower case; spaces, punctuation and a leading digit
    do not parse. (Reserved words are `reserved-word-identifier`'s.)"""
    # the quick answer for most names, not cached: each index's and constraint's name is
    # new, and keeping them all would hold 800,000 entries at 100,000 tables
    return SNAKE_CASE.fullmatch(name) is None and unusual_needs_quotes(name)


@cache
def unusual_needs_quotes(name: str) -> bool:
    plain = name.replace("$", "")
    return (
        not name
        or not PLAIN_IDENTIFIER.match(plain)
        or name[0] == "$"
        or UPPER_ASCII.search(name) is not None
    )


def quoted_names(snap: Snapshot) -> dict[int, dict[str, list[str]]]:
    """Per table (by oid): the names of its columns, indexes and constraints that need
    quotes, by kind. One pass over each catalogue, not one lookup per table: most
    tables have none."""
    found: dict[int, dict[str, list[str]]] = defaultdict(dict)
    # column names repeat (175,000 columns, 7,000 names at 10k tables): each is judged once
    quoted = {name for name in snap.facts.column_names if needs_quotes(name)}
    if quoted:
        for column in snap.columns:
            if column.name in quoted:
                found[column.table_oid].setdefault("column", []).append(column.name)
    catalogues: tuple[tuple[str, list[Index] | list[Constraint]], ...] = (
        ("index", snap.indexes),
        ("constraint", snap.constraints),
    )
    for kind, objects in catalogues:
        for item in objects:
            if needs_quotes(item.name):
                found[item.table_oid].setdefault(kind, []).append(item.name)
    return found


def quoted_identifiers(
    table: Table, quoted_on: dict[int, dict[str, list[str]]]
) -> dict[str, list[str]]:
    """The names that need quotes, by kind, of a table and of what is named on it
    (`quoted_names`): columns, indexes, constraints (kinds without one are left out)."""
    on_table = quoted_on.get(table.oid, {})
    indexes = on_table.get("index", [])
    found = {
        "table": [table.name] if needs_quotes(table.name) else [],
        "column": on_table.get("column", []),
        "index": indexes,
        # a key's constraint and index share the name: listed once
        "constraint": [name for name in on_table.get("constraint", []) if name not in indexes],
    }
    return {kind: names for kind, names in found.items() if names}


@rule(
    "identifier-needs-quoting",
    category=NAMING,
    severity=LOW,
    title="Names that only work in double quotes",
)
def identifier_needs_quoting(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """A schema, table, column, index or constraint name with capitals, spaces or
    punctuation, which every statement must write in double quotes.

    One finding per table (for its own name and the names on it) and per schema.
    Letters outside ASCII (`ñame`) are accepted unquoted by PostgreSQL and are not
    reported; reserved words are `reserved-word-identifier`'s.

    ## Why it breaks
    PostgreSQL folds unquoted names to lower case, so `"LessonNotes"` must be written
    with its quotes in every query, forever: `SELECT * FROM LessonNotes` fails with
    "relation lessonnotes does not exist", and a name with a space breaks every tool
    that builds SQL without quoting. Usually the quotes came from an ORM or a GUI that
    quoted on creation, and hand-written SQL pays for it.

    ## Fix
    Rename to lower-case snake_case (`ALTER TABLE "LessonNotes" RENAME TO lesson_notes`,
    `RENAME COLUMN "createdAt" TO created_at`) together with the code that names them.
    """
    for schema in snap.schemas:
        if needs_quotes(schema.name):
            yield finding(schema, "Schema name needs double quotes", evidence={})
    quoted_on = quoted_names(snap)
    for table in snap.tables:
        if table.is_partition:
            continue
        listing = quoted_identifiers(table, quoted_on)
        if not listing:
            continue
        what = ", ".join(
            f"{len(names)} {PLURALS[kind]}" if len(names) > 1 else f"the {kind}"
            for kind, names in listing.items()
        )
        yield finding(
            table,
            f"Names that only work in double quotes: {what}",
            evidence={PLURALS[kind]: names for kind, names in listing.items()},
        )


PLURALS = {"table": "tables", "column": "columns", "index": "indexes", "constraint": "constraints"}


@rule(
    "reserved-word-identifier",
    category=NAMING,
    severity=LOW,
    title="Table or column named with a reserved SQL keyword",
)
def reserved_word_identifier(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """A table or column whose name is a reserved keyword of the server's SQL (`user`,
    `order`, `select`, `left`, ...), from the server's own list (`pg_get_keywords()`,
    categories R and T).

    ## Why it breaks
    The name must be double-quoted in every statement: `SELECT user FROM logins`
    returns the current role's name instead of the column, `ORDER BY order` does not
    parse, and generated SQL from tools that quote only what they think is needed
    breaks. A keyword reserved in a newer server version breaks unquoted queries on
    upgrade.

    ## Fix
    Rename (`ALTER TABLE ... RENAME COLUMN "user" TO user_email`), together with the
    code that names it.
    """
    reserved = {k.word: k.category for k in snap.keywords}
    if not reserved:
        return
    kinds = {"R": "reserved", "T": "reserved (type or function name)"}
    columns_reserved = bool(reserved.keys() & snap.facts.column_names)  # rarely any
    for table in snap.tables:
        if table.is_partition:
            continue
        if table.name in reserved:
            yield finding(
                table,
                f"Table named with the reserved keyword {table.name.upper()}",
                evidence={"keyword": table.name, "category": kinds[reserved[table.name]]},
            )
        if not columns_reserved:
            continue
        for column in snap.columns_by_table.get(table.oid, []):
            if column.name in reserved:
                yield column_finding(column, kinds[reserved[column.name]])


def column_finding(column: Column, category: str) -> Draft:
    return finding(
        column,
        f"Column named with the reserved keyword {column.name.upper()}",
        evidence={"keyword": column.name, "category": category},
    )


# --- no-migration-history -------------------------------------------------------------


@rule(
    "no-migration-history",
    category=NAMING,
    severity=LOW,
    title="No schema migration tool's history table",
    live_only=True,  # reviewed files are migrations whatever tool applies them
)
def no_migration_history(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """None of the examined schemas has the table in which a migration tool records the
    migrations it applied (Alembic, Django, Rails, Flyway, Liquibase, Prisma, Knex,
    Sequelize, goose, golang-migrate, Drizzle, sqitch, Supabase, Atlas, Kong, ...).

    Only the schemas examined are searched: with `--schema`, a history kept in another
    schema is not seen (the evidence says which schemas were examined).

    ## Why it breaks
    Without a migration history the schema is changed by hand: nobody can tell which
    changes a database has had, environments drift apart (the index made in production
    during an incident is missing in staging), a new environment cannot be rebuilt
    exactly, and a review cannot see what a release changes.

    ## Fix
    Adopt a migration tool, take the current schema as its baseline migration (most
    tools have a baseline command), and make every change a migration from then on.
    """
    if not snap.tables or snap.facts.migration_tables:
        return
    where = Located("database", (), snap.server.database)
    examined = snap.collection.schemas_filter or sorted(s.name for s in snap.schemas)
    yield finding(
        where,
        "No migration tool's history table: changes to this schema are not recorded",
        evidence={
            "schemas_examined": examined,
            "looked_for": sorted(MIGRATION_TABLES),
        },
    )
