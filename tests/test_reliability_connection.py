"""Issue 6: a run never hangs on a silent server, never passes green on a schema filter
that matches nothing, names a timeout as a timeout, rejects bad input before connecting,
and keeps everything it read when the connection is lost."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from pgvitals.connect import Limits, connect, describe_failure
from pgvitals.snapshot import io
from pgvitals.snapshot.collect import CATALOG_STEPS, collect
from pgvitals.snapshot.model import Snapshot
from tests.conftest import free_port
from tests.helpers import Run, pgvitals, valid_report

SSL_REQUEST, GSS_REQUEST, CANCEL_REQUEST = 80877103, 80877104, 80877102


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("pgvitals: "), stderr
    return lines[0]


# ---- 1. a schema filter that matches nothing ------------------------------------------


def test_a_schema_that_does_not_exist_is_an_input_error(database) -> None:
    database.execute("CREATE SCHEMA billing; CREATE TABLE billing.invoices (id int PRIMARY KEY)")
    run = pgvitals("check", database.dsn, "--schema", "biling", "--fail-on", "high")
    assert run.exit_code == 2, run.stdout + run.stderr
    line = one_error_line(run.stderr)
    assert '"biling"' in line
    assert 'did you mean "billing"' in line
    assert "billing" in line and "public" in line  # the schemas that do exist
    assert run.stdout == ""


def test_a_schema_in_the_wrong_case_is_an_input_error(database) -> None:
    run = pgvitals("snapshot", database.dsn, "--schema", "Public", "-o", os.devnull)
    assert run.exit_code == 2, run.stderr
    assert 'did you mean "public"' in one_error_line(run.stderr)


def test_one_missing_schema_among_existing_ones_is_an_input_error(database) -> None:
    database.execute("CREATE SCHEMA app")
    run = pgvitals("check", database.dsn, "--schema", "app", "--schema", "nosuch")
    assert run.exit_code == 2, run.stderr
    line = one_error_line(run.stderr)
    assert '"nosuch"' in line and '"app"' not in line.split(";")[0]
    ok = pgvitals("check", database.dsn, "--schema", "app", "--format", "json")
    assert ok.exit_code == 0, ok.stderr
    assert valid_report(ok.json())["summary"]["schemas"] == 1


# ---- 4. every wait for the server is bounded -------------------------------------------


class FakeServer:
    """A socket on which the PostgreSQL start-up either never gets an answer (`silent`)
    or succeeds, after which no statement is ever answered; cancel requests are read
    and never answered either."""

    def __init__(self, *, silent: bool) -> None:
        self.silent = silent
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.port = self.listener.getsockname()[1]
        self.peers: list[socket.socket] = []
        self.statements = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                peer, _ = self.listener.accept()
            except OSError:
                return
            self.peers.append(peer)
            if not self.silent:
                threading.Thread(target=self._start_up, args=(peer,), daemon=True).start()

    def _start_up(self, peer: socket.socket) -> None:
        try:
            while True:
                length, code = struct.unpack("!ii", receive(peer, 8))
                body = receive(peer, length - 8)
                if code in (SSL_REQUEST, GSS_REQUEST):
                    peer.sendall(b"N")
                    continue
                if code == CANCEL_REQUEST:
                    return  # heard, never answered, never closed
                break
            assert b"user" in body
            peer.sendall(
                message(b"R", struct.pack("!i", 0))  # AuthenticationOk
                + message(b"S", b"server_version\x0016.0\x00")
                + message(b"S", b"client_encoding\x00UTF8\x00")
                + message(b"K", struct.pack("!ii", 4242, 1234))
                + message(b"Z", b"I")
            )
            receive(peer, 5)  # the first statement arrives; it is never answered
            self.statements += 1
        except OSError:
            return

    def close(self) -> None:
        self.listener.close()
        for peer in self.peers:
            peer.close()


def receive(peer: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = peer.recv(size - len(data))
        if not chunk:
            raise OSError("peer closed")
        data += chunk
    return data


def message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


@contextmanager
def fake_server(*, silent: bool) -> Iterator[FakeServer]:
    server = FakeServer(silent=silent)
    try:
        yield server
    finally:
        server.close()


@dataclass
class GivenUp:
    """A check run against a fake server, and how long it waited before giving up."""

    run: Run
    elapsed: float
    port: int
    statements: int  # the statements the fake server received


def run_against(*, silent: bool, options: tuple[str, ...] = ()) -> GivenUp:
    with fake_server(silent=silent) as server:
        started = time.monotonic()
        run = pgvitals(
            "check", f"host=127.0.0.1 port={server.port} user=x dbname=x", *options, timeout=90
        )
        elapsed = time.monotonic() - started
        return GivenUp(run, elapsed, server.port, server.statements)


@pytest.fixture(scope="session", autouse=True)
def silent_servers() -> Iterator[dict[str, Future[GivenUp]]]:
    """The two runs against servers that never answer wait idle for ~10 s each: they start
    with this file's first test and wait beside the others, not one after another."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield {
            "statement": pool.submit(
                run_against, silent=False, options=("--statement-timeout", "1000")
            ),
            "connection": pool.submit(run_against, silent=True),
        }


