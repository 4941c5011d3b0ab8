"""Quality rules: what the rows hold, from the data profile (snapshot/profile.py).

Every number here was counted by the server in one aggregate query per table: exact
on small tables, estimated from a TABLESAMPLE on large ones (then the evidence says
`estimated`, how many rows were read, and the 95 % margin of error of the ratio).
Findings carry counts and ratios, never row values.

The hygiene rules (empty strings, empty columns, NULLs, placeholders) leave backup
copies to `backup-table`; the rules about secrets and personal data read them too,
since a forgotten copy is where such data lingers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from pgvitals.fmt import percent
from pgvitals.rules._api import (
    CRITICAL,
    HIGH,
    INFO,
    LOW,
    MEDIUM,
    QUALITY,
    ROWS_OPTIONAL,
    ROWS_REQUIRED,
    Draft,
    Regroup,
    Severity,
    finding,
    option,
    rule,
)
from pgvitals.rules.design import EMPTY_DEFAULT, empty_allowed_by_check, key_holding, own_tables
from pgvitals.snapshot.facts import soft_deleted_when
from pgvitals.snapshot.model import Column, ColumnProfile, Snapshot, Table
from pgvitals.snapshot.profile import (
    DEFAULT_PLACEHOLDERS,
    DIGEST_MEASURES,
    PASSWORD_WORDS,
    credential_role,
    digests,
    name_words,
    protected,
)
from pgvitals.snapshot.words import words

# --- shared ---------------------------------------------------------------------------


def share(
    count: int, total: int, profile: ColumnProfile, measures: tuple[str, ...], noun: str
) -> str:
    """ "816 of 3,200 rows (25.5 %)", or for a sample "about 28,510 of 95,040 rows
    (30.0 % ± 0.2 %, from 9,504 rows read)"."""
    ratio = count / total if total else 0.0
    if not profile.sampled:
        return f"{count:,} of {total:,} {noun} ({percent(ratio)})"
    spread = margin_of(profile, measures, total)
    plus = f" ± {spread * 100:.1f} %" if spread is not None else ""
    read = f"{profile.examined:,}" if profile.examined is not None else "some"
    return f"about {count:,} of {total:,} {noun} ({percent(ratio)}{plus}, from {read} rows read)"


def margin_of(profile: ColumnProfile, measures: tuple[str, ...], total: int) -> float | None:
    """The 95 % margin of a ratio of `total` (a share of the rows, or of fewer: the
    filled values) that counts `measures` together: at most the sum of theirs."""
    if not profile.sampled or not all(m in profile.margins for m in measures) or not total:
        return None
    rows = profile.rows or 0
    return round(sum(profile.margins[m] for m in measures) * rows / total, 4)


def read_evidence(
    profile: ColumnProfile, measures: tuple[str, ...], total: int
) -> dict[str, object]:
    """How the numbers were obtained: rows read, and for a sample its margin of error."""
    evidence: dict[str, object] = {"rows_examined": profile.examined, "estimated": profile.sampled}
    spread = margin_of(profile, measures, total)
    if spread is not None:
        evidence["margin"] = spread
    return evidence


def profiled_columns(
    snap: Snapshot, tables: Iterable[Table]
) -> Iterator[tuple[Table, Column, ColumnProfile]]:
    for table in tables:
        for column in snap.columns_by_table.get(table.oid, []):
            profile = snap.facts.column_profile(table, column.name)
            if profile is not None and profile.rows is not None:
                yield table, column, profile


def grouped_by_table(count_key: str, says: str) -> Regroup:
    """A rule's `regroup`: per table, its per-column findings, or above the rule's
    `max_columns` of them one finding on the table that lists the columns
    (`column_names`, `count_key`), as severe as the most severe of them: a 1,600-column
    table's thousand findings of one fact bury the others. It sees only what no excuse
    covered, so an excused column (its COMMENT, an `[[ignore]]` entry) keeps its own
    finding, excused, and is neither counted nor listed."""

    def regroup(
        snap: Snapshot, opts: Any, drafts: list[Draft], default: Severity
    ) -> Iterator[Draft]:
        by_table: dict[tuple[str, ...], list[Draft]] = {}
        for draft in drafts:
            by_table.setdefault(draft.where.path[:2], []).append(draft)
        tables: dict[tuple[str, ...], Table] = {}
        for path, listed in by_table.items():
            if len(listed) <= opts.max_columns:
                yield from listed
                continue
            tables = tables or {(t.schema, t.name): t for t in snap.tables}
            yield table_of_columns(snap, tables[path], listed, opts.max_columns, default,
                                   count_key, says)  # fmt: skip

    return regroup


def table_of_columns(
    snap: Snapshot,
    table: Table,
    listed: list[Draft],
    max_columns: int,
    default: Severity,
    count_key: str,
    says: str,
) -> Draft:
    """The one finding on `table` that lists its columns' findings (`grouped_by_table`)."""
    profile = snap.facts.column_profile(table, listed[0].where.path[-1])
    rows = listed[0].evidence["rows"]
    columns = [draft.where.path[-1] for draft in listed]
    worst = max(draft.severity or default for draft in listed)
    read = f"{profile.examined:,} rows read" if profile and profile.sampled else f"{rows:,} rows"
    return finding(
        table,
        f"{len(columns):,} columns {says} {read}",
        evidence={
            "rows": rows,
            count_key: len(columns),
            "max_columns": max_columns,
            "column_names": columns,
        },
        severity=None if worst == default else worst,
    )


def data_tables(snap: Snapshot) -> Iterator[Table]:
    """Tables that hold rows of their own or through partitions, backups included."""
    return (t for t in snap.tables if t.is_regular and not t.is_partition)


def unique_columns(snap: Snapshot, table: Table) -> set[str]:
    """Columns that are a whole unique key on their own."""
    return {
        index.key_columns[0]
        for index in snap.indexes_by_table.get(table.oid, [])
        if index.is_unique and index.key_count == 1 and index.key_columns[0] is not None
    }


def checked_columns(snap: Snapshot, table: Table) -> set[str]:
    """Columns a CHECK constraint reads: their allowed values are spelled out."""
    return {
        name
        for constraint in snap.constraints_by_table.get(table.oid, [])
        if constraint.kind == "c"
        for name in constraint.columns
    }


def filled_count(profile: ColumnProfile) -> int:
    """Rows with a value: neither NULL nor '' nor blank."""
    empty = (profile.empty_strings or 0) + (profile.blank_strings or 0)
    return (profile.rows or 0) - profile.counts.get("null", 0) - empty


# Event times: NULL says "has not happened" (ended_at, paid_at, published_at), unlike the
# times every row has from its start.
STAMP_WORDS = frozenset({"created", "updated", "inserted", "modified"})


def row_stamp(column: Column) -> bool:
    """created_at, updatedAt, inserted_on: set when the row is written, so never NULL."""
    return bool(STAMP_WORDS & set(words(column.name)))


