"""Rendering a large report in every format (issue 11: 10,000 findings in under 2 s).

    python bench/render_bench.py [--tables 5000] [--findings 10000] [--runs 3] [--json OUT]
    python bench/render_bench.py --report REPORT.json [--findings 10000]

Without --report: starts a throwaway PostgreSQL (pgvitals.embedded), loads
`bench/synth.py --tables N` into it, and runs `pgvitals check --no-data` for its JSON
report (about 2.4 findings per synthetic table). Then, from that report, keeps the
first --findings findings (the tables, relationships and other sections stay whole)
and times each renderer of the registry, plus the fix and rollback scripts, as the
median of --runs runs. Each format's time is compared with the target.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from pgvitals.embedded import EmbeddedServer, pgserver_bin_dir
from pgvitals.render import RENDERERS
from pgvitals.report import Report, fix_scripts, server_of

BENCH_DIR = Path(__file__).resolve().parent
TARGET_SECONDS = 2.0
DATABASE = "synth"


def synthetic_report(tables: int, folder: Path) -> Path:
    """A check of `tables` synthetic tables, as a JSON report in `folder`."""
    with EmbeddedServer(settings={"max_locks_per_transaction": "1024"}) as server:
        with psycopg.connect(server.dsn(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {DATABASE}")
        synth = subprocess.run(
            [sys.executable, str(BENCH_DIR / "synth.py"), "--tables", str(tables), "--seed", "1"],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        subprocess.run(
            [str(pgserver_bin_dir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
             "-d", server.dsn(DATABASE)],
            input=synth, check=True, capture_output=True, text=True,
        )  # fmt: skip
        out = folder / "report.json"
        subprocess.run(
            [sys.executable, "-m", "pgvitals", "check", server.dsn(DATABASE), "--no-data",
             "-o", str(out), "--force"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
    return out


def with_findings(report: Report, count: int) -> Report:
    findings = report.findings[:count]
    server = server_of(report.to_json()["target"])
    return dataclasses.replace(report, findings=findings, scripts=fix_scripts(findings, server))


def timed(render: object, report: Report, runs: int) -> tuple[float, int]:
    """(median seconds, characters) of `render(report)`."""
    times, size = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        size = len(render(report))  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times), size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report", type=Path, help="a saved JSON report to render")
    parser.add_argument("--tables", type=int, default=5000)
    parser.add_argument("--findings", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        source = args.report or synthetic_report(args.tables, Path(folder))
        full = Report.from_json(json.loads(source.read_text(encoding="utf-8")))
    report = with_findings(full, args.findings)
    print(
        f"report: {report.inventory.tables:,} tables, {len(report.findings):,} findings"
        f" (of {len(full.findings):,}), {len(report.coverage):,} coverage rows,"
        f" {sum(len(s.relations) for s in report.schemas):,} relationships"
    )
    figures = {}
    renders = {name: renderer.render for name, renderer in RENDERERS.items()}
    server = server_of(report.to_json()["target"])
    renders["fix+rollback"] = lambda r: fix_scripts(r.findings, server).fix
    failed = False
    for name, render in renders.items():
        seconds, size = timed(render, report, args.runs)
        verdict = "ok" if seconds < TARGET_SECONDS else f"OVER {TARGET_SECONDS:g} s"
        failed |= seconds >= TARGET_SECONDS
        figures[name] = {"seconds": round(seconds, 3), "characters": size}
        print(f"  {name:<13} {seconds:7.3f} s  {size / 1e6:7.2f} MB  {verdict}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {"findings": len(report.findings), "tables": report.inventory.tables, **figures},
                indent=2,
            )
            + "\n"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
