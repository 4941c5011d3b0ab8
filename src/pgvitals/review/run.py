"""`pgvitals review`: load DDL files into a scratch database (a throwaway embedded
server, or a database created and dropped on a server the user names), then take the
snapshot that the rules read.

With a base, the base schema is loaded first and snapshotted on its own, so the
caller can report only what the reviewed files change:
- a database (DSN): its schema, dumped with the bundled `pg_dump --schema-only`;
- a folder or `.sql` file: earlier migrations, loaded like the reviewed files;
- a saved snapshot: its schema rebuilt from the catalog facts it holds
  (review/rebuild.py; what cannot be rebuilt is named), and its sizes weigh the
  hazards. Files that make a whole schema (a `structure.sql` that creates the
  snapshot's tables) are loaded on their own instead, the snapshot's findings the base.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from pglast import ast
from psycopg import conninfo, sql

from pgvitals.connect import BadTarget, Limits, Unreachable, connect, describe, first_line, scrub
from pgvitals.embedded import EmbeddedServer, interrupt_safe, pg_dump, pgserver_bin_dir
from pgvitals.fmt import plural
from pgvitals.review import liquibase, placeholders, rebuild, runners, safety, transaction
from pgvitals.review.files import (
    CodeMigration,
    InputError,
    Selection,
    SourceFile,
    drizzle_journal,
    drizzle_missing,
    select,
)
from pgvitals.review.load import CODE, REJECTED, SKIPPED, UNCHECKED, Load, Loader, placed_in
from pgvitals.review.restore import (
    create_database,
    drop_database,
    dump_roles,
    load_at_once,
    portable,
)
from pgvitals.review.split import Note, split_file
from pgvitals.snapshot import io
from pgvitals.snapshot.collect import collect
from pgvitals.snapshot.model import (
    CHECK_INSTEAD,
    SCHEMAS_NOT_CHECKED,
    STATEMENTS_NOT_CHECKED,
    EditedMigration,
    RejectedStatement,
    Snapshot,
)

DATABASE, FILES, SNAPSHOT = "database", "files", "snapshot"
REVIEW_DATABASE = "pgvitals_review"
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Base:
    kind: str  # database, files, snapshot
    shown: str
    dsn: str | None = None
    files: Selection | None = None
    snapshot: Snapshot | None = None


@dataclass(frozen=True)
class Reviewed:
    snapshot: Snapshot  # after every file, with the rejected statements and the notes
    base_snapshot: Snapshot | None  # after the base only (or the saved one)
    load: Load
    new_from: int  # the first statement of the reviewed files (those before: the base)
    where: str  # what the files were loaded into


def resolve_base(value: str, reviewed: Selection | None = None) -> Base:
    """A folder or `.sql` file of earlier migrations, a saved snapshot, or a DSN. The
    reviewed files are left out of a folder base: `review migrations/V9__new.sql --base
    migrations` compares the new migration with the ones before it."""
    path = Path(value)
    if path.is_dir() or (path.is_file() and path.suffix.lower() == ".sql"):
        earlier = select([path])
        if reviewed is not None:
            new = {item.path.resolve() for item in reviewed.files}
            kept = [item for item in earlier.files if item.path.resolve() not in new]
            earlier = dataclasses.replace(earlier, files=kept)
        return Base(FILES, value, files=earlier)
    if path.is_file():
        return Base(SNAPSHOT, f"snapshot {value}", snapshot=io.load(path))
    if "=" not in value and "://" not in value:  # a mistyped path, not a connection string
        raise InputError(f"--base {value}: no such file or folder (nor a connection string)")
    return Base(DATABASE, describe(value), dsn=value)


def new_files(reviewed: Selection, base: Base) -> Selection:
    """The reviewed files without those the base folder holds too, at the same place:
    `review branch/migrations --base main/migrations` reviews what the branch adds, not
    every migration again on top of itself. One the base holds with other text was
    edited after the base ran it: not loaded (where it ran, its tool will not run it
    again), but recorded (migration-edited)."""
    if base.files is None:
        return reviewed
    known = {item.relative: item for item in base.files.files if item.relative}
    last_run = drizzle_last_run(base.files)
    same, edited, files = [], [], []
    elsewhere = dict(reviewed.not_run_by_tool)
    for item in reviewed.files:
        earlier = known.get(item.relative)
        text = before = None
        if earlier is not None and earlier.path.resolve() != item.path.resolve():
            text, before = read_or_none(item.path), read_or_none(earlier.path)
        if earlier is None and (skipped := drizzle_skips(item, last_run)) is not None:
            elsewhere[item.shown] = skipped
        elif earlier is None or text is None or before is None:
            files.append(item)  # new here (an unreadable one is noted where it is loaded)
        elif text == before and not liquibase.runs_always(text.decode(errors="replace")):
            same.append(item)
        elif (
            ran := liquibase.ran_unchanged(
                text.decode(errors="replace"), before.decode(errors="replace")
            )
        ) is not None:
            files.append(dataclasses.replace(item, ran=frozenset(ran)))  # changesets added
        else:
            edited.append(edited_migration(item, earlier, text, before))
    if not same and not edited and elsewhere == reviewed.not_run_by_tool:
        return dataclasses.replace(reviewed, files=files)  # Liquibase's changesets that ran
    if same:
        count = plural(len(same), "file")
        why = f"{count} the same as in the base ({base.shown}), not reviewed again"
        elsewhere[base.shown] = why
    for change in edited:
        elsewhere[change.file] = f"edited since {change.base_file} ran: loaded as the base has it"
    return dataclasses.replace(
        reviewed, files=files, not_run_by_tool=elsewhere, edited=[*reviewed.edited, *edited]
    )


def drizzle_last_run(base: Selection) -> dict[str, tuple[int, str]]:
    """Per Drizzle folder of the base (by its path within the argument): the latest
    `when` of its journal, and the file it is of."""
    found: dict[str, tuple[int, str]] = {}
    for item in base.files:
        listed = drizzle_journal(item.path.parent)
        if listed and item.relative:
            when, name = max((when, name) for name, when in listed.items())
            found[Path(item.relative).parent.as_posix()] = (when, name)
    return found


def drizzle_skips(item: SourceFile, last_run: dict[str, tuple[int, str]]) -> str | None:
    """Why Drizzle never runs a new migration on a database at the base: its journal's
    `when` is not after the base's latest. drizzle-orm's migrate() (pg-core/dialect.ts)
    reads the latest `created_at` of __drizzle_migrations and runs only the migrations
    whose `when` is later, whatever their place in the journal (a branch's migration
    generated before the base's last one and merged after it). None where it runs."""
    if not item.relative:
        return None
    last = last_run.get(Path(item.relative).parent.as_posix())
    when = (drizzle_journal(item.path.parent) or {}).get(item.path.name)
    if last is None or when is None or when > last[0]:
        return None
    return (
        f"Drizzle never runs it on a database at the base: its journal's `when` ({when}) is"
        f" not after that of {last[1]} ({last[0]}), the base's latest, and migrate() runs"
        " only migrations whose `when` is later; not loaded (give it a later `when`, or"
        " generate it again)"
    )


def edited_migration(
    item: SourceFile, earlier: SourceFile, text: bytes, before: bytes
) -> EditedMigration:
    """Where the reviewed copy first departs from the base's."""
    new = text.decode("utf-8", errors="replace").splitlines()
    old = before.decode("utf-8", errors="replace").splitlines()
    pairs = zip(new, old, strict=False)
    line = next((n for n, (a, b) in enumerate(pairs) if a != b), min(len(new), len(old)))
    return EditedMigration(
        item.shown,
        line + 1,
        earlier.shown,
        old[line] if line < len(old) else None,
        new[line] if line < len(new) else None,
    )


def read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def review(
    files: Selection,
    base: Base | None = None,
    server: str | None = None,
    schemas: tuple[str, ...] = (),
    probes: frozenset[str] | None = None,
    progress: Progress | None = None,
) -> Reviewed:
    step = progress or (lambda message: None)
    if server is not None:
        with scratch_database(server) as dsn:
            where = f"a scratch database on {describe(server)}"
            return review_in(dsn, where, files, base, False, schemas, probes, step, server)
    step("starting a private PostgreSQL")
    with interrupt_safe(EmbeddedServer()) as embedded:
        create_database(embedded.dsn(), REVIEW_DATABASE)
        where = f"a throwaway PostgreSQL {embedded.version}"
        dsn = embedded.dsn(REVIEW_DATABASE)
        return review_in(dsn, where, files, base, True, schemas, probes, step, embedded.dsn())


def review_in(
    dsn: str,
    where: str,
    files: Selection,
    base: Base | None,
    create_roles: bool,
    schemas: tuple[str, ...],
    probes: frozenset[str] | None,
    step: Progress,
    admin: str | None = None,
) -> Reviewed:
    """Load (the base, then) the files into the empty database at `dsn` and snapshot it.
    `admin`: a session on the same server that may make that database anew (a base
    database's dump is then tried through psql in one go first)."""
    try:
        return load_and_snapshot(
            dsn, where, files, base, create_roles, schemas, probes, step, admin
        )
    except psycopg.OperationalError as error:  # the server went away under the load
        raise Unreachable(f"lost {where}: {first_line(str(error))}") from None


def load_and_snapshot(
    dsn: str,
    where: str,
    files: Selection,
    base: Base | None,
    create_roles: bool,
    schemas: tuple[str, ...],
    probes: frozenset[str] | None,
    step: Progress,
    admin: str | None = None,
) -> Reviewed:
    notes: list[Note] = []
    dump = None  # a base database's schema, while it is still to be loaded
    if base is not None and base.kind == DATABASE:
        assert base.dsn is not None
        step(f"loading the base: {base.shown}")
        dump = dump_schema(base.dsn)
        if admin is not None and loaded_whole(admin, dsn, base.dsn, dump, create_roles):
            dump = None
    rebuilt = base is not None and base.snapshot is not None and not makes_its_tables(files, base)
    with psycopg.connect(dsn, autocommit=True) as connection:
        if rebuilt:
            assert base is not None and base.snapshot is not None
            step(f"rebuilding the base: {base.shown}")
            roles = base_roles(connection, base.snapshot) if create_roles else []
            notes += rebuild_base(connection, base.snapshot, base.shown)
        loader = Loader(connection, create_roles)
        if rebuilt:
            loader.load.roles_created += roles
        loader.setup()
        base_snapshot = base.snapshot if base is not None else None
        if base is not None and (base.kind in (DATABASE, FILES) or rebuilt):
            if rebuilt:
                label = f"(rebuilt from {base.shown})"
                loader.load.virtual_files.add(label)
                loader.record_existing(label)
            elif base.kind == DATABASE:
                label = f"(pg_dump of {base.shown})"
                loader.load.virtual_files.add(label)
                if dump is None:  # loaded whole
                    loader.record_existing(label)
                else:
                    loader.run_file(split_file(dump, label).statements)
            else:
                step(f"loading the base: {base.shown}")
                assert base.files is not None
                notes += load_files(loader, base.files, step)
            loader.finish()  # the event log is not part of the base
            base_snapshot = take_snapshot(dsn, schemas, probes, step)
            base_snapshot = with_review(base_snapshot, loader.load, [], len(loader.load.outcomes))
            loader.setup()
        new_from = len(loader.load.statements)
        # what the files do to tables a live database has: only those of the base
        watch = safety.Watch(safety.existing_relations(connection)) if base is not None else None
        loader.observer = watch
        linted: list[safety.Linted] = []
        notes += load_files(loader, files, step, linted)
        load = loader.finish()
        pg_version = safety.pg_version_of(connection)
    snapshot = with_review(take_snapshot(dsn, schemas, probes, step), load, notes, new_from)
    snapshot = dataclasses.replace(snapshot, edited_migrations=files.edited)
    tools = migration_tools(files, base, load)
    snapshot = with_tools(snapshot, tools)
    if base_snapshot is not None:
        base_snapshot = with_tools(base_snapshot, tools)
    if watch is not None:
        step("migration safety")
        hazards, skipped = safety.assess(load, watch, linted, pg_version)
        seen = watch.seen
        sizes, matched = None, {}
        if base is not None and base.kind == DATABASE and (hazards or seen.backfills or seen.locks):
            assert base.dsn is not None
            sizes, matched = base_statistics(base.dsn, seen.backfills)
            hazards = safety.with_sizes(hazards, sizes)
        elif rebuilt and base is not None and base.snapshot is not None:
            sizes = snapshot_sizes(base.snapshot)
            hazards = safety.with_sizes(hazards, sizes)
        planned = not rebuilt  # a snapshot's sizes, but no planner to bound a WHERE
        hazards += transaction.backfill_hazards(load, seen, sizes, matched, planned)
        hazards += transaction.held_lock_hazards(load, seen, sizes, matched, planned)
        collection = dataclasses.replace(
            snapshot.collection, skipped=[*snapshot.collection.skipped, *skipped]
        )
        snapshot = dataclasses.replace(snapshot, migration_hazards=hazards, collection=collection)
    return Reviewed(snapshot, base_snapshot, load, new_from, where)


CREATE_TABLE = re.compile(r"\bcreate\s+(?:\w+\s+)*?table\b", re.IGNORECASE)


def makes_its_tables(files: Selection, base: Base) -> bool:
    """Do the files create a table the base snapshot holds (CREATE TABLE without IF NOT
    EXISTS)? Then they make a whole schema, to compare with the snapshot's findings,
    not migrations to run on it."""
    assert base.snapshot is not None
    path = base.snapshot.server.search_path or ["public"]
    held = {(table.schema, table.name) for table in base.snapshot.tables}
    for source in files.files:
        text, _ = read_migration(source)
        if not CREATE_TABLE.search(text):
            continue  # parsed only where a CREATE TABLE may be: the load parses every file
        for statement in split_file(text, source.shown).statements:
            node = statement.node
            if not isinstance(node, ast.CreateStmt) or node.if_not_exists:
                continue
            relation = node.relation
            if (relation.schemaname or path[0], relation.relname) in held:
                return True
    return False


def base_roles(connection: psycopg.Connection, snapshot: Snapshot) -> list[str]:
    """Create the roles that own objects of the snapshot, are granted on them or are
    named by its policies, where the review's server lacks them (its own throwaway
    server), without login, as the loader creates a dump's: their names."""
    wanted = {item.owner for item in (*snapshot.schemas, *snapshot.tables, *snapshot.views)}
    wanted |= {function.owner for function in snapshot.functions}
    wanted |= {grant.grantee for grant in snapshot.privileges}
    wanted |= {role for policy in snapshot.policies for role in policy.roles}
    rows = connection.execute("SELECT rolname FROM pg_catalog.pg_roles").fetchall()
    present = {row[0] for row in rows}
    created = []
    for name in sorted(wanted - present - {"PUBLIC", "public"}):
        try:
            connection.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(name)))
        except psycopg.Error:
            continue  # not made: what needs it is named as not rebuilt
        created.append(name)
    return created


