"""Every rule's YAML cases, against every test server: the SQL is loaded into a
fresh database, the live check runs, the rule must have run, and the objects it
reports must be exactly the expected ones (see pgvitals.testing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgvitals.testing import Case, CaseUnsupported, check_case, load_cases

CASES_DIR = Path(__file__).parent / "cases"


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in load_cases(CASES_DIR)])
def test_rule_case(database, case: Case) -> None:
    try:
        check_case(database.dsn, case)
    except CaseUnsupported as reason:
        pytest.skip(str(reason))
