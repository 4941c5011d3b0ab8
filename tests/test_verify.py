"""`check --verify-fixes`: fix.sql and rollback.sql proven on a schema-only copy in a
throwaway server, on the demo database and every corpus schema: no statement fails, the
findings each fix claims are gone, and the rollback restores the schema exactly."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pgvitals import verify
from pgvitals.config import Config
from pgvitals.connect import connect
from pgvitals.demo.run import load_demo
from pgvitals.embedded import EmbeddedServer, pgserver_bin_dir
from pgvitals.engine import analyse, required_probes
from pgvitals.render.md import render_markdown
from pgvitals.report import Report, build_report
from pgvitals.snapshot.collect import collect
from pgvitals.verification import FailedStatement, Verification, VerifiedFinding
from pgvitals.verify import Target, verify_fixes
from tests.conftest import Database, server_kinds
from tests.corpus import NAMES, needs_corpus
from tests.helpers import pgvitals, valid_report
from tests.render.test_md_text import make_snapshot


def verified(run_dir: Path, dsn: str) -> dict[str, Any]:
    """Run the check with --verify-fixes; the verification as the JSON report has it."""
    run = pgvitals(
        "check", dsn, "--verify-fixes", "-o", str(run_dir / "report.json"),
        "-o", str(run_dir / "report.md"), timeout=600,
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert "fix verification: " in run.stderr
    report = valid_report(json.loads((run_dir / "report.json").read_text()))
    verification = report["sections"]["verification"]
    assert verification is not None and verification["error"] is None
    assert "## Fix verification" in (run_dir / "report.md").read_text()
    return verification


def assert_passed(verification: dict[str, Any]) -> None:
    assert verification["failures"] == []
    remaining = [
        (f["rule"], f["object"]) for f in verification["findings"] if f["outcome"] == "remains"
    ]
    assert remaining == []  # every finding a fix claims, that the copy shows, is gone
    assert verification["restored"], "\n".join(verification["difference"])
    assert verification["passed"]


def test_the_demo_fixes_all_apply_resolve_and_roll_back(database, tmp_path: Path) -> None:
    load_demo(database.dsn)
    verification = verified(tmp_path, database.dsn)
    assert_passed(verification)
    outcomes = {(f["rule"], f["object"]): f["outcome"] for f in verification["findings"]}
    assert verification["fix_statements"] > 100 and len(outcomes) > 60
    for resolved in (
        ("missing-primary-key", "practise_improve_pilot.lesson_feedback_tags"),
        ("duplicate-index", "practise_improve_pilot.idx_feedback_lesson_id"),
        ("autovacuum-disabled", "practise_improve_pilot.streaks"),
        ("rls-disabled", "public.teachers_old"),
        ("bypassrls-login-role", "reporting"),
    ):
        assert outcomes[resolved] == "resolved", resolved
    # app_user reads and writes progress: RLS without a policy would shut it out, so
    # fix.sql has no ENABLE for it (rls-disabled's shut_out), and claims nothing
    assert ("rls-disabled", "practise_improve_pilot.progress") not in outcomes
    # dead tuples need rows, which a schema-only copy has not: the fix ran, unjudged
    assert outcomes[("high-dead-tuple-ratio", "practise_improve_pilot.streaks")] == (
        "not reproduced"
    )


# The server with the most extensions (the system's, with contrib, where there is one):
# more of each corpus schema loads as written there, and more of its fixes are verified.
VERIFYING_SERVER = server_kinds()[-1]


@needs_corpus
@pytest.mark.parametrize("name", NAMES)
def test_corpus_fixes_apply_resolve_and_roll_back(
    server: EmbeddedServer, corpus_copy: Callable[[str], Database], name: str, tmp_path: Path
) -> None:
    # test_corpus.py applies every schema's fix.sql and rollback.sql on every server; this
    # verification of the same scripts on a throwaway copy needs one (synapse, on each).
    if name != "synapse" and server.bin_dir != (VERIFYING_SERVER[1] or pgserver_bin_dir()):
        pytest.skip(f"the corpus's fixes are verified on {VERIFYING_SERVER[0]} (synapse on all)")
    verification = verified(tmp_path, corpus_copy(name).dsn)
    assert_passed(verification)
    assert any(f["outcome"] == "resolved" for f in verification["findings"])


def test_a_function_over_an_extension_type_is_altered_after_the_extension_moves(
    database, tmp_path: Path
) -> None:
    # Sourcegraph's merge_audit_log_transitions(internal hstore, arrayhstore hstore[]):
    # extension-in-public's fix moves hstore out of public first, so the function's SET
    # search_path (and its RESET on rollback) must name the type with its schema
    with database.admin() as admin:
        if not admin.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'hstore'"
        ).fetchone():
            pytest.skip("no contrib on this server: extension-in-public's cases say so too")
        admin.execute("CREATE EXTENSION hstore SCHEMA public")
        admin.execute(
            "CREATE FUNCTION public.merge(internal hstore, arrayhstore hstore[])"
            " RETURNS hstore LANGUAGE plpgsql AS $$ BEGIN RETURN internal; END $$"
        )
    verification = verified(tmp_path, database.dsn)
    assert_passed(verification)
    outcomes = {(f["rule"], f["object"]): f["outcome"] for f in verification["findings"]}
    assert outcomes[("extension-in-public", "hstore")] == "resolved"


def checked(dsn: str) -> tuple[Target, Any]:
    session = connect(dsn)
    try:
        snapshot = collect(session, profile=None)
    finally:
        session.close()
    server = snapshot.server
    probes = required_probes()
    target = Target(dsn, server.database, Config(), (), probes, False, server.version_num)
    return target, build_report(analyse(snapshot), dsn)


def test_a_failing_statement_and_an_incomplete_rollback_are_reported(database) -> None:
    database.execute(
        'CREATE TABLE "Mixed Case" (id int, name text);'
        "CREATE TABLE kept (id int PRIMARY KEY, note text);"
    )
    target, report = checked(database.dsn)
    fix = report.scripts.fix + (
        "\n-- missing-primary-key: public.kept [brief lock]\n"
        "ALTER TABLE public.kept ADD PRIMARY KEY (id);\n"
    )
    # a rollback that forgets everything: the schema cannot come back
    spoilt = replace(report, scripts=replace(report.scripts, fix=fix, rollback="-- nothing\n"))
    verification = verify_fixes(target, spoilt)
    assert not verification.passed and not verification.restored
    (failure,) = verification.failures
    assert failure.script == "fix" and failure.fix_for == "missing-primary-key: public.kept"
    assert failure.statement == "ALTER TABLE public.kept ADD PRIMARY KEY (id)"
    assert failure.message == 'multiple primary keys for table "kept" are not allowed'
    assert failure.sqlstate == "42P16"
    assert any(line.startswith("+") and "Mixed Case" in line for line in verification.difference)
    resolved = {(f.rule, f.object) for f in verification.resolved}
    assert ("missing-primary-key", "public.Mixed Case") in resolved


def test_a_table_whose_toast_autovacuum_is_off_rolls_back_exactly(database) -> None:
    """The rollback restores both storage parameters the fix resets."""
    database.execute(
        "CREATE TABLE queue (id int PRIMARY KEY, body text)"
        " WITH (autovacuum_enabled = off, toast.autovacuum_enabled = off)"
    )
    target, report = checked(database.dsn)
    assert "autovacuum-disabled" in {f.rule for f in report.findings}
    verification = verify_fixes(target, report)
    assert verification.restored, verification.difference
    assert verification.passed


def test_grants_given_back_in_another_order_are_restored(database) -> None:
    """A Supabase function is granted to anon, authenticated and service_role (default
    privileges): the fix revokes PUBLIC, anon and authenticated, the rollback grants them
    back after service_role's, and pg_dump prints the same privileges in that new order
    (chatbot-ui and Midday: 'schema NOT restored', exit 4)."""
    database.execute(
        "DO $$ BEGIN CREATE ROLE anon NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;"
        "DO $$ BEGIN CREATE ROLE authenticated NOLOGIN;"
        " EXCEPTION WHEN duplicate_object THEN NULL; END $$;"
        "DO $$ BEGIN CREATE ROLE service_role NOLOGIN;"
        " EXCEPTION WHEN duplicate_object THEN NULL; END $$;"
        "CREATE FUNCTION public.bump() RETURNS int LANGUAGE sql SECURITY DEFINER"
        " SET search_path = public AS 'SELECT 1';"
        "GRANT EXECUTE ON FUNCTION public.bump() TO anon, authenticated, service_role;"
    )
    target, report = checked(database.dsn)
    assert "security-definer-executable-by-api-role" in {f.rule for f in report.findings}
    verification = verify_fixes(target, report)
    assert verification.restored, verification.difference
    assert verification.passed


def test_a_grant_the_rollback_does_not_give_back_is_a_difference() -> None:
    to_anon, to_b = "GRANT ALL ON FUNCTION f() TO anon;\n", "GRANT ALL ON FUNCTION f() TO b;\n"
    before, reordered = to_anon + to_b, to_b + to_anon
    assert verify.dump_difference(before, to_b)
    assert verify.dump_difference(before, reordered) == []
    # a grant by another grantor is not mixed with the run before it
    other = before.replace("TO b;", "TO b;\nSET SESSION AUTHORIZATION b;")
    moved = reordered.replace("TO b;", "TO b;\nSET SESSION AUTHORIZATION b;")
    assert verify.dump_difference(other, moved)


def test_verify_fixes_needs_a_live_database(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text("{}")
    run = pgvitals("check", "--snapshot", str(tmp_path / "s.json"), "--verify-fixes")
    assert run.exit_code == 2
    assert "--verify-fixes copies a live database's schema" in run.stderr


def test_a_saved_report_keeps_its_verification() -> None:
    """The JSON report carries the verification: rendered again, it says the same."""
    report = build_report(analyse(make_snapshot()))
    first = report.findings[0]
    verification = Verification(
        copied_into="a throwaway PostgreSQL 16",
        fix_statements=3,
        rollback_statements=2,
        failures=(FailedStatement("fix", 12, "rule: x", "ALTER TABLE x", "42P16", "no"),),
        findings=(VerifiedFinding(first.rule, first.object, "high", first.fingerprint, "remains"),),
        appeared=(),
        restored=False,
        difference=("--- before fix.sql", "+++ after rollback.sql", "-a", "+b"),
        duration_ms=1234,
    )
    checked_report = replace(report, verification=verification)
    saved = json.loads(json.dumps(checked_report.to_json()))
    assert saved["sections"]["verification"]["passed"] is False
    again = Report.from_json(saved)
    assert again.verification == verification
    assert render_markdown(again) == render_markdown(checked_report)
    assert "After rollback.sql the schema is **not** as before the fix" in render_markdown(again)


def test_the_summary_counts_findings_that_appear_after_the_fixes() -> None:
    """A fix can bring a finding to light (a key's type fixed: now a foreign key can be
    inferred); the one-line summary says so, not only the report's table."""
    appeared = VerifiedFinding(
        "missing-foreign-key", "public.tags.asset_id", "medium", "f", "appeared"
    )
    verification = Verification(
        copied_into="a throwaway PostgreSQL 16",
        fix_statements=2,
        rollback_statements=2,
        failures=(),
        findings=(),
        appeared=(appeared,),
        restored=True,
        difference=(),
    )
    assert ", 1 new after the fixes; rollback.sql" in verification.summary()
    assert "new after" not in replace(verification, appeared=()).summary()


