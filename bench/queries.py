"""Time each catalog query of pgvitals on a loaded database, beside a flat read.

    python bench/queries.py DSN [--runs 5] [--json OUT] [--before REV]
    python bench/queries.py DSN --explain NAME

Each run opens a new session and sends the queries in the order `collect()` sends
them, in one REPEATABLE READ transaction with its work_mem, so that each query
meets the catalog caches as pgvitals leaves them (a new backend starts with
empty caches, and functions such as pg_get_constraintdef fill them row by row).
Runs alternate between two sessions' worth of work:

  server   execution time as EXPLAIN ANALYZE reports it (TIMING OFF, so that
           per-node clocks do not inflate it)
  fetch    wall time of execute + fetchall through psycopg (tuple rows): server,
           transfer and decoding into Python values
  cpu      CPU time of the server process during that fetch (user + system, from
           /proc/PID/stat; only when the server runs on this machine and /proc
           shows it). The fetch session runs without parallel workers so that one
           process does all the work: on a shared machine this is the steadiest
           figure, as it does not count time spent waiting for a core.

Each figure is the median of --runs runs. The "flat read" is SELECT * of each
catalog the queries read (pg_class, pg_attribute, pg_index, ...), without joins:
a floor for what reading these catalogs costs. `--before REV` also times the
query files as of git revision REV, in sessions alternating with the current
ones, for a before/after comparison. The machine is shared: compare figures
taken in one call, not across calls. `--explain NAME` prints one query's
EXPLAIN (ANALYZE, BUFFERS, VERBOSE) plan, in a new session, after the queries
collect() sends before it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

from pgvitals.snapshot.collect import USER_RELATION, load_query, version_dependent_sql

# The catalog queries collect() sends once each, in its order. definitions.sql is
# left out: it runs per batch of tables, under lock_timeout, on a plan of its own.
QUERIES = ("server", "lookups", "schemas", "tables", "columns", "constraints", "indexes",
           "sequences")  # fmt: skip
FLAT = ("pg_namespace", "pg_class", "pg_attribute", "pg_attrdef", "pg_type", "pg_index",
        "pg_constraint", "pg_description", "pg_depend", "pg_inherits", "pg_statistic",
        "pg_sequence")  # fmt: skip
PARAMS: dict[str, Any] = {"schemas": []}
Statements = list[tuple[str, str]]


def query_at(revision: str, name: str, version: int) -> str:
    """queries/<name>.sql as of a git revision, filled in as load_query() fills it."""
    path = f"src/pgvitals/snapshot/queries/{name}.sql"
    text = subprocess.run(
        ["git", "-C", str(Path(__file__).resolve().parent), "show", f"{revision}:{path}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    text = text.replace("@@user_relation@@", USER_RELATION)
    for marker, expression in version_dependent_sql(version).items():
        text = text.replace(f"@@{marker}@@", expression)
    return text


def in_collect_order(
    dsn: str, statements: Statements, each: Any, upto: str | None = None
) -> dict[str, Any]:
    """A new session, one snapshot transaction, `each(connection, sql)` per statement."""
    results: dict[str, Any] = {}
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with connection.transaction():
            connection.execute("SET LOCAL work_mem = '64MB'")  # as collect() sets it
            for name, query in statements:
                if name == upto:
                    return {name: each(connection, query)}
                results[name] = each(connection, query)
    return results


def explain_ms(connection: psycopg.Connection, query: str) -> float:
    row = connection.execute("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + query, PARAMS)
    plan = row.fetchone()
    return float(plan[0][0]["Execution Time"]) if plan else float("nan")


def cpu_ms(pid: int) -> float | None:
    """User + system CPU time of a local process, None when /proc does not show it."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def fetch(connection: psycopg.Connection, query: str) -> tuple[float, float | None, int]:
    connection.execute("SET LOCAL max_parallel_workers_per_gather = 0")
    cpu_before = cpu_ms(connection.info.backend_pid)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(query, PARAMS)
        rows = len(cursor.fetchall())
    wall = (time.perf_counter() - started) * 1000
    cpu_after = cpu_ms(connection.info.backend_pid)
    cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    return wall, cpu, rows


