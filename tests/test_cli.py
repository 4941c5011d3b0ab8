"""The command line as a user meets it: exit codes, one-line errors, outputs."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import psycopg

from pgvitals.engine import ordered_rules
from pgvitals.rules import REGISTRY
from tests.conftest import free_port
from tests.helpers import pgvitals, valid_report
from tests.snapshot.test_security_entities import RIVER


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("pgvitals: "), stderr
    return lines[0]


def test_malformed_dsn_is_a_usage_error_and_hides_the_password() -> None:
    run = pgvitals("check", "postgresql://alice:s3cr3t-pw@localhost:5432/app?nonsense=1")
    assert run.exit_code == 2
    line = one_error_line(run.stderr)
    assert "invalid connection string" in line
    assert "s3cr3t-pw" not in run.stderr + run.stdout


def test_refused_connection_exits_3() -> None:
    port = free_port()
    run = pgvitals("check", f"postgresql://postgres:pw123@127.0.0.1:{port}/postgres")
    assert run.exit_code == 3
    line = one_error_line(run.stderr)
    assert f"cannot connect to postgres@127.0.0.1:{port}/postgres" in line
    assert "refused" in line.lower()
    assert "pw123" not in run.stderr + run.stdout


def test_wrong_password_exits_3_without_printing_it(server) -> None:
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        admin.execute("DROP ROLE IF EXISTS alice")
        admin.execute("CREATE ROLE alice LOGIN PASSWORD 'the-right-one'")
    dsn = f"host=127.0.0.1 port={server.tcp_port} user=alice password=wr0ng-guess dbname=postgres"
    run = pgvitals("check", dsn)
    assert run.exit_code == 3
    line = one_error_line(run.stderr)
    assert "password authentication failed" in line
    assert "wr0ng-guess" not in run.stderr + run.stdout


def test_a_server_that_is_not_postgresql_exits_3() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    def answer_like_a_web_server() -> None:
        for _ in range(2):  # libpq may try twice (with and without SSL)
            try:
                peer, _ = listener.accept()
            except OSError:
                return
            peer.recv(1024)
            peer.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            peer.close()

    thread = threading.Thread(target=answer_like_a_web_server, daemon=True)
    thread.start()
    try:
        run = pgvitals("check", f"host=127.0.0.1 port={port} user=x dbname=x connect_timeout=5")
    finally:
        listener.close()
    assert run.exit_code == 3
    assert f"cannot connect to x@127.0.0.1:{port}/x" in one_error_line(run.stderr)


def test_fail_on_sets_the_exit_code(database) -> None:
    database.execute("CREATE TABLE no_key (x int)")  # missing-primary-key: high
    assert pgvitals("check", database.dsn, "--fail-on", "high").exit_code == 1
    assert pgvitals("check", database.dsn, "--fail-on", "medium").exit_code == 1
    assert pgvitals("check", database.dsn, "--fail-on", "critical").exit_code == 0
    assert pgvitals("check", database.dsn).exit_code == 0


def test_fail_on_does_not_pass_rows_the_role_could_not_read(database, tmp_path) -> None:
    """A gate run as a role that may not read some tables' rows must not pass where a
    privileged role fails: exit 3 (part of the target could not be read), with the
    tables and why on stderr, the report still written. --no-data is the way to gate on
    the catalog alone; without --fail-on the run passes and stderr says what it missed."""
    role = f"{database.name}_rs13e_blind"
    database.execute(
        "CREATE TABLE accounts (id int PRIMARY KEY, code text NOT NULL);"
        "INSERT INTO accounts SELECT g, '' FROM generate_series(1, 30) g;"  # critical
        "CREATE TABLE shared (id int PRIMARY KEY, note text);"
        f"CREATE ROLE {role} LOGIN; GRANT pg_monitor TO {role};"
        f"GRANT SELECT ON shared TO {role};"
    )
    try:
        assert pgvitals("check", database.dsn, "--fail-on", "high").exit_code == 1
        dsn = database.server.dsn(database.name, user=role)
        report = tmp_path / "report.json"
        gate = pgvitals("check", dsn, "--fail-on", "high", "-o", str(report))
        assert gate.exit_code == 3, gate.stderr
        said = " ".join(gate.stderr.split())
        assert "check incomplete: the rows of 1 table were not read" in said
        assert "public.accounts (permission denied)" in said
        assert "public.shared" not in said
        assert valid_report(json.loads(report.read_text()))["findings"] is not None
        assert pgvitals("check", dsn, "--fail-on", "high", "--no-data").exit_code == 0
        ungated = pgvitals("check", dsn, "-o", str(report))
        assert ungated.exit_code == 0, ungated.stderr
        assert "check incomplete: the rows of 1 table" in " ".join(ungated.stderr.split())
    finally:
        database.execute(f"DROP OWNED BY {role}; DROP ROLE {role}")


def test_json_report_validates_and_snapshot_gives_the_same_findings(database, tmp_path) -> None:
    database.execute(
        "CREATE TABLE teachers (id int PRIMARY KEY);"
        "CREATE TABLE lessons (id int, teacher_id int REFERENCES teachers);"
        "CREATE INDEX l1 ON lessons (id); CREATE INDEX l2 ON lessons (id);"
        "INSERT INTO teachers VALUES (1); INSERT INTO lessons VALUES (1, 1), (1, 1);"
    )
    # --no-data: reading rows would itself add a seq scan between the two runs
    live = pgvitals("check", database.dsn, "--no-data", "--format", "json")
    assert live.exit_code == 0, live.stderr
    live_report = valid_report(live.json())
    snapshot_file = tmp_path / "snap.json"
    saved = pgvitals("snapshot", database.dsn, "--no-data", "-o", str(snapshot_file))
    assert saved.exit_code == 0, saved.stderr
    offline = pgvitals("check", "--snapshot", str(snapshot_file), "--format", "json")
    assert offline.exit_code == 0, offline.stderr
    offline_report = valid_report(offline.json())
    assert offline_report["findings"] == live_report["findings"]
    assert {f["rule"] for f in live_report["findings"]} == {
        "missing-primary-key", "unindexed-foreign-key", "duplicate-index",
        "missing-comments", "no-migration-history",
        "unused-index",  # info: l1 and l2 never scanned, in a window too short to judge
        "rls-disabled",  # info: schema public uses no row-level security
        "stats-extension-missing",  # a test database has no pg_stat_statements
    }  # fmt: skip
    # one check per rule, in catalogue order, so "nothing found" differs from "not checked"
    assert [c["rule"] for c in live_report["checks"]] == [r.id for r in ordered_rules()]


def test_report_files_fix_and_rollback_scripts(database, tmp_path) -> None:
    database.execute(
        'CREATE TABLE "Weird""Name" (id int PRIMARY KEY, n int);'
        'CREATE INDEX a ON "Weird""Name" (n); CREATE INDEX b ON "Weird""Name" (n);'
    )
    run = pgvitals(
        "check", database.dsn, "-o", str(tmp_path / "r.md"), "-o", str(tmp_path / "r.sarif"),
        "-o", str(tmp_path / "r.json"),
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    fix = (tmp_path / "fix.sql").read_text()
    assert 'DROP INDEX CONCURRENTLY IF EXISTS "public"."b";' in fix
    rollback = (tmp_path / "rollback.sql").read_text()
    assert 'CREATE INDEX CONCURRENTLY b ON public."Weird""Name" USING btree (n);' in rollback
    assert "duplicate-index" in (tmp_path / "r.md").read_text()
    sarif = json.loads((tmp_path / "r.sarif").read_text())
    assert sarif["version"] == "2.1.0"
    sarif_rules = [r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]]
    assert sarif_rules == [r.id for r in ordered_rules()]
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == [
        "duplicate-index",
        "identifier-needs-quoting",  # "Weird""Name"
        "missing-comments",
        "no-migration-history",
        "rls-disabled",
        "stats-extension-missing",  # a test database has no pg_stat_statements
    ]


def test_unknown_output_suffix_is_a_usage_error(database, tmp_path) -> None:
    run = pgvitals("check", database.dsn, "-o", str(tmp_path / "report.docx"))
    assert run.exit_code == 2
    assert "cannot tell the format" in one_error_line(run.stderr)


def test_naming_fix_sql_as_an_output_says_where_the_scripts_go(database, tmp_path) -> None:
    # `-o out/fix.sql -o out/rollback.sql`, as one would guess from the files' names
    run = pgvitals("check", database.dsn, "-o", str(tmp_path / "fix.sql"))
    assert run.exit_code == 2
    line = one_error_line(run.stderr)
    assert "fix.sql and rollback.sql are written beside the first report file" in line
    assert f"-o {tmp_path / 'report.md'}" in line
    # beside a report, as a reviewer of Windmill's schema first typed it: nothing written
    report = tmp_path / "report.md"
    run = pgvitals("check", database.dsn, "-o", str(report), "-o", str(tmp_path / "fix.sql"))
    assert run.exit_code == 2 and "written beside" in one_error_line(run.stderr)
    assert not report.exists()


def test_config_disables_excuses_and_tunes(database, tmp_path: Path) -> None:
    database.execute(
        "CREATE TABLE audit_log (at timestamptz); CREATE TABLE other (x int);"
        "CREATE TABLE t (id int PRIMARY KEY, n int);"
        "CREATE INDEX a ON t (n); CREATE INDEX b ON t (n);"
    )
    (tmp_path / "pyproject.toml").write_text(
        "[tool.pgvitals]\n"
        'disable = ["redundant-index"]\n'
        "[tool.pgvitals.rules.duplicate-index]\n"
        'severity = "high"\n'
        "[[tool.pgvitals.ignore]]\n"
        'rule = "missing-primary-key"\n'
        'object = "public.audit_*"\n'
        'reason = "append-only"\n'
    )
    run = pgvitals("check", database.dsn, "--format", "json", cwd=tmp_path)
    assert run.exit_code == 0, run.stderr
    report = valid_report(run.json())
    checks = {c["rule"]: c for c in report["checks"]}
    assert checks["redundant-index"]["status"] == "skipped"
    assert "disabled" in checks["redundant-index"]["reason"]
    assert [(f["rule"], f["object"]) for f in report["excused"]] == [
        ("missing-primary-key", "public.audit_log")
    ]
    assert report["excused"][0]["excused_because"] == "append-only"
    assert {(f["rule"], f["object"], f["severity"]) for f in report["findings"]} == {
        ("missing-primary-key", "public.other", "high"),
        ("duplicate-index", "public.b", "high"),
        ("missing-comments", "public", "low"),
        ("no-migration-history", database.name, "low"),
        ("rls-disabled", "public", "info"),
        ("stats-extension-missing", "pg_stat_statements", "info"),
    }


def test_bad_config_is_a_usage_error(database, tmp_path: Path) -> None:
    (tmp_path / "pgvitals.toml").write_text('disable = ["no-such-rule"]\n')
    run = pgvitals("check", database.dsn, cwd=tmp_path)
    assert run.exit_code == 2
    assert "no rule named 'no-such-rule'" in one_error_line(run.stderr)
    (tmp_path / "pgvitals.toml").write_text("[rules.high-dead-tuple-ratio]\nmin_ratio = 'lots'\n")
    run = pgvitals("check", database.dsn, cwd=tmp_path)
    assert run.exit_code == 2
    assert "min_ratio must be a float" in one_error_line(run.stderr)


def test_a_damaged_snapshot_is_a_usage_error(tmp_path: Path) -> None:
    damaged = tmp_path / "snap.json"
    damaged.write_text('{"format": "pgvitals-snapshot/1", "server": {}}')
    run = pgvitals("check", "--snapshot", str(damaged))
    assert run.exit_code == 2
    assert "damaged" in one_error_line(run.stderr)
    run = pgvitals("check", "--snapshot", str(tmp_path / "missing.json"))
    assert run.exit_code == 2


def test_rules_lists_and_explains() -> None:
    listing = pgvitals("rules")
    assert listing.exit_code == 0
    for rule_id in REGISTRY:
        assert rule_id in listing.stdout
    explained = pgvitals("rules", "unindexed-foreign-key")
    assert explained.exit_code == 0
    assert "Why it breaks" in explained.stdout and "large_table_rows" in explained.stdout
    unknown = pgvitals("rules", "no-such-rule")
    assert unknown.exit_code == 2


def test_a_plain_role_gets_a_report_that_says_what_it_could_not_read(database) -> None:
    database.execute(
        "DROP ROLE IF EXISTS plain_monitor; CREATE ROLE plain_monitor LOGIN;"
        "CREATE TABLE private_log (at timestamptz, what text);"
        "CREATE TABLE counted (id serial PRIMARY KEY);"
    )
    dsn = database.server.dsn(database.name, user="plain_monitor")
    run = pgvitals("check", dsn, "--format", "json")
    assert run.exit_code == 0, run.stderr
    report = valid_report(run.json())
    assert "public.private_log" in {f["object"] for f in report["findings"]}
    check = next(c for c in report["checks"] if c["rule"] == "missing-primary-key")
    assert {"object": "public.private_log", "reason": "permission denied"} in check[
        "skipped_objects"
    ]


def test_without_a_dsn_the_libpq_environment_applies(database) -> None:
    import os
    import subprocess
    import sys

    database.execute("CREATE TABLE from_env (x int)")
    environment = {
        **os.environ,
        "PGHOST": str(database.server.base_dir),
        "PGPORT": str(database.server.tcp_port),
        "PGUSER": "postgres",
        "PGDATABASE": database.name,
    }
    done = subprocess.run(
        [sys.executable, "-m", "pgvitals", "check", "--format", "json"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "public.from_env" in {f["object"] for f in json.loads(done.stdout)["findings"]}


def test_schema_option_limits_the_check(database) -> None:
    database.execute(
        'CREATE SCHEMA app; CREATE SCHEMA "Other Schema";'
        'CREATE TABLE app.a (x int); CREATE TABLE "Other Schema".b (x int);'
    )
    run = pgvitals("check", database.dsn, "--schema", "Other Schema", "--format", "json")
    assert run.exit_code == 0, run.stderr
    report = valid_report(run.json())
    assert {f["object"] for f in report["findings"] if f["table"]} == {"Other Schema.b"}
    # the rest is about the schema itself, or the database (no migration history; its
    # workload, which is not a schema's)
    assert {f["schema"] for f in report["findings"]} == {"Other Schema", None}
    assert "pg_stat_statements" in {f["object"] for f in report["findings"]}
    assert report["summary"]["schemas"] == 1


def test_no_server_at_the_default_socket_names_the_socket(tmp_path) -> None:
    import os
    import subprocess
    import sys

    environment = {**os.environ, "PGHOST": str(tmp_path), "PGUSER": "alice"}
    environment.pop("PGDATABASE", None)
    done = subprocess.run(
        [sys.executable, "-m", "pgvitals", "check"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )
    assert done.returncode == 3
    line = one_error_line(done.stderr)
    assert f"cannot connect to alice@{tmp_path}:5432/alice" in line
    assert f"(socket {tmp_path}/.s.PGSQL.5432)" in line


# River's tables (in brief) beside the user's uuid-keyed, plural, uncommented tables
LIBRARY_BESIDE_USER = (
    RIVER
    + """
