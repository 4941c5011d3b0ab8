"""The shared store: a PostgreSQL database that a team, or a fleet of databases, keeps
its history in. Its own schema (`pgvitals_history`), created on first use under an
advisory lock, so that several runners starting at once do not race; each run is
written, and retention applied, in one transaction."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import conninfo

from pgvitals import __version__
from pgvitals.connect import describe, first_line, scrub
from pgvitals.history.runs import NewRun
from pgvitals.history.store import STORE_FORMAT, Retention, Store, StoreError, removal_cutoff

SCHEMA_NAME = "pgvitals_history"
# pg_advisory_xact_lock key for creating the schema: any constant, the same for every runner
CREATE_LOCK = 0x70677669  # "pgvi"
CONNECT_TIMEOUT_S = 10
STATEMENT_TIMEOUT_MS = 60_000

SCHEMA = (
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA_NAME}",
    "CREATE TABLE IF NOT EXISTS meta (key text PRIMARY KEY, value text NOT NULL)",
    """CREATE TABLE IF NOT EXISTS runs (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        target text NOT NULL,
        database text NOT NULL,
        system_identifier text,
        label text NOT NULL,
        collected_at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
        tool_version text NOT NULL,
        summary jsonb NOT NULL,
        report bytea NOT NULL,  -- gzip-compressed JSON
        snapshot bytea
    )""",
    "CREATE INDEX IF NOT EXISTS runs_by_target ON runs (target, collected_at)",
)


class PostgresStore(Store):
    def __init__(self, dsn: str, create: bool = True) -> None:
        """`create` False: reading only; a database without the schema has no history."""
        self.location = describe(dsn)
        self.dsn = dsn
        try:
            params = conninfo.conninfo_to_dict(dsn)
        except psycopg.ProgrammingError as error:
            raise StoreError(
                f"invalid history connection string: {scrub(str(error), dsn)}"
            ) from None
        options = " ".join(
            [
                params.pop("options", "") or "",
                f"-c search_path={SCHEMA_NAME}",
                f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
            ]
        ).strip()
        params.setdefault("connect_timeout", str(CONNECT_TIMEOUT_S))
        params.setdefault("application_name", f"pgvitals {__version__} history")
        try:
            self.connection = psycopg.connect(**params, options=options, autocommit=True)
            self._create(create)
        except psycopg.Error as error:
            raise self._failure("open", error) from None

    def _failure(self, doing: str, error: psycopg.Error) -> StoreError:
        reason = first_line(scrub(str(error), self.dsn))
        return StoreError(f"cannot {doing} the history at {self.location}: {reason}")

    def _create(self, create: bool) -> None:
        exists = self.connection.execute(
            "SELECT pg_catalog.to_regclass(%s) IS NOT NULL", (f"{SCHEMA_NAME}.runs",)
        ).fetchone()
        if not (exists and exists[0]):
            if not create:
                self.connection.close()
                raise StoreError(f"no history at {self.location} (check --history keeps one there)")
            with self.connection.transaction():
                # CREATE ... IF NOT EXISTS is not safe against a concurrent creator
                self.connection.execute(
                    "SELECT pg_catalog.pg_advisory_xact_lock(%s)", (CREATE_LOCK,)
                )
                for statement in SCHEMA:
                    self.connection.execute(statement)
                self.connection.execute(
                    "INSERT INTO meta (key, value) VALUES ('format', %s) ON CONFLICT DO NOTHING",
                    (STORE_FORMAT,),
                )
        found = self.connection.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        if not found or found[0] != STORE_FORMAT:
            kind = found[0] if found else "unknown"
            raise StoreError(
                f"{self.location} holds a {kind} history; this pgvitals reads {STORE_FORMAT}"
            )

    def record(self, run: NewRun, retention: Retention) -> tuple[int, int]:
        now = dt.datetime.now(dt.timezone.utc)
        try:
            with self.connection.transaction():
                row = self.connection.execute(
                    "INSERT INTO runs (target, database, system_identifier, label, collected_at,"
                    " tool_version, summary, report, snapshot)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                    (
                        run.target.key,
                        run.target.database,
                        run.target.system_identifier,
                        run.target.label,
                        run.collected_at,
                        run.tool_version,
                        json.dumps(run.summary, ensure_ascii=False),
                        run.report,
                        run.snapshot,
                    ),
                ).fetchone()
                assert row is not None
                run_id = int(row[0])
                removed = self._prune(run.target.key, run_id, retention, now)
        except psycopg.Error as error:
            raise self._failure("write to", error) from None
        return run_id, removed

    def _prune(self, target: str, kept: int, retention: Retention, now: dt.datetime) -> int:
        removed = 0
        if retention.keep is not None:
            removed += self.connection.execute(
                "DELETE FROM runs WHERE target = %s AND id <> %s AND id NOT IN"
                " (SELECT id FROM runs WHERE target = %s ORDER BY collected_at DESC, id DESC"
                "  LIMIT %s)",
                (target, kept, target, retention.keep),
            ).rowcount
        cutoff = removal_cutoff(retention, now)
        if cutoff is not None:
            removed += self.connection.execute(
                "DELETE FROM runs WHERE target = %s AND id <> %s AND collected_at < %s",
                (target, kept, cutoff),
            ).rowcount
        return removed

    def _rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        try:
            return self.connection.execute(sql.replace("?", "%s"), params).fetchall()
        except psycopg.Error as error:
            raise self._failure("read", error) from None

    def close(self) -> None:
        self.connection.close()
