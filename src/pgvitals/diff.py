"""Compare two runs of pgvitals: what was fixed, what regressed, what drifted.

- Findings are matched by fingerprint (rule, kind and path of names: stable across runs
  and databases): new, resolved, changed (severity) and unchanged. A finding is resolved
  only when its rule ran again and read its object; otherwise it is "not rechecked".
- Schema drift compares two snapshots, entity by entity as the Snapshot declares them
  (`Snapshot.entities()`: a kind added later is compared too), matched by their path of
  names; renames are found by OID on one database, and across databases by their shape
  (a table by its columns, a column by its definition within its table).
- Statistics deltas need two snapshots of one database: growth, dead tuples, writes and
  scans per day over the interval, and indexes that started or stopped being used, with
  the interval stated and counter resets in between detected.

A baseline (`check --baseline`) is the same comparison with a saved report. Nothing here
reads a database or formats text: the command line loads the sides, render/diff.py
prints the result.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pgvitals import __version__
from pgvitals.findings import Finding, Severity, severity_rank
from pgvitals.fmt import parse_timestamp, span
from pgvitals.report import REPORT_FORMAT, Baseline, Report
from pgvitals.snapshot import io
from pgvitals.snapshot.model import (
    SNAPSHOT_FORMAT,
    Column,
    Entity,
    ServerInfo,
    Snapshot,
    Table,
    View,
)

DIFF_FORMAT = "pgvitals-diff/1"
REPORT, SNAPSHOT, LIVE, HISTORY = "report", "snapshot", "live", "history"
ADDED, REMOVED, CHANGED, RENAMED = "added", "removed", "changed", "renamed"

# Fields that are not schema: statistics, sizes and physical positions change without any
# DDL. Object identifiers (`oid`, `*_oid`) are left out too: they differ between databases.
# A kind of object added later compares every other field; name its statistics here.
NOT_SCHEMA = frozenset(
    {
        "rows_estimate", "pages", "table_bytes", "total_bytes", "bytes", "frozen_xid_age",
        "seq_scan", "seq_tup_read", "idx_scan", "idx_tup_read", "idx_tup_fetch",
        "n_tup_ins", "n_tup_upd", "n_tup_del", "n_tup_hot_upd", "n_live_tup", "n_dead_tup",
        "n_mod_since_analyze", "n_ins_since_vacuum", "last_vacuum", "last_autovacuum",
        "last_analyze", "last_autoanalyze", "vacuum_count", "autovacuum_count",
        "analyze_count", "autoanalyze_count", "null_frac", "n_distinct", "last_idx_scan",
        "last_value", "readable", "calls", "total_time", "self_time", "position",
        "avg_width", "object_count", "frozen_mxid_age", "correlation",
    }
)  # fmt: skip
# Fields that restate another one, per class: compared through that one. An index's node
# trees hold OIDs, and its definition names the index and its table (a rename would show
# as a change of definition): its keys, predicate and method say the same exactly.
RESTATED: dict[str, frozenset[str]] = {
    "Column": frozenset({"type_name", "type_category"}),  # follow data_type
    "Constraint": frozenset(
        {"columns", "ref_schema", "ref_table", "ref_columns", "on_delete", "on_update"}
    ),  # all in its definition
    "Index": frozenset({"key_columns", "expressions", "predicate_tree", "definition"}),
    "Policy": frozenset({"using_tree", "with_check_tree"}),  # OIDs; `using` says the same
    "Function": frozenset({"arguments"}),  # part of its name: another signature is a rename
    "Aggregate": frozenset({"arguments"}),  # as a function's
    "CompositeType": frozenset({"attribute_type_oids"}),  # OIDs: attribute_types say it
}
# Fields None where the collector could not read them (a locked table): unknown, not empty.
UNREAD_AS_NONE: dict[str, frozenset[str]] = {
    "Constraint": frozenset({"definition"}),
    "Index": frozenset({"predicate", "key_definitions"}),
}
# Shown with an object added, removed or changed, for a reader (not compared itself).
SHOWN = {"Index": "definition", "Constraint": "definition", "Column": "data_type"}
# The fields that name an object: compared through its path of names.
NAME_FIELDS = frozenset({"schema", "table", "name"})
# Within one database, what identifies an object whatever its name, by the fields it has.
PHYSICAL_KEYS = (("oid",), ("table_oid", "position"))
# Schemas PostgreSQL brings. Their functions are collected when a view or a policy calls
# them (now(), timezone()): one appears beside the first view that calls it, and that is
# nobody's DDL, so its coming or going is no drift.
SYSTEM_SCHEMAS = frozenset({"pg_catalog", "information_schema"})
# Below PostgreSQL's FirstNormalObjectId an OID is built in: the same on every database.
FIRST_USER_OID = 16384
# In a stored node tree: a key and its number, or its list of OIDs ("(o 23 16746)").
TREE_NUMBER = re.compile(r"(:(\w+) )(-?\d+|\(o[ \d]*\))")
# A constant of 4 bytes whose value is an OID: an enum label (a user type), or of the
# reg* types that name an object ('t'::regclass). Its bytes are written as signed chars
# (-2 for 254) and read here little-endian.
TREE_OID_CONSTANT = re.compile(
    r"(\{CONST :consttype (\d+) [^{}]*?:constvalue 4 \[ )"
    r"(-?\d+) (-?\d+) (-?\d+) (-?\d+)( 0 0 0 0)? \]"
)
OID_ALIAS_TYPES = frozenset({24, 2202, 2203, 2204, 2205, 2206, 3734, 3769, 4089, 4096, 4191})
SQLITE_HEADER = b"SQLite format 3\x00"  # the first bytes of every SQLite database file
# Below this interval "no scans in the interval" says nothing about an index.
MIN_DAYS_FOR_STOPPED = 1.0
COUNTERS = ("n_tup_ins", "n_tup_upd", "n_tup_del", "seq_scan", "idx_scan")


class BadInput(Exception):
    """A file to compare is not a pgvitals report or snapshot (exit code 2)."""


# --- the two sides -------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a report, and the snapshot it was made from when known."""

    label: str  # as the user named it: a file, a connection (no password), a history run
    source: str  # report, snapshot, live, history
    report: Report
    snapshot: Snapshot | None = None

    def to_json(self) -> dict[str, Any]:
        server = self.snapshot.server if self.snapshot else None
        return {
            "label": self.label,
            "source": self.source,
            "database": self.report.target.database,
            "server_version": self.report.target.server_version,
            "collected_at": self.report.target.collected_at,
            "stats_reset": self.report.target.stats_reset,
            "system_identifier": server.system_identifier if server else None,
            "has_snapshot": self.snapshot is not None,
        }


