"""check --exact-bloat: bloat measured with pgstattuple where it is installed (the
system PostgreSQL with contrib; the embedded server has none), estimated otherwise."""

from __future__ import annotations

import psycopg
import pytest

from tests.helpers import pgvitals, valid_report

BLOATED = (
    'CREATE TABLE "Weird""Name" (id int PRIMARY KEY, "ñame" text) WITH (autovacuum_enabled = off);'
    'INSERT INTO "Weird""Name" SELECT g, md5(g::text) FROM generate_series(1, 40000) g;'
    'CREATE INDEX "select" ON "Weird""Name" ("ñame");'
)


def prepare(database) -> None:
    with psycopg.connect(database.dsn, autocommit=True) as session:
        for statement in (BLOATED, 'DELETE FROM "Weird""Name" WHERE id % 10 <> 0'):
            session.execute(statement)
        session.execute('VACUUM ANALYZE "Weird""Name"')


def has_pgstattuple(database) -> bool:
    with database.admin() as admin:
        found = admin.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'pgstattuple'"
        ).fetchone()
    return found is not None


def bloat_findings(report: dict) -> dict[str, dict]:
    return {
        f["object"]: f for f in report["findings"] if f["rule"] in ("table-bloat", "index-bloat")
    }


def test_measured_with_pgstattuple_where_it_is_installed(database, tmp_path) -> None:
    if not has_pgstattuple(database):
        pytest.skip("pgstattuple is not available on this server")
    prepare(database)
    database.execute("CREATE EXTENSION pgstattuple")
    run = pgvitals("check", database.dsn, "--exact-bloat", "--format", "json")
    assert run.exit_code == 0, run.stderr
    report = valid_report(run.json())
    found = bloat_findings(report)
    table, index = found['public.Weird"Name'], found["public.select"]
    assert table["evidence"]["method"] == index["evidence"]["method"] == "measured with pgstattuple"
    assert table["evidence"]["bloat_ratio"] > 0.8  # nine rows in ten are gone
    assert index["evidence"]["bloat_ratio"] > 0.7
    assert "measured bloat" in table["message"]
    assert report["collection"]["skipped"] == []
    # a snapshot keeps the measures: analysed offline, the same findings
    saved = tmp_path / "snap.json"
    assert pgvitals("snapshot", database.dsn, "--exact-bloat", "-o", str(saved)).exit_code == 0
    offline = valid_report(pgvitals("check", "--snapshot", str(saved), "--format", "json").json())
    assert bloat_findings(offline)['public.Weird"Name']["evidence"]["method"] == (
        "measured with pgstattuple"
    )


def test_estimated_and_said_so_without_pgstattuple(database) -> None:
    prepare(database)
    run = pgvitals("check", database.dsn, "--exact-bloat", "--format", "json")
    assert run.exit_code == 0, run.stderr
    report = valid_report(run.json())
    table = bloat_findings(report)['public.Weird"Name']
    assert table["evidence"]["method"] == "estimated from pg_stats and relpages"
    assert "estimated bloat" in table["message"]
    [skipped] = report["collection"]["skipped"]
    assert skipped["step"] == "exact bloat" and "pgstattuple is not installed" in skipped["reason"]


def test_not_measured_unless_asked_nor_under_no_data(database) -> None:
    if not has_pgstattuple(database):
        pytest.skip("pgstattuple is not available on this server")
    prepare(database)
    database.execute("CREATE EXTENSION pgstattuple")
    for args in ((), ("--exact-bloat", "--no-data")):
        report = valid_report(pgvitals("check", database.dsn, *args, "--format", "json").json())
        methods = {f["evidence"]["method"] for f in bloat_findings(report).values()}
        assert methods == {"estimated from pg_stats and relpages"}, args
