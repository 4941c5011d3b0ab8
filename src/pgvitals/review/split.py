"""Split SQL files into statements with PostgreSQL's own parser (pglast), keeping the
file, line and column where each begins.

What psql would do that the server never sees is taken out first, keeping every other
character where it was so that lines and columns stay true: meta-commands
(`\\connect`, `\\set`, `\\i`, ... up to the end of their line), the data lines of
`COPY ... FROM stdin` up to `\\.`, and the down sections of dbmate (`-- migrate:down`),
goose (`-- +goose Down`) and sql-migrate (`-- +migrate Down`) files. Each is recorded
as a note.

A statement the parser rejects is kept as a statement (unparsed) so that the server
reports it in its own words; the statements around it are still found.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any

import pglast
from pglast import parser

from pgvitals.review import liquibase

IDENTIFIER_CHARS = re.compile(r"[\w$]")
DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_\x80-\U0010ffff][\w\x80-\U0010ffff]*)?\$")
COPY_FROM_STDIN = re.compile(r"^\s*COPY\b.*\bFROM\s+STDIN\b", re.IGNORECASE | re.DOTALL)
# What PostgreSQL's scanner skips between tokens; Python's str.strip() also skips a
# no-break space (U+00A0) and other Unicode spaces, which the server rejects.
BLANKS = " \t\n\r\f\v"
# Section markers of tools that keep up and down in one file. sql-migrate's are
# case-sensitive: it runs the statements after `-- +migrate down` in its up section.
DOWN_MARKER = re.compile(
    r"^(?:--\s*(?i:migrate:down|\+goose\s+down)\b|-- \+migrate \s*Down(?=\s|$))", re.MULTILINE
)
UP_MARKER = re.compile(
    r"^(?:--\s*(?i:migrate:up|\+goose\s+up)\b|-- \+migrate \s*Up(?=\s|$))", re.MULTILINE
)


@dataclass(frozen=True)
class Statement:
    file: str
    line: int  # 1-based, where the statement's first token is
    column: int  # 1-based, in characters
    text: str
    node: Any | None  # pglast's parse tree of the statement; None: the parser rejected it
    offset: int  # of the first character in its file's text

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def first_line(self) -> str:
        """The statement's first line, shortened: what a reader recognises it by."""
        line = next(iter(self.text.strip(BLANKS).splitlines()), "").strip(BLANKS)
        # a space the server does not skip (a no-break space), shown as what it is
        line = "".join(f"\\u{ord(c):04x}" if c.isspace() and c not in BLANKS else c for c in line)
        return line if len(line) <= 120 else f"{line[:117]}..."

    @property
    def kind(self) -> str:
        """The parse tree's node name (`CreateStmt`, ...), or "" when unparsed."""
        return type(self.node).__name__ if self.node is not None else ""

    def line_of(self, position: int) -> tuple[int, int]:
        """File line and column of a 1-based character position within the statement
        (as the server reports an error's position)."""
        before = self.text[: max(position - 1, 0)]
        newlines = before.count("\n")
        if newlines == 0:
            return self.line, self.column + len(before)
        return self.line + newlines, len(before) - before.rfind("\n")


@dataclass(frozen=True)
class Note:
    """Something in a file that was not sent to the server, and why."""

    file: str
    line: int
    text: str
    # a whole file left unchecked (it could not be read): why, and what to do instead
    unchecked_because: str | None = None
    check_instead: str | None = None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class SplitFile:
    statements: list[Statement]
    notes: list[Note]
    text: str  # the file as sent to the server: what psql alone runs blanked, lines kept


class Lines:
    """Line and column of a character offset."""

    def __init__(self, text: str) -> None:
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def at(self, offset: int) -> tuple[int, int]:
        index = bisect.bisect_right(self.starts, offset) - 1
        return index + 1, offset - self.starts[index] + 1


def split_file(text: str, file: str, trees: bool = True) -> SplitFile:
    """`trees` False: the statements' text only, without their syntax trees (those cost
    most of the time, and running a script needs none)."""
    lines = Lines(text)
    notes: list[Note] = []
    text = blank_down_sections(text, lines, file, notes)
    changelog = liquibase.parse(text)
    regions = [(0, len(text))]
    if changelog is not None:
        text = blank_liquibase(text, changelog, lines, file, notes)
        # a changeset's SQL ends where the next begins, `;` or not
        regions = [(changeset.start, changeset.stop) for changeset in changelog.changesets]
    text = blank_psql(text, lines, file, notes)
    found = [piece for begin, end in regions for piece in pieces(text[begin:end], begin)]
    statements = []
    for start, stop, parsed in found:
        source = text[start:stop]
        node = parse_one(source) if parsed and trees else None
        line, column = lines.at(start)
        statements.append(Statement(file, line, column, source, node, start))
    return SplitFile(statements, sorted(notes, key=lambda note: note.line), text)