def read_file(path: Path) -> Report | Snapshot:
    """A saved report or snapshot, told apart by its `format`."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise BadInput(f"cannot read {path}: {error.strerror}") from None
    if raw.startswith(SQLITE_HEADER):  # what `check --history` keeps runs in
        raise BadInput(
            f"{path} is a history, not a run: compare a database with its kept run by "
            f"`pgvitals diff DSN --since AGE --history {path}`"
        )
    try:
        data = json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BadInput(f"{path} is not JSON ({error})") from None
    kind = data.get("format") if isinstance(data, dict) else None
    if kind == SNAPSHOT_FORMAT:
        try:
            return io.from_dict(data)
        except io.BadSnapshot as error:
            raise BadInput(f"{path}: {error}") from None
    if kind == REPORT_FORMAT:
        return read_report(data, path)
    raise BadInput(f"{path} is neither a {REPORT_FORMAT} nor a {SNAPSHOT_FORMAT} file")


def read_report(data: dict[str, Any], path: Path | str) -> Report:
    try:
        return Report.from_json(data)
    except (KeyError, TypeError, ValueError) as error:
        raise BadInput(f"{path} is not a complete {REPORT_FORMAT} file ({error!r:.80})") from None


def read_baseline(path: Path) -> Report:
    loaded = read_file(path)
    if not isinstance(loaded, Report):
        raise BadInput(f"{path} is a snapshot; a baseline is a report (check -o FILE.json)")
    return loaded


# --- findings ------------------------------------------------------------------------


@dataclass(frozen=True)
class FindingChange:
    """The same finding on both sides, at another severity."""

    before: Finding
    after: Finding

    @property
    def worsened(self) -> bool:
        return self.after.severity > self.before.severity

    def to_json(self) -> dict[str, Any]:
        return {
            "before_severity": self.before.severity.value,
            "after_severity": self.after.severity.value,
            "worsened": self.worsened,
            "finding": self.after.to_json(),
        }


@dataclass(frozen=True)
class FindingsDiff:
    new: list[Finding]
    resolved: list[Finding]
    changed: list[FindingChange]
    unchanged: list[Finding]  # as the second side has them
    not_rechecked: list[Finding]  # gone, but their rule did not run (or skipped the object)
    excused: list[Finding]  # gone because the second side excuses them

    @property
    def worsened(self) -> list[FindingChange]:
        return [c for c in self.changed if c.worsened]

    def counted(self) -> list[Finding]:
        """What --fail-on judges: new findings and those that got worse."""
        return by_severity([*self.new, *(c.after for c in self.worsened)])

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": {
                "new": len(self.new),
                "resolved": len(self.resolved),
                "changed": len(self.changed),
                "worsened": len(self.worsened),
                "unchanged": len(self.unchanged),
                "not_rechecked": len(self.not_rechecked),
                "excused": len(self.excused),
            },
            "new": [f.to_json() for f in self.new],
            "resolved": [f.to_json() for f in self.resolved],
            "changed": [c.to_json() for c in self.changed],
            "unchanged": [f.to_json() for f in self.unchanged],
            "not_rechecked": [f.to_json() for f in self.not_rechecked],
            "excused": [f.to_json() for f in self.excused],
        }


def by_severity(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (severity_rank(f.severity), f.rule, f.object))


def compare_findings(before: Report, after: Report) -> FindingsDiff:
    old = by_fingerprint(before.findings)
    current = by_fingerprint(after.findings)
    # a check that ran in part (its reason says which part: on a standby, say) judged
    # nothing of the other part: what it no longer reports is not rechecked
    ran = {c.rule for c in after.checks if c.status == "ran" and not c.reason}
    unread = {(c.rule, o["object"]) for c in after.checks for o in c.skipped_objects}
    excused_now = {e.finding.fingerprint for e in after.excused}
    new, changed, unchanged = [], [], []
    for key, item in current.items():
        if key not in old:
            new.append(item)
        elif old[key].severity != item.severity:
            changed.append(FindingChange(old[key], item))
        else:
            unchanged.append(item)
    resolved, not_rechecked, excused = [], [], []
    for key, item in old.items():
        if key in current:
            continue
        if key in excused_now:
            excused.append(item)
        elif item.rule in ran and not unread & {
            (item.rule, item.object),
            (item.rule, table_of(item)),
        }:
            resolved.append(item)
        else:
            not_rechecked.append(item)
    changed.sort(key=lambda c: (severity_rank(c.after.severity), c.after.rule, c.after.object))
    return FindingsDiff(
        by_severity(new),
        by_severity(resolved),
        changed,
        by_severity(unchanged),
        by_severity(not_rechecked),
        by_severity(excused),
    )


def table_of(item: Finding) -> str | None:
    """The qualified name of the table a finding's object is in (as checks name the
    tables they could not read)."""
    return f"{item.schema}.{item.table}" if item.table is not None else None


def by_fingerprint(findings: Iterable[Finding]) -> dict[str, Finding]:
    """One finding per fingerprint; a rule reports an object once, so the first is kept."""
    result: dict[str, Finding] = {}
    for item in findings:
        result.setdefault(item.fingerprint, item)
    return result


def baseline_of(report: Report, baseline: Report, source: str) -> Baseline:
    """The report's findings against a saved one: known, new, worsened and resolved."""
    compared = compare_findings(baseline, report)
    return Baseline(
        source=source,
        generated_at=baseline.generated_at,
        known=tuple(sorted(f.fingerprint for f in compared.unchanged)
                    + sorted(c.after.fingerprint for c in compared.changed)),
        worsened=tuple(sorted(c.after.fingerprint for c in compared.worsened)),
        resolved=tuple(compared.resolved),
    )  # fmt: skip


