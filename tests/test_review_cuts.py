"""goose and sql-migrate find a migration's statements by lines: a line that ends in `;`
ends one, unless it is between the tool's StatementBegin and StatementEnd. A statement
with such a line inside (a function body, a string) is cut there and its first piece
sent alone, which PostgreSQL rejects at deploy; psql, and review's loader, run the file
whole. Review reports the statement with PostgreSQL's error for that piece
(review/cuts.py)."""

from __future__ import annotations

import psycopg
import pytest

from pgvitals.review.cuts import tool_split
from pgvitals.review.split import split_file
from tests.test_review import invalid_ddl, located, review, write

BODY = """\
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.label := trim(NEW.label);
  RETURN NEW;
END
$$;
"""
# the first piece each tool sends of BODY: up to the first line that ends in `;`
FIRST_PIECE = """\
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.label := trim(NEW.label);"""

FILES = {
    "goose/00001_shelves.sql": f"""\
-- +goose Up
CREATE TABLE cut_shelves (id bigint PRIMARY KEY, label text); -- a comment after it

-- cut in two by goose
{BODY.format(name="cut_shelves_trim")}
-- +goose StatementBegin
{BODY.format(name="cut_shelves_kept")}-- +goose StatementEnd

-- +goose Down
DROP TABLE cut_shelves;
""",
    "goose/00002_labels.sql": """\
-- +goose Up
CREATE TABLE cut_labels (id bigint PRIMARY KEY)
""",
    "sql-migrate/1_boxes.sql": """\
-- +migrate Up
CREATE TABLE cut_boxes (id bigint PRIMARY KEY, label text);
INSERT INTO cut_boxes VALUES (1, 'first;
second');
-- +migrate StatementBegin
INSERT INTO cut_boxes VALUES (2, 'kept;
whole');
-- +migrate StatementEnd

-- +migrate Down
DROP TABLE cut_boxes;
""",
}


def test_a_statement_the_tool_cuts_is_rejected_at_deploy_and_one_it_keeps_whole_loads(
    server, tmp_path
) -> None:
    write(tmp_path, FILES)
    run = review(tmp_path, ".", "--server", server.dsn())
    found = {located(f): f for f in invalid_ddl(run)}
    assert set(found) == {
        "goose/00001_shelves.sql:5",
        "goose/00002_labels.sql:2",
        "sql-migrate/1_boxes.sql:3",
    }
    goose = found["goose/00001_shelves.sql:5"]
    assert goose["evidence"]["sqlstate"] == "42601"
    assert goose["evidence"]["message"].startswith("unterminated dollar-quoted string")
    assert goose["evidence"]["runner"]["runs"].endswith("cuts this one at line 7, inside it")
    assert "-- +goose StatementBegin" in goose["evidence"]["runner"]["fix"]
    assert goose["evidence"]["lost"] == []  # loaded whole, as psql runs it: nothing lost
    boxes = found["sql-migrate/1_boxes.sql:3"]
    assert boxes["evidence"]["runner"]["tool"] == "sql-migrate"
    assert boxes["evidence"]["message"].startswith("unterminated quoted string")
    assert "-- +migrate StatementBegin" in boxes["evidence"]["runner"]["fix"]
    # the last statement no line with `;` ends: goose's own error, before anything runs
    labels = found["goose/00002_labels.sql:2"]
    assert labels["evidence"]["sqlstate"] == ""
    assert "missing semicolon" in labels["evidence"]["message"]
    # the down sections were not loaded: the tables they drop are in the schema
    [schema] = run.json()["sections"]["schemas"]
    assert set(schema["unrelated_tables"]) == {
        "public.cut_shelves", "public.cut_labels", "public.cut_boxes"
    }  # fmt: skip