def rebuild_base(connection: psycopg.Connection, snapshot: Snapshot, shown: str) -> list[Note]:
    """Run the statements that rebuild the snapshot's schema; a note for what could not
    be rebuilt (the snapshot cannot give it, or the server rejected it), once per object."""
    rows = connection.execute("SELECT name FROM pg_catalog.pg_available_extensions").fetchall()
    steps, missing = rebuild.rebuild(snapshot, frozenset(row[0] for row in rows))
    missing += rebuild.failures(steps, lambda statement: run_one(connection, statement))
    label = f"(rebuilt from {shown})"
    return [Note(label, 1, f"not rebuilt: {item.text}") for item in missing]


def run_one(connection: psycopg.Connection, statement: str) -> str | None:
    """Run one statement (autocommit): None, or the first line of the server's error."""
    try:
        connection.execute(statement.encode())
    except psycopg.Error as error:
        return first_line(str(error))
    return None


def snapshot_sizes(snapshot: Snapshot) -> transaction.Sizes:
    """Rows and bytes of each table of a saved snapshot, its partitions and inheriting
    tables included, as base_statistics reads a live database's (safety.TABLE_SIZES)."""
    by_name = {table.qualname: table for table in snapshot.tables}
    children: dict[int, list[int]] = {}
    for table in snapshot.tables:
        if table.parent_oid is not None:
            children.setdefault(table.parent_oid, []).append(table.oid)
        for child in table.inheritance_children:
            if child in by_name:
                children.setdefault(table.oid, []).append(by_name[child].oid)
    sizes: transaction.Sizes = {}
    for table in snapshot.tables:
        if table.kind not in ("r", "p", "m"):
            continue
        tree: set[int] = set()
        pending = [table.oid]
        while pending:
            oid = pending.pop()
            if oid in snapshot.table_by_oid and oid not in tree:
                tree.add(oid)
                pending += children.get(oid, [])
        parts = [snapshot.table_by_oid[oid] for oid in tree]
        held = [part for part in parts if part.kind != "p"]
        counted = all(part.rows_estimate >= 0 for part in held)
        rows = sum((part.rows_estimate if counted else part.n_live_tup or 0) for part in held)
        known = all(part.table_bytes is not None for part in held)
        size = sum(part.table_bytes or 0 for part in held) if counted and known else None
        sizes[table.qualname] = (float(rows) if held else None, size)
    return sizes