# --- identity ------------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """Are two snapshots of one database? `confirmed`: by the server's identifier and the
    database's OID, so that object OIDs may be compared too."""

    same: bool
    confirmed: bool
    note: str | None


def identity(before: ServerInfo, after: ServerInfo) -> Identity:
    if before.database != after.database:
        return Identity(False, False, f"different databases ({before.database}, {after.database})")
    if before.system_identifier and after.system_identifier:
        if before.system_identifier != after.system_identifier:
            return Identity(
                False,
                False,
                "different servers (system identifiers "
                f"{before.system_identifier} and {after.system_identifier})",
            )
        if before.database_oid != after.database_oid:
            return Identity(False, False, "the database was created again in between")
        return Identity(True, True, None)
    return Identity(
        True,
        False,
        "taken as the same database by its name: a snapshot does not record the "
        "server's identifier (an older snapshot, or a role that may not read it)",
    )


# --- schema drift --------------------------------------------------------------------


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class Drift:
    """One object added, removed, changed or renamed (renamed may carry changes too)."""

    entity: str  # the Snapshot field: tables, columns, ...
    kind: str  # the located kind: table, column, ...
    change: str
    name: str  # as printed, on the second side (the first for a removed object)
    before_name: str | None  # the old name of a renamed object
    fields: tuple[FieldChange, ...] = ()
    shown: FieldChange | None = None  # e.g. an index's definition before and after

    def to_json(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "kind": self.kind,
            "change": self.change,
            "name": self.name,
            "before_name": self.before_name,
            "fields": [c.to_json() for c in self.fields],
            "shown": self.shown.to_json() if self.shown else None,
        }


