"""Which migration tool runs a reviewed file, and whether it runs it in one transaction.

Review loads a file as psql does: a statement that cannot run in a transaction block
(`CREATE INDEX CONCURRENTLY`, `VACUUM`, ...) runs on its own, and an enum value added
by one statement may be used by the next. Most migration tools do not run a file that
way. They either run it in one transaction, or send it to the server as one query
string, which PostgreSQL runs as one implicit transaction when it holds more than one
statement (the protocol's "Multiple Statements in a Simple Query"; it fails such a
statement even after a COMMIT in the same string). A file that loads here then fails
at deploy unless it carries the tool's opt-out. What each tool does was read in its
source (repository @ commit):

- goose (pressly/goose@520411a, migration_sql.go, internal/sqlparser/parser.go): a
  file with `-- +goose Up` runs statement by statement in one transaction; `-- +goose
  NO TRANSACTION` (any line, any case) runs them one by one without one.
- dbmate (amacneil/dbmate@f3e08f1, pkg/dbmate/db.go, migration.go): each `--
  migrate:up` block is sent as one query string in a transaction; with
  `transaction:false` on that line, as one query string without one.
- Diesel (diesel-rs/diesel@04cc1b0, diesel_migrations/src/file_based_migrations.rs):
  `<version>_<name>/up.sql` runs by `batch_execute` in a transaction, unless the
  `metadata.toml` beside it says `run_in_transaction = false`; its doc warns that a
  file of several statements is then still one implicit transaction.
- sqlx (launchbadge/sqlx@9d6bf66, sqlx-core/src/migrate/source.rs,
  sqlx-postgres/src/migrate.rs): `<version>_<name>[.up].sql` is executed whole in a
  transaction, unless the file starts with `-- no-transaction`.
- Mattermost's morph (mattermost/morph@34e8da7, drivers/postgres/postgres.go):
  `<version>_<name>.up.sql` is executed whole in a transaction, unless the file
  starts with `-- morph:nontransactional`.
- golang-migrate (golang-migrate/migrate@18966c7, database/postgres/postgres.go and
  its README): `<version>_<name>.up.sql` is executed whole as one query string, in no
  transaction of its own (`x-multi-statement` splits it; a URL option, not visible).
- Atlas (ariga/atlas@a5e0aec, cmd/atlas/internal/cmdapi/migrate.go, sql/migrate/dir.go):
  the files of a folder with `atlas.sum` run statement by statement, each file in a
  transaction (`--tx-mode file`, the default), unless the file's header says `--
  atlas:txmode none`.

Left as psql runs them: Sqitch (it runs `psql --file`), and what is not recognised.
Not encoded: Flyway (it decides per statement from its own list, and refuses a file
that mixes both kinds unless `mixed` is set), Prisma Migrate (one query string before
prisma-engines#5767, statement by statement since: it depends on the version).
"""

from __future__ import annotations

import functools
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from pglast import ast

from pgvitals.review.split import Statement

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TRANSACTION, ONE_QUERY = "transaction", "one query"

GOOSE_UP = re.compile(r"^--\s*\+goose\s+up\s*$", re.IGNORECASE | re.MULTILINE)
GOOSE_NO_TRANSACTION = re.compile(
    r"^--\s*\+goose\s+no transaction\s*$", re.IGNORECASE | re.MULTILINE
)
DBMATE_UP = re.compile(r"^--\s*migrate:up(?=\s|$)(?P<options>[^\n]*)", re.MULTILINE)
SQLX_NO_TRANSACTION = "-- no-transaction"
MORPH_NON_TRANSACTIONAL = "-- morph:nontransactional"
ATLAS_TXMODE = re.compile(r"atlas:txmode\s+(\w+)")
VERSIONED = re.compile(r"^\d+_.+\.sql$")  # sqlx: <version>_<description>.sql
VERSIONED_UP = re.compile(r"^(\d+_.+)\.up\.sql$")  # golang-migrate, morph, sqlx
DIESEL_FOLDER = re.compile(r"^\d[\d-]*_")  # 2024-01-01-000000_x, 00000000000000_x
NOT_ATOMIC = "the migration's statements are then no longer atomic"
APART = "the statement is then not atomic with the migration's others"
STILL_ONE = "with other statements it is still one implicit transaction"