def migration_tools(files: Selection, base: Base | None, load: Load) -> list[str]:
    """The tools that run the reviewed files, and those of a base of earlier files, as
    the load found them (runners.tool_of), each once."""
    sources = [*files.files, *(base.files.files if base is not None and base.files else ())]
    return list(dict.fromkeys(
        load.tools[source.shown] for source in sources if source.shown in load.tools
    ))  # fmt: skip


def with_tools(snapshot: Snapshot, tools: list[str]) -> Snapshot:
    """The snapshot knowing the migration tools the files are run by (a base snapshot too,
    so that what depends on the tool is judged the same on both sides)."""
    if not tools:
        return snapshot
    collection = dataclasses.replace(snapshot.collection, migration_tools=tools)
    return dataclasses.replace(snapshot, collection=collection)


def load_files(
    loader: Loader, files: Selection, step: Progress, linted: list[safety.Linted] | None = None
) -> list[Note]:
    """Load the files in order; `linted` collects them as the migration linter reads them."""
    notes = [Note(shown, 1, "down migration, not loaded") for shown in files.left_out]
    notes += [Note(shown, 1, why) for shown, why in files.not_run_by_tool.items()]
    refused: set[Path] = set()  # the Drizzle folders whose refusal is reported
    for source in files.files:
        notes += pass_code_migrations(loader, [c for c in files.code if c.before == source.path])
        step(f"loading {source.shown}")
        text, unread = read_migration(source)
        if unread is not None:
            notes.append(unread)
            continue
        info = loader.connection.info
        text, replaced = placeholders.replaced(
            source.path, source.shown, text, info.dbname, info.user
        )
        notes += replaced
        text, replaced = liquibase_properties(loader, source, text)
        notes += replaced
        text, skipped = failed_preconditions(loader, text, source.shown)
        notes += skipped
        if source.ran:
            text = liquibase.without(text, source.ran)
            labels = ", ".join(sorted(source.ran))
            notes.append(Note(source.shown, 1, f"changesets {labels} ran at the base: Liquibase"
                              " does not run them again, not loaded"))  # fmt: skip
        split = split_file(text, source.shown)
        notes += split.notes
        notes += runners.django_python_operations(text, source.shown)
        first = len(loader.load.statements)
        units = runners.units(source.path, text, split.statements)
        if runners.one_by_one(text, units):
            loader.load.one_by_one.add(source.shown)
        if units and units[0].batch is not None:
            loader.load.batches[source.shown] = units[0].batch
        if (tool := runners.tool_of(source.path, units)) is not None:
            loader.load.tools[source.shown] = tool
        for number, segment in enumerate(runners.segments(text, split.statements) or ()):
            loader.load.segments[first + number] = segment
        wrapped = runners.wrapping(source.path, text, split.statements)
        if split.statements and (refusal := drizzle_refusal(source, refused)) is not None:
            wrapped[0] = refusal  # the folder's first file loaded: reported once
        loader.run_file(split.statements, wrapped)
        if linted is not None:
            linted.append(safety.linted_file(source.shown, split.text, first, split.statements))
    # those after the last file, or before one left out (a base without the reviewed files)
    loaded = {source.path for source in files.files}
    return notes + pass_code_migrations(loader, [c for c in files.code if c.before not in loaded])