@dataclass(frozen=True)
class Matched:
    """The objects of one kind on both sides, paired."""

    pairs: list[tuple[Any, Any]]
    removed: list[Any]
    added: list[Any]


def located_entities() -> list[Entity]:
    """The declared entities that are catalog objects (they say where they are)."""
    return [e for e in Snapshot.entities() if isinstance(getattr(e.cls, "located", None), property)]


def path_key(item: Any) -> tuple[str, ...]:
    where = item.located
    return (where.kind, *where.path)


def compared_fields(cls: type) -> list[str]:
    left_out = NOT_SCHEMA | NAME_FIELDS | RESTATED.get(cls.__name__, frozenset())
    return [
        name
        for name in cls._fields  # type: ignore[attr-defined]
        if name not in left_out and name != "oid" and not name.endswith("_oid")
    ]


def match_all(before: Snapshot, after: Snapshot, same: Identity) -> dict[str, Matched]:
    """Every located entity, paired across the sides. Parents come first in the declared
    order (schemas, tables, then what belongs to a table), so that a renamed parent's
    new path is known when its children are paired."""
    moved: dict[tuple[str, ...], tuple[str, ...]] = {}  # old path -> new path
    result = {}
    shapes = {Table: table_shape(before, after), Column: column_shape(moved)}
    for declared in located_entities():
        matched = match(
            getattr(before, declared.name),
            getattr(after, declared.name),
            moved,
            same.confirmed,
            shape=shapes.get(declared.cls),
        )
        for old, new in matched.pairs:
            if old.located.path != new.located.path:
                moved[old.located.path] = new.located.path
        result[declared.name] = matched
    return result


def match(
    before: list[Any],
    after: list[Any],
    moved: dict[tuple[str, ...], tuple[str, ...]],
    by_oid: bool,
    shape: Callable[[Any, bool], tuple[Any, ...] | None] | None = None,
) -> Matched:
    """Pair by path of names (a renamed parent's new path applied), then by OID within
    one database, then by `shape` (tables across databases). Objects that share a path
    (a kind whose names need not be unique) pair in their order."""
    left = dict(enumerate(after))  # the second side's objects not paired yet
    by_path: dict[tuple[str, ...], list[int]] = {}
    for position, item in left.items():
        by_path.setdefault(path_key(item), []).append(position)
    pairs, unpaired = [], []
    for item in before:
        position = next((p for p in by_path.get(moved_key(item, moved), ()) if p in left), None)
        if position is None:
            unpaired.append(item)
        else:
            pairs.append((item, left.pop(position)))
    if by_oid and unpaired and left:
        physical = physical_key(type(unpaired[0]))
        if physical:
            by_physical = {tuple(getattr(item, f) for f in physical): p for p, item in left.items()}
            still = []
            for item in unpaired:
                position = by_physical.get(tuple(getattr(item, f) for f in physical))
                if position is not None and position in left:
                    pairs.append((item, left.pop(position)))
                else:
                    still.append(item)
            unpaired = still
    if shape is not None and not by_oid and unpaired and left:
        unpaired = pair_by_shape(unpaired, left, shape, pairs)
    return Matched(pairs, unpaired, list(left.values()))


def moved_key(item: Any, moved: dict[tuple[str, ...], tuple[str, ...]]) -> tuple[str, ...]:
    """The item's key with a renamed parent's new path (the longest that applies)."""
    where = item.located
    for length in range(len(where.path) - 1, 0, -1):
        prefix = where.path[:length]
        if prefix in moved:
            return (where.kind, *moved[prefix], *where.path[length:])
    return (where.kind, *where.path)


