"""The case harness itself (pgvitals.testing): it fails a rule that raises or did not
run, refuses case files it would misread, and applies a case's configuration."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pgvitals.config import ConfigError
from pgvitals.rules import REGISTRY, Rule
from pgvitals.rules._api import HIGH, INTEGRITY, Draft, finding
from pgvitals.snapshot.model import Snapshot
from pgvitals.testing import Case, CaseError, CaseFailure, check_case, load_case_file

TABLE = "CREATE TABLE lessons (id int PRIMARY KEY);"


def silent_case(rule_id: str, **changes: Any) -> Case:
    case = Case(
        rule_id, "silent", TABLE, workload=(), config={}, no_data=False, expect=(), source="test"
    )
    return dataclasses.replace(case, **changes)


@pytest.fixture
def raising_rule(monkeypatch: pytest.MonkeyPatch) -> str:
    """A rule that raises before yielding anything, registered for this test only."""

    def broken_rule(snap: Snapshot, opts: object) -> Iterator[Draft]:
        raise RuntimeError("deliberately broken")
        yield finding(snap.tables[0], "unreachable")

    monkeypatch.setitem(
        REGISTRY, "broken-rule", Rule("broken-rule", INTEGRITY, HIGH, "", broken_rule)
    )
    return "broken-rule"


@pytest.fixture
def quiet_rule(monkeypatch: pytest.MonkeyPatch) -> str:
    def quiet(snap: Snapshot, opts: object) -> Iterator[Draft]:
        yield from ()

    monkeypatch.setitem(REGISTRY, "quiet", Rule("quiet", INTEGRITY, HIGH, "Quiet", quiet))
    return "quiet"


def test_a_rule_that_raises_fails_even_its_silent_case(database, raising_rule: str) -> None:
    with pytest.raises(CaseFailure, match=r"the check failed: RuntimeError: deliberately broken"):
        check_case(database.dsn, silent_case(raising_rule))


def test_the_same_silent_case_passes_for_a_rule_that_runs(database, quiet_rule: str) -> None:
    assert check_case(database.dsn, silent_case(quiet_rule)) == []


def test_a_rule_the_case_config_disables_did_not_run(database) -> None:
    case = silent_case("missing-primary-key", config={"disable": ["missing-primary-key"]})
    with pytest.raises(CaseFailure, match="the check skipped: disabled"):
        check_case(database.dsn, case)


def test_case_config_is_applied(database) -> None:
    # with its default it is medium; the case's config makes the default low
    workload = ("DELETE FROM t WHERE id > 1000",)
    sql = ("CREATE TABLE t (id int PRIMARY KEY) WITH (autovacuum_vacuum_threshold = 2000000000,"
           " autovacuum_vacuum_insert_threshold = 2000000000,"
           " autovacuum_analyze_threshold = 2000000000);"
           "INSERT INTO t SELECT generate_series(1, 1600);")  # fmt: skip
    expect = ({"object": "public.t", "severity": "low"},)
    config = {"rules": {"high-dead-tuple-ratio": {"severity": "low", "min_dead_tuples": 500}}}
    case = silent_case("high-dead-tuple-ratio", sql=sql, workload=workload, expect=expect,
                       config=config)  # fmt: skip
    [found] = check_case(database.dsn, case)
    assert found["evidence"]["n_dead_tup"] == 600


def test_a_case_config_is_checked_like_the_project_config() -> None:
    case = silent_case("high-dead-tuple-ratio", config={"rules": {
        "high-dead-tuple-ratio": {"min_ratoi": 0.4}}})  # fmt: skip
    with pytest.raises(ConfigError, match="has no option 'min_ratoi'"):
        case.parsed_config()


def test_a_case_file_with_a_misspelt_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "missing-primary-key.yaml"
    path.write_text(
        "rule: missing-primary-key\ncases:\n"
        "  - {name: typo, sql: 'SELECT 1', expect: [], expected: [{object: public.t}]}\n"
    )
    with pytest.raises(CaseError, match="unknown key"):
        load_case_file(path)


def test_an_expected_field_the_finding_lacks_never_matches(database) -> None:
    case = silent_case("missing-primary-key", sql="CREATE TABLE t (a int);",
                       expect=({"object": "public.t", "no_such_field": None},))  # fmt: skip
    with pytest.raises(CaseFailure, match="no finding matches"):
        check_case(database.dsn, case)
