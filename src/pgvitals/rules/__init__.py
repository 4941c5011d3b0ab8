"""The rule catalogue. Importing this package registers every rule."""

import pgvitals.rules.workload  # noqa: F401  (registers rules)
from pgvitals.findings import CATEGORIES, SEVERITIES, Finding
from pgvitals.rules import (  # noqa: F401  (registers rules)
    activity,
    design,
    indexes,
    integrity,
    maintenance,
    migration,
    naming,
    partitions,
    quality,
    review,
    rls,
    security,
)
from pgvitals.rules._api import REGISTRY, Rule

__all__ = ["CATEGORIES", "REGISTRY", "SEVERITIES", "Finding", "Rule"]
