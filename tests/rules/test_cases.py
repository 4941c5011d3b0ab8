"""Every rule's YAML cases, against every test server: the SQL is loaded into a
fresh database, the live check runs, and the objects this rule reports must be
exactly the expected ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pgvitals.connect import connect
from pgvitals.engine import analyse
from pgvitals.snapshot.collect import ProfileBudget, collect

CASES_DIR = Path(__file__).parent / "cases"


def load_cases() -> list[Any]:
    params = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        spec = yaml.safe_load(path.read_text())
        for case in spec["cases"]:
            params.append(pytest.param(spec["rule"], case, id=f"{spec['rule']}: {case['name']}"))
    return params


def matches(finding: dict[str, Any], expected: dict[str, Any]) -> bool:
    """Every expected key equals the finding's; `evidence` is compared key by key."""
    for key, value in expected.items():
        if key == "evidence":
            if any(finding["evidence"].get(k) != v for k, v in value.items()):
                return False
        elif finding.get(key) != value:
            return False
    return True


@pytest.mark.parametrize(("rule_id", "case"), load_cases())
def test_rule_case(database, rule_id: str, case: dict[str, Any]) -> None:
    database.execute(case["sql"])
    workload = case.get("workload", [])
    for statement in [workload] if isinstance(workload, str) else workload:
        database.execute(statement)  # one by one: VACUUM cannot run in a transaction
    connection = connect(database.dsn)
    try:
        snapshot = collect(connection, profile=None if case.get("no_data") else ProfileBudget())
    finally:
        connection.close()
    found = [f.to_json() for f in analyse(snapshot).findings if f.rule == rule_id]
    expected = case["expect"]
    assert sorted(f["object"] for f in found) == sorted(e["object"] for e in expected), found
    for item in expected:
        candidates = [f for f in found if f["object"] == item["object"]]
        assert any(matches(f, item) for f in candidates), (item, candidates)
