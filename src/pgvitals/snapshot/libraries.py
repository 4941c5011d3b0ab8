"""Tables a library creates in the user's database through its own migrator.

A job queue's tables (River's river_job, Oban's oban_jobs, graphile-worker's
_private_jobs) are defined by the library: its next migration expects its own
columns, keys, indexes and functions, so a finding that asks to change their
definition is not the operator's to act on (SPEC §1: objects the user cannot change).
Their upkeep (vacuum, statistics, bloat), their activity and who may reach them are.

A library is recognised by shape, never by a name alone: its anchor table must be
there with every column the library's migrations have given it since their first
version; its other tables count where they, too, have their columns, in the anchor's
schema. Where the library lets its user choose the tables' prefix (Quartz's QRTZ_,
Spring Batch's BATCH_, Spring Session's table name), the anchor is any table whose name
ends as the anchor's does and that has its columns, and the prefix found there names
the others. Functions and types are the library's by name, in that schema; indexes
on its tables by name (with the prefix found), by the pattern its migrator names them
by, or where they back a key or unique constraint. The partitions a library's
migrator attaches to its partitioned tables (pg-boss's per-queue job tables) are its
own, and so are their indexes that are partitions of its indexes.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pgvitals.snapshot.model import Snapshot, Table


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
    # the prefix the names above begin with by default, where its user may choose
    # another (the same for its tables and indexes): "" where the names are fixed
    prefix: str = ""
    # the indexes its migrator names from a table it makes (pg-boss's j<hash>_i5)
    index_pattern: re.Pattern[str] | None = None

    def named(self, prefix: str, name: str) -> str:
        """`name` (one of the library's, under its default prefix) under `prefix`:
        Quartz's qrtz_triggers and idx_qrtz_t_j are my_triggers and idx_my_t_j."""
        return name.replace(self.prefix, prefix, 1) if self.prefix else name


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
    # under its default table prefix QRTZ_ (unquoted: lower case), or the one its user
    # set (org.quartz.jobStore.tablePrefix)
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
        prefix="qrtz_",
    ),
    # spring-projects/spring-batch@3bb3709 spring-batch-core/src/main/resources/org/
    # springframework/batch/core/schema-postgresql.sql, under its default table prefix
    # BATCH_ (unquoted: lower case): the columns below are those of 4.x and 5.x alike
    # (5.0 added create_time to step executions, renamed the parameters' columns), or
    # the one its user set (JobRepositoryFactoryBean.setTablePrefix)
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
        prefix="batch_",
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
    # timgit/pg-boss 10.4.2 and 12.38.0 (npm; src/plans.ts `create`, whose schema.json
    # lists what 12 expects): its own schema (pgboss unless configured) with job
    # (partitioned by queue from 10: job_common and a j<sha224 of the name> table per
    # partitioned queue, indexes <table>_i<n>), queue, schedule, subscription, version,
    # archive (10 only), bam, warning, job_dependency, queue_stats (daily partitions)
    # and instance (12); the enum job_state. The columns are those of 10 and 12 alike
    Library(
        "pg-boss",
        "job",
        {
            "job": _names(
                "id name priority data state retry_limit retry_count retry_delay retry_backoff"
                " start_after started_on singleton_key singleton_on created_on completed_on"
                " keep_until output dead_letter policy"
            ),
            "job_common": _names("id name priority data state retry_limit start_after keep_until"),
            "archive": _names("id name data state retry_limit start_after archived_on"),
            "queue": _names("name policy retry_limit retry_delay retry_backoff created_on"),
            "schedule": _names("name cron timezone data options created_on updated_on"),
            "subscription": _names("event name created_on updated_on"),
            "version": _names("version cron_on"),
            "bam": _names("id name version status table_name command created_on"),
            "warning": _names("id type message data created_on"),
            "job_dependency": _names("child_name child_id parent_name parent_id"),
            "queue_stats": _names("name deferred_count queued_count active_count captured_on"),
            "instance": _names("id name host pid version heartbeat_on"),
        },
        indexes=_names("archive_i1 warning_i1 queue_stats_i1 job_dep_parent_idx"),
        functions=_names(
            "create_queue delete_queue job_now job_table_format job_table_run job_table_run_async"
        ),
        types=_names("job_state"),
        index_pattern=re.compile(r"(job|job_common|j[0-9a-f]{56})_i[0-9]+"),
    ),
    # pg-boss 9.0.3 (npm; its plans.js `create`): the camel-case columns of before 10,
    # job and archive (a copy of job, archivedon added), in the same schema
    Library(
        "pg-boss",
        "job",
        {
            "job": _names(
                "id name priority data state retrylimit retrycount retrydelay retrybackoff"
                " startafter startedon singletonkey singletonon expirein createdon completedon"
                " keepuntil"
            ),
            "archive": _names("id name priority data state retrylimit startafter archivedon"),
            "schedule": _names("name cron timezone data options created_on updated_on"),
            "subscription": _names("event name created_on updated_on"),
            "version": _names("version maintained_on cron_on"),
        },
        indexes=_names(
            "archive_id_idx archive_archivedon_idx job_name job_fetch job_singletonon"
            " job_singletonkeyon job_singletonkey job_singleton_queue"
        ),
        types=_names("job_state"),
    ),
    # frankhommers/Hangfire.PostgreSql@140a791 src/Hangfire.PostgreSql/Scripts/
    # Install.v3.sql .. v13.sql, run in order by PostgreSqlObjectsInstaller into its own
    # schema (hangfire unless configured); updatecount came in v4, lock.acquired in v7
    Library(
        "Hangfire",
        "job",
        {
            "job": _names("id stateid statename invocationdata arguments createdat expireat"),
            "counter": _names("id key value expireat"),
            "hash": _names("id key field value expireat"),
            "jobparameter": _names("id jobid name value"),
            "jobqueue": _names("id jobid queue fetchedat"),
            "list": _names("id key value expireat"),
            "lock": _names("resource"),
            "schema": _names("version"),
            "server": _names("id data lastheartbeat"),
            "set": _names("id key score value expireat"),
            "state": _names("id jobid name reason createdat data"),
        },
        indexes=_names(
            "ix_hangfire_counter_key ix_hangfire_counter_expireat ix_hangfire_job_statename"
            " ix_hangfire_state_jobid ix_hangfire_jobqueue_queueandfetchedat"
            " ix_hangfire_jobqueue_jobidandqueue ix_hangfire_jobparameter_jobidandname"
            " jobqueue_queue_fetchat_jobid"
        ),
    ),
    # spring-projects/spring-session@206fb60 spring-session-jdbc/src/main/resources/org/
    # springframework/session/jdbc/schema-postgresql.sql: SPRING_SESSION and
    # SPRING_SESSION_ATTRIBUTES (unquoted: lower case), the name configurable
    # (spring.session.jdbc.table-name; the attributes table is <name>_ATTRIBUTES)
    Library(
        "Spring Session",
        "spring_session",
        {
            "spring_session": _names(
                "primary_id session_id creation_time last_access_time max_inactive_interval"
                " expiry_time principal_name"
            ),
            "spring_session_attributes": _names(
                "session_primary_id attribute_name attribute_bytes"
            ),
        },
        indexes=_names("spring_session_ix1 spring_session_ix2 spring_session_ix3"),
        prefix="spring_session",
    ),
)

