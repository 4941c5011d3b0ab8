"""The command line: parse arguments, run the pipeline, map errors to exit codes.

Exit codes: 0 done (no finding at or above --fail-on), 1 findings at or above
--fail-on, 2 usage or input error, 3 the database could not be read in full: not
reached, lost, stopped answering, or a catalog query timed out.
"""

from __future__ import annotations

import dataclasses
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import psycopg
from rich.console import Console
from rich.markdown import Markdown
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table as RichTable

from pgvitals import __version__, ruledocs
from pgvitals.config import ConfigError, load_config
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
from pgvitals.engine import LIVE, Analysis, Check, analyse, ordered_rules, required_probes
from pgvitals.findings import SEVERITIES
from pgvitals.output import (
    FORMATS,
    SNAPSHOT,
    OutputError,
    OutputFile,
    Plan,
    check_writable,
    plan_outputs,
    write_files,
    write_outputs,
)
from pgvitals.render.escape import visible
from pgvitals.report import build_report
from pgvitals.rules import REGISTRY
from pgvitals.snapshot import io
from pgvitals.snapshot.collect import UNREAD_CATALOGS, ProfileBudget, UnknownSchema, collect
from pgvitals.snapshot.model import Snapshot

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3

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
        except (BadTarget, ConfigError, io.BadSnapshot, OutputError) as error:
            fail(str(error), EXIT_USAGE)
        except (Unreachable, EmbeddedError) as error:
            fail(str(error), EXIT_UNREACHABLE)
        except KeyboardInterrupt:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second one must not cut this short
            fail("interrupted", 130)
        finally:
            signal.signal(signal.SIGINT, previous)
        return None


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
                help="Write a report file; the suffix picks the format (.md .json .sarif .txt).",
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


@main.command()
@click.argument("dsn", required=False)
@click.option(
    "--snapshot", "snapshot_path", type=click.Path(path_type=Path),
    help="Analyse a saved snapshot instead of a live database.",
)  # fmt: skip
@click.option(
    "--include-managed", is_flag=True,
    help="Also assess schemas and roles a platform manages (Supabase's auth, storage, ...).",
)  # fmt: skip
@target_options
@report_options
def check(
    dsn: str | None,
    snapshot_path: Path | None,
    include_managed: bool,
    schemas: tuple[str, ...],
    no_data: bool,
    config_path: Path | None,
    statement_timeout: int,
    lock_timeout: int,
    formats: tuple[str, ...],
    outputs: tuple[Path, ...],
    fail_on: str | None,
    force: bool,
) -> None:
    """Analyse a live database (read-only), or a saved --snapshot.

    DSN is a libpq URI or key=value string; absent, libpq defaults and PG*
    variables apply, as with psql.
    """
    config = load_config(config_path)
    if include_managed:
        config = dataclasses.replace(config, include_managed=True)
    plan = plan_outputs(formats, outputs, force)  # checked now: a bad path fails fast
    if snapshot_path is not None:
        if dsn:
            raise click.UsageError("give a DSN or --snapshot, not both")
        snapshot = io.load(snapshot_path)
        connection = f"snapshot {snapshot_path}"
    else:
        limits = Limits(statement_timeout_ms=statement_timeout, lock_timeout_ms=lock_timeout)
        snapshot, connection = take_snapshot(
            dsn, limits, schemas or config.schemas, no_data, required_probes(config)
        )
    unread = [e["reason"] for e in snapshot.collection.skipped if e["step"] == UNREAD_CATALOGS]
    analysis = no_checks(snapshot, unread[0]) if unread else analyse(snapshot, config, LIVE)
    finish(analysis, plan, connection, fail_on or config.fail_on)


@main.command()
@click.argument("dsn", required=False)
@click.option(
    "-o", "--output", "output", required=True, type=click.Path(path_type=Path),
    help="Where to write the snapshot (JSON).",
)  # fmt: skip
@target_options
@force_option
def snapshot(
    dsn: str | None,
    output: Path,
    schemas: tuple[str, ...],
    no_data: bool,
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
    taken, _ = take_snapshot(dsn, limits, schemas or config.schemas, no_data)
    write_files([(destination, io.to_json(taken))], force)
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

    reports = tuple(output_dir / f"report.{suffix}" for suffix in ("md", "json", "sarif"))
    plan = plan_outputs(("text",), reports, force)  # before starting the server
    with progress_display() as step:
        analysis, connection = run_demo(step)
    finish(analysis, plan, connection, fail_on)
    stdout.print(f"\nReport: {output_dir / 'report.md'}  (also report.json, report.sarif, "
                 "fix.sql, rollback.sql)", markup=False)  # fmt: skip


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


@contextmanager
def progress_display() -> Iterator:
    """A spinner on stderr naming the step under way (silent when not a terminal)."""
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), console=stderr, transient=True
    ) as progress:
        task = progress.add_task("connecting")
        yield lambda step: progress.update(task, description=f"collecting {step}")


def take_snapshot(
    dsn: str | None,
    limits: Limits,
    schemas: tuple[str, ...],
    no_data: bool,
    probes: frozenset[str] | None = None,
) -> tuple[Snapshot, str]:
    """`probes`: what the rules to be run need; None (a saved snapshot) reads them all."""
    connection = connect(dsn, limits)
    where = describe_connection(connection)
    try:
        with progress_display() as step:
            budget = None if no_data else ProfileBudget()
            taken = collect(connection, schemas, budget, step, probes)
    except UnknownSchema as error:
        raise Failure(str(error), EXIT_USAGE) from None
    except psycopg.OperationalError as error:
        # before any catalog was read (the server settings, the schema check): no report
        lost = "lost the connection to" if connection.broken else "could not read"
        raise Unreachable(f"{lost} {where}: {describe_failure(error)}") from None
    finally:
        connection.close()
    return taken, where


def no_checks(snapshot: Snapshot, unread: str) -> Analysis:
    """With catalogs unread no check can be trusted either way (a constraint not read
    looks missing), so every check is reported as not run and nothing as found."""
    reason = f"catalogs incomplete: {unread}"
    return Analysis(
        snapshot, [], [], [Check(r.id, "skipped", reason, 0) for r in ordered_rules()], LIVE
    )


def finish(analysis: Analysis, plan: Plan, connection: str, fail_on: str | None) -> None:
    report = build_report(analysis, connection)
    written = write_outputs(report, plan, stdout)
    for path in written:
        stderr.print(f"wrote {visible(str(path))}", markup=False)
    interrupted = analysis.snapshot.collection.interrupted
    if interrupted:
        raise Failure(f"{interrupted} (partial report written)", EXIT_UNREACHABLE)
    worst = report.worst_severity()
    if fail_on and worst and worst.at_least(fail_on):
        sys.exit(EXIT_FINDINGS)
