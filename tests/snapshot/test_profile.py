"""The data profile (snapshot/profile.py): exact counts on small tables, estimates
within their stated margin of error on sampled ones, bounded reads, and no row read at
all with --no-data."""

from __future__ import annotations

import json
import time

import psycopg
import pytest

from pgvitals.config import ConfigError, parse_config
from pgvitals.connect import connect
from pgvitals.engine import analyse, profile_budget, required_probes
from pgvitals.report import build_report
from pgvitals.snapshot.collect import ProfileBudget, collect
from pgvitals.snapshot.model import ColumnProfile, Snapshot
from pgvitals.testing import flush_statistics
from tests.helpers import pgvitals, valid_report

DEFAULT_BUDGET = ProfileBudget()


def snapshot_of(dsn: str, budget: ProfileBudget | None = DEFAULT_BUDGET) -> Snapshot:
    session = connect(dsn)
    try:
        return collect(session, profile=budget, probes=required_probes())
    finally:
        session.close()


def profile_of(snap: Snapshot, table: str, column: str) -> ColumnProfile:
    oid = next(t.oid for t in snap.tables if t.name == table)
    found = snap.facts.column_profiles.get((oid, column))
    assert found is not None, f"{table}.{column} was not profiled"
    return found


FEEDBACK = """
CREATE TABLE "Weird""Name" (id int PRIMARY KEY, comment text, topic text NOT NULL,
  "ñame" varchar(20));
INSERT INTO "Weird""Name"
SELECT g,
       CASE WHEN g <= 7 THEN '' WHEN g <= 9 THEN NULL ELSE 'comment ' || g END,
       '',
       CASE WHEN g % 3 = 0 THEN 'N/A' ELSE 'a' || g END
  FROM generate_series(1, 18) g;
"""


def test_small_tables_are_counted_exactly(database) -> None:
    database.execute(FEEDBACK)
    snap = snapshot_of(database.dsn)
    comment = profile_of(snap, 'Weird"Name', "comment")
    assert (comment.empty_strings, comment.counts["null"], comment.rows) == (7, 2, 18)
    assert not comment.sampled and comment.examined == 18 and comment.margins == {}
    topic = profile_of(snap, 'Weird"Name', "topic")
    assert (topic.empty_strings, topic.rows) == (18, 18)
    assert "null" not in topic.counts  # NOT NULL: nothing to count
    name = profile_of(snap, 'Weird"Name', "ñame")
    assert (name.counts["placeholder"], name.placeholders) == (6, ["n/a"])
    # the report's data-quality table carries the same counts, and the JSON stays valid
    report = build_report(analyse(snap), "test").to_json()
    valid_report(json.loads(json.dumps(report)))
    rows = {row["column"]: row for row in report["sections"]["quality"]}
    assert rows['public.Weird"Name.comment']["empty"] == 7
    assert rows['public.Weird"Name.comment']["empty_ratio"] == round(7 / 18, 4)
    assert rows['public.Weird"Name.topic']["empty_ratio"] == 1.0
    assert rows['public.Weird"Name.topic']["severity"] == "critical"
    assert rows['public.Weird"Name.ñame']["placeholders"] == 6


def test_a_nondeterministic_collation_does_not_stop_the_profile(database) -> None:
    with database.admin() as admin:
        try:
            admin.execute(
                "CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2',"
                " deterministic = false)"
            )
        except psycopg.errors.FeatureNotSupported:
            pytest.skip("this server has no ICU")
    database.execute(
        "CREATE TABLE people (id int PRIMARY KEY, login text COLLATE ci);"
        "INSERT INTO people SELECT g,"
        " CASE WHEN g % 2 = 0 THEN 'N/A' ELSE 'u' || g || '@example.com' END"
        " FROM generate_series(1, 10) g"
    )
    snap = snapshot_of(database.dsn)
    assert [p.status for p in snap.profiles] == ["ran"]
    login = profile_of(snap, "people", "login")
    assert (login.counts["placeholder"], login.counts["email"]) == (5, 5)


