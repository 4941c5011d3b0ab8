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
  NO TRANSACTION` (any line, any case) runs them one by one without one, each
  `StatementBegin` ... `StatementEnd` block by one Exec, as one query string.
- sql-migrate (rubenv/sql-migrate@563a2f0, migrate.go applyMigrations,
  sqlparse/sqlparse.go): the `-- +migrate Up` section runs statement by statement in one
  transaction; with `notransaction` on that line, one by one without one (a block, as
  goose's, by one Exec). goose and sql-migrate find the statements by lines, not by
  SQL: where they cut one in two, review/cuts.py says so.
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
- Concourse's migrator (concourse/concourse@95872ce, atc/db/migration/migration.go
  runMigration, parser.go): `<version>_<name>.up.sql`, sorted by version with its Go
  migrations (`<version>_<name>.up.go`), executed whole, by one Exec, inside a
  transaction it begins for each migration; there is no opt-out. Recognised where a Go
  migration of Concourse's is in the folder.
- pop, as Ory's popx runs it (ory/x@31658d1, popx/match.go, migrator.go,
  migration_box.go; gobuffalo/pop@c9b1c55 pop.go for the dialect names):
  `<version>_<name>[.<dialect>][.autocommit].up.sql`, the file for PostgreSQL
  (`.postgres.`, or no dialect where no `.postgres.` file has its version) executed
  whole, by one Exec, in a transaction; with `.autocommit` in its name, by one Exec
  without one. Recognised where a file of the folder names a pop dialect.
- River's migrator (riverqueue/river@fdf6cdf, rivermigrate/river_migrate.go
  applyMigrations): each version's `<version>_<name>.up.sql` by one Exec, in a
  transaction it begins for that version; there is no opt-out (River's own 005 and 006
  say to build an index CONCURRENTLY by hand first, then let `IF NOT EXISTS` pass).
  Recognised where a file of the folder carries River's `/* TEMPLATE: schema */`.
- Authelia's storage migrator (authelia/authelia@2357203, internal/storage/
  sql_provider_schema.go SchemaMigrate, const.go reMigration): on PostgreSQL every
  pending `V<4 digits>.<Name>.up.sql` of its folder, by one ExecContext each, in ONE
  transaction it begins before the first and commits after the last, with no opt-out.
  Recognised by that name with its `.down.sql` beside it.
- Atlas (ariga/atlas@a5e0aec, cmd/atlas/internal/cmdapi/migrate.go, sql/migrate/dir.go):
  the files of a folder with `atlas.sum` run statement by statement, each file in a
  transaction (`--tx-mode file`, the default), unless the file's header says `--
  atlas:txmode none`. Not `.up.sql` files with a `.down.sql` beside them: Atlas writes
  those (and atlas.sum) in golang-migrate's format, for golang-migrate to apply
  (openmeterio/openmeter's atlas.hcl).

- Flyway (flyway/flyway@c5e20fc, flyway-core .../sqlscript/ParserSqlScript.java and
  .../parser/Parser.java, flyway-database-postgresql .../PostgreSQLParser.java): a
  `V<version>__<description>.sql` runs statement by statement in one transaction,
  unless a statement is one Flyway itself detects as non-transactional, by the words
  it begins with: CREATE/DROP DATABASE, TABLESPACE or SUBSCRIPTION, ALTER SYSTEM,
  CREATE [UNIQUE] INDEX CONCURRENTLY, DROP INDEX CONCURRENTLY, REINDEX SCHEMA, DATABASE
  or SYSTEM, VACUUM, DISCARD ALL (and ALTER TYPE ... ADD VALUE before PostgreSQL 12).
  A file of only those runs without a transaction; a file of both kinds is refused
  before any statement runs ("Detected both transactional and non-transactional
  statements within the same migration (even though mixed is false)") unless `mixed`
  is set, which runs the whole file without a transaction, or the script's own
  `<file>.sql.conf` sets `executeInTransaction`. Others PostgreSQL refuses in a
  transaction (`REINDEX TABLE ... CONCURRENTLY`, `DETACH PARTITION ... CONCURRENTLY`)
  are transactional to Flyway, and fail in its transaction. Recognised only where the
  project shows Flyway (a flyway.conf or flyway.toml, or a build file or Spring
  configuration that names it, in the folder or above): other tools name their files
  `V1__x.sql` too (refinery, Evolve) without Flyway's rules.
- postgres-migrations (ThomWright/postgres-migrations@dbfc5cc, src/run-migration.ts),
  which Supabase Storage runs: `<id>[-_]<name>.sql` executed whole, by one query, inside
  START TRANSACTION ... COMMIT, unless the file contains `-- postgres-migrations
  disable-transaction` (then by one query without one). Recognised where a file of the
  folder carries that marker.

A file run in one transaction may hold its own BEGIN, COMMIT or ROLLBACK (Nakama's
sql-migrate files commit the tool's transaction to build an index CONCURRENTLY, then
BEGIN one for the tool to commit): the statements before the first of them are in the
tool's transaction; from there on the file's own blocks decide, as psql runs them.

- Prisma Migrate (prisma/prisma-engines, sql-schema-connector's postgres flavour,
  `apply_migration_script`: `client.simple_query(script)` in 5.x and 6.x): each
  `<migrations>/<name>/migration.sql` beside `migration_lock.toml` is sent whole as one
  query string, in no transaction of its own, with no opt-out. prisma-engines#5767
  (February 2026, a 7.x release) splits the script and sends its statements one by one,
  so the version decides: recognised where the nearest package.json above the folder
  that names `prisma` pins it to a 6.x or older (`6.14.0`, `^5.22.0`, `~6.19`); a 7.x
  or a version it cannot bound is left as psql runs it.

- Icinga DB (Icinga/icingadb@a177eda, doc/04-Upgrading.md): each
  `schema/pgsql/upgrades/<version>.sql` is applied by hand, `psql -U icingadb icingadb <
  <file>`, which runs its statements one by one, each in a transaction of its own (no
  `--single-transaction`). Recognised where a file of the folder records its version
  (`INSERT INTO icingadb_schema`) or the schema file above it creates that table.
- togo ddl, as Drone CI runs it (harness/drone@3e7ecf1, branch drone,
  store/shared/migrate/postgres/ddl.go and the ddl_gen.go it generates): the `.sql` files
  of `files/` beside a Go file with `//go:generate togo ddl` are cut at their `-- name:
  <migration>` lines; Migrate runs each section by one db.Exec, in no transaction, then
  records its name in the table `migrations`. Each section is its own transaction: a
  lock one takes is released before the next begins.
- Drizzle (drizzle-team/drizzle-orm@b786252, drizzle-orm/src/migrator.ts
  readMigrationFiles, pg-core/dialect.ts migrate, node-postgres/session.ts and
  postgres-js/session.ts transaction): the `<tag>.sql` files its folder's
  `meta/_journal.json` lists, in the journal's order; each file is cut at every
  `--> statement-breakpoint` (the text, wherever it is: inside a function body too) and
  each piece sent as one query, and every pending migration of the folder runs in ONE
  transaction (begin, the pieces of each file and its row in
  `drizzle.__drizzle_migrations`, commit), with no opt-out. A lock one file takes is
  held until the last pending file is done. (The neon-http driver's migrator uses no
  transaction; a project's driver is not visible from the folder.)

Left as psql runs them: Sqitch (it runs `psql --file`), and what is not recognised.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from pglast import ast
from pglast.enums import DiscardMode, ObjectType, ReindexObjectType, TransactionStmtKind

from pgvitals.review import cuts, files, liquibase, placeholders
from pgvitals.review.split import Note, Statement

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# how a tool runs a part of a file: in one transaction; as one query string (one implicit
# transaction where it holds several statements); or each statement on its own (APART)
TRANSACTION, ONE_QUERY, APART = "transaction", "one query", "apart"

DBMATE_UP = re.compile(r"^--\s*migrate:up(?=\s|$)(?P<options>[^\n]*)", re.MULTILINE)
SQLX_NO_TRANSACTION = "-- no-transaction"
MORPH_NON_TRANSACTIONAL = "-- morph:nontransactional"
PG_MIGRATIONS_NO_TRANSACTION = "-- postgres-migrations disable-transaction"
# Icinga DB's upgrade files record their version so; its schema.sql creates the table
ICINGADB_VERSION_RECORD = "INSERT INTO icingadb_schema"
ICINGADB_VERSION_TABLE = "CREATE TABLE icingadb_schema"
PG_MIGRATIONS_FILE = re.compile(r"^\d+[-_]?.*\.sql$")
ATLAS_TXMODE = re.compile(r"atlas:txmode\s+(\w+)")
TOGO_SECTION = re.compile(r"^--\s*name:\s*\S", re.MULTILINE)
TOGO_GENERATE = re.compile(r"^//go:generate\s+togo\s+ddl\b", re.MULTILINE)
FLYWAY_VERSIONED = re.compile(r"^V\d[\w.]*__.+\.sql$")
# Flyway's own configuration, and the build files and Spring configuration that may set
# its options (flyway.mixed=true, mixed = true, spring.flyway.mixed: true, <mixed>true)
FLYWAY_FILES = ("pom.xml", "build.gradle", "build.gradle.kts", "application*.properties",
                "application*.yml", "application*.yaml")  # fmt: skip
FLYWAY_LEVELS = 12  # src/main/resources/org/example/db/migration/v2 is 10 below pom.xml
MIXED_TRUE = re.compile(r"\bmixed\b[\"']?\s*(?:=|:|>)\s*[\"']?true\b", re.IGNORECASE)
# ... or in code (`.mixed(true)`, `setMixed(true)`), an environment (FLYWAY_MIXED=true) or
# a command line (-mixed=true)
MIXED_SET = re.compile(
    MIXED_TRUE.pattern + r"|\b(?:set)?mixed\s*\(\s*true\s*\)|\bFLYWAY_MIXED\b\W{0,3}true\b",
    re.IGNORECASE,
)
MIXED_SUFFIXES = frozenset({".java", ".kt", ".kts", ".scala", ".groovy", ".gradle", ".xml",
                            ".properties", ".yml", ".yaml", ".conf", ".toml", ".env", ".sh",
                            ".json", ".cfg", ".ini"})  # fmt: skip
MIXED_NAMES = frozenset({"Dockerfile", "Makefile", "Procfile", "Jenkinsfile"})
SKIPPED = frozenset({"node_modules", "target", "build", "dist", "out", "vendor"})
FLYWAY_REFUSAL = (
    "Detected both transactional and non-transactional statements within the same"
    " migration (even though mixed is false)"
)
EXECUTE_IN_TRANSACTION = re.compile(
    r"\bexecuteInTransaction\b[\"']?\s*(?:=|:|>)\s*[\"']?(true|false)\b", re.IGNORECASE
)
VERSIONED = re.compile(r"^\d+_.+\.sql$")  # sqlx: <version>_<description>.sql
VERSIONED_UP = re.compile(r"^(\d+_.+)\.up\.sql$")  # golang-migrate, morph, sqlx
DIESEL_FOLDER = files.DIESEL_FOLDER  # 2024-01-01-000000_x, 00000000000000_x
NOT_ATOMIC = "the migration's statements are then no longer atomic"
POP_RECOGNISED = "beside files named for pop's dialects (Ory's popx)"
# What Flyway runs outside a transaction besides indexes built or dropped CONCURRENTLY,
# VACUUM and DISCARD ALL (PostgreSQLParser.detectCanExecuteInTransaction)
FLYWAY_SERVER_WIDE = (
    ast.CreatedbStmt,
    ast.DropdbStmt,
    ast.CreateTableSpaceStmt,
    ast.DropTableSpaceStmt,
    ast.CreateSubscriptionStmt,
    ast.DropSubscriptionStmt,
    ast.AlterSystemStmt,
)
FLYWAY_REINDEX = frozenset({ReindexObjectType.REINDEX_OBJECT_SCHEMA,
                            ReindexObjectType.REINDEX_OBJECT_SYSTEM,
                            ReindexObjectType.REINDEX_OBJECT_DATABASE})  # fmt: skip
NOT_ATOMIC_ALONE = "the statement is then not atomic with the migration's others"
TOOL_PREFIX = {"goose": "goose", "sql-migrate": "migrate"}
# each tool's own error for a last statement it never ends
UNTERMINATED = {
    "goose": "failed to parse migration: unexpected unfinished SQL query: missing semicolon?",
    "sql-migrate": (
        "The last statement must be ended by a semicolon or '-- +migrate StatementEnd' marker."
    ),
}
STILL_ONE = "with other statements it is still one implicit transaction"


@dataclass(frozen=True)
class Runner:
    """How a migration tool runs a file, where that differs from psql."""

    tool: str
    recognised_by: str
    runs: str  # how it runs the statement's file (or block), in words
    fix: str  # the tool's opt-out, and what it costs
    refusal: str | None = None  # the tool's own error: it refuses the file at this statement
    # the first piece of the statement, where the tool cuts it and sends the pieces apart:
    # PostgreSQL's error for it is the one at deploy
    sends: str | None = None

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
    runs: str | None = None  # how it runs the unit, where "in one transaction" says too little
    # the transaction it runs the file in together with other files (a Drizzle or Authelia
    # folder's pending migrations: `<tool>: <folder>`); None where the file's own
    batch: str | None = None


RIVER = "River's migrator"
RIVER_FIX = (
    "River runs each version in a transaction and has no opt-out: build the index"
    " CONCURRENTLY by hand before the migration runs and write the migration's statement"
    " with IF NOT EXISTS, as River's own 005 and 006 do, or build it without CONCURRENTLY"
    " (which blocks writes to the table while it builds)"
)
AUTHELIA = "Authelia's storage migrator"
AUTHELIA_UP = re.compile(r"^(V\d{4}\.[^.]+)\.up\.sql$")
AUTHELIA_FIX = (
    "Authelia runs all pending migrations in one transaction and has no opt-out: write the"
    " statement in a form that runs in one (CREATE INDEX without CONCURRENTLY, which blocks"
    " writes to the table while it builds)"
)
DRIZZLE_BREAKPOINT = "--> statement-breakpoint"
DRIZZLE_RUNS = "in one transaction with every other pending migration of its folder"
DRIZZLE_FIX = (
    "Drizzle runs all pending migrations in one transaction and has no opt-out: write the"
    " statement in a form that runs in one (CREATE INDEX without CONCURRENTLY, which blocks"
    " writes to the table while it builds), or run it outside `drizzle-kit migrate`"
)


def wrapping(path: Path, text: str, statements: list[Statement]) -> list[Runner | None]:
    """Per statement of the file: the tool that runs it inside a transaction block the
    file did not ask for (a statement that cannot run in one fails there at deploy), or
    that refuses the file at it (`Runner.refusal`), or None where it runs as psql runs
    it (no tool recognised, or the tool's opt-out)."""
    found: list[Runner | None] = [None] * len(statements)
    refused = flyway_refusal(path, statements)
    if refused is not None:
        offending, runner = refused
        found[offending] = runner
        return found
    found_units = units(path, text, statements)
    for unit in found_units:
        if unit.mode == APART:
            continue  # as psql runs it
        members = [n for n, s in enumerate(statements) if unit.start <= s.offset < unit.stop]
        if unit.mode == TRANSACTION:
            runs = unit.runs or "in one transaction"
            control = [n for n in members if ends_or_opens(statements[n].node)]
            if control:
                # the file's own first BEGIN, COMMIT or ROLLBACK ends the tool's transaction
                # or opens a block the loader keeps as the file's (Nakama's `COMMIT;` then
                # `CREATE INDEX CONCURRENTLY` then `BEGIN;`): what comes before it is still
                # inside the tool's transaction
                members = [n for n in members if n < control[0]]
                runs += ", up to the file's own transaction control"
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
    if (changelog := liquibase.parse(text)) is not None:
        for cut in liquibase_cuts(text, changelog, statements):
            found[cut.statement] = liquibase_cut_runner(cut)
    elif any(unit.tool == "Drizzle" for unit in found_units):
        for cut in drizzle_cuts(text, statements):
            found[cut.statement] = drizzle_cut_runner(cut)
    elif (split := cuts.tool_split(text, statements)) is not None:
        for cut in split.cuts:
            found[cut.statement] = cut_runner(split.tool.tool, cut)
        if split.unterminated is not None:
            found[split.unterminated] = unterminated_runner(split.tool.tool)
    elif statements and cuts.unread_annotations(text):
        found[0] = unread_runner()
    return found


# the file's own statements that end a transaction or open one (savepoints do neither)
TRANSACTION_BOUNDARIES = frozenset({
    TransactionStmtKind.TRANS_STMT_BEGIN,
    TransactionStmtKind.TRANS_STMT_START,
    TransactionStmtKind.TRANS_STMT_COMMIT,
    TransactionStmtKind.TRANS_STMT_ROLLBACK,
    TransactionStmtKind.TRANS_STMT_PREPARE,
})  # fmt: skip


def ends_or_opens(node: object) -> bool:
    return isinstance(node, ast.TransactionStmt) and node.kind in TRANSACTION_BOUNDARIES


def cut_runner(tool: str, cut: cuts.Cut) -> Runner:
    """goose or sql-migrate cuts the statement at a line inside it that ends in `;`."""
    begin, end = (f"-- +{TOOL_PREFIX[tool]} Statement{edge}" for edge in ("Begin", "End"))
    runs = (
        f"statement by statement, ending each at a line that ends in `;` outside `{begin}`"
        f" ... `{end}`, and cuts this one at line {cut.line}, inside it"
    )
    fix = f"put the line `{begin}` before the statement and `{end}` after it: {tool} sends it whole"
    return Runner(tool, f"its `-- +{TOOL_PREFIX[tool]} Up` annotation", runs, fix, sends=cut.sends)


LIQUIBASE_RECOGNISED = "its `--liquibase formatted sql` header"
LIQUIBASE_SPLIT_FIX = (
    "add `splitStatements:false` to the changeset's `--changeset` line (Liquibase then sends"
    " its SQL whole, as one string), or give the statement a changeset of its own that has it"
)


def liquibase_units(
    text: str, changelog: liquibase.Changelog, statements: list[Statement]
) -> list[Unit]:
    """Each changeset that runs on PostgreSQL: in a transaction of its own, unless its line
    says `runInTransaction:false` (then its statements one by one, each piece Liquibase
    sends as one string still one implicit transaction where it holds several)."""
    found: list[Unit] = []
    for changeset in changelog.changesets:
        if not changeset.on_postgresql:
            continue
        recognised = f"{LIQUIBASE_RECOGNISED}, changeset {changeset.label}"
        if changeset.in_transaction:
            fix = (
                "add `runInTransaction:false` to the changeset's `--changeset` line (Liquibase"
                f" then runs its statements one by one without a transaction: {NOT_ATOMIC}), or"
                " move the statement to a changeset of its own that has it"
            )
            runs = "in one transaction per changeset"
            found.append(Unit(changeset.start, changeset.stop, TRANSACTION, "Liquibase",
                              recognised, fix, runs))  # fmt: skip
            continue
        recognised += ", and its `runInTransaction:false`"
        found.append(Unit(changeset.start, changeset.stop, APART, "Liquibase", recognised, ""))
        alone = (
            "give the statement a changeset of its own with `runInTransaction:false`"
            f" (Liquibase sends each of its statements as one string: {STILL_ONE})"
        )
        for piece in liquibase.pieces(text, changeset):
            found.append(Unit(piece.start, piece.stop, ONE_QUERY, "Liquibase", recognised, alone))
    return found


def liquibase_cuts(
    text: str, changelog: liquibase.Changelog, statements: list[Statement]
) -> list[cuts.Cut]:
    """The statements Liquibase's splitting cuts inside (a PL/pgSQL body's `;`), each
    changeset's statements against its own cuts."""
    by_changeset: dict[int, list[int]] = {}
    for number, statement in enumerate(statements):
        changeset = changelog.changeset_at(statement.offset)
        if changeset is not None and changeset.on_postgresql and changeset.split:
            by_changeset.setdefault(changeset.start, []).append(number)
    found = []
    for changeset in changelog.changesets:
        numbers = by_changeset.get(changeset.start, [])
        if not numbers:
            continue
        ends = [(p.stop, p.line) for p in liquibase.pieces(text, changeset)]
        for cut in cuts.cuts_of(text, [statements[n] for n in numbers], ends):
            found.append(dataclasses.replace(cut, statement=numbers[cut.statement]))
    return found


def liquibase_cut_runner(cut: cuts.Cut) -> Runner:
    runs = (
        "statement by statement, cutting the changeset's SQL at each `;` (it does not know"
        " dollar quotes) outside a BEGIN ... END, and cuts this statement at line"
        f" {cut.line}, inside it"
    )
    return Runner("Liquibase", LIQUIBASE_RECOGNISED, runs, LIQUIBASE_SPLIT_FIX, sends=cut.sends)


def drizzle_cuts(text: str, statements: list[Statement]) -> list[cuts.Cut]:
    """The statements a `--> statement-breakpoint` falls inside (a function body, a
    string): Drizzle cuts the file's text at every one and sends the pieces apart."""
    ends, start = [], text.find(DRIZZLE_BREAKPOINT)
    while start >= 0:
        ends.append((start, text.count("\n", 0, start) + 1))
        start = text.find(DRIZZLE_BREAKPOINT, start + len(DRIZZLE_BREAKPOINT))
    return cuts.cuts_of(text, statements, ends)


def drizzle_cut_runner(cut: cuts.Cut) -> Runner:
    runs = (
        f"in pieces cut at each `{DRIZZLE_BREAKPOINT}`, wherever it is, and cuts this"
        f" statement at line {cut.line}, inside it"
    )
    fix = f"move `{DRIZZLE_BREAKPOINT}` out of the statement, to the line after its end"
    return Runner("Drizzle", f"its folder's {files.DRIZZLE_JOURNAL}", runs, fix, sends=cut.sends)


def drizzle_missing_runner(folder: str, missing: str) -> Runner:
    """A file the folder's journal lists is not there: Drizzle reads every listed file
    before it runs any, and throws at the missing one (`folder` as shown)."""
    runs = f"only once it has read every file its folder's {files.DRIZZLE_JOURNAL} lists"
    fix = (
        f"add {missing} to the folder (a migration generated but never committed), or remove"
        f" its entry from {files.DRIZZLE_JOURNAL} (`drizzle-kit drop`): until then Drizzle"
        " runs no migration of the folder"
    )
    refusal = f"No file {folder}/{missing} found in {folder} folder"
    return Runner("Drizzle", f"its folder's {files.DRIZZLE_JOURNAL}", runs, fix, refusal=refusal)


def unread_runner() -> Runner:
    """sql-migrate's annotations spelled in another case (`-- +migrate up`): it reads
    none, and refuses the file before it runs any statement."""
    runs = "by its `-- +migrate Up` and `-- +migrate Down` annotations, spelled so exactly"
    fix = "spell them `-- +migrate Up`, `-- +migrate Down` (and `StatementBegin`, `StatementEnd`)"
    recognised = "its `-- +migrate ` annotation lines"
    return Runner("sql-migrate", recognised, runs, fix, refusal=cuts.NO_DIRECTION)


def unterminated_runner(tool: str) -> Runner:
    """The up section's last statement ends at no line that ends in `;`: the tool's own
    error, before it runs any statement of the file."""
    runs = "statement by statement, ending each at a line that ends in `;`"
    fix = "end the statement with `;` at the end of its line"
    recognised = f"its `-- +{TOOL_PREFIX[tool]} Up` annotation"
    return Runner(tool, recognised, runs, fix, refusal=UNTERMINATED[tool])


# What Django's `sqlmigrate` writes for an operation that is Python, not SQL (RunPython,
# a third-party operation): `--`, `-- <its description>`, `--`, then this line
# (django/django db/migrations/migration.py Migration.apply, collect_sql)
DJANGO_NOT_SQL = re.compile(
    r"^--[ \t]*\r?\n--[ \t]?(?P<what>[^\n]*?)\r?\n--[ \t]*\r?\n"
    r"--[ \t]*THIS OPERATION CANNOT BE WRITTEN AS SQL[ \t]*$",
    re.MULTILINE,
)


def django_python_operations(text: str, shown: str) -> list[Note]:
    """The operations of a Django migration that `sqlmigrate` could not write as SQL:
    what they do to the rows or the schema is in Python, which review does not run."""
    return [
        Note(
            shown,
            text.count("\n", 0, found.start()) + 1,
            f"Django operation not written as SQL ({found['what'].strip() or 'unnamed'}):"
            " its Python was not run, so what it does is not reviewed",
        )
        for found in DJANGO_NOT_SQL.finditer(text)
    ]


def one_by_one(text: str, found: list[Unit]) -> bool:
    """Does the file's tool (`found`: its units) run its statements one by one, each in a
    transaction of its own (goose's `NO TRANSACTION`, Atlas's `txmode none`, Flyway
    outside a transaction)? A lock one statement takes is then released before the next
    begins."""
    if liquibase.is_formatted(text):
        return False  # by changeset: see segments
    return any(unit.mode == APART for unit in found)


def tool_of(path: Path, found: list[Unit]) -> str | None:
    """The migration tool the report names for the file (`found`: its units); Prisma for
    any migration.sql of a Prisma folder, whether or not its version changes how the file
    runs (a unit only where it does)."""
    if prisma_migration(path):
        return "Prisma"
    return found[0].tool if found else None


def segments(text: str, statements: list[Statement]) -> list[str] | None:
    """Per statement, the transaction its tool runs it in within the file, where a file
    holds several (Liquibase: each changeset its own, each statement of one that says
    `runInTransaction:false` its own); None where the file is one."""
    changelog = liquibase.parse(text)
    if changelog is None:
        return None
    found = []
    for number, statement in enumerate(statements):
        changeset = changelog.changeset_at(statement.offset)
        if changeset is None:
            found.append(f"#{number}")
        elif changeset.in_transaction:
            found.append(changeset.label)
        else:
            found.append(f"{changeset.label}#{number}")
    return found


def units(path: Path, text: str, statements: list[Statement] | None = None) -> list[Unit]:
    """The parts of the file that its tool runs at once, and how; none where the tool
    is not recognised; one APART unit where it runs the statements one by one (with a
    ONE_QUERY unit for each block it still sends at once: goose's StatementBegin ... End).
    `statements`: the file's, where the tool's choice depends on them (Flyway). The one
    place a file's tool is recognised: the report's inventory (tool_of) and the files a
    tool runs in one transaction together (Unit.batch) are read off these units."""
    end = len(text)
    if (changelog := liquibase.parse(text)) is not None:
        return liquibase_units(text, changelog, statements or [])
    if path.suffix.lower() == ".sql" and (master := liquibase.included_whole(path)):
        fix = (
            "make the file a formatted SQL changelog (first line `--liquibase formatted sql`)"
            " and give the statement a changeset whose line says `runInTransaction:false`"
            " (Liquibase runs a plain SQL file it includes as one changeset, in a"
            " transaction, with no opt-out)"
        )
        recognised = f"a plain SQL file {master.path.name} includes"
        runs = "whole, as one string, in the transaction of the one changeset it makes of it"
        return [Unit(0, end, TRANSACTION, "Liquibase", recognised, fix, runs)]
    # goose and sql-migrate: their annotations as review/cuts.py reads them
    if (annotated := cuts.annotations_of(text)) is cuts.GOOSE:
        opted_out = ["no", "transaction"] in annotated.commands(text)
        how = "add the line `-- +goose NO TRANSACTION`"
        return by_lines_units("goose", text, opted_out, "`-- +goose NO TRANSACTION`", how)
    if annotated is cuts.SQL_MIGRATE:
        commands = annotated.commands(text)
        opted_out = any(words[0] == "up" and "notransaction" in words for words in commands)
        opt_out = "`-- +migrate Up notransaction`"
        how = f"add `notransaction` to the annotation ({opt_out})"
        return by_lines_units("sql-migrate", text, opted_out, opt_out, how)
    if blocks := list(DBMATE_UP.finditer(text)):
        stops = [block.start() for block in blocks[1:]] + [end]
        return [dbmate_unit(block, stop) for block, stop in zip(blocks, stops, strict=True)]
    name, folder = path.name, path.parent
    if name in (files.drizzle_journal(folder) or ()):
        recognised = f"listed in {files.DRIZZLE_JOURNAL} beside it"
        return [Unit(0, end, TRANSACTION, "Drizzle", recognised, DRIZZLE_FIX, DRIZZLE_RUNS,
                     f"Drizzle: {folder}")]  # fmt: skip
    if up_beside_down(AUTHELIA_UP, path):  # authelia/authelia, internal/storage/const.go
        recognised = "V<4 digits>.<Name>.up.sql beside its .down.sql"
        return [Unit(0, end, TRANSACTION, AUTHELIA, recognised, AUTHELIA_FIX, DRIZZLE_RUNS,
                     f"{AUTHELIA}: {folder}")]  # fmt: skip
    if name == "up.sql" and DIESEL_FOLDER.match(folder.name):
        metadata = folder / "metadata.toml"
        if metadata.is_file() or (folder / "down.sql").is_file():
            return [diesel_unit(folder, metadata, end)]
    if FLYWAY_VERSIONED.match(name) and (flyway := flyway_project(folder)) is not None:
        nodes = [statement.node for statement in statements or ()]
        if not in_transaction(path, flyway) or (
            not script_decides(path) and any(map(flyway_non_transactional, nodes))
        ):
            # outside a transaction (or refused: see flyway_refusal)
            return [Unit(0, end, APART, "Flyway", flyway.recognised_by, "")]
        fix = (
            "move the statement to a migration file of its own (Flyway does not know it"
            " cannot run in a transaction, so add `executeInTransaction=false` to a"
            f" `{name}.conf` beside it: {NOT_ATOMIC})"
        )
        recognised = f"V<version>__<name>.sql, and {flyway.recognised_by}"
        return [Unit(0, end, TRANSACTION, "Flyway", recognised, fix)]
    up = VERSIONED_UP.match(name)
    # golang-migrate's pair (Atlas writes these too, with atlas.sum, in golang-migrate's
    # format: openmeterio/openmeter's atlas.hcl; its own format has no down files)
    golang_pair = up_beside_down(VERSIONED_UP, path)
    if (folder / "atlas.sum").is_file() and not golang_pair:
        if atlas_txmode(text) == "none":
            return [Unit(0, end, APART, "Atlas", "`-- atlas:txmode none`", "")]
        fix = (
            "add `-- atlas:txmode none` to the file's header, followed by a blank line"
            f" (Atlas then runs its statements without a transaction: {NOT_ATOMIC}), or move"
            " the statement to a migration file of its own that has it"
        )
        return [Unit(0, end, TRANSACTION, "Atlas", "atlas.sum beside it", fix)]
    if (sections := list(TOGO_SECTION.finditer(text))) and togo_folder(folder):
        return togo_units(text, [section.start() for section in sections])
    if (pop := files.pop_migration(name)) is not None and files.pop_folder(folder):
        alone = (
            "put the statement alone in a migration of its own named"
            " `<version>_<name>.postgres.autocommit.up.sql` (popx then runs it without a"
            f" transaction, as one query string: {STILL_ONE})"
        )
        if pop.autocommit:
            recognised = f"its name's `.autocommit`, {POP_RECOGNISED}"
            return [Unit(0, end, ONE_QUERY, "pop", recognised, alone)]
        recognised = f"<version>_<name>[.postgres].up.sql {POP_RECOGNISED}"
        return [Unit(0, end, TRANSACTION, "pop", recognised, f"{alone}; {NOT_ATOMIC_ALONE}")]
    if VERSIONED.match(name) and not name.endswith(".down.sql") and uses_sqlx(folder.parent):
        recognised = "<version>_<name>.sql beside a Cargo.toml that uses sqlx"
        return [marked_unit(text, "sqlx", SQLX_NO_TRANSACTION, recognised)]
    if up and marker_in_folder(folder, MORPH_NON_TRANSACTIONAL, first_line=True):
        recognised = f"<version>_<name>.up.sql beside files marked `{MORPH_NON_TRANSACTIONAL}`"
        return [marked_unit(text, "morph", MORPH_NON_TRANSACTIONAL, recognised)]
    if PG_MIGRATIONS_FILE.match(name) and marker_in_folder(folder, PG_MIGRATIONS_NO_TRANSACTION):
        return [postgres_migrations_unit(text)]
    if (prisma := prisma_unit(path, end)) is not None:
        return [prisma]
    if up and files.concourse_folder(folder):
        fix = (
            "Concourse runs every migration in a transaction and has no opt-out: write the"
            " statement in a form that runs in one (CREATE INDEX without CONCURRENTLY, which"
            " blocks writes to the table while it builds), or run it outside the migrations"
        )
        recognised = "<version>_<name>.up.sql beside Concourse's Go migrations (.up.go)"
        return [Unit(0, end, TRANSACTION, "Concourse", recognised, fix)]
    if up and marker_in_folder(folder, placeholders.RIVER_TEMPLATE):
        template = placeholders.RIVER_TEMPLATE
        recognised = f"<version>_<name>.up.sql beside files with River's {template}"
        return [Unit(0, end, TRANSACTION, RIVER, recognised, RIVER_FIX)]
    if golang_pair:
        fix = (
            "move the statement to a migration file of its own (one statement alone is in no"
            " transaction block), or run golang-migrate with x-multi-statement=true, which"
            f" sends the statements one by one: {NOT_ATOMIC}"
        )
        recognised = "<version>_<name>.up.sql beside its .down.sql"
        return [Unit(0, end, ONE_QUERY, "golang-migrate", recognised, fix)]
    if marker_in_folder(folder, ICINGADB_VERSION_RECORD) or marker_in_folder(
        folder.parent, ICINGADB_VERSION_TABLE
    ):
        recognised = "its folder's files recording their version in icingadb_schema"
        return [Unit(0, end, APART, "Icinga DB's upgrades (psql < file)", recognised, "")]
    return []


def up_beside_down(shape: re.Pattern[str], path: Path) -> bool:
    """Is the file an up migration of that shape (its first group the name without
    `.up.sql`) with its `.down.sql` beside it?"""
    up = shape.match(path.name)
    return up is not None and (path.parent / f"{up.group(1)}.down.sql").is_file()


def prisma_migration(path: Path) -> bool:
    """`<migrations>/<name>/migration.sql` beside the folder's migration_lock.toml."""
    return path.name == "migration.sql" and (path.parent.parent / "migration_lock.toml").is_file()


def prisma_unit(path: Path, end: int) -> Unit | None:
    """`<migrations>/<name>/migration.sql` of a Prisma project whose package.json pins a
    version that sends the file as one query string (see the module's docstring)."""
    migrations = path.parent.parent
    if not prisma_migration(path):
        return None
    pinned = prisma_version(migrations)
    if pinned is None:
        return None
    package, spec = pinned
    fix = (
        "move the statement to a migration of its own (`prisma migrate dev --create-only`,"
        " then edit it): Prisma sends migration.sql as one query string, where one statement"
        " alone is in no transaction block"
    )
    recognised = f"migration.sql beside migration_lock.toml, and {package}'s prisma {spec}"
    return Unit(0, end, ONE_QUERY, "Prisma Migrate", recognised, fix)


PACKAGE_LEVELS = 6  # apps/web/prisma/migrations is 3 below the monorepo's package.json
# a pin whose versions all have this major: `6.14.0`, `^6.14.0`, `~5.22`, `6.x`, `=6.1.0`
BOUNDED_MAJOR = re.compile(r"^(?:[\^~=v]|==)?\s*(\d+)(?:\.(?:\d+|x|\*)){0,2}$")
LAST_ONE_QUERY_MAJOR = 6  # prisma-engines#5767 splits the script from a 7.x release on


@functools.cache
def prisma_version(migrations: Path) -> tuple[str, str] | None:
    """The package.json nearest above a Prisma migrations folder that names `prisma` or
    `@prisma/client`, and its version spec, where every version it allows sends a
    migration as one query string; None otherwise."""
    folder = migrations
    for _ in range(PACKAGE_LEVELS):
        folder = folder.parent
        spec = prisma_dependency(folder / "package.json")
        if spec is not None:
            bounded = BOUNDED_MAJOR.match(spec)
            if bounded is None or int(bounded.group(1)) > LAST_ONE_QUERY_MAJOR:
                return None  # a later Prisma, a range or a workspace alias: not bounded
            return f"{folder.name or folder}/package.json", spec
        if folder.joinpath(".git").exists():
            break  # the repository's root: nothing above it is the project's
    return None


def prisma_dependency(manifest_path: Path) -> str | None:
    """The version spec of `prisma` (or `@prisma/client`) in a package.json, if any."""
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(manifest, dict):
        return None
    for section in ("devDependencies", "dependencies"):
        dependencies = manifest.get(section)
        if not isinstance(dependencies, dict):
            continue
        spec = dependencies.get("prisma") or dependencies.get("@prisma/client")
        if isinstance(spec, str):
            return spec.strip()
    return None


def by_lines_units(tool: str, text: str, opted_out: bool, opt_out: str, how: str) -> list[Unit]:
    """goose and sql-migrate: the up section's statements one by one, in one transaction
    unless the file opts out; without one, each StatementBegin ... StatementEnd block is
    still sent as one query string (one implicit transaction where it holds several)."""
    end = len(text)
    if opted_out:
        begin, block_end = (
            f"`-- +{TOOL_PREFIX[tool]} Statement{edge}`" for edge in ("Begin", "End")
        )
        alone = (
            f"give the statement a {begin} ... {block_end} block of its own, or none ({tool}"
            f" sends a block as one query string: {STILL_ONE})"
        )
        recognised = f"its {opt_out} and a {begin} ... {block_end} block"
        blocks = [Unit(start, stop, ONE_QUERY, tool, recognised, alone)
                  for start, stop in cuts.statement_blocks(text)]  # fmt: skip
        return [Unit(0, end, APART, tool, opt_out, ""), *blocks]
    fix = (
        f"{how} ({tool} then runs each statement on its own, outside a transaction:"
        f" {NOT_ATOMIC}), or move the statement to a migration of its own that has it"
    )
    return [Unit(0, end, TRANSACTION, tool, f"its `-- +{TOOL_PREFIX[tool]} Up` annotation", fix)]


def marked_unit(text: str, tool: str, marker: str, recognised: str) -> Unit:
    """sqlx and morph: the whole file as one query string, in a transaction unless the
    file starts with the tool's marker."""
    alone = (
        f"make `{marker}` the first line of a migration file that holds the statement alone"
        f" ({tool} sends a file as one query string: {STILL_ONE})"
    )
    if text.startswith(marker):
        return Unit(0, len(text), ONE_QUERY, tool, f"{recognised}, and its `{marker}`", alone)
    fix = f"{alone}; {NOT_ATOMIC_ALONE}"
    return Unit(0, len(text), TRANSACTION, tool, recognised, fix)


def postgres_migrations_unit(text: str) -> Unit:
    """The whole file as one query string, in a transaction unless it holds the marker
    anywhere."""
    marker = PG_MIGRATIONS_NO_TRANSACTION
    alone = (
        f"put the statement alone in a migration file that holds the line `{marker}`"
        f" (postgres-migrations sends a file as one query string: {STILL_ONE})"
    )
    recognised = f"<id>-<name>.sql beside files marked `{marker}`"
    if marker in text:
        return Unit(0, len(text), ONE_QUERY, "postgres-migrations", f"its `{marker}`", alone)
    return Unit(
        0, len(text), TRANSACTION, "postgres-migrations", recognised, f"{alone}; {NOT_ATOMIC_ALONE}"
    )


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
    fix = f"{alone}; {NOT_ATOMIC_ALONE}"
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
    fix = f"{alone}; {NOT_ATOMIC_ALONE}"
    return Unit(0, end, TRANSACTION, "Diesel", recognised, fix)


def togo_units(text: str, starts: list[int]) -> list[Unit]:
    """togo ddl: the statements one by one, each `-- name:` section (from its line to
    the next) sent as one query string, in no transaction."""
    recognised = "its `-- name:` sections, beside a Go file's `//go:generate togo ddl`"
    alone = (
        "give the statement a `-- name:` section of its own (Drone's Migrate sends a"
        f" section as one query string: {STILL_ONE})"
    )
    stops = [*starts[1:], len(text)]
    sections = [Unit(start, stop, ONE_QUERY, "togo ddl", recognised, alone)
                for start, stop in zip(starts, stops, strict=True)]  # fmt: skip
    return [Unit(0, len(text), APART, "togo ddl", recognised, ""), *sections]


