"""Real public schemas nobody here wrote (../shared/corpus): every check runs, the
report validates, and findings checked by hand stay as they are."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Database
from tests.corpus import NAMES, needs_corpus
from tests.helpers import not_run, pgvitals, valid_report
from tests.test_fixes import apply_script, schema_dump

# (rule, object) pairs verified by reading the schemas
KNOWN = {
    "pagila": {
        # two standalone indexes on (customer_id) per partition: one of each pair goes
        ("duplicate-index", f"public.payment_p2022_0{month}_customer_id_idx")
        for month in range(1, 7)
    },
    "chinook": {("redundant-index", "public.playlist_track_playlist_id_idx")},
    "lago": {("redundant-index", "public.index_invoices_on_customer_id")},
}


@needs_corpus
@pytest.mark.parametrize("name", NAMES)
def test_corpus_schema(corpus_copy: Callable[[str], Database], name: str) -> None:
    run = pgvitals("check", corpus_copy(name).dsn, "--format", "json")
    assert run.exit_code == 0, run.stderr
    report = valid_report(run.json())
    assert not_run(report["checks"]) == []
    assert report["collection"]["skipped"] == []
    found = {(f["rule"], f["object"]) for f in report["findings"]}
    assert KNOWN.get(name, set()) <= found


@needs_corpus
@pytest.mark.parametrize("name", NAMES)
def test_corpus_fix_then_rollback_restores_the_schema(
    corpus_copy: Callable[[str], Database], name: str, tmp_path: Path
) -> None:
    """fix.sql and rollback.sql as the check writes them, applied statement by statement
    in autocommit mode (as `psql -f` runs them): none fails, and the schema after the
    rollback dumps exactly as before."""
    database = corpus_copy(name)
    run = pgvitals("check", database.dsn, "-o", str(tmp_path / "report.json"))
    assert run.exit_code == 0, run.stderr
    before = schema_dump(database.server, database.name)
    fix = apply_script(database.dsn, (tmp_path / "fix.sql").read_text())
    rollback = apply_script(database.dsn, (tmp_path / "rollback.sql").read_text())
    assert (fix.failures, rollback.failures) == ([], [])
    assert fix.statements, "the corpus schemas all have findings with fixes"
    assert schema_dump(database.server, database.name) == before
