"""Real public schemas nobody here wrote (../shared/corpus): every check runs, the
report validates, and findings checked by hand stay as they are."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers import pgvitals, valid_report

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


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared/corpus is not beside the checkout")
@pytest.mark.parametrize("name", NAMES)
def test_corpus_schema(server, name: str, tmp_path: Path) -> None:
    environment = {
        **os.environ,
        "PATH": f"{server.bin_dir}:{os.environ['PATH']}",
        "CORPUS_REPORT": str(tmp_path / "load-report.txt"),
    }
    subprocess.run(
        [str(CORPUS / "load.sh"), name, server.dsn()],
        check=True,
        capture_output=True,
        env=environment,
        timeout=300,
    )
    run = pgvitals("check", server.dsn(f"corpus_{name}"), "--format", "json")
    assert run.exit_code == 0, run.stderr
    report = valid_report(run.json())
    assert [c for c in report["checks"] if c["status"] != "ran"] == []
    assert report["collection"]["skipped"] == []
    found = {(f["rule"], f["object"]) for f in report["findings"]}
    assert KNOWN.get(name, set()) <= found