def physical_key(cls: type) -> tuple[str, ...] | None:
    names = set(cls._fields)  # type: ignore[attr-defined]
    return next((key for key in PHYSICAL_KEYS if names.issuperset(key)), None)


def pair_by_shape(
    unpaired: list[Any],
    left: dict[int, Any],
    shape: Callable[[Any, bool], tuple[Any, ...] | None],
    pairs: list[tuple[Any, Any]],
) -> list[Any]:
    """Pair objects whose shape occurs exactly once on each side (a renamed table)."""
    old_shapes = Counter(shape(item, False) for item in unpaired)
    new_by_shape: dict[Any, list[int]] = {}
    for position, item in left.items():
        new_by_shape.setdefault(shape(item, True), []).append(position)
    still = []
    for item in unpaired:
        signature = shape(item, False)
        candidates = new_by_shape.get(signature, [])
        if signature is not None and old_shapes[signature] == 1 and len(candidates) == 1:
            pairs.append((item, left.pop(candidates[0])))
        else:
            still.append(item)
    return still


def table_shape(before: Snapshot, after: Snapshot) -> Callable[[Any, bool], Any]:
    """A table's schema, kind and columns (name, type, nullability), in order: two tables
    of one shape on either side are taken as one table renamed."""

    def shape(table: Table, is_after: bool) -> tuple[Any, ...] | None:
        snap = after if is_after else before
        columns = tuple(
            (c.name, c.data_type, c.not_null)
            for c in sorted(snap.columns_by_table.get(table.oid, []), key=lambda c: c.position)
        )
        return (table.schema, table.kind, columns) if columns else None

    return shape


def column_shape(moved: dict[tuple[str, ...], tuple[str, ...]]) -> Callable[[Any, bool], Any]:
    """A column's table (renamed tables followed) and definition: within a table, one
    column gone and one come of one definition, each alone in it, are one renamed."""

    def shape(column: Column, is_after: bool) -> tuple[Any, ...]:
        key = path_key(column) if is_after else moved_key(column, moved)
        definition = (column.data_type, column.not_null, column.default, column.identity)
        return (key[:-1], *definition, column.generated)

    return shape


def schema_drift(
    before: Snapshot, after: Snapshot, matched: dict[str, Matched], same_database: bool = False
) -> list[Drift]:
    """`same_database`: an OID the snapshot cannot name (an enum label) is one object on
    both sides; across databases it is only known to be a user object's."""
    drift: list[Drift] = []
    old_names, new_names = names_by_oid(before), names_by_oid(after)
    for declared in located_entities():
        if declared.name in (*before.not_collected, *after.not_collected):
            continue  # an older snapshot's empty list says nothing of the database
        pairs = matched[declared.name]
        fields = compared_fields(declared.cls)
        shown_field = SHOWN.get(declared.cls.__name__)
        unread = UNREAD_AS_NONE.get(declared.cls.__name__, frozenset())
        for item in pairs.removed:
            if getattr(item, "schema", None) in SYSTEM_SCHEMAS:
                continue
            shown = (
                FieldChange(shown_field, getattr(item, shown_field), None) if shown_field else None
            )
            drift.append(
                Drift(declared.name, item.located.kind, REMOVED, item.located.name, None, (), shown)
            )
        for item in pairs.added:
            if getattr(item, "schema", None) in SYSTEM_SCHEMAS:
                continue
            shown = (
                FieldChange(shown_field, None, getattr(item, shown_field)) if shown_field else None
            )
            drift.append(
                Drift(declared.name, item.located.kind, ADDED, item.located.name, None, (), shown)
            )
        for old, new in pairs.pairs:
            both = [
                FieldChange(
                    name,
                    comparable(old, name, old_names, same_database),
                    comparable(new, name, new_names, same_database),
                )
                for name in fields
            ]
            changes = tuple(
                change
                for change in both
                if change.before != change.after
                and not (change.field in unread and unknown(change.before, change.after))
            )
            renamed = old.located.path[-1] != new.located.path[-1]
            if not changes and not renamed:
                continue
            shown = None
            if changes and shown_field and shown_field not in fields:
                old_shown, new_shown = getattr(old, shown_field), getattr(new, shown_field)
                if old_shown != new_shown:
                    shown = FieldChange(shown_field, old_shown, new_shown)
            drift.append(
                Drift(
                    declared.name,
                    new.located.kind,
                    RENAMED if renamed else CHANGED,
                    new.located.name,
                    old.located.name if renamed else None,
                    changes,
                    shown,
                )
            )
    order = {e.name: n for n, e in enumerate(located_entities())}
    return sorted(drift, key=lambda d: (order[d.entity], d.name, d.change))


