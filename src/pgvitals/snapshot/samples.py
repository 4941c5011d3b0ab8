"""`check --show-samples`: up to three example rows per quality finding, read on request.

The snapshot and the data profile hold counts only. When the user asks for examples,
this reads a few affected rows after the analysis, each query under the per-table
budget, and returns them for the report (never for the snapshot, which may be saved or
kept in the history). Each example names its row by primary key (or ctid) and shows
the value where the value is the point (a placeholder, an e-mail address in a column
named otherwise). Values of password and secret columns are never read.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg import sql

from pgvitals.findings import Finding
from pgvitals.snapshot.model import Snapshot, Table
from pgvitals.snapshot.profile import condition, parameters, quote_identifier

LIMIT = 3
SHOWN_CHARACTERS = 60
NOTE = "row values read because --show-samples was given"
# Rule -> the measures whose rows it is about, and whether the value itself is shown
COLUMN_SAMPLES: dict[str, tuple[tuple[str, ...], bool]] = {
    "empty-strings": (("empty", "blank"), True),
    "empty-string-in-not-null": (("empty", "blank"), True),
    "high-null-ratio": (("null",), False),
    "placeholder-values": (("placeholder",), True),
}


def sample_queries(
    snap: Snapshot, tables: dict[tuple[str, str], Table], item: Finding
) -> list[tuple[str, str | None]]:
    """(query, column shown or None) reading the examples of one finding."""
    fields = item.where.fields()
    table = tables.get((fields["schema"] or "", fields["table"] or ""))
    if table is None:
        return []
    if item.rule in COLUMN_SAMPLES and fields["column"]:
        measures, shown = COLUMN_SAMPLES[item.rule]
        test = " OR ".join(f"({condition(m, fields['column'])})" for m in measures)
        return [(rows_query(snap, table, test, fields["column"] if shown else None), None)]
    if item.rule == "pii-inventory":
        hidden = [
            (name, entry["kind"])
            for name, entry in item.evidence.get("columns", {}).items()
            if entry.get("by") == "values"
        ]
        return [
            (rows_query(snap, table, condition(kind, name), name), name) for name, kind in hidden
        ]
    if item.rule == "soft-delete-orphans" and fields["column"]:
        return [(orphans_query(snap, table, item), None)]
    return []


def key_of(snap: Snapshot, table: Table, alias: str) -> str:
    """The row's primary key as `col=value, ...` text, else its ctid."""
    key = snap.primary_key(table)
    if key is None:
        return f"'ctid=' || {alias}.ctid::pg_catalog.text"
    parts = [
        f"{sql.quote(name + '=')}"
        f" || coalesce({alias}.{quote_identifier(name)}::pg_catalog.text, 'NULL')"
        for name in key.columns
    ]
    return " || ', ' || ".join(parts)


def rows_query(snap: Snapshot, table: Table, test: str, shown: str | None) -> str:
    value = "NULL::pg_catalog.text"
    if shown is not None:
        value = (
            f"pg_catalog.left(pgvitals_row.{quote_identifier(shown)}::pg_catalog.text,"
            f" {SHOWN_CHARACTERS + 1})"
        )
    return (
        f"SELECT {key_of(snap, table, 'pgvitals_row')} AS row, {value} AS value"
        f" FROM {quote_identifier(table.schema)}.{quote_identifier(table.name)} AS pgvitals_row"
        f" WHERE {test} LIMIT {LIMIT}"
    )


def orphans_query(snap: Snapshot, table: Table, item: Finding) -> str:
    count = next(
        c
        for c in snap.soft_delete_orphans
        if c.table_oid == table.oid and c.columns[0] == item.where.fields()["column"]
    )
    parent = snap.table_by_oid[count.ref_table_oid]
    marker = snap.facts.column_by_name[(parent.oid, count.marker)]
    deleted = "IS TRUE" if marker.type_name == "bool" else "IS NOT NULL"
    matches = " AND ".join(
        f"p.{quote_identifier(k)} = c.{quote_identifier(c)}"
        for c, k in zip(count.columns, count.ref_columns, strict=True)
    )
    return (
        f"SELECT {key_of(snap, table, 'c')} AS row, NULL::pg_catalog.text AS value"
        f" FROM {quote_identifier(table.schema)}.{quote_identifier(table.name)} AS c"
        f" JOIN {quote_identifier(parent.schema)}.{quote_identifier(parent.name)} AS p"
        f" ON {matches} WHERE p.{quote_identifier(count.marker)} {deleted} LIMIT {LIMIT}"
    )


def shown(value: str | None) -> str | None:
    if value is None:
        return None
    return repr(value[:SHOWN_CHARACTERS]) + ("…" if len(value) > SHOWN_CHARACTERS else "")


def read_samples(
    connection: psycopg.Connection, snap: Snapshot, findings: Iterable[Finding], per_query_ms: int
) -> dict[str, dict[str, Any]]:
    """Fingerprint -> the `samples` evidence of each finding that has examples."""
    placeholders = (snap.collection.profile or {}).get("placeholders", [])
    params = parameters(placeholders)
    found: dict[str, dict[str, Any]] = {}
    tables = {(t.schema, t.name): t for t in snap.tables}
    connection.execute(sql.SQL("SET statement_timeout = {}").format(per_query_ms))
    try:
        for item in findings:
            rows: list[dict[str, str | None]] = []
            skipped = None
            for query, column in sample_queries(snap, tables, item):
                try:
                    with connection.cursor() as cursor:
                        cursor.execute(query, params)
                        result = cursor.fetchall()
                except psycopg.Error as error:
                    if connection.broken:
                        raise
                    skipped = str(error).strip().splitlines()[0]
                    continue
                for row, value in result:
                    entry = {"row": row}
                    if value is not None or column is not None:
                        entry["value"] = shown(value)
                    if column is not None:
                        entry["column"] = column
                    rows.append(entry)
            if rows or skipped:
                found[item.fingerprint] = {"note": NOTE, "rows": rows[:LIMIT]}
                if skipped:
                    found[item.fingerprint]["not_read"] = skipped
    finally:
        if not connection.broken:
            connection.execute("RESET statement_timeout")
    return found
