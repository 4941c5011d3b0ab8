"""Point each finding at the file and line where its object was defined, and keep only
what the reviewed files changed when there is a base to compare with."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from pgvitals.findings import Finding
from pgvitals.review.load import Load
from pgvitals.review.split import Statement
from pgvitals.snapshot.model import Column, Snapshot

Key = tuple[str, tuple[str, ...]]


def object_statements(snapshot: Snapshot, load: Load, new_from: int) -> dict[Key, Statement]:
    """For every object of the snapshot, the statement to point at: the one that defined
    it in the reviewed files; for an object the base defined, the last reviewed
    statement that altered it (what changed it), else where the base defined it."""
    found: dict[Key, Statement] = {}
    first_table_in: dict[str, int] = {}
    for declared in Snapshot.entities():
        for item in getattr(snapshot, declared.name):
            if not hasattr(item, "located"):
                continue
            index = statement_of(item, load, new_from)
            if index is not None and load.statements[index].file not in load.virtual_files:
                where = item.located
                found[(where.kind, where.path)] = load.statements[index]
                if where.kind == "table":
                    schema = where.path[0]
                    first_table_in[schema] = min(index, first_table_in.get(schema, index))
    # A schema the files did not create (`public`) is pointed at where they first put a
    # table in it: a finding about the schema's contents starts there.
    for schema, index in first_table_in.items():
        found.setdefault(("schema", (schema,)), load.statements[index])
    return found


def statement_of(item: object, load: Load, new_from: int) -> int | None:
    oid = getattr(item, "oid", None)
    if isinstance(item, Column):
        first = load.column_in.get((item.table_oid, item.position))
        if first is not None and first >= new_from:
            return first
        return choose(load, item.table_oid, new_from, fallback=first)
    if oid is not None and (oid in load.first_in or oid in load.last_in):
        return choose(load, oid, new_from)
    table_oid = getattr(item, "table_oid", None)  # a policy, trigger, ...: its table's place
    if table_oid is not None:
        return choose(load, table_oid, new_from)
    return None


def choose(load: Load, oid: int, new_from: int, fallback: int | None = None) -> int | None:
    first, last = load.first_in.get(oid), load.last_in.get(oid)
    if first is not None and first >= new_from:
        return first
    if last is not None and last >= new_from:
        return last
    return fallback if fallback is not None else first


def locate(findings: Iterable[Finding], places: dict[Key, Statement]) -> list[Finding]:
    """The findings with `file` and `line` set where their object's place is known."""
    located = []
    for item in findings:
        place = places.get((item.where.kind, item.where.path))
        if place is not None and item.where.file is None:
            where = dataclasses.replace(item.where, file=place.file, line=place.line)
            item = dataclasses.replace(item, where=where)
        located.append(item)
    return located


def changes(before: list[Finding], after: list[Finding]) -> tuple[list[Finding], list[Finding]]:
    """(introduced, resolved): findings after that were not there before, by fingerprint,
    and findings before that are gone."""
    old = {item.fingerprint for item in before}
    new = {item.fingerprint for item in after}
    introduced = [item for item in after if item.fingerprint not in old]
    resolved = [item for item in before if item.fingerprint not in new]
    return introduced, resolved