def event_time(column: Column) -> bool:
    return column.type_category == "D" and not row_stamp(column)


# the word after an event's name in its time's column: `revoked_at`, `consumedOn`
EVENT_TIME_ENDINGS = frozenset({"at", "on", "time", "date"})


def not_yet(snap: Snapshot, table: Table, column: Column) -> bool:
    """Is the column a detail of an event whose time the table keeps (`consumed_ip` beside
    `consumed`, `revoked_by` beside `revoked_at`: Authelia's identity_verification), NULL
    no more often than that time is? NULL there says the event has not happened yet."""
    parts = words(column.name)
    profile = snap.facts.column_profile(table, column.name)
    if profile is None or "null" not in profile.counts:
        return False
    for sibling in snap.columns_by_table.get(table.oid, []):
        if sibling.name == column.name or not event_time(sibling):
            continue
        stem = words(sibling.name)
        if stem and stem[-1] in EVENT_TIME_ENDINGS:
            stem = stem[:-1]
        if not stem or len(parts) <= len(stem) or parts[: len(stem)] != stem:
            continue
        event = snap.facts.column_profile(table, sibling.name)
        if event is not None and profile.counts["null"] <= event.counts.get("null", -1):
            return True
    return False


# A row's lock or lease, held by a worker while it processes the row (Graphile Worker's
# jobs.locked_by and locked_at, cleared when the job ends): NULL whenever nothing runs.
LOCK_WORDS = frozenset({"lock", "locked", "lease", "leased"})


def lock_column(column: Column) -> bool:
    """`locked_by`, `locked_at`, `lease_owner`, `lockedUntil`: the name starts with a
    lock's or a lease's word. Not Rails' `lock_version`, an optimistic lock's counter
    that every update writes."""
    parts = words(column.name)
    return bool(parts) and parts[0] in LOCK_WORDS and "version" not in parts


# --- empty-strings ----------------------------------------------------------------------


@dataclass(frozen=True)
class EmptyStringsOptions:
    min_ratio: float = option(0.01, "share of the rows that must be '' or blank to report")
    medium_ratio: float = option(0.25, "share from which it is medium")
    high_ratio: float = option(0.5, "share from which a unique column is high")
    min_rows: int = option(10, "rows a table needs before its share raises the severity")
    max_columns: int = option(
        20, "such columns of one table above which it gets one finding that lists them"
    )


@rule(
    "empty-strings",
    category=QUALITY,
    severity=LOW,
    title="Text column holds empty or blank strings",
    options=EmptyStringsOptions,
    rows=ROWS_REQUIRED,
    needs=("empty_strings", "null_counts"),
    regroup=grouped_by_table("blank_columns", "hold '' or blank strings in"),
)
def empty_strings(snap: Snapshot, opts: EmptyStringsOptions) -> Iterator[Draft]:
    """A text column where rows hold `''` or only spaces, with the count, the ratio, the
    rows read and whether it was counted or estimated.

    Low by default; medium from a quarter of the rows; high from half when the column
    is a unique key, where an empty string is what got past the constraint.
    A table of fewer than `min_rows` rows stays low, whatever its share.
    A nullable column that holds NULLs beside them is said to spell "no value" twice.
    One whose DEFAULT is `''` and that holds no NULL spells it once, as the schema
    declares (miniflux's 88 integration settings, `''` until the user fills them in): its
    `''` rows weigh nothing, and only blank rows (spaces, which the default never writes)
    raise it by the same shares.
    So does one that holds no NULL and is a part of a unique key of several columns,
    the upsert key (`ON CONFLICT`) that a NULL would slip past: Dendrite's
    `userapi_account_datas.room_id`, `''` for an account's own data under
    `UNIQUE (localpart, server_name, room_id, type)`.
    NOT NULL columns are `empty-string-in-not-null`'s, which reports the same share
    with the constraint it gets past: one fact, one finding, weighed once.
    A table with more than `max_columns` such columns gets one finding instead, on the
    table, that lists them (`column_names`, `blank_columns`), as severe as the most
    severe of them; a column excused on its own (its COMMENT, an `[[ignore]]` entry) is
    left out of it.

    ## Why it breaks
    `''` is a value: `WHERE col IS NULL` and `coalesce(col, 'unknown')` miss it,
    `count(col)` counts it, and a report groups it as its own blank category. Where
    the column also holds NULLs, every query has to test both spellings, and the
    ones that test one give wrong counts. Blank strings (`'  '`) usually come from
    forms that were not trimmed, and look empty on screen while comparing unequal.

    ## Fix
    Decide what an empty value means and store one spelling: `UPDATE ... SET col =
    NULL WHERE btrim(col) = ''` for nullable columns (trim at input), and a CHECK
    (`btrim(col) <> ''`, added NOT VALID then validated) so it stays that way.
    """
    for table in own_tables(snap):
        yield from blank_column_findings(snap, table, opts)


def blank_column_findings(
    snap: Snapshot, table: Table, opts: EmptyStringsOptions
) -> Iterator[Draft]:
    """One finding per nullable text column of the table that holds '' or blanks."""
    for _, column, profile in profiled_columns(snap, [table]):
        if column.not_null or profile.empty_strings is None or not profile.rows:
            continue  # NOT NULL: empty-string-in-not-null's
        empty = profile.empty_strings + (profile.blank_strings or 0)
        ratio = empty / profile.rows
        if not empty or ratio < opts.min_ratio:
            continue
        nulls = profile.counts.get("null", 0)
        role = "unique key" if column.name in unique_columns(snap, table) else None
        allowed_by = empty_allowed_by_check(snap, table, column)
        # DEFAULT '' and no NULL: '' is the column's one spelling of no value
        declared = not nulls and EMPTY_DEFAULT.match(column.default or "") is not None
        # no NULL in a part of a unique key of several columns: '' is the one the key sees
        keyed = None if nulls or declared else key_holding(snap, table, column.name)
        weighed = (profile.blank_strings or 0) / profile.rows if declared or keyed else ratio
        severity = None
        if profile.rows < opts.min_rows or allowed_by:
            pass  # a few rows say nothing; a CHECK that admits '' says it is meant
        elif weighed >= opts.high_ratio and role is not None:
            severity = HIGH
        elif weighed >= opts.medium_ratio:
            severity = MEDIUM
        evidence: dict[str, object] = {
            "empty_strings": profile.empty_strings,
            "blank_strings": profile.blank_strings,
            "rows": profile.rows,
            "ratio": round(ratio, 4),
            **read_evidence(profile, ("empty", "blank"), profile.rows),
        }
        if role:
            evidence["role"] = role
        if nulls:
            evidence["nulls"] = nulls
        if allowed_by:
            evidence["allowed_by_check"] = allowed_by
        also = f"; {nulls:,} more are NULL: two spellings of no value" if nulls else ""
        if declared:
            evidence["default"] = column.default
            also = "; no row is NULL: '' is its DEFAULT, its one spelling of no value"
        if keyed:
            field, name, because = keyed
            evidence[field] = name
            key = f"{field.replace('_', ' ')} {name}"
            also = f"; no row is NULL: '' is its one spelling of no value in the {key}, {because}"
        if allowed_by:
            also += f"; its CHECK {allowed_by} lets '' through"
        yield finding(
            column,
            f"{share(empty, profile.rows, profile, ('empty', 'blank'), 'rows')} are ''"
            f" or blank{also}",
            evidence=evidence,
            severity=severity,
        )


