"""The rule catalogue. Importing this package registers every rule."""

import pgvitals.rules.workload  # noqa: F401  (registers rules)
from pgvitals.findings import CATEGORIES, SEVERITIES, Finding
from pgvitals.rules import indexes, integrity, maintenance, review  # noqa: F401  (registers rules)
from pgvitals.rules._api import REGISTRY, Rule

__all__ = ["CATEGORIES", "REGISTRY", "SEVERITIES", "Finding", "Rule"]