DROP TABLE widgets;
CREATE TABLE customers (id uuid PRIMARY KEY, email text NOT NULL);
CREATE TABLE invoices (id uuid PRIMARY KEY, customer_id uuid REFERENCES customers);
CREATE TABLE payments (id uuid PRIMARY KEY, invoice_id uuid REFERENCES invoices);
"""
)
SCHEMA_WIDE = (
    "missing-comments", "mixed-id-strategy", "naming-singular-plural-mix", "timestamp-naming-mix"
)  # fmt: skip


def test_include_managed_says_what_it_brings_back_and_does(database, tmp_path: Path) -> None:
    """--include-managed reports the findings on a library's tables' definitions; the
    rules that judge a whole schema's conventions count the user's tables only, with or
    without it, and its help says so, naming them."""
    # the help as one line, without the hyphens click's wrapping breaks a name at
    helped = " ".join(pgvitals("check", "--help").stdout.split()).replace("- ", "-")
    start = helped.index("--include-managed")
    assert all(rule in helped[start : start + 700] for rule in SCHEMA_WIDE)
    database.execute(LIBRARY_BESIDE_USER)
    found = {}
    for flags in ((), ("--include-managed",)):
        out = tmp_path / f"report{len(flags)}.json"
        assert pgvitals("check", database.dsn, *flags, "-o", str(out)).exit_code == 0
        report = json.loads(out.read_text())
        found[flags] = {(f["rule"], f["object"]): f for f in report["findings"]}
    default, everything = found[()], found[("--include-managed",)]
    assert ("serial-instead-of-identity", "public.river_job.id") in everything
    assert ("serial-instead-of-identity", "public.river_job.id") not in default
    for findings in (default, everything):
        comments = findings[("missing-comments", "public")]
        assert comments["evidence"]["tables"] == 3 and "river_job" not in str(comments)
        # bigint river_job.id beside three uuid keys is not the schema's mix of kinds
        assert not [key for key in findings if key[0] in SCHEMA_WIDE[1:]]