def names_by_oid(snap: Snapshot) -> dict[int, str]:
    """The collected objects a view's query can point at, by OID: relations, functions and
    aggregates."""
    names = {t.oid: t.qualname for t in snap.tables}
    names.update((v.oid, v.qualname) for v in snap.views)
    names.update((f.oid, f.qualname) for f in snap.functions)
    names.update((a.oid, a.qualname) for a in snap.aggregates)
    return names


def comparable(item: Any, field: str, names: dict[int, str], same_database: bool) -> Any:
    """A view's field as it can be compared. Its node tree holds each token's character
    offset in the CREATE statement (`:location`): the same query written with other
    spacing is the same view. Its OIDs are compared by the names the snapshot gives them,
    the relations it reads, those in its tree and in its constants ('t'::regclass): across
    databases one object has two OIDs, and on one database a view dropped and created
    again (listmonk's v5 upgrade) has a new one, which its own tree holds. An OID the
    snapshot cannot name (a type, an enum label) is compared as it is on one database, and
    across databases is only known to be a user object's."""
    value = getattr(item, field)
    if not isinstance(item, View) or value is None:
        return value

    def name_of(oid: int) -> str:
        if oid < FIRST_USER_OID:
            return str(oid)
        return names.get(oid, str(oid) if same_database else "?")

    if field == "reads":
        return sorted(name_of(oid) if isinstance(oid, int) else oid for oid in value)
    if field != "query_tree":
        return value

    def number(match: re.Match[str]) -> str:
        key, found = match.group(2), match.group(3)
        if key == "location" or key.startswith("stmt_"):
            return f"{match.group(1)}-"
        if key.endswith("typmod"):
            return match.group(0)
        return match.group(1) + re.sub(r"\d+", lambda n: name_of(int(n.group(0))), found)

    def constant(match: re.Match[str]) -> str:
        of_type = int(match.group(2))
        oid = int.from_bytes(bytes(int(match.group(n)) & 0xFF for n in range(3, 7)), "little")
        if (of_type < FIRST_USER_OID and of_type not in OID_ALIAS_TYPES) or oid < FIRST_USER_OID:
            return match.group(0)
        if oid not in names and same_database:
            return match.group(0)
        return f"{match.group(1)}{name_of(oid)} ]"

    return TREE_NUMBER.sub(number, TREE_OID_CONSTANT.sub(constant, value))


def unknown(*values: Any) -> bool:
    """Was any of these not read (None, or a list with an unread part)?"""
    return any(v is None or (isinstance(v, list) and None in v) for v in values)


# --- statistics deltas ---------------------------------------------------------------


@dataclass(frozen=True)
class TableDelta:
    table: str  # qualified name on the second side
    rows_before: int
    rows_after: int
    bytes_before: int | None
    bytes_after: int | None
    dead_tuples_before: int | None
    dead_tuples_after: int | None
    # over the interval; None where the counters were reset in between or are not kept
    inserts: int | None
    updates: int | None
    deletes: int | None
    seq_scans: int | None
    idx_scans: int | None
    seq_scans_per_day: float | None
    idx_scans_per_day: float | None
    counters_reset: bool  # this table's counters went down: reset in between

    @property
    def rows_growth(self) -> int:
        return self.rows_after - self.rows_before

    @property
    def bytes_growth(self) -> int | None:
        if self.bytes_before is None or self.bytes_after is None:
            return None
        return self.bytes_after - self.bytes_before


@dataclass(frozen=True)
class IndexUsage:
    """An index that started being used in the interval, or stopped."""

    index: str
    table: str
    change: str  # started, stopped
    scans_before: int  # its counter on the first side
    scans_in_interval: int


@dataclass(frozen=True)
class StatisticsDelta:
    since: str  # collected_at of each side
    until: str
    interval_days: float
    interval: str  # "3 days"
    reset_at: str | None  # the statistics were reset at this time, between the two
    notes: tuple[str, ...]
    database_bytes_before: int | None
    database_bytes_after: int | None
    tables: tuple[TableDelta, ...]
    indexes: tuple[IndexUsage, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "until": self.until,
            "interval_days": round(self.interval_days, 6),
            "interval": self.interval,
            "reset_at": self.reset_at,
            "notes": list(self.notes),
            "database_bytes_before": self.database_bytes_before,
            "database_bytes_after": self.database_bytes_after,
            "tables": [
                {
                    **vars_of(t),
                    "rows_growth": t.rows_growth,
                    "bytes_growth": t.bytes_growth,
                }
                for t in self.tables
            ],
            "indexes": [vars_of(i) for i in self.indexes],
        }


