"""The command line: parse arguments, run the pipeline, map errors to exit codes.

Exit codes: 0 done (no finding at or above --fail-on), 1 findings at or above
--fail-on, 2 usage or input error, 3 the database could not be read in full: not
reached, lost, stopped answering, or a catalog query timed out; with --fail-on, also
rows of tables the role was not permitted to read.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import click
import psycopg
from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table as RichTable

from pgvitals import __version__, ruledocs
from pgvitals import diff as comparison
from pgvitals.config import Config, ConfigError, load_config
from pgvitals.connect import (
    MAX_TIMEOUT_MS,
    BadTarget,
    Limits,
    Unreachable,
    connect,
    describe_connection,
    describe_failure,
)
from pgvitals.embedded import EmbeddedError
from pgvitals.engine import (
    LIVE,
    REVIEW,
    Analysis,
    Check,
    analyse,
    ordered_rules,
    profile_budget,
    required_probes,
    rows_not_permitted,
)
from pgvitals.findings import SEVERITIES
from pgvitals.fmt import parse_timestamp, plural
from pgvitals.history.own import left_out
from pgvitals.history.runs import new_run, target_of
from pgvitals.history.store import (
    DEFAULT_LOCATION,
    ENVIRONMENT_VARIABLE,
    Retention,
    Store,
    StoreError,
    TargetInfo,
    open_store,
)
from pgvitals.history.trends import Trends
from pgvitals.output import (
    FORMATS,
    SNAPSHOT,
    OutputError,
    OutputFile,
    Plan,
    check_writable,
    plan_documents,
    plan_outputs,
    print_or_fail,
    write_files,
    write_outputs,
)
from pgvitals.render import RENDERERS
from pgvitals.render.diff import DIFF_RENDERERS, DIFF_SUFFIXES, render_diff_text
from pgvitals.render.escape import visible
from pgvitals.render.history import (
    HISTORY_RENDERERS,
    HISTORY_SUFFIXES,
    render_history_text,
    render_targets_text,
)
from pgvitals.report import Baseline, Report, build_report
from pgvitals.rules import REGISTRY
from pgvitals.snapshot import io
from pgvitals.snapshot.collect import UNREAD_CATALOGS, ProfileBudget, UnknownSchema, collect
from pgvitals.snapshot.model import Snapshot
from pgvitals.snapshot.probes import DEFAULT_PROBES
from pgvitals.snapshot.samples import read_samples
from pgvitals.snapshot.uncounted import uncounted

if TYPE_CHECKING:
    from pgvitals.verify import Target

# --exact-bloat: the probe no rule asks for by default (it reads every page)
EXACT_BLOAT = frozenset({"exact_bloat"})

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3
EXIT_UNVERIFIED = 4  # check --verify-fixes: the fixes did not pass on the copy

stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)


class Failure(Exception):
    """An error the user can act on: one line, and an exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def fail(message: str, exit_code: int) -> None:
    stderr.print(f"pgvitals: {message}", markup=False, highlight=False, soft_wrap=True)
    sys.exit(exit_code)


class Group(click.Group):
    """Turn the errors a user can cause into one line and the documented exit code."""

    def invoke(self, ctx: click.Context) -> object:
        # Ctrl-C interrupts a command, which then stops what it started; outside one,
        # `python -m pgvitals` leaves at once (nothing to clean up there).
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            return super().invoke(ctx)
        except Failure as error:
            fail(str(error), error.exit_code)
        except (
            BadTarget,
            comparison.BadInput,
            StoreError,
            ConfigError,
            io.BadSnapshot,
            OutputError,
        ) as error:
            fail(str(error), EXIT_USAGE)
        except (Unreachable, EmbeddedError) as error:
            fail(str(error), EXIT_UNREACHABLE)
        except KeyboardInterrupt:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second one must not cut this short
            fail("interrupted", 130)
        finally:
            signal.signal(signal.SIGINT, previous)
        return None


exact_bloat_option = click.option(
    "--exact-bloat", is_flag=True,
    help="Measure bloat with pgstattuple (installed in the database; reads every page)"
    " instead of estimating it.",
)  # fmt: skip


def target_options(command: click.Command) -> click.Command:
    for decorator in reversed(
        [
            click.option("--schema", "schemas", multiple=True, help="Only this schema."),
            click.option("--no-data", is_flag=True, help="Do not read table rows."),
            click.option(
                "--config", "config_path", type=click.Path(path_type=Path),
                help="Config file (default: pgvitals.toml or [tool.pgvitals] in pyproject.toml).",
            ),
            click.option(
                "--statement-timeout", default=Limits.statement_timeout_ms, show_default=True,
                type=click.IntRange(min=1, max=MAX_TIMEOUT_MS),
                help="Milliseconds any one query may take.",
            ),
            click.option(
                "--lock-timeout", default=Limits.lock_timeout_ms, show_default=True,
                type=click.IntRange(min=1, max=MAX_TIMEOUT_MS),
                help="Milliseconds to wait for a lock before skipping.",
            ),
        ]
    ):  # fmt: skip
        command = decorator(command)
    return command


