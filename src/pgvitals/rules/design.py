"""Integrity rules about the shape of the schema: copies and near-duplicates of tables,
duplicated columns, mixed key types, and column types that store the wrong thing.

They share the `integrity` category with rules/integrity.py (keys, references and
constraints); this module holds the ones that read names and types only.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache

from pgvitals import fixes
from pgvitals.fmt import percent, plural
from pgvitals.rules._api import (
    CRITICAL,
    HIGH,
    INFO,
    INTEGRITY,
    LOW,
    MEDIUM,
    ROWS_OPTIONAL,
    ROWS_REQUIRED,
    Draft,
    NoOptions,
    Severity,
    finding,
    option,
    rule,
)
from pgvitals.rules._inheritance import (
    ancestors_by_table,
    inheriting_columns,
    reported_on_parents,
)
from pgvitals.snapshot.facts import (
    BACKUP_SUFFIX,
    DATED_SUFFIX,
    TENANT_COLUMN,
    distinct_values,
    joined_time_word,
    named_like_time,
    reference_stem,
    without_time_unit,
)
from pgvitals.snapshot.model import Column, ColumnProfile, Index, Snapshot, Table
from pgvitals.snapshot.words import singular, snake, words


def own_tables(snap: Snapshot) -> list[Table]:
    """Tables whose columns are their own: plain tables and partition roots (a partition's
    columns are its parent's). Backup copies are left to `backup-table`: the advice for
    them is to drop them, not to redesign their columns; a migration tool's history
    tables are the tool's design. (Found once per snapshot.)"""
    return snap.facts.own_tables


def own_columns(
    snap: Snapshot, *type_names: str, named: Callable[[str], object] | None = None
) -> Iterator[tuple[Table, Column]]:
    """The columns of `own_tables`, each with its table; only those of the base types
    named (`type_name`) when some are, and only those whose name `named` accepts when
    given (a rule's cheapest test, made once per name of the schema, before the column
    is paired with its table: most names fail it)."""
    accepted = None if named is None else {n for n in snap.facts.column_names if named(n)}
    if not type_names:
        for table, column in snap.facts.own_columns():
            if accepted is None or column.name in accepted:
                yield table, column
        return
    by_type, table_by_oid = snap.facts.own_columns_by_type, snap.table_by_oid
    for name in type_names:
        for column in by_type.get(name, ()):
            if accepted is None or column.name in accepted:
                yield table_by_oid[column.table_oid], column


def activity(snap: Snapshot, table: Table) -> dict[str, int | None]:
    """What the statistics say about use of the table since they were reset."""
    facts = snap.facts
    scans = [facts.counter(table, "seq_scan"), facts.counter(table, "idx_scan")]
    writes = [facts.counter(table, n) for n in ("n_tup_ins", "n_tup_upd", "n_tup_del")]
    known_scans = [s for s in scans if s is not None]
    known_writes = [w for w in writes if w is not None]
    return {
        "rows": facts.rows(table),
        "scans": sum(known_scans) if known_scans else None,
        "writes": sum(known_writes) if known_writes else None,
    }


# --- backup-table ---------------------------------------------------------------------


@rule(
    "backup-table",
    category=INTEGRITY,
    severity=LOW,
    title="Table looks like a backup copy of another",
)
def backup_table(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """A copy kept beside the live table: `*_backup`, `*_bak`, `*_old`, `*_copy`, `*_tmp`,
    or a dated copy (`feedback_2024_01_15`) of a table that exists.

    A dated name, `*_copy`, `*_tmp` and `*_temp` count only when the table they name
    exists in the same schema and the copy has no column it lacks, so partitions,
    yearly tables by design and staging tables with columns of their own are not
    reported. Nor is a `*_backup`, `*_bak` or `*_old` table that another table's foreign
    key references while no table of the name it would copy exists: an entity named so
    (Dokploy's `volume_backup`, the volume backup jobs its deployments reference). A
    table renamed aside beside a new original still is, whose references followed it.

    ## Why it breaks
    A copy made with `CREATE TABLE ... AS` has no primary key, no foreign keys, no
    row-level security and none of the live table's grants reviewed since; it holds a
    frozen snapshot of (often personal) data that nobody maintains, that backups,
    replicas and dumps carry forever, and that a new colleague or an ORM's
    introspection mistakes for real data. A real backup belongs in a backup.

    ## Fix
    Confirm nobody reads it (the evidence shows scans since the statistics were
    reset), export it if it must be kept (`pg_dump -t`), then drop it. pgvitals offers
    no DROP TABLE: its data could not be restored by a rollback.

    ## Silence
    `pgvitals:ignore backup-table <reason>` in the table's COMMENT.
    """
    by_name = {(t.schema, t.name): t for t in snap.tables}
    anywhere: dict[str, list[Table]] = defaultdict(list)
    for table in snap.tables:
        anywhere[table.name].append(table)
    for oid, pattern in snap.facts.backup_tables.items():
        table = snap.table_by_oid[oid]
        evidence: dict[str, object] = {"pattern": pattern, **activity(snap, table)}
        evidence["total_bytes"] = table.total_bytes
        name = copied_name(table.name)
        elsewhere = anywhere.get(name, [])
        original = by_name.get((table.schema, name)) or (
            elsewhere[0] if len(elsewhere) == 1 else None
        )
        if original is not None:
            evidence["copy_of"] = original.qualname
        of = f" of {original.qualname}" if original is not None else ""
        yield finding(table, f"Looks like a backup copy{of} ({pattern})", evidence=evidence)


def copied_name(name: str) -> str:
    """The name of the table a copy was made of: the name without its copy suffix."""
    return DATED_SUFFIX.sub("", BACKUP_SUFFIX.sub("", name))


# --- duplicate-columns ----------------------------------------------------------------


@rule(
    "duplicate-columns",
    category=INTEGRITY,
    severity=MEDIUM,
    title="Two columns of a table are the same word",
)
def duplicate_columns(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """Column names that differ only in case style or separators: `created_at` beside
    `createdAt`, `user_id` beside `UserId`.

    Reported on the later column (by position), naming the earlier one. Leading
    underscores are part of the name, not a style: `_name` beside `name` is another
    column, one the application derives or keeps to itself (NetBox's `_name`, the
    natural-sort copy of `name` it fills on save).

    ## Why it breaks
    Two columns for one fact are filled by different code paths (typically an ORM
    migration that added a camelCase column beside the snake_case one), so each holds
    part of the truth: queries that read one miss the rows written to the other, and
    the two disagree where both are set. Which one is right cannot be told from the
    schema.

    ## Fix
    Pick the column to keep, copy the other's values where it is empty
    (`UPDATE ... SET created_at = coalesce(created_at, "createdAt")`), point the code
    at it, then drop the other column. pgvitals offers no SQL: merging needs a
    decision about rows where both are set.
    """
    # a column has a twin only where another name of the schema is the same word: told
    # once per name (7,000 names for 175,000 columns at 10k tables)
    spelled = {name: same_word_key(name) for name in snap.facts.column_names}
    names_by_word: dict[str, list[str]] = defaultdict(list)
    for name, word in spelled.items():
        names_by_word[word].append(name)
    twins = {name for names in names_by_word.values() if len(names) > 1 for name in names}
    if not twins:
        return
    for table in own_tables(snap):
        seen: dict[str, Column] = {}
        for column in snap.columns_by_table.get(table.oid, []):
            if column.name not in twins:
                continue
            earlier = seen.setdefault(spelled[column.name], column)
            if earlier is column:
                continue  # the first column of its name
            evidence: dict[str, object] = {
                "same_as": earlier.name,
                "types": [earlier.data_type, column.data_type],
            }
            if earlier.null_frac is not None and column.null_frac is not None:
                evidence["null_fractions"] = [earlier.null_frac, column.null_frac]
            yield finding(
                column,
                f"{column.name!r} and {earlier.name!r} are the same name in another case style",
                evidence=evidence,
            )


def same_word_key(name: str) -> str:
    """What two names of one column are compared by: snake_case words, with the
    underscores that lead the name kept (`_name` is not `name`)."""
    underscores = len(name) - len(name.lstrip("_"))
    return name[:underscores] + snake(name)


# --- mixed-id-strategy ----------------------------------------------------------------

KEY_KINDS = {"int2": "integer", "int4": "integer", "int8": "integer", "uuid": "uuid"}


@dataclass(frozen=True)
class MixedIdOptions:
    listed: int = option(20, "tables named per kind of key in the evidence")
    min_minority: float = option(
        0.1, "share of the keyed tables the less common kind must have (0-1)"
    )


@rule(
    "mixed-id-strategy",
    category=INTEGRITY,
    severity=LOW,
    title="Schema mixes uuid and integer keys",
    options=MixedIdOptions,
)
def mixed_id_strategy(snap: Snapshot, opts: MixedIdOptions) -> Iterator[Draft]:
    """Some tables of a schema have uuid primary keys, others integer ones.

    Only single-column primary keys count; backup copies, migration tools' tables and a
    library's own tables (River's river_job, Oban's oban_jobs: bigint keys the library
    chose) are left out. Text and other keys (codes, natural keys) are a design choice of their
    own and are not counted. A kind used by fewer than `min_minority` of the keyed
    tables (a deliberate exception or two, such as a bigint key on a high-volume log in
    a uuid schema) is not reported.

    ## Why it breaks
    Every reference must know which kind its target uses, and that is where the
    mistakes happen: a `lesson_id varchar(36)` holding uuids as text, or an `integer`
    column for a uuid key, cannot get a foreign key and joins through casts
    (`fk-type-mismatch`). Code, fixtures and APIs need two id formats, and the mix
    usually marks two generations of the schema that no longer follow one design.

    ## Fix
    Choose one strategy for new tables and write it down; convert tables where
    references already mismatch. Converting existing keys rewrites the table and
    every referencing table: do it only where it pays.
    """
    by_schema: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for table in own_tables(snap):
        key = snap.primary_key(table)
        if key is None or len(key.columns) != 1 or table.oid in snap.facts.libraries.tables:
            continue
        column = snap.facts.column_by_name.get((table.oid, key.columns[0]))
        kind = KEY_KINDS.get(column.type_name) if column is not None else None
        if kind is not None:
            by_schema[table.schema][kind].append(table.name)
    schemas = {s.name: s for s in snap.schemas}
    for name, kinds in sorted(by_schema.items()):
        counts = [len(tables) for tables in kinds.values()]
        if len(kinds) < 2 or name not in schemas or min(counts) < opts.min_minority * sum(counts):
            continue
        uuid_tables, integer_tables = sorted(kinds["uuid"]), sorted(kinds["integer"])
        yield finding(
            schemas[name],
            f"{len(uuid_tables)} tables have uuid keys and {len(integer_tables)} integer keys",
            evidence={
                "uuid_keys": len(uuid_tables),
                "integer_keys": len(integer_tables),
                "uuid_tables": uuid_tables[: opts.listed],
                "integer_tables": integer_tables[: opts.listed],
            },
        )


# --- column types ---------------------------------------------------------------------


@rule(
    "timestamp-without-time-zone",
    category=INTEGRITY,
    severity=LOW,
    title="Column is timestamp without time zone",
    regroup=reported_on_parents(),
)
def timestamp_without_time_zone(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """A `timestamp` (without time zone) column: a wall-clock reading with no zone.
    A migration tool's history table (Diesel's `run_on`) is the tool's design, not
    reported. Medium where the column's default reads the clock through the session's
    TimeZone (`now()`, `CURRENT_TIMESTAMP`, `LOCALTIMESTAMP`): an application that writes
    UTC (Ecto, Rails) and a default that writes the session's local reading then store
    two different zones in one column. A default that names its zone
    (`timezone('UTC', now())`, as Oban's) stays low. A generated column is info, with no
    fix: its IMMUTABLE expression fixes each value's zone (Temporal's visibility columns,
    `convert_ts(...)` of a UTC text), and converted to timestamptz, the value it computes
    would be read in the inserting session's TimeZone; its expression is what to change.

    ## Why it breaks
    `timestamp` stores whatever clock reading the writer sent, with no record of its
    zone: rows written by servers or sessions in different zones (or on both sides of a
    daylight-saving change) cannot be ordered or compared correctly, an hour repeats
    every autumn, and `now()` (a timestamptz) is converted through the session's
    TimeZone when compared with it, so results depend on a session setting.
    `timestamptz` stores an absolute instant (as UTC) and converts on output.

    ## Fix
    `ALTER COLUMN ... TYPE timestamptz`. The fix sets the session's TimeZone to UTC
    first, which says the stored values are UTC readings. That covers the rows there;
    the application's later writes of `timestamp` values (Diesel's `NaiveDateTime` is sent
    so) are converted through its own sessions' TimeZone: right where they run in UTC,
    else set theirs or send `timestamptz`. From PostgreSQL 12 the change
    then does not rewrite the table, but indexes on the column are rebuilt, under the
    ACCESS EXCLUSIVE lock the ALTER takes. A default that names its zone becomes
    `now()`: kept, its clock reading would be converted to timestamptz through the
    inserting session's TimeZone. If the values were written in another zone,
    use `USING col AT TIME ZONE 'that zone'` instead (this rewrites the table). No
    automatic fix where an index computes on the column (`COALESCE(close_time,
    '9999-12-31')`, `at::date`, `WHERE at > '2020-01-01'`): for timestamptz those depend
    on the TimeZone, and PostgreSQL refuses the change until the index is rewritten.
    None either for a column of a partition key (of the table or of a sub-partitioned
    partition), or one a generated column computes from: PostgreSQL cannot change such
    a column's type at all.

    A column that tables inherit (INHERITS) is reported on the table that defines it,
    listing them (`inheritance_children`): PostgreSQL changes an inherited column's type
    only there, and the change reaches them all (each zoned default is set table by
    table). No fix where it would fail on one of them (an index computing on the column,
    a view). A child whose default reads the session's clock where its parent's does not
    keeps a finding of its own, without a fix.
    """
    for table, column in own_columns(snap, "timestamp"):
        if column.data_type.startswith("timestamp"):
            indexes = [
                i.name
                for i in snap.indexes_by_table.get(table.oid, [])
                if column.name in i.key_columns
            ]
            computing = [
                i.name
                for i in snap.indexes_by_table.get(table.oid, [])
                if fixes.reads_in_expression(i, column)
            ]
            inheritors = inheriting_columns(snap, column)  # changed with it (INHERITS)
            evidence: dict[str, object] = {"data_type": column.data_type}
            session_clock = reads_session_clock(column.default)
            if session_clock is not None:
                evidence["default"] = column.default
                evidence["default_depends_on_session_timezone"] = session_clock
            if session_clock:
                evidence["server_timezone"] = snap.server.settings.get("TimeZone")
            fix, severity = None, MEDIUM if session_clock else None
            if column.generated:
                evidence["generated_as"] = column.default
                evidence["no_automatic_fix"] = (
                    "a generated column: its expression (IMMUTABLE, so no session setting"
                    " moves it) fixes the zone of each value; changed to timestamptz, each"
                    " computed timestamp would be converted through the inserting session's"
                    " TimeZone. Make the expression return timestamptz instead (`... AT TIME"
                    " ZONE 'UTC'` where it computes a UTC reading): ALTER COLUMN ... SET"
                    " EXPRESSION on PostgreSQL 17, before that drop the column and add it back"
                )
                severity = INFO
            elif computing:
                evidence["indexes_computing_on_it"] = computing
                evidence["no_automatic_fix"] = (
                    "indexes compute on the column (an expression or a predicate): under"
                    " timestamptz a cast to date or a comparison with a timestamp value"
                    " depends on the TimeZone, and PostgreSQL refuses the change (functions"
                    " in index expression must be marked IMMUTABLE); drop them, change the"
                    " type, and re-create them with the zone written out"
                )
            elif keyed := snap.facts.partition_keyed_by(table, column.name):
                evidence["partition_key_of"] = keyed
                evidence["no_automatic_fix"] = (
                    "the column is in the partition key of " + ", ".join(keyed) + ": PostgreSQL"
                    " cannot change its type (it is part of the partition key); re-create the"
                    " table partitioned by a timestamptz column and move the rows"
                )
            elif computing_columns := fixes.computed_from(snap, column):
                evidence["generated_columns_using_it"] = computing_columns
                evidence["no_automatic_fix"] = (
                    "generated columns compute from it: PostgreSQL cannot change its type"
                    " (cannot alter type of a column used by a generated column); drop them,"
                    " change the type, and add them back"
                )
            elif not blocked_by_views(snap, column, evidence):
                indexes += [
                    i.name
                    for child in inheritors
                    for i in snap.indexes_by_table.get(child.table_oid, [])
                    if column.name in i.key_columns
                ]
                evidence["indexes_rebuilt"] = indexes
                fix = fixes.timestamp_to_timestamptz(
                    snap,
                    column,
                    indexed=bool(indexes),
                    zoned_default=zoned_default(column),
                    reaching=[(child, zoned_default(child)) for child in inheritors],
                )
            message = f"{column.data_type}: the instant each value means depends on an unknown zone"
            if session_clock:
                message = (
                    f"{column.data_type} with DEFAULT {column.default}: the default writes the"
                    " inserting session's local clock reading (its TimeZone), not UTC, so the"
                    " instant each value means depends on a session setting"
                )
            yield finding(
                column,
                message,
                evidence=evidence,
                fix=fix,
                severity=severity,
            )


# how pg_get_expr spells a read of the clock, and that read converted to a named zone
CLOCK = (
    r"(?:now\(\)|(?:transaction|statement|clock)_timestamp\(\)"
    r"|CURRENT_TIMESTAMP|LOCALTIMESTAMP)(?:\(\d\))?"
)
ZONED_CLOCK = re.compile(
    rf"timezone\('[^']*'::text, {CLOCK}\)|\({CLOCK} AT TIME ZONE '[^']*'::text\)",
    re.IGNORECASE,
)


def zoned_default(column: Column) -> str | None:
    """The column's default where it reads the clock in a named zone (Oban's
    `timezone('UTC', now())`)."""
    return column.default if ZONED_CLOCK.fullmatch(column.default or "") else None


def reads_session_clock(default: str | None) -> bool | None:
    """Whether a timestamp column's default reads the clock through the session's
    TimeZone (`now()`, `CURRENT_TIMESTAMP`, `LOCALTIMESTAMP`, `now()::timestamp`);
    False where every read names its zone (`timezone('UTC', now())`), None where the
    default reads no clock."""
    if not default or not re.search(CLOCK, default, re.IGNORECASE):
        return None
    return bool(re.search(CLOCK, ZONED_CLOCK.sub("", default), re.IGNORECASE))


def blocked_by_views(snap: Snapshot, column: Column, evidence: dict[str, object]) -> bool:
    """Do views read the column? PostgreSQL refuses to change its type until they are
    dropped (and recreated after), so no fix is offered; the evidence names them."""
    views = snap.facts.views_using.get((column.table_oid, column.name))
    if views:
        evidence["used_by_views"] = views
    return bool(views)


# json functions that take no jsonb (no cast from jsonb to json is implicit): a body
# that calls one on the column fails once the column is jsonb
JSON_ONLY_CALL = re.compile(
    r"\bjson_(typeof|array_length|array_elements(_text)?|each(_text)?|object_keys"
    r"|extract_path(_text)?|populate_record(set)?|to_record(set)?|strip_nulls)\s*\(",
    re.IGNORECASE,
)


def json_functions_over(snap: Snapshot, column: Column) -> list[str]:
    """Functions whose body names the column's table and the column and calls a json
    function that takes no jsonb (Graphile Worker's add_jobs calls json_typeof on
    jobs.payload): changing the column to jsonb breaks them."""
    names = [re.compile(rf"\b{re.escape(name)}\b", re.IGNORECASE) for name in
             (column.table, column.name)]  # fmt: skip
    return sorted(
        function.qualname
        for function in snap.functions
        if function.source
        and JSON_ONLY_CALL.search(function.source)
        and all(name.search(function.source) for name in names)
    )


@rule(
    "json-instead-of-jsonb",
    category=INTEGRITY,
    severity=LOW,
    title="Column is json rather than jsonb",
    regroup=reported_on_parents(),
)
def json_instead_of_jsonb(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """A `json` column: text that is re-parsed by every operator that reads it.

    ## Why it breaks
    `json` keeps the input text as is, so every `->`, `->>` or `@>`-style access parses
    the whole document again, it has no equality operator (no `DISTINCT`, `GROUP BY`,
    `UNION` or unique index on it), and no GIN index can serve containment queries.
    `jsonb` stores the parsed form. `json` is right only where the exact text matters:
    key order, duplicate keys, whitespace.

    ## Fix
    `ALTER COLUMN ... TYPE jsonb USING col::jsonb` (rewrites the table under an ACCESS
    EXCLUSIVE lock; duplicate keys keep their last value and key order is lost). No
    fix is generated where a function's body names the column and calls a json
    function that takes no jsonb (`json_typeof`, `json_each`, ...): it would fail
    after the change; move it to the `jsonb_` functions first. A column that tables
    inherit (INHERITS) is reported and converted on the table that defines it, which
    converts theirs too (PostgreSQL refuses the change on a child); their indexes and
    views count as its own.
    """
    for _table, column in own_columns(snap, "json"):
        if column.data_type == "json":
            evidence: dict[str, object] = {"data_type": column.data_type}
            fix = None
            if callers := json_functions_over(snap, column):
                evidence["functions_calling_json_functions"] = callers
                evidence["no_automatic_fix"] = (
                    "functions call json functions on it that take no jsonb (json_typeof,"
                    " json_each, ...): they would fail once it is jsonb; change them to the"
                    " jsonb_ functions first"
                )
            elif not blocked_by_views(snap, column, evidence):
                converted = fixes.convert_column_type(
                    snap, column, "jsonb", inheriting_columns(snap, column)
                )
                fix = fixes.offered(converted, evidence)
                if fix is not None:
                    # json keeps the escape \u0000 as text; jsonb cannot store it, and the
                    # ALTER fails on the first such value (a schema-only copy never has one)
                    fix = fix.listing_first(
                        fixes.nul_escape_rows_query(column),
                        "the first query lists the rows whose value holds \\u0000, which jsonb"
                        " cannot store: the conversion fails on them, changing nothing; remove"
                        " it from them first",
                    )
            yield finding(
                column,
                "json: re-parsed on every access, no equality, no GIN index",
                evidence=evidence,
                fix=fix,
            )


# format_type() of the integer types an identity column may have (not of a domain over them)
INTEGER_TYPE_NAMES = ("smallint", "integer", "bigint")


@rule(
    "serial-instead-of-identity",
    category=INTEGRITY,
    severity=LOW,
    title="Key filled by a serial sequence rather than an identity column",
    regroup=reported_on_parents(lambda draft: draft.evidence["sequence"], alone=None),
)
def serial_instead_of_identity(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """A column filled by a `nextval()` default (`serial`, `bigserial`, or a sequence
    created by hand), not an identity. A migration tool's history table (Knex's
    `knex_migrations.id`) is the tool's design, not reported.

    ## Why it breaks
    A serial column is a default plus a separate sequence object with its own
    privileges: the application role needs USAGE on the sequence as well as INSERT on
    the table, `CREATE TABLE ... (LIKE ...)` copies shares the original's sequence,
    explicit inserts of ids do not move the sequence (the next default collides), and
    dumps and ORMs must know the sequence's name. An identity column (SQL standard,
    PostgreSQL 10+) ties the sequence to the column: INSERT privilege suffices, and
    `GENERATED ALWAYS` refuses ids supplied by mistake.

    ## Fix
    Drop the default, detach the old sequence and rename it (kept, unused, for the
    rollback), make the column `GENERATED BY DEFAULT AS IDENTITY` under the old
    sequence's name (so code calling `nextval()` on that name draws the identity's
    ids, not the same ids again) with the old sequence's increment, bounds, start,
    cache and cycle, and continue it from the old sequence's position,
    read when the fix runs (or after the largest id, if that is further: explicit ids
    do not move a sequence). Not from the largest id alone: ids handed out and then
    deleted, or taken by transactions that rolled back, would be handed out again.
    All in one transaction holding an ACCESS EXCLUSIVE lock on the table (brief, no
    rewrite; the largest id is read under it), so no insert takes an id in between;
    a role that calls `nextval()` by name needs USAGE on the new sequence. The rollback
    restores the old sequence's name, the default, its ownership and its position, moved
    on past the ids the identity handed out.

    A sequence that several defaults draw from numbers the rows of several columns in
    one series, and no identity can do that: an identity's sequence is its column's own
    (a second column cannot take it as its identity), so the others would still call
    `nextval()` by name, the very default this rule reports. Where that
    is the design (Dendrite's `syncapi_stream_id` gives events, invites, peeks and
    account data one stream position, which clients sync from), there is nothing to
    convert: the finding is info, names the columns that share the sequence, and
    proposes no SQL.

    A column whose type is a domain over an integer (Icinga DB's `uint`, a bigint with a
    range CHECK) is reported with no SQL: PostgreSQL refuses an identity on a domain
    ("identity column type must be smallint, integer, or bigint"), so the column would
    first have to become the base type, losing the domain's CHECK unless it is added to
    the table: the owner's choice to make.

    A serial column that tables inherit (INHERITS) numbers their rows from its sequence
    too: one finding, on the table that defines it, listing them, info as above. No fix
    for a column that tables inherit with sequences of their own either: DROP DEFAULT
    reaches them, ADD GENERATED AS IDENTITY does not.
    """
    facts = snap.facts
    uses: dict[int, list[str]] = defaultdict(list)  # columns whose default calls each sequence
    for (table_oid, name), sequence_oid in facts.sequence_defaults.items():
        uses[sequence_oid].append(f"{snap.table_by_oid[table_oid].qualname}.{name}")
    sequences = {s.oid: s for s in snap.sequences}
    own = {table.oid for table in own_tables(snap)}  # not knex_migrations: Knex's design
    # the columns whose default calls nextval(): a few of all the columns
    for (table_oid, name), sequence_oid in facts.sequence_defaults.items():
        if table_oid not in own:
            continue
        table, column = snap.table_by_oid[table_oid], facts.column_by_name[(table_oid, name)]
        if column.identity or column.generated:
            continue
        sequence = sequences[sequence_oid]
        owned = (sequence.owned_by_table_oid, sequence.owned_by_column) == (
            table.oid,
            column.name,
        )
        evidence: dict[str, object] = {"sequence": sequence.qualname, "owned_by_column": owned}
        sharing = uses[sequence.oid]
        inheritors = inheriting_columns(snap, column)  # the column of INHERITS children
        if len(sharing) > 1:  # other defaults draw from it too: one series across columns
            evidence.update(shared_sequence=True, shared_by=sorted(sharing))
            shared = f"which {len(sharing)} columns share"
            if set(sharing) <= {c.qualname for c in (column, *inheritors)}:
                shared = "which the tables inheriting the column draw from too"
            yield finding(
                column,
                f"Filled by sequence {sequence.qualname}, {shared}: one numbering across"
                " them, which no identity gives",
                evidence=evidence,
                severity=INFO,
            )
            continue
        fix = None
        message = f"Filled by serial sequence {sequence.qualname}, not an identity"
        if inheritors:
            # DROP DEFAULT reaches the tables that inherit the column, ADD GENERATED ... AS
            # IDENTITY does not (PostgreSQL 15, 16): they would be left with no default
            names = ", ".join(f"{c.schema}.{c.table}" for c in inheritors)
            evidence["no_automatic_fix"] = (
                f"tables inherit the column ({names}): DROP DEFAULT on {table.qualname}"
                " reaches them, and ADD GENERATED AS IDENTITY does not, so they would be left"
                " with no default; each needs an identity of its own, which numbers its rows"
                " apart from the others'"
            )
        if column.data_type not in INTEGER_TYPE_NAMES:
            # a domain over an integer (Icinga DB's `uint` with its range CHECK): "identity
            # column type must be smallint, integer, or bigint", so the column must first
            # become its base type, which drops the domain's CHECK: a choice for its owner
            evidence["domain"] = column.data_type
            message += f" (its type is the domain {column.data_type}, which no identity takes)"
        elif column.type_name in ("int2", "int4", "int8") and column.not_null and not inheritors:
            fix = fixes.serial_to_identity(snap, table, column, sequence)
        yield finding(column, message, evidence=evidence, fix=fix)


# --- soft-delete-without-partial-unique -----------------------------------------------


@rule(
    "soft-delete-without-partial-unique",
    category=INTEGRITY,
    severity=MEDIUM,
    title="Soft-deleted rows still hold their unique values",
)
def soft_delete_without_partial_unique(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """A table with a soft-delete column (`deleted_at`, `is_deleted`, `removed_at`,
    `discarded_at`, ...) whose unique constraint or index covers deleted rows too.

    Reported per unique index that is not partial, does not contain the soft-delete
    column, and holds a value people choose (a text column that is no `*_id`
    reference: an e-mail, a name, a code) but no version or sequence number; the
    primary key is left out (ids are never reused), and so is any unique key that
    contains it (`UNIQUE (namespace, id)`), text identifiers the application generates
    (`uuid`, `token`, `checksum`, `fingerprint` columns), and the tenant column
    (`namespace`, `tenant`), which scopes a key rather than being chosen for the row.
    Nor are the keys of a federated object's global identity: in a table with an
    ActivityPub or similar id (`ap_id`, `actor_id`, `uri`, `iri`), a key over that id or
    the object's other URLs (`lower(ap_id)`, `followers_url`; Lemmy's `community` and
    `person`), which a deleted object keeps so that no new row takes over its identity on
    other servers.

    ## Why it breaks
    Soft-deleted rows stay in the table, so their values keep occupying the unique key:
    a user who deletes their account cannot sign up again with the same e-mail, a
    deleted product's SKU cannot be reused, and the application meets a unique
    violation for a row it does not show. The usual workaround in code (renaming the
    deleted row's value) corrupts the history the soft delete was meant to keep.

    ## Fix
    Enforce uniqueness among live rows only: `CREATE UNIQUE INDEX CONCURRENTLY ... ON
    t (email) WHERE deleted_at IS NULL`, then drop the old constraint or index (a
    constraint that foreign keys reference must stay, or they be re-pointed first).
    """
    for table in own_tables(snap):
        marker = snap.facts.soft_delete_columns.get(table.oid)
        if marker is None:
            continue
        for index in snap.indexes_by_table.get(table.oid, []):
            keys = index.key_columns[: index.key_count]
            if (
                not index.is_unique
                or index.is_primary
                or not index.is_valid
                or index.is_partial
                or index.parent_index_oid is not None
                or marker.name in keys
                or contains_primary_key(snap, index)
                or not natural_key(snap, index)
                or global_identity(snap, index)
            ):
                continue
            evidence: dict[str, object] = {
                "soft_delete_column": marker.name,
                "unique_keys": list(index.keys),
            }
            if index.constraint_name:
                evidence["constraint"] = index.constraint_name
            yield finding(
                index,
                f"Unique ({', '.join(index.keys)}) counts rows soft-deleted through"
                f" {marker.name}: a deleted row's values cannot be used again",
                evidence=evidence,
            )


def contains_primary_key(snap: Snapshot, index: Index) -> bool:
    """Does the unique key hold every column of the table's primary key (ent's
    `UNIQUE (id)` and `UNIQUE (namespace, id)` beside it)? Ids are never reused, so a
    deleted row keeping its key takes nothing away."""
    table = snap.table_by_oid.get(index.table_oid)
    primary = snap.primary_key(table) if table is not None else None
    return primary is not None and set(primary.columns) <= set(index.key_columns[: index.key_count])


def natural_key(snap: Snapshot, index: Index) -> bool:
    """Does the unique key hold a value people choose and may want back (an e-mail, a
    name, a code: a text column that is no reference), and no version or sequence
    number, which is never meant to be reused? An expression key (`lower(email)`)
    counts."""
    if index.has_expressions:
        return True
    columns = [
        snap.facts.column_by_name.get((index.table_oid, name or ""))
        for name in index.key_columns[: index.key_count]
    ]
    if any(c is not None and VERSION_LIKE.search(c.name.lower()) for c in columns):
        return False
    return any(
        c is not None
        and c.type_category == "S"
        and reference_stem(c.name) is None
        and not GENERATED_LIKE.search(c.name.lower())
        and not TENANT_COLUMN.match(c.name.lower())
        for c in columns
    )


def global_identity(snap: Snapshot, index: Index) -> bool:
    """Does the unique key hold only a federated object's id or URLs (see
    FEDERATED_ID, URL_LIKE), read plainly or by its expressions (`lower(ap_id)`), in a
    table that has such an id?"""
    columns = snap.columns_by_table.get(index.table_oid, [])
    if not any(FEDERATED_ID.match(c.name.lower()) for c in columns):
        return False
    keys = set(index.key_columns[: index.key_count])
    read = [c for c in columns if c.name in keys or fixes.reads_in_expression(index, c)]
    return bool(read) and all(
        FEDERATED_ID.match(c.name.lower()) or URL_LIKE.search(c.name.lower()) for c in read
    )


# an object's id across servers (ActivityPub's `id`, Lemmy's ap_id, Mastodon's uri): never
# handed to another object, even after this one is deleted
FEDERATED_ID = re.compile(r"^(ap_id|actor_id|uri|iri)$")
URL_LIKE = re.compile(r"(^|_)(url|uri|iri)$")
VERSION_LIKE = re.compile(r"(^|_)(version|revision|seq|sequence|iid|number|position)$")
# values the application generates to identify a row (GitLab's terraform_states.uuid,
# a varchar): never chosen again, so a deleted row keeping its value takes nothing away
GENERATED_LIKE = re.compile(r"(^|_)(uuid|guid|ulid|token|digest|checksum|fingerprint)$")


# --- status-without-check -------------------------------------------------------------

# Names of columns that hold one of a few states. `type`-like names (and `mode`,
# `category`, `level`) also name open sets (MIME types, event types, file modes), so
# they count only where statistics show few distinct values.
STATUS_NAME = re.compile(
    r"^(status|state|role|stage|phase|priority|tier|kind|visibility)$"
    r"|_(status|state|stage|phase|priority|tier|kind)$"
)
# `member_role` (an OSM relation member's free-form role), `prev_state` (an event id in
# Synapse): what the column says of another thing is not a closed set either
TYPE_NAME = re.compile(
    r"^(type|kind|mode|level|category)$|_(type|mode|level|category|role)$"
    r"|^(prev|previous|old|new|next)_"
)
# Never a closed set: media types, and the class names of polymorphic references;
# OpenID Connect's `session_state`, an opaque value the provider hands out (a column of
# the Account table every Auth.js / NextAuth adapter creates), and the OAuth / OIDC
# `state` or SAML RelayState a protocol round trip carries (Logto's
# saml_application_sessions.oidc_state, varchar(32)): random values, not states.
OPEN_SET = re.compile(r"(content|mime|media)_type$|^(session|oidc|oauth2?|relay)_state$")
# A table with these is an address: its `state` is a region, not a status.
ADDRESS_COLUMNS = frozenset({"city", "country", "zip", "zipcode", "postal_code", "postcode"})
# A declared length beyond what any ORM gives a plain string (varchar(255)) is chosen for
# long values: an opaque token such as OAuth 2.0's `state` (Mattermost's
# oauthauthdata.state is varchar(1024)), not a word from a closed set.
DECLARED_LENGTH = re.compile(r"^character varying\((\d+)\)$")
SHORT_WORD_LENGTH = 255


@cache  # column names repeat across tables
def state_word(name: str) -> str | None:
    """Which of the patterns a column name matches: "type" (TYPE_NAME), "status"
    (STATUS_NAME), or None (most names)."""
    lowered = name.lower()
    if TYPE_NAME.search(lowered):
        return "type"
    return "status" if STATUS_NAME.search(lowered) else None


def status_like(column: Column, columns: list[Column], with_statistics: bool) -> bool:
    """Is the column (one of its table's `columns`) named like a closed set of states
    (see STATUS_NAME, TYPE_NAME)?"""
    word = state_word(column.name)
    if word is None:
        return False
    name = column.name.lower()
    if OPEN_SET.search(name):
        return False  # a media type
    if name.endswith(("_type", "state")):  # what the other columns say of it
        siblings = {c.name.lower() for c in columns}
        if name.endswith("_type") and f"{name.removesuffix('_type')}_id" in siblings:
            return False  # a polymorphic reference's class name
        if name.endswith("state") and address_beside(name.removesuffix("state"), siblings):
            return False  # an address's region
    if not with_statistics and declared_length(column) > SHORT_WORD_LENGTH:
        return False  # statistics, where there are some, count the values instead
    return with_statistics if word == "type" else True


def address_beside(prefix: str, siblings: set[str]) -> bool:
    """Does the table have an address column with the same prefix as the `state`
    column: `city` beside `state`, Zabbix's `site_city` beside `site_state`,
    `billing_zip` beside `billing_state`?"""
    return any(f"{prefix}{word}" in siblings for word in ADDRESS_COLUMNS)


def declared_length(column: Column) -> int:
    """The n of a varchar(n) column; 0 for any other type."""
    match = DECLARED_LENGTH.match(column.data_type)
    return int(match.group(1)) if match else 0


@dataclass(frozen=True)
class StatusOptions:
    max_distinct: int = option(
        20, "most distinct values (from pg_stats) a column may have to count as a status"
    )
    max_width: int = option(
        64, "average bytes per value (pg_stats) above which values are documents, not states"
    )


@rule(
    "status-without-check",
    category=INTEGRITY,
    severity=MEDIUM,
    title="Status-like text column with no CHECK, enum or foreign key",
    options=StatusOptions,
    regroup=reported_on_parents(),
)
def status_without_check(snap: Snapshot, opts: StatusOptions) -> Iterator[Draft]:
    """A text column named like a status (`status`, `state`, `role`, `stage`,
    `*_status`, ...) with no CHECK constraint, no foreign key and no unique index.

    Cardinality comes from `pg_stats` (never from reading rows): a column with more
    distinct values than `max_distinct` is not a status and is not reported. Names that
    also describe open sets (`type`, `*_type`, `mode`, `category`, `level`, `*_role`,
    `prev_*`) count only where statistics show few values, two at least (one value in
    every row, a Terraform resource `type` of a deployment with one provider, shows no
    set at all); media types, the `*_type` of
    a polymorphic reference (beside its `*_id`), the `state` of an address (a table
    with `city` or `country`, or with the same prefix: Zabbix's `site_state` beside
    `site_city`) and the opaque values of login protocols (OpenID Connect's
    `session_state`, `oidc_state`, `oauth_state`, `relay_state`) never count. A column
    that tables inherit (INHERITS) is reported once, on the table that defines it.
    Without statistics (never analyzed), or where they counted no value (every row NULL:
    Coder's `workspace_resources.instance_type`, a cloud machine type, was "about 0
    distinct values"), the name alone decides, at low severity, except
    for a varchar longer than 255 (OAuth's opaque `state`, varchar(1024)). So does the
    name in a table of one row (a settings row: one value shows no set). Values that
    average more than `max_width` bytes (`pg_stats.avg_width`) are documents or
    sentences, not a state word, and are not reported (Zabbix's
    `config.dbversion_status`, a JSON report of the database's version). Enum and
    domain types are not text here and are not reported.

    ## Why it breaks
    Any string is accepted, so the set of states grows by accident: `Completed` beside
    `completed`, `canceled` beside `cancelled`, a typo from one code path. Every query
    that filters or groups on the column then misses rows, and the application's
    `switch` meets values it does not handle. The allowed values are documented nowhere
    the database can enforce.

    ## Fix
    Normalise the existing values, then add `CHECK (status IN (...)) NOT VALID` and
    `VALIDATE CONSTRAINT` (or reference a small lookup table, which lets values be
    added without DDL). pgvitals does not read the values, so it cannot write the list.
    """
    facts = snap.facts
    # the cheapest test first: most names say nothing of states
    for table, column in own_columns(snap, "text", "varchar", "bpchar", named=state_word):
        if not column.data_type.startswith(("text", "character")):
            continue  # a domain: it may carry its own CHECK
        # pg_stats' n_distinct is 0 where it counted no value (every row NULL): no count.
        # One value is no count either for an open-set name: nothing shows a closed set
        # (Coder's workspace_resources.type, a Terraform resource type, "docker_container"
        # in every row of a deployment that uses one provider)
        counted = bool(column.n_distinct) and (
            state_word(column.name) != "type"
            or (distinct_values(column, facts.rows(table)) or 0) >= 2
        )
        if not status_like(column, snap.columns_by_table[table.oid], counted):
            continue
        if constrained(snap, column):
            continue
        if column.avg_width is not None and column.avg_width > opts.max_width:
            continue  # documents or sentences (Zabbix's dbversion_status JSON), no state word
        yield from status_finding(column, facts.rows(table), opts)


def constrained(snap: Snapshot, column: Column) -> bool:
    """Does a CHECK or a foreign key read the column, or a unique index have it as its
    only key? Then its values are not any string."""
    constraints = snap.constraints_by_table.get(column.table_oid, [])
    indexes = snap.indexes_by_table.get(column.table_oid, [])
    return any(c.kind in ("c", "f") and column.name in c.columns for c in constraints) or any(
        i.is_unique and i.key_count == 1 and i.key_columns[0] == column.name for i in indexes
    )


def status_finding(column: Column, rows: int, opts: StatusOptions) -> Iterator[Draft]:
    distinct = distinct_values(column, rows) if column.n_distinct else None
    # one row holds one value (a settings row): no count tells a set from any string
    one_row = distinct is not None and rows <= 1
    if one_row:
        distinct = None
    if distinct is not None and distinct > opts.max_distinct:
        return
    evidence: dict[str, object] = {
        "distinct_values": distinct,
        "data_type": column.data_type,
    }
    if column.n_distinct == 0:
        evidence["statistics"] = "no value counted: every row is NULL"
    elif one_row:
        evidence["statistics"] = "one row: one value shows no set"
    elif distinct is None:
        evidence["statistics"] = "none: never analyzed, or not readable by this role"
    shown = f"about {distinct} distinct values" if distinct is not None else "values not counted"
    yield finding(
        column,
        f"Status-like text column ({shown}) accepts any string: no CHECK, enum or FK",
        evidence=evidence,
        severity=LOW if distinct is None else None,
    )


# --- similar-tables -------------------------------------------------------------------

TRIVIAL_COLUMNS = frozenset(
    {
        "id",
        "uuid",
        "created_at",
        "updated_at",
        "deleted_at",
        "created_by",
        "updated_by",
        "created",
        "modified",
        "updated",
        "version",
        "lock_version",
        "inserted_at",
        # Boundary's every table (and Google's API style): create_time, update_time
        "create_time",
        "update_time",
        "delete_time",
    }
)


@dataclass(frozen=True)
class SimilarOptions:
    min_shared: int = option(3, "non-trivial columns two tables must share")
    min_overlap: float = option(
        0.5, "shared columns over all non-trivial columns of the two tables (0-1)"
    )
    max_group: int = option(
        300, "tables with the same name stem compared pairwise at most (keeps it linear)"
    )


@rule(
    "similar-tables",
    category=INTEGRITY,
    severity=LOW,
    title="Two tables look like duplicates of each other",
    options=SimilarOptions,
)
def similar_tables(snap: Snapshot, opts: SimilarOptions) -> Iterator[Draft]:
    """Two tables of a schema whose names share their first words and whose columns
    overlap strongly: possible duplicates of one entity.

    Columns every table has (`id`, `created_at`, `updated_at`, ...) and references
    (`*_id`: children share their parents' references) do not count; of the rest, the
    two tables must share at least `min_shared`, and `min_overlap` of all they have
    between them. A pair where one table references the other (declared or inferred)
    is a parent and its child, not a duplicate. Tables named as a deliberate companion
    of another (`*_history`, Boundary's `*_hst`, `*_log`, `*_staging`, `*_stream`,
    `*_snapshots`, `*_versions`, ...) are left out, except against a new version of
    themselves (Temporal's `task_queues` and `task_queues_v2`: a version word, `v2`, is
    not part of the stem, so `tasks_v2` pairs with `tasks`), and backup copies are
    `backup-table`'s. `create_time` and `update_time` are as common as `created_at`.
    Reported on the less used table of the pair, naming the other and which of the two
    the statistics show in use. A table and one it inherits from (INHERITS), or two that
    inherit from the same table, share their columns by design and are not a pair.

    ## Why it breaks
    Two tables for one kind of thing (`lesson_plans` and `lesson_plan_drafts` with the
    same columns) split the data: each code path reads one and misses the rows in the
    other, constraints and indexes drift apart, and reports count different totals.
    Often one of them is an abandoned first version still being written by an old
    job, or a copy nobody dropped.

    ## Fix
    Decide whether they are one entity. If so, merge them (a `state` or `kind` column
    tells drafts from published rows) and drop the other; if not, the overlap is fine:
    silence the finding with the reason.

    ## Silence
    `pgvitals:ignore similar-tables <reason>` in the reported table's COMMENT.
    """
    facts = snap.facts
    related = {
        frozenset((r.table.oid, r.ref_table.oid))
        for r in (*facts.declared_references, *facts.inferred_references)
    }
    ancestors = ancestors_by_table(snap)  # a child shares its parent's columns by design
    # tables by (schema, the singular words of their name): a pair is one table's words
    # and a longer name that starts with them, found by looking up each name's prefixes
    by_stem: dict[tuple[str, tuple[str, ...]], list[Table]] = defaultdict(list)
    stems: dict[int, tuple[str, ...]] = {}
    # companions by their stem, and their new versions (`task_queues_v2`), which are
    # compared with them alone
    companions: dict[tuple[str, tuple[str, ...]], list[Table]] = defaultdict(list)
    new_companions: list[tuple[Table, tuple[str, ...]]] = []
    for table in own_tables(snap):
        stem = tuple(singular(w) for w in words(table.name))
        versioned = len(stem) > 1 and VERSION_WORD.fullmatch(stem[-1]) is not None
        if versioned:  # tasks_v2 is a version of tasks: compared as tasks
            stem = stem[:-1]
        if not stem:
            continue
        if stem[-1] not in COMPANION_WORDS:
            by_stem[(table.schema, stem)].append(table)
            stems[table.oid] = stem
        elif versioned:
            new_companions.append((table, stem))
        else:
            companions[(table.schema, stem)].append(table)
    columns: dict[int, set[str]] = {}

    def alike(one: Table, other: Table) -> Draft | None:
        if frozenset((one.oid, other.oid)) in related:
            return None
        if inheritance_related(ancestors, one.oid, other.oid):
            return None
        for table in (one, other):
            if table.oid not in columns:
                columns[table.oid] = significant_columns(snap, table)
        shared = columns[one.oid] & columns[other.oid]
        union = columns[one.oid] | columns[other.oid]
        if len(shared) < opts.min_shared or len(shared) < opts.min_overlap * len(union):
            return None
        return similar_pair(snap, one, other, sorted(shared))

    for tables in by_stem.values():
        for longer in tables:
            stem = stems[longer.oid]
            for length in range(1, len(stem) + 1):
                shorter = by_stem.get((longer.schema, stem[:length]), [])
                if len(shorter) > opts.max_group:
                    continue
                for other in shorter:
                    if other.oid == longer.oid or (length == len(stem) and other.oid < longer.oid):
                        continue  # each pair of equal stems once
                    if (pair := alike(other, longer)) is not None:
                        yield pair
    for newer, stem in new_companions:
        for older in companions.get((newer.schema, stem), []):
            if (pair := alike(older, newer)) is not None:
                yield pair


# the last word of a table's new version: `tasks_v2`
VERSION_WORD = re.compile(r"v[0-9]+")

# A table named `<entity>_history`, `<entity>_staging`, ... repeats its entity's columns
# by design: a log, a queue or a copy kept on purpose.
COMPANION_WORDS = frozenset(
    {
        "archive",
        "audit",
        "cache",
        "history",
        "hst",  # Boundary's `<entity>_hst`, kept by triggers
        "hist",
        "log",
        "queue",
        "revision",
        "snapshot",
        "staging",
        "stat",
        "stream",
        "version",
    }
)


def inheritance_related(ancestors: dict[int, frozenset[int]], first: int, second: int) -> bool:
    """Does one of the two tables inherit from the other, or both from a third?"""
    none: frozenset[int] = frozenset()
    above_first, above_second = ancestors.get(first, none), ancestors.get(second, none)
    return first in above_second or second in above_first or bool(above_first & above_second)


def significant_columns(snap: Snapshot, table: Table) -> set[str]:
    return {
        c.name
        for c in snap.columns_by_table.get(table.oid, [])
        if snake(c.name) not in TRIVIAL_COLUMNS and reference_stem(c.name) is None
    }


def similar_pair(snap: Snapshot, first: Table, second: Table, shared: list[str]) -> Draft:
    use = {t.oid: activity(snap, t) for t in (first, second)}

    def used(table: Table) -> tuple[int, int]:
        counters = use[table.oid]
        return ((counters["scans"] or 0) + (counters["writes"] or 0), counters["rows"] or 0)

    kept, other = sorted((first, second), key=used, reverse=True)
    evidence: dict[str, object] = {
        "other_table": kept.qualname,
        "shared_columns": shared,
        "this_table": use[other.oid],
        "other_table_use": use[kept.oid],
    }
    if used(kept) != used(other):
        evidence["in_use"] = kept.qualname
    return finding(
        other,
        f"Shares {len(shared)} columns with {kept.qualname}: possibly the same entity twice",
        evidence=evidence,
    )


# --- empty-string-in-not-null ---------------------------------------------------------


@dataclass(frozen=True)
class EmptyInNotNullOptions:
    medium_ratio: float = option(0.1, "share of empty rows from which it is medium")
    high_ratio: float = option(0.5, "share of empty rows from which it is high")
    min_rows: int = option(10, "rows a table needs before its share raises the severity")
    convention_columns: int = option(
        3,
        "NOT NULL columns of a schema defaulting to '' from which '' is that schema's spelling"
        " of no value, in its columns without a default too",
    )


@rule(
    "empty-string-in-not-null",
    category=INTEGRITY,
    severity=LOW,
    title="NOT NULL text column holds empty strings",
    options=EmptyInNotNullOptions,
    rows=ROWS_REQUIRED,
    needs=("empty_strings",),
)
def empty_string_in_not_null(snap: Snapshot, opts: EmptyInNotNullOptions) -> Iterator[Draft]:
    """A NOT NULL text column where rows hold `''` (or only spaces).

    Counted in the table's row scan (the data profile: exact below 100,000 rows, scaled
    from a TABLESAMPLE above, with its margin of error). Medium from a tenth of the
    rows, high from half, critical when every row is empty: the constraint then
    guarantees nothing at all. A table of fewer than `min_rows` rows stays low: two
    rows of a settings table, both `''`, are two values to fill, not a data-quality
    collapse (in Documenso, `OrganisationGlobalSettings.brandingLogo` is `''` until an
    organisation uploads a logo).

    ## Why it breaks
    NOT NULL rejects NULL only: `''` and `'   '` satisfy it. The constraint was meant to
    say "every row has a value", and the application fills the gap with an empty string
    (often a column default of `''`), so the missing values are still missing but no
    longer visible as NULL: `count(column)` counts them, `coalesce` does not replace
    them, and reports show blank names.

    ## Fix
    Decide what the empty rows mean: fill them, or allow NULL and store NULL (the fix
    names the query that finds them). Then add `CHECK (btrim(column) <> '') NOT VALID`,
    which stops new empty values at once, and `VALIDATE CONSTRAINT`. Not before the
    rows are fixed: a NOT VALID CHECK is checked on every new row version, so each
    UPDATE of a row still holding `''` fails, even one that sets another column (in
    chatbot-ui, which stores `''` on purpose, those rows would all become read-only).
    The fix looks for such rows and refuses with the reason while any remain (a DO
    block: one statement, which psql cannot half-run), else adds the CHECK.

    Where the column's default is `''`, the schema itself writes `''` when a row gives
    no value: NOT NULL was meant to keep NULL out, not to demand a value, and `''` is
    the column's declared "none" (MusicBrainz's `artist_credit_name.join_phrase`, `''`
    after the last artist of every credit). The `''` rows then weigh nothing: the
    finding is low, and only the blank rows (spaces only, which the default never
    writes) raise it, by the same shares. Its fix rejects blank values and keeps `''`
    (`CHECK (column = '' OR btrim(column) <> '')`): a CHECK against `''` would reject
    every INSERT that leaves the column to its default.

    Where the column's default is `''` and a validated CHECK of its own lets the empty
    rows through, the schema rules on this column's values and chose to allow `''`: it
    is the column's spelling of "none" (MusicBrainz's `comment` columns, `NOT NULL
    DEFAULT ''` with a whitespace CHECK, beside `name` columns whose CHECK is
    `name <> ''`). The finding
    stays low, names the CHECK, and proposes no SQL: a CHECK against `''` would reject
    the rows the application writes by design.

    Where a column has no default but `convention_columns` (3) or more NOT NULL columns
    of its schema default to `''`, the schema spells "none" as `''` throughout, and the
    application writes it in the columns that have no default as well (Go's empty
    string, which sqlc writes for every absent value: in Coder,
    `template_version_parameters.icon` and `.validation_regex` are `''` for a parameter
    without an icon or a regex, `audit_logs.resource_icon` for a resource without one,
    beside 34 columns `NOT NULL DEFAULT ''`). The `''` rows weigh nothing there either:
    low, and only blank rows raise it, with the fix that keeps `''`; a CHECK against
    `''` would make the application's inserts fail from the moment it is added.

    A column of a primary key of several columns cannot hold NULL, whatever it means:
    `''` is then the only spelling of "no value" for that part of the key (OpenFGA's
    `authorization_model (store, authorization_model_id, type)`, whose one row per
    model in the newer format has `type = ''`). Low as well, only blank rows raise it,
    and the fix keeps `''`: a CHECK against it would reject every model written.

    So is a column of a unique key of several columns (not partial): NULL there would
    let repeats past the key, since NULLs are distinct, and the upsert that relies on
    the key (`ON CONFLICT`) would insert a new row each time instead of updating one.
    Dendrite keeps account data for a whole account beside per-room data in
    `syncapi_account_data_type`, `UNIQUE (user_id, room_id, type)`, with `room_id = ''`
    for the account's own. Low, only blank rows raise it, and the fix keeps `''`.

    Descriptive free text (a name ending in `description`, `notes`, `comment`,
    `summary`, `bio`, ...) is what a row may go without: an application that declares it
    NOT NULL with no default writes `''` for "no description", and `''` in every row is
    that convention, not a constraint that failed. Low as well, with `role: descriptive
    text` in the evidence; only blank rows raise it, and the fix keeps `''`. A code, key
    or identifier column (`code`, `slug`, `tag`) or a name or title that is `''` in every
    row is still critical: that is the value the row is found or shown by.

    In a schema Django migrates (its `django_migrations` is there), `''` is the default
    of every string field the model gives none: Django writes it in Python, not as a column
    default, and its convention is `''`, not NULL, for "no value" in a `CharField(blank=True)`
    (NetBox's `dcim_cable.color`, `dcim_device.serial`, `''` in every row of a fresh
    inventory). Low as for a `''` default, with `framework_default` in the evidence; only
    blank rows raise it, and the fix keeps `''`.

    `empty-strings` leaves NOT NULL columns to this rule: one finding per column, with
    the measured share.
    """
    django_schemas = {
        table.schema
        for oid, tool in snap.facts.migration_tables.items()
        if tool == "Django" and (table := snap.table_by_oid.get(oid)) is not None
    }
    # NOT NULL columns defaulting to '' by schema: the schema's convention for "none"
    empty_defaults: dict[str, int] = defaultdict(int)
    for _, column in own_columns(snap):
        if column.not_null and EMPTY_DEFAULT.match(column.default or ""):
            empty_defaults[column.schema] += 1
    for table, column in own_columns(snap):
        if not column.not_null:
            continue
        profile = snap.facts.column_profile(table, column.name)
        if profile is None or profile.empty_strings is None:
            continue
        blank = profile.blank_strings or 0
        empty = profile.empty_strings + blank
        if not empty:
            continue
        rows = profile.rows if profile.rows is not None else snap.facts.rows(table)
        ratio = empty / rows if rows else None
        evidence: dict[str, object] = {
            "empty_strings": profile.empty_strings,
            "blank_strings": profile.blank_strings,
            "rows": rows,
            "ratio": round(ratio, 4) if ratio is not None else None,
            "default": column.default,
        }
        if profile.sampled:
            evidence.update(sampled=True, rows_examined=profile.examined)
            if "empty" in profile.margins:
                evidence["margin"] = round(profile.margins["empty"] + profile.margins["blank"], 4)
        about = "about " if profile.sampled else ""
        measured = f"{about}{empty:,} of {rows:,} rows" + (
            f" ({percent(ratio)})" if ratio is not None else ""
        )
        allowed_by = empty_allowed_by_check(snap, table, column)
        if allowed_by:
            evidence["allowed_by_check"] = allowed_by
            yield finding(
                column,
                f"NOT NULL, yet {measured} are empty or blank; its CHECK {allowed_by} lets ''"
                " through: the schema's spelling of no value",
                evidence=evidence,
            )
            continue
        if EMPTY_DEFAULT.match(column.default or ""):
            message = (
                f"NOT NULL DEFAULT '': {measured} are empty or blank, '' being its spelling of"
                " no value"
            )
            yield empty_by_default(snap, table, column, blank, rows, message, evidence, opts)
            continue
        if column.default is None and column.schema in django_schemas:
            evidence["framework_default"] = "''"
            message = (
                f"NOT NULL: {measured} are empty or blank, '' being the default Django gives"
                " a string field, its spelling of no value"
            )
            yield empty_by_default(snap, table, column, blank, rows, message, evidence, opts)
            continue
        convention = empty_defaults[column.schema]
        if convention >= opts.convention_columns:
            evidence["schema_empty_defaults"] = convention
            message = (
                f"NOT NULL: {measured} are empty or blank, '' being the schema's spelling of no"
                f" value ({convention} NOT NULL columns of {column.schema} default to '')"
            )
            yield empty_by_default(snap, table, column, blank, rows, message, evidence, opts)
            continue
        if descriptive_text(column):
            evidence["role"] = "descriptive text"
            message = (
                f"NOT NULL: {measured} are empty or blank, '' being the application's"
                " spelling of no value in optional descriptive text"
            )
            yield empty_by_default(snap, table, column, blank, rows, message, evidence, opts)
            continue
        part_of = key_holding(snap, table, column.name)
        if part_of is not None:
            field, name, because = part_of
            evidence[field] = name
            message = (
                f"NOT NULL: {measured} are empty or blank, '' being its spelling of no value"
                f" as a part of the {field.replace('_', ' ')} {name}, {because}"
            )
            yield empty_by_default(snap, table, column, blank, rows, message, evidence, opts)
            continue
        now = f"{about}{plural(empty, 'row')} {'is' if empty == 1 else 'are'} empty now"
        fix = (
            fixes.add_check_not_valid(snap, table, column, "not_blank", "btrim({}) <> ''")
            .with_note(
                f"{now}: fix them first, the CHECK is refused until then (added NOT VALID,"
                " it would fail every UPDATE of them, even of another column)"
            )
            .with_note(f"find them: {fixes.blank_rows_query(column)}")
        )
        severity = share_severity(ratio, rows, opts)
        if severity == CRITICAL and profile.sampled:
            severity = HIGH  # "every row" was not read
        every = "every row is empty: the constraint guarantees nothing"
        yield finding(
            column,
            f"NOT NULL, yet {every}"
            if severity == CRITICAL
            else f"NOT NULL, yet {measured} are empty or blank",
            evidence=evidence,
            fix=fix,
            severity=severity,
        )


# Words that end the name of free text a row may go without: a description, notes, a
# comment. Not `title`, `name` or `subject`: those are what a row is called by.
DESCRIPTIVE_WORDS = frozenset(
    {
        "about", "annotation", "annotations", "bio", "biography", "caption", "comment",
        "comments", "desc", "description", "details", "memo", "note", "notes", "remark",
        "remarks", "summary", "tagline",
    }
)  # fmt: skip


def descriptive_text(column: Column) -> bool:
    """Is the column free text describing the row (`description`, `"Notes"`,
    `short_summary`), by the last word of its name?"""
    parts = words(column.name)
    return bool(parts) and parts[-1] in DESCRIPTIVE_WORDS


def key_holding(snap: Snapshot, table: Table, column: str) -> tuple[str, str, str] | None:
    """The key of several columns that `column` is part of, as (evidence field, name,
    why NULL is no spelling of "none" there): the primary key, or else a valid unique
    index, not partial, the upsert key (`ON CONFLICT`) that a NULL part would never match."""
    primary = snap.primary_key(table)
    if primary is not None and len(primary.columns) > 1 and column in primary.columns:
        return "primary_key", primary.name, "which NULL cannot be"
    for index in snap.indexes_by_table.get(table.oid, []):
        keys = index.key_columns[: index.key_count]
        several = len(keys) > 1 and column in keys
        if several and index.is_unique and index.is_valid and not index.is_partial:
            return "unique_key", index.name, "which repeats would slip past as NULL"
    return None


def share_severity(ratio: float | None, rows: int, opts: EmptyInNotNullOptions) -> Severity | None:
    """Critical when every row is empty, high from `high_ratio`, medium from
    `medium_ratio`; the rule's own (low) below, or on a table under `min_rows` rows,
    whose share says nothing of how the column is used."""
    if ratio is None or rows < opts.min_rows:
        return None
    if ratio >= 1:
        return CRITICAL
    if ratio >= opts.high_ratio:
        return HIGH
    if ratio >= opts.medium_ratio:
        return MEDIUM
    return None


def empty_by_default(
    snap: Snapshot,
    table: Table,
    column: Column,
    blank: int,
    rows: int,
    message: str,
    evidence: dict[str, object],
    opts: EmptyInNotNullOptions,
) -> Draft:
    """A NOT NULL column whose '' is the declared "none" (its default, or its schema's
    convention): only the blank rows, which neither writes, weigh."""
    if not blank:
        return finding(column, message, evidence=evidence)
    profile = snap.facts.column_profile(table, column.name)
    about = "about " if profile is not None and profile.sampled else ""
    now = f"{about}{plural(blank, 'row')} {'is' if blank == 1 else 'are'} blank now"
    fix = (
        fixes.add_check_not_valid(snap, table, column, "not_blank", "{0} = '' OR btrim({0}) <> ''")
        .with_note(
            f"{now}: fix them first, the CHECK is refused until then (added NOT VALID,"
            " it would fail every UPDATE of them, even of another column); '' stays allowed"
        )
        .with_note(f"find them: {fixes.blank_rows_query(column, spaces_only=True)}")
    )
    severity = share_severity(blank / rows if rows else None, rows, opts)
    return finding(
        column,
        f"{message}; {about}{blank:,} of them are blank (spaces only), which '' for none never"
        " writes",
        evidence=evidence,
        fix=fix,
        severity=HIGH if severity == CRITICAL else severity,
    )


# A column default of the empty string: '', ''::text, ''::character varying
EMPTY_DEFAULT = re.compile(r"^''(::[a-z ]+)?$")


def empty_allowed_by_check(snap: Snapshot, table: Table, column: Column) -> str | None:
    """The validated CHECK of this column alone, if any, on a column whose default is ''
    and whose rows hold '': every row passed the CHECK, so it lets '' through, and the
    schema, which writes '' itself where no value is given, chose to."""
    if not EMPTY_DEFAULT.match(column.default or ""):
        return None
    for constraint in snap.constraints_by_table.get(table.oid, []):
        if constraint.kind == "c" and constraint.validated and constraint.columns == [column.name]:
            return constraint.name
    return None


# --- timestamp-as-integer -------------------------------------------------------------

# Seconds since 1970 between 2000-01-01 and 2100-01-01, and the same in finer units:
# milliseconds (JavaScript's Date.now()), microseconds (Go's time.UnixMicro(), Ente's
# now_utc_micro_seconds() defaults), nanoseconds (time.UnixNano(), still inside bigint).
# The four ranges do not overlap, so the values say which one a column counts in.
EPOCH_SECONDS = (946_684_800, 4_102_444_800)
EPOCH_UNITS = {
    unit: (EPOCH_SECONDS[0] * per_second, EPOCH_SECONDS[1] * per_second)
    for unit, per_second in (
        ("seconds", 1),
        ("milliseconds", 1_000),
        ("microseconds", 1_000_000),
        ("nanoseconds", 1_000_000_000),
    )
}
# Names that say "a point in time" on their own; `*_time` and `*_date` can be durations
# or day numbers, so for them the values must be in an epoch range. So must a bare
# `epoch`: a package's version epoch (RPM's and Debian's `epoch`, GitLab's
# packages_rpm_metadata.epoch, 0 unless a package renumbers) or a training epoch is a
# counter; `<event>_epoch` is a time.
POINT_IN_TIME = re.compile(
    r"(^|_)(at|timestamp|ts)$|_epoch$|^timestamp$|[a-z0-9](At|Timestamp|Ts)$"
)


def point_in_time_name(name: str) -> bool:
    """Does the name alone say "a point in time": POINT_IN_TIME, or a folded CamelCase
    name ending in an event and "at" (`createat`), a unit after it or not (`ts_ms`)?"""
    name = without_time_unit(name)
    return POINT_IN_TIME.search(name) is not None or joined_time_word(name) == "at"


def epoch_unit(low: int | None, high: int | None) -> str | None:
    """The unit of EPOCH_UNITS ("seconds", "milliseconds", ...) in whose epoch range every
    value lies, if any."""
    if low is None or high is None:
        return None
    for unit, (start, end) in EPOCH_UNITS.items():
        if start <= low and high <= end:
            return unit
    return None


def below_microseconds(profile: ColumnProfile) -> bool:
    """Do the smallest or largest epoch nanoseconds use digits below the microsecond?"""
    return any(
        value is not None and value % 1000 for value in (profile.min_value, profile.max_value)
    )


# The last second a signed 32-bit count of seconds since 1970 holds: 2^31 - 1.
INT4_EPOCH_END = 2**31 - 1
INT4_EPOCH_END_AT = "2038-01-19T03:14:07Z"
SECONDS_PER_YEAR = 365.25 * 86_400


@dataclass(frozen=True)
class TimestampAsIntegerOptions:
    medium_within_years: float = option(
        10, "int4 epoch seconds whose latest value is this close to 2038 make it medium"
    )
    high_within_years: float = option(
        2, "int4 epoch seconds whose latest value is this close to 2038 make it high"
    )


def int4_end(
    column: Column, unit: str | None, latest: int | None, opts: TimestampAsIntegerOptions
) -> tuple[dict[str, object], str, Severity | None]:
    """Where an int4 column of epoch seconds (by its values, or by its name alone) runs
    out, January 2038, as evidence, words and a severity by how close its latest value
    is to it; nothing for other types and units."""
    if column.type_name != "int4" or unit not in ("seconds", None):
        return {}, "", None
    evidence: dict[str, object] = {"int4_ends_at": INT4_EPOCH_END_AT}
    words = f"; int4 seconds end at {INT4_EPOCH_END_AT[:10]} (2^31 - 1)"
    if unit is None or latest is None:
        return evidence, words, None
    years = (INT4_EPOCH_END - latest) / SECONDS_PER_YEAR
    evidence["years_left_after_latest"] = round(years, 1)
    words += f", {years:.1f} years after its latest value"
    if years <= opts.high_within_years:
        return evidence, words, HIGH
    return evidence, words, MEDIUM if years <= opts.medium_within_years else None


@rule(
    "timestamp-as-integer",
    category=INTEGRITY,
    severity=LOW,
    title="Integer or text column holds points in time",
    options=TimestampAsIntegerOptions,
    rows=ROWS_OPTIONAL,
    needs=("time_values",),
)
def timestamp_as_integer(snap: Snapshot, opts: TimestampAsIntegerOptions) -> Iterator[Draft]:
    """An integer column named like a point in time (`created_at`, `*_ts`, `timestamp`,
    `sentAt`), or a text column named so, instead of `timestamptz`. An integer named for
    an expiry (`expire`, `expires`, `expiry`, as PHP session tables name it) counts where
    its values are in an epoch range: elsewhere it may be a lifetime in seconds. So does
    one named for an event's participle (`build_created`, `stageStarted`, `*_updated`,
    `*_finished`, `*_synced`) or what was last done (`last_check`, `user_last_login`), as
    Drone CI and PowerDNS name their int4 epoch seconds: a `deleted` flag of 0 and 1 or an
    `updated` count is no time.

    Unquoted CamelCase names, which PostgreSQL folds to lower case (`CreateAt` ->
    `createat`), count where an event or a participle runs into `at` (`createat`,
    `updatedat`, `expiresat`, `lastactivityat`, not `format` or `heartbeat`), and into
    `time` or `date` as `*_time` and `*_date` do (`jointime`, `lastpictureupdate`).

    Unless `--no-data`, the smallest and largest values are read in the table's row
    scan: values in the epoch range (2000-2100, in seconds, milliseconds, microseconds or
    nanoseconds) confirm it, and
    then `*_time` and `*_date` integer columns count too, and a bare `epoch`, which
    without such values is a version counter (RPM's and Debian's package epoch, 0 or a
    small number) or a training epoch, not a time. 0, which such columns hold for
    "never" (`deleteat` of a row not deleted), is left out of the range, and a column of
    only 0 is judged by its name. An integer `*_at` column whose values are outside any
    epoch range (small counters) is not reported. `clock` (`lastclock`, `r_clock`) is
    judged like `*_time`: the reading of a clock (Zabbix's `clock`) when its values are
    epoch seconds, a logical clock (a counter) otherwise.

    An `integer` (int4) column of epoch seconds runs out at 2038-01-19 03:14:07 UTC
    (2^31 - 1): writing any later time fails with "integer out of range". The evidence
    says so; the severity rises with how
    close its latest value is to that day: medium within `medium_within_years`, high
    within `high_within_years` (an expiry or schedule set in the future gets there
    first).

    Info for epoch nanoseconds whose smallest or largest value has digits below the
    microsecond (`below_microseconds`): `timestamptz` keeps microseconds, so no
    PostgreSQL type holds them exactly and converting would drop those digits (atuin's
    `store.timestamp`, "not a timestamp type, as those do not have nanosecond
    precision"). Nanoseconds that are whole microseconds convert exactly and stay low.

    ## Why it breaks
    The database cannot tell these numbers are times: no time zone, no date arithmetic
    (`+ interval '1 day'`), no `date_trunc`, no range checks, and every reader must know
    the unit (seconds or milliseconds: mixing them is a common bug, and wrong by a
    factor of 1000). Text is worse: it sorts as text, accepts any string, and compares
    wrongly across formats.

    ## Fix
    Add a `timestamptz` column filled with `to_timestamp(col)` (seconds),
    `to_timestamp(col / 1000.0)` (milliseconds) or `to_timestamp(col / 1000000.0)`
    (microseconds, which `timestamptz` keeps exactly), move readers and writers to it, and
    drop the old one; or convert in place with `ALTER COLUMN ... TYPE timestamptz USING
    to_timestamp(col)`, which rewrites the table under an ACCESS EXCLUSIVE lock.
    pgvitals offers no SQL: the unit must be confirmed first.
    """
    profiles = {(p.table_oid, p.column): p for p in snap.column_profiles}
    for table, column in own_columns(
        snap, "text", "varchar", "bpchar", "int4", "int8", "numeric", named=named_like_time
    ):
        if column.type_name in ("text", "varchar", "bpchar"):
            if point_in_time_name(column.name):
                yield finding(
                    column,
                    f"Text column named like a point in time ({column.data_type})",
                    evidence={"data_type": column.data_type},
                )
            continue
        profile = profiles.get((table.oid, column.name))
        unit = epoch_unit(profile.min_value, profile.max_value) if profile else None
        known = profile is not None and profile.min_value is not None  # values besides 0
        if not point_in_time_name(column.name) and unit is None:
            continue  # `duration_time`, `due_date` as a day number: the values must say
        if known and unit is None:
            continue  # values outside any epoch range: not times
        evidence: dict[str, object] = {"data_type": column.data_type}
        said = f"epoch {unit}" if unit else "a point in time, by its name"
        if known:
            evidence["min_value"] = profile.min_value  # type: ignore[union-attr]
            evidence["max_value"] = profile.max_value  # type: ignore[union-attr]
            evidence["epoch_unit"] = unit
        elif profile is not None and profile.max_value == 0:
            evidence["every_value"] = 0  # "never" in every row so far: the name decides
            said += " (every row holds 0)"
        latest = profile.max_value if known else None  # type: ignore[union-attr]
        end, end_words, severity = int4_end(column, unit, latest, opts)
        if profile is not None and unit == "nanoseconds" and below_microseconds(profile):
            evidence["below_microseconds"] = True
            end_words += ": finer than timestamptz, which keeps microseconds"
            severity = INFO
        yield finding(
            column,
            f"{column.data_type} column holding {said}{end_words}",
            evidence={**evidence, **end},
            severity=severity,
        )
