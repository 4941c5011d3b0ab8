"""The vocabulary every part shares: severities, categories, located objects, fixes
with their declared risk, and findings with a stable fingerprint.

Nothing here knows a rule or a renderer, so renderers, the engine, `diff` and the
history read findings without importing the rule catalogue.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol


class Severity(str, Enum):
    """Ordered: `Severity.CRITICAL > Severity.HIGH`. Equal to its plain string."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def rank(self) -> int:
        """0 for critical ... 4 for info: lower is worse (sort keys)."""
        return _RANKS[self]

    def at_least(self, other: str) -> bool:
        """Is this as bad as `other`, or worse?"""
        return self.rank <= _rank(other)

    def __lt__(self, other: object) -> bool:  # type: ignore[override]
        return self.rank > _rank(other)

    def __le__(self, other: object) -> bool:  # type: ignore[override]
        return self.rank >= _rank(other)

    def __gt__(self, other: object) -> bool:  # type: ignore[override]
        return self.rank < _rank(other)

    def __ge__(self, other: object) -> bool:  # type: ignore[override]
        return self.rank <= _rank(other)

    __hash__ = str.__hash__


# a member and its value (a str) are equal and hash alike: either finds its rank
_RANKS = {severity: rank for rank, severity in enumerate(Severity)}


def _rank(value: object) -> int:
    """The rank of a Severity or of its name; ValueError for anything else."""
    rank = _RANKS.get(value)  # type: ignore[call-overload]
    return rank if rank is not None else _RANKS[Severity(value)]


SEVERITIES = tuple(s.value for s in Severity)


def worst(severities: Iterable[Severity]) -> Severity:
    """The most severe: `max(severities)`, without a call of `__gt__` per element (a
    report asks over its 100,000s of findings)."""
    return min(severities, key=_RANKS.__getitem__)


def severity_rank(severity: str) -> int:
    """0 for critical ... 4 for info: lower is worse."""
    return Severity(severity).rank


class Category(str, Enum):
    """A report area; the order is the report's."""

    INTEGRITY = "integrity"
    INDEXES = "indexes"
    MAINTENANCE = "maintenance"
    ACTIVITY = "activity"
    QUALITY = "quality"
    SECURITY = "security"
    NAMING = "naming"
    WORKLOAD = "workload"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def title(self) -> str:
        return _CATEGORY_TITLES[self]

    __hash__ = str.__hash__


_CATEGORY_TITLES = {
    Category.INTEGRITY: "Integrity",
    Category.INDEXES: "Indexes",
    Category.MAINTENANCE: "Maintenance",
    Category.ACTIVITY: "Activity",
    Category.QUALITY: "Data quality",
    Category.SECURITY: "Security",
    Category.NAMING: "Documentation & naming",
    Category.WORKLOAD: "Query workload",
}
CATEGORIES = {category.value: category.title for category in Category}


# Which JSON field names the last element of a located object's path, per kind; a
# finding always has schema, table and column (null where they do not apply).
PATH_FIELDS: dict[str, tuple[str, ...]] = {
    "database": (),
    "schema": ("schema",),
    "table": ("schema", "table"),
    "column": ("schema", "table", "column"),
    "index": ("schema", "table", "index"),
    "constraint": ("schema", "table", "constraint"),
    "sequence": ("schema", "sequence"),
    "type": ("schema", "type"),
    "policy": ("schema", "table", "policy"),
    "trigger": ("schema", "table", "trigger"),
    "view": ("schema", "table"),
    "function": ("schema", "function"),
    "extension": ("extension",),
    "role": ("role",),
    "statement": ("statement",),
}


@dataclass(frozen=True, slots=True)
class Located:
    """Any object a finding can be about: its kind, its path of names from the database
    down (schema, table, ...), how the report prints it, and where it was defined
    when it came from a DDL file (`pgvitals review`)."""

    kind: str
    path: tuple[str, ...]
    name: str  # as printed: "public.users", "public.users.email"
    comment: str | None = None
    file: str | None = None
    line: int | None = None

    def __post_init__(self) -> None:
        if len(PATH_FIELDS.get(self.kind, ())) != len(self.path):
            raise ValueError(f"a {self.kind} is located by {PATH_FIELDS.get(self.kind)}")

    @property
    def place(self) -> str | None:
        """`file:line` where a reviewed DDL file defines the object; None when live."""
        if self.file is None:
            return None
        return f"{self.file}:{self.line}" if self.line else self.file

    def fields(self) -> dict[str, str | None]:
        """schema/table/column always, plus the kind's own field (index, policy, ...)."""
        named: dict[str, str | None] = {"schema": None, "table": None, "column": None}
        named.update(zip(PATH_FIELDS[self.kind], self.path, strict=True))
        return named


