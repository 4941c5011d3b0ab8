"""Where runs are kept: one interface, two places (SQLite by default, PostgreSQL shared).

Both keep the same two tables: `runs` (one row per run: target, time, summary, the
compressed report and snapshot) and `meta` (the store's format). Writing a run and
applying retention is one transaction, so several runners may write at once.
"""

from __future__ import annotations

import datetime as dt
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pgvitals.fmt import parse_timestamp
from pgvitals.history.runs import NewRun, StoredRun, unpack

STORE_FORMAT = "pgvitals-history/1"
DEFAULT_LOCATION = "pgvitals-history.sqlite"
ENVIRONMENT_VARIABLE = "PGVITALS_HISTORY"


class StoreError(Exception):
    """The history cannot be opened, read or written (exit code 2)."""


@dataclass(frozen=True)
class TargetInfo:
    key: str
    database: str
    label: str  # how its latest run was reached
    runs: int
    first: str  # collected_at of its first and latest runs
    latest: str


@dataclass(frozen=True)
class Retention:
    """Runs kept per target: the newest `keep`, and those younger than `keep_days`."""

    keep: int | None = None
    keep_days: float | None = None

    @property
    def active(self) -> bool:
        return self.keep is not None or self.keep_days is not None


class Store(ABC):
    """A history of runs. `location` is how it is shown (never with a password)."""

    location: str

    @abstractmethod
    def record(self, run: NewRun, retention: Retention) -> tuple[int, int]:
        """Keep `run`, then apply `retention` to its target: (the run's id, runs removed)."""

    @abstractmethod
    def _rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Rows of a read; `sql` is written with `?` placeholders."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def targets(self) -> list[TargetInfo]:
        rows = self._rows(
            "SELECT target, database, count(*), min(collected_at), max(collected_at),"
            " (SELECT r.label FROM runs r WHERE r.target = runs.target"
            "   ORDER BY r.collected_at DESC, r.id DESC LIMIT 1)"
            " FROM runs GROUP BY target, database ORDER BY target",
            (),
        )
        return [
            TargetInfo(key, database, label, count, timestamp(first), timestamp(latest))
            for key, database, count, first, latest, label in rows
        ]

    def runs(self, target: str) -> list[StoredRun]:
        """The target's runs, oldest first."""
        rows = self._rows(
            "SELECT id, target, database, label, collected_at, tool_version, summary"
            " FROM runs WHERE target = ? ORDER BY collected_at, id",
            (target,),
        )
        return [
            StoredRun(
                int(run_id), key, database, label, timestamp(taken), version, as_json(summary)
            )
            for run_id, key, database, label, taken, version, summary in rows
        ]

    def load(self, run_id: int) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """A run's report and snapshot (None if it was kept without one)."""
        rows = self._rows("SELECT report, snapshot FROM runs WHERE id = ?", (run_id,))
        if not rows:
            raise StoreError(f"no run #{run_id} in {self.location}")
        report, snapshot = rows[0]
        return unpack(bytes(report)), unpack(bytes(snapshot)) if snapshot is not None else None

    def closest(self, target: str, when: dt.datetime) -> StoredRun | None:
        """The target's run taken closest to `when`."""
        return min(
            self.runs(target),
            key=lambda run: abs((parse_timestamp(run.collected_at) - when).total_seconds()),
            default=None,
        )


def timestamp(value: Any) -> str:
    """A stored time as the ISO 8601 UTC text the rest of pgvitals uses."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return str(value)


def as_json(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else json.loads(value)


def removal_cutoff(retention: Retention, now: dt.datetime) -> str | None:
    if retention.keep_days is None:
        return None
    return timestamp(now - dt.timedelta(days=retention.keep_days))


def is_postgresql(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://")) or "=" in location


def open_store(location: str, create: bool = True) -> Store:
    """A PostgreSQL store for a connection string, else a SQLite file. `create` False:
    a SQLite file that does not exist is an error (reading a history that was never
    written), not a new empty store."""
    if is_postgresql(location):
        from pgvitals.history.postgres import PostgresStore

        return PostgresStore(location, create)
    from pgvitals.history.sqlite import SqliteStore

    path = Path(location)
    if not create and not path.exists():
        raise StoreError(f"no history at {location} (check --history {location} keeps one)")
    return SqliteStore(path)
