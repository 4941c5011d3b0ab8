"""A check run on a hot standby: the counters only a primary keeps (rows written, dead
tuples, vacuum and analyze times) are zero there, so the rules that judge from them
are reported as not run, with the reason, rather than passing green; what the
catalogs replicate (pg_stats) is still judged there, and no evidence quotes a zero the
standby never counted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pgvitals.connect import connect
from pgvitals.diff import compare_findings
from pgvitals.embedded import EmbeddedServer
from pgvitals.engine import ON_STANDBY, analyse
from pgvitals.history.store import open_store
from pgvitals.report import build_report
from pgvitals.rules import REGISTRY
from pgvitals.snapshot.collect import collect
from pgvitals.testing import flush_statistics
from tests.helpers import pgvitals

TABLE = """
CREATE TABLE lessons (id int PRIMARY KEY, title text NOT NULL);
INSERT INTO lessons SELECT g, 'x' FROM generate_series(1, 20000) g;
ANALYZE lessons;
"""


class Standby(EmbeddedServer):
    """A hot standby of `primary`, made with pg_basebackup (-R: it follows the primary)."""

    def __init__(self, primary: EmbeddedServer) -> None:
        super().__init__(primary.bin_dir)
        self.primary = primary

    def start(self) -> Standby:
        if self.primary.os_user is not None:
            self._drop_root()
        self._run(
            "pg_basebackup", "-h", str(self.primary.base_dir), "-U", "postgres",
            "-D", str(self.data_dir), "-R", "-X", "stream", "--checkpoint=fast",
        )  # fmt: skip
        # the primary's settings (given on its command line, so not in the copied
        # files): a standby refuses to run with fewer locks than its primary
        settings = {**self.primary.settings, "listen_addresses": "''", "hot_standby": "on"}
        options = " ".join([f"-k {self.base_dir}"] + [f"-c {k}={v}" for k, v in settings.items()])
        log = str(self.base_dir / "server.log")
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", log, "-o", options, "-w", "start")
        return self


def replayed(primary: str, standby: str) -> None:
    """Wait until the standby has replayed everything the primary wrote so far."""
    with psycopg.connect(primary, autocommit=True) as session:
        (position,) = session.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    with psycopg.connect(standby, autocommit=True) as session:
        for _ in range(200):
            (done,) = session.execute(
                "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [position]
            ).fetchone()
            if done:
                return
            time.sleep(0.05)
    raise AssertionError("the standby did not catch up")


def counters(dsn: str) -> tuple[int, int, int, int]:
    with psycopg.connect(dsn) as session:
        return session.execute(
            "SELECT n_tup_ins, n_tup_upd, n_dead_tup, n_mod_since_analyze"
            " FROM pg_stat_user_tables WHERE relname = 'lessons'"
        ).fetchone()


def test_a_standby_keeps_no_write_counters_and_their_rules_are_not_run(server) -> None:
    with replicated(server, TABLE, "UPDATE lessons SET title = 'y' WHERE id <= 15000") as (
        primary,
        standby,
    ):
        # the claim: the primary counted the writes, the standby has zeros
        inserted, updated, dead, changed = counters(primary.dsn())
        assert (inserted, updated, dead) == (20000, 15000, 15000) and changed >= 15000
        assert counters(standby.dsn()) == (0, 0, 0, 0)

        on_primary = analyse(collect(connect(primary.dsn())))
        session = connect(standby.dsn())
        snapshot = collect(session)
        session.close()
        on_standby = analyse(snapshot)

    assert snapshot.server.in_recovery
    assert "this server is a standby" in snapshot.facts.window.text
    judged_on_primary = {"high-dead-tuple-ratio", "stale-statistics"}
    assert judged_on_primary <= {f.rule for f in on_primary.findings}
    skipped = {c.rule: c.reason for c in on_standby.checks if c.status == "skipped"}
    flagged = {rule.id for rule in REGISTRY.values() if rule.primary_counters}
    assert "high-dead-tuple-ratio" in flagged
    assert {rule: skipped.get(rule) for rule in flagged} == dict.fromkeys(flagged, ON_STANDBY)
    # stale-statistics runs there for its "never analyzed" half (pg_stats is replicated,
    # see below), and does not take the standby's zero changed rows for fresh statistics
    assert "stale-statistics" not in flagged | set(skipped)
    assert not judged_on_primary & {f.rule for f in on_standby.findings}
    # the activity section neither quotes those zeros nor calls the table unused
    (lessons,) = build_report(on_standby).activity
    assert (lessons.inserts, lessons.updates, lessons.dead_tuples) == (None, None, None)
    assert not lessons.idle and lessons.activity != "never used"
    assert snapshot.facts.counter(snapshot.tables[0], "seq_scan") is not None  # its own


REFERENCES = """
CREATE TABLE parents (id int PRIMARY KEY);
INSERT INTO parents SELECT generate_series(1, 300);
CREATE TABLE children (id int PRIMARY KEY, parent_id int REFERENCES parents);
INSERT INTO children SELECT g, 1 + g % 200 FROM generate_series(1, 20000) g;
ANALYZE parents;
ANALYZE children;
DELETE FROM parents WHERE id > 200;
CREATE TABLE "Weird""Name" (id int, note text) WITH (autovacuum_enabled = false);
INSERT INTO "Weird""Name" SELECT g, 'x' FROM generate_series(1, 5000) g;
"""


@contextmanager
def replicated(server, *statements: str) -> Iterator[tuple[EmbeddedServer, Standby]]:
    """A primary that ran `statements` (statistics flushed), and a hot standby that has
    replayed them."""
    with EmbeddedServer(server.bin_dir) as primary:
        with psycopg.connect(primary.dsn(), autocommit=True) as session:
            for statement in statements:
                session.execute(statement)
            flush_statistics(session)
        with Standby(primary) as standby:
            replayed(primary.dsn(), standby.dsn())
            yield primary, standby


def by_rule(findings: list, rule: str) -> dict[str, object]:
    return {f.object: f for f in findings if f.rule == rule}


def test_a_standby_judges_never_analyzed_from_pg_stats_and_quotes_no_deletes_it_never_counted(
    server,
) -> None:
    # monitor: a monitoring role, reads the statistics views, none of the tables
    with replicated(server, REFERENCES, "CREATE ROLE monitor LOGIN IN ROLE pg_monitor") as (
        primary,
        standby,
    ):
        # the claims: the standby has the primary's column statistics but no analyze
        # times, and counts none of the primary's deletes
        with psycopg.connect(standby.dsn()) as session:
            analyzed, deletes = session.execute(
                "SELECT (SELECT last_analyze FROM pg_stat_user_tables"
                "         WHERE relname = 'children'),"
                "       (SELECT n_tup_del FROM pg_stat_user_tables"
                "         WHERE relname = 'parents')"
            ).fetchone()
            (statistics,) = session.execute(
                "SELECT count(*) FROM pg_stats WHERE tablename = 'children'"
            ).fetchone()
        assert (analyzed, deletes, statistics) == (None, 0, 2)
        on_primary = analyse(collect(connect(primary.dsn())))
        session = connect(standby.dsn())
        on_standby = analyse(collect(session))
        session.close()
        session = connect(make_conninfo(standby.dsn(), user="monitor"))
        by_monitor = analyse(collect(session))
        session.close()

    stale = {
        rule: by_rule(run.findings, "stale-statistics")
        for rule, run in (("primary", on_primary), ("standby", on_standby))
    }
    # children's changes (its insert counted after its ANALYZE) only the primary knows
    assert set(stale["primary"]) == {"public.children", 'public.Weird"Name'}
    assert set(stale["standby"]) == {'public.Weird"Name'}
    never = stale["standby"]['public.Weird"Name']
    assert never.severity == stale["primary"]['public.Weird"Name'].severity
    assert "never been analyzed" in never.message
    assert never.evidence["judged_from"].startswith("pg_stats")
    # pg_stats shows this role nothing, and a standby has no analyze times: not judged,
    # rather than every table called never analyzed
    assert by_rule(by_monitor.findings, "stale-statistics") == {}
    # ... and the check says it ran in part: compared with the primary, the changes only
    # the primary counts are not rechecked there, not resolved
    (check,) = (c for c in on_standby.checks if c.rule == "stale-statistics")
    assert check.status == "ran" and check.reason.startswith("in part: this server is a standby")
    (maintenance,) = (a for a in build_report(on_standby).areas if a.title == "Maintenance")
    assert "stale-statistics ran in part" in maintenance.reason
    compared = compare_findings(build_report(on_primary), build_report(on_standby))
    assert "public.children" in {f.object for f in compared.not_rechecked}
    assert "stale-statistics" not in {f.rule for f in compared.resolved}

    key = "public.children.children_parent_id_fkey"
    on_primary_fk = by_rule(on_primary.findings, "unindexed-foreign-key")[key]
    on_standby_fk = by_rule(on_standby.findings, "unindexed-foreign-key")[key]
    assert on_primary_fk.evidence["referenced_deletes"] == 100
    assert on_standby_fk.evidence["referenced_deletes"] is None
    assert on_standby_fk.evidence["referenced_deletes_counted_on"].startswith("the primary")
    assert on_standby_fk.severity == on_primary_fk.severity


def test_a_standby_keeps_a_history_of_its_own(server, tmp_path) -> None:
    """A standby shares its primary's system identifier and database name, but not its
    counters: kept as one target, the trend went from the standby's zero writes and its
    own scans to the primary's and back."""
    store = str(tmp_path / "history.sqlite")
    with replicated(server, TABLE) as (primary, standby):
        for target in (primary, standby, primary):
            run = pgvitals("check", target.dsn(), "--history", store, "--format", "json")
            assert run.exit_code == 0, run.stderr
    targets = {t.key: t.runs for t in open_store(store, create=False).targets()}
    assert len(targets) == 2
    (standby_key,) = (key for key in targets if " standby " in key)
    assert targets[standby_key] == 1
    assert sorted(targets.values()) == [1, 2]


