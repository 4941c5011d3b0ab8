"""The rule catalogue. Importing this package registers every rule."""

from pgvitals.findings import CATEGORIES, SEVERITIES, Finding
from pgvitals.rules import activity, indexes, integrity, maintenance  # noqa: F401  (registers rules)
from pgvitals.rules._api import REGISTRY, Rule

__all__ = ["CATEGORIES", "REGISTRY", "SEVERITIES", "Finding", "Rule"]
