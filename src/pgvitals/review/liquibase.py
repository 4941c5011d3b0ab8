"""Liquibase's formatted SQL changelogs: which changesets it runs on PostgreSQL, in what
transactions, and where it cuts their SQL into statements.

Read in liquibase/liquibase@cdbdec7 (liquibase-standard/src/main/java/liquibase/...):
parser/AbstractFormattedChangeLogParser.java and parser/core/formattedsql/
FormattedSqlChangeLogParser.java (the file format), changelog/ChangeSet.java execute
(transactions), changelog/filter/DbmsChangeSetFilter.java and database/DatabaseList.java
(dbms), change/AbstractSQLChange.java generateStatements, util/StringUtil.java
processMultiLineSQL and isDelimiter, and javacc/.../SimpleSqlGrammar.jj (its tokens).

- A file is formatted SQL when its first non-blank line is `--liquibase formatted sql`
  (`--\\s*liquibase\\s*formatted`, any case). Its changesets begin at each `--changeset
  <author>:<id> [attribute:value ...]` line and run to the next; nothing before the first
  changeset is run. `--rollback`, `--comment`, `--precondition*`, `--validCheckSum` lines
  and `/* liquibase rollback ... */` blocks are not part of the changeset's SQL (they are
  comments to psql too); `--ignoreLines:start` ... `--ignoreLines:end` (or `:<count>`)
  are not read at all.
- `dbms:` lists the databases a changeset is for (`postgresql`, `!h2`, `all`, `none`);
  one that does not match `postgresql` is skipped on PostgreSQL. A changeset whose
  `--preconditions onFail:MARK_RAN` (or `CONTINUE`) and `--precondition-sql-check
  expectedResult:<v> <query>` (or `-table-exists`, `-view-exists`) fail is skipped too
  (precondition/core/SqlPrecondition.java compares the query's first value as a string).
- Each changeset runs in a transaction of its own (auto-commit off, committed with its
  row in databasechangelog), unless `runInTransaction:false`: its statements then run
  one by one with auto-commit.
- Its SQL is cut into statements by Liquibase's own tokenizer, which knows quoted strings
  and comments but not dollar quotes: at every `;`, and at `GO` or `/` at the start of a
  line, except while a `BEGIN` (not `BEGIN TRANSACTION`) is open up to its `END` (any
  `END`: `END IF` and `END LOOP` close it too). A PL/pgSQL body with `DECLARE x int;`,
  or a `;` after its `END IF`, is cut there, and PostgreSQL rejects the first piece
  (an unterminated dollar-quoted string). `splitStatements:false` sends the changeset's
  SQL whole, as one string; `endDelimiter:<x>` cuts at `<x>` (a regular expression when
  longer than one character) instead of `;`. Each piece is one JDBC execute: several
  statements in one run as one implicit transaction.
"""

from __future__ import annotations

import bisect
import functools
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

HEADER = re.compile(r"\s*--\s*liquibase\s*formatted.*", re.IGNORECASE)
CHANGESET = re.compile(r'\s*--[\s]*changeset\s+("[^"]+"|[^:]+):\s*("[^"]+"|\S+).*', re.IGNORECASE)
IGNORE_LINES = re.compile(r"--[\s]*ignoreLines:(\w+)", re.IGNORECASE)
ROLLBACK_BLOCK_START = re.compile(r"\s*/\*\s*liquibase\s*rollback\s*", re.IGNORECASE)
ROLLBACK_BLOCK_END = re.compile(r".*\s*\*/\s*")
# the changeset line's attributes, as Liquibase matches them (the last one wins)
ATTRIBUTE = {
    name: re.compile(rf".*{prefix}{name}:{value}.*", re.IGNORECASE)
    for name, prefix, value in (
        ("runInTransaction", "", r"(\w+)"),
        ("splitStatements", "", r"(\w+)"),
        ("endDelimiter", r"\b", r"(\S*)"),
        ("dbms", "", r"([^,][\w!,]+)"),
        ("stripComments", "", r"(\w+)"),
        ("runAlways", "", r"(\w+)"),
        ("runOnChange", "", r"(\w+)"),
    )
}
POSTGRESQL = "postgresql"  # Liquibase's short name for the database


@dataclass(frozen=True)
class Changeset:
    label: str  # author:id
    line: int  # 1-based, of its `--changeset` line
    start: int  # offset of that line
    body: int  # offset of the line after it
    stop: int  # offset where the next changeset (or the file) begins
    in_transaction: bool
    split: bool
    end_delimiter: str | None
    strip_comments: bool
    dbms: str | None
    run_always: bool
    run_on_change: bool

    @property
    def on_postgresql(self) -> bool:
        return dbms_matches(self.dbms)