# 400,000 rows, profiled from a sample of about 5,000: '' in 30 % of `note` (evenly
# spread), NULL in every fourth run of 2,000 rows of `tag` (clustered: whole pages alike,
# so its margin is wide), 'null' placeholders in 5 % of `code`.
LARGE = """
CREATE TABLE "Mixed Case" (id int, note text, tag text, code text);
INSERT INTO "Mixed Case"
SELECT g, CASE WHEN g % 10 < 3 THEN '' ELSE 'note ' || g END,
       CASE WHEN (g / 2000) % 4 = 0 THEN NULL ELSE 't' END,
       CASE WHEN g % 20 = 0 THEN 'null' ELSE 'c' || g END
  FROM generate_series(1, 400000) g;
ANALYZE "Mixed Case";
"""
TRUE_RATIOS = {("note", "empty"): 0.3, ("tag", "null"): None, ("code", "placeholder"): 0.05}


def test_large_tables_are_sampled_and_within_the_stated_error(database) -> None:
    database.execute(LARGE)
    with database.admin() as admin:
        nulls = admin.execute(
            'SELECT count(*) FILTER (WHERE tag IS NULL)::float8 / count(*) FROM "Mixed Case"'
        ).fetchone()[0]
    truth = {**TRUE_RATIOS, ("tag", "null"): nulls}
    within = 0
    seeds = range(1, 21)
    for seed in seeds:
        budget = ProfileBudget(exact_below_rows=50_000, sample_rows=5_000, seed=seed)
        snap = snapshot_of(database.dsn, budget)
        for (column, measure), ratio in truth.items():
            profile = profile_of(snap, "Mixed Case", column)
            assert profile.sampled and profile.examined < 20_000  # bounded by the sample
            estimate = profile.ratio(measure)
            assert estimate is not None and measure in profile.margins
            within += abs(estimate - ratio) <= profile.margins[measure]
    # a 95 % margin: nearly every estimate lies within it (60 estimates here)
    assert within >= 0.9 * len(seeds) * len(truth), within


def test_the_same_sample_is_read_on_every_run(database) -> None:
    database.execute(LARGE)
    budget = ProfileBudget(exact_below_rows=50_000, sample_rows=5_000)
    first, second = (snapshot_of(database.dsn, budget) for _ in range(2))
    assert profile_of(first, "Mixed Case", "tag") == profile_of(second, "Mixed Case", "tag")


def test_a_table_too_wide_for_one_select_list_is_read_in_parts(database) -> None:
    columns = ", ".join(f"c{n} text" for n in range(200))
    values = ", ".join("CASE WHEN g % 2 = 0 THEN '' END" for _ in range(200))
    database.execute(
        f"CREATE TABLE wide (id int PRIMARY KEY, {columns});"
        f"INSERT INTO wide SELECT g, {values} FROM generate_series(1, 30) g"
    )
    for budget in (ProfileBudget(), ProfileBudget(exact_below_rows=10, sample_rows=1_000_000)):
        snap = snapshot_of(database.dsn, budget)
        assert [p.status for p in snap.profiles] == ["ran"]
        last = profile_of(snap, "wide", "c199")
        assert (last.empty_strings, last.counts["null"], last.rows) == (15, 15, 30)


def test_the_total_budget_skips_the_tables_left_with_the_reason(database) -> None:
    database.execute(
        "CREATE TABLE a (id int PRIMARY KEY, t text); CREATE TABLE b (id int PRIMARY KEY, t text);"
        "INSERT INTO a VALUES (1, ''); INSERT INTO b VALUES (1, '')"
    )
    snap = snapshot_of(database.dsn, ProfileBudget(total_ms=0))
    assert {(p.status, p.reason) for p in snap.profiles} == {
        ("skipped", "data budget of 0 ms used up")
    }
    assert snap.column_profiles == []
    check = next(c for c in analyse(snap).checks if c.rule == "empty-strings")
    assert (check.status, check.reason) == ("skipped", "data budget of 0 ms used up")