# --- all-empty-column -------------------------------------------------------------------


@dataclass(frozen=True)
class AllEmptyOptions:
    min_rows: int = option(10, "rows a table needs before an empty column means something")
    max_columns: int = option(
        20, "empty columns of one table above which it gets one finding that lists them"
    )


@rule(
    "all-empty-column",
    category=QUALITY,
    severity=LOW,
    title="Column has no value in any row",
    options=AllEmptyOptions,
    rows=ROWS_REQUIRED,
    needs=("null_counts", "empty_strings"),
    regroup=grouped_by_table("empty_columns", "have no value in any of the"),
)
def all_empty_column(snap: Snapshot, opts: AllEmptyOptions) -> Iterator[Draft]:
    """A nullable column that is NULL (or `''`, or blank) in every row of a table with
    at least `min_rows` rows.

    Soft-delete markers (`deleted_at` NULL everywhere: nothing deleted yet) are not
    reported, nor a lock's or a lease's columns (`locked_by`, `locked_at`,
    `lease_expires_at`): a worker sets them while it holds a row and clears them after,
    so they are empty whenever no job is running, whatever the application does. Times
    of events that have not happened yet (`cancelled_at`) are info, and so are the
    details written with such an event (`revoked_ip` beside `revoked`, both empty:
    Authelia's one_time_code); a detail empty where its event has times is not.
    A NOT NULL column that is `''` everywhere is `empty-string-in-not-null`'s
    (critical). On a sampled table, "every row" means every row read.
    A table with more than `max_columns` such columns (a 1,600-column table of which
    1,599 are empty) gets one finding instead, on the table, that lists them
    (`column_names`, `empty_columns`), as severe as the most severe of them: a thousand
    findings of one fact bury the others. A column excused on its own (its COMMENT's
    `pgvitals:ignore all-empty-column ...`, an `[[ignore]]` entry) is left out of it.

    ## Why it breaks
    Nothing writes the column: a feature that was never shipped or was removed, a
    migration that added it without a backfill, or an import that maps no field to it.
    Readers still select it, documentation still describes it, and a new developer
    trusts it; the day something starts writing it, old rows silently lack it.

    ## Fix
    Find out whether anything should write it. If not, drop it (after checking views,
    functions and the application); if so, backfill it and, where every row should
    have a value, add NOT NULL.
    """
    for table in own_tables(snap):
        yield from empty_column_findings(snap, table, opts)


def empty_column_findings(snap: Snapshot, table: Table, opts: AllEmptyOptions) -> Iterator[Draft]:
    """One finding per column of the table that is empty in every row."""
    for _, column, profile in profiled_columns(snap, [table]):
        if column.not_null or "null" not in profile.counts or (profile.rows or 0) < opts.min_rows:
            continue
        if filled_count(profile) > 0:
            continue
        if snap.facts.soft_delete_columns.get(table.oid) == column or lock_column(column):
            continue
        nulls = profile.counts["null"]
        empty = (profile.empty_strings or 0) + (profile.blank_strings or 0)
        evidence: dict[str, object] = {
            "rows": profile.rows,
            "nulls": nulls,
            **read_evidence(profile, ("null",), profile.rows),
        }
        if empty:
            evidence["empty_strings"] = empty
        kind = "NULL" if not empty else "NULL, '' or blank"
        rows = f"{profile.examined:,} rows read" if profile.sampled else f"{profile.rows:,} rows"
        yield finding(
            column,
            f"No value in any of the {rows}: every one is {kind}",
            evidence=evidence,
            severity=INFO if event_time(column) or not_yet(snap, table, column) else None,
        )


# --- high-null-ratio --------------------------------------------------------------------


@dataclass(frozen=True)
class HighNullOptions:
    min_ratio: float = option(0.5, "share of NULL rows to report")
    high_ratio: float = option(0.9, "share from which it is low instead of info")
    min_rows: int = option(100, "rows a table needs before its NULL ratios mean something")
    max_columns: int = option(
        20, "such columns of one table above which it gets one finding that lists them"
    )


@rule(
    "high-null-ratio",
    category=QUALITY,
    severity=LOW,
    title="Column is NULL in most rows",
    options=HighNullOptions,
    rows=ROWS_REQUIRED,
    needs=("null_counts",),
    regroup=grouped_by_table("null_columns", "are NULL in most of the"),
)
def high_null_ratio(snap: Snapshot, opts: HighNullOptions) -> Iterator[Draft]:
    """A column that is NULL in at least `min_ratio` of the rows (but not all: that is
    `all-empty-column`), in a table of at least `min_rows` rows.

    Info below `high_ratio`, low above it, and medium for a row stamp (`created_at`,
    `updatedAt`): every row has a time it was written, so NULLs there are rows whose
    writer skipped it. Times of events (`ended_at`, `paid_at`, `published_at`) and
    soft-delete markers are left out: NULL there says "not yet", by design. So are the
    details written with an event, named after its time (`consumed_ip` beside `consumed`,
    `revoked_by` beside `revoked_at`: Authelia's identity_verification), where they are
    NULL no more often than the time is.
    A table with more than `max_columns` such columns (a 1,600-column table) gets one
    finding instead, on the table, that lists them (`column_names`, `null_columns`), as
    severe as the most severe of them; a column excused on its own (its COMMENT, an
    `[[ignore]]` entry) is left out of it.

    ## Why it breaks
    A column that is mostly NULL is usually one of: an optional attribute that belongs
    in its own table (one row per entity that has it), a feature few rows use, or a
    column that an old code path or an ORM migration does not fill (`createdAt` beside
    `created_at`). Each NULL makes `=`, `<>`, `NOT IN` and aggregates behave
    differently from what readers expect, and the sparse column still costs a NULL
    bitmap per row and space in every index on it.

    ## Fix
    For a column that should be filled: backfill it, fix the writer, then add NOT
    NULL. For a genuinely optional attribute: consider moving it to a side table, or
    document what NULL means in its COMMENT.
    """
    for table in own_tables(snap):
        yield from null_column_findings(snap, table, opts)


