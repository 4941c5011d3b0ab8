"""The rule catalogue is consistent: ids, docs, cases, SARIF."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from pgvitals.rules import CATEGORIES, REGISTRY, SEVERITIES
from pgvitals.rules._api import DOC_SECTIONS

CASES = Path(__file__).parent / "rules" / "cases"

# SPEC §5 ids this version implements; they must keep exactly these names.
CONTRACT_IDS = {
    "missing-primary-key", "unindexed-foreign-key", "duplicate-index", "redundant-index",
    "high-dead-tuple-ratio",
}  # fmt: skip


def test_ids_are_kebab_case_and_named_like_their_functions() -> None:
    for rule_id, rule in REGISTRY.items():
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule_id)
        assert rule.check.__name__ == rule_id.replace("-", "_")
        assert rule.category in CATEGORIES
        assert rule.severity in SEVERITIES
    assert set(REGISTRY) >= CONTRACT_IDS


def test_every_rule_is_documented() -> None:
    for rule in REGISTRY.values():
        assert rule.summary, rule.id
        for heading in DOC_SECTIONS:
            assert len(rule.section(heading)) > 40, (rule.id, heading)


def test_every_rule_has_a_firing_and_a_silent_case() -> None:
    for rule_id in REGISTRY:
        path = CASES / f"{rule_id}.yaml"
        assert path.exists(), f"{rule_id} has no cases"
        spec = yaml.safe_load(path.read_text())
        assert spec["rule"] == rule_id
        assert any(case["expect"] for case in spec["cases"]), f"{rule_id} never fires"
        assert any(not case["expect"] for case in spec["cases"]), f"{rule_id} is never silent"


def test_options_have_help_and_typed_defaults() -> None:
    for rule in REGISTRY.values():
        for option in rule.options:
            assert option.help and isinstance(option.default, (int, float, str, bool))