def dbms_matches(dbms: str | None) -> bool:
    """DatabaseList.definitionMatches for `postgresql` (no dbms: every database)."""
    if dbms is None:
        return True
    names = {name.strip() for name in dbms.lower().split(",")}
    if "all" in names:
        return True
    if "none" in names or f"!{POSTGRESQL}" in names:
        return False
    wanted = {name for name in names if not name.startswith("!")}
    return not wanted or POSTGRESQL in wanted


@dataclass(frozen=True)
class Changelog:
    changesets: list[Changeset]
    not_read: list[tuple[int, int]]  # offsets Liquibase skips: `--ignoreLines` regions
    sql_lines: list[tuple[int, int]]  # offsets of the lines that are a changeset's SQL
    first: int  # offset of the first changeset (nothing before it runs)

    @functools.cached_property
    def sql_starts(self) -> frozenset[int]:
        return frozenset(start for start, _ in self.sql_lines)

    @functools.cached_property
    def starts(self) -> list[int]:
        return [changeset.start for changeset in self.changesets]

    def changeset_at(self, offset: int) -> Changeset | None:
        place = bisect.bisect_right(self.starts, offset) - 1
        if place >= 0 and offset < self.changesets[place].stop:
            return self.changesets[place]
        return None


def is_formatted(text: str) -> bool:
    """Is `text` a formatted SQL changelog (its first non-blank line Liquibase's header)?"""
    for line in text.splitlines():
        if line.strip():
            return HEADER.fullmatch(line) is not None
    return False


def attribute(line: str, name: str) -> str | None:
    found = ATTRIBUTE[name].fullmatch(line)
    return found.group(1) if found else None


def flag(line: str, name: str, default: bool) -> bool:
    value = attribute(line, name)
    return default if value is None else value.lower() == "true"  # Boolean.parseBoolean


@functools.lru_cache(maxsize=16)  # asked of one file by each step of a review
def parse(text: str) -> Changelog | None:
    """The changesets of a formatted SQL changelog; None for another file."""
    if not is_formatted(text):
        return None
    starts: list[tuple[int, int, str]] = []  # (offset, line number, line) of changesets
    not_read: list[tuple[int, int]] = []
    sql_lines: list[tuple[int, int]] = []
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    number, in_rollback = 0, False
    while number < len(lines):
        line, start = lines[number].rstrip("\r"), offsets[number]
        ignore = IGNORE_LINES.fullmatch(line)
        if ignore is not None:
            count = ignore.group(1)
            stop = number + 1
            if count == "start":
                while stop < len(lines) and not is_ignore_end(lines[stop]):
                    stop += 1
                stop += 1
            elif count.isdigit():
                stop += int(count)
            not_read.append((start, offsets[min(stop, len(lines))]))
            number = stop
            continue
        if in_rollback:
            in_rollback = ROLLBACK_BLOCK_END.fullmatch(line) is None
        elif CHANGESET.fullmatch(line):
            starts.append((start, number + 1, line))
        elif starts and ROLLBACK_BLOCK_START.fullmatch(line):
            in_rollback = True
        elif starts and not is_directive(line):
            sql_lines.append((start, offsets[number + 1] - 1))
        number += 1
    stops = [start for start, _, _ in starts[1:]] + [len(text)]
    changesets = [
        changeset(line, number, start, start + len(line) + 1, stop)
        for (start, number, line), stop in zip(starts, stops, strict=True)
    ]
    first = starts[0][0] if starts else len(text)
    return Changelog(changesets, not_read, sql_lines, first)


def is_ignore_end(line: str) -> bool:
    found = IGNORE_LINES.fullmatch(line.rstrip("\r"))
    return found is not None and found.group(1) == "end"


DIRECTIVE = re.compile(
    r"\s*--[\s]*(?:rollback |comment:? |precondition|validCheckSum:? ).*", re.IGNORECASE
)


def is_directive(line: str) -> bool:
    """A line of the changeset Liquibase reads as its own, not as SQL."""
    return DIRECTIVE.fullmatch(line) is not None