BY_ANCHOR: dict[str, list[Library]] = defaultdict(list)
PREFIXED: list[tuple[str, Library]] = []  # (the anchor's name after its prefix, library)
for _library in LIBRARIES:
    if _library.prefix:
        PREFIXED.append((_library.anchor[len(_library.prefix) :], _library))
    else:
        BY_ANCHOR[_library.anchor].append(_library)


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

    def has(table: Table, wanted: frozenset[str]) -> bool:
        return wanted <= {c.name for c in columns.get(table.oid, [])}

    by_place = {(t.schema, t.name): t for t in snap.tables}
    tables: dict[int, str] = {}
    by_name: dict[tuple[str, str, str], str] = {}
    # (schema, prefix, library): several share a schema
    found: list[tuple[str, str, Library]] = []
    # a prefixed library whose anchor needs a column no table has is nowhere: left out
    # before the walk (Spring Session's anchor, its prefix alone, would have every
    # table's columns looked at)
    prefixed = [
        (ending, library)
        for ending, library in PREFIXED
        if library.tables[library.anchor] <= snap.facts.column_names
    ]
    for table in snap.tables:
        for library in BY_ANCHOR.get(table.name, ()):
            if has(table, library.tables[table.name]):
                found.append((table.schema, "", library))
                break  # one library per table (pg-boss before and after 10)
        for ending, library in prefixed:
            if table.name.endswith(ending) and has(table, library.tables[library.anchor]):
                found.append((table.schema, table.name[: len(table.name) - len(ending)], library))
    # table oid -> its library and the index names it gives (under the prefix found)
    owners: dict[int, tuple[Library, frozenset[str]]] = {}
    for schema, prefix, library in found:
        indexes = library.indexes | {library.named(prefix, n) for n in library.indexes}
        for name, wanted in library.tables.items():
            table = by_place.get((schema, library.named(prefix, name)))
            if table is not None and has(table, wanted):
                owners[table.oid] = (library, indexes)
        for function in snap.functions:
            if function.schema == schema and function.name in library.functions:
                by_name[("function", schema, function.name)] = library.name
        for name in library.types:
            by_name[("type", schema, name)] = library.name
    # the partitions its migrator attaches to its tables (pg-boss's per-queue job
    # tables, queue_stats' days), at any depth: each after its parent, whose indexes
    # its own are partitions of
    ordered = sorted(owners, key=lambda oid: snap.table_by_oid[oid].is_partition)
    for oid in ordered:  # grows as it goes: a partition's partitions come after it
        for partition in snap.facts.partitions_by_parent.get(oid, []):
            if partition.oid not in owners:
                owners[partition.oid] = owners[oid]
                ordered.append(partition.oid)
    owned_indexes: set[int] = set()  # index oids
    for oid in ordered:
        table = snap.table_by_oid[oid]
        library, indexes = owners[oid]
        tables[table.oid] = library.name
        by_name[("table", table.schema, table.name)] = library.name
        for index in snap.indexes_by_table.get(table.oid, []):
            if (
                index.constraint_name
                or index.name in indexes
                or index.parent_index_oid in owned_indexes
                or (library.index_pattern and library.index_pattern.fullmatch(index.name))
            ):
                owned_indexes.add(index.oid)
                by_name[("index", table.schema, index.name)] = library.name
    return LibraryObjects(tables, by_name)
