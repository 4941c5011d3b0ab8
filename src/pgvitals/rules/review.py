"""Rules about DDL files themselves, found while `pgvitals review` loads them."""

from __future__ import annotations

from collections.abc import Iterator

from pgvitals.rules._api import HIGH, INTEGRITY, Draft, NoOptions, finding, rule
from pgvitals.snapshot.model import Snapshot


@rule(
    "invalid-ddl",
    on_library_tables=True,
    category=INTEGRITY,
    severity=HIGH,
    title="PostgreSQL rejects a statement of the DDL",
)
def invalid_ddl(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """A statement of a reviewed SQL file or migration fails on a real server.

    `pgvitals review` loads the files statement by statement, each in its own
    savepoint, so one failure does not hide the next. Each statement PostgreSQL
    rejects is reported with the server's own message, detail and hint, and with
    the later statements that failed only because of it (a table that was never
    created takes its indexes, foreign keys and views down with it). A live
    database has no DDL files: there this check finds nothing.

    Statements that need an extension the review server lacks are not reported
    here but listed as not checked; so are psql meta-commands, which only psql runs.

    A statement that cannot run in a transaction block (`CREATE INDEX
    CONCURRENTLY`, `VACUUM`, ...), or that uses an enum value the same file added,
    loads when the file runs as psql runs it. Most migration tools run a file in one
    transaction, or send it as one query string, which PostgreSQL runs as one
    implicit transaction when it holds several statements: there it is rejected.
    Where the folder or file shows which tool runs it (goose, sql-migrate, dbmate,
    Diesel, sqlx, Mattermost's morph, golang-migrate, Atlas, Flyway) and the file lacks
    the tool's opt-out, the statement is reported with the tool, how it was recognised,
    and the opt-out, in `evidence.runner`; it is still loaded, so the other rules see
    the schema the file means. goose and sql-migrate end a statement at each line that
    ends in `;` unless it is between their `StatementBegin` and `StatementEnd`
    annotations: a function body or a string with such a line inside is cut there, and
    is reported with PostgreSQL's error for the piece the tool sends first.
    sql-migrate reads its annotations as spelled: a file whose `-- +migrate` lines
    name no `Up` or `Down` (`-- +migrate up`) is refused whole, reported at its first
    statement with sql-migrate's error; after `Up`, a `-- +migrate down` starts no down
    section, and the statements below it run and are loaded. A file run in one
    transaction that holds its own BEGIN or COMMIT is in the tool's transaction up to
    the first of them (Nakama's files COMMIT before an index built CONCURRENTLY). Flyway
    refuses outright a file that holds statements it runs in a transaction and
    statements it runs without one, unless `mixed` is set: that is reported at the
    statement Flyway names, with no `sqlstate` (the error is Flyway's). Drizzle reads
    every file its folder's `meta/_journal.json` lists before it runs any: a listed file
    the folder lacks (generated, never committed) stops every migration of the folder,
    reported at the folder's first file with Drizzle's error. Files whose
    tool is not recognised load as psql runs them.

    ## Why it breaks
    A migration that fails in CI or at deploy time stops the release half way: the
    tools that run migrations one transaction per file leave the schema at the last
    file that worked, and the ones that do not leave it half-changed inside a file.
    A schema file that does not load (a partitioned table whose primary key omits
    the partition key, a foreign key to a column without a unique constraint, a
    typo) means the database the team designed is not the one they will get: every
    object that depends on the failed statement is missing too.

    ## Fix
    Correct the statement as the server's message, detail and hint say, then review
    again: the statements listed as lost should then load as well. Where the
    statement is right but needs something the review server lacks (a role, an
    extension), review against a server that has it with `--server DSN`. Where the
    migration tool's transaction rejects it, use the tool's opt-out that the
    evidence names, usually with the statement alone in a migration of its own: a
    file run outside a transaction is no longer atomic, and a failure part way
    leaves the statements before it applied.
    """
    for rejected in snap.rejected_statements:
        evidence: dict[str, object] = {
            "statement": rejected.statement,
            "sqlstate": rejected.sqlstate,
            "message": rejected.message,
            "detail": rejected.detail,
            "hint": rejected.hint,
            "error_at": rejected.error_at,
            "lost": rejected.lost,
        }
        message = f"PostgreSQL rejects `{rejected.statement}`: {rejected.message}"
        if rejected.runner is not None:
            evidence["runner"] = rejected.runner
            runner = rejected.runner
            message = (
                f"{runner['tool']} runs {rejected.file} {runner['runs']}: PostgreSQL rejects"
                f" `{rejected.statement}` there at deploy: {rejected.message}"
            )
            if not rejected.sqlstate:  # the tool's own error: PostgreSQL never sees the file
                message = (
                    f"{runner['tool']} runs {rejected.file} {runner['runs']}: it refuses this"
                    f" one at `{rejected.statement}` at deploy: {rejected.message}"
                )
        if rejected.lost:
            count = len(rejected.lost)
            message += f"; {count} later statement{'s' if count > 1 else ''} failed because of it"
        yield finding(rejected.located, message, evidence=evidence)


@rule(
    "migration-edited",
    category=INTEGRITY,
    severity=HIGH,
    title="A migration the base ran was edited",
)
def migration_edited(snap: Snapshot, opts: NoOptions) -> Iterator[Draft]:
    """A reviewed migration differs from the copy the base holds at the same place.

    With `--base` another checkout of the migrations folder (`review db/migrations
    --base main/db/migrations`), a file both hold byte for byte is the base's and is
    not reviewed again; a file both hold with different text was edited after the
    base's databases ran it. Review loads the base's text (what those databases have)
    and reports the first line that differs.

    ## Why it breaks
    A migration tool records each migration it ran, by version, and never runs it
    again. A database where the old text ran keeps the old schema; a database built
    from scratch gets the new one: staging, production and every developer's copy
    drift apart without an error. Tools that keep a checksum refuse to go on instead:
    sqlx stops with "migration 3 was previously applied but has been modified",
    Prisma Migrate with "was modified after it was applied", Flyway's validation with a
    checksum mismatch; until someone repairs the history by hand, no later migration
    deploys.

    ## Fix
    Restore the file as the base has it and put the change in a new migration. Where
    the edit only fixes a comment or formatting, the tools that keep a checksum still
    refuse it: restore it all the same.
    """
    for edited in snap.edited_migrations:
        message = (
            f"{edited.file} differs from {edited.base_file}, which the base ran, from line"
            f" {edited.line}: databases where it ran keep the old text, new ones get this"
        )
        yield finding(
            edited.located,
            message,
            evidence={
                "base_file": edited.base_file,
                "first_difference_line": edited.line,
                "base_text": edited.base_text,
                "text": edited.text,
            },
        )
