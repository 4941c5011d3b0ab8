"""Tables that inherit from another by INHERITS (not partitions: declarative partitioning
is handled where each rule handles partitions).

A child gets its parent's columns, NOT NULL and CHECK constraints, but not its primary
key, unique constraints or foreign keys: each table of the hierarchy needs its own, and
a rule that finds them all missing would report the same fact once per child (Concourse
makes a `pipeline_build_events_<id>` child of `build_events` for each pipeline). A rule's
`folded_into_parents` regroup reports the parent once instead, lists the children in its
evidence, and makes its fix cover them. It runs after suppression: where the parent's
finding is excused, or a child's situation is worse than the parent's, the child keeps
its own finding, so nothing is hidden.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterator
from typing import Any

from pgvitals.findings import Fix, Severity
from pgvitals.rules._api import Draft, Regroup
from pgvitals.snapshot.model import Column, Snapshot, Table

Place = tuple[str, ...]  # (schema, table)
# what a finding is about beyond its table, the same on a parent's finding and on a
# child's that it covers: nothing for a missing key, the reference for a missing one
Matched = Callable[[Draft], Hashable]
# the part of the parent's fix that covers one child (the parent's draft, the child's
# table and draft): None where it cannot be covered (the child keeps its own finding)
ChildFix = Callable[[Snapshot, Draft, Table, Draft], Fix | None]


def inheritance_parents(snap: Snapshot) -> dict[Place, Table]:
    """The parent of each table that inherits from another, by (schema, name); of a table
    with several parents, the first in the catalog's order."""
    by_oid = snap.table_by_oid
    return {
        (by_oid[oid].schema, by_oid[oid].name): parents[0]
        for oid, parents in snap.facts.inherited_tables.items()
    }


def folded_into_parents(matched: Matched, child_fix: ChildFix, says: str) -> Regroup:
    """A rule's `regroup`: a child's finding goes into its parent's where the parent has
    the same finding (`matched`), not excused, as severe as the child's or more, and
    (where the parent's has a fix) a fix for the child (`child_fix`) joins the parent's.
    Grandchildren go into the finding their parent went into. The parent's evidence lists
    the children (`inheritance_children`); its message says how many there are, `says`
    what (`without a primary key either`)."""

    def regroup(
        snap: Snapshot, opts: Any, drafts: list[Draft], default: Severity
    ) -> Iterator[Draft]:
        parents = inheritance_parents(snap)
        if not parents:
            yield from drafts
            return
        by_place = {(draft.where.path[:2], matched(draft)): draft for draft in drafts}

        def home(draft: Draft) -> Draft:
            """The finding this draft ends up in: its own, or an ancestor's."""
            while True:
                parent = parents.get(draft.where.path[:2])
                above = (
                    by_place.get(((parent.schema, parent.name), matched(draft))) if parent else None
                )
                if above is None or (draft.severity or default) > (above.severity or default):
                    return draft
                draft = above

        members: dict[int, list[Draft]] = defaultdict(list)
        homes = [home(draft) for draft in drafts]
        for draft, found in zip(drafts, homes, strict=True):
            if found is not draft:
                members[id(found)].append(draft)
        tables = {(t.schema, t.name): t for t in snap.tables} if members else {}
        for draft, found in zip(drafts, homes, strict=True):
            if found is draft:
                yield from covering(snap, draft, members.get(id(draft), []), tables,
                                    child_fix, says)  # fmt: skip

    return regroup


def covering(
    snap: Snapshot,
    parent: Draft,
    children: list[Draft],
    tables: dict[Place, Table],
    child_fix: ChildFix,
    says: str,
) -> Iterator[Draft]:
    """The children the parent's fix cannot cover, each its own finding, and the
    parent's finding covering the others."""
    fix = parent.fix
    covered: list[str] = []
    for child in children:
        if fix is not None:
            part = child_fix(snap, parent, tables[child.where.path[:2]], child)
            if part is None:
                yield child  # nothing in the parent's fix covers it: its own finding
                continue
            name = ".".join(child.where.path[:2])
            notes = tuple(f"{name}: {note}" for note in part.notes)
            fix += Fix(part.statements, part.rollback, part.risk, notes)
        covered.append(".".join(child.where.path[:2]))
    if not covered:
        yield parent
        return
    tables_inheriting = "table inheriting" if len(covered) == 1 else "tables inheriting"
    message = f"{parent.message}; {len(covered):,} {tables_inheriting} from it {says}"
    if fix is not None:
        message += ", and the fix covers them too"
    yield parent._replace(
        message=message,
        evidence={**parent.evidence, "inheritance_children": covered},
        fix=fix,
    )


