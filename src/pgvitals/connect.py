"""Read-only sessions with timeouts, and connection errors a user can act on."""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from psycopg import conninfo, errors, pq
from psycopg.abc import Buffer, PQGen
from psycopg.adapt import Loader

from pgvitals import __version__

RV = TypeVar("RV")

# The largest statement_timeout and lock_timeout the server accepts (an int of milliseconds).
MAX_TIMEOUT_MS = 2_147_483_647

# Values libpq accepts for the options that take one of a few words.
CHOICES = {
    "sslmode": ("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
    "gssencmode": ("disable", "prefer", "require"),
    "channel_binding": ("disable", "prefer", "require"),
    "target_session_attrs": (
        "any", "read-write", "read-only", "primary", "standby", "prefer-standby",
    ),
    "load_balance_hosts": ("disable", "random"),
    "sslnegotiation": ("postgres", "direct"),
}  # fmt: skip
# target_session_attrs that test the session's read-only setting, and the server role
# each asks for (libpq 14+)
SERVER_ROLE_OF = {"read-write": "primary", "read-only": "standby"}
INTEGERS = (
    "connect_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
)
INTEGER = re.compile(r"\s*[+-]?\d+\s*")


@dataclass(frozen=True)
class Limits:
    """Session limits. The server enforces the two timeouts; the client bounds each wait
    for an answer by the statement timeout plus `grace_s`, then cancels, and gives up
    `grace_s` after that, since a stopped or unreachable backend enforces nothing."""

    statement_timeout_ms: int = 60_000
    lock_timeout_ms: int = 2_000
    connect_timeout_s: int = 10
    grace_s: float = 5.0
    # a peer that vanished (host down, network cut) is noticed in about a minute
    keepalives_idle_s: int = 30
    keepalives_interval_s: int = 10
    keepalives_count: int = 3


class BadTarget(Exception):
    """The DSN itself is malformed: a usage error (exit code 2)."""


class Unreachable(Exception):
    """The server could not be reached, refused us, or is not PostgreSQL (exit code 3)."""


class ClientTimeout(errors.QueryCanceled):
    """The client's own cancel (Watchdog) ended a statement the server had not ended by
    its statement_timeout: on a server too busy to start the statement in time, or one
    whose session lifted the timeout. The server's message for it says "due to user
    request", which the user did not make."""


class NoAnswer(psycopg.OperationalError):
    """The server answered neither a statement within its deadline nor the cancel that
    followed: the socket was shut down and the session is gone."""


def connect(dsn: str | None, limits: Limits = Limits()) -> psycopg.Connection:
    """Open an autocommit session in which every transaction is read-only, and every
    wait for the server is bounded (see Watchdog)."""
    try:
        params = conninfo.conninfo_to_dict(dsn or "")
    except psycopg.ProgrammingError as error:
        raise BadTarget(f"invalid connection string: {scrub(str(error), dsn)}") from None
    validate(params)
    # the session's own default_transaction_read_only makes every server look read-only
    # to libpq: read-write would refuse them all, read-only take the first, primary or
    # not. What those words choose between is the server's role: ask for that.
    attrs = params.get("target_session_attrs", os.environ.get("PGTARGETSESSIONATTRS"))
    if attrs in SERVER_ROLE_OF:
        params["target_session_attrs"] = SERVER_ROLE_OF[attrs]
    session_options = " ".join(
        [
            params.pop("options", "") or "",
            "-c default_transaction_read_only=on",
            f"-c statement_timeout={limits.statement_timeout_ms}",
            f"-c lock_timeout={limits.lock_timeout_ms}",
            "-c idle_in_transaction_session_timeout=60000",
            # a role's serializable default fails every read on a hot standby ("cannot use
            # serializable mode in a hot standby"); the catalog read sets its own level
            r"-c default_transaction_isolation=read\ committed",
            # a role subject to row-level security would count and profile only the rows
            # its policies show (one tenant's, as Logto's tenant roles): off, such a read
            # fails and is reported skipped, as pg_dump does, instead of judged as whole
            "-c row_security=off",
            # what the server prints is parsed (partition bounds, dates): in one style,
            # whatever the role or database sets (DateStyle 'SQL, DMY' hid every bound)
            "-c DateStyle=ISO",
            "-c IntervalStyle=postgres",
        ]
    ).strip()
    params.setdefault("connect_timeout", str(limits.connect_timeout_s))
    params.setdefault("keepalives", "1")
    params.setdefault("keepalives_idle", str(limits.keepalives_idle_s))
    params.setdefault("keepalives_interval", str(limits.keepalives_interval_s))
    params.setdefault("keepalives_count", str(limits.keepalives_count))
    params.setdefault("application_name", f"pgvitals {__version__}")
    try:
        connection = GuardedConnection.connect(**params, options=session_options, autocommit=True)
    except psycopg.OperationalError as error:
        reason = first_line(scrub(str(error), dsn))
        if "unsupported startup parameter: options" in reason:  # PgBouncer's refusal
            reason += f" ({POOLER_ADVICE})"
        raise Unreachable(f"cannot connect to {describe(dsn)}: {reason}") from None
    except psycopg.ProgrammingError as error:
        raise BadTarget(f"invalid connection string: {scrub(str(error), dsn)}") from None
    try:
        encoding = connection.info.encoding
    except psycopg.NotSupportedError:
        # no Python codec, and PostgreSQL converts it to no other (MULE_INTERNAL)
        server_encoding = connection.pgconn.parameter_status(b"server_encoding") or b"?"
        connection.close()
        raise Unreachable(
            f"{describe(dsn)} uses the encoding {server_encoding.decode()}, which pgvitals"
            " cannot read (Python has no codec for it, PostgreSQL no conversion to UTF-8)"
        ) from None
    connection.watchdog = Watchdog(
        connection, limits.statement_timeout_ms / 1000 + limits.grace_s, limits.grace_s
    )
    if encoding == "ascii":
        read_bytes_as_text(connection)
    try:
        read_only = connection.execute("SHOW default_transaction_read_only").fetchone()
    except psycopg.Error as error:
        connection.close()
        raise Unreachable(
            f"{describe(dsn)} accepted the connection, then: {describe_failure(error)}"
        ) from None
    if not read_only or read_only[0] != "on":
        connection.close()
        raise Unreachable(
            f"{describe(dsn)} did not apply the session options that make every transaction"
            f" read-only (a connection pooler that drops them?): {POOLER_ADVICE}"
        )
    return connection


class LenientTextLoader(Loader):
    """Text of a SQL_ASCII database: bytes in no declared encoding (psycopg returns them
    as bytes). Read as UTF-8, a byte that is none shows as U+FFFD."""

    def load(self, data: Buffer) -> str:
        return bytes(data).decode("utf-8", "replace")


class LenientTextBinaryLoader(LenientTextLoader):
    format = pq.Format.BINARY


def read_bytes_as_text(connection: psycopg.Connection) -> None:
    """On a SQL_ASCII database psycopg returns every text value as bytes, which nothing
    downstream expects (a session setting read as b'on' is not 'on'): read them as text."""
    adapters = connection.adapters
    adapters.register_loader(0, LenientTextLoader)  # types without a loader of their own
    for name in ("bpchar", "name", "text", "varchar", '"char"'):
        adapters.register_loader(name, LenientTextLoader)
        adapters.register_loader(name, LenientTextBinaryLoader)


# PgBouncer refuses the `options` startup parameter in every pool mode, or drops it
# (ignore_startup_parameters). Setting them with SET instead is not safe: in transaction
# mode they would stay on whichever server session ran it, for another client.
POOLER_ADVICE = (
    "pgvitals sets read-only and timeouts for its session when it connects, which a"
    " connection pool such as PgBouncer refuses or drops; connect to PostgreSQL directly"
    " (on Supabase, the direct connection, not the pooler)"
)


def validate(params: dict[str, Any]) -> None:
    """Reject what libpq would reject only when connecting, so that a typo is an input
    error (exit 2), not an unreachable server. PG* variables count as libpq reads them."""
    from_environment = {
        option.keyword.decode(): (option.val.decode(), option.envvar.decode())
        for option in psycopg.pq.Conninfo.get_defaults()
        if option.val is not None and option.envvar
    }
    for key in ("port", *INTEGERS, *CHOICES):
        if key in params:
            value, source = str(params[key]), "in the connection string"
        elif key in from_environment:
            value, source = from_environment[key][0], f"in {from_environment[key][1]}"
        else:
            continue
        problem = None
        if key == "port":
            ports = [port.strip() for port in value.split(",")]
            if not all(not port or (port.isdigit() and 0 < int(port) < 65536) for port in ports):
                problem = "is not a port number (1-65535)"
        elif key in INTEGERS:
            if not INTEGER.fullmatch(value) or abs(int(value)) > 2**31 - 1:  # libpq's int
                problem = "is not a whole number"
        elif value not in CHOICES[key]:
            problem = f"is not one of {', '.join(CHOICES[key])}"
        if problem:
            raise BadTarget(f"invalid connection string: {key} {quoted(value)} {source} {problem}")


class Watchdog:
    """Bounds every wait for the server on the client side. A wait still unanswered
    after `limit_s` gets a cancel request; one still unanswered `grace_s` after that
    has its socket shut down, which ends the wait with an error (NoAnswer). The
    server's statement_timeout cannot help when the backend is stopped, or when the
    peer is not a working server at all."""

    def __init__(self, connection: psycopg.Connection, limit_s: float, grace_s: float) -> None:
        # weak: a session dropped without close() is still closed when collected
        self._connection = weakref.ref(connection)
        weakref.finalize(connection, self.stop)
        self._limit_s = limit_s
        self._grace_s = grace_s
        self._changed = threading.Condition()
        self._deadline: float | None = None
        self._cancelled = False
        self._gave_up = False  # final: the socket is shut
        self._stopped = False
        threading.Thread(target=self._watch, name="pgvitals-watchdog", daemon=True).start()

    @contextmanager
    def watch(self) -> Iterator[None]:
        started = time.monotonic()
        with self._changed:
            self._deadline = started + self._limit_s
            self._cancelled = False
            self._changed.notify()
        try:
            yield
        except psycopg.OperationalError as error:
            with self._changed:
                gave_up, cancelled = self._gave_up, self._cancelled
            waited = time.monotonic() - started
            if gave_up:
                raise NoAnswer(
                    f"no answer from the server for {waited:.0f} s, nor to a cancel request"
                ) from error
            if cancelled and isinstance(error, errors.QueryCanceled):
                raise ClientTimeout(
                    f"statement timeout: no answer from the server for {waited:.0f} s,"
                    " so pgvitals cancelled the statement"
                ) from error
            raise
        finally:
            with self._changed:
                self._deadline = None

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify()

    def _watch(self) -> None:
        with self._changed:
            while not self._stopped:
                if self._deadline is None or self._gave_up:
                    self._changed.wait()
                    continue
                remaining = self._deadline - time.monotonic()
                if remaining > 0:
                    self._changed.wait(remaining)
                elif not self._cancelled:
                    self._cancelled = True
                    self._deadline = time.monotonic() + self._grace_s
                    # Outside the lock, as a cancel request is a connection of its own.
                    # Should the statement end meanwhile, a cancel reaching an idle
                    # backend is ignored by the server.
                    threading.Thread(target=self._cancel, daemon=True).start()
                else:
                    self._gave_up = True
                    self._shut_socket()

    def _cancel(self) -> None:
        # No answer to the cancel either: the socket is shut when the grace period ends.
        connection = self._connection()
        if connection is not None:
            with suppress(psycopg.Error):
                connection.cancel_safe(timeout=self._grace_s)

    def _shut_socket(self) -> None:
        """Shut (not close) the session's socket through a duplicate descriptor: the
        waiting side then reads end-of-file, while the descriptor stays psycopg's."""
        connection = self._connection()
        if connection is None:
            return
        try:
            duplicate = socket.socket(fileno=os.dup(connection.fileno()))
        except (OSError, psycopg.Error):
            return  # already closed
        with duplicate, suppress(OSError):  # not connected any more: the wait ends anyway
            duplicate.shutdown(socket.SHUT_RDWR)


class GuardedConnection(psycopg.Connection[Any]):
    """A connection whose every wait for the server goes through its Watchdog."""

    watchdog: Watchdog | None = None

    def wait(self, gen: PQGen[RV], *args: Any, **kwargs: Any) -> RV:
        if self.watchdog is None:
            return super().wait(gen, *args, **kwargs)
        with self.watchdog.watch():
            return super().wait(gen, *args, **kwargs)

    def close(self) -> None:
        if self.watchdog is not None:
            self.watchdog.stop()
        super().close()


def describe_failure(error: psycopg.Error) -> str:
    """One line for an error that ended a statement; a timeout names the option to raise."""
    if isinstance(error, errors.LockNotAvailable):
        return "lock timeout, another session holds a lock: retry, or raise --lock-timeout"
    if isinstance(error, errors.QueryCanceled):
        # the same SQLSTATE for a cancel request: only the message tells them apart
        if "statement timeout" in str(error):
            return "statement timeout: raise --statement-timeout"
        return f"statement cancelled: {first_line(str(error))}"
    return first_line(str(error))


def quoted(text: str) -> str:
    """Text in double quotes, its control characters escaped so it stays on one line."""
    return json.dumps(text, ensure_ascii=False)


def describe(dsn: str | None) -> str:
    """user@host:port/database of a DSN, with libpq's defaults and PG* variables filled
    in as libpq would; never the password."""
    try:
        params = conninfo.conninfo_to_dict(dsn or "")
    except psycopg.ProgrammingError:
        return "the given server"
    defaults = {
        option.keyword.decode(): option.val.decode()
        for option in psycopg.pq.Conninfo.get_defaults()
        if option.val is not None
    }
    value = {**defaults, **{key: str(val) for key, val in params.items()}}
    host = value.get("host") or "(local socket)"
    port = value.get("port") or "5432"
    user = value.get("user") or "(default user)"
    database = value.get("dbname") or user
    return f"{user}@{host}:{port}/{database}"


def describe_connection(connection: psycopg.Connection) -> str:
    info = connection.info
    return f"{info.user}@{info.host}:{info.port}/{info.dbname}"


def scrub(text: str, dsn: str | None) -> str:
    """Remove any password, whether the DSN is a URI or key=value, from a message."""
    text = re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", text)
    text = re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", text, flags=re.I)
    try:
        password = conninfo.conninfo_to_dict(dsn or "").get("password")
    except psycopg.ProgrammingError:
        password = None
    if password:
        text = text.replace(str(password), "***")
    return text


def first_line(message: str) -> str:
    """The cause from a libpq error: it names each address tried ("connection to server
    at ... failed: <cause>") and may add a hint line; the last attempt's cause says most.
    A socket's path is kept: "No such file or directory" alone would not say which."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    causes = []
    for line in lines:
        match = re.search(r'connection to server (?:on socket "([^"]+)"|.*?) failed:\s*(.+)', line)
        if match:
            socket, cause = match.groups()
            causes.append(f"{cause} (socket {socket})" if socket else cause)
    if causes:
        return causes[-1]
    return lines[0] if lines else "unknown error"
