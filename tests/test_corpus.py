"""Real public schemas nobody here wrote (../shared/corpus): every check runs, the
report validates, and findings checked by hand stay as they are."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from pgvitals.embedded import EmbeddedServer
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


@pytest.fixture(scope="session")
def corpus_checks() -> dict[tuple[Path, str], Path]:
    return {}


@pytest.fixture
def corpus_check(
    server: EmbeddedServer,
    corpus_copy: Callable[[str], Database],
    corpus_checks: dict[tuple[Path, str], Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str], Path]:
    """`corpus_check(name)`: the folder where `pgvitals check -o report.json` wrote its
    report, fix.sql and rollback.sql for that schema on this server; the two tests below
    read the same check, run by whichever comes first."""

    def check(name: str) -> Path:
        if (server.base_dir, name) not in corpus_checks:
            folder = tmp_path_factory.mktemp(f"check_{name}")
            run = pgvitals("check", corpus_copy(name).dsn, "-o", str(folder / "report.json"))
            assert run.exit_code == 0, run.stderr
            corpus_checks[(server.base_dir, name)] = folder
        return corpus_checks[(server.base_dir, name)]

    return check


@needs_corpus
@pytest.mark.parametrize("name", NAMES)
def test_corpus_schema(corpus_check: Callable[[str], Path], name: str) -> None:
    report = valid_report(json.loads((corpus_check(name) / "report.json").read_text()))
    assert not_run(report["checks"]) == []
    assert report["collection"]["skipped"] == []
    found = {(f["rule"], f["object"]) for f in report["findings"]}
    assert KNOWN.get(name, set()) <= found


@needs_corpus
@pytest.mark.parametrize("name", NAMES)
def test_corpus_fix_then_rollback_restores_the_schema(
    corpus_check: Callable[[str], Path], corpus_copy: Callable[[str], Database], name: str
) -> None:
    """fix.sql and rollback.sql as the check writes them, applied statement by statement
    in autocommit mode (as `psql -f` runs them) to a copy of the schema as checked: none
    fails, and the schema after the rollback dumps exactly as before."""
    scripts = corpus_check(name)
    database = corpus_copy(name)
    before = schema_dump(database.server, database.name)
    fix = apply_script(database.dsn, (scripts / "fix.sql").read_text())
    rollback = apply_script(database.dsn, (scripts / "rollback.sql").read_text())
    assert (fix.failures, rollback.failures) == ([], [])
    assert fix.statements, "the corpus schemas all have findings with fixes"
    assert schema_dump(database.server, database.name) == before