# --- columns ------------------------------------------------------------------------
#
# A child has each column of its parents, merged with a column of its own of the same
# name if it declared one (pg_attribute.attinhcount > 0, attislocal or not): its type is
# the parent's, and PostgreSQL refuses to change it on the child ("cannot alter inherited
# column"), while ALTER COLUMN ... TYPE and SET DEFAULT on the parent reach every table
# that inherits it. So a column rule reports such a column on the parent, once.


def ancestors_by_table(snap: Snapshot) -> dict[int, frozenset[int]]:
    """The oids of every table each table inherits from (INHERITS), at any depth, by its
    oid; tables that inherit from none are left out."""
    parents = snap.facts.inherited_tables
    found: dict[int, frozenset[int]] = {}

    def above(oid: int, seen: frozenset[int]) -> frozenset[int]:
        if oid not in found:
            direct = {p.oid for p in parents.get(oid, ()) if p.oid not in seen}
            found[oid] = frozenset(direct).union(*(above(p, seen | {oid}) for p in direct))
        return found[oid]

    for oid in parents:
        above(oid, frozenset())
    return found


def column_parent(snap: Snapshot, parents: dict[int, list[Table]], table_oid: int,
                  name: str) -> Table | None:  # fmt: skip
    """The parent the column `name` of a table is inherited from (the first that has a
    column of that name); None for a column the table alone has."""
    return next(
        (p for p in parents.get(table_oid, ()) if snap.facts.column_by_name.get((p.oid, name))),
        None,
    )


def defining_columns(snap: Snapshot, columns: list[Column]) -> list[Column]:
    """Each column, or where it is inherited the column of the table that defines it (at
    the top of the hierarchy), where ALTER COLUMN ... TYPE must run; each once."""
    parents = snap.facts.inherited_tables
    found: list[Column] = []
    for column in columns:
        while (parent := column_parent(snap, parents, column.table_oid, column.name)) is not None:
            column = snap.facts.column_by_name[(parent.oid, column.name)]
        if column not in found:
            found.append(column)
    return found


def inheriting_columns(snap: Snapshot, column: Column) -> list[Column]:
    """The columns of the tables that inherit `column` from its table, at any depth: the
    ones ALTER COLUMN on its table changes too."""
    children_of = snap.facts.inheriting_tables
    found: list[Column] = []
    waiting, seen = list(children_of.get(column.table_oid, [])), {column.table_oid}
    while waiting:
        child = waiting.pop(0)
        if child.oid in seen:
            continue
        seen.add(child.oid)
        inherited = snap.facts.column_by_name.get((child.oid, column.name))
        if inherited is not None:
            found.append(inherited)
            waiting += children_of.get(child.oid, [])
    return found


# why a child's inherited column comes without the fix the rule gives a column of its
# own: {column}, {table} and {parent} are filled in
CANNOT_ALTER_ON_CHILD = (
    "{column} is inherited from {parent}: PostgreSQL refuses to change its type on {table}"
    " alone (cannot alter inherited column); changed on {parent}, it changes on every table"
    " inheriting it"
)


