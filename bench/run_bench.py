"""pgvitals against `pg_dump --schema-only` on a synthetic schema (SPEC §7).

    python bench/run_bench.py [--tables 10000] [--seed 1] [--runs 3] [--json OUT] [--keep]
    python bench/run_bench.py --dsn DSN          # a database loaded before (see --keep)

Starts a throwaway PostgreSQL (pgvitals.embedded, pgserver's PostgreSQL 16), loads
`bench/synth.py --tables N` into a new database with psql, then measures, each as
the median of --runs runs, run one after the other in each round, after one
untimed run of pgvitals (its modules compiled once, as an installed package has them):

  pg_dump    `pg_dump --schema-only -f /dev/null`: the reference, a whole-catalog reader
  pgvitals   `python -m pgvitals check DSN --no-data --format json -o report.json`:
             collection and analysis, process start included; wall time and the
             child's peak RSS (its own rusage, from wait4)

and the CPU time of each (the client's, and the server's processes' where the server
runs on this machine and this user can read /proc), from which the lowest ratio to
pg_dump that pgvitals' CPU time allows on this machine's cores follows; and, once,
the queries pgvitals sends (`collection.catalog_queries` and
`data_queries` of `pgvitals snapshot --no-data`), and each rule's time (median of
the runs' `checks[].duration_ms`). The targets (issue 15): pgvitals at most
0.4 x pg_dump in under 400 MB at 10,000 tables, 0.5 x in under 1 GB at 100,000.

`--rules-against SMALLER.json` (the --json of a run on fewer tables) fails the run
when a rule's time grew more than 1.2 x the growth in tables (12 x from 1,000 to
10,000 tables): a rule that is superlinear in the schema size.

`--library` measures collect + analyse through the library in a fresh Python
instead of the CLI (no rendering); `--cprofile FILE` adds one profiled run of the
CLI and prints where its time went.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

import pgvitals
from pgvitals.embedded import EmbeddedError, EmbeddedServer, pgserver_bin_dir

BENCH_DIR = Path(__file__).resolve().parent
DATABASE = "synth"
# (tables at least, ratio to pg_dump at most, peak RSS below); the largest that applies
TARGETS = ((0, 0.4, 400), (100_000, 0.5, 1024))
# a rule may grow by this much more than the number of tables; times under the
# floor are noise and count as the floor
SUPERLINEAR_SLACK = 1.2
RULE_FLOOR_MS = 10
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None

# What `--library` runs: the pipeline of `check --no-data`, minus the CLI and rendering.
LIBRARY_RUN = """
import json, sys
from pgvitals.connect import connect
from pgvitals.engine import analyse
from pgvitals.snapshot.collect import collect
snapshot = collect(connect(sys.argv[1]), profile=None)
analysis = analyse(snapshot)
json.dump({"collection": {"catalog_queries": snapshot.collection.catalog_queries,
                          "data_queries": snapshot.collection.data_queries,
                          "duration_ms": snapshot.collection.duration_ms},
           "checks": [check.to_json() for check in analysis.checks]}, open(sys.argv[2], "w"))
"""

# What `--cprofile` runs: the CLI under cProfile, as `python -m pgvitals` runs it (no
# cyclic garbage collector), the profile written whatever the exit status.
PROFILE_RUN = """
import cProfile, gc, sys
from pgvitals.cli import main
gc.disable()
profiler = cProfile.Profile()
try:
    profiler.runcall(main, sys.argv[2:], standalone_mode=False)
finally:
    profiler.dump_stats(sys.argv[1])
