"""Load a live database's schema dump into an empty database, fast.

psql runs the whole dump in one go (10,000 tables in seconds); the statement-by-
statement loader (review/load.py) takes minutes for the same dump, since every
statement is a savepoint and round trips of its own. When anything in the dump fails
(an extension the server lacks, a role it does not have), psql stops, and the caller
makes the database anew and loads it statement by statement, which names what failed
and goes on after it. `check --verify-fixes` and `review --base DSN` load this way.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import psycopg
from psycopg import sql

from pgvitals.embedded import DUMP_SECONDS
from pgvitals.snapshot.profile import unquote_identifier

# A `CREATE ROLE name;` line of pg_dumpall.
CREATE_ROLE = re.compile(r'CREATE ROLE ("(?:[^"]|"")+"|[^\s;]+);')
# A column's options as pg_dump sets them: `ALTER TABLE ONLY t ALTER COLUMN c SET (...);`
COLUMN_OPTIONS = re.compile(
    r"^(ALTER TABLE ONLY .+ ALTER COLUMN .+ SET \()(.*)(\);)$\n?", re.MULTILINE
)
# Options a server keeps on every column for itself, which pg_dump copies like a user's:
# PostgreSQL 15.20 stores pg_attver=N, which servers before it reject ("unrecognized
# parameter"), and which the copy's own server sets anew where it has it
SERVER_OPTIONS = ("pg_attver=",)


def portable(schema: str) -> str:
    """A schema dump without the column options its server set for itself, so that it
    loads on a server of another minor release (the bundled PostgreSQL 16.2)."""

    def kept(match: re.Match[str]) -> str:
        options = [o for o in match.group(2).split(", ") if not o.startswith(SERVER_OPTIONS)]
        return f"{match.group(1)}{', '.join(options)}{match.group(3)}\n" if options else ""

    return COLUMN_OPTIONS.sub(kept, schema)


def dump_roles(bin_dir: Path, dsn: str | None) -> str:
    """The server's roles as SQL (no passwords), by pg_dumpall; empty when they cannot
    be read (the loader then creates the roles the schema names, without their
    attributes)."""
    command = [str(bin_dir / "pg_dumpall"), "--roles-only", "--no-role-passwords",
               f"--dbname={dsn or ''}"]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout if done.returncode == 0 else ""


def load_at_once(psql: Path, dsn: str, roles: str, schema: str) -> bool:
    """The roles, then the dump, through psql, stopping at the first error; whether all
    of it ran. A role that exists already (the bootstrap superuser) is dropped from
    the roles' script first, as the statement-by-statement load passes over it."""
    if not psql.exists():
        return False
    with psycopg.connect(dsn, autocommit=True) as connection:
        existing = {name for (name,) in connection.execute("SELECT rolname FROM pg_roles")}
    script = "\n".join(line for line in roles.splitlines() if role_created(line) not in existing)
    command = [str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-f", "-"]
    try:
        done = subprocess.run(
            command,
            input=f"{script}\n{schema}",
            capture_output=True,
            text=True,
            timeout=DUMP_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def role_created(line: str) -> str | None:
    """The role that a `CREATE ROLE name;` line of pg_dumpall creates."""
    match = CREATE_ROLE.fullmatch(line)
    return unquote_identifier(match.group(1)) if match else None


def create_database(admin_dsn: str, database: str, again: bool = False) -> None:
    """Create `database` (empty: from template0) through a session at `admin_dsn` on the
    same server; `again`: drop it first, with whatever a stopped load left in it."""
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        if again:
            drop_database(admin, database)
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(database))
        )


def drop_database(admin: psycopg.Connection, database: str) -> None:
    """Drop `database` if it exists, ending its sessions (WITH FORCE, PostgreSQL 13+)."""
    drop = sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(database))
    try:
        admin.execute(drop + sql.SQL(" WITH (FORCE)"))
    except psycopg.errors.SyntaxError:  # before PostgreSQL 13
        admin.execute(drop)