def null_column_findings(snap: Snapshot, table: Table, opts: HighNullOptions) -> Iterator[Draft]:
    """One finding per column of the table that is NULL in most rows, not all."""
    for _, column, profile in profiled_columns(snap, [table]):
        nulls = profile.counts.get("null")
        rows = profile.rows or 0
        if nulls is None or rows < opts.min_rows or filled_count(profile) <= 0:
            continue
        ratio = nulls / rows
        if ratio < opts.min_ratio or nulls >= rows:
            continue
        if snap.facts.soft_delete_columns.get(table.oid) == column or event_time(column):
            continue
        if not_yet(snap, table, column):
            continue
        stamp = row_stamp(column)
        severity = MEDIUM if stamp else (None if ratio >= opts.high_ratio else INFO)
        evidence: dict[str, object] = {
            "nulls": nulls,
            "rows": rows,
            "ratio": round(ratio, 4),
            **read_evidence(profile, ("null",), rows),
        }
        if stamp:
            evidence["role"] = "row stamp"
        said = ": a row stamp every row should have" if stamp else ""
        yield finding(
            column,
            f"NULL in {share(nulls, rows, profile, ('null',), 'rows')}{said}",
            evidence=evidence,
            severity=severity,
        )


# --- placeholder-values -----------------------------------------------------------------


@dataclass(frozen=True)
class PlaceholderOptions:
    values: str = option(
        ",".join(DEFAULT_PLACEHOLDERS),
        "comma-separated text standing for no value, compared trimmed and in lower case"
        " (at most 63; counted while the rows are read)",
    )
    medium_ratio: float = option(0.05, "share of the values from which it is medium")
    high_ratio: float = option(0.5, "share from which a NOT NULL column is high")
    min_rows: int = option(10, "rows a table needs before the share raises the severity")


@rule(
    "placeholder-values",
    category=QUALITY,
    severity=LOW,
    title="Text column holds placeholders for missing values",
    options=PlaceholderOptions,
    rows=ROWS_REQUIRED,
    needs=("placeholders", "null_counts"),
)
def placeholder_values(snap: Snapshot, opts: PlaceholderOptions) -> Iterator[Draft]:
    """A text column whose values include `'null'`, `'undefined'`, `'N/A'`, `'none'`,
    `'-'`, `'TODO'` ... (the `values` option), compared trimmed and in lower case.

    Low; medium from `medium_ratio` of the non-NULL values; high from `high_ratio` in
    a NOT NULL column (the placeholder is what satisfied the constraint); low whatever
    the share on a table under `min_rows` rows (MusicBrainz's `release_packaging` names
    a packaging `None`, one of a handful of rows). Columns a
    CHECK constraint reads are left out: their allowed values are spelled out on
    purpose; so is a column of codes (`code`, `country_code`, `lang`) whose only
    placeholders are two or three letters, which are codes there (`na`: Nauruan,
    Namibia), and a column of a program's text (`params`, `expression`, `regex`,
    `pattern`, `query`, `script`), where `'null'` is JSON's null or a regular
    expression matching the word (Zabbix's `item_preproc.params`). Info in a column of
    labels (`label`, `caption`, `newvalue`): the text a value map shows for a value is
    what someone typed (Zabbix's `valuemap_mapping.newvalue` shows 2 as 'None').
    Info in a column of kinds (`attestation_type`, `compression_mode`, `auth_method`)
    whose only placeholder is `'none'`: there it is one of the kinds (WebAuthn's
    attestation type "none", no compression), as miniflux's
    `webauthn_credentials.attestation_type` holds it for most passkeys.
    Low whatever the share where a partial index's predicate names the column and the
    placeholder (Ente's `UNIQUE (original_transaction_id) WHERE original_transaction_id
    <> 'none'`, every free plan's 'none'): the schema knows the convention and keeps it
    out of the key; `IS NULL` still misses it.
    The placeholders named in the finding are entries of the list, not values
    read from the table. The list is applied while the rows are read (a saved snapshot
    keeps the counts for the list configured when it was taken).

    ## Why it breaks
    A placeholder is a missing value that no longer looks missing: `IS NULL` misses
    it, `count(col)` and `count(DISTINCT col)` count it, it sorts among real values,
    and the string `'null'` shows up in the user interface and in exports. It usually
    comes from serialising a JavaScript `null`/`undefined` into text, or from a form
    whose "not applicable" option was stored as text.

    ## Fix
    Replace the placeholders with NULL (`UPDATE ... SET col = NULL WHERE lower(btrim(col))
    IN (...)`, in batches on large tables), fix the writer, and keep them out with a
    CHECK (`lower(btrim(col)) NOT IN (...)`, NOT VALID then VALIDATE).
    """
    for table, column, profile in profiled_columns(snap, own_tables(snap)):
        found = profile.counts.get("placeholder")
        if not found or column.name in checked_columns(snap, table):
            continue
        if is_code_column(column.name) and all(is_code(p) for p in profile.placeholders):
            continue  # 'na' is Nauruan and Namibia, 'nil' a currency-less code
        if is_program_column(column.name):
            continue  # 'null' is JSON's null there, or a regular expression matching it
        values = (profile.rows or 0) - profile.counts.get("null", 0)
        if values <= 0:
            continue
        ratio = found / values
        severity = None
        if (profile.rows or 0) < opts.min_rows:
            pass  # one 'None' among a lookup table's two rows is likely a value there
        elif column.not_null and ratio >= opts.high_ratio:
            severity = HIGH
        elif ratio >= opts.medium_ratio:
            severity = MEDIUM
        named_by = sentinel_named_by(snap, table, column, profile.placeholders)
        if named_by is not None and severity is not None:
            severity = LOW  # the schema leaves it out of a key: a convention it knows
        label = is_label_column(column.name)
        kinds = is_kind_column(column.name) and set(profile.placeholders) == {"none"}
        if label or kinds:
            severity = INFO  # the text a value map shows for a value, or a kind named 'none'
        which = ", ".join(f"'{value}'" for value in profile.placeholders) or "placeholders"
        evidence: dict[str, object] = {
            "placeholders": list(profile.placeholders),
            "placeholder_rows": found,
            "values": values,
            "ratio": round(ratio, 4),
            **read_evidence(profile, ("placeholder",), values),
        }
        if label:
            evidence["label_column"] = True
        if kinds:
            evidence["kind_column"] = True
        if named_by is not None:
            evidence["named_by_schema"] = named_by
        yield finding(
            column,
            f"{share(found, values, profile, ('placeholder',), 'values')} are placeholders"
            f" for no value ({which})"
            + (
                f"; the schema names it ({named_by}): a convention, still not NULL"
                if named_by
                else ""
            )
            + ("; in a column of labels, likely the text shown for a value" if label else "")
            + ("; in a column of kinds, likely the kind named 'none'" if kinds else ""),
            evidence=evidence,
            severity=severity,
        )


# A string literal as PostgreSQL deparses it: 'none'::text, 'it''s'
STRING_LITERAL = re.compile(r"'((?:[^']|'')*)'")


