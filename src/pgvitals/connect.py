"""Read-only sessions with timeouts, and connection errors a user can act on."""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg
from psycopg import conninfo

from pgvitals import __version__


@dataclass(frozen=True)
class Limits:
    """Session limits; every pgvitals session has all three."""

    statement_timeout_ms: int = 60_000
    lock_timeout_ms: int = 2_000
    connect_timeout_s: int = 10


class BadTarget(Exception):
    """The DSN itself is malformed: a usage error (exit code 2)."""


class Unreachable(Exception):
    """The server could not be reached, refused us, or is not PostgreSQL (exit code 3)."""


def connect(dsn: str | None, limits: Limits = Limits()) -> psycopg.Connection:
    """Open an autocommit session in which every transaction is read-only."""
    try:
        params = conninfo.conninfo_to_dict(dsn or "")
    except psycopg.ProgrammingError as error:
        raise BadTarget(f"invalid connection string: {scrub(str(error), dsn)}") from None
    session_options = " ".join(
        [
            params.pop("options", "") or "",
            "-c default_transaction_read_only=on",
            f"-c statement_timeout={limits.statement_timeout_ms}",
            f"-c lock_timeout={limits.lock_timeout_ms}",
            "-c idle_in_transaction_session_timeout=60000",
        ]
    ).strip()
    params.setdefault("connect_timeout", str(limits.connect_timeout_s))
    params.setdefault("application_name", f"pgvitals {__version__}")
    try:
        connection = psycopg.connect(**params, options=session_options, autocommit=True)
    except psycopg.OperationalError as error:
        raise Unreachable(
            f"cannot connect to {describe(dsn)}: {first_line(scrub(str(error), dsn))}"
        ) from None
    except psycopg.ProgrammingError as error:
        raise BadTarget(f"invalid connection string: {scrub(str(error), dsn)}") from None
    read_only = connection.execute("SHOW default_transaction_read_only").fetchone()
    if not read_only or read_only[0] != "on":
        connection.close()
        raise Unreachable(f"{describe(dsn)} did not accept a read-only session")
    return connection


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
