"""A throwaway PostgreSQL server in a temporary directory, for demo, review and tests.

The binaries come from the `pgserver` package (PostgreSQL 16, installed by pip:
nothing to install by hand) or from a system installation. The server listens on
a Unix socket only (and on 127.0.0.1 when asked). It is stopped and its directory
removed on exit, on error, on Ctrl-C and on SIGTERM; the directory of a run killed
outright (SIGKILL, a crash) is removed by the next start.

As root, the server runs as an unprivileged user with that user's groups
(PostgreSQL refuses root), from a private copy of the programs when that user
cannot reach the installation: nothing outside the temporary directory changes.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import glob
import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from pgvitals.connect import Unreachable, describe, first_line, scrub

# Speed over durability: the data is thrown away.
FAST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_locks_per_transaction": "256",
    "shared_buffers": "128MB",
}

TEMP_PREFIX = "pgvitals-"
# Locked by the run that owns the directory for as long as it lives.
OWNER_LOCK = "owner.lock"
PROGRAMS = ("initdb", "pg_ctl", "postgres")
# A clean-up cut short by one of these leaves a running server or its files.
DEFERRED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
STOP_SECONDS = 10


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
        with signals_deferred():  # no directory without its marker
            self.base_dir = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
            self._owner_lock: int | None = hold_owner_lock(self.base_dir)
            # The last line of defence when a second Ctrl-C cuts a `finally` short.
            atexit.register(self.stop)
        self.data_dir = self.base_dir / "data"
        # Where the programs run from: `bin_dir`, or a private copy of it (as root).
        self.programs = self.bin_dir
        # As root: the user, group and groups the programs run with.
        self.os_user: str | None = None
        self._uid: int | None = None
        self._gid: int | None = None
        self._groups: list[int] | None = None

    @property
    def version(self) -> str:
        return (self.data_dir / "PG_VERSION").read_text().strip()

    def dsn(self, database: str = "postgres", user: str = "postgres") -> str:
        return f"host={self.base_dir} port={self.tcp_port or 5432} user={user} dbname={database}"

    def start(self) -> EmbeddedServer:
        remove_dead_runs()
        try:
            if os.geteuid() == 0:
                self._drop_root()
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
        except (OSError, subprocess.CalledProcessError, EmbeddedError) as error:
            reason = failure_reason(error, self.base_dir / "server.log")
            self.stop()
            as_user = f" as user {self.os_user}" if self.os_user else ""
            raise EmbeddedError(
                f"could not start PostgreSQL from {self.bin_dir}{as_user}: {reason}"
            ) from None
        return self

    def stop(self) -> None:
        """Stop the server, even one still starting (Ctrl-C can come while `pg_ctl
        start` waits), and remove its directory. Ctrl-C, SIGTERM and SIGHUP wait until
        this is done, then take effect."""
        if self._owner_lock is None:
            return
        with signals_deferred():
            tear_down(self.base_dir)
            os.close(self._owner_lock)
            self._owner_lock = None
            atexit.unregister(self.stop)

    def keep(self) -> None:
        """Leave the server running after this process ends (`bench --keep`): no stop
        at exit, and no later start takes its directory for a dead run's."""
        atexit.unregister(self.stop)
        (self.base_dir / OWNER_LOCK).unlink()
        if self._owner_lock is not None:
            os.close(self._owner_lock)
            self._owner_lock = None

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [str(self.programs / program), *args],
            check=True,
            capture_output=True,
            text=True,
            cwd=self.base_dir,
            env={**os.environ, "LC_ALL": "C"},
            user=self._uid,
            group=self._gid,
            extra_groups=self._groups,
        )

    def _drop_root(self) -> None:
        """PostgreSQL refuses to run as root: run it as an unprivileged user with that
        user's groups (not root's), in a directory it owns, and from a private copy of
        the programs when that user cannot reach the installation."""
        user = server_os_user()
        groups = os.getgrouplist(user.pw_name, user.pw_gid)
        self.os_user = user.pw_name
        self._uid, self._gid, self._groups = user.pw_uid, user.pw_gid, groups
        os.chown(self.base_dir, user.pw_uid, user.pw_gid)
        if not reachable(self.base_dir, user.pw_uid, groups):
            raise EmbeddedError(
                f"the temporary directory {self.base_dir.parent} is not reachable by user "
                f"{user.pw_name}; set TMPDIR to a directory it can reach"
            )
        programs = [self.bin_dir / name for name in PROGRAMS]
        needed = [*programs, *server_folders(self.bin_dir)]
        if not all(reachable(path, user.pw_uid, groups) for path in needed):
            needed += libraries_beside(programs)
            self.programs = private_copy(needed, self.bin_dir, self.base_dir / "install", user)