force_option = click.option(
    "--force", is_flag=True,
    help="Replace existing files that pgvitals did not write (its own are always replaced).",
)  # fmt: skip


def report_options(command: click.Command) -> click.Command:
    for decorator in reversed(
        [
            click.option(
                "--format", "formats", multiple=True, type=click.Choice(FORMATS),
                help="Output format to standard output (repeatable with -o files).",
            ),
            click.option(
                "-o", "--output", "outputs", multiple=True, type=click.Path(path_type=Path),
                help="Write a report file; the suffix picks the format"
                " (.md .html .json .sarif .txt).",
            ),
            click.option(
                "--fail-on", type=click.Choice(SEVERITIES),
                help="Exit 1 when a finding at or above this severity remains.",
            ),
            force_option,
        ]
    ):  # fmt: skip
        command = decorator(command)
    return command


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pgvitals")
def main() -> None:
    """Evidence-backed health assessment of a PostgreSQL database."""


def baseline_options(command: click.Command) -> click.Command:
    for decorator in reversed(
        [
            click.option(
                "--baseline", "baseline_path", type=click.Path(path_type=Path),
                help="A report (JSON) whose findings are known: only new ones count for "
                "--fail-on.",
            ),
            click.option(
                "--write-baseline", "write_baseline", type=click.Path(path_type=Path),
                help="Write this run's report (JSON) as the baseline for later runs.",
            ),
        ]
    ):  # fmt: skip
        command = decorator(command)
    return command


@dataclass(frozen=True)
class Baselines:
    """The baseline to compare with, and where to write this run's, both checked early."""

    read: tuple[Path, Report] | None = None
    write: Path | None = None

    @classmethod
    def plan(cls, read: Path | None, write: Path | None, force: bool) -> Baselines:
        if write is not None:
            check_writable([OutputFile(write, "json")], force)
        return cls((read, comparison.read_baseline(read)) if read else None, write)

    def apply(self, report: Report) -> Report:
        if self.read is None:
            return report
        path, baseline = self.read
        return replace(report, baseline=comparison.baseline_of(report, baseline, str(path)))

    def save(self, report: Report, force: bool) -> None:
        if self.write is not None:
            plain = replace(report, baseline=None)  # a baseline holds findings, not a comparison
            write_files([(OutputFile(self.write, "json"), RENDERERS["json"].render(plain))], force)
            stderr.print(f"wrote baseline {visible(str(self.write))}", markup=False, soft_wrap=True)


def history_options(command: click.Command) -> click.Command:
    for decorator in reversed(
        [
            click.option(
                "--history", "history_location", is_flag=False, flag_value=DEFAULT_LOCATION,
                metavar="[LOCATION]",
                help="Keep this run in a history: a SQLite file (alone: "
                f"{DEFAULT_LOCATION}) or a PostgreSQL database (postgresql://...).",
            ),
            click.option(
                "--keep", type=click.IntRange(min=1),
                help="With --history: keep only this many newest runs of the target.",
            ),
            click.option(
                "--keep-days", type=click.FloatRange(min=0, min_open=True),
                help="With --history: remove the target's runs older than this many days.",
            ),
        ]
    ):  # fmt: skip
        command = decorator(command)
    return command


@dataclass(frozen=True)
class Keeping:
    """The history this run is kept in (opened before collecting: a bad store fails fast)."""

    store: Store | None = None
    retention: Retention = field(default_factory=Retention)

    @classmethod
    def plan(cls, location: str | None, keep: int | None, keep_days: float | None) -> Keeping:
        retention = Retention(keep, keep_days)
        if location is None:
            if retention.active:
                raise click.UsageError("--keep and --keep-days apply to --history")
            return cls()
        return cls(open_store(location), retention)

    def without_own_reads(self, snapshot: Snapshot, connection: str) -> Snapshot:
        """The snapshot less what the earlier runs the history kept read themselves."""
        if self.store is None:
            return snapshot
        return left_out(snapshot, self.store.runs(target_of(snapshot, connection).key))

    def record(self, report: Report, snapshot: Snapshot, connection: str) -> None:
        if self.store is None:
            return
        with self.store:
            run_id, removed = self.store.record(
                new_run(report, snapshot, connection), self.retention
            )
        note = f" (removed {plural(removed, 'older run')})" if removed else ""
        stderr.print(
            f"kept run #{run_id} in {visible(self.store.location)}{note}",
            markup=False,
            soft_wrap=True,
        )