def user_table_reads(dsn: str) -> dict[str, tuple[int, int]]:
    with psycopg.connect(dsn, autocommit=True) as session:
        rows = session.execute(
            "SELECT relname, seq_scan, coalesce(idx_scan, 0) FROM pg_stat_user_tables"
        ).fetchall()
    return {name: (seq, idx) for name, seq, idx in rows}


def collect_and_flush(dsn: str, budget: ProfileBudget | None) -> None:
    """Collect as `check` does, then make this session's counters visible to others."""
    session = connect(dsn)
    try:
        collect(session, profile=budget, probes=required_probes())
        session.execute("SELECT pg_catalog.pg_stat_force_next_flush()")
        session.execute("SELECT 1")  # the flush happened before this was answered
    finally:
        session.close()


def test_no_data_reads_no_user_table(database) -> None:
    with database.admin() as admin:
        if admin.info.server_version < 150000:
            pytest.skip("pg_stat_force_next_flush() needs PostgreSQL 15")
    # the setup's own scans are flushed before the first reading: a backend that exits
    # flushes its counters after the client has gone, and one landing between the two
    # readings failed this test now and then
    with database.admin() as setup:
        setup.execute(FEEDBACK + LARGE.replace("400000", "1000"))
        setup.execute(
            'CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES "Weird""Name" (id),'
            " deleted_at timestamptz)"
        )
        flush_statistics(setup)
    before = user_table_reads(database.dsn)
    collect_and_flush(database.dsn, None)
    time.sleep(0.2)
    assert user_table_reads(database.dsn) == before
    # the same measurement sees the reads when rows are read, by a role that may not
    # switch counting off (a superuser's reads are not counted: tests/snapshot/test_own_reads.py)
    collect_and_flush(database.reader(), ProfileBudget())
    after = user_table_reads(database.dsn)
    assert all(after[name][0] > before[name][0] for name in before), (before, after)


def test_the_profile_bounds_come_from_the_config() -> None:
    config = parse_config(
        {
            "profile": {
                "exact_below_rows": 500,
                "sample_rows": 2_000,
                "sample_method": "bernoulli",
            },
            "rules": {"placeholder-values": {"values": " N/A ,null,N/A"}},
        }
    )
    budget = profile_budget(config)
    assert (budget.exact_below_rows, budget.sample_rows, budget.sample_method) == (
        500,
        2_000,
        "bernoulli",
    )
    assert budget.placeholders == ("n/a", "null")
    for bad in ({"sample_rows": 0}, {"sample_method": "random"}, {"rows": 5}, {"total_ms": True}):
        with pytest.raises(ConfigError):
            parse_config({"profile": bad})
    too_many = ",".join(f"p{n}" for n in range(64))
    with pytest.raises(ConfigError, match="at most 63"):
        profile_budget(parse_config({"rules": {"placeholder-values": {"values": too_many}}}))


SECRETS = """
CREATE TABLE users (id int PRIMARY KEY, email text, login text, password text, nickname text);
INSERT INTO users SELECT g, 'user' || g || '@example.com', 'person' || g || '@example.org',
  'hunter2-' || g, CASE WHEN g % 2 = 0 THEN 'N/A' ELSE 'nick' || g END
  FROM generate_series(1, 12) g;
"""