def liquibase_properties(loader: Loader, source: SourceFile, text: str) -> tuple[str, list[Note]]:
    """A formatted SQL changelog with its `${name}` properties replaced as Liquibase
    replaces them; those without a value review can find are left, and a statement that
    fails on one is not checked (the loader is told)."""
    found = liquibase.expanded(source.path, text)
    notes = []
    if found.used:
        given = ", ".join(f"${{{name}}} ({where})" for name, where in found.used.items())
        notes.append(Note(source.shown, 1, f"Liquibase properties replaced: {given}"))
    if found.unknown:
        loader.unresolved[source.shown] = found.unknown
        names = ", ".join(f"${{{name}}}" for name in found.unknown)
        notes.append(Note(source.shown, 1, f"Liquibase properties with no value found: {names}"
                          " (given at deploy: left as they are)"))  # fmt: skip
    return found.text, notes


def drizzle_refusal(source: SourceFile, refused: set[Path]) -> runners.Runner | None:
    """Drizzle's refusal of the file's folder, whose journal lists a file the folder
    lacks, at the first file loaded from it (`refused`: the folders already reported)."""
    folder = source.path.parent
    if folder in refused or source.path.name not in (drizzle_journal(folder) or ()):
        return None
    missing = drizzle_missing(folder)
    if missing is None:
        return None
    refused.add(folder)
    shown = source.shown.rsplit("/", 1)[0] if "/" in source.shown else "."
    return runners.drizzle_missing_runner(shown, missing)