class Subject(Protocol):
    """What `finding()` accepts: any snapshot entity that says where it is."""

    @property
    def located(self) -> Located: ...


# json.dumps(..., ensure_ascii=False) builds an encoder per call; a report makes tens of
# thousands of fingerprints, so they share this one (same settings, same text).
_KEY_ENCODER = json.JSONEncoder(ensure_ascii=False)


def fingerprint(rule_id: str, where: Located) -> str:
    """Stable across runs and across databases (no OIDs, no class names): the rule, the
    kind and the path of names, each escaped, so `"a.b"."c"` and `"a"."b.c"` differ."""
    key = _KEY_ENCODER.encode([rule_id, where.kind, *where.path])
    return hashlib.sha256(key.encode()).hexdigest()[:16]


# --- fixes -------------------------------------------------------------------------

# Table lock levels a statement takes, weakest first (PostgreSQL's "Table-Level Locks").
LOCKS = (
    "none",
    "ACCESS SHARE",
    "SHARE UPDATE EXCLUSIVE",  # VACUUM, ANALYZE, CREATE INDEX CONCURRENTLY, SET (reloptions)
    "SHARE",  # CREATE INDEX
    "SHARE ROW EXCLUSIVE",  # ADD FOREIGN KEY
    "ACCESS EXCLUSIVE",  # most ALTER TABLE, DROP
)
_FIRST_WRITE_BLOCKING = LOCKS.index("SHARE")


@dataclass(frozen=True, slots=True)
class Risk:
    """What running a fix costs, declared by whoever writes the SQL (never read back
    from the text): the strongest table lock, whether it rewrites the table, whether it
    drops something, and whether it may run inside a transaction block."""

    lock: str = "none"
    rewrites: bool = False
    drops: bool = False
    transactional: bool = True
    # moves objects that other fixes name (an extension's types, functions, operator
    # classes) to another schema: fix.sql runs it after every other fix, which still
    # finds them where they are
    moves: bool = False
    # creates partitions: fix.sql runs it after the fixes that index the partitioned
    # table, which list the partitions there are now; a partition made later gets
    # the table's indexes from the table
    adds_partitions: bool = False
    # drops a UNIQUE constraint that the primary key replaces: fix.sql runs it before
    # every other fix, as a foreign key another fix adds to those columns would depend on
    # the constraint (and so stop its drop) instead of on the key
    replaces_key: bool = False

    def __post_init__(self) -> None:
        if self.lock not in LOCKS:
            raise ValueError(f"unknown lock level {self.lock!r}")

    @property
    def blocks_writes(self) -> bool:
        return LOCKS.index(self.lock) >= _FIRST_WRITE_BLOCKING

    @property
    def tier(self) -> int:
        """The fix script's order: 0 blocks no writes, 1 brief blocking change,
        2 rewrites the table under its lock, 3 drops something."""
        if self.drops:
            return 3
        if self.rewrites:
            return 2
        return 1 if self.blocks_writes else 0

    @property
    def label(self) -> str:
        return ("no write-blocking lock", "brief lock", "table rewrite", "drops an object")[
            self.tier
        ]

    def __or__(self, other: Risk) -> Risk:
        """The risk of running both."""
        return Risk(
            lock=max(self.lock, other.lock, key=LOCKS.index),
            rewrites=self.rewrites or other.rewrites,
            drops=self.drops or other.drops,
            transactional=self.transactional and other.transactional,
            moves=self.moves or other.moves,
            adds_partitions=self.adds_partitions or other.adds_partitions,
            replaces_key=self.replaces_key or other.replaces_key,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "lock": self.lock,
            "rewrites": self.rewrites,
            "drops": self.drops,
            "transactional": self.transactional,
            "tier": self.label,
            # what orders fix.sql beside the tier: a report read back writes the same
            "moves": self.moves,
            "adds_partitions": self.adds_partitions,
            "replaces_key": self.replaces_key,
        }