def test_row_values_reach_the_report_only_with_show_samples(database, tmp_path) -> None:
    database.execute(SECRETS)
    plain = tmp_path / "plain.json"
    run = pgvitals("check", database.dsn, "-o", str(plain), "-o", str(tmp_path / "plain.md"))
    assert run.exit_code == 0, run.stderr
    for path in (plain, tmp_path / "plain.md"):
        text = path.read_text()
        assert "hunter2" not in text and "person1@" not in text and "user1@" not in text
    shown = tmp_path / "shown.json"
    run = pgvitals("check", database.dsn, "--show-samples", "-o", str(shown))
    assert run.exit_code == 0, run.stderr
    report = valid_report(json.loads(shown.read_text()))
    assert "hunter2" not in shown.read_text()  # never the values of a password column
    by_rule = {(f["rule"], f["object"]): f for f in report["findings"]}
    samples = by_rule[("placeholder-values", "public.users.nickname")]["evidence"]["samples"]
    assert "--show-samples" in samples["note"]
    assert samples["rows"] == [
        {"row": "id=2", "value": "'N/A'"},
        {"row": "id=4", "value": "'N/A'"},
        {"row": "id=6", "value": "'N/A'"},
    ]
    hidden = by_rule[("pii-inventory", "public.users")]["evidence"]["samples"]["rows"]
    assert len(hidden) == 3 and all(r["column"] == "login" for r in hidden)
    assert "samples" not in by_rule[("plaintext-password", "public.users.password")]["evidence"]
    run = pgvitals("check", database.dsn, "--show-samples", "--no-data")
    assert run.exit_code == 2 and "--show-samples" in run.stderr


def test_a_role_subject_to_row_level_security_counts_no_rows_through_its_policies(
    database,
) -> None:
    # Logto's tenant roles: each sees only its tenant's rows; counted through the policy,
    # the other tenant's 300 inserts read as rolled back (aborted-writes, medium)
    tenant = f"tenant_{database.name}"
    with database.admin() as setup:
        setup.execute(
            f"CREATE ROLE {tenant} LOGIN;"
            "CREATE TABLE logs (tenant text NOT NULL, id int);"
            "INSERT INTO logs SELECT t, g FROM unnest(ARRAY['a', 'b']) t,"
            " generate_series(1, 300) g;"
            "ALTER TABLE logs ENABLE ROW LEVEL SECURITY;"
            "CREATE POLICY own ON logs USING (tenant = 'a');"
            f"GRANT SELECT ON logs TO {tenant};"
        )
        flush_statistics(setup)
    try:
        snap = snapshot_of(psycopg.conninfo.make_conninfo(database.dsn, user=tenant))
        [profile] = [p for p in snap.profiles if p.table_oid == snap.tables[0].oid]
        assert profile.status == "skipped"
        assert "row-level security" in (profile.reason or "")
        found = analyse(snap, parse_config({})).findings
        assert [f for f in found if f.rule == "aborted-writes"] == []
    finally:
        with database.admin() as cleanup:
            cleanup.execute(f"DROP OWNED BY {tenant}; DROP ROLE {tenant}")
    # the owner counts every row
    owner_snap = snapshot_of(database.dsn)
    [profile] = [p for p in owner_snap.profiles if p.table_oid == owner_snap.tables[0].oid]
    assert profile.row_count == 600


def test_the_quality_table_counts_references_to_secrets_as_hashed_or_not_never(database) -> None:
    # 8 Zabbix-style macros naming a secret kept elsewhere, 2 passwords stored as typed:
    # plaintext-password says 2 are not hashed, and so must the data-quality table
    database.execute(
        "CREATE TABLE logins (id int PRIMARY KEY, password text);"
        "INSERT INTO logins SELECT g, CASE WHEN g <= 8 THEN '{$HOST' || g || '.PASSWORD}'"
        " ELSE 'hunter' || g END FROM generate_series(1, 10) g"
    )
    snap = snapshot_of(database.dsn)
    analysis = analyse(snap)
    [found] = [f for f in analysis.findings if f.rule == "plaintext-password"]
    assert found.evidence["not_hashed"] == 2
    report = build_report(analysis, "test").to_json()
    rows = {row["column"]: row for row in report["sections"]["quality"]}
    assert rows["public.logins.password"]["not_hashed"] == 2