def failed_preconditions(loader: Loader, text: str, shown: str) -> tuple[str, list[Note]]:
    """A Liquibase changelog without the changesets whose preconditions fail on the
    schema the earlier files built and whose onFail skips them (MARK_RAN, CONTINUE), and
    a note for each. The checks run before the file's first changeset does (a check on
    what an earlier changeset of the same file makes is not seen); one the server
    rejects is onError's (HALT by default): the changeset is loaded."""
    changelog = liquibase.parse(text)
    idle = loader.connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    if changelog is None or not idle:
        return text, []
    skip: set[str] = set()
    notes = []
    for changeset in changelog.changesets:
        on_fail, checks = liquibase.preconditions(text, changeset)
        if on_fail not in liquibase.SKIPPING:
            continue
        for check in checks:
            try:
                row = loader.connection.execute(check.sql).fetchone()  # type: ignore[arg-type]
            except psycopg.Error:
                break
            got = liquibase.as_jdbc_string(row[0]) if row else "null"
            if got != check.expected:
                skip.add(changeset.label)
                why = (
                    f"changeset {changeset.label}: its precondition {check.kind} gives {got},"
                    f" not {check.expected}, on the schema built so far; onFail:{on_fail}:"
                    " Liquibase skips it, not loaded"
                )
                notes.append(Note(shown, changeset.line, why))
                break
    return (liquibase.without(text, frozenset(skip)) if skip else text), notes


