"""A throwaway PostgreSQL server in a temporary directory, for demo, review and tests.

The binaries come from the `pgserver` package (PostgreSQL 16, installed by pip:
nothing to install by hand) or from a system installation. The server listens on
a Unix socket only, and is stopped and its directory removed on exit, on error
and on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

# Speed over durability: the data is thrown away.
FAST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_locks_per_transaction": "256",
    "shared_buffers": "128MB",
}


class EmbeddedError(Exception):
    """The throwaway server could not be started."""


def pgserver_bin_dir() -> Path:
    """pgserver's bundled binaries, found without importing the package (which is slow
    and only wraps what we do here)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        raise EmbeddedError("the pgserver package is not installed")
    return Path(spec.origin).parent / "pginstall" / "bin"


def system_bin_dirs() -> list[Path]:
    """Installed PostgreSQL server binaries (Debian/Ubuntu layout), newest first."""
    found = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/postgres")]
    return sorted(found, key=lambda p: int(p.parent.name), reverse=True)


class EmbeddedServer:
    def __init__(
        self,
        bin_dir: Path | None = None,
        settings: dict[str, str] | None = None,
        tcp_port: int | None = None,
    ):
        """`tcp_port`: also listen on 127.0.0.1 there, with password (SCRAM) auth."""
        self.bin_dir = bin_dir or pgserver_bin_dir()
        self.tcp_port = tcp_port
        self.settings = {**FAST_SETTINGS, **(settings or {})}
        self.base_dir = Path(tempfile.mkdtemp(prefix="pgvitals-"))
        self.data_dir = self.base_dir / "data"
        self.os_user = server_os_user()

    @property
    def version(self) -> str:
        return (self.data_dir / "PG_VERSION").read_text().strip()

    def dsn(self, database: str = "postgres", user: str = "postgres") -> str:
        return f"host={self.base_dir} port={self.tcp_port or 5432} user={user} dbname={database}"

    def start(self) -> EmbeddedServer:
        try:
            if self.os_user:
                self._hand_over_to(self.os_user)
            self._run(
                "initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth-local=trust",
                "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync",
            )  # fmt: skip
            listen = f"127.0.0.1 -p {self.tcp_port}" if self.tcp_port else "''"
            options = " ".join(
                [f"-k {self.base_dir}", f"-c listen_addresses={listen}"]
                + [f"-c {name}={value}" for name, value in self.settings.items()]
            )
            log = str(self.base_dir / "server.log")
            self._run("pg_ctl", "-D", str(self.data_dir), "-l", log, "-o", options, "-w", "start")
        except (OSError, subprocess.CalledProcessError) as error:
            detail = getattr(error, "stderr", "") or ""
            log_file = self.base_dir / "server.log"
            if log_file.exists():
                detail += log_file.read_text()[-2000:]
            self.stop()
            raise EmbeddedError(
                f"could not start PostgreSQL from {self.bin_dir}: {error}\n{detail}"
            ) from None
        return self

    def stop(self) -> None:
        """Stop whatever server the directory has, even one still starting (Ctrl-C can
        come while `pg_ctl start` waits), then remove the directory: removing it under
        a live postmaster would leave files behind."""
        pid_file = self.data_dir / "postmaster.pid"
        postmaster = None
        with contextlib.suppress(OSError, ValueError, IndexError):
            postmaster = int(pid_file.read_text().split()[0])
        if pid_file.exists():
            with contextlib.suppress(subprocess.CalledProcessError, OSError):
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        # A postmaster interrupted while starting shuts down on its own, and its
        # processes may still write for a moment: wait for them, then remove.
        deadline = time.monotonic() + 10
        while postmaster and process_alive(postmaster) and time.monotonic() < deadline:
            time.sleep(0.05)
        while True:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            if not self.base_dir.exists() or time.monotonic() > deadline:
                return
            time.sleep(0.05)

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [str(self.bin_dir / program), *args],
            check=True,
            capture_output=True,
            text=True,
            user=self.os_user,
            cwd=self.base_dir,
            env={**os.environ, "LC_ALL": "C"},
        )

    def _hand_over_to(self, user: str) -> None:
        """PostgreSQL refuses to run as root: the directory and binaries must be
        reachable by the unprivileged user that runs it."""
        entry = pwd.getpwnam(user)
        os.chown(self.base_dir, entry.pw_uid, entry.pw_gid)
        for folder in [self.bin_dir.parent, *self.bin_dir.parent.parents]:
            mode = folder.stat().st_mode
            if not mode & stat.S_IXOTH:
                folder.chmod(mode | stat.S_IXOTH)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def server_os_user() -> str | None:
    """None when not root; else an unprivileged user to run the server as."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "pgvitals"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    subprocess.run(["useradd", "--system", "--no-create-home", "pgvitals"], check=True)
    return "pgvitals"


@contextlib.contextmanager
def interrupt_safe(server: EmbeddedServer) -> Iterator[EmbeddedServer]:
    """Start the server and stop it on exit, error, Ctrl-C or SIGTERM."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)
