-- One row: pg_stat_statements and hypopg in this database, and what the server has.
-- `loaded`: the library defines its settings only when the server loads it
-- (shared_preload_libraries), whether or not CREATE EXTENSION ran here.
SELECT n.nspname::text AS schema,
       e.extversion::text AS version,
       EXISTS (SELECT FROM pg_catalog.pg_available_extensions a
                WHERE a.name = 'pg_stat_statements') AS available,
       pg_catalog.current_setting('pg_stat_statements.track', true) IS NOT NULL AS loaded,
       pg_catalog.current_setting('pg_stat_statements.track', true) AS track,
       (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user)
           OR pg_catalog.pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS reads_all,
       (SELECT pg_catalog.array_agg(a.attname::text ORDER BY a.attnum)
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE c.relnamespace = e.extnamespace AND c.relname = 'pg_stat_statements') AS columns,
       EXISTS (SELECT FROM pg_catalog.pg_class c
                WHERE c.relnamespace = e.extnamespace
                  AND c.relname = 'pg_stat_statements_info') AS has_info,
       (SELECT hn.nspname::text FROM pg_catalog.pg_extension h
          JOIN pg_catalog.pg_namespace hn ON hn.oid = h.extnamespace
         WHERE h.extname = 'hypopg') AS hypopg_schema,
       (SELECT h.extversion::text FROM pg_catalog.pg_extension h
         WHERE h.extname = 'hypopg') AS hypopg_version
  FROM (SELECT) AS one
  LEFT JOIN pg_catalog.pg_extension e ON e.extname = 'pg_stat_statements'
  LEFT JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