@functools.cache  # asked for each file of the folder that has `-- name:` sections
def togo_folder(folder: Path) -> bool:
    """Does a Go file in `folder`, or the one above it (Drone keeps `files/` beside its
    ddl.go), generate migrations from it with `//go:generate togo ddl`?"""
    for place in (folder, folder.parent):
        for item in place.glob("*.go"):
            try:
                text = item.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if TOGO_GENERATE.search(text):
                return True
    return False


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
def marker_in_folder(folder: Path, marker: str, first_line: bool = False) -> bool:
    """Does a SQL file in `folder` hold the tool's marker: where the tool reads it, as
    the file's start (morph) or anywhere (postgres-migrations)?"""
    for item in folder.glob("*.sql"):
        try:
            with item.open(encoding="utf-8", errors="replace") as handle:
                text = handle.read(len(marker) if first_line else -1)
        except OSError:
            continue
        if text == marker if first_line else marker in text:
            return True
    return False


@dataclass(frozen=True)
class FlywayProject:
    recognised_by: str
    root: Path  # the project: the repository's root, or the highest folder naming Flyway
    configured: str  # the text of its configuration files found above the migrations


def flyway_refusal(path: Path, statements: list[Statement]) -> tuple[int, Runner] | None:
    """Flyway refuses a file that holds statements of both kinds (by its own detection)
    unless `mixed` is set: the statement it names (the first of the second kind), and
    the runner that says so; None where it does not."""
    if not FLYWAY_VERSIONED.match(path.name):
        return None
    project = flyway_project(path.parent)
    if project is None or not in_transaction(path, project) or script_decides(path):
        return None
    kinds: set[bool] = set()
    for index, statement in enumerate(statements):
        if isinstance(statement.node, ast.TransactionStmt):
            continue  # its own BEGIN/COMMIT: not modelled for Flyway
        kinds.add(flyway_non_transactional(statement.node))
        if len(kinds) < 2:
            continue
        if MIXED_TRUE.search(project.configured) or mixed_set_in(project.root):
            return None  # the whole file then runs without a transaction
        fix = (
            "split the file: the non-transactional statements (CREATE INDEX CONCURRENTLY,"
            " ...) in a migration of their own, which Flyway runs without a transaction; or"
            " set `mixed = true`, or `executeInTransaction=false` in a"
            f" `{path.name}.conf` beside it (Flyway then runs the whole file without a"
            f" transaction: {NOT_ATOMIC})"
        )
        runs = (
            "in one transaction, unless every statement is one it runs without, and refuses"
            " a file that holds both before running any of it"
        )
        recognised = f"V<version>__<name>.sql, and {project.recognised_by}"
        return index, Runner("Flyway", recognised, runs, fix, FLYWAY_REFUSAL)
    return None


