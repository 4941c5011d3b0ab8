"""Which files a review loads, and in what order.

Migration tools name their files so that sorting them gives the order they run in,
but by numbers, not characters: `V10__x.sql` comes after `V2__y.sql`. Natural order
compares runs of digits as numbers. Tools that keep an up and a down migration side
by side (`0001_x.up.sql` / `0001_x.down.sql`, `2024_x/up.sql` / `down.sql`, Flyway's
`U2__undo.sql`, Sqitch's `revert/` and `verify/`) have their down parts left out:
a review loads the schema the migrations build, not the way back. pop's folders (Ory's)
hold every version for each database (`1_x.postgres.up.sql`, `1_x.mysql.up.sql`,
`1_x.up.sql` for all): only what PostgreSQL runs is loaded. Temporal's schema tool
runs, of a version's folder, the files its `manifest.json` lists, in that order.
Prisma runs the migrations beside its `migration_lock.toml` in the order of their
folders' names as plain strings, not natural order. Drizzle runs the files its
`meta/_journal.json` lists, in the journal's order, and no other file of the folder.
Liquibase runs the SQL files its master changelog (an XML, YAML or JSON changelog in the
folder) names by `include`, `includeAll` or `sqlFile`, in that order, and no others.

Some tools also run migrations written in code, kept beside the SQL ones and ordered
with them (goose's `<version>_<name>.go`, Concourse's `<version>_<name>.up.go`, Flyway's
`V3__x.java`, the data migrations formbricks keeps in Prisma's folder as
`<timestamp>_<name>/migration.ts`). Review cannot run them; it notes where each comes
between the SQL files, so that a statement that fails for want of what one of them does
is told from a statement that is wrong.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pgvitals.fmt import plural
from pgvitals.review import liquibase
from pgvitals.snapshot.model import EditedMigration

NATURAL, GIVEN = "natural", "given"

# A file or folder name that holds a migration's way back, never its way forward.
DOWN_FILE = re.compile(
    r"""^(?: down | rollback | revert | undo )\.sql$      # 2024_x/down.sql
      | [._-](?: down | rollback | revert | undo )\.sql$  # 0001_x.down.sql, 0001_x_down.sql
      | ^U\d[\w.]*__.*\.sql$                              # Flyway undo: U2__x.sql
    """,
    re.IGNORECASE | re.VERBOSE,
)
DOWN_FOLDERS = frozenset({"down", "revert", "rollback", "undo", "verify"})
# Migrations written as code that a tool runs between the SQL ones, by the tool's naming:
# goose's `<version>_<name>.go` (which registers itself with goose), Flyway's Java and
# Kotlin migrations `V<version>__<description>.java` (or compiled, `.class`).
GOOSE_CODE = re.compile(r"^\d+_[^/]*(?<!_test)\.go$")
# Concourse's `<version>_<name>.up.go` (concourse/concourse@95872ce,
# atc/db/migration/parser.go): its migrator sorts them with the SQL ones by version and
# calls the method the file defines, `Up_<digits>` (not always its version: files renamed
# to run later kept their method); its `.down.go` ones are the way back
CONCOURSE_CODE = re.compile(r"^\d+_[^/]*\.up\.go$")
CONCOURSE_METHOD = re.compile(r"^func\s*\([^)]*\)\s*Up_\d+\s*\(", re.MULTILINE)
FLYWAY_CODE = re.compile(r"^V\d[\w.]*__[^/]*\.(java|kt|class)$")
FLYWAY_VERSION = re.compile(r"(^|/)([VvUu])(\d+(?:[._]\d+)*)__")
LANGUAGES = {".go": "Go", ".java": "Java", ".kt": "Kotlin", ".class": "Java", ".py": "Python",
             ".ts": "TypeScript", ".js": "JavaScript"}  # fmt: skip
# A data migration in a Prisma migrations folder: a migration's folder that holds this
# instead of a migration.sql (formbricks' `<timestamp>_<name>/migration.ts`, which its
# runner interleaves with Prisma's SQL ones by folder name)
PRISMA_CODE = ("migration.ts", "migration.js")
# Source files a migrations folder may hold instead of SQL (Kong's `.lua`, Knex's `.js`,
# Sequelize's `.ts`, Rails' `.rb`, Ecto's `.exs`, ...): named when no SQL is found
CODE_SUFFIXES = frozenset(
    {".lua", ".go", ".java", ".kt", ".py", ".js", ".mjs", ".cjs", ".ts", ".rb", ".php",
     ".ex", ".exs", ".cs", ".rs", ".scala", ".clj"}
)  # fmt: skip
# Synapse's deltas in Python (`delta/<version>/<name>.py`), which its schema upgrade runs
# in name order beside the SQL ones of that version
SYNAPSE_CODE = re.compile(r"^\d[\w-]*\.py$")
SYNAPSE_HOOKS = ("def run_create(", "def run_upgrade(")
# pop's migrations (as Ory's popx names them): one folder holds each version for every
# database, `<version>_<name>[.<dialect>][.autocommit].(up|down).sql`; PostgreSQL runs
# the `.postgres.` file of a version, else the one without a dialect
POP_MIGRATION = re.compile(r"^(\d+)_([^.]+)(\.[a-z0-9]+)?(\.autocommit)?\.(up|down)\.sql$")
POP_DIALECTS = {"postgres": "postgres", "postgresql": "postgres", "pg": "postgres",
                "pgx": "postgres", "cockroach": "cockroach", "cockroachdb": "cockroach",
                "crdb": "cockroach", "mysql": "mysql", "sqlite3": "sqlite3",
                "sqlite": "sqlite3"}  # fmt: skip


class InputError(Exception):
    """A path to review does not exist or holds nothing to review (exit code 2)."""


@dataclass(frozen=True)
class SourceFile:
    path: Path
    shown: str  # as reported: relative to the working directory where possible
    sort_key: tuple  # natural order of its name within the argument it came from
    argument: int  # which PATH argument it came from
    # its path within that argument's folder (its name, for a file given by itself): how
    # the same migration is known in another copy of the folder (`--base main/migrations`)
    relative: str = ""
    # Liquibase: the changesets of the file that ran at the base and that Liquibase does
    # not run again (a file the branch adds changesets to), by author:id
    ran: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CodeMigration:
    """A migration written in code among the SQL files: review cannot run it."""

    source: SourceFile
    language: str  # Go, Java, Kotlin
    before: Path | None  # the SQL file it runs before; None: after all of them


@dataclass(frozen=True)
class PopMigration:
    version: str
    dialect: str | None  # pop's canonical name; None: for every database
    autocommit: bool
    direction: str


@dataclass(frozen=True)
class Selection:
    files: list[SourceFile]
    left_out: list[str]  # down migrations, as shown
    code: list[CodeMigration] = field(default_factory=list)
    not_run_by_tool: dict[str, str] = field(default_factory=dict)  # as shown -> why not
    # migrations the base holds with other text (run.new_files): not loaded
    edited: list[EditedMigration] = field(default_factory=list)


def pop_migration(name: str) -> PopMigration | None:
    """The file name as popx reads it (popx/match.go); None where it does not match or
    names a dialect pop does not know (popx ignores those files too)."""
    match = POP_MIGRATION.match(name)
    if match is None:
        return None
    part, autocommit = match.group(3), bool(match.group(4))
    dialect = None
    if part == ".autocommit":  # the dialect group took it: for every database
        autocommit = True
    elif part is not None:
        dialect = POP_DIALECTS.get(part[1:])
        if dialect is None:
            return None
    return PopMigration(match.group(1), dialect, autocommit, match.group(5))


@functools.cache
def pop_folder(folder: Path) -> bool:
    """Does a file of the folder name one of pop's dialects (Ory's migrations)?"""
    try:
        names = [item.name for item in folder.iterdir()]
    except OSError:
        return False
    return any((pop := pop_migration(name)) and pop.dialect for name in names)


def not_for_postgres(paths: list[Path]) -> dict[Path, str]:
    """Of pop's migrations, those PostgreSQL does not run, and why: another dialect's,
    and the file without a dialect where the version has a `.postgres.` one."""
    parsed = {path: pop_migration(path.name) for path in paths if pop_folder(path.parent)}
    specific = {(p.version, p.direction) for p in parsed.values() if p and p.dialect == "postgres"}
    left: dict[Path, str] = {}
    for path, pop in parsed.items():
        if pop is None:
            continue
        if pop.dialect not in (None, "postgres"):
            left[path] = f"pop migration for {pop.dialect}, not loaded"
        elif pop.dialect is None and (pop.version, pop.direction) in specific:
            left[path] = "pop runs the version's .postgres. file instead, not loaded"
    return left


def natural_key(text: str) -> tuple:
    """`V10__x` after `V2__y`: digits compare as numbers, the rest case-insensitively.
    A Flyway version ends at its `__` and its parts are numbers: `V1__x` (version 1)
    comes before `V1_1__y` (1.1), as Flyway runs them."""
    ordered = FLYWAY_VERSION.sub(
        lambda m: f"{m.group(1)}{m.group(2)}{m.group(3).replace('_', '.')}\x00", text
    )
    parts = re.split(r"(\d+)", ordered)
    folded = tuple(
        (0, int(part), "") if index % 2 else (1, 0, part.casefold())
        for index, part in enumerate(parts)
    )
    return (folded, text)  # the exact text only breaks ties


def shown(path: Path) -> str:
    """The path as a user (and code scanning) wants it: relative to the working
    directory when inside it, with forward slashes."""
    absolute = path.absolute()
    try:
        return absolute.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return absolute.as_posix()


def is_down(relative: Path) -> bool:
    return bool(DOWN_FILE.search(relative.name)) or any(
        part.lower() in DOWN_FOLDERS for part in relative.parts[:-1]
    )


def select(paths: list[Path], order: str = NATURAL) -> Selection:
    """The `.sql` files under `paths` in the order to load them.

    `natural`: all files sorted naturally by their path within the argument they came
    from (so `migrations/*.sql` expanded by a shell in character order still runs
    V2 before V10); ties keep the command-line order. `given`: the arguments in the
    order given, each folder's files in natural order. Any other value is a file
    listing the paths to load, one a line (relative to that file; `#` comments).
    A source file named alone (`db/*` expanded by a shell) is a migration in code where
    its folder would make it one, else left out: never read as SQL.
    """
    if order not in (NATURAL, GIVEN):
        return listed(Path(order))
    files: list[SourceFile] = []
    left_out: list[str] = []
    elsewhere: dict[str, str] = {}  # what the files' tool does not run (pop, Temporal)
    languages: dict[Path, str] = {}  # code migrations among the files -> their language
    prisma: dict[Path, dict[str, int] | None] = {}  # folder -> prisma_positions, read once
    for argument, path in enumerate(paths):
        if path.is_dir():
            found = sql_files_under(path)
            other = not_for_postgres(found)
            # a Liquibase master changelog in the folder: the files it runs, in its order
            master = liquibase.master_of(path)
            ran = {item: place for place, item in enumerate(master.order)} if master else {}
            for item in found:
                relative = item.relative_to(path)
                own = own_order(item.parent)
                if item.parent.parent not in prisma:
                    prisma[item.parent.parent] = prisma_positions(item.parent.parent)
                prisma_at = prisma[item.parent.parent]
                if is_down(relative):
                    left_out.append(shown(item))
                elif item in other:
                    elsewhere[shown(item)] = other[item]
                elif master is not None and item.resolve() not in ran:
                    why = f"not included by {master.path.name}: Liquibase does not run it"
                    elsewhere[shown(item)] = f"{why}, not loaded"
                elif own is not None and item.name not in own.positions:
                    elsewhere[shown(item)] = own.unlisted
                elif diesel_positions(item.parent) and not VERSIONED.match(item.name):
                    # a script beside Diesel's folders, in none (crates.io's hand-run
                    # backfill data_oauth_github.sql): Diesel runs folders only
                    elsewhere[shown(item)] = DIESEL_UNLISTED
                else:
                    name = relative.as_posix()
                    if master is not None:  # in the master changelog's order
                        name = str(ran[item.resolve()])
                    elif own is not None:  # in the order of the folder's own list
                        name = f"{relative.parent.as_posix()}/{own.positions[item.name]}"
                    elif prisma_at is not None and item.parent.name in prisma_at:
                        place = prisma_at[item.parent.name]
                        name = f"{relative.parent.parent.as_posix()}/{place}/{item.name}"
                    elif item.name == "up.sql" and DIESEL_FOLDER.match(item.parent.name):
                        place = diesel_positions(item.parent.parent)[item.parent.name]
                        name = f"{relative.parent.parent.as_posix()}/{place}/{item.name}"
                    key = natural_key(name)
                    files.append(SourceFile(item, shown(item), key, argument, relative.as_posix()))
            # the argument's folder, and each folder of its SQL files (Synapse's versions)
            for folder in sorted({path, *(item.parent for item in found)}):
                for item, language in code_migrations_in(folder).items():
                    key = natural_key(item.relative_to(path).as_posix())
                    files.append(SourceFile(item, shown(item), key, argument))
                    languages[item] = language
            # a Prisma folder's data migrations, at their folder's place among the SQL ones
            for folder in sorted({item.parent.parent for item in found}):
                for item, place in prisma_code_migrations(folder, prisma.get(folder)):
                    relative = item.relative_to(path)
                    name = f"{relative.parent.parent.as_posix()}/{place}/{item.name}"
                    files.append(SourceFile(item, shown(item), natural_key(name), argument))
                    languages[item] = LANGUAGES[item.suffix]
        elif path.is_file() and path.suffix.lower() in CODE_SUFFIXES:
            # named alone (`db/*` expanded by a shell): a migration in code where its
            # folder would make it one, other source code left out, never read as SQL
            language = code_migrations_in(path.parent).get(path.parent / path.name)
            if language is None:
                language = LANGUAGES.get(path.suffix.lower(), path.suffix)
                elsewhere[shown(path)] = f"{language} source code, not SQL: not loaded"
            else:
                files.append(SourceFile(path, shown(path), natural_key(path.name), argument))
                languages[path] = language
        elif path.is_file():
            files.append(SourceFile(path, shown(path), natural_key(path.name), argument, path.name))
        else:
            raise InputError(f"{path}: no such file or folder")
    if order == NATURAL:
        files.sort(key=lambda f: (f.sort_key, f.argument))
    else:
        files.sort(key=lambda f: (f.argument, f.sort_key))
    code: list[CodeMigration] = []
    sql_files: list[SourceFile] = []
    for item in files:
        if item.path in languages:
            code.append(CodeMigration(item, languages[item.path], None))
        else:
            # the code migrations waiting for a SQL file run before it
            code = [c if c.before else dataclasses.replace(c, before=item.path) for c in code]
            sql_files.append(item)
    if not sql_files:
        raise InputError(
            f"no .sql files in {', '.join(str(p) for p in paths)}{code_only_note(paths)}"
        )
    return Selection(sql_files, left_out, code, elsewhere)


def code_only_note(paths: list[Path]) -> str:
    """What the folders (or the files named) hold instead of SQL, where that is source
    code: migrations written in code (Kong's Lua files, each SQL in a `postgres = { up =
    [[...]] }` table; miniflux's migrations.go) that review cannot read or run, and what
    to give it instead. Empty otherwise."""
    counts: dict[str, int] = {}
    for path in paths:
        suffix = path.suffix.lower()
        if path.is_file() and suffix in CODE_SUFFIXES:
            counts[suffix] = counts.get(suffix, 0) + 1
        elif path.is_dir():
            for _root, _folders, names in os.walk(path, followlinks=False):
                for name in names:
                    suffix = os.path.splitext(name)[1].lower()
                    if suffix in CODE_SUFFIXES:
                        counts[suffix] = counts.get(suffix, 0) + 1
    if not counts:
        return ""
    held = ", ".join(plural(n, f"{suffix} file") for suffix, n in sorted(counts.items()))
    return (
        f"; found {held}: migrations written in code (miniflux's SQL in Go strings), which"
        " review cannot read or run: write the SQL they run out to .sql files, one per"
        " migration, named in their order, or check a database they built (pgvitals check DSN)"
    )


@dataclass(frozen=True)
class OwnOrder:
    """A folder's own list of the files its tool runs, in the order it runs them."""

    positions: dict[str, int]  # file name -> its place in the list
    unlisted: str  # why a file of the folder that the list does not name is not loaded


def own_order(folder: Path) -> OwnOrder | None:
    """The order a folder's own list gives its files (Temporal's manifest.json, Drizzle's
    journal): its tool runs those files only, in that order; None where it has none."""
    if (listed := manifest_positions(folder)) is not None:
        return OwnOrder(listed, "not in its folder's manifest.json, not loaded")
    if (listed := drizzle_positions(folder)) is not None:
        return OwnOrder(listed, DRIZZLE_UNLISTED)
    return None


def read_json(path: Path) -> object:
    """A JSON file's value; None where it cannot be read or is not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def places(names: Iterable[str]) -> dict[str, int]:
    return {name: place for place, name in enumerate(names)}


@functools.cache
def manifest_positions(folder: Path) -> dict[str, int] | None:
    """The files a Temporal schema version's `manifest.json` lists, with their place in
    its order (temporalio/temporal@6805cae, tools/common/schema/updatetask.go runs those
    only); None where the folder has no such manifest."""
    manifest = read_json(folder / "manifest.json")
    listed = manifest.get("SchemaUpdateCqlFiles") if isinstance(manifest, dict) else None
    return places(map(str, listed)) if isinstance(listed, list) else None


DRIZZLE_JOURNAL = "meta/_journal.json"
DRIZZLE_UNLISTED = f"not in its folder's {DRIZZLE_JOURNAL}: Drizzle does not run it, not loaded"
DRIZZLE_DIALECTS = frozenset({"postgresql", "pg"})  # drizzle-kit's names, new and old


@functools.cache
def drizzle_journal(folder: Path) -> dict[str, int] | None:
    """The files a Drizzle migrations folder's `meta/_journal.json` lists, in its order,
    with their `when` (drizzle-team/drizzle-orm@b786252, drizzle-orm/src/migrator.ts
    readMigrationFiles runs `<tag>.sql` for each entry, in the journal's order, and no
    other file); None where the folder has no PostgreSQL journal."""
    journal = read_json(folder / DRIZZLE_JOURNAL)
    if not isinstance(journal, dict):
        return None
    if journal.get("dialect", "postgresql") not in DRIZZLE_DIALECTS:
        return None
    entries = journal.get("entries")
    if not isinstance(entries, list):
        return None
    listed = [entry for entry in entries if isinstance(entry, dict)]
    return {
        f"{entry['tag']}.sql": entry.get("when") if isinstance(entry.get("when"), int) else 0
        for entry in listed
        if isinstance(entry.get("tag"), str)
    }


@functools.cache
def drizzle_positions(folder: Path) -> dict[str, int] | None:
    """The files a Drizzle folder's journal lists, with their place in its order."""
    listed = drizzle_journal(folder)
    return None if listed is None else places(listed)


def drizzle_missing(folder: Path) -> str | None:
    """The first file a Drizzle folder's journal lists that the folder lacks: drizzle-orm's
    readMigrationFiles (migrator.ts) reads every listed `<tag>.sql` before migrate() runs
    any, and throws at the first it cannot read; None where none is missing."""
    for name in drizzle_journal(folder) or ():
        if not (folder / name).is_file():
            return name
    return None


def prisma_positions(folder: Path) -> dict[str, int] | None:
    """The migration folders of a Prisma migrations folder (the one holding its
    `migration_lock.toml`), with their place in the order Prisma applies them: names
    compared as plain strings (prisma/prisma, `listMigrations`: "sorted lexicographically
    by name"), so `20250502154530900_x` runs before `20250505135207_y` and `10_x` before
    `9_y`, where natural order has them the other way round. None for any other folder."""
    if not (folder / "migration_lock.toml").is_file():
        return None
    return places(sorted(entry.name for entry in folder.iterdir() if entry.is_dir()))


# a Diesel migration's folder: `<version>_<name>` holding up.sql (2024-01-01-000000_x,
# 00000000000000_x, the older 20140924113530_x)
DIESEL_FOLDER = re.compile(r"^\d[\d-]*_")


def diesel_version(name: str) -> str:
    """The version Diesel reads from a migration folder's name: the part before its first
    `_`, every `-` taken out (diesel-rs/diesel, migrations_internals version_from_string)."""
    return name.split("_", 1)[0].replace("-", "")


# a file name that carries a migration's version (`0003_x.up.sql`, Flyway's `V2__x.sql`,
# `R__x.sql`): some tool runs it, whichever folders lie beside it
VERSIONED = re.compile(r"\d|[VR]\d|R__", re.IGNORECASE)
DIESEL_UNLISTED = (
    "beside Diesel's migration folders, in none of them: Diesel does not run it, not loaded"
)


@functools.cache
def diesel_positions(folder: Path) -> dict[str, int]:
    """The Diesel migration folders of `folder`, with their place in the order Diesel runs
    them: by version compared as strings (MigrationVersion's Ord), so crates.io's
    20140924113530_dumped_migration_1 runs before 2017-08-31-230457_invitations, where
    natural order reads the latter's version as 2017 and puts it first."""
    names = [
        entry.name
        for entry in folder.iterdir()
        if entry.is_dir() and DIESEL_FOLDER.match(entry.name) and (entry / "up.sql").is_file()
    ]
    return places(sorted(names, key=lambda name: (diesel_version(name), name)))


def prisma_code_migrations(
    folder: Path, positions: dict[str, int] | None
) -> list[tuple[Path, int]]:
    """The data migrations of a Prisma migrations folder, with their folder's place in
    its order: each migration folder with a `migration.ts` (or `.js`) and no
    `migration.sql`, as formbricks keeps them (packages/database/migration/<timestamp>_
    <name>/migration.ts, run by its migration-runner between the SQL migrations in the
    order of the folders' names). None for a folder that is not Prisma's."""
    found: list[tuple[Path, int]] = []
    for name, place in (positions or {}).items():
        if (folder / name / "migration.sql").exists():
            continue
        for code in PRISMA_CODE:
            if (folder / name / code).is_file():
                found.append((folder / name / code, place))
                break
    return found


def code_migrations_in(folder: Path) -> dict[Path, str]:
    """The migrations written in code in `folder` itself (where its tool keeps them beside
    the SQL ones), with their language: goose's Go files that register with goose,
    Concourse's, Flyway's Java and Kotlin ones, and Synapse's Python deltas."""
    found: dict[Path, str] = {}
    try:
        items = sorted(folder.iterdir())
    except OSError:
        return found
    for item in items:
        if not item.is_file():
            continue
        if concourse_code(item):
            found[item] = LANGUAGES[".go"]
        elif GOOSE_CODE.match(item.name):
            try:
                registers = "goose" in item.read_text(encoding="utf-8", errors="replace")
            except OSError:
                registers = False
            if registers:
                found[item] = LANGUAGES[".go"]
        elif FLYWAY_CODE.match(item.name):
            found[item] = LANGUAGES[item.suffix]
        elif SYNAPSE_CODE.match(item.name) and folder.name.isdigit():
            try:
                hooked = any(h in item.read_text(encoding="utf-8", errors="replace")
                             for h in SYNAPSE_HOOKS)  # fmt: skip
            except OSError:
                hooked = False
            if hooked:
                found[item] = LANGUAGES[".py"]
    return found


def concourse_code(item: Path) -> bool:
    """Is `item` a Concourse Go migration: `<version>_<name>.up.go` defining the method
    `Up_<digits>` that Concourse's migrator calls?"""
    if not CONCOURSE_CODE.match(item.name):
        return False
    try:
        text = item.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return CONCOURSE_METHOD.search(text) is not None


@functools.cache
def concourse_folder(folder: Path) -> bool:
    """Does `folder` hold a Concourse Go migration (so its SQL ones are Concourse's too)?"""
    try:
        return any(concourse_code(item) for item in folder.glob("*.up.go"))
    except OSError:
        return False


# Synapse's deltas for PostgreSQL only (`.sql.sqlite` ones are SQLite's): its engine
# runs them in name order beside the `.sql` ones of their version
POSTGRES_ONLY = ".sql.postgres"


def sql_files_under(folder: Path) -> list[Path]:
    """The `.sql` (and `.sql.postgres`) files below `folder`, through linked folders too
    (a migrations folder assembled from symlinks to each service's), each real folder
    once: a link back up the tree is not followed round."""
    found: list[Path] = []
    visited: set[str] = set()
    for root, folders, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in visited:
            folders[:] = []
            continue
        visited.add(real)
        found += [Path(root, name) for name in names if name.endswith((".sql", POSTGRES_ONLY))]
    return sorted(path for path in found if path.is_file())


def listed(order_file: Path) -> Selection:
    """The files an order file names, in its order."""
    try:
        lines = order_file.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise InputError(f"--order {order_file}: {error.strerror}") from None
    files = []
    for number, line in enumerate(lines, start=1):
        name = line.split("#", 1)[0].strip()
        if not name:
            continue
        path = order_file.parent / name
        if not path.is_file():
            raise InputError(f"{order_file}:{number}: {name}: no such file")
        files.append(SourceFile(path, shown(path), (number,), 0))
    if not files:
        raise InputError(f"--order {order_file} names no files")
    return Selection(files, [])
