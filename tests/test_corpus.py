"""Real public schemas nobody here wrote (../shared/corpus): every check runs, the
report validates, and findings checked by hand stay as they are."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers import not_run, pgvitals, valid_report
from tests.test_fixes import apply_script, schema_dump

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
NAMES = ["pagila", "chinook", "openstreetmap", "synapse", "lago", "gisia", "supabase_basejump"]

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


def load_corpus(server, name: str, database: str, tmp_path: Path) -> None:
    """Load one corpus schema into a fresh database with the corpus's own loader."""
    environment = {
        **os.environ,
        "PATH": f"{server.bin_dir}:{os.environ['PATH']}",
        "CORPUS_REPORT": str(tmp_path / "load-report.txt"),
        "CORPUS_DB": database,
    }
    subprocess.run(
        [str(CORPUS / "load.sh"), name, server.dsn()],
        check=True,
        capture_output=True,
        env=environment,
        timeout=300,
    )


needs_corpus = pytest.mark.skipif(
    not CORPUS.is_dir(), reason="shared/corpus is not beside the checkout"
)


@needs_corpus
@pytest.mark.parametrize("name", NAMES)
def test_corpus_schema(server, name: str, tmp_path: Path) -> None:
    load_corpus(server, name, f"corpus_{name}", tmp_path)
    run = pgvitals("check", server.dsn(f"corpus_{name}"), "--format", "json")
    assert run.exit_code == 0, run.stderr
    report = valid_report(run.json())
    assert not_run(report["checks"]) == []
    assert report["collection"]["skipped"] == []
    found = {(f["rule"], f["object"]) for f in report["findings"]}
    assert KNOWN.get(name, set()) <= found


@needs_corpus
@pytest.mark.parametrize("name", NAMES)
def test_corpus_fix_then_rollback_restores_the_schema(server, name: str, tmp_path: Path) -> None:
    """fix.sql and rollback.sql as the check writes them, applied statement by statement
    in autocommit mode (as `psql -f` runs them): none fails, and the schema after the
    rollback dumps exactly as before."""
    database = f"fixes_{name}"
    load_corpus(server, name, database, tmp_path)
    run = pgvitals("check", server.dsn(database), "-o", str(tmp_path / "report.json"))
    assert run.exit_code == 0, run.stderr
    before = schema_dump(server, database)
    fix = apply_script(server.dsn(database), (tmp_path / "fix.sql").read_text())
    rollback = apply_script(server.dsn(database), (tmp_path / "rollback.sql").read_text())
    assert (fix.failures, rollback.failures) == ([], [])
    assert fix.statements, "the corpus schemas all have findings with fixes"
    assert schema_dump(server, database) == before