def server_folders(bin_dir: Path) -> list[Path]:
    """The share and module folders the programs in `bin_dir` read."""
    folders = subprocess.run(
        [str(bin_dir / "pg_config"), "--sharedir", "--pkglibdir"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    return [Path(folder) for folder in folders]


def has_extension(bin_dir: Path, name: str) -> bool:
    """Whether the installation of `bin_dir` has the extension's files (contrib, a
    package such as postgresql-15-hypopg); pgserver's has neither pg_stat_statements
    nor hypopg."""
    share = server_folders(bin_dir)[0]
    return (Path(share) / "extension" / f"{name}.control").exists()


def libraries_beside(programs: list[Path]) -> list[Path]:
    """Libraries the loader finds relative to a program (`$ORIGIN` in its run path, as
    pip wheels bundle them), which a copy must keep in the same relative place. `ldd`
    shows them under the program's own folder, before normalising the path."""
    found: set[Path] = set()
    for program in programs:
        origin = f"{program.resolve().parent}{os.sep}"
        listing = subprocess.run(["ldd", str(program)], capture_output=True, text=True).stdout
        for line in listing.splitlines():
            path = line.partition(" => ")[2].partition(" (")[0].strip()
            if path.startswith(origin):
                found.add(Path(os.path.normpath(path)))
    return sorted(found)


def private_copy(paths: list[Path], bin_dir: Path, dest: Path, user: pwd.struct_passwd) -> Path:
    """Copy `paths` under `dest` keeping their places relative to each other (PostgreSQL
    finds its share and module folders relative to its programs), owned by `user`, and
    return the copied bin folder."""
    sources = [Path(os.path.realpath(path)) for path in paths]
    anchor = Path(os.path.commonpath(sources))
    for source in sources:
        target = dest / source.relative_to(anchor)
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, symlinks=True)
        else:
            shutil.copy2(source, target)
    for folder, _, files in os.walk(dest):
        os.chown(folder, user.pw_uid, user.pw_gid)
        for name in files:
            os.lchown(os.path.join(folder, name), user.pw_uid, user.pw_gid)
    return dest / Path(os.path.realpath(bin_dir)).relative_to(anchor)


def reachable(path: Path, uid: int, groups: list[int]) -> bool:
    """Whether the user can read `path` and search every folder above it (mode bits;
    an access control list could allow more, then a copy is made that was not needed)."""
    for candidate in {path, path.resolve()}:
        steps = [(folder, 0o1) for folder in reversed(candidate.parents)] + [(candidate, 0o5)]
        try:
            if not all(permits(step.stat(), uid, groups, want) for step, want in steps):
                return False
        except OSError:
            return False
    return True


def permits(status: os.stat_result, uid: int, groups: list[int], want: int) -> bool:
    """`want` as "other" bits (4 read, 1 execute or search), for this user."""
    if status.st_uid == uid:
        granted = status.st_mode >> 6
    elif status.st_gid in groups:
        granted = status.st_mode >> 3
    else:
        granted = status.st_mode
    return granted & want == want


def failure_reason(error: Exception, log_file: Path) -> str:
    """One line: the last error the program or the server log gave, else the error."""
    lines = (getattr(error, "stderr", None) or "").splitlines()
    if log_file.exists():
        lines += log_file.read_text(errors="replace").splitlines()
    errors = [line.strip() for line in lines if "error" in line.lower() or "FATAL" in line]
    return errors[-1] if errors else " ".join(str(error).split())


def server_os_user() -> pwd.struct_passwd:
    """An unprivileged user to run the server as (created when there is none)."""
    for name in ("postgres", "pgvitals"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "pgvitals"], check=True, capture_output=True
    )
    return pwd.getpwnam("pgvitals")


def hold_owner_lock(base_dir: Path) -> int:
    """Lock a marker in `base_dir` for as long as this process lives: the kernel drops
    the lock however the process ends, so a marker that can be locked belongs to a dead
    run. It gets its name only once locked, so no one sees it unlocked before."""
    staging = base_dir / f"{OWNER_LOCK}.new"
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    os.write(descriptor, f"{os.getpid()}\n".encode())  # for a person looking
    os.rename(staging, base_dir / OWNER_LOCK)
    return descriptor