def changeset(line: str, number: int, start: int, body: int, stop: int) -> Changeset:
    found = CHANGESET.fullmatch(line)
    assert found is not None
    author, ident = (part.strip('"') for part in found.groups())
    return Changeset(
        label=f"{author.strip()}:{ident}",
        line=number,
        start=start,
        body=min(body, stop),
        stop=stop,
        in_transaction=flag(line, "runInTransaction", True),
        split=flag(line, "splitStatements", True),
        end_delimiter=attribute(line, "endDelimiter"),
        strip_comments=flag(line, "stripComments", True),
        dbms=attribute(line, "dbms"),
        run_always=flag(line, "runAlways", False),
        run_on_change=flag(line, "runOnChange", False),
    )


# --- preconditions ----------------------------------------------------------------

PRECONDITIONS = re.compile(r"\s*--[\s]*preconditions(.*)", re.IGNORECASE)
PRECONDITION = re.compile(r"\s*--[\s]*precondition-([a-zA-Z0-9-]+) (.*)", re.IGNORECASE)
ON_FAIL = re.compile(r".*onFail:(\w+).*", re.IGNORECASE)
EXPECTED = (  # FormattedSqlChangeLogParser's WORD_AND_QUOTING_PATTERNS, in its order
    re.compile(r"^(?:expectedResult:)?(\w+) (.*)", re.IGNORECASE),
    re.compile(r"^(?:expectedResult:)?'([^']+)' (.*)", re.IGNORECASE),
    re.compile(r'^(?:expectedResult:)?"([^"]+)" (.*)', re.IGNORECASE),
)
NAMED = {
    kind: re.compile(rf".*{kind}:(\w+).*", re.IGNORECASE) for kind in ("table", "view", "schema")
}
SKIPPING = frozenset({"MARK_RAN", "CONTINUE"})  # onFail values that skip the changeset


@dataclass(frozen=True)
class Check:
    kind: str  # sql-check, table-exists or view-exists
    sql: str  # what the review server runs: a query whose first value is compared
    expected: str


def preconditions(text: str, changeset: Changeset) -> tuple[str, list[Check]]:
    """The changeset's onFail (HALT by default) and its checks (all must pass)."""
    on_fail, checks = "HALT", []
    for line in text[changeset.body : changeset.stop].split("\n"):
        if found := PRECONDITIONS.fullmatch(line):
            if option := ON_FAIL.fullmatch(found.group(1)):
                on_fail = option.group(1).upper()
        elif (found := PRECONDITION.fullmatch(line)) and (
            check := precondition_check(found.group(1).lower(), found.group(2).strip())
        ):
            checks.append(check)
    return on_fail, checks


def precondition_check(kind: str, body: str) -> Check | None:
    if kind == "sql-check":
        for pattern in EXPECTED:
            if found := pattern.match(body):
                return Check(kind, found.group(2).strip().removesuffix(";"), found.group(1))
        return None
    if kind in ("table-exists", "view-exists"):
        name = NAMED["table" if kind == "table-exists" else "view"].fullmatch(body)
        schema = NAMED["schema"].fullmatch(body)
        if name is None:
            return None
        relkinds = "'r', 'p'" if kind == "table-exists" else "'v', 'm'"
        where = f"lower(c.relname) = lower('{name.group(1)}')"
        if schema is not None:
            where += f" AND lower(n.nspname) = lower('{schema.group(1)}')"
        else:
            where += " AND n.oid = ANY (pg_catalog.current_schemas(false)::regnamespace[])"
        sql = (
            "SELECT count(*) > 0 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n"
            f" ON n.oid = c.relnamespace WHERE c.relkind IN ({relkinds}) AND {where}"
        )
        return Check(kind, sql, "t")
    return None


def as_jdbc_string(value: object) -> str:
    """The value as the JDBC driver's getString gives it (a boolean as t or f)."""
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


# --- what ran at the base -----------------------------------------------------------


def ran_unchanged(text: str, before: str) -> set[str] | None:
    """Where a changelog the base ran (`before`) only gained changesets, or changed ones
    Liquibase runs again (`runOnChange:true`, `runAlways:true`): the changesets that ran
    at the base and that Liquibase does not run again. Liquibase tracks each changeset by
    author:id with a checksum of its SQL (whitespace aside: AbstractSQLChange's
    NormalizingStream), not the file. None where a changeset the base ran was edited (its
    checksum validation then refuses the whole update), or for other files."""
    new, old = parse(text), parse(before)
    if new is None or old is None:
        return None
    old_sql = {c.label: checksummed(before, c) for c in old.changesets}
    ran: set[str] = set()
    for changeset in new.changesets:
        if changeset.label not in old_sql:
            continue  # new: runs
        if changeset.run_always:
            continue  # runs on every update
        if checksummed(text, changeset) == old_sql[changeset.label]:
            ran.add(changeset.label)
        elif not changeset.run_on_change:
            return None
    return ran


