"""Where goose and sql-migrate cut a migration into statements, and the statements of
the file they cut in two.

Neither tool parses SQL. Each reads the up section line by line and ends a statement
at every line whose last word before a `--` comment ends in `;`, except between its
StatementBegin and StatementEnd annotations, then sends each piece to the server on its
own (goose: pressly/goose@520411a internal/sqlparser/parser.go; sql-migrate:
rubenv/sql-migrate@563a2f0 sqlparse/sqlparse.go). A function body, a quoted string or
a rule's list of actions with such a line inside is cut there: PostgreSQL rejects the
first piece at deploy, although psql, and review, load the file whole. A last statement
that no such line ends is the tool's own error, before any statement runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pgvitals.review.split import BLANKS, Statement


@dataclass(frozen=True)
class Annotations:
    """A tool's annotation lines: which command a line is, if any."""

    tool: str
    line: re.Pattern[str]  # group 1: the command, with its options
    # the commands as the tool spells them, where it reads them case-sensitively: an
    # annotation line spelled otherwise does nothing (None: any case)
    spelled: frozenset[str] | None = None

    def command(self, line: str) -> str | None:
        """The command of an annotation line, in lower case, with its options; IGNORED
        for one the tool does not act on; None for other lines."""
        found = self.line.match(line)
        if found is None:
            return None
        command = found.group(1).strip()
        if self.spelled is not None and command.split()[0] not in self.spelled:
            return IGNORED
        return command.lower()

    def commands(self, text: str) -> list[list[str]]:
        """The words of each annotation the tool acts on in `text`, in lower case
        (`["up", "notransaction"]`, `["no", "transaction"]`)."""
        found = (self.command(line) for line in text.splitlines())
        return [c.split() for c in found if c is not None and c != IGNORED]


IGNORED = "(ignored)"


# goose: a line that starts with `--` and holds `+goose`, case-insensitive
GOOSE = Annotations("goose", re.compile(r"^\s*--.*\+goose\s*(.*)$", re.IGNORECASE))
# sql-migrate: exactly `-- +migrate ` and its commands, case-sensitive (`-- +migrate up`
# is no annotation it knows: sqlparse.go's switch on cmd.Command)
SQL_MIGRATE = Annotations(
    "sql-migrate",
    re.compile(r"^-- \+migrate \s*(\S.*)$"),
    frozenset({"Up", "Down", "StatementBegin", "StatementEnd"}),
)


def annotations_of(text: str) -> Annotations | None:
    """The tool whose up annotation the file carries."""
    for tool in (GOOSE, SQL_MIGRATE):
        if any(words[:1] == ["up"] for words in tool.commands(text)):
            return tool
    return None


def unread_annotations(text: str) -> bool:
    """Does a file carry sql-migrate's `-- +migrate ` lines without one `Up` or `Down`
    spelled as it reads them (`-- +migrate up`)? It then refuses the file whole, with
    NO_DIRECTION, and runs none of it."""
    commands = [SQL_MIGRATE.command(line) for line in text.splitlines()]
    found = [c for c in commands if c is not None]
    return bool(found) and not any(c.startswith(("up", "down")) for c in found)


# sql-migrate's error for such a file (sqlparse.go ParseMigration)
NO_DIRECTION = "no Up/Down annotations found, so no statements were executed."


def ends_statement(line: str) -> bool:
    """The tools' test: the line's last word before one that starts with `--` ends in `;`."""
    last = ""
    for word in line.split():
        if word.startswith("--"):
            break
        last = word
    return last.endswith(";")


@dataclass(frozen=True)
class Cut:
    """A statement of the file that its tool cuts in two."""

    statement: int  # its index among the file's statements
    line: int  # the line the tool ends the first piece at (1-based)
    sends: str  # the first piece, which the tool sends alone


@dataclass(frozen=True)
class ToolSplit:
    tool: Annotations
    cuts: list[Cut]
    unterminated: int | None  # the statement no line ends (the tool refuses the file)


def tool_split(text: str, statements: list[Statement]) -> ToolSplit | None:
    """How goose or sql-migrate splits `text` (the file with its down sections blanked)
    against the statements PostgreSQL's parser finds in it; None where neither tool's
    up annotation is in the file."""
    tool = annotations_of(text)
    if tool is None:
        return None
    ends: list[tuple[int, int]] = []  # (offset, line) where the tool ends a statement
    unterminated: int | None = None  # offset of text the tool never ends
    up = whole = False
    started: int | None = None  # offset where the tool's current statement began
    offset = 0
    for number, line in enumerate(text.split("\n"), start=1):
        line_start, offset = offset, offset + len(line) + 1
        command = tool.command(line)
        if command is not None:
            if command.startswith(("up", "down")):
                if up and started is not None and unterminated is None:
                    unterminated = started
                up, started = command.startswith("up"), None
            elif command == "statementbegin":
                whole = True
            elif command == "statementend":
                whole = False
                if up and started is not None:
                    ends.append((line_start, number))
                    started = None
            continue
        if not up or (started is None and (not line.strip(BLANKS) or is_comment(line))):
            continue
        if started is None:
            started = line_start
        if not whole and ends_statement(line):
            ends.append((line_start + len(line), number))
            started = None
    if up and started is not None and unterminated is None:
        unterminated = started
    return ToolSplit(tool, cuts_of(text, statements, ends), statement_at(statements, unterminated))


def statement_blocks(text: str) -> list[tuple[int, int]]:
    """The up section's StatementBegin ... StatementEnd blocks, as offsets of the text
    between the two annotation lines: goose and sql-migrate send each block to the
    server as one query string, several statements and all."""
    tool = annotations_of(text)
    if tool is None:
        return []
    blocks: list[tuple[int, int]] = []
    up, begun = False, None  # begun: the offset after an open block's StatementBegin
    offset = 0
    for line in text.split("\n"):
        line_start, offset = offset, offset + len(line) + 1
        command = tool.command(line)
        if command is None:
            continue
        if command.startswith(("up", "down")):
            up, begun = command.startswith("up"), None
        elif command == "statementbegin" and up:
            begun = offset
        elif command == "statementend" and begun is not None:
            blocks.append((begun, line_start))
            begun = None
    return blocks


def is_comment(line: str) -> bool:
    return line.strip(BLANKS).startswith("--")


def cuts_of(text: str, statements: list[Statement], ends: list[tuple[int, int]]) -> list[Cut]:
    """The statements with an end of the tool's strictly inside them: the first such end
    only (the tool sends what comes before it alone, and that piece fails)."""
    cuts = []
    for index, statement in enumerate(statements):
        stop = statement.offset + len(statement.text)
        inside = [
            (end, line)
            for end, line in ends
            if statement.offset < end < stop and text[end:stop].strip(BLANKS + ";")
        ]
        if inside:
            end, line = inside[0]
            cuts.append(Cut(index, line, text[statement.offset : end]))
    return cuts


def statement_at(statements: list[Statement], offset: int | None) -> int | None:
    """The statement the text at `offset` belongs to (the last that starts at or before
    it, or the first after it: a tool's statement may begin with a comment)."""
    if offset is None or not statements:
        return None
    before = [i for i, s in enumerate(statements) if s.offset <= offset]
    if before and offset < statements[before[-1]].offset + len(statements[before[-1]].text):
        return before[-1]
    after = [i for i, s in enumerate(statements) if s.offset >= offset]
    return after[0] if after else before[-1]
