"""The claims of the naming rules' rationales, shown on a real server."""

from __future__ import annotations

import psycopg
import pytest


def test_an_unquoted_camel_case_name_is_folded_and_not_found(database) -> None:
    database.execute('CREATE TABLE "LessonNotes" (id int)')
    with database.admin() as admin:
        admin.execute('SELECT * FROM "LessonNotes"')
        with pytest.raises(psycopg.errors.UndefinedTable, match="lessonnotes"):
            admin.execute("SELECT * FROM LessonNotes")


def test_non_ascii_letters_need_no_quotes(database) -> None:
    database.execute("CREATE TABLE t (ñame int); INSERT INTO t VALUES (1)")
    with database.admin() as admin:
        assert admin.execute("SELECT ñame FROM t").fetchone() == (1,)


def test_a_column_named_user_reads_the_current_role_unless_quoted(database) -> None:
    database.execute("""CREATE TABLE logins ("user" text); INSERT INTO logins VALUES ('x')""")
    with database.admin() as admin:
        role = admin.execute("SELECT current_user").fetchone()
        assert admin.execute("SELECT user FROM logins").fetchone() == role
        assert admin.execute('SELECT "user" FROM logins').fetchone() == ("x",)
        with pytest.raises(psycopg.errors.SyntaxError):
            admin.execute(
                """CREATE TABLE plans ("order" int); SELECT * FROM plans ORDER BY order"""
            )


def test_a_type_or_function_name_keyword_cannot_be_an_unquoted_column(database) -> None:
    with database.admin() as admin, pytest.raises(psycopg.errors.SyntaxError):
        admin.execute("CREATE TABLE files (binary bytea)")
