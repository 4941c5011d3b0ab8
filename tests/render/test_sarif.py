"""SARIF 2.1.0, validated against the official schema OASIS publishes (shipped in
tests/data): one reportingDescriptor per pgvitals rule with its help and helpUri, and
the results of a live check, a baseline comparison and a file review."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from tests.render.test_md_text import make_snapshot

from pgvitals.engine import analyse
from pgvitals.findings import Located
from pgvitals.render.sarif import SARIF_SCHEMA, build_sarif, render_sarif
from pgvitals.report import Baseline, build_report
from pgvitals.ruledocs import page_url
from pgvitals.rules import REGISTRY

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "data" / "sarif-schema-2.1.0.json"


def sarif_validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(
        schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )


def valid_sarif(document: dict[str, Any]) -> dict[str, Any]:
    errors = sorted(sarif_validator().iter_errors(document), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]
    return document


def test_the_shipped_schema_is_the_official_one() -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert schema["id"] == SARIF_SCHEMA
    assert schema["properties"]["version"]["enum"] == ["2.1.0"]
    jsonschema.Draft4Validator.check_schema(schema)


def test_the_validation_catches_a_broken_log() -> None:
    """The schema is strict enough to matter: a result without a message is refused."""
    document = build_sarif(build_report(analyse(make_snapshot())))
    del document["runs"][0]["results"][0]["message"]
    with pytest.raises(AssertionError):
        valid_sarif(document)


def test_a_live_check_validates_with_one_rule_per_pgvitals_rule() -> None:
    report = build_report(analyse(make_snapshot()))
    document = valid_sarif(json.loads(render_sarif(report)))
    assert document["$schema"] == SARIF_SCHEMA and document["version"] == "2.1.0"
    run = document["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [rule["id"] for rule in rules] == [c.rule for c in report.checks]
    assert {rule["id"] for rule in rules} == set(REGISTRY)
    for descriptor in rules:
        assert descriptor["helpUri"] == page_url(descriptor["id"])
        assert "## Why it breaks" in descriptor["help"]["markdown"]
        assert descriptor["help"]["text"] and descriptor["shortDescription"]["text"]
    assert len(run["results"]) == len(report.findings)
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["partialFingerprints"]["pgvitals/v1"]


def test_a_baseline_and_a_review_validate() -> None:
    report = build_report(analyse(make_snapshot()))
    known, worse, *_ = report.findings
    baseline = Baseline(
        "base.json",
        "2026-11-20T00:00:00Z",
        frozenset({known.fingerprint, worse.fingerprint}),
        frozenset({worse.fingerprint}),
        (),
    )
    states = {
        result["partialFingerprints"]["pgvitals/v1"]: result["baselineState"]
        for result in valid_sarif(build_sarif(replace(report, baseline=baseline)))["runs"][0][
            "results"
        ]
    }
    assert states[known.fingerprint] == "unchanged" and states[worse.fingerprint] == "updated"
    assert set(states.values()) == {"unchanged", "updated", "new"}

    placed = [
        replace(f, where=Located(f.where.kind, f.where.path, f.where.name, None, path, line))
        for f, (path, line) in zip(
            report.findings,
            [("migrations/V1__init.sql", 3), ("/abs/dir/with space.sql", None)] * 50,
            strict=False,
        )
    ]
    reviewed = valid_sarif(build_sarif(replace(report, findings=placed)))
    locations = [r["locations"][0]["physicalLocation"] for r in reviewed["runs"][0]["results"]]
    assert locations[0] == {
        "artifactLocation": {"uri": "migrations/V1__init.sql"},
        "region": {"startLine": 3},
    }
    assert locations[1] == {"artifactLocation": {"uri": "file:///abs/dir/with%20space.sql"}}