def flyway_non_transactional(node: object) -> bool:
    """A statement Flyway's PostgreSQL parser runs outside a transaction (its list, by
    the words a statement begins with: see the module's docstring). A statement the
    parser here rejects is counted transactional, Flyway's default."""
    if isinstance(node, FLYWAY_SERVER_WIDE):
        return True
    if isinstance(node, ast.IndexStmt):
        return bool(node.concurrent)
    if isinstance(node, ast.DropStmt):
        return node.removeType == ObjectType.OBJECT_INDEX and bool(node.concurrent)
    if isinstance(node, ast.ReindexStmt):
        return node.kind in FLYWAY_REINDEX
    if isinstance(node, ast.VacuumStmt):
        return bool(node.is_vacuumcmd)
    if isinstance(node, ast.DiscardStmt):
        return node.target == DiscardMode.DISCARD_ALL
    return False


def in_transaction(path: Path, project: FlywayProject) -> bool:
    """executeInTransaction for the file: its own `<file>.conf`'s, else the project's."""
    setting = EXECUTE_IN_TRANSACTION.search(script_conf(path) or project.configured)
    return setting is None or setting.group(1).lower() == "true"


def script_decides(path: Path) -> bool:
    """Does the file's own `<file>.conf` set executeInTransaction? Flyway then runs it as
    told and does not look for a mix."""
    return EXECUTE_IN_TRANSACTION.search(script_conf(path)) is not None