@main.command()
@click.argument("dsn", required=False)
@click.option(
    "--snapshot", "snapshot_path", type=click.Path(path_type=Path),
    help="Analyse a saved snapshot instead of a live database.",
)  # fmt: skip
@click.option(
    "--include-managed", is_flag=True,
    help="Also assess schemas and roles a platform manages (Supabase's auth, storage, ...)"
    " and the definitions of a library's tables (River's, Oban's, pg-boss's, ...): their"
    " findings are reported. The rules that judge a whole schema's conventions"
    " (missing-comments, mixed-id-strategy, naming-singular-plural-mix,"
    " timestamp-naming-mix) count the user's tables only, with it or not: a library's"
    " names, comments and key kinds are not the schema's design.",
)  # fmt: skip
@click.option(
    "--analyze-queries", is_flag=True,
    help="Run EXPLAIN ANALYZE on the workload's heaviest SELECTs (executes them, read-only, "
    "under the statement timeout); without it statements are only planned.",
)  # fmt: skip
@click.option(
    "--show-samples", is_flag=True,
    help="Add up to 3 example rows to each data-quality finding (row values in the report;"
    " never of password or secret columns).",
)  # fmt: skip
@click.option(
    "--verify-fixes", is_flag=True,
    help="Copy the schema (pg_dump, no data) into a throwaway server, apply fix.sql there,"
    " check again, apply rollback.sql, and report what the fixes resolve, every statement"
    " that fails, and whether the rollback restores the schema. Exit 4 when it does not"
    " pass (a statement fails, a finding a fix claims remains, the schema is not restored,"
    " or no copy could be made), ahead of --fail-on's 1.",
)  # fmt: skip
@target_options
@exact_bloat_option
@report_options
@baseline_options
@history_options
def check(
    dsn: str | None,
    snapshot_path: Path | None,
    include_managed: bool,
    analyze_queries: bool,
    show_samples: bool,
    verify_fixes: bool,
    schemas: tuple[str, ...],
    no_data: bool,
    exact_bloat: bool,
    config_path: Path | None,
    statement_timeout: int,
    lock_timeout: int,
    formats: tuple[str, ...],
    outputs: tuple[Path, ...],
    fail_on: str | None,
    force: bool,
    baseline_path: Path | None,
    write_baseline: Path | None,
    history_location: str | None,
    keep: int | None,
    keep_days: float | None,
) -> None:
    """Analyse a live database (read-only), or a saved --snapshot.

    DSN is a libpq URI or key=value string; absent, libpq defaults and PG*
    variables apply, as with psql.
    """
    config = load_config(config_path)
    if include_managed:
        config = dataclasses.replace(config, include_managed=True)
    plan = plan_outputs(formats, outputs, force)  # checked now: a bad path fails fast
    baselines = Baselines.plan(baseline_path, write_baseline, force)
    keeping = Keeping.plan(history_location, keep, keep_days)
    if show_samples and (snapshot_path is not None or no_data):
        raise click.UsageError("--show-samples reads rows: not with --snapshot or --no-data")
    limits = Limits(statement_timeout_ms=statement_timeout, lock_timeout_ms=lock_timeout)
    verify = None
    if snapshot_path is not None:
        if dsn:
            raise click.UsageError("give a DSN or --snapshot, not both")
        if verify_fixes:
            raise click.UsageError("--verify-fixes copies a live database's schema: give a DSN")
        snapshot = io.load(snapshot_path)
        connection = f"snapshot {snapshot_path}"
    else:
        probes = required_probes(config) | (EXACT_BLOAT if exact_bloat else frozenset())
        snapshot, connection = take_snapshot(
            dsn,
            limits,
            schemas or config.schemas,
            no_data,
            probes,
            profile_budget(config),
            analyze_queries,
        )
        snapshot = keeping.without_own_reads(snapshot, connection)
        if verify_fixes:
            from pgvitals.verify import Target  # loads the SQL parser: only here

            server, read_rows = snapshot.server, not no_data
            copy = Target(
                dsn, server.database, config, schemas or config.schemas, probes, read_rows,
                server.version_num,
            )  # fmt: skip
            verify = functools.partial(verified, copy)
    analysis = analysis_of(snapshot, config)
    if show_samples:
        analysis = with_samples(analysis, dsn, limits, profile_budget(config))
    finish(analysis, plan, connection, fail_on or config.fail_on, baselines, keeping, verify=verify)


def verified(target: Target, report: Report) -> Report:
    """The report with what applying its scripts to a copy of the schema showed."""
    from pgvitals.verify import verify_fixes

    with progress_display("") as step:
        verification = verify_fixes(target, report, step)
    return replace(report, verification=verification)