def remove_dead_runs() -> None:
    """Stop the servers and remove the directories that runs of this user left behind
    when they died before cleaning up (killed, or a clean-up cut short)."""
    for base_dir in Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*"):
        try:
            marker = os.open(base_dir / OWNER_LOCK, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue  # not a run's directory, or one from before markers
        try:
            if os.fstat(marker).st_uid != os.geteuid():
                continue
            try:
                fcntl.flock(marker, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its run is alive
            tear_down(base_dir)
        finally:
            os.close(marker)


def tear_down(base_dir: Path) -> None:
    """Stop every server program working in `base_dir`, then remove it: removing it
    under a live postmaster would leave files behind."""
    deadline = time.monotonic() + STOP_SECONDS
    running = processes_in(base_dir)
    for pid, program in running.items():
        # SIGQUIT is the postmaster's immediate shutdown: it stops its backends too.
        send_signal(pid, signal.SIGQUIT if program == "postgres" else signal.SIGKILL)
    if not wait_for_exit(running, deadline):
        for pid in running:
            send_signal(pid, signal.SIGKILL)
        deadline = time.monotonic() + 2
        wait_for_exit(running, deadline)
    while True:
        shutil.rmtree(base_dir, ignore_errors=True)
        if not base_dir.exists() or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def processes_in(base_dir: Path) -> dict[int, str]:
    """The initdb, pg_ctl and postgres processes working in `base_dir` (the folder is in
    their command line or PGDATA), found by /proc; elsewhere the postmaster of its pid
    file."""
    if not Path("/proc/self").exists():
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid_file = base_dir / "data" / "postmaster.pid"
            return {int(pid_file.read_text().split()[0]): "postgres"}
        return {}
    needle = os.fsencode(f"{base_dir}{os.sep}")
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            program = os.path.basename(os.readlink(entry / "exe")).removesuffix(" (deleted)")
            if program in PROGRAMS and (
                needle in (entry / "cmdline").read_bytes()
                or needle in (entry / "environ").read_bytes()
            ):
                found[int(entry.name)] = program
        except OSError:
            continue  # gone, or not ours to see
    return found


def send_signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)


def wait_for_exit(pids: dict[int, str], deadline: float) -> bool:
    while any(process_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def process_alive(pid: int) -> bool:
    """Running, and not a zombie waiting for a parent that may be us or no one."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        return state != "Z"
    return True


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C, SIGTERM and SIGHUP back until the block ends, then deliver the first
    one that came. Python runs signal handlers in the main thread only, so handlers set
    there hold the signal whichever thread the kernel delivers it to."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = {signum: signal.signal(signum, hold) for signum in DEFERRED_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if received:
            signal.raise_signal(received[0])


@contextlib.contextmanager
def interrupt_safe(server: EmbeddedServer) -> Iterator[EmbeddedServer]:
    """Start the server and stop it on exit, error, Ctrl-C, SIGTERM or SIGHUP (the last
    two interrupt as Ctrl-C does)."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {
        signum: signal.signal(signum, interrupt) for signum in (signal.SIGTERM, signal.SIGHUP)
    }
    try:
        server.start()
        yield server
    finally:
        try:
            server.stop()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


DUMP_SECONDS = 600  # a schema dump of 100,000 tables takes about a minute


def pg_dump(bin_dir: Path, dsn: str | None, *options: str) -> str:
    """`pg_dump` of `bin_dir` (it reads as a SELECT does, and writes nothing): its output,
    or Unreachable with pg_dump's own reason, the DSN's password scrubbed."""
    command = [str(bin_dir / "pg_dump"), *options, "--lock-wait-timeout=10000",
               f"--dbname={dsn or ''}"]  # fmt: skip
    try:
        # errors="replace": a SQL_ASCII database's names may be bytes that are no UTF-8;
        # they read as U+FFFD, as the collector's session reads them (connect.py)
        done = subprocess.run(
            command,
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            timeout=DUMP_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise Unreachable(f"pg_dump of {describe(dsn)} failed: {error}") from None
    if done.returncode != 0:
        reason = first_line(scrub(done.stderr, dsn)).removeprefix("pg_dump: error: ")
        raise Unreachable(f"pg_dump of {describe(dsn)} failed: {reason}")
    return done.stdout