def vars_of(item: Any) -> dict[str, Any]:
    return {name: getattr(item, name) for name in item.__dataclass_fields__}


def database_bytes(snap: Snapshot) -> int | None:
    """The tables' and indexes' size where known (sizes as of the last VACUUM/ANALYZE)."""
    sizes = [t.total_bytes for t in snap.tables if t.total_bytes is not None]
    return sum(sizes) if sizes else None


def statistics_delta(
    before: Snapshot, after: Snapshot, matched: dict[str, Matched]
) -> StatisticsDelta | str:
    """The deltas, or why there are none."""
    same = identity(before.server, after.server)
    if not same.same:
        return same.note or "not the same database"
    if before.server.in_recovery != after.server.in_recovery:
        # a standby has its primary's identifier, but counts its own scans and no writes
        return (
            "one is a standby, the other its primary (or a standby since promoted): each"
            " counts on its own, so the counters give no deltas"
        )
    since, until = (
        parse_timestamp(before.server.collected_at),
        parse_timestamp(after.server.collected_at),
    )
    if until <= since:
        return "the second snapshot is not later than the first"
    days = (until - since).total_seconds() / 86_400
    notes = [same.note] if same.note else []
    reset_at = reset_between(before.server, after.server)
    if reset_at:
        notes.append(
            f"the statistics were reset at {reset_at}, between the two snapshots: writes and "
            "scans over the interval are unknown (only indexes that started being used show)"
        )
    restarted = parse_timestamp(after.server.postmaster_start_time) > since
    if restarted:
        notes.append(
            f"the server restarted at {after.server.postmaster_start_time}: a crash (or, "
            "before PostgreSQL 15, any restart) resets the counters; tables whose counters "
            "went down are marked"
        )
    tables = [
        table_delta(before, after, old, new, days, reset_at is not None)
        for old, new in matched["tables"].pairs
        if new.kind in ("r", "m")
    ]
    tables.sort(key=lambda t: (-(t.bytes_growth or 0), -t.rows_growth, t.table))
    if any(t.counters_reset for t in tables) and not reset_at:
        notes.append("some tables' counters were reset in between: their deltas are unknown")
    indexes = index_usage(matched["indexes"].pairs, days, reset_at is not None)
    interval = interval_text(since, until)
    if days < MIN_DAYS_FOR_STOPPED:
        notes.append(
            f"the interval ({interval}) is under {MIN_DAYS_FOR_STOPPED:g} day: rates per day "
            "extrapolate it, and indexes unused in it are not reported as having stopped "
            "being used"
        )
    return StatisticsDelta(
        before.server.collected_at,
        after.server.collected_at,
        days,
        interval,
        reset_at,
        tuple(notes),
        database_bytes(before),
        database_bytes(after),
        tuple(tables),
        tuple(indexes),
    )


def interval_text(since: dt.datetime, until: dt.datetime) -> str:
    seconds = (until - since).total_seconds()
    if seconds < 60:
        return f"{seconds:.0f} second" + ("" if round(seconds) == 1 else "s")
    return span(since, until)


def reset_between(before: ServerInfo, after: ServerInfo) -> str | None:
    """When the database's statistics were reset after the first snapshot was taken."""
    if (
        after.stats_reset
        and after.stats_reset != before.stats_reset
        and parse_timestamp(after.stats_reset) > parse_timestamp(before.collected_at)
    ):
        return after.stats_reset
    return None


def table_delta(
    before: Snapshot, after: Snapshot, old: Table, new: Table, days: float, reset: bool
) -> TableDelta:
    deltas = {name: counter_delta(getattr(old, name), getattr(new, name)) for name in COUNTERS}
    went_down = any(
        getattr(old, name) is not None
        and getattr(new, name) is not None
        and getattr(new, name) < getattr(old, name)
        for name in COUNTERS
    )
    if reset or went_down:
        deltas = dict.fromkeys(COUNTERS)
    return TableDelta(
        table=new.qualname,
        rows_before=before.row_count(old),
        rows_after=after.row_count(new),
        bytes_before=old.total_bytes,
        bytes_after=new.total_bytes,
        dead_tuples_before=old.n_dead_tup,
        dead_tuples_after=new.n_dead_tup,
        inserts=deltas["n_tup_ins"],
        updates=deltas["n_tup_upd"],
        deletes=deltas["n_tup_del"],
        seq_scans=deltas["seq_scan"],
        idx_scans=deltas["idx_scan"],
        seq_scans_per_day=per_day(deltas["seq_scan"], days),
        idx_scans_per_day=per_day(deltas["idx_scan"], days),
        counters_reset=went_down,
    )