@main.command()
@click.argument("dsn", required=False)
@click.option(
    "-o", "--output", "output", required=True, type=click.Path(path_type=Path),
    help="Where to write the snapshot (JSON).",
)  # fmt: skip
@target_options
@exact_bloat_option
@force_option
def snapshot(
    dsn: str | None,
    output: Path,
    schemas: tuple[str, ...],
    no_data: bool,
    exact_bloat: bool,
    config_path: Path | None,
    statement_timeout: int,
    lock_timeout: int,
    force: bool,
) -> None:
    """Save a snapshot of a live database, to analyse later with `check --snapshot`."""
    config = load_config(config_path)
    destination = OutputFile(output, SNAPSHOT)
    check_writable([destination], force)  # before collecting: a bad path fails fast
    limits = Limits(statement_timeout_ms=statement_timeout, lock_timeout_ms=lock_timeout)
    probes = DEFAULT_PROBES | (EXACT_BLOAT if exact_bloat else frozenset())
    taken, _ = take_snapshot(
        dsn, limits, schemas or config.schemas, no_data, probes, profile_budget(config)
    )
    write_files([(destination, io.json_pieces(taken))], force)
    stderr.print(
        f"saved {visible(str(output))}: {len(taken.tables)} tables, "
        f"{taken.collection.catalog_queries} catalog queries, {taken.collection.duration_ms} ms",
        markup=False,
    )
    if taken.collection.interrupted:
        raise Failure(taken.collection.interrupted, EXIT_UNREACHABLE)


@main.command()
@click.option(
    "-o", "--output", "output_dir", default="pgvitals-report", show_default=True,
    type=click.Path(path_type=Path, file_okay=False), help="Folder for the report files.",
)  # fmt: skip
@click.option("--fail-on", type=click.Choice(SEVERITIES), help="Exit 1 at or above this severity.")
@force_option
def demo(output_dir: Path, fail_on: str | None, force: bool) -> None:
    """Run the full check on a bundled demo database in a private throwaway server."""
    from pgvitals.demo.run import run_demo  # the embedded server is needed only here

    reports = tuple(output_dir / f"report.{suffix}" for suffix in ("md", "html", "json", "sarif"))
    plan = plan_outputs(("text",), reports, force)  # before starting the server
    with progress_display() as step:
        analysis, connection = run_demo(step)
    finish(analysis, plan, connection, fail_on)
    stdout.print(f"\nReport: {output_dir / 'report.html'}  (also report.md, report.json, "
                 "report.sarif, fix.sql, rollback.sql)", markup=False, soft_wrap=True)  # fmt: skip


@main.command()
@click.argument("sides", nargs=-1, metavar="A B")
@target_options
@click.option(
    "--format", "formats", multiple=True, type=click.Choice(tuple(DIFF_RENDERERS)),
    help="Output format to standard output (repeatable with -o files).",
)  # fmt: skip
@click.option(
    "-o", "--output", "outputs", multiple=True, type=click.Path(path_type=Path),
    help="Write the comparison to a file; the suffix picks the format (.txt .md .json .html).",
)  # fmt: skip
@click.option(
    "--fail-on", type=click.Choice(SEVERITIES),
    help="Exit 1 when a new or worsened finding is at or above this severity.",
)  # fmt: skip
@click.option(
    "--since", "age", metavar="AGE",
    help="Compare the one side given with its kept run closest to this age (30m, 12h, 7d, 2w).",
)  # fmt: skip
@click.option(
    "--history", "history_location", default=DEFAULT_LOCATION, envvar=ENVIRONMENT_VARIABLE,
    show_default=True, help=f"With --since: the history (or ${ENVIRONMENT_VARIABLE}).",
)  # fmt: skip
@force_option
def diff(
    sides: tuple[str, ...],
    schemas: tuple[str, ...],
    no_data: bool,
    config_path: Path | None,
    statement_timeout: int,
    lock_timeout: int,
    formats: tuple[str, ...],
    outputs: tuple[Path, ...],
    fail_on: str | None,
    age: str | None,
    history_location: str,
    force: bool,
) -> None:
    """Compare A with B: findings new, resolved and changed; schema drift; statistics.

    Each side is a report (JSON), a snapshot, or a live database (a DSN). Schema drift
    needs a snapshot or a database on both sides; statistics deltas need both to be of
    one database. With --since AGE give one side: it is compared with its run kept
    (check --history) closest to that age.
    """
    if len(sides) != (1 if age else 2):
        raise click.UsageError(
            "with --since give one side: TARGET (a DSN, snapshot or report)"
            if age
            else "give two sides to compare: A B (reports, snapshots or DSNs)"
        )
    config = load_config(config_path)
    documents = plan_documents("diff", formats, outputs, DIFF_SUFFIXES, force)
    limits = Limits(statement_timeout_ms=statement_timeout, lock_timeout_ms=lock_timeout)
    if age:
        ago = parse_age(age)
        with open_store(history_location, create=False) as store:
            after = load_side(sides[0], config, limits, schemas, no_data)
            before = kept_side(store, after, ago)
    else:
        before, after = (load_side(side, config, limits, schemas, no_data) for side in sides)
    compared = comparison.compare(before, after)
    fail_on = fail_on or config.fail_on
    write_files([(item, DIFF_RENDERERS[fmt](compared, fail_on)) for item, fmt in documents.files])
    for item, _ in documents.files:
        stderr.print(f"wrote {visible(str(item.path))}", markup=False, soft_wrap=True)
    if documents.to_stdout == "text":
        print_or_fail(stdout, lambda: render_diff_text(compared, stdout, fail_on))
    elif documents.to_stdout:
        text = DIFF_RENDERERS[documents.to_stdout](compared, fail_on)
        print_or_fail(stdout, lambda: stdout.file.write(text))
    if compared.failing(fail_on):
        sys.exit(EXIT_FINDINGS)