def reported_on_parents(matched: Matched = lambda draft: None,
                        alone: str | None = CANNOT_ALTER_ON_CHILD) -> Regroup:  # fmt: skip
    """A column rule's `regroup`: a child's finding about a column it inherits goes into
    the parent's finding about that column where the parent has the same finding
    (`matched`), not excused and as severe as the child's or more; the parent's evidence
    lists the children (`inheritance_children`). The parent's fix changes their column
    too, so where a child's finding has no fix (a view reads its column, an index
    computes on it), the parent's is withdrawn, saying why. A child's finding that does
    not go into a parent's is kept, the evidence naming the table that defines the column
    (`inherited_from`, the top of the hierarchy),
    without its fix where PostgreSQL would refuse it (`alone` says why; None: the fix
    works on the child). Columns a table has alone are left as they are."""

    def regroup(
        snap: Snapshot, opts: Any, drafts: list[Draft], default: Severity
    ) -> Iterator[Draft]:
        parents = snap.facts.inherited_tables
        if not parents:
            yield from drafts
            return
        tables = {(t.schema, t.name): t for t in snap.tables}

        def source(draft: Draft) -> Table | None:
            """The parent the draft's column is inherited from."""
            if len(draft.where.path) != 3:
                return None
            table = tables.get(draft.where.path[:2])
            name = draft.where.path[2]
            return column_parent(snap, parents, table.oid, name) if table else None

        def source_of(table: Table, draft: Draft) -> Table | None:
            """The parent `table` inherits the draft's column from."""
            return column_parent(snap, parents, table.oid, draft.where.path[2])

        by_place = {(draft.where.path, matched(draft)): draft for draft in drafts}

        def home(draft: Draft) -> Draft:
            """The finding this draft ends up in: its own, or an ancestor's."""
            while True:
                parent = source(draft)
                path = (parent.schema, parent.name, draft.where.path[2]) if parent else None
                above = by_place.get((path, matched(draft))) if path else None
                if above is None or (draft.severity or default) > (above.severity or default):
                    return draft
                draft = above

        homes = [home(draft) for draft in drafts]
        members: dict[int, list[Draft]] = defaultdict(list)
        for draft, found in zip(drafts, homes, strict=True):
            if found is not draft:
                members[id(found)].append(draft)
        for draft, found in zip(drafts, homes, strict=True):
            if found is not draft:
                continue
            parent = source(draft)
            if parent is not None:
                while (above := source_of(parent, draft)) is not None:
                    parent = above  # up to the table that defines the column
                draft = on_child_alone(draft, parent, alone)
            yield covering_column(draft, members.get(id(draft), []))

    return regroup


def on_child_alone(draft: Draft, parent: Table, alone: str | None) -> Draft:
    """A child's finding about an inherited column, kept apart from its parent's: the
    table that defines the column named (`parent`, at the top of the hierarchy), the fix
    withdrawn where PostgreSQL would refuse it (`alone`)."""
    evidence = {**draft.evidence, "inherited_from": parent.qualname}
    if alone is None:
        return draft._replace(evidence=evidence)
    if draft.fix is not None:
        schema, table, column = draft.where.path
        evidence["no_automatic_fix"] = alone.format(
            column=column, table=f"{schema}.{table}", parent=parent.qualname
        )
    return draft._replace(evidence=evidence, fix=None)


def covering_column(parent: Draft, children: list[Draft]) -> Draft:
    """The parent's finding about a column, covering its children's."""
    if not children:
        return parent
    names = sorted(".".join(child.where.path[:2]) for child in children)
    evidence = {**parent.evidence, "inheritance_children": names}
    fix = parent.fix
    blocked = next((child for child in children if child.fix is None), None)
    if fix is not None and blocked is not None:
        reason = blocked.evidence.get("no_automatic_fix")
        if reason is None and blocked.evidence.get("used_by_views"):
            views = ", ".join(blocked.evidence["used_by_views"])
            reason = f"views read it ({views}): PostgreSQL cannot change its type under them"
        evidence["no_automatic_fix"] = (
            f"the change reaches {'.'.join(blocked.where.path[:2])}, which inherits the"
            f" column, and fails there: {reason or 'it gets no fix of its own'}"
        )
        fix = None
    inherit = "table inherits" if len(names) == 1 else "tables inherit"
    message = f"{parent.message}; {len(names):,} {inherit} the column"
    if fix is not None:
        message += ", and the fix changes it there too"
    return parent._replace(message=message, evidence=evidence, fix=fix)
