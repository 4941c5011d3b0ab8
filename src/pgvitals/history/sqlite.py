"""The default store: one SQLite file (the standard library's sqlite3; nothing to start).

Writers take the file's write lock for one short transaction (`BEGIN IMMEDIATE`) and
wait for each other (busy timeout), so several runs may finish at once."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pgvitals.history.runs import NewRun
from pgvitals.history.store import (
    STORE_FORMAT,
    Retention,
    Store,
    StoreError,
    removal_cutoff,
)

BUSY_TIMEOUT_S = 60.0

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS runs (
        id INTEGER PRIMARY KEY,
        target TEXT NOT NULL,
        database TEXT NOT NULL,
        system_identifier TEXT,
        label TEXT NOT NULL,
        collected_at TEXT NOT NULL,  -- ISO 8601 UTC, as the snapshot has it: sorts as text
        recorded_at TEXT NOT NULL,
        tool_version TEXT NOT NULL,
        summary TEXT NOT NULL,  -- JSON
        report BLOB NOT NULL,  -- gzip-compressed JSON
        snapshot BLOB
    )""",
    """CREATE INDEX IF NOT EXISTS runs_by_target ON runs (target, collected_at)""",
)


class SqliteStore(Store):
    def __init__(self, path: Path) -> None:
        self.location = str(path)
        try:
            if path.parent != Path() and not path.parent.is_dir():
                raise StoreError(f"cannot open the history {path}: {path.parent} is no folder")
            self.connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            self._create()
        except sqlite3.DatabaseError as error:
            raise StoreError(f"cannot open the history {path}: {error}") from None

    def _create(self) -> None:
        with transaction(self.connection) as cursor:
            for statement in SCHEMA:
                cursor.execute(statement)
            cursor.execute(
                "INSERT INTO meta (key, value) VALUES ('format', ?) ON CONFLICT DO NOTHING",
                (STORE_FORMAT,),
            )
            found = cursor.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()[0]
        if found != STORE_FORMAT:
            raise StoreError(
                f"{self.location} is a {found} history; this pgvitals reads {STORE_FORMAT}"
            )

    def record(self, run: NewRun, retention: Retention) -> tuple[int, int]:
        now = dt.datetime.now(dt.timezone.utc)
        try:
            with transaction(self.connection) as cursor:
                cursor.execute(
                    "INSERT INTO runs (target, database, system_identifier, label, collected_at,"
                    " recorded_at, tool_version, summary, report, snapshot)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run.target.key,
                        run.target.database,
                        run.target.system_identifier,
                        run.target.label,
                        run.collected_at,
                        now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                        run.tool_version,
                        json.dumps(run.summary, ensure_ascii=False),
                        run.report,
                        run.snapshot,
                    ),
                )
                run_id = int(cursor.lastrowid or 0)
                removed = self._prune(cursor, run.target.key, run_id, retention, now)
        except sqlite3.DatabaseError as error:
            raise StoreError(f"cannot write to the history {self.location}: {error}") from None
        return run_id, removed

    def _prune(
        self,
        cursor: sqlite3.Cursor,
        target: str,
        kept: int,
        retention: Retention,
        now: dt.datetime,
    ) -> int:
        removed = 0
        if retention.keep is not None:
            cursor.execute(
                "DELETE FROM runs WHERE target = ? AND id <> ? AND id NOT IN"
                " (SELECT id FROM runs WHERE target = ? ORDER BY collected_at DESC, id DESC"
                "  LIMIT ?)",
                (target, kept, target, retention.keep),
            )
            removed += cursor.rowcount
        cutoff = removal_cutoff(retention, now)
        if cutoff is not None:
            cursor.execute(
                "DELETE FROM runs WHERE target = ? AND id <> ? AND collected_at < ?",
                (target, kept, cutoff),
            )
            removed += cursor.rowcount
        return removed

    def _rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        try:
            return self.connection.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as error:
            raise StoreError(f"cannot read the history {self.location}: {error}") from None

    def close(self) -> None:
        self.connection.close()


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Cursor]:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error): the write lock from the start, so
    two writers queue instead of one failing when it upgrades its lock."""
    cursor = connection.cursor()
    cursor.execute("BEGIN IMMEDIATE")
    try:
        yield cursor
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
