"""The data profile on large tables: sampling against reading every row (SPEC §7: "data
profiling: cost bounded by the sample budget, not by table size"; issue 10).

    python bench/profile_bench.py [--rows 1000000,10000000] [--runs 3] [--json OUT]
    python bench/profile_bench.py --dsn DSN --rows ...   # a server of your own

Starts a throwaway PostgreSQL (pgvitals.embedded), and per size N creates a table of N
rows in its own schema (a primary key, an e-mail column, '' in 30 % of `note` spread
evenly, NULL `tag` in runs of 5,000 rows (clustered: whole pages alike), 'null'
placeholders in about 5 % of `code` at random, NULL in a third of `amount`), VACUUM
ANALYZE, then measures, each the median of --runs runs:

  catalog   collect() of the schema without reading rows (subtracted from the others)
  sampled   collect() with the default budget: TABLESAMPLE SYSTEM of about 10,000 rows
  exact     collect() with a budget that reads every row (no time limit)

and reports per size the profile times, sampled / exact, the sampled time at the
largest size against the smallest (the target: under 1.5 x, whatever the growth in
rows), and the error of every sampled ratio against the exact one, with how many fell
within their stated 95 % margin.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

from pgvitals.connect import Limits, connect
from pgvitals.embedded import EmbeddedServer
from pgvitals.engine import required_probes
from pgvitals.snapshot.collect import ProfileBudget, collect
from pgvitals.snapshot.model import ColumnProfile, Snapshot

DATABASE = "profile_bench"
TARGET_GROWTH = 1.5  # sampled time at the largest size / at the smallest
EXACT = ProfileBudget(
    exact_below_rows=10**12,
    exact_below_bytes=10**15,
    per_table_ms=3_600_000,
    total_ms=3_600_000,
)
SAMPLED = ProfileBudget()
TABLE = """
CREATE SCHEMA {schema};
CREATE TABLE {schema}.events (id bigint PRIMARY KEY, email text, note text, tag text,
  code text, amount int);
INSERT INTO {schema}.events
SELECT g,
       'user' || g || '@example.com',
       CASE WHEN g % 10 < 3 THEN '' ELSE 'note number ' || g END,
       CASE WHEN (g / 5000) % 4 = 0 THEN NULL ELSE 'tag' || (g % 7) END,
       CASE WHEN (hashtext(g::text) & 1023) < 51 THEN 'null' ELSE 'c' || g END,
       CASE WHEN g % 3 = 0 THEN NULL ELSE g % 1000 END
  FROM generate_series(1, {rows}) g;
"""


def load(dsn: str, rows: int) -> str:
    schema = f"rows_{rows}"
    with psycopg.connect(dsn, autocommit=True) as session:
        exists = session.execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)
        ).fetchone()
        if exists is None:
            started = time.monotonic()
            session.execute(TABLE.format(schema=schema, rows=rows))
            session.execute(f"VACUUM ANALYZE {schema}.events")
            print(f"loaded {rows:,} rows in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return schema


def timed(dsn: str, schema: str, budget: ProfileBudget | None) -> tuple[float, Snapshot]:
    session = connect(dsn, Limits(statement_timeout_ms=EXACT.per_table_ms))
    try:
        started = time.perf_counter()
        snap = collect(session, [schema], budget, probes=required_probes())
        took = time.perf_counter() - started
    finally:
        session.close()
    unread = [p.reason for p in snap.profiles if p.status != "ran"]
    if unread:
        raise SystemExit(f"{schema}: rows not read: {unread}")
    return took, snap


def profiles(snap: Snapshot) -> dict[str, ColumnProfile]:
    return {p.column: p for p in snap.column_profiles}


def errors(sampled: Snapshot, exact: Snapshot) -> list[dict[str, Any]]:
    """Each measured ratio: the sampled estimate, the exact value, the stated margin."""
    found = []
    counted = profiles(exact)
    for column, profile in profiles(sampled).items():
        truth = counted[column]
        for measure in ("null", "empty", "blank", "placeholder", "email"):
            if profile.count(measure) is None or not truth.count(measure):
                continue
            estimate, value = profile.ratio(measure) or 0.0, truth.ratio(measure) or 0.0
            found.append(
                {
                    "column": column,
                    "measure": measure,
                    "estimate": round(estimate, 5),
                    "exact": round(value, 5),
                    "error": round(abs(estimate - value), 5),
                    "margin": profile.margins.get(measure),
                }
            )
    return found


def measure(dsn: str, rows: int, runs: int) -> dict[str, Any]:
    schema = load(dsn, rows)
    catalog, sampled, exact = [], [], []
    for _ in range(runs):
        catalog.append(timed(dsn, schema, None)[0])
        took, sampled_snap = timed(dsn, schema, SAMPLED)
        sampled.append(took)
        took, exact_snap = timed(dsn, schema, EXACT)
        exact.append(took)
    base = statistics.median(catalog)
    profile = profiles(sampled_snap)["note"]
    return {
        "rows": rows,
        "rows_read_sampled": profile.examined,
        "catalog_s": round(base, 3),
        "sampled_s": round(statistics.median(sampled) - base, 3),
        "exact_s": round(statistics.median(exact) - base, 3),
        "errors": errors(sampled_snap, exact_snap),
    }


def report(results: list[dict[str, Any]]) -> bool:
    print(f"{'rows':>12} {'read':>7} {'sampled s':>10} {'exact s':>9} {'sampled/exact':>14}")
    for r in results:
        ratio = r["sampled_s"] / r["exact_s"] if r["exact_s"] > 0 else float("nan")
        print(
            f"{r['rows']:>12,} {r['rows_read_sampled']:>7,} {r['sampled_s']:>10.3f}"
            f" {r['exact_s']:>9.3f} {ratio:>14.3f}"
        )
    growth = results[-1]["sampled_s"] / max(results[0]["sampled_s"], 1e-3)
    rows_growth = results[-1]["rows"] / results[0]["rows"]
    print(
        f"\nsampled time, {results[-1]['rows']:,} against {results[0]['rows']:,} rows"
        f" ({rows_growth:.0f} x the rows): {growth:.2f} x (target under {TARGET_GROWTH} x)"
    )
    print(f"\n{'rows':>12} {'column':>7} {'measure':>12} {'estimate':>9} {'exact':>8}"
          f" {'error':>8} {'margin':>8}")  # fmt: skip
    within = total = 0
    for r in results:
        for e in r["errors"]:
            margin = e["margin"]
            total += 1
            within += margin is not None and e["error"] <= margin
            shown = f"{margin:.4f}" if margin is not None else "-"
            print(
                f"{r['rows']:>12,} {e['column']:>7} {e['measure']:>12} {e['estimate']:>9.4f}"
                f" {e['exact']:>8.4f} {e['error']:>8.4f} {shown:>8}"
            )
    print(f"\n{within} of {total} sampled ratios within their stated 95 % margin")
    return growth < TARGET_GROWTH


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000000,10000000", help="table sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dsn", help="a server of your own (a database to create tables in)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    sizes = sorted(int(n) for n in args.rows.split(","))
    server = None
    dsn = args.dsn
    if dsn is None:
        server = EmbeddedServer(settings={"autovacuum": "off", "max_wal_size": "4GB"}).start()
        with psycopg.connect(server.dsn(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {DATABASE}")
        dsn = server.dsn(DATABASE)
    try:
        results = [measure(dsn, rows, args.runs) for rows in sizes]
    finally:
        if server is not None:
            server.stop()
    ok = report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