def sentinel_named_by(
    snap: Snapshot, table: Table, column: Column, placeholders: Iterable[str]
) -> str | None:
    """The partial index whose predicate names the column and one of its placeholders:
    the schema keeps that "no value" out of a key on purpose (Ente's
    sub_original_txn_id_index, `WHERE original_transaction_id <> 'none'`, which every free
    plan holds). None if no index does."""
    wanted = set(placeholders)
    # the column in the predicate: bare (a lower-case name) or quoted, its quotes doubled
    quoted = '"' + column.name.replace('"', '""') + '"'
    mention = re.compile(rf'(?<![\w"]){re.escape(column.name)}(?![\w"])|{re.escape(quoted)}')
    indexes = snap.indexes_by_table.get(table.oid, [])
    # an index of the column itself first: the key the placeholder is kept out of
    for index in sorted(indexes, key=lambda index: column.name not in index.key_columns):
        predicate = index.predicate or ""
        if mention.search(predicate) and literal_values(predicate) & wanted:
            return f"partial index {index.name}"
    return None


def literal_values(text: str) -> set[str]:
    """The string literals in deparsed SQL, trimmed and in lower case, as placeholders are
    compared."""
    return {value.replace("''", "'").strip().lower() for value in STRING_LITERAL.findall(text)}


# The last word of a column that holds a program's text (parameters, expressions,
# patterns, queries), where 'null' is a token of its language (JSON's null, a regular
# expression matching "null": Zabbix's item_preproc.params), not a missing value.
PROGRAM_WORDS = frozenset(
    {"params", "parameters", "args", "arguments", "expression", "regex", "regexp", "pattern",
     "script", "query", "formula"}
)  # fmt: skip
# Columns of the text a value map or a form shows for a value (Zabbix's
# valuemap_mapping.newvalue maps 0 to 'Undefined', 2 to 'None'): typed by whoever set
# the map up, yet a serialised null can end up there too, so they stay listed, as info.
LABEL_NAMES = frozenset({"label", "caption", "newvalue", "new_value", "display_value"})


def is_program_column(name: str) -> bool:
    """`params`, `error_regexp`, `filterExpression`: a column of a program's text."""
    parts = words(name)
    return bool(parts) and parts[-1] in PROGRAM_WORDS


def is_label_column(name: str) -> bool:
    """`label`, `tab_caption`, `newvalue`, `newValue`: the text shown for a value."""
    parts = words(name)
    return bool(parts) and (parts[-1] in LABEL_NAMES or "_".join(parts[-2:]) in LABEL_NAMES)


# The last word of a column that names a kind, where 'none' is one of them: WebAuthn's
# attestation type "none", compression "none", authentication method "none".
KIND_WORDS = frozenset({"type", "kind", "mode", "method", "policy", "strategy", "level", "format"})


def is_kind_column(name: str) -> bool:
    """`attestation_type`, `compressionMode`, `auth_method`: a column naming a kind."""
    parts = words(name)
    return bool(parts) and parts[-1] in KIND_WORDS


# The last word of a column of short codes, where a placeholder such as 'na' is a value:
# ISO 639-1 `na` (Nauruan), ISO 3166 `NA` (Namibia).
CODE_WORDS = frozenset(
    {"code", "iso", "lang", "language", "locale", "country", "currency", "abbr", "abbreviation",
     "alpha2", "alpha3", "symbol"}
)  # fmt: skip


def is_code_column(name: str) -> bool:
    """`code`, `country_code`, `languageCode`, `iso`, `lang`: a column of short codes."""
    parts = words(name)
    return bool(parts) and (parts[-1] in CODE_WORDS or parts[0] == "iso")


def is_code(placeholder: str) -> bool:
    """A placeholder that is also a short code: two or three letters (`na`, `nan`)."""
    return placeholder.isalpha() and len(placeholder) <= 3


# --- plaintext-password -----------------------------------------------------------------


@dataclass(frozen=True)
class PlaintextOptions:
    critical_ratio: float = option(
        0.5, "share of a password column's values not hashed from which it is critical"
    )


