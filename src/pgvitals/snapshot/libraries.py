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


def _names(text: str) -> frozenset[str]:
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
            "river_job": _names(
                "id args attempt attempted_at attempted_by created_at errors finalized_at"
                " kind max_attempts metadata priority queue state scheduled_at tags"
            ),
            "river_leader": _names("elected_at expires_at leader_id name"),
            "river_queue": _names("name created_at metadata paused_at updated_at"),
            "river_migration": _names("version created_at"),
            "river_client": _names("id created_at metadata paused_at updated_at"),
            "river_client_queue": _names(
                "river_client_id name created_at max_workers metadata num_jobs_completed"
                " num_jobs_running updated_at"
            ),
            "river_notification": _names("id created_at payload topic"),
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
            "oban_jobs": _names(
                "id state queue worker args errors attempt max_attempts inserted_at"
                " scheduled_at attempted_at completed_at"
            ),
            "oban_peers": _names("name node started_at expires_at"),
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
            "_private_jobs": _names(
                "id job_queue_id task_id payload priority run_at attempts max_attempts"
                " last_error created_at updated_at key locked_at locked_by revision flags"
            ),
            "_private_tasks": _names("id identifier"),
            "_private_job_queues": _names("id queue_name locked_at locked_by"),
            "_private_known_crontabs": _names("identifier known_since last_execution"),
            "migrations": _names("id ts breaking"),
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
    # que-rb/que@17fb2c3 lib/que/migrations/{1..7}/up.sql: que_jobs from 1 (job_id,
    # last_error and args renamed in 4, queue added in 3, data, kwargs ... later: the
    # columns below are in every version), que_values and que_lockers from 4
    Library(
        "Que",
        "que_jobs",
        {
            "que_jobs": _names("priority run_at job_class args error_count"),
            "que_values": _names("key value"),
            "que_lockers": _names(
                "pid worker_count worker_priorities ruby_pid ruby_hostname queues listening"
            ),
        },
        indexes=frozenset(
            {
                "que_poll_idx",
                "que_poll_idx_with_job_schema_version",
                "que_jobs_data_gin_idx",
                "que_jobs_args_gin_idx",
                "que_jobs_kwargs_gin_idx",
            }
        ),
        functions=frozenset(
            {"que_validate_tags", "que_job_notify", "que_determine_job_state", "que_state_notify"}
        ),
    ),
    # quartz-scheduler/quartz@bb2505a quartz/src/main/resources/org/quartz/impl/
    # jdbcjobstore/tables_postgres.sql (the script its JDBC job store expects run),
    # under its default table prefix QRTZ_ (unquoted: lower case)
    Library(
        "Quartz",
        "qrtz_triggers",
        {
            "qrtz_job_details": _names(
                "sched_name job_name job_group description job_class_name is_durable"
                " is_nonconcurrent is_update_data requests_recovery job_data"
            ),
            "qrtz_triggers": _names(
                "sched_name trigger_name trigger_group job_name job_group description"
                " next_fire_time prev_fire_time priority trigger_state trigger_type start_time"
                " end_time calendar_name misfire_instr job_data"
            ),
            "qrtz_simple_triggers": _names(
                "sched_name trigger_name trigger_group repeat_count repeat_interval times_triggered"
            ),
            "qrtz_cron_triggers": _names(
                "sched_name trigger_name trigger_group cron_expression time_zone_id"
            ),
            "qrtz_simprop_triggers": _names(
                "sched_name trigger_name trigger_group str_prop_1 str_prop_2 str_prop_3"
                " int_prop_1 int_prop_2 long_prop_1 long_prop_2 dec_prop_1 dec_prop_2"
                " bool_prop_1 bool_prop_2"
            ),
            "qrtz_blob_triggers": _names("sched_name trigger_name trigger_group blob_data"),
            "qrtz_calendars": _names("sched_name calendar_name calendar"),
            "qrtz_paused_trigger_grps": _names("sched_name trigger_group"),
            "qrtz_fired_triggers": _names(
                "sched_name entry_id trigger_name trigger_group instance_name fired_time"
                " sched_time priority state job_name job_group is_nonconcurrent"
                " requests_recovery"
            ),
            "qrtz_scheduler_state": _names(
                "sched_name instance_name last_checkin_time checkin_interval"
            ),
            "qrtz_locks": _names("sched_name lock_name"),
        },
        indexes=frozenset(
            f"idx_qrtz_{name}"
            for name in _names(
                "j_req_recovery j_grp t_j t_jg t_c t_g t_state t_n_state t_n_g_state"
                " t_next_fire_time t_nft_st t_nft_misfire t_nft_st_misfire t_nft_st_misfire_grp"
                " ft_trig_inst_name ft_inst_job_req_rcvry ft_j_g ft_jg ft_t_g ft_tg"
            )
        ),
    ),
    # spring-projects/spring-batch@3bb3709 spring-batch-core/src/main/resources/org/
    # springframework/batch/core/schema-postgresql.sql, under its default table prefix
    # BATCH_ (unquoted: lower case): the columns below are those of 4.x and 5.x alike
    # (5.0 added create_time to step executions, renamed the parameters' columns)
    Library(
        "Spring Batch",
        "batch_job_instance",
        {
            "batch_job_instance": _names("job_instance_id version job_name job_key"),
            "batch_job_execution": _names(
                "job_execution_id version job_instance_id create_time start_time end_time"
                " status exit_code exit_message last_updated"
            ),
            "batch_job_execution_params": _names("job_execution_id identifying"),
            "batch_step_execution": _names(
                "step_execution_id version step_name job_execution_id start_time end_time"
                " status commit_count read_count filter_count write_count read_skip_count"
                " write_skip_count process_skip_count rollback_count exit_code exit_message"
                " last_updated"
            ),
            "batch_step_execution_context": _names(
                "step_execution_id short_context serialized_context"
            ),
            "batch_job_execution_context": _names(
                "job_execution_id short_context serialized_context"
            ),
        },
    ),
    # bensheldon/good_job@81db22b lib/generators/good_job/templates/install/migrations/
    # create_good_jobs.rb.erb and update/migrations/01-14 (Rails migrations its generator
    # copies into the application; uuid keys). good_jobs has had the columns below since
    # its first release; the indexes are every name the templates build
    Library(
        "GoodJob",
        "good_jobs",
        {
            "good_jobs": _names(
                "id queue_name priority serialized_params scheduled_at performed_at"
                " finished_at error created_at updated_at"
            ),
            "good_job_processes": _names("id created_at updated_at state"),
            "good_job_settings": _names("id created_at updated_at key value"),
            "good_job_executions": _names(
                "id created_at updated_at active_job_id job_class queue_name serialized_params"
                " scheduled_at finished_at error"
            ),
            "good_job_batches": _names(
                "id created_at updated_at description serialized_properties on_finish"
                " on_success on_discard callback_queue_name callback_priority enqueued_at"
                " discarded_at finished_at"
            ),
        },
        indexes=_names(
            "index_good_job_executions_on_active_job_id_and_created_at"
            " index_good_job_executions_on_process_id_and_created_at"
            " index_good_job_jobs_for_candidate_lookup"
            " index_good_jobs_for_candidate_dequeue_unlocked"
            " index_good_jobs_jobs_on_finished_at index_good_jobs_jobs_on_finished_at_only"
            " index_good_jobs_jobs_on_priority_created_at_when_unfinished"
            " index_good_jobs_on_active_job_id_and_created_at"
            " index_good_jobs_on_concurrency_key_and_created_at"
            " index_good_jobs_on_concurrency_key_when_unfinished index_good_jobs_on_created_at"
            " index_good_jobs_on_cron_key_and_created_at_cond"
            " index_good_jobs_on_cron_key_and_cron_at_cond index_good_jobs_on_discarded"
            " index_good_jobs_on_job_class index_good_jobs_on_labels"
            " index_good_jobs_on_locked_by_id"
            " index_good_jobs_on_priority_scheduled_at_unfinished"
            " index_good_jobs_on_priority_scheduled_at_unfinished_unlocked"
            " index_good_jobs_on_queue_name index_good_jobs_on_queue_name_and_scheduled_at"
            " index_good_jobs_on_queue_name_priority_scheduled_at_unfinished"
            " index_good_jobs_on_scheduled_at index_good_jobs_on_scheduled_at_and_queue_name"
            " index_good_jobs_on_unfinished_or_errored index_good_jobs_on_batch_id"
            " index_good_jobs_on_batch_callback_id index_good_job_settings_on_key"
        ),
    ),
    # rails/solid_queue@29e818d lib/generators/solid_queue/install/templates/db/
    # queue_schema.rb (loaded by `bin/rails db:prepare` into the queue database)
    Library(
        "Solid Queue",
        "solid_queue_jobs",
        {
            "solid_queue_jobs": _names(
                "id queue_name class_name arguments priority active_job_id scheduled_at"
                " finished_at concurrency_key created_at updated_at"
            ),
            "solid_queue_blocked_executions": _names(
                "id job_id queue_name priority concurrency_key expires_at created_at"
            ),
            "solid_queue_claimed_executions": _names("id job_id process_id created_at"),
            "solid_queue_failed_executions": _names("id job_id error created_at"),
            "solid_queue_pauses": _names("id queue_name created_at"),
            "solid_queue_processes": _names(
                "id kind last_heartbeat_at supervisor_id pid hostname metadata created_at"
            ),
            "solid_queue_ready_executions": _names("id job_id queue_name priority created_at"),
            "solid_queue_recurring_executions": _names("id job_id task_key run_at created_at"),
            "solid_queue_recurring_tasks": _names(
                "id key schedule command class_name arguments queue_name priority static"
                " description created_at updated_at"
            ),
            "solid_queue_scheduled_executions": _names(
                "id job_id queue_name priority scheduled_at created_at"
            ),
            "solid_queue_semaphores": _names("id key value expires_at created_at updated_at"),
        },
        indexes=_names(
            "index_solid_queue_blocked_executions_for_release"
            " index_solid_queue_blocked_executions_for_maintenance"
            " index_solid_queue_blocked_executions_on_job_id"
            " index_solid_queue_claimed_executions_on_job_id"
            " index_solid_queue_claimed_executions_on_process_id_and_job_id"
            " index_solid_queue_failed_executions_on_job_id"
            " index_solid_queue_jobs_on_active_job_id index_solid_queue_jobs_on_class_name"
            " index_solid_queue_jobs_on_finished_at index_solid_queue_jobs_for_filtering"
            " index_solid_queue_jobs_for_alerting index_solid_queue_pauses_on_queue_name"
            " index_solid_queue_processes_on_last_heartbeat_at"
            " index_solid_queue_processes_on_name_and_supervisor_id"
            " index_solid_queue_processes_on_supervisor_id"
            " index_solid_queue_ready_executions_on_job_id index_solid_queue_poll_all"
            " index_solid_queue_poll_by_queue index_solid_queue_recurring_executions_on_job_id"
            " index_solid_queue_recurring_executions_on_task_key_and_run_at"
            " index_solid_queue_recurring_tasks_on_key index_solid_queue_recurring_tasks_on_static"
            " index_solid_queue_scheduled_executions_on_job_id index_solid_queue_dispatch_all"
            " index_solid_queue_semaphores_on_expires_at"
            " index_solid_queue_semaphores_on_key_and_value index_solid_queue_semaphores_on_key"
        ),
    ),
)

BY_ANCHOR = {library.anchor: library for library in LIBRARIES}


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
    found: list[tuple[str, Library]] = []  # (schema, library): several share a schema
    for table in snap.tables:
        library = BY_ANCHOR.get(table.name)
        if library is not None and library.tables[table.name] <= {
            c.name for c in columns.get(table.oid, [])
        }:
            found.append((table.schema, library))
    for schema, library in found:
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
