"""Rules about DDL files themselves, found while `pgvitals review` loads them."""

from __future__ import annotations

from collections.abc import Iterator

from pgvitals.rules._api import HIGH, INTEGRITY, Draft, NoOptions, finding, rule
from pgvitals.snapshot.model import Snapshot


@rule(
    "invalid-ddl",
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
    Where the folder or file shows which tool runs it (goose, dbmate, Diesel, sqlx,
    Mattermost's morph, golang-migrate, Atlas, Flyway) and the file lacks the tool's
    opt-out, the statement is reported with the tool, how it was recognised, and
    the opt-out, in `evidence.runner`; it is still loaded, so the other rules see
    the schema the file means. Flyway refuses outright a file that holds statements
    it runs in a transaction and statements it runs without one, unless `mixed` is
    set: that is reported at the statement Flyway names, with no `sqlstate` (the
    error is Flyway's). Files whose tool is not recognised load as psql runs them.

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