def test_a_diff_of_a_primary_and_its_standby_gives_no_statistics_deltas(server) -> None:
    """Same identifier, same database: the diff took the standby for a later state of
    the primary, its zeros for counters reset and its dead tuples for vacuumed."""
    with replicated(server, TABLE, "UPDATE lessons SET title = 'y' WHERE id <= 5000") as (
        primary,
        standby,
    ):
        run = pgvitals("diff", primary.dsn(), standby.dsn(), "--format", "json")
    assert run.exit_code == 0, run.stderr
    statistics = run.json()["statistics"]
    assert statistics["compared"] is False and "standby" in statistics["note"]
    assert run.json()["drift"]["changes"] == []  # the schema is the primary's


def test_a_role_whose_transactions_default_to_serializable_can_check_a_standby(server) -> None:
    """A hot standby refuses serializable transactions: the role's default failed the
    first read with a traceback (FeatureNotSupported) instead of a report."""
    role = (
        "CREATE ROLE u_serializable LOGIN IN ROLE pg_monitor;"
        " ALTER ROLE u_serializable SET default_transaction_isolation = 'serializable'"
    )
    with replicated(server, TABLE, role) as (_, standby):
        dsn = make_conninfo(standby.dsn(), user="u_serializable")
        # the claim: its reads fail there
        with psycopg.connect(dsn) as session, pytest.raises(psycopg.errors.FeatureNotSupported):
            session.execute("SELECT 1")
        run = pgvitals("check", dsn, "--format", "json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["summary"]["tables"] == 1


def test_autovacuum_disabled_on_a_standby_quotes_no_dead_tuples_it_never_counted(server) -> None:
    """The dead tuples that make a table without autovacuum high are counted on the
    primary: the standby's zero made it medium there, quoted as 'n_dead_tup: 0'."""
    table = (
        'CREATE TABLE "Weird""Name" (id int PRIMARY KEY, v int) WITH (autovacuum_enabled = false);'
        ' INSERT INTO "Weird""Name" SELECT g, g FROM generate_series(1, 20000) g;'
        ' UPDATE "Weird""Name" SET v = v + 1'
    )
    with replicated(server, table) as (primary, standby):
        on_primary = analyse(collect(connect(primary.dsn())))
        session = connect(standby.dsn())
        on_standby = analyse(collect(session))
        session.close()
    (high,) = by_rule(on_primary.findings, "autovacuum-disabled").values()
    assert high.severity == "high" and high.evidence["n_dead_tup"] == 20000
    (there,) = by_rule(on_standby.findings, "autovacuum-disabled").values()
    assert there.evidence["n_dead_tup"] is None
    assert there.evidence["counted_on"].startswith("the primary")
    (check,) = (c for c in on_standby.checks if c.rule == "autovacuum-disabled")
    assert check.reason.startswith("in part: this server is a standby")


def test_target_session_attrs_choose_between_primary_and_standby(server) -> None:
    """pgvitals makes its session read-only, so libpq saw every server as read-only:
    read-write (an HA connection string's way to find the primary) refused them all,
    and read-only took the primary listed first instead of the standby."""
    with replicated(server, TABLE) as (primary, standby):
        hosts = [conninfo_to_dict(s.dsn()) for s in (primary, standby)]

        def listed(order: list[int], attrs: str) -> str:
            return make_conninfo(
                primary.dsn(),
                host=",".join(str(hosts[i]["host"]) for i in order),
                port=",".join(str(hosts[i]["port"]) for i in order),
                target_session_attrs=attrs,
            )

        def in_recovery(dsn: str) -> bool:
            session = connect(dsn)
            try:
                (recovering,) = session.execute("SELECT pg_is_in_recovery()").fetchone()
            finally:
                session.close()
            return recovering

        assert in_recovery(listed([1, 0], "read-write")) is False
        assert in_recovery(listed([0, 1], "read-only")) is True