@dataclass(frozen=True, slots=True)
class Fix:
    """Statements that fix a finding, the statements that undo them, and the risk.

    `rollback` None means there is nothing to undo (a VACUUM); a fix that drops
    something must say how to restore it, or it is not offered (`unknown`)."""

    statements: tuple[str, ...]
    rollback: tuple[str, ...] | None = None
    risk: Risk = field(default_factory=Risk)
    notes: tuple[str, ...] = ()  # comment lines printed above the statements

    def __post_init__(self) -> None:
        if self.risk.drops and not self.rollback:
            raise ValueError("a fix that drops something needs a rollback")

    def __add__(self, other: Fix) -> Fix:
        """Run this, then `other`; undo in the reverse order."""
        rollback = (*(other.rollback or ()), *(self.rollback or ()))
        return Fix(
            statements=(*self.statements, *other.statements),
            rollback=rollback or None,
            risk=self.risk | other.risk,
            notes=(*self.notes, *other.notes),
        )

    def with_note(self, note: str) -> Fix:
        return Fix(self.statements, self.rollback, self.risk, (*self.notes, note))

    def listing_first(self, query: str, note: str) -> Fix:
        """This fix after a read-only query that lists the rows it would fail on (which a
        copy without rows never shows), with the note that says so."""
        return Fix((query, *self.statements), self.rollback, self.risk, self.notes).with_note(note)

    @property
    def sql(self) -> str:
        return "\n".join([*(f"-- {n}" for n in self.notes), *self.statements])

    @property
    def rollback_sql(self) -> str | None:
        return "\n".join(self.rollback) if self.rollback else None

    def to_json(self) -> dict[str, Any]:
        return {
            "statements": list(self.statements),
            "rollback": list(self.rollback) if self.rollback is not None else None,
            "notes": list(self.notes),
            "risk": self.risk.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fix:
        risk = {k: v for k, v in data["risk"].items() if k != "tier"}
        rollback = data.get("rollback")
        return cls(
            statements=tuple(data["statements"]),
            rollback=tuple(rollback) if rollback is not None else None,
            risk=Risk(**risk),
            notes=tuple(data.get("notes", ())),
        )


# --- findings ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    category: Category
    severity: Severity
    where: Located
    message: str
    evidence: dict[str, Any]
    fix: Fix | None
    fingerprint: str

    def __post_init__(self) -> None:
        # plain strings are accepted (and compared) as the enum members they name
        if not isinstance(self.severity, Severity):
            object.__setattr__(self, "severity", Severity(self.severity))
        if not isinstance(self.category, Category):
            object.__setattr__(self, "category", Category(self.category))

    @property
    def object(self) -> str:
        return self.where.name

    @property
    def schema(self) -> str | None:
        return self.where.fields()["schema"]

    @property
    def table(self) -> str | None:
        return self.where.fields()["table"]

    @property
    def column(self) -> str | None:
        return self.where.fields()["column"]

    def to_json(self) -> dict[str, Any]:
        where, fix = self.where, self.fix  # read once: a report converts 100,000s
        entry: dict[str, Any] = {
            "rule": self.rule,
            # `_value_` is what `.value` returns, without enum's descriptor (a tenth of this)
            "category": self.category._value_,
            "severity": self.severity._value_,
            **where.fields(),
            "object": where.name,
            "object_kind": where.kind,
            "path": list(where.path),
            "message": self.message,
            "evidence": self.evidence,
            "fix": fix.sql if fix else None,
            "rollback": fix.rollback_sql if fix else None,
            "fix_detail": fix.to_json() if fix else None,
            "fingerprint": self.fingerprint,
        }
        if where.file is not None:
            entry["location"] = {"file": where.file, "line": where.line}
        return entry

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Finding:
        location = data.get("location") or {}
        where = Located(
            data["object_kind"],
            tuple(data["path"]),
            data["object"],
            None,
            location.get("file"),
            location.get("line"),
        )
        detail = data.get("fix_detail")
        return cls(
            rule=data["rule"],
            category=Category(data["category"]),
            severity=Severity(data["severity"]),
            where=where,
            message=data["message"],
            evidence=data["evidence"],
            fix=Fix.from_json(detail) if detail else None,
            fingerprint=data["fingerprint"],
        )
