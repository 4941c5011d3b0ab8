"""Load statements into a scratch database one at a time, each in its own savepoint,
and record what each did or why it failed.

A failure rolls back to the statement's savepoint, so the statements after it still
run; the transaction is committed at the end of each file (as migration tools run a
file) and every `COMMIT_EVERY` statements, so a long file does not hold a lock per
object it created until the end. A failure is then sorted out:

- the statement needs an extension the server lacks, or something such a statement
  would have made: not checked (not the file's fault);
- it failed only because an earlier failed statement did not create what it names
  (`relation "orders" does not exist` after `CREATE TABLE orders` failed), or a
  constraint met rows that an earlier failed INSERT, UPDATE or DELETE would have
  changed (`SET NOT NULL` after the UPDATE that fills the column): lost, listed under
  that statement (not checked, where that statement was not);
- it misses an index or a sequence named after a table whose statement failed
  (`<table>_pkey`), or anything after a failed DO block that builds DDL and EXECUTEs it
  (Boundary's `<t>_delete_time_idx` for each `*_deleted` table): lost or not checked
  with that statement, as above;
- a migration written in code came earlier (goose's Go migrations between the SQL ones:
  review does not run them), and the object the statement misses is one that no SQL
  statement created and that the code names: not checked, as it may rely on what the
  code does (and so are the failures that follow from it, as above);
- the table it misses is a migration tool's history table (golang-migrate's
  `schema_migrations`), which the tool makes before the first migration and no file
  created: not run (review runs no tool);
- the schema it misses, or the one its missing object is in, is one a managed platform
  makes and no file created (Supabase's `auth.users`, `auth.uid()`, `storage.buckets`):
  not checked, as the files were written for a database the platform set up (the first
  such failure; later ones, and what follows from them, are listed under it);
- the table it names without a schema is one the files made in a schema off the
  session's search_path (Supabase Storage's `iceberg_namespaces`, made as
  `storage.iceberg_namespaces`): not checked, as the files rely on a search_path their
  migration tool sets (the first such failure per schema; later ones are listed under it);
- otherwise PostgreSQL rejects it: an `invalid-ddl` finding.

A statement that cannot run in a transaction block, or that uses an enum value added
earlier in the file, is run again after a commit, as psql would run it, unless the
file's own BEGIN is open. Where a migration tool runs the file in a transaction of its
own (review/runners.py), it loads all the same, so that the rules see the schema the
file means, but PostgreSQL's error is kept: it is what the deploy meets.

Where the session may create event triggers (a superuser: always on the throwaway
server), one records, for every DDL command, which objects it created or altered, so
that a finding can point at the file and line where its object was defined.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import psycopg
from pglast import ast, parser, visitors
from pglast.enums import AlterTableType, ObjectType, TransactionStmtKind
from psycopg import sql

from pgvitals.embedded import EmbeddedError, pgserver_bin_dir
from pgvitals.fmt import plural
from pgvitals.review import liquibase
from pgvitals.review.runners import Runner
from pgvitals.review.split import Statement
from pgvitals.snapshot.facts import MANAGED_PLATFORMS, MIGRATION_TABLES, Platform

LOG_SCHEMA = "pgvitals_review_log"
COMMIT_EVERY = 100
STATEMENT_TIMEOUT = "120s"
SAVEPOINT = sql.Identifier("pgvitals_statement")

# Records, per DDL command, the object and (for a relation) its constraints, indexes
# and columns at that moment: the first command an object appears in defined it.
# SECURITY DEFINER: a file that switches to a plain role (SET ROLE) is still logged;
# a failure to log never fails the user's statement.
EVENT_LOG = f"""
CREATE SCHEMA {LOG_SCHEMA};
CREATE TABLE {LOG_SCHEMA}.ddl (statement int, objid oid, related oid[], attnums int2[]);
CREATE FUNCTION {LOG_SCHEMA}.record() RETURNS event_trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
  INSERT INTO {LOG_SCHEMA}.ddl
  SELECT coalesce(nullif(current_setting('pgvitals.statement', true), ''), '-1')::int,
         c.objid,
         CASE WHEN c.classid = 'pg_catalog.pg_class'::regclass THEN ARRAY(
           SELECT oid FROM pg_catalog.pg_constraint WHERE conrelid = c.objid
           UNION ALL
           SELECT indexrelid FROM pg_catalog.pg_index WHERE indrelid = c.objid) END,
         CASE WHEN c.classid = 'pg_catalog.pg_class'::regclass THEN ARRAY(
           SELECT attnum FROM pg_catalog.pg_attribute
            WHERE attrelid = c.objid AND attnum > 0 AND NOT attisdropped) END
    FROM pg_catalog.pg_event_trigger_ddl_commands() c;
EXCEPTION WHEN OTHERS THEN
  NULL;
END $$;
CREATE EVENT TRIGGER {LOG_SCHEMA} ON ddl_command_end EXECUTE PROCEDURE {LOG_SCHEMA}.record();
"""

# Every object already in the database (a base that psql loaded whole), logged as made by
# one statement: the catalogs of the objects a snapshot locates; oids from 16384 on are
# made by the database's users, not by initdb.
LOG_EXISTING = f"""
INSERT INTO {LOG_SCHEMA}.ddl
SELECT %(statement)s, c.oid,
       ARRAY(SELECT oid FROM pg_catalog.pg_constraint WHERE conrelid = c.oid
             UNION ALL
             SELECT indexrelid FROM pg_catalog.pg_index WHERE indrelid = c.oid),
       ARRAY(SELECT attnum FROM pg_catalog.pg_attribute
              WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped)
  FROM pg_catalog.pg_class c
 WHERE c.oid >= 16384