def runs_always(text: str) -> bool:
    """Does the changelog hold a changeset Liquibase runs on every update (runAlways)?"""
    changelog = parse(text)
    return changelog is not None and any(
        changeset.run_always and changeset.on_postgresql for changeset in changelog.changesets
    )


def checksummed(text: str, changeset: Changeset) -> str:
    """The changeset's SQL as its checksum sees it: without whitespace."""
    sql = masked(text)[changeset.body : changeset.stop]
    return re.sub(r"\s+", "", sql)


def without(text: str, labels: frozenset[str]) -> str:
    """`text` with the changesets `labels` blanked (their lines kept)."""
    changelog = parse(text)
    if changelog is None:
        return text
    chars = list(text)
    for changeset in changelog.changesets:
        if changeset.label in labels:
            for offset in range(changeset.start, changeset.stop):
                if chars[offset] != "\n":
                    chars[offset] = " "
    return "".join(chars)


# --- Liquibase's tokens and statement cuts ------------------------------------------

WHITESPACE = re.compile(
    r"[ \t\n\r\u0085\u00a0\u1680\u180e\u2000-\u200d\u2028\u2029\u202f\u205f\u2060\u3000\ufeff]+"
)
LETTER = r"[A-Za-z$_@#\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u1fff\u3040-\uffef]"
IDENTIFIER = rf"(?:{LETTER}[\w$@#\u00c0-\uffef]*)"
QUOTED_IDENTIFIER = r'(?:"[^\n\r"]+"|`[^\n\r`]+`|\[[^0-9\]][^\n\r\]]*\])'
NAME = f"(?:{IDENTIFIER}|{QUOTED_IDENTIFIER})"
COMPLEX = re.compile(rf"{NAME}(?:[\r\n ]*\.[\r\n ]*{NAME})*")
NUMBER = re.compile(r"\d*\.\d+(?:[eE][+-]?\d+)?|\d+\.(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\d+")
LITERAL_PREFIX = re.compile(r"(?:RB|_utf8|[UENRB])?(?=['\"])", re.IGNORECASE)
ORACLE_Q = re.compile(r"N?Q'[^ \t\n\r]", re.IGNORECASE)
CLOSERS = {"[": "]", "{": "}", "(": ")", "<": ">"}


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    kind: str  # "space", "comment" or "word"


def tokens(text: str, start: int, stop: int) -> list[Token]:
    """SimpleSqlGrammar's tokens of text[start:stop] (longest match, as JavaCC's)."""
    found: list[Token] = []
    at = start
    while at < stop:
        end, kind = token_end(text, at, stop)
        found.append(Token(text[at:end], at, kind))
        at = end
    return found


def token_end(text: str, at: int, stop: int) -> tuple[int, str]:
    if space := WHITESPACE.match(text, at, stop):
        return space.end(), "space"
    if text.startswith("--", at):
        newline = re.compile(r"[\r\n]").search(text, at, stop)
        return (newline.start() if newline else stop), "comment"
    if text.startswith("/*", at):
        close = text.find("*/", at + 2, stop)
        if close >= 0:
            return close + 2, "comment"
    if (quoted := ORACLE_Q.match(text, at, stop)) is not None:
        closer = CLOSERS.get(text[quoted.end() - 1], text[quoted.end() - 1])
        close = text.find(closer + "'", quoted.end(), stop)
        return (close + 2 if close >= 0 else stop), "word"
    candidates = [stop_of_literal(text, at, stop)]
    if (word := COMPLEX.match(text, at, stop)) is not None:
        candidates.append(word.end())
    if (number := NUMBER.match(text, at, stop)) is not None:
        candidates.append(number.end())
    end = max(candidates)
    return (end, "word") if end > at else (at + 1, "word")  # a symbol: one character


def stop_of_literal(text: str, at: int, stop: int) -> int:
    """The end of a quoted literal at `at` (with its prefix), its longest valid match;
    `at` where there is none (an unterminated quote is a symbol of its own)."""
    prefix = LITERAL_PREFIX.match(text, at, stop)
    if prefix is None:
        return at
    position = prefix.end()
    quote = text[position]
    position += 1
    last = at
    while position < stop:
        char = text[position]
        if char == "\\" and position + 1 < stop:
            if text[position + 1] == quote:
                last = position + 2  # `\'` may close it too
            position += 2
        elif char == quote:
            last = position + 1
            if position + 1 < stop and text[position + 1] == quote:
                position += 2  # a doubled quote: longer, if it closes later
                continue
            return last
        else:
            position += 1
    return last