def blanked(text: str, start: int, stop: int) -> str:
    """`text` with [start, stop) replaced by spaces, its line breaks kept."""
    return text[:start] + re.sub(r"[^\n]", " ", text[start:stop]) + text[stop:]


def blank_down_sections(text: str, lines: Lines, file: str, notes: list[Note]) -> str:
    for down in list(DOWN_MARKER.finditer(text)):
        after = UP_MARKER.search(text, down.end())
        stop = after.start() if after else len(text)
        first, last = lines.at(down.start())[0], lines.at(max(stop - 1, down.start()))[0]
        notes.append(Note(file, first, f"down section not loaded (lines {first}-{last})"))
        text = blanked(text, down.start(), stop)
    return text


def blank_liquibase(
    text: str, changelog: liquibase.Changelog, lines: Lines, file: str, notes: list[Note]
) -> str:
    """Blank what Liquibase does not run of a formatted SQL changelog: what comes before
    its first changeset, the lines `--ignoreLines` skips, and the changesets whose `dbms:`
    leaves PostgreSQL out."""

    def skip(start: int, stop: int, why: str) -> None:
        nonlocal text
        first, last = lines.at(start)[0], lines.at(max(stop - 1, start))[0]
        notes.append(Note(file, first, f"{why}, not loaded (lines {first}-{last})"))
        text = blanked(text, start, stop)

    before = text[: changelog.first]
    if any(line.strip(BLANKS) and not is_comment_line(line) for line in before.splitlines()):
        skip(0, changelog.first, "before the first changeset: Liquibase does not run it")
    for start, stop in changelog.not_read:
        skip(start, stop, "skipped by `--ignoreLines`: Liquibase does not read it")
    for changeset in changelog.changesets:
        if not changeset.on_postgresql:
            why = f"changeset {changeset.label} is for dbms {changeset.dbms}: Liquibase skips it"
            skip(changeset.start, changeset.stop, f"{why} on PostgreSQL")
    return text


def is_comment_line(line: str) -> bool:
    return line.strip(BLANKS).startswith("--")


def blank_psql(text: str, lines: Lines, file: str, notes: list[Note]) -> str:
    """Blank psql meta-commands and COPY data, found by a scan that knows quotes,
    dollar quotes and comments (a backslash inside them is not psql's)."""
    chars = list(text)
    length = len(text)
    position = 0
    statement_start = 0
    depth = 0  # nested /* */ comments
    while position < length:
        char = text[position]
        following = text[position + 1] if position + 1 < length else ""
        if depth:
            if char == "*" and following == "/":
                depth, position = depth - 1, position + 2
            elif char == "/" and following == "*":
                depth, position = depth + 1, position + 2
            else:
                position += 1
        elif char == "-" and following == "-":
            end = text.find("\n", position)
            position = length if end < 0 else end
        elif char == "/" and following == "*":
            depth, position = 1, position + 2
        elif char == "'":
            escapes = (
                position > 0
                and text[position - 1] in "eE"
                and not (position > 1 and IDENTIFIER_CHARS.match(text[position - 2]))
            )
            position = end_of_quote(text, position, "'", escapes)
        elif char == '"':
            position = end_of_quote(text, position, '"', False)
        elif char == "$" and not (position and IDENTIFIER_CHARS.match(text[position - 1])):
            tag = DOLLAR_TAG.match(text, position)
            if tag:
                end = text.find(tag.group(), tag.end())
                position = length if end < 0 else end + len(tag.group())
            else:
                position += 1
        elif char == "\\":
            end = text.find("\n", position)
            end = length if end < 0 else end
            command = text[position:end].strip()
            notes.append(Note(file, lines.at(position)[0], f"psql meta-command {command}"))
            chars[position:end] = " " * (end - position)
            position = end
        elif char == ";":
            statement = "".join(chars[statement_start:position])
            position += 1
            statement_start = position
            if COPY_FROM_STDIN.match(strip_comments(statement)):
                position = skip_copy_data(text, chars, position, lines, file, notes)
                statement_start = position
        else:
            position += 1
    return "".join(chars)


def end_of_quote(text: str, start: int, quote: str, escapes: bool) -> int:
    """The position after the quoted text that opens at `start` (a doubled quote is
    part of it; with `escapes`, so is a backslash and what follows)."""
    position = start + 1
    while position < len(text):
        char = text[position]
        if escapes and char == "\\":
            position += 2
        elif char == quote:
            if text[position + 1 : position + 2] == quote:
                position += 2
            else:
                return position + 1
        else:
            position += 1
    return len(text)