UNION ALL
SELECT %(statement)s, o.oid, NULL, NULL
  FROM (SELECT oid FROM pg_catalog.pg_namespace
        UNION ALL SELECT oid FROM pg_catalog.pg_constraint
        UNION ALL SELECT oid FROM pg_catalog.pg_policy
        UNION ALL SELECT oid FROM pg_catalog.pg_proc
        UNION ALL SELECT oid FROM pg_catalog.pg_extension) o
 WHERE o.oid >= 16384
"""

# A DO block that builds DDL and runs it: `EXECUTE format('create index %I ...', ...)`.
DYNAMIC_DDL = re.compile(r"\bexecute\b[^;]*\b(create|alter)\b", re.IGNORECASE)
# Errors that say an object a statement names does not exist.
UNDEFINED_TABLE = "42P01"
UNDEFINED = frozenset({UNDEFINED_TABLE, "42703", "42704", "42883", "3F000"})
# The history tables migration tools make for themselves, by unqualified name (a tool that
# keeps its own schema, Supabase's or Sqitch's, is not reached by an unqualified name);
# not the plain `migrations`, as likely the files' own
HISTORY_TABLES = {
    name: tool
    for name, tool in MIGRATION_TABLES.items()
    if "." not in name and name != "migrations"
}
# Class 23, integrity constraint violation: NOT NULL, CHECK, UNIQUE, FOREIGN KEY, ...
INTEGRITY_VIOLATION = "23"
# Violations the new row's own values decide (INSERT ... VALUES): no other row matters.
ROW_OWN_VIOLATIONS = frozenset({"23502", "23514"})
# A foreign key violation's detail names the table the key is missing from.
MISSING_FROM_TABLE = re.compile(r'is not present in table "((?:[^"]|"")+)"')
# Statements that change rows: when one fails, its table keeps rows it would have changed.
DATA_CHANGES = (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt)
# What an unavailable extension would have provided: functions, types, operator classes.
EXTENSION_PROVIDED = frozenset({"42883", "42704"})
# CREATE INDEX CONCURRENTLY, VACUUM, ...; and a COMMIT inside a DO block or procedure
# (a batched backfill), "invalid transaction termination" inside a transaction block
OUTSIDE_TRANSACTION_ONLY = frozenset({"25001", "2D000"})
UNSAFE_NEW_ENUM_VALUE = "55P04"  # an enum value used in the transaction that added it
# what fails at deploy where the migration tool wraps the file in a transaction
AT_DEPLOY_IN_TRANSACTION = OUTSIDE_TRANSACTION_ONLY | {UNSAFE_NEW_ENUM_VALUE}
# The schemas off the search_path that hold a relation of this name (not the system's).
OFF_SEARCH_PATH = """
SELECT DISTINCT n.nspname
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relname = %(name)s
   AND n.nspname <> ALL (pg_catalog.current_schemas(true))
   AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
   AND n.nspname <> %(log)s