def read_migration(source: SourceFile) -> tuple[str, Note | None]:
    """The file's text; or, where it cannot be read, a note that counts it as not
    checked, so that a gate does not pass a migration nobody looked at."""
    try:
        return source.path.read_text(encoding="utf-8-sig"), None
    except OSError as error:
        why = f"{source.shown} could not be read ({error.strerror or error})"
        return "", Note(source.shown, 1, f"not read: {why}", why, "make it readable")
    except UnicodeDecodeError as error:
        data = source.path.read_bytes()
        line = data.count(b"\n", 0, error.start) + 1
        bad = data[error.start : error.start + 3].hex(" ")
        why = f"{source.shown} is not UTF-8 text (bytes {bad} at line {line})"
        text = (
            f"not read: {why}; a UTF-8 server rejects such bytes from a UTF-8 client"
            ' ("invalid byte sequence for encoding "UTF8"")'
        )
        instead = "convert the file to UTF-8 (iconv -f LATIN1 -t UTF-8, or its real encoding)"
        return "", Note(source.shown, line, text, why, instead)


def pass_code_migrations(loader: Loader, code_migrations: list[CodeMigration]) -> list[Note]:
    """Tell the loader of code migrations that their tool runs at this point."""
    notes = []
    for code in code_migrations:
        try:
            text = code.source.path.read_text(encoding="utf-8", errors="replace")
        except OSError as error:
            notes.append(Note(code.source.shown, 1, f"not read: {error}"))
            text = ""
        loader.code_migration(code.source.shown, code.language, text)
    return notes


