"""The command line: parse arguments, run the pipeline, map errors to exit codes.

Exit codes: 0 done (no finding at or above --fail-on), 1 findings at or above
--fail-on, 2 usage or input error, 3 the target cannot be reached (or was lost).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import psycopg
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table as RichTable

from pgvitals import __version__
from pgvitals.config import ConfigError, load_config
from pgvitals.connect import BadTarget, Limits, Unreachable, connect, describe_connection
from pgvitals.engine import LIVE, Analysis, analyse, ordered_rules
from pgvitals.output import FORMATS, OutputError, plan_outputs, write_outputs
from pgvitals.rules import REGISTRY, SEVERITIES
from pgvitals.rules._api import severity_rank
from pgvitals.snapshot import io
from pgvitals.snapshot.collect import ProfileBudget, collect
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
        try:
            return super().invoke(ctx)
        except Failure as error:
            fail(str(error), error.exit_code)
        except (BadTarget, ConfigError, io.BadSnapshot, OutputError) as error:
            fail(str(error), EXIT_USAGE)
        except Unreachable as error:
            fail(str(error), EXIT_UNREACHABLE)
        except KeyboardInterrupt:
            fail("interrupted", 130)
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
                type=click.IntRange(min=1), help="Milliseconds any one query may take.",
            ),
            click.option(
                "--lock-timeout", default=Limits.lock_timeout_ms, show_default=True,
                type=click.IntRange(min=1), help="Milliseconds to wait for a lock before skipping.",
            ),
        ]
    ):  # fmt: skip
        command = decorator(command)
    return command


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
@target_options
@report_options
def check(
    dsn: str | None,
    snapshot_path: Path | None,
    schemas: tuple[str, ...],
    no_data: bool,
    config_path: Path | None,
    statement_timeout: int,
    lock_timeout: int,
    formats: tuple[str, ...],
    outputs: tuple[Path, ...],
    fail_on: str | None,
) -> None:
    """Analyse a live database (read-only), or a saved --snapshot.

    DSN is a libpq URI or key=value string; absent, libpq defaults and PG*
    variables apply, as with psql.
    """
    config = load_config(config_path)
    targets = plan_outputs(formats, outputs)
    if snapshot_path is not None:
        if dsn:
            raise click.UsageError("give a DSN or --snapshot, not both")
        snapshot = io.load(snapshot_path)
        connection = f"snapshot {snapshot_path}"
    else:
        limits = Limits(statement_timeout_ms=statement_timeout, lock_timeout_ms=lock_timeout)
        snapshot, connection = take_snapshot(dsn, limits, schemas or config.schemas, no_data)
    analysis = analyse(snapshot, config, LIVE)
    finish(analysis, targets, connection, fail_on or config.fail_on)


@main.command()
@click.argument("dsn", required=False)
@click.option(
    "-o", "--output", "output", required=True, type=click.Path(path_type=Path),
    help="Where to write the snapshot (JSON).",
)  # fmt: skip
@target_options
def snapshot(
    dsn: str | None,
    output: Path,
    schemas: tuple[str, ...],
    no_data: bool,
    config_path: Path | None,
    statement_timeout: int,
    lock_timeout: int,
) -> None:
    """Save a snapshot of a live database, to analyse later with `check --snapshot`."""
    config = load_config(config_path)
    limits = Limits(statement_timeout_ms=statement_timeout, lock_timeout_ms=lock_timeout)
    taken, _ = take_snapshot(dsn, limits, schemas or config.schemas, no_data)
    io.save(taken, output)
    stderr.print(
        f"saved {output}: {len(taken.tables)} tables, "
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
def demo(output_dir: Path, fail_on: str | None) -> None:
    """Run the full check on a bundled demo database in a private throwaway server."""
    from pgvitals.demo.run import run_demo  # the embedded server is needed only here

    with progress_display() as step:
        analysis, connection = run_demo(step)
    targets = plan_outputs(
        (), tuple(output_dir / f"report.{suffix}" for suffix in ("md", "json", "sarif"))
    )
    finish(analysis, [*targets, *plan_outputs(("text",), ())], connection, fail_on)
    stdout.print(f"\nReport: {output_dir / 'report.md'}  (also report.json, report.sarif, "
                 "fix.sql, rollback.sql)", markup=False)  # fmt: skip


@main.command()
@click.argument("rule_id", required=False)
def rules(rule_id: str | None) -> None:
    """List the rules, or explain one."""
    if rule_id is None:
        table = RichTable(title=f"{len(REGISTRY)} rules", show_lines=False)
        for heading in ("rule", "category", "severity", "title"):
            table.add_column(heading)
        for item in ordered_rules():
            table.add_row(item.id, item.category, item.severity, item.title)
        stdout.print(table)
        return
    if rule_id not in REGISTRY:
        raise Failure(f"no rule named {rule_id!r}; `pgvitals rules` lists them", EXIT_USAGE)
    item = REGISTRY[rule_id]
    lines = [
        f"# {item.id}",
        f"*{item.title}* — category **{item.category}**, default severity **{item.severity}**",
        "",
        item.doc,
    ]
    if item.options:
        lines += ["", "## Options", ""]
        lines += [f"- `{o.name}` = `{o.default}`: {o.help}" for o in item.options]
    lines += [
        "", "## Configure", "",
        f"Disable: `disable = [\"{item.id}\"]` under `[tool.pgvitals]`; excuse one object: "
        f"`[[tool.pgvitals.ignore]]` with `rule = \"{item.id}\"`, `object`, `reason`, or put "
        f"`pgvitals:ignore {item.id} <reason>` in the object's COMMENT.",
    ]  # fmt: skip
    from rich.markdown import Markdown  # markdown-it costs 30 ms of every start; only here

    stdout.print(Markdown("\n".join(lines)))


@contextmanager
def progress_display() -> Iterator:
    """A spinner on stderr naming the step under way (silent when not a terminal)."""
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), console=stderr, transient=True
    ) as progress:
        task = progress.add_task("connecting")
        yield lambda step: progress.update(task, description=f"collecting {step}")


def take_snapshot(
    dsn: str | None, limits: Limits, schemas: tuple[str, ...], no_data: bool
) -> tuple[Snapshot, str]:
    connection = connect(dsn, limits)
    where = describe_connection(connection)
    try:
        with progress_display() as step:
            taken = collect(connection, schemas, None if no_data else ProfileBudget(), step)
    except psycopg.OperationalError as error:
        raise Unreachable(f"lost the connection to {where}: {error}") from None
    finally:
        connection.close()
    return taken, where


def finish(analysis: Analysis, targets: list, connection: str, fail_on: str | None) -> None:
    written = write_outputs(analysis, targets, connection, stdout)
    for path in written:
        stderr.print(f"wrote {path}", markup=False)
    interrupted = analysis.snapshot.collection.interrupted
    if interrupted:
        raise Failure(f"{interrupted} (partial report written)", EXIT_UNREACHABLE)
    worst = analysis.worst_severity()
    if fail_on and worst and severity_rank(worst) <= severity_rank(fail_on):
        sys.exit(EXIT_FINDINGS)