def load_side(
    argument: str, config: Config, limits: Limits, schemas: tuple[str, ...], no_data: bool
) -> comparison.Side:
    """A saved report or snapshot (a file), or a live database (a DSN)."""
    if Path(argument).is_file() or not looks_like_dsn(argument):
        loaded = comparison.read_file(Path(argument))
        if isinstance(loaded, Report):
            return comparison.Side(argument, comparison.REPORT, loaded)
        report = build_report(analysis_of(loaded, config), f"snapshot {argument}")
        return comparison.Side(argument, comparison.SNAPSHOT, report, loaded)
    taken, connection = take_snapshot(
        argument,
        limits,
        schemas or config.schemas,
        no_data,
        required_probes(config),
        profile_budget(config),
    )
    if taken.collection.interrupted:  # half a catalog would show as drift
        raise Failure(taken.collection.interrupted, EXIT_UNREACHABLE)
    return comparison.Side(
        connection, comparison.LIVE, build_report(analysis_of(taken, config), connection), taken
    )


AGE = re.compile(r"(\d+(?:\.\d+)?)\s*(m|min|h|d|w)")
AGE_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_age(text: str) -> dt.timedelta:
    match = AGE.fullmatch(text.strip())
    if not match:
        raise click.BadParameter(
            f"{text!r} is no age: say 30m, 12h, 7d or 2w", param_hint="--since"
        )
    return dt.timedelta(**{AGE_UNITS[match.group(2)]: float(match.group(1))})


def kept_side(store: Store, now: comparison.Side, ago: dt.timedelta) -> comparison.Side:
    """The run kept of `now`'s target closest to `ago` before it was taken."""
    if now.snapshot is not None:
        key = target_of(now.snapshot, now.label).key
        target = next((t for t in store.targets() if t.key == key), None)
    else:  # a report does not record the server's identity: its database name must do
        target = choose_target(store, now.report.target.database)
    if target is None:
        raise Failure(f"the history at {store.location} has no runs of {now.label}", EXIT_USAGE)
    when = parse_timestamp(now.report.target.collected_at) - ago
    run = store.closest(target.key, when)
    assert run is not None  # a listed target has runs
    report, snapshot = store.load(run.id)
    return comparison.Side(
        f"run #{run.id} kept in {store.location}",
        comparison.HISTORY,
        comparison.read_report(report, f"run #{run.id}"),
        io.from_dict(snapshot) if snapshot is not None else None,
    )


def choose_target(store: Store, wanted: str | None) -> TargetInfo | None:
    """The target named by its key, database name or connection; the only one when none
    is named. None: several targets and none named."""
    targets = store.targets()
    if not targets:
        raise Failure(f"the history at {store.location} has no runs yet", EXIT_USAGE)
    if wanted is None:
        return targets[0] if len(targets) == 1 else None
    matches = [t for t in targets if wanted in (t.key, t.database, t.label)]
    if len(matches) == 1:
        return matches[0]
    known = "; ".join(t.key for t in (matches or targets))
    problem = "several targets match" if matches else "no target matches"
    raise Failure(f"{problem} {wanted!r} in {store.location}: {known}", EXIT_USAGE)


@main.command()
@click.argument("target", required=False)
@click.option(
    "--history", "history_location", default=DEFAULT_LOCATION, envvar=ENVIRONMENT_VARIABLE,
    show_default=True,
    help=f"The history: a SQLite file or postgresql://... (or ${ENVIRONMENT_VARIABLE}).",
)  # fmt: skip
@click.option(
    "--format", "formats", multiple=True, type=click.Choice(tuple(HISTORY_RENDERERS)),
    help="Output format to standard output (repeatable with -o files).",
)  # fmt: skip
@click.option(
    "-o", "--output", "outputs", multiple=True, type=click.Path(path_type=Path),
    help="Write the history to a file; the suffix picks the format (.txt .json .html).",
)  # fmt: skip
@force_option
def history(
    target: str | None,
    history_location: str,
    formats: tuple[str, ...],
    outputs: tuple[Path, ...],
    force: bool,
) -> None:
    """The runs kept with `check --history`, and their trends.

    TARGET is a target's key, database name or connection as listed; it may be left
    out when the history holds one target.
    """
    documents = plan_documents("history", formats, outputs, HISTORY_SUFFIXES, force)
    with open_store(history_location, create=False) as store:
        chosen = choose_target(store, target)
        if chosen is None:
            render_targets_text(store.targets(), store.location, stdout)
            return
        trends = Trends(chosen, store.location, store.runs(chosen.key))
    write_files([(item, HISTORY_RENDERERS[fmt](trends)) for item, fmt in documents.files])
    for item, _ in documents.files:
        stderr.print(f"wrote {visible(str(item.path))}", markup=False, soft_wrap=True)
    if documents.to_stdout == "text":
        print_or_fail(stdout, lambda: render_history_text(trends, stdout))
    elif documents.to_stdout:
        text = HISTORY_RENDERERS[documents.to_stdout](trends)
        print_or_fail(stdout, lambda: stdout.file.write(text))


