"""`pgvitals demo`, the first thing a new user runs, end to end."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from pgvitals.embedded import remove_dead_runs
from tests.conftest import DemoRun
from tests.helpers import not_run, valid_report
from tests.render.test_sarif import valid_sarif


def test_demo_writes_a_report_that_exhibits_the_flaws(demo_run: DemoRun) -> None:
    run, out = demo_run.run, demo_run.folder
    report = valid_report(json.loads((out / "report.json").read_text()))
    found = {(f["rule"], f["object"]) for f in report["findings"]}
    expected = {
        ("missing-primary-key", "practise_improve_pilot.lesson_feedback_tags"),
        ("duplicate-index", "practise_improve_pilot.idx_feedback_lesson_id"),
        ("redundant-index", "practise_improve_pilot.students_school_id_idx"),
        ("high-dead-tuple-ratio", "practise_improve_pilot.streaks"),
        ("fk-type-mismatch", "practise_improve_pilot.progress.lesson_id"),
        ("fk-type-mismatch", "billing.payments.invoice_id"),
        ("missing-foreign-key", "practise_improve_pilot.lessons.teacher_id"),
        ("missing-foreign-key", "practise_improve_pilot.chat_sessions.teacher_id"),
        ("backup-table", "practise_improve_pilot.lessons_backup"),
        ("backup-table", "practise_improve_pilot.feedback_2024_01_15"),
        ("backup-table", "public.teachers_old"),
        ("duplicate-columns", "practise_improve_pilot.lessons.createdAt"),
        ("mixed-id-strategy", "practise_improve_pilot"),
        ("similar-tables", "practise_improve_pilot.lesson_plan_drafts"),
        ("soft-delete-without-partial-unique", "practise_improve_pilot.teachers_email_key"),
        ("status-without-check", "practise_improve_pilot.lessons.status"),
        ("status-without-check", "practise_improve_pilot.chat_sessions.status"),
        ("timestamp-without-time-zone", "practise_improve_pilot.teachers.created_at"),
        ("json-instead-of-jsonb", "practise_improve_pilot.chat_sessions.client_info"),
        ("serial-instead-of-identity", "practise_improve_pilot.teachers.id"),
        ("unvalidated-constraint", "practise_improve_pilot.progress.progress_score_range"),
        ("unvalidated-constraint", "practise_improve_pilot.lessons.lessons_class_group_id_fkey"),
        ("partition-coverage", "practise_improve_pilot.chat_messages"),
        ("empty-string-in-not-null", "practise_improve_pilot.feedback.comment"),
        ("empty-string-in-not-null", "practise_improve_pilot.students.display_name"),
        ("empty-string-in-not-null", "practise_improve_pilot.lesson_plans.title"),
        ("missing-comments", "practise_improve_pilot"),
        ("naming-singular-plural-mix", "practise_improve_pilot.teacher_profile"),
        ("timestamp-naming-mix", "practise_improve_pilot"),
        ("identifier-needs-quoting", "practise_improve_pilot.LessonNotes"),
        ("reserved-word-identifier", "practise_improve_pilot.lesson_plans.order"),
        ("reserved-word-identifier", "practise_improve_pilot.login_attempts.user"),
        ("no-migration-history", "pgvitals_demo"),
        ("timestamp-as-integer", "practise_improve_pilot.badges.expires_at"),
        # indexes, maintenance and activity (issue 8), as FLAWS.md lists them
        ("unused-index", "practise_improve_pilot.lessons_created_at_idx"),
        ("invalid-index", "practise_improve_pilot.chat_messages_role_idx"),
        ("jsonb-without-gin", "practise_improve_pilot.lessons.metadata"),
        ("seq-scan-heavy-table", "practise_improve_pilot.students"),
        ("over-indexed-table", "practise_improve_pilot.announcements"),
        ("index-bloat", "practise_improve_pilot.chat_sessions_pkey"),
        ("autovacuum-disabled", "practise_improve_pilot.streaks"),
        ("stale-statistics", "practise_improve_pilot.streaks"),
        ("table-bloat", "practise_improve_pilot.chat_sessions"),
        ("high-churn-table", "practise_improve_pilot.chat_sessions"),
        ("cleared-table", "public.csv_import_rows"),
        ("unused-table", "practise_improve_pilot.badges"),
        ("update-hot-spot", "practise_improve_pilot.streaks"),
        ("empty-schema", "legacy"),
        ("aborted-writes", "practise_improve_pilot.teacher_profile"),
        # quality (issue 10): one planted flaw per rule, and the integrity rule's worst
        ("empty-strings", "practise_improve_pilot.students.nickname"),
        ("all-empty-column", "practise_improve_pilot.teachers.fax_number"),
        ("high-null-ratio", "practise_improve_pilot.lessons.createdAt"),
        ("high-null-ratio", "practise_improve_pilot.students.guardian_phone"),
        ("placeholder-values", "practise_improve_pilot.students.nickname"),
        ("placeholder-values", "practise_improve_pilot.teachers.phone"),
        ("plaintext-password", "practise_improve_pilot.teachers.password"),
        ("plaintext-password", "public.teachers_old.password"),
        ("pii-inventory", "practise_improve_pilot.login_attempts"),
        ("pii-inventory", "practise_improve_pilot.students"),
        ("soft-delete-orphans", "practise_improve_pilot.teacher_profile.teacher_id"),
        ("soft-delete-orphans", "practise_improve_pilot.progress.student_id"),
        # security (FLAWS.md): one planted flaw per rule the demo can show
        ("rls-disabled", "practise_improve_pilot.progress"),
        ("rls-enabled-no-policy", "practise_improve_pilot.streaks"),
        ("policy-without-rls", "practise_improve_pilot.progress"),
        ("rls-missing-command", "practise_improve_pilot.lessons"),
        ("rls-session-variable", "practise_improve_pilot.lesson_plans.lesson_plans_owner"),
        ("rls-per-row-function", "practise_improve_pilot.lessons.lessons_teacher_read"),
        ("multiple-permissive-policies", "practise_improve_pilot.students"),
        ("bypassrls-login-role", "reporting"),
        ("security-definer-search-path", "practise_improve_pilot.reset_streak(p_student_id uuid)"),
        ("function-search-path-mutable", "practise_improve_pilot.auth_teacher_id()"),
        ("view-bypasses-rls", "practise_improve_pilot.student_directory"),
        ("public-schema-create", "public"),
        ("grant-to-public", "practise_improve_pilot.lesson_feedback_tags"),
        ("rls-policy-always-true", "practise_improve_pilot.feedback.feedback_read"),
        ("sensitive-columns-exposed", "public.teachers_old"),
        (
            "security-definer-executable-by-api-role",
            "practise_improve_pilot.reset_streak(p_student_id uuid)",
        ),
        (
            "rls-policy-recursion",
            "practise_improve_pilot.teacher_profile.teacher_profile_same_school",
        ),
    }
    assert expected <= found, sorted(found)
    assert any(rule == "unindexed-foreign-key" for rule, _ in found)
    assert not_run(report["checks"]) == [], report["checks"]
    silent = {
        ("plaintext-password", "practise_improve_pilot.students.password_hash"),
        ("high-null-ratio", "practise_improve_pilot.students.deleted_at"),
        ("all-empty-column", "practise_improve_pilot.teachers.deleted_at"),
        ("soft-delete-orphans", "practise_improve_pilot.feedback.student_id"),
        # NOT NULL: one finding, empty-string-in-not-null's, not a second from the data rule
        ("empty-strings", "practise_improve_pilot.feedback.comment"),
    }
    assert not silent & found
    markdown = (out / "report.md").read_text()
    assert "practise_improve_pilot" in markdown and "erDiagram" in markdown
    quality = markdown.split("## Data quality")[1].split("## Missing elements")[0]
    assert "| `practise_improve_pilot.feedback.comment` | 3,200 | — | 948 (29.6%) |" in quality
    assert "| `practise_improve_pilot.teachers.password` |" in quality
    assert "135 not hashed" in quality
    by_column = {row["column"]: row for row in report["sections"]["quality"]}
    assert by_column["practise_improve_pilot.students.guardian_phone"]["nulls"] == 2700
    assert by_column["practise_improve_pilot.login_attempts.user"]["shape"] == "email"
    assert "| `practise_improve_pilot.streaks` | `postgres` (exempt) | **denied**" in markdown
    assert "CONCURRENTLY" in (out / "fix.sql").read_text()
    assert (out / "rollback.sql").exists()
    valid_sarif(json.loads((out / "report.sarif").read_text()))
    page = (out / "report.html").read_text()
    # the measured data-quality table, as in Markdown: the 948 '' of feedback.comment
    quality = page.split('<table class="quality">', 1)[1].split("</table>", 1)[0]
    assert "<code>practise_improve_pilot.feedback.comment</code>" in quality
    assert "948 (29.6%)" in quality
    assert page.startswith("<!DOCTYPE html>") and 'class="er-diagram"' in page
    assert "pgvitals_demo" in run.stdout and "report.html" in run.stdout


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
    deadline = time.monotonic() + 120  # a loaded machine starts servers slowly
    while server_dir is None and time.monotonic() < deadline:
        # its own directory: other test sessions on the machine make such folders too
        mine = [d for d in dirs_of(demo.pid) if d not in before]
        if mine and (mine[0] / "data" / "postmaster.pid").exists():
            server_dir = mine[0]
        time.sleep(0.05)
    assert server_dir is not None, "the demo never started its server"
    os.killpg(demo.pid, signal.SIGINT)  # what Ctrl-C sends to the foreground group
    demo.communicate(timeout=60)
    assert demo.returncode == 130
    assert not server_dir.exists()
    assert postgres_processes_in(server_dir) == []
    assert not (tmp_path / "out" / "report.md").exists()


def start_demo(out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pgvitals", "demo", "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal job is
    )


def dirs_of(pid: int) -> list[Path]:
    """The server directories of run `pid` (by their marker: other tests, and other
    test sessions on the machine, make such directories too)."""
    found = []
    for folder in pgvitals_dirs():
        try:
            if (folder / "owner.lock").read_text().strip() == str(pid):
                found.append(folder)
        except OSError:
            continue
    return found


def postmaster_started(server_dir: Path) -> bool:
    """initdb's single-user backend writes a lock file too, with its pid negated."""
    try:
        return int((server_dir / "data" / "postmaster.pid").read_text().split()[0]) > 0
    except (OSError, ValueError, IndexError):
        return False