def counter_delta(old: int | None, new: int | None) -> int | None:
    return None if old is None or new is None else new - old


def per_day(count: int | None, days: float) -> float | None:
    return None if count is None else count / days


def index_usage(pairs: list[tuple[Any, Any]], days: float, reset: bool) -> list[IndexUsage]:
    """Indexes unscanned before and scanned since (true whether or not the counters were
    reset: every scan counted now happened after the first snapshot); and, over at least
    a day without a reset, indexes scanned before and not once since."""
    result = []
    for old, new in pairs:
        if old.idx_scan is None or new.idx_scan is None:
            continue
        if old.idx_scan == 0 and new.idx_scan > 0:
            result.append(IndexUsage(new.qualname, new.table, "started", 0, new.idx_scan))
        elif (
            not reset
            and days >= MIN_DAYS_FOR_STOPPED
            and old.idx_scan > 0
            and new.idx_scan == old.idx_scan
        ):
            result.append(IndexUsage(new.qualname, new.table, "stopped", old.idx_scan, 0))
    return sorted(result, key=lambda u: (u.change, u.index))


# --- the comparison ------------------------------------------------------------------


@dataclass(frozen=True)
class Diff:
    before: Side
    after: Side
    findings: FindingsDiff
    drift: list[Drift] | None  # None: a side has no snapshot (see drift_note)
    drift_note: str | None
    statistics: StatisticsDelta | None
    statistics_note: str | None
    generated_at: str

    def failing(self, fail_on: str | None) -> list[Finding]:
        """New and worsened findings at or above `fail_on`: what makes --fail-on exit 1."""
        if not fail_on:
            return []
        return [f for f in self.findings.counted() if f.severity.at_least(fail_on)]

    def worst_counted(self) -> Severity | None:
        return max((f.severity for f in self.findings.counted()), default=None)

    def drift_counts(self) -> dict[str, int]:
        counts = dict.fromkeys((ADDED, REMOVED, CHANGED, RENAMED), 0)
        for item in self.drift or []:
            counts[item.change] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {
            "format": DIFF_FORMAT,
            "tool": {"name": "pgvitals", "version": __version__},
            "generated_at": self.generated_at,
            "before": self.before.to_json(),
            "after": self.after.to_json(),
            "findings": self.findings.to_json(),
            "drift": {
                "compared": self.drift is not None,
                "note": self.drift_note,
                "counts": self.drift_counts(),
                "changes": [d.to_json() for d in self.drift or []],
            },
            "statistics": {
                "compared": self.statistics is not None,
                "note": self.statistics_note,
                "delta": self.statistics.to_json() if self.statistics else None,
            },
        }


def compare(before: Side, after: Side) -> Diff:
    findings = compare_findings(before.report, after.report)
    drift: list[Drift] | None = None
    drift_note = statistics_note = None
    statistics: StatisticsDelta | None = None
    if before.snapshot is None or after.snapshot is None:
        missing = before if before.snapshot is None else after
        drift_note = (
            f"{missing.label} is a report: it holds findings, not the schema or statistics "
            "(compare snapshots or live databases for those)"
        )
        statistics_note = drift_note
    else:
        same = identity(before.snapshot.server, after.snapshot.server)
        matched = match_all(before.snapshot, after.snapshot, same)
        drift = schema_drift(before.snapshot, after.snapshot, matched, same.confirmed)
        notes = []
        if not same.confirmed:
            notes.append("renamed tables recognised by their columns (not the same database)")
        older = sorted({*before.snapshot.not_collected, *after.snapshot.not_collected})
        if older:
            held = ", ".join(older)
            notes.append(f"not compared, as an older snapshot does not hold them: {held}")
        drift_note = "; ".join(notes) or None
        delta = statistics_delta(before.snapshot, after.snapshot, matched)
        if isinstance(delta, str):
            statistics_note = delta
        else:
            statistics = delta
    return Diff(
        before,
        after,
        findings,
        drift,
        drift_note,
        statistics,
        statistics_note,
        dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