def test_a_fix_that_fails_on_the_copy_fails_the_run_after_writing_the_report(
    database, tmp_path: Path
) -> None:
    """Exit 4, after every output is written, and ahead of --fail-on's exit 1."""
    database.execute(
        """
        CREATE TABLE logs (at timestamptz NOT NULL) PARTITION BY RANGE (at);
        CREATE TABLE logs_2020_01 PARTITION OF logs
            FOR VALUES FROM ('2020-01-01 00:00+00') TO ('2020-02-01 00:00+00');
        -- the DEFAULT partition's name is a type's: types are not in the snapshot, so
        -- the fix's CREATE TABLE fails (its row type would take the name)
        CREATE TYPE logs_default AS ENUM ('a');
        """
    )
    (tmp_path / "pgvitals.toml").write_text(
        "[rules.partition-coverage]\nmax_created = 1\n", encoding="utf-8"
    )
    run = pgvitals(
        "check", database.dsn, "--verify-fixes", "--fail-on", "low",
        "--config", str(tmp_path / "pgvitals.toml"),
        "-o", str(tmp_path / "report.json"), timeout=600,
    )  # fmt: skip
    assert run.exit_code == 4, run.stderr
    assert "did not pass" in run.stderr.splitlines()[-1]
    report = valid_report(json.loads((tmp_path / "report.json").read_text()))
    (failure,) = report["sections"]["verification"]["failures"]
    assert failure["statement"].startswith('CREATE TABLE "public"."logs_default"')
    assert failure["message"] == 'type "logs_default" already exists'
    assert (tmp_path / "fix.sql").exists()