@dataclass(frozen=True)
class Piece:
    start: int
    stop: int  # where the delimiter begins (or the changeset's SQL ends)
    line: int  # the line of the delimiter that ends it (1-based)


def pieces(text: str, changeset: Changeset) -> list[Piece]:
    """The statements Liquibase sends for the changeset, as offsets of `text`: its SQL
    lines cut by processMultiLineSQL (see the module's docstring)."""
    masked_sql = masked(text)
    begin = changeset.body
    stop = changeset.stop
    if not changeset.split:
        return [Piece(begin, stop, line_of(text, stop))]
    delimiter = changeset.end_delimiter
    if delimiter is None and masked_sql[begin:stop].rstrip().endswith("\n/"):
        delimiter = "\n/$"  # isNotEndDelimiter: SQL that ends in a line of `/`
    found = [t for t in tokens(masked_sql, begin, stop)
             if not (changeset.strip_comments and t.kind == "comment")]  # fmt: skip
    found = merged(found, delimiter)
    result: list[Piece] = []
    current = begin
    previous: str | None = None
    nesting = 0
    for index, token in enumerate(found):
        word = token.text
        following = next_word(found, index)
        if word.lower() == "begin" and following not in BEGIN_NOT_BLOCK:
            nesting += 1
        if word.lower() == "end" and nesting > 0 and following not in END_NOT_BLOCK:
            nesting -= 1
        if nesting == 0 and is_delimiter(word, previous, delimiter):
            result.append(Piece(current, token.start, line_of(text, token.start)))
            current = token.start + len(word)
        previous = word
    result.append(Piece(current, stop, line_of(text, stop)))
    return [piece for piece in result if masked_sql[piece.start : piece.stop].strip()]


BEGIN_NOT_BLOCK = frozenset(
    {"transaction", "trans", "tran", "dialog", "conversation", "distributed"}
)
END_NOT_BLOCK = frozenset({"transaction", "trans", "tran"})


def next_word(found: list[Token], index: int) -> str | None:
    for token in found[index + 1 :]:
        if token.text.strip():
            return token.text.strip().lower()
    return None


def merged(found: list[Token], delimiter: str | None) -> list[Token]:
    """StringUtil.mergeTokens: consecutive tokens that spell the end delimiter, as one."""
    if delimiter is None:
        return found
    result: list[Token] = []
    pending: list[Token] = []
    for token in found:
        if not pending:
            if delimiter.startswith(token.text):
                pending.append(token)
            else:
                result.append(token)
            continue
        spelled = "".join(t.text for t in pending) + token.text
        if spelled == delimiter:
            result.append(Token(spelled, pending[0].start, "word"))
            pending = []
        elif delimiter.startswith(spelled):
            pending.append(token)
        else:
            result += [*pending, token]
            pending = []
    return result + pending


def is_delimiter(piece: str, previous: str | None, delimiter: str | None) -> bool:
    """StringUtil.isDelimiter (outside strict mode)."""
    at_line_start = previous is None or previous.endswith("\n")
    if delimiter is None:
        return piece == ";" or ((piece.lower() == "go" or piece == "/") and at_line_start)
    if len(delimiter) == 1:
        if delimiter == "/" and not at_line_start:
            return False
        return piece.lower() == delimiter.lower()
    if piece.lower() == delimiter.lower():
        return True
    pattern = r"[\s\n\r]*" + delimiter.lower()
    try:
        return re.fullmatch(pattern, (str(previous) + piece).lower()) is not None
    except re.error:
        return False


@functools.lru_cache(maxsize=4)  # asked for each changeset: made once per changelog
def masked(text: str) -> str:
    """`text` with the lines of its changesets that are not their SQL blanked (offsets
    kept); the text unchanged where it is no changelog."""
    changelog = parse(text)
    if changelog is None:
        return text
    sql_starts = changelog.sql_starts
    parts, done = [], 0
    for changeset in changelog.changesets:
        parts.append(text[done : changeset.body])
        lines, position = [], changeset.body
        for line in text[changeset.body : changeset.stop].split("\n"):
            lines.append(line if position in sql_starts else " " * len(line))
            position += len(line) + 1
        parts.append("\n".join(lines))
        done = changeset.stop
    return "".join(parts) + text[done:]


def line_of(text: str, offset: int) -> int:
    return bisect.bisect_right(line_starts(text), offset)


@functools.lru_cache(maxsize=8)
def line_starts(text: str) -> list[int]:
    return [0] + [found.end() for found in re.finditer("\n", text)]