def looks_like_dsn(argument: str) -> bool:
    return argument.startswith(("postgresql://", "postgres://")) or "=" in argument


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--order",
    default="natural",
    show_default=True,
    help="natural (V2 before V10), given (as on the command line), or a FILE naming the "
    "files in order, one a line.",
)
@click.option(
    "--base",
    "base_value",
    metavar="DSN|SNAPSHOT|DIR",
    help="Report only what the files introduce or resolve compared with this schema: a "
    "database (dumped with pg_dump), a saved snapshot (its schema rebuilt from it), or "
    "earlier migrations.",
)
@click.option(
    "--server",
    metavar="DSN",
    help="Load into a scratch database created (and dropped) on this server instead of a "
    "throwaway embedded one: for extensions and roles the embedded server lacks.",
)
@click.option("--schema", "schemas", multiple=True, help="Only this schema.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Config file (default: pgvitals.toml or [tool.pgvitals] in pyproject.toml).",
)
@report_options
@baseline_options
def review(
    paths: tuple[Path, ...],
    order: str,
    base_value: str | None,
    server: str | None,
    schemas: tuple[str, ...],
    config_path: Path | None,
    formats: tuple[str, ...],
    outputs: tuple[Path, ...],
    fail_on: str | None,
    force: bool,
    baseline_path: Path | None,
    write_baseline: Path | None,
) -> None:
    """Review SQL files or folders of migrations offline, before they ship.

    Loads them statement by statement into a throwaway PostgreSQL, reports each
    statement the server rejects (invalid-ddl), then runs every rule that needs no
    live statistics on what loaded, each finding at the file:line of its object.
    With --base, also what the new statements would do to the base's tables on a
    live database (migration-* rules: locks, rewrites, breaking renames and drops).
    """
    from pgvitals.review import files, locate, run, safety  # the SQL parser: only here

    config = load_config(config_path)
    plan = plan_outputs(formats, outputs, force)  # checked now: a bad path fails fast
    if not paths and order in (files.NATURAL, files.GIVEN):
        raise click.UsageError("give the SQL files or folders to review")
    if base_value and baseline_path:  # both say what is known already; two answers clash
        raise click.UsageError("give --base or --baseline, not both")
    baselines = Baselines.plan(baseline_path, write_baseline, force)
    try:
        selection = files.select(list(paths), order)
        base = run.resolve_base(base_value, selection) if base_value else None
        if base is not None:
            selection = run.new_files(selection, base)
    except files.InputError as error:
        raise Failure(str(error), EXIT_USAGE) from None
    try:
        with progress_display("") as step:
            reviewed = run.review(
                selection, base, server, schemas or config.schemas, required_probes(config), step
            )
    except UnknownSchema as error:
        raise Failure(str(error), EXIT_USAGE) from None
    analysis = safety.unchecked(analyse(reviewed.snapshot, config, REVIEW))
    places = locate.object_statements(reviewed.snapshot, reviewed.load, reviewed.new_from)
    findings = locate.locate(analysis.findings, places)
    baseline = None
    if base is not None and reviewed.base_snapshot is not None:
        before = analyse(reviewed.base_snapshot, config, REVIEW)
        findings, resolved = locate.changes(before.findings, findings)
        if base.kind == run.SNAPSHOT and reviewed.load.starts_elsewhere:
            # the files alter a schema a snapshot cannot load: they ran without it, and
            # its objects' absence says nothing of what they resolve
            resolved = []
        baseline = Baseline(
            source=base.shown,
            generated_at=analysis.snapshot.server.collected_at,
            known=frozenset(),  # the base's own findings are left out, not shown as known
            worsened=frozenset(),
            resolved=tuple(locate.locate(resolved, places)),
            base=True,
        )
    count = len(selection.files)
    target = f"review of {plural(count, 'file')} in {reviewed.where}"
    excused = [
        dataclasses.replace(item, finding=locate.locate([item.finding], places)[0])
        for item in analysis.excused
    ]
    analysis = dataclasses.replace(analysis, findings=findings, excused=excused)
    finish(analysis, plan, target, fail_on or config.fail_on, baselines, baseline=baseline)


