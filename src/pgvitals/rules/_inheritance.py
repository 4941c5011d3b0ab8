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
from pgvitals.snapshot.model import Snapshot, Table

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
    parents: dict[Place, Table] = {}
    if not any(table.inheritance_children for table in snap.tables):
        return parents  # most databases: no pass to build names
    by_name = {table.qualname: table for table in snap.tables}
    for table in snap.tables:
        for name in table.inheritance_children:
            child = by_name.get(name)
            if child is not None:
                parents.setdefault((child.schema, child.name), table)
    return parents


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
