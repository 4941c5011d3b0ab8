"""`pgvitals demo`, the first thing a new user runs, end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.helpers import pgvitals, valid_report


def test_demo_writes_a_report_that_exhibits_the_flaws(tmp_path) -> None:
    out = tmp_path / "report"
    run = pgvitals("demo", "-o", str(out), timeout=300)
    assert run.exit_code == 0, run.stderr
    report = valid_report(json.loads((out / "report.json").read_text()))
    found = {(f["rule"], f["object"]) for f in report["findings"]}
    expected = {
        ("missing-primary-key", "practise_improve_pilot.lesson_feedback_tags"),
        ("duplicate-index", "practise_improve_pilot.idx_feedback_lesson_id"),
        ("redundant-index", "practise_improve_pilot.students_school_id_idx"),
        ("high-dead-tuple-ratio", "practise_improve_pilot.streaks"),
    }
    assert expected <= found, sorted(found)
    assert any(rule == "unindexed-foreign-key" for rule, _ in found)
    assert all(c["status"] == "ran" for c in report["checks"]), report["checks"]
    markdown = (out / "report.md").read_text()
    assert "practise_improve_pilot" in markdown and "erDiagram" in markdown
    assert "CONCURRENTLY" in (out / "fix.sql").read_text()
    assert (out / "rollback.sql").exists() and (out / "report.sarif").exists()
    assert "pgvitals_demo" in run.stdout


def pgvitals_dirs() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("pgvitals-*"))


def postgres_processes_in(folder: Path) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "postgres" in command and str(folder) in command:
                found.append(int(proc.name))
    return found


def test_ctrl_c_during_the_demo_stops_and_removes_its_server(tmp_path) -> None:
    before = pgvitals_dirs()
    demo = subprocess.Popen(
        [sys.executable, "-m", "pgvitals", "demo", "-o", str(tmp_path / "out")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, as a terminal job is
    )
    server_dir = None
    for _ in range(600):  # wait until its server runs
        new = pgvitals_dirs() - before
        if new and (next(iter(new)) / "data" / "postmaster.pid").exists():
            server_dir = next(iter(new))
            break
        time.sleep(0.05)
    assert server_dir is not None, "the demo never started its server"
    os.killpg(demo.pid, signal.SIGINT)  # what Ctrl-C sends to the foreground group
    demo.communicate(timeout=60)
    assert demo.returncode == 130
    assert not server_dir.exists()
    assert postgres_processes_in(server_dir) == []
    assert not (tmp_path / "out" / "report.md").exists()