@rule(
    "plaintext-password",
    on_library_tables=True,
    category=QUALITY,
    severity=HIGH,
    title="Password or secret column holds values that are not hashes",
    options=PlaintextOptions,
    rows=ROWS_REQUIRED,
    needs=("password_hashes",),
)
def plaintext_password(snap: Snapshot, opts: PlaintextOptions) -> Iterator[Draft]:
    """A column named like a password (`password`, `passwd`, `pwd`, `passphrase`) or a
    secret (`secret`, `token`, `api_key`, or just `key` in a table of credentials or API
    keys, as Kong's `keyauth_credentials`) whose values do not look like password hashes:
    bcrypt (`$2b$`), argon2, scrypt, yescrypt, sha-crypt (`$5$`, `$6$`), PBKDF2 (crypt,
    Django, passlib and Werkzeug formats), MediaWiki's (`:pbkdf2:`, `:argon2:`,
    `:bcrypt:`). Counted by the server; no value is read, shown or sampled, whatever the
    options.

    A password column is high, critical when at least `critical_ratio` of its values are
    not hashed, and medium when its only problem is fast digests (hex MD5/SHA, also behind
    a scheme's label as Tiny Tiny RSS writes them, `SHA1:<hex>` and `MODE2:<hex>`,
    md5-crypt, LDAP `{SHA}`, MediaWiki's old `:A:` and `:B:` MD5). A secret column is low: some
    secrets must stay readable (a webhook's signing secret, a token for calling another
    service), and a fast digest of a random token is a fine hash. Columns about a
    password rather than holding one (`*_hint`, `*_salt`, `*_reset_at`, `*_algorithm`,
    `secretProvisioning`, Drone's `secret_namespace`: the organisation a secret belongs
    to), or holding a masked copy for display (`obfuscatedToken`,
    `masked_api_key`), are left out. Where the name ends in `hash`, `digest` or `hmac`
    (`two_factor_secret_hash`), base64 strings of a digest's length (SHA-256 or BLAKE2b-256
    in 44 characters, ...) count as fast digests too; elsewhere they may be random tokens
    stored as issued. A password of another system
    (`meetingPassword`, `smtp_password`, `db_password`) is a secret: the application
    reads it to present it there. So is a password kept beside the address of the
    service it signs in to (`wallabag_password` beside `wallabag_url`, `matrixBotPassword`
    beside `matrixBotUrl`, in miniflux's `integrations`), named in `service_address`;
    not where the words before `password` name the account holder (`user_password`
    beside `user_url`). A value that only names a secret kept elsewhere (a
    Zabbix user macro `{$VMWARE.PASSWORD}`, `${DB_PASSWORD}`, `{{ vault_password }}`)
    stores none: such values are counted (`references`) but neither reported nor part of
    the ratio. Nor does a Bitwarden cipher string (`2.<iv>|<data>|<mac>`, `4.<rsa>`):
    ciphertext a client made with a key the server never holds (Vaultwarden's
    `auth_requests.master_password_hash`, `users.private_key`); such values count as
    `encrypted`, beside `password_hashes`. Nor does a secret the application encrypted
    with a key kept outside the database, as Node's `createCipheriv` writes it in hex:
    `<iv>:<ciphertext>` with a 12- or 16-byte iv, and a GCM tag after it (formbricks'
    `User.twoFactorSecret`), counted as `ciphertext`; of a password column the same values
    count as fast digests (medium), since a salted fast digest `<salt>:<sha256>` looks the
    same and neither is a password hash. A bytea column is read as its bytes: a value
    of printable ASCII is text someone typed and is judged as in a text column; raw bytes
    (a 32-byte PBKDF2 output, as in Vaultwarden's `users.password_hash`) count as
    `binary`, not reported, whatever the algorithm (so is a UTF-8 password with
    characters beyond ASCII).

    A private key is a secret whatever its column's name: PEM (`-----BEGIN RSA PRIVATE
    KEY-----`, EC, DSA, PKCS#8, OpenSSH; not `ENCRYPTED PRIVATE KEY`, sealed by a
    passphrase) or BIND's `Private-key-format:`, in text or bytea (its first bytes are
    read). PowerDNS keeps its DNSSEC keys so in `cryptokeys.content`, Drone CI its build
    machines' TLS and CA keys in `nodes.node_tls_key` and `node_ca_key`: low, counted as
    `private_keys` of the table's rows.

    ## Why it breaks
    Anyone who reads the table (a backup, a replica, a reporting role, a SQL injection,
    a support tool) reads every user's password, and since people reuse passwords, their
    other accounts too. Fast digests are little better: unsalted MD5 and SHA hashes of
    passwords are reversed by lookup tables and GPUs in hours.

    ## Fix
    Hash passwords with a slow, salted function in the application (argon2id, scrypt or
    bcrypt), re-hashing each user's password at their next sign-in and forcing a reset
    for the rest; then clear the old column. Secrets that authenticate callers to you:
    store a hash (SHA-256 of a random token is enough). Secrets you must use: encrypt
    them with a key kept outside the database.
    """
    for table, column, profile in profiled_columns(snap, data_tables(snap)):
        role = credential_role(column)
        if role is None:
            yield from private_keys(column, profile)
            continue
        if "slow_hash" not in profile.counts:
            continue
        address = service_address(snap, table, column) if role == "password" else None
        if address is not None:
            role = "secret"  # the application signs in there with it: it must read it
        filled = profile.counts.get("filled", 0)
        # slow hashes and client-side ciphertext: neither is stored as typed
        safe, fast = protected(profile.counts), digests(profile.counts)
        # the application's own ciphertext (`<iv>:<data>`): a secret it must read, kept as
        # it should be; of a password, no hash (a salted fast digest has the same shape)
        sealed = profile.counts.get("ciphertext", 0)
        fast += sealed
        counted = tuple(m for m in ("filled", *DIGEST_MEASURES) if m in profile.counts)
        # a reference ({$VMWARE.PASSWORD}) stores no secret here: only the others count
        references = profile.counts.get("reference", 0)
        stored = filled - references
        plain = max(stored - safe - fast, 0)
        hashed_well = safe + (fast if role == "secret" else 0)
        if stored <= 0 or stored <= hashed_well:
            continue
        ratio = plain / stored
        evidence: dict[str, object] = {
            "role": role,
            "values": filled,
            "not_hashed": plain,
            "fast_digests": fast,
            "password_hashes": profile.counts["slow_hash"],
            "ratio": round(ratio, 4),
            **read_evidence(profile, counted, filled),
        }
        if references:
            evidence["references"] = references
        if address is not None:
            evidence["service_address"] = address
        for measure in ("encrypted", "ciphertext", "binary"):
            if profile.counts.get(measure):
                evidence[measure] = profile.counts[measure]
        if role == "secret":
            severity: str | None = LOW
            said = "are not hashes (stored as issued)"
        elif plain:
            severity = CRITICAL if ratio >= opts.critical_ratio else None
            said = "are not password hashes: stored as typed"
        else:
            severity, plain = MEDIUM, fast
            said = "are fast digests (MD5, SHA, BLAKE2 or md5-crypt), not password hashes"
            if sealed:
                said = "are fast digests or ciphertext (`<iv>:<data>`), not password hashes"
        yield finding(
            column,
            f"{share(plain, filled, profile, counted, 'values')} {said}",
            evidence=evidence,
            severity=severity,
        )


def private_keys(column: Column, profile: ColumnProfile) -> Iterator[Draft]:
    """A column not named as a credential whose values are private keys as issued: a
    secret the application must read, low as the other secrets."""
    keys = profile.counts.get("private_key", 0)
    if not keys:
        return
    rows = profile.rows or 0
    measured = ("private_key",)
    yield finding(
        column,
        f"{share(keys, rows, profile, measured, 'rows')} hold a private key as issued"
        " (PEM or BIND's Private-key-format)",
        evidence={"role": "secret", "private_keys": keys, **read_evidence(profile, measured, rows)},
        severity=LOW,
    )


# The last word of a column holding where a service is reached ...
ADDRESS_WORDS = frozenset({"url", "uri", "host", "hostname", "server", "endpoint"})
# ... and first words that name the holder of the account, not a service
HOLDER_WORDS = frozenset(
    {"user", "account", "admin", "member", "customer", "owner", "login", "person", "staff",
     "employee"}
)  # fmt: skip


def service_address(snap: Snapshot, table: Table, column: Column) -> str | None:
    """The column beside `column` holding the address of the service its password signs
    in to: `wallabag_url` for `wallabag_password`, `matrixBotUrl` for `matrixBotPassword`.
    None where no word comes before the password's, or the first names its holder."""
    parts = name_words(column.name)
    at = next((i for i, part in enumerate(parts) if part in PASSWORD_WORDS), 0)
    service = parts[:at]
    if not service or service[0] in HOLDER_WORDS:
        return None
    for other in snap.columns_by_table.get(table.oid, []):
        other_parts = name_words(other.name)
        if other_parts[:-1] == service and other_parts[-1] in ADDRESS_WORDS:
            return other.name
    return None


# --- pii-inventory ----------------------------------------------------------------------

