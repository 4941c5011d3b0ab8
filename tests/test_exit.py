"""`python -m pgvitals` leaves without taking the interpreter apart (__main__.leave), but
still does what an ordinary exit does: exit functions run, buffered output is written,
and the status is the command's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LEAVING = """
import atexit, sys
from pgvitals.__main__ import leave
atexit.register(lambda: open(sys.argv[1], "w").write("stopped"))
sys.stdout.write("buffered, not yet written")
leave({status})
"""


def leave_with(status: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    marker = tmp_path / "marker"
    script = LEAVING.format(status=status)
    return subprocess.run(
        [sys.executable, "-c", script, str(marker)], capture_output=True, text=True, timeout=60
    )


def test_exit_functions_run_and_output_is_written(tmp_path: Path) -> None:
    done = leave_with("3", tmp_path)
    assert done.returncode == 3
    assert done.stdout == "buffered, not yet written"
    assert (tmp_path / "marker").read_text() == "stopped"


def test_statuses_as_sys_exit_gives_them(tmp_path: Path) -> None:
    assert leave_with("None", tmp_path).returncode == 0
    message = leave_with("'pgvitals: gone'", tmp_path)
    assert (message.returncode, message.stderr) == (1, "pgvitals: gone\n")


def test_a_command_exits_with_its_status() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pgvitals", "rules", "no-such-rule"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