"""
MISSING_RELATION = re.compile(r'^relation "((?:[^"]|"")+)" does not exist$')
QUOTED = re.compile(r'"((?:[^"]|"")+)"')
FUNCTION = re.compile(r"^function ([^\s(]+)\(")
ARRAY_BRACKETS = re.compile(r"(\[\d*\])+$")
MISSING_SCHEMA = re.compile(r'^schema "((?:[^"]|"")+)" does not exist$')
MISSING_ROLE = re.compile(r'^role "((?:[^"]|"")+)" does not exist$')
UNAVAILABLE_EXTENSION = re.compile(
    r'^extension "(?P<name>[^"]+)" is not available$'
    r'|^could not open extension control file "(?:[^"]*/)?(?P<file>[^"/]+)\.control"'
)
# The shared library of a C function (`AS '$libdir/unaccent', 'unaccent_dict'`): one of
# an extension this server lacks, where its name begins with the extension's.
MISSING_LIBRARY = re.compile(r'^could not access file "\$libdir/([^"]+)"')
UNDEFINED_FILE = "58P01"
# A CREATE inside a DO block's body: what the block would have made.
CREATE_IN_BODY = re.compile(r"\bCREATE\b", re.IGNORECASE)
# A feature the server was built without: "ICU is not supported in this build" (an ICU
# collation on pgserver's build), or lz4 and libxml's "... requires the server to be
# built with lz4 support" in the detail. The statement is valid elsewhere.
NOT_IN_BUILD = "0A000"
BUILT_WITHOUT = re.compile(
    r"^(\S+) is not supported in this build$|requires the server to be built with (\S+) support"
)

# Statements that act on the whole server, not on the scratch database: never run.
SERVER_WIDE = (
    ast.CreatedbStmt,
    ast.DropdbStmt,
    ast.AlterDatabaseStmt,
    ast.AlterDatabaseSetStmt,
    ast.CreateTableSpaceStmt,
    ast.DropTableSpaceStmt,
    ast.AlterSystemStmt,
    ast.CreateSubscriptionStmt,
    ast.AlterSubscriptionStmt,
    ast.DropSubscriptionStmt,
    ast.LoadStmt,
)
# Roles are shared by every database of a server: run only on the throwaway one.
ROLE_STATEMENTS = (
    ast.CreateRoleStmt,
    ast.AlterRoleStmt,
    ast.AlterRoleSetStmt,
    ast.DropRoleStmt,
    ast.GrantRoleStmt,
)
# Objects of the server that the statements above make: renaming one, giving it an
# owner or a comment is server-wide too (`ALTER SUBSCRIPTION s RENAME TO t` would
# otherwise run, and fail, against a subscription that was never made).
SERVER_OBJECTS = frozenset(
    {ObjectType.OBJECT_DATABASE, ObjectType.OBJECT_TABLESPACE, ObjectType.OBJECT_SUBSCRIPTION}
)


def object_type(node: Any) -> ObjectType | None:
    """The kind of object a RENAME, OWNER TO or COMMENT ON statement is about."""
    if isinstance(node, ast.RenameStmt):
        return node.renameType
    if isinstance(node, ast.AlterOwnerStmt):
        return node.objectType
    if isinstance(node, ast.CommentStmt):
        return node.objtype
    return None


def acts_on_server(node: Any) -> bool:
    return isinstance(node, SERVER_WIDE) or object_type(node) in SERVER_OBJECTS


def acts_on_roles(node: Any) -> bool:
    return isinstance(node, ROLE_STATEMENTS) or object_type(node) == ObjectType.OBJECT_ROLE


LOADED, REJECTED, LOST, UNCHECKED, SKIPPED = "loaded", "rejected", "lost", "unchecked", "skipped"
CODE = "code"  # a migration written in code, between the files: not run


@dataclass(frozen=True)
class ServerError:
    sqlstate: str
    message: str
    detail: str | None
    hint: str | None
    position: int | None  # 1-based character position in the statement

    @classmethod
    def of(cls, error: psycopg.Error) -> ServerError:
        diag = error.diag
        position = int(diag.statement_position or 0)
        return cls(
            sqlstate=error.sqlstate or "",
            message=diag.message_primary or str(error).strip(),
            detail=diag.message_detail,
            hint=diag.message_hint,
            position=position if position > 0 else None,
        )


@dataclass(frozen=True)
class AtDeploy:
    """Why a statement that loaded here fails where its migration tool runs it."""

    error: ServerError  # what PostgreSQL said inside the transaction (or the tool, no sqlstate)
    runner: Runner


@dataclass(frozen=True)
class Outcome:
    status: str  # loaded, rejected, lost, unchecked, skipped, code
    error: ServerError | None = None
    cause: int | None = None  # lost/unchecked: the statement it failed because of
    reason: str | None = None  # unchecked/skipped: why, in a few words
    at_deploy: AtDeploy | None = None  # loaded: but its tool's transaction rejects it
    check_instead: str | None = None  # unchecked: how to check it, where another server won't


@dataclass
class Load:
    """What loading did, statement by statement (indexes into `statements`)."""

    statements: list[Statement] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    first_in: dict[int, int] = field(default_factory=dict)  # oid -> statement defining it
    last_in: dict[int, int] = field(default_factory=dict)  # oid -> last statement altering it
    column_in: dict[tuple[int, int], int] = field(default_factory=dict)  # (table, attnum)
    roles_created: list[str] = field(default_factory=list)
    tracked: bool = False  # the event log ran: objects have file:line locations
    virtual_files: set[str] = field(default_factory=set)  # no file to point at (a dump)
    # the migration tool that runs a statement inside a transaction block of its own
    wrapped_by: dict[int, Runner] = field(default_factory=dict)
    # files whose migration tool runs each statement in a transaction of its own
    one_by_one: set[str] = field(default_factory=set)
    # files whose tool runs them in one transaction with others (file -> that transaction)
    batches: dict[str, str] = field(default_factory=dict)
    # the migration tool that runs each file, where one is recognised (file -> its name)
    tools: dict[str, str] = field(default_factory=dict)
    # statements whose tool runs them in one of several transactions of their file
    # (Liquibase's changesets): load index -> that transaction within the file
    segments: dict[int, str] = field(default_factory=dict)
    # the files start from a schema they do not hold (Loader.starting_schema)
    starts_elsewhere: bool = False

    def lost_to(self, index: int) -> list[int]:
        return [n for n, o in enumerate(self.outcomes) if o.cause == index and o.status == LOST]


class Observer(Protocol):
    """Looks at the database around each statement (migration safety: safety.Watch)."""

    def before(self, connection: psycopg.Connection, index: int, statement: Statement) -> None:
        """Before the statement runs."""

    def after(self, connection: psycopg.Connection, index: int, statement: Statement) -> None:
        """After it loaded (not called when it failed or was not run)."""


class Loader:
    """Runs statements on an open autocommit session to a scratch database."""

    def __init__(self, connection: psycopg.Connection, create_roles: bool) -> None:
        self.connection = connection
        self.create_roles = create_roles
        self.observer: Observer | None = None
        self.load = Load()
        self.pending = 0  # statements since the last commit
        self.held = False  # the last statement's savepoint is still to be released
        self.in_user_block = False  # inside the file's own BEGIN ... COMMIT
        # names a failed statement would have created -> the failure that explains them
        self.missing: dict[str, int] = {}
        self.extensions: dict[str, int] = {}  # unavailable extension -> its statement
        # platform whose own schemas the files use -> the first statement that missed one
        self.platforms: dict[str, int] = {}
        # tables whose rows a failed INSERT, UPDATE or DELETE would have changed -> the
        # failure that explains a constraint later met there
        self.unchanged: dict[str, int] = {}
        self.created: set[str] = set()  # names of what the loaded statements created
        self.code: dict[int, str] = {}  # code migrations (their index) -> their text
        # the last failed DO block that runs DDL it builds (EXECUTE format(...)): what it
        # would have created has no name until it runs
        self.dynamic_ddl: int | None = None
        # file -> the Liquibase `${name}` properties in it that no value was found for
        self.unresolved: dict[str, list[str]] = {}

    # --- the session ---------------------------------------------------------------

    def setup(self) -> None:
        self.reset_session()
        superuser = self.connection.execute("SELECT usesuper FROM pg_catalog.pg_user"
                                            " WHERE usename = current_user").fetchone()  # fmt: skip
        if superuser and superuser[0]:
            self.connection.execute(EVENT_LOG)
            self.load.tracked = True

    def reset_session(self) -> None:
        """Each file starts from a fresh session's settings, as psql -f would give it."""
        self.commit()
        self.connection.execute("RESET SESSION AUTHORIZATION")
        self.connection.execute("RESET ALL")
        self.connection.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
        # messages in English: the loader reads names out of them (superuser only)
        if self.connection.execute("SELECT pg_catalog.current_setting('lc_messages')"
                                   " NOT IN ('C', 'POSIX')").fetchone()[0]:  # fmt: skip
            with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
                self.connection.execute("SET lc_messages = 'C'")

    def commit(self) -> None:
        if self.connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            self.connection.execute("COMMIT")
        self.pending = 0
        self.held = False

    def finish(self) -> Load:
        """Commit, read the event log and remove it (it must not be reviewed)."""
        self.commit()
        self.starting_schema()
        if self.load.tracked:
            self.connection.execute("RESET SESSION AUTHORIZATION")
            rows = self.connection.execute(
                f"SELECT statement, objid, related, attnums FROM {LOG_SCHEMA}.ddl"
                " WHERE statement >= 0 ORDER BY statement"
            ).fetchall()
            for statement, objid, related, attnums in rows:
                self.load.first_in.setdefault(objid, statement)
                self.load.last_in[objid] = statement
                for oid in related or ():
                    self.load.first_in.setdefault(oid, statement)
                for attnum in attnums or ():
                    self.load.column_in.setdefault((objid, attnum), statement)
            self.connection.execute(f"DROP EVENT TRIGGER IF EXISTS {LOG_SCHEMA}")
            self.connection.execute(f"DROP SCHEMA IF EXISTS {LOG_SCHEMA} CASCADE")
        return self.load

    def record_existing(self, file: str) -> None:
        """What the database holds already (a base that psql loaded whole), as made by
        one statement of `file` standing for all of it: a reviewed statement that alters
        those objects is then told from one that creates them, as when the base is
        loaded statement by statement."""
        index = len(self.load.statements)
        self.load.statements.append(Statement(file, 1, 1, "(loaded whole by psql)", None, 0))
        self.load.outcomes.append(Outcome(LOADED))
        if self.load.tracked:
            self.connection.execute(LOG_EXISTING, {"statement": index})

    def code_migration(self, file: str, language: str, text: str) -> None:
        """A migration written in code that its tool runs here, between the SQL files:
        not run, but a later failure on what it may have made is told by it."""
        index = len(self.load.statements)
        name = file.rsplit("/", 1)[-1]
        self.load.statements.append(Statement(file, 1, 1, f"{language} migration", None, 0))
        self.load.outcomes.append(Outcome(CODE, reason=f"may rely on what {name} does"))
        self.code[index] = text

    # --- statements ----------------------------------------------------------------

    def run_file(
        self, statements: Iterable[Statement], runners: Sequence[Runner | None] = ()
    ) -> None:
        """`runners`: per statement, the migration tool that runs it in a transaction
        block of its own (review/runners.py), or None: as psql runs it."""
        self.reset_session()
        self.in_user_block = False
        for number, statement in enumerate(statements):
            index = len(self.load.statements)
            self.load.statements.append(statement)
            if self.observer is not None:
                self.observer.before(self.connection, index, statement)
            runner = runners[number] if number < len(runners) else None
            if runner is not None and runner.refusal is None and runner.sends is None:
                self.load.wrapped_by[index] = runner
            outcome = self.run(index, statement, runner)
            self.load.outcomes.append(outcome)
            if self.observer is not None and outcome.status == LOADED:
                self.observer.after(self.connection, index, statement)
            # the loader's own commit comes after the observer has read the locks the
            # statement's transaction holds: it is no commit of the file's
            if self.pending >= COMMIT_EVERY and not self.in_user_block:
                self.commit()
        self.commit()

    def run(self, index: int, statement: Statement, runner: Runner | None = None) -> Outcome:
        node = statement.node
        if isinstance(node, ast.TransactionStmt):
            return self.transaction_control(node)
        if isinstance(node, ast.CopyStmt):  # data, not schema; and files or programs
            return Outcome(SKIPPED, reason="COPY: data is not loaded")
        if acts_on_server(node):
            return Outcome(SKIPPED, reason="acts on the whole server, not run")
        if acts_on_roles(node) and not self.create_roles:
            return Outcome(SKIPPED, reason="roles are server-wide: not run on --server")
        # a migration tool that cuts the statement sends its first piece alone: that fails
        piece_error = self.rejected_piece(index, runner.sends) if runner and runner.sends else None
        error = self.attempt(index, statement.text)
        at_deploy = None
        for _ in range(8):  # a GRANT may name several missing roles
            if error is None:
                break
            if (
                runner is not None
                and error.sqlstate in AT_DEPLOY_IN_TRANSACTION
                and not self.in_user_block
            ):
                at_deploy = AtDeploy(error, runner)  # then loaded as psql would run it
            if error.sqlstate in OUTSIDE_TRANSACTION_ONLY and not self.in_user_block:
                # the loader's own transaction is in the way; in the file's own
                # BEGIN ... COMMIT the statement fails on any server, as here
                self.commit()
                error = self.attempt(index, statement.text, in_transaction=False)
            elif error.sqlstate == UNSAFE_NEW_ENUM_VALUE and not self.in_user_block:
                # the value was added earlier in the loader's own transaction, not in one
                # the file asked for: as run by psql, it would have been committed
                self.commit()
                error = self.attempt(index, statement.text)
            elif self.create_roles and (role := MISSING_ROLE.match(error.message)):
                self.create_role(role.group(1).replace('""', '"'))
                error = self.attempt(index, statement.text)
            else:
                break
        if error is None:
            self.pending += 1
            self.created |= would_create(node)
            if piece_error is not None and runner is not None:
                at_deploy = AtDeploy(piece_error, runner)
            elif runner is not None and runner.refusal is not None:
                # the tool refuses the file before PostgreSQL sees it: no SQLSTATE
                at_deploy = AtDeploy(ServerError("", runner.refusal, None, None, None), runner)
            return Outcome(LOADED, at_deploy=at_deploy)
        return self.failed(index, statement, error)

    def transaction_control(self, node: ast.TransactionStmt) -> Outcome:
        """The file's own BEGIN/COMMIT/ROLLBACK: honoured as boundaries; savepoints of
        its own are not (each statement already has one)."""
        kind = node.kind
        if kind in (TransactionStmtKind.TRANS_STMT_BEGIN, TransactionStmtKind.TRANS_STMT_START):
            self.commit()
            self.in_user_block = True
        elif kind == TransactionStmtKind.TRANS_STMT_COMMIT:
            self.commit()
            self.in_user_block = False
        elif kind == TransactionStmtKind.TRANS_STMT_ROLLBACK:
            if self.connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                self.connection.execute("ROLLBACK")
            self.pending = 0
            self.held = False
            self.in_user_block = False
        else:
            return Outcome(SKIPPED, reason="savepoints and prepared transactions are not run")
        return Outcome(LOADED)

    def attempt(self, index: int, text: str, in_transaction: bool = True) -> ServerError | None:
        """Run one statement; in a transaction, inside its savepoint. The statement goes
        alone: the server parses a query whole, so a syntax error in it would also stop
        commands sent with it. The previous savepoint is released with the next one."""
        mark = sql.SQL("SELECT pg_catalog.set_config('pgvitals.statement', {}, false)")
        steps: list[sql.Composable] = [mark.format(sql.Literal(str(index)))]
        if in_transaction:
            if self.connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                steps.insert(0, sql.SQL("BEGIN; SAVEPOINT {}; ").format(SAVEPOINT))
            elif self.held:
                steps.insert(0, sql.SQL("RELEASE SAVEPOINT {0}; SAVEPOINT {0}; ").format(SAVEPOINT))
            else:
                steps.insert(0, sql.SQL("SAVEPOINT {}; ").format(SAVEPOINT))
        self.connection.execute(sql.Composed(steps))
        self.held = False
        try:
            self.connection.execute(text)  # type: ignore[arg-type]  (the file's own SQL)
        except psycopg.Error as error:
            if self.connection.broken or self.connection.closed:
                raise
            if in_transaction:
                self.connection.execute(sql.SQL("ROLLBACK TO SAVEPOINT {}").format(SAVEPOINT))
                self.held = True
            return ServerError.of(error)
        self.held = in_transaction
        return None

    def rejected_piece(self, index: int, piece: str) -> ServerError | None:
        """PostgreSQL's error for the piece of a statement that a migration tool sends
        alone. Nothing of it is kept: should it run, its savepoint is rolled back."""
        error = self.attempt(index, piece)
        if error is None:
            self.connection.execute(sql.SQL("ROLLBACK TO SAVEPOINT {}").format(SAVEPOINT))
        return error

    def create_role(self, name: str) -> None:
        """A role the files assume exists (an owner, a grantee): roles belong to the
        server, not to the schema, so the throwaway server gets it, without login."""
        self.connection.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(name)))
        self.load.roles_created.append(name)

    # --- failures ------------------------------------------------------------------

    def failed(self, index: int, statement: Statement, error: ServerError) -> Outcome:
        node = statement.node
        outcome = self.classify(statement, error)
        extension = unavailable_extension(node, error)
        if extension is not None and outcome.status == UNCHECKED:
            self.extensions.setdefault(extension, index)
        root = outcome.cause if outcome.cause is not None else index
        names = would_create(node) if node is not None else guessed_names(statement.text)
        for name in names:
            self.missing.setdefault(name, root)
        if isinstance(node, DATA_CHANGES):
            self.unchanged.setdefault(node.relation.relname, root)
        if isinstance(node, ast.DoStmt) and DYNAMIC_DDL.search(statement.text):
            self.dynamic_ddl = root
        return outcome

    def classify(self, statement: Statement, error: ServerError) -> Outcome:
        node = statement.node
        named = {m.group(1).strip() for m in liquibase.EXPRESSION.finditer(statement.text)}
        unresolved = [n for n in self.unresolved.get(statement.file, ()) if n in named]
        if unresolved:
            # Liquibase replaces it at deploy with a value given where review cannot see
            names = ", ".join(f"${{{name}}}" for name in unresolved)
            return Outcome(
                UNCHECKED,
                error,
                reason=f"Liquibase property {names} has no value review could find",
                check_instead=(
                    "give it its value where review reads it: a `--property name:<name>"
                    " value:<value>` line in the changelog, `parameter.<name>=<value>` in a"
                    " liquibase.properties beside the master changelog, or"
                    " `spring.liquibase.parameters.<name>` in application.properties"
                ),
            )
        if (extension := unavailable_extension(node, error)) is not None:
            return Outcome(
                UNCHECKED, error, reason=f"extension {extension} unavailable on this server"
            )
        if error.sqlstate == UNDEFINED_FILE and (library := MISSING_LIBRARY.match(error.message)):
            providers = [e for e in self.extensions if library.group(1).startswith(e)]
            if providers:
                cause = min(self.extensions[e] for e in providers)
                reason = (
                    f"may need extension {', '.join(sorted(providers))}, unavailable on this server"
                )
                return Outcome(UNCHECKED, error, cause, reason)
        if error.sqlstate == NOT_IN_BUILD and (feature := built_without(error)):
            return Outcome(UNCHECKED, error, reason=f"this server was built without {feature}")
        if not self.create_roles and (role := MISSING_ROLE.match(error.message)):
            return Outcome(UNCHECKED, error, reason=f"role {role.group(1)} does not exist here")
        if error.sqlstate in UNDEFINED:
            name = missing_name(error.message)
            cause = self.missing.get(name) if name else None
            if cause is None and name and error.sqlstate == UNDEFINED_TABLE:
                cause = self.named_after_missing(name)
            if cause is not None:
                return self.consequence(error, cause)
            if error.sqlstate in EXTENSION_PROVIDED and self.extensions:
                providers = [e for e in self.extensions if may_provide(e, name)]
                if providers:
                    names = ", ".join(sorted(providers))
                    cause = min(self.extensions[e] for e in providers)
                    reason = f"may need extension {names}, unavailable on this server"
                    return Outcome(UNCHECKED, error, cause, reason)
            code = self.code_naming(name)
            if code is not None:
                return self.consequence(error, code)
            if self.dynamic_ddl is not None and name not in self.created:
                # Boundary's 81/01: a DO block that failed would have made, by EXECUTE,
                # `<t>_delete_time_idx` for each `*_deleted` table; the renames after it miss them
                return self.consequence(error, self.dynamic_ddl)
            platform = platform_of(missing_schema(error.message), self.created)
            if platform is not None:
                return self.platform_failure(error, platform)
            schema = self.off_search_path(error)
            if schema is not None:
                return self.search_path_failure(error, schema)
            tool = HISTORY_TABLES.get(name or "") if error.sqlstate == UNDEFINED_TABLE else None
            if tool is not None and name not in self.created:
                # the tool made it before the first migration (Harbor alters
                # golang-migrate's): review runs no tool
                reason = (
                    f"{name} is a migration tool's history table ({tool}), made by the tool,"
                    " not by the files: not run"
                )
                return Outcome(SKIPPED, error, reason=reason)
        if error.sqlstate.startswith(INTEGRITY_VIOLATION) and self.unchanged:
            causes = [self.unchanged[t] for t in rows_met(node, error) if t in self.unchanged]
            if causes:
                return self.consequence(error, min(causes))
        return Outcome(REJECTED, error)

    def platform_failure(self, error: ServerError, platform: Platform) -> Outcome:
        """A statement that misses a schema the platform makes (Supabase's auth, storage,
        extensions): the files were written for a database the platform set up, so the
        first such failure is not checked, and the later ones are told by it."""
        first = self.platforms.get(platform.name)
        if first is not None:
            return self.consequence(error, first)
        self.platforms[platform.name] = len(self.load.statements) - 1
        return Outcome(
            UNCHECKED,
            error,
            reason=f"the files rely on schemas {platform.name} makes (auth, storage, ...)",
            check_instead=(
                f"review them with --server on a database {platform.name} set up"
                " (`supabase start`), or --base one"
            ),
        )

    def off_search_path(self, error: ServerError) -> str | None:
        """The one schema, off the session's search_path, where the relation that an
        error says is missing by an unqualified name exists (Supabase Storage's
        0047-iceberg-table-metadata.sql alters `iceberg_namespaces`, which 0038 made as
        `storage.iceberg_namespaces`: its runner connects with `search_path=storage,...`)."""
        if error.sqlstate != UNDEFINED_TABLE:
            return None
        match = MISSING_RELATION.match(error.message)
        if match is None or "." in match.group(1):
            return None
        name = match.group(1).replace('""', '"')
        rows = self.connection.execute(
            OFF_SEARCH_PATH, {"name": name, "log": LOG_SCHEMA}
        ).fetchall()
        return str(rows[0][0]) if len(rows) == 1 else None

    def search_path_failure(self, error: ServerError, schema: str) -> Outcome:
        """A statement that names a relation of `schema` without the schema, where the
        session's search_path does not name it: the files rely on a search_path their
        migration tool sets, so the first such failure is not checked, and the later
        ones are told by it."""
        key = f"search_path:{schema}"
        first = self.platforms.get(key)
        if first is not None:
            return self.consequence(error, first)
        self.platforms[key] = len(self.load.statements) - 1
        return Outcome(
            UNCHECKED,
            error,
            reason=(
                f"the files name {schema}'s tables without a schema: they rely on a"
                f" search_path that names {schema}, as their migration tool may set it"
            ),
            check_instead=(
                f"review them with --server, connecting as a role whose search_path names"
                f" {schema} (ALTER ROLE ... SET search_path = {schema}, public)"
            ),
        )

    def named_after_missing(self, name: str) -> int | None:
        """The failure that explains a missing index or sequence named after a table
        that a failed statement would have made: `<table>_pkey`, `<table>_id_seq`, or
        Boundary's `<table>_delete_time_idx`, which a DO block built by EXECUTE for each
        `*_deleted` table there was (and so not for one whose CREATE was not checked);
        the longest such table name, its failure."""
        tables = [
            table for table in self.missing if len(table) < len(name) and name[len(table)] == "_"
        ]
        named = [table for table in tables if name.startswith(table)]
        return self.missing[max(named, key=len)] if named else None

    def starting_schema(self) -> None:
        """A table that statements of two files or more use, and that no statement of
        the files creates, says the files start from a schema they do not hold (Tiny
        Tiny RSS's migrations/3.sql onwards alter the tables of a version 2 that is no
        longer in the repository). Their failures on tables and indexes none of them
        creates are then not the statements' own, nor their calls of functions and uses
        of types none of them creates (Immich's later migrations call immich_uuid_v7(),
        made by its squashed initial migration): the first is not checked, the others
        follow from it. Without such a table, a name that one file misses may be its
        misspelling, and stays rejected."""
        outcomes, statements = self.load.outcomes, self.load.statements
        missed: dict[str, list[int]] = {}
        called: dict[str, list[int]] = {}  # functions and types: only with such a table
        for index, outcome in enumerate(outcomes):
            error = outcome.error
            if outcome.status != REJECTED or error is None:
                continue
            name = missing_name(error.message)
            if not name or name in self.created:
                continue
            if relation_missing(error):
                missed.setdefault(name, []).append(index)
            elif routine_or_type_missing(error):
                called.setdefault(name, []).append(index)
        tables = [
            name
            for name, failed in missed.items()
            if outcomes[failed[0]].error.sqlstate == UNDEFINED_TABLE  # type: ignore[union-attr]
            and len({statements[index].file for index in failed}) > 1
        ]
        if not tables:
            return
        self.load.starts_elsewhere = True
        roots = {index for failed in (*missed.values(), *called.values()) for index in failed}
        first = min(roots)
        reason = (
            f"the files start from a schema they do not hold: they use"
            f" {plural(len(missed), 'table or index', 'tables and indexes')} none of them"
            f" creates ({first_named(missed)})"
        )
        if called:
            reason += (
                f", and {plural(len(called), 'function or type', 'functions or types')}"
                f" none of them creates ({first_named(called)})"
            )
        instead = (
            "review them with --base the schema they start from (a database they ran on,"
            " or its schema file)"
        )
        for index, outcome in enumerate(outcomes):
            if index in roots or (outcome.status == LOST and outcome.cause in roots):
                cause = None if index == first else first
                outcomes[index] = Outcome(UNCHECKED, outcome.error, cause, reason, None, instead)

    def consequence(self, error: ServerError, cause: int) -> Outcome:
        """A failure that follows from the failed statement `cause`: not checked where
        that one was not, lost to it otherwise."""
        root = self.load.outcomes[cause]
        if root.status in (UNCHECKED, CODE):
            return Outcome(UNCHECKED, error, cause, root.reason)
        return Outcome(LOST, error, cause)

    def code_naming(self, name: str | None) -> int | None:
        """The last code migration so far whose text names `name`, an object that no
        SQL statement created: what the statement that misses it may rely on. A name
        the code does not mention (a misspelling) is the statement's own fault."""
        if not name or name in self.created:
            return None
        word = re.compile(rf"(?<![\w$]){re.escape(name)}(?![\w$])", re.IGNORECASE)
        naming = [index for index, text in self.code.items() if word.search(text)]
        return max(naming, default=None)