def take_snapshot(
    dsn: str, schemas: tuple[str, ...], probes: frozenset[str] | None, step: Progress
) -> Snapshot:
    connection = connect(dsn, Limits())
    try:
        return collect(connection, schemas, None, step, probes)
    finally:
        connection.close()


def with_review(snapshot: Snapshot, load: Load, notes: list[Note], new_from: int) -> Snapshot:
    """The snapshot with the rejected statements (those of the base too: they are the
    same before and after; and those that loaded here but that the transaction their
    migration tool runs them in rejects) and what the review did not check, as skipped
    parts."""
    rejected = [rejection(load, index) for index, outcome in enumerate(load.outcomes)
                if outcome.status == REJECTED or outcome.at_deploy is not None]  # fmt: skip
    skipped = [*snapshot.collection.skipped, *review_notes(load, notes, new_from)]
    collection = dataclasses.replace(snapshot.collection, skipped=skipped)
    return dataclasses.replace(snapshot, rejected_statements=rejected, collection=collection)


def rejection(load: Load, index: int) -> RejectedStatement:
    statement, outcome = load.statements[index], load.outcomes[index]
    error = outcome.at_deploy.error if outcome.at_deploy is not None else outcome.error
    assert error is not None
    error_at = None
    if error.position:
        line, column = statement.line_of(error.position)
        error_at = f"{statement.file}:{line}:{column}"
    lost = [f"{load.statements[n].where}: {load.statements[n].first_line}"
            for n in load.lost_to(index)]  # fmt: skip
    return RejectedStatement(
        file=statement.file,
        line=statement.line,
        column=statement.column,
        statement=statement.first_line,
        sqlstate=error.sqlstate,
        message=error.message,
        detail=error.detail,
        hint=error.hint,
        error_at=error_at,
        lost=lost,
        runner=outcome.at_deploy.runner.evidence() if outcome.at_deploy is not None else None,
    )


def review_notes(load: Load, notes: list[Note], new_from: int) -> list[dict[str, str]]:
    """What was not sent to the server or not checked, one entry each, in file order."""
    entries = [entry(note.where, note.text) | note_counted(note) for note in notes]
    outcomes = load.outcomes
    for index, outcome in enumerate(outcomes):
        statement = load.statements[index]
        if outcome.status == CODE:
            needing = [load.statements[n].where for n, o in enumerate(outcomes) if o.cause == index]
            text = f"{statement.first_line}, not run by review"
            if needing:
                shown = ", ".join(needing[:10]) + (", ..." if len(needing) > 10 else "")
                text += (
                    f"; not checked: {len(needing)} later statements that may rely on what it"
                    f" does (they fail on what no SQL file created, and it names): {shown}"
                )
            counted: dict[str, object] = {
                STATEMENTS_NOT_CHECKED: len(needing),
                "because": f"they may rely on {statement.file}, which review cannot run",
                CHECK_INSTEAD: "review the files after it with --base a database where it ran",
            }
            entries.append({**entry(statement.file, text), **(counted if needing else {})})
        elif outcome.status == SKIPPED and index >= new_from:
            entries.append(entry(statement.where, f"{outcome.reason}: {statement.first_line}"))
        elif outcome.status == UNCHECKED and outcome.cause is None:
            later = [n for n, o in enumerate(outcomes) if o.cause == index]
            needing = [load.statements[n].where for n in later]
            text = f"not checked: {outcome.reason}: {statement.first_line}"
            if needing:
                shown = ", ".join(needing[:10]) + (", ..." if len(needing) > 10 else "")
                text += f"; nor {len(needing)} later statements that need it: {shown}"
            counted = {
                STATEMENTS_NOT_CHECKED: 1 + len(needing),
                "because": outcome.reason,
            }
            if outcome.check_instead:
                counted[CHECK_INSTEAD] = outcome.check_instead
            schemas = set().union(*(placed_in(load.statements[n].node) for n in [index, *later]))
            if schemas:
                counted[SCHEMAS_NOT_CHECKED] = sorted(schemas)
            entries.append({**entry(statement.where, text), **counted})
    if load.roles_created:
        names = ", ".join(load.roles_created)
        entries.append(entry("roles", f"assumed to exist, created without login: {names}"))
    if not load.tracked:
        entries.append(entry("locations", "not recorded: event triggers need a superuser"))
    return entries