def strip_comments(statement: str) -> str:
    return re.sub(r"--[^\n]*", "", statement)


def skip_copy_data(
    text: str, chars: list[str], position: int, lines: Lines, file: str, notes: list[Note]
) -> int:
    """Blank the data rows after `COPY ... FROM stdin;` up to the `\\.` line."""
    line_end = text.find("\n", position)
    if line_end < 0:
        return len(text)
    start = line_end + 1
    terminator = re.compile(r"^\\\.[ \t\r]*$", re.MULTILINE).search(text, start)
    stop = terminator.end() if terminator else len(text)
    rows = text.count("\n", start, terminator.start() if terminator else stop)
    chars[start:stop] = re.sub(r"[^\n]", " ", text[start:stop])
    notes.append(Note(file, lines.at(start)[0], f"COPY data not loaded ({rows} lines)"))
    return stop


def pieces(text: str, offset: int) -> list[tuple[int, int, bool]]:
    """(start, stop, parsed) of each statement in `text`. Where the parser rejects
    something, the statement holding the error (as the scanner splits at semicolons)
    is kept unparsed and the text before and after it is split again."""
    if not text.strip(BLANKS):
        return []
    try:
        found = [(s.start, s.stop) for s in pglast.split(text, with_parser=True, only_slices=True)]
        if found:
            # the last statement runs to the end of the input, less what the server skips:
            # the splitter cuts it where Python's strip() would, before a no-break space
            # the server reads as part of a name (`SELECT 1*/` + U+00A0)
            start, stop = found[-1]
            if text[stop:].strip() == "" and text[stop:].strip(BLANKS):
                found[-1] = (start, len(text.rstrip(BLANKS)))
        return [(offset + start, offset + stop, True) for start, stop in found]
    except parser.ParseError as error:
        # no location: "at end of input", an unfinished last statement
        location = error.args[1] if len(error.args) > 1 else None
    start, stop = failing_chunk(text, location)
    # the rest begins after the rejected chunk's semicolon: left in front, it made an
    # unfinished statement below start at that semicolon, on the rejected one's line
    rest = stop + 1 if text.startswith(";", stop) else stop
    return [
        *pieces(text[:start], offset),
        (offset + code_start(text, start, stop), offset + stop, False),
        *pieces(text[rest:], offset + rest),
    ]


def code_start(text: str, start: int, stop: int) -> int:
    """Where a rejected chunk's code begins, after the blank lines and `--` comments
    above it (the scanner's chunk has them): its file:line is the statement's."""
    position = start
    while position < stop:
        rest = text[position:stop]
        position += len(rest) - len(rest.lstrip(BLANKS))
        if not text.startswith("--", position):
            return position
        newline = text.find("\n", position, stop)
        if newline < 0:
            break
        position = newline + 1
    return start  # nothing but comments


def failing_chunk(text: str, location: int | None) -> tuple[int, int]:
    """The semicolon-separated chunk of `text` around `location`: where a statement the
    parser rejects begins and ends. Past the last semicolon (or `location` None, the
    end of the input) it is the unfinished rest of the text."""
    try:
        found = pglast.split(text, with_parser=False, only_slices=True)
        chunks = [(s.start, s.stop) for s in found]
    except parser.ParseError as error:  # an unterminated quote: the rest is one chunk
        cut = error.args[1] if len(error.args) > 1 else 0
        chunks = [(s.start, s.stop) for s in safe_scan(text[:cut])]
        return rest_after(text, chunks), len(text)
    for start, stop in chunks:
        if location is not None and location < stop + 1:
            return start, stop
    return rest_after(text, chunks), len(text)


def rest_after(text: str, chunks: list[tuple[int, int]]) -> int:
    """Where the text after the last semicolon-ended chunk begins (its first non-blank
    character): the scanner leaves an unfinished last statement out of its chunks."""
    complete = [stop for _, stop in chunks if text[stop : stop + 1] == ";"]
    tail = complete[-1] + 1 if complete else 0
    return tail + len(text[tail:]) - len(text[tail:].lstrip(BLANKS))


def safe_scan(text: str) -> list[slice]:
    try:
        return list(pglast.split(text, with_parser=False, only_slices=True))
    except parser.ParseError:
        return []


def parse_one(source: str) -> Any:
    """The statement's tree; None where the parser rejects the piece it was split into
    (kept as text, as a statement the parser rejects is, rather than a crash)."""
    try:
        return parser.parse_sql(source)[0].stmt
    except parser.ParseError:
        return None
