"""`pgvitals:ignore rule-id reason` markers in an object's COMMENT, as read: the
suppressor excuses findings with them (suppress.py), and a rule that groups many
objects' findings into one leaves out those their own marker excuses."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pgvitals.findings import Located

IGNORE_MARKER = re.compile(r"pgvitals:ignore\s+([a-z0-9-]+(?:\s*,\s*[a-z0-9-]+)*)(.*)", re.I)


@dataclass(frozen=True)
class Marker:
    where: Located
    rule: str
    reason: str


def read_markers(where: Located) -> list[Marker]:
    comment = where.comment
    if not comment or "pgvitals:ignore" not in comment.lower():
        return []
    markers = []
    for match in IGNORE_MARKER.finditer(comment):
        reason = match.group(2).strip(" :-—") or "marked in the object's comment"
        for rule_id in re.split(r"\s*,\s*", match.group(1).lower()):
            markers.append(Marker(where, rule_id, reason))
    return markers