# kind -> what a name must end with (words, then neutral suffixes) to hold it
PII_NAMES = {
    "email": (("email",), ("e", "mail"), ("mail",), ("from", "address"), ("to", "address"),
              ("sender", "address"), ("recipient", "address"), ("bounce", "address"),
              ("reply", "address"), ("cc", "address"), ("bcc", "address")),
    "phone": (("phone",), ("mobile",), ("telephone",), ("tel",), ("fax",), ("cellphone",)),
    "birth_date": (("dob",), ("birthday",), ("birthdate",), ("birth", "date"),
                   ("date", "of", "birth"), ("born", "on")),
    "ip_address": (("ip",), ("ip", "address"), ("ipaddress",), ("ip", "addr"), ("ipaddr",)),
    "national_id": (("ssn",), ("social", "security", "number"), ("national", "id"),
                    ("nino",), ("passport", "number"), ("passport", "no"), ("tax", "id")),
    "address": (("address",), ("street",), ("postcode",), ("postal", "code"),
                ("zip", "code"), ("zipcode",), ("home", "address")),
    "person_name": (("first", "name"), ("last", "name"), ("full", "name"), ("surname",),
                    ("given", "name"), ("family", "name"), ("firstname",), ("lastname",),
                    ("fullname",)),
}  # fmt: skip
# words after the kind that keep its meaning: `email_address`, `phone_number`, `mobile_2`,
# `address_line1`
NEUTRAL_TAIL = frozenset(
    {"address", "addr", "number", "num", "no", "nr", "primary", "1", "2", "3", "line", "line1",
     "line2", "line3"}
)  # fmt: skip
LABELS = {
    "email": "e-mail",
    "phone": "phone",
    "birth_date": "birth date",
    "ip_address": "IP address",
    "national_id": "national id",
    "address": "address",
    "person_name": "person's name",
}
SHAPE_KINDS = {
    "email": "email",
    "phone": "phone",
    "ip_address": "ip_address",
    "national_id": "national_id",
}
# type categories a kind can be stored as: strings (and citext), dates, network addresses
KIND_CATEGORIES = {"birth_date": ("D", "S")}
# a host's address; `cidr` holds networks (an IPAM's 10.0.0.0/16), no one's address
NETWORK_TYPES = frozenset({"inet"})


# the last word of every ending: a name ending in none of them holds no kind (most don't)
LAST_WORDS = frozenset(end[-1] for endings in PII_NAMES.values() for end in endings)


@cache  # schemas repeat their column names (`email`, `created_at`) table after table
def pii_by_name(name: str, type_name: str, type_category: str) -> str | None:
    """The kind of personal data a column's name and type say it holds."""
    if type_name in NETWORK_TYPES:
        return "ip_address"
    return pii_kind_of_name(name, type_category)


def pii_kind_of_name(name: str, type_category: str) -> str | None:
    parts = name_words(name)
    names = [tuple(parts)]  # `home_address`, and `phone` of `phone_number`
    while parts and parts[-1] in NEUTRAL_TAIL:
        parts.pop()
        names.append(tuple(parts))
    if not any(name and name[-1] in LAST_WORDS for name in names):
        return None
    for kind, endings in PII_NAMES.items():
        if type_category not in KIND_CATEGORIES.get(kind, ("S",)):
            continue
        if any(
            name[-len(end) :] == end and (end != ("address",) or postal(name))
            for name in names
            for end in endings
            if name
        ):
            return kind
    return None


# Words before `address` that make it a place where a person lives, works or is billed.
# Other `*_address` columns are a machine's: a relay's or a server's URL (Coder's
# replicas.relay_address), a MAC, a wallet or a contract address (a pseudonymous account
# id, like a user id: not reported by name), or an IP, which `*_ip_address` and the
# values' shape find.
POSTAL_QUALIFIERS = frozenset(
    {"home", "billing", "shipping", "mailing", "postal", "street", "delivery", "residential",
     "residence", "work", "business", "physical", "contact", "permanent", "current",
     "previous", "correspondence", "invoice", "office", "pickup", "registered", "legal",
     "user", "customer", "member", "patient", "employee", "student", "person", "guardian",
     "parent", "billto", "shipto"}
)  # fmt: skip


def postal(name: tuple[str, ...]) -> bool:
    """Is a name ending in `address` a person's postal address: `address` alone, or after a
    word of POSTAL_QUALIFIERS (`billing_address`, not `relay_address`)?"""
    return len(name) < 2 or name[-2] in POSTAL_QUALIFIERS


@dataclass(frozen=True)
class PiiOptions:
    min_share: float = option(0.8, "share of a column's values with one shape to count it")
    min_values: int = option(5, "values a column needs before its shape is judged")


@rule(
    "pii-inventory",
    on_library_tables=True,
    category=QUALITY,
    severity=INFO,
    title="Table holds personal data",
    options=PiiOptions,
    rows=ROWS_OPTIONAL,
    needs=("value_shapes", "password_hashes"),
)
def pii_inventory(snap: Snapshot, opts: PiiOptions) -> Iterator[Draft]:
    """Per table, the columns that hold personal data: e-mail addresses, phone numbers,
    IP addresses, birth dates, national ids (US SSN, UK NI number), postal addresses and
    people's names. A name ending in `address` is a postal address alone or after a word
    that says whose or what for (`billing_address`, `home_address`, `customer_address`);
    other `*_address` columns are a machine's (`relay_address`, `mac_address`,
    `wallet_address`: a pseudonymous account id, like a user id) and count only where
    their values are shaped like e-mail or IP addresses, and so does an `address` in a
    table with a `port` column (Zabbix's `ha_node`: host and port a server listens
    on). (Passwords and tokens are
    `plaintext-password`'s and `sensitive-columns-exposed`'s: secrets, not facts about a
    person.)

    Found by name and type (`email`, `guardian_phone`, `date_of_birth`, `inet`; not
    `cidr`, which holds networks, the ranges an IPAM such as NetBox allocates), and,
    unless `--no-data`, by the shape of the values: at least `min_share` of a text
    column's values shaped like an e-mail address, a formatted phone number, an IP
    address or a national id (counted by the server). Info; low when a column holds
    personal data that its name does not show (`"user"` full of e-mail addresses): the
    ones that are forgotten when a user asks to be erased.

    ## Why it breaks
    Privacy law (GDPR, CCPA, HIPAA) makes you answer where each person's data is, copy
    it out on request and erase it everywhere; breach notification depends on what the
    breached tables held. An inventory nobody keeps up misses the backup copy, the log
    table and the column whose name hides what it holds.

    ## Fix
    Record each column's classification where the team sees it (`COMMENT ON COLUMN ...
    IS 'pii: email'`), restrict who may read it (column privileges, row-level security,
    a view without the column), include it in erasure and export jobs, and drop copies
    that hold it without a reason.
    """
    with_values = snap.collection.data_profiled
    for table in data_tables(snap):
        found: dict[str, dict[str, object]] = {}
        columns = snap.columns_by_table.get(table.oid, [])
        for column in columns:
            named = pii_by_name(column.name, column.type_name, column.type_category)
            if named is None and not with_values:
                continue  # most columns, and nothing else tells without their values
            if named == "address" and any(other.name.lower() == "port" for other in columns):
                named = None  # `address` beside `port`: where a server listens, not a street
            profile = snap.facts.column_profile(table, column.name) if with_values else None
            if named is None and profile is None:
                continue  # most columns
            shaped, value_share = shape_of(profile, opts) if profile is not None else (None, 0.0)
            if named is None and shaped is None:
                continue
            if named == "address" and shaped == "email":
                named = shaped  # an address the values show to be an e-mail address
            entry: dict[str, object] = {"kind": named or shaped}
            if named and shaped == named:
                entry["by"] = "name and values"
            elif named:
                entry["by"] = "type" if column.type_name in NETWORK_TYPES else "name"
            else:
                entry["by"] = "values"
            if shaped is not None:
                entry["share"] = round(value_share, 4)
            found[column.name] = entry
        if not found:
            continue
        hidden = [name for name, entry in found.items() if entry["by"] == "values"]
        described = ", ".join(
            f"{name} ({LABELS[str(entry['kind'])]}"
            + (f", by its values: {percent(float(entry['share']))}" if name in hidden else "")  # type: ignore[arg-type]
            + ")"
            for name, entry in found.items()
        )
        yield finding(
            table,
            f"Personal data in {len(found)} column{'s' if len(found) > 1 else ''}: {described}",
            evidence={"columns": found, "by_values": with_values},
            severity=LOW if hidden else None,
        )


