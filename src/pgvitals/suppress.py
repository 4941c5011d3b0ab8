"""Excusing findings: `[[ignore]]` entries in the config, and `pgvitals:ignore rule-id
reason` markers in an object's COMMENT (on a table it covers the table's columns,
indexes and constraints; on a schema, everything in it).

Also says which excuses matched nothing, so a stale ignore entry or a marker with a
misspelt rule id is visible instead of silently excusing nothing.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

from pgvitals.config import Config, Excuse
from pgvitals.findings import Finding, Located
from pgvitals.markers import Marker, read_markers

Key = tuple[str, tuple[str, ...]]  # (kind, path)


@dataclass(frozen=True)
class Excused:
    finding: Finding
    reason: str
    source: str  # config, or the COMMENT of the object that carries the marker


@dataclass(frozen=True)
class UnusedExcuse:
    """An ignore entry or COMMENT marker that excused no finding in this run."""

    rule: str
    target: str  # the config's object pattern, or the object whose COMMENT has the marker
    source: str


class Suppressor:
    def __init__(self, config: Config, located: Iterable[Located]) -> None:
        self.config = config
        self.markers: dict[Key, dict[str, Marker]] = {}
        for where in located:
            for marker in read_markers(where):
                self.markers.setdefault((where.kind, where.path), {})[marker.rule] = marker
        self.used_excuses: set[Excuse] = set()
        self.used_markers: set[tuple[Key, str]] = set()
        # most rules have no marker anywhere: their findings need no look at comments
        self.marked_rules = {rule for by_rule in self.markers.values() for rule in by_rule}

    def excuse(self, item: Finding) -> Excused | None:
        for excuse in self.config.excuses:
            if excuse.rule == item.rule and fnmatch.fnmatchcase(item.object, excuse.object):
                self.used_excuses.add(excuse)
                return Excused(item, excuse.reason, self.config.source or "configuration")
        if item.rule not in self.marked_rules:
            return None
        for key in enclosing(item.where):
            marker = self.markers.get(key, {}).get(item.rule)
            if marker:
                self.used_markers.add((key, item.rule))
                return Excused(item, marker.reason, f"COMMENT on {marker.where.name}")
        return None

    def unused(self, rules_ran: set[str]) -> list[UnusedExcuse]:
        """Excuses for rules that ran and still excused nothing."""
        where = self.config.source or "configuration"
        unused = [
            UnusedExcuse(e.rule, e.object, where)
            for e in self.config.excuses
            if e not in self.used_excuses and e.rule in rules_ran
        ]
        for key, by_rule in self.markers.items():
            for rule_id, marker in by_rule.items():
                if (key, rule_id) not in self.used_markers and rule_id in rules_ran:
                    unused.append(UnusedExcuse(rule_id, marker.where.name, "COMMENT"))
        return unused

    def unknown_rules(self, known: Iterable[str]) -> list[UnusedExcuse]:
        """COMMENT markers naming a rule that does not exist (a misspelt id)."""
        known_ids = set(known)
        return [
            UnusedExcuse(rule_id, marker.where.name, "COMMENT")
            for by_rule in self.markers.values()
            for rule_id, marker in by_rule.items()
            if rule_id not in known_ids
        ]


def enclosing(where: Located) -> list[Key]:
    """The object itself, then its table, then its schema: the COMMENTs that may excuse it."""
    keys: list[Key] = [(where.kind, where.path)]
    fields = where.fields()
    if where.kind != "table" and fields["schema"] and fields["table"]:
        keys.append(("table", (fields["schema"], fields["table"])))
    if where.kind != "schema" and fields["schema"]:
        keys.append(("schema", (fields["schema"],)))
    return keys