def test_a_server_that_never_answers_a_statement_is_given_up(
    silent_servers: dict[str, Future[GivenUp]],
) -> None:
    given_up = silent_servers["statement"].result()
    assert given_up.statements == 1  # the start-up succeeded: the wait was on a statement
    assert given_up.run.exit_code == 3, given_up.run.stderr
    line = one_error_line(given_up.run.stderr)
    assert f"x@127.0.0.1:{given_up.port}/x" in line
    assert "no answer" in line
    # 1 s statement timeout, then a grace period to cancel, then one more
    assert given_up.elapsed < 40


def test_a_server_that_never_answers_the_connection_is_given_up(
    silent_servers: dict[str, Future[GivenUp]],
) -> None:
    given_up = silent_servers["connection"].result()
    assert given_up.run.exit_code == 3
    assert "timeout" in one_error_line(given_up.run.stderr)
    assert given_up.elapsed < 40


def test_sessions_detect_a_dead_peer_with_tcp_keepalives(database) -> None:
    session = connect(database.dsn)
    try:
        options = {o.keyword.decode(): (o.val or b"").decode() for o in session.pgconn.info}
    finally:
        session.close()
    assert options["keepalives"] == "1"
    assert int(options["keepalives_idle"]) > 0
    assert int(options["keepalives_interval"]) > 0
    assert int(options["keepalives_count"]) > 0