@main.command()
@click.argument("rule_id", required=False)
@click.option(
    "--write-docs", "docs_dir", type=click.Path(file_okay=False, path_type=Path),
    help="Write the rule reference (docs/rules) into DIR; needs a source checkout.",
)  # fmt: skip
def rules(rule_id: str | None, docs_dir: Path | None) -> None:
    """List the rules, explain one, or write the reference pages."""
    if docs_dir is not None:
        if rule_id is not None:
            raise Failure("--write-docs writes the pages of every rule: give no rule", EXIT_USAGE)
        write_rule_docs(docs_dir)
        return
    if rule_id is None:
        table = RichTable(title=f"{len(REGISTRY)} rules", show_lines=False)
        for heading in ("rule", "category", "severity", "title"):
            table.add_column(heading, no_wrap=heading != "title")  # ids are copied whole
        for item in ordered_rules():
            table.add_row(item.id, item.category, item.severity, item.title)
        stdout.print(table)
        return
    if rule_id not in REGISTRY:
        raise Failure(f"no rule named {rule_id!r}; `pgvitals rules` lists them", EXIT_USAGE)
    from rich.markdown import Markdown  # markdown-it costs 30 ms of every start; only here

    stdout.print(Markdown(ruledocs.compose(REGISTRY[rule_id])))


def write_rule_docs(docs_dir: Path) -> None:
    try:
        written, stale = ruledocs.write_docs(docs_dir)
    except FileNotFoundError as error:
        raise Failure(str(error), EXIT_USAGE) from None
    except ModuleNotFoundError as error:  # PyYAML, from the `test` extra
        message = f"writing the docs needs {error.name}: pip install -e '.[test]'"
        raise Failure(message, EXIT_USAGE) from None
    stdout.print(f"wrote {len(written)} pages to {docs_dir}", markup=False)
    for path in stale:
        stderr.print(
            f"pgvitals: {path} documents no current rule: delete it", markup=False, soft_wrap=True
        )


class WithTotal(ProgressColumn):
    """A column shown only once its task has a total (the row phase's bar)."""

    def __init__(self, column: ProgressColumn) -> None:
        super().__init__()
        self.column = column

    def render(self, task: Task) -> RenderableType:
        return self.column.render(task) if task.total is not None else ""


