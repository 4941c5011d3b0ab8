"""tables.sql computes pg_stat_user_tables' counters from the functions the view calls,
without the view's second pass over every relation's indexes: on tables with activity
(scans by index and not, writes, a vacuum, an analyze) they are the view's values,
NULL where the view has no row (a foreign table)."""

from __future__ import annotations

from dataclasses import replace

import psycopg
from psycopg.rows import dict_row

from pgvitals.engine import analyse
from pgvitals.snapshot.collect import load_query
from pgvitals.snapshot.facts import PRIMARY_COUNTERS, PRIMARY_TIMES
from pgvitals.snapshot.model import TableProfile
from tests.render.test_md_text import make_snapshot, make_table

COUNTERS = [
    "seq_scan", "seq_tup_read", "idx_scan", "idx_tup_fetch", "n_tup_ins", "n_tup_upd",
    "n_tup_del", "n_tup_hot_upd", "n_live_tup", "n_dead_tup", "n_mod_since_analyze",
    "n_ins_since_vacuum", "vacuum_count", "autovacuum_count", "analyze_count",
    "autoanalyze_count",
]  # fmt: skip
TIMES = ["last_vacuum", "last_autovacuum", "last_analyze", "last_autoanalyze"]


def test_table_counters_are_the_views(database) -> None:
    database.execute("""
        CREATE TABLE indexed (id int PRIMARY KEY, note text);
        CREATE INDEX ON indexed (note);
        INSERT INTO indexed SELECT n, 'n' || n FROM generate_series(1, 500) n;
        UPDATE indexed SET note = 'changed' WHERE id <= 40;
        DELETE FROM indexed WHERE id > 450;
        CREATE TABLE plain (v int);
        INSERT INTO plain SELECT generate_series(1, 30);
        CREATE TABLE parts (at date) PARTITION BY RANGE (at);
        CREATE TABLE parts_1 PARTITION OF parts FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
        CREATE FOREIGN DATA WRAPPER no_handler;
        CREATE SERVER nowhere FOREIGN DATA WRAPPER no_handler;
        CREATE FOREIGN TABLE remote (v int) SERVER nowhere;
    """)  # fmt: skip
    database.execute("VACUUM ANALYZE indexed")
    with psycopg.connect(database.dsn, autocommit=True) as session:
        session.execute("SET enable_seqscan = off")
        for id_ in (1, 2, 3):
            session.execute("SELECT * FROM indexed WHERE id = %s", [id_]).fetchall()
        session.execute("SET enable_indexscan = off")  # a bitmap scan: the table's own fetches
        session.execute("SELECT * FROM indexed WHERE id < 100").fetchall()
        session.execute("RESET ALL")
        session.execute("SELECT count(*) FROM plain").fetchall()
        session.execute("SELECT pg_stat_force_next_flush()")
    with psycopg.connect(database.dsn, row_factory=dict_row) as session:
        session.execute("SET stats_fetch_consistency = snapshot")  # one read of the counters
        version = session.info.server_version
        rows = session.execute(load_query("tables", version), {"schemas": []}).fetchall()
        view = session.execute(
            f"SELECT relname AS name, {', '.join(COUNTERS + TIMES)} FROM pg_stat_user_tables"
        ).fetchall()
    ours = {row["name"]: row for row in rows}
    theirs = {row["name"]: row for row in view}
    assert sorted(ours) == ["indexed", "parts", "parts_1", "plain", "remote"]
    for name in ("indexed", "parts", "parts_1", "plain"):
        counters = {key: ours[name][key] for key in COUNTERS}
        assert counters == {key: theirs[name][key] for key in COUNTERS}, name
        vacuumed = [ours[name][key] is not None for key in TIMES]
        assert vacuumed == [theirs[name][key] is not None for key in TIMES], name
    assert ours["indexed"]["idx_scan"] >= 3 and ours["plain"]["idx_scan"] is None
    assert ours["indexed"]["n_tup_upd"] == 40 and ours["indexed"]["last_vacuum"] is not None
    assert "remote" not in theirs
    assert all(ours["remote"][key] is None for key in COUNTERS + TIMES)


def test_on_a_standby_no_evidence_quotes_a_counter_only_the_primary_keeps() -> None:
    """A standby's n_mod_since_analyze, n_dead_tup and analyze times are zero or empty
    whatever the table's: the rules read them through Facts.counter / time_kept, which
    give None there, and say where they are counted (stale-statistics on a table never
    analyzed, autovacuum-disabled)."""
    snapshot = make_snapshot()
    events = make_table(
        90, "public", "events", rows_estimate=50_000.0, reloptions=["autovacuum_enabled=false"]
    )
    snapshot = replace(
        snapshot,
        server=replace(snapshot.server, in_recovery=True),
        tables=[*snapshot.tables, events],
        profiles=[TableProfile(90, "ran", None, 50_000, False, None)],
    )
    findings = {(f.rule, f.object): f for f in analyse(snapshot).findings}
    never = findings[("stale-statistics", "public.events")]
    assert never.evidence["judged_from"].startswith("pg_stats")
    off = findings[("autovacuum-disabled", "public.events")]
    assert off.evidence["counted_on"] == "the primary (this is a standby)"
    for item in (never, off):
        quoted = {k for k in item.evidence if k in PRIMARY_COUNTERS | PRIMARY_TIMES}
        assert quoted and all(item.evidence[k] is None for k in quoted), item.evidence