# --- changelog properties: `${name}` -------------------------------------------------

# a `--property name:<n> value:<v>` line (AbstractFormattedChangeLogParser PROPERTY_REGEX,
# NAME_REGEX, VALUE_REGEX: neither name nor value holds a space)
PROPERTY = re.compile(r"\s*--[\s]*property\s+(.*:.*)\s+(.*:.*).*", re.IGNORECASE)
PROPERTY_NAME = re.compile(r".*name:\s*(\S+).*", re.IGNORECASE)
PROPERTY_VALUE = re.compile(r".*value:\s*(\S+).*", re.IGNORECASE)
# an expression as ExpressionExpander reads it (one level: a value holding `${...}` is
# expanded again)
EXPRESSION = re.compile(r"\$\{([^{}]*)\}")
# the `database.*` parameters Liquibase sets from the database it runs on (PostgreSQL,
# its default schema and tables)
DATABASE_PARAMETERS = {
    "database.typename": "postgresql",
    "database.defaultschemaname": "public",
    "database.liquibaseschemaname": "public",
    "database.databasechangelogtablename": "databasechangelog",
    "database.databasechangeloglocktablename": "databasechangeloglock",
    "database.currentdatetimefunction": "NOW()",
}
PROPERTIES_FILE = "liquibase.properties"
SPRING_PARAMETER = re.compile(r"^\s*spring\.liquibase\.parameters\.([^=:\s]+)\s*[=:]\s*(.*?)\s*$")
DEFAULTS_PARAMETER = re.compile(r"^\s*parameter\.([^=:\s]+)\s*[=:]\s*(.*?)\s*$")


@dataclass(frozen=True)
class Expanded:
    text: str
    used: dict[str, str]  # name -> where its value came from
    unknown: list[str]  # names with no value review found, left as Liquibase leaves them


def property_lines(text: str) -> list[tuple[int, str, str]]:
    """The file's `--property` lines on PostgreSQL: (offset, name, value)."""
    found, offset = [], 0
    for line in text.splitlines(keepends=True):
        if PROPERTY.fullmatch(line.rstrip("\r\n")):
            name, value = PROPERTY_NAME.match(line), PROPERTY_VALUE.match(line)
            dbms = ATTRIBUTE["dbms"].match(line)
            if name and value and (dbms is None or dbms_matches(dbms.group(1))):
                found.append((offset, name.group(1), value.group(1)))
        offset += len(line)
    return found


def given_parameters(path: Path) -> dict[str, tuple[str, str]]:
    """Parameters set outside the changelogs, by lowercase name: (value, where from).
    Liquibase looks a name up in the environment, then in what its defaults file
    (liquibase.properties, `parameter.<name>=`) and Spring Boot
    (`spring.liquibase.parameters.<name>`) set, then in the changelogs' properties: the
    first value set wins (ChangeLogParameters)."""
    found: dict[str, tuple[str, str]] = {}
    for name, value in os.environ.items():
        found.setdefault(name.lower(), (value, "the environment"))
    for folder in folders_up(path):
        for candidate, pattern in (
            (folder / PROPERTIES_FILE, DEFAULTS_PARAMETER),
            (folder / "application.properties", SPRING_PARAMETER),
        ):
            try:
                lines = candidate.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                continue
            for line in lines:
                if (pair := pattern.match(line)) is not None:
                    found.setdefault(pair.group(1).lower(), (pair.group(2), candidate.name))
    master = master_running(path)
    if master is not None and master.path.suffix.lower() == ".xml":
        for name, value in xml_properties(master.path):
            found.setdefault(name.lower(), (value, master.path.name))
    for name, value in DATABASE_PARAMETERS.items():
        found.setdefault(name, (value, "Liquibase, for PostgreSQL"))
    return found


def master_running(path: Path) -> Master | None:
    """The master changelog that runs the SQL file, in its folder or one above."""
    resolved = path.resolve()
    for folder in folders_up(path):
        master = cached_master(folder)
        if master is not None and resolved in master.order:
            return master
    return None


def folders_up(path: Path) -> Iterator[Path]:
    """The file's folder and those above it, up to the repository's root (the classpath
    a changelog's references and properties are found on)."""
    folder = path.parent
    for _ in range(CLASSPATH_LEVELS):
        yield folder
        if folder.parent == folder or (folder / ".git").exists():
            break
        folder = folder.parent