# --- loading the copy ----------------------------------------------------------------

ROLES = '''
CREATE ROLE postgres;
ALTER ROLE postgres WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS;
CREATE ROLE "Copy ""Owner""";
ALTER ROLE "Copy ""Owner""" WITH NOLOGIN;
'''
SCHEMA = '''
CREATE TABLE public.lessons (id int PRIMARY KEY, title text);
ALTER TABLE public.lessons OWNER TO "Copy ""Owner""";
'''


def copy_tables(database: Database, name: str) -> set[str]:
    dsn = database.server.dsn(name)
    with connect(dsn) as session:
        rows = session.execute("SELECT relname FROM pg_class WHERE relkind = 'r'"
                               " AND relnamespace = 'public'::regnamespace").fetchall()  # fmt: skip
    return {row[0] for row in rows}


def test_a_dump_that_loads_whole_is_loaded_at_once(database, monkeypatch) -> None:
    """psql runs the roles (an existing role's CREATE left out) and the dump in one go;
    the statement-by-statement loader is not needed."""

    def not_needed(*args: object) -> list[str]:
        raise AssertionError("loaded statement by statement")

    monkeypatch.setattr(verify, "load_each", not_needed)
    name = f"{database.name}_copy"
    assert verify.load_copy(database.server, name, SCHEMA, ROLES) == []
    assert copy_tables(database, name) == {"lessons"}
    with connect(database.server.dsn(name)) as session:
        owner = session.execute(
            "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'lessons'"
        ).fetchone()
    assert owner == ('Copy "Owner"',)


def test_a_dump_with_a_failing_statement_is_loaded_one_by_one(database) -> None:
    """An extension the copy's server lacks stops psql: the database is made again and
    loaded statement by statement, which names what failed and loads the rest."""
    name = f"{database.name}_copy2"
    # after the table: psql has created it when it stops, so the copy is made anew
    schema = f"{SCHEMA}CREATE EXTENSION no_such_extension;\n"
    problems = verify.load_copy(database.server, name, schema, ROLES)
    assert len(problems) == 1 and "no_such_extension" in problems[0]
    assert copy_tables(database, name) == {"lessons"}
