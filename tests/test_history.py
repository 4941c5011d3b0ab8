"""`check --history` keeps runs, `pgvitals history` shows their trends, `diff --since`
compares with a kept run; on the SQLite default and on a shared PostgreSQL store."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.dom.minidom
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import psycopg
import pytest

from pgvitals.demo.run import load_demo
from pgvitals.embedded import pgserver_bin_dir
from pgvitals.history.store import open_store
from pgvitals.render.history import history_schema
from pgvitals.report import Report
from pgvitals.snapshot import io
from pgvitals.testing import flush_statistics
from tests.conftest import Database
from tests.helpers import pgvitals, valid_report


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, database: Database, tmp_path: Path) -> Iterator[str]:
    """Where the history is kept: a SQLite file, or a database of its own on the server."""
    if request.param == "sqlite":
        # The PostgreSQL store checks its target on every server already; a SQLite file
        # holds the same JSON whatever was checked, so one server is enough for it.
        if database.server.bin_dir != pgserver_bin_dir():
            pytest.skip("the SQLite store is tried with the embedded server")
        yield str(tmp_path / "history.sqlite")
        return
    name = f"{database.name}_history"
    with psycopg.connect(database.server.dsn(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield database.server.dsn(name)
    with psycopg.connect(database.server.dsn(), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_three_runs_of_the_demo_show_the_trend(database: Database, store: str, tmp_path) -> None:
    load_demo(database.dsn)
    changes = [
        # a new table without a primary key, and many rows more
        "CREATE TABLE audit_log (at timestamptz, what text);"
        "INSERT INTO audit_log SELECT now(), 'x' FROM generate_series(1, 20000);"
        "ANALYZE audit_log;",
        # the new finding fixed
        "ALTER TABLE audit_log ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;",
    ]
    first = run_check(database, store)
    for change in changes:
        database.execute(change)
        run_check(database, store)

    run = pgvitals("history", "--history", store)
    assert run.exit_code == 0, run.stderr
    assert "3 runs" in run.stdout and "Trends, first → latest run" in run.stdout
    assert "public.audit_log" in run.stdout  # among the largest tables of the latest run

    run = pgvitals("history", database.name, "--history", store, "--format", "json")
    data = run.json()
    jsonschema.validate(data, history_schema())
    findings = [r["summary"]["findings"] for r in data["runs"]]
    assert findings[0] == sum(first["summary"]["findings_by_severity"].values())
    # the new table brings its missing key (and the naming rules' remarks on it); the
    # key then added resolves exactly that one
    assert findings[1] > findings[0] and findings[2] == findings[1] - 1
    sizes = data["trends"]["database_bytes"]
    assert sizes[1] > sizes[0]
    assert data["trends"]["top_tables_bytes"]["public.audit_log"][0] is None  # not there yet

    page = tmp_path / "history.html"
    assert pgvitals("history", "--history", store, "-o", str(page)).exit_code == 0
    html = page.read_text()
    charts = html.count("<svg ")
    assert charts >= 5 and html.count("<polyline ") >= charts - 1
    for svg in html.split("<svg ")[1:]:  # each chart is well-formed SVG
        xml.dom.minidom.parseString("<svg " + svg.split("</svg>")[0] + "</svg>")
    assert "src=" not in html and "<script" not in html


def run_check(database: Database, store: str) -> dict:
    run = pgvitals("check", database.dsn, "--history", store, "--format", "json")
    assert run.exit_code == 0, run.stderr
    assert "kept run #" in run.stderr
    return valid_report(run.json())


def test_a_kept_run_holds_its_report_and_snapshot(database: Database, store: str) -> None:
    database.execute('CREATE TABLE "Weird""Name" (x int)')
    report = run_check(database, store)
    with open_store(store, create=False) as history:
        [target] = history.targets()
        [kept] = history.runs(target.key)
        saved_report, saved_snapshot = history.load(kept.id)
    assert target.database == database.name and target.key.startswith("system ")
    assert (
        Report.from_json(saved_report).findings[0].fingerprint
        == (report["findings"][0]["fingerprint"])
    )
    assert saved_snapshot is not None
    assert [t.name for t in io.from_dict(saved_snapshot).tables] == ['Weird"Name']


def test_two_writers_at_once(database: Database, store: str) -> None:
    """Several runners finishing together (and, on a new PostgreSQL store, creating its
    schema together) each keep their run."""
    database.execute("CREATE TABLE t (x int)")
    writers = [
        subprocess.Popen(
            [sys.executable, "-m", "pgvitals", "check", database.dsn, "--history", store],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for writer in writers:
        _, errors = writer.communicate(timeout=120)
        assert writer.returncode == 0, errors
    with open_store(store, create=False) as history:
        [target] = history.targets()
        assert len({run.id for run in history.runs(target.key)}) == 4


def test_retention_keeps_the_newest_runs(database: Database, store: str, tmp_path) -> None:
    database.execute("CREATE TABLE t (x int)")
    snapshot = tmp_path / "old.json"
    assert pgvitals("snapshot", database.dsn, "-o", str(snapshot)).exit_code == 0
    data = json.loads(snapshot.read_text())
    data["server"]["collected_at"] = "2020-01-01T00:00:00.000000Z"  # a run long ago
    snapshot.write_text(json.dumps(data))
    for _ in range(2):
        assert pgvitals("check", "--snapshot", str(snapshot), "--history", store).exit_code == 0
    for _ in range(2):
        run_check(database, store)
    run = pgvitals("check", database.dsn, "--history", store, "--keep-days", "30")
    assert "removed 2 older runs" in run.stderr
    run = pgvitals("check", database.dsn, "--history", store, "--keep", "2")
    assert "removed 2 older runs" in run.stderr
    with open_store(store, create=False) as history:
        [target] = history.targets()
        assert len(history.runs(target.key)) == 2
    assert pgvitals("check", database.dsn, "--keep", "2").exit_code == 2  # needs --history


def test_diff_since_compares_with_the_closest_kept_run(database: Database, store: str) -> None:
    database.execute("CREATE TABLE t (x int PRIMARY KEY)")
    run_check(database, store)
    database.execute("CREATE TABLE u (y int)")
    run = pgvitals("diff", "--since", "1h", database.dsn, "--history", store, "--format", "json")
    assert run.exit_code == 0, run.stderr
    data = run.json()
    assert data["before"]["source"] == "history"
    assert [(d["change"], d["name"]) for d in data["drift"]["changes"]] == [
        ("added", "public.u"),
        ("added", "public.u.y"),
    ]
    assert [f["object"] for f in data["findings"]["new"]] == ["public.u"]


def test_several_targets_are_listed_and_chosen(database: Database, store: str) -> None:
    other = f"{database.name}_other"
    with psycopg.connect(database.server.dsn(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {other}")
    try:
        run_check(database, store)
        assert pgvitals("check", database.server.dsn(other), "--history", store).exit_code == 0
    finally:
        with psycopg.connect(database.server.dsn(), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {other} WITH (FORCE)")
    listing = pgvitals("history", "--history", store)
    assert listing.exit_code == 0 and "2 targets" in listing.stdout
    chosen = pgvitals("history", other, "--history", store, "--format", "json")
    assert chosen.exit_code == 0 and chosen.json()["target"]["database"] == other
    unknown = pgvitals("history", "nosuchdb", "--history", store)
    assert unknown.exit_code == 2 and "no target matches 'nosuchdb'" in unknown.stderr


def test_a_history_never_written_is_a_usage_error(store: str) -> None:
    run = pgvitals("history", "--history", store)
    assert run.exit_code == 2
    assert "no history at" in run.stderr
    # reading created nothing: neither a file nor the schema
    assert not Path(store).exists()
    if "dbname=" in store or "://" in store:
        with psycopg.connect(store) as session:
            found = session.execute("SELECT to_regnamespace('pgvitals_history')").fetchone()
        assert found == (None,)


def test_a_database_created_again_is_a_reset_of_its_counters(
    database: Database, store: str
) -> None:
    """A staging database restored under its name between two runs: its counters start
    from nothing, so scans since the previous run are unknown. PostgreSQL leaves
    stats_reset empty on both, and the new database's counters, being higher, gave a
    share of scans as if counted between the runs."""
    schema = (
        "CREATE TABLE t (id int PRIMARY KEY, v int);"
        "INSERT INTO t SELECT g, g FROM generate_series(1, 100) g;"
    )
    database.execute(schema)
    run_check(database, store)
    with psycopg.connect(database.server.dsn(), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {database.name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {database.name}")
    database.execute(schema)
    with database.admin() as session:
        for n in range(60):  # many more scans than the first database ever had
            session.execute("SELECT count(*) FROM t").fetchone()
            session.execute("SELECT v FROM t WHERE id = %s", (n + 1,)).fetchone()
        flush_statistics(session)
    run_check(database, store)
    data = pgvitals("history", database.name, "--history", store, "--format", "json").json()
    jsonschema.validate(data, history_schema())
    oids = [run["summary"]["database_oid"] for run in data["runs"]]
    assert len(oids) == 2 and oids[0] != oids[1]
    assert data["trends"]["index_scan_share"] == [None, None]
