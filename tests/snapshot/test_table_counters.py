"""tables.sql computes pg_stat_user_tables' counters from the functions the view calls,
without the view's second pass over every relation's indexes: on tables with activity
(scans by index and not, writes, a vacuum, an analyze) they are the view's values,
NULL where the view has no row (a foreign table)."""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row

from pgvitals.snapshot.collect import load_query

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
