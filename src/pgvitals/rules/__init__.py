"""The rule catalogue. Importing this package registers every rule."""

from pgvitals.findings import CATEGORIES, SEVERITIES, Finding
from pgvitals.rules import indexes, integrity, maintenance, migration, review  # noqa: F401
from pgvitals.rules._api import REGISTRY, Rule

__all__ = ["CATEGORIES", "REGISTRY", "SEVERITIES", "Finding", "Rule"]
