"""The throwaway server: what it leaves behind, and what it changes when run as root."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from pgvitals.embedded import OWNER_LOCK, EmbeddedServer, pgserver_bin_dir, remove_dead_runs

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="what running as root changes")


def venv_like_copy(home: Path) -> Path:
    """pgserver's files as a virtual environment holds them, under `home`; its bin folder."""
    site = pgserver_bin_dir().parent.parent.parent
    copy = home / "venv" / "lib" / "site-packages"
    for part in ("pgserver/pginstall/lib", "pgserver/pginstall/share", "pgserver.libs"):
        shutil.copytree(site / part, copy / part, symlinks=True)
    (copy / "pgserver/pginstall/bin").mkdir()
    for program in ("initdb", "pg_ctl", "postgres", "pg_config"):
        shutil.copy2(site / "pgserver/pginstall/bin" / program, copy / "pgserver/pginstall/bin")
    return copy / "pgserver/pginstall/bin"


def modes_above(*paths: Path) -> dict[Path, tuple[int, int, int]]:
    return {
        folder: (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
        for path in paths
        for folder in [path, *path.parents]
        for st in [folder.stat()]
    }


def dead_run_directory() -> Path:
    """A directory as a run killed before it could clean up leaves it: marked, unlocked."""
    folder = Path(tempfile.mkdtemp(prefix="pgvitals-"))
    (folder / OWNER_LOCK).write_text("1\n")
    (folder / "data").mkdir()
    return folder


def groups_of(pid: int) -> set[int]:
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return {int(gid) for gid in status["Gid"].split() + status["Groups"].split()}


@as_root
def test_as_root_it_runs_from_a_venv_under_a_private_home_and_changes_no_permission(
    tmp_path: Path,
) -> None:
    home = tmp_path / "root-home"
    home.mkdir(mode=0o700)
    bin_dir = venv_like_copy(home)
    before = modes_above(bin_dir, pgserver_bin_dir(), Path(tempfile.gettempdir()))
    stale = dead_run_directory()
    server = EmbeddedServer(bin_dir)
    try:
        server.start()
        assert not stale.exists(), "start removes what dead runs left"
        with psycopg.connect(server.dsn(), autocommit=True) as connection:
            assert connection.execute("SELECT 1").fetchone() == (1,)
        postmaster = int((server.data_dir / "postmaster.pid").read_text().split()[0])
        assert 0 not in groups_of(postmaster), "the server runs without root's group"
    finally:
        server.stop()
    assert modes_above(bin_dir, pgserver_bin_dir(), Path(tempfile.gettempdir())) == before
    assert not server.base_dir.exists()


@as_root
def test_as_root_a_temp_dir_the_server_cannot_reach_fails_in_one_line(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    run = subprocess.run(
        [sys.executable, "-m", "pgvitals", "demo", "-o", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120, env={**os.environ, "TMPDIR": str(private)},
    )  # fmt: skip
    assert run.returncode == 3, run.stderr
    assert run.stderr.strip().startswith("pgvitals: could not start PostgreSQL"), run.stderr
    assert "TMPDIR" in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert list(private.iterdir()) == []


def test_the_sweep_leaves_directories_of_live_runs_and_kept_servers() -> None:
    alive = EmbeddedServer()  # its directory is locked by this process
    kept = EmbeddedServer()
    kept.keep()
    dead = dead_run_directory()
    try:
        remove_dead_runs()
        assert alive.base_dir.exists() and kept.base_dir.exists()
        assert not dead.exists()
    finally:
        alive.stop()
        shutil.rmtree(kept.base_dir)
        shutil.rmtree(dead, ignore_errors=True)
    assert not alive.base_dir.exists()


def test_a_server_never_stopped_is_removed_at_exit() -> None:
    made = subprocess.run(
        [sys.executable, "-c", "from pgvitals.embedded import EmbeddedServer\n"
         "print(EmbeddedServer().base_dir)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert not Path(made.stdout.strip()).exists()
