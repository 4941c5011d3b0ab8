-- Triggers of the collected tables (not the internal ones that enforce foreign keys),
-- with the function each runs and their whole definition. A partition's clone of its
-- parent's trigger is listed too, under the partition.
SELECT t.oid::int8 AS oid,
       n.nspname AS schema,
       c.relname AS table,
       c.oid::int8 AS table_oid,
       t.tgname AS name,
       t.tgfoid::int8 AS function_oid,
       fn.nspname AS function_schema,
       f.proname AS function_name,
       CASE WHEN t.tgtype & 2 <> 0 THEN 'before' WHEN t.tgtype & 64 <> 0 THEN 'instead'
            ELSE 'after' END AS timing,
       ARRAY(SELECT e.name
               FROM (VALUES (4, 'insert'), (8, 'delete'), (16, 'update'), (32, 'truncate'))
                    AS e(bit, name)
              WHERE t.tgtype & e.bit <> 0
              ORDER BY e.bit) AS events,
       t.tgtype & 1 <> 0 AS for_each_row,
       t.tgenabled <> 'D' AS enabled,
       -- deparses its WHEN by the catalog alone: no lock on the table
       pg_catalog.pg_get_triggerdef(t.oid) AS definition,
       t.tgenabled::text AS fires
  FROM pg_catalog.pg_trigger t
  JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_proc f ON f.oid = t.tgfoid
  JOIN pg_catalog.pg_namespace fn ON fn.oid = f.pronamespace
 WHERE NOT t.tgisinternal
   AND @@user_relation@@  -- c in schema n: requested, not a system's, not an extension's
 ORDER BY n.nspname, c.relname, t.tgname