def wait_for_server(pid: int) -> Path:
    for _ in range(600):
        running = [folder for folder in dirs_of(pid) if postmaster_started(folder)]
        if running:
            return running[0]
        time.sleep(0.05)
    raise AssertionError("the demo never started its server")


def loading_modules(pid: int) -> bool:
    """Whether the process has loaded psycopg's C extension: pgvitals' own start-up code
    runs from then on (what comes before is Python's own start-up, which prints a
    traceback for a Ctrl-C that no program can catch)."""
    try:
        return "psycopg_binary" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


@pytest.mark.parametrize("delay", [0, 0.03, 0.1, 0.2])
def test_ctrl_c_while_the_demo_loads_says_interrupted_in_one_line(tmp_path, delay) -> None:
    demo = start_demo(tmp_path / "out")
    deadline = time.monotonic() + 30
    while not loading_modules(demo.pid) and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(delay)
    os.killpg(demo.pid, signal.SIGINT)
    _, stderr = demo.communicate(timeout=60)
    assert "Traceback" not in stderr, stderr
    assert stderr.strip().splitlines() == ["pgvitals: interrupted"], stderr
    assert demo.returncode == 130
    assert dirs_of(demo.pid) == []


def assert_nothing_left(server_dir: Path, stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert not server_dir.exists()
    assert postgres_processes_in(server_dir) == []


@pytest.mark.parametrize("first", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_and_sigterm_during_the_demos_clean_up_leave_nothing(tmp_path, first) -> None:
    demo = start_demo(tmp_path / "out")
    server_dir = wait_for_server(demo.pid)
    os.killpg(demo.pid, first)
    # More of both while it cleans up, as an impatient user or a supervisor sends them.
    for count in itertools.count():
        if demo.poll() is not None:
            break
        assert count < 3000, "the demo did not end"
        os.killpg(demo.pid, signal.SIGINT if count % 2 else signal.SIGTERM)
        time.sleep(0.01)
    _, stderr = demo.communicate(timeout=60)
    # 130 once it said so; SIGTERM's own status when one came after the clean-up.
    assert demo.returncode in (130, -signal.SIGTERM), (demo.returncode, stderr)
    assert_nothing_left(server_dir, stderr)


def test_the_next_start_removes_what_a_killed_demo_left(tmp_path) -> None:
    demo = start_demo(tmp_path / "out")
    server_dir = wait_for_server(demo.pid)
    os.killpg(demo.pid, signal.SIGKILL)
    demo.communicate(timeout=60)
    assert postgres_processes_in(server_dir) != [], "a killed demo leaves its server running"
    remove_dead_runs()
    assert_nothing_left(server_dir, "")
