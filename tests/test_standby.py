"""A check run on a hot standby: the counters only a primary keeps (rows written, dead
tuples, vacuum and analyze times) are zero there, so the rules that judge from them
are reported as not run, with the reason, rather than passing green."""

from __future__ import annotations

import time

import psycopg

from pgvitals.connect import connect
from pgvitals.embedded import EmbeddedServer
from pgvitals.engine import ON_STANDBY, analyse
from pgvitals.rules import REGISTRY
from pgvitals.snapshot.collect import collect
from pgvitals.testing import flush_statistics

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
    with EmbeddedServer(server.bin_dir) as primary:
        with psycopg.connect(primary.dsn(), autocommit=True) as session:
            session.execute(TABLE)
            session.execute("UPDATE lessons SET title = 'y' WHERE id <= 15000")
            flush_statistics(session)
        with Standby(primary) as standby:
            replayed(primary.dsn(), standby.dsn())
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
    assert judged_on_primary <= flagged
    assert {rule: skipped.get(rule) for rule in flagged} == dict.fromkeys(flagged, ON_STANDBY)
    assert not judged_on_primary & {f.rule for f in on_standby.findings}