"""

COUNTS = """
WITH rel AS (
  SELECT c.oid, c.relkind
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\\_toast%'
)
SELECT
  (SELECT count(*) FROM rel WHERE relkind IN ('r', 'p')) AS tables,
  (SELECT count(*) FROM rel WHERE relkind = 'v') AS views,
  (SELECT count(*) FROM pg_catalog.pg_attribute a JOIN rel ON rel.oid = a.attrelid
    WHERE rel.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
  (SELECT count(*) FROM pg_catalog.pg_index i JOIN rel ON rel.oid = i.indrelid) AS indexes,
  (SELECT count(*) FROM pg_catalog.pg_constraint co JOIN rel ON rel.oid = co.conrelid
    WHERE co.contype = 'f') AS foreign_keys,
  (SELECT count(*) FROM rel WHERE relkind IN ('r', 'p') AND NOT EXISTS (
     SELECT FROM pg_catalog.pg_constraint co
     WHERE co.conrelid = rel.oid AND co.contype = 'p')) AS tables_without_pk,
  pg_catalog.pg_database_size(pg_catalog.current_database()) AS database_bytes
"""


class BenchError(Exception):
    """A step of the benchmark failed; the message says which and why."""


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_mb: float
    cpu_s: float  # the child's user + system time, its own children included
    server_cpu_s: float | None  # the server's processes over the run; None: not measurable


class ServerClock:
    """CPU time the server spent, read from /proc: the postmaster's own and its
    reaped children's (backends and parallel workers that have exited), plus the
    children still alive. Only for a server on this machine whose files this user
    can read; otherwise `read()` is None."""

    def __init__(self, dsn: str) -> None:
        self.pid: int | None = None
        try:
            with psycopg.connect(dsn, autocommit=True) as connection:
                row = connection.execute("SELECT current_setting('data_directory')").fetchone()
            pid_file = Path(row[0] if row else "") / "postmaster.pid"
            self.pid = int(pid_file.read_text().split()[0])
            self.read()
        except (psycopg.Error, OSError, ValueError, IndexError):
            self.pid = None

    @staticmethod
    def _times(pid: str | int, children: bool) -> int:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        # utime stime cutime cstime, in clock ticks
        return sum(int(value) for value in fields[11 : 15 if children else 13])

    def read(self) -> float | None:
        if self.pid is None:
            return None
        ticks = self._times(self.pid, children=True)
        for child in Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split():
            # a child that exited meanwhile: its time is in the postmaster's cutime now
            with contextlib.suppress(OSError):
                ticks += self._times(child, children=False)
        return ticks / os.sysconf("SC_CLK_TCK")


def run_measured(
    command: list[str],
    name: str,
    ok_codes: tuple[int, ...] = (0,),
    server: ServerClock | None = None,
) -> Run:
    """Wall time, CPU time and peak RSS of one child, and the server's CPU time meanwhile.

    The peak comes from GNU time when installed. A child's own rusage (wait4) is the
    fallback, but it overstates small children: Linux carries the RSS of the forking
    parent (this script, with psycopg loaded) into the child's high-water mark."""
    with tempfile.NamedTemporaryFile("w+") as errors, tempfile.NamedTemporaryFile("r") as rss:
        wrapper = [GNU_TIME, "-f", "%M", "-o", rss.name] if GNU_TIME else []
        server_before = server.read() if server else None
        started = time.perf_counter()
        process = subprocess.Popen([*wrapper, *command], stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        # a backend's time reaches the postmaster when it has been reaped, just after
        # the client disconnects
        time.sleep(0.2)
        server_after = server.read() if server else None
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode not in ok_codes:
            errors.seek(0)
            raise BenchError(f"{name} exited with {process.returncode}:\n{errors.read()[-2000:]}")
        peak_kib = int(rss.read().split()[-1]) if GNU_TIME else usage.ru_maxrss
    server_cpu = (
        server_after - server_before
        if server_before is not None and server_after is not None
        else None
    )
    return Run(seconds, peak_kib / 1024, usage.ru_utime + usage.ru_stime, server_cpu)


def psql(bin_dir: Path, dsn: str, *args: str) -> None:
    command = [str(bin_dir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, *args]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise BenchError(f"psql {' '.join(args)[:60]} failed:\n{result.stderr[-2000:]}")


def load_schema(server: EmbeddedServer, args: argparse.Namespace, work: Path) -> dict[str, float]:
    psql(server.bin_dir, server.dsn(), "-c", f"CREATE DATABASE {DATABASE}")
    script = work / "synth.sql"
    started = time.perf_counter()
    with script.open("w") as out:
        subprocess.run(
            [sys.executable, str(BENCH_DIR / "synth.py"), "--tables", str(args.tables),
             "--seed", str(args.seed), "--schemas", str(args.schemas)],
            stdout=out, check=True,
        )  # fmt: skip
    generated = time.perf_counter()
    print(f"generated {script.stat().st_size / 1e6:.1f} MB of SQL in {generated - started:.1f} s")
    psql(server.bin_dir, server.dsn(DATABASE), "-f", str(script))
    loaded = time.perf_counter()
    print(f"loaded in {loaded - generated:.1f} s")
    return {"generate_s": generated - started, "load_s": loaded - generated}


def count_objects(dsn: str) -> dict[str, Any]:
    with psycopg.connect(dsn) as connection:
        cursor = connection.execute(COUNTS)
        names = [column.name for column in cursor.description or []]
        row = cursor.fetchone() or ()
        server_version = connection.execute("SHOW server_version").fetchone()
    return {**dict(zip(names, row, strict=True)), "server_version": server_version[0]}


def pgvitals_command(args: argparse.Namespace, dsn: str, report: Path) -> list[str]:
    if args.library:
        script = report.parent / "library_run.py"  # a file, so that cProfile can run it too
        script.write_text(LIBRARY_RUN)
        return [sys.executable, str(script), dsn, str(report)]
    return [sys.executable, "-m", "pgvitals", "check", dsn, "--no-data",
            "--format", "json", "-o", str(report)]  # fmt: skip


def count_queries(args: argparse.Namespace, dsn: str, work: Path) -> dict[str, Any]:
    """One `snapshot --no-data`: how many queries, and how long collection took inside."""
    snapshot = work / "snap.json"
    if args.library:
        run_measured(pgvitals_command(args, dsn, snapshot), "pgvitals (library)")
    else:
        command = [sys.executable, "-m", "pgvitals", "snapshot", dsn, "--no-data",
                   "-o", str(snapshot)]  # fmt: skip
        run_measured(command, "pgvitals snapshot")
    collection = json.loads(snapshot.read_text())["collection"]
    return {key: collection[key] for key in ("catalog_queries", "data_queries", "duration_ms")}


def rule_times(report: Path) -> dict[str, int]:
    return {
        check["rule"]: check["duration_ms"]
        for check in json.loads(report.read_text())["checks"]
        if check["status"] == "ran"
    }


def targets_for(tables: int) -> tuple[float, float]:
    """(ratio, peak RSS in MB) that pgvitals must stay within at this size."""
    return max((t for t in TARGETS if tables >= t[0]), key=lambda t: t[0])[1:]


def superlinear_rules(figures: dict[str, Any], tables: int, smaller: dict[str, Any]) -> list[str]:
    """Rules whose time grew faster than the schema, against a run on fewer tables."""
    growth = tables / smaller["objects"]["tables"]
    before = smaller["figures"]["rules"]
    return [
        f"{rule}: {before[rule]} -> {ms} ms (x{ms / max(before[rule], RULE_FLOOR_MS):.1f},"
        f" tables x{growth:.1f})"
        for rule, ms in figures["rules"].items()
        if rule in before
        and max(ms, RULE_FLOOR_MS) > SUPERLINEAR_SLACK * growth * max(before[rule], RULE_FLOOR_MS)
    ]


def bytecode_as_installed(work: Path) -> None:
    """pgvitals run as installed: pip compiles a package's modules when it installs them,
    but an editable install with PYTHONDONTWRITEBYTECODE set (CI images, this workplace)
    compiles every module again in every run, 0.2-0.3 s that no user pays. The children
    keep their compiled modules in a folder of this run instead (filled by a warm-up
    run: with a prefix set, Python looks for every module's bytecode there)."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(work / "pycache")


def measure(args: argparse.Namespace, bin_dir: Path, dsn: str, work: Path) -> dict[str, Any]:
    report = work / "report.json"
    bytecode_as_installed(work)
    run_measured(pgvitals_command(args, dsn, report), "pgvitals (warm-up)", (0, 1))
    pg_dump = [str(bin_dir / "pg_dump"), "--schema-only", "-f", os.devnull, "-d", dsn]
    dumps: list[Run] = []
    checks: list[Run] = []
    rules: dict[str, list[int]] = {}
    server = ServerClock(dsn)
    for number in range(1, args.runs + 1):
        # check exits 1 when a --fail-on threshold is met; the report is written either way
        dumps.append(run_measured(pg_dump, "pg_dump", server=server))
        command = pgvitals_command(args, dsn, report)
        checks.append(run_measured(command, "pgvitals", (0, 1), server=server))
        for rule, ms in rule_times(report).items():
            rules.setdefault(rule, []).append(ms)
        print(
            f"run {number}/{args.runs}: pg_dump {dumps[-1].seconds:.2f} s,"
            f" pgvitals {checks[-1].seconds:.2f} s ({checks[-1].peak_rss_mb:.0f} MB)"
        )
    pg_dump_s = statistics.median(run.seconds for run in dumps)
    pgvitals_s = statistics.median(run.seconds for run in checks)
    return {
        "pg_dump_s": pg_dump_s,
        "pg_dump_runs_s": [run.seconds for run in dumps],
        "pg_dump_peak_rss_mb": max(run.peak_rss_mb for run in dumps),
        "pgvitals_s": pgvitals_s,
        "pgvitals_runs_s": [run.seconds for run in checks],
        "pgvitals_peak_rss_mb": max(run.peak_rss_mb for run in checks),
        "ratio": pgvitals_s / pg_dump_s,
        "pgvitals_step": (
            "pgvitals collect + analyse (library)" if args.library else "pgvitals check --no-data"
        ),
        "cpu": cpu_budget(dumps, checks, pg_dump_s),
        "rules": {rule: round(statistics.median(times)) for rule, times in rules.items()},
        "rules_ms": round(sum(statistics.median(times) for times in rules.values())),
        "queries": count_queries(args, dsn, work),
    }


def cpu_budget(dumps: list[Run], checks: list[Run], pg_dump_s: float) -> dict[str, Any] | None:
    """CPU seconds (medians) of each side, and the lowest ratio to pg_dump that
    pgvitals' CPU time allows on this machine's cores: client and server share them,
    so the run cannot take less than their sum over the number of cores."""
    if any(run.server_cpu_s is None for run in (*dumps, *checks)):
        return None
    client = statistics.median(run.cpu_s for run in checks)
    server = statistics.median(run.server_cpu_s or 0.0 for run in checks)
    cores = os.cpu_count() or 1
    return {
        "pg_dump_client_s": statistics.median(run.cpu_s for run in dumps),
        "pg_dump_server_s": statistics.median(run.server_cpu_s or 0.0 for run in dumps),
        "pgvitals_client_s": client,
        "pgvitals_server_s": server,
        "cores": cores,
        "ratio_floor": max((client + server) / cores, server / cores, client) / pg_dump_s,
    }


def profile(args: argparse.Namespace, dsn: str, work: Path) -> None:
    """One more run under cProfile; the 25 most expensive calls, cumulative. The CLI is
    called as a function: `python -m pgvitals` leaves with os._exit, before cProfile
    would write its file."""
    command = pgvitals_command(args, dsn, work / "report.json")
    if args.library:
        profiled = [command[0], "-m", "cProfile", "-o", str(args.cprofile), *command[1:]]
    else:
        script = work / "profile_run.py"
        script.write_text(PROFILE_RUN)
        profiled = [command[0], str(script), str(args.cprofile), *command[3:]]
    run_measured(profiled, "pgvitals under cProfile", (0, 1))
    print(f"\ncProfile of one run (saved to {args.cprofile}):")
    pstats.Stats(str(args.cprofile)).sort_stats("cumulative").print_stats(25)


def print_results(results: dict[str, Any]) -> None:
    objects, figures = results["objects"], results["figures"]
    queries = figures["queries"]
    load = results.get("load") or {}
    ratio, rss, runs = figures["ratio"], figures["pgvitals_peak_rss_mb"], results["runs"]
    ratio_target, rss_target = targets_for(objects["tables"])
    verdict = "meets" if ratio <= ratio_target and rss < rss_target else "misses"
    rows = [
        ("PostgreSQL", objects["server_version"]),
        ("tables / views", f"{objects['tables']:,} / {objects['views']:,}"),
        ("columns", f"{objects['columns']:,}"),
        ("indexes", f"{objects['indexes']:,}"),
        ("foreign keys", f"{objects['foreign_keys']:,}"),
        ("database size", f"{objects['database_bytes'] / 2**20:,.0f} MB"),
        ("load time", f"{load['load_s']:.1f} s" if load else "(loaded before)"),
        (f"pg_dump --schema-only (median of {runs})", f"{figures['pg_dump_s']:.2f} s"),
        (f"{figures['pgvitals_step']} (median of {runs})", f"{figures['pgvitals_s']:.2f} s"),
        ("  of which collection (snapshot run)", f"{queries['duration_ms'] / 1000:.2f} s"),
        ("  of which rules", f"{figures['rules_ms'] / 1000:.2f} s"),
        ("ratio pgvitals / pg_dump", f"{ratio:.2f}  (target <= {ratio_target})"),
        ("peak RSS pgvitals", f"{rss:.0f} MB  (target < {rss_target})"),
        ("peak RSS pg_dump", f"{figures['pg_dump_peak_rss_mb']:.0f} MB"),
        ("catalog / data queries", f"{queries['catalog_queries']} / {queries['data_queries']}"),
    ]  # fmt: skip
    if cpu := figures.get("cpu"):
        for tool in ("pg_dump", "pgvitals"):
            client, server = cpu[f"{tool}_client_s"], cpu[f"{tool}_server_s"]
            rows.append((f"CPU {tool} client / server", f"{client:.2f} / {server:.2f} s"))
        floor_label = f"lowest ratio its CPU allows on {cpu['cores']} cores"
        rows.append((floor_label, f"{cpu['ratio_floor']:.2f}"))
    width = max(len(label) for label, _ in rows)
    print()
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    slowest = sorted(figures["rules"].items(), key=lambda item: -item[1])[:10]
    print(f"\nslowest rules (median of {runs}): "
          + ", ".join(f"{rule} {ms} ms" for rule, ms in slowest))  # fmt: skip
    print(f"\n{verdict} the target at this size (issue 15)")


def environment() -> dict[str, Any]:
    def git(*args: str) -> str:
        command = ["git", "-C", str(BENCH_DIR), *args]
        return subprocess.run(command, capture_output=True, text=True).stdout.strip()

    return {
        "pgvitals": pgvitals.__version__,
        "commit": git("rev-parse", "--short", "HEAD") or None,
        "uncommitted_changes": bool(git("status", "--porcelain", "--untracked-files=no")),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=10_000, help="tables to generate")
    parser.add_argument("--seed", type=int, default=1, help="synth.py seed")
    parser.add_argument("--schemas", type=int, default=4, help="synth.py schemas")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the figures as JSON")
    parser.add_argument(
        "--keep", action="store_true", help="leave the server running and print its DSN"
    )
    parser.add_argument("--dsn", help="measure this already loaded database; no server is started")
    parser.add_argument(
        "--library", action="store_true", help="call the library instead of the CLI"
    )
    parser.add_argument("--cprofile", type=Path, metavar="FILE", help="add one profiled run")
    parser.add_argument(
        "--rules-against", type=Path, metavar="SMALLER",
        help="fail when a rule grew faster than the tables since this --json run",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server = None
    results: dict[str, Any] = {"tables_requested": args.tables, "seed": args.seed,
                               "runs": args.runs, "environment": environment()}  # fmt: skip
    try:
        with tempfile.TemporaryDirectory(prefix="pgvitals-bench-") as tmp:
            work = Path(tmp)
            if args.dsn:
                dsn, bin_dir = args.dsn, pgserver_bin_dir()
            else:
                # pg_dump locks every table in one transaction; the shared lock table
                # holds about max_locks_per_transaction x max_connections (100) locks
                locks = str(max(1024, args.tables // 50))
                server = EmbeddedServer(settings={"max_locks_per_transaction": locks}).start()
                dsn, bin_dir = server.dsn(DATABASE), server.bin_dir
                results["load"] = load_schema(server, args, work)
            results["objects"] = count_objects(dsn)
            results["figures"] = measure(args, bin_dir, dsn, work)
            print_results(results)
            if args.rules_against:
                smaller = json.loads(args.rules_against.read_text())
                tables = results["objects"]["tables"]
                superlinear = superlinear_rules(results["figures"], tables, smaller)
                results["superlinear_rules"] = superlinear
                for line in superlinear:
                    print(f"superlinear: {line}", file=sys.stderr)
            if args.cprofile:
                profile(args, dsn, work)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(results, indent=2) + "\n")
        if results.get("superlinear_rules"):
            return 1
    except (BenchError, EmbeddedError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        if server and args.keep:
            server.keep()
            stop = f"{server.programs / 'pg_ctl'} -D {server.data_dir} stop"
            as_user = f"su {server.os_user} -s /bin/sh -c '{stop}'" if server.os_user else stop
            print(f"\nserver kept running: --dsn '{dsn}'\nstop it with: {as_user}")
        elif server:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