# The last word of a table that records what happened: its rows describe the past of the
# row they reference, which stays true after that row is (soft-)deleted.
RECORD_WORDS = frozenset(
    {"history", "histories", "log", "logs", "audit", "audits", "change", "changes", "event",
     "events", "stat", "stats", "statistics", "archive", "archived", "archives"}
)  # fmt: skip


# A table that holds what was deleted, named by its last word (`trash`, `recycle_bin`,
# `file_tombstones`) or its first (`deleted_files`): a row is put there because the row it
# references was soft-deleted (Ente's trash, one row per file removed from an album,
# referencing the collection_files row marked is_deleted), so pointing at a deleted
# parent is what a live row of it means.
DELETED_HOLDER_LAST = frozenset(
    {"trash", "trashed", "recyclebin", "tombstone", "tombstones", "graveyard"}
)  # not a bare `bin`: a warehouse's storage_bin holds stock
DELETED_HOLDER_FIRST = frozenset({"deleted", "trashed", "removed"})


def holds_the_deleted(table: Table) -> bool:
    """Is the table named as a trash, a recycle bin or a list of deleted rows?"""
    parts = words(table.name)
    return bool(parts) and (
        parts[-1] in DELETED_HOLDER_LAST
        or "".join(parts[-2:]) in DELETED_HOLDER_LAST
        or parts[0] in DELETED_HOLDER_FIRST
    )


def records_the_past(table: Table) -> bool:
    """Is the table named as a history, a log or an audit trail (its last word)?"""
    parts = words(table.name)
    return bool(parts) and parts[-1] in RECORD_WORDS


def shape_of(profile: ColumnProfile, opts: PiiOptions) -> tuple[str | None, float]:
    """The shape most of a column's values have, and its share of them."""
    filled = profile.counts.get("filled", 0)
    if filled < opts.min_values:
        return None, 0.0
    best = max(SHAPE_KINDS, key=lambda shape: profile.counts.get(shape, 0))
    value_share = profile.counts.get(best, 0) / filled
    return (SHAPE_KINDS[best], value_share) if value_share >= opts.min_share else (None, 0.0)


# --- soft-delete-orphans ----------------------------------------------------------------


@dataclass(frozen=True)
class SoftOrphanOptions:
    min_rows: int = option(1, "live rows under soft-deleted parents needed to report")


@rule(
    "soft-delete-orphans",
    category=QUALITY,
    severity=LOW,
    title="Live rows belong to soft-deleted parents",
    options=SoftOrphanOptions,
    rows=ROWS_REQUIRED,
    needs=("soft_delete_orphans",),
)
def soft_delete_orphans(snap: Snapshot, opts: SoftOrphanOptions) -> Iterator[Draft]:
    """Rows that are live (the table has no soft-delete column, or theirs is not set)
    while the row they reference (by a foreign key, or a reference inferred from names)
    is soft-deleted: `deleted_at` set, or `is_deleted` true.

    Low; medium when the schema says the child should not outlive its parent: the
    foreign key is `ON DELETE CASCADE` or `SET NULL` (a hard delete would have removed
    or detached these rows), or the child soft-deletes its own rows and these were not.
    Not reported, unless the schema says so, from a table named as a record of the past
    (`*_history`, `*_log`, `*_audit`, `*_changes`, `*_events`, `*_stats`: Coder's
    user_status_changes, workspace_agent_stats): what happened to a user or a workspace
    stays true after it is deleted, and is kept for that. Never reported from a table
    named as a holder of deleted rows (`trash`, `recycle_bin`, `*_tombstones`,
    `deleted_*`: Ente's trash references the collection_files row each of its rows
    moved out of the album): a row is there because its parent was deleted.
    Counted exactly below 100,000 rows, in a TABLESAMPLE of the child above.

    ## Why it breaks
    A soft delete is an UPDATE: foreign keys and their ON DELETE actions never see it,
    so nothing keeps the children consistent. The application hides the deleted parent
    but still lists its children (lessons of a teacher who left, orders of a closed
    account), counts them in totals, and may send notifications about them; a join that
    filters `deleted_at IS NULL` on one side only gives different answers than one
    that filters both.

    ## Fix
    Decide per relationship what a soft delete means for the children, then make the
    database do it: soft-delete them in the same transaction (a trigger on the parent's
    marker, or the application's delete routine), or hide them through a view that
    joins the live parents. Clean up the rows already orphaned.
    """
    facts = snap.facts
    constraints = {(c.table_oid, tuple(c.columns)): c for c in snap.constraints if c.kind == "f"}
    for count in snap.soft_delete_orphans:
        if count.status != "ran" or (count.orphan_rows or 0) < opts.min_rows:
            continue
        table = snap.table_by_oid.get(count.table_oid)
        parent = snap.table_by_oid.get(count.ref_table_oid)
        column = facts.column_by_name.get((count.table_oid, count.columns[0]))
        if table is None or parent is None or column is None or holds_the_deleted(table):
            continue  # a trash's rows point at deleted parents: that is why they are there
        fk = constraints.get((count.table_oid, tuple(count.columns)))
        own = facts.soft_delete_columns.get(table.oid)
        reasons = []
        if fk is not None and fk.on_delete in ("c", "n"):
            action = "CASCADE" if fk.on_delete == "c" else "SET NULL"
            reasons.append(f"its foreign key is ON DELETE {action}")
        if own is not None and soft_deleted_when(own) is not None:
            reasons.append(f"it soft-deletes its own rows ({own.name})")
        if not reasons and records_the_past(table):
            continue  # a history outlives its subject on purpose
        orphans, checked = count.orphan_rows or 0, count.checked_rows or 0
        evidence: dict[str, object] = {
            "parent": parent.qualname,
            "parent_marker": count.marker,
            "orphan_rows": orphans,
            "checked_rows": checked,
            "estimated": count.sampled,
            "declared": fk is not None,
        }
        if fk is not None:
            evidence["constraint"] = fk.name
        if reasons:
            evidence["expected_to_follow"] = reasons
        about = "about " if count.sampled else ""
        yield finding(
            column,
            f"{about}{orphans:,} live rows point at {parent.qualname} rows soft-deleted"
            f" through {count.marker}" + (f" ({'; '.join(reasons)})" if reasons else ""),
            evidence=evidence,
            severity=MEDIUM if reasons else None,
        )