def run_bounded(work: Callable[[], Snapshot], bound_s: float) -> Snapshot:
    """Run `work` in a thread; fail (instead of hanging the test run) past `bound_s`."""
    outcome: list[Snapshot | BaseException] = []

    def target() -> None:
        try:
            outcome.append(work())
        except BaseException as error:  # reported by the test below
            outcome.append(error)

    thread = threading.Thread(target=target, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(bound_s)
    assert not thread.is_alive(), f"still waiting after {time.monotonic() - started:.0f} s"
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


# a role whose reads count reads rows in one transaction, each statement in a savepoint
# (snapshot/collect.py, Collector._measured): the same bounds and the same partial results
BY_WHOM = pytest.mark.parametrize("counted", [False, True], ids=["uncounted", "counted"])


def dsn_of(database, counted: bool) -> str:
    return database.reader() if counted else database.dsn


@BY_WHOM
def test_a_stopped_backend_does_not_hang_the_data_phase(database, counted: bool) -> None:
    database.execute(
        "CREATE TABLE first_read (id int PRIMARY KEY); CREATE TABLE stalls (id int PRIMARY KEY)"
    )
    session = connect(dsn_of(database, counted), Limits(statement_timeout_ms=500, grace_s=1))
    backend = session.info.backend_pid
    stopped: list[int] = []

    def stop_backend_before_reading(step: str) -> None:
        if step == "data: public.stalls":
            os.kill(backend, signal.SIGSTOP)
            stopped.append(backend)

    try:
        started = time.monotonic()
        snapshot = run_bounded(lambda: collect(session, progress=stop_backend_before_reading), 60)
        elapsed = time.monotonic() - started
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
        session.close()
    assert stopped
    assert elapsed < 20  # 0.5 s statement timeout, 1 s to cancel, 1 s more to give up
    interrupted = snapshot.collection.interrupted or ""
    assert "no answer" in interrupted and "public.stalls" in interrupted, interrupted
    profiles = {snapshot.table_by_oid[p.table_oid].name: p for p in snapshot.profiles}
    assert profiles["first_read"].status == "ran"
    assert profiles["stalls"].status == "skipped"


# ---- 5. --statement-timeout bounds the row reads too -----------------------------------


@BY_WHOM
def test_row_reads_honour_a_statement_timeout_below_the_per_table_budget(
    database, counted: bool
) -> None:
    database.execute(
        "CREATE TABLE waited_for (id int PRIMARY KEY); INSERT INTO waited_for VALUES (1)"
    )
    dsn = dsn_of(database, counted)
    holder = psycopg.connect(database.dsn)
    holder.execute("LOCK TABLE waited_for IN ACCESS EXCLUSIVE MODE")  # transaction stays open
    session = connect(dsn, Limits(statement_timeout_ms=300, lock_timeout_ms=60_000))
    reached: dict[str, float] = {}

    def note(step: str) -> None:
        reached[step] = time.monotonic()

    try:
        snapshot = run_bounded(lambda: collect(session, progress=note), 60)
        finished = time.monotonic()
    finally:
        session.close()
        holder.close()
    [profile] = snapshot.profiles
    assert (profile.status, profile.reason) == ("skipped", "statement timeout")
    # the per-table budget is 5 s; the user asked for 0.3 s
    assert finished - reached["data: public.waited_for"] < 2.5


# ---- 6. timeouts on catalog queries are named as such ----------------------------------


@contextmanager
def catalog_locked(database, catalog: str) -> Iterator[None]:
    holder = psycopg.connect(database.dsn)
    holder.execute(f"LOCK pg_catalog.{catalog} IN ACCESS EXCLUSIVE MODE")  # stays open
    try:
        yield
    finally:
        holder.close()


def collect_with_a_catalog_locked(database, catalog: str, limits: Limits) -> Snapshot:
    # The session is opened before the lock is taken: a backend starting up while a
    # catalog is locked may itself wait for it, which is not what is tested here.
    session = connect(database.dsn, limits)
    try:
        with catalog_locked(database, catalog):
            return run_bounded(lambda: collect(session), 60)
    finally:
        session.close()


def test_a_lock_timeout_on_a_catalog_is_named_and_a_partial_report_written(
    database, tmp_path: Path
) -> None:
    database.execute("CREATE TABLE kept (id int PRIMARY KEY, note text)")
    snapshot = collect_with_a_catalog_locked(database, "pg_constraint", Limits(lock_timeout_ms=300))
    interrupted = snapshot.collection.interrupted or ""
    assert "lock timeout" in interrupted and "--lock-timeout" in interrupted
    assert "lost" not in interrupted
    saved = tmp_path / "partial.json"
    io.save(snapshot, saved)
    report_path = tmp_path / "report.json"
    run = pgvitals("check", "--snapshot", str(saved), "-o", str(report_path))
    assert run.exit_code == 3, run.stderr
    line = one_error_line("\n".join(x for x in run.stderr.splitlines() if "wrote" not in x))
    assert "lock timeout" in line and "--lock-timeout" in line
    assert "partial report written" in line
    report = valid_report(json.loads(report_path.read_text()))
    assert report["findings"] == []
    assert {c["status"] for c in report["checks"]} == {"skipped"}
    assert all(c["reason"].startswith("catalogs incomplete") for c in report["checks"])
    [unread] = [e for e in report["collection"]["skipped"] if e["step"] == "catalogs"]
    assert "lock timeout" in unread["reason"]


def test_a_statement_timeout_on_a_catalog_is_named(database) -> None:
    database.execute("CREATE TABLE kept (id int PRIMARY KEY, note text)")
    limits = Limits(lock_timeout_ms=60_000, statement_timeout_ms=300)
    # pg_sequence is read after tables, constraints and indexes
    snapshot = collect_with_a_catalog_locked(database, "pg_sequence", limits)
    interrupted = snapshot.collection.interrupted or ""
    assert "statement timeout" in interrupted and "--statement-timeout" in interrupted
    assert "lost" not in interrupted
    assert [t.name for t in snapshot.tables] == ["kept"]  # what was read before is kept
    assert len(snapshot.constraints) == 1 and len(snapshot.indexes) == 1
    [unread] = [e for e in snapshot.collection.skipped if e["step"] == "catalogs"]
    assert unread["reason"].startswith(f"{unread_from('sequences')} not read (statement timeout)")
    assert_one_line_each(snapshot)


def test_a_one_millisecond_statement_timeout_is_named(database) -> None:
    run = pgvitals("check", database.dsn, "--statement-timeout", "1")
    assert run.exit_code == 3, run.stderr
    line = [x for x in run.stderr.splitlines() if x.startswith("pgvitals:")]
    assert len(line) == 1, run.stderr
    assert "statement timeout" in line[0] and "--statement-timeout" in line[0], run.stderr
    assert "lost" not in line[0]


def test_a_statement_the_client_cancels_is_named_a_statement_timeout(database) -> None:
    """On a server too busy to start a statement within the timeout, the client's own
    cancel ends it, and PostgreSQL says "canceling statement due to user request": the
    user made none, and the option to raise is the same."""
    session = connect(database.dsn, Limits(statement_timeout_ms=300, grace_s=0.5))
    try:
        session.execute("SET statement_timeout = 0")  # the server no longer ends it
        with pytest.raises(psycopg.errors.QueryCanceled) as cancelled:
            session.execute("SELECT pg_sleep(5)")
    finally:
        session.close()
    assert describe_failure(cancelled.value) == "statement timeout: raise --statement-timeout"


# ---- 7. input errors are found before connecting ---------------------------------------


@pytest.mark.parametrize(
    "dsn",
    [
        "host=127.0.0.1 port=abc",
        "host=127.0.0.1 sslmode=bogus",
        "postgresql://h:notaport/db",
        "host=127.0.0.1 connect_timeout=soon",
    ],
)
def test_a_malformed_dsn_value_is_an_input_error(dsn: str) -> None:
    run = pgvitals("check", dsn)
    assert run.exit_code == 2, run.stderr
    assert "invalid connection string" in one_error_line(run.stderr)


def test_a_malformed_pg_variable_is_an_input_error() -> None:
    env = {**os.environ, "PGPORT": "abc"}
    done = subprocess.run(
        [sys.executable, "-m", "pgvitals", "check", "host=127.0.0.1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "PGPORT" in one_error_line(done.stderr)


@pytest.mark.parametrize(
    ("option", "value"),
    [("--statement-timeout", "99999999999"), ("--lock-timeout", "2147483648")],
)
def test_a_timeout_beyond_the_server_limit_is_an_input_error(option: str, value: str) -> None:
    unreachable = f"host=127.0.0.1 port={free_port()} user=x dbname=x"
    run = pgvitals("check", unreachable, option, value)
    assert run.exit_code == 2, run.stderr
    assert option in run.stderr
    assert "cannot connect" not in run.stderr


# ---- 8. a lost connection keeps everything read ----------------------------------------


SHAPES = """
CREATE TABLE accounts (id serial PRIMARY KEY, email text CHECK (email <> ''));
CREATE INDEX accounts_lower_email ON accounts (lower(email));
CREATE TABLE events (id int, account int REFERENCES accounts);
INSERT INTO accounts (email) VALUES ('a'), ('b');
"""


def collect_losing_the_connection_at(database, step: str, counted: bool = False) -> Snapshot:
    """Collect, terminating the session's backend just before `step` starts."""
    session = connect(dsn_of(database, counted))
    backend = session.info.backend_pid

    def terminate(reached: str) -> None:
        if reached == step:
            with database.admin() as admin:
                admin.execute("SELECT pg_terminate_backend(%s, 10000)", [backend])

    try:
        return run_bounded(lambda: collect(session, progress=terminate), 60)
    finally:
        session.close()


def steps_from(step: str) -> str:
    """The catalog steps from `step` on, as a skipped entry lists those not read."""
    return ", ".join(CATALOG_STEPS[CATALOG_STEPS.index(step) :])


def assert_one_line_each(snapshot: Snapshot) -> None:
    texts = [snapshot.collection.interrupted or ""]
    texts += [value for entry in snapshot.collection.skipped for value in entry.values()]
    for text in texts:
        assert "\n" not in text, text


def test_a_connection_lost_in_the_catalogs_keeps_what_was_read(database) -> None:
    database.execute(SHAPES)
    snapshot = collect_losing_the_connection_at(database, "constraints")
    assert {t.name for t in snapshot.tables} == {"accounts", "events"}
    assert {c.name for c in snapshot.columns} == {"id", "email", "account"}
    assert snapshot.constraints == [] and snapshot.indexes == []
    assert "connection lost" in (snapshot.collection.interrupted or "")
    assert "constraints" in (snapshot.collection.interrupted or "")
    [catalogs] = [e for e in snapshot.collection.skipped if e["step"] == "catalogs"]
    assert catalogs["reason"].startswith(f"{unread_from('constraints')} not read")
    assert_one_line_each(snapshot)


def test_a_snapshot_with_unread_catalogs_runs_no_check(database, tmp_path: Path) -> None:
    database.execute(SHAPES)
    snapshot = collect_losing_the_connection_at(database, "indexes")
    saved = tmp_path / "partial.json"
    io.save(snapshot, saved)
    run = pgvitals("check", "--snapshot", str(saved), "--format", "json")
    assert run.exit_code == 3, run.stderr
    assert "partial report written" in one_error_line(run.stderr)
    report = valid_report(run.json())
    assert report["findings"] == []  # "no primary key" on events would be a guess
    assert {c["status"] for c in report["checks"]} == {"skipped"}
    assert all(f"{unread_from('indexes')} not read" in c["reason"] for c in report["checks"])


@BY_WHOM
def test_a_connection_lost_reading_rows_keeps_the_definitions(database, counted: bool) -> None:
    database.execute(SHAPES)
    snapshot = collect_losing_the_connection_at(database, "data: public.events", counted)
    index = next(i for i in snapshot.indexes if i.name == "accounts_lower_email")
    assert index.definition and "lower(email)" in index.definition
    check = next(c for c in snapshot.constraints if c.kind == "c")
    assert check.definition == "CHECK ((email <> ''::text))"
    [sequence] = snapshot.sequences
    assert sequence.last_value == 2
    profiles = {snapshot.table_by_oid[p.table_oid].name: p for p in snapshot.profiles}
    assert profiles["accounts"].status == "ran"
    assert profiles["events"].status == "skipped"
    assert "connection lost" in (profiles["events"].reason or "")
    steps = {entry["step"] for entry in snapshot.collection.skipped}
    assert steps == {"rows"}, snapshot.collection.skipped
    assert_one_line_each(snapshot)


def test_a_connection_lost_reading_definitions_says_exactly_what_is_missing(database) -> None:
    database.execute(SHAPES)
    snapshot = collect_losing_the_connection_at(database, "definitions")
    skipped = snapshot.collection.skipped
    # only accounts has definitions the server must deparse
    assert {
        k: v
        for k, v in next(e for e in skipped if e["step"] == "definitions").items()
        if k != "reason"
    } == {"step": "definitions", "object": "public.accounts"}
    assert len([e for e in skipped if e["step"] == "definitions"]) == 1
    assert {e["step"] for e in skipped} == {"definitions", "sequence positions", "rows"}
    assert all("lock" not in e["reason"] for e in skipped)
    assert {p.status for p in snapshot.profiles} == {"skipped"}
    assert len(snapshot.profiles) == 2
    assert_one_line_each(snapshot)


def unread_from(step: str) -> str:
    """The catalogs not read when reading `step` failed: it and every one after it."""
    return ", ".join(CATALOG_STEPS[CATALOG_STEPS.index(step) :])


@contextmanager
def pgbouncer(server, settings: str) -> Iterator[str]:
    """A real PgBouncer in front of the test server; its DSN for database `postgres`.
    Its files are in the server's directory, which the server's user (PgBouncer's, when
    the tests run as root: it refuses to run as root) can reach."""
    program = next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if Path(p).exists()), None
    )
    if program is None:
        pytest.skip("PgBouncer is not installed (Debian: apt-get install pgbouncer)")
    port = free_port()
    folder = server.base_dir / f"pgbouncer-{port}"
    folder.mkdir()
    (folder / "users.txt").write_text('"postgres" ""\n')
    (folder / "pgbouncer.ini").write_text(
        f"[databases]\npostgres = host={server.base_dir} port={server.tcp_port or 5432}"
        " dbname=postgres user=postgres\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n"
        f"unix_socket_dir =\nauth_type = trust\nauth_file = {folder}/users.txt\n"
        f"pidfile = {folder}/pgbouncer.pid\nlogfile = {folder}/pgbouncer.log\n{settings}\n"
    )
    owner = os.stat(server.base_dir)
    as_user = {}
    if os.geteuid() == 0:
        for path in (folder, *folder.iterdir()):
            os.chown(path, owner.st_uid, owner.st_gid)
        as_user = {"user": owner.st_uid}
    # -d: it forks into the background, so none of this process's output may stay open
    subprocess.run(
        [program, "-d", str(folder / "pgbouncer.ini")],
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **as_user,
    )
    dsn = f"host=127.0.0.1 port={port} user=postgres dbname=postgres connect_timeout=5"
    try:
        for _ in range(100):
            try:
                psycopg.connect(dsn).close()
                break
            except psycopg.OperationalError:
                time.sleep(0.05)
        yield dsn
    finally:
        os.kill(int((folder / "pgbouncer.pid").read_text()), signal.SIGTERM)


@pytest.mark.parametrize(
    "settings, says",
    [
        ("pool_mode = transaction", "unsupported startup parameter: options"),
        ("pool_mode = session", "unsupported startup parameter: options"),
        (
            "pool_mode = transaction\nignore_startup_parameters = options",
            "did not apply the session options that make every transaction read-only",
        ),
    ],
)
def test_a_connection_pool_that_refuses_or_drops_the_session_options_is_named(
    server, settings: str, says: str
) -> None:
    # Supabase's pooler, PgBouncer: pgvitals cannot make its session read-only there, and
    # does not read without that; the error says why and where to connect instead
    with pgbouncer(server, settings) as dsn:
        with psycopg.connect(dsn) as plain:  # the pool itself works
            assert plain.execute("SELECT 1").fetchone() == (1,)
        run = pgvitals("check", dsn, "--format", "json")
    assert run.exit_code == 3, run.stderr
    line = one_error_line(run.stderr)
    assert says in line
    assert "connect to PostgreSQL directly" in line


@pytest.fixture
def sql_ascii(server) -> Iterator[str]:
    """A legacy SQL_ASCII database: bytes stored as given, in no declared encoding."""
    name = f"u_sql_ascii_{os.getpid()}"
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        admin.execute(
            f"CREATE DATABASE {name} ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'"
            " TEMPLATE template0"
        )
        # pg_stat_statements keeps the Latin-1 bytes of these sessions' statements and
        # then fails every read of its view, from any database of the server (it converts
        # each text before filtering): the server's other tests read that view
        admin.execute(f"ALTER DATABASE {name} SET pg_stat_statements.track = 'none'")
    yield server.dsn(name)
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_a_sql_ascii_database_is_checked(sql_ascii: str) -> None:
    """psycopg returns a SQL_ASCII database's text as bytes: the session's read-only
    setting read as b'on' was taken for a pooler dropping it (exit 3, a false reason).
    Latin-1 bytes in the rows are read; a table whose name is such bytes cannot be
    named in a statement, and is reported as not read instead of a traceback."""
    with psycopg.connect(sql_ascii, autocommit=True) as session:
        session.execute(
            b"CREATE TABLE cafe (id int PRIMARY KEY, status text, user_id int);"
            b"CREATE TABLE users (id int PRIMARY KEY);"
            b"INSERT INTO cafe SELECT g, (ARRAY['\xe9t\xe9', 'ok'])[1 + g % 2], g"
            b"  FROM generate_series(1, 200) g;"
            b'CREATE TABLE "caf\xe9" (id int, note text);'
            b"INSERT INTO \"caf\xe9\" SELECT g, '\xe8' FROM generate_series(1, 50) g;"
            b"ANALYZE"
        )
        (encoding,) = session.execute("SHOW server_encoding").fetchone()
        assert encoding == b"SQL_ASCII"  # the claim: psycopg gives bytes here
    run = pgvitals("check", sql_ascii, "--format", "json")
    assert run.exit_code == 0, run.stderr
    report = run.json()
    found = {(f["rule"], f["object"]) for f in report["findings"]}
    assert ("status-without-check", "public.cafe.status") in found
    assert ("missing-foreign-key", "public.cafe.user_id") in found
    (check,) = (c for c in report["checks"] if c["rule"] == "missing-primary-key")
    assert [o["reason"] for o in check["skipped_objects"]] == [
        "its name is not UTF-8 in a SQL_ASCII database: no statement can name it"
    ]
    # pg_dump's copy of it too (its output is no UTF-8): the fixes are verified
    verified = pgvitals("check", sql_ascii, "--verify-fixes", "--format", "json")
    assert verified.exit_code == 0, verified.stderr
    verification = verified.json()["sections"]["verification"]
    assert verification["passed"] is True and verification["copy_failures"] == []


def test_a_database_in_an_encoding_python_cannot_read_is_one_error_line(server) -> None:
    """MULE_INTERNAL has no Python codec (psycopg raises NotSupportedError on first use)
    and no conversion to UTF-8: a traceback before; one line and exit 3 now."""
    name = f"u_mule_{os.getpid()}"
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        admin.execute(
            f"CREATE DATABASE {name} ENCODING 'MULE_INTERNAL' LC_COLLATE 'C' LC_CTYPE 'C'"
            " TEMPLATE template0"
        )
    try:
        run = pgvitals("check", server.dsn(name), "--format", "json")
    finally:
        with psycopg.connect(server.dsn(), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    assert run.exit_code == 3
    assert "uses the encoding MULE_INTERNAL" in one_error_line(run.stderr)