class Display:
    """Names the step under way (a spinner), and shows a bar over the tables whose rows
    are read once that takes more than a moment."""

    MOMENT_S = 1.0

    def __init__(self, progress: Progress, prefix: str) -> None:
        self.progress = progress
        self.prefix = prefix
        self.task = progress.add_task("connecting", total=None)
        self.bar: TaskID | None = None
        self.counting_since = 0.0

    def __call__(self, step: str) -> None:
        self.progress.update(self.task, description=f"{self.prefix}{step}")

    def count(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done == 0:
            self.counting_since = now
        if done >= total:
            if self.bar is not None:
                self.progress.remove_task(self.bar)
                self.bar = None
        elif self.bar is not None:
            self.progress.update(self.bar, completed=done)
        elif now - self.counting_since >= self.MOMENT_S:
            self.bar = self.progress.add_task("tables read", total=total, completed=done)


@contextmanager
def progress_display(prefix: str = "collecting ") -> Iterator[Display]:
    """A spinner on stderr naming the step under way (silent when not a terminal)."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        WithTotal(BarColumn()),
        WithTotal(MofNCompleteColumn()),
        WithTotal(TimeRemainingColumn()),
        console=stderr,
        transient=True,
    ) as progress:
        yield Display(progress, prefix)


def take_snapshot(
    dsn: str | None,
    limits: Limits,
    schemas: tuple[str, ...],
    no_data: bool,
    probes: frozenset[str] | None = None,
    budget: ProfileBudget | None = None,
    analyze_queries: bool = False,
) -> tuple[Snapshot, str]:
    """`probes`: what the rules to be run need; None (a saved snapshot) reads them all.
    `analyze_queries`: EXPLAIN ANALYZE the workload's SELECTs (not with `no_data`)."""
    connection = connect(dsn, limits)
    where = describe_connection(connection)
    try:
        with progress_display() as step:
            profile = None if no_data else budget or ProfileBudget()
            sibling = functools.partial(connect, dsn, limits)
            taken = collect(
                connection, schemas, profile, step, probes, analyze_queries, step.count, sibling
            )
    except UnknownSchema as error:
        raise Failure(str(error), EXIT_USAGE) from None
    except psycopg.OperationalError as error:
        # before any catalog was read (the server settings, the schema check): no report
        lost = "lost the connection to" if connection.broken else "could not read"
        raise Unreachable(f"{lost} {where}: {describe_failure(error)}") from None
    finally:
        connection.close()
    return taken, where


def with_samples(
    analysis: Analysis, dsn: str | None, limits: Limits, budget: ProfileBudget
) -> Analysis:
    """The analysis with up to 3 example rows added to each data-quality finding's
    evidence (`samples`), read in a new session; the snapshot stays without values."""
    if analysis.snapshot.collection.interrupted:
        return analysis
    connection = connect(dsn, limits)
    try:
        # not counted as the application's reads where the session may
        with progress_display("reading ") as step, uncounted(connection):
            step("examples (--show-samples)")
            samples = read_samples(
                connection, analysis.snapshot, analysis.findings, budget.per_table_ms
            )
    finally:
        connection.close()
    findings = [
        replace(item, evidence={**item.evidence, "samples": samples[item.fingerprint]})
        if item.fingerprint in samples
        else item
        for item in analysis.findings
    ]
    return replace(analysis, findings=findings)


def analysis_of(snapshot: Snapshot, config: Config) -> Analysis:
    unread = [e["reason"] for e in snapshot.collection.skipped if e["step"] == UNREAD_CATALOGS]
    return no_checks(snapshot, unread[0]) if unread else analyse(snapshot, config, LIVE)


def no_checks(snapshot: Snapshot, unread: str) -> Analysis:
    """With catalogs unread no check can be trusted either way (a constraint not read
    looks missing), so every check is reported as not run and nothing as found."""
    reason = f"catalogs incomplete: {unread}"
    return Analysis(
        snapshot, [], [], [Check(r.id, "skipped", reason, 0) for r in ordered_rules()], LIVE
    )


def rows_unread_summary(snapshot: Snapshot) -> str | None:
    """One line naming the tables whose rows the role was not permitted to read, and
    what to do; None when it read all it wanted."""
    unread = rows_not_permitted(snapshot)
    if not unread:
        return None
    shown = ", ".join(f"{table} ({why})" for table, why in unread[:5])
    more = f" and {len(unread) - 5:,} more" if len(unread) > 5 else ""
    return (
        f"the rows of {plural(len(unread), 'table')} were not read: {shown}{more}; the"
        " checks that read rows did not judge them (grant SELECT to the role, or gate on"
        " the catalogs alone with --no-data)"
    )


def finish(
    analysis: Analysis,
    plan: Plan,
    connection: str,
    fail_on: str | None,
    baselines: Baselines = Baselines(),
    keeping: Keeping = Keeping(),
    baseline: Baseline | None = None,
    verify: Callable[[Report], Report] | None = None,
) -> None:
    """`baselines`: --baseline/--write-baseline (check, review); `baseline`: what review --base
    compared with (the findings are already only the new ones); `verify`: check
    --verify-fixes (not for a partial run: its scripts are partial too)."""
    report = baselines.apply(build_report(analysis, connection, baseline))
    if verify is not None and not analysis.snapshot.collection.interrupted:
        report = verify(report)
    written = write_outputs(report, plan, stdout)
    for path in written:
        stderr.print(f"wrote {visible(str(path))}", markup=False, soft_wrap=True)
    shown = any(t.format == "text" and t.path is None for t in plan.targets)
    if report.verification is not None and not shown:  # the terminal summary has it
        style = "green" if report.verification.passed else "bold red"
        summary = visible(report.verification.summary())
        stderr.print(f"fix verification: {summary}", style=style, markup=False, soft_wrap=True)
    interrupted = analysis.snapshot.collection.interrupted
    if interrupted:  # a partial run is neither a baseline nor a point in the history
        raise Failure(f"{interrupted} (partial report written)", EXIT_UNREACHABLE)
    not_checked = report.not_checked_summary()
    if not_checked and fail_on:  # a gate does not pass what it could not check
        raise Failure(f"review incomplete: {not_checked} (report written)", EXIT_UNREACHABLE)
    if not_checked and not shown:
        # the terminal summary says it otherwise; a report file alone may go unread
        warning = f"review incomplete: {visible(not_checked)}"
        stderr.print(warning, style="bold yellow", markup=False, soft_wrap=True)
    unread = rows_unread_summary(analysis.snapshot)
    if unread and fail_on:  # nor what the role was not permitted to read
        raise Failure(f"check incomplete: {unread} (report written)", EXIT_UNREACHABLE)
    if unread:
        warning = f"check incomplete: {visible(unread)}"
        stderr.print(warning, style="bold yellow", markup=False, soft_wrap=True)
    baselines.save(report, plan.force)
    keeping.record(report, analysis.snapshot, connection)
    if report.verification is not None and not report.verification.passed:
        # a fix.sql that does not do what it says fails the run, as CI expects; findings
        # at --fail-on are what a check is for, a broken script is not, so this exit wins
        raise Failure(
            "the fixes did not pass verification (the report's fix verification says why)",
            EXIT_UNVERIFIED,
        )
    worst = report.worst_counted_severity()
    if fail_on and worst and worst.at_least(fail_on):
        sys.exit(EXIT_FINDINGS)