def script_conf(path: Path) -> str:
    conf = path.with_name(f"{path.name}.conf")
    try:
        return conf.read_text(encoding="utf-8", errors="replace") if conf.is_file() else ""
    except OSError:
        return ""


@functools.cache
def flyway_project(folder: Path) -> FlywayProject | None:
    """The Flyway project a migrations folder belongs to, from the folders above it (up
    to the repository's root, a folder with .git, or FLYWAY_LEVELS up): an entry named
    flyway* (its config file, a folder of its setup), or a build file or Spring
    configuration that names it; None where nothing does."""
    recognised: list[str] = []
    texts: list[str] = []
    current = folder.resolve()
    top = None
    for _ in range(FLYWAY_LEVELS):
        try:
            entries = sorted(current.iterdir())
        except OSError:
            entries = []
        for item in entries:
            own = item.name.lower().startswith("flyway")
            if not own and not any(fnmatch.fnmatch(item.name, p) for p in FLYWAY_FILES):
                continue
            text = ""
            if item.is_file():
                try:
                    text = item.read_text(encoding="utf-8", errors="replace")
                except OSError:
                    continue
            if own or "flyway" in text.lower():
                recognised.append(item.name if own else f"{item.name} naming Flyway")
                texts.append(text)
                top = current
        if (current / ".git").exists():
            top = current
            break
        if current.parent == current:
            break
        current = current.parent
    if not recognised or top is None:
        return None
    recognised_by = f"{recognised[0]} in or above its folder"
    return FlywayProject(recognised_by, top, "\n".join(texts))


@functools.cache
def mixed_set_in(root: Path) -> Path | None:
    """A file of the project that sets Flyway's `mixed` (in code, `.mixed(true)`; in a
    build script, an environment or a CI file): the first found, or None. Looked for only
    where a mixed file would otherwise be reported, and in text files only."""
    for folder, folders, names in os.walk(root):
        folders[:] = sorted(f for f in folders if f not in SKIPPED and f != ".git")
        for name in sorted(names):
            path = Path(folder, name)
            if path.suffix.lower() not in MIXED_SUFFIXES and name not in MIXED_NAMES:
                continue
            try:
                if path.stat().st_size > 1_000_000:
                    continue
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if MIXED_SET.search(text):
                return path
    return None