def test_the_piece_the_tool_sends_is_what_postgresql_rejects(database) -> None:
    """On a real server: the first piece, as goose sends it, fails; the statement whole
    (psql, or inside StatementBegin/End) runs."""
    text = FILES["goose/00001_shelves.sql"]
    split = split_file(text, "goose/00001_shelves.sql")
    found = tool_split(split.text, split.statements)
    assert found is not None and found.tool.tool == "goose"
    [cut] = found.cuts
    assert cut.sends == FIRST_PIECE.format(name="cut_shelves_trim")
    with psycopg.connect(database.dsn, autocommit=True) as connection:
        with pytest.raises(psycopg.errors.SyntaxError):
            connection.execute(cut.sends)  # type: ignore[arg-type]
        connection.execute("CREATE TABLE cut_shelves (id bigint PRIMARY KEY, label text)")
        connection.execute(BODY.format(name="cut_shelves_trim"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "cut_lines", "unterminated"),
    [
        # a comment after the `;`, and a comment line holding `;` inside a statement
        ("-- +goose Up\nCREATE TABLE a (x int); -- done\n", [], None),
        ("-- +goose Up\nCREATE TABLE a (\n  -- one;\n  x int\n);\n", [], None),
        # two statements on one line are sent together, not cut
        ("-- +goose Up\nCREATE TABLE a (x int); CREATE TABLE b (y int);\n", [], None),
        # only the up section counts
        ("-- +goose Up\nCREATE TABLE a (x int);\n-- +goose Down\nSELECT 'a;\nb';\n", [], None),
        ("-- +goose Up\nSELECT 'a;\nb';\n", [2], None),
        ("-- +migrate Up\nSELECT 1\n-- +migrate Down\nSELECT 2;\n", [], 0),
        # sql-migrate's annotations are case-sensitive and need `-- +migrate `
        ("--+migrate Up\nSELECT 'a;\nb';\n", None, None),
        ("-- +migrate up\nSELECT 'a;\nb';\n", None, None),
        # a StatementBegin spelled otherwise does nothing: the string is cut
        (
            "-- +migrate Up\n-- +migrate statementbegin\nSELECT 'a;\nb';\n"
            "-- +migrate statementend\n",
            [3],
            None,
        ),
    ],
)
def test_where_the_tools_end_statements(text, cut_lines, unterminated) -> None:
    split = split_file(text, "m.sql")
    found = tool_split(split.text, split.statements)
    if cut_lines is None:
        assert found is None
        return
    assert found is not None
    assert [c.line for c in found.cuts] == cut_lines
    assert found.unterminated == unterminated


# sql-migrate reads `Up`, `Down`, `StatementBegin` and `StatementEnd` as spelled
# (rubenv/sql-migrate@563a2f0 sqlparse/sqlparse.go: a switch on cmd.Command)
MISSPELLED = {
    "sql-migrate/1_desks.sql": """\
-- +migrate up
CREATE TABLE cs_desks (id bigint PRIMARY KEY);

-- +migrate down
DROP TABLE cs_desks;
""",
    "sql-migrate/2_chairs.sql": """\
-- +migrate Up
CREATE TABLE cs_chairs (id bigint PRIMARY KEY);
CREATE TABLE cs_legs (id bigint PRIMARY KEY);

-- +migrate down
DROP TABLE cs_legs;
""",
}


def test_sql_migrate_annotations_spelled_in_another_case_are_not_its(server, tmp_path) -> None:
    """`-- +migrate up` is no direction to sql-migrate: a file without `Up` or `Down`
    is refused before anything runs (its own error); a `-- +migrate down` after `Up`
    leaves the statements below it in the up section, which runs them."""
    write(tmp_path, MISSPELLED)
    run = review(tmp_path, ".", "--server", server.dsn())
    [refused] = invalid_ddl(run)
    assert located(refused) == "sql-migrate/1_desks.sql:2"
    assert refused["evidence"]["sqlstate"] == ""
    assert refused["evidence"]["message"] == (
        "no Up/Down annotations found, so no statements were executed."
    )
    assert refused["evidence"]["runner"]["tool"] == "sql-migrate"
    assert "`-- +migrate Up`" in refused["evidence"]["runner"]["fix"]
    # the misspelled down section of 2_chairs.sql ran with its up section (cs_legs is
    # gone), and so did 1_desks.sql's, which sql-migrate refuses whole: as at deploy,
    # neither file leaves the table its down section drops
    [schema] = run.json()["sections"]["schemas"]
    assert set(schema["unrelated_tables"]) == {"public.cs_chairs"}
