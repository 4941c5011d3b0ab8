"""Output that cannot be written, written half, written over someone's file, or written
with a hostile name: each is one line and exit 2, or rendered harmless."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pgvitals.render.escape import visible, visible_value
from pgvitals.snapshot import io
from tests.conftest import DemoRun, free_port
from tests.helpers import Run, pgvitals, valid_report
from tests.render.test_md_text import make_snapshot
from tests.test_cli import one_error_line

REPORT_FILES = ("r.md", "r.json", "r.sarif", "r.txt", "fix.sql", "rollback.sql")


@pytest.fixture
def snapshot_file(tmp_path: Path) -> Path:
    """A saved snapshot with findings that have fixes, so fix.sql has statements."""
    path = tmp_path / "snap.json"
    path.write_text(io.to_json(make_snapshot()), encoding="utf-8")
    return path


def check_offline(snapshot_file: Path, *args: str) -> Run:
    return pgvitals("check", "--snapshot", str(snapshot_file), *args)


def no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr


# --- paths that cannot be written (issue 6, item 9) ------------------------------------


def test_report_path_under_sys_or_proc(snapshot_file: Path) -> None:
    for path, error in (("/sys/r.md", "Permission denied"), ("/proc/r.md", "No such file")):
        run = check_offline(snapshot_file, "-o", path)
        no_traceback(run.stderr)
        assert run.exit_code == 2
        line = one_error_line(run.stderr)
        assert f"cannot write {path}" in line and error in line


def test_report_path_that_is_a_folder(snapshot_file: Path, tmp_path: Path) -> None:
    (tmp_path / "report.md").mkdir()
    run = check_offline(snapshot_file, "-o", str(tmp_path / "report.md"))
    assert run.exit_code == 2
    assert f"cannot write {tmp_path / 'report.md'}: it is a folder" in one_error_line(run.stderr)


def test_fix_sql_that_is_a_folder(snapshot_file: Path, tmp_path: Path) -> None:
    (tmp_path / "fix.sql").mkdir()
    run = check_offline(snapshot_file, "-o", str(tmp_path / "r.md"))
    assert run.exit_code == 2
    assert f"cannot write {tmp_path / 'fix.sql'}: it is a folder" in one_error_line(run.stderr)
    assert not (tmp_path / "r.md").exists(), "nothing is written when one file cannot be"


def test_a_file_where_a_folder_is_needed(snapshot_file: Path, tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    run = check_offline(snapshot_file, "-o", str(tmp_path / "plain" / "sub" / "r.md"))
    assert run.exit_code == 2
    assert "is a file, not a folder" in one_error_line(run.stderr)


def test_a_full_disk(snapshot_file: Path, tmp_path: Path) -> None:
    (tmp_path / "full.md").symlink_to("/dev/full")  # writing to /dev/full gives ENOSPC
    run = check_offline(snapshot_file, "-o", str(tmp_path / "full.md"))
    no_traceback(run.stderr)
    assert run.exit_code == 2
    assert "No space left on device" in one_error_line(run.stderr)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_standard_output_on_a_full_disk(snapshot_file: Path, fmt: str) -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "pgvitals", "check", "--snapshot", str(snapshot_file),
             "--format", fmt],
            stdout=full, stderr=subprocess.PIPE, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 2, done.stderr
    line = one_error_line(done.stderr)
    assert line == "pgvitals: cannot write to standard output: No space left on device"


def test_snapshot_to_a_full_disk_or_a_folder(database, tmp_path: Path) -> None:
    run = pgvitals("snapshot", database.dsn, "--no-data", "-o", "/dev/full")
    assert run.exit_code == 2
    assert "cannot write /dev/full: No space left on device" in one_error_line(run.stderr)
    run = pgvitals("snapshot", database.dsn, "--no-data", "-o", str(tmp_path))
    assert run.exit_code == 2
    assert "it is a folder" in one_error_line(run.stderr)


def test_a_failed_write_leaves_the_earlier_files_whole(snapshot_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ("-o", str(out / "r.md"), "-o", str(out / "r.json"))
    assert check_offline(snapshot_file, *args).exit_code == 0
    before = {path.name: path.read_bytes() for path in out.iterdir()}

    def small_file_limit() -> None:  # Python ignores SIGXFSZ: a larger write gets EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (2_000, 2_000))

    done = subprocess.run(
        [sys.executable, "-m", "pgvitals", "check", "--snapshot", str(snapshot_file), *args],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=small_file_limit,
    )
    no_traceback(done.stderr)
    assert done.returncode == 2
    assert "File too large" in one_error_line(done.stderr)
    after = {path.name: path.read_bytes() for path in out.iterdir()}
    assert after == before, "no half file, no temporary file, the earlier report intact"


def test_a_bad_path_fails_before_connecting(tmp_path: Path) -> None:
    unreachable = f"host=127.0.0.1 port={free_port()} user=x dbname=x connect_timeout=5"
    (tmp_path / "fix.sql").write_text("-- my own script\n")
    for command in (
        ("check", unreachable, "-o", "/sys/r.md"),
        ("check", unreachable, "-o", str(tmp_path / "r.md")),  # fix.sql is not pgvitals'
        ("snapshot", unreachable, "-o", "/proc/x.json"),
    ):
        run = pgvitals(*command)
        assert run.exit_code == 2, (command, run.stderr)  # 3 would mean it tried to connect
        assert "cannot connect" not in run.stderr
        one_error_line(run.stderr)


def test_snapshot_creates_missing_folders_as_check_does(database, tmp_path: Path) -> None:
    run = pgvitals("snapshot", database.dsn, "--no-data", "-o", str(tmp_path / "a/b/s.json"))
    assert run.exit_code == 0, run.stderr
    run = check_offline(tmp_path / "a/b/s.json", "-o", str(tmp_path / "c/d/r.md"))
    assert run.exit_code == 0, run.stderr
    assert (tmp_path / "c/d/fix.sql").is_file()


# --- replacing existing files (issue 6, item 14) ----------------------------------------


def test_files_pgvitals_did_not_write_are_kept_without_force(
    snapshot_file: Path, tmp_path: Path
) -> None:
    mine = {"fix.sql": "-- my migration\nSELECT 1;\n", "rollback.sql": "", "notes.md": "# mine\n"}
    for name, text in mine.items():
        (tmp_path / name).write_text(text)
    run = check_offline(snapshot_file, "-o", str(tmp_path / "r.md"))
    assert run.exit_code == 2
    line = one_error_line(run.stderr)
    assert f"{tmp_path / 'fix.sql'} exists and was not written by pgvitals" in line
    assert "--force" in line
    assert not (tmp_path / "r.md").exists()
    run = check_offline(snapshot_file, "-o", str(tmp_path / "notes.md"))
    assert run.exit_code == 2
    assert "notes.md exists and was not written by pgvitals" in one_error_line(run.stderr)
    assert {name: (tmp_path / name).read_text() for name in mine} == mine

    forced = check_offline(snapshot_file, "-o", str(tmp_path / "r.md"), "--force")
    assert forced.exit_code == 0, forced.stderr
    assert (tmp_path / "fix.sql").read_text().startswith("-- Fix script generated by pgvitals")


def test_an_empty_file_is_replaced(snapshot_file: Path, tmp_path: Path) -> None:
    (tmp_path / "r.md").touch()  # as `> r.md` leaves it: nothing to lose
    assert check_offline(snapshot_file, "-o", str(tmp_path / "r.md")).exit_code == 0
    assert (tmp_path / "r.md").read_text().startswith("# Database health assessment")


def test_pgvitals_replaces_its_own_files_of_every_kind(snapshot_file: Path, tmp_path: Path) -> None:
    args = [arg for name in REPORT_FILES[:4] for arg in ("-o", str(tmp_path / name))]
    for _ in range(2):
        run = check_offline(snapshot_file, *args)
        assert run.exit_code == 0, run.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([*REPORT_FILES, "snap.json"])


def test_snapshot_replaces_its_own_file_only(database, tmp_path: Path) -> None:
    target = tmp_path / "s.json"
    for _ in range(2):
        run = pgvitals("snapshot", database.dsn, "--no-data", "-o", str(target))
        assert run.exit_code == 0, run.stderr
    target.write_text('{"mine": true}')
    run = pgvitals("snapshot", database.dsn, "--no-data", "-o", str(target))
    assert run.exit_code == 2
    assert "exists and was not written by pgvitals" in one_error_line(run.stderr)
    assert target.read_text() == '{"mine": true}'
    # a report pgvitals wrote is kept too (a baseline, say), and the refusal says what it is
    report = tmp_path / "r.json"
    assert pgvitals("check", database.dsn, "--no-data", "-o", str(report)).exit_code == 0
    run = pgvitals("snapshot", database.dsn, "--no-data", "-o", str(report))
    assert run.exit_code == 2
    assert "r.json exists and holds a pgvitals JSON report, not a snapshot; use --force" in (
        one_error_line(run.stderr)
    )


def test_demo_runs_again_over_its_report_but_keeps_a_foreign_file(
    demo_run: DemoRun, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    shutil.copytree(demo_run.folder, out)  # what a first run wrote, as it wrote it
    run = pgvitals("demo", "-o", str(out), timeout=300)
    assert run.exit_code == 0, run.stderr
    (out / "rollback.sql").write_text("-- hand-written\n")
    run = pgvitals("demo", "-o", str(out), timeout=300)
    assert run.exit_code == 2  # checked before the server is started
    assert "rollback.sql exists and was not written by pgvitals" in one_error_line(run.stderr)


# --- hostile names (issue 6, item 13) ----------------------------------------------------


def test_visible_escapes_control_characters_only() -> None:
    assert visible("clear\x1b[2Jscreen") == "clear\\x1b[2Jscreen"
    assert visible("title\x1b]0;PWNED\x07") == "title\\x1b]0;PWNED\\x07"
    assert visible("a\rb\nc\td\x7f\x9b") == "a\\x0db\\x0ac\\x09d\\x7f\\x9b"
    assert visible("evil\u202eexe.sql") == "evil\\u202eexe.sql"
    assert visible('ñame "Weird" Mixed Case 表 \\s') == 'ñame "Weird" Mixed Case 表 \\s'
    assert visible("line\nnext\x1b", keep_newlines=True) == "line\nnext\\x1b"
    assert visible_value("a\x07") == "a\\x07" and visible_value(7) == 7


HOSTILE_TABLES = ("clear\x1b[2Jscreen", "title\x1b]0;PWNED\x07", "cr\rover")


@pytest.fixture
def hostile_database(server) -> Iterator[str]:
    """A database whose own name and tables carry terminal escape sequences."""
    name = "vitals\x1b[31mred"
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    dsn = psycopg.conninfo.make_conninfo(server.dsn(), dbname=name)
    with psycopg.connect(dsn, autocommit=True) as connection:
        for table in HOSTILE_TABLES:  # no primary key: each is a finding with a fix
            connection.execute(f'CREATE TABLE "{table}" (n int)')
        connection.execute(f'CREATE INDEX "dup\x1b" ON "{HOSTILE_TABLES[1]}" (n)')
        connection.execute(f'CREATE INDEX "dup2\x07" ON "{HOSTILE_TABLES[1]}" (n)')
    yield dsn
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_hostile_names_reach_neither_terminal_nor_markdown_raw(
    hostile_database: str, tmp_path: Path
) -> None:
    raw = ("\x1b", "\x07", "\r")
    for columns in ("80", "160"):  # the narrow list and the wide table
        done = subprocess.run(
            [sys.executable, "-m", "pgvitals", "check", hostile_database, "--format", "text"],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "COLUMNS": columns},
        )
        assert done.returncode == 0, done.stderr
        assert not any(char in done.stdout for char in raw), repr(done.stdout)
        assert "public.clear\\x1b[2Jscreen" in done.stdout
        assert "\\x1b]0;PWNED\\x07" in done.stdout
        assert "vitals\\x1b[31mred" in done.stdout

    run = pgvitals(
        "check", hostile_database, "-o", str(tmp_path / "r.md"), "-o", str(tmp_path / "r.json"),
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    markdown = (tmp_path / "r.md").read_text()
    assert not any(char in markdown for char in raw)
    assert "`public.clear\\x1b[2Jscreen`" in markdown
    assert '"public"."title\\x1b]0;PWNED\\x07"' in markdown  # in the fix SQL, with a note
    assert "the fix.sql and rollback.sql written beside the report" in markdown
    assert "`vitals\\x1b[31mred`" in markdown

    report = valid_report(json.loads((tmp_path / "r.json").read_text()))
    objects = {f["object"] for f in report["findings"]}
    assert {f"public.{table}" for table in HOSTILE_TABLES} <= objects  # exact names
    assert report["target"]["database"] == "vitals\x1b[31mred"
    # fix.sql is SQL to run: it must name the real tables
    assert '"public"."clear\x1b[2Jscreen"' in (tmp_path / "fix.sql").read_text()