def xml_properties(changelog: Path) -> list[tuple[str, str]]:
    """An XML changelog's `<property name="..." value="..."/>` for PostgreSQL, in order
    (set as the changelog is parsed, before the files it includes)."""
    try:
        root = ElementTree.fromstring(changelog.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ElementTree.ParseError):
        return []
    found = []
    for element in root.iter():
        attributes = element.attrib
        named = element.tag.rsplit("}", 1)[-1] == "property" and "name" in attributes
        if named and "value" in attributes and dbms_matches(attributes.get("dbms")):
            found.append((attributes["name"], attributes["value"]))
    return found


def expanded(path: Path, text: str) -> Expanded:
    """A formatted SQL changelog's text with its `${name}` expressions replaced as
    Liquibase replaces them in each changeset's SQL (ChangeLogParameters
    expandExpressions, verbatim, inside quotes too), by the values given outside it, else
    by its `--property` lines read before the changeset's end (the first one wins); a
    name with no such value is left as it is, as Liquibase leaves it by default."""
    changelog = parse(text)
    if changelog is None or "${" not in text:
        return Expanded(text, {}, [])
    given = given_parameters(path)
    lines = property_lines(text)
    used: dict[str, str] = {}
    unknown: list[str] = []

    def value_at(name: str, offset: int) -> str | None:
        key = name.lower()
        if key in given:
            value, source = given[key]
            used.setdefault(name, source)
            return value
        changeset = changelog.changeset_at(offset)
        until = changeset.stop if changeset is not None else offset
        for at, named, value in lines:
            if at < until and named.lower() == key:
                used.setdefault(name, f"its `--property` line {line_of(text, at)}")
                return value
        return None

    def expand(fragment: str, at: int | None) -> str:
        """`at`: where a value being expanded again stands; None: in the text itself."""

        def one(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            value = value_at(name, match.start() if at is None else at)
            if value is None:
                if name not in unknown:
                    unknown.append(name)
                return match.group(0)
            return expand(value, match.start()) if at is None else value

        return EXPRESSION.sub(one, fragment)

    return Expanded(expand(text, None), used, unknown)


# --- the master changelog's order ---------------------------------------------------

CHANGELOG_SUFFIXES = (".xml", ".yaml", ".yml", ".json")
INCLUDABLE = (".sql", *CHANGELOG_SUFFIXES)  # what includeAll picks up
CLASSPATH_LEVELS = 6  # src/main/resources/db/changelog/changes is 5 below the module


@dataclass(frozen=True)
class Master:
    path: Path  # the root changelog (db.changelog-master.xml, ...)
    order: list[Path]  # the SQL files it runs, resolved, in the order it runs them
    # of them, those included whole (`include`, `includeAll`) that are not formatted SQL:
    # SqlChangeLogParser runs each as one changeset, in a transaction, not split
    plain: frozenset[Path] = frozenset()


def master_of(folder: Path, below: bool = True) -> Master | None:
    """The changelog in `folder` that includes the others (by `include`, `includeAll` or
    `sqlFile`: DatabaseChangeLog.java; includeAll takes the files under its path, at any
    depth, sorted by their path as plain strings), and the SQL files it runs; None where
    the folder holds no such changelog. One named `*master*` wins over others; one in a
    folder just below is found too (`review src/main/resources/db` finds Spring's
    db/changelog/db.changelog-master.yaml)."""
    try:
        under = sorted(item for item in folder.iterdir() if item.is_dir()) if below else []
    except OSError:
        return None
    for place in (folder, *under):
        roots = sorted(
            (item for item in place.iterdir() if item.suffix.lower() in CHANGELOG_SUFFIXES),
            key=lambda item: ("master" not in item.name.lower(), item.name),
        )
        for root in roots:
            order: list[Path] = []
            plain: set[Path] = set()
            walk(root, order, set(), 0, plain)
            if order:
                return Master(root, order, frozenset(plain))
    return None


def included_whole(path: Path) -> Master | None:
    """The master changelog above a plain SQL file that includes it whole (see Master),
    looked for in its folder and those above, up to the repository's root."""
    master = master_running(path)
    return master if master is not None and path.resolve() in master.plain else None


@functools.cache
def cached_master(folder: Path) -> Master | None:
    try:
        return master_of(folder, below=False)
    except OSError:
        return None


def walk(changelog: Path, order: list[Path], seen: set[Path], depth: int, plain: set[Path]) -> None:
    """Add the SQL files `changelog` runs, in order, following nested changelogs; those
    it includes whole that are not formatted SQL to `plain`."""
    if depth > 20 or changelog in seen:
        return
    seen.add(changelog)
    for kind, target in included(changelog) or []:
        if kind == "includeAll":
            found = sorted(
                (p for p in target.rglob("*") if p.is_file() and p.suffix.lower() in INCLUDABLE),
                key=lambda p: p.relative_to(target).as_posix(),
            )
        else:
            found = [target] if target.is_file() else []
        for item in found:
            if item.suffix.lower() == ".sql":
                if item.resolve() not in order:
                    order.append(item.resolve())
                if kind != "sqlFile" and not formatted_file(item):
                    plain.add(item.resolve())
            else:
                walk(item, order, seen, depth + 1, plain)


def formatted_file(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return is_formatted(handle.read(4096))
    except OSError:
        return False


def included(changelog: Path) -> list[tuple[str, Path]] | None:
    """The `include` / `includeAll` / `sqlFile` references of an XML, YAML or JSON
    changelog, resolved to files or folders; None where it is not a changelog."""
    try:
        text = changelog.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    if "databaseChangeLog" not in text:
        return None
    references: list[tuple[str, dict[str, object]]] = []
    if changelog.suffix.lower() == ".xml":
        references = xml_references(text)
    else:
        references = tree_references(changelog, text)
    found = []
    for kind, attributes in references:
        where = attributes.get("path") if kind != "include" else attributes.get("file")
        if not isinstance(where, str) or not where.strip():
            continue
        relative = str(attributes.get("relativeToChangelogFile", "false")).lower() == "true"
        target = resolve(changelog, where.strip(), relative)
        if target is not None:
            found.append((kind, target))
    return found


def xml_references(text: str) -> list[tuple[str, dict[str, object]]]:
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return []
    found: list[tuple[str, dict[str, object]]] = []
    for element in root.iter():
        name = element.tag.rsplit("}", 1)[-1]
        if name in ("include", "includeAll", "sqlFile"):
            found.append((name, dict(element.attrib)))
    return found


def tree_references(changelog: Path, text: str) -> list[tuple[str, dict[str, object]]]:
    """JSON: `{"include": {"file": ...}}`, `{"includeAll": {"path": ...}}` and the
    `sqlFile` changes of its changesets, in the order they appear; YAML likewise, read
    by its lines (`- include:` then its more indented `file:`, or `{file: ...}`)."""
    if changelog.suffix.lower() == ".json":
        try:
            tree = json.loads(text)
        except ValueError:
            return []
        found: list[tuple[str, dict[str, object]]] = []

        def visit(node: object) -> None:
            if isinstance(node, dict):
                for key, value in node.items():
                    if key in REFERENCES and isinstance(value, dict):
                        found.append((key, value))
                    else:
                        visit(value)
            elif isinstance(node, list):
                for item in node:
                    visit(item)

        visit(tree)
        return found
    return yaml_references(text)


REFERENCES = ("include", "includeAll", "sqlFile")
YAML_KEY = re.compile(r"^(\s*)(?:-\s+)?(include|includeAll|sqlFile)\s*:\s*(\{.*\})?\s*(?:#.*)?$")
YAML_PAIR = re.compile(r"^(\s*)(?:-\s+)?(\w+)\s*:\s*['\"]?([^'\"#]*?)['\"]?\s*(?:#.*)?$")
FLOW_PAIR = re.compile(r"(\w+)\s*:\s*['\"]?([^,'\"}]*)['\"]?")


def yaml_references(text: str) -> list[tuple[str, dict[str, object]]]:
    found: list[tuple[str, dict[str, object]]] = []
    current: dict[str, object] | None = None
    indent = -1
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key = YAML_KEY.match(line)
        if key is not None:
            current = {}
            found.append((key.group(2), current))
            indent = len(key.group(1))
            if key.group(3):
                current.update(dict(FLOW_PAIR.findall(key.group(3))))
                current = None
            continue
        pair = YAML_PAIR.match(line)
        if current is not None and pair is not None and len(pair.group(1)) > indent:
            current[pair.group(2)] = pair.group(3).strip()
        else:
            current = None
    return found


def resolve(changelog: Path, where: str, relative: bool) -> Path | None:
    """A changelog's reference as a path: beside the changelog, or on the classpath (a
    folder above it that holds the path: src/main/resources)."""
    where = where.removeprefix("classpath:").lstrip("/")
    if relative:
        target = changelog.parent / where
        return target if target.exists() else None
    folder = changelog.parent
    for _ in range(CLASSPATH_LEVELS):
        if (folder / where).exists():
            return folder / where
        if folder.parent == folder:
            break
        folder = folder.parent
    return None
