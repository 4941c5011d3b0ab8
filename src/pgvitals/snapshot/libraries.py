"""Tables a library creates in the user's database through its own migrator.

A job queue's tables (River's river_job, Oban's oban_jobs, graphile-worker's
_private_jobs) are defined by the library: its next migration expects its own
columns, keys, indexes and functions, so a finding that asks to change their
definition is not the operator's to act on (SPEC §1: objects the user cannot change).
Their upkeep (vacuum, statistics, bloat), their activity and who may reach them are.

A library is recognised by shape, never by a name alone: its anchor table must be
there with every column the library's migrations have given it since their first
version; its other tables count where they, too, have their columns, in the anchor's
schema. Functions and types are the library's by name, in that schema; indexes on its
tables by name, or where they back a key or unique constraint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pgvitals.snapshot.model import Snapshot


@dataclass(frozen=True)
class Library:
    name: str
    anchor: str  # the table that identifies it
    # table -> the columns every version of the library's migrations gives it
    tables: dict[str, frozenset[str]]
    # the indexes its migrations build (besides those of its keys and unique
    # constraints): an index the operator built beside them is the operator's
    indexes: frozenset[str] = frozenset()
    functions: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()


def _columns(text: str) -> frozenset[str]:
    return frozenset(text.split())


LIBRARIES = (
    # riverqueue/river@fdf6cdf riverdriver/riverpgxv5/migration/main/00{1..7}_*.up.sql:
    # river_job and river_leader from 002, river_queue from 004, river_migration from
    # 001 (its `id` became `line` in 005), river_client(_queue) from 005 (dropped in
    # 007), river_notification from 007; river_job_notify() (002, dropped in 004),
    # river_job_state_in_bitmask() (006), the enum river_job_state (002)
    Library(
        "River",
        "river_job",
        {
            "river_job": _columns(
                "id args attempt attempted_at attempted_by created_at errors finalized_at"
                " kind max_attempts metadata priority queue state scheduled_at tags"
            ),
            "river_leader": _columns("elected_at expires_at leader_id name"),
            "river_queue": _columns("name created_at metadata paused_at updated_at"),
            "river_migration": _columns("version created_at"),
            "river_client": _columns("id created_at metadata paused_at updated_at"),
            "river_client_queue": _columns(
                "river_client_id name created_at max_workers metadata num_jobs_completed"
                " num_jobs_running updated_at"
            ),
            "river_notification": _columns("id created_at payload topic"),
        },
        indexes=frozenset(
            {
                "river_migration_version_idx",
                "river_job_kind",
                "river_job_state_and_finalized_at_index",
                "river_job_prioritized_fetching_index",
                "river_job_args_index",
                "river_job_metadata_index",
                "river_job_kind_unique_key_idx",
                "river_job_unique_idx",
                "river_notification_created_at_idx",
                "river_notification_topic_id_idx",
            }
        ),
        functions=frozenset({"river_job_notify", "river_job_state_in_bitmask"}),
        types=frozenset({"river_job_state"}),
    ),
    # oban-bg/oban@2939e31 lib/oban/migrations/postgres/v01.ex (oban_jobs, the enum
    # oban_job_state, oban_jobs_notify()), v02.ex (oban_wrap_id(), dropped in v04),
    # v11.ex (oban_peers); later versions add columns (attempted_by, priority, tags,
    # meta, cancelled_at, discarded_at) and indexes to oban_jobs, named by Ecto's
    # `<table>_<columns>_index` unless named (v01, v02, v05, v07, v08, v10, v13)
    Library(
        "Oban",
        "oban_jobs",
        {
            "oban_jobs": _columns(
                "id state queue worker args errors attempt max_attempts inserted_at"
                " scheduled_at attempted_at completed_at"
            ),
            "oban_peers": _columns("name node started_at expires_at"),
        },
        indexes=frozenset(
            {
                "oban_jobs_queue_index",
                "oban_jobs_state_index",
                "oban_jobs_scheduled_at_index",
                "oban_jobs_queue_state_scheduled_at_id_index",
                "oban_jobs_attempted_at_id_index",
                "oban_jobs_state_queue_priority_scheduled_at_id_index",
                "oban_jobs_args_vector",
                "oban_jobs_worker_gist",
                "oban_jobs_args_index",
                "oban_jobs_meta_index",
                "oban_jobs_state_cancelled_at_index",
                "oban_jobs_state_discarded_at_index",
            }
        ),
        functions=frozenset({"oban_jobs_notify", "oban_wrap_id"}),
        types=frozenset({"oban_job_state"}),
    ),
    # graphile/worker@abfb4cf sql/0000{01..19}.sql, as dumped in __tests__/schema.sql:
    # its own schema (graphile_worker unless configured) with _private_jobs,
    # _private_tasks, _private_job_queues, _private_known_crontabs, migrations, the
    # functions add_job(), add_jobs(), complete_jobs(), ... and the type job_spec
    Library(
        "graphile-worker",
        "_private_jobs",
        {
            "_private_jobs": _columns(
                "id job_queue_id task_id payload priority run_at attempts max_attempts"
                " last_error created_at updated_at key locked_at locked_by revision flags"
            ),
            "_private_tasks": _columns("id identifier"),
            "_private_job_queues": _columns("id queue_name locked_at locked_by"),
            "_private_known_crontabs": _columns("identifier known_since last_execution"),
            "migrations": _columns("id ts breaking"),
        },
        indexes=frozenset({"jobs_main_index", "jobs_no_queue_index"}),
        functions=frozenset(
            {
                "add_job",
                "add_jobs",
                "complete_jobs",
                "force_unlock_workers",
                "permanently_fail_jobs",
                "remove_job",
                "reschedule_jobs",
            }
        ),
        types=frozenset({"job_spec"}),
    ),
)


@dataclass(frozen=True)
class LibraryObjects:
    """What the libraries recognised in a snapshot own, each by its library's name."""

    tables: dict[int, str]  # table oid -> library
    by_name: dict[tuple[str, str, str], str]  # (kind, schema, name) -> library

    def owner(self, kind: str, schema: str | None, name: str | None) -> str | None:
        if schema is None or name is None:
            return None
        return self.by_name.get((kind, schema, name))


def library_objects(snap: Snapshot) -> LibraryObjects:
    """The tables, functions and types of the libraries whose shape is in `snap`."""
    columns = snap.columns_by_table
    by_place = {(t.schema, t.name): t for t in snap.tables}
    tables: dict[int, str] = {}
    by_name: dict[tuple[str, str, str], str] = {}
    schemas: dict[str, Library] = {}
    for table in snap.tables:
        library = next((lib for lib in LIBRARIES if lib.anchor == table.name), None)
        if library is None or table.schema in schemas:
            continue
        names = {c.name for c in columns.get(table.oid, [])}
        if library.tables[library.anchor] <= names:
            schemas[table.schema] = library
    for schema, library in schemas.items():
        for name, wanted in library.tables.items():
            table = by_place.get((schema, name))
            if table is None or not wanted <= {c.name for c in columns.get(table.oid, [])}:
                continue
            tables[table.oid] = library.name
            by_name[("table", schema, name)] = library.name
            for index in snap.indexes_by_table.get(table.oid, []):
                if index.constraint_name or index.name in library.indexes:
                    by_name[("index", schema, index.name)] = library.name
        for function in snap.functions:
            if function.schema == schema and function.name in library.functions:
                by_name[("function", schema, function.name)] = library.name
        for name in library.types:
            by_name[("type", schema, name)] = library.name
    return LibraryObjects(tables, by_name)