class _Relations(visitors.Visitor):
    """The names of the relations a statement names (pglast calls visit_<node type>)."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def visit_RangeVar(self, ancestors: Any, node: ast.RangeVar) -> None:
        self.names.add(node.relname)


def rows_met(node: Any, error: ServerError) -> set[str]:
    """The tables whose existing rows a statement's constraint violation may come from:
    every table it names (the table an ALTER checks, the rows an INSERT ... SELECT
    reads), and the table a foreign key found no key in; not the target of an INSERT ...
    VALUES whose own values broke a NOT NULL or a CHECK."""
    names: set[str] = set()
    if node is not None:
        values_only = (
            isinstance(node, ast.InsertStmt)
            and isinstance(node.selectStmt, ast.SelectStmt)
            and node.selectStmt.valuesLists
        )
        if not (values_only and error.sqlstate in ROW_OWN_VIOLATIONS):
            relations = _Relations()
            relations(node)
            names = relations.names
    missing_from = MISSING_FROM_TABLE.search(error.detail or "")
    if missing_from:
        names.add(missing_from.group(1).replace('""', '"'))
    return names


def built_without(error: ServerError) -> str | None:
    """The build feature (ICU, lz4, libxml) whose absence the error reports, if any."""
    for text in (error.message, error.detail or ""):
        match = BUILT_WITHOUT.search(text)
        if match:
            return match.group(1) or match.group(2)
    return None


def may_provide(extension: str, name: str | None) -> bool:
    """Could the extension define `name` (a function, type or operator class)? Its
    install scripts say, where a PostgreSQL on this machine has them (the server the
    files load into may not, but a system one often does): a name none of them
    mentions is misspelt, not missing with the extension. Without the scripts, or the
    name, it could."""
    scripts = extension_scripts(extension)
    if scripts is None or not name:
        return True
    return re.search(rf"\b{re.escape(name)}\b", scripts, re.IGNORECASE) is not None


@functools.cache
def extension_scripts(extension: str) -> str | None:
    """The text of `extension`'s install and update scripts in the PostgreSQL
    installations this machine has (Debian's layout, and the bundled server's), read
    once per run; None where there are none."""
    folders = [Path(p) for p in glob.glob("/usr/share/postgresql/*/extension")]
    with contextlib.suppress(EmbeddedError):
        folders.append(pgserver_bin_dir().parent / "share" / "postgresql" / "extension")
    pattern = f"{glob.escape(extension)}--*.sql"
    scripts = [script for folder in folders for script in folder.glob(pattern)]
    return "\n".join(s.read_text(errors="replace") for s in scripts) if scripts else None


def unavailable_extension(node: Any, error: ServerError) -> str | None:
    """The extension this server lacks that the statement failed to create: by a CREATE
    EXTENSION, or inside a DO block or function (Temporal's `IF NOT EXISTS (...) THEN
    CREATE EXTENSION btree_gin`), named by the error."""
    unavailable = UNAVAILABLE_EXTENSION.match(error.message)
    if unavailable is None:
        return None
    if isinstance(node, ast.CreateExtensionStmt):
        return str(node.extname)
    return unavailable.group("name") or unavailable.group("file")


def missing_schema(message: str) -> str | None:
    """The schema an "undefined" error names: the missing schema itself (`schema "auth"
    does not exist`), or the one a missing object is qualified with (`relation
    "storage.buckets" does not exist`, `function auth.uid() does not exist`)."""
    match = MISSING_SCHEMA.match(message)
    if match:
        return match.group(1).replace('""', '"')
    match = FUNCTION.match(message) or QUOTED.search(message)
    if not match or "." not in match.group(1):
        return None
    return match.group(1).replace('""', '"').rsplit(".", 1)[0]


def platform_of(schema: str | None, created: set[str]) -> Platform | None:
    """The managed platform that makes `schema`, where no statement of the files did."""
    if schema is None or schema in created:
        return None
    return next((p for p in MANAGED_PLATFORMS if schema in p.schemas), None)


def relation_missing(error: ServerError) -> bool:
    """Does the error say a table (or view, sequence) or an index does not exist?"""
    return error.sqlstate == UNDEFINED_TABLE or (
        error.sqlstate == "42704" and error.message.startswith('index "')
    )


def routine_or_type_missing(error: ServerError) -> bool:
    """Does the error say a function or a type does not exist (an operator's or a
    column's is another matter)?"""
    return (error.sqlstate == "42883" and error.message.startswith("function ")) or (
        error.sqlstate == "42704" and error.message.startswith('type "')
    )


def first_named(failed: dict[str, list[int]]) -> str:
    """The names that failed, in the order of their first failure, the first five."""
    names = sorted(failed, key=lambda name: failed[name][0])
    return ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")


def missing_name(message: str) -> str | None:
    """The unqualified name of the object an "undefined" error says is missing; for an
    array (`type "hstore[]" does not exist`), its element type's."""
    match = FUNCTION.match(message) or QUOTED.search(message)
    if not match:
        return None
    name = match.group(1).replace('""', '"').rsplit(".", 1)[-1]
    return ARRAY_BRACKETS.sub("", name) or name


def guessed_names(text: str) -> set[str]:
    """What a CREATE statement the parser rejected was probably creating: the names
    before its first "(", ON or AS. A misspelt keyword must not turn every statement
    that uses the table into a finding of its own."""
    try:
        tokens = parser.scan(text)
    except parser.ParseError:
        return set()
    if not tokens or tokens[0].name != "CREATE":
        return set()
    names = set()
    for token in tokens[1:]:
        if token.name in ("ASCII_40", "ON", "AS"):
            break
        if token.name == "IDENT":
            word = text[token.start : token.end + 1]
            quoted = word.startswith('"')
            names.add(word[1:-1].replace('""', '"') if quoted else word.lower())
    return names


def would_create(node: Any) -> set[str]:
    """Names of the objects a statement creates (or renames to): what later statements
    may name and miss when it fails."""
    if node is None:
        return set()
    names: set[str | None] = set()
    if isinstance(node, ast.CreateStmt):  # also CREATE FOREIGN TABLE
        names.add(node.relation.relname)
    elif isinstance(node, ast.CreateTableAsStmt):
        names.add(node.into.rel.relname)
    elif isinstance(node, ast.ViewStmt):
        names.add(node.view.relname)
    elif isinstance(node, ast.IndexStmt):
        names.add(node.idxname)
    elif isinstance(node, ast.CreateSeqStmt):
        names.add(node.sequence.relname)
    elif isinstance(node, ast.CreateFunctionStmt):
        names.add(node.funcname[-1].sval)
    elif isinstance(node, (ast.CreateEnumStmt, ast.CreateRangeStmt)):
        names.add(node.typeName[-1].sval)
    elif isinstance(node, ast.CreateDomainStmt):
        names.add(node.domainname[-1].sval)
    elif isinstance(node, ast.CompositeTypeStmt):
        names.add(node.typevar.relname)
    elif isinstance(node, ast.DefineStmt):
        names.add(node.defnames[-1].sval)
    elif isinstance(node, ast.CreateSchemaStmt):
        names.add(node.schemaname)
        for element in node.schemaElts or ():
            names |= would_create(element)
    elif isinstance(node, ast.CreateExtensionStmt):
        names.add(node.extname)
    elif isinstance(node, ast.DoStmt):  # the CREATE statements in its body
        body = next((str(a.arg.sval) for a in node.args or () if a.defname == "as"), "")
        for match in CREATE_IN_BODY.finditer(body):
            names |= guessed_names(body[match.start() :])
    elif isinstance(node, ast.CreateTrigStmt):
        names.add(node.trigname)
    elif isinstance(node, ast.CreatePolicyStmt):
        names.add(node.policy_name)
    elif isinstance(node, ast.RenameStmt):
        names.add(node.newname)
    elif isinstance(node, ast.AlterTableStmt):
        for command in node.cmds or ():
            if command.subtype == AlterTableType.AT_AddColumn:
                names.add(command.def_.colname)
            elif command.subtype == AlterTableType.AT_AddConstraint:
                names.add(command.def_.conname)
    return {name for name in names if name}


def placed_in(node: Any) -> set[str]:
    """The schemas a statement names for the objects it creates (`CREATE EXTENSION ...
    SCHEMA s`, `CREATE TABLE s.t`, `CREATE FUNCTION s.f`): where they would be had it
    run. An unqualified name goes to the search_path's first schema: not counted."""
    if isinstance(node, ast.CreateExtensionStmt):
        return {str(o.arg.sval) for o in node.options or () if o.defname == "schema"}
    for field_name in ("relation", "view", "sequence", "typevar"):
        target = getattr(node, field_name, None)
        if isinstance(target, ast.RangeVar):
            return {target.schemaname} if target.schemaname else set()
    if isinstance(node, ast.CreateTableAsStmt):
        return {node.into.rel.schemaname} if node.into.rel.schemaname else set()
    for field_name in ("funcname", "typeName", "domainname", "defnames"):
        names = getattr(node, field_name, None)
        if isinstance(names, tuple) and len(names) >= 2:
            return {str(names[-2].sval)}
    return set()
