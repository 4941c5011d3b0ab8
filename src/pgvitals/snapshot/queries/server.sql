-- One row: who and what we are connected to, and the statistics window.
SELECT pg_catalog.current_setting('server_version_num')::int AS version_num,
       pg_catalog.split_part(pg_catalog.current_setting('server_version'), ' ', 1) AS version,
       pg_catalog.current_database() AS database,
       current_user AS current_user,
       coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user), false)
           AS is_superuser,
       pg_catalog.pg_is_in_recovery() AS in_recovery,
       pg_catalog.to_char(pg_catalog.now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS collected_at,
       pg_catalog.to_char(pg_catalog.pg_postmaster_start_time() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS postmaster_start_time,
       (SELECT pg_catalog.to_char(d.stats_reset AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') FROM pg_catalog.pg_stat_database d
         WHERE d.datname = pg_catalog.current_database()) AS stats_reset,
       (SELECT pg_catalog.jsonb_object_agg(s.name, s.setting ORDER BY s.name)
          FROM pg_catalog.pg_settings s
         WHERE s.name IN ('autovacuum', 'autovacuum_analyze_scale_factor',
                          'autovacuum_analyze_threshold', 'autovacuum_freeze_max_age',
                          'autovacuum_multixact_freeze_max_age', 'autovacuum_naptime',
                          'autovacuum_vacuum_scale_factor', 'autovacuum_vacuum_threshold',
                          'block_size', 'default_statistics_target', 'max_connections',
                          'random_page_cost', 'row_security', 'server_encoding',
                          'shared_preload_libraries', 'track_counts', 'TimeZone')) AS settings,
       CASE WHEN pg_catalog.has_function_privilege('pg_catalog.pg_control_system()', 'EXECUTE')
            THEN (SELECT s.system_identifier::text FROM pg_catalog.pg_control_system() s) END
           AS system_identifier,
       (SELECT d.oid::int8 FROM pg_catalog.pg_database d
         WHERE d.datname = pg_catalog.current_database()) AS database_oid,
       (SELECT pg_catalog.age(d.datfrozenxid)::int8 FROM pg_catalog.pg_database d
         WHERE d.datname = pg_catalog.current_database()) AS frozen_xid_age,
       (SELECT pg_catalog.mxid_age(d.datminmxid)::int8 FROM pg_catalog.pg_database d
         WHERE d.datname = pg_catalog.current_database()) AS frozen_mxid_age,
       -- the schemas unqualified names resolve to here, in order (pg_catalog first unless
       -- listed): names the server prints below leave these schemas out
       pg_catalog.current_schemas(false)::text[] AS search_path,
       -- when the oldest transaction that holds back what VACUUM may remove began: a
       -- session with a snapshot (not this one, not a vacuum) or a prepared transaction;
       -- tuples that died after it began stay until it ends, however often vacuum runs
       pg_catalog.to_char(LEAST(
           (SELECT pg_catalog.min(coalesce(a.xact_start, a.backend_start))
              FROM pg_catalog.pg_stat_activity a
             WHERE a.backend_xmin IS NOT NULL AND a.pid <> pg_catalog.pg_backend_pid()
               AND a.backend_type <> 'autovacuum worker'),
           (SELECT pg_catalog.min(p.prepared) FROM pg_catalog.pg_prepared_xacts p))
           AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS horizon_held_since,
       -- pg_stat_activity hides other roles' sessions from a role without these rights
       (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user)
           OR pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE') AS sees_all_sessions