def note_counted(note: Note) -> dict[str, object]:
    """A file left unchecked counts as one statement not checked (what it holds is unknown)."""
    if note.unchecked_because is None:
        return {}
    return {
        STATEMENTS_NOT_CHECKED: 1,
        "because": note.unchecked_because,
        CHECK_INSTEAD: note.check_instead,
    }


def entry(where: str, text: str) -> dict[str, str]:
    return {"step": "review", "object": where, "reason": f"{where}: {text}"}


def loaded_whole(admin: str, dsn: str, base_dsn: str, dump: str, create_roles: bool) -> bool:
    """Load a base database's dump into the empty database at `dsn` through psql in one
    go (with the base's roles, where roles may be created); whether all of it ran. If
    not, the database is made anew (empty) for the statement-by-statement load; roles
    created before psql stopped remain, as the loader would create them anyway."""
    roles = dump_roles(pgserver_bin_dir(), base_dsn) if create_roles else ""
    if load_at_once(pgserver_bin_dir() / "psql", dsn, roles, dump):
        return True
    create_database(admin, conninfo.conninfo_to_dict(dsn)["dbname"], again=True)
    return False


def base_statistics(
    dsn: str, backfills: dict[int, transaction.Backfill]
) -> tuple[transaction.Sizes, dict[int, float]]:
    """The sizes of a base database's tables, from its catalog statistics, and the rows
    its planner estimates each bounded backfill matches, in a read-only session: what
    the migration rules weigh a lock's duration by."""
    connection = connect(dsn, Limits())
    try:
        return safety.table_sizes(connection), transaction.matched_rows(connection, backfills)
    finally:
        connection.close()


def dump_schema(dsn: str) -> str:
    """The schema of a live database as SQL, by the pg_dump that comes with pgserver."""
    try:
        conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as error:
        raise BadTarget(f"--base: invalid connection string: {scrub(str(error), dsn)}") from None
    return portable(pg_dump(pgserver_bin_dir(), dsn, "--schema-only"))


@contextmanager
def scratch_database(dsn: str) -> Iterator[str]:
    """A new, empty database on the server at `dsn`, dropped afterwards."""
    try:
        params = conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as error:
        raise BadTarget(f"--server: invalid connection string: {scrub(str(error), dsn)}") from None
    params.setdefault("connect_timeout", "10")
    name = f"pgvitals_review_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(**params, autocommit=True)
    except psycopg.OperationalError as error:
        reason = first_line(scrub(str(error), dsn))
        raise Unreachable(f"cannot connect to {describe(dsn)}: {reason}") from None
    with admin:
        try:
            create = sql.SQL("CREATE DATABASE {} TEMPLATE template0")
            admin.execute(create.format(sql.Identifier(name)))
        except psycopg.Error as error:
            raise Unreachable(
                f"cannot create a scratch database on {describe(dsn)}: {first_line(str(error))}"
            ) from None
        try:
            yield conninfo.make_conninfo(dsn, dbname=name)
        finally:
            drop_database(admin, name)