@dataclass(frozen=True)
class Runner:
    """How a migration tool runs a file, where that differs from psql."""

    tool: str
    recognised_by: str
    runs: str  # how it runs the statement's file (or block), in words
    fix: str  # the tool's opt-out, and what it costs

    def evidence(self) -> dict[str, str]:
        return {
            "tool": self.tool,
            "recognised_by": self.recognised_by,
            "runs": self.runs,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class Unit:
    """A part of a file (the whole file, or a dbmate block) that the tool runs at once."""

    start: int  # character offsets in the file
    stop: int
    mode: str  # TRANSACTION or ONE_QUERY
    tool: str
    recognised_by: str
    fix: str


def wrapping(path: Path, text: str, statements: list[Statement]) -> list[Runner | None]:
    """Per statement of the file: the tool that runs it inside a transaction block the
    file did not ask for (a statement that cannot run in one fails there at deploy), or
    None where it runs as psql runs it (no tool recognised, or the tool's opt-out)."""
    found: list[Runner | None] = [None] * len(statements)
    for unit in units(path, text):
        members = [n for n, s in enumerate(statements) if unit.start <= s.offset < unit.stop]
        if unit.mode == TRANSACTION:
            if any(isinstance(statements[n].node, ast.TransactionStmt) for n in members):
                continue  # its own BEGIN/COMMIT inside the tool's transaction: not modelled
            runs = "in one transaction"
        elif len(members) > 1:
            runs = (
                f"as one query string of {len(members)} statements, which PostgreSQL runs"
                " as one implicit transaction"
            )
        else:
            continue  # one statement alone in a query string: no transaction block
        runner = Runner(unit.tool, unit.recognised_by, runs, unit.fix)
        for n in members:
            found[n] = runner
    return found


def one_by_one(path: Path, text: str) -> bool:
    """Does the file's tool run its statements one by one, each in a transaction of its
    own (goose's `NO TRANSACTION`, Atlas's `txmode none`)? A lock one statement takes is
    then released before the next begins."""
    if GOOSE_UP.search(text):
        return bool(GOOSE_NO_TRANSACTION.search(text))
    return (path.parent / "atlas.sum").is_file() and atlas_txmode(text) == "none"


def units(path: Path, text: str) -> list[Unit]:
    """The parts of the file that its tool runs at once, and how; none where the tool
    is not recognised or runs the statements one by one outside a transaction."""
    end = len(text)
    if GOOSE_UP.search(text):
        if GOOSE_NO_TRANSACTION.search(text):
            return []  # each statement on its own, outside a transaction: as psql
        fix = (
            "add the line `-- +goose NO TRANSACTION` (goose then runs each statement on its"
            f" own, outside a transaction: {NOT_ATOMIC}), or move the statement to a"
            " migration of its own that has it"
        )
        return [Unit(0, end, TRANSACTION, "goose", "its `-- +goose Up` annotation", fix)]
    if blocks := list(DBMATE_UP.finditer(text)):
        stops = [block.start() for block in blocks[1:]] + [end]
        return [dbmate_unit(block, stop) for block, stop in zip(blocks, stops, strict=True)]
    name, folder = path.name, path.parent
    if name == "up.sql" and DIESEL_FOLDER.match(folder.name):
        metadata = folder / "metadata.toml"
        if metadata.is_file() or (folder / "down.sql").is_file():
            return [diesel_unit(folder, metadata, end)]
    if (folder / "atlas.sum").is_file():
        if atlas_txmode(text) == "none":
            return []  # each statement on its own, outside a transaction: as psql
        fix = (
            "add `-- atlas:txmode none` to the file's header, followed by a blank line"
            f" (Atlas then runs its statements without a transaction: {NOT_ATOMIC}), or move"
            " the statement to a migration file of its own that has it"
        )
        return [Unit(0, end, TRANSACTION, "Atlas", "atlas.sum beside it", fix)]
    up = VERSIONED_UP.match(name)
    if VERSIONED.match(name) and not name.endswith(".down.sql") and uses_sqlx(folder.parent):
        recognised = "<version>_<name>.sql beside a Cargo.toml that uses sqlx"
        return [marked_unit(text, "sqlx", SQLX_NO_TRANSACTION, recognised)]
    if up and morph_folder(folder):
        recognised = f"<version>_<name>.up.sql beside files marked `{MORPH_NON_TRANSACTIONAL}`"
        return [marked_unit(text, "morph", MORPH_NON_TRANSACTIONAL, recognised)]
    if up and (folder / f"{up.group(1)}.down.sql").is_file():
        fix = (
            "move the statement to a migration file of its own (one statement alone is in no"
            " transaction block), or run golang-migrate with x-multi-statement=true, which"
            f" sends the statements one by one: {NOT_ATOMIC}"
        )
        recognised = "<version>_<name>.up.sql beside its .down.sql"
        return [Unit(0, end, ONE_QUERY, "golang-migrate", recognised, fix)]
    return []


def marked_unit(text: str, tool: str, marker: str, recognised: str) -> Unit:
    """sqlx and morph: the whole file as one query string, in a transaction unless the
    file starts with the tool's marker."""
    alone = (
        f"make `{marker}` the first line of a migration file that holds the statement alone"
        f" ({tool} sends a file as one query string: {STILL_ONE})"
    )
    if text.startswith(marker):
        return Unit(0, len(text), ONE_QUERY, tool, f"{recognised}, and its `{marker}`", alone)
    fix = f"{alone}; {APART}"
    return Unit(0, len(text), TRANSACTION, tool, recognised, fix)


def dbmate_unit(block: re.Match[str], stop: int) -> Unit:
    """One `-- migrate:up` block: dbmate sends it as one query string, in a transaction
    unless its line says `transaction:false`."""
    options = dict(pair.split(":", 1) for pair in block.group("options").split() if ":" in pair)
    alone = (
        "put the statement alone in a block whose line is `-- migrate:up transaction:false`"
        f" (dbmate sends a block as one query string: {STILL_ONE})"
    )
    if options.get("transaction") == "false":
        recognised = "its `-- migrate:up transaction:false` line"
        return Unit(block.start(), stop, ONE_QUERY, "dbmate", recognised, alone)
    fix = f"{alone}; {APART}"
    return Unit(block.start(), stop, TRANSACTION, "dbmate", "its `-- migrate:up` line", fix)


def diesel_unit(folder: Path, metadata: Path, end: int) -> Unit:
    """`<version>_<name>/up.sql`: one batch, in a transaction unless metadata.toml says no."""
    alone = (
        "put the statement alone in a migration of its own whose metadata.toml says"
        f" `run_in_transaction = false` (Diesel sends up.sql as one batch: {STILL_ONE})"
    )
    recognised = f"up.sql in {folder.name}/ beside its down.sql or metadata.toml"
    try:
        settings = tomllib.loads(metadata.read_text(encoding="utf-8")) if metadata.is_file() else {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        settings = {}  # Diesel would refuse it; its default is a transaction
    if settings.get("run_in_transaction") is False:
        recognised += ": run_in_transaction = false"
        return Unit(0, end, ONE_QUERY, "Diesel", recognised, alone)
    fix = f"{alone}; {APART}"
    return Unit(0, end, TRANSACTION, "Diesel", recognised, fix)


def atlas_txmode(text: str) -> str | None:
    """The `atlas:txmode` directive of the file's header: its comment lines at the top."""
    for line in text.splitlines():
        if not line.startswith(("--", "#")):
            break
        if mode := ATLAS_TXMODE.search(line):
            return mode.group(1)
    return None


@functools.cache
def uses_sqlx(crate: Path) -> bool:
    """Is `crate` a Rust crate that depends on sqlx (its migrations folder beside)?"""
    try:
        return "sqlx" in (crate / "Cargo.toml").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


@functools.cache
def morph_folder(folder: Path) -> bool:
    """Does a migration in `folder` carry morph's marker (Mattermost's migrations)?"""
    for item in folder.glob("*.up.sql"):
        try:
            with item.open(encoding="utf-8", errors="replace") as handle:
                if handle.read(len(MORPH_NON_TRANSACTIONAL)) == MORPH_NON_TRANSACTIONAL:
                    return True
        except OSError:
            continue
    return False