def measure(dsn: str, sets: list[Statements], runs: int) -> list[list[dict[str, Any]]]:
    """Figures for each set of statements; the sets take turns within each run."""
    servers: list[dict[str, list[float]]] = [{} for _ in sets]
    fetches: list[dict[str, list[float]]] = [{} for _ in sets]
    cpus: list[dict[str, list[float]]] = [{} for _ in sets]
    rows: list[dict[str, int]] = [{} for _ in sets]
    for _ in range(runs):
        for number, statements in enumerate(sets):
            for name, ms in in_collect_order(dsn, statements, explain_ms).items():
                servers[number].setdefault(name, []).append(ms)
            for name, (ms, cpu, count) in in_collect_order(dsn, statements, fetch).items():
                fetches[number].setdefault(name, []).append(ms)
                cpus[number].setdefault(name, []).extend([] if cpu is None else [cpu])
                rows[number][name] = count
    return [
        [
            {
                "name": name,
                "server_ms": round(statistics.median(servers[number][name]), 1),
                "fetch_ms": round(statistics.median(fetches[number][name]), 1),
                "cpu_ms": round(statistics.median(cpus[number][name]), 1)
                if cpus[number][name]
                else None,
                "rows": rows[number][name],
            }
            for name, _ in statements
        ]
        for number, statements in enumerate(sets)
    ]


def print_table(title: str, results: list[dict[str, Any]]) -> None:
    def cpu(value: float | None) -> str:
        return f"{value:>8.0f}" if value is not None else f"{'-':>8}"

    print(f"{title:<16} {'server ms':>10} {'fetch ms':>10} {'cpu ms':>8} {'rows':>9}")
    for row in results:
        figures = f"{row['server_ms']:>10.0f} {row['fetch_ms']:>10.0f} {cpu(row['cpu_ms'])}"
        print(f"{row['name']:<16} {figures} {row['rows']:>9,}")
    cpus = [r["cpu_ms"] for r in results]
    total_cpu = sum(cpus) if None not in cpus else None  # type: ignore[arg-type]
    print(f"{'= total':<16} {sum(r['server_ms'] for r in results):>10.0f}"
          f" {sum(r['fetch_ms'] for r in results):>10.0f} {cpu(total_cpu)}\n")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dsn")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (median)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the figures as JSON")
    parser.add_argument("--explain", metavar="NAME", choices=QUERIES, help="print one plan")
    parser.add_argument("--before", metavar="REV", help="also time the queries as of REV")
    args = parser.parse_args(argv)
    with psycopg.connect(args.dsn) as connection:
        version = connection.info.server_version
    queries = [(name, load_query(name, version)) for name in QUERIES]
    if args.explain:

        def plan(connection: psycopg.Connection, query: str) -> list[str]:
            explain = "EXPLAIN (ANALYZE, BUFFERS, VERBOSE) " + query
            return [line for (line,) in connection.execute(explain, PARAMS)]

        print("\n".join(in_collect_order(args.dsn, queries, plan, upto=args.explain)[args.explain]))
        return 0
    sets = [queries]
    if args.before:
        sets.append([(name, query_at(args.before, name, version)) for name in QUERIES])
    flat = [(table, f"SELECT * FROM pg_catalog.{table}") for table in FLAT]
    results: dict[str, Any] = {}
    figures = measure(args.dsn, [*sets, flat], args.runs)
    if args.before:
        results["before"] = {"revision": args.before, "queries": figures[1]}
        print_table(f"query @{args.before}"[:16], figures[1])
    results["queries"], results["flat_read"] = figures[0], figures[-1]
    print_table("query", results["queries"])
    print_table("flat read", results["flat_read"])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
